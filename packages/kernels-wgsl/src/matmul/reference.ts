// Float64 reference for matmul.

import type { F64 } from '../common/f64.js';
import { sizeOf } from '@wgtorch/tensor';
import { matmulShape, type MatmulOptions } from './matmul.js';
import { matmulBroadcastShape } from './broadcast.js';

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

/** Float64 reference of matmulBroadcast on the CPU. */
export function matmulBroadcastRef(a: F64, b: F64, opts: MatmulOptions = {}): F64 {
  const { batch, M, K, N, out } = matmulBroadcastShape(a.shape, b.shape, opts);
  const n = sizeOf(batch);
  // The matrix of each operand that output matrix z reads (broadcast dims stay at 0).
  const matrixOf = (shape: readonly number[], z: number) => {
    const own = shape.slice(0, -2);
    let idx = 0;
    let rem = z;
    const coords: number[] = [];
    for (let d = batch.length - 1; d >= 0; d--) {
      coords[d] = rem % batch[d];
      rem = Math.floor(rem / batch[d]);
    }
    for (let d = 0; d < own.length; d++)
      idx = idx * own[d] + (own[d] === 1 ? 0 : coords[batch.length - own.length + d]);
    return idx;
  };
  const c = new Float64Array(n * M * N);
  for (let z = 0; z < n; z++) {
    const [ia, ib] = [matrixOf(a.shape, z), matrixOf(b.shape, z)];
    const a2 = { data: a.data.slice(ia * M * K, (ia + 1) * M * K), shape: a.shape.slice(-2) };
    const b2 = { data: b.data.slice(ib * K * N, (ib + 1) * K * N), shape: b.shape.slice(-2) };
    c.set(matmulRef(a2, b2, opts).data, z * M * N);
  }
  return { data: c, shape: out };
}
