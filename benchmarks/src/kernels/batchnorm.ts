// Benchmark cases at ResNet20's BatchNorm shapes (batch 128). Bytes are the minimum traffic:
// forward reads x for the statistics, then reads x and writes y; backward reads dy and x for
// the sums, then reads them again and writes dx.

import { Tensor, sizeOf } from '@wgtorch/tensor';
import {
  registerKernel,
  batchNormBackward,
  batchNormEval,
  batchNormEvalRelu,
  batchNormReluBackward,
  batchNormTrain,
  batchNormTrainRelu,
  type BenchCase,
} from '@wgtorch/kernels-wgsl';
import { RESNET20_ACTIVATIONS } from './elementwise.js';

type Kind = 'forward' | 'forwardRelu' | 'eval' | 'evalRelu' | 'backward' | 'backwardRelu';
const BYTES_PER_ELEMENT: Record<Kind, number> = {
  forward: 12,
  forwardRelu: 12,
  eval: 8,
  evalRelu: 8,
  backward: 20,
  backwardRelu: 28,
};

function cases(kind: Kind): () => BenchCase[] {
  return () =>
    RESNET20_ACTIVATIONS.map((shape) => {
      const n = sizeOf(shape);
      const C = shape[1];
      return {
        shape: `N${shape[0]} C${C} ${shape[2]}x${shape[3]}`,
        flops: 0,
        bytes: n * BYTES_PER_ELEMENT[kind],
        setup() {
          const x = Tensor.randn(shape, { seed: 1 });
          const dy = Tensor.randn(shape, { seed: 2 });
          const gamma = Tensor.ones([C]);
          const beta = Tensor.zeros([C]);
          const rm = Tensor.zeros([C]);
          const rv = Tensor.ones([C]);
          const fwd = batchNormTrainRelu(x, gamma, beta, rm, rv);
          const run = (): void => {
            if (kind === 'forward' || kind === 'forwardRelu') {
              const r = (kind === 'forward' ? batchNormTrain : batchNormTrainRelu)(x, gamma, beta, rm, rv);
              r.y.dispose();
              r.saveMean.dispose();
              r.saveInvStd.dispose();
            } else if (kind === 'eval' || kind === 'evalRelu') {
              (kind === 'eval' ? batchNormEval : batchNormEvalRelu)(x, gamma, beta, rm, rv).dispose();
            } else {
              const g =
                kind === 'backward'
                  ? batchNormBackward(dy, x, gamma, fwd.saveMean, fwd.saveInvStd)
                  : batchNormReluBackward(dy, fwd.y, x, gamma, beta, fwd.saveMean, fwd.saveInvStd);
              g.dx.dispose();
              g.dgamma.dispose();
              g.dbeta.dispose();
            }
          };
          return {
            run,
            dispose: () =>
              [x, dy, gamma, beta, rm, rv, fwd.y, fwd.saveMean, fwd.saveInvStd].forEach((t) => t.dispose()),
          };
        },
      };
    });
}

registerKernel({ name: 'batchnorm.forward', benchCases: cases('forward') });
registerKernel({ name: 'batchnorm.forwardRelu', benchCases: cases('forwardRelu') });
registerKernel({ name: 'batchnorm.eval', benchCases: cases('eval') });
registerKernel({ name: 'batchnorm.evalRelu', benchCases: cases('evalRelu') });
registerKernel({ name: 'batchnorm.backward', benchCases: cases('backward') });
registerKernel({ name: 'batchnorm.backwardRelu', benchCases: cases('backwardRelu') });
