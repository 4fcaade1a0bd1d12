// Benchmark cases at ResNet20's BatchNorm shapes (batch 128). Bytes are the kernels' traffic:
// forward reads x for the statistics, then reads x and writes y; backward reads dy and x for
// the sums, then reads them again and writes dx. Behind a ReLU it reads dy, (dy2,) y and x for
// the sums and writes the masked gradient (into dx, or dresidual at a block's end), then reads
// that and x again and writes dx. dy2 is the second half of an upstream gradient in two parts.

import { Tensor, sizeOf } from '@wgtorch/tensor';
import {
  registerKernel,
  batchNormAddReluBackward,
  batchNormBackward,
  batchNormEval,
  batchNormEvalRelu,
  batchNormReluBackward,
  batchNormTrain,
  batchNormTrainAddRelu,
  batchNormTrainRelu,
  type BenchCase,
} from '@wgtorch/kernels-wgsl';
import { RESNET20_ACTIVATIONS } from './elementwise.js';

type Kind =
  | 'forward'
  | 'forwardRelu'
  | 'eval'
  | 'evalRelu'
  | 'backward'
  | 'backwardRelu'
  | 'backwardReluDy2'
  | 'backwardAddReluDy2';
const BYTES_PER_ELEMENT: Record<Kind, number> = {
  forward: 12,
  forwardRelu: 12,
  eval: 8,
  evalRelu: 8,
  backward: 20,
  backwardRelu: 28,
  backwardReluDy2: 32,
  backwardAddReluDy2: 32,
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
          const dy2 = Tensor.randn(shape, { seed: 3 });
          const fwd =
            kind === 'backwardAddReluDy2'
              ? batchNormTrainAddRelu(x, dy2, gamma, beta, rm, rv)
              : batchNormTrainRelu(x, gamma, beta, rm, rv);
          const run = (): void => {
            if (kind === 'forward' || kind === 'forwardRelu') {
              const r = (kind === 'forward' ? batchNormTrain : batchNormTrainRelu)(x, gamma, beta, rm, rv);
              r.y.dispose();
              r.saveMean.dispose();
              r.saveInvStd.dispose();
            } else if (kind === 'eval' || kind === 'evalRelu') {
              (kind === 'eval' ? batchNormEval : batchNormEvalRelu)(x, gamma, beta, rm, rv).dispose();
            } else {
              const { saveMean, saveInvStd } = fwd;
              const g =
                kind === 'backward'
                  ? batchNormBackward(dy, x, gamma, saveMean, saveInvStd)
                  : kind === 'backwardAddReluDy2'
                    ? batchNormAddReluBackward(dy, fwd.y, x, gamma, saveMean, saveInvStd, dy2)
                    : batchNormReluBackward(
                        dy,
                        fwd.y,
                        x,
                        gamma,
                        beta,
                        saveMean,
                        saveInvStd,
                        kind === 'backwardReluDy2' ? dy2 : undefined,
                      );
              if ('dresidual' in g) (g.dresidual as Tensor).dispose();
              g.dx.dispose();
              g.dgamma.dispose();
              g.dbeta.dispose();
            }
          };
          return {
            run,
            dispose: () =>
              [x, dy, dy2, gamma, beta, rm, rv, fwd.y, fwd.saveMean, fwd.saveInvStd].forEach((t) => t.dispose()),
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
registerKernel({ name: 'batchnorm.backwardReluDy2', benchCases: cases('backwardReluDy2') });
registerKernel({ name: 'batchnorm.backwardAddReluDy2', benchCases: cases('backwardAddReluDy2') });
