// Layer functions that are not convolution, pooling, normalization or loss: dropout, embedding.

import { formatShape } from '@wgtorch/tensor';
import { backendOf, type Raw } from '../backend.js';
import { nextSeed } from '../random.js';
import { apply, defineOp, Tensor } from '../tensor.js';
import { indexRaw, withIndices, type IndexData } from './indices.js';

// ---- dropout ----

const dropoutOp = defineOp<{ p: number; seed: number }>({
  name: 'dropout',
  forward: (b, [x], { p, seed }) => ({ y: b.k.dropout(x, p, seed) }),
  // The mask is a hash of (seed, index): the same kernel on dy applies it again.
  backward: (b, dy, { attrs: { p, seed } }) => [b.k.dropout(dy, p, seed)],
});

const identityOp = defineOp({
  name: 'identity',
  forward: (b, [x]) => ({ y: b.retain(x) }),
  backward: (b, dy) => [b.retain(dy)],
});

/**
 * Inverted dropout (PyTorch's F.dropout): in training each element is zeroed with probability p
 * and the rest scaled by 1 / (1 - p); p = 1 gives zeros. The mask is drawn on the device from a
 * seed taken from the global generator (random.ts), so calls differ and repeat after manualSeed,
 * and the backward regenerates the same mask. With training false or p = 0 it returns x's
 * values unchanged (a new tensor viewing the same storage).
 */
export function dropout(x: Tensor, p = 0.5, training = true): Tensor {
  if (typeof p !== 'number' || !(p >= 0 && p <= 1))
    throw new Error(`dropout: probability p must be in [0, 1], got ${p}.`);
  if (!training || p === 0) return apply(identityOp, [x], undefined);
  return apply(dropoutOp, [x], { p, seed: nextSeed() });
}

// ---- embedding ----

interface EmbeddingAttrs {
  indices: Raw;
  V: number;
  paddingIdx: number;
}

const embeddingOp = defineOp<EmbeddingAttrs>({
  name: 'embedding',
  forward: (b, [weight], a, record) => ({
    y: b.k.embedding(a.indices, weight),
    saved: record ? [b.retain(a.indices)] : [],
  }),
  backward: (b, dy, { saved: [indices], attrs: a }) => [b.k.embeddingBackward(dy, indices, a.V, a.paddingIdx)],
});

/**
 * Rows of `weight` [V, D] picked by int32 indices of any shape: [...indices.shape, D] (PyTorch's
 * F.embedding). Indices are an int32 tensor, an Int32Array or a list (nested lists give their
 * shape); values from the CPU must be integers in [0, V), else the error names the index and its
 * position (an int32 tensor on the GPU is not checked: an index out of range gives a row of NaN).
 * The backward sums the rows of dy that share an index into that row of the weight's gradient,
 * deterministically; row paddingIdx (negative counts from the end) gets no gradient.
 */
export function embedding(indices: Tensor | IndexData, weight: Tensor, paddingIdx?: number): Tensor {
  if (weight.ndim !== 2) throw new Error(`embedding: weight must be [V, D], got ${formatShape(weight.shape)}.`);
  const V = weight.shape[0];
  let pad = -1;
  if (paddingIdx !== undefined && paddingIdx !== null) {
    if (!Number.isInteger(paddingIdx) || paddingIdx < -V || paddingIdx >= V)
      throw new Error(
        `embedding: paddingIdx ${paddingIdx} must be an integer in [-${V}, ${V}) for weight [${V}, ...].`,
      );
    pad = paddingIdx < 0 ? paddingIdx + V : paddingIdx;
  }
  const check = (values: ArrayLike<number>) => {
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (!Number.isInteger(v) || v < 0 || v >= V)
        throw new Error(
          `embedding: index ${v} at position ${i} is out of range for weight ${formatShape(weight.shape)}; ` +
            `indices must be integers in [0, ${V - 1}].`,
        );
    }
  };
  const b = backendOf(weight.backend);
  return withIndices(b, indexRaw('embedding', 'indices', b, indices, check), (raw) =>
    apply(embeddingOp, [weight], { indices: raw, V, paddingIdx: pad }),
  );
}
