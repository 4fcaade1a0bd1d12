// Benchmark cases: ResNet20's global pooling (N128 C64 8x8) and a 2x2 pool at 32x32.

import { Tensor, sizeOf } from '@wgtorch/tensor';
import {
  registerKernel,
  avgPool2d,
  avgPool2dBackward,
  globalAvgPool,
  globalAvgPoolBackward,
  type BenchCase,
} from '@wgtorch/kernels-wgsl';

function poolCase(
  shape: number[],
  outSize: number,
  run: (x: Tensor, dy: Tensor) => Tensor,
  dyShape: number[],
): BenchCase {
  const n = sizeOf(shape);
  return {
    shape: `N${shape[0]} C${shape[1]} ${shape[2]}x${shape[3]}`,
    flops: 0,
    bytes: (n + outSize) * 4,
    setup() {
      const x = Tensor.randn(shape, { seed: 1 });
      const dy = Tensor.randn(dyShape, { seed: 2 });
      return { run: () => run(x, dy).dispose(), dispose: () => [x, dy].forEach((t) => t.dispose()) };
    },
  };
}

const G = [128, 64, 8, 8];
const P = [128, 16, 32, 32];
registerKernel({
  name: 'pool.globalAvgPool',
  benchCases: () => [poolCase(G, 128 * 64, (x) => globalAvgPool(x), [128, 64, 1, 1])],
});
registerKernel({
  name: 'pool.globalAvgPoolBackward',
  benchCases: () => [poolCase(G, 128 * 64, (_x, dy) => globalAvgPoolBackward(dy, G), [128, 64, 1, 1])],
});
registerKernel({
  name: 'pool.avgPool2d',
  benchCases: () => [poolCase(P, (128 * 16 * 32 * 32) / 4, (x) => avgPool2d(x, { kernel: 2 }), [128, 16, 16, 16])],
});
registerKernel({
  name: 'pool.avgPool2dBackward',
  benchCases: () => [
    poolCase(P, (128 * 16 * 32 * 32) / 4, (_x, dy) => avgPool2dBackward(dy, P, { kernel: 2 }), [128, 16, 16, 16]),
  ],
});
