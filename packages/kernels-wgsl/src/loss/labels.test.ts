// Labels from the CPU are checked before upload: integers in [0, classes), or an error naming
// the op, the label, its index and the class count (out of range, the GPU loss would be NaN;
// fractional, the i32 conversion would truncate it).

import { describe, expect, it } from 'vitest';
import { classLabels, softmaxCrossEntropyRef } from './index.js';
import { f64Of } from '../elementwise/test-util.js';

describe('classLabels', () => {
  it('accepts integer labels in range from any array type', () => {
    const l = Int32Array.of(0, 9, 3);
    expect(classLabels('op', l, 10)).toBe(l); // no copy
    expect(Array.from(classLabels('op', Float32Array.of(0, 9, 3), 10))).toEqual([0, 9, 3]);
    expect(Array.from(classLabels('op', [1, 2], 3))).toEqual([1, 2]);
  });

  it('names the op, the label, its index and the class count', () => {
    expect(() => classLabels('crossEntropy', [0, 10, 2], 10)).toThrow(
      'crossEntropy: label 10 at index 1 is not a class index: with 10 classes a label is an integer in [0, 9].',
    );
    expect(() => classLabels('crossEntropy', Int32Array.of(4, -1), 10)).toThrow(/label -1 at index 1/);
    expect(() => classLabels('crossEntropy', Float32Array.of(2, 1.5), 10)).toThrow(/label 1\.5 at index 1/);
    expect(() => classLabels('crossEntropy', [NaN], 10)).toThrow(/label NaN at index 0/);
  });

  it('is applied by the float64 reference too', () => {
    const logits = f64Of([0, 0, 0, 0, 0, 0], [2, 3]);
    expect(() => softmaxCrossEntropyRef(logits, f64Of([0, 3], [2]))).toThrow(
      /softmaxCrossEntropyRef: label 3 at index 1/,
    );
    expect(softmaxCrossEntropyRef(logits, f64Of([0, 2], [2])).loss.data[0]).toBeCloseTo(Math.log(3), 12);
  });
});
