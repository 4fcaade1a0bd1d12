// Float64 references of the embedding kernels (indices as F64 holding integers).

import { KernelArgumentError } from '../common/errors.js';
import type { F64 } from '../common/f64.js';

/** Float64 reference of embedding; an index outside [0, V) is an error naming it. */
export function embeddingRef(indices: F64, weight: F64): F64 {
  const [V, D] = weight.shape;
  const out = new Float64Array(indices.data.length * D);
  indices.data.forEach((v, n) => {
    if (!Number.isInteger(v) || v < 0 || v >= V)
      throw new KernelArgumentError('embedding', `index ${v} at position ${n} is out of range [0, ${V}).`);
    out.set(weight.data.subarray(v * D, (v + 1) * D), n * D);
  });
  return { data: out, shape: [...indices.shape, D] };
}

/** Float64 reference of embeddingBackward (sums in index order, as the kernel). */
export function embeddingBackwardRef(dy: F64, indices: F64, V: number, paddingIdx: number): F64 {
  const D = dy.shape[dy.shape.length - 1];
  const out = new Float64Array(V * D);
  indices.data.forEach((v, n) => {
    if (v === paddingIdx || v < 0 || v >= V) return;
    for (let d = 0; d < D; d++) out[v * D + d] += dy.data[n * D + d];
  });
  return { data: out, shape: [V, D] };
}
