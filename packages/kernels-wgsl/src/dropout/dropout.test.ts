// Dropout: the GPU mask equals the float64 reference's bit for bit (same hash of (seed, index)),
// the kept fraction and the mean match 1 - p and the input's, seeds give different masks, and
// p = 0 / p = 1 are the identity and zeros.

import { beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, Tensor } from '@wgtorch/tensor';
import * as K from './index.js';
import { expectClose, pair, pairOf } from '../elementwise/test-util.js';

beforeAll(async () => {
  await getRuntime();
});

describe('dropout', () => {
  for (const [shape, p, seed] of [
    [[1], 0.5, 1],
    [[7, 3], 0.3, 2],
    [[2, 3, 1, 4, 5], 0.9, 0xffffffff],
    [[1031], 0.7, 123456789],
    [[4, 257], 0.1, 0],
  ] as [number[], number, number][]) {
    it(`${JSON.stringify(shape)} p ${p} seed ${seed} is the reference's mask exactly`, async () => {
      const x = pair(shape, 3, 1, 0.1);
      const y = await K.dropout(x.t, p, seed).toArray();
      const r = K.dropoutRef(x.r, p, seed);
      for (let i = 0; i < y.length; i++) expect(y[i] === 0, `element ${i}`).toBe(r.data[i] === 0);
      await expectClose(K.dropout(x.t, p, seed), r, { atol: 1e-6, rtol: 1e-6 });
    });
  }
  it('keeps 1 - p of the elements and preserves the mean', async () => {
    const n = 200_000;
    for (const p of [0.1, 0.5, 0.8]) {
      const y = Array.from(await K.dropout(Tensor.fromArray(new Float32Array(n).fill(1), [n]), p, 42).toArray());
      const kept = y.reduce((a, v) => a + (v !== 0 ? 1 : 0), 0) / n;
      const mean = y.reduce((a, v) => a + v, 0) / n;
      // Binomial standard deviation sqrt(p (1 - p) / n) < 0.0012: 5 sigma.
      expect(Math.abs(kept - (1 - p)), `kept at p ${p}`).toBeLessThan(0.006);
      expect(Math.abs(mean - 1), `mean at p ${p}`).toBeLessThan(0.006 / (1 - p));
    }
  });
  it('differs between seeds and between neighbouring elements', async () => {
    const x = Tensor.fromArray(new Float32Array(4096).fill(1), [4096]);
    const a = await K.dropout(x, 0.5, 1).toArray();
    const b = await K.dropout(x, 0.5, 2).toArray();
    let same = 0;
    let runs = 0;
    for (let i = 0; i < a.length; i++) {
      same += a[i] === b[i] ? 1 : 0;
      if (i > 0 && a[i] !== a[i - 1]) runs++;
    }
    expect(same / a.length).toBeGreaterThan(0.45);
    expect(same / a.length).toBeLessThan(0.55);
    expect(runs / a.length).toBeGreaterThan(0.45); // about half the neighbours differ
  });
  it('p = 0 is the identity, p = 1 gives zeros; NaN stays NaN where dropped (x * 0, as PyTorch)', async () => {
    const x = pairOf([1, -2, 3.5, NaN], [4]);
    expect(Array.from(await K.dropout(x.t, 0, 9).toArray())).toEqual([1, -2, 3.5, NaN]);
    const z = Array.from(await K.dropout(x.t, 1, 9).toArray());
    expect(z.slice(0, 3).map(Math.abs)).toEqual([0, 0, 0]); // -2 * 0 is -0, as in PyTorch
    expect(Number.isNaN(z[3])).toBe(true);
  });
  it('refuses p outside [0, 1] and a seed that is not a u32', () => {
    const x = Tensor.zeros([2]);
    expect(() => K.dropout(x, 1.5, 0)).toThrow(/dropout: p must be a probability in \[0, 1\], got 1.5/);
    expect(() => K.dropout(x, NaN, 0)).toThrow(/got NaN/);
    expect(() => K.dropout(x, 0.5, -1)).toThrow(/seed must be an integer in \[0, 2\^32\)/);
  });
});
