// Public API: average pooling (k x k and global), forward and backward.
import { releaseOnThrow } from '@wgtorch/tensor';
import * as launchers from './pool.js';

export { type AvgPool2dOptions } from './pool.js';
// Launchers are wrapped so that one that throws releases the tensors it made (releaseOnThrow).
export const avgPool2d = releaseOnThrow(launchers.avgPool2d);
export const avgPool2dBackward = releaseOnThrow(launchers.avgPool2dBackward);
export const globalAvgPool = releaseOnThrow(launchers.globalAvgPool);
export const globalAvgPoolBackward = releaseOnThrow(launchers.globalAvgPoolBackward);
export { avgPool2dRef, avgPool2dBackwardRef, globalAvgPoolRef, globalAvgPoolBackwardRef } from './reference.js';
