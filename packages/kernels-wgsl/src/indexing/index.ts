// Public API: the copies behind views and joins, gather/indexSelect with their backward, where,
// maskedFill and the comparisons, each with its float64 reference.
import { releaseOnThrow } from '@wgtorch/tensor';
import * as views from './views.js';
import * as indexing from './indexing.js';
export type { CompareOp } from './indexing.js';
// Launchers are wrapped so that one that throws releases the tensors it made (releaseOnThrow).
/** A contiguous copy of x (f32 or i32) read at offset + sum c_d * strides_d (narrow, slicing, select, expand). */
export const stridedGather = releaseOnThrow(views.stridedGather);
/** Zeros of `shape` with dy placed where a slice (starts, steps; dy's shape as counts) took its elements. */
export const sliceBackward = releaseOnThrow(views.sliceBackward);
/** The tensors (all f32 or all i32) joined along `dim`. */
export const cat = releaseOnThrow(views.cat);
/** torch.gather along `dim` with an i32 index; NaN where an index is out of range. */
export const gather = releaseOnThrow(indexing.gather);
/** dx of gather: a deterministic scatter-add into zeros of x's shape. */
export const gatherBackward = releaseOnThrow(indexing.gatherBackward);
/** torch.index_select along `dim` with a 1-D i32 index; NaN where an index is out of range. */
export const indexSelect = releaseOnThrow(indexing.indexSelect);
/** dx of indexSelect: a deterministic scatter-add into zeros of x's shape. */
export const indexSelectBackward = releaseOnThrow(indexing.indexSelectBackward);
/** a where cond is nonzero, else b, broadcasting. */
export const where = releaseOnThrow(indexing.where);
/** x with value where mask (broadcast to x) is nonzero. */
export const maskedFill = releaseOnThrow(indexing.maskedFill);
/** 0/1 mask of a op b (eq, ne, lt, le, gt, ge), broadcasting; NaN compares as IEEE. */
export const compareTensors = releaseOnThrow(indexing.compare);
/** 0/1 mask of x op s for a number s. */
export const compareScalar = releaseOnThrow(indexing.compareScalar);
export {
  stridedGatherRef,
  sliceBackwardRef,
  catRef,
  gatherRef,
  gatherBackwardRef,
  indexSelectRef,
  indexSelectBackwardRef,
  whereRef,
  maskedFillRef,
  compareRef as compareTensorsRef,
  compareScalarRef,
} from './reference.js';
