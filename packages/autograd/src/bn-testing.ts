// Seeded inputs of the fused batchnorm tests (bn-add-relu.test.ts, bn-grad-sums.test.ts); not
// part of the package's entries.

import { Rng } from '@wgtorch/tensor';
import type { CheckInput } from './gradcheck.js';

/** `rand` (values kept 0.05 away from 0; `positive` for running variances) and `inputs` from one seed. */
export function bnTestData(seed: number) {
  const rng = new Rng(seed);
  function rand(shape: number[], opts: { positive?: boolean; requiresGrad?: boolean } = {}): CheckInput {
    const n = shape.reduce((a, d) => a * d, 1);
    const data = Float64Array.from({ length: n }, () => {
      const v = rng.normal();
      return opts.positive ? 0.5 + Math.abs(v) : Math.sign(v) * (0.05 + Math.abs(v));
    });
    return { data, shape, requiresGrad: opts.requiresGrad };
  }
  /** x, residual, weight, bias, then the running mean and variance (constants). */
  function inputs(shape: number[]): CheckInput[] {
    const C = shape[1];
    const stat = { requiresGrad: false };
    return [rand(shape), rand(shape), rand([C]), rand([C]), rand([C], stat), rand([C], { ...stat, positive: true })];
  }
  return { rand, inputs };
}
