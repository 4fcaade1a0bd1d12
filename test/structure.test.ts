// Each package's modules import one another without cycles (type-only imports and re-exports
// included).
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const repo = resolve(import.meta.dirname, '..');
const packages = ['tensor', 'kernels-wgsl', 'autograd', 'resnet20'].map((p) => join(repo, 'packages', p, 'src'));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return p.endsWith('.ts') && !p.endsWith('.test.ts') ? [p] : [];
  });
}

/** Relative imports and re-exports of each file under `root`, type-only ones included. */
function importGraph(root: string): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const f of sources(root)) {
    const text = readFileSync(f, 'utf8');
    const deps = [...text.matchAll(/^(?:import|export)\b[^;]*?from\s+'(\.[^']+)'|^import\s+'(\.[^']+)'/gms)].map((m) =>
      resolve(dirname(f), (m[1] ?? m[2]).replace(/\.js$/, '.ts')),
    );
    graph.set(f, deps);
  }
  return graph;
}

function cycles(graph: Map<string, string[]>, root: string): string[] {
  const found: string[] = [];
  const done = new Set<string>();
  const path: string[] = [];
  const visit = (n: string) => {
    if (path.includes(n)) {
      found.push(
        path
          .slice(path.indexOf(n))
          .concat(n)
          .map((p) => relative(root, p))
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
  it.each(packages.map((p) => [relative(repo, p), p]))('%s has no import cycles', (_, root) => {
    const graph = importGraph(root);
    expect(graph.size).toBeGreaterThan(8);
    expect(cycles(graph, root)).toEqual([]);
  });

  it('finds a cycle when there is one, through type-only imports too', () => {
    const a = join(packages[0], 'a.ts');
    const b = join(packages[0], 'b.ts');
    expect(
      cycles(
        new Map([
          [a, [b]],
          [b, [a]],
        ]),
        packages[0],
      ),
    ).toEqual(['a.ts -> b.ts -> a.ts']);
    const text = "import type { Runtime } from './device.js';\n";
    expect([...text.matchAll(/^(?:import|export)\b[^;]*?from\s+'(\.[^']+)'/gms)].map((m) => m[1])).toEqual([
      './device.js',
    ]);
  });
});
