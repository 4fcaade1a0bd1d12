// KeptTables: a table whose words come back is the same tensor (no upload); the oldest is
// disposed when more than `size` are kept.
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { getRuntime, runtime } from '@wgtorch/tensor';
import { KeptTables } from './kept-tables.js';

beforeAll(async () => {
  await getRuntime();
});

describe('KeptTables', () => {
  it('gives the kept tensor for equal words without an upload, and a new one for other words', async () => {
    const kept = new KeptTables(2);
    const uploads = vi.spyOn(runtime().dispatcher, 'upload');
    try {
      const a = kept.get(Uint32Array.from([1, 2, 3]));
      const again = kept.get(Uint32Array.from([1, 2, 3]));
      expect(again).toBe(a);
      expect(uploads).toHaveBeenCalledTimes(1);
      const b = kept.get(Uint32Array.from([1, 2, 4]));
      expect(b).not.toBe(a);
      expect(uploads).toHaveBeenCalledTimes(2);
      expect([...(await b.toArray())]).toEqual([1, 2, 4]);
    } finally {
      uploads.mockRestore();
    }
  });

  it('keeps the words it was given, not the caller array they came in (which the caller may reuse)', () => {
    const kept = new KeptTables(2);
    const words = Uint32Array.from([5, 6]);
    const a = kept.get(words);
    words[0] = 7;
    expect(kept.get(Uint32Array.from([5, 6]))).toBe(a);
  });

  it('disposes the least recently used table beyond its size', () => {
    const kept = new KeptTables(2);
    const a = kept.get(Uint32Array.from([1]));
    const b = kept.get(Uint32Array.from([2]));
    expect(kept.get(Uint32Array.from([1]))).toBe(a); // a is the most recent now
    kept.get(Uint32Array.from([3]));
    expect(b.isDisposed).toBe(true);
    expect(a.isDisposed).toBe(false);
  });
});
