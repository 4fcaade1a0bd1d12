// relu keeps NaN as PyTorch does (WGSL's max(NaN, 0) is 0 on lavapipe), and its backward is
// PyTorch's threshold_backward(dy, y, 0): 0 where y <= 0, so a NaN y passes dy through.
// Both the vec4 path (sizes that are multiples of 4) and the scalar one.

import { beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, Tensor } from '@wgtorch/tensor';
import * as E from './index.js';
import { f64Of } from './test-util.js';
import { expectSameWithNaN } from './nan-util.js';

beforeAll(async () => {
  await getRuntime();
});

const X = [NaN, -1, 0, 2.5, Infinity, -Infinity, NaN, 3];
const Y = [1, NaN, -2, 0.5, NaN, 4, -1, 2];

describe('relu and NaN', () => {
  for (const n of [8, 7]) {
    const xr = f64Of(X.slice(0, n), [n]);
    const yr = f64Of(Y.slice(0, n), [n]);
    const x = () => Tensor.fromArray(Float32Array.from(xr.data));
    const y = () => Tensor.fromArray(Float32Array.from(yr.data));

    it(`relu(NaN) is NaN (${n} elements)`, async () => {
      expect(Array.from(E.reluRef(xr).data).map(String)).toEqual(
        ['NaN', '0', '0', '2.5', 'Infinity', '0', 'NaN', '3'].slice(0, n),
      );
      await expectSameWithNaN(E.relu(x()), E.reluRef(xr), 'relu');
    });

    it(`addRelu keeps NaN (${n} elements)`, async () => {
      await expectSameWithNaN(E.addRelu(x(), y()), E.addReluRef(xr, yr), 'addRelu');
      expect(Number.isNaN(E.addReluRef(xr, yr).data[1])).toBe(true); // -1 + NaN
    });

    it(`reluBackward passes dy where y is NaN, 0 where y <= 0 (${n} elements)`, async () => {
      // dy = Y, relu output = relu(X)
      const ry = E.relu(x());
      const ref = E.reluBackwardRef(yr, E.reluRef(xr));
      expect(Array.from(ref.data).map(String)).toEqual(['1', '0', '0', '0.5', 'NaN', '0', '-1', '2'].slice(0, n));
      await expectSameWithNaN(E.reluBackward(y(), ry), ref, 'reluBackward');
    });
  }
});
