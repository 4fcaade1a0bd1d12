// Benchmark cases: the classifier head of ResNet20 at batch 128 (tiny; latency-bound).

import { Tensor } from '@wgtorch/tensor';
import { registerKernel, accuracyCount, softmaxCrossEntropy } from '@wgtorch/kernels-wgsl';

function head(run: (logits: Tensor, labels: Tensor, acc: Tensor) => void) {
  return () => [
    {
      shape: 'N128 C10',
      flops: 0,
      bytes: 128 * 10 * 8 + 128 * 4,
      setup() {
        const logits = Tensor.randn([128, 10], { seed: 1 });
        const labels = Tensor.fromArray(
          Int32Array.from({ length: 128 }, (_, i) => i % 10),
          [128],
        );
        const acc = Tensor.zeros([1]);
        return {
          run: () => run(logits, labels, acc),
          dispose: () => [logits, labels, acc].forEach((t) => t.dispose()),
        };
      },
    },
  ];
}

registerKernel({
  name: 'loss.softmaxCrossEntropy',
  benchCases: head((l, y) => {
    const r = softmaxCrossEntropy(l, y);
    r.loss.dispose();
    r.dlogits.dispose();
  }),
});
registerKernel({ name: 'loss.accuracyCount', benchCases: head((l, y, acc) => void accuracyCount(l, y, acc)) });
