// Pooling.

import type { AvgPool2dOptions as Pool2dOptions } from '@wgtorch/kernels-wgsl';
import { apply, defineOp, Tensor } from '../tensor.js';

const avgPool2dOp = defineOp<Pool2dOptions>({
  name: 'avgPool2d',
  forward: (b, [x], o) => ({ y: b.k.avgPool2d(x, o) }),
  backward: (b, dy, { attrs, shapes }) => [b.k.avgPool2dBackward(dy, [...shapes[0]], attrs)],
});

/** Options of avgPool2d. */
export interface AvgPool2dOptions {
  /** Window size (square). */
  kernel: number;
  /** Default: the kernel size. */
  stride?: number;
  /** Default 0; padded zeros count in the average (PyTorch's count_include_pad). */
  padding?: number;
}

/** Average pooling of x [N, C, H, W] with a square window. */
export function avgPool2d(x: Tensor, options: AvgPool2dOptions): Tensor {
  const o: Pool2dOptions = {
    kernel: options.kernel,
    stride: options.stride ?? options.kernel,
    padding: options.padding ?? 0,
  };
  return apply(avgPool2dOp, [x], o);
}

const globalAvgPoolOp = defineOp({
  name: 'adaptiveAvgPool2d',
  forward: (b, [x]) => ({ y: b.k.globalAvgPool(x) }),
  backward: (b, dy, { shapes }) => [b.k.globalAvgPoolBackward(dy, [...shapes[0]])],
});

/** Adaptive average pooling to `outputSize` ([1, 1] is global average pooling; otherwise H, W must divide evenly). */
export function adaptiveAvgPool2d(x: Tensor, outputSize: number | readonly [number, number]): Tensor {
  const [oh, ow] = typeof outputSize === 'number' ? [outputSize, outputSize] : outputSize;
  const [, , H, W] = x.shape;
  if (oh === 1 && ow === 1) return apply(globalAvgPoolOp, [x], undefined);
  if (H % oh === 0 && W % ow === 0 && H / oh === W / ow) return avgPool2d(x, { kernel: H / oh });
  throw new Error(
    `adaptiveAvgPool2d: output ${oh}x${ow} from ${H}x${W} needs equal whole windows; ` +
      'only sizes that divide evenly are supported.',
  );
}
