// Public API: average pooling (k x k and global), forward and backward.
import { releaseOnThrow } from '@wgtorch/tensor';
import * as launchers from './pool.js';

export { type AvgPool2dOptions } from './pool.js';
// Launchers are wrapped so that one that throws releases the tensors it made (releaseOnThrow).
/** 2-D average pooling of x [N, C, H, W], as PyTorch's avg_pool2d. */
export const avgPool2d = releaseOnThrow(launchers.avgPool2d);
/** dx of avgPool2d, given dy and the input's shape. */
export const avgPool2dBackward = releaseOnThrow(launchers.avgPool2dBackward);
/** Mean over H and W: [N, C, H, W] -> [N, C, 1, 1]. */
export const globalAvgPool = releaseOnThrow(launchers.globalAvgPool);
/** dx of globalAvgPool: dy [N, C] spread evenly over each H x W plane. */
export const globalAvgPoolBackward = releaseOnThrow(launchers.globalAvgPoolBackward);
export { avgPool2dRef, avgPool2dBackwardRef, globalAvgPoolRef, globalAvgPoolBackwardRef } from './reference.js';
