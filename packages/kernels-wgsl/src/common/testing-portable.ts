// The portable half of the kernel tests' helpers (no Node built-in, so a page can use it too):
// comparison with tolerances, seeded data, and the golden fixtures' format from bytes. testing.ts
// adds reading fixture files in Node.

import { Rng, parseSafetensors, type SafeTensorsFile } from '@wgtorch/tensor';
import { expandFixture } from './golden-fixture.js';

export { expandFixture };

/**
 * A fixture file from its bytes, in the full format (a compact file expanded, see golden-fixture.ts);
 * `name` is for messages, `sibling(name)` gives a file from the same folder when this one's init is there.
 */
export function parseFixture(
  bytes: Uint8Array,
  name: string,
  sibling: (name: string) => SafeTensorsFile = (other) => {
    throw new Error(`${name}: needs ${other} beside it; pass a sibling loader to parseFixture.`);
  },
): SafeTensorsFile {
  return expandFixture(parseSafetensors(bytes, name), name, sibling);
}

export interface CloseOptions {
  atol?: number;
  rtol?: number;
  /** Compare relative to the largest magnitude of `expected` (rtol * max|expected|) instead of elementwise. */
  relativeToMax?: boolean;
}

export interface Comparison {
  ok: boolean;
  maxAbs: number;
  maxRel: number;
  worstIndex: number;
  message: string;
}

/** Compares two arrays: |a - e| <= atol + rtol * |e| (or rtol * max|e| with relativeToMax). */
export function compare(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  opts: CloseOptions = {},
  label = 'tensor',
): Comparison {
  const atol = opts.atol ?? 1e-5;
  const rtol = opts.rtol ?? 1e-4;
  if (actual.length !== expected.length) {
    return {
      ok: false,
      maxAbs: Infinity,
      maxRel: Infinity,
      worstIndex: -1,
      message: `${label}: length ${actual.length} != expected ${expected.length}`,
    };
  }
  let maxE = 0;
  for (let i = 0; i < expected.length; i++) maxE = Math.max(maxE, Math.abs(expected[i]));
  let maxAbs = 0;
  let maxRel = 0;
  let worst = -1;
  let worstExcess = -Infinity;
  let ok = true;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    const d = Math.abs(a - e);
    const tol = atol + rtol * (opts.relativeToMax ? maxE : Math.abs(e));
    if (!(d <= tol)) ok = false; // NaN fails
    if (d > maxAbs || Number.isNaN(d)) maxAbs = Number.isNaN(d) ? NaN : d;
    maxRel = Math.max(maxRel, d / Math.max(Math.abs(e), 1e-12));
    const excess = Number.isNaN(d) ? Infinity : d - tol;
    if (excess > worstExcess) {
      worstExcess = excess;
      worst = i;
    }
  }
  const message =
    `${label}: max |diff| ${maxAbs.toExponential(3)}, max rel ${maxRel.toExponential(3)}; ` +
    `worst at [${worst}] got ${actual[worst]} expected ${expected[worst]} ` +
    `(atol ${atol}, rtol ${rtol}${opts.relativeToMax ? ' x max|expected|' : ''})`;
  return { ok, maxAbs, maxRel, worstIndex: worst, message };
}

/** Throws with a message naming the worst element when arrays differ beyond tolerance. */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  opts: CloseOptions = {},
  label = 'tensor',
): void {
  const c = compare(actual, expected, opts, label);
  if (!c.ok) throw new Error(c.message);
}

/** Seeded normal data as float32 values. */
export function randomArray(n: number, seed: number, scale = 1): Float32Array {
  return new Rng(seed).normalArray(n, 0, scale);
}
