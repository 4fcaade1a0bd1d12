// Float64 reference of adamFlatStep: PyTorch's single-tensor Adam/AdamW rule, in place.

import type { F64 } from '../common/f64.js';
import type { AdamOptions, AdamSegment } from './adam.js';

/** Float64 reference of adamFlatStep (updates the flat arrays in place, segment by segment). */
export function adamFlatStepRef(
  params: F64,
  grads: F64,
  expAvg: F64,
  expAvgSq: F64,
  maxExpAvgSq: F64 | null,
  segments: AdamSegment[],
  options: AdamOptions,
): void {
  const [p, g, m, v] = [params.data, grads.data, expAvg.data, expAvgSq.data];
  for (const s of segments) {
    const stepSize = s.lr / (1 - s.beta1 ** s.step);
    const bc2sqrt = Math.sqrt(1 - s.beta2 ** s.step);
    for (let i = s.offset; i < s.offset + s.size; i++) {
      let gi = options.maximize ? -g[i] : g[i];
      if (options.decoupled) p[i] *= 1 - s.lr * s.weightDecay;
      else if (s.weightDecay !== 0) gi += s.weightDecay * p[i];
      m[i] = s.beta1 * m[i] + (1 - s.beta1) * gi;
      v[i] = s.beta2 * v[i] + (1 - s.beta2) * gi * gi;
      let second = v[i];
      if (options.amsgrad) second = maxExpAvgSq!.data[i] = Math.max(maxExpAvgSq!.data[i], v[i]);
      p[i] -= stepSize * (m[i] / (Math.sqrt(second) / bc2sqrt + s.eps));
    }
  }
}
