// Float64 references of the layer norm kernels (same arguments and results, F64 for Tensor).

import type { F64 } from '../common/f64.js';

/** Float64 reference of layerNorm (two-pass mean and biased variance per row). */
export function layerNormRef(
  x: F64,
  D: number,
  weight: F64 | null,
  bias: F64 | null,
  eps: number,
): { y: F64; mean: F64; rstd: F64 } {
  const rows = x.data.length / D;
  const y = new Float64Array(x.data.length);
  const mean = new Float64Array(rows);
  const rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const row = x.data.subarray(r * D, (r + 1) * D);
    let s = 0;
    for (const v of row) s += v;
    const m = s / D;
    let q = 0;
    for (const v of row) q += (v - m) * (v - m);
    const rs = 1 / Math.sqrt(q / D + eps);
    mean[r] = m;
    rstd[r] = rs;
    for (let j = 0; j < D; j++)
      y[r * D + j] = (row[j] - m) * rs * (weight ? weight.data[j] : 1) + (bias ? bias.data[j] : 0);
  }
  return {
    y: { data: y, shape: [...x.shape] },
    mean: { data: mean, shape: [rows] },
    rstd: { data: rstd, shape: [rows] },
  };
}

/** Float64 reference of layerNormBackward. */
export function layerNormBackwardRef(
  dy: F64,
  x: F64,
  mean: F64,
  rstd: F64,
  D: number,
  weight: F64 | null,
  hasBias: boolean,
): { dx: F64; dweight: F64 | null; dbias: F64 | null } {
  const rows = x.data.length / D;
  const dx = new Float64Array(x.data.length);
  const dw = new Float64Array(D);
  const db = new Float64Array(D);
  for (let r = 0; r < rows; r++) {
    const m = mean.data[r];
    const rs = rstd.data[r];
    const xhat = (j: number) => (x.data[r * D + j] - m) * rs;
    const g = (j: number) => dy.data[r * D + j] * (weight ? weight.data[j] : 1);
    let sg = 0;
    let sgx = 0;
    for (let j = 0; j < D; j++) {
      sg += g(j);
      sgx += g(j) * xhat(j);
      dw[j] += dy.data[r * D + j] * xhat(j);
      db[j] += dy.data[r * D + j];
    }
    for (let j = 0; j < D; j++) dx[r * D + j] = rs * (g(j) - sg / D - (xhat(j) * sgx) / D);
  }
  const shape = weight ? [...weight.shape] : [D];
  return {
    dx: { data: dx, shape: [...x.shape] },
    dweight: weight ? { data: dw, shape } : null,
    dbias: hasBias ? { data: db, shape } : null,
  };
}
