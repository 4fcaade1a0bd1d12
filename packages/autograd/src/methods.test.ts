// The package's modules import one another without cycles (type-only imports included), and
// the Tensor methods defined beside the functions behave like class methods.
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { Tensor } from './index.js';

const src = import.meta.dirname;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return p.endsWith('.ts') && !p.endsWith('.test.ts') ? [p] : [];
  });
}

/** Relative imports and re-exports of each file, type-only ones included. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const f of sources(src)) {
    const text = readFileSync(f, 'utf8');
    const deps = [...text.matchAll(/^(?:import|export)\b[^;]*?from\s+'(\.[^']+)'|^import\s+'(\.[^']+)'/gms)].map((m) =>
      resolve(dirname(f), (m[1] ?? m[2]).replace(/\.js$/, '.ts')),
    );
    graph.set(f, deps);
  }
  return graph;
}

function cycles(graph: Map<string, string[]>): string[] {
  const found: string[] = [];
  const done = new Set<string>();
  const path: string[] = [];
  const visit = (n: string) => {
    if (path.includes(n)) {
      found.push(
        path
          .slice(path.indexOf(n))
          .concat(n)
          .map((p) => relative(src, p))
          .join(' -> '),
      );
      return;
    }
    if (done.has(n)) return;
    path.push(n);
    for (const d of graph.get(n) ?? []) visit(d);
    path.pop();
    done.add(n);
  };
  for (const n of graph.keys()) visit(n);
  return found;
}

describe('structure', () => {
  it('has no import cycles', () => {
    const graph = importGraph();
    expect(graph.size).toBeGreaterThan(8);
    expect(cycles(graph)).toEqual([]);
  });

  it('finds a cycle when there is one', () => {
    const a = join(src, 'a.ts');
    const b = join(src, 'b.ts');
    expect(
      cycles(
        new Map([
          [a, [b]],
          [b, [a]],
        ]),
      ),
    ).toEqual(['a.ts -> b.ts -> a.ts']);
  });

  it('gives Tensor its methods, not enumerable, as in a class body', () => {
    for (const m of [
      'add',
      'sub',
      'mul',
      'div',
      'matmul',
      'reshape',
      'flatten',
      't',
      'sum',
      'mean',
      'relu',
      'exp',
      'log',
      'neg',
    ]) {
      expect(typeof (Tensor.prototype as unknown as Record<string, unknown>)[m]).toBe('function');
    }
    expect(Object.keys(Tensor.prototype)).toEqual([]);
  });
});
