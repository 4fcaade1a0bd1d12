// Public API: layer normalization over the trailing dims and its backward, with float64 references.
import { releaseOnThrow } from '@wgtorch/tensor';
import * as launchers from './layernorm.js';

export type { LayerNormResult, LayerNormGrads } from './layernorm.js';
// Launchers are wrapped so that one that throws releases the tensors it made (releaseOnThrow).
/**
 * Layer norm of each row of D values of x (its trailing dims flattened), weight and bias
 * optional: { y, mean [rows], rstd [rows] } (biased variance, as PyTorch).
 */
export const layerNorm = releaseOnThrow(launchers.layerNorm);
/** Gradients { dx, dweight, dbias } of layerNorm from dy and the saved row statistics. */
export const layerNormBackward = releaseOnThrow(launchers.layerNormBackward);
export { layerNormRef, layerNormBackwardRef } from './reference.js';
