// Gradient checking. gradcheck runs a function on the cpu64 backend (float64, the kernels'
// references) and compares backward's gradients with central finite differences, as PyTorch's
// torch.autograd.gradcheck (eps 1e-6, atol 1e-5, rtol 1e-3). A non-scalar output is reduced
// with a fixed random cotangent v, so the check is of the vector-Jacobian product v^T J, which
// is what backward computes. checkGpuGradients runs the same function on both backends and
// compares the GPU's float32 gradients with the float64 ones.

import { Rng, sizeOf } from '@wgtorch/tensor';
import { Tensor, tensor, noGrad, tidy } from './tensor.js';
import type { BackendName } from './backend.js';

/** An input of a gradient check: values and shape; `requiresGrad: false` leaves it constant. */
export interface CheckInput {
  data: ArrayLike<number>;
  shape: readonly number[];
  requiresGrad?: boolean;
}

/** Options of gradcheck. */
export interface GradcheckOptions {
  /** Finite-difference step (default 1e-6). */
  eps?: number;
  /** Absolute tolerance (default 1e-5). */
  atol?: number;
  /** Relative tolerance (default 1e-3). */
  rtol?: number;
  /** Seed of the cotangent used for non-scalar outputs (default 0). */
  seed?: number;
  /** Throw on the first mismatch instead of returning it (default false). */
  raise?: boolean;
}

/** The worst disagreement found, or ok. */
export interface GradcheckResult {
  ok: boolean;
  /** Index of the input that disagrees (-1 when ok). */
  input: number;
  /** Flat index of the element that disagrees (-1 when ok). */
  element: number;
  analytic: number;
  numeric: number;
  message: string;
}

/** The function under test: takes tensors (in the order of the inputs), returns one tensor. */
export type CheckFn = (...inputs: Tensor[]) => Tensor;

function cotangent(shape: readonly number[], seed: number): Float64Array {
  const n = sizeOf(shape, 'gradcheck');
  if (n === 1) return Float64Array.of(1);
  const rng = new Rng(seed);
  return Float64Array.from({ length: n }, () => rng.normal());
}

/** sum(v * fn(inputs)) in float64, without recording. */
function projected(fn: CheckFn, values: Float64Array[], inputs: readonly CheckInput[], v: Float64Array): number {
  return noGrad(() =>
    tidy(() => {
      const ts = values.map((d, i) => tensor(d, inputs[i].shape, { backend: 'cpu64' }));
      const y = (fn(...ts).raw as { data: Float64Array }).data;
      let s = 0;
      for (let i = 0; i < y.length; i++) s += v[i] * y[i];
      return s;
    }),
  );
}

/** Analytic gradients of sum(v * fn(inputs)) on `backend`, read back; null for constant inputs. */
async function analyticGrads(
  fn: CheckFn,
  inputs: readonly CheckInput[],
  backend: BackendName,
  seed: number,
): Promise<{ grads: (Float64Array | null)[]; outShape: readonly number[]; output: Float64Array }> {
  const ts = inputs.map((x) => tensor(x.data, x.shape, { backend, requiresGrad: x.requiresGrad ?? true }));
  const y = tidy(() => fn(...ts));
  const v = cotangent(y.shape, seed);
  const vt = tensor(v, y.shape, { backend });
  const output = Float64Array.from(await y.toArray());
  const outShape = [...y.shape];
  if (!y.requiresGrad) {
    for (const t of [...ts, y, vt]) t.dispose();
    throw new Error('gradcheck: the output does not require grad; does fn use its inputs through differentiable ops?');
  }
  y.backward(vt);
  const grads: (Float64Array | null)[] = [];
  for (let i = 0; i < ts.length; i++) {
    const g = ts[i].grad;
    if (!(inputs[i].requiresGrad ?? true)) grads.push(null);
    else grads.push(g ? Float64Array.from(await g.toArray()) : new Float64Array(ts[i].size));
    ts[i].zeroGrad();
  }
  for (const t of [...ts, y, vt]) t.dispose();
  return { grads, outShape, output };
}

/**
 * Checks fn's gradients with central differences in float64 on the cpu64 backend. Returns the
 * worst element (the input index and flat element index that disagree most relative to
 * atol + rtol * |numeric|), with `ok` false when any element is out of tolerance.
 */
export async function gradcheck(
  fn: CheckFn,
  inputs: readonly CheckInput[],
  options: GradcheckOptions = {},
): Promise<GradcheckResult> {
  const eps = options.eps ?? 1e-6;
  const atol = options.atol ?? 1e-5;
  const rtol = options.rtol ?? 1e-3;
  const seed = options.seed ?? 0;
  const { grads, outShape } = await analyticGrads(fn, inputs, 'cpu64', seed);
  const v = cotangent(outShape, seed);
  const values = inputs.map((x) => Float64Array.from(x.data));
  let worst: GradcheckResult = { ok: true, input: -1, element: -1, analytic: 0, numeric: 0, message: 'gradcheck: ok' };
  let worstExcess = -Infinity;
  for (let i = 0; i < inputs.length; i++) {
    const g = grads[i];
    if (!g) continue;
    for (let j = 0; j < values[i].length; j++) {
      const orig = values[i][j];
      values[i][j] = orig + eps;
      const fp = projected(fn, values, inputs, v);
      values[i][j] = orig - eps;
      const fm = projected(fn, values, inputs, v);
      values[i][j] = orig;
      const numeric = (fp - fm) / (2 * eps);
      const diff = Math.abs(g[j] - numeric);
      const excess = diff - (atol + rtol * Math.abs(numeric));
      if (excess > worstExcess || Number.isNaN(diff)) {
        worstExcess = Number.isNaN(diff) ? Infinity : excess;
        const ok = worstExcess <= 0;
        worst = {
          ok,
          input: ok ? -1 : i,
          element: ok ? -1 : j,
          analytic: g[j],
          numeric,
          message: ok
            ? 'gradcheck: ok'
            : `gradcheck: input ${i} [${inputs[i].shape.join(', ')}] element ${j}: ` +
              `analytic ${g[j]} vs numeric ${numeric} ` +
              `(|diff| ${diff.toExponential(3)} > atol ${atol} + rtol ${rtol} * |numeric|)`,
        };
      }
    }
  }
  if (!worst.ok && options.raise) throw new Error(worst.message);
  return worst;
}

/** Options of checkGpuGradients. */
export interface GpuCheckOptions {
  /** Tolerance relative to each gradient's largest magnitude (default 1e-3). */
  rtol?: number;
  /** Absolute tolerance (default 1e-4). */
  atol?: number;
  seed?: number;
}

/**
 * Runs fn on the gpu and cpu64 backends with the same inputs and cotangent and compares the
 * outputs and gradients: |gpu - cpu| <= atol + rtol * max|cpu| per tensor (float32 kernels
 * against the float64 references). Returns which tensor disagrees and where.
 */
export async function checkGpuGradients(
  fn: CheckFn,
  inputs: readonly CheckInput[],
  options: GpuCheckOptions = {},
): Promise<{ ok: boolean; message: string }> {
  const rtol = options.rtol ?? 1e-3;
  const atol = options.atol ?? 1e-4;
  const seed = options.seed ?? 0;
  const cpu = await analyticGrads(fn, inputs, 'cpu64', seed);
  const gpu = await analyticGrads(fn, inputs, 'gpu', seed);
  const pairs: [string, Float64Array | null, Float64Array | null][] = [
    ['output', gpu.output, cpu.output],
    ...cpu.grads.map(
      (g, i) => [`grad of input ${i}`, gpu.grads[i], g] as [string, Float64Array | null, Float64Array | null],
    ),
  ];
  for (const [name, a, e] of pairs) {
    if (!a || !e) continue;
    let max = 0;
    for (const x of e) max = Math.max(max, Math.abs(x));
    const tol = atol + rtol * max;
    for (let j = 0; j < e.length; j++) {
      const d = Math.abs(a[j] - e[j]);
      if (!(d <= tol)) {
        return {
          ok: false,
          message:
            `checkGpuGradients: ${name} element ${j}: gpu ${a[j]} vs float64 ${e[j]} ` +
            `(|diff| ${d.toExponential(3)} > ${tol.toExponential(3)})`,
        };
      }
    }
  }
  return { ok: true, message: 'checkGpuGradients: ok' };
}
