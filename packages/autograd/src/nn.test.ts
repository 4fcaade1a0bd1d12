// Modules: PyTorch naming, train/eval, strict state dicts, safetensors round trip; and the
// ResNet20 fixture end to end through the modules (eval logits, two training steps with SGD).
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getRuntime, runtime, Tensor as DeviceTensor } from '@wgtorch/tensor';
import { compare, loadFixture } from '@wgtorch/kernels-wgsl/testing';
import * as F from './index.js';
import { load, save } from './node.js';
import {
  Module,
  Conv2d,
  BatchNorm2d,
  Linear,
  ReLU,
  Sequential,
  AdaptiveAvgPool2d,
  AvgPool2d,
  Flatten,
  SGD,
  StateDictError,
  tensor,
  tidy,
  noGrad,
  init,
  manualSeed,
  type Tensor,
  type StateValue,
  type BackendName,
} from './index.js';

beforeAll(async () => {
  await getRuntime();
});

class BasicBlock extends Module {
  conv1: Conv2d;
  bn1: BatchNorm2d;
  conv2: Conv2d;
  bn2: BatchNorm2d;
  shortcut: Sequential;
  constructor(cin: number, cout: number, stride: number, backend: BackendName) {
    super();
    this.conv1 = new Conv2d(cin, cout, 3, { stride, padding: 1, bias: false, backend });
    this.bn1 = new BatchNorm2d(cout, { backend });
    this.conv2 = new Conv2d(cout, cout, 3, { padding: 1, bias: false, backend });
    this.bn2 = new BatchNorm2d(cout, { backend });
    this.shortcut =
      stride !== 1 || cin !== cout
        ? new Sequential(new Conv2d(cin, cout, 1, { stride, bias: false, backend }), new BatchNorm2d(cout, { backend }))
        : new Sequential();
  }
  fused = false;
  forward(x: Tensor): Tensor {
    return tidy(() => {
      if (this.fused) {
        const h = this.bn2.forward(this.conv2.forward(this.bn1.forwardRelu(this.conv1.forward(x))));
        return F.addRelu(h, this.shortcut.forward(x));
      }
      const h = this.bn2.forward(this.conv2.forward(F.relu(this.bn1.forward(this.conv1.forward(x)))));
      return F.relu(F.add(h, this.shortcut.forward(x)));
    });
  }
}

class ResNet20 extends Module {
  conv1: Conv2d;
  bn1: BatchNorm2d;
  layer1: Sequential;
  layer2: Sequential;
  layer3: Sequential;
  pool = new AdaptiveAvgPool2d(1);
  flatten = new Flatten();
  fc_out: Linear;
  constructor(backend: BackendName = 'gpu') {
    super();
    const stage = (cin: number, cout: number, stride: number) =>
      new Sequential(
        new BasicBlock(cin, cout, stride, backend),
        new BasicBlock(cout, cout, 1, backend),
        new BasicBlock(cout, cout, 1, backend),
      );
    this.conv1 = new Conv2d(3, 16, 3, { padding: 1, bias: false, backend });
    this.bn1 = new BatchNorm2d(16, { backend });
    this.layer1 = stage(16, 16, 1);
    this.layer2 = stage(16, 32, 2);
    this.layer3 = stage(32, 64, 2);
    this.fc_out = new Linear(64, 10, { backend });
  }
  forward(x: Tensor): Tensor {
    return tidy(() => {
      const h = F.relu(this.bn1.forward(this.conv1.forward(x)));
      return this.fc_out.forward(
        this.flatten.forward(this.pool.forward(this.layer3.forward(this.layer2.forward(this.layer1.forward(h))))),
      );
    });
  }
}

describe('Module', () => {
  it('names parameters and buffers like PyTorch and counts them', () => {
    const m = new ResNet20();
    const keys = [...m.stateDict().keys()];
    expect(keys.slice(0, 6)).toEqual([
      'conv1.weight',
      'bn1.weight',
      'bn1.bias',
      'bn1.running_mean',
      'bn1.running_var',
      'layer1.0.conv1.weight',
    ]);
    expect(keys).toContain('layer2.0.shortcut.0.weight');
    expect(keys).toContain('layer3.0.shortcut.1.running_var');
    expect(keys).not.toContain('layer1.0.shortcut.0.weight');
    expect(keys.slice(-2)).toEqual(['fc_out.weight', 'fc_out.bias']);
    expect(m.numParameters()).toBe(272474);
    expect(m.namedBuffers().length).toBe(2 * 21);
    expect(m.parameters().every((p) => p.requiresGrad)).toBe(true);
    m.eval();
    expect(m.namedModules().every(([, c]) => !c.training)).toBe(true);
    m.train();
    expect(m.layer3[2].training).toBe(true);
    m.dispose();
  });

  it('runs BatchNorm2d (and with ReLU) in one kernel under noGrad, though its parameters require grad', async () => {
    const bn = new BatchNorm2d(3).eval();
    const x = F.randn([2, 3, 4, 4], { seed: 5 });
    const dispatchesOf = (f: () => F.Tensor) => {
      const before = runtime().dispatcher.counters.dispatches;
      const y = F.noGrad(f);
      const n = runtime().dispatcher.counters.dispatches - before;
      return { y, n };
    };
    const plain = dispatchesOf(() => bn.forward(x));
    const withRelu = dispatchesOf(() => F.batchNormRelu2d(x, bn.runningMean, bn.runningVar, bn.weight, bn.bias));
    expect([plain.n, withRelu.n]).toEqual([1, 1]);
    // With grad on, the differentiable composition gives the same values.
    const composed = bn.forward(x);
    const want = await composed.toArray();
    const got = await plain.y.toArray();
    for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i], 5);
    const gotRelu = await withRelu.y.toArray();
    for (let i = 0; i < want.length; i++) expect(gotRelu[i]).toBeCloseTo(Math.max(want[i], 0), 5);
    for (const t of [x, plain.y, withRelu.y, composed]) t.dispose();
    bn.dispose();
  });

  it('initializes like PyTorch: default uniform bounds, BatchNorm 1/0, Kaiming normal fan_out', async () => {
    manualSeed(0);
    const conv = new Conv2d(4, 8, 3);
    const bound = 1 / Math.sqrt(4 * 9);
    const w = await conv.weight.toArray();
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...w.map(Math.abs))).toBeGreaterThan(bound * 0.8);
    const b = await conv.bias!.toArray();
    expect(Math.max(...b.map(Math.abs))).toBeLessThanOrEqual(bound);
    const bn = new BatchNorm2d(3);
    expect(Array.from(await bn.weight.toArray())).toEqual([1, 1, 1]);
    expect(Array.from(await bn.runningVar.toArray())).toEqual([1, 1, 1]);
    const big = new Conv2d(16, 64, 3, { bias: false });
    init.kaimingNormal(big.weight, { mode: 'fan_out', nonlinearity: 'relu' });
    const v = Array.from(await big.weight.toArray());
    const std = Math.sqrt(v.reduce((a, x) => a + x * x, 0) / v.length);
    expect(std).toBeCloseTo(Math.sqrt(2 / (64 * 9)), 2);
    // The same seed gives the same weights.
    manualSeed(0);
    expect(Array.from(await new Conv2d(4, 8, 3).weight.toArray())).toEqual(Array.from(w));
  });

  it('loadStateDict is strict and lists missing, unexpected and mis-shaped keys', () => {
    const m = new Sequential(
      new Conv2d(3, 4, 3, { bias: false }),
      new BatchNorm2d(4),
      new ReLU(),
      new Flatten(),
      new Linear(4, 2),
    );
    const sd = new Map<string, StateValue>();
    for (const [k, t] of m.stateDict()) sd.set(k, { shape: [...t.shape], data: new Float32Array(t.size) });
    sd.delete('1.running_var');
    sd.set('9.weight', { shape: [1], data: new Float32Array(1) });
    sd.set('4.weight', { shape: [4, 2], data: new Float32Array(8) });
    sd.set('1.num_batches_tracked', { shape: [], data: new Float32Array(1) });
    let err: StateDictError | undefined;
    try {
      m.loadStateDict(sd);
    } catch (e) {
      err = e as StateDictError;
    }
    expect(err).toBeInstanceOf(StateDictError);
    expect(err!.missing).toEqual(['1.running_var']);
    expect(err!.unexpected).toEqual(['9.weight']);
    expect(err!.misShaped).toEqual(['4.weight: expected [2, 4], got [4, 2]']);
    expect(err!.message).toMatch(/missing keys \(1\): 1\.running_var/);
    expect(err!.message).toMatch(/unexpected keys \(1\): 9\.weight/);
    expect(err!.message).toMatch(/mis-shaped keys \(1\): 4\.weight: expected \[2, 4\], got \[4, 2\]/);
    sd.set('4.weight', { shape: [2, 4], data: new Float32Array(8) });
    expect(m.loadStateDict(sd, { strict: false })).toEqual({ missing: ['1.running_var'], unexpected: ['9.weight'] });
  });

  it('saves and loads safetensors', async () => {
    manualSeed(3);
    const a = new Sequential(new Conv2d(2, 3, 3), new BatchNorm2d(3), new AvgPool2d(2));
    const dir = mkdtempSync(join(tmpdir(), 'wgtorch-autograd-'));
    await save(a, join(dir, 'm.safetensors'));
    manualSeed(4);
    const b = new Sequential(new Conv2d(2, 3, 3), new BatchNorm2d(3), new AvgPool2d(2));
    load(b, join(dir, 'm.safetensors'));
    for (const [k, t] of a.stateDict())
      expect(Array.from(await b.stateDict().get(k)!.toArray()), k).toEqual(Array.from(await t.toArray()));
    // From live tensors too (a GPU copy).
    manualSeed(5);
    const c = new Sequential(new Conv2d(2, 3, 3), new BatchNorm2d(3), new AvgPool2d(2));
    c.loadStateDict(a.stateDict());
    expect(Array.from(await (c[0] as Conv2d).weight.toArray())).toEqual(
      Array.from(await (a[0] as Conv2d).weight.toArray()),
    );
  });
});

// The repository's fixture, and ../shared's where it exists (an extra check).
const fixtures = (['repo', 'shared'] as const).flatMap((source) => {
  const fx = loadFixture('resnet20-golden-s0', source);
  return fx ? [[source, fx] as const] : [];
});
describe.each(fixtures)('ResNet20 fixture (%s) through the modules', (_source, fx) => {
  it('on the cpu64 backend (float64 references), one train step matches to 1e-5: the engine is exact', async () => {
    const t = fx.tensors;
    const model = new ResNet20('cpu64');
    const state = new Map<string, StateValue>();
    for (const [k, v] of t) if (k.startsWith('init.')) state.set(k.slice(5), v as StateValue);
    model.loadStateDict(state);
    const x = tensor(t.get('x0')!.data as Float32Array, t.get('x0')!.shape, { backend: 'cpu64' });
    const loss = tidy(() => F.crossEntropy(model.forward(x), t.get('y0')!.data as Int32Array));
    loss.backward();
    const check = async (v: Tensor | null, key: string) => {
      const c = compare(
        await v!.toArray(),
        t.get(key)!.data as Float32Array,
        { atol: 1e-6, rtol: 1e-5, relativeToMax: true },
        key,
      );
      expect(c.ok, c.message).toBe(true);
    };
    await check(loss, 'step0.loss');
    for (const [name, p] of model.namedParameters()) await check(p.grad, `step0.grad.${name}`);
    for (const [name, b] of model.namedBuffers()) await check(b, `step0.after.${name}`);
  });

  for (const fused of [false, true])
    it(
      'eval logits, then two train steps: logits, loss, every gradient, ' +
        `parameters and running stats after SGD${fused ? ' (fused bn+relu, add+relu)' : ''}`,
      async () => {
        const t = fx.tensors;
        const get = (k: string) => t.get(k)!;
        const check = async (x: Tensor | null, key: string, rtol: number) => {
          expect(x, key).not.toBeNull();
          const c = compare(
            await x!.toArray(),
            get(key).data as Float32Array,
            { atol: 1e-5, rtol, relativeToMax: true },
            key,
          );
          expect(c.ok, c.message).toBe(true);
        };
        // Gradients as in resnet20's golden check: relative L2 within 1e-3 and every element within
        // 5e-3 of the max (float32 flips a few ReLU masks where float64 sits within rounding of 0).
        const checkGrad = async (x: Tensor | null, key: string) => {
          expect(x, key).not.toBeNull();
          const a = await x!.toArray();
          const e = get(key).data as Float32Array;
          const c = compare(a, e, { atol: 1e-5, rtol: 5e-3, relativeToMax: true }, key);
          expect(c.ok, c.message).toBe(true);
          let d2 = 0;
          let e2 = 0;
          e.forEach((v, i) => ((d2 += (a[i] - v) ** 2), (e2 += v * v)));
          expect(Math.sqrt(d2 / e2), `${key}: relative L2 error`).toBeLessThanOrEqual(1e-3);
        };
        const model = new ResNet20();
        for (const [, m] of model.namedModules()) if (m instanceof BasicBlock) m.fused = fused;
        const initState = new Map<string, StateValue>();
        for (const [k, v] of t) if (k.startsWith('init.')) initState.set(k.slice(5), v as StateValue);
        model.loadStateDict(initState);
        const input = (k: string) => tensor(get(k).data as Float32Array, get(k).shape);

        model.eval();
        const x0 = input('x0');
        const logitsEval = noGrad(() => model.forward(x0));
        await check(logitsEval, 'logits_eval', 1e-4);
        model.train();

        const opt = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 });
        for (const step of [0, 1]) {
          if (step === 1) {
            // Start step 1 from the fixture's exact step-0 result (momentum buffers are ours), so
            // float32 differences of step 0 do not compound into step 1's comparison.
            const after = new Map<string, StateValue>();
            for (const [k, v] of t)
              if (k.startsWith('step0.after.')) after.set(k.slice('step0.after.'.length), v as StateValue);
            model.loadStateDict(after);
          }
          const x = input(`x${step}`);
          const y = DeviceTensor.fromArray(get(`y${step}`).data as Int32Array, get(`y${step}`).shape, 'i32');
          const { logits, loss } = tidy(() => {
            const logits = model.forward(x);
            return { logits, loss: F.crossEntropy(logits, y) };
          });
          opt.zeroGrad();
          loss.backward();
          await check(logits, `step${step}.logits_train`, 1e-4);
          await check(loss, `step${step}.loss`, 1e-4);
          for (const [name, p] of model.namedParameters()) await checkGrad(p.grad, `step${step}.grad.${name}`);
          opt.step();
          for (const [name, v] of model.stateDict()) await check(v, `step${step}.after.${name}`, 1e-3);
        }
      },
    );
});
