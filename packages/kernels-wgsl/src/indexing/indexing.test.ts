// The indexing family against its float64 references on awkward shapes: odd sizes, sizes not a
// multiple of the workgroup, rank 1 and rank 5, empty dims; index values repeated (the
// scatter-add sums them) and out of range (NaN); comparisons with NaN and infinities.

import { beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, Tensor, stridesOf } from '@wgtorch/tensor';
import * as K from './index.js';
import type { F64 } from '../common/f64.js';
import { expectClose, pair, pairOf } from '../elementwise/test-util.js';
import { expectSameWithNaN } from '../elementwise/nan-util.js';

beforeAll(async () => {
  await getRuntime();
});

const EXACT = { atol: 0, rtol: 0 };

/** An i32 index as a device tensor and as F64. */
function indexPair(values: number[], shape: number[]): { t: Tensor; r: F64 } {
  return {
    t: Tensor.fromArray(Int32Array.from(values), shape, 'i32'),
    r: { data: Float64Array.from(values), shape: [...shape] },
  };
}

/** Seeded integers in [0, n) for `shape`. */
function randomIndex(shape: number[], n: number, seed: number): number[] {
  let s = seed;
  const count = shape.reduce((a, d) => a * d, 1);
  return Array.from({ length: count }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s % n;
  });
}

describe('stridedGather and sliceBackward', () => {
  it('slices with steps and offsets at rank 1..5, merged and unmerged dims', async () => {
    const cases: [number[], number[], number[], number[]][] = [
      // x shape, starts, steps, counts
      [[1000], [3], [7], [140]],
      [
        [7, 9],
        [1, 0],
        [2, 1],
        [3, 9],
      ],
      [
        [5, 6, 7],
        [0, 2, 1],
        [1, 1, 3],
        [5, 3, 2],
      ],
      [
        [3, 4, 5, 6, 7],
        [1, 0, 2, 0, 6],
        [1, 2, 1, 1, 1],
        [2, 2, 3, 6, 1],
      ],
      [
        [2, 3, 4],
        [0, 0, 0],
        [1, 1, 1],
        [2, 3, 4],
      ],
      [
        [4, 0, 3],
        [1, 0, 0],
        [1, 1, 1],
        [2, 0, 3],
      ],
    ];
    for (const [shape, starts, steps, counts] of cases) {
      const x = pair(shape, 7);
      const st = stridesOf(shape);
      const strides = st.map((s, d) => s * steps[d]);
      const offset = starts.reduce((a, b, d) => a + b * st[d], 0);
      const label = `[${shape}] from [${starts}] step [${steps}]`;
      await expectClose(
        K.stridedGather(x.t, counts, strides, offset),
        K.stridedGatherRef(x.r, counts, strides, offset),
        EXACT,
        label,
      );
      const dy = pair(counts, 8);
      await expectClose(
        K.sliceBackward(dy.t, shape, starts, steps),
        K.sliceBackwardRef(dy.r, shape, starts, steps),
        EXACT,
        `${label} backward`,
      );
    }
  });
  it('expands with zero strides and transposes with swapped ones', async () => {
    const x = pair([3, 1, 5], 9);
    await expectClose(
      K.stridedGather(x.t, [2, 3, 4, 5], [0, 5, 0, 1], 0),
      K.stridedGatherRef(x.r, [2, 3, 4, 5], [0, 5, 0, 1], 0),
      EXACT,
    );
    await expectClose(K.stridedGather(x.t, [5, 3], [1, 5], 0), K.stridedGatherRef(x.r, [5, 3], [1, 5], 0), EXACT);
  });
  it('copies i32 bit for bit (the negatives whose bits are a float NaN too)', async () => {
    const values = [-1, -2, 2147483647, -2147483648, -8388607, 0, 7, -123456, 42];
    const x = Tensor.fromArray(Int32Array.from(values), [3, 3], 'i32');
    const t = K.stridedGather(x, [3, 2], [1, 3], 1);
    expect(t.dtype).toBe('i32');
    expect(Array.from(await t.toArray())).toEqual([-2, -8388607, 2147483647, 0, -2147483648, 7]);
    const c = K.cat([x, x], 1);
    expect(Array.from(await c.toArray())).toEqual(
      [0, 1, 2].flatMap((r) => [0, 1].flatMap(() => values.slice(3 * r, 3 * r + 3))),
    );
    expect(() => K.cat([x, pair([3, 3], 1).t], 0)).toThrow(/cat: dtypes i32, f32 differ/);
  });
  it('refuses reads past the end and slices that leave the shape', () => {
    const x = pair([4, 4], 1);
    expect(() => K.stridedGather(x.t, [4, 4], [4, 1], 1)).toThrow(/stridedGather: .*reads element 16, past the end/);
    const dy = pair([3], 1);
    expect(() => K.sliceBackward(dy.t, [5], [1], [2])).toThrow(/sliceBackward: .*dim 0 runs past the end/);
  });
});

describe('cat', () => {
  it('joins along every dim of rank-1, rank-3 and rank-5 tensors, empty pieces included', async () => {
    const cases: [number[][], number][] = [
      [[[5], [300], [1]], 0],
      [
        [
          [2, 3, 5],
          [2, 1, 5],
          [2, 0, 5],
        ],
        1,
      ],
      [
        [
          [2, 3, 5],
          [2, 3, 7],
        ],
        2,
      ],
      [
        [
          [4, 3, 5],
          [1, 3, 5],
        ],
        0,
      ],
      [
        [
          [2, 1, 3, 2, 3],
          [2, 1, 3, 5, 3],
        ],
        3,
      ],
    ];
    for (const [shapes, dim] of cases) {
      const xs = shapes.map((s, i) => pair(s, 20 + i));
      await expectClose(
        K.cat(
          xs.map((p) => p.t),
          dim,
        ),
        K.catRef(
          xs.map((p) => p.r),
          dim,
        ),
        EXACT,
        `cat ${JSON.stringify(shapes)} dim ${dim}`,
      );
    }
  });
  it('names mismatched shapes', () => {
    expect(() => K.cat([pair([2, 3], 1).t, pair([3, 3], 2).t], 1)).toThrow(/cat: shapes \[2, 3\], \[3, 3\] must match/);
  });
});

describe('gather and indexSelect', () => {
  it('gather along each dim with a smaller index, repeated indices summed in backward', async () => {
    const x = pair([4, 5, 3], 30);
    for (const [dim, ishape] of [
      [0, [6, 5, 3]],
      [1, [3, 7, 2]],
      [2, [4, 5, 9]],
    ] as [number, number[]][]) {
      const idx = indexPair(randomIndex(ishape, x.t.shape[dim], dim + 1), ishape);
      await expectClose(K.gather(x.t, dim, idx.t), K.gatherRef(x.r, dim, idx.r), EXACT, `gather dim ${dim}`);
      const dy = pair(ishape, 31);
      await expectClose(
        K.gatherBackward(dy.t, idx.t, dim, x.t.shape),
        K.gatherBackwardRef(dy.r, idx.r, dim, x.r.shape),
        { atol: 1e-6, rtol: 1e-6 },
        `gatherBackward dim ${dim}`,
      );
    }
  });
  it('indexSelect at rank 1 and rank 5 (more than a workgroup), repeats and an empty index', async () => {
    const cases: [number[], number, number[]][] = [
      [[700], 0, randomIndex([300], 700, 3)],
      [[2, 3, 4, 5, 6], 3, [4, 0, 4, 2, 1, 4]],
      [[3, 4], 1, []],
    ];
    for (const [shape, dim, values] of cases) {
      const x = pair(shape, 40);
      const idx = indexPair(values, [values.length]);
      await expectClose(K.indexSelect(x.t, dim, idx.t), K.indexSelectRef(x.r, dim, idx.r), EXACT, `[${shape}]`);
      const oshape = [...shape];
      oshape[dim] = values.length;
      const dy = pair(oshape, 41);
      await expectClose(
        K.indexSelectBackward(dy.t, idx.t, dim, shape),
        K.indexSelectBackwardRef(dy.r, idx.r, dim, shape),
        { atol: 1e-6, rtol: 1e-6 },
        `[${shape}] backward`,
      );
    }
  });
  it('gives NaN for an out-of-range device index and refuses float indices', async () => {
    const x = pairOf([1, 2, 3], [3]);
    const idx = indexPair([2, 3, -1, 0], [4]);
    await expectSameWithNaN(K.indexSelect(x.t, 0, idx.t), K.indexSelectRef(x.r, 0, idx.r), 'out of range');
    expect(Array.from(K.indexSelectRef(x.r, 0, idx.r).data)).toEqual([3, NaN, NaN, 1]);
    expect(() => K.indexSelect(x.t, 0, x.t)).toThrow(/indexSelect: index must be i32/);
    expect(() => K.gather(pair([2, 3], 1).t, 1, indexPair([0, 0, 0, 0, 0, 0], [3, 2]).t)).toThrow(
      /gather: index \[3, 2\] must have the rank of x \[2, 3\]/,
    );
  });
});

const SPECIAL = [NaN, -Infinity, Infinity, -0, 0, 1, -1, 2.5, NaN, 3];

describe('where, maskedFill and the comparisons', () => {
  it('where broadcasts all three and takes NaN as true', async () => {
    const cond = pairOf([1, 0, NaN, -0, 0.5, 0], [2, 1, 3]);
    const a = pair([4, 3], 50);
    const b = pair([2, 4, 1], 51);
    await expectSameWithNaN(K.where(cond.t, a.t, b.t), K.whereRef(cond.r, a.r, b.r), 'where', 0);
    const c2 = pairOf([0, 1, 1, 0, 0, 1, 0, 1], [8]);
    const a2 = pair([8], 52);
    const b2 = pair([8], 53);
    await expectClose(K.where(c2.t, a2.t, b2.t), K.whereRef(c2.r, a2.r, b2.r), EXACT, 'where same shapes');
  });
  it('maskedFill with a broadcast mask, a NaN and an infinite value', async () => {
    const x = pair([3, 4, 5], 60);
    const mask = pairOf([1, 0, 0, 1, 1], [5]);
    for (const v of [0, -Infinity, NaN, 2.5]) {
      await expectSameWithNaN(K.maskedFill(x.t, mask.t, v), K.maskedFillRef(x.r, mask.r, v), `value ${v}`, 0);
    }
    const m2 = pairOf([1, 0, 1], [3, 1, 1]);
    await expectSameWithNaN(K.maskedFill(x.t, m2.t, -1), K.maskedFillRef(x.r, m2.r, -1), 'mask [3,1,1]', 0);
    expect(() => K.maskedFill(pair([5], 1).t, x.t, 0)).toThrow(
      /maskedFill: mask \[3, 4, 5\] must broadcast to x \[5\]/,
    );
  });
  it('every comparison with NaN, infinities and signed zeros, tensor and number', async () => {
    const a = pairOf(SPECIAL, [10]);
    const b = pairOf([NaN, -Infinity, 3, 0, -0, 1, 2, 2.5, 1, 3], [10]);
    const col = pairOf([NaN, 0, 2.5], [3, 1]);
    for (const op of ['eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const) {
      await expectClose(K.compareTensors(op, a.t, b.t), K.compareTensorsRef(op, a.r, b.r), EXACT, `${op} tensor`);
      const broadcast = K.compareTensorsRef(op, col.r, a.r);
      await expectClose(K.compareTensors(op, col.t, a.t), broadcast, EXACT, `${op} broadcast`);
      for (const s of [0, 2.5, NaN, Infinity]) {
        await expectClose(K.compareScalar(op, a.t, s), K.compareScalarRef(op, a.r, s), EXACT, `${op} ${s}`);
      }
    }
    // The vec4 map path (a multiple of 4 elements).
    const v = pairOf([...SPECIAL, 7, NaN], [12]);
    await expectClose(K.compareScalar('ne', v.t, 7), K.compareScalarRef('ne', v.r, 7), EXACT, 'ne vec4');
    expect(Array.from(K.compareScalarRef('ne', v.r, 7).data)).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1]);
  });
});
