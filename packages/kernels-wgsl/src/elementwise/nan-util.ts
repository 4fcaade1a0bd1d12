// Test helper: compares a GPU tensor with a reference that holds NaNs.

import type { Tensor } from '@wgtorch/tensor';
import type { F64 } from '../common/f64.js';

/** Throws unless `t` is NaN exactly where `r` is, and within `atol` of it elsewhere. */
export async function expectSameWithNaN(t: Tensor, r: F64, label: string, atol = 1e-4): Promise<void> {
  const got = await t.toArray();
  if (got.length !== r.data.length) throw new Error(`${label}: ${got.length} elements, expected ${r.data.length}`);
  for (let i = 0; i < got.length; i++) {
    const [g, e] = [got[i], r.data[i]];
    const ok = Number.isNaN(e) ? Number.isNaN(g) : g === e || Math.abs(g - e) <= atol;
    if (!ok) throw new Error(`${label}: element ${i} is ${g}, expected ${e}`);
  }
}

/**
 * Throws unless `got` is NaN exactly where `expected` is, the same infinity where `expected`
 * rounded to float32 is infinite, and within atol + rtol * |expected| elsewhere.
 */
export function assertCloseSpecial(
  got: ArrayLike<number>,
  expected: ArrayLike<number>,
  label: string,
  { atol = 1e-6, rtol = 1e-4 } = {},
): void {
  if (got.length !== expected.length) throw new Error(`${label}: ${got.length} elements, expected ${expected.length}`);
  for (let i = 0; i < got.length; i++) {
    const [g, e] = [got[i], Math.fround(expected[i])];
    const ok = Number.isNaN(e)
      ? Number.isNaN(g)
      : !Number.isFinite(e)
        ? g === e
        : Math.abs(g - e) <= atol + rtol * Math.abs(e);
    if (!ok) throw new Error(`${label}: element ${i} is ${g}, expected ${e} (atol ${atol}, rtol ${rtol})`);
  }
}
