// `pnpm resnet20 golden FILE`: the model against PyTorch's reference values (the format of
// ../shared/fixtures/resnet20-golden-s0.safetensors, described in its README): eval forward,
// then two SGD training steps (lr 0.1, momentum 0.9, weight decay 5e-4 on every parameter),
// comparing logits, loss, every gradient and every parameter and BN statistic after each step.
// Batch size and image size come from the file.

import { readSafetensors, type SafeTensor } from '@wgtorch/tensor';
import { compare } from '@wgtorch/kernels-wgsl';
import { SGD, crossEntropy, noGrad, tensor, tidy, type Tensor } from '@wgtorch/autograd';
import { ResNet20 } from './model.js';

/** Tolerances of the fixtures' README, relative to each tensor's largest magnitude. */
export const GOLDEN_TOLERANCE = { forward: 1e-4, gradient: 1e-3, after: 1e-3, atol: 1e-5 };

export interface GoldenRow {
  name: string;
  maxAbs: number;
  /** max |diff| / max |expected|. */
  maxRel: number;
  tolerance: number;
  ok: boolean;
}

export interface GoldenResult {
  rows: GoldenRow[];
  ok: boolean;
  batch: number;
  imageShape: number[];
}

export async function runGolden(path: string): Promise<GoldenResult> {
  const file = readSafetensors(path);
  const get = (k: string): SafeTensor => {
    const t = file.tensors.get(k);
    if (!t) throw new Error(`${path}: key '${k}' is missing; see ../shared/fixtures/README.md for the format.`);
    return t;
  };
  const x0 = get('x0');
  if (x0.shape.length !== 4 || x0.shape[1] !== 3) throw new Error(`${path}: x0 must be [N, 3, H, W], got [${x0.shape}].`);
  const rows: GoldenRow[] = [];
  const check = async (name: string, actual: Tensor | null, key: string, tol: number) => {
    const expected = get(key).data as Float32Array;
    if (!actual) {
      rows.push({ name, maxAbs: Infinity, maxRel: Infinity, tolerance: tol, ok: false });
      return;
    }
    const a = await actual.toArray();
    let maxE = 0;
    for (const v of expected) maxE = Math.max(maxE, Math.abs(v));
    const c = compare(a, expected, { atol: GOLDEN_TOLERANCE.atol, rtol: tol, relativeToMax: true }, name);
    rows.push({ name, maxAbs: c.maxAbs, maxRel: c.maxAbs / Math.max(maxE, 1e-30), tolerance: tol, ok: c.ok });
  };

  const model = new ResNet20({ shortcut: file.tensors.has('init.layer2.0.shortcut.0.weight') ? 'B' : 'A' });
  const init: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [k, t] of file.tensors) if (k.startsWith('init.')) init[k.slice(5)] = { shape: t.shape, data: t.data as Float32Array };
  model.loadStateDict(init);
  const input = (k: string) => tensor(get(k).data as Float32Array, get(k).shape);
  const labels = (k: string) => Int32Array.from(get(k).data as Int32Array);

  // eval-mode forward: BN uses the running statistics
  model.eval();
  const xe = input('x0');
  const logitsEval = noGrad(() => model.forward(xe));
  await check('logits_eval', logitsEval, 'logits_eval', GOLDEN_TOLERANCE.forward);
  logitsEval.dispose();
  xe.dispose();

  model.train();
  const params = model.namedParameters();
  const opt = new SGD(params.map(([, p]) => p), { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 });
  for (const step of [0, 1]) {
    const x = input(`x${step}`);
    const { logits, loss } = tidy(() => {
      const logits = model.forward(x);
      const loss = crossEntropy(logits, labels(`y${step}`));
      return { logits, loss };
    });
    loss.backward();
    await check(`step${step}.logits_train`, logits, `step${step}.logits_train`, GOLDEN_TOLERANCE.forward);
    await check(`step${step}.loss`, loss, `step${step}.loss`, GOLDEN_TOLERANCE.forward);
    for (const [name, p] of params) await check(`step${step}.grad.${name}`, p.grad, `step${step}.grad.${name}`, GOLDEN_TOLERANCE.gradient);
    opt.step();
    opt.zeroGrad();
    for (const [name, t] of model.stateDict()) await check(`step${step}.after.${name}`, t, `step${step}.after.${name}`, GOLDEN_TOLERANCE.after);
    for (const t of [x, logits, loss]) t.dispose();
  }
  opt.dispose();
  model.dispose();
  return { rows, ok: rows.every((r) => r.ok), batch: x0.shape[0], imageShape: x0.shape.slice(1) };
}

export function formatGolden(r: GoldenResult): string {
  const w = Math.max(...r.rows.map((x) => x.name.length));
  const lines = [`batch ${r.batch}, image [${r.imageShape.join(', ')}]`, `${'tensor'.padEnd(w)}  ${'max |diff|'.padStart(11)}  ${'rel to max'.padStart(11)}  ${'tolerance'.padStart(9)}`];
  for (const x of r.rows) {
    lines.push(`${x.name.padEnd(w)}  ${x.maxAbs.toExponential(3).padStart(11)}  ${x.maxRel.toExponential(3).padStart(11)}  ${x.tolerance.toExponential(0).padStart(9)}  ${x.ok ? 'ok' : 'FAIL'}`);
  }
  const bad = r.rows.filter((x) => !x.ok).length;
  lines.push(bad ? `${bad} of ${r.rows.length} tensors outside tolerance` : `all ${r.rows.length} tensors within tolerance`);
  return lines.join('\n');
}
