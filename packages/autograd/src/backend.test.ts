// The kernel tables of the two backends are derived from kernels-wgsl/ops' exports: launcher
// `foo` on 'gpu', its reference `fooRef` on 'cpu64'.
import { describe, expect, it } from 'vitest';
import * as K from '@wgtorch/kernels-wgsl/ops';
import { cpu64, gpu } from './backend.js';

const exports = K as unknown as Record<string, unknown>;

describe('backend kernel tables', () => {
  it('pair every launcher that has a reference, and nothing else', () => {
    const isFn = (n: string) => typeof exports[n] === 'function';
    const paired = Object.keys(exports).filter((n) => isFn(n) && isFn(`${n}Ref`));
    expect(Object.keys(gpu.k).sort()).toEqual(paired.sort());
    expect(Object.keys(cpu64.k).sort()).toEqual(paired.sort());
    for (const n of ['conv2dForward', 'batchNormReluBackward', 'unary', 'sumToShape', 'softmaxCrossEntropy']) {
      expect(paired).toContain(n);
    }
  });

  it('call the launcher on gpu and its reference on cpu64', () => {
    const k = (t: object, n: string) => (t as Record<string, unknown>)[n];
    for (const n of Object.keys(gpu.k)) {
      expect(k(gpu.k, n)).toBe(exports[n]);
      // These references are wrapped to update their operands in place, as the launchers do.
      const wrapped = ['batchNormTrain', 'batchNormTrainRelu', 'batchNormTrainAddRelu'].includes(n);
      if (!wrapped) expect(k(cpu64.k, n)).toBe(exports[`${n}Ref`]);
    }
  });

  it('update the running statistics in place on cpu64, as the GPU kernel does', () => {
    const f = (data: number[], shape: number[]) => ({ data: Float64Array.from(data), shape });
    const x = f([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2, 1]);
    const rm = f([0, 0], [2]);
    const rv = f([1, 1], [2]);
    const r = cpu64.k.batchNormTrain(x, f([1, 1], [2]), f([0, 0], [2]), rm, rv, { momentum: 0.5, eps: 1e-5 });
    // channel 0 holds 1, 2, 5, 6: mean 3.5, unbiased variance 17/3
    expect(rm.data[0]).toBeCloseTo(0.5 * 3.5, 12);
    expect(rv.data[0]).toBeCloseTo(0.5 + 0.5 * (17 / 3), 12);
    expect(r.y.shape).toEqual([2, 2, 2, 1]);
    // batchNormTrainAddRelu takes a residual after x: its running statistics are arguments 4 and 5.
    const [rm2, rv2] = [f([0, 0], [2]), f([1, 1], [2])];
    cpu64.k.batchNormTrainAddRelu(x, x, f([1, 1], [2]), f([0, 0], [2]), rm2, rv2, { momentum: 0.5, eps: 1e-5 });
    expect(rm2.data[0]).toBeCloseTo(0.5 * 3.5, 12);
    expect(rv2.data[0]).toBeCloseTo(0.5 + 0.5 * (17 / 3), 12);
  });
});
