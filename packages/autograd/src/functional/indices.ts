// Index arguments (embedding's indices, nllLoss's targets): an int32 Tensor, an Int32Array or a
// plain array. They reach the ops as attrs, not inputs (they have no gradient). Values from the
// CPU are checked before use; an int32 tensor on the GPU is not (that would need a readback).

import { Tensor as DeviceTensor, formatShape } from '@wgtorch/tensor';
import type { Backend, Raw } from '../backend.js';
import { tensor, Tensor, type TensorData } from '../tensor.js';
import { andThen } from './common.js';

/** Indices as a user passes them without a tensor: a list (nested for more dims) or an Int32Array. */
export type IndexData = ArrayLike<number> | readonly IndexData[];

/**
 * `indices` as storage of backend `b` (an i32 device tensor on 'gpu', integer F64 on 'cpu64'),
 * a new handle the caller releases. Nested lists give their shape, as torch.tensor does. `check`
 * validates values read on the CPU (throwing with a message that names the op, the value, its
 * flat position and the range).
 */
export function indexRaw(
  op: string,
  what: string,
  b: Backend,
  indices: Tensor | IndexData,
  check: (values: ArrayLike<number>) => void,
): Raw {
  if (!(indices instanceof Tensor)) {
    const { values, shape } = parseIndices(op, what, indices);
    check(values);
    return andThen(b, b.labels(Int32Array.from(values)), (r) => b.view(r, shape));
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

/** Values and shape of a (nested) list, read as torch.tensor reads it; ragged lists are refused. */
function parseIndices(op: string, what: string, data: IndexData): { values: ArrayLike<number>; shape: number[] } {
  if (!Array.isArray(data) || !data.some((v) => Array.isArray(v)))
    return { values: data as ArrayLike<number>, shape: [data.length] };
  let t: Tensor | undefined;
  try {
    t = tensor(data as TensorData, { backend: 'cpu64' });
    return { values: (t.raw as { data: Float64Array }).data, shape: [...t.shape] };
  } catch (e) {
    throw new Error(`${op}: ${what}: ${(e as Error).message}`);
  } finally {
    t?.dispose();
  }
}

/** Runs f with an index handle and releases the handle after (f's op keeps its own if it needs one). */
export function withIndices<T>(b: Backend, raw: Raw, f: (raw: Raw) => T): T {
  try {
    return f(raw);
  } finally {
    b.release(raw);
  }
}
