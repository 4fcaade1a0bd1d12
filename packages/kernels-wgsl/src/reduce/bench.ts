// Benchmark cases: per-channel sums of activations (the shape of a bias / BN reduction).

import { registerKernel } from '../common/registry.js';
import { activationCases } from '../elementwise/bench.js';
import { sum } from './reduce.js';

registerKernel({ name: 'reduce.sum', benchCases: activationCases(1, ([x]) => sum(x, [0, 2, 3]), 4) });
registerKernel({ name: 'reduce.sumAll', benchCases: activationCases(1, ([x]) => sum(x, [0, 1, 2, 3]), 4) });
