// Benchmark cases at ResNet20's activation shapes (batch 128). All bandwidth-bound.

import { Tensor, sizeOf } from '@wgtorch/tensor';
import {
  registerKernel,
  addRelu,
  add,
  copy,
  relu,
  reluBackward,
  axpy,
  mul,
  unary,
  powScalar,
  type BenchCase,
} from '@wgtorch/kernels-wgsl';

export const RESNET20_ACTIVATIONS: number[][] = [
  [128, 16, 32, 32],
  [128, 32, 16, 16],
  [128, 64, 8, 8],
];

/** Cases for a kernel reading `nIn` activation-sized tensors and writing one. */
export function activationCases(
  nIn: number,
  run: (xs: Tensor[]) => Tensor,
  bytesPerElement = (nIn + 1) * 4,
): () => BenchCase[] {
  return () =>
    RESNET20_ACTIVATIONS.map((shape) => {
      const n = sizeOf(shape);
      return {
        shape: `N${shape[0]} C${shape[1]} ${shape[2]}x${shape[3]}`,
        flops: 0,
        bytes: n * bytesPerElement,
        setup() {
          const xs = Array.from({ length: nIn }, (_, i) => Tensor.randn(shape, { seed: i + 1 }));
          return {
            run: () => run(xs).dispose(),
            dispose: () => xs.forEach((x) => x.dispose()),
          };
        },
      };
    });
}

registerKernel({ name: 'elementwise.copy', benchCases: activationCases(1, ([x]) => copy(x)) });
registerKernel({ name: 'elementwise.relu', benchCases: activationCases(1, ([x]) => relu(x)) });
registerKernel({ name: 'elementwise.reluBackward', benchCases: activationCases(2, ([dy, y]) => reluBackward(dy, y)) });
registerKernel({ name: 'elementwise.add', benchCases: activationCases(2, ([a, b]) => add(a, b)) });
registerKernel({ name: 'elementwise.addRelu', benchCases: activationCases(2, ([a, b]) => addRelu(a, b)) });
registerKernel({ name: 'elementwise.axpy', benchCases: activationCases(2, ([a, b]) => axpy(0.5, a, b)) });
registerKernel({ name: 'elementwise.gelu', benchCases: activationCases(1, ([x]) => unary('gelu', x)) });
registerKernel({ name: 'elementwise.pow', benchCases: activationCases(1, ([x]) => powScalar(x, 2.5)) });

/** x * s with s [1, C, 1, 1] broadcast (a per-channel scale): reads x, writes the product. */
function channelBroadcastCases(): BenchCase[] {
  return RESNET20_ACTIVATIONS.map((shape) => {
    const n = sizeOf(shape);
    return {
      shape: `N${shape[0]} C${shape[1]} ${shape[2]}x${shape[3]} * [1, ${shape[1]}, 1, 1]`,
      flops: 0,
      bytes: n * 8,
      setup() {
        const x = Tensor.randn(shape, { seed: 1 });
        const s = Tensor.randn([1, shape[1], 1, 1], { seed: 2 });
        return { run: () => mul(x, s).dispose(), dispose: () => [x, s].forEach((t) => t.dispose()) };
      },
    };
  });
}

registerKernel({ name: 'elementwise.broadcast', benchCases: channelBroadcastCases });
