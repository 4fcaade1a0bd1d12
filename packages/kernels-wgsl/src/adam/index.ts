// Public API: Adam / AdamW for every parameter in one dispatch over flat buffers, and its
// float64 reference.
import { releaseOnThrow } from '@wgtorch/tensor';
import * as adam from './adam.js';

/** One Adam or AdamW step for every parameter, in place on flat buffers (see adam.ts). */
export const adamFlatStep = releaseOnThrow(adam.adamFlatStep);
export { adamFlatParams, adamFlatLaunched } from './adam.js';
export { adamFlatStepRef } from './reference.js';
export type { AdamSegment, AdamOptions, AdamFlatLaunch } from './adam.js';
