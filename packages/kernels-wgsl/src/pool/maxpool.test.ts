import { beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, Tensor } from '@wgtorch/tensor';
import * as P from './index.js';
import { expectClose, pair, pairOf } from '../elementwise/test-util.js';

beforeAll(async () => {
  await getRuntime();
});

/** Forward values and indices exactly as the reference, and the backward of a random dy. */
async function check(x: { t: Tensor; r: { data: Float64Array; shape: number[] } }, opts: P.MaxPool2dOptions) {
  const { values, indices } = P.maxPool2d(x.t, opts);
  const ref = P.maxPool2dRef(x.r, opts);
  expect(values.shape).toEqual(ref.values.shape);
  expect(Array.from((await values.toArray()) as Float32Array)).toEqual(Array.from(ref.values.data, Math.fround));
  expect(indices.dtype).toBe('i32');
  expect(Array.from((await indices.toArray()) as Int32Array)).toEqual(Array.from(ref.indices.data));
  const dy = pair(ref.values.shape, 7);
  const dx = P.maxPool2dBackward(dy.t, indices, x.r.shape, opts);
  await expectClose(dx, P.maxPool2dBackwardRef(dy.r, ref.indices, x.r.shape, opts), {}, 'dx');
  for (const t of [values, indices, dy.t, dx, x.t]) t.dispose();
}

describe('maxPool2d', () => {
  // Non-overlapping and overlapping windows, odd sizes, padding, dilation, ceil mode (a last window
  // hanging past the input), non-square everything, sizes no multiple of the workgroup.
  const cases: [number[], P.MaxPool2dOptions][] = [
    [[1, 1, 4, 4], { kernel: 2 }],
    [[4, 16, 32, 32], { kernel: 2 }],
    [[2, 3, 7, 9], { kernel: 3, stride: 2, padding: 1 }],
    [[3, 5, 5, 5], { kernel: 2, stride: 1 }],
    [[1, 2, 6, 7], { kernel: [3, 2], stride: [2, 1], padding: [1, 0] }],
    [[2, 3, 9, 8], { kernel: 3, stride: 1, padding: 1, dilation: 2 }],
    [[2, 2, 11, 10], { kernel: [2, 3], stride: [3, 2], padding: [1, 1], dilation: [3, 2] }],
    [[2, 3, 5, 5], { kernel: 2, ceilMode: true }],
    [[1, 2, 8, 7], { kernel: 3, stride: 2, padding: 1, ceilMode: true }],
    [[3, 1, 1, 5], { kernel: [1, 4], stride: [1, 3], ceilMode: true }],
    // Windows that do not overlap, with gaps inside them (dilation) and between them (stride > kernel).
    [[2, 3, 9, 10], { kernel: 2, stride: 3, dilation: 2, padding: 1 }],
    [[1, 2, 11, 13], { kernel: [2, 3], stride: [3, 4], padding: [1, 1], ceilMode: true }],
  ];
  for (const [shape, opts] of cases) {
    it(`[${shape}] ${JSON.stringify(opts)}`, async () => {
      await check(pair(shape, 1), opts);
    });
  }

  it('ties go to the first maximum in row-major order; a NaN is a maximum (the last NaN wins)', async () => {
    const nan = NaN;
    const inf = Infinity;
    // A 2x8 plane, windows 2x2 at stride 2: [1 nan; 3 nan] -> nan at 9 (the second NaN);
    // [-inf -inf; -inf -inf] -> -inf at 2 (the first); [2 2; 2 1] -> 2 at 4; [inf 5; nan inf] -> nan at 14.
    const x = pairOf([1, nan, -inf, -inf, 2, 2, inf, 5, 3, nan, -inf, -inf, 2, 1, nan, inf], [1, 1, 2, 8]);
    const { values, indices } = P.maxPool2d(x.t, { kernel: 2 });
    const v = Array.from((await values.toArray()) as Float32Array);
    expect(v.map((a) => (Number.isNaN(a) ? 'nan' : a))).toEqual(['nan', -inf, 2, 'nan']);
    expect(Array.from((await indices.toArray()) as Int32Array)).toEqual([9, 2, 4, 14]);
    const ref = P.maxPool2dRef(x.r, { kernel: 2 });
    expect(Array.from(ref.indices.data)).toEqual([9, 2, 4, 14]);
    // dy goes to the picked positions only.
    const dy = pairOf([1, 2, 3, 4], [1, 1, 1, 4]);
    const dx = P.maxPool2dBackward(dy.t, indices, [1, 1, 2, 8], { kernel: 2 });
    const want = new Array(16).fill(0);
    [want[9], want[2], want[4], want[14]] = [1, 2, 3, 4];
    expect(Array.from((await dx.toArray()) as Float32Array)).toEqual(want);
  });

  it('padding never wins, even over -inf (the index stays inside the input)', async () => {
    await check(pairOf([-Infinity, -Infinity, -Infinity, -Infinity], [1, 1, 2, 2]), {
      kernel: 2,
      stride: 1,
      padding: 1,
    });
  });

  it('refuses bad options, naming the op and the values', () => {
    const x = Tensor.zeros([1, 1, 4, 4]);
    expect(() => P.maxPool2d(x, { kernel: 2, padding: 2 })).toThrow(/maxPool2d.*padding 2x2 must be at most half/);
    expect(() => P.maxPool2d(x, { kernel: 5 })).toThrow(/smaller than the kernel 5x5/);
    expect(() => P.maxPool2d(x, { kernel: 2, stride: 0 })).toThrow(/stride must be an integer >= 1/);
    expect(() => P.maxPool2d(x, { kernel: 3, dilation: 2 })).toThrow(/dilation 2x2/);
    const dy = Tensor.zeros([1, 1, 3, 3]);
    const idx = Tensor.zeros([1, 1, 2, 2], 'i32');
    expect(() => P.maxPool2dBackward(dy, idx, [1, 1, 4, 4], { kernel: 2 })).toThrow(/dy must be \[1, 1, 2, 2\]/);
    expect(() =>
      P.maxPool2dBackward(Tensor.zeros([1, 1, 2, 2]), Tensor.zeros([1, 1, 2, 2]), [1, 1, 4, 4], { kernel: 2 }),
    ).toThrow(/indices must be i32/);
    for (const t of [x, dy, idx]) t.dispose();
  });
});
