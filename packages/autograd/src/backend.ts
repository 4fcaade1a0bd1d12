// Two backends run the same op code: 'gpu' (device tensors and the WGSL launchers) and 'cpu64'
// (float64 arrays and the kernels' float64 references). Every launcher `foo` of
// @wgtorch/kernels-wgsl has a reference `fooRef` with the same arguments, so the kernel table
// of each backend is derived from the package's exports by that name, never listed by hand.

import * as K from '@wgtorch/kernels-wgsl/ops';
import { Tensor as DeviceTensor, runtime } from '@wgtorch/tensor';
import type { F64 } from '@wgtorch/kernels-wgsl';

/** The storage of an autograd tensor: a device tensor on 'gpu', a float64 array on 'cpu64'. */
export type Raw = DeviceTensor | F64;

/** Which backend a tensor lives on: 'gpu' (WebGPU, float32) or 'cpu64' (CPU, float64 references). */
export type BackendName = 'gpu' | 'cpu64';

type Exports = typeof K;
/** The exports `foo` of kernels-wgsl that have a reference `fooRef`. */
type KernelName = {
  [N in keyof Exports]: N extends string
    ? `${N}Ref` extends keyof Exports
      ? Exports[N] extends (...a: never[]) => unknown
        ? N
        : never
      : never
    : never;
}[keyof Exports];
/** A type with every device tensor and F64 in it read as Raw. */
type AsRaw<T> = T extends DeviceTensor<any> | F64
  ? Raw
  : T extends ArrayBufferView | string | number | boolean | null | undefined
    ? T
    : T extends object
      ? { [P in keyof T]: AsRaw<T[P]> }
      : T;
type RawKernel<F> = F extends (...a: infer P) => infer R ? (...a: AsRaw<P>) => AsRaw<R> : never;

/** The kernels the op code calls (`b.k.conv2dForward(...)`): each launcher with Raw for Tensor. */
export type Kernels = { [N in KernelName]: RawKernel<Exports[N]> };

// A compile error here names a launcher whose reference takes or returns something else.
type Unpaired = { [N in KernelName]: RawKernel<Exports[`${N}Ref`]> extends Kernels[N] ? never : N }[KernelName];
const everyReferencePairs: [Unpaired] extends [never] ? true : `${Unpaired}: the reference differs from the launcher` =
  true;
void everyReferencePairs;

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
  labels(l: Int32Array | DeviceTensor): Raw;
}

/** The launcher and reference tables, paired by name from the exports of kernels-wgsl. */
function kernelTables(): { gpu: Kernels; cpu: Kernels } {
  const gpu: Record<string, unknown> = {};
  const cpu: Record<string, unknown> = {};
  const exports = K as Record<string, unknown>;
  for (const [name, f] of Object.entries(exports)) {
    const ref = exports[`${name}Ref`];
    if (typeof f === 'function' && typeof ref === 'function') {
      gpu[name] = f;
      cpu[name] = ref;
    }
  }
  const tables = { gpu: gpu as Kernels, cpu: cpu as Kernels };
  // (x, gamma, beta, runningMean, runningVar, opts); the add variant takes the residual after x.
  tables.cpu.batchNormTrain = inPlaceRunningStats(tables.cpu.batchNormTrain, 3);
  tables.cpu.batchNormTrainRelu = inPlaceRunningStats(tables.cpu.batchNormTrainRelu, 3);
  tables.cpu.batchNormTrainAddRelu = inPlaceRunningStats(tables.cpu.batchNormTrainAddRelu, 4);
  return tables;
}

// The references below return new arrays where the GPU kernels update their operands in place;
// these wrappers copy the results back so that both backends keep the in-place contract.

/** The running statistics (arguments `at` and `at + 1`: mean, variance), updated in place. */
function inPlaceRunningStats<F extends (...a: never[]) => object>(f: F, at: number): F {
  const wrapped = (...args: Parameters<F>) => {
    const r = f(...args) as { runningMean?: F64; runningVar?: F64 };
    const [rm, rv] = [args[at], args[at + 1]] as F64[];
    if (r.runningMean && r.runningMean !== rm) rm.data.set(r.runningMean.data);
    if (r.runningVar && r.runningVar !== rv) rv.data.set(r.runningVar.data);
    return r;
  };
  return wrapped as F;
}

const { gpu: gpuKernels, cpu: cpuKernels } = kernelTables();

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
      runtime().dispatcher.copy(s.buffer, s.byteOffset, d.buffer, d.byteOffset, d.size * 4);
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
