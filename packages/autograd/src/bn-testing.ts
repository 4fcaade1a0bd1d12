// Seeded inputs of the fused batchnorm tests (bn-add-relu.test.ts, bn-grad-sums.test.ts) and
// how they run an op on them; not part of the package's entries.

import { Rng } from '@wgtorch/tensor';
import type { CheckInput } from './gradcheck.js';
import { tensor, type BackendName, type Tensor } from './index.js';

/** A batchnorm op of x, residual, weight, bias, running mean and running variance. */
export type BnOp = (x: Tensor, res: Tensor, w: Tensor, b: Tensor, rm: Tensor, rv: Tensor) => Tensor;

/** Runs f on fresh tensors of `data` on `backend`, backward with the cotangent v; output, grads and stats. */
export async function runBn(
  f: BnOp,
  data: CheckInput[],
  v: CheckInput,
  backend: BackendName,
): Promise<Record<string, number[]>> {
  const ts = data.map((d) => tensor(d.data, d.shape, { backend, requiresGrad: d.requiresGrad ?? true }));
  const [x, res, w, b, rm, rv] = ts;
  const y = f(x, res, w, b, rm, rv);
  const vt = tensor(v.data, v.shape, { backend });
  y.backward(vt);
  const read = async (t: Tensor | null) => (t ? Array.from(await t.toArray()) : []);
  const out = {
    y: await read(y),
    dx: await read(x.grad),
    dresidual: await read(res.grad),
    dweight: await read(w.grad),
    dbias: await read(b.grad),
    runningMean: await read(rm),
    runningVar: await read(rv),
  };
  for (const t of [...ts, y, vt]) t.dispose();
  return out;
}

/** `rand` (values kept 0.05 away from 0; `positive` for running variances) and `inputs` from one seed. */
export function bnTestData(seed: number) {
  const rng = new Rng(seed);
  function rand(shape: number[], opts: { positive?: boolean; requiresGrad?: boolean } = {}): CheckInput {
    const n = shape.reduce((a, d) => a * d, 1);
    const data = Float64Array.from({ length: n }, () => {
      const v = rng.normal();
      return opts.positive ? 0.5 + Math.abs(v) : Math.sign(v) * (0.05 + Math.abs(v));
    });
    return { data, shape, requiresGrad: opts.requiresGrad };
  }
  /** x, residual, weight, bias, then the running mean and variance (constants). */
  function inputs(shape: number[]): CheckInput[] {
    const C = shape[1];
    const stat = { requiresGrad: false };
    return [rand(shape), rand(shape), rand([C]), rand([C]), rand([C], stat), rand([C], { ...stat, positive: true })];
  }
  return { rand, inputs };
}
