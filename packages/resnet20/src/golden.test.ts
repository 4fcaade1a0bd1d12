// runGolden on the repository's resnet20-golden-s0 (test/fixtures) and on ../shared/fixtures'
// where it exists (an extra check).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, runtime } from '@wgtorch/tensor';
import { fixturesDir } from '@wgtorch/kernels-wgsl/testing';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { formatGolden, runGolden } from './golden.js';

beforeAll(async () => {
  await getRuntime();
});
afterAll(() => runtime().destroy());

for (const source of ['repo', 'shared'] as const) {
  const dir = fixturesDir(source);
  const file = dir && join(dir, 'resnet20-golden-s0.safetensors');
  if (source === 'shared' && !(file && existsSync(file))) continue;
  describe(`ResNet20 against PyTorch (resnet20-golden-s0, ${source})`, () => {
    it('eval forward and two SGD steps match every tensor', async () => {
      const r = await runGolden(file!);
      const report = formatGolden(r);
      expect(r.rows.length).toBeGreaterThan(200);
      expect(r.ok, report).toBe(true);
    });
  });
}
