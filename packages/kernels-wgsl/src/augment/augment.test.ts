import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, Rng, Tensor } from '@wgtorch/tensor';
import { assertClose } from '../common/testing.js';
import { f64 } from '../common/f64.js';
import { KernelArgumentError } from '../common/errors.js';
import { augmentBatch, augmentBatchRef, normalizeBatch, normalizeBatchRef, packBytes, packedWords } from './index.js';

const MEAN = [0.4914, 0.4822, 0.4465];
const STD = [0.247, 0.2435, 0.2616];
const TOL = { atol: 2e-6, rtol: 1e-6 };

beforeAll(async () => {
  await getRuntime();
});
afterAll(() => {});

function randomBytes(n: number, seed: number): Uint8Array {
  const rng = new Rng(seed);
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = rng.int(256);
  // The extremes must survive unpacking.
  if (n > 2) {
    b[0] = 255;
    b[1] = 0;
    b[n - 1] = 255;
  }
  return b;
}

function randomCrops(n: number, pad: number, seed: number): Int32Array {
  const rng = new Rng(seed);
  const c = new Int32Array(n * 3);
  for (let i = 0; i < n; i++) {
    c[i * 3] = rng.int(2 * pad + 1);
    c[i * 3 + 1] = rng.int(2 * pad + 1);
    c[i * 3 + 2] = rng.int(2);
  }
  // Corners of the range and both flips on the first images.
  const fixed = [
    [0, 0, 0],
    [2 * pad, 2 * pad, 1],
    [0, 2 * pad, 1],
    [2 * pad, 0, 0],
  ];
  for (let i = 0; i < Math.min(n, fixed.length); i++) c.set(fixed[i], i * 3);
  return c;
}

async function runBoth(n: number, size: number, pad: number, seed: number): Promise<void> {
  const bytes = randomBytes(n * 3 * size * size, seed);
  const words = packBytes(bytes);
  expect(words.length).toBe(packedWords(n, size));
  const crops = randomCrops(n, pad, seed + 1);
  const img = Tensor.fromArray(words, [words.length], 'u32');
  const cr = Tensor.fromArray(crops, [n, 3], 'i32');
  const opts = { mean: MEAN, std: STD, n, size, pad };
  const out = augmentBatch(img, cr, opts);
  expect(out.shape).toEqual([n, 3, size, size]);
  const ref = augmentBatchRef(f64(words, [words.length]), f64(crops, [n, 3]), opts);
  assertClose(await out.toArray(), ref.data, TOL, `augmentBatch n=${n} size=${size} pad=${pad}`);
  const norm = normalizeBatch(img, { mean: MEAN, std: STD, n, size });
  const nref = normalizeBatchRef(f64(words, [words.length]), { mean: MEAN, std: STD, n, size });
  assertClose(await norm.toArray(), nref.data, TOL, `normalizeBatch n=${n} size=${size}`);
  for (const t of [img, cr, out, norm]) t.dispose();
}

describe('augmentBatch', () => {
  it('matches the float64 reference on CIFAR shapes and awkward ones', async () => {
    await runBoth(128, 32, 4, 1);
    await runBoth(1, 32, 4, 2);
    await runBoth(5, 7, 2, 3); // 735 bytes: not a multiple of 4
    await runBoth(3, 5, 0, 4); // no padding: crop offsets are all 0, only flips
    await runBoth(2, 4, 6, 5); // padding wider than the image: whole rows of zeros
  });

  it('the reference follows torchvision: pad with zeros, crop, then flip', () => {
    // One 1-channel-like pattern: pixel value = 10*y + x + 1 on every channel.
    const size = 4;
    const bytes = new Uint8Array(3 * size * size);
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) bytes[(c * size + y) * size + x] = 10 * y + x + 1;
    const words = f64(packBytes(bytes), [packedWords(1, size)]);
    const unit = { mean: [0, 0, 0], std: [1 / 255, 1 / 255, 1 / 255], n: 1, size, pad: 1 };
    const at = (o: Float64Array, y: number, x: number) => Math.round(o[y * size + x]);
    // dx=0, dy=0: shifted right and down by one, zeros entering at the top and left.
    const a = augmentBatchRef(words, f64([0, 0, 0], [1, 3]), unit).data;
    expect([at(a, 0, 0), at(a, 0, 1), at(a, 1, 0), at(a, 1, 1), at(a, 3, 3)]).toEqual([0, 0, 0, 1, 23]);
    // Flip of the uncropped image (dx=dy=pad): each row reversed.
    const b = augmentBatchRef(words, f64([1, 1, 1], [1, 3]), unit).data;
    expect([at(b, 0, 0), at(b, 0, 3), at(b, 2, 1)]).toEqual([4, 1, 23]);
    // Crop at dx=2 (shift left; a zero column enters at the right), then flip: the zero column is on the left.
    const c = augmentBatchRef(words, f64([2, 1, 1], [1, 3]), unit).data;
    expect([at(c, 0, 0), at(c, 0, 1), at(c, 0, 3)]).toEqual([0, 4, 2]);
    // A padded pixel normalizes to -mean/std.
    const d = augmentBatchRef(words, f64([0, 0, 0], [1, 3]), { mean: MEAN, std: STD, n: 1, size, pad: 1 }).data;
    expect(d[0]).toBeCloseTo(-MEAN[0] / STD[0], 12);
    expect(d[size * size * 2]).toBeCloseTo(-MEAN[2] / STD[2], 12);
  });

  it('rejects bad arguments with the shapes and the fix', () => {
    const img = Tensor.fromArray(new Uint32Array(packedWords(2)), [packedWords(2)], 'u32');
    const cr = Tensor.fromArray(new Int32Array(6), [2, 3], 'i32');
    const f = Tensor.zeros([packedWords(2)], 'f32');
    expect(() => augmentBatch(img, cr, { mean: MEAN, std: STD, n: 3 })).toThrow(/holds 1536 words, but 3 images/);
    expect(() => augmentBatch(f, cr, { mean: MEAN, std: STD, n: 2 })).toThrow(KernelArgumentError);
    expect(() => augmentBatch(img, img, { mean: MEAN, std: STD, n: 2 })).toThrow(/crops must be i32 \[2, 3\]/);
    expect(() => normalizeBatch(img, { mean: [0.5, 0.5], std: STD, n: 2 })).toThrow(/mean must be 3 finite numbers/);
    for (const t of [img, cr, f]) t.dispose();
  });
});
