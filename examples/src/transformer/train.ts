// pnpm example transformer: trains the character model on chapters 1-20 of Moby-Dick
// (examples/data), printing the loss per step, then prints a generated sample.
//
//   pnpm example transformer [--steps N] [--batch B] [--lr LR] [--seed S] [--sample CHARS] [--out DIR]

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  AdamW,
  CosineAnnealingLR,
  Tensor,
  clipGradNorm,
  crossEntropy,
  manualSeed,
  noGrad,
  reshape,
  softmax,
  tensor,
  tidy,
} from '@wgtorch/autograd';
import { Rng } from '@wgtorch/tensor';
import { ProgressBar } from '@wgtorch/resnet20';
import { CharGPT, GPT_DEFAULTS, type GptConfig } from './model.js';
import { exampleRoot, positiveArg, writeCurves, type Curve } from '../common.js';

export interface CharData {
  /** The characters, sorted; a token is an index into it. */
  vocab: string[];
  train: Int32Array;
  val: Int32Array;
}

/** The text as token ids, its first 90% for training and the rest for validation. */
export function loadText(path = join(exampleRoot, 'data', 'moby-dick-ch1-20.txt')): CharData {
  const text = readFileSync(path, 'utf8');
  const chars = [...text];
  const vocab = [...new Set(chars)].sort();
  const id = new Map(vocab.map((c, i) => [c, i]));
  const ids = Int32Array.from(chars, (c) => id.get(c)!);
  const cut = Math.floor(ids.length * 0.9);
  return { vocab, train: ids.subarray(0, cut), val: ids.subarray(cut) };
}

/** B random windows of T + 1 tokens: inputs [B, T] and next-token targets [B * T]. */
export function batchOf(ids: Int32Array, B: number, T: number, rng: Rng): { x: Int32Array; y: Int32Array } {
  const x = new Int32Array(B * T);
  const y = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    const o = rng.int(ids.length - T - 1);
    x.set(ids.subarray(o, o + T), b * T);
    y.set(ids.subarray(o + 1, o + T + 1), b * T);
  }
  return { x, y };
}

/** Mean cross-entropy of next-token predictions: logits [B, T, V] against targets [B * T]. */
export function lossOf(logits: Tensor, y: Int32Array): Tensor {
  const [B, T, V] = logits.shape;
  return crossEntropy(reshape(logits, [B * T, V]), y);
}

/** Samples `n` characters after `prompt`, at temperature 0.8 (one forward pass per character). */
export async function generate(model: CharGPT, data: CharData, prompt: string, n: number, rng: Rng): Promise<string> {
  const id = new Map(data.vocab.map((c, i) => [c, i]));
  const ids = [...prompt].map((c) => id.get(c) ?? 0);
  const T = model.c.block;
  model.eval();
  for (let i = 0; i < n; i++) {
    const ctx = ids.slice(-T);
    const probs = noGrad(() =>
      tidy(() => {
        const logits = model.forward(tensor(Int32Array.from(ctx), [1, ctx.length], { dtype: 'int32' }));
        const last = reshape(logits, [ctx.length, data.vocab.length]);
        return softmax(last.mul(1 / 0.8), -1);
      }),
    );
    const all = await probs.toArray();
    probs.dispose();
    const p = all.subarray((ctx.length - 1) * data.vocab.length);
    let u = rng.next();
    let pick = p.length - 1;
    for (let j = 0; j < p.length; j++) if ((u -= p[j]) < 0) ((pick = j), (j = p.length));
    ids.push(pick);
  }
  model.train();
  return ids
    .slice(ids.length - n)
    .map((i) => data.vocab[i])
    .join('');
}

export interface TransformerOptions {
  steps: number;
  batch: number;
  lr: number;
  seed: number;
  sample: number;
  evalEvery: number;
  out: string;
}

export const TRANSFORMER_DEFAULTS: TransformerOptions = {
  steps: 1000,
  batch: 32,
  lr: 3e-3,
  seed: 0,
  sample: 300,
  evalEvery: 50,
  out: join(exampleRoot, 'runs', 'transformer'),
};

export async function trainTransformer(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      steps: { type: 'string' },
      batch: { type: 'string' },
      lr: { type: 'string' },
      seed: { type: 'string' },
      sample: { type: 'string' },
      out: { type: 'string' },
    },
  });
  const num = (v: string | undefined, d: number, name: string) => positiveArg('transformer', name, v, d);
  const o: TransformerOptions = {
    ...TRANSFORMER_DEFAULTS,
    steps: num(values.steps, TRANSFORMER_DEFAULTS.steps, 'steps'),
    batch: num(values.batch, TRANSFORMER_DEFAULTS.batch, 'batch'),
    lr: num(values.lr, TRANSFORMER_DEFAULTS.lr, 'lr'),
    seed: values.seed === undefined ? 0 : Number(values.seed),
    sample: num(values.sample, TRANSFORMER_DEFAULTS.sample, 'sample'),
    out: values.out ?? TRANSFORMER_DEFAULTS.out,
  };
  const data = loadText();
  manualSeed(o.seed);
  const c: GptConfig = { ...GPT_DEFAULTS, vocab: data.vocab.length };
  const model = new CharGPT(c);
  const rng = new Rng(o.seed + 1);
  const params = model.namedParameters();
  const decay = params.filter(([, p]) => p.ndim >= 2).map(([, p]) => p);
  const rest = params.filter(([, p]) => p.ndim < 2).map(([, p]) => p);
  const opt = new AdamW(
    [
      { params: decay, weightDecay: 0.1 },
      { params: rest, weightDecay: 0 },
    ],
    { lr: o.lr, betas: [0.9, 0.95] },
  );
  const sched = new CosineAnnealingLR(opt, { tMax: o.steps, warmupSteps: Math.round(o.steps / 20), etaMin: o.lr / 10 });
  console.log(
    `CharGPT: ${model.numParameters().toLocaleString('en-US')} parameters, vocab ${c.vocab}, context ${c.block}, ` +
      `${c.layers} layers x ${c.heads} heads x ${c.embd}; ${data.train.length.toLocaleString('en-US')} training chars`,
  );
  const curve: Curve = { title: 'CharGPT on Moby-Dick 1-20', xLabel: 'step', series: { train: [], val: [] } };
  const t0 = performance.now();
  // The loss of every step as a line, with the progress bar below them.
  const bar = new ProgressBar({ total: o.steps, unit: 'steps', label: 'training' });
  /** Prints a step's line once its loss is read back; with `evaluate`, the validation loss too. */
  const show = async (p: { step: number; lr: number; loss: Promise<number> }, evaluate: boolean) => {
    const value = await p.loss;
    if (!Number.isFinite(value)) throw new Error(`pnpm example transformer: the loss is ${value} at step ${p.step}.`);
    curve.series.train.push([p.step, value]);
    const rate = (p.step * o.batch * c.block) / ((performance.now() - t0) / 1000);
    let line = `step ${p.step}/${o.steps}  loss ${value.toFixed(4)}  lr ${p.lr.toExponential(2)}`;
    line += `  ${Math.round(rate)} tok/s`;
    if (evaluate) {
      const val = await evalLoss(model, data.val, o.batch, c.block, new Rng(12345));
      curve.series.val.push([p.step, val]);
      line += `  val ${val.toFixed(4)}`;
      writeCurves(o.out, curve);
    }
    bar.log(line);
    bar.update(p.step, { loss: value.toFixed(3) });
  };
  // A step's loss is read back while the next step is recorded and runs, so the queue is not
  // drained every step (only at the evaluations).
  let pending: { step: number; lr: number; loss: Promise<number> } | undefined;
  for (let step = 1; step <= o.steps; step++) {
    const { x, y } = batchOf(data.train, o.batch, c.block, rng);
    const loss = tidy(() => {
      const l = lossOf(model.forward(tensor(x, [o.batch, c.block], { dtype: 'int32' })), y);
      l.backward();
      return l;
    });
    clipGradNorm(model.parameters(), 1.0);
    opt.step();
    opt.zeroGrad();
    const lr = sched.getLastLr()[0];
    sched.step();
    const read = loss.item().finally(() => loss.dispose());
    if (pending) await show(pending, false);
    pending = { step, lr, loss: read };
    if (step % o.evalEvery === 0 || step === o.steps) {
      await show(pending, true);
      pending = undefined;
    }
  }
  bar.finish();
  const seconds = (performance.now() - t0) / 1000;
  console.log(`trained ${o.steps} steps in ${seconds.toFixed(0)} s; curve: ${join(o.out, 'curves.svg')}`);
  console.log('\nsample:\n' + (await generate(model, data, 'CHAPTER 3. ', o.sample, rng)));
  model.dispose();
}

/** Mean loss over 8 fixed validation batches, without recording. */
export async function evalLoss(model: CharGPT, val: Int32Array, B: number, T: number, rng: Rng): Promise<number> {
  model.eval();
  let sum = 0;
  for (let i = 0; i < 8; i++) {
    const { x, y } = batchOf(val, B, T, rng);
    const l = noGrad(() => tidy(() => lossOf(model.forward(tensor(x, [B, T], { dtype: 'int32' })), y)));
    sum += await l.item();
    l.dispose();
  }
  model.train();
  return sum / 8;
}
