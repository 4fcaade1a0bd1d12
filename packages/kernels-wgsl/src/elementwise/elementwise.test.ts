import { beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, Tensor } from '@wgtorch/tensor';
import * as E from './index.js';
import { expectClose, pair } from './test-util.js';

beforeAll(async () => {
  await getRuntime();
});

const SHAPES = [
  [1],
  [3],
  [7, 5],
  [4, 16],
  [1, 3, 5, 5],
  [3, 16, 9, 9],
  [128, 16, 32, 32].map((d, i) => (i === 0 ? 2 : d)),
  [1031],
];

describe('unary and same-shape', () => {
  for (const shape of SHAPES) {
    it(`relu, reluBackward, addRelu, scale, addScalar, axpy, copy on [${shape}]`, async () => {
      const x = pair(shape, 1);
      const y = pair(shape, 2);
      await expectClose(E.relu(x.t), E.reluRef(x.r), {}, 'relu');
      const r = E.relu(x.t);
      await expectClose(E.reluBackward(y.t, r), E.reluBackwardRef(y.r, E.reluRef(x.r)), {}, 'reluBackward');
      await expectClose(E.addRelu(x.t, y.t), E.addReluRef(x.r, y.r), {}, 'addRelu');
      await expectClose(E.scale(x.t, -2.5), E.scaleRef(x.r, -2.5), {}, 'scale');
      await expectClose(E.addScalar(x.t, 0.75), E.addScalarRef(x.r, 0.75), {}, 'addScalar');
      await expectClose(E.axpy(0.3, x.t, y.t), E.axpyRef(0.3, x.r, y.r), {}, 'axpy');
      await expectClose(E.copy(x.t), E.copyRef(x.r), {}, 'copy');
      await expectClose(E.fill(shape, 1.5), E.fillRef(shape, 1.5), {}, 'fill');
    });
  }

  it('unary ops', async () => {
    for (const shape of [[5], [4, 8], [3, 7, 3]]) {
      const x = pair(shape, 3, 2);
      const pos = pair(shape, 4, 0.3, 2);
      for (const op of ['exp', 'neg', 'abs', 'square', 'sigmoid', 'tanh'] as const) {
        await expectClose(E.unary(op, x.t), E.unaryRef(op, x.r), { atol: 1e-5, rtol: 1e-5 }, op);
      }
      for (const op of ['log', 'sqrt', 'rsqrt', 'reciprocal'] as const) {
        await expectClose(E.unary(op, pos.t), E.unaryRef(op, pos.r), { atol: 1e-5, rtol: 1e-5 }, op);
      }
    }
    const big = pair([8], 5, 100);
    await expectClose(E.unary('tanh', big.t), E.unaryRef('tanh', big.r), { atol: 1e-6 }, 'tanh large');
    await expectClose(E.unary('sigmoid', big.t), E.unaryRef('sigmoid', big.r), { atol: 1e-6 }, 'sigmoid large');
  });
});

describe('broadcasting binary ops', () => {
  const cases: [number[], number[]][] = [
    [
      [4, 5],
      [4, 5],
    ],
    [[4, 5], [5]],
    [
      [4, 5],
      [4, 1],
    ],
    [
      [3, 1, 5],
      [1, 4, 1],
    ],
    [
      [2, 3, 4, 5],
      [3, 1, 1],
    ],
    [[1], [7, 3]],
    [
      [2, 1, 3, 1, 2, 3],
      [2, 1, 1, 2, 1],
    ],
    [[128, 10], [10]],
    // Innermost dimension a multiple of 4 (the vec4 broadcast kernel): per-channel, per-row,
    // per-column and a partial last workgroup.
    [
      [2, 6, 4, 4],
      [1, 6, 1, 1],
    ],
    [
      [3, 4, 8],
      [1, 1, 8],
    ],
    [
      [5, 4],
      [5, 1],
    ],
    [
      [1, 2, 3, 4, 4],
      [2, 1, 4, 1],
    ],
  ];
  for (const [sa, sb] of cases) {
    it(`[${sa}] op [${sb}]`, async () => {
      const a = pair(sa, 11);
      const b = pair(sb, 12, 1, 3);
      await expectClose(E.add(a.t, b.t), E.addRef(a.r, b.r), {}, 'add');
      await expectClose(E.sub(a.t, b.t), E.subRef(a.r, b.r), {}, 'sub');
      await expectClose(E.mul(a.t, b.t), E.mulRef(a.r, b.r), {}, 'mul');
      await expectClose(E.div(a.t, b.t), E.divRef(a.r, b.r), {}, 'div');
      await expectClose(E.add(b.t, a.t), E.addRef(b.r, a.r), {}, 'add swapped');
    });
  }
});

describe('permute', () => {
  it('transpose2d and general permutes', async () => {
    const x = pair([7, 13], 21);
    await expectClose(E.transpose2d(x.t), E.transpose2dRef(x.r), {}, 'transpose2d');
    const y = pair([2, 3, 4, 5], 22);
    for (const dims of [
      [0, 1, 2, 3],
      [3, 2, 1, 0],
      [0, 2, 3, 1],
      [1, 0, 3, 2],
    ]) {
      await expectClose(E.permute(y.t, dims), E.permuteRef(y.r, dims), {}, `permute ${dims}`);
    }
    // The innermost dimension kept and 8 long: the vec4 kernel.
    const v = pair([2, 3, 4, 8], 24);
    await expectClose(
      E.permute(v.t, [1, 0, 2, 3]),
      E.permuteRef(v.r, [1, 0, 2, 3]),
      {},
      'permute keeping the innermost dimension',
    );
    const z = pair([2, 1, 3, 2, 1, 3], 23);
    await expectClose(E.permute(z.t, [5, 4, 3, 2, 1, 0]), E.permuteRef(z.r, [5, 4, 3, 2, 1, 0]), {}, 'rank 6');
  });
});

describe('bad arguments', () => {
  it('name the kernel, the shapes and the fix', () => {
    const a = Tensor.zeros([2, 3]);
    const b = Tensor.zeros([4, 3]);
    const i = Tensor.zeros([2, 3], 'i32');
    expect(() => E.add(a, b)).toThrow(/add: shapes \[2, 3\] and \[4, 3\] do not broadcast/);
    expect(() => E.addRelu(a, b)).toThrow(/addRelu: .*\[2, 3\].*\[4, 3\].*same shape/);
    expect(() => E.relu(i)).toThrow(/relu: x must be f32, got i32/);
    expect(() => E.permute(a, [0, 0])).toThrow(/permute: dims \[0, 0\] is not a permutation/);
    expect(() => E.transpose2d(Tensor.zeros([2]))).toThrow(/transpose2d/);
  });
});
