// Public API: reductions and their float64 references.
import { releaseOnThrow } from '@wgtorch/tensor';
import * as launchers from './reduce.js';
export type { ReduceOp } from './reduce.js';
// Launchers are wrapped so that one that throws releases the tensors it made (releaseOnThrow).
/** Sum over the given axes (keepdim as PyTorch). */
export const sum = releaseOnThrow(launchers.sum);
/** Mean over the given axes (keepdim as PyTorch). */
export const mean = releaseOnThrow(launchers.mean);
/** Maximum over the given axes (keepdim as PyTorch). */
export const max = releaseOnThrow(launchers.max);
/** Sums the broadcast dimensions of x back to `shape` (the backward of broadcasting). */
export const sumToShape = releaseOnThrow(launchers.sumToShape);
export { sumRef, meanRef, maxRef, sumToShapeRef } from './reference.js';
