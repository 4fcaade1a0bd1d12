import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { getRuntime, runtime } from '@wgtorch/tensor';
import { fixturesDir } from '@wgtorch/kernels-wgsl';
import { formatGolden, runGolden } from './golden.js';

const dir = fixturesDir();
const file = dir && join(dir, 'resnet20-golden-s0.safetensors');

beforeAll(async () => {
  await getRuntime();
});
afterAll(() => runtime().destroy());

describe.skipIf(!file || !existsSync(file))('ResNet20 against PyTorch (resnet20-golden-s0)', () => {
  it('eval forward and two SGD steps match every tensor', async () => {
    const r = await runGolden(file!);
    const report = formatGolden(r);
    expect(r.rows.length).toBeGreaterThan(200);
    expect(r.ok, report).toBe(true);
  });
});
