// The trainer's real configuration against PyTorch (test/fixtures/resnet20-recipe-golden): two
// steps on 128 CIFAR-10 images with the trainer's augmentation, optimizer groups and schedule.
// The same check with Nesterov off, or weight decay on every parameter or doubled, must fail.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { getRuntime, runtime } from '@wgtorch/tensor';
import { fixturesDir } from '@wgtorch/kernels-wgsl/testing';
import { formatGolden, runRecipeGolden } from './golden.js';

const file = join(fixturesDir(), 'resnet20-recipe-golden.safetensors');

beforeAll(async () => {
  await getRuntime();
});
afterAll(() => runtime().destroy());

describe('ResNet20 at the trainer configuration against PyTorch (resnet20-recipe-golden)', () => {
  it(
    'each of two steps: lr, logits, loss, every gradient, momentum buffer, parameter, update ' +
      'and running statistic',
    async () => {
      const r = await runRecipeGolden(file);
      const report = formatGolden(r);
      console.info(worst(r.rows));
      expect(r.batch).toBe(128);
      expect(r.rows.filter((x) => x.name.startsWith('step1.momentum.')).length).toBe(65);
      expect(r.ok, report).toBe(true);
    },
  );

  for (const [what, overrides, failing] of [
    ['plain momentum instead of Nesterov', { nesterov: false }, /^step[01]\.(update|after)\./],
    [
      'weight decay on BN parameters and biases too',
      { decayAll: true },
      /^step[01]\.(momentum|update|after)\..*(bn\d|shortcut\.1|bias)/,
    ],
    ['weight decay 1e-3', { weightDecay: 1e-3 }, /^step[01]\.(momentum|update)\..*weight$/],
  ] as const) {
    it(`fails with ${what}`, async () => {
      const r = await runRecipeGolden(file, overrides);
      const bad = r.rows.filter((x) => !x.ok).map((x) => x.name);
      expect(bad.length, formatGolden(r)).toBeGreaterThan(0);
      for (const name of bad) expect(name).toMatch(failing);
    });
  }
});

/** The largest errors by kind, for the log. */
function worst(rows: { name: string; maxRel: number; relL2: number }[]): string {
  const kinds = ['logits', 'loss', 'grad', 'momentum', 'update', 'after'];
  return kinds
    .map((k) => {
      const rs = rows.filter((r) => r.name.split('.').includes(k));
      const m = (f: (r: (typeof rs)[number]) => number) => Math.max(...rs.map(f)).toExponential(2);
      return `${k}: max rel to max ${m((r) => r.maxRel)}, max rel L2 ${m((r) => r.relL2)}`;
    })
    .join('; ');
}
