// Losses.

import { Tensor as DeviceTensor, formatShape } from '@wgtorch/tensor';
import { classLabels } from '@wgtorch/kernels-wgsl';
import { apply, defineOp, Tensor } from '../tensor.js';
import { andThen } from './common.js';

const crossEntropyOp = defineOp<{ labels: Int32Array | DeviceTensor; labelSmoothing: number }>({
  name: 'crossEntropy',
  forward: (b, [logits], { labels, labelSmoothing }, record) => {
    const raw = b.labels(labels);
    const { loss, dlogits } = b.k.softmaxCrossEntropy(logits, raw, { labelSmoothing });
    if (raw !== labels && raw instanceof DeviceTensor) raw.dispose();
    if (!record) {
      b.release(dlogits);
      return { y: loss };
    }
    return { y: loss, saved: [dlogits] };
  },
  backward: (b, dy, { saved: [dlogits], dyIsOne }) => {
    if (dyIsOne) return [b.retain(dlogits)];
    return [andThen(b, b.view(dy, [1, 1]), (d) => b.k.mul(dlogits, d))];
  },
});

/** Options of crossEntropy. */
export interface CrossEntropyOptions {
  /** PyTorch's label_smoothing in [0, 1) (default 0). */
  labelSmoothing?: number;
}

/**
 * Mean softmax cross-entropy of logits [N, classes] against class labels [N]. Returns a
 * one-element tensor [1]. Labels from the CPU (an array, Int32Array or Float32Array) are
 * checked here: each must be an integer in [0, classes), else the error names the label and
 * its index. An i32 device tensor (gpu backend) is not checked, since that would need a
 * readback every step: a label out of range there gives a NaN loss.
 */
export function crossEntropy(
  logits: Tensor,
  labels: DeviceTensor | ArrayLike<number>,
  options: CrossEntropyOptions = {},
): Tensor {
  if (logits.ndim !== 2)
    throw new Error(`crossEntropy: logits must be [N, classes], got ${formatShape(logits.shape)}.`);
  const l = labels instanceof DeviceTensor ? labels : classLabels('crossEntropy', labels, logits.shape[1]);
  const n = l instanceof DeviceTensor ? l.size : l.length;
  if (n !== logits.shape[0])
    throw new Error(`crossEntropy: ${n} labels for logits ${formatShape(logits.shape)}; need one per row.`);
  return apply(crossEntropyOp, [logits], { labels: l, labelSmoothing: options.labelSmoothing ?? 0 });
}
