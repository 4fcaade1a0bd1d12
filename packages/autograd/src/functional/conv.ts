// Convolution.

import { formatShape } from '@wgtorch/tensor';
import type { Conv2dOptions } from '@wgtorch/kernels-wgsl';
import { apply, defineOp, Tensor } from '../tensor.js';
import { andThen } from './common.js';
import { reshape } from './shape.js';

const conv2dOp = defineOp<Conv2dOptions>({
  name: 'conv2d',
  forward: (b, [x, w, bias], o, record) => {
    const conv = b.k.conv2dForward(x, w, o);
    let y = conv;
    if (bias) {
      const bv = b.view(bias, [1, b.shape(bias)[0], 1, 1]);
      y = b.k.add(conv, bv);
      b.release(bv);
      b.release(conv);
    }
    return { y, saved: record ? [b.retain(x), b.retain(w)] : [] };
  },
  backward: (b, dy, { saved: [x, w], attrs, needs, shapes }) => [
    needs[0] ? b.k.conv2dInputGrad(dy, w, [...shapes[0]], attrs) : null,
    needs[1] ? b.k.conv2dWeightGrad(x, dy, [...shapes[1]], attrs) : null,
    needs[2] ? andThen(b, b.k.sumToShape(dy, [1, shapes[2][0], 1, 1]), (s) => b.view(s, shapes[2])) : null,
  ],
});

/** Options of conv2d, as PyTorch's F.conv2d: a number for both dimensions or [h, w]. */
export interface Conv2dFnOptions {
  /** Stride (default 1). */
  stride?: number | [number, number];
  /** Zero padding on each side (default 0). */
  padding?: number | [number, number];
  /** Spacing between kernel taps (default 1). */
  dilation?: number | [number, number];
  /** Channel groups (default 1): C and O split into `groups` parts, part i of the output seeing part i of the input;
   * groups = C = O is a depthwise convolution. */
  groups?: number;
}

/**
 * 2-D convolution (cross-correlation, as PyTorch) of x [N, C, H, W] (or unbatched [C, H, W]) with weight
 * [O, C / groups, kH, kW], plus bias [O].
 */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, options: Conv2dFnOptions = {}): Tensor {
  const groups = options.groups ?? 1;
  // Built only for an error message: conv2d is on the hot path of every step.
  const shapes = () => `input ${formatShape(x.shape)}, weight ${formatShape(weight.shape)}`;
  if ((x.ndim !== 4 && x.ndim !== 3) || weight.ndim !== 4) {
    throw new Error(
      `conv2d: ${shapes()} do not fit; expected [N, C, H, W] (or [C, H, W]) and [O, C / groups, kH, kW].`,
    );
  }
  if (x.ndim === 3) {
    const y = conv2d(reshape(x, [1, ...x.shape]), weight, bias, options);
    return reshape(y, y.shape.slice(1));
  }
  if (!Number.isInteger(groups) || groups < 1)
    throw new Error(`conv2d: groups must be a positive integer, got ${groups}.`);
  const [c, o] = [x.shape[1], weight.shape[0]];
  if (c % groups !== 0 || o % groups !== 0) {
    throw new Error(
      `conv2d: groups ${groups} must divide the input channels ${c} and the output channels ${o} (${shapes()}); ` +
        'pick groups among their common divisors.',
    );
  }
  if (weight.shape[1] !== c / groups) {
    throw new Error(
      `conv2d: ${shapes()} do not fit: with groups ${groups} the weight's second dimension must be ` +
        `C / groups = ${c / groups}, got ${weight.shape[1]}.`,
    );
  }
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== o)) {
    throw new Error(
      `conv2d: bias ${formatShape(bias.shape)} must be [${o}], one value per output channel (${shapes()}).`,
    );
  }
  const o2: Conv2dOptions = {
    stride: options.stride ?? 1,
    padding: options.padding ?? 0,
    ...(options.dilation !== undefined && options.dilation !== 1 ? { dilation: options.dilation } : {}),
    ...(groups !== 1 ? { groups } : {}),
  };
  return apply(conv2dOp, bias ? [x, weight, bias] : [x, weight], o2);
}
