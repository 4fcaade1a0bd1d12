// The register-blocked implicit GEMM for CPU adapters such as lavapipe, where each invocation
// is one SIMD lane and workgroup memory costs what a storage load costs. No workgroup memory and
// no barriers: a subgroup of 8 lanes computes a (8*RM rows) x (TC columns) tile; each lane owns
// RM rows and loads TC/8 of the tile's B values per reduction step, and the subgroup shares them
// with subgroupBroadcast, so a lane issues RM + TC/8 loads for RM*TC fused multiply-adds.
// Lane l loads column l + 8j of the tile into its register b_j; column q is in lane q % 8.

import { defineKernel, type AnyKernel } from '../common/kernel.js';
import { i32l, u32l, type ConvLike, type GemmProblem } from './gemm.js';
import { GEMM_PARAMS, gemmBindings } from './tiled.js';
import { chunkRowLines, chunkSwitch, dispatchRows, weightChunks } from './weight-chunks.js';

export interface SubgroupConfig {
  /** Rows per lane. */
  rm: number;
  /** Columns per subgroup tile (a multiple of 8). */
  tc: number;
  /** Subgroups per workgroup (they take neighbouring column tiles). */
  sgs: number;
  /** Reduction steps per loop iteration (lavapipe pays a loop iteration about what 16 FMAs cost). */
  unrollK: number;
  /**
   * Conv-like GEMMs: a tile is tc neighbouring pixels of one row, and the subgroup gathers the
   * row segment they cover once per (tap row, channel), serving every tap of the row from it by
   * broadcast (a 3-wide kernel at stride 1 needs (tc+2)/8 gathers per lane instead of 3*tc/8).
   */
  window: boolean;
  /**
   * Weight grad: when > 0, a tile is this many (input channel, kernel row) pairs times every
   * tap of the row (tc = wpairs * kw; tc is ignored), and the reduction over each output row
   * runs in blocks of 8 pixels: the subgroup gathers the input row segment under a block once
   * per pair and serves every tap of the row from it by broadcast.
   */
  wpairs: number;
  /**
   * Weight grad with the pair window: read dy as vec4 (only where output rows are whole blocks of 8, or one
   * block of 4).
   */
  avec: boolean;
  /**
   * Window mode: when > 0, the weights come from a uniform buffer of packed rows (packWeights:
   * one vec4 of the kw <= 4 taps per (row, channel, ky)), this many rows a binding; a dispatch
   * binds several (weight-chunks.ts). On lavapipe a uniform load costs a fraction of a
   * storage one (CONTRIBUTING, "Fast on lavapipe"), and one vec4 serves every tap of a kernel row.
   */
  uboRows: number;
  /**
   * Window mode: store each row's results as vec4s where the tile's columns land on whole
   * vec4s of the output (stride-1 columns, output width a multiple of 4): a quarter of the
   * per-lane store loops.
   */
  vecOut: boolean;
  /** Plain kernel: gather B as vec4s where its rows are contiguous (plainVecIn). */
  vecIn: boolean;
  /**
   * Weight grad with the pair window at stride 1: gather the pairs' segments 8 elements at a time
   * across pairs, instead of whole gathers per pair (16 pairs of 10 elements: 20 gathers, not 32).
   */
  flatSeg: boolean;
}

export const SUBGROUP_SIZE = 8;
export const DEFAULT_SUBGROUP: SubgroupConfig = {
  rm: 2,
  tc: 16,
  sgs: 2,
  unrollK: 1,
  window: false,
  wpairs: 0,
  avec: false,
  uboRows: 0,
  vecOut: true,
  vecIn: true,
  flatSeg: false,
};

/** The broadcast-and-accumulate step for one reduction index: acc[i][q] += a_i * b[q]. */
function fmaBlock(rm: number, tc: number, indent: string): string {
  const L: string[] = [];
  for (let q = 0; q < tc; q++) {
    L.push(`${indent}{ let bq = subgroupBroadcast(b${Math.floor(q / SUBGROUP_SIZE)}, ${q % SUBGROUP_SIZE}u);`);
    for (let i = 0; i < rm; i++) L.push(`${indent}  acc${i}_${q} = fma(a${i}, bq, acc${i}_${q});`);
    L.push(`${indent}}`);
  }
  return L.join('\n');
}

/** fmaBlock with B gathered as vec4s: column q = 32g + 4l + t is component t of lane l's bv_g. */
function fmaBlockVec(rm: number, tc: number, indent: string): string {
  const L: string[] = [];
  for (let q = 0; q < tc; q++) {
    L.push(
      `${indent}{ let bq = subgroupBroadcast(bv${Math.floor(q / 32)}.${'xyzw'[q % 4]}, ${Math.floor((q % 32) / 4)}u);`,
    );
    for (let i = 0; i < rm; i++) L.push(`${indent}  acc${i}_${q} = fma(a${i}, bq, acc${i}_${q});`);
    L.push(`${indent}}`);
  }
  return L.join('\n');
}

/** `for (v = 0; v < count; v++) body(v)` with `unroll` copies of the body per iteration. */
function unrolledLoop(
  v: string,
  count: number,
  unroll: number,
  body: (v: string, ind: string) => string[],
  ind: string,
): string[] {
  const u = Math.max(1, Math.min(unroll, count));
  const main = count - (count % u);
  const L: string[] = [];
  if (main > 0) {
    L.push(`${ind}for (var ${v}0 = 0u; ${v}0 < ${main}u; ${v}0 += ${u}u) {`);
    for (let k = 0; k < u; k++)
      L.push(`${ind}  {`, `${ind}    let ${v} = ${v}0 + ${k}u;`, ...body(v, `${ind}    `), `${ind}  }`);
    L.push(`${ind}}`);
  }
  for (let k = main; k < count; k++) L.push(`${ind}{`, `${ind}  let ${v} = ${k}u;`, ...body(v, `${ind}  `), `${ind}}`);
  return L;
}

function accDecl(rm: number, tc: number): string {
  const L: string[] = [];
  for (let i = 0; i < rm; i++)
    L.push(`  var ${Array.from({ length: tc }, (_, q) => `acc${i}_${q} = 0.0`).join('; var ')};`);
  return L.join('\n');
}

function header(cfg: SubgroupConfig, rows: number): string {
  const { rm, tc, sgs } = cfg;
  const L = [
    `  let sg = li / ${SUBGROUP_SIZE}u;`,
    `  let c0 = (wid.x * ${sgs}u + sg) * ${tc}u;`,
    `  let mbase = wid.y * ${SUBGROUP_SIZE * rm}u + lane * ${rm}u;`,
  ];
  // Rows past the end read row rows-1 (harmless) and are not stored.
  for (let i = 0; i < rm; i++) L.push(`  let m${i} = min(mbase + ${i}u, ${rows - 1}u);`);
  return L.join('\n');
}

/** The entry point's builtins of every subgroup GEMM (and the row-window kernel). */
export const SUBGROUP_BUILTINS = {
  li: 'local_invocation_index',
  lane: 'subgroup_invocation_id',
  wid: 'workgroup_id',
} as const;

/**
 * Plain kernel, one tap (1x1 convolutions, or an input-gradient phase of one): whether the B
 * row of a channel is a contiguous slice of the source (no offset, no stride, images of whole
 * vec4s), so lane l can gather the vec4 of columns 4l .. 4l+3 (SubgroupConfig.vecIn).
 */
export function plainVecIn(p: ConvLike, cfg: SubgroupConfig): boolean {
  const pix = p.colsY * p.colsX;
  return (
    cfg.vecIn &&
    p.ty.count * p.tx.count === 1 &&
    p.ay === 1 &&
    p.ax === 1 &&
    p.ty.c0 === 0 &&
    p.tx.c0 === 0 &&
    p.srcW === p.colsX &&
    p.srcH === p.colsY &&
    pix % 4 === 0 &&
    cfg.tc % 4 === 0
  );
}

/**
 * Plain kernel: whether the output is dense in column order (a forward), so 4 neighbouring columns store as
 * one vec4.
 */
export function plainVecOut(p: ConvLike, cfg: SubgroupConfig): boolean {
  const pix = p.colsY * p.colsX;
  return (
    cfg.vecOut &&
    p.sy === 1 &&
    p.sx === 1 &&
    p.y0 === 0 &&
    p.x0 === 0 &&
    p.outW === p.colsX &&
    p.outH === p.colsY &&
    pix % 4 === 0 &&
    cfg.tc % 4 === 0
  );
}

function convLikeKernel(p: ConvLike, cfg: SubgroupConfig): string {
  const { rm, tc } = cfg;
  const nb = tc / SUBGROUP_SIZE;
  const pix = p.colsY * p.colsX;
  const srcHW = p.srcH * p.srcW;
  const vecIn = plainVecIn(p, cfg);
  // vec4 gathers: lane l of gather g holds columns 32g + 4l .. +3 of the tile.
  const nv = Math.ceil(tc / (4 * SUBGROUP_SIZE));
  const L: string[] = [header(cfg, p.m)];
  if (vecIn) {
    for (let g = 0; g < nv; g++) {
      L.push(`  let colv${g} = c0 + ${32 * g}u + lane * 4u;`);
      L.push(`  let okv${g} = colv${g} < params.ncols && ${32 * g}u + lane * 4u < ${tc}u;`);
      L.push(
        `  let ov${g} = select(0u, ((colv${g} / ${u32l(pix)}) * ${u32l(p.c * srcHW)} + ` +
          `colv${g} % ${u32l(pix)}) / 4u, okv${g});`,
      );
    }
  } else {
    for (let j = 0; j < nb; j++) {
      L.push(`  let col${j} = c0 + lane + ${j * SUBGROUP_SIZE}u;`);
      L.push(`  let ok${j} = col${j} < params.ncols;`);
      L.push(`  let n${j} = col${j} / ${u32l(pix)}; let r${j} = col${j} % ${u32l(pix)};`);
      L.push(
        `  let sy${j} = i32((r${j} / ${u32l(p.colsX)}) * ${u32l(p.ay)}); ` +
          `let sx${j} = i32((r${j} % ${u32l(p.colsX)}) * ${u32l(p.ax)});`,
      );
      L.push(`  let base${j} = n${j} * ${u32l(p.c * srcHW)};`);
    }
  }
  L.push(accDecl(rm, tc));
  const tapBody = (ky: string, kx: string, cy: string, cx: string, ind: string) => {
    if (!vecIn) {
      for (let j = 0; j < nb; j++) {
        L.push(`${ind}let y${j} = sy${j} + ${cy}; let x${j} = sx${j} + ${cx};`);
        L.push(
          `${ind}let v${j} = ok${j} && y${j} >= 0 && y${j} < ${i32l(p.srcH)} && x${j} >= 0 && x${j} < ${i32l(p.srcW)};`,
        );
        L.push(`${ind}let o${j} = select(0u, base${j} + u32(y${j}) * ${u32l(p.srcW)} + u32(x${j}), v${j});`);
      }
    }
    for (let i = 0; i < rm; i++) L.push(`${ind}let w${i} = m${i} * ${u32l(p.wsm)} + ${ky} * ${u32l(p.kw)} + ${kx};`);
    L.push(
      ...unrolledLoop(
        'c',
        p.c,
        cfg.unrollK,
        (c, ind2) => [
          ...(vecIn
            ? Array.from(
                { length: nv },
                (_, g) => `${ind2}let bv${g} = select(vec4f(0.0), b_src[ov${g} + ${c} * ${u32l(srcHW / 4)}], okv${g});`,
              )
            : Array.from(
                { length: nb },
                (_, j) => `${ind2}let b${j} = select(0.0, b_src[o${j} + ${c} * ${u32l(srcHW)}], v${j});`,
              )),
          ...Array.from({ length: rm }, (_, i) => `${ind2}let a${i} = a_src[w${i} + ${c} * ${u32l(p.wsc)}];`),
          vecIn ? fmaBlockVec(rm, tc, ind2) : fmaBlock(rm, tc, ind2),
        ],
        ind,
      ),
    );
  };
  const taps = p.ty.count * p.tx.count;
  if (taps > 0) {
    L.push(`  for (var t = 0u; t < ${u32l(taps)}; t++) {`);
    L.push(`    let ta = t / ${u32l(p.tx.count)}; let tb = t % ${u32l(p.tx.count)};`);
    L.push(
      `    let ky = ${u32l(p.ty.k0)} + ta * ${u32l(p.ty.kstep)}; let kx = ${u32l(p.tx.k0)} + tb * ${u32l(p.tx.kstep)};`,
    );
    L.push(
      `    let cy = ${i32l(p.ty.c0)} + i32(ta) * ${i32l(p.ty.cstep)}; ` +
        `let cx = ${i32l(p.tx.c0)} + i32(tb) * ${i32l(p.tx.cstep)};`,
    );
    tapBody('ky', 'kx', 'cy', 'cx', '    ');
    L.push('  }');
  }
  const hw = p.outH * p.outW;
  if (plainVecOut(p, cfg)) {
    // Columns c0 + q .. q+3 (q % 4 == 0) are one aligned vec4 of an output plane.
    for (let q = 0; q < tc; q += 4) {
      L.push(`  { let col = c0 + ${q}u; if (col < params.ncols) {`);
      L.push(`    let o = (${u32l(hw)} * ((col / ${u32l(pix)}) * ${u32l(p.m)}) + col % ${u32l(pix)}) / 4u;`);
      for (let i = 0; i < rm; i++) {
        L.push(
          `    if (mbase + ${i}u < ${u32l(p.m)}) { out[o + m${i} * ${u32l(hw / 4)}] = ` +
            `vec4f(acc${i}_${q}, acc${i}_${q + 1}, acc${i}_${q + 2}, acc${i}_${q + 3}); }`,
        );
      }
      L.push(`  } }`);
    }
    return L.join('\n');
  }
  // Store: column q of the tile, rows m_i.
  for (let q = 0; q < tc; q++) {
    L.push(`  { let col = c0 + ${q}u; if (col < params.ncols) {`);
    L.push(
      `    let n = col / ${u32l(pix)}; let r = col % ${u32l(pix)}; ` +
        `let ty = r / ${u32l(p.colsX)}; let tx = r % ${u32l(p.colsX)};`,
    );
    L.push(
      `    let o = ${u32l(hw)} * (n * ${u32l(p.m)}) + (${u32l(p.y0)} + ty * ${u32l(p.sy)}) * ${u32l(p.outW)} + ` +
        `${u32l(p.x0)} + tx * ${u32l(p.sx)};`,
    );
    for (let i = 0; i < rm; i++) {
      L.push(`    if (mbase + ${i}u < ${u32l(p.m)}) { out[o + m${i} * ${u32l(hw)}] = acc${i}_${q}; }`);
    }
    L.push(`  } }`);
  }
  return L.join('\n');
}

/** Whether the window kernel for `p` stores vec4s (SubgroupConfig.vecOut). */
export function windowVecOut(p: ConvLike, cfg: SubgroupConfig): boolean {
  const { width } = windowShape(p, cfg.tc);
  return (
    cfg.window && cfg.vecOut && width % 4 === 0 && p.sx === 1 && p.x0 === 0 && p.outW % 4 === 0 && p.colsX % 4 === 0
  );
}

/** Window mode: a tile is `rows` image rows of `width` neighbouring columns (width*rows = tc). */
export function windowShape(p: ConvLike, tc: number): { width: number; rows: number } {
  let width = tc;
  while (width > SUBGROUP_SIZE && width / 2 >= p.colsX) width /= 2;
  return { width, rows: tc / width };
}

/** Column tiles of a conv-like GEMM in window mode for a batch of n. */
export function windowTiles(p: ConvLike, tc: number, n: number): number {
  const { width, rows } = windowShape(p, tc);
  return n * Math.ceil(p.colsY / rows) * Math.ceil(p.colsX / width);
}

/**
 * The opening of the window kernels (this file's and row-window.ts): subgroup sg of the
 * workgroup takes tile wid.x * sgs + sg, a TR x TW block of image n's output columns at
 * (ty0, tx0); nOk is false past the batch; lane rows start at mbase.
 */
export function windowTileHeader(t: {
  sgs: number;
  rm: number;
  tilesX: number;
  tilesY: number;
  TR: number;
  TW: number;
  colsPerImage: number;
}): string[] {
  const per = t.tilesX * t.tilesY;
  return [
    `  let sg = li / ${SUBGROUP_SIZE}u;`,
    `  let tile = wid.x * ${t.sgs}u + sg;`,
    `  let n = tile / ${u32l(per)}; let tr = tile % ${u32l(per)};`,
    `  let ty0 = (tr / ${u32l(t.tilesX)}) * ${u32l(t.TR)};`,
    `  let tx0 = (tr % ${u32l(t.tilesX)}) * ${u32l(t.TW)};`,
    `  let nOk = n * ${u32l(t.colsPerImage)} < params.ncols;`,
    `  let mbase = wid.y * ${SUBGROUP_SIZE * t.rm}u + lane * ${t.rm}u;`,
  ];
}

function convLikeWindowKernel(p: ConvLike, cfg: SubgroupConfig): string {
  const { rm, tc, sgs } = cfg;
  const { width: TW, rows: TR } = windowShape(p, tc);
  const srcHW = p.srcH * p.srcW;
  const tilesX = Math.ceil(p.colsX / TW);
  const tilesY = Math.ceil(p.colsY / TR);
  const cx = (b: number) => p.tx.c0 + b * p.tx.cstep;
  const cxs = Array.from({ length: p.tx.count }, (_, b) => cx(b));
  const cxmin = Math.min(...cxs);
  const segLen = (TW - 1) * p.ax + Math.max(...cxs) - cxmin + 1;
  const G = Math.ceil(segLen / SUBGROUP_SIZE);
  const L = windowTileHeader({ sgs, rm, tilesX, tilesY, TR, TW, colsPerImage: p.colsY * p.colsX });
  // With packed uniform weights a dispatch covers the rows of its chunks from params.row0
  // (weight-chunks.ts): m_i is the global row, md_i the row within the dispatch, ml_i within the chunk.
  const ubo = cfg.uboRows > 0;
  const chunks = weightChunks(p.m, ubo ? cfg.uboRows : p.m, SUBGROUP_SIZE * rm);
  const R = dispatchRows(chunks);
  L.push(...chunkRowLines(chunks, rm));
  for (let i = 0; i < rm; i++) L.push(`  let m${i} = ${ubo ? `params.row0 + md${i}` : `md${i}`};`);
  L.push(`  let base = n * ${u32l(p.c * srcHW)};`);
  // Segment element e = lane + 8g of every tile row sits at source column tx0*ax + cxmin + e.
  for (let g = 0; g < G; g++) {
    L.push(`  let sx${g} = i32(tx0 * ${u32l(p.ax)}) + ${i32l(cxmin)} + i32(lane + ${g * SUBGROUP_SIZE}u);`);
    L.push(
      `  let xv${g} = nOk && sx${g} >= 0 && sx${g} < ${i32l(p.srcW)} && lane + ${g * SUBGROUP_SIZE}u < ${segLen}u;`,
    );
  }
  L.push(accDecl(rm, tc));
  if (p.ty.count > 0 && p.tx.count > 0) {
    // The reduction over kernel rows and source channels, reading packed weights from binding `wq`.
    const reduction = (wq: string): string[] => {
      const B: string[] = [];
      B.push(`  for (var ta = 0u; ta < ${u32l(p.ty.count)}; ta++) {`);
      B.push(`    let ky = ${u32l(p.ty.k0)} + ta * ${u32l(p.ty.kstep)};`);
      for (let r = 0; r < TR; r++) {
        B.push(
          `    let sy${r} = i32((ty0 + ${r}u) * ${u32l(p.ay)}) + ${i32l(p.ty.c0)} + i32(ta) * ${i32l(p.ty.cstep)};`,
        );
        B.push(`    let yv${r} = ty0 + ${r}u < ${u32l(p.colsY)} && sy${r} >= 0 && sy${r} < ${i32l(p.srcH)};`);
        B.push(`    let rb${r} = base + u32(select(0, sy${r}, yv${r})) * ${u32l(p.srcW)};`);
        for (let g = 0; g < G; g++) {
          B.push(`    let v${r}_${g} = yv${r} && xv${g};`);
          B.push(`    let o${r}_${g} = select(0u, rb${r} + u32(sx${g}), v${r}_${g});`);
        }
      }
      if (!ubo) for (let i = 0; i < rm; i++) B.push(`    let w${i} = m${i} * ${u32l(p.wsm)} + ky * ${u32l(p.kw)};`);
      B.push(`    for (var c = 0u; c < ${u32l(p.c)}; c++) {`);
      if (ubo) {
        for (let i = 0; i < rm; i++)
          B.push(`      let wv${i} = ${wq}[(ml${i} * ${u32l(p.c)} + c) * ${u32l(p.kh)} + ky];`);
      }
      for (let r = 0; r < TR; r++) {
        for (let g = 0; g < G; g++)
          B.push(`      let s${r}_${g} = select(0.0, b_src[o${r}_${g} + c * ${u32l(srcHW)}], v${r}_${g});`);
      }
      for (let b = 0; b < p.tx.count; b++) {
        const kx = p.tx.k0 + b * p.tx.kstep;
        B.push('      {');
        for (let i = 0; i < rm; i++) {
          B.push(
            ubo
              ? `        let a${i} = wv${i}.${'xyzw'[kx]};`
              : `        let a${i} = a_src[w${i} + c * ${u32l(p.wsc)} + ${u32l(kx)}];`,
          );
        }
        for (let q = 0; q < tc; q++) {
          const r = Math.floor(q / TW);
          const e = (q % TW) * p.ax + cx(b) - cxmin;
          B.push(
            `        { let bq = subgroupBroadcast(s${r}_${Math.floor(e / SUBGROUP_SIZE)}, ${e % SUBGROUP_SIZE}u);`,
          );
          for (let i = 0; i < rm; i++) B.push(`          acc${i}_${q} = fma(a${i}, bq, acc${i}_${q});`);
          B.push('        }');
        }
        B.push('      }');
      }
      B.push('    }');
      B.push('  }');
      return B;
    };
    L.push(...chunkSwitch(chunks, reduction));
  }
  const outHW = p.outH * p.outW;
  L.push(`  let obase = ${u32l(outHW)} * (n * ${u32l(p.m)});`);
  if (windowVecOut(p, cfg)) {
    // Columns tx0 + x .. + 3 of a row are one aligned vec4 of the output row (x0 = 0, sx = 1).
    for (let r = 0; r < TR; r++) {
      for (let x = 0; x < TW; x += 4) {
        L.push(
          `  { let ty = ty0 + ${r}u; let tx = tx0 + ${x}u; ` +
            `if (nOk && ty < ${u32l(p.colsY)} && tx < ${u32l(p.colsX)}) {`,
        );
        L.push(`    let o = (obase + (${u32l(p.y0)} + ty * ${u32l(p.sy)}) * ${u32l(p.outW)} + tx) / 4u;`);
        for (let i = 0; i < rm; i++) {
          const q = r * TW + x;
          L.push(
            `    if (mbase + ${i}u < ${u32l(R)}) { out[o + m${i} * ${u32l(outHW / 4)}] = ` +
              `vec4f(acc${i}_${q}, acc${i}_${q + 1}, acc${i}_${q + 2}, acc${i}_${q + 3}); }`,
          );
        }
        L.push('  } }');
      }
    }
    return L.join('\n');
  }
  for (let q = 0; q < tc; q++) {
    const r = Math.floor(q / TW);
    const x = q % TW;
    L.push(
      `  { let ty = ty0 + ${r}u; let tx = tx0 + ${x}u; if (nOk && ty < ${u32l(p.colsY)} && tx < ${u32l(p.colsX)}) {`,
    );
    L.push(
      `    let o = obase + (${u32l(p.y0)} + ty * ${u32l(p.sy)}) * ${u32l(p.outW)} + ` +
        `${u32l(p.x0)} + tx * ${u32l(p.sx)};`,
    );
    for (let i = 0; i < rm; i++)
      L.push(`    if (mbase + ${i}u < ${u32l(R)}) { out[o + m${i} * ${u32l(outHW)}] = acc${i}_${q}; }`);
    L.push('  } }');
  }
  return L.join('\n');
}

/** Weight grad: stores the tile (column c0 + q, rows m_i) into reduction part wid.z of out [parts, cout, ncol]. */
function weightGradStores(rm: number, tc: number, ncol: number, cout: number): string {
  const L: string[] = [];
  for (let q = 0; q < tc; q++) {
    L.push(`  { let col = c0 + ${q}u; if (col < ${u32l(ncol)}) {`);
    for (let i = 0; i < rm; i++) {
      L.push(
        `    if (mbase + ${i}u < ${u32l(cout)}) { ` +
          `out[(wid.z * ${u32l(cout)} + m${i}) * ${u32l(ncol)} + col] = acc${i}_${q}; }`,
      );
    }
    L.push(`  } }`);
  }
  return L.join('\n');
}

function weightGradKernel(p: GemmProblem & { kind: 'wgrad' }, cfg: SubgroupConfig): string {
  const { rm, tc } = cfg;
  const g = p.g;
  const nb = tc / SUBGROUP_SIZE;
  const kk = g.kh * g.kw;
  const ncol = g.cin * kk;
  const howo = g.ho * g.wo;
  const L: string[] = [header(cfg, g.cout)];
  for (let j = 0; j < nb; j++) {
    L.push(`  let col${j} = c0 + lane + ${j * SUBGROUP_SIZE}u;`);
    L.push(`  let okc${j} = col${j} < ${u32l(ncol)};`);
    L.push(`  let t${j} = col${j} % ${u32l(kk)};`);
    L.push(`  let cb${j} = min(col${j} / ${u32l(kk)}, ${u32l(g.cin - 1)}) * ${u32l(g.h * g.w)};`);
    L.push(
      `  let dy${j} = i32(t${j} / ${u32l(g.kw)}) - ${i32l(g.ph)}; ` +
        `let dx${j} = i32(t${j} % ${u32l(g.kw)}) - ${i32l(g.pw)};`,
    );
  }
  L.push(accDecl(rm, tc));
  // The reduction runs over output rows r = (n, oy), Wo pixels each.
  L.push(`  let rbeg = wid.z * params.kchunk;`);
  L.push(`  let rend = min(rbeg + params.kchunk, params.ktotal);`);
  L.push(`  for (var r = rbeg; r < rend; r++) {`);
  L.push(`    let n = r / ${u32l(g.ho)}; let oy = r % ${u32l(g.ho)};`);
  for (let i = 0; i < rm; i++)
    L.push(`    let ar${i} = (n * ${u32l(g.cout)} + m${i}) * ${u32l(howo)} + oy * ${u32l(g.wo)};`);
  for (let j = 0; j < nb; j++) {
    L.push(`    let iy${j} = i32(oy * ${u32l(g.sh)}) + dy${j};`);
    L.push(`    let rv${j} = okc${j} && iy${j} >= 0 && iy${j} < ${i32l(g.h)};`);
    L.push(`    let rb${j} = n * ${u32l(g.cin * g.h * g.w)} + cb${j} + u32(select(0, iy${j}, rv${j})) * ${u32l(g.w)};`);
  }
  L.push(
    ...unrolledLoop(
      'ox',
      g.wo,
      cfg.unrollK,
      (ox, ind) => {
        const B: string[] = [];
        for (let i = 0; i < rm; i++) B.push(`${ind}let a${i} = a_src[ar${i} + ${ox}];`);
        for (let j = 0; j < nb; j++) {
          B.push(`${ind}let ix${j} = i32(${ox} * ${u32l(g.sw)}) + dx${j};`);
          B.push(`${ind}let v${j} = rv${j} && ix${j} >= 0 && ix${j} < ${i32l(g.w)};`);
          B.push(`${ind}let b${j} = select(0.0, b_src[select(0u, rb${j} + u32(ix${j}), v${j})], v${j});`);
        }
        B.push(fmaBlock(rm, tc, ind));
        return B;
      },
      '    ',
    ),
  );
  L.push(`  }`);
  L.push(weightGradStores(rm, tc, ncol, g.cout));
  return L.join('\n');
}

/** Columns per subgroup tile of a weight-gradient GEMM (the pair window fixes them to whole kernel rows). */
export function weightGradTileCols(p: GemmProblem & { kind: 'wgrad' }, cfg: SubgroupConfig): number {
  return cfg.wpairs > 0 ? cfg.wpairs * p.g.kw : cfg.tc;
}

/** Whether the pair-window weight-gradient kernel reads dy as vec4. */
export function weightGradVecA(p: GemmProblem & { kind: 'wgrad' }, cfg: SubgroupConfig): boolean {
  const ob = Math.min(SUBGROUP_SIZE, p.g.wo);
  return cfg.avec && cfg.wpairs > 0 && ob % 4 === 0 && p.g.wo % ob === 0;
}

// Weight grad with the pair window (see SubgroupConfig.wpairs). Column q = pair * kw + kx of
// the tile; pair pr = c * kh + ky. Output pixel ox = ox0 + o of a block reads input column
// ox * sw - pw + kx. With stride sw the segment is gathered in sw phases of stride sw (a 1x1
// stride-2 conv gathers 8 useful elements per lane-gather, not 8 of 15).
function weightGradWindowKernel(p: GemmProblem & { kind: 'wgrad' }, cfg: SubgroupConfig): string {
  const { rm, sgs } = cfg;
  const g = p.g;
  const P = cfg.wpairs;
  const tc = P * g.kw;
  const OB = Math.min(SUBGROUP_SIZE, g.wo);
  // Phase f < sw holds the taps kx = f + sw*j; its segment element e sits at input column
  // (ox0 + e) * sw + f - pw, and tap j of pixel o reads element o + j.
  const phases = Array.from({ length: Math.min(g.sw, g.kw) }, (_, f) => {
    const taps = Math.ceil((g.kw - f) / g.sw);
    return { f, G: Math.ceil((OB + taps - 1) / SUBGROUP_SIZE) };
  });
  const kk = g.kh * g.kw;
  const ncol = g.cin * kk;
  const npairs = g.cin * g.kh;
  const howo = g.ho * g.wo;
  const hw = g.h * g.w;
  const L: string[] = [
    `  let sg = li / ${SUBGROUP_SIZE}u;`,
    `  let c0 = (wid.x * ${sgs}u + sg) * ${tc}u;`,
    `  let p0 = (wid.x * ${sgs}u + sg) * ${P}u;`,
    `  let mbase = wid.y * ${SUBGROUP_SIZE * rm}u + lane * ${rm}u;`,
  ];
  for (let i = 0; i < rm; i++) L.push(`  let m${i} = min(mbase + ${i}u, ${g.cout - 1}u);`);
  // Flat (stride 1): element e = q * SEGT + t of the pairs' segments is lane e % 8 of gather
  // e / 8. Strided ones keep a gather per phase segment: flat measured no clear win there.
  const flat = cfg.flatSeg && g.sw === 1;
  const SEGT = OB + g.kw - 1;
  const NF = Math.ceil((P * SEGT) / SUBGROUP_SIZE);
  if (flat) {
    // Per lane of gather j: its pair fq and its column ft from ox0.
    for (let j = 0; j < NF; j++) {
      L.push(`  let fe${j} = lane + ${j * SUBGROUP_SIZE}u; let ft${j} = fe${j} % ${SEGT}u;`);
      L.push(`  let fq${j} = p0 + fe${j} / ${SEGT}u;`);
      L.push(`  let fpv${j} = fe${j} < ${P * SEGT}u && fq${j} < ${u32l(npairs)};`);
      L.push(`  let fpr${j} = min(fq${j}, ${u32l(npairs - 1)});`);
      L.push(
        `  let fpc${j} = (fpr${j} / ${u32l(g.kh)}) * ${u32l(hw)}; ` +
          `let fpy${j} = i32(fpr${j} % ${u32l(g.kh)}) - ${i32l(g.ph)};`,
      );
    }
  } else {
    for (let q = 0; q < P; q++) {
      L.push(`  let pv${q} = p0 + ${q}u < ${u32l(npairs)};`);
      L.push(`  let pr${q} = min(p0 + ${q}u, ${u32l(npairs - 1)});`);
      L.push(
        `  let pc${q} = (pr${q} / ${u32l(g.kh)}) * ${u32l(hw)}; ` +
          `let py${q} = i32(pr${q} % ${u32l(g.kh)}) - ${i32l(g.ph)};`,
      );
    }
  }
  L.push(accDecl(rm, tc));
  L.push(`  let rbeg = wid.z * params.kchunk;`);
  L.push(`  let rend = min(rbeg + params.kchunk, params.ktotal);`);
  L.push(`  for (var r = rbeg; r < rend; r++) {`);
  L.push(`    let n = r / ${u32l(g.ho)}; let oy = r % ${u32l(g.ho)};`);
  for (let i = 0; i < rm; i++)
    L.push(`    let ar${i} = (n * ${u32l(g.cout)} + m${i}) * ${u32l(howo)} + oy * ${u32l(g.wo)};`);
  L.push(`    let nb = n * ${u32l(g.cin * hw)};`);
  // The source row of each pair (flat: of each lane's pair).
  const [rows, py, pv, pc] = flat ? [NF, 'fpy', 'fpv', 'fpc'] : [P, 'py', 'pv', 'pc'];
  for (let q = 0; q < rows; q++) {
    L.push(`    let iy${q} = i32(oy * ${u32l(g.sh)}) + ${py}${q};`);
    L.push(`    let rv${q} = ${pv}${q} && iy${q} >= 0 && iy${q} < ${i32l(g.h)};`);
    L.push(`    let rb${q} = nb + ${pc}${q} + u32(select(0, iy${q}, rv${q})) * ${u32l(g.w)};`);
  }
  L.push(`    for (var ox0 = 0u; ox0 < ${u32l(g.wo)}; ox0 += ${OB}u) {`);
  if (flat) {
    for (let j = 0; j < NF; j++) {
      L.push(`      let fx${j} = i32(ox0 + ft${j}) - ${i32l(g.pw)};`);
      L.push(`      let fv${j} = rv${j} && fx${j} >= 0 && fx${j} < ${i32l(g.w)};`);
      L.push(`      let f${j} = select(0.0, b_src[select(0u, rb${j} + u32(fx${j}), fv${j})], fv${j});`);
    }
  } else {
    for (const { f, G } of phases) {
      for (let k = 0; k < G; k++) {
        L.push(
          `      let ix${f}_${k} = i32((ox0 + lane + ${k * SUBGROUP_SIZE}u) * ${u32l(g.sw)} + ` +
            `${u32l(f)}) - ${i32l(g.pw)};`,
        );
        L.push(`      let xv${f}_${k} = ix${f}_${k} >= 0 && ix${f}_${k} < ${i32l(g.w)};`);
        L.push(`      let xo${f}_${k} = u32(select(0, ix${f}_${k}, xv${f}_${k}));`);
      }
    }
    for (let q = 0; q < P; q++) {
      for (const { f, G } of phases) {
        for (let k = 0; k < G; k++) {
          L.push(`      let v${q}_${f}_${k} = rv${q} && xv${f}_${k};`);
          L.push(
            `      let s${q}_${f}_${k} = ` +
              `select(0.0, b_src[select(0u, rb${q} + xo${f}_${k}, v${q}_${f}_${k})], v${q}_${f}_${k});`,
          );
        }
      }
    }
  }
  const partial = g.wo % OB !== 0;
  const vec = weightGradVecA(p, cfg);
  if (vec) {
    for (let i = 0; i < rm; i++) {
      for (let v = 0; v < OB / 4; v++) L.push(`      let av${i}_${v} = a_src[(ar${i} + ox0) / 4u + ${v}u];`);
    }
  }
  for (let o = 0; o < OB; o++) {
    L.push('      {');
    if (vec) {
      for (let i = 0; i < rm; i++) L.push(`        let a${i} = av${i}_${o >> 2}.${'xyzw'[o & 3]};`);
    } else if (partial) {
      L.push(`        let ov = ox0 + ${o}u < ${u32l(g.wo)};`);
      for (let i = 0; i < rm; i++)
        L.push(`        let a${i} = select(0.0, a_src[select(0u, ar${i} + ox0 + ${o}u, ov)], ov);`);
    } else {
      for (let i = 0; i < rm; i++) L.push(`        let a${i} = a_src[ar${i} + ox0 + ${o}u];`);
    }
    for (let q = 0; q < P; q++) {
      for (let kx = 0; kx < g.kw; kx++) {
        const f = kx % g.sw;
        const e = o + Math.floor(kx / g.sw);
        const col = q * g.kw + kx;
        const fe = q * SEGT + e;
        const [seg, ln] = flat
          ? [`f${Math.floor(fe / SUBGROUP_SIZE)}`, fe % SUBGROUP_SIZE]
          : [`s${q}_${f}_${Math.floor(e / SUBGROUP_SIZE)}`, e % SUBGROUP_SIZE];
        L.push(`        { let bq = subgroupBroadcast(${seg}, ${ln}u);`);
        for (let i = 0; i < rm; i++) L.push(`          acc${i}_${col} = fma(a${i}, bq, acc${i}_${col});`);
        L.push('        }');
      }
    }
    L.push('      }');
  }
  L.push('    }');
  L.push('  }');
  L.push(weightGradStores(rm, tc, ncol, g.cout));
  return L.join('\n');
}

export function subgroupKernel(name: string, p: GemmProblem, cfg: SubgroupConfig = DEFAULT_SUBGROUP): AnyKernel {
  const body =
    p.kind === 'wgrad'
      ? cfg.wpairs > 0
        ? weightGradWindowKernel(p, cfg)
        : weightGradKernel(p, cfg)
      : cfg.window
        ? convLikeWindowKernel(p, cfg)
        : convLikeKernel(p, cfg);
  const vecA = p.kind === 'wgrad' && weightGradVecA(p, cfg);
  const ubo = p.kind === 'convlike' && cfg.window && cfg.uboRows > 0;
  const vecOut = p.kind === 'convlike' && (cfg.window ? windowVecOut(p, cfg) : plainVecOut(p, cfg));
  const vecIn = p.kind === 'convlike' && !cfg.window && plainVecIn(p, cfg);
  return defineKernel({
    name,
    // With packed uniform weights a dispatch covers the rows of its chunks from row0.
    params: ubo ? { ...GEMM_PARAMS, row0: 'u32' } : GEMM_PARAMS,
    bindings: gemmBindings({
      a: vecA ? 'vec4f' : 'f32',
      b: vecIn ? 'vec4f' : 'f32',
      out: vecOut ? 'vec4f' : 'f32',
      wq: ubo ? cfg.uboRows * (p as ConvLike).c * (p as ConvLike).kh : 0,
      wqChunks: ubo ? weightChunks((p as ConvLike).m, cfg.uboRows, SUBGROUP_SIZE * cfg.rm) : undefined,
    }),
    enables: ['subgroups'],
    workgroupSize: cfg.sgs * SUBGROUP_SIZE,
    builtins: SUBGROUP_BUILTINS,
    body,
  });
}
