// The benchmark cases are registered by benchmarks/, not by the library: importing
// kernels-wgsl registers nothing, this folder registers every family, and with
// `"sideEffects": false` a bundle keeps only the kernels it uses.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { listKernels } from '@wgtorch/kernels-wgsl';

const repo = resolve(import.meta.dirname, '../../..');

describe('kernel benchmark registry', () => {
  it('the library alone registers nothing; benchmarks/src/kernels registers every family with cases', async () => {
    expect(listKernels()).toEqual([]);
    await import('./index.js');
    const names = listKernels().map((e) => e.name);
    for (const family of [
      'conv2d.forward',
      'conv2d.inputGrad',
      'conv2d.weightGrad',
      'batchnorm',
      'elementwise.relu',
      'elementwise.add',
      'reduce',
      'pool',
      'matmul',
      'loss',
      'sgd',
      'augment',
    ]) {
      expect(
        names.some((n) => n.startsWith(family)),
        `${family} in [${names.join(', ')}]`,
      ).toBe(true);
    }
    for (const e of listKernels()) expect(e.benchCases?.().length ?? 0, e.name).toBeGreaterThan(0);
  });

  it('a bundle of one elementwise launcher leaves the other families out (sideEffects: false)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wgtorch-tree-shake-'));
    try {
      const outfile = join(dir, 'bundle.mjs');
      await build({
        stdin: {
          contents: "export { relu } from '@wgtorch/kernels-wgsl';",
          resolveDir: join(repo, 'benchmarks'),
          sourcefile: 'entry.mjs',
        },
        outfile,
        bundle: true,
        platform: 'node',
        format: 'esm',
        conditions: ['source'],
        external: ['webgpu'],
        absWorkingDir: repo,
        logLevel: 'silent',
      });
      const code = readFileSync(outfile, 'utf8');
      expect(code).toContain('elementwise.');
      for (const other of ['conv2d.', 'batchnorm.', 'sgd.step', 'loss.softmaxCrossEntropy', 'registerKernel'])
        expect(code, other).not.toContain(other);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
