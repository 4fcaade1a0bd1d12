// SGD against the fixture's rule and a float64 re-statement of PyTorch's; schedules' values;
// optimizer and schedule state saved and restored.
import { beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, Rng } from '@wgtorch/tensor';
import { compare, loadFixture } from '@wgtorch/kernels-wgsl/testing';
import {
  Parameter,
  SGD,
  StepLR,
  MultiStepLR,
  CosineAnnealingLR,
  OneCycleLR,
  LinearLR,
  tensor,
  type SgdOptions,
} from './index.js';

beforeAll(async () => {
  await getRuntime();
});

const param = (data: ArrayLike<number>, shape: number[]) => new Parameter(tensor(data, shape).detach().data);

describe('SGD', () => {
  const fx = loadFixture('resnet20-golden-s0');
  it.skipIf(!fx)("follows the ResNet20 fixture's two SGD steps (momentum 0.9, weight decay 5e-4)", async () => {
    const t = fx!.tensors;
    const names = [...t.keys()].filter((k) => k.startsWith('step0.grad.')).map((k) => k.slice('step0.grad.'.length));
    expect(names.length).toBeGreaterThan(60);
    const ps = names.map((n) => param(t.get(`init.${n}`)!.data as Float32Array, t.get(`init.${n}`)!.shape));
    const opt = new SGD(ps, { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 });
    for (const step of [0, 1]) {
      ps.forEach((p, i) => {
        p.zeroGrad();
        p.grad = tensor(t.get(`step${step}.grad.${names[i]}`)!.data as Float32Array, p.shape);
      });
      opt.step();
      for (let i = 0; i < ps.length; i++) {
        const c = compare(
          await ps[i].toArray(),
          t.get(`step${step}.after.${names[i]}`)!.data as Float32Array,
          { atol: 1e-6, rtol: 1e-5 },
          `step${step} ${names[i]}`,
        );
        expect(c.ok, c.message).toBe(true);
      }
    }
    opt.dispose();
  });

  /** PyTorch's SGD rule in float64. */
  function sgdRef(p: Float64Array, grads: Float64Array[], o: Required<SgdOptions>): Float64Array {
    const buf = new Float64Array(p.length);
    grads.forEach((g, step) => {
      for (let i = 0; i < p.length; i++) {
        let d = g[i] + o.weightDecay * p[i];
        if (o.momentum !== 0) {
          buf[i] = step === 0 ? d : o.momentum * buf[i] + (1 - o.dampening) * d;
          d = o.nesterov ? d + o.momentum * buf[i] : buf[i];
        }
        p[i] -= o.lr * d;
      }
    });
    return p;
  }

  const variants: Required<SgdOptions>[] = [
    { lr: 0.1, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0 },
    { lr: 0.05, momentum: 0.9, dampening: 0.1, nesterov: false, weightDecay: 1e-3 },
    { lr: 0.2, momentum: 0.9, dampening: 0, nesterov: true, weightDecay: 5e-4 },
  ];
  for (const [o, backend] of variants.flatMap(
    (v) =>
      [
        [v, 'gpu'],
        [v, 'cpu64'],
      ] as const,
  )) {
    it(`matches PyTorch's rule over 4 steps on ${backend}: ${JSON.stringify(o)}`, async () => {
      const rng = new Rng(3);
      const p0 = rng.normalArray(37);
      const grads = [0, 1, 2, 3].map(() => rng.normalArray(37));
      const p = new Parameter(tensor(p0, [37], { backend }).detach().raw);
      const opt = new SGD([p], o);
      for (const g of grads) {
        p.zeroGrad();
        p.grad = tensor(g, [37], { backend });
        opt.step();
      }
      const want = sgdRef(
        Float64Array.from(p0),
        grads.map((g) => Float64Array.from(g)),
        o,
      );
      const c = compare(await p.toArray(), want, { atol: 1e-6, rtol: 1e-5 });
      expect(c.ok, c.message).toBe(true);
    });
  }

  it('applies per-group settings (no weight decay on a group) and skips parameters without a gradient', async () => {
    const a = param([1, 2], [2]);
    const b = param([1, 2], [2]);
    const c = param([5], [1]);
    const opt = new SGD([{ params: [a], weightDecay: 0.5 }, { params: [b, c] }], { lr: 1, weightDecay: 0 });
    a.grad = tensor([0, 0], [2]);
    b.grad = tensor([0, 0], [2]);
    opt.step();
    expect(Array.from(await a.toArray())).toEqual([0.5, 1]);
    expect(Array.from(await b.toArray())).toEqual([1, 2]);
    expect(Array.from(await c.toArray())).toEqual([5]);
    expect(() => new SGD([a, a], { lr: 1 })).toThrow(/more than one group/);
    expect(() => new SGD([a], { lr: 1, nesterov: true })).toThrow(/Nesterov/);
  });

  it('saves and restores its state: resumed steps equal uninterrupted ones', async () => {
    const rng = new Rng(5);
    const p0 = rng.normalArray(10);
    const grads = [0, 1, 2, 3].map(() => rng.normalArray(10));
    const o = { lr: 0.1, momentum: 0.9, weightDecay: 1e-2 };
    const run = async (from: number, p: Parameter, opt: SGD) => {
      for (const g of grads.slice(from)) {
        p.zeroGrad();
        p.grad = tensor(g, [10]);
        opt.step();
      }
      return Array.from(await p.toArray());
    };
    const pA = param(p0, [10]);
    const full = await run(0, pA, new SGD([pA], o));
    const pB = param(p0, [10]);
    const optB = new SGD([pB], o);
    for (const g of grads.slice(0, 2)) {
      pB.grad = tensor(g, [10]);
      optB.step();
    }
    const state = await optB.stateDict();
    const pC = param(await pB.toArray(), [10]);
    const optC = new SGD([pC], { lr: 123 });
    optC.loadStateDict(state);
    expect(optC.paramGroups[0].lr).toBe(0.1);
    const resumed = await run(2, pC, optC);
    resumed.forEach((v, i) => expect(v).toBeCloseTo(full[i], 6));
  });

  it('refuses momentum buffers of another shape (even with as many values), changing nothing', async () => {
    const p = param([1, 2, 3, 4, 5, 6], [2, 3]);
    const opt = new SGD([p], { lr: 0.1, momentum: 0.9 });
    const buf = (shape: number[], n = 6) => ({
      groups: opt.paramGroups.map(({ params: _p, ...g }) => ({ ...g, lr: 7 })),
      momentumBuffers: new Map([['0', { shape, data: new Float32Array(n) }]]),
    });
    expect(() => opt.loadStateDict(buf([3, 2]))).toThrow(
      /momentum buffer 0 has shape \[3, 2\] \(6 values\), parameter 0 has \[2, 3\]/,
    );
    expect(() => opt.loadStateDict(buf([2, 3], 5))).toThrow(/momentum buffer 0 has shape \[2, 3\] \(5 values\)/);
    expect(() =>
      opt.loadStateDict({
        ...buf([2, 3]),
        momentumBuffers: new Map([['1', { shape: [2, 3], data: new Float32Array(6) }]]),
      }),
    ).toThrow(/no parameter 1 \(it has 1\)/);
    expect(opt.paramGroups[0].lr).toBe(0.1);
    expect(opt.momentumBuffer(p)).toBeUndefined();
    opt.loadStateDict(buf([2, 3]));
    expect(opt.paramGroups[0].lr).toBe(7);
    expect(opt.momentumBuffer(p)).toBeDefined();
  });
});

describe('LR schedules', () => {
  const opt = () => new SGD([param([0], [1])], { lr: 0.1 });
  const lrs = (s: { step(): void; getLastLr(): number[] }, n: number) => {
    const out = [s.getLastLr()[0]];
    for (let i = 1; i < n; i++) {
      s.step();
      out.push(s.getLastLr()[0]);
    }
    return out;
  };
  const close = (a: number[], b: number[]) => a.forEach((v, i) => expect(v, `step ${i}`).toBeCloseTo(b[i], 10));

  it('StepLR and MultiStepLR', () => {
    close(lrs(new StepLR(opt(), { stepSize: 2, gamma: 0.5 }), 5), [0.1, 0.1, 0.05, 0.05, 0.025]);
    close(lrs(new MultiStepLR(opt(), { milestones: [1, 3], gamma: 0.1 }), 5), [0.1, 0.01, 0.01, 0.001, 0.001]);
  });

  it('CosineAnnealingLR, plain and with linear warm-up', () => {
    close(lrs(new CosineAnnealingLR(opt(), { tMax: 4 }), 6), [
      0.1,
      (0.1 * (1 + Math.SQRT1_2)) / 2,
      0.05,
      (0.1 * (1 - Math.SQRT1_2)) / 2,
      0,
      0,
    ]);
    close(lrs(new CosineAnnealingLR(opt(), { tMax: 4, warmupSteps: 2, etaMin: 0.01 }), 5), [0, 0.05, 0.1, 0.055, 0.01]);
  });

  it("OneCycleLR with the reference run's recipe (0.02 -> 0.2 over 25%, linear to 0.0002)", () => {
    const total = 390 * 16;
    const s = new OneCycleLR(opt(), {
      maxLr: 0.2,
      totalSteps: total,
      pctStart: 0.25,
      divFactor: 10,
      finalDivFactor: 100,
    });
    const all = lrs(s, total);
    const peak = 0.25 * total - 1;
    expect(all[0]).toBeCloseTo(0.02, 12);
    expect(all[Math.floor(peak / 2)]).toBeCloseTo(0.02 + (0.18 * Math.floor(peak / 2)) / peak, 12);
    expect(all[Math.round(peak)]).toBeCloseTo(0.2, 12);
    expect(all[total - 1]).toBeCloseTo(0.0002, 12);
    expect(Math.max(...all)).toBeCloseTo(0.2, 12);
    // monotone up, then down
    for (let i = 1; i < all.length; i++)
      expect((all[i] - all[i - 1]) * (i <= peak ? 1 : -1)).toBeGreaterThanOrEqual(-1e-15);
  });

  it('LinearLR as PyTorch (start 1/3 over 5 steps by default)', () => {
    close(lrs(new LinearLR(opt(), {}), 7), [
      0.1 / 3,
      0.1 * (1 / 3 + 2 / 15),
      0.1 * (1 / 3 + 4 / 15),
      0.1 * (1 / 3 + 6 / 15),
      0.1 * (1 / 3 + 8 / 15),
      0.1,
      0.1,
    ]);
  });

  it('state saves and restores the step', () => {
    const a = new StepLR(opt(), { stepSize: 1, gamma: 0.5 });
    a.step();
    a.step();
    const b = new StepLR(opt(), { stepSize: 1, gamma: 0.5 });
    b.loadStateDict(JSON.parse(JSON.stringify(a.stateDict())));
    expect(b.getLastLr()).toEqual(a.getLastLr());
    expect(b.getLastLr()[0]).toBeCloseTo(0.025, 12);
  });
});
