// Public API: the SGD update, per tensor list (sgdStep) or for every parameter in one dispatch
// over flat buffers (sgdFlatStep); the flat-table helpers the Adam kernels share.
import { releaseOnThrow } from '@wgtorch/tensor';
import * as flat from './flat.js';

export { sgdStep, type SgdOptions } from './sgd.js';
export { sgdStepRef, sgdFlatStepRef } from './reference.js';
/** SGD for every parameter in one dispatch, in place on flat buffers (see flat.ts). */
export const sgdFlatStep = releaseOnThrow(flat.sgdFlatStep);
export { sgdFlatParams, sgdFlatLaunched } from './flat.js';
export type { FlatSegment, SgdSegment, SgdFlatLaunch } from './flat.js';
/** ResNet20's parameter shapes, for tests and benchmarks of optimizers over a whole model. */
export { resnet20ParamShapes } from './resnet20-shapes.js';
