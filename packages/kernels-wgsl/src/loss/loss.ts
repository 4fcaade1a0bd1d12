// Softmax cross-entropy (mean over the batch) with its gradient, softmax / log-softmax over the
// last dimension and their backward, argmax, and GPU-side accuracy / loss accumulators, so a
// trainer sums loss and accuracy over an epoch without reading back per step.

import { Tensor, formatShape } from '@wgtorch/tensor';
import { KernelArgumentError, sameShape } from '../common/errors.js';
import { defineKernel, memoKernel, NAN_BITS_WGSL, type BindingDecl } from '../common/kernel.js';
import { checkF32, flatGrid, flatId } from '../elementwise/launch.js';

const WG = 256;
const ROW_WG = 64;

/** Options of softmaxCrossEntropy. */
export interface CrossEntropyOptions {
  /** PyTorch's label_smoothing: the target is (1 - s) * onehot + s / C (default 0). */
  labelSmoothing?: number;
}

/** What softmaxCrossEntropy returns: the mean loss and its gradient for the logits. */
export interface CrossEntropyResult {
  /** [1]: the mean loss over the batch. */
  loss: Tensor;
  /** [N, C]: the gradient of the mean loss for the logits. */
  dlogits: Tensor;
}

// One workgroup: each invocation takes rows t, t + WG, ...; the loss is tree-summed.
// A label outside [0, C) makes the loss NaN (there is no readback to report it from); labels
// that come from the CPU are checked before upload (classLabels). A row's loss: -log p[label] =
// lse - z_label; the smoothing term averages -log p over all classes.
const xentKernel = defineKernel({
  name: 'loss.softmaxCrossEntropy',
  params: { N: 'u32', C: 'u32', smoothing: 'f32', invN: 'f32' },
  bindings: {
    logits: { type: 'f32' },
    labels: { type: 'i32' },
    loss: { type: 'f32', access: 'read_write' },
    dlogits: { type: 'f32', access: 'read_write' },
  },
  helpers: `var<workgroup> sh: array<f32, ${WG}>;\n${NAN_BITS_WGSL}`,
  workgroupSize: WG,
  builtins: { lid: 'local_invocation_index' },
  body: `  let C = params.C;
  let fC = f32(C);
  var acc = 0.0;
  for (var r = lid; r < params.N; r += ${WG}u) {
    let base = r * C;
    var m = logits[base];
    for (var j = 1u; j < C; j++) { m = max(m, logits[base + j]); }
    var se = 0.0;
    var sl = 0.0;
    for (var j = 0u; j < C; j++) { let z = logits[base + j] - m; se += exp(z); sl += z; }
    let lse = log(se);
    let label = labels[r];
    var zl = 0.0;
    if (label >= 0 && u32(label) < C) { zl = logits[base + u32(label)] - m; } else { zl = bitcast<f32>(nan_bits); }
    acc += (1.0 - params.smoothing) * (lse - zl) + params.smoothing * (lse - sl / fC);
    let inv = 1.0 / se;
    for (var j = 0u; j < C; j++) {
      var t = params.smoothing / fC;
      if (i32(j) == label) { t += 1.0 - params.smoothing; }
      dlogits[base + j] = (exp(logits[base + j] - m) * inv - t) * params.invN;
    }
  }
  sh[lid] = acc;
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s >>= 1u) {
    if (lid < s) { sh[lid] += sh[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u) { loss[0] = sh[0] * params.invN; }`,
});

function checkLogits(kernel: string, logits: Tensor, labels?: Tensor): [number, number] {
  checkF32(kernel, 'logits', logits);
  if (logits.shape.length !== 2)
    throw new KernelArgumentError(kernel, `logits must be 2-D [N, C], got ${formatShape(logits.shape)}.`);
  const [N, C] = logits.shape;
  if (labels) {
    if (labels.dtype !== 'i32')
      throw new KernelArgumentError(
        kernel,
        `labels must be i32, got ${labels.dtype} ${formatShape(labels.shape)}; upload class indices as an Int32Array.`,
      );
    if (labels.shape.length !== 1 || labels.shape[0] !== N) {
      throw new KernelArgumentError(
        kernel,
        `labels must be [${N}] (one class index per row of logits ${formatShape(logits.shape)}), ` +
          `got ${formatShape(labels.shape)}.`,
      );
    }
  }
  if (C < 1) throw new KernelArgumentError(kernel, `logits ${formatShape(logits.shape)} has no classes.`);
  return [N, C];
}

/**
 * Mean softmax cross-entropy of logits [N, C] against i32 labels [N] and its gradient. The
 * labels are on the GPU and not checked: one outside [0, C) gives a NaN loss. Upload labels
 * with Tensor.fromArray(classLabels(...), [N], 'i32') to check them first.
 */
export function softmaxCrossEntropy(
  logits: Tensor,
  labels: Tensor,
  opts: CrossEntropyOptions = {},
): CrossEntropyResult {
  const [N, C] = checkLogits('softmaxCrossEntropy', logits, labels);
  const s = opts.labelSmoothing ?? 0;
  if (!(s >= 0 && s <= 1))
    throw new KernelArgumentError('softmaxCrossEntropy', `labelSmoothing must be in [0, 1], got ${s}.`);
  const loss = Tensor.empty([1], 'f32', 'softmaxCrossEntropy.loss');
  const dlogits = Tensor.empty([N, C], 'f32', 'softmaxCrossEntropy.dlogits');
  xentKernel.launch({ logits, labels, loss, dlogits }, { N, C, smoothing: s, invN: N > 0 ? 1 / N : NaN }, [1]);
  return { loss, dlogits };
}

// ---- row-wise ops over the last dimension ------------------------------------------------

type RowOp = 'softmax' | 'logSoftmax' | 'softmaxBackward' | 'logSoftmaxBackward';

const ROW_BODY: Record<RowOp, string> = {
  softmax: `var m = a[base];
    for (var j = 1u; j < C; j++) { m = max(m, a[base + j]); }
    var se = 0.0;
    for (var j = 0u; j < C; j++) { se += exp(a[base + j] - m); }
    let inv = 1.0 / se;
    for (var j = 0u; j < C; j++) { out[base + j] = exp(a[base + j] - m) * inv; }`,
  logSoftmax: `var m = a[base];
    for (var j = 1u; j < C; j++) { m = max(m, a[base + j]); }
    var se = 0.0;
    for (var j = 0u; j < C; j++) { se += exp(a[base + j] - m); }
    let lse = m + log(se);
    for (var j = 0u; j < C; j++) { out[base + j] = a[base + j] - lse; }`,
  // a = dy, b = y (the softmax output): dx = y * (dy - sum(dy * y))
  softmaxBackward: `var s = 0.0;
    for (var j = 0u; j < C; j++) { s += a[base + j] * b[base + j]; }
    for (var j = 0u; j < C; j++) { out[base + j] = b[base + j] * (a[base + j] - s); }`,
  // a = dy, b = y (the log-softmax output): dx = dy - exp(y) * sum(dy)
  logSoftmaxBackward: `var s = 0.0;
    for (var j = 0u; j < C; j++) { s += a[base + j]; }
    for (var j = 0u; j < C; j++) { out[base + j] = a[base + j] - exp(b[base + j]) * s; }`,
};

const rowKernel = memoKernel((op: RowOp) => {
  const two = op.endsWith('Backward');
  const io: Record<string, BindingDecl> = two ? { a: { type: 'f32' }, b: { type: 'f32' } } : { a: { type: 'f32' } };
  io.out = { type: 'f32', access: 'read_write' };
  return defineKernel({
    name: `loss.${op}`,
    params: { rows: 'u32', C: 'u32' },
    bindings: io,
    workgroupSize: ROW_WG,
    body: `  let r = ${flatId(ROW_WG)};
  if (r >= params.rows) { return; }
  let C = params.C;
  let base = r * C;
  ${ROW_BODY[op]}`,
  });
});

function rows(kernel: string, x: Tensor): [number, number] {
  checkF32(kernel, 'x', x);
  if (x.shape.length < 1)
    throw new KernelArgumentError(kernel, `x must have at least 1 dimension, got ${formatShape(x.shape)}.`);
  const C = x.shape[x.shape.length - 1];
  return [C === 0 ? 0 : x.size / C, C];
}

function runRows(op: RowOp, inputs: Tensor[]): Tensor {
  const [R, C] = rows(op, inputs[0]);
  if (inputs[1]) {
    checkF32(op, 'y', inputs[1]);
    const [a, b] = inputs;
    if (!sameShape(a.shape, b.shape)) {
      throw new KernelArgumentError(
        op,
        `dy ${formatShape(a.shape)} and y ${formatShape(b.shape)} must have the same shape.`,
      );
    }
  }
  const out = Tensor.empty(inputs[0].shape, 'f32', op);
  if (R * C === 0) return out;
  const [a, b] = inputs;
  rowKernel(op).launch(b ? { a, b, out } : { a, out }, { rows: R, C }, flatGrid(R, ROW_WG).groups);
  return out;
}

export const softmax = (x: Tensor): Tensor => runRows('softmax', [x]);
export const logSoftmax = (x: Tensor): Tensor => runRows('logSoftmax', [x]);
/** dx for dy at the output y = softmax(x). */
export const softmaxBackward = (dy: Tensor, y: Tensor): Tensor => runRows('softmaxBackward', [dy, y]);
/** dx for dy at the output y = logSoftmax(x). */
export const logSoftmaxBackward = (dy: Tensor, y: Tensor): Tensor => runRows('logSoftmaxBackward', [dy, y]);

const argmaxKernel = defineKernel({
  name: 'loss.argmax',
  params: { rows: 'u32', C: 'u32' },
  bindings: { x: { type: 'f32' }, out: { type: 'i32', access: 'read_write' } },
  workgroupSize: ROW_WG,
  body: `  let r = ${flatId(ROW_WG)};
  if (r >= params.rows) { return; }
  let base = r * params.C;
  var best = x[base];
  var bi = 0u;
  for (var j = 1u; j < params.C; j++) { let v = x[base + j]; if (v > best) { best = v; bi = j; } }
  out[r] = i32(bi);`,
});

/** Index of the largest value over the last dimension (the first one on ties), i32 [...x.shape[:-1]]. */
export function argmax(x: Tensor): Tensor {
  const [R, C] = rows('argmax', x);
  if (C === 0) throw new KernelArgumentError('argmax', `x ${formatShape(x.shape)} has an empty last dimension.`);
  const out = Tensor.empty(x.shape.slice(0, -1), 'i32', 'argmax');
  if (R > 0) argmaxKernel.launch({ x, out }, { rows: R, C }, flatGrid(R, ROW_WG).groups);
  return out;
}

const accuracyKernel = defineKernel({
  name: 'loss.accuracyCount',
  params: { N: 'u32', C: 'u32' },
  bindings: { logits: { type: 'f32' }, labels: { type: 'i32' }, into: { type: 'f32', access: 'read_write' } },
  helpers: `var<workgroup> sh: array<u32, ${WG}>;`,
  workgroupSize: WG,
  builtins: { lid: 'local_invocation_index' },
  body: `  var hits = 0u;
  for (var r = lid; r < params.N; r += ${WG}u) {
    let base = r * params.C;
    var best = logits[base];
    var bi = 0u;
    for (var j = 1u; j < params.C; j++) { let v = logits[base + j]; if (v > best) { best = v; bi = j; } }
    if (i32(bi) == labels[r]) { hits += 1u; }
  }
  sh[lid] = hits;
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s >>= 1u) {
    if (lid < s) { sh[lid] += sh[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u) { into[0] += f32(sh[0]); }`,
});

function checkAccumulator(kernel: string, name: string, t: Tensor): void {
  checkF32(kernel, name, t);
  if (t.size !== 1)
    throw new KernelArgumentError(
      kernel,
      `${name} must be a one-element f32 tensor (e.g. Tensor.zeros([1])), got ${formatShape(t.shape)}.`,
    );
}

/**
 * Adds the number of rows whose argmax equals the label to `into` ([1] f32, created as zeros if absent);
 * returns it.
 */
export function accuracyCount(logits: Tensor, labels: Tensor, into?: Tensor): Tensor {
  const [N, C] = checkLogits('accuracyCount', logits, labels);
  const acc = into ?? Tensor.zeros([1]);
  checkAccumulator('accuracyCount', 'into', acc);
  if (N > 0) accuracyKernel.launch({ logits, labels, into: acc }, { N, C }, [1]);
  return acc;
}

const accumulateKernel = defineKernel({
  name: 'loss.accumulate',
  params: { scale: 'f32' },
  bindings: { value: { type: 'f32' }, into: { type: 'f32', access: 'read_write' } },
  workgroupSize: 1,
  builtins: {},
  body: '  into[0] += params.scale * value[0];',
});

/** into[0] += scale * value[0], in place on the GPU (both [1] f32). */
export function accumulate(into: Tensor, value: Tensor, scale = 1): Tensor {
  checkAccumulator('accumulate', 'into', into);
  checkAccumulator('accumulate', 'value', value);
  accumulateKernel.launch({ value, into }, { scale }, [1]);
  return into;
}
