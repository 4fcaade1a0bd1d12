// Benchmark case: one SGD step over ResNet20's 65 parameter tensors (272,474 values).

import { Tensor, sizeOf } from '@wgtorch/tensor';
import { registerKernel, resnet20ParamShapes, sgdStep } from '@wgtorch/kernels-wgsl';

registerKernel({
  name: 'sgd.step',
  benchCases: () => {
    const shapes = resnet20ParamShapes();
    const n = shapes.reduce((a, sh) => a + sizeOf(sh), 0);
    return [
      {
        shape: `ResNet20 ${shapes.length} tensors, ${n} values`,
        flops: 0,
        bytes: n * 20,
        setup() {
          const ps = shapes.map((sh, i) => Tensor.randn(sh, { seed: i }));
          const gs = shapes.map((sh, i) => Tensor.randn(sh, { seed: 100 + i }));
          const ms = shapes.map((sh) => Tensor.zeros(sh));
          return {
            run: () => sgdStep(ps, gs, ms, { lr: 0.1, momentum: 0.9, weightDecay: 5e-4, firstStep: false }),
            dispose: () => [...ps, ...gs, ...ms].forEach((t) => t.dispose()),
          };
        },
      },
    ];
  },
});
