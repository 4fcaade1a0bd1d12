// matmulBroadcast against its float64 reference: folded, reused, expanded and equal batches,
// rank 5, transposes, sizes that are not multiples of the tiles, empty batches.

import { beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, Tensor } from '@wgtorch/tensor';
import { matmulBroadcast, matmulBroadcastRef } from './index.js';
import { expectClose, pair } from '../elementwise/test-util.js';

beforeAll(async () => {
  await getRuntime();
});

const CASES: [number[], number[]][] = [
  [
    [2, 1, 3, 4],
    [5, 4, 6],
  ], // both broadcast: a expanded over 5, b over 2
  [
    [7, 5, 9],
    [9, 3],
  ], // folded into one [35, 9] x [9, 3]
  [
    [2, 3, 5, 9],
    [9, 3],
  ],
  [
    [5, 9],
    [4, 9, 3],
  ], // a reused by every product
  [
    [1, 5, 9],
    [4, 9, 3],
  ],
  [
    [3, 5, 9],
    [3, 9, 3],
  ], // today's 3-D path
  [
    [2, 1, 3, 1, 5, 4],
    [3, 2, 4, 7],
  ], // rank 6 against rank 4
  [
    [1, 2, 3, 5, 4],
    [2, 1, 4, 33],
  ],
  [
    [0, 5, 4],
    [4, 3],
  ],
  [
    [2, 5, 0],
    [0, 3],
  ],
  [
    [33, 17],
    [17, 9],
  ],
];

describe('matmulBroadcast vs float64', () => {
  for (const [sa, sb] of CASES) {
    for (const [transA, transB] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ]) {
      it(`[${sa}] @ [${sb}] transA=${transA} transB=${transB}`, async () => {
        const t = (s: number[], tr: boolean) => (tr ? [...s.slice(0, -2), s[s.length - 1], s[s.length - 2]] : s);
        const a = pair(t(sa, transA), 1);
        const b = pair(t(sb, transB), 2);
        const opts = { transA, transB };
        await expectClose(matmulBroadcast(a.t, b.t, opts), matmulBroadcastRef(a.r, b.r, opts), { atol: 1e-4 }, 'c');
      });
    }
  }
  it('shape errors name both operands and the fix', () => {
    expect(() => matmulBroadcast(Tensor.zeros([2, 3, 4]), Tensor.zeros([3, 4, 5]))).toThrow(
      /matmulBroadcast: a \[2, 3, 4\] and b \[3, 4, 5\]: batch dims \[2\] and \[3\] do not broadcast/,
    );
    expect(() => matmulBroadcast(Tensor.zeros([4]), Tensor.zeros([4, 5]))).toThrow(/at least 2-D/);
    expect(() => matmulBroadcast(Tensor.zeros([2, 3, 4]), Tensor.zeros([5, 5]))).toThrow(/inner dimensions 4 and 5/);
  });
});
