// nllLoss and its backward against the float64 references: [N, C] and [N, C, d...], class
// weights, ignored targets, each reduction; NaN for the mean of all-ignored targets and for a
// target out of range. Also mseLoss's squaredError kernels.

import { beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, Tensor } from '@wgtorch/tensor';
import * as L from './index.js';
import type { Reduction } from './index.js';
import { expectClose, f64Of, pair } from '../elementwise/test-util.js';

beforeAll(async () => {
  await getRuntime();
});

function targets(shape: number[], C: number, ignore: number) {
  const n = shape.reduce((a, d) => a * d, 1);
  const v = Int32Array.from({ length: n }, (_, i) => (i % 4 === 3 ? ignore : (i * 5 + 1) % C));
  return { t: Tensor.fromArray(v, shape), r: f64Of(v, shape) };
}

const TOL = { atol: 1e-5, rtol: 1e-5 };

describe('nllLoss and nllLossBackward', () => {
  for (const [shape, weighted] of [
    [[1, 1], false],
    [[6, 5], true],
    [[300, 7], false],
    [[3, 4, 5], true],
    [[2, 3, 2, 3], false],
  ] as [number[], boolean][]) {
    for (const reduction of ['none', 'mean', 'sum'] as Reduction[]) {
      it(`${JSON.stringify(shape)} ${weighted ? 'weighted ' : ''}${reduction}`, async () => {
        const C = shape[1];
        const lp = pair(shape, shape.length + C);
        const t = targets([shape[0], ...shape.slice(2)], C, -100);
        const w = weighted ? pair([C], 2, 0.5, 1) : null;
        const out = L.nllLoss(lp.t, t.t, w?.t ?? null, -100, reduction);
        const ref = L.nllLossRef(lp.r, t.r, w?.r ?? null, -100, reduction);
        await expectClose(out.loss, ref.loss, TOL, 'loss');
        if (ref.totalWeight) await expectClose(out.totalWeight!, ref.totalWeight, TOL, 'totalWeight');
        const dy = pair(out.loss.shape, 9);
        const dx = L.nllLossBackward(dy.t, t.t, w?.t ?? null, out.totalWeight, shape, -100, reduction);
        const dxr = L.nllLossBackwardRef(dy.r, t.r, w?.r ?? null, ref.totalWeight, shape, -100, reduction);
        await expectClose(dx, dxr, TOL, 'dx');
      });
    }
  }
  it('a custom ignoreIndex inside [0, C) contributes nothing', async () => {
    const lp = pair([4, 3], 1);
    const t = f64Of([0, 1, 2, 1], [4]);
    const tt = Tensor.fromArray(Int32Array.of(0, 1, 2, 1), [4]);
    const out = L.nllLoss(lp.t, tt, null, 1, 'mean');
    await expectClose(out.loss, L.nllLossRef(lp.r, t, null, 1, 'mean').loss, TOL);
    expect(await out.totalWeight!.item()).toBe(2);
  });
  it('gives NaN for the mean of only ignored targets and for a target out of range', async () => {
    const lp = Tensor.zeros([2, 3]);
    const allIgnored = L.nllLoss(lp, Tensor.fromArray(Int32Array.of(-100, -100), [2]), null, -100, 'mean');
    expect(Number.isNaN(await allIgnored.loss.item())).toBe(true);
    const bad = L.nllLoss(lp, Tensor.fromArray(Int32Array.of(0, 3), [2]), null, -100, 'sum');
    expect(Number.isNaN(await bad.loss.item())).toBe(true);
    expect(() => L.nllLossRef(f64Of([0, 0, 0, 0, 0, 0], [2, 3]), f64Of([0, 3], [2]), null, -100, 'sum')).toThrow(
      /nllLoss: label 3 at index 1 is not a class index: with 3 classes .* or the ignoreIndex -100/,
    );
  });
  it('refuses a target of the wrong shape or dtype', () => {
    const lp = Tensor.zeros([2, 3, 4]);
    expect(() => L.nllLoss(lp, Tensor.fromArray(Int32Array.of(0, 1), [2]), null, -100, 'mean')).toThrow(
      /target \[2\] must be \[2, 4\] for logProbs \[2, 3, 4\]/,
    );
    expect(() => L.nllLoss(Tensor.zeros([2, 3]), Tensor.zeros([2]), null, -100, 'mean')).toThrow(/target must be i32/);
  });
});

describe('squaredError and squaredErrorBackward', () => {
  for (const shape of [[1], [7, 5], [2, 1, 3, 1, 5], [1031]]) {
    for (const reduction of ['none', 'mean', 'sum'] as Reduction[]) {
      it(`${JSON.stringify(shape)} ${reduction}`, async () => {
        const a = pair(shape, 1);
        const b = pair(shape, 2);
        await expectClose(L.squaredError(a.t, b.t), L.squaredErrorRef(a.r, b.r), TOL, 'y');
        const dy = pair(reduction === 'none' ? shape : [1], 3);
        const g = L.squaredErrorBackward(dy.t, a.t, b.t, reduction);
        const r = L.squaredErrorBackwardRef(dy.r, a.r, b.r, reduction);
        await expectClose(g.da, r.da, TOL, 'da');
        await expectClose(g.db, r.db, TOL, 'db');
      });
    }
  }
});
