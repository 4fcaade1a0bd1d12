// The engine: tensors that record the ops applied to them, and backward() over that record.
// Ownership keeps memory flat without the garbage collector: a Tensor owns one handle to its
// storage (dispose() releases it; tidy(fn) disposes what fn made and does not return); what an
// op saved for backward is released after its backward runs or once no tensor can reach the op;
// a leaf's `.grad` belongs to the leaf (zeroGrad() releases it).

import { Tensor as DeviceTensor, Rng, formatShape, releaseOnThrow, sizeOf } from '@wgtorch/tensor';
import type { F64 } from '@wgtorch/kernels-wgsl';
import { backendOf, type Backend, type BackendName, type Raw } from './backend.js';
import { sameShape } from './shape.js';

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
}

/**
 * One differentiable op: the forward and, beside it, the rule that pushes the gradient to the
 * inputs. forward() borrows its inputs; what it returns in `saved` is owned by the graph.
 * backward() returns one owned gradient (or null) per input.
 */
export interface OpDef<A = unknown> {
  readonly name: string;
  forward(b: Backend, xs: Raw[], attrs: A, record: boolean): { y: Raw; saved?: Raw[] };
  backward?(b: Backend, dy: Raw, ctx: BackwardContext<A>): (Raw | null)[];
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
}

/**
 * A tensor that records the differentiable ops applied to it. Wraps a device tensor
 * (`@wgtorch/tensor`) on the 'gpu' backend or a float64 array on 'cpu64'.
 */
export class Tensor {
  /** Whether backward() computes a gradient for this tensor (set it on leaves you create). */
  requiresGrad: boolean;
  /** The accumulated gradient after backward(), for leaves that require grad; null before. */
  grad: Tensor | null = null;
  private _raw: Raw | null;
  private _node: Node | null;
  private readonly _backend: Backend;

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
   * Wraps storage: a device tensor (f32) or a float64 array `{data, shape}`. The tensor takes
   * ownership: dispose() releases it. Prefer the factories (`tensor`, `zeros`, `fromDevice`, ...).
   * `untracked`: not registered with the enclosing tidy() scope (for long-lived state such as
   * constants a module holds).
   */
  constructor(data: DeviceTensor | F64, options: { requiresGrad?: boolean; untracked?: boolean } = {}) {
    this._raw = data;
    this._backend = data instanceof DeviceTensor ? backendOf('gpu') : backendOf('cpu64');
    this.requiresGrad = options.requiresGrad ?? false;
    this._node = null;
    if (!options.untracked) scopes[scopes.length - 1]?.add(this);
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

  /** Copies the values to the CPU (Float32Array on gpu, Float64Array on cpu64). */
  toArray(): Promise<Float32Array | Float64Array> {
    return this._backend.toArray(this.raw);
  }

  /** The value of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1)
      throw new Error(`Tensor.item: tensor ${formatShape(this.shape)} has ${this.size} elements, not 1.`);
    return (await this.toArray())[0];
  }

  /** A tensor sharing this one's storage that is not recorded for backward. */
  detach(): Tensor {
    return new Tensor(this._backend.retain(this.raw) as DeviceTensor | F64);
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
      `${this.requiresGrad ? ', requiresGrad' : ''}${this._raw ? '' : ', disposed'})`
    );
  }
}

// ---- recording and running ops ----

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
  const record = gradEnabled && op.backward !== undefined && anyRequiresGrad;
  const { y, saved = [] } = runForward(op, b, raws, attrs, record);
  const out = new Tensor(y as DeviceTensor | F64);
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
      n.grad = undefined;
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
          dyIsOne: dy === ones,
        });
      } finally {
        b.release(dy);
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
      n.grad = undefined;
    }
  }
}

// ---- factories ----

/** A tensor from values (row-major) and a shape; `shape` defaults to [data.length]. */
export function tensor(data: ArrayLike<number>, shape?: readonly number[], options: TensorOptions = {}): Tensor {
  const shp = shape ?? [data.length];
  const n = sizeOf(shp, 'tensor');
  if (n !== data.length)
    throw new Error(`tensor: ${data.length} values do not fill shape ${formatShape(shp)} (${n} elements).`);
  const b = backendOf(options.backend ?? 'gpu');
  return new Tensor(b.fromArray(data, shp) as DeviceTensor | F64, { requiresGrad: options.requiresGrad });
}

/** Wraps a device tensor (f32), taking ownership of it. */
export function fromDevice(t: DeviceTensor, options: { requiresGrad?: boolean } = {}): Tensor {
  if (t.dtype !== 'f32')
    throw new Error(`fromDevice: expected an f32 device tensor, got ${t.dtype} ${formatShape(t.shape)}.`);
  return new Tensor(t, options);
}

/** A tensor filled with `value`. */
export function full(shape: readonly number[], value: number, options: TensorOptions = {}): Tensor {
  const b = backendOf(options.backend ?? 'gpu');
  return new Tensor(b.fromArray(new Float64Array(sizeOf(shape, 'full')).fill(value), shape) as DeviceTensor | F64, {
    requiresGrad: options.requiresGrad,
  });
}

/** A tensor of zeros. */
export function zeros(shape: readonly number[], options: TensorOptions = {}): Tensor {
  return full(shape, 0, options);
}

/** A tensor of ones. */
export function ones(shape: readonly number[], options: TensorOptions = {}): Tensor {
  return full(shape, 1, options);
}

/** Normal samples N(mean, std^2), reproducible for a seed (drawn on the CPU with Rng, uploaded once). */
export function randn(
  shape: readonly number[],
  options: TensorOptions & { seed?: number; rng?: Rng; mean?: number; std?: number } = {},
): Tensor {
  const rng = options.rng ?? new Rng(options.seed ?? 0);
  return tensor(rng.normalArray(sizeOf(shape, 'randn'), options.mean ?? 0, options.std ?? 1), shape, options);
}

/** Uniform samples in [low, high) (default [0, 1)), reproducible for a seed. */
export function rand(
  shape: readonly number[],
  options: TensorOptions & { seed?: number; rng?: Rng; low?: number; high?: number } = {},
): Tensor {
  const rng = options.rng ?? new Rng(options.seed ?? 0);
  return tensor(rng.uniformArray(sizeOf(shape, 'rand'), options.low ?? 0, options.high ?? 1), shape, options);
}
