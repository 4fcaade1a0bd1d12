// The classic shared-memory tiled implicit GEMM, for real GPUs: a workgroup stages a TK-deep
// slice of an A tile [TM x TK] and a B tile [TK x TN] in workgroup memory, then each invocation
// accumulates an RM x RN register block from it. The operands are read through generated
// accessors (loadA, loadB, storeC) specialized on the convolution's constants.

import { defineKernel, type AnyKernel, type BindingDecl, type ParamType } from '../common/kernel.js';
import { i32l, u32l, type ConvLike, type GemmProblem } from './gemm.js';
import { chunkBindings, type WeightChunks } from './weight-chunks.js';

export interface TileConfig {
  tm: number;
  tn: number;
  tk: number;
  rm: number;
  rn: number;
}

export const DEFAULT_TILE: TileConfig = { tm: 32, tn: 64, tk: 16, rm: 4, rn: 4 };

/** The GEMM's columns (ncols) and its reduction: ktotal units in chunks of kchunk, one per workgroup layer. */
export const GEMM_PARAMS = { ncols: 'u32', ktotal: 'u32', kchunk: 'u32' } as const;

export interface GemmBindingTypes {
  /** Element types of A (weights), B (the gathered source) and out; f32 unless given. */
  a?: string;
  b?: string;
  out?: string;
  /** > 0: A is packed weights in a uniform array of this many vec4s, bound as `wq` instead of `a_src`. */
  wq?: number;
  /** Packed weights in chunks (weight-chunks.ts): `wq` vec4s in each of the bindings wq0, wq1, ... */
  wqChunks?: WeightChunks;
}

/** The GEMM kernels' bindings: a_src (or wq, or wq0 ..), b_src, out. */
export function gemmBindings(t: GemmBindingTypes = {}): Record<string, BindingDecl> {
  const a: Record<string, BindingDecl> = !t.wq
    ? { a_src: { type: t.a ?? 'f32' } }
    : t.wqChunks
      ? chunkBindings(t.wqChunks, t.wq)
      : { wq: { type: 'vec4f', space: 'uniform', length: t.wq } };
  return { ...a, b_src: { type: t.b ?? 'f32' }, out: { type: t.out ?? 'f32', access: 'read_write' } };
}

export type GemmParams = Record<string, ParamType>;

/** Rows of the GEMM (M). */
export function gemmRows(p: GemmProblem): number {
  return p.kind === 'wgrad' ? p.g.cout : p.m;
}

/** Per-image column count of a conv-like GEMM, or the column count of a weight-grad GEMM. */
export function gemmColsPerImage(p: GemmProblem): number {
  return p.kind === 'wgrad' ? p.g.cin * p.g.kh * p.g.kw : p.colsY * p.colsX;
}

function convLikeAccessors(p: ConvLike): string {
  const taps = p.ty.count * p.tx.count;
  const pix = p.colsY * p.colsX;
  const colDecomp =
    `let n = col / ${u32l(pix)}; let r = col % ${u32l(pix)}; ` +
    `let ty = r / ${u32l(p.colsX)}; let tx = r % ${u32l(p.colsX)};`;
  const outIndex =
    `((n * ${u32l(p.m)} + m) * ${u32l(p.outH)} + ${u32l(p.y0)} + ty * ${u32l(p.sy)}) * ${u32l(p.outW)} + ` +
    `${u32l(p.x0)} + tx * ${u32l(p.sx)}`;
  const store = `fn storeC(m: u32, col: u32, z: u32, v: f32) {
  ${colDecomp}
  out[${outIndex}] = v;
}`;
  if (taps === 0) {
    return `fn loadA(m: u32, k: u32) -> f32 { return 0.0; }
fn loadB(k: u32, col: u32) -> f32 { return 0.0; }
${store}`;
  }
  const tapDecomp =
    `let c = k / ${u32l(taps)}; let t = k % ${u32l(taps)}; ` +
    `let iy = t / ${u32l(p.tx.count)}; let ix = t % ${u32l(p.tx.count)};`;
  const aIndex =
    `m * ${u32l(p.wsm)} + c * ${u32l(p.wsc)} + (${u32l(p.ty.k0)} + iy * ${u32l(p.ty.kstep)}) * ${u32l(p.kw)} + ` +
    `${u32l(p.tx.k0)} + ix * ${u32l(p.tx.kstep)}`;
  return `fn loadA(m: u32, k: u32) -> f32 {
  ${tapDecomp}
  return a_src[${aIndex}];
}
fn loadB(k: u32, col: u32) -> f32 {
  ${tapDecomp}
  ${colDecomp}
  let sy = i32(ty * ${u32l(p.ay)}) + ${i32l(p.ty.c0)} + i32(iy) * ${i32l(p.ty.cstep)};
  let sx = i32(tx * ${u32l(p.ax)}) + ${i32l(p.tx.c0)} + i32(ix) * ${i32l(p.tx.cstep)};
  if (sy < 0 || sy >= ${i32l(p.srcH)} || sx < 0 || sx >= ${i32l(p.srcW)}) { return 0.0; }
  return b_src[((n * ${u32l(p.c)} + c) * ${u32l(p.srcH)} + u32(sy)) * ${u32l(p.srcW)} + u32(sx)];
}
${store}`;
}

function weightGradAccessors(p: GemmProblem & { kind: 'wgrad' }): string {
  const g = p.g;
  const howo = g.ho * g.wo;
  const kk = g.kh * g.kw;
  return `fn loadA(m: u32, k: u32) -> f32 {
  let n = k / ${u32l(howo)}; let r = k % ${u32l(howo)};
  return a_src[(n * ${u32l(g.cout)} + m) * ${u32l(howo)} + r];
}
fn loadB(k: u32, col: u32) -> f32 {
  let ci = col / ${u32l(kk)}; let t = col % ${u32l(kk)}; let ky = t / ${u32l(g.kw)}; let kx = t % ${u32l(g.kw)};
  let n = k / ${u32l(howo)}; let r = k % ${u32l(howo)}; let oy = r / ${u32l(g.wo)}; let ox = r % ${u32l(g.wo)};
  let iy = i32(oy * ${u32l(g.sh)} + ky) - ${i32l(g.ph)};
  let ix = i32(ox * ${u32l(g.sw)} + kx) - ${i32l(g.pw)};
  if (iy < 0 || iy >= ${i32l(g.h)} || ix < 0 || ix >= ${i32l(g.w)}) { return 0.0; }
  return b_src[((n * ${u32l(g.cin)} + ci) * ${u32l(g.h)} + u32(iy)) * ${u32l(g.w)} + u32(ix)];
}
fn storeC(m: u32, col: u32, z: u32, v: f32) {
  out[(z * ${u32l(g.cout)} + m) * ${u32l(g.cin * kk)} + col] = v;
}`;
}

export function accessors(p: GemmProblem): string {
  return p.kind === 'wgrad' ? weightGradAccessors(p) : convLikeAccessors(p);
}

/**
 * Workgroup (x: column tiles, y: row tiles, z: reduction chunks). Invocation (lx, ly) owns rows
 * ly + i*WY and columns lx + j*WX of the tile, so neighbouring invocations touch neighbouring
 * workgroup-memory words.
 */
export function tiledKernel(name: string, p: GemmProblem, cfg: TileConfig = DEFAULT_TILE): AnyKernel {
  const { tm, tn, tk, rm, rn } = cfg;
  const wx = tn / rn;
  const wy = tm / rm;
  const nt = wx * wy;
  const rows = gemmRows(p);
  const L: string[] = [];
  for (let i = 0; i < rm; i++) for (let j = 0; j < rn; j++) L.push(`  var acc${i}_${j} = 0.0;`);
  const decl = L.join('\n');
  const inner: string[] = [];
  for (let i = 0; i < rm; i++) inner.push(`      let a${i} = As[kk * ${tm}u + lid.y + ${i * wy}u];`);
  for (let j = 0; j < rn; j++) inner.push(`      let b${j} = Bs[kk * ${tn}u + lid.x + ${j * wx}u];`);
  for (let i = 0; i < rm; i++)
    for (let j = 0; j < rn; j++) inner.push(`      acc${i}_${j} = fma(a${i}, b${j}, acc${i}_${j});`);
  const store: string[] = [];
  for (let i = 0; i < rm; i++) {
    store.push(`  { let m = m0 + lid.y + ${i * wy}u; if (m < ${rows}u) {`);
    for (let j = 0; j < rn; j++)
      store.push(
        `    { let col = c0 + lid.x + ${j * wx}u; if (col < params.ncols) { storeC(m, col, wid.z, acc${i}_${j}); } }`,
      );
    store.push('  } }');
  }
  return defineKernel({
    name,
    params: GEMM_PARAMS,
    bindings: gemmBindings(),
    helpers: `${accessors(p)}
var<workgroup> As: array<f32, ${tk * tm}>;
var<workgroup> Bs: array<f32, ${tk * tn}>;`,
    workgroupSize: [wx, wy],
    builtins: { lid: 'local_invocation_id', wid: 'workgroup_id' },
    body: `  let tid = lid.y * ${wx}u + lid.x;
  let m0 = wid.y * ${tm}u;
  let c0 = wid.x * ${tn}u;
  let kbeg = wid.z * params.kchunk;
  let kend = min(kbeg + params.kchunk, params.ktotal);
${decl}
  for (var kt = kbeg; kt < kend; kt += ${tk}u) {
    for (var i = tid; i < ${tk * tm}u; i += ${nt}u) {
      let k = kt + i / ${tm}u; let m = m0 + i % ${tm}u;
      var v = 0.0;
      if (k < kend && m < ${rows}u) { v = loadA(m, k); }
      As[i] = v;
    }
    for (var i = tid; i < ${tk * tn}u; i += ${nt}u) {
      let k = kt + i / ${tn}u; let col = c0 + i % ${tn}u;
      var v = 0.0;
      if (k < kend && col < params.ncols) { v = loadB(k, col); }
      Bs[i] = v;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < ${tk}u; kk++) {
${inner.join('\n')}
    }
    workgroupBarrier();
  }
${store.join('\n')}`,
  });
}
