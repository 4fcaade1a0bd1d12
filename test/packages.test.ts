// Cross-package checks: each package's public entry loads and exposes what the others and
// users rely on; the Node-only helpers (files by path, test fixtures) are in their own `./node`
// and `./testing` entries and not in the portable ones, which run in browsers too.
// (The kernel benchmark registry is checked by benchmarks/src/kernels/registry.test.ts.)
import { describe, expect, it } from 'vitest';
import * as tensor from '@wgtorch/tensor';
import * as tensorNode from '@wgtorch/tensor/node';
import * as kernels from '@wgtorch/kernels-wgsl';
import * as kernelsTesting from '@wgtorch/kernels-wgsl/testing';
import * as autograd from '@wgtorch/autograd';
import * as autogradNode from '@wgtorch/autograd/node';
import * as resnet20 from '@wgtorch/resnet20';

describe('package entries', () => {
  it('export their public API', () => {
    for (const k of ['getRuntime', 'Tensor', 'SubmitPacer', 'parseSafetensors', 'serializeSafetensors', 'Rng'])
      expect(tensor, k).toHaveProperty(k);
    for (const k of [
      'conv2dForward',
      'conv2dInputGrad',
      'conv2dWeightGrad',
      'batchNormTrain',
      'batchNormBackward',
      'relu',
      'add',
      'avgPool2d',
      'globalAvgPool',
      'matmul',
      'softmaxCrossEntropy',
      'sgdStep',
      'augmentBatch',
    ]) {
      expect(kernels, k).toHaveProperty(k);
      expect(kernels, `${k}Ref`).toHaveProperty(`${k}Ref`);
    }
    expect(kernels).toHaveProperty('listKernels');
    for (const k of [
      'Tensor',
      'tidy',
      'noGrad',
      'Module',
      'Conv2d',
      'BatchNorm2d',
      'Linear',
      'Sequential',
      'SGD',
      'OneCycleLR',
      'gradcheck',
      'crossEntropy',
    ])
      expect(autograd, k).toHaveProperty(k);
    for (const k of ['saveBytes', 'loadBytes', 'loadUrl', 'loadSafetensors'])
      expect(autograd.Module.prototype, k).toHaveProperty(k);
    for (const k of ['ResNet20', 'trainStep', 'loadCifar10', 'runGolden', 'trainMain'])
      expect(resnet20, k).toHaveProperty(k);
  });

  it('keep the Node-only helpers in the ./node and ./testing entries', () => {
    const fileHelpers = ['readSafetensors', 'writeSafetensors', 'writeFileAtomic', 'FileWriteError'];
    for (const k of fileHelpers) expect(tensorNode, k).toHaveProperty(k);
    for (const k of ['save', 'load']) expect(autogradNode, k).toHaveProperty(k);
    const fixtureHelpers = ['fixturesDir', 'loadFixture', 'compare', 'assertClose', 'randomArray'];
    for (const k of fixtureHelpers) expect(kernelsTesting, k).toHaveProperty(k);
    for (const k of fileHelpers) expect(Object.keys(tensor), `@wgtorch/tensor exports ${k}`).not.toContain(k);
    for (const k of fixtureHelpers) expect(Object.keys(kernels), `@wgtorch/kernels-wgsl exports ${k}`).not.toContain(k);
    for (const k of ['save', 'load']) expect(Object.keys(autograd), `@wgtorch/autograd exports ${k}`).not.toContain(k);
    expect(autograd.Module.prototype).not.toHaveProperty('save');
    expect(autograd.Module.prototype).not.toHaveProperty('load');
  });
});
