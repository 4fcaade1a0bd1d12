// Helpers for kernel tests: golden fixtures read from files (Node), and everything of
// testing-portable.ts (comparison with tolerances, seeded data, fixtures from bytes).

import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SafeTensorsFile } from '@wgtorch/tensor';
import { readSafetensors } from '@wgtorch/tensor/node';
import { expandFixture } from './testing-portable.js';

export * from './testing-portable.js';

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
