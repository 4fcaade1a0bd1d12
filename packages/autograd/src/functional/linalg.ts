// Matrix products.

import { formatShape, sizeOf } from '@wgtorch/tensor';
import type { Backend, Raw } from '../backend.js';
import { apply, defineOp, Tensor } from '../tensor.js';
import { addTensorMethods, andThen, reduceTo } from './common.js';
import { reshape } from './shape.js';

interface MatmulAttrs {
  transA: boolean;
  transB: boolean;
}

const matmulOp = defineOp<MatmulAttrs>({
  name: 'matmul',
  forward: (b, [x, y], o, record) => ({
    y: b.k.matmulBroadcast(x, y, o),
    saved: record ? [b.retain(x), b.retain(y)] : [],
  }),
  backward: (b, dy, { saved: [a, w], attrs: { transA, transB }, needs, shapes }) => [
    // C = op(A) op(B): dA = dC op(B)^T (transposed back when A was), dB likewise; each summed
    // back over the batch dims its operand was broadcast along.
    needs[0]
      ? reduceTo(
          b,
          transA
            ? b.k.matmulBroadcast(w, dy, { transA: transB, transB: true })
            : b.k.matmulBroadcast(dy, w, { transB: !transB }),
          shapes[0],
        )
      : null,
    needs[1] ? weightGrad(b, a, w, dy, transA, transB, shapes) : null,
  ],
});

/** dB of matmul; for a batched A against a plain matrix B, one product over the folded batch. */
function weightGrad(
  b: Backend,
  a: Raw,
  w: Raw,
  dy: Raw,
  transA: boolean,
  transB: boolean,
  shapes: (readonly number[])[],
): Raw {
  const [sa, sw] = shapes;
  if (sw.length === 2 && sa.length > 2 && !transA) {
    const K = sa[sa.length - 1];
    const N = b.shape(dy)[b.shape(dy).length - 1];
    const a2 = b.view(a, [sizeOf(sa) / K, K]);
    const dy2 = b.view(dy, [sizeOf(b.shape(dy)) / N, N]);
    const g = transB ? b.k.matmul(dy2, a2, { transA: true }) : b.k.matmul(a2, dy2, { transA: true });
    b.release(a2);
    b.release(dy2);
    return g;
  }
  const g = transB
    ? b.k.matmulBroadcast(dy, a, { transA: true, transB: transA })
    : b.k.matmulBroadcast(a, dy, { transA: !transA });
  return reduceTo(b, g, sw);
}

/**
 * Matrix product by PyTorch's rules: 1-D @ 1-D is a dot product (0-d); a 1-D operand is a row
 * (left) or column (right) vector whose dim is removed after; N-D @ N-D broadcasts the batch
 * dims ([2, 1, 3, 4] @ [5, 4, 6] -> [2, 5, 3, 6]) and sums the gradients back over them.
 * transA / transB use an operand's transpose (its last two dims; not with 1-D operands).
 */
export function matmul(a: Tensor, b: Tensor, options: { transA?: boolean; transB?: boolean } = {}): Tensor {
  const transA = options.transA ?? false;
  const transB = options.transB ?? false;
  if (a.ndim === 0 || b.ndim === 0)
    throw new Error(
      `matmul: a ${formatShape(a.shape)} and b ${formatShape(b.shape)}: both must be at least 1-D; ` +
        'use mul for scalars.',
    );
  if ((a.ndim === 1 || b.ndim === 1) && (transA || transB))
    throw new Error(
      `matmul: transA / transB need 2-D operands, got a ${formatShape(a.shape)} and b ${formatShape(b.shape)}.`,
    );
  if (a.ndim > 1 && b.ndim > 1) return apply(matmulOp, [a, b], { transA, transB });
  // Promote the vectors, multiply, and drop the dims that were added.
  const a2 = a.ndim === 1 ? reshape(a, [1, a.shape[0]]) : a;
  const b2 = b.ndim === 1 ? reshape(b, [b.shape[0], 1]) : b;
  try {
    const c = apply(matmulOp, [a2, b2], { transA, transB });
    const keep = c.shape.filter((_, i) => !((a.ndim === 1 && i === c.ndim - 2) || (b.ndim === 1 && i === c.ndim - 1)));
    const out = reshape(c, keep);
    c.dispose();
    return out;
  } finally {
    if (a2 !== a) a2.dispose();
    if (b2 !== b) b2.dispose();
  }
}

const linearOp = defineOp({
  name: 'linear',
  forward: (b, [x, w, bias], _a, record) => {
    const xw = b.k.matmul(x, w, { transB: true });
    const y = bias ? andThen(b, xw, (t) => b.k.add(t, bias)) : xw;
    return { y, saved: record ? [b.retain(x), b.retain(w)] : [] };
  },
  backward: (b, dy, { saved: [x, w], needs, shapes }) => [
    needs[0] ? b.k.matmul(dy, w, {}) : null,
    needs[1] ? b.k.matmul(dy, x, { transA: true }) : null,
    needs[2] ? b.k.sumToShape(dy, [...shapes[2]]) : null,
  ],
});

/** y = x w^T + b for x [N, in], w [out, in], b [out]. */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  if (x.ndim !== 2 || weight.ndim !== 2 || x.shape[1] !== weight.shape[1]) {
    throw new Error(
      `linear: input ${formatShape(x.shape)} and weight ${formatShape(weight.shape)} do not fit; ` +
        'expected [N, in] and [out, in].',
    );
  }
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== weight.shape[0])) {
    throw new Error(
      `linear: bias ${formatShape(bias.shape)} must be [${weight.shape[0]}] for weight ${formatShape(weight.shape)}.`,
    );
  }
  return apply(linearOp, bias ? [x, weight, bias] : [x, weight], undefined);
}

declare module '../tensor.js' {
  interface Tensor {
    /** Matrix product by PyTorch's rules (vectors, broadcast batch dims). */
    matmul(other: Tensor): Tensor;
  }
}

addTensorMethods({
  matmul(this: Tensor, other: Tensor) {
    return matmul(this, other);
  },
});
