// matmul by PyTorch's rules: vectors (dot, promotion and removal of the added dim), broadcast
// batch dims and gradients summed back over them, transposes; gradcheck at PyTorch's defaults,
// the GPU against float64 (the goldens are in reductions.test.ts, keys mm*).

import { beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, Rng } from '@wgtorch/tensor';
import * as F from './index.js';
import { gradcheck, checkGpuGradients, tensor, type CheckFn, type CheckInput } from './index.js';

beforeAll(async () => {
  await getRuntime();
});

const rng = new Rng(44);
function rand(shape: number[]): CheckInput {
  const n = shape.reduce((a, d) => a * d, 1);
  return { data: Float64Array.from({ length: n }, () => rng.normal()), shape };
}

const CASES: [number[], number[], number[]][] = [
  [[4], [4], []],
  [[4], [4, 3], [3]],
  [[3, 4], [4], [3]],
  [[4], [2, 4, 3], [2, 3]],
  [[2, 3, 4], [4], [2, 3]],
  [
    [3, 4],
    [4, 5],
    [3, 5],
  ],
  [
    [2, 3, 4],
    [2, 4, 5],
    [2, 3, 5],
  ],
  [
    [2, 1, 3, 4],
    [5, 4, 6],
    [2, 5, 3, 6],
  ],
  [
    [7, 3, 4],
    [4, 5],
    [7, 3, 5],
  ],
  [
    [2, 2, 3, 4],
    [4, 5],
    [2, 2, 3, 5],
  ],
  [
    [3, 4],
    [2, 4, 5],
    [2, 3, 5],
  ],
  [
    [1, 3, 4],
    [2, 4, 5],
    [2, 3, 5],
  ],
  [
    [2, 3, 4],
    [1, 4, 5],
    [2, 3, 5],
  ],
];

describe('matmul shapes, gradcheck and GPU against float64', () => {
  for (const [sa, sb, out] of CASES) {
    it(`[${sa}] @ [${sb}] -> [${out}]`, async () => {
      const fn: CheckFn = (a, b) => F.matmul(a, b);
      expect(F.matmul(tensor(rand(sa).data, sa), tensor(rand(sb).data, sb)).shape).toEqual(out);
      const r = await gradcheck(fn, [rand(sa), rand(sb)]);
      expect(r.ok, r.message).toBe(true);
      const g = await checkGpuGradients(fn, [rand(sa), rand(sb)]);
      expect(g.ok, g.message).toBe(true);
    });
  }
  it('transA / transB with broadcast batches', async () => {
    for (const [transA, transB] of [
      [true, false],
      [false, true],
      [true, true],
    ]) {
      const fn: CheckFn = (a, b) => F.matmul(a, b, { transA, transB });
      const sa = transA ? [2, 1, 4, 3] : [2, 1, 3, 4];
      const sb = transB ? [5, 6, 4] : [5, 4, 6];
      const r = await gradcheck(fn, [rand(sa), rand(sb)]);
      expect(r.ok, r.message).toBe(true);
      const folded = await gradcheck(fn, [rand(transA ? [3, 4, 2] : [3, 2, 4]), rand(transB ? [5, 4] : [4, 5])]);
      expect(folded.ok, folded.message).toBe(true);
      const g = await checkGpuGradients(fn, [rand(sa), rand(sb)]);
      expect(g.ok, g.message).toBe(true);
    }
  });
  it('bad shapes name the operands and the fix', () => {
    expect(() => F.matmul(tensor([1, 2, 3], [3]), tensor([1, 2], [2]))).toThrow(/inner dimensions 3 and 2 differ/);
    expect(() => F.matmul(tensor([1], []), tensor([1], [1]))).toThrow(
      /matmul: a \[\] and b \[1\]: both must be at least 1-D/,
    );
    expect(() => F.matmul(tensor([1, 2], [2]), tensor([1, 2, 3, 4], [2, 2]), { transB: true })).toThrow(
      /transA \/ transB need 2-D operands/,
    );
    const a = tensor(new Float32Array(24), [2, 3, 4]);
    expect(() => F.matmul(a, tensor(new Float32Array(60), [3, 4, 5]))).toThrow(
      /batch dims \[2\] and \[3\] do not broadcast/,
    );
  });
});
