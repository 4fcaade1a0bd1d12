// The packages declare `sideEffects` so that bundlers can drop what an application does not
// use. autograd's Tensor methods (x.add(y), x.sum()) are put on the prototype by the op family
// files (functional/*.ts) as a side effect of loading them; a bundle that uses only `tensor` and
// the methods imports nothing from those files by name, so they must be declared as having side
// effects or the bundler drops the methods. (kernels-wgsl's tree shaking: benchmarks/src/kernels/registry.test.ts;
// the same check on the built dist: test/pack.test.ts.)
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const repo = resolve(import.meta.dirname, '..');

/** Methods only: the functions of functional.ts are not imported by name. */
const METHODS_ENTRY = `import { tensor } from '@wgtorch/autograd';
export const values = () => tensor([1, 2, 3], [3], { backend: 'cpu64' }).add(1).mul(2).sum().toArray();`;

describe('sideEffects', () => {
  it("autograd's package.json declares the files that define the Tensor methods", () => {
    const pkg = JSON.parse(readFileSync(join(repo, 'packages/autograd/package.json'), 'utf8')) as {
      sideEffects: unknown;
    };
    // The barrel too: a bundler drops an unused side-effect-free barrel together with what it imports.
    expect(pkg.sideEffects).toEqual([
      './src/functional.ts',
      './src/functional/*.ts',
      './dist/functional.js',
      './dist/functional/*.js',
    ]);
    const dir = join(repo, 'packages/autograd/src/functional');
    const installers = readdirSync(dir).filter((f) => /addTensorMethods\(\{/.test(readFileSync(join(dir, f), 'utf8')));
    expect(installers.length).toBeGreaterThan(3);
    // Nothing outside functional/ installs methods as a side effect (tensor.ts writes them in its class body).
    for (const f of readdirSync(join(repo, 'packages/autograd/src'))) {
      if (!f.endsWith('.ts') || f.endsWith('.test.ts')) continue;
      expect(readFileSync(join(repo, 'packages/autograd/src', f), 'utf8'), f).not.toMatch(/addTensorMethods\(\{/);
    }
  });

  it('a bundle that uses only `tensor` and its methods keeps the methods', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wgtorch-side-effects-'));
    try {
      const outfile = join(dir, 'bundle.mjs');
      await build({
        stdin: { contents: METHODS_ENTRY, resolveDir: join(repo, 'test'), sourcefile: 'entry.mjs' },
        outfile,
        bundle: true,
        platform: 'node',
        format: 'esm',
        conditions: ['source'],
        external: ['webgpu'],
        absWorkingDir: repo,
        logLevel: 'silent',
      });
      const bundled = (await import(pathToFileURL(outfile).href)) as { values: () => Promise<ArrayLike<number>> };
      expect(Array.from(await bundled.values())).toEqual([18]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
