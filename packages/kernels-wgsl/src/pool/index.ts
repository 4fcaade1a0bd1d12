// Public API: average pooling (k x k and global), forward and backward.
import './bench.js';

export { avgPool2d, avgPool2dBackward, globalAvgPool, globalAvgPoolBackward, type AvgPool2dOptions } from './pool.js';
export { avgPool2dRef, avgPool2dBackwardRef, globalAvgPoolRef, globalAvgPoolBackwardRef } from './reference.js';
