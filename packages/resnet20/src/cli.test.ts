// `pnpm resnet20 golden FILE` exits 0 exactly when every tensor is within tolerance.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fixturesDir } from '@wgtorch/kernels-wgsl';
import { readSafetensors, writeSafetensors } from '@wgtorch/tensor';

const repo = resolve(import.meta.dirname, '../../..');
const dir = fixturesDir();
const fixture = dir && join(dir, 'resnet20-golden-s0.safetensors');
const cli = (...args: string[]) => spawnSync(process.execPath, [join(repo, 'scripts/run-ts.mjs'), 'packages/resnet20/src/cli.ts', ...args], { cwd: repo, encoding: 'utf8', timeout: 120_000 });

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
