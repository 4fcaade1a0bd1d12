/// <reference lib="dom" />
// In-page checks for test/browser/checks.test.ts, bundled for the browser (a Node built-in below
// this file fails the bundle): every kernel family against its float64 reference on awkward shapes
// (odd sizes, not multiples of a workgroup), the ResNet20 golden check from the fixture's bytes, and
// the trainer's captured step against trainStep.
// The test calls window.checks.* and reads what they return.
import { getRuntime, Rng, Tensor, type Runtime } from '@wgtorch/tensor';
import * as K from '@wgtorch/kernels-wgsl';
import type { F64 } from '@wgtorch/kernels-wgsl';
import { compare, randomArray, type CloseOptions } from '@wgtorch/kernels-wgsl/testing/portable';
import { SGD, OneCycleLR } from '@wgtorch/autograd';
import {
  CapturedSteps,
  ResNet20,
  TrainLoader,
  decayGroups,
  formatGolden,
  runGoldenBytes,
  trainStep,
  uploadBatch,
  type CifarSplit,
} from '@wgtorch/resnet20/browser';

export interface CheckResult {
  family: string;
  label: string;
  ok: boolean;
  message: string;
}

let rt: Runtime | undefined;
let errors: string[] = [];

async function runtime(): Promise<Runtime> {
  if (rt) return rt;
  rt = await getRuntime();
  rt.device.addEventListener('uncapturederror', (ev) =>
    errors.push(`WebGPU error: ${(ev as GPUUncapturedErrorEvent).error.message}`),
  );
  return rt;
}

/** Seeded inputs as a GPU tensor and the same float32 values as F64. */
interface Pair {
  t: Tensor;
  r: F64;
}
let seed = 1;
function pair(shape: number[], scale = 1, shift = 0): Pair {
  const v = randomArray(
    shape.reduce((a, d) => a * d, 1),
    seed++,
    scale,
  );
  if (shift) for (let i = 0; i < v.length; i++) v[i] += shift;
  return { t: Tensor.fromArray(v, shape), r: K.f64(v, shape) };
}
function labels(n: number, classes: number): Pair {
  const rng = new Rng(seed++);
  const v = Int32Array.from({ length: n }, () => rng.int(classes));
  return { t: Tensor.fromArray(v, [n], 'i32'), r: K.f64(v, [n]) };
}

class Checks {
  readonly results: CheckResult[] = [];
  constructor(private family = '') {}
  of(family: string): this {
    this.family = family;
    return this;
  }
  /** Reads `t` back and compares shape and values with the reference. */
  async close(label: string, t: Tensor, r: F64, opts: CloseOptions = {}): Promise<void> {
    const sameShape = t.shape.length === r.shape.length && t.shape.every((d, i) => d === r.shape[i]);
    const c = sameShape
      ? compare(await t.toArray(), r.data, opts, label)
      : { ok: false, message: `${label}: shape [${t.shape}] != reference [${r.shape}]` };
    this.results.push({ family: this.family, label, ok: c.ok, message: c.message });
  }
}

const FWD = { atol: 1e-4, rtol: 1e-4 };
const GRAD = { atol: 1e-4, rtol: 1e-3, relativeToMax: true };

async function conv2d(c: Checks): Promise<void> {
  c.of('conv2d');
  const cases: [number[], number[], K.Conv2dOptions][] = [
    [[3, 5, 9, 11], [7, 5, 3, 3], { stride: 1, padding: 1 }],
    [[2, 3, 13, 7], [4, 3, 3, 3], { stride: 2, padding: 1 }],
    [[5, 6, 9, 9], [3, 6, 1, 1], { stride: 2, padding: 0 }],
  ];
  for (const [xs, ws, opts] of cases) {
    const x = pair(xs);
    const w = pair(ws, 0.3);
    const y = K.conv2dForwardRef(x.r, w.r, opts);
    const dy = pair(y.shape);
    const what = `x [${xs}] w [${ws}] ${JSON.stringify(opts)}`;
    await c.close(`forward ${what}`, K.conv2dForward(x.t, w.t, opts), y, FWD);
    await c.close(
      `inputGrad ${what}`,
      K.conv2dInputGrad(dy.t, w.t, xs, opts),
      K.conv2dInputGradRef(dy.r, w.r, xs, opts),
      GRAD,
    );
    await c.close(
      `weightGrad ${what}`,
      K.conv2dWeightGrad(x.t, dy.t, ws, opts),
      K.conv2dWeightGradRef(x.r, dy.r, ws, opts),
      GRAD,
    );
  }
}

async function matmul(c: Checks): Promise<void> {
  c.of('matmul');
  for (const [M, Kd, N] of [
    [33, 17, 9],
    [65, 31, 70],
    [1, 7, 3],
  ]) {
    for (const [transA, transB] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ]) {
      const a = pair(transA ? [Kd, M] : [M, Kd]);
      const b = pair(transB ? [N, Kd] : [Kd, N]);
      const opts = { transA, transB };
      await c.close(
        `${M}x${Kd}x${N} ${JSON.stringify(opts)}`,
        K.matmul(a.t, b.t, opts),
        K.matmulRef(a.r, b.r, opts),
        FWD,
      );
    }
  }
  const a = pair([3, 9, 6]);
  const b = pair([3, 6, 5]);
  await c.close('batched [3, 9, 6] x [3, 6, 5]', K.matmul(a.t, b.t), K.matmulRef(a.r, b.r), FWD);
}

async function batchnorm(c: Checks): Promise<void> {
  c.of('batchnorm');
  for (const shape of [
    [3, 7, 5, 5],
    [2, 5, 7, 3],
  ]) {
    const C = shape[1];
    const x = pair(shape, 0.5, 3); // an offset large against the spread: the variance must not cancel
    const gamma = pair([C], 0.5, 1);
    const beta = pair([C]);
    const rm = pair([C]);
    const rv = pair([C], 0.1, 1);
    const dy = pair(shape);
    const opts = { momentum: 0.2, eps: 1e-5 };
    const s = `[${shape}]`;
    const ref = K.batchNormTrainRef(x.r, gamma.r, beta.r, rm.r, rv.r, opts);
    const out = K.batchNormTrain(x.t, gamma.t, beta.t, rm.t, rv.t, opts);
    await c.close(`train y ${s}`, out.y, ref.y, FWD);
    await c.close(`train runningVar ${s}`, rv.t, ref.runningVar, FWD);
    const bw = K.batchNormBackward(dy.t, x.t, gamma.t, out.saveMean, out.saveInvStd);
    const bwRef = K.batchNormBackwardRef(dy.r, x.r, gamma.r, ref.saveMean, ref.saveInvStd);
    await c.close(`backward dx ${s}`, bw.dx, bwRef.dx, GRAD);
    await c.close(`backward dgamma ${s}`, bw.dgamma, bwRef.dgamma, GRAD);
    await c.close(`backward dbeta ${s}`, bw.dbeta, bwRef.dbeta, GRAD);
    const fused = K.batchNormTrainRelu(x.t, gamma.t, beta.t, rm.t, rv.t, opts);
    const fusedRef = K.batchNormTrainReluRef(x.r, gamma.r, beta.r, ref.runningMean, ref.runningVar, opts);
    await c.close(`train relu y ${s}`, fused.y, fusedRef.y, FWD);
    // The mask comes from the y handed in: the GPU's (values within rounding of 0 may differ from the reference's).
    const y = K.f64(await fused.y.toArray(), shape);
    const bwr = K.batchNormReluBackward(dy.t, fused.y, x.t, gamma.t, beta.t, fused.saveMean, fused.saveInvStd);
    const bwrRef = K.batchNormReluBackwardRef(dy.r, y, x.r, gamma.r, beta.r, fusedRef.saveMean, fusedRef.saveInvStd);
    await c.close(`relu backward dx ${s}`, bwr.dx, bwrRef.dx, GRAD);
    await c.close(
      `eval relu ${s}`,
      K.batchNormEvalRelu(x.t, gamma.t, beta.t, rm.t, rv.t),
      K.batchNormEvalReluRef(x.r, gamma.r, beta.r, fusedRef.runningMean, fusedRef.runningVar),
      FWD,
    );
  }
}

async function elementwise(c: Checks): Promise<void> {
  c.of('elementwise');
  const a = pair([5, 1, 7]);
  const b = pair([3, 1]);
  await c.close('add broadcast [5, 1, 7] + [3, 1]', K.add(a.t, b.t), K.addRef(a.r, b.r), FWD);
  await c.close('mul broadcast [5, 1, 7] * [3, 1]', K.mul(a.t, b.t), K.mulRef(a.r, b.r), FWD);
  const x = pair([1031]);
  const y = pair([1031]);
  await c.close('relu [1031]', K.relu(x.t), K.reluRef(x.r), FWD);
  await c.close('reluBackward [1031]', K.reluBackward(y.t, x.t), K.reluBackwardRef(y.r, x.r), FWD);
  await c.close('addRelu [1031]', K.addRelu(x.t, y.t), K.addReluRef(x.r, y.r), FWD);
  await c.close('axpy [1031]', K.axpy(0.3, x.t, y.t), K.axpyRef(0.3, x.r, y.r), FWD);
  for (const op of ['exp', 'tanh', 'sigmoid', 'gelu'] as const)
    await c.close(`unary ${op} [1031]`, K.unary(op, x.t), K.unaryRef(op, x.r), { atol: 1e-5, rtol: 1e-4 });
  const p = pair([3, 5, 7]);
  await c.close('permute [3, 5, 7] to [2, 0, 1]', K.permute(p.t, [2, 0, 1]), K.permuteRef(p.r, [2, 0, 1]), FWD);
}

async function reduce(c: Checks): Promise<void> {
  c.of('reduce');
  const x = pair([5, 7, 9]);
  for (const axes of [[0], [1, 2], [0, 2]]) {
    await c.close(`sum [5, 7, 9] over [${axes}]`, K.sum(x.t, axes), K.sumRef(x.r, axes), FWD);
    await c.close(`mean keepdim over [${axes}]`, K.mean(x.t, axes, true), K.meanRef(x.r, axes, true), FWD);
    await c.close(`max over [${axes}]`, K.max(x.t, axes), K.maxRef(x.r, axes), FWD);
  }
  const y = pair([6, 5, 7]);
  await c.close('sumToShape [6, 5, 7] to [5, 1]', K.sumToShape(y.t, [5, 1]), K.sumToShapeRef(y.r, [5, 1]), FWD);
}

async function pool(c: Checks): Promise<void> {
  c.of('pool');
  const cases: [number[], K.AvgPool2dOptions][] = [
    [[2, 3, 6, 10], { kernel: 2 }],
    [[3, 2, 6, 12], { kernel: [3, 1] }],
    [[2, 3, 7, 9], { kernel: 3, stride: 2 }],
  ];
  for (const [shape, opts] of cases) {
    const x = pair(shape);
    const y = K.avgPool2dRef(x.r, opts);
    const dy = pair(y.shape);
    const s = `[${shape}] ${JSON.stringify(opts)}`;
    await c.close(`avgPool2d ${s}`, K.avgPool2d(x.t, opts), y, FWD);
    await c.close(
      `avgPool2dBackward ${s}`,
      K.avgPool2dBackward(dy.t, shape, opts),
      K.avgPool2dBackwardRef(dy.r, shape, opts),
      FWD,
    );
  }
  const x = pair([3, 5, 7, 9]);
  const dy = pair([3, 5]);
  await c.close('globalAvgPool [3, 5, 7, 9]', K.globalAvgPool(x.t), K.globalAvgPoolRef(x.r), FWD);
  await c.close(
    'globalAvgPoolBackward [3, 5] to [3, 5, 7, 9]',
    K.globalAvgPoolBackward(dy.t, [3, 5, 7, 9]),
    K.globalAvgPoolBackwardRef(dy.r, [3, 5, 7, 9]),
    FWD,
  );
}

async function loss(c: Checks): Promise<void> {
  c.of('loss');
  for (const [N, C] of [
    [37, 10],
    [5, 3],
  ]) {
    const x = pair([N, C], 3);
    const y = labels(N, C);
    for (const labelSmoothing of [0, 0.1]) {
      const out = K.softmaxCrossEntropy(x.t, y.t, { labelSmoothing });
      const ref = K.softmaxCrossEntropyRef(x.r, y.r, { labelSmoothing });
      const s = `[${N}, ${C}] smoothing ${labelSmoothing}`;
      await c.close(`softmaxCrossEntropy loss ${s}`, out.loss, ref.loss, { atol: 1e-5, rtol: 1e-5 });
      await c.close(`softmaxCrossEntropy dlogits ${s}`, out.dlogits, ref.dlogits, { atol: 1e-6, rtol: 1e-4 });
    }
  }
  const x = pair([300, 17], 2);
  const y = labels(300, 17);
  await c.close('argmax [300, 17]', K.argmax(x.t), K.argmaxRef(x.r), { atol: 0, rtol: 0 });
  await c.close('accuracyCount [300, 17]', K.accuracyCount(x.t, y.t), K.accuracyCountRef(x.r, y.r), {
    atol: 0,
    rtol: 0,
  });
}

async function sgd(c: Checks): Promise<void> {
  c.of('sgd');
  const shapes = [[5], [257], [3, 3], [16, 3, 3, 3], [10]];
  for (const opts of [
    { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 },
    { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: shapes.map((_, i) => (i % 2 ? 0 : 1e-2)) },
  ]) {
    const ps = shapes.map((s) => pair(s));
    const ms = shapes.map((s) => pair(s));
    let [pr, mr] = [ps.map((p) => p.r), ms.map((m) => m.r)];
    for (let step = 0; step < 2; step++) {
      const gs = shapes.map((s) => pair(s));
      const o = { ...opts, firstStep: step === 0 };
      K.sgdStep(
        ps.map((p) => p.t),
        gs.map((g) => g.t),
        ms.map((m) => m.t),
        o,
      );
      const r = K.sgdStepRef(
        pr,
        gs.map((g) => g.r),
        mr,
        o,
      );
      [pr, mr] = [r.params, r.momentumBufs];
    }
    for (let i = 0; i < shapes.length; i++) {
      const s = `[${shapes[i]}] ${opts.nesterov ? 'nesterov' : 'momentum'}`;
      await c.close(`param ${s}`, ps[i].t, pr[i], { atol: 1e-6, rtol: 1e-5 });
      await c.close(`momentum ${s}`, ms[i].t, mr[i], { atol: 1e-6, rtol: 1e-5 });
    }
  }
}

async function augment(c: Checks): Promise<void> {
  c.of('augment');
  const mean = [0.4914, 0.4822, 0.4465];
  const std = [0.247, 0.2435, 0.2616];
  for (const [n, size, pad] of [
    [5, 32, 4],
    [3, 7, 2],
  ]) {
    const rng = new Rng(seed++);
    const bytes = Uint8Array.from({ length: n * 3 * size * size }, () => rng.int(256));
    const words = K.packBytes(bytes);
    const crops = Int32Array.from({ length: n * 3 }, (_, i) => rng.int(i % 3 === 2 ? 2 : 2 * pad + 1));
    const img = Tensor.fromArray(words, [words.length], 'u32');
    const cr = Tensor.fromArray(crops, [n, 3], 'i32');
    const opts = { mean, std, n, size, pad };
    const w = K.f64(words, [words.length]);
    const tol = { atol: 2e-6, rtol: 1e-6 };
    await c.close(
      `augmentBatch n=${n} size=${size} pad=${pad}`,
      K.augmentBatch(img, cr, opts),
      K.augmentBatchRef(w, K.f64(crops, [n, 3]), opts),
      tol,
    );
    await c.close(
      `normalizeBatch n=${n} size=${size}`,
      K.normalizeBatch(img, { mean, std, n, size }),
      K.normalizeBatchRef(w, { mean, std, n, size }),
      tol,
    );
  }
}

const FAMILIES = { conv2d, matmul, batchnorm, elementwise, reduce, pool, loss, sgd, augment };

/** What the test calls. */
const checks = {
  families: Object.keys(FAMILIES),
  async adapter(): Promise<string> {
    const info = (await runtime()).adapter?.info;
    return [info?.description, info?.vendor, info?.architecture].filter(Boolean).join(' / ');
  },
  /** Every kernel family's checks; a family that throws gives one failed result with the error. */
  async kernels(): Promise<CheckResult[]> {
    const r = await runtime();
    const c = new Checks();
    for (const [family, run] of Object.entries(FAMILIES)) {
      try {
        await run(c.of(family));
        r.checkErrors();
      } catch (e) {
        c.results.push({ family, label: 'threw', ok: false, message: String((e as Error).stack ?? e) });
      }
    }
    for (const e of errors.splice(0))
      c.results.push({ family: 'webgpu', label: 'uncaptured error', ok: false, message: e });
    return c.results;
  },
  /** The ResNet20 golden check on the file at `url` (fetched as bytes). */
  async golden(url: string): Promise<{ ok: boolean; report: string }> {
    await runtime();
    const res = await fetch(url);
    if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
    const r = await runGoldenBytes(new Uint8Array(await res.arrayBuffer()), url);
    return { ok: r.ok && errors.length === 0, report: [formatGolden(r), ...errors.splice(0)].join('\n') };
  },
  /** ResNet20 trained 6 steps by the trainer's captured step and by trainStep: the parameters, equal bit for bit. */
  async captured(): Promise<{ ok: boolean; report: string }> {
    const r = await runtime();
    const rng = new Rng(7);
    const split = {
      n: 32,
      images: new Uint8Array(32 * 3072).map(() => rng.int(256)),
      labels: new Uint8Array(32).map(() => rng.int(10)),
    } as CifarSplit;
    const train = async (capture: boolean): Promise<Float32Array[]> => {
      const model = new ResNet20({ shortcut: 'A', seed: 0 });
      const { decay, noDecay } = decayGroups(model, false);
      const opt = new SGD(
        [
          { params: decay, weightDecay: 5e-4 },
          { params: noDecay, weightDecay: 0 },
        ],
        { lr: 0.1, momentum: 0.9, nesterov: true },
      );
      const sched = new OneCycleLR(opt, { maxLr: 0.1, totalSteps: 20 });
      const acc = { lossSum: Tensor.zeros([1]), correct: Tensor.zeros([1]) };
      const steps = new CapturedSteps({ model, opt, sched, acc });
      const loader = new TrainLoader(split, { batchSize: 4, seed: 0 });
      for (let i = 0; i < 6; i++) {
        const b = loader.batch(0, i);
        if (capture) steps.step(b);
        else {
          const g = uploadBatch(b);
          trainStep(model, opt, sched, g.x, g.labels, acc);
          g.dispose();
        }
        r.flush();
      }
      const params = await Promise.all(model.parameters().map((p) => p.toArray() as Promise<Float32Array>));
      steps.dispose();
      opt.dispose();
      acc.lossSum.dispose();
      acc.correct.dispose();
      return params;
    };
    const eager = await train(false);
    const captured = await train(true);
    const differ = eager.filter((p, i) => p.some((v, j) => v !== captured[i][j])).length;
    r.checkErrors();
    const report = `${differ} of ${eager.length} parameters differ`;
    return { ok: differ === 0 && errors.length === 0, report: [report, ...errors.splice(0)].join('\n') };
  },
};
(window as unknown as { checks: typeof checks }).checks = checks;
