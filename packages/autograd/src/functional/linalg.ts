// Matrix products.

import { formatShape } from '@wgtorch/tensor';
import { apply, defineOp, Tensor } from '../tensor.js';
import { addTensorMethods, andThen } from './common.js';

interface MatmulAttrs {
  transA: boolean;
  transB: boolean;
}

const matmulOp = defineOp<MatmulAttrs>({
  name: 'matmul',
  forward: (b, [x, y], o, record) => ({ y: b.k.matmul(x, y, o), saved: record ? [b.retain(x), b.retain(y)] : [] }),
  backward: (b, dy, { saved: [a, w], attrs: { transA, transB }, needs }) => [
    // C = op(A) op(B): dA = dC op(B)^T (transposed back when A was), dB likewise.
    needs[0]
      ? transA
        ? b.k.matmul(w, dy, { transA: transB, transB: true })
        : b.k.matmul(dy, w, { transB: !transB })
      : null,
    needs[1]
      ? transB
        ? b.k.matmul(dy, a, { transA: true, transB: transA })
        : b.k.matmul(a, dy, { transA: !transA })
      : null,
  ],
});

/** Matrix product of 2-D tensors, or batched over the first dim of 3-D ones; transA/transB use a transposed operand. */
export function matmul(a: Tensor, b: Tensor, options: { transA?: boolean; transB?: boolean } = {}): Tensor {
  return apply(matmulOp, [a, b], { transA: options.transA ?? false, transB: options.transB ?? false });
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
    /** Matrix product (2-D, or batched 3-D). */
    matmul(other: Tensor): Tensor;
  }
}

addTensorMethods({
  matmul(this: Tensor, other: Tensor) {
    return matmul(this, other);
  },
});
