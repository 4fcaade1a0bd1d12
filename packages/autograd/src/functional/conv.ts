// Convolution.

import { formatShape } from '@wgtorch/tensor';
import type { Conv2dOptions } from '@wgtorch/kernels-wgsl';
import { apply, defineOp, Tensor } from '../tensor.js';
import { andThen } from './common.js';

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

/** Options of conv2d. */
export interface Conv2dFnOptions {
  /** Stride on both axes (default 1). */
  stride?: number;
  /** Zero padding on each side (default 0). */
  padding?: number;
}

/** 2-D convolution (cross-correlation, as PyTorch) of x [N, C, H, W] with weight [O, C, k, k], plus bias [O]. */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, options: Conv2dFnOptions = {}): Tensor {
  if (x.ndim !== 4 || weight.ndim !== 4 || x.shape[1] !== weight.shape[1]) {
    throw new Error(
      `conv2d: input ${formatShape(x.shape)} and weight ${formatShape(weight.shape)} do not fit; ` +
        'expected [N, C, H, W] and [O, C, kH, kW].',
    );
  }
  const o: Conv2dOptions = { stride: options.stride ?? 1, padding: options.padding ?? 0 };
  return apply(conv2dOp, bias ? [x, weight, bias] : [x, weight], o);
}
