// The layer norm kernels against their float64 references: rows of 1 to 4096 values, row counts
// that are not multiples of the workgroup, rank 1 and rank 5, with and without weight and bias,
// and rows with a large mean (the two-pass variance must not cancel).

import { beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, Tensor } from '@wgtorch/tensor';
import * as K from './index.js';
import { expectClose, pair } from '../elementwise/test-util.js';

beforeAll(async () => {
  await getRuntime();
});

const TOL = { atol: 2e-5, rtol: 1e-4 };
const CASES: [string, number[], number][] = [
  ['rank 1, D 7', [7], 7],
  ['[5, 1] (D 1: y is the bias)', [5, 1], 1],
  ['[67, 33]', [67, 33], 33],
  ['[3, 2, 4, 5] over the last two', [3, 2, 4, 5], 20],
  ['rank 5 [2, 1, 3, 2, 9]', [2, 1, 3, 2, 9], 18],
  ['[3, 4096]', [3, 4096], 4096],
];

describe('layerNorm and layerNormBackward', () => {
  for (const [name, shape, D] of CASES) {
    for (const affine of ['none', 'weight', 'bias', 'both'] as const) {
      it(`${name}, ${affine}`, async () => {
        const x = pair(shape, D + shape.length, 2, 0.5);
        const w = affine === 'weight' || affine === 'both' ? pair([D], 5, 1, 1) : null;
        const bias = affine === 'bias' || affine === 'both' ? pair([D], 6) : null;
        const dy = pair(shape, 7);
        const out = K.layerNorm(x.t, D, w?.t ?? null, bias?.t ?? null, 1e-5);
        const ref = K.layerNormRef(x.r, D, w?.r ?? null, bias?.r ?? null, 1e-5);
        await expectClose(out.y, ref.y, TOL, 'y');
        await expectClose(out.mean, ref.mean, TOL, 'mean');
        await expectClose(out.rstd, ref.rstd, TOL, 'rstd');
        const g = K.layerNormBackward(dy.t, x.t, out.mean, out.rstd, D, w?.t ?? null, !!bias);
        const gr = K.layerNormBackwardRef(dy.r, x.r, ref.mean, ref.rstd, D, w?.r ?? null, !!bias);
        await expectClose(g.dx, gr.dx, { ...TOL, atol: 1e-4 }, 'dx');
        expect(g.dweight === null).toBe(gr.dweight === null);
        expect(g.dbias === null).toBe(gr.dbias === null);
        if (g.dweight) await expectClose(g.dweight, gr.dweight!, { atol: 1e-4, rtol: 1e-4 }, 'dweight');
        if (g.dbias) await expectClose(g.dbias, gr.dbias!, { atol: 1e-4, rtol: 1e-4 }, 'dbias');
      });
    }
  }
  it('a large mean does not cancel the variance', async () => {
    const x = pair([9, 64], 3, 0.01, 1000);
    const out = K.layerNorm(x.t, 64, null, null, 1e-5);
    await expectClose(out.y, K.layerNormRef(x.r, 64, null, null, 1e-5).y, { atol: 2e-3, rtol: 1e-3 }, 'y');
  });
  it('zero rows give empty outputs and zero affine gradients', async () => {
    const x = Tensor.zeros([0, 4]);
    const w = Tensor.fromArray(Float32Array.of(1, 2, 3, 4), [4]);
    const out = K.layerNorm(x, 4, w, null, 1e-5);
    expect(out.y.shape).toEqual([0, 4]);
    const g = K.layerNormBackward(x, x, out.mean, out.rstd, 4, w, true);
    expect(Array.from(await g.dweight!.toArray())).toEqual([0, 0, 0, 0]);
    expect(Array.from(await g.dbias!.toArray())).toEqual([0, 0, 0, 0]);
  });
  it('refuses a normalized size that does not divide x and a weight of another size', () => {
    const x = Tensor.zeros([3, 5]);
    expect(() => K.layerNorm(x, 4, null, null, 1e-5)).toThrow(
      /layerNorm: normalized size 4 does not divide x \[3, 5\]/,
    );
    expect(() => K.layerNorm(x, 5, Tensor.zeros([4]), null, 1e-5)).toThrow(/weight \[4\] must hold 5 values/);
  });
});
