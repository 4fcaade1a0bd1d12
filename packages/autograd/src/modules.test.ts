// The nn modules of #16: ModuleList / ModuleDict registration (PyTorch's key names, save and
// load), the error for modules hidden in plain containers, zeroGrad({ setToNone }), and the
// layers that wrap functional ops (MaxPool2d, LayerNorm, Dropout, Embedding, GELU, SiLU,
// grouped Conv2d), checked against the functional op they wrap.
import { beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, Rng } from '@wgtorch/tensor';
import * as F from './functional.js';
import { Module, Parameter } from './nn/module.js';
import {
  Conv2d,
  Dropout,
  Embedding,
  GELU,
  LayerNorm,
  Linear,
  MaxPool2d,
  ModuleDict,
  ModuleList,
  ReLU,
  SiLU,
} from './nn/layers.js';
import { ones, randn, tensor, type Tensor } from './tensor.js';

beforeAll(async () => {
  await getRuntime();
});

const values = async (t: Tensor) => Array.from(await t.toArray());

class Stack extends Module {
  layers: ModuleList;
  heads: ModuleDict;
  constructor() {
    super();
    this.layers = new ModuleList([new Linear(3, 4), new ReLU(), new Linear(4, 2)]);
    this.heads = new ModuleDict({ b: new Linear(2, 1), a: new Linear(2, 5, { bias: false }) });
  }
  forward(x: Tensor): Tensor {
    for (const m of this.layers) x = m.forward(x);
    return this.heads.get('b').forward(x);
  }
}

describe('ModuleList and ModuleDict', () => {
  it("register their children under PyTorch's keys, in order", () => {
    const m = new Stack();
    expect([...m.stateDict().keys()]).toEqual([
      'layers.0.weight',
      'layers.0.bias',
      'layers.2.weight',
      'layers.2.bias',
      'heads.b.weight',
      'heads.b.bias',
      'heads.a.weight',
    ]);
    expect(m.parameters().length).toBe(7);
    expect(m.layers.length).toBe(3);
    expect(m.layers.get(-1)).toBe(m.layers[2]);
    m.layers.append(new Linear(2, 2));
    expect(m.namedParameters().map(([k]) => k)).toContain('layers.3.weight');
    expect(m.heads.keys()).toEqual(['b', 'a']);
    m.eval();
    expect(m.layers[0].training || m.heads.get('a').training).toBe(false);
    expect(() => m.layers.forward()).toThrow(/ModuleList has no forward/);
    expect(() => m.layers.get(9)).toThrow(/index 9 is out of range for 4 modules/);
    expect(() => m.heads.get('c')).toThrow(/no module 'c' \(keys: b, a\)/);
    expect(() => m.heads.set('x.y', new ReLU())).toThrow(/without '\.'/);
    m.dispose();
  });

  it('save and load through safetensors bytes', async () => {
    const a = new Stack();
    const b = new Stack();
    b.loadBytes(await a.saveBytes());
    for (const [k, t] of a.stateDict()) expect(await values(b.stateDict().get(k)!), k).toEqual(await values(t));
    a.dispose();
    b.dispose();
  });
});

describe('modules in plain containers', () => {
  class InArray extends Module {
    blocks = [new Linear(2, 2), new Linear(2, 2)];
    forward(x: Tensor): Tensor {
      return x;
    }
  }
  class InObject extends Module {
    heads: Record<string, Module> = { a: new Linear(2, 2) };
    forward(x: Tensor): Tensor {
      return x;
    }
  }
  class ParamsInArray extends Module {
    scales = [Parameter.full([2], 1)];
    ok = [1, 2, 3];
    forward(x: Tensor): Tensor {
      return x;
    }
  }
  it('are an error naming the field and the fix, not silence', () => {
    expect(() => new InArray().parameters()).toThrow(
      /InArray\.blocks holds modules or parameters in a plain array.*this\.blocks = new ModuleList/,
    );
    expect(() => new InObject().stateDict()).toThrow(/InObject\.heads .*plain object.*new ModuleDict/);
    expect(() => new ParamsInArray().parameters()).toThrow(/ParamsInArray\.scales .*plain array/);
  });
});

describe('zeroGrad', () => {
  it('releases the gradients by default (setToNone, as PyTorch 2) or zeroes them in place', async () => {
    for (const backend of ['gpu', 'cpu64'] as const) {
      const m = new Linear(3, 2, { backend });
      const x = tensor([1, 2, 3, 4, 5, 6], [2, 3], { backend });
      F.sum(m.forward(x)).backward();
      const g = m.weight.grad!;
      expect(await values(g)).toEqual([5, 7, 9, 5, 7, 9]);
      m.zeroGrad({ setToNone: false });
      expect(m.weight.grad).toBe(g);
      expect(await values(g)).toEqual([0, 0, 0, 0, 0, 0]);
      F.sum(m.forward(x)).backward();
      expect(await values(m.weight.grad!)).toEqual([5, 7, 9, 5, 7, 9]);
      m.zeroGrad();
      expect(m.weight.grad).toBeNull();
      expect(m.bias!.grad).toBeNull();
      m.dispose();
    }
  });
});

describe('layers', () => {
  it('GELU (both forms) and SiLU apply their ops', async () => {
    const x = tensor([-2, -0.5, 0, 0.7, 3], [5]);
    expect(await values(new GELU().forward(x))).toEqual(await values(F.gelu(x)));
    expect(await values(new GELU('tanh').forward(x))).toEqual(await values(F.gelu(x, 'tanh')));
    expect(await values(new SiLU().forward(x))).toEqual(await values(F.silu(x)));
    expect(() => new GELU('erf' as 'none')).toThrow(/approximate must be 'none' or 'tanh'/);
  });

  it('Embedding draws N(0, 1) and keeps the padding row at zero', async () => {
    const e = new Embedding(50, 8, { paddingIdx: -1, rng: new Rng(1) });
    expect(e.paddingIdx).toBe(49);
    expect(e.weight.shape).toEqual([50, 8]);
    const w = await values(e.weight);
    expect(w.slice(49 * 8)).toEqual(new Array(8).fill(0));
    const rest = w.slice(0, 49 * 8);
    const mean = rest.reduce((a, v) => a + v, 0) / rest.length;
    const sd = Math.sqrt(rest.reduce((a, v) => a + (v - mean) ** 2, 0) / rest.length);
    expect(Math.abs(mean)).toBeLessThan(0.15);
    expect(Math.abs(sd - 1)).toBeLessThan(0.15);
    expect(() => new Embedding(4, 2, { paddingIdx: 4 })).toThrow(/paddingIdx 4 must be an integer in \[-4, 4\)/);
  });

  it('Embedding looks rows up', async () => {
    const e = new Embedding(5, 3, { paddingIdx: 0, rng: new Rng(2) });
    const w = await values(e.weight);
    const y = e.forward([3, 0, 3]);
    expect(y.shape).toEqual([3, 3]);
    expect(await values(y)).toEqual([...w.slice(9, 12), 0, 0, 0, ...w.slice(9, 12)]);
  });

  it('LayerNorm normalizes the trailing dims with weight 1, bias 0', async () => {
    const ln = new LayerNorm([2, 2]);
    expect(ln.weight!.shape).toEqual([2, 2]);
    expect(new LayerNorm(4, { elementwiseAffine: false }).weight).toBeNull();
    const y = await values(ln.forward(tensor([1, 2, 3, 4, 0, 0, 0, 8], [2, 2, 2])));
    const s = Math.sqrt(1.25 + 1e-5);
    const want = [-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s, -1 / Math.sqrt(3 + 1e-5 / 4), 0, 0, 0];
    want[5] = want[6] = want[4];
    want[7] = 3 / Math.sqrt(3 + 1e-5 / 4);
    y.forEach((v, i) => expect(v).toBeCloseTo(want[i], 4));
  });

  it('Dropout drops in training and is the identity in eval', async () => {
    const d = new Dropout(0.5);
    const x = ones([1000]);
    const y = await values(d.forward(x));
    const kept = y.filter((v) => v !== 0);
    expect(kept.every((v) => v === 2)).toBe(true);
    expect(kept.length).toBeGreaterThan(400);
    expect(kept.length).toBeLessThan(600);
    d.eval();
    expect(await values(d.forward(x))).toEqual(new Array(1000).fill(1));
    expect(() => new Dropout(1.5)).toThrow(/p must be in \[0, 1\]/);
  });

  it('MaxPool2d takes the window maximum (stride defaults to the kernel)', async () => {
    const x = tensor(
      Array.from({ length: 16 }, (_, i) => (i * 7) % 16),
      [1, 1, 4, 4],
    );
    const y = new MaxPool2d(2).forward(x);
    expect(y.shape).toEqual([1, 1, 2, 2]);
    const v = await x.toArray();
    const m = (r: number, c: number) => Math.max(v[r * 4 + c], v[r * 4 + c + 1], v[r * 4 + c + 4], v[r * 4 + c + 5]);
    expect(await values(y)).toEqual([m(0, 0), m(0, 2), m(2, 0), m(2, 2)]);
  });

  it('Conv2d with groups: weight [out, in / groups, k, k], each group convolving its own channels', async () => {
    const c = new Conv2d(4, 6, 3, { groups: 2, dilation: 2, padding: 2, backend: 'cpu64' });
    expect(c.weight.shape).toEqual([6, 2, 3, 3]);
    expect(() => new Conv2d(4, 6, 3, { groups: 4 })).toThrow(/groups 4 must be a positive integer dividing/);
    const x = randn([2, 4, 7, 6], { seed: 1, backend: 'cpu64' });
    const y = c.forward(x);
    expect(y.shape).toEqual([2, 6, 7, 6]);
    const o = { padding: 2, dilation: 2 };
    const parts = [0, 1].map((g) =>
      F.conv2d(F.narrow(x, 1, 2 * g, 2), F.narrow(c.weight, 0, 3 * g, 3), F.narrow(c.bias!, 0, 3 * g, 3), o),
    );
    const want = await values(F.cat(parts, 1));
    (await values(y)).forEach((v, i) => expect(v).toBeCloseTo(want[i], 10));
  });

  it('MaxPool2d passes dilation and ceilMode', () => {
    const x = randn([1, 1, 7, 7], { seed: 2 });
    expect(new MaxPool2d(2, 2, 0, { ceilMode: true }).forward(x).shape).toEqual([1, 1, 4, 4]);
    expect(new MaxPool2d(2, 1, 0, { dilation: 3 }).forward(x).shape).toEqual([1, 1, 4, 4]);
  });
});
