// What both examples share: where they live, and their curves (an SVG and the numbers as JSON,
// rewritten as training goes).

import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lineChartSvg } from '@wgtorch/resnet20';
import { writeFileAtomic } from '@wgtorch/tensor/node';

/** examples/ in the repository (this file is examples/src/common.ts; run-ts bundles keep the path in a comment). */
export const exampleRoot = findRoot();

function findRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  // From source (vitest) this is examples/src; from a run-ts bundle it is .cache/run at the repository root.
  return here.endsWith(join('examples', 'src')) ? resolve(here, '..') : resolve(here, '..', '..', 'examples');
}

export interface Curve {
  title: string;
  xLabel: string;
  series: Record<string, [number, number][]>;
}

/** Writes DIR/curves.svg and DIR/curves.json. */
export function writeCurves(dir: string, c: Curve): void {
  mkdirSync(dir, { recursive: true });
  const series = Object.entries(c.series).map(([name, values]) => ({ name, values }));
  writeFileAtomic(join(dir, 'curves.svg'), lineChartSvg(c.title, c.xLabel, series));
  writeFileAtomic(join(dir, 'curves.json'), JSON.stringify(c) + '\n');
}

/** A positive number option (`--name v`), or `fallback` when not given; an error names the example and the flag. */
export function positiveArg(example: string, name: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`pnpm example ${example}: --${name} must be > 0, got '${v}'.`);
  return n;
}
