// The public custom-op API (PyTorch's torch.autograd.Function): a differentiable op from a forward
// and a backward written with existing ops (customOp), or around a user's own WGSL kernels
// launched on device tensors, with an optional float64 version for the cpu64 backend
// (customKernelOp). Both become one OpDef each, so the engine records and frees them as any op.
// See packages/autograd/CUSTOM-OPS.md for a walk-through.

import { Tensor as DeviceTensor, formatShape } from '@wgtorch/tensor';
import type { F64 } from '@wgtorch/kernels-wgsl';
import type { Backend, Raw } from './backend.js';
import { apply, defineOp, isGradEnabled, noGrad, Tensor, tidy, type Dtype, type OpDef } from './tensor.js';

/**
 * The `ctx` of a custom op (PyTorch's ctx), one per call: forward saves what backward needs with
 * saveForBackward and may set other fields (`ctx.scale = s`); backward reads them back.
 * T is Tensor for customOp, DeviceTensor or F64 for customKernelOp.
 */
export interface CustomOpContext<T = Tensor> {
  /** Keeps tensors for backward (inputs, the output, intermediates); backward reads them as `saved`. */
  saveForBackward(...tensors: T[]): void;
  /** In backward: what forward saved, in order (borrowed: do not dispose them). */
  readonly saved: readonly T[];
  /** needsInputGrad[i]: whether argument i of the call is a tensor that wants a gradient. */
  readonly needsInputGrad: readonly boolean[];
  /** Other values forward hands to backward (non-tensor state). */
  [field: string]: unknown;
}

/** A gradient per argument of the call (null or undefined where none), or one tensor for a one-argument op. */
export type CustomGrads<T> = T | readonly (T | null | undefined)[];

/** The definition of customOp: forward and backward written with autograd ops on Tensors. */
export interface CustomOpDef<Args extends unknown[]> {
  /** The op's name, for errors and gradFn. */
  name: string;
  /**
   * Computes the output from the call's arguments (tensors and any other values), with grad
   * recording off. Intermediates it makes are disposed after it returns (keep what backward needs
   * with ctx.saveForBackward).
   */
  forward(ctx: CustomOpContext, ...args: Args): Tensor;
  /**
   * The gradient of each argument from dy, the gradient of the output (recording off). Each must
   * have its argument's shape; return null for arguments without one. Without backward the op is
   * not differentiable.
   */
  backward?(ctx: CustomOpContext, dy: Tensor): CustomGrads<Tensor>;
  /** The output dtype from the tensor arguments' (default: float32 inputs only, float32 output). */
  dtype?(inputs: Dtype[]): Dtype;
}

/** One backend's implementation of a customKernelOp, on storages: DeviceTensor on gpu, F64 on cpu64. */
export interface KernelOpImpl<T> {
  /**
   * Computes the output: launch your kernels on the input storages (borrowed: do not dispose or
   * write them) and return a new storage. ctx.saveForBackward keeps its own handle of each tensor.
   */
  forward(ctx: CustomOpContext<T>, ...args: (T | unknown)[]): T;
  /** New gradient storages, one per argument (null where none), from dy (borrowed). */
  backward?(ctx: CustomOpContext<T>, dy: T): CustomGrads<T>;
}

/** The definition of customKernelOp: a gpu implementation (WGSL kernels) and an optional float64 one. */
export interface CustomKernelOpDef {
  /** The op's name, for errors and gradFn. */
  name: string;
  /** The WebGPU implementation on device tensors (f32 unless `dtype` says otherwise). */
  gpu: KernelOpImpl<DeviceTensor>;
  /** The same op in float64 for the cpu64 backend (gradcheck, checkGpuGradients); optional. */
  cpu64?: KernelOpImpl<F64>;
  /** The output dtype from the tensor arguments' (default: float32 inputs only, float32 output). */
  dtype?(inputs: Dtype[]): Dtype;
}

/** One call: its arguments (tensors replaced by their index among the inputs), ctx and what was saved. */
interface Call {
  args: unknown[];
  tensorAt: number[];
  ctx: CustomOpContext<unknown> & { saved: unknown[] };
  inputDtypes: Dtype[];
  savedDtypes: Dtype[];
}

const TENSOR_SLOT = Symbol('tensor argument');

/** How an op's values live: lifted from the engine's storages and lowered back to owned ones. */
interface Medium<T> {
  /** A value for the user's code from a storage the engine lends (and its dtype). */
  lift(b: Backend, r: Raw, dtype: Dtype): T;
  /** The storage of a value the user's code returned, as a new handle the engine owns. */
  lower(b: Backend, t: T, lent: ReadonlySet<unknown>): Raw;
  dtypeOf(t: T, fallback: Dtype): Dtype;
  /** Releases what lift made. */
  drop(t: T): void;
  /** Releases a value the user's code returned that the engine did not take. */
  discard(b: Backend, t: T): void;
  /** Runs the user's code (forward or backward). */
  run<R>(f: () => R): R;
  isValue(t: unknown): t is T;
}

const tensors: Medium<Tensor> = {
  lift: (b, r, dtype) => new Tensor(b.retain(r) as DeviceTensor | F64, { untracked: true, dtype }),
  lower: (b, t) => b.retain(t.raw),
  dtypeOf: (t) => t.dtype,
  drop: (t) => t.dispose(),
  discard: (_b, t) => t.dispose(),
  // Recording off; tidy disposes the intermediates (what the code returns is lowered, then dropped).
  run: (f) => noGrad(() => tidy(f)),
  isValue: (t): t is Tensor => t instanceof Tensor,
};

const storages: Medium<Raw> = {
  lift: (_b, r) => r,
  // The user returns new storages; one the engine lent (an input, dy, a saved one) gets its own handle.
  lower: (b, t, lent) => (lent.has(t) ? b.retain(t) : t),
  dtypeOf: (t, fallback) => (t instanceof DeviceTensor ? (t.dtype === 'i32' ? 'int32' : 'float32') : fallback),
  drop: () => {},
  discard: (b, t) => b.release(t),
  run: (f) => f(),
  isValue: (t): t is Raw => t instanceof DeviceTensor || isF64(t),
};

function isF64(t: unknown): t is F64 {
  return (
    typeof t === 'object' && t !== null && (t as F64).data instanceof Float64Array && Array.isArray((t as F64).shape)
  );
}

/** A forward and backward as opOf calls them (the user's typed ones, read loosely). */
interface Impl<T> {
  forward(ctx: unknown, ...args: unknown[]): T;
  backward?(ctx: unknown, dy: T): unknown;
}

/** The OpDef running `impl(b)` (the user's forward and backward) on values of `medium`. */
function opOf<T>(
  name: string,
  medium: Medium<T>,
  impl: (b: Backend) => Impl<T>,
  differentiable: boolean,
  dtype: ((inputs: Dtype[]) => Dtype) | undefined,
): OpDef<Call> {
  return defineOp<Call>({
    name,
    dtype: (inputs) => (dtype ? dtype(inputs) : defaultDtype(name, inputs)),
    forward(b, raws, call, record) {
      const inputs = raws.map((r, i) => medium.lift(b, r, call.inputDtypes[i]));
      const savedDtypes: Dtype[] = [];
      const saved: Raw[] = [];
      call.ctx.saveForBackward = (...ts: unknown[]) => {
        for (const t of ts) {
          if (!medium.isValue(t)) throw new Error(`${name}: ctx.saveForBackward takes tensors, got ${String(t)}.`);
          if (!record) continue;
          saved.push(medium.lower(b, t, new Set([t])));
          savedDtypes.push(medium.dtypeOf(t, 'float32'));
        }
      };
      try {
        const args = call.args.map((a, i) => (a === TENSOR_SLOT ? inputs[call.tensorAt.indexOf(i)] : a));
        const out = medium.run(() => impl(b).forward(call.ctx, ...args));
        if (!medium.isValue(out))
          throw new Error(`${name}: forward must return a tensor (one output), got ${describe(out)}.`);
        const y = medium.lower(b, out, new Set(inputs));
        medium.drop(out);
        call.savedDtypes = savedDtypes;
        return { y, saved };
      } catch (e) {
        for (const s of saved) b.release(s);
        throw e;
      } finally {
        for (const t of inputs) medium.drop(t);
      }
    },
    backward: differentiable
      ? (b, dy, { saved, needs, shapes, attrs: call }) => {
          const dyT = medium.lift(b, dy, 'float32');
          const savedT = saved.map((r, i) => medium.lift(b, r, call.savedDtypes[i]));
          call.ctx.saved = savedT;
          const lent = new Set<unknown>([dyT, ...savedT]);
          const taken = new Set<unknown>();
          let list: unknown[] = [];
          try {
            const grads = medium.run(() => impl(b).backward!(call.ctx, dyT));
            list = Array.isArray(grads) ? grads : [grads];
            const out = gradsOf(name, b, medium, list, call, needs, shapes, lent);
            for (const r of out) if (r) taken.add(r);
            return out;
          } finally {
            for (const g of list) if (medium.isValue(g) && !lent.has(g) && !taken.has(g)) medium.discard(b, g);
            call.ctx.saved = [];
            medium.drop(dyT);
            for (const t of savedT) medium.drop(t);
          }
        }
      : undefined,
  });
}

/** The engine's gradients (one per tensor input) from what the user's backward returned. */
function gradsOf<T>(
  name: string,
  b: Backend,
  medium: Medium<T>,
  list: unknown[],
  call: Call,
  needs: boolean[],
  shapes: (readonly number[])[],
  lent: Set<unknown>,
): (Raw | null)[] {
  if (list.length !== call.args.length) {
    throw new Error(
      `${name}: backward returned ${list.length} gradient(s) for ${call.args.length} argument(s); ` +
        'return one per argument of the call (null for those without one).',
    );
  }
  const out: (Raw | null)[] = [];
  try {
    call.tensorAt.forEach((pos, k) => {
      const g = list[pos];
      if (g === null || g === undefined || !needs[k]) return void out.push(null);
      if (!medium.isValue(g)) throw new Error(`${name}: backward's gradient ${pos} is ${describe(g)}, not a tensor.`);
      const raw = medium.lower(b, g, lent);
      out.push(raw);
      const shape = b.shape(raw);
      if (shape.length !== shapes[k].length || shape.some((d, i) => d !== shapes[k][i])) {
        throw new Error(
          `${name}: backward's gradient of argument ${pos} is ${formatShape(shape)}, but the argument is ` +
            `${formatShape(shapes[k])}; return a gradient of the argument's shape (sum over broadcast dims).`,
        );
      }
    });
  } catch (e) {
    for (const r of out) if (r) b.release(r);
    throw e;
  }
  return out;
}

function defaultDtype(name: string, inputs: Dtype[]): Dtype {
  const i = inputs.indexOf('int32');
  if (i >= 0) {
    throw new Error(
      `${name}: tensor argument ${i} is int32, and this custom op takes float32 tensors; convert it with ` +
        '.float(), or declare `dtype` in the op definition.',
    );
  }
  return 'float32';
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  return typeof v === 'object' ? `an object (${Object.getPrototypeOf(v)?.constructor?.name})` : `a ${typeof v}`;
}

/** The function users call: splits tensors from other arguments and applies the op. */
function callerOf(op: OpDef<Call>): (...args: unknown[]) => Tensor {
  return (...args: unknown[]) => {
    const inputs: Tensor[] = [];
    const tensorAt: number[] = [];
    const slots = args.map((a, i) => {
      if (!(a instanceof Tensor)) return a;
      inputs.push(a);
      tensorAt.push(i);
      return TENSOR_SLOT;
    });
    if (!inputs.length) throw new Error(`${op.name}: needs at least one tensor argument (it decides the backend).`);
    const needsInputGrad = args.map((a) => a instanceof Tensor && a.requiresGrad && isGradEnabled());
    const ctx = { saved: [], needsInputGrad } as unknown as Call['ctx'];
    return apply(op, inputs, { args: slots, tensorAt, ctx, inputDtypes: inputs.map((t) => t.dtype), savedDtypes: [] });
  };
}

/**
 * A differentiable op from a forward and a backward written with existing ops, like a
 * torch.autograd.Function: returns the function to call (`op(x, 2)`). Arguments may mix tensors
 * and other values; backward returns one gradient per argument. Runs on both backends.
 *
 * @example
 * const cube = customOp({
 *   name: 'cube',
 *   forward(ctx, x: Tensor) { ctx.saveForBackward(x); return x.mul(x).mul(x); },
 *   backward(ctx, dy) { const [x] = ctx.saved; return [dy.mul(x.mul(x)).mul(3)]; },
 * });
 */
export function customOp<Args extends unknown[]>(def: CustomOpDef<Args>): (...args: Args) => Tensor {
  const op = opOf(def.name, tensors, () => def as Impl<Tensor>, def.backward !== undefined, def.dtype);
  return callerOf(op) as (...args: Args) => Tensor;
}

/**
 * A differentiable op around your own WGSL kernels (written with defineKernel and run with
 * launch() of @wgtorch/kernels-wgsl): `gpu.forward` and `gpu.backward` take device tensors and
 * return new ones; `cpu64` (optional) does the same in float64 on F64 arrays, so gradcheck and
 * checkGpuGradients can check the kernels. Returns the function to call on autograd Tensors.
 */
export function customKernelOp(def: CustomKernelOpDef): (...args: unknown[]) => Tensor {
  const impl = (b: Backend) => {
    if (b.name === 'gpu') return def.gpu as Impl<Raw>;
    if (def.cpu64) return def.cpu64 as Impl<Raw>;
    throw new Error(
      `${def.name}: this custom kernel op has no cpu64 implementation; give it cpu64: { forward, backward } ` +
        'in float64, or use tensors on the gpu backend.',
    );
  };
  const differentiable = def.gpu.backward !== undefined;
  if (differentiable && def.cpu64 && !def.cpu64.backward)
    throw new Error(`${def.name}: gpu has a backward but cpu64 has none; give both or neither.`);
  return callerOf(opOf(def.name, storages, impl, differentiable, def.dtype));
}
