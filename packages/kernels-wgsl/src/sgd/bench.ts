// Benchmark case: one SGD step over ResNet20's 65 parameter tensors (272,474 values).

import { Tensor } from '@wgtorch/tensor';
import { registerKernel } from '../common/registry.js';
import { sgdStep } from './sgd.js';

/** ResNet20's parameter shapes (1x1-conv projection shortcuts), in state_dict order. */
export function resnet20ParamShapes(): number[][] {
  const s: number[][] = [[16, 3, 3, 3], [16], [16]];
  let cin = 16;
  for (const c of [16, 32, 64]) {
    for (let b = 0; b < 3; b++) {
      s.push([c, b === 0 ? cin : c, 3, 3], [c], [c], [c, c, 3, 3], [c], [c]);
      if (b === 0 && cin !== c) s.push([c, cin, 1, 1], [c], [c]);
    }
    cin = c;
  }
  s.push([10, 64], [10]);
  return s;
}

registerKernel({
  name: 'sgd.step',
  benchCases: () => {
    const shapes = resnet20ParamShapes();
    const n = shapes.reduce((a, sh) => a + sh.reduce((x, d) => x * d, 1), 0);
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
