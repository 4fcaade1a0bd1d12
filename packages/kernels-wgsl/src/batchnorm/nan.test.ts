// Batch norm + ReLU keeps NaN as PyTorch does: a NaN in a channel makes that channel's
// statistics, and so all its outputs, NaN (max(NaN, 0) made them 0 on lavapipe). The backward
// through the ReLU is PyTorch's threshold_backward: a NaN y passes dy. Batch norm + add + ReLU
// the same: a NaN in x spoils its channel, a NaN in the residual only its own output.

import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, Tensor } from '@wgtorch/tensor';
import * as B from './index.js';
import { kernelProfile } from '../profile.js';
import { f64Of, pair } from '../elementwise/test-util.js';
import { expectSameWithNaN } from '../elementwise/nan-util.js';

beforeAll(async () => {
  await getRuntime();
});

afterEach(() => {
  kernelProfile().setOptions({});
});

/** x [2, 2, H, W] with a NaN at one element of channel 0. */
function withNaN(hw: number): { x: Tensor; xr: ReturnType<typeof f64Of> } {
  const p = pair([2, 2, hw, hw], 7);
  const v = Float32Array.from(p.r.data);
  v[3] = NaN;
  return { x: Tensor.fromArray(v, p.r.shape), xr: f64Of(v, p.r.shape) };
}

const modes = [
  ['fused', () => {}],
  ['split', () => kernelProfile().setOptions({ batchNormSplit: true })],
  ['unfused', () => kernelProfile().setOptions({ batchNormFused: false })],
] as const;

describe('batch norm + ReLU with a NaN input', () => {
  for (const hw of [4, 3]) {
    for (const [mode, set] of modes) {
      it(`training: the NaN channel is NaN, the other normal (${mode}, ${hw}x${hw})`, async () => {
        set();
        const { x, xr } = withNaN(hw);
        const c = (v: number) => ({ t: Tensor.fromArray([v, v]), r: f64Of([v, v], [2]) });
        const [gamma, beta, rm, rv] = [c(1), c(0.5), c(0), c(1)];
        const out = B.batchNormTrainRelu(x, gamma.t, beta.t, rm.t, rv.t);
        const ref = B.batchNormTrainReluRef(xr, gamma.r, beta.r, rm.r, rv.r);
        const y = await out.y.toArray();
        const per = hw * hw;
        for (let i = 0; i < y.length; i++) {
          const channel = Math.floor(i / per) % 2;
          if (channel === 0) expect(Number.isNaN(y[i]), `y[${i}]`).toBe(true);
          else expect(Math.abs(y[i] - ref.y.data[i]), `y[${i}]`).toBeLessThan(1e-4);
        }
        expect(Number.isNaN((await rv.t.toArray())[0])).toBe(true);
        // Backward through the ReLU from y: dy passes where y is NaN.
        const dy = pair(x.shape, 8);
        const g = B.batchNormReluBackward(dy.t, out.y, x, gamma.t, beta.t, out.saveMean, out.saveInvStd);
        const gRef = B.batchNormReluBackwardRef(
          dy.r,
          f64Of(y, x.shape),
          xr,
          gamma.r,
          beta.r,
          f64Of(await out.saveMean.toArray(), [2]),
          f64Of(await out.saveInvStd.toArray(), [2]),
        );
        // Channel 0: y is NaN everywhere, so dbeta is the plain sum of dy; dgamma and dx are NaN.
        expect(gRef.dbeta.data[0]).toBeCloseTo(
          dy.r.data.filter((_, i) => Math.floor(i / per) % 2 === 0).reduce((a, v) => a + v, 0),
          10,
        );
        expect(Number.isNaN(gRef.dgamma.data[0])).toBe(true);
        await expectSameWithNaN(g.dbeta, gRef.dbeta, 'dbeta', 1e-3);
        await expectSameWithNaN(g.dgamma, gRef.dgamma, 'dgamma', 1e-3);
        await expectSameWithNaN(g.dx, gRef.dx, 'dx', 1e-3);
      });
    }

    it(`eval: only the NaN element is NaN (${hw}x${hw})`, async () => {
      const { x, xr } = withNaN(hw);
      const c = (vals: number[]) => ({ t: Tensor.fromArray(vals), r: f64Of(vals, [2]) });
      const [gamma, beta, rm, rv] = [c([1, 2]), c([-5, 0.1]), c([0, 1]), c([1, 2])];
      await expectSameWithNaN(
        B.batchNormEvalRelu(x, gamma.t, beta.t, rm.t, rv.t),
        B.batchNormEvalReluRef(xr, gamma.r, beta.r, rm.r, rv.r),
        'evalRelu',
      );
    });
  }
});

describe('batch norm + add + ReLU with a NaN input', () => {
  for (const hw of [4, 3]) {
    for (const [mode, set] of modes) {
      for (const where of ['x', 'residual'] as const) {
        it(`training, NaN in ${where}: as the float64 reference, NaN where it is (${mode}, ${hw}x${hw})`, async () => {
          set();
          const nan = withNaN(hw);
          const other = pair(nan.x.shape, 9);
          const [x, xr] = where === 'x' ? [nan.x, nan.xr] : [other.t, other.r];
          const [res, resr] = where === 'x' ? [other.t, other.r] : [nan.x, nan.xr];
          const c = (v: number) => ({ t: Tensor.fromArray([v, v]), r: f64Of([v, v], [2]) });
          const [gamma, beta, rm, rv] = [c(1), c(0.5), c(0), c(1)];
          const out = B.batchNormTrainAddRelu(x, res, gamma.t, beta.t, rm.t, rv.t);
          const ref = B.batchNormTrainAddReluRef(xr, resr, gamma.r, beta.r, rm.r, rv.r);
          await expectSameWithNaN(out.y, ref.y, 'y');
          const per = hw * hw;
          // A NaN in x: all of channel 0 is NaN; in the residual: that one element only.
          const nans = ref.y.data.filter((v) => Number.isNaN(v)).length;
          expect(nans).toBe(where === 'x' ? 2 * per : 1);
          await expectSameWithNaN(rv.t, ref.runningVar, 'runningVar');
          // Backward from out: dy passes where out is NaN, into dresidual and batch norm alike.
          const dy = pair(x.shape, 8);
          const g = B.batchNormAddReluBackward(dy.t, out.y, x, gamma.t, out.saveMean, out.saveInvStd);
          const gRef = B.batchNormAddReluBackwardRef(
            dy.r,
            f64Of(await out.y.toArray(), x.shape),
            xr,
            gamma.r,
            f64Of(await out.saveMean.toArray(), [2]),
            f64Of(await out.saveInvStd.toArray(), [2]),
          );
          expect(gRef.dresidual.data[3]).toBe(dy.r.data[3]);
          await expectSameWithNaN(g.dresidual, gRef.dresidual, 'dresidual', 0);
          await expectSameWithNaN(g.dbeta, gRef.dbeta, 'dbeta', 1e-3);
          await expectSameWithNaN(g.dgamma, gRef.dgamma, 'dgamma', 1e-3);
          await expectSameWithNaN(g.dx, gRef.dx, 'dx', 1e-3);
        });
      }
    }

    it(`eval: only the NaN element is NaN (${hw}x${hw})`, async () => {
      const { x, xr } = withNaN(hw);
      const res = pair(x.shape, 9);
      const c = (vals: number[]) => ({ t: Tensor.fromArray(vals), r: f64Of(vals, [2]) });
      const [gamma, beta, rm, rv] = [c([1, 2]), c([-5, 0.1]), c([0, 1]), c([1, 2])];
      await expectSameWithNaN(
        B.batchNormEvalAddRelu(x, res.t, gamma.t, beta.t, rm.t, rv.t),
        B.batchNormEvalAddReluRef(xr, res.r, gamma.r, beta.r, rm.r, rv.r),
        'evalAddRelu',
      );
    });
  }
});
