// Conv2d and its gradients as implicit GEMMs, C[m, col] = sum_k A[m, k] * B[k, col], described
// once here and turned into WGSL by the two kernel generators (tiled.ts, subgroup.ts).
//
// - forward:    m = output channel, col = output pixel (n, oy, ox), k = (input channel, tap).
// - input grad: m = input channel, col = input pixel (n, iy, ix), k = (output channel, tap). With
//   stride s only taps ky = (iy + pad) mod s contribute to a pixel, so the input pixels are split
//   into s*s phases, each its own GEMM over only its taps: no work is spent on zeros. (On
//   lavapipe the row-window kernel runs all phases of a 3x3 one in one kernel instead.)
// Both are a `ConvLike`: B[(c, tap), (n, ty, tx)] = src[n, c, ty*ay + cy(tap), tx*ax + cx(tap)]
// (zero outside the source), A[m, (c, tap)] = w[m*wsm + c*wsc + ky*kw + kx].
// - weight grad: m = output channel, col = (input channel, ky, kx), k = output pixel (n, oy, ox),
//   a reduction over up to N*Ho*Wo = 131k terms split across workgroups (partial sums, then a
//   second pass adds them).

import type { ConvGeometry } from './geometry.js';

/** Taps along one axis: tap i sits at kernel offset k0 + i*kstep and reads source row ty*a + c0 + i*cstep. */
export interface TapAxis {
  count: number;
  k0: number;
  kstep: number;
  c0: number;
  cstep: number;
}

export interface ConvLike {
  kind: 'convlike';
  /** Rows (channels of the result). */
  m: number;
  /** Reduction channels (channels of the source). */
  c: number;
  ty: TapAxis;
  tx: TapAxis;
  /** Source image size (bounds of the gather). */
  srcH: number;
  srcW: number;
  /** Column step in the source per output column (the stride for forward, 1 for input grad). */
  ay: number;
  ax: number;
  /** Weight addressing: w[m*wsm + c*wsc + ky*kw + kx]. */
  wsm: number;
  wsc: number;
  kw: number;
  /** Kernel height (the packed-weight layout has one vec4 per (m, c, ky)). */
  kh: number;
  /** Columns per image: colsY x colsX. */
  colsY: number;
  colsX: number;
  /** Where column (ty, tx) lands in the output image [outH, outW]: (y0 + ty*sy, x0 + tx*sx). */
  outH: number;
  outW: number;
  y0: number;
  x0: number;
  sy: number;
  sx: number;
}

export interface WeightGradGemm {
  kind: 'wgrad';
  g: ConvGeometry;
}

export type GemmProblem = ConvLike | WeightGradGemm;

export function forwardProblem(g: ConvGeometry): ConvLike {
  return {
    kind: 'convlike',
    m: g.cout,
    c: g.cin,
    ty: { count: g.kh, k0: 0, kstep: 1, c0: -g.ph, cstep: 1 },
    tx: { count: g.kw, k0: 0, kstep: 1, c0: -g.pw, cstep: 1 },
    srcH: g.h,
    srcW: g.w,
    ay: g.sh,
    ax: g.sw,
    wsm: g.cin * g.kh * g.kw,
    wsc: g.kh * g.kw,
    kw: g.kw,
    kh: g.kh,
    colsY: g.ho,
    colsX: g.wo,
    outH: g.ho,
    outW: g.wo,
    y0: 0,
    x0: 0,
    sy: 1,
    sx: 1,
  };
}

/** One input-gradient GEMM per stride phase (py, px); phases with no pixels are left out. */
export function inputGradProblems(g: ConvGeometry): ConvLike[] {
  const out: ConvLike[] = [];
  const axis = (p: number, s: number, pad: number, k: number, size: number) => {
    const first = (((p - pad) % s) + s) % s; // first input row with (row + pad) % s == p
    const cols = first < size ? Math.ceil((size - first) / s) : 0;
    const count = p < k ? Math.ceil((k - p) / s) : 0;
    return { first, cols, taps: { count, k0: p, kstep: s, c0: (first + pad - p) / s, cstep: -1 } };
  };
  for (let py = 0; py < g.sh; py++) {
    for (let px = 0; px < g.sw; px++) {
      const ay = axis(py, g.sh, g.ph, g.kh, g.h);
      const ax = axis(px, g.sw, g.pw, g.kw, g.w);
      if (ay.cols === 0 || ax.cols === 0) continue;
      out.push({
        kind: 'convlike',
        m: g.cin,
        c: g.cout,
        ty: ay.taps,
        tx: ax.taps,
        srcH: g.ho,
        srcW: g.wo,
        ay: 1,
        ax: 1,
        wsm: g.kh * g.kw,
        wsc: g.cin * g.kh * g.kw,
        kw: g.kw,
        kh: g.kh,
        colsY: ay.cols,
        colsX: ax.cols,
        outH: g.h,
        outW: g.w,
        y0: ay.first,
        x0: ax.first,
        sy: g.sh,
        sx: g.sw,
      });
    }
  }
  return out;
}

/** A string naming every constant a kernel for `p` is specialized on. */
export function problemKey(p: GemmProblem): string {
  if (p.kind === 'wgrad') {
    const g = p.g;
    return `wgrad:${g.cin},${g.h},${g.w},${g.cout},${g.kh},${g.kw},${g.sh},${g.sw},${g.ph},${g.pw}`;
  }
  const t = (a: TapAxis) => `${a.count},${a.k0},${a.kstep},${a.c0},${a.cstep}`;
  return (
    `conv:${p.m},${p.c},${t(p.ty)};${t(p.tx)};` +
    `${p.srcH},${p.srcW},${p.ay},${p.ax},${p.wsm},${p.wsc},${p.kh},${p.kw};` +
    `${p.colsY},${p.colsX};${p.outH},${p.outW},${p.y0},${p.x0},${p.sy},${p.sx}`
  );
}

/** WGSL integer literal with an explicit sign type. */
export const i32l = (v: number) => `${v | 0}i`;
export const u32l = (v: number) => `${v >>> 0}u`;
