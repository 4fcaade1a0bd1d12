// Helpers for kernel tests: fixtures, comparison with tolerances, seeded data.

import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensors, Rng, type SafeTensorsFile } from '@wgtorch/tensor';

/** ../shared/fixtures beside the repository (or WGTORCH_FIXTURES), or undefined if absent. */
export function fixturesDir(): string | undefined {
  if (process.env.WGTORCH_FIXTURES) return process.env.WGTORCH_FIXTURES;
  const here = dirname(fileURLToPath(import.meta.url));
  const repo = resolve(here, '../../../..');
  const d = join(repo, '..', 'shared', 'fixtures');
  return existsSync(d) ? d : undefined;
}

const cache = new Map<string, SafeTensorsFile>();

/** A fixture file by base name, e.g. 'ops-golden-s0'; undefined when fixtures are absent. */
export function loadFixture(name: string): SafeTensorsFile | undefined {
  const dir = fixturesDir();
  if (!dir) return undefined;
  let f = cache.get(name);
  if (!f) {
    const p = join(dir, `${name}.safetensors`);
    if (!existsSync(p)) return undefined;
    f = readSafetensors(p);
    cache.set(name, f);
  }
  return f;
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
export function compare(actual: ArrayLike<number>, expected: ArrayLike<number>, opts: CloseOptions = {}, label = 'tensor'): Comparison {
  const atol = opts.atol ?? 1e-5;
  const rtol = opts.rtol ?? 1e-4;
  if (actual.length !== expected.length) {
    return { ok: false, maxAbs: Infinity, maxRel: Infinity, worstIndex: -1, message: `${label}: length ${actual.length} != expected ${expected.length}` };
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
  const message = `${label}: max |diff| ${maxAbs.toExponential(3)}, max rel ${maxRel.toExponential(3)}; worst at [${worst}] got ${actual[worst]} expected ${expected[worst]} (atol ${atol}, rtol ${rtol}${opts.relativeToMax ? ' x max|expected|' : ''})`;
  return { ok, maxAbs, maxRel, worstIndex: worst, message };
}

/** Throws with a message naming the worst element when arrays differ beyond tolerance. */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, opts: CloseOptions = {}, label = 'tensor'): void {
  const c = compare(actual, expected, opts, label);
  if (!c.ok) throw new Error(c.message);
}

/** Seeded normal data as float32 values. */
export function randomArray(n: number, seed: number, scale = 1): Float32Array {
  return new Rng(seed).normalArray(n, 0, scale);
}
