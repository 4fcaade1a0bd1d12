// Embedding: the lookup and the backward (repeated indices summed, the padding row zero)
// against the float64 reference, on index tensors of rank 1 to 3 and row widths that are not
// multiples of the backward's column run; the backward is bit-for-bit repeatable.

import { beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, Tensor } from '@wgtorch/tensor';
import * as K from './index.js';
import { expectClose, f64Of, pair } from '../elementwise/test-util.js';

beforeAll(async () => {
  await getRuntime();
});

function indices(shape: number[], V: number, seed: number) {
  const n = shape.reduce((a, d) => a * d, 1);
  const v = Int32Array.from({ length: n }, (_, i) => (i * 7 + seed * 3 + ((i * i) % 5)) % V);
  return { t: Tensor.fromArray(v, shape), r: f64Of(v, shape) };
}

describe('embedding and embeddingBackward', () => {
  for (const [idxShape, V, D, pad] of [
    [[1], 1, 1, -1],
    [[5], 3, 4, -1],
    [[4, 9], 7, 13, 2],
    [[2, 3, 11], 20, 8, 0],
    [[130], 65, 64, 64],
  ] as [number[], number, number, number][]) {
    it(`indices ${JSON.stringify(idxShape)}, weight [${V}, ${D}], paddingIdx ${pad}`, async () => {
      const idx = indices(idxShape, V, D);
      const w = pair([V, D], 4);
      const y = K.embedding(idx.t, w.t);
      await expectClose(y, K.embeddingRef(idx.r, w.r), { atol: 0, rtol: 0 }, 'y');
      const dy = pair([...idxShape, D], 5);
      const g = K.embeddingBackward(dy.t, idx.t, V, pad);
      await expectClose(g, K.embeddingBackwardRef(dy.r, idx.r, V, pad), { atol: 1e-5, rtol: 1e-5 }, 'dweight');
      const again = await K.embeddingBackward(dy.t, idx.t, V, pad).toArray();
      expect(Array.from(again)).toEqual(Array.from(await g.toArray()));
    });
  }
  it('gives NaN rows for indices out of range on the GPU; the reference names them', async () => {
    const w = pair([3, 2], 1);
    const y = Array.from(await K.embedding(Tensor.fromArray(Int32Array.of(1, 3, -1), [3]), w.t).toArray());
    expect(y.slice(0, 2).every(Number.isFinite)).toBe(true);
    expect(y.slice(2).every(Number.isNaN)).toBe(true);
    expect(() => K.embeddingRef(f64Of([0, 3], [2]), w.r)).toThrow(/embedding: index 3 at position 1 is out of range/);
  });
  it('refuses float indices and a dy of the wrong shape', () => {
    const w = Tensor.zeros([3, 2]);
    expect(() => K.embedding(Tensor.zeros([2]), w)).toThrow(/embedding: indices must be i32/);
    const idx = Tensor.fromArray(Int32Array.of(0, 1), [2]);
    expect(() => K.embeddingBackward(Tensor.zeros([3, 2]), idx, 3, -1)).toThrow(/must be \[...indices.shape, D\]/);
  });
});
