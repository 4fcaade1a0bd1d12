// Public API: embedding lookup and its deterministic backward, with float64 references.
import { releaseOnThrow } from '@wgtorch/tensor';
import * as launchers from './embedding.js';

// Launchers are wrapped so that one that throws releases the tensors it made (releaseOnThrow).
/** weight [V, D] rows picked by i32 indices of any shape: [...indices.shape, D] (NaN rows for bad indices). */
export const embedding = releaseOnThrow(launchers.embedding);
/**
 * The weight gradient [V, D] of embedding, summed in index order without atomics (deterministic);
 * row paddingIdx (-1 for none) is zero.
 */
export const embeddingBackward = releaseOnThrow(launchers.embeddingBackward);
export { embeddingRef, embeddingBackwardRef } from './reference.js';
