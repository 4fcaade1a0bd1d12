// The math kernels (math.ts) against their float64 references: NaN, +-inf and +-0 inputs, odd
// sizes and multiples of 4 (the scalar and vec4 map kernels), broadcasting (strided and vec4).

import { beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, Tensor } from '@wgtorch/tensor';
import * as E from './index.js';
import type { F64 } from '../common/f64.js';
import { pair, pairOf, type Pair } from './test-util.js';
import { assertCloseSpecial } from './nan-util.js';

beforeAll(async () => {
  await getRuntime();
});

// Special values and values near each function's kinks and branch points (erf's at |x| = 0.5).
const SPECIAL = [
  NaN,
  -Infinity,
  Infinity,
  -0,
  0,
  -1,
  1,
  0.5,
  -0.5,
  0.49,
  0.51,
  1e-4,
  -1e-4,
  2,
  -2,
  3.7,
  -3.7,
  5,
  -7,
  25,
  -25,
  1e-30,
  -30,
  30,
  90,
  -90,
];
const TOL = { atol: 2e-6, rtol: 2e-4 };

async function expectSpecial(t: Tensor, r: F64, label: string, tol = TOL): Promise<void> {
  expect(t.shape).toEqual(r.shape);
  assertCloseSpecial(await t.toArray(), r.data, label, tol);
}

/** Inputs: the special values at a multiple of 4 and at an odd size, and seeded data at awkward shapes. */
function inputs(): [string, () => Pair][] {
  return [
    ['special (vec4)', () => pairOf(SPECIAL.slice(0, 24), [4, 6])],
    ['special (odd)', () => pairOf(SPECIAL.slice(0, 25), [25])],
    ['[7, 5]', () => pair([7, 5], 31, 3)],
    ['[3, 16, 9, 9]', () => pair([3, 16, 9, 9], 32, 2)],
    ['[1031]', () => pair([1031], 33, 4)],
  ];
}

const UNARY = ['abs', 'reciprocal', 'erf', 'gelu', 'geluTanh', 'silu'] as const;

describe('unary functions and their gradients', () => {
  for (const [name, make] of inputs()) {
    it(name, async () => {
      const x = make();
      const dy = pair(x.r.shape, 40, 1);
      for (const op of UNARY) {
        await expectSpecial(E.unary(op, x.t), E.unaryRef(op, x.r), op);
        await expectSpecial(E.unaryBackward(op, dy.t, x.t), E.unaryBackwardRef(op, dy.r, x.r), `${op} backward`);
      }
      for (const s of [0.01, 0.2, -1.5]) {
        await expectSpecial(E.leakyRelu(x.t, s), E.leakyReluRef(x.r, s), `leakyRelu ${s}`);
        await expectSpecial(E.leakyReluBackward(dy.t, x.t, s), E.leakyReluBackwardRef(dy.r, x.r, s), `leakyRelu' ${s}`);
      }
      for (const [beta, th] of [
        [1, 20],
        [2, 5],
        [0.5, Infinity],
        [-1, 20],
      ]) {
        await expectSpecial(E.softplus(x.t, beta, th), E.softplusRef(x.r, beta, th), `softplus ${beta} ${th}`);
        await expectSpecial(
          E.softplusBackward(dy.t, x.t, beta, th),
          E.softplusBackwardRef(dy.r, x.r, beta, th),
          `softplus' ${beta} ${th}`,
        );
      }
      for (const [lo, hi] of [
        [-1, 1],
        [0.5, Infinity],
        [-Infinity, -0.5],
        [2, 1],
      ]) {
        await expectSpecial(E.clamp(x.t, lo, hi), E.clampRef(x.r, lo, hi), `clamp ${lo} ${hi}`);
        await expectSpecial(
          E.clampBackward(dy.t, x.t, lo, hi),
          E.clampBackwardRef(dy.r, x.r, lo, hi),
          `clamp' ${lo} ${hi}`,
        );
      }
      for (const e of [2, 3, 0.5, -0.5, -1, -2, 0, 1, 2.5, -1.5, 4, -3, 1 / 3]) {
        await expectSpecial(E.powScalar(x.t, e), E.powScalarRef(x.r, e), `pow ${e}`);
        await expectSpecial(E.powScalarBackward(dy.t, x.t, e), E.powScalarBackwardRef(dy.r, x.r, e), `pow' ${e}`);
      }
    });
  }
});

describe('maximum, minimum and pow of two tensors, broadcasting', () => {
  const specialPair = (shape: number[], offset: number): Pair => {
    const n = shape.reduce((a, d) => a * d, 1);
    return pairOf(
      Array.from({ length: n }, (_, i) => SPECIAL[(i * 7 + offset) % SPECIAL.length]),
      shape,
    );
  };
  const cases: [number[], number[]][] = [
    [[5], [5]],
    [
      [4, 6],
      [4, 6],
    ],
    [
      [3, 1, 5],
      [4, 1],
    ],
    [
      [2, 3, 4],
      [1, 1, 4],
    ],
    [[7, 3], [1]],
  ];
  for (const [sa, sb] of cases) {
    it(`[${sa}] and [${sb}]`, async () => {
      const outShape = E.broadcastShapes(sa, sb)!;
      for (const [a, b] of [
        [specialPair(sa, 0), specialPair(sb, 3)],
        [pair(sa, 51, 2), pair(sb, 52, 2)],
      ]) {
        const dy = pair(outShape, 53);
        await expectSpecial(E.maximum(a.t, b.t), E.maximumRef(a.r, b.r), 'maximum');
        await expectSpecial(E.minimum(a.t, b.t), E.minimumRef(a.r, b.r), 'minimum');
        await expectSpecial(E.pow(a.t, b.t), E.powRef(a.r, b.r), 'pow');
        for (const [name, f, r] of [
          ['maximumBackward', E.maximumBackward, E.maximumBackwardRef],
          ['minimumBackward', E.minimumBackward, E.minimumBackwardRef],
          ['powBackward', E.powBackward, E.powBackwardRef],
        ] as const) {
          const g = f(dy.t, a.t, b.t);
          const e = r(dy.r, a.r, b.r);
          await expectSpecial(g.da, e.da, `${name} da`);
          await expectSpecial(g.db, e.db, `${name} db`);
        }
      }
    });
  }
  it('pow of integer exponents keeps the sign of negative bases; ties split maximum gradients', async () => {
    const a = pairOf([-2, -2, -0, -0, -1, -1, 2, 0, -3, NaN, 1, -8], [12]);
    const b = pairOf([3, 2, -1, 2, Infinity, -Infinity, 0.5, -2, 0.5, 0, NaN, 1 / 3], [12]);
    const expected = [-8, 4, -Infinity, 0, 1, 1, Math.SQRT2, Infinity, NaN, 1, 1, NaN];
    assertCloseSpecial(await E.pow(a.t, b.t).toArray(), expected, 'pow', TOL);
    const m = E.maximumBackward(
      Tensor.fromArray(Float32Array.of(1, 1)),
      Tensor.fromArray(Float32Array.of(2, 1)),
      Tensor.fromArray(Float32Array.of(2, 3)),
    );
    expect(Array.from(await m.da.toArray())).toEqual([0.5, 0]);
    expect(Array.from(await m.db.toArray())).toEqual([0.5, 1]);
  });
});

describe('bad arguments', () => {
  it('name the kernel, the shapes and the fix', () => {
    const a = Tensor.zeros([2, 3]);
    expect(() => E.maximum(a, Tensor.zeros([4, 3]))).toThrow(/maximum: shapes \[2, 3\] and \[4, 3\] do not broadcast/);
    expect(() => E.powBackward(Tensor.zeros([2, 3]), a, Tensor.zeros([5]))).toThrow(
      /powBackward.a: .*do not broadcast/,
    );
    expect(() => E.leakyReluBackward(a, Tensor.zeros([3]), 0.1)).toThrow(/leakyReluBackward: dy \[2, 3\] and x \[3\]/);
    expect(() => E.softplus(a, 0, 20)).toThrow(/softplus: beta must not be 0/);
    expect(() => E.clamp(Tensor.zeros([2], 'i32'), 0, 1)).toThrow(/clamp: x must be f32/);
  });
});
