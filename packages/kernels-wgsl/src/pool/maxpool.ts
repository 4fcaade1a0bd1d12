// Max pooling (NCHW) as PyTorch's max_pool2d: kernel, stride, padding (outside the input counts as -inf,
// i.e. is never picked), dilation and ceil_mode, with int32 indices into each H*W plane; the backward
// routes dy to those indices. Within a window the first maximum in row-major order wins, and a NaN
// is a maximum (a later NaN replaces an earlier one), exactly as PyTorch's CPU kernel.

import { Tensor, formatShape } from '@wgtorch/tensor';
import { KernelArgumentError, checkDtype, intPair, sameShape } from '../common/errors.js';
import { defineKernel, memoKernel } from '../common/kernel.js';
import { checkF32, flatGrid, flatId } from '../elementwise/launch.js';

/** Options of maxPool2d, as PyTorch's MaxPool2d (a number for both dimensions or [h, w]). */
export interface MaxPool2dOptions {
  kernel: number | [number, number];
  /** Defaults to the kernel size. */
  stride?: number | [number, number];
  /** Default 0; at most half the kernel. */
  padding?: number | [number, number];
  /** Default 1. */
  dilation?: number | [number, number];
  /** Output size rounded up rather than down (windows that start inside the input or its left padding). */
  ceilMode?: boolean;
}

/** Sizes, kernel, stride, padding and dilation, resolved and checked. */
export interface MaxPoolGeometry {
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
  dh: number;
  dw: number;
  OH: number;
  OW: number;
}

/** PyTorch's pooling output size (pooling_output_shape), with ceil_mode's rule for the last window. */
function outSize(size: number, k: number, s: number, p: number, d: number, ceil: boolean): number {
  const span = size + 2 * p - d * (k - 1) - 1;
  let o = Math.floor((span + (ceil ? s - 1 : 0)) / s) + 1;
  if (ceil && (o - 1) * s >= size + p) o--;
  return o;
}

export function maxPool2dGeometry(
  kernelName: string,
  inputShape: readonly number[],
  opts: MaxPool2dOptions,
): MaxPoolGeometry {
  if (inputShape.length !== 4)
    throw new KernelArgumentError(kernelName, `input must be 4-D NCHW, got ${formatShape(inputShape)}.`);
  if (opts.kernel === undefined) throw new KernelArgumentError(kernelName, 'the kernel size is required.');
  const [N, C, H, W] = inputShape;
  const [kh, kw] = intPair(kernelName, 'kernel', opts.kernel, 1);
  const [sh, sw] = intPair(kernelName, 'stride', opts.stride ?? opts.kernel, 1);
  const [ph, pw] = intPair(kernelName, 'padding', opts.padding ?? 0, 0);
  const [dh, dw] = intPair(kernelName, 'dilation', opts.dilation ?? 1, 1);
  if (ph > kh / 2 || pw > kw / 2) {
    throw new KernelArgumentError(
      kernelName,
      `padding ${ph}x${pw} must be at most half the kernel ${kh}x${kw} (as in PyTorch).`,
    );
  }
  const ceil = opts.ceilMode ?? false;
  const OH = outSize(H, kh, sh, ph, dh, ceil);
  const OW = outSize(W, kw, sw, pw, dw, ceil);
  if (OH < 1 || OW < 1) {
    throw new KernelArgumentError(
      kernelName,
      `input ${formatShape(inputShape)} is smaller than the kernel ${kh}x${kw} (dilation ${dh}x${dw}) with padding ` +
        `${ph}x${pw}; the output would be empty.`,
    );
  }
  return { N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, OH, OW };
}

/** The geometry without the batch and channel counts (the memo key of the kernels). */
const planeOf = (g: MaxPoolGeometry): MaxPoolGeometry => ({ ...g, N: 0, C: 0 });

// NaN by its bits: comparisons may be folded under the assumption that no value is NaN.
const ISNAN = 'fn is_nan(v: f32) -> bool { return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u; }';

// One invocation per output: the window's taps in row-major order; out-of-bounds taps are skipped.
const forwardKernel = memoKernel((g: MaxPoolGeometry) =>
  defineKernel({
    name: 'pool.maxPool2d',
    params: { n: 'u32' },
    bindings: {
      x: { type: 'f32' },
      y: { type: 'f32', access: 'read_write' },
      idx: { type: 'i32', access: 'read_write' },
    },
    workgroupSize: 256,
    helpers: ISNAN,
    body: `  let i = ${flatId(256)};
  if (i >= params.n) { return; }
  let ow = i32(i % ${g.OW}u);
  let oh = i32((i / ${g.OW}u) % ${g.OH}u);
  let base = (i / ${g.OW * g.OH}u) * ${g.H * g.W}u;
  let h0 = oh * ${g.sh} - ${g.ph};
  let w0 = ow * ${g.sw} - ${g.pw};
  var best = 0.0;
  var bi = -1;
  for (var ky = 0; ky < ${g.kh}; ky++) {
    let h = h0 + ky * ${g.dh};
    let okh = h >= 0 && h < ${g.H};
    for (var kx = 0; kx < ${g.kw}; kx++) {
      let w = w0 + kx * ${g.dw};
      let at = h * ${g.W} + w;
      let v = x[base + u32(clamp(at, 0, ${g.H * g.W - 1}))];
      let take = okh && w >= 0 && w < ${g.W} && (bi < 0 || v > best || is_nan(v));
      best = select(best, v, take);
      bi = select(bi, at, take);
    }
  }
  y[i] = best;
  idx[i] = bi;`,
  }),
);

// One invocation per input element: the sum of dy over the outputs whose window reaches it at the
// tap their index picked. Tap k of output o reaches o * s - p + k * d, so o = (i + p - k * d) / s
// where that distance is >= 0 and a multiple of s. Where windows do not overlap (s >= the dilated
// kernel on both axes, e.g. kernel 2 stride 2) at most one output reaches an element: o = (i + p) / s,
// at tap ((i + p) % s) / d, which reads dy and the index once instead of once per tap.
const backwardKernel = memoKernel((g: MaxPoolGeometry) => {
  const disjoint = g.sh >= g.dh * (g.kh - 1) + 1 && g.sw >= g.dw * (g.kw - 1) + 1;
  const sum = disjoint
    ? `  let oh = (ih + ${g.ph}) / ${g.sh};
  let ry = ih + ${g.ph} - oh * ${g.sh};
  let ow = (iw + ${g.pw}) / ${g.sw};
  let rx = iw + ${g.pw} - ow * ${g.sw};
  let o = base + u32(min(oh, ${g.OH - 1}) * ${g.OW} + min(ow, ${g.OW - 1}));
  let hit = oh < ${g.OH} && ow < ${g.OW} && ry % ${g.dh} == 0 && ry / ${g.dh} < ${g.kh} && rx % ${g.dw} == 0 &&
    rx / ${g.dw} < ${g.kw} && idx[o] == at;
  let acc = select(0.0, dy[o], hit);`
    : `  var acc = 0.0;
  for (var ky = 0; ky < ${g.kh}; ky++) {
    let ty = ih + ${g.ph} - ky * ${g.dh};
    let oh = ty / ${g.sh};
    let okh = ty >= 0 && ty % ${g.sh} == 0 && oh < ${g.OH};
    for (var kx = 0; kx < ${g.kw}; kx++) {
      let tx = iw + ${g.pw} - kx * ${g.dw};
      let ow = tx / ${g.sw};
      let o = base + u32(clamp(oh, 0, ${g.OH - 1}) * ${g.OW} + clamp(ow, 0, ${g.OW - 1}));
      let hit = okh && tx >= 0 && tx % ${g.sw} == 0 && ow < ${g.OW} && idx[o] == at;
      acc += select(0.0, dy[o], hit);
    }
  }`;
  return defineKernel({
    name: 'pool.maxPool2dBackward',
    params: { n: 'u32' },
    bindings: { dy: { type: 'f32' }, idx: { type: 'i32' }, dx: { type: 'f32', access: 'read_write' } },
    workgroupSize: 256,
    body: `  let i = ${flatId(256)};
  if (i >= params.n) { return; }
  let iw = i32(i % ${g.W}u);
  let ih = i32((i / ${g.W}u) % ${g.H}u);
  let at = ih * ${g.W} + iw;
  let base = (i / ${g.W * g.H}u) * ${g.OH * g.OW}u;
${sum}
  dx[i] = acc;`,
  });
});

/** Max pooling of x [N, C, H, W]: the maxima and their int32 indices into each H*W plane. */
export function maxPool2d(x: Tensor, opts: MaxPool2dOptions): { values: Tensor<'f32'>; indices: Tensor<'i32'> } {
  checkF32('maxPool2d', 'x', x);
  const g = maxPool2dGeometry('maxPool2d', x.shape, opts);
  const shape = [g.N, g.C, g.OH, g.OW];
  const values = Tensor.empty(shape, 'f32', 'maxPool2d');
  const indices = Tensor.empty(shape, 'i32', 'maxPool2d indices');
  if (values.size > 0) {
    forwardKernel(planeOf(g)).launch(
      { x, y: values, idx: indices },
      { n: values.size },
      flatGrid(values.size, 256).groups,
    );
  }
  return { values, indices };
}

/** dx of maxPool2d: dy [N, C, OH, OW] added at the input positions `indices` picked. */
export function maxPool2dBackward(
  dy: Tensor,
  indices: Tensor,
  inputShape: readonly number[],
  opts: MaxPool2dOptions,
): Tensor {
  checkF32('maxPool2dBackward', 'dy', dy);
  checkDtype('maxPool2dBackward', 'indices', indices, 'i32');
  const g = maxPool2dGeometry('maxPool2dBackward', inputShape, opts);
  checkPooledShape('maxPool2dBackward', g, inputShape, [
    ['dy', dy.shape],
    ['indices', indices.shape],
  ]);
  const dx = Tensor.empty(inputShape, 'f32', 'maxPool2dBackward');
  if (dx.size > 0) {
    backwardKernel(planeOf(g)).launch({ dy, idx: indices, dx }, { n: dx.size }, flatGrid(dx.size, 256).groups);
  }
  return dx;
}

/** Checks that each named shape is the pooled shape of `inputShape`. */
export function checkPooledShape(
  kernelName: string,
  g: MaxPoolGeometry,
  inputShape: readonly number[],
  shapes: [string, readonly number[]][],
): void {
  const want = [g.N, g.C, g.OH, g.OW];
  for (const [name, s] of shapes) {
    if (!sameShape(s, want)) {
      throw new KernelArgumentError(
        kernelName,
        `${name} must be ${formatShape(want)} (the pooled shape of input ${formatShape(inputShape)}), ` +
          `got ${formatShape(s)}.`,
      );
    }
  }
}
