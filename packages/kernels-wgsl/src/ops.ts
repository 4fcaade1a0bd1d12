// The kernels the autograd builds its backends from (each launcher `foo` beside its float64
// reference `fooRef`): the families, without the ALU ceilings the benchmarks measure, the CIFAR
// augmentation, the conv2d variant choice and autotune (the trainer's), and the per-tensor SGD
// step that the one-dispatch sgdFlatStep replaced. An importer of all of them (`import * as K`)
// bundles only these.

export {
  conv2dForward,
  conv2dInputGrad,
  conv2dWeightGrad,
  conv2dOutputShape,
  conv2dForwardRef,
  conv2dInputGradRef,
  conv2dWeightGradRef,
  type Conv2dOptions,
} from './conv2d/index.js';
export * from './matmul/index.js';
export * from './batchnorm/index.js';
export * from './elementwise/index.js';
export * from './reduce/index.js';
export * from './pool/index.js';
export * from './loss/index.js';
export {
  sgdFlatStep,
  sgdFlatStepRef,
  sgdFlatParams,
  sgdFlatLaunched,
  type FlatSegment,
  type SgdSegment,
  type SgdFlatLaunch,
} from './sgd/index.js';
export * from './indexing/index.js';
export * from './layernorm/index.js';
export * from './dropout/index.js';
export * from './embedding/index.js';
export * from './adam/index.js';
export * from './creation/index.js';
