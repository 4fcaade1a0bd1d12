// Float64 reference of dropout: the same hash as the kernel, so the masks are identical.

import type { F64 } from '../common/f64.js';
import { checkDropout } from './dropout.js';
import { dropHash, keepThreshold } from './hash.js';

/** Float64 reference of dropout (the same mask as the GPU kernel for the same seed). */
export function dropoutRef(x: F64, p: number, seed: number): F64 {
  checkDropout('dropoutRef', p, seed);
  const t = keepThreshold(p);
  const scale = p < 1 ? 1 / (1 - p) : 0;
  const data = x.data.map((v, i) => v * (dropHash(seed, i) >>> 8 >= t ? scale : 0));
  return { data, shape: [...x.shape] };
}
