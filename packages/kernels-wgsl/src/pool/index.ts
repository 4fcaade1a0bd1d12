// Public API: average pooling (k x k and global) and max pooling, forward and backward.
import { releaseOnThrow } from '@wgtorch/tensor';
import * as launchers from './pool.js';
import * as maxLaunchers from './maxpool.js';

export { type AvgPool2dOptions } from './pool.js';
export { type MaxPool2dOptions } from './maxpool.js';
// Launchers are wrapped so that one that throws releases the tensors it made (releaseOnThrow).
/** 2-D average pooling of x [N, C, H, W], as PyTorch's avg_pool2d. */
export const avgPool2d = releaseOnThrow(launchers.avgPool2d);
/** dx of avgPool2d, given dy and the input's shape. */
export const avgPool2dBackward = releaseOnThrow(launchers.avgPool2dBackward);
/** Mean over H and W: [N, C, H, W] -> [N, C, 1, 1]. */
export const globalAvgPool = releaseOnThrow(launchers.globalAvgPool);
/** dx of globalAvgPool: dy [N, C] spread evenly over each H x W plane. */
export const globalAvgPoolBackward = releaseOnThrow(launchers.globalAvgPoolBackward);
/** Max pooling of x [N, C, H, W] as PyTorch's max_pool2d: the maxima and their int32 indices into each H*W plane. */
export const maxPool2d = releaseOnThrow(maxLaunchers.maxPool2d);
/** dx of maxPool2d: dy added at the input positions the forward's indices picked. */
export const maxPool2dBackward = releaseOnThrow(maxLaunchers.maxPool2dBackward);
export {
  avgPool2dRef,
  avgPool2dBackwardRef,
  globalAvgPoolRef,
  globalAvgPoolBackwardRef,
  maxPool2dRef,
  maxPool2dBackwardRef,
} from './reference.js';
