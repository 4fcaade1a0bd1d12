// Pooling.

import type {
  AvgPool2dOptions as Pool2dOptions,
  MaxPool2dOptions as MaxPoolKernelOptions,
} from '@wgtorch/kernels-wgsl';
import { formatShape } from '@wgtorch/tensor';
import type { Raw } from '../backend.js';
import { apply, defineOp, Tensor } from '../tensor.js';
import { reshape } from './shape.js';

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

/** The kernel's options, plus where the forward leaves the indices when the caller asks for them. */
interface MaxPoolAttrs extends MaxPoolKernelOptions {
  out?: { indices?: Raw; unbatched: boolean };
}

const maxPool2dOp = defineOp<MaxPoolAttrs>({
  name: 'maxPool2d',
  forward: (b, [x], o, record) => {
    const { values, indices } = b.k.maxPool2d(x, o);
    if (o.out) {
      const s = b.shape(indices);
      o.out.indices = b.view(indices, o.out.unbatched ? s.slice(1) : s);
    }
    if (record) return { y: values, saved: [indices] };
    b.release(indices);
    return { y: values };
  },
  backward: (b, dy, { saved: [indices], attrs, shapes }) => [b.k.maxPool2dBackward(dy, indices, [...shapes[0]], attrs)],
});

/** Options of maxPool2d, as PyTorch's F.max_pool2d: a number for both dimensions or [h, w]. */
export interface MaxPool2dOptions {
  /** Window size. */
  kernel: number | [number, number];
  /** Default: the kernel size. */
  stride?: number | [number, number];
  /** Default 0 (at most half the kernel); padded positions are -inf, never picked. */
  padding?: number | [number, number];
  /** Spacing between window taps (default 1). */
  dilation?: number | [number, number];
  /** Round the output size up (a last, partial window) rather than down (default false). */
  ceilMode?: boolean;
}

/**
 * Max pooling of x [N, C, H, W] (or unbatched [C, H, W]); the gradient goes to each window's maximum (the
 * first in row-major order; a NaN counts as a maximum and propagates), as PyTorch.
 */
export function maxPool2d(x: Tensor, options: MaxPool2dOptions): Tensor;
/**
 * With `returnIndices`, also the int32 indices of the maxima into each H*W plane (PyTorch's return_indices;
 * the indices are not differentiable).
 */
export function maxPool2d(
  x: Tensor,
  options: MaxPool2dOptions & { returnIndices: true },
): { values: Tensor; indices: Tensor };
export function maxPool2d(
  x: Tensor,
  options: MaxPool2dOptions & { returnIndices?: boolean },
): Tensor | { values: Tensor; indices: Tensor } {
  if (x.ndim !== 4 && x.ndim !== 3) {
    throw new Error(`maxPool2d: input ${formatShape(x.shape)} must be [N, C, H, W] or unbatched [C, H, W].`);
  }
  const unbatched = x.ndim === 3;
  const x4 = unbatched ? reshape(x, [1, ...x.shape]) : x;
  const o: MaxPoolAttrs = {
    kernel: options.kernel,
    stride: options.stride ?? options.kernel,
    padding: options.padding ?? 0,
    ...(options.dilation !== undefined ? { dilation: options.dilation } : {}),
    ...(options.ceilMode ? { ceilMode: true } : {}),
  };
  const unbatch = (t: Tensor) => (unbatched ? reshape(t, t.shape.slice(1)) : t);
  if (!options.returnIndices) return unbatch(apply(maxPool2dOp, [x4], o));
  // The forward hands its indices out through attrs, so they are computed once for both results.
  const out: { indices?: Raw; unbatched: boolean } = { unbatched };
  const values = unbatch(apply(maxPool2dOp, [x4], { ...o, out }));
  const indices = new Tensor(out.indices!, { dtype: 'int32' });
  delete out.indices;
  return { values, indices };
}
