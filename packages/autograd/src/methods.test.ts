// The Tensor methods defined beside the functions (functional.ts) behave like class methods. Import
// cycles are checked for every package in test/structure.test.ts.
import { describe, expect, it } from 'vitest';
import { Tensor } from './index.js';

describe('Tensor methods', () => {
  it('gives Tensor its methods, not enumerable, as in a class body', () => {
    for (const m of [
      'add',
      'sub',
      'mul',
      'div',
      'matmul',
      'reshape',
      'flatten',
      't',
      'sum',
      'mean',
      'relu',
      'exp',
      'log',
      'neg',
    ]) {
      expect(typeof (Tensor.prototype as unknown as Record<string, unknown>)[m]).toBe('function');
    }
    expect(Object.keys(Tensor.prototype)).toEqual([]);
  });
});
