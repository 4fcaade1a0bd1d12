// Float64 reference for sgdStep (returns the new values instead of updating in place).

import type { F64 } from '../common/f64.js';
import type { SgdOptions } from './sgd.js';

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
