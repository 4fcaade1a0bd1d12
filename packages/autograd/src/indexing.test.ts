// gather, indexSelect, where, maskedFill and the comparisons through the autograd: gradcheck at
// PyTorch's defaults on cpu64 (repeated indices: the scatter-add sums), the GPU's gradients
// against float64, index arguments (int32 tensors, plain and nested arrays), masks that carry no
// gradient, and the errors. PyTorch's values are checked in views.test.ts (views-golden).

import { beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, runtime, Rng } from '@wgtorch/tensor';
import * as F from './index.js';
import { gradcheck, checkGpuGradients, tensor, tidy, type CheckFn, type CheckInput, type Tensor } from './index.js';

beforeAll(async () => {
  await getRuntime();
});

const rng = new Rng(1617);
function rand(shape: number[], requiresGrad = true): CheckInput {
  const n = shape.reduce((a, d) => a * d, 1);
  return { data: Float64Array.from({ length: n }, () => rng.normal()), shape, requiresGrad };
}
const mask = (values: number[], shape: number[]): CheckInput => ({ data: values, shape, requiresGrad: false });

async function check(fn: CheckFn, inputs: CheckInput[]): Promise<void> {
  const r = await gradcheck(fn, inputs);
  expect(r.ok, r.message).toBe(true);
}

describe('gradcheck (eps 1e-6, atol 1e-5, rtol 1e-3, float64)', () => {
  it('gather and indexSelect with repeated indices, as arrays and int32 tensors', async () => {
    await check(
      (x) =>
        F.gather(x, 1, [
          [0, 2, 2, 1],
          [1, 1, 0, 0],
        ]),
      [rand([2, 3])],
    );
    await check((x) => x.gather(0, [[2, 0, 2]]), [rand([3, 3])]);
    await check((x) => F.indexSelect(x, 0, [3, 0, 3, 3]), [rand([4, 2])]);
    await check((x) => x.indexSelect(-1, Int32Array.from([1, 1, 0])), [rand([2, 3, 2])]);
    await check((x) => F.indexSelect(x, 1, tensor([2, 0, 2], { dtype: 'int32', backend: x.backend })), [rand([2, 3])]);
  });
  it('where with broadcasting and numbers, maskedFill with a broadcast mask', async () => {
    await check((c, a, b) => F.where(c, a, b), [mask([1, 0, 1], [3, 1]), rand([2, 1, 4]), rand([4])]);
    await check((c, a) => F.where(c, a, 2), [mask([0, 1, 1, 0], [4]), rand([3, 4])]);
    await check((c, b) => F.mul(b, 2).where(c, b), [mask([1, 0], [2, 1]), rand([2, 3])]);
    await check((x, m) => F.maskedFill(x, m, -3), [rand([2, 3, 4]), mask([0, 1, 1, 0], [4])]);
    await check((x, m) => x.maskedFill(m, 0), [rand([3, 2]), mask([1, 0, 0], [3, 1])]);
  });
});

describe('GPU gradients against float64', () => {
  it('gather, indexSelect, where and maskedFill composed with masks from comparisons', async () => {
    const fn: CheckFn = (x, y) => {
      const g = F.gather(x, 1, [
        [4, 0, 4],
        [1, 1, 2],
        [3, 3, 3],
      ]);
      const s = F.indexSelect(x, 0, [2, 2, 0]);
      const picked = F.where(F.gt(g, 0), g, F.mul(s.narrow(1, 0, 3), y));
      return F.maskedFill(picked, F.lt(y, 0.2), 0.5);
    };
    const r = await checkGpuGradients(fn, [rand([3, 5]), rand([3, 1])]);
    expect(r.ok, r.message).toBe(true);
  });
});

describe('masks and indices', () => {
  const x = tensor([1, NaN, -Infinity, 0, -0, 3], [6], { backend: 'cpu64' });
  const values = async (t: Tensor) => Array.from(await t.toArray());
  it('comparisons give float 0/1 masks that need no gradient, NaN as IEEE', async () => {
    const y = tensor([1, 2, 3, 4, 5, 6], [6], { requiresGrad: true, backend: 'cpu64' });
    const m = F.eq(y, 2);
    expect(m.requiresGrad).toBe(false);
    expect(m.dtype).toBe('float32');
    expect(await values(m)).toEqual([0, 1, 0, 0, 0, 0]);
    expect(await values(x.ne(x))).toEqual([0, 1, 0, 0, 0, 0]);
    expect(await values(x.eq(0))).toEqual([0, 0, 0, 1, 1, 0]);
    expect(await values(x.le(NaN))).toEqual([0, 0, 0, 0, 0, 0]);
    expect(await values(x.gt(-Infinity))).toEqual([1, 0, 0, 1, 1, 1]);
    const g = tensor([1, NaN, -Infinity, 0, -0, 3], [6]);
    expect(Array.from(await g.ge(tensor([[0], [1]])).toArray())).toEqual([1, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1]);
  });
  it('compares int32 tensors (argmax against labels) on both backends', async () => {
    for (const backend of ['gpu', 'cpu64'] as const) {
      const pred = tensor([1, 2, 3, -4], { dtype: 'int32', backend });
      const labels = tensor([1, 0, 3, -4], { dtype: 'int32', backend });
      expect(Array.from(await pred.eq(labels).toArray())).toEqual([1, 0, 1, 1]);
      expect(Array.from(await pred.gt(1).toArray())).toEqual([0, 1, 1, 0]);
      expect(Array.from(await F.lt(pred, tensor([2.5], { backend })).toArray())).toEqual([1, 1, 0, 1]);
    }
  });
  it('where takes NaN in cond as true; maskedFill keeps unmasked NaN', async () => {
    const c = tensor([NaN, 0, 1, 0, 0, 2], [6], { backend: 'cpu64' });
    expect(await values(F.where(c, x, -1))).toEqual([1, -1, -Infinity, -1, -1, 3]);
    expect(await values(x.maskedFill(c, 7))).toEqual([7, NaN, 7, 0, -0, 7]);
  });
  it('index errors name the op, the index and the fix', () => {
    const y = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
    expect(() => F.indexSelect(y, 1, [0, 3])).toThrow(
      /indexSelect: index 3 \(element 1\) is out of range for dim 1 of size 3/,
    );
    expect(() => F.indexSelect(y, 0, [-1])).toThrow(/indexSelect: index -1 .* must be in \[0, 2\)/);
    expect(() => F.indexSelect(y, 2, [0])).toThrow(/indexSelect: dim 2 is out of range for \[2, 3\]/);
    expect(() => F.indexSelect(y, 0, [[0]])).toThrow(/indexSelect: index must be 1-D, got \[1, 1\]/);
    expect(() => F.gather(y, 0, [0, 1])).toThrow(/gather: index \[2\] must have the rank of x \[2, 3\]/);
    expect(() => F.gather(y, 1, [[0, 1], [2]])).toThrow(/ragged|rows/);
    expect(() => F.gather(y, 1, tensor([[0, 1]]))).toThrow(/gather: index must be an int32 tensor, got float32/);
    const cpuIndex = tensor([0, 5], { dtype: 'int32', backend: 'cpu64' });
    expect(() => F.indexSelect(tensor([1, 2], [2], { backend: 'cpu64' }), 0, cpuIndex)).toThrow(
      /indexSelect: index 5 \(element 1\) is out of range/,
    );
    expect(() => F.maskedFill(tensor([1, 2], [2]), tensor([1, 0, 1], [3]), 0)).toThrow(
      /maskedFill: mask \[3\] must broadcast to x \[2\]/,
    );
    expect(() => F.where(tensor([1, 0], [2]), tensor([1, 2, 3], [3]), 0)).toThrow(/where: .*do not broadcast/);
  });
  it('an out-of-range index already on the device reads as NaN', async () => {
    const y = tensor([1, 2, 3], [3]);
    const idx = tensor([2, 7], { dtype: 'int32' });
    const got = Array.from(await F.indexSelect(y, 0, idx).toArray());
    expect(got[0]).toBe(3);
    expect(got[1]).toBeNaN();
  });
});

describe('buffers', () => {
  const live = () => runtime().pool.getStats().liveBuffers;
  it('forward and backward of every view, join and indexing op leave none live; failed ones neither', () => {
    const x = tensor(
      Array.from({ length: 24 }, (_, i) => i / 7 - 1),
      [2, 3, 4],
      { requiresGrad: true },
    );
    const before = live();
    tidy(() => {
      const a = F.cat([
        x.narrow(1, 0, 2).transpose(0, 2),
        F.expand(x.select(1, 2).unsqueeze(1), [2, 2, 4]).permute([2, 1, 0]),
      ]);
      const b = F.stack(F.split(a.slice(0, 1, null, 2), 1, 0), 0).squeeze(1);
      const idx = [[[0, 1]], [[1, 1]], [[0, 0]], [[1, 0]]];
      const c = F.where(b.gt(0), b.gather(2, idx), x.indexSelect(2, [3, 3]).narrow(0, 0, 1).narrow(1, 0, 1));
      F.sum(F.maskedFill(F.mul(c, c), c.lt(-0.5), 0)).backward();
    });
    expect(x.grad).not.toBeNull();
    x.grad!.dispose();
    x.grad = null;
    expect(() => F.gather(x, 0, [[[0]], [[5]]])).toThrow(/out of range/);
    expect(() => F.gather(x, 0, [0, 1])).toThrow(/must have the rank of x/);
    expect(() => tidy(() => F.cat([x, x.narrow(2, 0, 1)], 0))).toThrow(/cat: shapes/);
    expect(live()).toBe(before);
    x.dispose();
  });
});
