// Index arguments (embedding's indices, nllLoss's targets): an int32 Tensor, an Int32Array or a
// plain array. They reach the ops as attrs, not inputs (they have no gradient). Values from the
// CPU are checked before use; an int32 tensor on the GPU is not (that would need a readback).

import { Tensor as DeviceTensor, formatShape } from '@wgtorch/tensor';
import type { Backend, Raw } from '../backend.js';
import { Tensor } from '../tensor.js';

/**
 * `indices` as storage of backend `b` (an i32 device tensor on 'gpu', integer F64 on 'cpu64'),
 * a new handle the caller releases. `check` validates values read on the CPU (throwing with a
 * message that names the op, the value, its position and the range).
 */
export function indexRaw(
  op: string,
  what: string,
  b: Backend,
  indices: Tensor | ArrayLike<number>,
  check: (values: ArrayLike<number>) => void,
): Raw {
  if (!(indices instanceof Tensor)) {
    check(indices);
    return b.labels(Int32Array.from(indices));
  }
  if (indices.backend !== b.name)
    throw new Error(
      `${op}: ${what} live on ${indices.backend} but the op runs on ${b.name}; move them to one backend.`,
    );
  if (indices.dtype !== 'int32')
    throw new Error(
      `${op}: ${what} must be an int32 tensor, got ${indices.dtype} ${formatShape(indices.shape)}; ` +
        "create it with { dtype: 'int32' } (or pass an Int32Array).",
    );
  const raw = indices.raw;
  if (!(raw instanceof DeviceTensor)) check(raw.data);
  return b.retain(raw);
}

/** Runs f with an index handle and releases the handle after (f's op keeps its own if it needs one). */
export function withIndices<T>(b: Backend, raw: Raw, f: (raw: Raw) => T): T {
  try {
    return f(raw);
  } finally {
    b.release(raw);
  }
}
