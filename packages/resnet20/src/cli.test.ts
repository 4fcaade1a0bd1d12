// `pnpm resnet20 golden FILE` exits 0 exactly when every tensor is within tolerance; eval takes
// what export writes; errors about files and folders name them, without a stack.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fixturesDir } from '@wgtorch/kernels-wgsl/testing';
import { readSafetensors, writeSafetensors } from '@wgtorch/tensor/node';
import { realCifarDir } from './data/testing.js';

const repo = resolve(import.meta.dirname, '../../..');
const dir = fixturesDir();
const fixture = dir && join(dir, 'resnet20-golden-s0.safetensors');
const cli = (...args: string[]) =>
  spawnSync(process.execPath, [join(repo, 'scripts/run-ts.mjs'), 'packages/resnet20/src/cli.ts', ...args], {
    cwd: repo,
    encoding: 'utf8',
    timeout: 120_000,
  });

describe.skipIf(!fixture || !existsSync(fixture))('pnpm resnet20 golden', () => {
  it('passes on the PyTorch fixture and fails on a perturbed one', () => {
    const ok = cli('golden', fixture!);
    expect(ok.status, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/all \d+ tensors within tolerance/);
    expect(ok.stdout).toMatch(/step1\.grad\.layer3\.2\.conv2\.weight/);

    // the same file with one expected gradient changed by 1%
    const file = readSafetensors(fixture!);
    const g = file.tensors.get('step0.grad.fc_out.weight')!.data as Float32Array;
    for (let i = 0; i < g.length; i++) g[i] *= 1.01;
    const bad = join(mkdtempSync(join(tmpdir(), 'golden-')), 'bad.safetensors');
    writeSafetensors(bad, file.tensors, file.metadata);
    const r = cli('golden', bad);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/step0\.grad\.fc_out\.weight .* FAIL/);
  }, 240_000);
});

const dataDir = realCifarDir();

describe.skipIf(!dataDir)('pnpm resnet20 train, export, eval', () => {
  it('eval takes a checkpoint or what export wrote; bad paths are named, without a stack', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'cli-'));
    const run = join(tmp, 'run');
    const train = [
      'train',
      '--epochs',
      '1',
      '--steps-per-epoch',
      '2',
      '--batch-size',
      '8',
      '--test-subset',
      '64',
      '--run-dir',
      run,
      '--data-dir',
      dataDir!,
      '--quiet',
    ];
    const t = cli(...train);
    expect(t.status, t.stdout + t.stderr).toBe(0);
    const ckpt = join(run, 'checkpoint.safetensors');
    const exported = join(tmp, 'resnet20.safetensors');
    const x = cli('export', '--checkpoint', ckpt, `--out=${exported}`);
    expect(x.status, x.stderr).toBe(0);
    expect(readSafetensors(exported).tensors.has('fc_out.weight')).toBe(true);
    const fromCkpt = cli('eval', `--checkpoint=${ckpt}`, '--data-dir', dataDir!, '--test-subset', '128');
    const fromExport = cli('eval', '--checkpoint', exported, '--data-dir', dataDir!, '--test-subset=128');
    expect(fromExport.status, fromExport.stderr).toBe(0);
    expect(fromExport.stdout).toMatch(/test accuracy: \d+\.\d\d% \(\d+\/128\)/);
    // the same weights give the same answers
    expect(fromExport.stdout.split('test accuracy')[1]).toBe(fromCkpt.stdout.split('test accuracy')[1]);

    const noStack = (r: { stderr: string }) => expect(r.stderr).not.toMatch(/\n\s+at /);
    const folder = cli('eval', '--checkpoint', run);
    expect(folder.status).toBe(1);
    expect(folder.stderr).toContain(`error: ${run} is a folder, not a checkpoint file; did you mean ${ckpt}?`);
    noStack(folder);
    const missing = cli('export', '--checkpoint', join(tmp, 'nope.safetensors'), '--out', join(tmp, 'out.safetensors'));
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain(
      `error: No checkpoint at ${join(tmp, 'nope.safetensors')}: there is no such file.`,
    );
    noStack(missing);
    mkdirSync(join(tmp, 'a-folder'));
    const outFolder = cli('export', '--checkpoint', ckpt, '--out', join(tmp, 'a-folder'));
    expect(outFolder.status).toBe(1);
    expect(outFolder.stderr).toMatch(new RegExp(`error: .*${join(tmp, 'a-folder')}.*folder`));

    // the run folder holds a run now: train refuses it, naming --resume and --overwrite
    const again = cli(...train);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain(
      `error: ${run} already holds a run (config.json, checkpoint.safetensors, metrics.jsonl, curves.svg, ` +
        `best.json). Continue it with --resume --run-dir ${run}, start it over with --overwrite`,
    );
    noStack(again);
    const over = cli(...train, '--overwrite');
    expect(over.status, over.stderr).toBe(0);
  }, 240_000);
});
