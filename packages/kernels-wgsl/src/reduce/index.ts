// Public API: reductions and their float64 references.
import './bench.js';
export { sum, mean, max, sumToShape, type ReduceOp } from './reduce.js';
export { sumRef, meanRef, maxRef, sumToShapeRef } from './reference.js';
