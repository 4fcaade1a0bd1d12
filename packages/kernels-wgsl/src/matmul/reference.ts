// Float64 reference for matmul.

import type { F64 } from '../common/f64.js';
import { matmulShape, type MatmulOptions } from './matmul.js';

/** Float64 reference of matmul on the CPU (what the tests check the kernel against). */
export function matmulRef(a: F64, b: F64, opts: MatmulOptions = {}): F64 {
  const { B, M, K, N, out } = matmulShape(a.shape, b.shape, opts);
  const c = new Float64Array(B * M * N);
  for (let z = 0; z < B; z++)
    for (let m = 0; m < M; m++)
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) {
          const av = a.data[z * M * K + (opts.transA ? k * M + m : m * K + k)];
          const bv = b.data[z * K * N + (opts.transB ? n * K + k : k * N + n)];
          s += av * bv;
        }
        c[(z * M + m) * N + n] = s;
      }
  return { data: c, shape: out };
}
