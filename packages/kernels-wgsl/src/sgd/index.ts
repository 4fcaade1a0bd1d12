// Public API: the SGD update for all parameters in a few dispatches.

export { sgdStep, type SgdOptions } from './sgd.js';
export { sgdStepRef } from './reference.js';
/** ResNet20's parameter shapes, for tests and benchmarks of optimizers over a whole model. */
export { resnet20ParamShapes } from './resnet20-shapes.js';
