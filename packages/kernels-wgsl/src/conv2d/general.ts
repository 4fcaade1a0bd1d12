// Direct convolution kernels for what the tuned implicit-GEMM path (tiled.ts, subgroup.ts, row-window.ts)
// does not take: groups > 1 (depthwise included) and dilation > 1. One invocation per output element
// (forward) or input element (input gradient: a gather over the outputs its taps reach, no atomics), or per
// four of them where rows hold whole vec4s; one workgroup per weight plane [co, cj] (weight gradient: each
// invocation sums every tap over a share of the N*Ho*Wo positions in registers, then one workgroup
// reduction). Kernels are generated per geometry without the batch, so sizes, strides and the kh*kw taps are
// constants and the taps unroll.

import { Tensor } from '@wgtorch/tensor';
import { KernelArgumentError } from '../common/errors.js';
import { grid1d } from '../common/grid.js';
import { defineKernel, memoKernel } from '../common/kernel.js';
import { flatGrid, flatId, vecBinding } from '../elementwise/launch.js';
import type { ConvGeometry } from './geometry.js';

const WG = 64;

/** The geometry without the batch (the memo key of the kernels). */
const planeOf = (g: ConvGeometry): ConvGeometry => ({ ...g, n: 0 });

/** Input channels per group (the weight's second dimension) and output channels per group. */
const perGroup = (g: ConvGeometry) => ({ cpg: g.cin / g.groups, opg: g.cout / g.groups, kk: g.kh * g.kw });

/**
 * WGSL declaring, per tap row and column, the clamped offset into the source plane and whether the tap is
 * inside it: `r{ky}`/`okr{ky}` and `c{kx}`/`okc{kx}`. `rowPos(k)`/`colPos(k)` are tap k's i32 coordinates.
 */
function tapOffsets(g: ConvGeometry, rowPos: (k: number) => string, colPos: (k: number) => string): string {
  const L: string[] = [];
  for (let k = 0; k < g.kh; k++) {
    L.push(`  let py${k} = ${rowPos(k)};`);
    L.push(`  let okr${k} = py${k} >= 0 && py${k} < ${g.h};`);
    L.push(`  let r${k} = u32(clamp(py${k}, 0, ${g.h - 1})) * ${g.w}u;`);
  }
  for (let k = 0; k < g.kw; k++) {
    L.push(`  let px${k} = ${colPos(k)};`);
    L.push(`  let okc${k} = px${k} >= 0 && px${k} < ${g.w};`);
    L.push(`  let c${k} = u32(clamp(px${k}, 0, ${g.w - 1}));`);
  }
  return L.join('\n');
}

/** Tap k's input row and column for output row `oy` and column `ox` (i32 WGSL). */
const rowOf = (g: ConvGeometry) => (k: number) => `oy * ${g.sh} + ${k * g.dilh - g.ph}`;
const colOf = (g: ConvGeometry) => (k: number) => `ox * ${g.sw} + ${k * g.dilw - g.pw}`;

/** A loop over `count` values of `v` (u32), or the single value 0 without a loop. */
function loop(v: string, count: number, body: string | string[]): string {
  if (Array.isArray(body)) body = body.join('\n');
  return count === 1
    ? `  { let ${v} = 0u;\n${body}\n  }`
    : `  for (var ${v} = 0u; ${v} < ${count}u; ${v}++) {\n${body}\n  }`;
}

const forwardKernel = memoKernel((g: ConvGeometry) => {
  const { cpg, opg, kk } = perGroup(g);
  const taps: string[] = [];
  for (let ky = 0; ky < g.kh; ky++)
    for (let kx = 0; kx < g.kw; kx++)
      taps.push(`    acc += select(0.0, x[xc + r${ky} + c${kx}], okr${ky} && okc${kx}) * w[wc + ${ky * g.kw + kx}u];`);
  return defineKernel({
    name: 'conv2d.general.forward',
    params: { n: 'u32' },
    bindings: { x: { type: 'f32' }, w: { type: 'f32' }, y: { type: 'f32', access: 'read_write' } },
    workgroupSize: WG,
    body: `  let i = ${flatId(WG)};
  if (i >= params.n) { return; }
  let ox = i32(i % ${g.wo}u);
  let oy = i32((i / ${g.wo}u) % ${g.ho}u);
  let nc = i / ${g.wo * g.ho}u;
  let co = nc % ${g.cout}u;
  let xb = ((nc / ${g.cout}u) * ${g.cin}u + (co / ${opg}u) * ${cpg}u) * ${g.h * g.w}u;
  let wb = co * ${cpg * kk}u;
${tapOffsets(g, rowOf(g), colOf(g))}
  var acc = 0.0;
${loop('cj', cpg, `    let xc = xb + cj * ${g.h * g.w}u;\n    let wc = wb + cj * ${kk}u;\n${taps.join('\n')}`)}
  y[i] = acc;`,
  });
});

// Input gradient: dx[n, ci, iy, ix] sums dy[n, co, oy, ox] * w[co, cj, ky, kx] over the output channels co
// of ci's group and the taps with oy * sh - ph + ky * dilh = iy (same for x).
const inputGradKernel = memoKernel((g: ConvGeometry) => {
  const { cpg, opg, kk } = perGroup(g);
  const taps: string[] = [];
  for (let ky = 0; ky < g.kh; ky++)
    for (let kx = 0; kx < g.kw; kx++)
      taps.push(`    acc += select(0.0, dy[dc + r${ky} + c${kx}], oky${ky} && okx${kx}) * w[wc + ${ky * g.kw + kx}u];`);
  // Tap k reaches output row (iy + ph - k * dilh) / sh when that distance is >= 0 and a multiple of sh.
  const L: string[] = [];
  const axis = (v: string, pos: string, n: number, s: number, d: number, p: number, out: number, stride: number) => {
    for (let k = 0; k < n; k++) {
      const t = `${pos} + ${p - k * d}`;
      if (s === 1) {
        L.push(`  let p${v}${k} = ${t};`, `  let ok${v}${k} = p${v}${k} >= 0 && p${v}${k} < ${out};`);
      } else {
        L.push(`  let t${v}${k} = ${t};`, `  let p${v}${k} = t${v}${k} / ${s};`);
        L.push(`  let ok${v}${k} = t${v}${k} >= 0 && t${v}${k} % ${s} == 0 && p${v}${k} < ${out};`);
      }
      const scaled = stride > 1 ? ` * ${stride}u` : '';
      L.push(`  let ${v === 'y' ? 'r' : 'c'}${k} = u32(clamp(p${v}${k}, 0, ${out - 1}))${scaled};`);
    }
  };
  axis('y', 'iy', g.kh, g.sh, g.dilh, g.ph, g.ho, g.wo);
  axis('x', 'ix', g.kw, g.sw, g.dilw, g.pw, g.wo, 1);
  return defineKernel({
    name: 'conv2d.general.inputGrad',
    params: { n: 'u32' },
    bindings: { dy: { type: 'f32' }, w: { type: 'f32' }, dx: { type: 'f32', access: 'read_write' } },
    workgroupSize: WG,
    body: `  let i = ${flatId(WG)};
  if (i >= params.n) { return; }
  let ix = i32(i % ${g.w}u);
  let iy = i32((i / ${g.w}u) % ${g.h}u);
  let nc = i / ${g.w * g.h}u;
  let ci = nc % ${g.cin}u;
  let co0 = (ci / ${cpg}u) * ${opg}u;
  let db = ((nc / ${g.cin}u) * ${g.cout}u + co0) * ${g.ho * g.wo}u;
  let wb = (co0 * ${cpg}u + ci % ${cpg}u) * ${kk}u;
${L.join('\n')}
  var acc = 0.0;
${loop('j', opg, `    let dc = db + j * ${g.ho * g.wo}u;\n    let wc = wb + j * ${cpg * kk}u;\n${taps.join('\n')}`)}
  dx[i] = acc;`,
  });
});

// ---- four adjacent destination columns per invocation ---------------------------------------------------
// Where the destination rows (y's for the forward, dx's for the input gradient) hold whole vec4s, one
// invocation writes a vec4: the source values its taps share are loaded once (a 3x3 stride-1 forward reads
// 3 x 6 values for 4 outputs instead of 4 x 9), and the index arithmetic and weights serve four outputs.
// For the input gradient 4 % sw == 0 too, so which taps reach each of the four columns is known here.

type Dir = 'forward' | 'inputGrad';

/** Whether the vec4 kernel applies to this convolution and direction. */
function blockedApplies(g: ConvGeometry, dir: Dir): boolean {
  return dir === 'forward' ? g.wo % 4 === 0 : g.w % 4 === 0 && 4 % g.sw === 0;
}

const blockedKernel = memoKernel((g: ConvGeometry, dir: Dir) => {
  const fwd = dir === 'forward';
  const { cpg, opg, kk } = perGroup(g);
  const [dstH, dstW, dstC] = fwd ? [g.ho, g.wo, g.cout] : [g.h, g.w, g.cin];
  const [srcH, srcW] = fwd ? [g.h, g.w] : [g.ho, g.wo];
  const q4 = dstW / 4;
  // The source column of tap kx for destination column j of the four, from the invocation's base column;
  // undefined where the stride skips it (input gradient).
  const colOff = (j: number, kx: number): number | undefined => {
    if (fwd) return j * g.sw + kx * g.dilw;
    const t = j + g.pw - kx * g.dilw;
    return t % g.sw === 0 ? t / g.sw : undefined;
  };
  const offs = [...new Set(Array.from({ length: 4 * g.kw }, (_, i) => colOff(Math.floor(i / g.kw), i % g.kw)))]
    .filter((o): o is number => o !== undefined)
    .sort((a, b) => a - b);
  const name = (o: number) => (o < 0 ? `m${-o}` : `${o}`);
  const L: string[] = [];
  for (let k = 0; k < g.kh; k++) {
    if (fwd) {
      L.push(`  let py${k} = row * ${g.sh} + ${k * g.dilh - g.ph};`);
      L.push(`  let okr${k} = py${k} >= 0 && py${k} < ${srcH};`);
    } else if (g.sh === 1) {
      L.push(`  let py${k} = row + ${g.ph - k * g.dilh};`);
      L.push(`  let okr${k} = py${k} >= 0 && py${k} < ${srcH};`);
    } else {
      L.push(`  let ty${k} = row + ${g.ph - k * g.dilh};`, `  let py${k} = ty${k} / ${g.sh};`);
      L.push(`  let okr${k} = ty${k} >= 0 && ty${k} % ${g.sh} == 0 && py${k} < ${srcH};`);
    }
    L.push(`  let r${k} = u32(clamp(py${k}, 0, ${srcH - 1})) * ${srcW}u;`);
  }
  for (const o of offs) {
    L.push(`  let okc${name(o)} = base + ${o} >= 0 && base + ${o} < ${srcW};`);
    L.push(`  let c${name(o)} = u32(clamp(base + ${o}, 0, ${srcW - 1}));`);
  }
  const body: string[] = [];
  for (let ky = 0; ky < g.kh; ky++)
    for (const o of offs)
      body.push(`    let v${ky}_${name(o)} = select(0.0, src[sc + r${ky} + c${name(o)}], okr${ky} && okc${name(o)});`);
  for (let t = 0; t < kk; t++) body.push(`    let w${t} = w[wc + ${t}u];`);
  for (let j = 0; j < 4; j++) {
    const terms: string[] = [];
    for (let ky = 0; ky < g.kh; ky++)
      for (let kx = 0; kx < g.kw; kx++) {
        const o = colOff(j, kx);
        if (o !== undefined) terms.push(`v${ky}_${name(o)} * w${ky * g.kw + kx}`);
      }
    if (terms.length) body.push(`    a${j} += ${terms.join(' + ')};`);
  }
  const [loopVar, count, planeStep, wStep] = fwd ? ['cj', cpg, g.h * g.w, kk] : ['j', opg, g.ho * g.wo, cpg * kk];
  const channels = fwd
    ? `  let sb = ((nc / ${g.cout}u) * ${g.cin}u + (c / ${opg}u) * ${cpg}u) * ${g.h * g.w}u;
  let wb = c * ${cpg * kk}u;
  let base = i32(q * 4u) * ${g.sw} - ${g.pw};`
    : `  let co0 = (c / ${cpg}u) * ${opg}u;
  let sb = ((nc / ${g.cin}u) * ${g.cout}u + co0) * ${g.ho * g.wo}u;
  let wb = (co0 * ${cpg}u + c % ${cpg}u) * ${kk}u;
  let base = i32(q * ${4 / g.sw}u);`;
  const loopBody = [
    `    let sc = sb + ${loopVar} * ${planeStep}u;`,
    `    let wc = wb + ${loopVar} * ${wStep}u;`,
    ...body,
  ];
  return defineKernel({
    name: `conv2d.general.${dir}.vec4`,
    params: { n: 'u32' },
    bindings: { src: { type: 'f32' }, w: { type: 'f32' }, dst: { type: 'vec4f', access: 'read_write' } },
    workgroupSize: WG,
    body: `  let i = ${flatId(WG)};
  if (i >= params.n) { return; }
  let q = i % ${q4}u;
  let row = i32((i / ${q4}u) % ${dstH}u);
  let nc = i / ${q4 * dstH}u;
  let c = nc % ${dstC}u;
${channels}
${L.join('\n')}
  var a0 = 0.0; var a1 = 0.0; var a2 = 0.0; var a3 = 0.0;
${loop(loopVar, count, loopBody)}
  dst[i] = vec4f(a0, a1, a2, a3);`,
  });
});

/** Workgroup size of the weight gradient: its reduction keeps WG * kh * kw partial sums in workgroup memory. */
function weightGradWorkgroup(kk: number): number {
  let wg = WG;
  while (wg > 1 && wg * kk > 4096) wg /= 2;
  return wg;
}

// Weight gradient: dw[co, cj, ky, kx] sums x[n, c0 + cj, oy * sh - ph + ky * dilh, ...] * dy[n, co, oy, ox]
// over n, oy, ox. One workgroup per plane (co, cj); invocation l takes every wg-th position (or vec4 of them).
const weightGradKernel = memoKernel((g: ConvGeometry) => {
  const { cpg, opg, kk } = perGroup(g);
  const wg = weightGradWorkgroup(kk);
  // Where dy rows hold whole vec4s, a step takes four adjacent positions of a row: one vec4 of dy, and the
  // x values their taps share loaded once (as the forward's vec4 kernel).
  const vec = g.wo % 4 === 0;
  const decl: string[] = [];
  const stores: string[] = [];
  for (let t = 0; t < kk; t++) {
    decl.push(`  var a${t} = 0.0;`);
    stores.push(`  red[${t * wg}u + l] = a${t};`);
  }
  const step: string[] = [];
  if (!vec) {
    step.push(
      `    let ox = i32(e % ${g.wo}u);`,
      `    let oy = i32((e / ${g.wo}u) % ${g.ho}u);`,
      `    let nb = e / ${g.wo * g.ho}u;`,
      `    let d = dy[(nb * ${g.cout}u + co) * ${g.ho * g.wo}u + e % ${g.ho * g.wo}u];`,
      `    let xb = (nb * ${g.cin}u + ci) * ${g.h * g.w}u;`,
      tapOffsets(g, rowOf(g), colOf(g)).replace(/^ {2}/gm, '    '),
    );
    for (let ky = 0; ky < g.kh; ky++)
      for (let kx = 0; kx < g.kw; kx++)
        step.push(`    a${ky * g.kw + kx} += select(0.0, x[xb + r${ky} + c${kx}], okr${ky} && okc${kx}) * d;`);
  } else {
    const q4 = g.wo / 4;
    const off = (j: number, kx: number) => j * g.sw + kx * g.dilw;
    const offs = [...new Set(Array.from({ length: 4 * g.kw }, (_, i) => off(Math.floor(i / g.kw), i % g.kw)))];
    step.push(
      `    let ox = i32(e % ${q4}u) * 4;`,
      `    let oy = i32((e / ${q4}u) % ${g.ho}u);`,
      `    let nb = e / ${q4 * g.ho}u;`,
      `    let d = dy[(nb * ${g.cout}u + co) * ${(g.ho * g.wo) / 4}u + e % ${(g.ho * g.wo) / 4}u];`,
      `    let xb = (nb * ${g.cin}u + ci) * ${g.h * g.w}u;`,
      `    let base = ox * ${g.sw} - ${g.pw};`,
    );
    for (let k = 0; k < g.kh; k++) {
      step.push(`    let py${k} = oy * ${g.sh} + ${k * g.dilh - g.ph};`);
      step.push(`    let okr${k} = py${k} >= 0 && py${k} < ${g.h};`);
      step.push(`    let r${k} = xb + u32(clamp(py${k}, 0, ${g.h - 1})) * ${g.w}u;`);
    }
    for (const o of offs) {
      step.push(`    let okc${o} = base + ${o} >= 0 && base + ${o} < ${g.w};`);
      step.push(`    let c${o} = u32(clamp(base + ${o}, 0, ${g.w - 1}));`);
    }
    for (let ky = 0; ky < g.kh; ky++)
      for (const o of offs) step.push(`    let v${ky}_${o} = select(0.0, x[r${ky} + c${o}], okr${ky} && okc${o});`);
    for (let ky = 0; ky < g.kh; ky++)
      for (let kx = 0; kx < g.kw; kx++) {
        const terms = [0, 1, 2, 3].map((j) => `v${ky}_${off(j, kx)} * d.${'xyzw'[j]}`);
        step.push(`    a${ky * g.kw + kx} += ${terms.join(' + ')};`);
      }
  }
  return defineKernel({
    name: `conv2d.general.weightGrad${vec ? '.vec4' : ''}`,
    params: { positions: 'u32', planes: 'u32' },
    bindings: {
      x: { type: 'f32' },
      dy: { type: vec ? 'vec4f' : 'f32' },
      dw: { type: 'f32', access: 'read_write' },
    },
    workgroupSize: wg,
    builtins: { wid: 'workgroup_id', nwg: 'num_workgroups', lid: 'local_invocation_index' },
    helpers: `var<workgroup> red: array<f32, ${wg * kk}>;`,
    body: `  let plane = min(wid.x + wid.y * nwg.x, params.planes - 1u);
  let co = plane / ${cpg}u;
  let ci = (co / ${opg}u) * ${cpg}u + plane % ${cpg}u;
  let l = lid;
${decl.join('\n')}
  for (var e = l; e < params.positions; e += ${wg}u) {
${step.join('\n')}
  }
${stores.join('\n')}
  workgroupBarrier();
  for (var t = l; t < ${kk}u; t += ${wg}u) {
    var s = 0.0;
    for (var k = 0u; k < ${wg}u; k++) { s += red[t * ${wg}u + k]; }
    if (wid.x + wid.y * nwg.x < params.planes) { dw[plane * ${kk}u + t] = s; }
  }`,
  });
});

/** y = conv2d(x, w) by the direct kernel; shapes already checked against `g`. */
export function generalForward(x: Tensor, w: Tensor, y: Tensor, g: ConvGeometry): void {
  if (y.size === 0) return;
  if (blockedApplies(g, 'forward')) {
    const n = y.size / 4;
    blockedKernel(planeOf(g), 'forward').launch({ src: x, w, dst: vecBinding(y) }, { n }, flatGrid(n, WG).groups);
    return;
  }
  forwardKernel(planeOf(g)).launch({ x, w, y }, { n: y.size }, flatGrid(y.size, WG).groups);
}

/** dx of conv2d by the direct kernel; shapes already checked against `g`. */
export function generalInputGrad(dy: Tensor, w: Tensor, dx: Tensor, g: ConvGeometry): void {
  if (dx.size === 0) return;
  if (blockedApplies(g, 'inputGrad')) {
    const n = dx.size / 4;
    blockedKernel(planeOf(g), 'inputGrad').launch({ src: dy, w, dst: vecBinding(dx) }, { n }, flatGrid(n, WG).groups);
    return;
  }
  inputGradKernel(planeOf(g)).launch({ dy, w, dx }, { n: dx.size }, flatGrid(dx.size, WG).groups);
}

/** dw of conv2d by the direct kernel; shapes already checked against `g`. */
export function generalWeightGrad(kernel: string, x: Tensor, dy: Tensor, dw: Tensor, g: ConvGeometry): void {
  const { kk } = perGroup(g);
  if (kk * 4 > 16384) {
    throw new KernelArgumentError(
      kernel,
      `a ${g.kh}x${g.kw} kernel has ${kk} taps; grouped or dilated weight gradients take at most 4096.`,
    );
  }
  const planes = dw.size / kk;
  if (planes === 0) return;
  const vec = g.wo % 4 === 0;
  const positions = (g.n * g.ho * g.wo) / (vec ? 4 : 1);
  const bufs = { x, dy: vec ? vecBinding(dy) : dy, dw };
  weightGradKernel(planeOf(g)).launch(bufs, { positions, planes }, grid1d(planes, 1));
}
