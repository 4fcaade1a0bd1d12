// The input gradient of a strided convolution as one GEMM over all its stride phases, for the
// subgroup kernels (lavapipe). The phase GEMMs (gemm.ts, inputGradProblems) each write every
// s-th pixel of dx, one scalar store per pixel, after a reduction of only that phase's taps:
// at stride 2 a 3x3 kernel's phases have 1, 2, 2 and 4 taps, so on lavapipe the per-lane store
// loops and the gathers of a short reduction cost about what the multiply-adds do.
//
// Here a subgroup tile is TR whole rows x TW neighbouring columns of dx (TR, TW multiples of the
// stride, so each tile row's and column's phase is known when the kernel is generated). Per
// dy channel the subgroup gathers the few dy row segments under the tile once; each segment
// serves every (dx row, kernel row) pair that reads it, each element every (dx column, kernel
// column) pair, by broadcast. dx rows are then stored as vec4s, zeros included where no tap
// reaches (so no separate clear). Weights come packed from a uniform buffer (packed-weights.ts).

import type { KernelSource } from '@wgtorch/tensor';
import { i32l, u32l, type ConvLike } from './gemm.js';
import type { ConvGeometry } from './geometry.js';
import { GEMM_PARAMS_WGSL } from './tiled.js';
import { SUBGROUP_SIZE } from './subgroup.js';

export interface MergedConfig {
  /** Rows of the GEMM (dx channels) per lane. */
  rm: number;
  /** dx pixels per subgroup tile. */
  tc: number;
  /** dx rows per tile (tc / tileRows columns each); 0 picks them by the image width (mergedTile). */
  tileRows: number;
  /** Subgroups per workgroup (neighbouring tiles). */
  sgs: number;
  /** Rows of packed weights per uniform binding (packedChunkRows); a dispatch covers these. */
  uboRows: number;
}

/** Tap pairs along one axis: tile position t meets kernel offset k, reading source offset d (tile origin / stride + d). */
interface AxisTap {
  t: number;
  k: number;
  d: number;
}

function axisTaps(tile: number, pad: number, k: number, s: number): AxisTap[] {
  const out: AxisTap[] = [];
  for (let t = 0; t < tile; t++) {
    for (let kk = 0; kk < k; kk++) {
      const v = t + pad - kk;
      if (((v % s) + s) % s === 0) out.push({ t, k: kk, d: v / s });
    }
  }
  return out;
}

/**
 * The tile (dx rows x columns) of the merged kernel, or undefined where none fits: whole dx
 * rows up to tc / sh columns (the smallest power of two >= W; measured on lavapipe, 16->32 at
 * 32x32 and 32->64 at 16x16, full-width tiles beat half-width ones by 5-10%), unless tileRows
 * is set. Rows and columns must be multiples of the stride, so each tile row's phase is fixed.
 */
export function mergedTile(g: ConvGeometry, cfg: MergedConfig): { rows: number; width: number } | undefined {
  let width = cfg.tileRows > 0 ? cfg.tc / cfg.tileRows : Math.min(cfg.tc / g.sh, 2 ** Math.ceil(Math.log2(Math.max(g.w, 4))));
  if (!Number.isInteger(width)) return undefined;
  const rows = cfg.tc / width;
  if (!Number.isInteger(rows) || rows % g.sh !== 0 || width % g.sw !== 0) return undefined;
  return { rows, width };
}

/** Workgroups along x for a batch of n. */
export function mergedColGroups(g: ConvGeometry, cfg: MergedConfig, n: number): number {
  const { rows, width } = mergedTile(g, cfg)!;
  return Math.ceil((n * Math.ceil(g.h / rows) * Math.ceil(g.w / width)) / cfg.sgs);
}

/** Whether dx is stored as vec4s (a tile's columns land on whole vec4s of dx). */
function vecOut(g: ConvGeometry, width: number): boolean {
  return width % 4 === 0 && g.w % 4 === 0;
}

/** `pack` is one of the problem's phase GEMMs: the packed weights' layout (m = input channel, c = output channel). */
export function mergedInputGradKernel(name: string, g: ConvGeometry, pack: ConvLike, cfg: MergedConfig): KernelSource {
  const { rm, sgs } = cfg;
  const tile = mergedTile(g, cfg);
  if (!tile) throw new Error(`merged input gradient: no tile of ${cfg.tc} pixels holds whole phases of stride ${g.sh}x${g.sw}`);
  const { rows: TR, width: TW } = tile;
  const C = g.cout;
  const R = cfg.uboRows;
  const rowTaps = axisTaps(TR, g.ph, g.kh, g.sh);
  const colTaps = axisTaps(TW, g.pw, g.kw, g.sw);
  const tilesX = Math.ceil(g.w / TW);
  const tilesY = Math.ceil(g.h / TR);
  const srcHW = g.ho * g.wo;
  const L: string[] = [
    `  let sg = li / ${SUBGROUP_SIZE}u;`,
    `  let tile = wid.x * ${sgs}u + sg;`,
    `  let n = tile / ${u32l(tilesX * tilesY)}; let tr = tile % ${u32l(tilesX * tilesY)};`,
    `  let ty0 = (tr / ${u32l(tilesX)}) * ${u32l(TR)};`,
    `  let tx0 = (tr % ${u32l(tilesX)}) * ${u32l(TW)};`,
    `  let nOk = n * ${u32l(g.h * g.w)} < params.ncols;`,
    `  let mbase = wid.y * ${SUBGROUP_SIZE * rm}u + lane * ${rm}u;`,
  ];
  for (let i = 0; i < rm; i++) L.push(`  let ml${i} = min(mbase + ${i}u, ${R - 1}u);`);
  L.push(`  let base = n * ${u32l(C * srcHW)};`);
  const live = (taps: AxisTap[], t: number) => taps.some((a) => a.t === t);
  const acc = (i: number, r: number, q: number) => `acc${i}_${r}_${q}`;
  if (rowTaps.length > 0 && colTaps.length > 0) {
    const dys = rowTaps.map((a) => a.d);
    const ds = [...new Set(dys)].sort((a, b) => a - b);
    const emin = Math.min(...colTaps.map((a) => a.d));
    const segLen = Math.max(...colTaps.map((a) => a.d)) - emin + 1;
    // Segment element e = lane + 8j of a dy row sits at dy column tx0 / sw + emin + e. (vec4
    // gathers of the segments, lane l taking elements 4l .. 4l+3, measured no faster.)
    const G = Math.ceil(segLen / SUBGROUP_SIZE);
    for (let j = 0; j < G; j++) {
      L.push(`  let sx${j} = i32(tx0 / ${u32l(g.sw)}) + ${i32l(emin)} + i32(lane + ${j * SUBGROUP_SIZE}u);`);
      L.push(`  let xv${j} = nOk && sx${j} >= 0 && sx${j} < ${i32l(g.wo)} && lane + ${j * SUBGROUP_SIZE}u < ${segLen}u;`);
    }
    ds.forEach((d, di) => {
      L.push(`  let sy${di} = i32(ty0 / ${u32l(g.sh)}) + ${i32l(d)};`);
      L.push(`  let yv${di} = sy${di} >= 0 && sy${di} < ${i32l(g.ho)};`);
      L.push(`  let rb${di} = base + u32(select(0, sy${di}, yv${di})) * ${u32l(g.wo)};`);
      for (let j = 0; j < G; j++) {
        L.push(`  let v${di}_${j} = yv${di} && xv${j};`);
        L.push(`  let o${di}_${j} = select(0u, rb${di} + u32(sx${j}), v${di}_${j});`);
      }
    });
    for (let i = 0; i < rm; i++) {
      for (let r = 0; r < TR; r++) {
        if (!live(rowTaps, r)) continue;
        const qs = Array.from({ length: TW }, (_, q) => q).filter((q) => live(colTaps, q));
        L.push(`  var ${qs.map((q) => `${acc(i, r, q)} = 0.0`).join('; var ')};`);
      }
    }
    L.push(`  for (var c = 0u; c < ${u32l(C)}; c++) {`);
    ds.forEach((_, di) => {
      for (let j = 0; j < G; j++) {
        L.push(`    let s${di}_${j} = select(0.0, b_src[o${di}_${j} + c * ${u32l(srcHW)}], v${di}_${j});`);
      }
    });
    for (let ky = 0; ky < g.kh; ky++) {
      const rt = rowTaps.filter((a) => a.k === ky);
      if (rt.length === 0) continue;
      L.push('    {');
      for (let i = 0; i < rm; i++) L.push(`      let wv${i} = wq[(ml${i} * ${u32l(C)} + c) * ${u32l(g.kh)} + ${ky}u];`);
      for (let kx = 0; kx < g.kw; kx++) {
        const ct = colTaps.filter((a) => a.k === kx);
        if (ct.length === 0) continue;
        L.push('      {');
        for (let i = 0; i < rm; i++) L.push(`        let a${i} = wv${i}.${'xyzw'[kx]};`);
        for (const { t: r, d } of rt) {
          const di = ds.indexOf(d);
          for (const { t: q, d: e } of ct) {
            const el = e - emin;
            L.push(`        { let bq = subgroupBroadcast(s${di}_${Math.floor(el / SUBGROUP_SIZE)}, ${el % SUBGROUP_SIZE}u);`);
            for (let i = 0; i < rm; i++) L.push(`          ${acc(i, r, q)} = fma(a${i}, bq, ${acc(i, r, q)});`);
            L.push('        }');
          }
        }
        L.push('      }');
      }
      L.push('    }');
    }
    L.push('  }');
  }
  const value = (i: number, r: number, q: number) => (live(rowTaps, r) && live(colTaps, q) ? acc(i, r, q) : '0.0');
  const hw = g.h * g.w;
  L.push(`  let obase = n * ${u32l(g.cin * hw)};`);
  const vec = vecOut(g, TW);
  const step = vec ? 4 : 1;
  for (let r = 0; r < TR; r++) {
    for (let x = 0; x < TW; x += step) {
      L.push(`  { let ty = ty0 + ${r}u; let tx = tx0 + ${x}u; if (nOk && ty < ${u32l(g.h)} && tx < ${u32l(g.w)}) {`);
      L.push(`    let o = ${vec ? `(obase + ty * ${u32l(g.w)} + tx) / 4u` : `obase + ty * ${u32l(g.w)} + tx`};`);
      for (let i = 0; i < rm; i++) {
        const v = vec ? `vec4f(${[0, 1, 2, 3].map((k) => value(i, r, x + k)).join(', ')})` : value(i, r, x);
        L.push(`    if (mbase + ${i}u < ${u32l(R)}) { out[o + (params.row0 + ml${i}) * ${u32l(vec ? hw / 4 : hw)}] = ${v}; }`);
      }
      L.push('  } }');
    }
  }
  let params = GEMM_PARAMS_WGSL.replace('kchunk: u32 }', 'kchunk: u32, row0: u32 }').replace(
    'var<storage, read> a_src: array<f32>;',
    `var<uniform> wq: array<vec4f, ${R * pack.c * pack.kh}>;`,
  );
  if (vec) params = params.replace('out: array<f32>', 'out: array<vec4<f32>>');
  const code = `enable subgroups;
${params}
@compute @workgroup_size(${sgs * SUBGROUP_SIZE})
fn main(@builtin(local_invocation_index) li: u32, @builtin(subgroup_invocation_id) lane: u32, @builtin(workgroup_id) wid: vec3u) {
${L.join('\n')}
}`;
  return { name, code, storage: ['uniform', 'read', 'read_write'] };
}
