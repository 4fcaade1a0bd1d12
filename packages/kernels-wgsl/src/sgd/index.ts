// Public API: the SGD update for all parameters in a few dispatches.
import './bench.js';

export { sgdStep, type SgdOptions } from './sgd.js';
export { sgdStepRef } from './reference.js';
