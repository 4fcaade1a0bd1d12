// Cross-package checks: each package's public entry loads and exposes what the others and
// users rely on, and the kernel registry lists every kernel family with benchmark cases
// (so `pnpm bench` covers them without a hand-kept list).
import { describe, expect, it } from 'vitest';
import * as tensor from '@wgtorch/tensor';
import * as kernels from '@wgtorch/kernels-wgsl';
import * as autograd from '@wgtorch/autograd';
import * as resnet20 from '@wgtorch/resnet20';

describe('package entries', () => {
  it('export their public API', () => {
    for (const k of ['getRuntime', 'Tensor', 'SubmitPacer', 'readSafetensors', 'writeSafetensors', 'Rng']) expect(tensor, k).toHaveProperty(k);
    for (const k of ['conv2dForward', 'conv2dInputGrad', 'conv2dWeightGrad', 'batchNormTrain', 'batchNormBackward', 'relu', 'add', 'avgPool2d', 'globalAvgPool', 'matmul', 'softmaxCrossEntropy', 'sgdStep', 'augmentBatch', 'listKernels']) {
      expect(kernels, k).toHaveProperty(k);
      if (!['listKernels'].includes(k)) expect(kernels, `${k}Ref`).toHaveProperty(`${k}Ref`);
    }
    for (const k of ['Tensor', 'tidy', 'noGrad', 'Module', 'Conv2d', 'BatchNorm2d', 'Linear', 'Sequential', 'SGD', 'OneCycleLR', 'gradcheck', 'crossEntropy']) expect(autograd, k).toHaveProperty(k);
    for (const k of ['ResNet20', 'trainStep', 'loadCifar10', 'runGolden', 'trainMain']) expect(resnet20, k).toHaveProperty(k);
  });

  it('the kernel registry covers every family with ResNet20 benchmark cases', () => {
    const names = kernels.listKernels().map((e) => e.name);
    for (const family of ['conv2d.forward', 'conv2d.inputGrad', 'conv2d.weightGrad', 'batchnorm', 'elementwise.relu', 'elementwise.add', 'pool', 'matmul', 'loss', 'sgd', 'augment']) {
      expect(names.some((n) => n.startsWith(family)), `${family} in [${names.join(', ')}]`).toBe(true);
    }
    for (const e of kernels.listKernels()) expect(e.benchCases?.().length ?? 0, e.name).toBeGreaterThan(0);
  });
});
