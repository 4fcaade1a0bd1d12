// Argument checks shared by the launchers. Every message names the kernel, the shapes and the fix.

import { ShapeError, formatShape, type DType, type Tensor } from '@wgtorch/tensor';

/** A launcher refused its arguments (shape, dtype or option); the message names the kernel and the values. */
export class KernelArgumentError extends ShapeError {
  constructor(kernel: string, message: string) {
    super(`${kernel}: ${message}`);
    this.name = 'KernelArgumentError';
  }
}

/** Throws a KernelArgumentError unless `t` has `dtype`. */
export function checkDtype(kernel: string, name: string, t: Tensor, dtype: DType): void {
  if (t.dtype !== dtype) {
    throw new KernelArgumentError(kernel, `${name} must be ${dtype}, got ${t.dtype} ${formatShape(t.shape)}.`);
  }
}

/** Whether two shapes are equal, dimension by dimension. */
export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** An option given as one integer or an [h, w] pair (PyTorch's int-or-tuple), checked against `min`. */
export function intPair(kernel: string, name: string, v: number | [number, number], min: number): [number, number] {
  const p: [number, number] = typeof v === 'number' ? [v, v] : [v[0], v[1]];
  if ((typeof v !== 'number' && v.length !== 2) || !p.every((d) => Number.isInteger(d) && d >= min)) {
    throw new KernelArgumentError(
      kernel,
      `${name} must be an integer >= ${min} or a pair of them, got ${JSON.stringify(v)}.`,
    );
  }
  return p;
}
