// @wgtorch/autograd: reverse-mode autograd over the WGSL kernels, nn modules, SGD, LR schedules
// and gradcheck, with a PyTorch feel.

export {
  Tensor,
  tensor,
  zeros,
  ones,
  full,
  randn,
  rand,
  fromDevice,
  noGrad,
  isGradEnabled,
  tidy,
  keep,
  type TensorOptions,
  type GradFn,
} from './tensor.js';
export type { BackendName } from './backend.js';
export * from './functional.js';
export * from './creation.js';
export * from './custom-op.js';
export { Module, Parameter, StateDictError, zeroGrads, type StateValue } from './nn/module.js';
export * from './nn/layers.js';
export * as init from './nn/init.js';
export { manualSeed } from './nn/init.js';
export { Optimizer, type BaseOptions, type GroupSpec, type Group } from './optim/optimizer.js';
export { SGD, type SgdOptions, type ParamGroupSpec, type ParamGroup, type SgdState } from './optim/sgd.js';
export {
  Adam,
  AdamW,
  type AdamOptions,
  type AdamGroupSpec,
  type AdamParamGroup,
  type AdamState,
  type AdamParamState,
} from './optim/adam.js';
export { clipGradNorm } from './optim/clip.js';
export type { NamedArray } from './optim/flat.js';
export {
  LRScheduler,
  type ScheduledOptimizer,
  StepLR,
  MultiStepLR,
  CosineAnnealingLR,
  OneCycleLR,
  LinearLR,
  type SchedulerState,
  type CosineOptions,
  type OneCycleOptions,
  type LinearOptions,
} from './optim/schedules.js';
/**
 * Re-exported from @wgtorch/tensor: await getRuntime() once before creating tensors;
 * destroyRuntime() lets the process exit.
 */
export { getRuntime, destroyRuntime, Rng } from '@wgtorch/tensor';
export {
  gradcheck,
  checkGpuGradients,
  type CheckInput,
  type CheckFn,
  type GradcheckOptions,
  type GradcheckResult,
  type GpuCheckOptions,
} from './gradcheck.js';
