// Average pooling (NCHW): k x k / stride / padding with PyTorch's count_include_pad=True
// (the divisor is always kh * kw), and global average pooling to [N, C, 1, 1], with backward.

import { Tensor, formatShape } from '@wgtorch/tensor';
import { kernelProfile } from '../profile.js';
import { KernelArgumentError, sameShape } from '../common/errors.js';
import { defineKernel, memoKernel } from '../common/kernel.js';
import { checkF32, f32Lit, flatGrid, flatId, vecBinding } from '../elementwise/launch.js';

/** Options of avgPool2d, as PyTorch's AvgPool2d (count_include_pad: padding counts as zeros). */
export interface AvgPool2dOptions {
  kernel: number | [number, number];
  /** Defaults to the kernel size. */
  stride?: number | [number, number];
  padding?: number | [number, number];
}

interface PoolGeometry {
  N: number;
  C: number;
  H: number;
  W: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  OH: number;
  OW: number;
}

const pairOf = (v: number | [number, number]): [number, number] => (Array.isArray(v) ? v : [v, v]);

export function avgPool2dGeometry(
  kernelName: string,
  inputShape: readonly number[],
  opts: AvgPool2dOptions,
): PoolGeometry {
  if (inputShape.length !== 4)
    throw new KernelArgumentError(kernelName, `input must be 4-D NCHW, got ${formatShape(inputShape)}.`);
  const [N, C, H, W] = inputShape;
  const [kh, kw] = pairOf(opts.kernel);
  const [sh, sw] = pairOf(opts.stride ?? opts.kernel);
  const [ph, pw] = pairOf(opts.padding ?? 0);
  const ints = [kh, kw, sh, sw, ph, pw];
  if (ints.some((v) => !Number.isInteger(v)) || kh < 1 || kw < 1 || sh < 1 || sw < 1 || ph < 0 || pw < 0) {
    throw new KernelArgumentError(
      kernelName,
      `kernel ${kh}x${kw}, stride ${sh}x${sw}, padding ${ph}x${pw} must be positive integers (padding >= 0).`,
    );
  }
  if (ph > kh / 2 || pw > kw / 2) {
    throw new KernelArgumentError(
      kernelName,
      `padding ${ph}x${pw} must be at most half the kernel ${kh}x${kw} (as in PyTorch).`,
    );
  }
  const OH = Math.floor((H + 2 * ph - kh) / sh) + 1;
  const OW = Math.floor((W + 2 * pw - kw) / sw) + 1;
  if (OH < 1 || OW < 1) {
    throw new KernelArgumentError(
      kernelName,
      `input ${formatShape(inputShape)} is smaller than the kernel ${kh}x${kw} with padding ${ph}x${pw}; ` +
        'the output would be empty.',
    );
  }
  return { N, C, H, W, kh, kw, sh, sw, ph, pw, OH, OW };
}

// Kernels are generated per geometry (sizes, kernel, stride, padding are constants), so
// index arithmetic folds into multiplies and shifts and the window loops have fixed bounds.

const forwardKernel = memoKernel((g: PoolGeometry) =>
  defineKernel({
    name: 'pool.avgPool2d',
    params: { n: 'u32' },
    bindings: { x: { type: 'f32' }, y: { type: 'f32', access: 'read_write' } },
    workgroupSize: 256,
    body: `  let i = ${flatId(256)};
  if (i >= params.n) { return; }
  let ow = i32(i % ${g.OW}u);
  let oh = i32((i / ${g.OW}u) % ${g.OH}u);
  let base = (i / ${g.OW * g.OH}u) * ${g.H * g.W}u;
  let h0 = oh * ${g.sh} - ${g.ph};
  let w0 = ow * ${g.sw} - ${g.pw};
  var acc = 0.0;
  for (var kh = 0; kh < ${g.kh}; kh++) {
    let h = h0 + kh;
    if (h >= 0 && h < ${g.H}) {
      let row = base + u32(h) * ${g.W}u;
      for (var kw = 0; kw < ${g.kw}; kw++) {
        let w = w0 + kw;
        if (w >= 0 && w < ${g.W}) { acc += x[row + u32(w)]; }
      }
    }
  }
  y[i] = acc * ${f32Lit(1 / (g.kh * g.kw))};`,
  }),
);

// Each input element sums dy over the outputs whose window covers it. Without overlap or
// padding that is exactly one output (or none, in the cropped remainder).
// Strided: input i gets the outputs o with o*s <= i+p < o*s + k, ceil((i+p-k+1)/s) <= o <= (i+p)/s,
// kept non-negative before dividing.
const backwardKernel = memoKernel((g: PoolGeometry) => {
  const direct = g.sh === g.kh && g.sw === g.kw && g.ph === 0 && g.pw === 0;
  const body = direct
    ? `let oh = ih / ${g.kh}; let ow = iw / ${g.kw};
  var acc = 0.0;
  if (oh < ${g.OH} && ow < ${g.OW}) { acc = dy[base + u32(oh * ${g.OW} + ow)]; }`
    : `let oh0 = max(0, (ih - ${g.kh} + ${g.sh + g.sh * g.kh}) / ${g.sh} - ${g.kh});
  let oh1 = min(${g.OH - 1}, ih / ${g.sh});
  let ow0 = max(0, (iw - ${g.kw} + ${g.sw + g.sw * g.kw}) / ${g.sw} - ${g.kw});
  let ow1 = min(${g.OW - 1}, iw / ${g.sw});
  var acc = 0.0;
  for (var oh = oh0; oh <= oh1; oh++) {
    for (var ow = ow0; ow <= ow1; ow++) { acc += dy[base + u32(oh * ${g.OW} + ow)]; }
  }`;
  return defineKernel({
    name: 'pool.avgPool2dBackward',
    params: { n: 'u32' },
    bindings: { dy: { type: 'f32' }, dx: { type: 'f32', access: 'read_write' } },
    workgroupSize: 256,
    body: `  let i = ${flatId(256)};
  if (i >= params.n) { return; }
  let iw = i32(i % ${g.W}u) + ${g.pw};
  let ih = i32((i / ${g.W}u) % ${g.H}u) + ${g.ph};
  let base = (i / ${g.W * g.H}u) * ${g.OH * g.OW}u;
  ${body}
  dx[i] = acc * ${f32Lit(1 / (g.kh * g.kw))};`,
  });
});

// Non-overlapping windows (stride = kernel, no padding) over rows of whole vec4s: each
// invocation reads and writes vec4s, four outputs (forward) or four input gradients (backward)
// at a time: on lavapipe a vec4 shares one per-lane access loop and one index computation
// among four values.
const isDirect = (g: PoolGeometry) => g.sh === g.kh && g.sw === g.kw && g.ph === 0 && g.pw === 0;
const forwardVecOk = (g: PoolGeometry) => isDirect(g) && g.W % 4 === 0 && g.OW % 4 === 0;
const backwardVecOk = (g: PoolGeometry) => isDirect(g) && g.W % 4 === 0 && 4 % g.kw === 0;

const forwardVecKernel = memoKernel((g: PoolGeometry) => {
  const q4 = g.OW / 4;
  const L: string[] = [];
  for (let r = 0; r < g.kh; r++)
    for (let t = 0; t < g.kw; t++) L.push(`  let v${r}_${t} = x[rb + ${(r * g.W) / 4 + t}u];`);
  const comp = (r: number, e: number) => `v${r}_${Math.floor(e / 4)}.${'xyzw'[e % 4]}`;
  const outs = [0, 1, 2, 3].map((j) => {
    const terms: string[] = [];
    for (let r = 0; r < g.kh; r++) for (let t = 0; t < g.kw; t++) terms.push(comp(r, j * g.kw + t));
    return terms.join(' + ');
  });
  return defineKernel({
    name: 'pool.avgPool2d',
    params: { n: 'u32' },
    bindings: { x: { type: 'vec4f' }, y: { type: 'vec4f', access: 'read_write' } },
    workgroupSize: 256,
    body: `  let i = ${flatId(256)};
  if (i >= params.n) { return; }
  let owq = i % ${q4}u;
  let oh = (i / ${q4}u) % ${g.OH}u;
  let plane = i / ${q4 * g.OH}u;
  let rb = (plane * ${g.H * g.W}u + oh * ${g.kh * g.W}u) / 4u + owq * ${g.kw}u;
${L.join('\n')}
  y[i] = vec4f(${outs.map((o) => `(${o})`).join(', ')}) * ${f32Lit(1 / (g.kh * g.kw))};`,
  });
});

const backwardVecKernel = memoKernel((g: PoolGeometry) => {
  const q4 = g.W / 4;
  const loads: string[] = [];
  for (let k = 0; k < 4 / g.kw; k++) {
    loads.push(`  let o${k} = ow0 + ${k}u;`);
    loads.push(
      `  let d${k} = select(0.0, dy[select(0u, rowb + o${k}, o${k} < ${g.OW}u && rowOk)], o${k} < ${g.OW}u && rowOk);`,
    );
  }
  const comps = [0, 1, 2, 3].map((j) => `d${Math.floor(j / g.kw)}`);
  return defineKernel({
    name: 'pool.avgPool2dBackward.vec4',
    params: { n: 'u32' },
    bindings: { dy: { type: 'f32' }, dx: { type: 'vec4f', access: 'read_write' } },
    workgroupSize: 256,
    body: `  let i = ${flatId(256)};
  if (i >= params.n) { return; }
  let iw0 = (i % ${q4}u) * 4u;
  let ih = (i / ${q4}u) % ${g.H}u;
  let plane = i / ${q4 * g.H}u;
  let oh = ih / ${g.kh}u;
  let rowOk = oh < ${g.OH}u;
  let rowb = plane * ${g.OH * g.OW}u + min(oh, ${g.OH - 1}u) * ${g.OW}u;
  let ow0 = iw0 / ${g.kw}u;
${loads.join('\n')}
  dx[i] = vec4f(${comps.join(', ')}) * ${f32Lit(1 / (g.kh * g.kw))};`,
  });
});

// Non-overlapping windows tiling the input exactly, output rows of whole vec4s: one invocation
// per vec4 of dy (four outputs of a row) writes the kh x 4*kw block of dx under it, kw vec4s a
// row. One vec4 load serves 4*kh*kw input gradients, where backwardVecKernel reads a scalar of
// dy per dx vec4.
const backwardBlockOk = (g: PoolGeometry) =>
  isDirect(g) && g.H === g.OH * g.kh && g.W === g.OW * g.kw && g.OW % 4 === 0;

const backwardBlockKernel = memoKernel((g: PoolGeometry) => {
  const q4 = g.OW / 4;
  const L: string[] = [];
  for (let r = 0; r < g.kh; r++) {
    for (let j = 0; j < g.kw; j++) {
      const comps = [0, 1, 2, 3].map((t) => `v.${'xyzw'[Math.floor((4 * j + t) / g.kw)]}`);
      L.push(`  dx[b + ${(r * g.W) / 4 + j}u] = vec4f(${comps.join(', ')});`);
    }
  }
  return defineKernel({
    name: 'pool.avgPool2dBackward.block',
    params: { n: 'u32' },
    bindings: { dy: { type: 'vec4f' }, dx: { type: 'vec4f', access: 'read_write' } },
    workgroupSize: 256,
    body: `  let i = ${flatId(256)};
  if (i >= params.n) { return; }
  let v = dy[i] * ${f32Lit(1 / (g.kh * g.kw))};
  let owq = i % ${q4}u;
  let oh = (i / ${q4}u) % ${g.OH}u;
  let plane = i / ${q4 * g.OH}u;
  let b = (plane * ${g.H * g.W}u + oh * ${g.kh * g.W}u) / 4u + owq * ${g.kw}u;
${L.join('\n')}`,
  });
});

/** The geometry without the batch and channel counts (the memo key of the kernels). */
function planeGeometry(g: PoolGeometry): PoolGeometry {
  return { ...g, N: 0, C: 0 };
}

export function avgPool2d(x: Tensor, opts: AvgPool2dOptions): Tensor {
  checkF32('avgPool2d', 'x', x);
  const g = avgPool2dGeometry('avgPool2d', x.shape, opts);
  const y = Tensor.empty([g.N, g.C, g.OH, g.OW], 'f32', 'avgPool2d');
  if (y.size > 0 && forwardVecOk(g)) {
    forwardVecKernel(planeGeometry(g)).launch(
      { x: vecBinding(x), y: vecBinding(y) },
      { n: y.size / 4 },
      flatGrid(y.size / 4, 256).groups,
    );
  } else if (y.size > 0) {
    forwardKernel(planeGeometry(g)).launch({ x, y }, { n: y.size }, flatGrid(y.size, 256).groups);
  }
  return y;
}

export function avgPool2dBackward(dy: Tensor, inputShape: readonly number[], opts: AvgPool2dOptions): Tensor {
  checkF32('avgPool2dBackward', 'dy', dy);
  const g = avgPool2dGeometry('avgPool2dBackward', inputShape, opts);
  const expect = [g.N, g.C, g.OH, g.OW];
  if (!sameShape(dy.shape, expect)) {
    throw new KernelArgumentError(
      'avgPool2dBackward',
      `dy must be ${formatShape(expect)} (the pooled shape of input ${formatShape(inputShape)}), ` +
        `got ${formatShape(dy.shape)}.`,
    );
  }
  const dx = Tensor.empty(inputShape, 'f32', 'avgPool2dBackward');
  if (dx.size > 0 && backwardBlockOk(g) && kernelProfile().options.poolBlocks !== false) {
    backwardBlockKernel(planeGeometry(g)).launch(
      { dy: vecBinding(dy), dx: vecBinding(dx) },
      { n: dy.size / 4 },
      flatGrid(dy.size / 4, 256).groups,
    );
  } else if (dx.size > 0 && backwardVecOk(g)) {
    backwardVecKernel(planeGeometry(g)).launch(
      { dy, dx: vecBinding(dx) },
      { n: dx.size / 4 },
      flatGrid(dx.size / 4, 256).groups,
    );
  } else if (dx.size > 0) {
    backwardKernel(planeGeometry(g)).launch({ dy, dx }, { n: dx.size }, flatGrid(dx.size, 256).groups);
  }
  return dx;
}

// ---- global average pooling ------------------------------------------------------------
// One invocation per (n, c) plane; a plane is HW contiguous values (vec4 when HW % 4 == 0).

const GLOBAL_WG = 64;

// The forward's plane size is a parameter, so LLVM does not unroll the loop (unrolled was
// slower and noisier). Four accumulators a loop iteration, and no early return for lanes past
// the last plane (on lavapipe a return puts the rest of the kernel under an execution mask).
const globalForward = memoKernel((vec: boolean) => {
  const T = vec ? 'vec4f' : 'f32';
  return defineKernel({
    name: 'pool.globalAvgPool',
    params: { planes: 'u32', units: 'u32', inv: 'f32' },
    bindings: { x: { type: `${T}` }, y: { type: 'f32', access: 'read_write' } },
    workgroupSize: GLOBAL_WG,
    body: `  let p = ${flatId(GLOBAL_WG)};
  let base = min(p, params.planes - 1u) * params.units;
  var a0 = ${T}(0.0); var a1 = ${T}(0.0); var a2 = ${T}(0.0); var a3 = ${T}(0.0);
  let whole = params.units & ~3u;
  for (var q = 0u; q < whole; q += 4u) {
    a0 += x[base + q]; a1 += x[base + q + 1u]; a2 += x[base + q + 2u]; a3 += x[base + q + 3u];
  }
  for (var q = whole; q < params.units; q++) { a0 += x[base + q]; }
  let acc = (a0 + a1) + (a2 + a3);
  if (p < params.planes) { y[p] = ${vec ? 'dot(acc, vec4f(1.0))' : 'acc'} * params.inv; }`,
  });
});

const globalBackward = memoKernel((vec: boolean, units: number) => {
  const T = vec ? 'vec4f' : 'f32';
  const stores =
    units <= 64
      ? Array.from({ length: units }, (_, q) => `dx[base + ${q}u] = v;`).join(' ')
      : `for (var q = 0u; q < ${units}u; q++) { dx[base + q] = v; }`;
  return defineKernel({
    name: 'pool.globalAvgPoolBackward',
    params: { planes: 'u32', units: 'u32', inv: 'f32' },
    bindings: { dy: { type: 'f32' }, dx: { type: `${T}`, access: 'read_write' } },
    workgroupSize: GLOBAL_WG,
    body: `  let p = ${flatId(GLOBAL_WG)};
  if (p >= params.planes) { return; }
  let base = p * ${units}u;
  let v = ${T}(dy[p] * params.inv);
  ${stores}`,
  });
});

function checkNCHW(kernelName: string, name: string, shape: readonly number[]): void {
  if (shape.length !== 4)
    throw new KernelArgumentError(kernelName, `${name} must be 4-D NCHW, got ${formatShape(shape)}.`);
}

/** Mean over H and W: [N, C, H, W] -> [N, C, 1, 1]. */
export function globalAvgPool(x: Tensor): Tensor {
  checkF32('globalAvgPool', 'x', x);
  checkNCHW('globalAvgPool', 'x', x.shape);
  const [N, C, H, W] = x.shape;
  const HW = H * W;
  const y = Tensor.empty([N, C, 1, 1], 'f32', 'globalAvgPool');
  const planes = N * C;
  if (planes === 0) return y;
  const vec = HW % 4 === 0;
  const p = { planes, units: vec ? HW / 4 : HW, inv: 1 / HW };
  globalForward(vec).launch({ x: vec ? vecBinding(x) : x, y }, p, flatGrid(planes, GLOBAL_WG).groups);
  return y;
}

export function globalAvgPoolBackward(dy: Tensor, inputShape: readonly number[]): Tensor {
  checkF32('globalAvgPoolBackward', 'dy', dy);
  checkNCHW('globalAvgPoolBackward', 'inputShape', inputShape);
  const [N, C, H, W] = inputShape;
  if (dy.size !== N * C || (dy.shape.length === 4 && (dy.shape[0] !== N || dy.shape[1] !== C))) {
    throw new KernelArgumentError(
      'globalAvgPoolBackward',
      `dy must be [${N}, ${C}, 1, 1] for input ${formatShape(inputShape)}, got ${formatShape(dy.shape)}.`,
    );
  }
  const HW = H * W;
  const dx = Tensor.empty(inputShape, 'f32', 'globalAvgPoolBackward');
  const planes = N * C;
  if (planes === 0 || HW === 0) return dx;
  const vec = HW % 4 === 0;
  const p = { planes, units: vec ? HW / 4 : HW, inv: 1 / HW };
  globalBackward(vec, vec ? HW / 4 : HW).launch(
    { dy, dx: vec ? vecBinding(dx) : dx },
    p,
    flatGrid(planes, GLOBAL_WG).groups,
  );
  return dx;
}
