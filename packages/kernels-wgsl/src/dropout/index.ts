// Public API: inverted dropout with a counter-based mask, and its float64 reference.
import { releaseOnThrow } from '@wgtorch/tensor';
import * as launchers from './dropout.js';

// Launchers are wrapped so that one that throws releases the tensors it made (releaseOnThrow).
/**
 * x with each element zeroed with probability p and the rest scaled by 1 / (1 - p); the mask is
 * a hash of (seed, index), so dropout(dy, p, seed) is the backward.
 */
export const dropout = releaseOnThrow(launchers.dropout);
export { dropoutRef } from './reference.js';
export { dropHash } from './hash.js';
