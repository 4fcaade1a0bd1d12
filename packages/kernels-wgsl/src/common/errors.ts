// Argument checks shared by the launchers. Every message names the kernel, the shapes and the fix.

import { ShapeError, formatShape, type DType, type Tensor } from '@wgtorch/tensor';

export class KernelArgumentError extends ShapeError {
  constructor(kernel: string, message: string) {
    super(`${kernel}: ${message}`);
    this.name = 'KernelArgumentError';
  }
}

export function checkDtype(kernel: string, name: string, t: Tensor, dtype: DType): void {
  if (t.dtype !== dtype) {
    throw new KernelArgumentError(kernel, `${name} must be ${dtype}, got ${t.dtype} ${formatShape(t.shape)}.`);
  }
}

export function checkRank(kernel: string, name: string, t: Tensor, rank: number, layout: string): void {
  if (t.shape.length !== rank) {
    throw new KernelArgumentError(kernel, `${name} must be ${rank}-D ${layout}, got ${formatShape(t.shape)}.`);
  }
}

export function checkSameShape(kernel: string, a: [string, Tensor], b: [string, Tensor]): void {
  const [an, at] = a;
  const [bn, bt] = b;
  if (at.shape.length !== bt.shape.length || at.shape.some((d, i) => d !== bt.shape[i])) {
    throw new KernelArgumentError(kernel, `${an} ${formatShape(at.shape)} and ${bn} ${formatShape(bt.shape)} must have the same shape.`);
  }
}
