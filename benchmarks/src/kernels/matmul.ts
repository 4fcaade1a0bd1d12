// Benchmark cases: ResNet20's Linear layer at batch 128 (forward and both gradients), and a
// square matmul for scale.

import { Tensor } from '@wgtorch/tensor';
import { registerKernel, matmul, type BenchCase, type MatmulOptions } from '@wgtorch/kernels-wgsl';

function mm(
  label: string,
  aShape: number[],
  bShape: number[],
  M: number,
  N: number,
  K: number,
  opts: MatmulOptions,
): BenchCase {
  return {
    shape: label,
    flops: 2 * M * N * K,
    bytes: 0,
    setup() {
      const a = Tensor.randn(aShape, { seed: 1 });
      const b = Tensor.randn(bShape, { seed: 2 });
      return { run: () => matmul(a, b, opts).dispose(), dispose: () => [a, b].forEach((t) => t.dispose()) };
    },
  };
}

registerKernel({
  name: 'matmul',
  benchCases: () => [
    mm('linear fwd x[128,64] W^T[64,10]', [128, 64], [10, 64], 128, 10, 64, { transB: true }),
    mm('linear dW dy^T[10,128] x[128,64]', [128, 10], [128, 64], 10, 64, 128, { transA: true }),
    mm('linear dx dy[128,10] W[10,64]', [128, 10], [10, 64], 128, 64, 10, {}),
    mm('square 512', [512, 512], [512, 512], 512, 512, 512, {}),
  ],
});
