// cast against its float64 reference: f32 -> i32 rounds toward zero (PyTorch's .int()), i32 -> f32
// exact, on odd sizes, a size past one workgroup, rank 5 and an empty tensor.

import { beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, Tensor } from '@wgtorch/tensor';
import { cast, castRef } from './index.js';

beforeAll(async () => {
  await getRuntime();
});

describe('cast', () => {
  it('f32 -> i32 truncates toward zero, as the reference', async () => {
    const values = [0, 0.5, -0.5, 1.99, -1.99, 2.5, -2.5, 3, -7, 1e9, -1e9, 16777216];
    const x = Tensor.fromArray(Float32Array.from(values), [values.length], 'f32');
    const y = cast(x, 'i32');
    expect(y.dtype).toBe('i32');
    const got = await y.toArray();
    expect([...got]).toEqual([...castRef({ data: Float64Array.from(values), shape: [12] }, 'i32').data]);
    expect([...got]).toEqual([0, 0, 0, 1, -1, 2, -2, 3, -7, 1e9, -1e9, 16777216]);
    x.dispose();
    y.dispose();
  });

  for (const shape of [[7], [257], [2, 1, 3, 1, 5], [3, 0]]) {
    it(`i32 -> f32 -> i32 round-trips on [${shape.join(', ')}]`, async () => {
      const n = shape.reduce((a, d) => a * d, 1);
      const ints = Int32Array.from({ length: n }, (_, i) => ((i * 7919) % 2001) - 1000);
      const x = Tensor.fromArray(ints, shape, 'i32');
      const f = cast(x, 'f32');
      expect(f.dtype).toBe('f32');
      expect(f.shape).toEqual(shape);
      expect([...(await f.toArray())]).toEqual([...castRef({ data: Float64Array.from(ints), shape }, 'f32').data]);
      const back = cast(f, 'i32');
      expect([...(await back.toArray())]).toEqual([...ints]);
      for (const t of [x, f, back]) t.dispose();
    });
  }

  it('refuses other dtypes', () => {
    const u = Tensor.fromArray(Uint32Array.of(1), [1], 'u32');
    expect(() => cast(u, 'f32')).toThrow('cast: x [1] is u32; cast takes f32 or i32.');
    expect(() => cast(u, 'u32' as 'f32')).toThrow("cast: dtype 'u32' is not supported");
    u.dispose();
  });
});
