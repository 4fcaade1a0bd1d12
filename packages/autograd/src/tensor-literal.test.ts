// tensor() from nested arrays (shape inferred as torch.tensor does, ragged and non-numeric input
// refused with the offending element's path), dtype int32 on both backends, and the refusal of
// int32 inputs by float ops.

import { beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, Tensor as DeviceTensor } from '@wgtorch/tensor';
import * as F from './index.js';
import { tensor, full, zeros, fromDevice, Tensor } from './index.js';
import type { BackendName } from './backend.js';

beforeAll(async () => {
  await getRuntime();
});

const backends: BackendName[] = ['gpu', 'cpu64'];

describe('tensor() from nested arrays', () => {
  for (const backend of backends) {
    it(`infers the shape and keeps row-major order (${backend})`, async () => {
      const t = tensor(
        [
          [1, 2],
          [3, 4],
        ],
        { backend },
      );
      expect(t.shape).toEqual([2, 2]);
      expect(t.dtype).toBe('float32');
      expect([...(await t.toArray())]).toEqual([1, 2, 3, 4]);
      const t3 = tensor(
        [
          [[1], [2], [3]],
          [[4], [5], [6]],
        ],
        { backend },
      );
      expect(t3.shape).toEqual([2, 3, 1]);
      expect([...(await t3.toArray())]).toEqual([1, 2, 3, 4, 5, 6]);
      const scalar = tensor(2.5, { backend });
      expect(scalar.shape).toEqual([]);
      expect(await scalar.item()).toBe(2.5);
      expect(tensor([], { backend }).shape).toEqual([0]);
      expect(tensor([[], []], { backend }).shape).toEqual([2, 0]);
      expect([...(await tensor([true, false], { backend }).toArray())]).toEqual([1, 0]);
      // Typed arrays as rows, and a typed array as the whole (flat) data.
      const rows = tensor([Float32Array.of(1, 2, 3), Float32Array.of(4, 5, 6)], { backend });
      expect(rows.shape).toEqual([2, 3]);
      expect(tensor(Float64Array.of(1, 2, 3), { backend }).shape).toEqual([3]);
    });
  }

  it('keeps tensor(flat, shape, options)', async () => {
    const t = tensor([1, 2, 3, 4, 5, 6], [2, 3], { backend: 'cpu64', requiresGrad: true });
    expect(t.shape).toEqual([2, 3]);
    expect(t.requiresGrad).toBe(true);
    expect(tensor(new Float32Array(4), undefined).shape).toEqual([4]);
    expect(() => tensor([1, 2, 3], [2, 2])).toThrow('3 values do not fill shape [2, 2] (4 elements)');
    expect(() => tensor([[1, 2]] as unknown as number[], [2])).toThrow('must be a flat array');
  });

  it('refuses ragged nesting, naming the rows', () => {
    expect(() =>
      tensor([
        [1, 2],
        [3, 4, 5],
      ]),
    ).toThrow('tensor: row [1] has 3 elements, row [0] has 2');
    expect(() =>
      tensor([
        [[1, 2]],
        [
          [3, 4],
          [5, 6],
        ],
      ]),
    ).toThrow('row [1] has 2 elements, row [0] has 1');
    expect(() => tensor([[[1, 2]], [[3, 4, 5]]])).toThrow('row [1, 0] has 3 elements, row [0, 0] has 2');
    expect(() => tensor([[1, 2], 3])).toThrow('element [1] is the number 3 where row [0] is an array of 2');
    expect(() => tensor([1, [2, 3]])).toThrow('element [1] is an array of 2 where element [0] is a number');
  });

  it('refuses non-numbers, naming the element', () => {
    expect(() =>
      tensor([
        [1, 2],
        [3, 'x' as unknown as number],
      ]),
    ).toThrow('tensor: element [1, 1] is the string "x"; tensor() takes numbers');
    expect(() => tensor([1, null as unknown as number])).toThrow('element [1] is null');
    expect(() => tensor({ a: 1 } as unknown as number[])).toThrow('data is an object');
  });
});

describe('dtype int32', () => {
  for (const backend of backends) {
    it(`holds integers and reads back as Int32Array (${backend})`, async () => {
      const t = tensor(
        [
          [0, -3],
          [2147483647, -2147483648],
        ],
        { backend, dtype: 'int32' },
      );
      expect(t.dtype).toBe('int32');
      expect(String(t)).toContain('int32');
      const a = await t.toArray();
      expect(a).toBeInstanceOf(Int32Array);
      expect([...a]).toEqual([0, -3, 2147483647, -2147483648]);
      if (backend === 'gpu') expect(t.data.dtype).toBe('i32');
      const z = zeros([3], { backend, dtype: 'int32' });
      expect(z.dtype).toBe('int32');
      expect(await full([2], 7, { backend, dtype: 'int32' }).toArray()).toEqual(Int32Array.of(7, 7));
      const d = t.detach();
      expect(d.dtype).toBe('int32');
    });

    it(`is refused by float ops and cannot require grad (${backend})`, () => {
      const i = tensor([1, 2, 3], { backend, dtype: 'int32' });
      const x = tensor([1, 2, 3], { backend });
      expect(() => F.add(x, i)).toThrow(/add: input 1 is an int32 tensor \[3\].*convert it with \.float\(\)/);
      expect(() => F.exp(i)).toThrow('input 0 is an int32 tensor');
      expect(() => (i.requiresGrad = true)).toThrow('only float32 tensors can require gradients');
      expect(() => tensor([1], { backend, dtype: 'int32', requiresGrad: true })).toThrow(
        'only float32 tensors can require gradients',
      );
    });
  }

  it('refuses values an int32 cannot hold, and unknown dtypes', () => {
    expect(() => tensor([1, 2.5], { dtype: 'int32' })).toThrow('value 2.5 (flat index 1) cannot be held by an int32');
    expect(() => tensor([2 ** 31], { dtype: 'int32', backend: 'cpu64' })).toThrow('cannot be held by an int32');
    expect(() => tensor([1], { dtype: 'float64' as 'float32' })).toThrow("dtype 'float64' is not supported");
  });

  it('wraps i32 device tensors as int32 and refuses u32', async () => {
    const t = fromDevice(DeviceTensor.fromArray(Int32Array.of(4, 5), [2], 'i32'));
    expect(t.dtype).toBe('int32');
    expect(new Tensor(DeviceTensor.fromArray(Float32Array.of(1), [1], 'f32')).dtype).toBe('float32');
    const u = DeviceTensor.fromArray(Uint32Array.of(1), [1], 'u32');
    expect(() => fromDevice(u)).toThrow('expected an f32 or i32 device tensor, got u32');
    u.dispose();
    t.dispose();
  });
});
