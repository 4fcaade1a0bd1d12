// Class labels from the CPU, checked where it costs nothing: a label outside [0, classes) makes
// the GPU loss NaN (the kernel has no way to report it without a readback), and a fractional
// one would be truncated by the conversion to i32. Labels already on the GPU are not checked.

import { KernelArgumentError } from '../common/errors.js';

/**
 * `labels` as an Int32Array of class indices for `classes` classes, or a KernelArgumentError
 * naming `op`, the first bad label, its index and the class count. A label equal to
 * `ignoreIndex` (nllLoss's) is accepted too.
 */
export function classLabels(op: string, labels: ArrayLike<number>, classes: number, ignoreIndex?: number): Int32Array {
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i];
    if (v === ignoreIndex) continue;
    if (!Number.isInteger(v) || v < 0 || v >= classes) {
      const ignored = ignoreIndex === undefined ? '' : ` or the ignoreIndex ${ignoreIndex}`;
      throw new KernelArgumentError(
        op,
        `label ${v} at index ${i} is not a class index: ` +
          `with ${classes} classes a label is an integer in [0, ${classes - 1}]${ignored}.`,
      );
    }
  }
  return labels instanceof Int32Array ? labels : Int32Array.from(labels);
}
