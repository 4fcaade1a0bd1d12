import { beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, Tensor } from '@wgtorch/tensor';
import * as R from './index.js';
import { expectClose, pair } from '../elementwise/test-util.js';

beforeAll(async () => {
  await getRuntime();
});

const CASES: [number[], number[]][] = [
  [[7], [0]],
  [[5, 3], [0]],
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
    [3, 5, 7, 2],
    [0, 2],
  ],
  [[3, 1, 4], [1]],
  [
    [2, 3, 4, 5, 2, 3],
    [0, 2, 4],
  ],
  [[64, 1000], [1]],
  [[1000, 33], [0]],
  [[4096, 40], [1]],
  [
    [128, 16, 32, 32],
    [0, 2, 3],
  ],
  [[300001], [0]],
  [[4, 5], []],
  [[4, 5], [-1]],
];

describe('sum, mean, max', () => {
  for (const [shape, axes] of CASES) {
    it(`[${shape}] over [${axes}]`, async () => {
      const x = pair(shape, 7);
      const big = x.r.data.length > 100000;
      const tol = { atol: big ? 1e-3 : 1e-4, rtol: 1e-4 };
      await expectClose(R.sum(x.t, axes), R.sumRef(x.r, axes), tol, 'sum');
      await expectClose(R.mean(x.t, axes, true), R.meanRef(x.r, axes, true), tol, 'mean keepdim');
      await expectClose(R.max(x.t, axes), R.maxRef(x.r, axes), {}, 'max');
    });
  }
});

describe('sumToShape', () => {
  const cases: [number[], number[]][] = [
    [[4, 5], [5]],
    [
      [4, 5],
      [4, 1],
    ],
    [
      [4, 5],
      [1, 1],
    ],
    [
      [2, 3, 4, 5],
      [3, 1, 1],
    ],
    [[128, 10], [10]],
    [
      [6, 7],
      [6, 7],
    ],
    [[3, 4], []],
  ];
  for (const [from, to] of cases) {
    it(`[${from}] -> [${to}]`, async () => {
      const x = pair(from, 8);
      await expectClose(R.sumToShape(x.t, to), R.sumToShapeRef(x.r, to), { atol: 1e-4 }, 'sumToShape');
    });
  }
  it('rejects shapes that do not broadcast', () => {
    expect(() => R.sumToShape(Tensor.zeros([4, 5]), [3])).toThrow(/sumToShape: x \[4, 5\] cannot be summed to \[3\]/);
    expect(() => R.sum(Tensor.zeros([4, 5]), [2])).toThrow(/sum: axis 2 is out of range for x \[4, 5\]/);
    expect(() => R.sum(Tensor.zeros([4], 'i32'), [0])).toThrow(/sum: x must be f32/);
  });
});
