// Test helpers for the kernel folders: seeded GPU/F64 input pairs and GPU-vs-reference checks.

import { Tensor } from '@wgtorch/tensor';
import { assertClose, loadFixture, randomArray, type CloseOptions } from '../common/testing.js';
import type { F64 } from '../common/f64.js';

export interface Pair {
  t: Tensor;
  r: F64;
}

/** Seeded normal data as a GPU tensor and the same float32 values as F64. */
export function pair(shape: readonly number[], seed: number, scale = 1, shift = 0): Pair {
  const n = shape.reduce((a, d) => a * d, 1);
  const v = randomArray(n, seed, scale);
  if (shift) for (let i = 0; i < n; i++) v[i] += shift;
  return { t: Tensor.fromArray(v, shape), r: { data: Float64Array.from(v), shape: [...shape] } };
}

/** A pair from given values. */
export function pairOf(values: ArrayLike<number>, shape: readonly number[]): Pair {
  const v = Float32Array.from(values);
  return { t: Tensor.fromArray(v, shape), r: { data: Float64Array.from(v), shape: [...shape] } };
}

/** Reads `t` back and compares it (shape and values) to the reference. */
export async function expectClose(t: Tensor, r: F64, opts: CloseOptions = {}, label = 'tensor'): Promise<void> {
  if (t.shape.length !== r.shape.length || t.shape.some((d, i) => d !== r.shape[i])) {
    throw new Error(`${label}: shape [${t.shape}] != reference [${r.shape}]`);
  }
  assertClose(await t.toArray(), r.data, opts, label);
}

export function f64Of(values: ArrayLike<number>, shape: readonly number[]): F64 {
  return { data: Float64Array.from(values), shape: [...shape] };
}

/** A fixture tensor (ops-golden-s0 by default) as a GPU/F64 pair; undefined when fixtures are absent. */
export function fixture(key: string, file = 'ops-golden-s0'): Pair | undefined {
  const f = loadFixture(file);
  const t = f?.tensors.get(key);
  if (!t) return undefined;
  const data = t.data as Float32Array | Int32Array;
  return { t: Tensor.fromArray(data, t.shape), r: { data: Float64Array.from(data), shape: [...t.shape] } };
}

/** True when the golden fixtures are present (tests that need them are skipped otherwise). */
export const hasFixtures = (file = 'ops-golden-s0'): boolean => loadFixture(file) !== undefined;
