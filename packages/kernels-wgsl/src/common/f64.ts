// The float64 CPU reference representation. Every launcher `fooBar(t: Tensor, ...)` has a
// reference `fooBarRef(t: F64, ...)` with the same arguments and results, F64 in place of
// Tensor; tests compare the two, and the autograd's gradcheck runs on the references.

import { sizeOf } from '@wgtorch/tensor';

/** A float64 tensor on the CPU: the input and output of the reference implementations. */
export interface F64 {
  data: Float64Array;
  shape: number[];
}

/** An F64 holding a copy of `data` with `shape`; throws when the counts differ. */
export function f64(data: ArrayLike<number>, shape: readonly number[]): F64 {
  const n = sizeOf(shape, 'f64');
  if (n !== data.length) throw new Error(`f64: ${data.length} values for shape [${shape.join(', ')}]`);
  return { data: Float64Array.from(data), shape: [...shape] };
}
