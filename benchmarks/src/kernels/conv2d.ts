// Benchmark cases: ResNet20's eight convolution shapes at batch 128, for each of the three kernels.

import { Tensor, sizeOf } from '@wgtorch/tensor';
import {
  conv2dForward,
  conv2dInputGrad,
  conv2dOutputShape,
  conv2dWeightGrad,
  registerKernel,
  type BenchCase,
  type Conv2dOptions,
} from '@wgtorch/kernels-wgsl';

export interface ConvShape {
  n: number;
  cin: number;
  cout: number;
  size: number;
  k: number;
  stride: number;
}

const N = 128;
/** stem; 16->16; 16->32 s2; 32->32; 32->64 s2; 64->64; the two 1x1 stride-2 shortcuts. */
export const RESNET20_CONVS: ConvShape[] = [
  { n: N, cin: 3, cout: 16, size: 32, k: 3, stride: 1 },
  { n: N, cin: 16, cout: 16, size: 32, k: 3, stride: 1 },
  { n: N, cin: 16, cout: 32, size: 32, k: 3, stride: 2 },
  { n: N, cin: 32, cout: 32, size: 16, k: 3, stride: 1 },
  { n: N, cin: 32, cout: 64, size: 16, k: 3, stride: 2 },
  { n: N, cin: 64, cout: 64, size: 8, k: 3, stride: 1 },
  { n: N, cin: 16, cout: 32, size: 32, k: 1, stride: 2 },
  { n: N, cin: 32, cout: 64, size: 16, k: 1, stride: 2 },
];

export function convShapeLabel(s: ConvShape): string {
  return `N${s.n} ${s.cin}->${s.cout} ${s.size}x${s.size} k${s.k} s${s.stride}`;
}

export function convShapeOptions(s: ConvShape): Conv2dOptions {
  return { stride: s.stride, padding: (s.k - 1) / 2 };
}

type Which = 'forward' | 'inputGrad' | 'weightGrad';

export function convBenchCase(s: ConvShape, which: Which): BenchCase {
  const opts = convShapeOptions(s);
  const xShape = [s.n, s.cin, s.size, s.size];
  const wShape = [s.cout, s.cin, s.k, s.k];
  const yShape = conv2dOutputShape(xShape, wShape, opts);
  return {
    shape: convShapeLabel(s),
    // 2 FLOPs per multiply-add: every output value sums cin * k * k products.
    flops: 2 * sizeOf(yShape) * s.cin * s.k * s.k,
    bytes: 0,
    setup() {
      const x = Tensor.randn(xShape, { seed: 1 });
      const w = Tensor.randn(wShape, { seed: 2, std: 0.1 });
      const dy = Tensor.randn(yShape, { seed: 3 });
      const op =
        which === 'forward'
          ? () => conv2dForward(x, w, opts)
          : which === 'inputGrad'
            ? () => conv2dInputGrad(dy, w, xShape, opts)
            : () => conv2dWeightGrad(x, dy, wShape, opts);
      return {
        run: () => op().dispose(),
        dispose: () => [x, w, dy].forEach((t) => t.dispose()),
      };
    },
  };
}

for (const which of ['forward', 'inputGrad', 'weightGrad'] as const) {
  registerKernel({ name: `conv2d.${which}`, benchCases: () => RESNET20_CONVS.map((s) => convBenchCase(s, which)) });
}
