// Helpers for kernel tests: golden fixtures, comparison with tolerances, seeded data.

import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng, type SafeTensorsFile } from '@wgtorch/tensor';
import { readSafetensors } from '@wgtorch/tensor/node';
import { expandFixture } from './golden-fixture.js';

/**
 * Where PyTorch's golden fixtures come from: 'repo' is the repository's test/fixtures (committed,
 * made by scripts/make-fixtures.py), always there; 'shared' is ../shared/fixtures beside the
 * checkout (or WGTORCH_FIXTURES), an extra check where present.
 */
export type FixtureSource = 'repo' | 'shared';
export const FIXTURE_SOURCES: readonly FixtureSource[] = ['repo', 'shared'];

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');

/** The fixture folder of a source: the repository's always; ../shared's only where it exists. */
export function fixturesDir(): string;
export function fixturesDir(source: FixtureSource): string | undefined;
export function fixturesDir(source: FixtureSource = 'repo'): string | undefined {
  if (source === 'repo') return join(REPO, 'test', 'fixtures');
  const d = process.env.WGTORCH_FIXTURES || join(REPO, '..', 'shared', 'fixtures');
  return existsSync(d) ? d : undefined;
}

/** The path of fixture `name` (e.g. 'ops-golden-s0') in a source; undefined where ../shared lacks it. */
export function fixturePath(name: string, source: FixtureSource = 'repo'): string | undefined {
  const dir = fixturesDir(source);
  const p = dir && join(dir, `${name}.safetensors`);
  if (source === 'repo' && !existsSync(p!)) {
    throw new Error(
      `fixture ${p} is missing: it is part of the repository; restore it (git checkout -- test/fixtures) ` +
        'or remake it with `python3 scripts/make-fixtures.py`.',
    );
  }
  return p && existsSync(p) ? p : undefined;
}

/** Fixture `name` in every source that has it: the repository's, then ../shared's where present. */
export function fixtureFiles(name: string): { source: FixtureSource; path: string }[] {
  return FIXTURE_SOURCES.flatMap((source) => {
    const path = fixturePath(name, source);
    return path ? [{ source, path }] : [];
  });
}

const cache = new Map<string, SafeTensorsFile>();

/**
 * A fixture file by base name from a source (default the repository's, which must exist), or by
 * path (a name ending in .safetensors). Undefined only for a ../shared file that is absent.
 */
export function loadFixture(name: string): SafeTensorsFile;
export function loadFixture(name: string, source: FixtureSource): SafeTensorsFile | undefined;
export function loadFixture(name: string, source: FixtureSource = 'repo'): SafeTensorsFile | undefined {
  const p = name.endsWith('.safetensors') ? name : fixturePath(name, source);
  if (!p) return undefined;
  let f = cache.get(p);
  if (!f) {
    f = expandFixture(readSafetensors(p), p, (sibling) => loadFixture(join(dirname(p), sibling)));
    cache.set(p, f);
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
