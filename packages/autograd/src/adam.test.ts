// Adam and AdamW against PyTorch (test/fixtures/optim-golden: three steps of each case on five
// parameters, on gpu and cpu64), one dispatch per step, state saved and restored (resumed
// steps equal uninterrupted ones), schedules driving Adam, and the errors.
import { beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, runtime, Rng } from '@wgtorch/tensor';
import { compare, loadFixture } from '@wgtorch/kernels-wgsl/testing';
import { Parameter } from './nn/module.js';
import { Adam, AdamW, type AdamGroupSpec, type AdamOptions } from './optim/adam.js';
import { CosineAnnealingLR } from './optim/schedules.js';
import { SGD } from './optim/sgd.js';
import { tensor } from './tensor.js';
import type { BackendName } from './backend.js';

beforeAll(async () => {
  await getRuntime();
});

const fx = loadFixture('optim-golden');
const get = (k: string) => {
  const t = fx.tensors.get(k);
  if (!t) throw new Error(`optim-golden has no '${k}'`);
  return t;
};
const shapes: number[][] = JSON.parse(fx.metadata.shapes);
const steps = Number(fx.metadata.steps);

interface Case {
  cls: 'Adam' | 'AdamW';
  lr: number;
  betas?: [number, number];
  eps?: number;
  weight_decay?: number;
  amsgrad?: boolean;
  maximize?: boolean;
  groups?: { params: number[]; overrides: { lr?: number; weight_decay?: number } }[];
}
const cases: Record<string, Case> = JSON.parse(fx.metadata.cases);

const options = (c: Partial<Case>): AdamOptions => ({
  lr: c.lr,
  betas: c.betas,
  eps: c.eps,
  weightDecay: c.weight_decay,
  amsgrad: c.amsgrad,
  maximize: c.maximize,
});

function build(c: Case, backend: BackendName): { ps: Parameter[]; opt: Adam } {
  const ps = shapes.map((s, i) => new Parameter(tensor(get(`init.p${i}`).data as Float32Array, s, { backend }).raw));
  const spec: Parameter[] | AdamGroupSpec[] = c.groups
    ? c.groups.map((g) => ({ params: g.params.map((i) => ps[i]), ...options(g.overrides) }))
    : ps;
  const Cls = c.cls === 'AdamW' ? AdamW : Adam;
  return { ps, opt: new Cls(spec, options(c)) };
}

function setGrads(ps: Parameter[], step: number): void {
  ps.forEach((p, i) => {
    p.zeroGrad();
    p.grad = tensor(get(`grad.s${step}.p${i}`).data as Float32Array, p.shape, { backend: p.backend });
  });
}

async function expectFixture(values: ArrayLike<number>, key: string): Promise<void> {
  const c = compare(values, get(key).data as Float32Array, { atol: 1e-6, rtol: 1e-5 }, key);
  expect(c.ok, c.message).toBe(true);
}

describe('Adam and AdamW match PyTorch', () => {
  for (const backend of ['gpu', 'cpu64'] as const) {
    for (const [name, c] of Object.entries(cases)) {
      it(`${name} on ${backend}: parameters after each of ${steps} steps, and the state`, async () => {
        const { ps, opt } = build(c, backend);
        for (let t = 0; t < steps; t++) {
          setGrads(ps, t);
          const before = runtime().dispatcher.counters.dispatches;
          opt.step();
          if (backend === 'gpu') expect(runtime().dispatcher.counters.dispatches - before).toBe(1);
          for (let i = 0; i < ps.length; i++) await expectFixture(await ps[i].toArray(), `${name}.s${t}.p${i}`);
        }
        const st = await opt.stateDict();
        // State is keyed by the index over all groups in order.
        const order = c.groups ? c.groups.flatMap((g) => g.params) : ps.map((_, i) => i);
        for (let i = 0; i < ps.length; i++) {
          const s = st.state.get(String(order.indexOf(i)))!;
          expect(s.step).toBe(steps);
          await expectFixture(s.expAvg.data, `${name}.exp_avg.p${i}`);
          await expectFixture(s.expAvgSq.data, `${name}.exp_avg_sq.p${i}`);
          if (c.amsgrad) await expectFixture(s.maxExpAvgSq!.data, `${name}.max_exp_avg_sq.p${i}`);
          else expect(s.maxExpAvgSq).toBeUndefined();
        }
        opt.dispose();
      });
    }
  }
});

describe('Adam state', () => {
  it('saves and restores: resumed steps equal uninterrupted ones (amsgrad, two groups)', async () => {
    const rng = new Rng(7);
    const p0 = [rng.normalArray(10), rng.normalArray(3)];
    const grads = [0, 1, 2, 3].map(() => [rng.normalArray(10), rng.normalArray(3)]);
    const make = (values: ArrayLike<number>[]) => values.map((v) => new Parameter(tensor(v, [v.length]).raw));
    const opts = (ps: Parameter[]) => [{ params: [ps[0]] }, { params: [ps[1]], weightDecay: 0 }] as AdamGroupSpec[];
    const run = (ps: Parameter[], opt: Adam, from: number, to: number) => {
      for (const g of grads.slice(from, to)) {
        ps.forEach((p, i) => {
          p.zeroGrad();
          p.grad = tensor(g[i], [g[i].length]);
        });
        opt.step();
      }
    };
    const a = make(p0);
    const optA = new AdamW(opts(a), { lr: 0.05, amsgrad: true, weightDecay: 0.1 });
    run(a, optA, 0, 4);
    const b = make(p0);
    const optB = new AdamW(opts(b), { lr: 0.05, amsgrad: true, weightDecay: 0.1 });
    run(b, optB, 0, 2);
    // Through safetensors bytes: the state dict's arrays as tensors, the rest as JSON metadata.
    const bytes = await optB.saveBytes();
    const c = make(await Promise.all(b.map((p) => p.toArray())));
    const optC = new AdamW(opts(c), { lr: 123, amsgrad: true });
    optC.loadBytes(bytes);
    expect(optC.paramGroups[0].lr).toBe(0.05);
    expect(optC.stepCount(c[1])).toBe(2);
    run(c, optC, 2, 4);
    for (let i = 0; i < 2; i++) {
      const cmp = compare(await c[i].toArray(), await a[i].toArray(), { atol: 1e-6, rtol: 1e-6 });
      expect(cmp.ok, cmp.message).toBe(true);
    }
  });

  it('refuses state of other shapes or without amsgrad buffers, changing nothing', async () => {
    const p = new Parameter(tensor([1, 2, 3, 4, 5, 6], [2, 3]).raw);
    const opt = new Adam([p], { lr: 0.1, amsgrad: true });
    const arr = (shape: number[], n = 6) => ({ shape, data: new Float32Array(n) });
    const groups = opt.paramGroups.map(({ params: _p, ...g }) => ({ ...g, lr: 7 }));
    const state = (s: object) => ({ groups, state: new Map([['0', { step: 1, ...s }]]) }) as never;
    expect(() => opt.loadStateDict(state({ expAvg: arr([3, 2]), expAvgSq: arr([2, 3]) }))).toThrow(
      /Adam.loadStateDict: expAvg of parameter 0 has shape \[3, 2\] \(6 values\), parameter 0 has \[2, 3\]/,
    );
    expect(() => opt.loadStateDict(state({ expAvg: arr([2, 3]), expAvgSq: arr([2, 3]) }))).toThrow(
      /amsgrad is on but parameters 0 have no maxExpAvgSq/,
    );
    expect(opt.paramGroups[0].lr).toBe(0.1);
    expect(opt.stepCount(p)).toBe(0);
    opt.loadStateDict(state({ expAvg: arr([2, 3]), expAvgSq: arr([2, 3]), maxExpAvgSq: arr([2, 3]) }));
    expect(opt.paramGroups[0].lr).toBe(7);
    expect(opt.stepCount(p)).toBe(1);
  });
});

describe('Optimizer.saveBytes', () => {
  it('round-trips SGD momentum buffers, and refuses another optimizer kind', async () => {
    const p = new Parameter(tensor([1, 2, 3], [3]).raw);
    const sgd = new SGD([p], { lr: 0.1, momentum: 0.9 });
    p.grad = tensor([1, 1, -1], [3]);
    sgd.step();
    const bytes = await sgd.saveBytes();
    const q = new Parameter(tensor([0, 0, 0], [3]).raw);
    const sgd2 = new SGD([q], { lr: 5, momentum: 0.9 });
    sgd2.loadBytes(bytes);
    expect(sgd2.paramGroups[0].lr).toBe(0.1);
    const st = await sgd2.stateDict();
    expect(Array.from(st.momentumBuffers.get('0')!.data)).toEqual([1, 1, -1]);
    expect(() => new Adam([q]).loadBytes(bytes, 'sgd.safetensors')).toThrow(
      /sgd.safetensors: holds SGD state, not Adam's; save it with Adam.saveBytes\(\)/,
    );
  });
});

describe('Adam with a schedule, and its errors', () => {
  it('a cosine schedule sets the lr each step', () => {
    const p = new Parameter(tensor([1], [1]).raw);
    const opt = new AdamW([p], { lr: 0.1 });
    const s = new CosineAnnealingLR(opt, { tMax: 2 });
    s.step();
    expect(opt.paramGroups[0].lr).toBeCloseTo(0.05, 12);
    expect(opt.paramGroups[0].weightDecay).toBe(0.01);
  });

  it('skips parameters without a gradient (their step count stays)', async () => {
    const a = new Parameter(tensor([1, 2], [2]).raw);
    const b = new Parameter(tensor([3], [1]).raw);
    const opt = new Adam([a, b], { lr: 0.1 });
    a.grad = tensor([1, -1], [2]);
    opt.step();
    expect(Array.from(await b.toArray())).toEqual([3]);
    expect([opt.stepCount(a), opt.stepCount(b)]).toEqual([1, 0]);
    // The first Adam step moves each element by lr (m / sqrt(v) = sign(g)).
    const moved = Array.from(await a.toArray());
    expect(moved[0]).toBeCloseTo(0.9, 5);
    expect(moved[1]).toBeCloseTo(2.1, 5);
  });

  it('refuses bad hyperparameters and a parameter given twice', () => {
    const p = new Parameter(tensor([1], [1]).raw);
    expect(() => new Adam([p], { betas: [1, 0.999] })).toThrow(/Adam: invalid beta1/);
    expect(() => new AdamW([p], { betas: [0.9, -1] })).toThrow(/AdamW: invalid beta2/);
    expect(() => new Adam([p], { eps: -1 })).toThrow(/invalid eps/);
    expect(() => new Adam([p], { lr: -1 })).toThrow(/invalid learning rate -1/);
    expect(() => new Adam([p, p])).toThrow(/more than one group/);
  });

  it("a subclass of AdamW keeps AdamW's rule and defaults", () => {
    class MyAdamW extends AdamW {}
    const p = new Parameter(tensor([1], [1]).raw);
    expect(new MyAdamW([p]).paramGroups[0].weightDecay).toBe(0.01);
    expect(new Adam([p]).paramGroups[0].weightDecay).toBe(0);
  });
});
