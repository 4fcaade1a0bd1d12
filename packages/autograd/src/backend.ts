// Two backends run the same op code: 'gpu' (device tensors and the WGSL launchers) and 'cpu64'
// (float64 arrays and the kernels' float64 references). Every launcher `foo` of
// @wgtorch/kernels-wgsl has a reference `fooRef` with the same arguments, so a backend is the
// table of one or the other, plus how its arrays are held and released.

import * as kernels from '@wgtorch/kernels-wgsl';
import { Tensor as DeviceTensor, runtime } from '@wgtorch/tensor';
import type { F64 } from '@wgtorch/kernels-wgsl';

/** The storage of an autograd tensor: a device tensor on 'gpu', a float64 array on 'cpu64'. */
export type Raw = DeviceTensor | F64;

/** Which backend a tensor lives on: 'gpu' (WebGPU, float32) or 'cpu64' (CPU, float64 references). */
export type BackendName = 'gpu' | 'cpu64';

/** Convolution geometry (square kernels; the same stride and padding on both axes). */
export interface Conv2dOptions {
  stride: number;
  padding: number;
}

/** Pooling geometry (square windows). */
export interface Pool2dOptions {
  kernel: number;
  stride: number;
  padding: number;
}

/** The kernels the autograd calls, as the contract of @wgtorch/kernels-wgsl names them. */
export interface Kernels {
  conv2dForward(x: Raw, w: Raw, o: Conv2dOptions): Raw;
  conv2dInputGrad(dy: Raw, w: Raw, inputShape: number[], o: Conv2dOptions): Raw;
  conv2dWeightGrad(x: Raw, dy: Raw, weightShape: number[], o: Conv2dOptions): Raw;
  batchNormTrain(x: Raw, gamma: Raw, beta: Raw, rm: Raw, rv: Raw, o: { momentum: number; eps: number }): { y: Raw; saveMean: Raw; saveInvStd: Raw; runningMean?: Raw; runningVar?: Raw };
  batchNormTrainRelu(x: Raw, gamma: Raw, beta: Raw, rm: Raw, rv: Raw, o: { momentum: number; eps: number }): { y: Raw; saveMean: Raw; saveInvStd: Raw; runningMean?: Raw; runningVar?: Raw };
  batchNormReluBackward(dy: Raw, y: Raw, x: Raw, gamma: Raw, beta: Raw, saveMean: Raw, saveInvStd: Raw): { dx: Raw; dgamma: Raw; dbeta: Raw };
  addRelu(a: Raw, b: Raw): Raw;
  batchNormEval(x: Raw, gamma: Raw, beta: Raw, rm: Raw, rv: Raw, eps: number): Raw;
  batchNormEvalRelu(x: Raw, gamma: Raw, beta: Raw, rm: Raw, rv: Raw, eps: number): Raw;
  batchNormBackward(dy: Raw, x: Raw, gamma: Raw, saveMean: Raw, saveInvStd: Raw): { dx: Raw; dgamma: Raw; dbeta: Raw };
  relu(x: Raw): Raw;
  reluBackward(dy: Raw, y: Raw): Raw;
  add(a: Raw, b: Raw): Raw;
  sub(a: Raw, b: Raw): Raw;
  mul(a: Raw, b: Raw): Raw;
  div(a: Raw, b: Raw): Raw;
  scale(x: Raw, s: number): Raw;
  addScalar(x: Raw, s: number): Raw;
  unary(op: UnaryOp, x: Raw): Raw;
  fill(shape: number[], v: number): Raw;
  copy(x: Raw): Raw;
  transpose2d(x: Raw): Raw;
  permute(x: Raw, dims: number[]): Raw;
  sum(x: Raw, axes: number[], keepdim: boolean): Raw;
  sumToShape(x: Raw, shape: number[]): Raw;
  avgPool2d(x: Raw, o: Pool2dOptions): Raw;
  avgPool2dBackward(dy: Raw, inputShape: number[], o: Pool2dOptions): Raw;
  globalAvgPool(x: Raw): Raw;
  globalAvgPoolBackward(dy: Raw, inputShape: number[]): Raw;
  matmul(a: Raw, b: Raw, o: { transA?: boolean; transB?: boolean }): Raw;
  softmaxCrossEntropy(logits: Raw, labels: unknown, o: { labelSmoothing?: number }): { loss: Raw; dlogits: Raw };
  logSoftmax(x: Raw): Raw;
  logSoftmaxBackward(dy: Raw, y: Raw): Raw;
  softmax(x: Raw): Raw;
  softmaxBackward(dy: Raw, y: Raw): Raw;
}

/** The elementwise functions of the `unary` kernel. */
export type UnaryOp = 'exp' | 'log' | 'neg' | 'sqrt' | 'rsqrt' | 'abs' | 'square' | 'reciprocal' | 'sigmoid' | 'tanh';

export interface Backend {
  readonly name: BackendName;
  readonly k: Kernels;
  shape(r: Raw): readonly number[];
  /** A second owned handle to the same data (a view on the GPU), released with release(). */
  retain(r: Raw): Raw;
  release(r: Raw): void;
  /** The same data under another shape, as a new owned handle. */
  view(r: Raw, shape: readonly number[]): Raw;
  fromArray(data: ArrayLike<number>, shape: readonly number[]): Raw;
  toArray(r: Raw): Promise<Float32Array | Float64Array>;
  /** Writes `src` into `dst` in place (same size). */
  assign(dst: Raw, src: Raw): void;
  /** Labels as the loss kernel of this backend takes them. */
  labels(l: Int32Array | DeviceTensor): unknown;
}

const K = kernels;

/** The GPU launchers, checked against the contract by the compiler. */
const gpuKernels: Kernels = {
  conv2dForward: K.conv2dForward,
  conv2dInputGrad: K.conv2dInputGrad,
  conv2dWeightGrad: K.conv2dWeightGrad,
  batchNormTrain: K.batchNormTrain,
  batchNormTrainRelu: K.batchNormTrainRelu,
  batchNormReluBackward: K.batchNormReluBackward,
  batchNormEval: K.batchNormEval,
  batchNormEvalRelu: K.batchNormEvalRelu,
  batchNormBackward: K.batchNormBackward,
  addRelu: K.addRelu,
  relu: K.relu,
  reluBackward: K.reluBackward,
  add: K.add,
  sub: K.sub,
  mul: K.mul,
  div: K.div,
  scale: K.scale,
  addScalar: K.addScalar,
  unary: K.unary,
  fill: K.fill,
  copy: K.copy,
  transpose2d: K.transpose2d,
  permute: K.permute,
  sum: K.sum,
  sumToShape: K.sumToShape,
  avgPool2d: K.avgPool2d,
  avgPool2dBackward: K.avgPool2dBackward,
  globalAvgPool: K.globalAvgPool,
  globalAvgPoolBackward: K.globalAvgPoolBackward,
  matmul: K.matmul,
  softmaxCrossEntropy: K.softmaxCrossEntropy,
  logSoftmax: K.logSoftmax,
  logSoftmaxBackward: K.logSoftmaxBackward,
  softmax: K.softmax,
  softmaxBackward: K.softmaxBackward,
};

/** The reference returns the updated running statistics; the GPU kernel updates them in place. */
function inPlaceRunningStats(f: Kernels['batchNormTrain']): Kernels['batchNormTrain'] {
  return (x, gamma, beta, rm, rv, o) => {
    const r = f(x, gamma, beta, rm, rv, o);
    if (r.runningMean && r.runningMean !== rm) (rm as F64).data.set((r.runningMean as F64).data);
    if (r.runningVar && r.runningVar !== rv) (rv as F64).data.set((r.runningVar as F64).data);
    return r;
  };
}

/** The float64 references: the same arguments, F64 for Tensor. */
const cpuKernels: Kernels = {
  conv2dForward: K.conv2dForwardRef,
  conv2dInputGrad: K.conv2dInputGradRef,
  conv2dWeightGrad: K.conv2dWeightGradRef,
  batchNormTrain: inPlaceRunningStats(K.batchNormTrainRef),
  batchNormTrainRelu: inPlaceRunningStats(K.batchNormTrainReluRef),
  batchNormReluBackward: K.batchNormReluBackwardRef,
  batchNormEval: K.batchNormEvalRef,
  batchNormEvalRelu: K.batchNormEvalReluRef,
  batchNormBackward: K.batchNormBackwardRef,
  addRelu: K.addReluRef,
  relu: K.reluRef,
  reluBackward: K.reluBackwardRef,
  add: K.addRef,
  sub: K.subRef,
  mul: K.mulRef,
  div: K.divRef,
  scale: K.scaleRef,
  addScalar: K.addScalarRef,
  unary: K.unaryRef,
  fill: K.fillRef,
  copy: K.copyRef,
  transpose2d: K.transpose2dRef,
  permute: K.permuteRef,
  sum: K.sumRef,
  sumToShape: K.sumToShapeRef,
  avgPool2d: K.avgPool2dRef,
  avgPool2dBackward: K.avgPool2dBackwardRef,
  globalAvgPool: K.globalAvgPoolRef,
  globalAvgPoolBackward: K.globalAvgPoolBackwardRef,
  matmul: K.matmulRef,
  softmaxCrossEntropy: K.softmaxCrossEntropyRef,
  logSoftmax: K.logSoftmaxRef,
  logSoftmaxBackward: K.logSoftmaxBackwardRef,
  softmax: K.softmaxRef,
  softmaxBackward: K.softmaxBackwardRef,
};

const isDevice = (r: Raw): r is DeviceTensor => r instanceof DeviceTensor;

export const gpu: Backend = {
  name: 'gpu',
  k: gpuKernels,
  shape: (r) => r.shape,
  retain: (r) => (r as DeviceTensor).reshape((r as DeviceTensor).shape),
  release: (r) => (r as DeviceTensor).dispose(),
  view: (r, shape) => (r as DeviceTensor).reshape(shape),
  fromArray: (data, shape) => DeviceTensor.fromArray(Float32Array.from(data), shape, 'f32'),
  toArray: (r) => (r as DeviceTensor<'f32'>).toArray(),
  assign(dst, src) {
    const d = dst as DeviceTensor;
    const s = src as DeviceTensor;
    if (d.size !== s.size) throw new Error(`assign: ${s.size} elements into ${d.size}`);
    if (d.size > 0) {
      // A GPU copy recorded in order with the kernels; no readback.
      runtime().dispatcher.copy(s.buffer, 0, d.buffer, 0, d.size * 4);
    }
  },
  labels(l) {
    if (l instanceof DeviceTensor) return l;
    return DeviceTensor.fromArray(l, [l.length], 'i32');
  },
};

function f64Of(data: ArrayLike<number>, shape: readonly number[]): F64 {
  return { data: Float64Array.from(data), shape: [...shape] };
}

export const cpu64: Backend = {
  name: 'cpu64',
  k: cpuKernels,
  shape: (r) => r.shape,
  retain: (r) => r,
  release: () => {},
  view: (r, shape) => ({ data: (r as F64).data, shape: [...shape] }),
  fromArray: f64Of,
  toArray: async (r) => (r as F64).data.slice(),
  assign(dst, src) {
    (dst as F64).data.set((src as F64).data);
  },
  labels(l) {
    if (l instanceof DeviceTensor) throw new Error('cpu64 backend: pass labels as an Int32Array, not a device tensor.');
    return { data: Float64Array.from(l), shape: [l.length] };
  },
};

export function backendOf(name: BackendName): Backend {
  return name === 'gpu' ? gpu : cpu64;
}

export { isDevice };
