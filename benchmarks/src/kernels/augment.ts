// Benchmark cases: one training batch of 128 CIFAR-10 images (augment) and one test batch (normalize).

import { Rng, Tensor } from '@wgtorch/tensor';
import { registerKernel, augmentBatch, normalizeBatch, packedWords, type BenchCase } from '@wgtorch/kernels-wgsl';

const MEAN = [0.4914, 0.4822, 0.4465];
const STD = [0.247, 0.2435, 0.2616];

function inputs(n: number): { images: Tensor; crops: Tensor } {
  const rng = new Rng(7);
  const words = new Uint32Array(packedWords(n));
  for (let i = 0; i < words.length; i++) words[i] = rng.nextU32();
  const crops = new Int32Array(n * 3);
  for (let i = 0; i < n; i++) {
    crops[i * 3] = rng.int(9);
    crops[i * 3 + 1] = rng.int(9);
    crops[i * 3 + 2] = rng.int(2);
  }
  return { images: Tensor.fromArray(words, [words.length], 'u32'), crops: Tensor.fromArray(crops, [n, 3], 'i32') };
}

function benchCase(n: number, augment: boolean): BenchCase {
  return {
    shape: `N${n} 3x32x32 u8 -> f32${augment ? ' pad4 crop flip' : ''}`,
    flops: 0,
    bytes: n * 3072 + (augment ? n * 12 : 0) + n * 3072 * 4,
    setup() {
      const { images, crops } = inputs(n);
      const outs: Tensor[] = [];
      return {
        run() {
          const out = augment
            ? augmentBatch(images, crops, { mean: MEAN, std: STD, n })
            : normalizeBatch(images, { mean: MEAN, std: STD, n });
          outs.push(out);
          if (outs.length > 4) outs.shift()!.dispose();
        },
        dispose() {
          for (const t of outs) t.dispose();
          images.dispose();
          crops.dispose();
        },
      };
    },
  };
}

registerKernel({ name: 'augment.batch', benchCases: () => [benchCase(128, true)] });
registerKernel({ name: 'augment.normalize', benchCases: () => [benchCase(128, false), benchCase(1000, false)] });
