// The packages declare `sideEffects` so that bundlers can drop what an application does not
// use. kernels-wgsl's family index files import './bench.js' only for its registerKernel()
// calls: a bundle (like `pnpm bench`'s, made by esbuild from the sources) must keep them all.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { listKernels } from '@wgtorch/kernels-wgsl';

const repo = resolve(import.meta.dirname, '..');

describe('sideEffects', () => {
  it("a bundle of kernels-wgsl keeps every benchmark registration", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wgtorch-side-effects-'));
    try {
      const outfile = join(dir, 'bundle.mjs');
      await build({
        stdin: { contents: "export { listKernels } from '@wgtorch/kernels-wgsl';", resolveDir: join(repo, 'test'), sourcefile: 'entry.mjs' },
        outfile,
        bundle: true,
        platform: 'node',
        format: 'esm',
        conditions: ['source'],
        external: ['webgpu'],
        absWorkingDir: repo,
        logLevel: 'silent',
      });
      const bundled = (await import(pathToFileURL(outfile).href)) as { listKernels: typeof listKernels };
      const names = (l: typeof listKernels) => l().map((k) => k.name).sort();
      expect(names(listKernels).length).toBeGreaterThan(20);
      expect(names(bundled.listKernels)).toEqual(names(listKernels));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
