// Bad values in, as PyTorch answers them: relu(NaN) is NaN on both backends, and labels from
// the CPU outside [0, classes) or fractional are refused by crossEntropy with the label, its
// index and the class count, before anything is uploaded.

import { beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, runtime, Tensor as DeviceTensor } from '@wgtorch/tensor';
import * as F from './functional.js';
import { tensor } from './tensor.js';
import type { BackendName } from './backend.js';

beforeAll(async () => {
  await getRuntime();
});

const backends: BackendName[] = ['gpu', 'cpu64'];

describe('relu and NaN', () => {
  for (const backend of backends) {
    it(`relu(NaN) is NaN and its gradient passes dy, as PyTorch (${backend})`, async () => {
      const x = tensor([NaN, -1, 2, NaN], [4], { requiresGrad: true, backend });
      const y = F.relu(x);
      expect(Array.from(await y.toArray()).map(String)).toEqual(['NaN', '0', '2', 'NaN']);
      // PyTorch: threshold_backward(dy, y, 0) = y <= 0 ? 0 : dy, so dy passes where y is NaN.
      F.sum(F.mul(y, tensor([1, 2, 3, 4], [4], { backend }))).backward();
      expect(Array.from(await x.grad!.toArray()).map(String)).toEqual(['1', '0', '3', '4']);
    });
  }
});

describe('crossEntropy labels', () => {
  for (const backend of backends) {
    it(`refuses labels out of range or fractional, naming them (${backend})`, () => {
      const logits = tensor(new Array(30).fill(0), [3, 10], { backend });
      const before = backend === 'gpu' ? runtime().pool.getStats().created : 0;
      expect(() => F.crossEntropy(logits, [0, 10, 2])).toThrow(
        'crossEntropy: label 10 at index 1 is not a class index: with 10 classes a label is an integer in [0, 9].',
      );
      expect(() => F.crossEntropy(logits, Int32Array.of(0, 1, -1))).toThrow(/crossEntropy: label -1 at index 2/);
      expect(() => F.crossEntropy(logits, Float32Array.of(0, 1.5, 2))).toThrow(/crossEntropy: label 1\.5 at index 1/);
      if (backend === 'gpu') expect(runtime().pool.getStats().created).toBe(before);
    });

    it(`takes integer labels from any array type (${backend})`, async () => {
      const logits = tensor(
        Array.from({ length: 30 }, (_, i) => Math.sin(i)),
        [3, 10],
        { backend },
      );
      const a = await F.crossEntropy(logits, Int32Array.of(0, 9, 4)).item();
      expect(await F.crossEntropy(logits, Float32Array.of(0, 9, 4)).item()).toBeCloseTo(a, 6);
      expect(await F.crossEntropy(logits, [0, 9, 4]).item()).toBeCloseTo(a, 6);
    });
  }

  it('does not check labels already on the GPU (that would need a readback): the loss is NaN', async () => {
    const logits = tensor(new Array(20).fill(0), [2, 10]);
    const labels = DeviceTensor.fromArray(Int32Array.of(0, 10), [2], 'i32');
    expect(Number.isNaN(await F.crossEntropy(logits, labels).item())).toBe(true);
    labels.dispose();
  });
});
