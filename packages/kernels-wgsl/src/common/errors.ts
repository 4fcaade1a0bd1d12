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
