import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, runtime, Tensor } from '@wgtorch/tensor';
import * as B from './index.js';
import { kernelProfile } from '../profile.js';
import { expectClose, f64Of, fixture, pair, type Pair } from '../elementwise/test-util.js';
import { assertClose, fixtureFiles, type CloseOptions } from '../common/testing.js';
import type { F64 } from '../common/f64.js';

beforeAll(async () => {
  await getRuntime();
});

const SHAPES = [
  [1, 1, 1, 2],
  [2, 3, 5, 5],
  [1, 5, 7, 3],
  [3, 7, 4, 4],
  [5, 16, 8, 8],
  [128, 16, 32, 32],
];

type Grads = Record<string, Tensor>;

/**
 * A backward's variant that reads dy + dy2 (`grads(dy2)`): against float64 (`refGrads(dy2)`) for
 * a dy2 of its own; dy2 = 0 gives the gradients of dy alone, and dy2 = dy twice them (each output
 * is linear in the upstream gradient; doubling is exact in float32, so both compare exactly).
 */
async function checkDy2(
  label: string,
  dy: Pair,
  grads: (dy2?: Tensor) => Grads,
  refGrads: (dy2: F64) => Record<string, F64>,
  tol: CloseOptions,
): Promise<void> {
  const dy2 = pair(dy.r.shape, 9);
  const got = grads(dy2.t);
  const want = refGrads(dy2.r);
  for (const name of Object.keys(want)) await expectClose(got[name], want[name], tol, `${label} ${name} with dy2`);
  const alone = grads();
  const zero = grads(Tensor.zeros(dy.r.shape));
  const twice = grads(dy.t);
  for (const name of Object.keys(alone)) {
    const a = await alone[name].toArray();
    assertClose(await zero[name].toArray(), a, { atol: 0, rtol: 0 }, `${label} ${name}, dy2 = 0`);
    const doubled = Float64Array.from(a, (v) => 2 * v);
    assertClose(await twice[name].toArray(), doubled, { atol: 0, rtol: 0 }, `${label} ${name}, dy2 = dy`);
  }
}

async function checkAgainstReference(shape: number[]): Promise<void> {
  const C = shape[1];
  // A large offset relative to the spread checks that the variance does not cancel.
  const x = pair(shape, 1, 0.5, 3);
  const gamma = pair([C], 2, 0.5, 1);
  const beta = pair([C], 3);
  const rm = pair([C], 4);
  const rv = pair([C], 5, 0.1, 1);
  const dy = pair(shape, 6);
  const opts = { momentum: 0.2, eps: 1e-5 };
  const ref = B.batchNormTrainRef(x.r, gamma.r, beta.r, rm.r, rv.r, opts);
  const out = B.batchNormTrain(x.t, gamma.t, beta.t, rm.t, rv.t, opts);
  const tol = { atol: 1e-4, rtol: 1e-4 };
  await expectClose(out.y, ref.y, tol, 'y');
  await expectClose(out.saveMean, ref.saveMean, tol, 'saveMean');
  await expectClose(out.saveInvStd, ref.saveInvStd, { atol: 1e-4, rtol: 2e-4 }, 'saveInvStd');
  await expectClose(rm.t, ref.runningMean, tol, 'runningMean');
  await expectClose(rv.t, ref.runningVar, tol, 'runningVar');

  const bw = B.batchNormBackward(dy.t, x.t, gamma.t, out.saveMean, out.saveInvStd);
  const bwRef = B.batchNormBackwardRef(dy.r, x.r, gamma.r, ref.saveMean, ref.saveInvStd);
  const gtol = { atol: 1e-4, rtol: 1e-3, relativeToMax: true };
  await expectClose(bw.dx, bwRef.dx, gtol, 'dx');
  await expectClose(bw.dgamma, bwRef.dgamma, gtol, 'dgamma');
  await expectClose(bw.dbeta, bwRef.dbeta, gtol, 'dbeta');

  const fused = B.batchNormTrainRelu(x.t, gamma.t, beta.t, rm.t, rv.t, opts);
  const fusedRef = B.batchNormTrainReluRef(x.r, gamma.r, beta.r, ref.runningMean, ref.runningVar, opts);
  await expectClose(fused.y, fusedRef.y, tol, 'relu y');
  await expectClose(rv.t, fusedRef.runningVar, tol, 'runningVar after two steps');
  const bwr = B.batchNormReluBackward(dy.t, fused.y, x.t, gamma.t, beta.t, fused.saveMean, fused.saveInvStd);
  // The mask comes from the y handed in: use the GPU's y (values within rounding of 0 may differ from the reference's).
  const yGpu = f64Of(await fused.y.toArray(), shape);
  const bwrRef = B.batchNormReluBackwardRef(dy.r, yGpu, x.r, gamma.r, beta.r, fusedRef.saveMean, fusedRef.saveInvStd);
  await expectClose(bwr.dx, bwrRef.dx, gtol, 'relu dx');
  await expectClose(bwr.dgamma, bwrRef.dgamma, gtol, 'relu dgamma');
  await expectClose(bwr.dbeta, bwrRef.dbeta, gtol, 'relu dbeta');
  await checkDy2(
    'relu',
    dy,
    (dy2) => ({
      ...B.batchNormReluBackward(dy.t, fused.y, x.t, gamma.t, beta.t, fused.saveMean, fused.saveInvStd, dy2),
    }),
    (dy2) => ({
      ...B.batchNormReluBackwardRef(dy.r, yGpu, x.r, gamma.r, beta.r, fusedRef.saveMean, fusedRef.saveInvStd, dy2),
    }),
    gtol,
  );

  await expectClose(
    B.batchNormEval(x.t, gamma.t, beta.t, rm.t, rv.t),
    B.batchNormEvalRef(x.r, gamma.r, beta.r, fusedRef.runningMean, fusedRef.runningVar),
    tol,
    'eval',
  );
  await expectClose(
    B.batchNormEvalRelu(x.t, gamma.t, beta.t, rm.t, rv.t),
    B.batchNormEvalReluRef(x.r, gamma.r, beta.r, fusedRef.runningMean, fusedRef.runningVar),
    tol,
    'evalRelu',
  );

  // relu(bn(x) + residual): the forward, the running statistics, the one-pass backward with dresidual, eval.
  const res = pair(shape, 7);
  const add = B.batchNormTrainAddRelu(x.t, res.t, gamma.t, beta.t, rm.t, rv.t, opts);
  const addRef = B.batchNormTrainAddReluRef(
    x.r,
    res.r,
    gamma.r,
    beta.r,
    fusedRef.runningMean,
    fusedRef.runningVar,
    opts,
  );
  await expectClose(add.y, addRef.y, tol, 'addRelu y');
  await expectClose(add.saveMean, addRef.saveMean, tol, 'addRelu saveMean');
  await expectClose(add.saveInvStd, addRef.saveInvStd, { atol: 1e-4, rtol: 2e-4 }, 'addRelu saveInvStd');
  await expectClose(rm.t, addRef.runningMean, tol, 'runningMean after three steps');
  await expectClose(rv.t, addRef.runningVar, tol, 'runningVar after three steps');
  const bwa = B.batchNormAddReluBackward(dy.t, add.y, x.t, gamma.t, add.saveMean, add.saveInvStd);
  const outGpu = f64Of(await add.y.toArray(), shape);
  const bwaRef = B.batchNormAddReluBackwardRef(dy.r, outGpu, x.r, gamma.r, addRef.saveMean, addRef.saveInvStd);
  await expectClose(bwa.dx, bwaRef.dx, gtol, 'addRelu dx');
  await expectClose(bwa.dgamma, bwaRef.dgamma, gtol, 'addRelu dgamma');
  await expectClose(bwa.dbeta, bwaRef.dbeta, gtol, 'addRelu dbeta');
  await expectClose(bwa.dresidual, bwaRef.dresidual, { atol: 0, rtol: 0 }, 'addRelu dresidual');
  await checkDy2(
    'addRelu',
    dy,
    (dy2) => ({ ...B.batchNormAddReluBackward(dy.t, add.y, x.t, gamma.t, add.saveMean, add.saveInvStd, dy2) }),
    (dy2) => ({
      ...B.batchNormAddReluBackwardRef(dy.r, outGpu, x.r, gamma.r, addRef.saveMean, addRef.saveInvStd, dy2),
    }),
    gtol,
  );
  await expectClose(
    B.batchNormEvalAddRelu(x.t, res.t, gamma.t, beta.t, rm.t, rv.t),
    B.batchNormEvalAddReluRef(x.r, res.r, gamma.r, beta.r, addRef.runningMean, addRef.runningVar),
    tol,
    'evalAddRelu',
  );
}

describe('batchNormTrain / eval / backward vs float64', () => {
  for (const shape of SHAPES) it(`[${shape}]`, () => checkAgainstReference(shape));
});

// The reductions split across workgroups on GPUs; exercise that path here too.
describe('split reductions (the GPU path)', () => {
  afterAll(() => {
    kernelProfile().setOptions({});
  });
  for (const shape of [
    [2, 3, 5, 5],
    [3, 7, 4, 4],
    [33, 5, 16, 16],
  ]) {
    it(`[${shape}]`, async () => {
      kernelProfile().setOptions({ batchNormSplit: true });
      const x = Tensor.zeros(shape);
      const c = Tensor.ones([shape[1]]);
      const rm = Tensor.zeros([shape[1]]);
      const rv = Tensor.ones([shape[1]]);
      const before = runtime().dispatcher.counters.dispatches;
      B.batchNormTrain(x, c, c, rm, rv);
      expect(runtime().dispatcher.counters.dispatches - before).toBe(3); // partials, combine, apply
      await checkAgainstReference(shape);
      kernelProfile().setOptions({});
    });
  }
});

// On lavapipe the unsplit reductions also apply the result in the same kernel (one dispatch
// for the forward, one for the backward); the unfused unsplit kernels stay correct.
describe('unsplit reductions: fused and not', () => {
  afterAll(() => {
    kernelProfile().setOptions({});
  });
  for (const unfused of [false, true]) {
    it(`${unfused ? 'stats, then apply' : 'one kernel per pass'} [3, 7, 4, 4] and [5, 16, 8, 8]`, async () => {
      kernelProfile().setOptions({ batchNormFused: !unfused });
      const shape = [3, 7, 4, 4];
      const x = Tensor.zeros(shape);
      const c = Tensor.ones([shape[1]]);
      const rm = Tensor.zeros([shape[1]]);
      const rv = Tensor.ones([shape[1]]);
      const count = (f: () => unknown) => {
        const before = runtime().dispatcher.counters.dispatches;
        f();
        return runtime().dispatcher.counters.dispatches - before;
      };
      const out = B.batchNormTrain(x, c, c, rm, rv);
      const add = B.batchNormTrainAddRelu(x, x, c, c, rm, rv);
      const counts = [
        count(() => B.batchNormTrain(x, c, c, rm, rv)),
        count(() => B.batchNormReluBackward(x, out.y, x, c, c, out.saveMean, out.saveInvStd)),
        count(() => B.batchNormTrainAddRelu(x, x, c, c, rm, rv)),
        count(() => B.batchNormAddReluBackward(x, add.y, x, c, add.saveMean, add.saveInvStd)),
      ];
      if (!kernelProfile().batchNormSplit) expect(counts).toEqual(unfused ? [2, 2, 2, 2] : [1, 1, 1, 1]);
      await checkAgainstReference(shape);
      await checkAgainstReference([5, 16, 8, 8]);
      kernelProfile().setOptions({});
    });
  }
});

for (const { source, path } of fixtureFiles('ops-golden-s0'))
  describe(`PyTorch fixtures bn0, bn1 (${source})`, () => {
    for (const i of [0, 1]) {
      it(`bn${i}`, async () => {
        const get = (k: string) => fixture(`bn${i}.${k}`, path)!;
        const x = get('x');
        const C = x.t.shape[1];
        const rm = Tensor.zeros([C]);
        const rv = Tensor.ones([C]);
        const out = B.batchNormTrain(x.t, get('gamma').t, get('beta').t, rm, rv);
        await expectClose(out.y, get('y').r, { atol: 1e-4, rtol: 1e-4 }, 'y');
        await expectClose(out.saveMean, get('batch_mean').r, { atol: 1e-5, rtol: 1e-4 }, 'batch_mean');
        const expRv = get('batch_var_unbiased').r.data.map((v) => 0.9 + 0.1 * v);
        await expectClose(rv, { data: expRv, shape: [C] }, { atol: 1e-5, rtol: 1e-4 }, 'running var');
        const g = B.batchNormBackward(get('dy').t, x.t, get('gamma').t, out.saveMean, out.saveInvStd);
        const gtol = { atol: 1e-5, rtol: 1e-3, relativeToMax: true };
        await expectClose(g.dx, get('dx').r, gtol, 'dx');
        await expectClose(g.dgamma, get('dgamma').r, gtol, 'dgamma');
        await expectClose(g.dbeta, get('dbeta').r, gtol, 'dbeta');
      });
    }
  });

describe('bad arguments', () => {
  it('name the kernel, the shapes and the fix', () => {
    const x = Tensor.zeros([2, 3, 4, 4]);
    const c3 = Tensor.ones([3]);
    const c4 = Tensor.ones([4]);
    expect(() => B.batchNormTrain(x, c3, c3, c3, c3)).toThrow(
      /batchNormTrain: runningMean and runningVar are the same buffer/,
    );
    expect(() => B.batchNormTrain(x, c4, c3, c3, c3)).toThrow(/batchNormTrain: gamma must be \[3\] .* got \[4\]/);
    expect(() => B.batchNormTrain(Tensor.zeros([2, 3]), c3, c3, c3, c3)).toThrow(
      /batchNormTrain: x must be 4-D NCHW, got \[2, 3\]/,
    );
    expect(() => B.batchNormTrain(Tensor.zeros([1, 3, 1, 1]), c3, c3, Tensor.zeros([3]), Tensor.ones([3]))).toThrow(
      /more than 1/,
    );
    expect(() => B.batchNormEval(Tensor.zeros([2, 3, 4, 4], 'i32'), c3, c3, c3, c3)).toThrow(
      /batchNormEval: x must be f32/,
    );
    expect(() => B.batchNormBackward(Tensor.zeros([2, 3, 4, 5]), x, c3, c3, c3)).toThrow(
      /batchNormBackward: dy \[2, 3, 4, 5\] must have the shape of x \[2, 3, 4, 4\]/,
    );
    const x45 = Tensor.zeros([2, 3, 4, 5]);
    expect(() => B.batchNormTrainAddRelu(x, x45, c3, c3, Tensor.zeros([3]), Tensor.ones([3]))).toThrow(
      /batchNormTrainAddRelu: residual \[2, 3, 4, 5\] must have the shape of x \[2, 3, 4, 4\]/,
    );
    expect(() => B.batchNormEvalAddRelu(x, x45, c3, c3, c3, c3)).toThrow(
      /batchNormEvalAddRelu: residual \[2, 3, 4, 5\] must have the shape of x/,
    );
    expect(() => B.batchNormAddReluBackward(x, x45, x, c3, c3, c3)).toThrow(
      /batchNormAddReluBackward: out \[2, 3, 4, 5\] must have the shape of x/,
    );
  });
});
