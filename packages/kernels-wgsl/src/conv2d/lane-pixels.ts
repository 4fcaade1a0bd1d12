// The input gradient of a stride-1 convolution onto few channels (the stem's: 3), for the
// subgroup variant (lavapipe). The row-window and GEMM kernels give each lane rows of the GEMM
// (dx channels): with 3 of them, 5 of a subgroup's 8 lanes multiply for nothing. Here each
// lane owns a block of PR x PW dx pixels and every channel of them; it gathers the dy block
// under it, (PR + kh - 1) x (PW + kw - 1) values a channel, and the weights are the same for
// every lane (packed rows from a uniform buffer, packed-weights.ts). 4 x 4 blocks measured best.

import { runtime } from '@wgtorch/tensor';
import { i32l, u32l } from './gemm.js';
import type { ConvGeometry } from './geometry.js';
import { axisTaps } from './row-window.js';
import { gemmBindings } from './tiled.js';
import { defineKernel, type AnyKernel } from '../common/kernel.js';

export interface LanePixelsConfig {
  /** dx rows and columns per lane. */
  pr: number;
  pw: number;
  /** Lanes per workgroup. */
  wg: number;
}

export const LANE_PIXELS: LanePixelsConfig = { pr: 4, pw: 4, wg: 64 };

/**
 * Whether the lane-pixel kernel applies: stride 1, at most 4 dx channels, kernel rows in one packed vec4,
 * the weights in one uniform binding.
 */
export function lanePixelsApply(g: ConvGeometry): boolean {
  return (
    g.sh === 1 &&
    g.sw === 1 &&
    g.cin <= 4 &&
    g.kw <= 4 &&
    g.cin * g.cout * g.kh * 16 <= runtime().limits.maxUniformBufferBindingSize
  );
}

/** Workgroups along x for a batch of n. */
export function lanePixelsGroups(g: ConvGeometry, cfg: LanePixelsConfig, n: number): number {
  return Math.ceil((n * Math.ceil(g.h / cfg.pr) * Math.ceil(g.w / cfg.pw)) / cfg.wg);
}

/** Reads the weights packed in rows for an input-gradient phase of g (m = dx channel, c = dy channel). */
export function lanePixelsKernel(name: string, g: ConvGeometry, cfg: LanePixelsConfig): AnyKernel {
  const { pr: PR, pw: PW, wg } = cfg;
  const M = g.cin;
  const C = g.cout;
  const rowTaps = axisTaps('transposed', PR, g.ph, g.kh, 1);
  const colTaps = axisTaps('transposed', PW, g.pw, g.kw, 1);
  const dys = rowTaps.map((a) => a.d);
  const dxs = colTaps.map((a) => a.d);
  const [r0, r1] = [Math.min(...dys), Math.max(...dys)];
  const [c0, c1] = [Math.min(...dxs), Math.max(...dxs)];
  const bx = Math.ceil(g.w / PW);
  const by = Math.ceil(g.h / PR);
  const srcHW = g.ho * g.wo;
  const L: string[] = [
    `  let b = wid.x * ${wg}u + li;`,
    `  let n = b / ${u32l(bx * by)}; let t = b % ${u32l(bx * by)};`,
    `  let y0 = (t / ${u32l(bx)}) * ${u32l(PR)}; let x0 = (t % ${u32l(bx)}) * ${u32l(PW)};`,
    `  let nOk = n * ${u32l(g.h * g.w)} < params.ncols;`,
    `  let base = select(0u, n * ${u32l(C * srcHW)}, nOk);`,
  ];
  // dy element (y0 + d, x0 + e) of the block, bounds-checked once.
  for (let d = r0; d <= r1; d++) {
    L.push(
      `  let yy${d - r0} = i32(y0) + ${i32l(d)}; ` +
        `let yv${d - r0} = nOk && yy${d - r0} >= 0 && yy${d - r0} < ${i32l(g.ho)};`,
    );
  }
  for (let e = c0; e <= c1; e++)
    L.push(
      `  let xx${e - c0} = i32(x0) + ${i32l(e)}; let xv${e - c0} = xx${e - c0} >= 0 && xx${e - c0} < ${i32l(g.wo)};`,
    );
  for (let d = r0; d <= r1; d++) {
    for (let e = c0; e <= c1; e++) {
      const k = `${d - r0}_${e - c0}`;
      L.push(
        `  let v${k} = yv${d - r0} && xv${e - c0}; ` +
          `let o${k} = select(0u, base + u32(yy${d - r0}) * ${u32l(g.wo)} + u32(xx${e - c0}), v${k});`,
      );
    }
  }
  const acc = (m: number, r: number, q: number) => `acc${m}_${r}_${q}`;
  for (let m = 0; m < M; m++)
    for (let r = 0; r < PR; r++)
      L.push(`  var ${Array.from({ length: PW }, (_, q) => `${acc(m, r, q)} = 0.0`).join('; var ')};`);
  L.push(`  for (var c = 0u; c < ${u32l(C)}; c++) {`);
  for (let d = r0; d <= r1; d++) {
    for (let e = c0; e <= c1; e++) {
      const k = `${d - r0}_${e - c0}`;
      L.push(`    let s${k} = select(0.0, b_src[o${k} + c * ${u32l(srcHW)}], v${k});`);
    }
  }
  for (let m = 0; m < M; m++) {
    for (let ky = 0; ky < g.kh; ky++) {
      const rt = rowTaps.filter((a) => a.k === ky);
      if (rt.length === 0) continue;
      L.push(`    { let wv = wq[(${m}u * ${u32l(C)} + c) * ${u32l(g.kh)} + ${ky}u];`);
      for (let kx = 0; kx < g.kw; kx++) {
        for (const { t: r, d } of rt) {
          for (const { t: q, d: e } of colTaps.filter((a) => a.k === kx)) {
            L.push(`      ${acc(m, r, q)} = fma(wv.${'xyzw'[kx]}, s${d - r0}_${e - c0}, ${acc(m, r, q)});`);
          }
        }
      }
      L.push('    }');
    }
  }
  L.push('  }');
  const hw = g.h * g.w;
  const vec = PW % 4 === 0 && g.w % 4 === 0;
  L.push(`  let obase = n * ${u32l(M * hw)};`);
  for (let r = 0; r < PR; r++) {
    for (let x = 0; x < PW; x += vec ? 4 : 1) {
      L.push(`  { let y = y0 + ${r}u; let x = x0 + ${x}u; if (nOk && y < ${u32l(g.h)} && x < ${u32l(g.w)}) {`);
      for (let m = 0; m < M; m++) {
        const idx = `obase + ${m * hw}u + y * ${u32l(g.w)} + x`;
        L.push(
          vec
            ? `    out[(${idx}) / 4u] = vec4f(${[0, 1, 2, 3].map((k) => acc(m, r, x + k)).join(', ')});`
            : `    out[${idx}] = ${acc(m, r, x)};`,
        );
      }
      L.push('  } }');
    }
  }
  return defineKernel({
    name,
    // ncols: the dx pixels of the batch.
    params: { ncols: 'u32' },
    bindings: gemmBindings({ out: vec ? 'vec4f' : 'f32', wq: M * C * g.kh }),
    workgroupSize: wg,
    builtins: { li: 'local_invocation_index', wid: 'workgroup_id' },
    body: L.join('\n'),
  });
}
