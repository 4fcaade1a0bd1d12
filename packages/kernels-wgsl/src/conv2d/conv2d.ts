// Conv2d launchers: forward, input gradient, weight gradient. Each builds its implicit-GEMM
// problem(s) (gemm.ts), takes the kernel generated for them by the variant chosen for this
// adapter (variants.ts) and records the dispatches. On lavapipe three direct kernels come first
// where their plans apply: the row window (row-window.ts; 3x3 forwards and input gradients),
// the lane-pixel kernel (lane-pixels.ts; the stem's input gradient) and the pointwise kernel
// (pointwise-input-grad.ts; the 16->32 shortcut's input gradient). No readback, no allocation
// beyond the output and packed weights (kept per weight buffer, packed-weights.ts); a split
// weight gradient is summed later with the others (split-reduce.ts). Grouped and dilated
// convolutions take the direct kernels of general.ts instead.

import { formatShape, runtime, sizeOf, Tensor, type BufferRange } from '@wgtorch/tensor';
import { KernelArgumentError, checkDtype } from '../common/errors.js';
import { checkOutputGrad, convGeometry, isGeneralConv, type Conv2dOptions, type ConvGeometry } from './geometry.js';
import { generalForward, generalInputGrad, generalWeightGrad } from './general.js';
import { forwardProblem, inputGradProblems, type ConvLike, type GemmProblem } from './gemm.js';
import { packedRowBytes, packWeights } from './packed-weights.js';
import { reduceLater } from './split-reduce.js';
import { SUBGROUP_SIZE } from './subgroup.js';
import { gemmColsPerImage } from './tiled.js';
import { forEachWeightDispatch } from './weight-chunks.js';
import {
  conv2dVariant,
  gemmPlan,
  lanePixelsPlan,
  pointwiseInputGradPlan,
  rowWindowPlan,
  weightGradSplitGroups,
  type LanePixelsPlan,
  type PointwisePlan,
  type RowWindowPlan,
} from './variants.js';

const MAX_GROUPS = 65535;

function checkBindingSizes(kernel: string, tensors: [string, readonly number[]][]): void {
  const limit = runtime().limits.maxStorageBufferBindingSize;
  for (const [name, shape] of tensors) {
    const bytes = sizeOf(shape) * 4;
    if (bytes > limit) {
      throw new KernelArgumentError(
        kernel,
        `${name} ${formatShape(shape)} takes ${bytes} bytes, ` +
          `over the device's maxStorageBufferBindingSize of ${limit} bytes ` +
          `(${tensors.map(([n, s]) => `${n} ${formatShape(s)}`).join(', ')}); use a smaller batch.`,
      );
    }
  }
}

/**
 * Records one GEMM whose reduction of `ktotal` units is cut into chunks of `kchunk` (one per
 * workgroup layer). `a` is the weight tensor's binding, or the packed weights (packWeights)
 * where the plan reads them from uniform bindings (weight-chunks.ts).
 */
function recordGemm(
  kernel: string,
  p: GemmProblem,
  a: BufferRange,
  b: BufferRange,
  out: BufferRange,
  n: number,
  k?: { total: number; chunk: number },
): void {
  const cols = p.kind === 'wgrad' ? gemmColsPerImage(p) : n * gemmColsPerImage(p);
  const ktotal = k?.total ?? (p.kind === 'wgrad' ? 0 : p.c * p.ty.count * p.tx.count);
  const kchunk = k?.chunk ?? Math.max(1, ktotal);
  const splits = k ? Math.ceil(k.total / k.chunk) : 1;
  const plan = gemmPlan(kernel, p, conv2dVariant());
  const groups: [number, number, number] = [plan.colGroups(n), Math.ceil(plan.rows / plan.rowsPerGroup), splits];
  if (groups[0] > MAX_GROUPS) {
    throw new KernelArgumentError(
      kernel,
      `${cols} output columns need ${groups[0]} workgroups, over the limit of ${MAX_GROUPS}; use a smaller batch.`,
    );
  }
  if (!plan.chunks) {
    plan.kernel.launch({ a_src: a, b_src: b, out }, { ncols: cols, ktotal, kchunk }, groups);
    return;
  }
  const rowBytes = packedRowBytes(p as ConvLike);
  forEachWeightDispatch(a, plan.rows, plan.chunks, rowBytes, plan.rowsPerGroup, (wq, r0, gy) =>
    plan.kernel.launch({ ...wq, b_src: b, out }, { ncols: cols, ktotal, kchunk, row0: r0 }, [groups[0], gy, splits]),
  );
}

/** The A operand for the GEMMs `problems` (which share their weights): packed where their plan asks for it. */
function weightOperand(kernel: string, w: Tensor, problems: ConvLike[]): Tensor | undefined {
  const packed = problems.some((p) => gemmPlan(kernel, p, conv2dVariant()).uboRows > 0);
  return packed ? packWeights(w, problems[0]) : undefined;
}

function checkF32(kernel: string, named: [string, Tensor][]): void {
  for (const [name, t] of named) checkDtype(kernel, name, t, 'f32');
}

/** y = conv2d(x, w): x [N, Cin, H, W], w [Cout, Cin / groups, kh, kw] -> y [N, Cout, Ho, Wo]. */
export function conv2dForward(x: Tensor, w: Tensor, opts: Conv2dOptions = {}): Tensor {
  const kernel = 'conv2d.forward';
  const g = convGeometry(kernel, x.shape, w.shape, opts);
  checkF32(kernel, [
    ['x', x],
    ['w', w],
  ]);
  const yShape = [g.n, g.cout, g.ho, g.wo];
  checkBindingSizes(kernel, [
    ['x', x.shape],
    ['w', w.shape],
    ['y', yShape],
  ]);
  const y = Tensor.empty(yShape, 'f32', kernel);
  if (isGeneralConv(g)) {
    generalForward(x, w, y, g);
    return y;
  }
  const rw = rowWindowPlan(kernel, 'forward', g);
  if (rw) {
    recordRowWindow(kernel, rw, w, x, y, g);
    return y;
  }
  const p = forwardProblem(g);
  const packed = weightOperand(kernel, w, [p]);
  recordGemm(kernel, p, (packed ?? w).binding(), x.binding(), y.binding(), g.n);
  packed?.dispose();
  return y;
}

/** dx for y = conv2d(x, w), given dy = dL/dy; `inputShape` is x's shape. */
export function conv2dInputGrad(
  dy: Tensor,
  w: Tensor,
  inputShape: readonly number[],
  opts: Conv2dOptions = {},
): Tensor {
  const kernel = 'conv2d.inputGrad';
  const g = convGeometry(kernel, inputShape, w.shape, opts);
  checkOutputGrad(kernel, dy.shape, g, inputShape, w.shape);
  checkF32(kernel, [
    ['dy', dy],
    ['w', w],
  ]);
  checkBindingSizes(kernel, [
    ['dy', dy.shape],
    ['w', w.shape],
    ['dx', inputShape],
  ]);
  const dx = Tensor.empty(inputShape, 'f32', kernel);
  if (isGeneralConv(g)) {
    generalInputGrad(dy, w, dx, g);
    return dx;
  }
  const lp = lanePixelsPlan(kernel, g);
  if (lp) {
    recordLanePixels(kernel, lp, w, dy, dx, g);
    return dx;
  }
  const pw = pointwiseInputGradPlan(kernel, g);
  if (pw) {
    recordPointwise(kernel, pw, w, dy, dx, g);
    return dx;
  }
  const rw = rowWindowPlan(kernel, 'transposed', g);
  if (rw) {
    recordRowWindow(kernel, rw, w, dy, dx, g);
    return dx;
  }
  // Phases no tap reaches (e.g. 3 of the 4 phases of a 1x1 stride-2 conv) are zero: one
  // clear of dx is cheaper than a GEMM that writes zeros.
  const problems = inputGradProblems(g);
  const live = problems.filter((p) => p.ty.count * p.tx.count > 0);
  if (live.length < problems.length) runtime().dispatcher.clear(dx.buffer, 0, dx.byteLength);
  const packed = live.length ? weightOperand(kernel, w, live) : undefined;
  for (const p of live) {
    // Phases whose plan does not use the packed weights read the weight tensor itself.
    const a = packed && gemmPlan(kernel, p, conv2dVariant()).uboRows > 0 ? packed : w;
    recordGemm(kernel, p, a.binding(), dy.binding(), dx.binding(), g.n);
  }
  packed?.dispose();
  return dx;
}

/** An input gradient onto few channels by the lane-pixel kernel (lane-pixels.ts). */
function recordLanePixels(
  kernel: string,
  plan: LanePixelsPlan,
  w: Tensor,
  dy: Tensor,
  dx: Tensor,
  g: ConvGeometry,
): void {
  const groups: [number, number, number] = [plan.groups(g.n), 1, 1];
  if (groups[0] > MAX_GROUPS) {
    throw new KernelArgumentError(
      kernel,
      `${g.n} images of ${g.h}x${g.w} need ${groups[0]} workgroups, ` +
        `over the limit of ${MAX_GROUPS}; use a smaller batch.`,
    );
  }
  const packed = packWeights(w, plan.pack);
  plan.kernel.launch({ wq: packed, b_src: dy, out: dx }, { ncols: g.n * g.h * g.w }, groups);
  packed.dispose();
}

/**
 * A 1x1 input gradient by the pointwise kernel (pointwise-input-grad.ts), which reads the weight tensor as
 * a uniform buffer.
 */
function recordPointwise(
  kernel: string,
  plan: PointwisePlan,
  w: Tensor,
  dy: Tensor,
  dx: Tensor,
  g: ConvGeometry,
): void {
  const groups: [number, number, number] = [plan.groups(g.n), 1, 1];
  if (groups[0] > MAX_GROUPS) {
    throw new KernelArgumentError(
      kernel,
      `${g.n} images of ${g.ho}x${g.wo} dy pixels need ${groups[0]} workgroups, ` +
        `over the limit of ${MAX_GROUPS}; use a smaller batch.`,
    );
  }
  // dx pixels between the strided ones receive nothing.
  if (plan.strided) runtime().dispatcher.clear(dx.buffer, 0, dx.byteLength);
  plan.kernel.launch({ w, dy, dx }, { batch: g.n }, groups);
}

/** A forward or input gradient by the row-window kernel (row-window.ts): `src` is x or dy, `out` y or dx. */
function recordRowWindow(
  kernel: string,
  plan: RowWindowPlan,
  w: Tensor,
  src: Tensor,
  out: Tensor,
  g: ConvGeometry,
): void {
  const packed = packWeights(w, plan.pack);
  const rowsPerGroup = SUBGROUP_SIZE * plan.config.rm;
  const colGroups = plan.colGroups(g.n);
  if (colGroups > MAX_GROUPS) {
    throw new KernelArgumentError(
      kernel,
      `${g.n} images of ${formatShape(out.shape.slice(2))} need ${colGroups} workgroups, ` +
        `over the limit of ${MAX_GROUPS}; use a smaller batch.`,
    );
  }
  const rowBytes = packedRowBytes(plan.pack);
  forEachWeightDispatch(packed.binding(), plan.rows, plan.chunks, rowBytes, rowsPerGroup, (wq, r0, gy) =>
    plan.kernel.launch({ ...wq, b_src: src, out }, { ncols: out.size / out.shape[1], row0: r0 }, [colGroups, gy, 1]),
  );
  packed.dispose();
}

/** Splits the weight-gradient reduction (N*Ho*Wo terms) so that about `targetGroups` workgroups run. */
function weightGradChunk(g: ConvGeometry, units: number, tiles: number): number {
  const termsPerUnit = (g.n * g.ho * g.wo) / units;
  const minTerms = 512;
  const targetGroups = weightGradSplitGroups();
  const splits = Math.max(1, Math.min(Math.ceil((units * termsPerUnit) / minTerms), Math.ceil(targetGroups / tiles)));
  return Math.ceil(units / splits);
}

/** dw for y = conv2d(x, w), given x and dy = dL/dy; `weightShape` is w's shape. */
export function conv2dWeightGrad(
  x: Tensor,
  dy: Tensor,
  weightShape: readonly number[],
  opts: Conv2dOptions = {},
): Tensor {
  const kernel = 'conv2d.weightGrad';
  const g = convGeometry(kernel, x.shape, weightShape, opts);
  checkOutputGrad(kernel, dy.shape, g, x.shape, weightShape);
  checkF32(kernel, [
    ['x', x],
    ['dy', dy],
  ]);
  checkBindingSizes(kernel, [
    ['x', x.shape],
    ['dy', dy.shape],
    ['dw', weightShape],
  ]);
  if (isGeneralConv(g)) {
    const dw = Tensor.empty(weightShape, 'f32', kernel);
    generalWeightGrad(kernel, x, dy, dw, g);
    return dw;
  }
  const p: GemmProblem = { kind: 'wgrad', g };
  const plan = gemmPlan(kernel, p, conv2dVariant());
  const len = g.cout * g.cin * g.kh * g.kw;
  const tiles = Math.ceil(gemmColsPerImage(p) / plan.colsPerGroup) * Math.ceil(plan.rows / plan.rowsPerGroup);
  const units = g.n * plan.unitsPerImage;
  const chunk = weightGradChunk(g, units, tiles);
  const splits = Math.ceil(units / chunk);
  const k = { total: units, chunk };
  if (splits === 1) {
    const dw = Tensor.empty(weightShape, 'f32', kernel);
    recordGemm(kernel, p, dy.binding(), x.binding(), dw.binding(), g.n, k);
    return dw;
  }
  checkBindingSizes(kernel, [['partial sums', [splits, len]]]);
  // Summed later with every other convolution's partial sums, in one dispatch (split-reduce.ts).
  const { part, dw } = reduceLater(weightShape, len, splits);
  recordGemm(kernel, p, dy.binding(), x.binding(), part, g.n, k);
  return dw;
}
