// matmul with broadcast batch dimensions, by PyTorch's rules: a [...batchA, M, K] x
// b [...batchB, K, N] -> [...broadcast(batchA, batchB), M, N] (transA / transB as in matmul).
// A layer over the tuned kernels of matmul.ts: plain 2-D / equal-batch 3-D calls go to matmul()
// unchanged; a batched a against an unbatched b folds the batch into M (one 2-D product); an
// operand whose batch is one matrix is reused by every product (batch stride 0); only a batch
// broadcast within both operands (e.g. [2, 1] against [5]) is expanded by a copy first.

import { Tensor, formatShape, sizeOf } from '@wgtorch/tensor';
import { KernelArgumentError } from '../common/errors.js';
import { add, broadcastShapes, fill } from '../elementwise/elementwise.js';
import { checkF32 } from '../elementwise/launch.js';
import { matmul, matmulInto, type MatmulOptions } from './matmul.js';

/** Shapes of a broadcast matmul, or a KernelArgumentError naming both operands and the fix. */
export function matmulBroadcastShape(
  aShape: readonly number[],
  bShape: readonly number[],
  opts: MatmulOptions = {},
): { batch: number[]; batchA: number[]; batchB: number[]; M: number; K: number; N: number; out: number[] } {
  const bad = (why: string) =>
    new KernelArgumentError(
      'matmulBroadcast',
      `a ${formatShape(aShape)}${opts.transA ? ' (transposed)' : ''} ` +
        `and b ${formatShape(bShape)}${opts.transB ? ' (transposed)' : ''}: ${why}`,
    );
  if (aShape.length < 2 || bShape.length < 2)
    throw bad('both must be at least 2-D [..., M, K] x [..., K, N]; unsqueeze a vector first.');
  const batchA = aShape.slice(0, -2);
  const batchB = bShape.slice(0, -2);
  const batch = broadcastShapes(batchA, batchB);
  if (!batch) throw bad(`batch dims ${formatShape(batchA)} and ${formatShape(batchB)} do not broadcast.`);
  const [a0, a1] = aShape.slice(-2);
  const [b0, b1] = bShape.slice(-2);
  const [M, K] = opts.transA ? [a1, a0] : [a0, a1];
  const [K2, N] = opts.transB ? [b1, b0] : [b0, b1];
  if (K !== K2) throw bad(`inner dimensions ${K} and ${K2} differ; check transA / transB.`);
  return { batch, batchA, batchB, M, K, N, out: [...batch, M, N] };
}

/** a @ b with broadcast batch dims (both at least 2-D); transA / transB transpose the last two dims. */
export function matmulBroadcast(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  checkF32('matmulBroadcast', 'a', a);
  checkF32('matmulBroadcast', 'b', b);
  const { batch, batchA, batchB, M, K, N, out } = matmulBroadcastShape(a.shape, b.shape, opts);
  const [nA, nB, n] = [sizeOf(batchA), sizeOf(batchB), sizeOf(batch)];
  const same = (x: readonly number[], y: readonly number[]) => x.length === y.length && x.every((d, i) => d === y[i]);
  // Today's paths, unchanged: 2-D x 2-D and 3-D x 3-D with equal batches.
  if (a.shape.length === b.shape.length && a.shape.length <= 3 && same(batchA, batchB)) return matmul(a, b, opts);
  if (K === 0 || sizeOf(out) === 0) return K === 0 ? fill(out, 0) : Tensor.empty(out, 'f32', 'matmulBroadcast');
  if (nB === 1 && !opts.transA) {
    // [..., M, K] x [K, N]: one [n M, K] x [K, N] product.
    const a2 = a.reshape([nA * M, K]);
    const b2 = b.reshape(b.shape.slice(-2));
    const c2 = matmul(a2, b2, opts);
    a2.dispose();
    b2.dispose();
    const c = c2.reshape(out);
    c2.dispose();
    return c;
  }
  // An operand with as many matrices as the output is laid out as the output's batch (only
  // size-1 dims were broadcast); one with a single matrix is reused; else it is expanded.
  const expanded = (t: Tensor, count: number) => {
    if (count === n || count === 1) return t;
    const zeros = fill([...batch, ...t.shape.slice(-2)], 0);
    const e = add(zeros, t);
    zeros.dispose();
    return e;
  };
  const ae = expanded(a, nA);
  const be = expanded(b, nB);
  const c = Tensor.empty(out, 'f32', 'matmulBroadcast');
  matmulInto(ae, be, c, opts, { B: n, M, N, K, batchA: nA === 1 ? 0 : M * K, batchB: nB === 1 ? 0 : K * N });
  if (ae !== a) ae.dispose();
  if (be !== b) be.dispose();
  return c;
}
