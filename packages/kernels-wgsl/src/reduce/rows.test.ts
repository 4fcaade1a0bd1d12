// The row kernels (rows.ts) against their float64 references on awkward shapes: rank 0, 1 and 5,
// odd sizes, sizes that are not multiples of the workgroup, non-adjacent axes, empty dims, NaN,
// infinities, ties and zeros.

import { beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, Tensor } from '@wgtorch/tensor';
import * as R from './index.js';
import { wideRows } from './rows.js';
import { expectClose, pair, pairOf } from '../elementwise/test-util.js';

beforeAll(async () => {
  await getRuntime();
});

/** Same values, NaN where the reference has NaN and the same infinities. */
async function expectSpecial(t: Tensor, r: { data: ArrayLike<number>; shape: readonly number[] }, label: string) {
  expect([...t.shape], `${label} shape`).toEqual([...r.shape]);
  const got = await t.toArray();
  for (let i = 0; i < got.length; i++) {
    const e = r.data[i];
    if (Number.isNaN(e)) expect(got[i], `${label}[${i}]`).toBeNaN();
    else if (!Number.isFinite(e)) expect(got[i], `${label}[${i}]`).toBe(e);
    else
      expect(Math.abs(got[i] - e), `${label}[${i}] ${got[i]} vs ${e}`).toBeLessThanOrEqual(1e-5 + 1e-4 * Math.abs(e));
  }
}

const DIM_CASES: [number[], number][] = [
  [[7], 0],
  [[5, 3], 0],
  [[5, 3], -1],
  [[3, 1, 4], 1],
  [[2, 3, 4, 5, 3], 2],
  [[2, 3, 4, 5, 3], 4],
  [[65, 70], 1],
  [[70, 65], 0],
  [[3, 130, 5], 1],
  [[], 0],
  // long rows, few of them: a workgroup per row
  [[3, 1000], 1],
  [[5, 700, 2], 1],
  [[2000], 0],
];

describe('maxDim, minDim, extremeDimBackward, prod, prodBackward, softmaxDim and backward', () => {
  for (const [shape, dim] of DIM_CASES) {
    it(`[${shape}] dim ${dim}`, async () => {
      const x = pair(shape, 3);
      const dyShapeKeep = shape.length ? shape.map((d, i) => (i === (dim + shape.length) % shape.length ? 1 : d)) : [];
      const dy = pair(dyShapeKeep, 4);
      for (const keepdim of [false, true]) {
        const g = R.maxDim(x.t, dim, keepdim);
        const r = R.maxDimRef(x.r, dim, keepdim);
        await expectClose(g.values, r.values, {}, 'max values');
        await expectClose(g.indices, r.indices, { atol: 0, rtol: 0 }, 'max indices');
        expect(g.indices.dtype).toBe('i32');
        const m = R.minDim(x.t, dim, keepdim);
        const mr = R.minDimRef(x.r, dim, keepdim);
        await expectClose(m.values, mr.values, {}, 'min values');
        await expectClose(m.indices, mr.indices, { atol: 0, rtol: 0 }, 'min indices');
        await expectClose(R.prod(x.t, dim, keepdim), R.prodRef(x.r, dim, keepdim), { atol: 1e-6, rtol: 1e-4 }, 'prod');
      }
      const g = R.maxDim(x.t, dim, true);
      const r = R.maxDimRef(x.r, dim, true);
      await expectClose(
        R.extremeDimBackward(dy.t, g.indices, shape, dim),
        R.extremeDimBackwardRef(dy.r, r.indices, shape, dim),
        { atol: 0, rtol: 0 },
        'extremeDimBackward',
      );
      await expectClose(R.prodBackward(dy.t, x.t, dim), R.prodBackwardRef(dy.r, x.r, dim), { rtol: 1e-4 }, 'dprod');
      const dys = pair(shape, 5);
      for (const log of [false, true]) {
        const [f, fr, b, br] = log
          ? [R.logSoftmaxDim, R.logSoftmaxDimRef, R.logSoftmaxDimBackward, R.logSoftmaxDimBackwardRef]
          : [R.softmaxDim, R.softmaxDimRef, R.softmaxDimBackward, R.softmaxDimBackwardRef];
        const y = f(x.t, dim);
        await expectClose(y, fr(x.r, dim), { atol: 1e-6, rtol: 1e-4 }, log ? 'logSoftmax' : 'softmax');
        await expectClose(b(dys.t, y, dim), br(dys.r, fr(x.r, dim), dim), { atol: 1e-5, rtol: 1e-4 }, 'backward');
      }
    });
  }
});

const AXES_CASES: [number[], number[]][] = [
  [[7], [0]],
  [[5, 3], [1]],
  [
    [5, 3],
    [0, 1],
  ],
  [
    [3, 5, 7, 2],
    [1, 3],
  ],
  [
    [2, 3, 4, 5, 3],
    [0, 2, 4],
  ],
  [
    [2, 3, 4, 5, 3],
    [1, 2],
  ],
  [[66, 67], [0]],
  [[3, 600], [1]],
  [
    [2, 50, 30],
    [1, 2],
  ],
  [
    [30, 4, 20],
    [0, 2],
  ],
  [[4, 5], []],
  [[4, 0, 3], [1]],
];

describe('logsumexp, variance, std and their backward, tieMask over axes', () => {
  for (const [shape, axes] of AXES_CASES) {
    it(`[${shape}] over [${axes}]`, async () => {
      const x = pair(shape, 9, 2);
      for (const keepdim of [false, true]) {
        await expectSpecial(R.logsumexp(x.t, axes, keepdim), R.logsumexpRef(x.r, axes, keepdim), 'logsumexp');
        for (const c of [0, 1, 2]) {
          await expectSpecial(R.variance(x.t, axes, c, keepdim), R.varianceRef(x.r, axes, c, keepdim), `var c=${c}`);
          await expectSpecial(R.std(x.t, axes, c, keepdim), R.stdRef(x.r, axes, c, keepdim), `std c=${c}`);
        }
      }
      const dy = pair(R.varianceRef(x.r, axes, 1, true).shape, 10);
      for (const sqrtOut of [false, true]) {
        const [f, fr] = sqrtOut ? [R.std, R.stdRef] : [R.variance, R.varianceRef];
        await expectSpecial(
          R.varianceBackward(dy.t, x.t, f(x.t, axes, 1, true), axes, 1, sqrtOut),
          R.varianceBackwardRef(dy.r, x.r, fr(x.r, axes, 1, true), axes, 1, sqrtOut),
          sqrtOut ? 'std backward' : 'var backward',
        );
      }
      const y = R.max(x.t, axes, true);
      await expectClose(R.tieMask(x.t, y, axes), R.tieMaskRef(x.r, R.maxRef(x.r, axes, true), axes), {}, 'tieMask');
    });
  }
});

describe('special values', () => {
  it('max/min: NaN wins with its index, ties give the first index, full reductions keep NaN', async () => {
    const nan = NaN;
    const x = pairOf([1, nan, 3, nan, 5, 5, 2, 5, -1, -1, 0, -1], [3, 4]);
    for (const [f, fr] of [
      [R.maxDim, R.maxDimRef],
      [R.minDim, R.minDimRef],
    ] as const) {
      const g = f(x.t, 1);
      const r = fr(x.r, 1);
      await expectSpecial(g.values, r.values, 'values');
      await expectClose(g.indices, r.indices, { atol: 0 }, 'indices');
    }
    expect([...(await R.maxDim(x.t, 1).indices.toArray())]).toEqual([1, 0, 2]);
    expect([...(await R.minDim(x.t, 1).indices.toArray())]).toEqual([1, 2, 0]);
    expect([...(await R.maxDim(x.t, 0).indices.toArray())]).toEqual([1, 0, 0, 0]);
    await expectSpecial(R.max(x.t, [0, 1]), R.maxRef(x.r, [0, 1]), 'full max');
    await expectSpecial(R.min(x.t, [1]), R.minRef(x.r, [1]), 'min rows');
    const big = pair([3000], 1);
    await expectClose(R.min(big.t, [0]), R.minRef(big.r, [0]), {}, 'min 3000');
    // A workgroup per row: ties and NaNs across its invocations.
    const long = Array<number>(2000).fill(1);
    [long[300], long[600], long[1300], long[1700]] = [5, 5, -3, -3];
    const lp = pairOf(long, [1, 2000]);
    expect([...(await R.maxDim(lp.t, 1).indices.toArray())]).toEqual([300]);
    expect([...(await R.minDim(lp.t, 1).indices.toArray())]).toEqual([1300]);
    [long[700], long[900]] = [nan, nan];
    const ln = pairOf(long, [2000, 1]);
    expect([...(await R.maxDim(ln.t, 0).indices.toArray())]).toEqual([700]);
    expect([...(await R.minDim(ln.t, 0).indices.toArray())]).toEqual([700]);
    expect(wideRows({ outer: 1, R: 2000, inner: 1 })).toBe(true);
    const withNan = pairOf([...Array(4095).fill(1), nan], [4096]);
    expect((await R.max(withNan.t, [0]).toArray())[0]).toBeNaN();
  });
  it('logsumexp: -inf rows give -inf, +inf gives +inf, NaN gives NaN, large values do not overflow', async () => {
    const inf = Infinity;
    const x = pairOf([-inf, -inf, -inf, 1, inf, 2, NaN, 0, 1, 100, 100, 90], [4, 3]);
    const got = await R.logsumexp(x.t, [1]).toArray();
    expect(got[0]).toBe(-inf);
    expect(got[1]).toBe(inf);
    expect(got[2]).toBeNaN();
    expect(got[3]).toBeCloseTo(100 + Math.log(2 + Math.exp(-10)), 4);
  });
  it('variance: NaN where n - correction <= 0; std 0 for constant rows', async () => {
    const x = pairOf([1, 2, 3, 4, 4, 4], [3, 2]);
    expect(await R.variance(x.t, [0, 1], 6).toArray()).toEqual(Float32Array.of(NaN));
    const one = await R.variance(pairOf([5], [1]).t, [0]).toArray();
    expect(one[0]).toBeNaN();
    expect([...(await R.std(x.t, [1]).toArray())]).toEqual([Math.SQRT1_2, Math.SQRT1_2, 0].map(Math.fround));
  });
  it('prodBackward with one zero and with two zeros in a row', async () => {
    const x = pairOf([2, 0, 3, 0, 0, 5, 1, 2, 4], [3, 3]);
    const dy = pairOf([1, 2, 3], [3]);
    expect([...(await R.prodBackward(dy.t, x.t, 1).toArray())]).toEqual([0, 6, 0, 0, 0, 0, 24, 12, 6]);
    await expectClose(R.prodBackward(dy.t, x.t, 1), R.prodBackwardRef(dy.r, x.r, 1), {}, 'ref');
  });
});

describe('bad arguments', () => {
  it('name the kernel, the shapes and the fix', () => {
    expect(() => R.maxDim(Tensor.zeros([4, 0]), 1)).toThrow(/maxDim: dim 1 of x \[4, 0\] is empty/);
    expect(() => R.maxDim(Tensor.zeros([4, 5]), 2)).toThrow(/maxDim: axis 2 is out of range/);
    expect(() => R.softmaxDim(Tensor.zeros([4], 'i32'), 0)).toThrow(/softmaxDim: x must be f32/);
    expect(() => R.prodBackward(Tensor.zeros([3]), Tensor.zeros([4, 5]), 1)).toThrow(/prodBackward: dy \[3\]/);
  });
});
