// conv2d: forward, input gradient and weight gradient (NCHW, OIHW, no bias; groups and dilation), with float64
// references.
import { releaseOnThrow } from '@wgtorch/tensor';
import * as launchers from './conv2d.js';
// Launchers are wrapped so that one that throws releases the tensors it made (releaseOnThrow).
/** y = conv2d(x, w): x [N, Cin, H, W], w [Cout, Cin / groups, kh, kw] -> y [N, Cout, Ho, Wo]. */
export const conv2dForward = releaseOnThrow(launchers.conv2dForward);
/** dx for y = conv2d(x, w), given dy = dL/dy; `inputShape` is x's shape. */
export const conv2dInputGrad = releaseOnThrow(launchers.conv2dInputGrad);
/** dw for y = conv2d(x, w), given x and dy = dL/dy; `weightShape` is w's shape. */
export const conv2dWeightGrad = releaseOnThrow(launchers.conv2dWeightGrad);
export { conv2dOutputShape, type Conv2dOptions } from './geometry.js';
export { conv2dForwardRef, conv2dInputGradRef, conv2dWeightGradRef } from './reference.js';
export { conv2dVariant, availableVariants, type Conv2dVariant, type KernelConfig } from './variants.js';
export { autotuneConv2dVariant, describeConv2dAutotune, conv2dTuningTable, type Conv2dAutotune } from './autotune.js';
