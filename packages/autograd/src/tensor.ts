// The engine: tensors that record the ops applied to them, and backward() over that record.
// Ownership keeps memory flat without the garbage collector: a Tensor owns one handle to its
// storage (dispose() releases it; tidy(fn) disposes what fn made and does not return); what an
// op saved for backward is released after its backward runs or once no tensor can reach the op;
// a leaf's `.grad` belongs to the leaf (zeroGrad() releases it).

import { Tensor as DeviceTensor, Rng, formatShape, releaseOnThrow, sizeOf } from '@wgtorch/tensor';
import type { F64 } from '@wgtorch/kernels-wgsl';
import { backendOf, type Backend, type BackendName, type Raw } from './backend.js';
import { getDefaultRng } from './random.js';
import { sameShape } from './shape.js';

/**
 * The element type of a tensor: 'float32' (the default; float64 on the cpu64 backend) or 'int32'
 * (indices: gather, embedding, argmax, randint). int32 tensors never require grad.
 */
export type Dtype = 'float32' | 'int32';

/** Arguments an op's backward receives. */
export interface BackwardContext<A> {
  /** The handles the forward saved, in order. */
  saved: Raw[];
  attrs: A;
  /** needs[i]: whether input i wants a gradient (skip computing it when false). */
  needs: boolean[];
  /** Shapes of the inputs. */
  shapes: (readonly number[])[];
  /** True when dy is the implicit gradient of a scalar (all ones), so a product with it can be skipped. */
  dyIsOne: boolean;
  /**
   * For an op with `sumsGrads`: a second gradient of the output, to be added to dy as the
   * backward reads it (the engine hands it over instead of adding the two in a dispatch).
   */
  dy2?: Raw;
}

/**
 * One differentiable op: the forward and, beside it, the rule that pushes the gradient to the
 * inputs. forward() borrows its inputs; what it returns in `saved` is owned by the graph.
 * backward() returns one owned gradient (or null) per input.
 */
export interface OpDef<A = unknown> {
  readonly name: string;
  /**
   * The output's dtype from the inputs' dtypes (throw here to refuse one). Without it the op takes
   * float32 tensors only and gives float32. An int32 output is never recorded for backward.
   */
  dtype?(inputs: Dtype[], attrs: A): Dtype;
  forward(b: Backend, xs: Raw[], attrs: A, record: boolean): { y: Raw; saved?: Raw[] };
  backward?(b: Backend, dy: Raw, ctx: BackwardContext<A>): (Raw | null)[];
  /**
   * The backward sums two gradients of the output itself (dy + ctx.dy2): where the output feeds
   * two ops (a residual), the engine then passes both rather than adding them first.
   */
  sumsGrads?: boolean;
}

/** Declares an op (typing its attrs for forward and backward); run it with apply(op, inputs, attrs). */
export function defineOp<A = undefined>(def: OpDef<A>): OpDef<A> {
  return def;
}

/** The op that made a tensor (PyTorch's `grad_fn`), for inspection. */
export interface GradFn {
  /** The op's name, e.g. 'conv2d'. */
  readonly name: string;
  /** Whether backward already ran through it and freed what it saved. */
  readonly freed: boolean;
}

type Edge = Node | Tensor | null;

/** Counts backward passes; a node visited by the current one holds its number in `mark`. */
let pass = 0;

class Node implements GradFn {
  refs = 0;
  freed = false;
  mark = 0;
  /** The gradient summed so far during a backward pass. */
  grad: Raw | undefined = undefined;
  /** A second gradient, not added to `grad`, for an op that sums them itself (OpDef.sumsGrads). */
  grad2: Raw | undefined = undefined;
  constructor(
    readonly op: OpDef<any>,
    readonly attrs: unknown,
    readonly backend: Backend,
    public saved: Raw[] | null,
    public inputs: Edge[],
    readonly shapes: (readonly number[])[],
  ) {
    for (const e of inputs) if (e instanceof Node) e.refs++;
  }

  get name(): string {
    return this.op.name;
  }

  /** Releases what the op saved; with `unlink`, also lets go of the ops before it. */
  free(unlink: boolean): void {
    if (this.saved) for (const s of this.saved) this.backend.release(s);
    this.saved = null;
    this.freed = true;
    const inputs = this.inputs;
    this.inputs = [];
    if (unlink) for (const e of inputs) if (e instanceof Node) e.unref();
  }

  unref(): void {
    if (--this.refs === 0 && !this.freed) this.free(true);
  }
}

// ---- grad mode and scopes ----

let gradEnabled = true;
const scopes: Set<Tensor>[] = [];

/** Runs `fn` without recording ops for backward (PyTorch's `torch.no_grad()`). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/** Whether ops are being recorded (false inside noGrad). */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

function collectTensors(v: unknown, out: Set<Tensor>, depth = 0): void {
  if (v instanceof Tensor) out.add(v);
  else if (depth < 4 && Array.isArray(v)) for (const x of v) collectTensors(x, out, depth + 1);
  else if (depth < 4 && v && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    for (const x of Object.values(v)) collectTensors(x, out, depth + 1);
  }
}

/**
 * Runs `fn` and disposes every tensor created inside it except those it returns (a tensor, or
 * tensors in a returned array or plain object), which move to the enclosing scope. Like
 * TF.js's `tidy`: wrap a training step in it and intermediate activations cannot leak.
 * Gradients (`.grad`), parameters and tensors passed to keep() are never disposed by it.
 * `fn` must be synchronous.
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    scopes.pop();
    for (const t of scope) t.dispose();
    throw e;
  }
  scopes.pop();
  if (result instanceof Promise) {
    for (const t of scope) t.dispose();
    throw new Error('tidy: fn returned a Promise; tidy needs a synchronous function (await outside of it).');
  }
  const kept = new Set<Tensor>();
  collectTensors(result, kept);
  const parent = scopes[scopes.length - 1];
  for (const t of scope) {
    if (kept.has(t)) parent?.add(t);
    else t.dispose();
  }
  return result;
}

/** Exempts a tensor from disposal by the enclosing tidy() scopes; returns it. */
export function keep<T extends Tensor>(t: T): T {
  for (const s of scopes) s.delete(t);
  return t;
}

// ---- the tensor ----

/** A tensor's private state as the engine (apply, backward) reads and writes it; set by the class. */
let engine: {
  backend(t: Tensor): Backend;
  node(t: Tensor): Node | null;
  /** Makes `t` the output of `node`, recorded for backward. */
  attach(t: Tensor, node: Node): void;
  setRaw(t: Tensor, r: Raw): void;
};

/** Options of the tensor factories. */
export interface TensorOptions {
  /** Record ops on it so backward() computes its `.grad` (default false). */
  requiresGrad?: boolean;
  /** 'gpu' (default; float32 on the WebGPU device) or 'cpu64' (float64 on the CPU, for gradcheck). */
  backend?: BackendName;
  /** 'float32' (default) or 'int32' (for indices: integer values only). */
  dtype?: Dtype;
}

/**
 * A tensor that records the differentiable ops applied to it. Wraps a device tensor
 * (`@wgtorch/tensor`) on the 'gpu' backend or a float64 array on 'cpu64'.
 */
export class Tensor {
  /** The accumulated gradient after backward(), for leaves that require grad; null before. */
  grad: Tensor | null = null;
  private _raw: Raw | null;
  private _node: Node | null;
  private _requiresGrad = false;
  private readonly _backend: Backend;
  private readonly _dtype: Dtype;

  static {
    engine = {
      backend: (t) => t._backend,
      node: (t) => t._node,
      attach(t, node) {
        t.requiresGrad = true;
        t._node = node;
      },
      setRaw(t, r) {
        t._raw = r;
      },
    };
  }

  /**
   * Wraps storage: a device tensor (f32, or i32 for an int32 tensor) or a float64 array
   * `{data, shape}` (integer values with `dtype: 'int32'`). The tensor takes ownership: dispose()
   * releases it. Prefer the factories (`tensor`, `zeros`, `fromDevice`, ...).
   * `untracked`: not registered with the enclosing tidy() scope (for long-lived state such as
   * constants a module holds).
   */
  constructor(data: DeviceTensor | F64, options: { requiresGrad?: boolean; untracked?: boolean; dtype?: Dtype } = {}) {
    this._raw = data;
    this._backend = data instanceof DeviceTensor ? backendOf('gpu') : backendOf('cpu64');
    this._dtype = data instanceof DeviceTensor ? dtypeOfDevice(data, options.dtype) : (options.dtype ?? 'float32');
    this.requiresGrad = options.requiresGrad ?? false;
    this._node = null;
    if (!options.untracked) scopes[scopes.length - 1]?.add(this);
  }

  /** Whether backward() computes a gradient for this tensor (set it on leaves you create; float32 only). */
  get requiresGrad(): boolean {
    return this._requiresGrad;
  }

  set requiresGrad(v: boolean) {
    if (v && this._dtype !== 'float32') {
      throw new Error(
        `Tensor.requiresGrad: only float32 tensors can require gradients; this one is ${this._dtype} ` +
          `${formatShape(this.shape)}. Convert it with .float() first.`,
      );
    }
    this._requiresGrad = v;
  }

  /** 'float32' or 'int32' (on 'gpu' the device tensor's f32 or i32; on 'cpu64' float64 storage either way). */
  get dtype(): Dtype {
    return this._dtype;
  }

  /** The backend the tensor lives on. */
  get backend(): BackendName {
    return this._backend.name;
  }

  /** The dimensions, outermost first. */
  get shape(): readonly number[] {
    return this._backend.shape(this.raw);
  }

  /** Number of elements. */
  get size(): number {
    return sizeOf(this.shape);
  }

  /** Number of dimensions. */
  get ndim(): number {
    return this.shape.length;
  }

  /** True for tensors created by the user rather than by an op that records gradients. */
  get isLeaf(): boolean {
    return this._node === null;
  }

  /** The op that made this tensor, when it was recorded for backward. */
  get gradFn(): GradFn | null {
    return this._node;
  }

  /** True after dispose() (or after the tidy() scope that made it ended). */
  get isDisposed(): boolean {
    return this._raw === null;
  }

  /** The storage: a device tensor on 'gpu', a float64 `{data, shape}` on 'cpu64'. */
  get raw(): DeviceTensor | F64 {
    if (!this._raw)
      throw new Error(`Tensor: used after dispose(). Keep it (keep(t), or return it from tidy) until its last use.`);
    return this._raw;
  }

  /** The device tensor (gpu backend only), e.g. to pass to a kernel of @wgtorch/kernels-wgsl. */
  get data(): DeviceTensor {
    const r = this.raw;
    if (!(r instanceof DeviceTensor))
      throw new Error(`Tensor.data: this tensor is on the ${this.backend} backend; use .raw.`);
    return r;
  }

  /** Copies the values to the CPU: Int32Array for an int32 tensor, else Float32Array on gpu, Float64Array on cpu64. */
  async toArray(): Promise<Float32Array | Float64Array | Int32Array> {
    const r = this.raw;
    if (this._dtype === 'int32' && !(r instanceof DeviceTensor)) return Int32Array.from(r.data);
    return this._backend.toArray(r);
  }

  /** The value of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1)
      throw new Error(`Tensor.item: tensor ${formatShape(this.shape)} has ${this.size} elements, not 1.`);
    return (await this.toArray())[0];
  }

  /** A float32 copy (torch's .float()): int32 values become floats; from a float32 tensor, a copy in the graph. */
  float(): Tensor {
    return apply(castOp, [this], { to: 'float32' });
  }

  /** An int32 copy (torch's .int()): floats are rounded toward zero, as PyTorch does. Not differentiable. */
  int(): Tensor {
    return apply(castOp, [this], { to: 'int32' });
  }

  /** A tensor sharing this one's storage that is not recorded for backward. */
  detach(): Tensor {
    return new Tensor(this._backend.retain(this.raw) as DeviceTensor | F64, { dtype: this._dtype });
  }

  /** Releases the storage (and, if nothing else needs it, the graph behind it). Idempotent. */
  dispose(): void {
    if (this._raw) this._backend.release(this._raw);
    this._raw = null;
    const node = this._node;
    this._node = null;
    node?.unref();
  }

  /** Sets `.grad` to null, releasing it. */
  zeroGrad(): void {
    this.grad?.dispose();
    this.grad = null;
  }

  /**
   * Computes the gradients of this tensor with respect to the leaves that require grad and adds
   * them to their `.grad`. A non-scalar tensor needs `gradient` (same shape). The graph is
   * freed as it goes unless `retainGraph`; running backward through it again is an error.
   */
  backward(gradient?: Tensor, options: { retainGraph?: boolean } = {}): void {
    runBackward(this, gradient, options.retainGraph ?? false);
  }

  /** e.g. 'Tensor([8, 10], gpu, requiresGrad)'. */
  toString(): string {
    return (
      `Tensor(${formatShape(this._raw ? this.shape : [])}, ${this.backend}` +
      `${this._dtype === 'int32' ? ', int32' : ''}${this.requiresGrad ? ', requiresGrad' : ''}` +
      `${this._raw ? '' : ', disposed'})`
    );
  }
}

/** The dtype of a device tensor, checked against the one asked for. */
function dtypeOfDevice(t: DeviceTensor, asked: Dtype | undefined): Dtype {
  const d: Dtype | undefined = t.dtype === 'f32' ? 'float32' : t.dtype === 'i32' ? 'int32' : undefined;
  if (!d || (asked && asked !== d)) {
    throw new Error(
      `Tensor: a ${t.dtype} device tensor ${formatShape(t.shape)} cannot be a ${asked ?? 'float32 or int32'} tensor; ` +
        "wrap f32 device tensors as 'float32' and i32 as 'int32'.",
    );
  }
  return d;
}

// ---- recording and running ops ----

/** The output dtype of an op: op.dtype's answer, or float32 after checking that every input is float32. */
function outputDtype<A>(op: OpDef<A>, inputs: Tensor[], attrs: A): Dtype {
  if (op.dtype)
    return op.dtype(
      inputs.map((t) => t.dtype),
      attrs,
    );
  for (let i = 0; i < inputs.length; i++) {
    if (inputs[i].dtype !== 'float32') {
      throw new Error(
        `${op.name}: input ${i} is an ${inputs[i].dtype} tensor ${formatShape(inputs[i].shape)}, and ${op.name} ` +
          'takes float32 tensors (wgtorch does not promote dtypes as PyTorch does); convert it with .float().',
      );
    }
  }
  return 'float32';
}

function checkSameBackend(op: string, inputs: Tensor[]): Backend {
  const b = engine.backend(inputs[0]);
  for (const t of inputs) {
    if (t.backend !== b.name) {
      throw new Error(
        `${op}: inputs live on different backends (${inputs.map((x) => x.backend).join(', ')}); move them to one.`,
      );
    }
  }
  return b;
}

// An op's forward and backward make device tensors that only their return value reaches: when
// one throws part-way, what it made is disposed (releaseOnThrow), so a failed op leaks nothing.
const runForward = releaseOnThrow(<A>(op: OpDef<A>, b: Backend, xs: Raw[], attrs: A, record: boolean) =>
  op.forward(b, xs, attrs, record),
);
const runBackwardOf = releaseOnThrow(<A>(op: OpDef<A>, b: Backend, dy: Raw, ctx: BackwardContext<A>) =>
  op.backward!(b, dy, ctx),
);

/** The dtype conversion of x.float() and x.int() (the cast kernel: f32 <-> i32). */
const castOp = defineOp<{ to: Dtype }>({
  name: 'cast',
  dtype: (_, { to }) => to,
  forward: (b, [x], { to }) => ({ y: b.k.cast(x, to === 'int32' ? 'i32' : 'f32') }),
  // Recorded only from float32 to float32 (int32 neither requires nor gives gradients): the identity.
  backward: (b, dy) => [b.k.copy(dy)],
});

/**
 * Swaps a leaf's storage for `r` (same shape and backend), releasing the old one: the optimizers
 * move each parameter into their flat buffer this way. Internal to the package.
 */
export function replaceStorage(t: Tensor, r: Raw): void {
  const old = t.raw;
  engine.setRaw(t, r);
  engine.backend(t).release(old);
}

/** Runs an op on tensors, recording it for backward when grad mode is on and an input requires grad. */
export function apply<A>(op: OpDef<A>, inputs: Tensor[], attrs: A): Tensor {
  const b = checkSameBackend(op.name, inputs);
  const n = inputs.length;
  const raws = new Array<Raw>(n);
  let anyRequiresGrad = false;
  for (let i = 0; i < n; i++) {
    const t = inputs[i];
    if (t.isDisposed)
      throw new Error(`${op.name}: an input ${t} was used after dispose(); keep it alive until its last use.`);
    raws[i] = t.raw;
    anyRequiresGrad ||= t.requiresGrad;
  }
  const dtype = outputDtype(op, inputs, attrs);
  const record = gradEnabled && op.backward !== undefined && anyRequiresGrad && dtype === 'float32';
  const { y, saved = [] } = runForward(op, b, raws, attrs, record);
  let out: Tensor;
  try {
    out = new Tensor(y as DeviceTensor | F64, { dtype });
  } catch (e) {
    b.release(y);
    for (const s of saved) b.release(s);
    throw new Error(`${op.name}: the forward gave storage of another dtype than ${dtype} (a bug in the op).`, {
      cause: e,
    });
  }
  if (!record) {
    for (const s of saved) b.release(s);
    return out;
  }
  const edges = new Array<Edge>(n);
  const shapes = new Array<readonly number[]>(n);
  for (let i = 0; i < n; i++) {
    const t = inputs[i];
    edges[i] = t.requiresGrad ? (engine.node(t) ?? t) : null;
    shapes[i] = b.shape(raws[i]);
  }
  const node = new Node(op, attrs, b, saved, edges, shapes);
  node.refs = 1;
  engine.attach(out, node);
  return out;
}

function accumulateLeaf(b: Backend, leaf: Tensor, g: Raw): void {
  const gs = b.shape(g);
  if (!sameShape(gs, leaf.shape)) {
    b.release(g);
    throw new Error(
      `backward: gradient ${formatShape(gs)} does not match its tensor ${formatShape(leaf.shape)} ` +
        "(an op's backward is wrong).",
    );
  }
  if (!leaf.grad || leaf.grad.isDisposed) {
    leaf.grad = new Tensor(g as DeviceTensor | F64, { untracked: true });
    return;
  }
  const sum = addConsuming(b, leaf.grad.raw, g);
  b.release(leaf.grad.raw);
  engine.setRaw(leaf.grad, sum);
}

/** a + g, releasing g (also when the add throws). */
function addConsuming(b: Backend, a: Raw, g: Raw): Raw {
  try {
    return b.k.add(a, g);
  } finally {
    b.release(g);
  }
}

function runBackward(root: Tensor, gradient: Tensor | undefined, retainGraph: boolean): void {
  if (!root.requiresGrad) {
    throw new Error(
      `backward: ${root} does not require grad; set requiresGrad on an input (and do not compute it inside noGrad).`,
    );
  }
  const b = engine.backend(root);
  let seed: Raw;
  if (gradient) {
    const gs = gradient.shape;
    if (!sameShape(gs, root.shape)) {
      throw new Error(
        `backward: gradient ${formatShape(gs)} must have the shape of the tensor ${formatShape(root.shape)}.`,
      );
    }
    seed = b.retain(gradient.raw);
  } else {
    if (root.size !== 1) {
      throw new Error(
        'backward: gradient can be implicitly created only for a scalar output, ' +
          `but the tensor is ${formatShape(root.shape)}; ` +
          'pass backward(gradient) with a gradient of that shape, or reduce it first (e.g. .sum() or .mean()).',
      );
    }
    seed = b.k.fill([...root.shape], 1);
  }
  // The implicit gradient of a scalar is all ones: an op may skip multiplying by it.
  const ones = gradient ? null : seed;
  const rootNode = engine.node(root);
  if (!rootNode) {
    accumulateLeaf(b, root, seed);
    return;
  }

  // Reverse topological order by an iterative depth-first search.
  const order: Node[] = [];
  const mark = ++pass;
  const stack: Node[] = [rootNode];
  const next: number[] = [0];
  rootNode.mark = mark;
  while (stack.length) {
    const top = stack.length - 1;
    const n = stack[top];
    const i = next[top];
    if (n.freed) {
      b.release(seed);
      throw new Error(
        `backward: trying to backward through the graph a second time: '${n.name}' already ran backward ` +
          'and freed its saved tensors. Call backward({retainGraph: true}) the first time if you need to ' +
          'backward twice, or recompute the forward.',
      );
    }
    if (i < n.inputs.length) {
      next[top]++;
      const e = n.inputs[i];
      if (e instanceof Node && e.mark !== mark) {
        e.mark = mark;
        stack.push(e);
        next.push(0);
      }
    } else {
      order.push(n);
      stack.pop();
      next.pop();
    }
  }
  order.reverse();

  rootNode.grad = seed;
  try {
    for (const n of order) {
      const dy = n.grad;
      const dy2 = n.grad2;
      n.grad = undefined;
      n.grad2 = undefined;
      if (dy === undefined) {
        if (!retainGraph) n.free(false);
        continue;
      }
      const needs = new Array<boolean>(n.inputs.length);
      for (let i = 0; i < needs.length; i++) needs[i] = n.inputs[i] !== null;
      let gs: (Raw | null)[];
      try {
        gs = runBackwardOf(n.op, b, dy, {
          saved: n.saved!,
          attrs: n.attrs,
          needs,
          shapes: n.shapes,
          dyIsOne: dy === ones && dy2 === undefined,
          ...(dy2 !== undefined ? { dy2 } : {}),
        });
      } finally {
        b.release(dy);
        if (dy2 !== undefined) b.release(dy2);
      }
      const inputs = n.inputs;
      if (!retainGraph) n.free(false);
      try {
        for (let i = 0; i < inputs.length; i++) {
          const g = gs[i];
          gs[i] = null; // handed on below: not released by the finally
          const e = inputs[i];
          if (!g) continue;
          if (!e) {
            b.release(g);
          } else if (e instanceof Node) {
            const prev = e.grad;
            if (prev === undefined) e.grad = g;
            else if (e.op.sumsGrads && e.grad2 === undefined) e.grad2 = g;
            else {
              e.grad = addConsuming(b, prev, g);
              b.release(prev);
            }
          } else {
            accumulateLeaf(b, e, g);
          }
        }
      } finally {
        for (const g of gs) if (g) b.release(g);
      }
    }
  } finally {
    // After a throw, the gradients not yet handed on.
    for (const n of order) {
      if (n.grad !== undefined) b.release(n.grad);
      if (n.grad2 !== undefined) b.release(n.grad2);
      n.grad = undefined;
      n.grad2 = undefined;
    }
  }
}

// ---- factories ----

/** What tensor() takes: a number, or arrays of numbers nested to any depth (typed arrays too), as torch.tensor. */
export type TensorData = number | boolean | ArrayLike<number> | readonly TensorData[];

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/**
 * A tensor from values, like torch.tensor: `tensor([[1, 2], [3, 4]])` infers the shape [2, 2];
 * `tensor(5)` is a 0-dim tensor; `tensor(flat, shape)` takes row-major values and a shape.
 * Ragged rows and non-numbers are refused (booleans read as 0 and 1). With `dtype: 'int32'` the
 * values must be integers (PyTorch would truncate; wgtorch refuses a fraction).
 */
export function tensor(data: TensorData, options?: TensorOptions): Tensor;
export function tensor(data: ArrayLike<number>, shape: readonly number[] | undefined, options?: TensorOptions): Tensor;
export function tensor(
  data: TensorData,
  shapeOrOptions?: readonly number[] | TensorOptions,
  options: TensorOptions = {},
): Tensor {
  if (shapeOrOptions !== undefined && !Array.isArray(shapeOrOptions)) {
    return tensorOf(data, undefined, shapeOrOptions as TensorOptions);
  }
  return tensorOf(data, shapeOrOptions as readonly number[] | undefined, options);
}

function tensorOf(data: TensorData, shape: readonly number[] | undefined, options: TensorOptions): Tensor {
  if (shape === undefined) {
    const parsed = parseNested(data);
    return fromValues('tensor', parsed.values, parsed.shape, options);
  }
  if (!isList(data) || (data.length > 0 && isList((data as ArrayLike<unknown>)[0]))) {
    throw new Error(
      `tensor: with a shape (${formatShape(shape)}) the data must be a flat array of numbers; ` +
        'pass nested arrays without a shape and the shape is inferred.',
    );
  }
  const n = sizeOf(shape, 'tensor');
  if (n !== data.length)
    throw new Error(`tensor: ${data.length} values do not fill shape ${formatShape(shape)} (${n} elements).`);
  return fromValues('tensor', data as ArrayLike<number>, shape, options);
}

function isList(v: unknown): v is ArrayLike<unknown> {
  return Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView));
}

function describeValue(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 20 ? `${v.slice(0, 20)}...` : v)}`;
  if (typeof v === 'object') return `an object (${Object.getPrototypeOf(v)?.constructor?.name ?? 'null prototype'})`;
  return `a ${typeof v}`;
}

/** Row-major values and the shape of nested arrays, the shape read along the first elements. */
function parseNested(data: TensorData): { values: ArrayLike<number>; shape: number[] } {
  if (typeof data === 'number' || typeof data === 'boolean') return { values: [Number(data)], shape: [] };
  if (ArrayBuffer.isView(data) && !(data instanceof DataView)) {
    const flat = data as unknown as ArrayLike<number>;
    return { values: flat, shape: [flat.length] };
  }
  if (!isList(data)) throw new Error(`tensor: data is ${describeValue(data)}; pass a number or (nested) arrays.`);
  const shape: number[] = [];
  for (let v: unknown = data; isList(v); v = v[0]) {
    shape.push(v.length);
    if (v.length === 0) break;
  }
  const values = new Float64Array(sizeOf(shape, 'tensor'));
  const path: number[] = [];
  const at = (p: readonly number[]) => `[${p.join(', ')}]`;
  const first = (depth: number) => at(new Array<number>(depth).fill(0));
  let k = 0;
  const walk = (node: unknown, depth: number): void => {
    if (depth === shape.length) {
      if (typeof node === 'number') values[k++] = node;
      else if (typeof node === 'boolean') values[k++] = node ? 1 : 0;
      else if (isList(node)) {
        throw new Error(
          `tensor: element ${at(path)} is an array of ${node.length} where element ${first(depth)} is a number ` +
            '(ragged nesting: every element at one depth must be a number, or every one an array of one length).',
        );
      } else {
        throw new Error(
          `tensor: element ${at(path)} is ${describeValue(node)}; tensor() takes numbers (or booleans) ` +
            'in nested arrays.',
        );
      }
      return;
    }
    if (!isList(node)) {
      throw new Error(
        `tensor: element ${at(path)} is ${typeof node === 'number' ? `the number ${node}` : describeValue(node)} ` +
          `where row ${first(depth)} is an array of ${shape[depth]} (ragged nesting).`,
      );
    }
    if (node.length !== shape[depth]) {
      throw new Error(
        `tensor: row ${at(path)} has ${node.length} elements, row ${first(depth)} has ${shape[depth]} ` +
          '(ragged nested arrays; every row at one depth needs the same length).',
      );
    }
    for (let i = 0; i < node.length; i++) {
      path.push(i);
      walk(node[i], depth + 1);
      path.pop();
    }
  };
  walk(data, 0);
  return { values, shape };
}

/** The options' dtype, checked (int32 tensors cannot require grad). */
function dtypeOf(op: string, options: TensorOptions): Dtype {
  const dtype = options.dtype ?? 'float32';
  if (dtype !== 'float32' && dtype !== 'int32')
    throw new Error(`${op}: dtype '${String(dtype)}' is not supported; use 'float32' or 'int32'.`);
  if (dtype === 'int32' && options.requiresGrad)
    throw new Error(`${op}: only float32 tensors can require gradients (got dtype 'int32' with requiresGrad).`);
  return dtype;
}

/** A tensor of `shape` holding `values` (row-major) on the options' backend and dtype. */
export function fromValues(
  op: string,
  values: ArrayLike<number>,
  shape: readonly number[],
  options: TensorOptions,
): Tensor {
  const dtype = dtypeOf(op, options);
  const name = options.backend ?? 'gpu';
  if (name !== 'gpu' && name !== 'cpu64')
    throw new Error(`${op}: backend '${String(name)}' is not one of 'gpu', 'cpu64'.`);
  if (dtype === 'int32') {
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (!Number.isInteger(v) || v < INT32_MIN || v > INT32_MAX) {
        throw new Error(
          `${op}: value ${v} (flat index ${i}) cannot be held by an int32 tensor ` +
            `(integers in [${INT32_MIN}, ${INT32_MAX}]); round it, or use dtype 'float32'.`,
        );
      }
    }
  }
  const raw =
    name === 'gpu' && dtype === 'int32'
      ? DeviceTensor.fromArray(Int32Array.from(values), shape, 'i32')
      : backendOf(name).fromArray(values, shape);
  return new Tensor(raw as DeviceTensor | F64, { requiresGrad: options.requiresGrad, dtype });
}

/** Wraps a device tensor (f32, or i32 as an int32 tensor), taking ownership of it. */
export function fromDevice(t: DeviceTensor, options: { requiresGrad?: boolean } = {}): Tensor {
  if (t.dtype !== 'f32' && t.dtype !== 'i32')
    throw new Error(`fromDevice: expected an f32 or i32 device tensor, got ${t.dtype} ${formatShape(t.shape)}.`);
  return new Tensor(t, options);
}

/** A tensor filled with `value`. */
export function full(shape: readonly number[], value: number, options: TensorOptions = {}): Tensor {
  return fromValues('full', new Float64Array(sizeOf(shape, 'full')).fill(value), shape, options);
}

/** A tensor of zeros. */
export function zeros(shape: readonly number[], options: TensorOptions = {}): Tensor {
  return full(shape, 0, options);
}

/** A tensor of ones. */
export function ones(shape: readonly number[], options: TensorOptions = {}): Tensor {
  return full(shape, 1, options);
}

/** Options of the random factories: an explicit `rng` or `seed`, else the global generator (manualSeed). */
export interface RandomOptions extends TensorOptions {
  /** Draw from a generator of this seed (the same values at every call). */
  seed?: number;
  /** Draw from this generator (advancing it). */
  rng?: Rng;
}

/** The generator a random factory draws from: `rng`, a fresh one for `seed`, else the global one. */
export function rngOf(options: RandomOptions): Rng {
  return options.rng ?? (options.seed !== undefined ? new Rng(options.seed) : getDefaultRng());
}

function floatOnly(op: string, options: TensorOptions): void {
  if ((options.dtype ?? 'float32') !== 'float32')
    throw new Error(`${op}: draws floats; dtype '${options.dtype}' is not supported (use randint for integers).`);
}

/**
 * Normal samples N(mean, std^2) drawn on the CPU and uploaded once: from the global generator
 * (different at each call, repeating after manualSeed(n)), or reproducibly from `seed` or `rng`.
 */
export function randn(shape: readonly number[], options: RandomOptions & { mean?: number; std?: number } = {}): Tensor {
  floatOnly('randn', options);
  const values = rngOf(options).normalArray(sizeOf(shape, 'randn'), options.mean ?? 0, options.std ?? 1);
  return fromValues('randn', values, shape, options);
}

/** Uniform samples in [low, high) (default [0, 1)), from the global generator unless `seed` or `rng` is given. */
export function rand(shape: readonly number[], options: RandomOptions & { low?: number; high?: number } = {}): Tensor {
  floatOnly('rand', options);
  const values = rngOf(options).uniformArray(sizeOf(shape, 'rand'), options.low ?? 0, options.high ?? 1);
  return fromValues('rand', values, shape, options);
}
