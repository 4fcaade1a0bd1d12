// The input gradient of a 1x1 convolution without padding onto few channels (ResNet20's 16->32
// stride-2 shortcut), for the subgroup variant (lavapipe). The GEMM kernels give each lane rows
// of the GEMM (dx channels) and gather each lane's weights per dy channel: with 16 dx channels,
// a dy value feeds only 16 multiply-adds, and the weight gathers cost as much as the dy ones.
// Here each lane owns a segment of PX neighbouring dy pixels of one row and every dx channel of
// them; it reads its dy segment as vec4s, and the weights are the same for every lane: the
// weight tensor itself, bound as a uniform buffer.
// The loop over dy channels stays a loop (unrolled, it compiles 10x longer for little gain), and
// dx is cleared first rather than written with its zeros (slower).

import { runtime } from '@wgtorch/tensor';
import { defineKernel } from '../common/kernel.js';
import { u32l } from './gemm.js';
import type { ConvGeometry } from './geometry.js';

export interface PointwiseInputGradConfig {
  /**
   * Most dy pixels per lane (at least 4); a lane takes the largest of 16, 8, 4 up to this that divides the
   * dy width.
   */
  px: number;
  /** Lanes per workgroup. */
  wg: number;
}

export const POINTWISE_INPUT_GRAD: PointwiseInputGradConfig = { px: 16, wg: 64 };

/**
 * Whether the kernel applies to g: a 1x1 kernel without padding, dy rows of whole vec4s, the
 * weights in one uniform binding of whole vec4s, and at most 256 accumulators a lane.
 */
export function pointwiseInputGradApply(g: ConvGeometry, cfg: PointwiseInputGradConfig): boolean {
  return (
    cfg.px >= 4 &&
    g.kh === 1 &&
    g.kw === 1 &&
    g.ph === 0 &&
    g.pw === 0 &&
    g.wo % 4 === 0 &&
    (g.cin * g.cout) % 4 === 0 &&
    g.cin * g.cout * 4 <= runtime().limits.maxUniformBufferBindingSize &&
    g.cin * segmentPixels(g, cfg) <= 256
  );
}

/** dy pixels per lane: the largest of 16, 8, 4 that is at most cfg.px and divides the dy width. */
export function segmentPixels(g: ConvGeometry, cfg: PointwiseInputGradConfig): number {
  for (const px of [16, 8, 4]) if (px <= cfg.px && g.wo % px === 0) return px;
  return 4;
}

/** Lanes with a dy row segment for a batch of n. */
export function pointwiseInputGradLanes(g: ConvGeometry, cfg: PointwiseInputGradConfig, n: number): number {
  return n * g.ho * (g.wo / segmentPixels(g, cfg));
}

/** Workgroups along x for a batch of n. */
export function pointwiseInputGradGroups(g: ConvGeometry, cfg: PointwiseInputGradConfig, n: number): number {
  return Math.ceil(pointwiseInputGradLanes(g, cfg, n) / cfg.wg);
}

/**
 * Binds the weight tensor [cout, cin, 1, 1] as `w` (a uniform array of vec4s), dy and dx (which
 * the launcher clears where the stride skips pixels); `params.batch` is the batch size, and
 * lanes past its last image (the last workgroup's spare ones) store nothing.
 */
export function pointwiseInputGradKernel(name: string, g: ConvGeometry, cfg: PointwiseInputGradConfig) {
  const PX = segmentPixels(g, cfg);
  const CI = g.cin;
  const segs = g.wo / PX;
  const dyHW = g.ho * g.wo;
  const L: string[] = [
    `  let t = wid.x * ${cfg.wg}u + li;`,
    `  let n = t / ${u32l(g.ho * segs)}; let r = t % ${u32l(g.ho * segs)};`,
    `  let y = r / ${u32l(segs)}; let x0 = (r % ${u32l(segs)}) * ${PX}u;`,
    `  let ok = n < params.batch;`,
    `  let src = select(0u, (n * ${u32l(g.cout * dyHW)} + y * ${u32l(g.wo)} + x0) / 4u, ok);`,
  ];
  const acc = (ci: number, p: number) => `a${ci}_${p}`;
  for (let ci = 0; ci < CI; ci++)
    L.push(`  var ${Array.from({ length: PX }, (_, p) => `${acc(ci, p)} = 0.0`).join('; var ')};`);
  L.push(`  for (var co = 0u; co < ${u32l(g.cout)}; co++) {`);
  for (let v = 0; v < PX / 4; v++)
    L.push(`    let d${v} = select(vec4f(0.0), dy[src + co * ${u32l(dyHW / 4)} + ${v}u], ok);`);
  for (let ci = 0; ci < CI; ci++) {
    // Weight (co, ci) is element co*CI + ci of the tensor: vec4 (co*CI + ci) / 4.
    const wv =
      CI % 4 === 0
        ? `w[co * ${CI / 4}u + ${ci >> 2}u].${'xyzw'[ci & 3]}`
        : `w[(co * ${CI}u + ${ci}u) / 4u][(co * ${CI}u + ${ci}u) % 4u]`;
    L.push(`    { let wv = ${wv};`);
    for (let p = 0; p < PX; p++) L.push(`      ${acc(ci, p)} = fma(wv, d${p >> 2}.${'xyzw'[p & 3]}, ${acc(ci, p)});`);
    L.push('    }');
  }
  L.push('  }');
  // dy pixel (y, x) lands on dx pixel (y*sh, x*sw).
  L.push('  if (ok) {');
  L.push(`    let o = n * ${u32l(CI * g.h * g.w)} + y * ${u32l(g.sh * g.w)} + x0 * ${u32l(g.sw)};`);
  for (let ci = 0; ci < CI; ci++) {
    for (let p = 0; p < PX; p++) L.push(`    dx[o + ${u32l(ci * g.h * g.w + p * g.sw)}] = ${acc(ci, p)};`);
  }
  L.push('  }');
  return defineKernel({
    name,
    params: { batch: 'u32' },
    bindings: {
      w: { type: 'vec4f', space: 'uniform', length: (g.cout * CI) / 4 },
      dy: { type: 'vec4f' },
      dx: { type: 'f32', access: 'read_write' },
    },
    workgroupSize: cfg.wg,
    builtins: { li: 'local_invocation_index', wid: 'workgroup_id' },
    body: L.join('\n'),
  });
}
