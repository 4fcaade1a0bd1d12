import { beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, Tensor } from '@wgtorch/tensor';
import { augmentBatch, augmentBatchRef, f64, normalizeBatch, normalizeBatchRef } from '@wgtorch/kernels-wgsl';
import { assertClose } from '@wgtorch/kernels-wgsl/testing';
import {
  CIFAR10_MEAN,
  CIFAR10_STD,
  IMAGE_BYTES,
  TRAIN_FILES,
  TrainLoader,
  augmentParams,
  epochOrder,
  readCifarFiles,
  stepsPerEpoch,
  testBatches,
  subsetSplit,
  uploadBatch,
  type CifarSplit,
} from './index.js';
import { cifarDir } from './testing.js';

/** n images whose bytes encode their index, labels index % 10. */
function syntheticSplit(n: number): CifarSplit {
  const images = new Uint8Array(n * IMAGE_BYTES);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % 10;
    for (let b = 0; b < IMAGE_BYTES; b++) images[i * IMAGE_BYTES + b] = (i * 7 + b * 13) & 0xff;
    images[i * IMAGE_BYTES] = i & 0xff;
    images[i * IMAGE_BYTES + 1] = i >> 8;
  }
  return { n, images, labels };
}
const indexOf = (images: Uint8Array, k: number) => images[k * IMAGE_BYTES] | (images[k * IMAGE_BYTES + 1] << 8);

describe('epoch order', () => {
  it('is a permutation fixed by (seed, epoch) and different across epochs and seeds', () => {
    const a = epochOrder(1000, 42, 3);
    expect([...a].sort((x, y) => x - y)).toEqual([...Array(1000).keys()]);
    expect(epochOrder(1000, 42, 3)).toEqual(a);
    expect(epochOrder(1000, 42, 4)).not.toEqual(a);
    expect(epochOrder(1000, 43, 3)).not.toEqual(a);
    // Not close to the identity.
    let fixed = 0;
    a.forEach((v, i) => (fixed += v === i ? 1 : 0));
    expect(fixed).toBeLessThan(10);
  });

  it('steps: the last partial batch is dropped for training and kept for test', () => {
    expect(stepsPerEpoch(50000, 128, true)).toBe(390);
    expect(stepsPerEpoch(10000, 128, false)).toBe(79);
    expect(stepsPerEpoch(256, 128, true)).toBe(2);
    expect(() => stepsPerEpoch(10, 0, true)).toThrow(/positive integer/);
  });
});

describe('augmentation parameters', () => {
  it('crop offsets uniform in [0, 8], flips about half, fixed by (seed, epoch, step)', () => {
    const p = augmentParams(1, 2, 3, 20000);
    const hx = new Array(9).fill(0);
    const hy = new Array(9).fill(0);
    let flips = 0;
    for (let i = 0; i < 20000; i++) {
      hx[p[i * 3]]++;
      hy[p[i * 3 + 1]]++;
      expect(p[i * 3 + 2] === 0 || p[i * 3 + 2] === 1).toBe(true);
      flips += p[i * 3 + 2];
    }
    expect(hx.reduce((a, b) => a + b)).toBe(20000);
    for (const h of [...hx, ...hy]) expect(Math.abs(h - 20000 / 9)).toBeLessThan(200);
    expect(Math.abs(flips - 10000)).toBeLessThan(300);
    expect(augmentParams(1, 2, 3, 50)).toEqual(p.subarray(0, 150));
    expect(augmentParams(1, 2, 4, 50)).not.toEqual(p.subarray(0, 150));
    const noFlip = augmentParams(1, 2, 3, 50, { flip: false });
    for (let i = 0; i < 50; i++) {
      expect(noFlip[i * 3]).toBe(p[i * 3]);
      expect(noFlip[i * 3 + 2]).toBe(0);
    }
    const noCrop = augmentParams(1, 2, 3, 50, { pad: 0 });
    for (let i = 0; i < 50; i++) expect([noCrop[i * 3], noCrop[i * 3 + 1]]).toEqual([0, 0]);
  });
});

describe('TrainLoader', () => {
  const split = syntheticSplit(1000);

  it('batches follow the epoch order, carry the right labels and cover each image at most once', () => {
    const loader = new TrainLoader(split, { batchSize: 64, seed: 9 });
    expect(loader.steps).toBe(15);
    const order = epochOrder(1000, 9, 0);
    const seen = new Set<number>();
    let s = 0;
    for (const b of loader.epoch(0)) {
      expect(b.step).toBe(s);
      expect(b.size).toBe(64);
      expect(b.images.length).toBe(64 * IMAGE_BYTES);
      expect(b.packed.length).toBe((64 * IMAGE_BYTES) / 4);
      expect(b.crops!.length).toBe(64 * 3);
      for (let k = 0; k < 64; k++) {
        const idx = indexOf(b.images, k);
        expect(idx).toBe(order[s * 64 + k]);
        expect(b.labels[k]).toBe(idx % 10);
        expect(
          Buffer.compare(
            b.images.subarray(k * IMAGE_BYTES, (k + 1) * IMAGE_BYTES),
            split.images.subarray(idx * IMAGE_BYTES, (idx + 1) * IMAGE_BYTES),
          ),
        ).toBe(0);
        expect(seen.has(idx)).toBe(false);
        seen.add(idx);
      }
      s++;
    }
    expect(s).toBe(15);
    expect(seen.size).toBe(960);
  });

  it('resuming at (epoch, step) with a new loader gives exactly the batches of an uninterrupted run', () => {
    const a = new TrainLoader(split, { batchSize: 100, seed: 5 });
    const straight = [...a.epoch(0), ...a.epoch(1), ...a.epoch(2)].map((b) => [b.epoch, b.step, b.indices, b.crops]);
    const b = new TrainLoader(split, { batchSize: 100, seed: 5 });
    const first = [...b.epoch(0), ...[...b.epoch(1)].slice(0, 4)];
    const c = new TrainLoader(split, { batchSize: 100, seed: 5 }); // the "restarted process"
    const resumed = [...first, ...c.epoch(1, 4), ...c.epoch(2)].map((x) => [x.epoch, x.step, x.indices, x.crops]);
    expect(resumed).toEqual(straight);
    expect(new TrainLoader(split, { batchSize: 100, seed: 6 }).batch(0, 0).indices).not.toEqual(a.batch(0, 0).indices);
  });

  it('test batches keep the order and the last partial batch', () => {
    const bs = [...testBatches(split, 300)];
    expect(bs.map((b) => b.size)).toEqual([300, 300, 300, 100]);
    expect(indexOf(bs[3].images, 99)).toBe(999);
    expect(bs[3].crops).toBeUndefined();
    expect(bs[3].labels[99]).toBe(9);
  });

  it('subsetSplit views the first n images', () => {
    const sub = subsetSplit(split, 130);
    expect(sub.n).toBe(130);
    const l = new TrainLoader(sub, { batchSize: 64, seed: 1 });
    expect(l.steps).toBe(2);
    for (const b of l.epoch(0)) for (let k = 0; k < b.size; k++) expect(indexOf(b.images, k)).toBeLessThan(130);
    expect(() => subsetSplit(split, 1001)).toThrow(/1\.\.1000/);
  });

  it('rejects a batch larger than the data and steps out of range', () => {
    expect(() => new TrainLoader(split, { batchSize: 1001, seed: 0 })).toThrow(/exceeds the 1000 training images/);
    expect(() => new TrainLoader(split, { batchSize: 100, seed: 0 }).batch(0, 10)).toThrow(/step 10 outside 0\.\.9/);
  });
});

describe('a loader batch through the GPU augment kernel', () => {
  beforeAll(async () => {
    await getRuntime();
  });

  it('uploads packed bytes + crops and matches the float64 reference', async () => {
    const split = readCifarFiles(await cifarDir(), [TRAIN_FILES[0]]);
    const loader = new TrainLoader(split, { batchSize: 128, seed: 1 });
    const b = loader.batch(0, 1);
    const opts = { mean: CIFAR10_MEAN, std: CIFAR10_STD, n: b.size };
    const images = Tensor.fromArray(b.packed, [b.packed.length], 'u32');
    const crops = Tensor.fromArray(b.crops!, [b.size, 3], 'i32');
    const out = augmentBatch(images, crops, opts);
    const words = f64(b.packed, [b.packed.length]);
    assertClose(
      await out.toArray(),
      augmentBatchRef(words, f64(b.crops!, [b.size, 3]), opts).data,
      { atol: 2e-6, rtol: 1e-6 },
      'augmentBatch',
    );
    const norm = normalizeBatch(images, opts);
    assertClose(
      await norm.toArray(),
      normalizeBatchRef(words, opts).data,
      { atol: 2e-6, rtol: 1e-6 },
      'normalizeBatch',
    );
    for (const t of [images, crops, out, norm]) t.dispose();

    // uploadBatch does the same in one call: augmented for a training batch, normalized for a test batch.
    const g = uploadBatch(b);
    expect(g.x.shape).toEqual([128, 3, 32, 32]);
    assertClose(
      await g.x.toArray(),
      augmentBatchRef(words, f64(b.crops!, [b.size, 3]), opts).data,
      { atol: 2e-6, rtol: 1e-6 },
      'uploadBatch',
    );
    expect([...(await g.labels.toArray())]).toEqual([...b.labels]);
    g.dispose();
    const tb = [...testBatches(split, 4096)].at(-1)!;
    const gt = uploadBatch(tb);
    const tw = f64(tb.packed, [tb.packed.length]);
    assertClose(
      await gt.x.toArray(),
      normalizeBatchRef(tw, { ...opts, n: tb.size }).data,
      { atol: 2e-6, rtol: 1e-6 },
      'uploadBatch test',
    );
    gt.dispose();
  });
});
