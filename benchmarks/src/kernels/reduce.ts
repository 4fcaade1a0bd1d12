// Benchmark cases: per-channel sums of activations (the shape of a bias / BN reduction).

import { registerKernel, sum } from '@wgtorch/kernels-wgsl';
import { activationCases } from './elementwise.js';

registerKernel({ name: 'reduce.sum', benchCases: activationCases(1, ([x]) => sum(x, [0, 2, 3]), 4) });
registerKernel({ name: 'reduce.sumAll', benchCases: activationCases(1, ([x]) => sum(x, [0, 1, 2, 3]), 4) });
