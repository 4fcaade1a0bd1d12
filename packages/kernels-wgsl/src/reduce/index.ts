// Public API: reductions and their float64 references.
import { releaseOnThrow } from '@wgtorch/tensor';
import * as launchers from './reduce.js';
export type { ReduceOp } from './reduce.js';
// Launchers are wrapped so that one that throws releases the tensors it made (releaseOnThrow).
export const sum = releaseOnThrow(launchers.sum);
export const mean = releaseOnThrow(launchers.mean);
export const max = releaseOnThrow(launchers.max);
export const sumToShape = releaseOnThrow(launchers.sumToShape);
export { sumRef, meanRef, maxRef, sumToShapeRef } from './reference.js';
