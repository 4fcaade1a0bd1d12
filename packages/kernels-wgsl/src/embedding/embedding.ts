// Embedding lookup (a row gather) and its backward, the scatter-add of dy's rows into the rows of
// the weight that the indices name. WGSL has no float atomics, and a sum whose order depends on
// scheduling would not be deterministic, so the backward gathers instead of scattering: one
// invocation per (weight row v, run of COLS columns) walks all N indices in order and adds dy's
// rows whose index is v. That costs V * N / COLS index reads, fine for the vocabularies of
// character and small word models (V up to a few thousand); a vocabulary of 50k with long
// batches would want a sort by index first.

import { Tensor, formatShape } from '@wgtorch/tensor';
import { KernelArgumentError, checkDtype } from '../common/errors.js';
import { defineKernel, NAN_BITS_WGSL } from '../common/kernel.js';
import { checkF32, flatGrid, flatId } from '../elementwise/launch.js';

const WG = 64;
/** Columns one backward invocation sums (unrolled accumulators: one index read serves COLS of them). */
const COLS = 8;

// One invocation per output value; an index outside [0, V) reads as NaN (no readback to report it).
const forwardKernel = defineKernel({
  name: 'embedding.forward',
  params: { n: 'u32', D: 'u32', V: 'u32' },
  bindings: { indices: { type: 'i32' }, weight: { type: 'f32' }, y: { type: 'f32', access: 'read_write' } },
  helpers: NAN_BITS_WGSL,
  workgroupSize: WG,
  body: `  let i = ${flatId(WG)};
  let k = min(i, params.n - 1u);
  let row = indices[k / params.D];
  let ok = row >= 0 && u32(row) < params.V;
  let v = weight[min(u32(max(row, 0)), params.V - 1u) * params.D + k % params.D];
  if (i < params.n) { y[i] = select(bitcast<f32>(nan_bits), v, ok); }`,
});

const cols = [...Array(COLS).keys()];
// The padding row gets no gradient (0 even where dy holds NaN).
const backwardKernel = defineKernel({
  name: 'embedding.backward',
  params: { N: 'u32', D: 'u32', V: 'u32', chunks: 'u32', paddingIdx: 'i32' },
  bindings: { dy: { type: 'f32' }, indices: { type: 'i32' }, dweight: { type: 'f32', access: 'read_write' } },
  workgroupSize: WG,
  body: `  let i = ${flatId(WG)};
  let total = params.V * params.chunks;
  let w = min(i, total - 1u);
  let v = w / params.chunks;
  let col = (w % params.chunks) * ${COLS}u;
  let D = params.D;
  ${cols.map((c) => `let c${c} = min(col + ${c}u, D - 1u); var a${c} = 0.0;`).join('\n  ')}
  for (var n = 0u; n < params.N; n++) {
    if (indices[n] == i32(v)) {
      let base = n * D;
      ${cols.map((c) => `a${c} += dy[base + c${c}];`).join(' ')}
    }
  }
  let keep = i32(v) != params.paddingIdx;
  if (i < total) {
    let out = v * D;
    ${cols.map((c) => `if (col + ${c}u < D) { dweight[out + col + ${c}u] = select(0.0, a${c}, keep); }`).join('\n    ')}
  }`,
});

function checkIndices(kernel: string, indices: Tensor): void {
  checkDtype(kernel, 'indices', indices, 'i32');
}

/** weight [V, D] rows picked by i32 indices of any shape: [...indices.shape, D]. */
export function embedding(indices: Tensor, weight: Tensor): Tensor {
  checkIndices('embedding', indices);
  checkF32('embedding', 'weight', weight);
  if (weight.shape.length !== 2)
    throw new KernelArgumentError('embedding', `weight must be [V, D], got ${formatShape(weight.shape)}.`);
  const [V, D] = weight.shape;
  const y = Tensor.empty([...indices.shape, D], 'f32', 'embedding');
  const n = indices.size * D;
  if (n === 0) return y;
  if (V === 0)
    throw new KernelArgumentError('embedding', `weight ${formatShape(weight.shape)} has no rows to look up.`);
  forwardKernel.launch({ indices, weight, y }, { n, D, V }, flatGrid(n, WG).groups);
  return y;
}

/**
 * The weight gradient [V, D] of embedding: row v is the sum of dy's rows [..., D] whose index is
 * v, summed in index order (deterministic); row paddingIdx (in [0, V), or -1 for none) is zero.
 */
export function embeddingBackward(dy: Tensor, indices: Tensor, V: number, paddingIdx: number): Tensor {
  checkIndices('embeddingBackward', indices);
  checkF32('embeddingBackward', 'dy', dy);
  const D = dy.shape[dy.shape.length - 1];
  if (dy.shape.length !== indices.shape.length + 1 || dy.size !== indices.size * D)
    throw new KernelArgumentError(
      'embeddingBackward',
      `dy ${formatShape(dy.shape)} must be [...indices.shape, D] for indices ${formatShape(indices.shape)}.`,
    );
  if (!Number.isInteger(paddingIdx) || paddingIdx < -1 || paddingIdx >= V)
    throw new KernelArgumentError('embeddingBackward', `paddingIdx ${paddingIdx} must be -1 or in [0, ${V}).`);
  const dweight = Tensor.empty([V, D], 'f32', 'embeddingBackward');
  const chunks = Math.ceil(D / COLS);
  const total = V * chunks;
  if (total === 0) return dweight;
  backwardKernel.launch(
    { dy, indices, dweight },
    { N: indices.size, D, V, chunks, paddingIdx },
    flatGrid(total, WG).groups,
  );
  return dweight;
}
