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
