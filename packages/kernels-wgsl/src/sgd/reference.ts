// Float64 reference for sgdStep (returns the new values instead of updating in place).

import type { F64 } from '../common/f64.js';
import type { SgdOptions } from './sgd.js';
import type { SgdSegment } from './flat.js';

/** Float64 reference of sgdStep on the CPU (what the tests check the kernel against). */
export function sgdStepRef(ps: F64[], gs: F64[], ms: F64[], opts: SgdOptions): { params: F64[]; momentumBufs: F64[] } {
  const damp = opts.dampening ?? 0;
  const params: F64[] = [];
  const momentumBufs: F64[] = [];
  ps.forEach((p, k) => {
    const wd = Array.isArray(opts.weightDecay) ? opts.weightDecay[k] : opts.weightDecay;
    const np = new Float64Array(p.data.length);
    const nm = new Float64Array(p.data.length);
    for (let i = 0; i < np.length; i++) {
      let d = gs[k].data[i] + wd * p.data[i];
      if (opts.momentum !== 0) {
        const buf = opts.firstStep ? d : opts.momentum * ms[k].data[i] + (1 - damp) * d;
        nm[i] = buf;
        d = opts.nesterov ? d + opts.momentum * buf : buf;
      }
      np[i] = p.data[i] - opts.lr * d;
    }
    params.push({ data: np, shape: [...p.shape] });
    if (opts.momentum !== 0) momentumBufs.push({ data: nm, shape: [...p.shape] });
  });
  return { params, momentumBufs };
}

/** Float64 reference of sgdFlatStep: updates the flat arrays in place, segment by segment. */
export function sgdFlatStepRef(params: F64, grads: F64, momentumBufs: F64 | null, segments: SgdSegment[]): void {
  const p = params.data;
  const g = grads.data;
  for (const s of segments) {
    for (let i = s.offset; i < s.offset + s.size; i++) {
      let d = g[i] + s.weightDecay * p[i];
      if (s.momentum !== 0) {
        const m = momentumBufs!.data;
        m[i] = s.firstStep ? d : s.momentum * m[i] + (1 - s.dampening) * d;
        d = s.nesterov ? d + s.momentum * m[i] : m[i];
      }
      p[i] -= s.lr * d;
    }
  }
}
