// Both examples against PyTorch (test/fixtures/examples-golden, made by scripts/fixture_ops/examples.py):
// the same model from the same starting weights, two optimizer steps on one batch; logits, loss,
// every gradient, and the parameters after each step (PyTorch's Adam/AdamW rule applied in
// float64 to the stored gradients, which the fixture script asserts gives PyTorch's own
// parameters). On 'cpu64' (float64 references) the match is to float64 rounding of float32 data;
// on 'gpu' (float32 kernels) to float32 accuracy.

import { beforeAll, describe, expect, it } from 'vitest';
import { getRuntime } from '@wgtorch/tensor';
import { loadFixture, compare } from '@wgtorch/kernels-wgsl/testing';
import {
  Adam,
  AdamW,
  clipGradNorm,
  crossEntropy,
  init,
  tensor,
  tidy,
  type BackendName,
  type Module,
  type Optimizer,
  type Tensor,
} from '@wgtorch/autograd';
import { CharGPT } from './transformer/model.js';
import { lossOf } from './transformer/train.js';
import { MobileNet, type MobileLayer } from './mobilenet/model.js';

beforeAll(async () => {
  await getRuntime();
});

const fx = loadFixture('examples-golden');
function get(k: string): { data: Float32Array | Int32Array; shape: number[] } {
  const t = fx.tensors.get(k);
  if (!t) throw new Error(`examples-golden: key ${k} missing; remake it with scripts/make-fixtures.py`);
  return t as unknown as { data: Float32Array | Int32Array; shape: number[] };
}

interface OptimizerSpec {
  kind: 'adam' | 'adamw';
  lr: number;
  betas: [number, number];
  eps: number;
  weight_decay: number;
  clip: number | null;
  decay: 'all' | 'ndim>=2';
}

/** PyTorch's Adam / AdamW (after clip_grad_norm_ when clip is set) in float64, as derive_adam in the script. */
function deriveAdam(
  initial: Map<string, Float64Array>,
  grads: Map<string, Float64Array>[],
  o: OptimizerSpec,
  ndims: Map<string, number>,
): Map<string, Float64Array>[] {
  const [b1, b2] = o.betas;
  const p = new Map([...initial].map(([k, v]) => [k, Float64Array.from(v)]));
  const m = new Map([...initial].map(([k, v]) => [k, new Float64Array(v.length)]));
  const v2 = new Map([...initial].map(([k, v]) => [k, new Float64Array(v.length)]));
  const out: Map<string, Float64Array>[] = [];
  grads.forEach((gs, s) => {
    const t = s + 1;
    let coef = 1;
    if (o.clip !== null) {
      let sq = 0;
      for (const g of gs.values()) for (const x of g) sq += x * x;
      coef = Math.min(1, o.clip / (Math.sqrt(sq) + 1e-6));
    }
    for (const [k, g0] of gs) {
      const wd = o.decay === 'all' || ndims.get(k)! >= 2 ? o.weight_decay : 0;
      const pk = p.get(k)!;
      const mk = m.get(k)!;
      const vk = v2.get(k)!;
      for (let i = 0; i < pk.length; i++) {
        let g = coef < 1 ? g0[i] * coef : g0[i];
        if (o.kind === 'adamw') pk[i] *= 1 - o.lr * wd;
        else if (wd) g += wd * pk[i];
        mk[i] = b1 * mk[i] + (1 - b1) * g;
        vk[i] = b2 * vk[i] + (1 - b2) * g * g;
        const denom = Math.sqrt(vk[i]) / Math.sqrt(1 - b2 ** t) + o.eps;
        pk[i] -= ((o.lr / (1 - b1 ** t)) * mk[i]) / denom;
      }
    }
    out.push(new Map([...p].map(([k, v]) => [k, Float64Array.from(v)])));
  });
  return out;
}

// value: max |diff| / max |expected| (logits, loss, BN statistics); grad: rel L2; after: the
// parameters' rel L2 error relative to the size of the update (Adam's step is about lr per element
// whatever the gradient's size, so this is the strict measure). The fixture stores float32. On the
// GPU the worst are BatchNorm weight gradients (sums over the batch with cancellation): about 1e-3.
const TOL: Record<BackendName, { value: number; grad: number; after: number }> = {
  cpu64: { value: 1e-6, grad: 1e-6, after: 1e-6 },
  gpu: { value: 1e-4, grad: 3e-3, after: 3e-2 },
};

/** rel L2 of actual against expected. */
function relL2(a: ArrayLike<number>, e: ArrayLike<number>): number {
  let d = 0;
  let n = 0;
  for (let i = 0; i < e.length; i++) {
    d += (a[i] - e[i]) ** 2;
    n += e[i] * e[i];
  }
  return Math.sqrt(d) / Math.max(Math.sqrt(n), 1e-300);
}

/** ||actual - expected|| / ||expected - before||: the error relative to the update. */
function updateError(a: ArrayLike<number>, e: ArrayLike<number>, before: ArrayLike<number>): number {
  let d = 0;
  let n = 0;
  for (let i = 0; i < e.length; i++) {
    d += (a[i] - e[i]) ** 2;
    n += (e[i] - before[i]) ** 2;
  }
  return Math.sqrt(d) / Math.max(Math.sqrt(n), 1e-300);
}

async function expectClose(label: string, t: Tensor, want: ArrayLike<number>, tol: number): Promise<void> {
  const got = await t.toArray();
  expect(got.length, label).toBe(want.length);
  const c = compare(got, want, { atol: 0, rtol: tol, relativeToMax: true }, label);
  expect(c.ok, c.message).toBe(true);
}

async function twoSteps(
  prefix: 'gpt' | 'mobile',
  backend: BackendName,
  model: Module,
  forward: () => Tensor,
  loss: (logits: Tensor) => Tensor,
): Promise<void> {
  const o = JSON.parse(fx.metadata[`${prefix}.optimizer`]) as OptimizerSpec;
  const tol = TOL[backend];
  const params = model.namedParameters();
  const names = (JSON.parse(fx.metadata[`${prefix}.params`]) as [string, number[]][]).map(([k]) => k);
  expect(params.map(([k]) => k)).toEqual(names);
  const initial = new Map<string, Float64Array>();
  for (const [k, p] of params) {
    const v = get(`${prefix}.init.${k}`);
    expect(p.shape, k).toEqual(v.shape);
    init.writeValues(p, v.data);
    initial.set(k, Float64Array.from(v.data));
  }
  const decays = (p: Tensor) => o.decay === 'all' || p.ndim >= 2;
  const groups = [
    { params: params.filter(([, p]) => decays(p)).map(([, p]) => p), weightDecay: o.weight_decay },
    { params: params.filter(([, p]) => !decays(p)).map(([, p]) => p), weightDecay: 0 },
  ].filter((g) => g.params.length > 0);
  const Cls = o.kind === 'adamw' ? AdamW : Adam;
  const opt: Optimizer = new Cls(groups, { lr: o.lr, betas: o.betas, eps: o.eps });
  const grads: Map<string, Float64Array>[] = [];
  for (let s = 0; s < 2; s++) {
    const l = tidy(() => {
      const logits = forward();
      return { logits, l: loss(logits) };
    });
    await expectClose(`${prefix} step${s} logits`, l.logits, get(`${prefix}.step${s}.logits`).data, tol.value);
    await expectClose(`${prefix} step${s} loss`, l.l, get(`${prefix}.step${s}.loss`).data, tol.value);
    l.l.backward();
    l.logits.dispose();
    l.l.dispose();
    const gs = new Map<string, Float64Array>();
    for (const [k, p] of params) {
      const want = get(`${prefix}.step${s}.grad.${k}`).data;
      gs.set(k, Float64Array.from(want));
      expect(p.grad, `${k} has no gradient`).not.toBeNull();
      const got = await p.grad!.toArray();
      const e = relL2(got, want);
      if (process.env.GOLDEN_VERBOSE) console.log(`${backend} ${prefix} step${s} grad ${k} ${e.toExponential(2)}`);
      expect(e, `${prefix} step${s} grad ${k}: rel L2 ${e.toExponential(2)}`).toBeLessThanOrEqual(tol.grad);
    }
    grads.push(gs);
    if (o.clip !== null)
      clipGradNorm(
        params.map(([, p]) => p),
        o.clip,
      ).dispose();
    opt.step();
    opt.zeroGrad();
    const derived = deriveAdam(initial, grads, o, new Map(params.map(([k, p]) => [k, p.ndim])));
    const [before, after] = [s === 0 ? initial : derived[s - 1], derived[s]];
    for (const [k, p] of params) {
      const e = updateError(await p.toArray(), after.get(k)!, before.get(k)!);
      if (process.env.GOLDEN_VERBOSE) console.log(`${backend} ${prefix} step${s} ${k} after ${e.toExponential(2)}`);
      expect(e, `${prefix} step${s} ${k} after: rel L2 ${e.toExponential(2)}`).toBeLessThanOrEqual(tol.after);
    }
  }
}

describe('examples against PyTorch (examples-golden)', () => {
  for (const backend of ['cpu64', 'gpu'] as const) {
    it(`transformer: two AdamW steps with clipGradNorm (${backend})`, async () => {
      const c = JSON.parse(fx.metadata['gpt.config']) as {
        vocab: number;
        block: number;
        embd: number;
        heads: number;
        layers: number;
        batch: number;
      };
      const model = new CharGPT({ ...c, dropout: 0 }, backend);
      const x = tensor(get('gpt.x').data, get('gpt.x').shape, { backend, dtype: 'int32' });
      const y = get('gpt.y').data as Int32Array;
      await twoSteps(
        'gpt',
        backend,
        model,
        () => model.forward(x),
        (logits) => lossOf(logits, y),
      );
      x.dispose();
      model.dispose();
    });
    it(`mobilenet: two Adam steps, BatchNorm statistics after (${backend})`, async () => {
      const c = JSON.parse(fx.metadata['mobile.config']) as { widths: MobileLayer[] };
      const model = new MobileNet(c.widths, backend);
      const x = tensor(get('mobile.x').data, get('mobile.x').shape, { backend });
      const y = get('mobile.y').data as Int32Array;
      await twoSteps(
        'mobile',
        backend,
        model,
        () => model.forward(x),
        (logits) => crossEntropy(logits, y),
      );
      for (const [k, b] of model.namedBuffers()) {
        if (!/running_(mean|var)$/.test(k)) continue;
        await expectClose(`mobile ${k}`, b, get(`mobile.after.${k}`).data, TOL[backend].value);
      }
      x.dispose();
      model.dispose();
    });
  }
});
