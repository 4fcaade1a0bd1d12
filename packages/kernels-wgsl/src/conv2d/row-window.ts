// The row-window kernel for the subgroup variant (lavapipe): a subgroup tile is TR whole rows x
// TW neighbouring columns of the output; per source channel the subgroup gathers the source
// window under the tile once, and every output pixel takes each element its taps read by
// broadcast. Outputs are stored as vec4s. Weights come packed from a uniform buffer
// (packed-weights.ts), one vec4 of kernel-row taps per (row, channel, kernel row).
//
// Two directions share it:
// - 'forward': output pixel o reads source pixel o*s - pad + k.
// - 'transposed', the input gradient: dx pixel o receives dy pixel (o + pad - k) / s where that
//   divides. A tile's rows and columns are whole stride phases (TR, TW multiples of the stride),
//   so every pixel's taps are known when the kernel is generated and all phases run in one
//   kernel. The phase GEMMs (gemm.ts, inputGradProblems) instead write every s-th pixel with one
//   scalar store after a reduction over only that phase's taps (1, 2, 2 and 4 of a 3x3 kernel
//   at stride 2): on lavapipe their store loops and gathers cost about what the multiply-adds do.
//
// Against the window kernel (subgroup.ts), which loops over kernel rows outside the channels and
// gathers a segment per (kernel row, tile row), a tile of TR rows here gathers TR + kh - 1 rows
// per channel at stride 1 instead of TR * kh.

import { defineKernel, type AnyKernel } from '../common/kernel.js';
import { i32l, u32l, type ConvLike } from './gemm.js';
import type { ConvGeometry } from './geometry.js';
import { gemmBindings } from './tiled.js';
import { SUBGROUP_BUILTINS, SUBGROUP_SIZE, windowTileHeader } from './subgroup.js';
import { chunkRowLines, chunkSwitch, dispatchRows, weightChunks } from './weight-chunks.js';

export type RowWindowDir = 'forward' | 'transposed';

export interface RowWindowConfig {
  /** Rows of the GEMM (output channels) per lane. */
  rm: number;
  /** Output pixels per subgroup tile. */
  tc: number;
  /** Output rows per tile (tc / tileRows columns each); 0 picks them by the image width (rowWindowTile). */
  tileRows: number;
  /** Subgroups per workgroup (neighbouring tiles). */
  sgs: number;
  /** Rows of packed weights per uniform binding (packedChunkRows); a dispatch binds several (weight-chunks.ts). */
  uboRows: number;
}

/**
 * Tap pairs along one axis: tile position t meets kernel offset k, reading source offset d from the tile's
 * source origin.
 */
export interface AxisTap {
  t: number;
  k: number;
  d: number;
}

/** The source origin of a tile at output offset t0 is t0 * s (forward) or t0 / s (transposed). */
export function axisTaps(dir: RowWindowDir, tile: number, pad: number, k: number, s: number): AxisTap[] {
  const out: AxisTap[] = [];
  for (let t = 0; t < tile; t++) {
    for (let kk = 0; kk < k; kk++) {
      if (dir === 'forward') out.push({ t, k: kk, d: t * s + kk - pad });
      else {
        const v = t + pad - kk;
        if (((v % s) + s) % s === 0) out.push({ t, k: kk, d: v / s });
      }
    }
  }
  return out;
}

/** The sizes a direction works with: GEMM rows m, reduction channels c, source and output images. */
export function rowWindowDims(dir: RowWindowDir, g: ConvGeometry) {
  return dir === 'forward'
    ? { m: g.cout, c: g.cin, srcH: g.h, srcW: g.w, outH: g.ho, outW: g.wo }
    : { m: g.cin, c: g.cout, srcH: g.ho, srcW: g.wo, outH: g.h, outW: g.w };
}

/**
 * The tile (output rows x columns), or undefined where none fits: whole output rows up to
 * tc / s columns (the smallest power of two >= the width), unless tileRows is set. Measured on
 * lavapipe (16->32 at 32x32 and 32->64 at 16x16 input gradients), full-width tiles beat
 * half-width ones by 5-10%. Transposed tiles hold whole stride phases.
 */
export function rowWindowTile(
  dir: RowWindowDir,
  g: ConvGeometry,
  cfg: RowWindowConfig,
): { rows: number; width: number } | undefined {
  const { outW } = rowWindowDims(dir, g);
  const [sh, sw] = dir === 'transposed' ? [g.sh, g.sw] : [1, 1];
  const width =
    cfg.tileRows > 0 ? cfg.tc / cfg.tileRows : Math.min(cfg.tc / sh, 2 ** Math.ceil(Math.log2(Math.max(outW, 4))));
  if (!Number.isInteger(width)) return undefined;
  const rows = cfg.tc / width;
  if (!Number.isInteger(rows) || rows % sh !== 0 || width % sw !== 0) return undefined;
  return { rows, width };
}

/** Workgroups along x for a batch of n. */
export function rowWindowColGroups(dir: RowWindowDir, g: ConvGeometry, cfg: RowWindowConfig, n: number): number {
  const { rows, width } = rowWindowTile(dir, g, cfg)!;
  const { outH, outW } = rowWindowDims(dir, g);
  return Math.ceil((n * Math.ceil(outH / rows) * Math.ceil(outW / width)) / cfg.sgs);
}

/** `pack` is the GEMM whose packed-weight layout the kernel reads (forwardProblem, or an input-gradient phase). */
export function rowWindowKernel(
  name: string,
  dir: RowWindowDir,
  g: ConvGeometry,
  pack: ConvLike,
  cfg: RowWindowConfig,
): AnyKernel {
  const { rm, sgs } = cfg;
  const tile = rowWindowTile(dir, g, cfg);
  if (!tile) throw new Error(`row window: no tile of ${cfg.tc} pixels holds whole phases of stride ${g.sh}x${g.sw}`);
  const { rows: TR, width: TW } = tile;
  const { m: M, c: C, srcH, srcW, outH, outW } = rowWindowDims(dir, g);
  const chunks = weightChunks(M, cfg.uboRows, SUBGROUP_SIZE * rm);
  const rowTaps = axisTaps(dir, TR, g.ph, g.kh, g.sh);
  const colTaps = axisTaps(dir, TW, g.pw, g.kw, g.sw);
  const tilesX = Math.ceil(outW / TW);
  const tilesY = Math.ceil(outH / TR);
  const srcHW = srcH * srcW;
  const origin = (t0: string, s: number) => (dir === 'forward' ? `${t0} * ${u32l(s)}` : `${t0} / ${u32l(s)}`);
  const L = windowTileHeader({ sgs, rm, tilesX, tilesY, TR, TW, colsPerImage: outH * outW });
  L.push(...chunkRowLines(chunks, rm));
  L.push(`  let base = n * ${u32l(C * srcHW)};`);
  const live = (taps: AxisTap[], t: number) => taps.some((a) => a.t === t);
  const acc = (i: number, r: number, q: number) => `acc${i}_${r}_${q}`;
  if (rowTaps.length > 0 && colTaps.length > 0) {
    const dys = rowTaps.map((a) => a.d);
    const ds = [...new Set(dys)].sort((a, b) => a - b);
    const emin = Math.min(...colTaps.map((a) => a.d));
    const segLen = Math.max(...colTaps.map((a) => a.d)) - emin + 1;
    // The window's element e = di * segLen + el (source row origin(ty0) + ds[di], column
    // origin(tx0) + emin + el) is lane e % 8 of gather e / 8: gathers run across rows, so a 10 x 10
    // window takes 13, not 20 of whole rows. (vec4 gathers, lane l taking elements 4l .. 4l+3 of
    // a row, measured no faster than scalar ones.)
    const NE = ds.length * segLen;
    const NG = Math.ceil(NE / SUBGROUP_SIZE);
    L.push(`  const DS = array<i32, ${ds.length}>(${ds.map((d) => i32l(d)).join(', ')});`);
    for (let j = 0; j < NG; j++) {
      L.push(`  let fe${j} = min(lane + ${j * SUBGROUP_SIZE}u, ${NE - 1}u);`);
      L.push(`  let fy${j} = i32(${origin('ty0', g.sh)}) + DS[fe${j} / ${segLen}u];`);
      L.push(`  let fx${j} = i32(${origin('tx0', g.sw)}) + ${i32l(emin)} + i32(fe${j} % ${segLen}u);`);
      L.push(
        `  let fv${j} = nOk && lane + ${j * SUBGROUP_SIZE}u < ${NE}u && ` +
          `fy${j} >= 0 && fy${j} < ${i32l(srcH)} && fx${j} >= 0 && fx${j} < ${i32l(srcW)};`,
      );
      L.push(`  let fo${j} = select(0u, base + u32(fy${j}) * ${u32l(srcW)} + u32(fx${j}), fv${j});`);
    }
    for (let i = 0; i < rm; i++) {
      for (let r = 0; r < TR; r++) {
        if (!live(rowTaps, r)) continue;
        const qs = Array.from({ length: TW }, (_, q) => q).filter((q) => live(colTaps, q));
        L.push(`  var ${qs.map((q) => `${acc(i, r, q)} = 0.0`).join('; var ')};`);
      }
    }
    // The reduction over source channels, reading the packed weights from binding `wq`. Output
    // pixel by pixel, all of its taps in a row: its accumulators stay in registers for the 9 taps
    // of a 3x3 kernel instead of being reloaded and stored at each (NOTES.md, "pixel-major taps").
    const reduction = (wq: string): string[] => {
      const B: string[] = [];
      B.push(`  for (var c = 0u; c < ${u32l(C)}; c++) {`);
      for (let j = 0; j < NG; j++) B.push(`    let f${j} = select(0.0, b_src[fo${j} + c * ${u32l(srcHW)}], fv${j});`);
      for (let ky = 0; ky < g.kh; ky++) {
        for (let i = 0; i < rm; i++) {
          B.push(`    let wv${i}_${ky} = ${wq}[(ml${i} * ${u32l(C)} + c) * ${u32l(g.kh)} + ${ky}u];`);
        }
      }
      for (let r = 0; r < TR; r++) {
        for (let q = 0; q < TW; q++) {
          for (const { k: ky, d } of rowTaps.filter((a) => a.t === r)) {
            for (const { k: kx, d: e } of colTaps.filter((a) => a.t === q)) {
              const fe = ds.indexOf(d) * segLen + e - emin;
              B.push(`    { let bq = subgroupBroadcast(f${Math.floor(fe / SUBGROUP_SIZE)}, ${fe % SUBGROUP_SIZE}u);`);
              for (let i = 0; i < rm; i++) {
                B.push(`      ${acc(i, r, q)} = fma(wv${i}_${ky}.${'xyzw'[kx]}, bq, ${acc(i, r, q)});`);
              }
              B.push('    }');
            }
          }
        }
      }
      B.push('  }');
      return B;
    };
    L.push(...chunkSwitch(chunks, reduction));
  }
  // Transposed tiles may hold pixels no tap reaches (1x1 stride 2): those store zeros.
  const value = (i: number, r: number, q: number) => (live(rowTaps, r) && live(colTaps, q) ? acc(i, r, q) : '0.0');
  const hw = outH * outW;
  L.push(`  let obase = n * ${u32l(M * hw)};`);
  const vec = TW % 4 === 0 && outW % 4 === 0;
  const step = vec ? 4 : 1;
  for (let r = 0; r < TR; r++) {
    for (let x = 0; x < TW; x += step) {
      L.push(`  { let ty = ty0 + ${r}u; let tx = tx0 + ${x}u; if (nOk && ty < ${u32l(outH)} && tx < ${u32l(outW)}) {`);
      L.push(`    let o = ${vec ? `(obase + ty * ${u32l(outW)} + tx) / 4u` : `obase + ty * ${u32l(outW)} + tx`};`);
      for (let i = 0; i < rm; i++) {
        const v = vec ? `vec4f(${[0, 1, 2, 3].map((k) => value(i, r, x + k)).join(', ')})` : value(i, r, x);
        L.push(
          `    if (mbase + ${i}u < ${u32l(dispatchRows(chunks))}) { ` +
            `out[o + (params.row0 + md${i}) * ${u32l(vec ? hw / 4 : hw)}] = ${v}; }`,
        );
      }
      L.push('  } }');
    }
  }
  return defineKernel({
    name,
    // ncols: output pixels of the batch; a dispatch covers the rows of its chunks from row0.
    params: { ncols: 'u32', row0: 'u32' },
    bindings: gemmBindings({ out: vec ? 'vec4f' : 'f32', wq: cfg.uboRows * pack.c * pack.kh, wqChunks: chunks }),
    enables: ['subgroups'],
    workgroupSize: sgs * SUBGROUP_SIZE,
    builtins: SUBGROUP_BUILTINS,
    body: L.join('\n'),
  });
}
