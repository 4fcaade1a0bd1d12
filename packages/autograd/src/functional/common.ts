// Helpers the op families share: gradient reshaping, intermediate release, dim checks, and the
// installer of Tensor methods. Not part of the public API.

import { formatShape } from '@wgtorch/tensor';
import type { Backend, Raw } from '../backend.js';
import { sameShape } from '../shape.js';
import { defineOp, Tensor } from '../tensor.js';

export type Grads = (Raw | null)[];

/** Sums a broadcast gradient down to `shape`; consumes `g`. */
export function reduceTo(b: Backend, g: Raw, shape: readonly number[]): Raw {
  if (sameShape(b.shape(g), shape)) return g;
  const s = b.k.sumToShape(g, [...shape]);
  b.release(g);
  return s;
}

/** f(x) then g(result), releasing the intermediate. */
export function andThen(b: Backend, r: Raw, f: (r: Raw) => Raw): Raw {
  const out = f(r);
  b.release(r);
  return out;
}

/** Spreads a reduced gradient (keepdim shape) back over `shape`, times `factor`. */
export function expandTo(b: Backend, dyKeep: Raw, shape: readonly number[], factor: number): Raw {
  const zero = b.k.fill([...shape], 0);
  const scaled = factor === 1 ? dyKeep : b.k.scale(dyKeep, factor);
  const out = b.k.add(zero, scaled);
  b.release(zero);
  if (scaled !== dyKeep) b.release(scaled);
  return out;
}

/** An op y = f(x) whose backward needs only y. */
export function fromOutput(name: string, f: (b: Backend, x: Raw) => Raw, df: (b: Backend, dy: Raw, y: Raw) => Raw) {
  return defineOp({
    name,
    forward: (b, [x], _a, record) => {
      const y = f(b, x);
      return { y, saved: record ? [b.retain(y)] : [] };
    },
    backward: (b, dy, { saved: [y] }) => [df(b, dy, y)],
  });
}

/** The dims `dim` names (one, a list, or all when undefined), made non-negative, sorted, unique. */
export function axesOf(op: string, x: Tensor, dim: number | readonly number[] | undefined): number[] {
  const n = x.ndim;
  const list = dim === undefined ? [...Array(n).keys()] : typeof dim === 'number' ? [dim] : [...dim];
  const axes = list.map((d) => (d < 0 ? d + n : d));
  if (axes.some((d) => d < 0 || d >= n))
    throw new Error(`${op}: dim ${JSON.stringify(dim)} is out of range for ${formatShape(x.shape)}.`);
  return [...new Set(axes)].sort((a, b) => a - b);
}

/**
 * Puts PyTorch-style shorthands (x.add(y), x.sum()) on the Tensor prototype, not enumerable,
 * like methods written in a class body. Each family installs its own, beside its functions, so
 * tensor.ts needs no import of them; declare their types with `declare module '../tensor.js'`.
 */
export function addTensorMethods(methods: ThisType<Tensor> & Record<string, (...args: never[]) => unknown>): void {
  for (const [name, value] of Object.entries(methods)) {
    if (Object.prototype.hasOwnProperty.call(Tensor.prototype, name))
      throw new Error(`addTensorMethods: Tensor.${name} is defined twice.`);
    Object.defineProperty(Tensor.prototype, name, { value, writable: true, configurable: true });
  }
}
