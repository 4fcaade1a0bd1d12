export { Params, params } from './common/params.js';
export {
  defineKernel,
  launch,
  memoKernel,
  Kernel,
  type AnyKernel,
  type BindingDecl,
  type KernelDecl,
  type ParamType,
} from './common/kernel.js';
export { KernelArgumentError, checkDtype, sameShape } from './common/errors.js';
export { grid1d, FLAT_INDEX_WGSL, MAX_WORKGROUPS_PER_DIM } from './common/grid.js';
export { registerKernel, listKernels, type KernelEntry, type BenchCase } from './common/registry.js';
export { f64, type F64 } from './common/f64.js';
export { kernelProfile, KernelProfile, conv2dShapeKey, type KernelOptions, type Conv2dTuning } from './profile.js';

export * from './ops.js';
export * from './conv2d/index.js';
export * from './sgd/index.js';
export * from './augment/index.js';
export * from './ceilings/index.js';
