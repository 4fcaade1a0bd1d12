// bceWithLogits and its backward against the float64 references: logits up to +-90 (the stable
// form stays finite), weights over the whole input, over its last dim and as one value, each
// reduction's dy.

import { beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, Tensor } from '@wgtorch/tensor';
import * as L from './index.js';
import type { Reduction } from './index.js';
import { expectClose, pair, pairOf } from '../elementwise/test-util.js';

beforeAll(async () => {
  await getRuntime();
});

const TOL = { atol: 2e-5, rtol: 1e-4 };

describe('bceWithLogits and bceWithLogitsBackward', () => {
  for (const [shape, wShape, pwShape] of [
    [[1], null, null],
    [[7, 5], [7, 5], [5]],
    [[3, 2, 9], [9], [1, 9]],
    [[1031], [1], null],
    [[4, 257], null, [257]],
  ] as [number[], number[] | null, number[] | null][]) {
    const name = `${JSON.stringify(shape)} weight ${JSON.stringify(wShape)} posWeight ${JSON.stringify(pwShape)}`;
    for (const reduction of ['none', 'mean', 'sum'] as Reduction[]) {
      it(`${name} ${reduction}`, async () => {
        const x = pair(shape, 1, 6);
        const n = x.r.data.length;
        const tv = Float32Array.from({ length: n }, (_, i) => ((i * 37) % 11) / 10);
        const t = pairOf(tv, shape);
        const w = wShape ? pair(wShape, 2, 0.3, 1) : null;
        const pw = pwShape ? pair(pwShape, 3, 0.5, 1.5) : null;
        await expectClose(
          L.bceWithLogits(x.t, t.t, w?.t ?? null, pw?.t ?? null),
          L.bceWithLogitsRef(x.r, t.r, w?.r ?? null, pw?.r ?? null),
          TOL,
          'loss',
        );
        const dy = pair(reduction === 'none' ? shape : [1], 4);
        const g = L.bceWithLogitsBackward(dy.t, x.t, t.t, w?.t ?? null, pw?.t ?? null, reduction);
        const r = L.bceWithLogitsBackwardRef(dy.r, x.r, t.r, w?.r ?? null, pw?.r ?? null, reduction);
        await expectClose(g.dx, r.dx, TOL, 'dx');
        await expectClose(g.dt, r.dt, TOL, 'dt');
      });
    }
  }
  it('is finite for logits of +-90', async () => {
    const x = pairOf([90, -90, 90, -90], [4]);
    const t = pairOf([1, 0, 0, 1], [4]);
    expect(Array.from(await L.bceWithLogits(x.t, t.t, null, null).toArray())).toEqual([0, 0, 90, 90]);
  });
  it('refuses a weight that is not a trailing block of the input', () => {
    const x = Tensor.zeros([2, 3]);
    expect(() => L.bceWithLogits(x, x, Tensor.zeros([2, 1]), null)).toThrow(
      /bceWithLogits: weight \[2, 1\] must match the trailing dims of input \[2, 3\]/,
    );
  });
});
