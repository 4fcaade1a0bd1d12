// Public API: reductions and their float64 references.
import { releaseOnThrow } from '@wgtorch/tensor';
import * as launchers from './reduce.js';
import * as rows from './rows.js';
export type { ReduceOp } from './reduce.js';
// Launchers are wrapped so that one that throws releases the tensors it made (releaseOnThrow).
/** Sum over the given axes (keepdim as PyTorch). */
export const sum = releaseOnThrow(launchers.sum);
/** Mean over the given axes (keepdim as PyTorch). */
export const mean = releaseOnThrow(launchers.mean);
/** Maximum over the given axes (keepdim as PyTorch); NaN propagates. */
export const max = releaseOnThrow(launchers.max);
/** Minimum over the given axes (keepdim as PyTorch); NaN propagates. */
export const min = releaseOnThrow(launchers.min);
/** Sums the broadcast dimensions of x back to `shape` (the backward of broadcasting). */
export const sumToShape = releaseOnThrow(launchers.sumToShape);
/** The largest value along a dim and the index (i32) of its first occurrence; NaN wins. */
export const maxDim = releaseOnThrow(rows.maxDim);
/** The smallest value along a dim and the index (i32) of its first occurrence; NaN wins. */
export const minDim = releaseOnThrow(rows.minDim);
/** dx of maxDim / minDim: dy placed at the indices along the dim. */
export const extremeDimBackward = releaseOnThrow(rows.extremeDimBackward);
/** 1 where x equals its reduction y (or both are NaN): the ties max()'s gradient is spread over. */
export const tieMask = releaseOnThrow(rows.tieMask);
/** log(sum(exp(x))) over the given axes, stably. */
export const logsumexp = releaseOnThrow(rows.logsumexp);
/** Variance over the given axes with a correction (1: unbiased). */
export const variance = releaseOnThrow(rows.variance);
/** Standard deviation over the given axes with a correction (1: unbiased). */
export const std = releaseOnThrow(rows.std);
/** dx of variance, or of std with sqrtOut (0 where the std is 0). */
export const varianceBackward = releaseOnThrow(rows.varianceBackward);
/** Product along one dim. */
export const prod = releaseOnThrow(rows.prod);
/** dx of prod along one dim, correct with zeros. */
export const prodBackward = releaseOnThrow(rows.prodBackward);
/** Softmax along any dim. */
export const softmaxDim = releaseOnThrow(rows.softmaxDim);
/** Log-softmax along any dim. */
export const logSoftmaxDim = releaseOnThrow(rows.logSoftmaxDim);
/** dx for dy at y = softmaxDim(x, dim). */
export const softmaxDimBackward = releaseOnThrow(rows.softmaxDimBackward);
/** dx for dy at y = logSoftmaxDim(x, dim). */
export const logSoftmaxDimBackward = releaseOnThrow(rows.logSoftmaxDimBackward);
export {
  sumRef,
  meanRef,
  maxRef,
  minRef,
  sumToShapeRef,
  maxDimRef,
  minDimRef,
  extremeDimBackwardRef,
  tieMaskRef,
  logsumexpRef,
  varianceRef,
  stdRef,
  varianceBackwardRef,
  prodRef,
  prodBackwardRef,
  softmaxDimRef,
  logSoftmaxDimRef,
  softmaxDimBackwardRef,
  logSoftmaxDimBackwardRef,
} from './reference.js';
