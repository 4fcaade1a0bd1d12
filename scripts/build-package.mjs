#!/usr/bin/env node
// Builds the package in the current directory for use by other projects. Each export of
// package.json whose `source` condition names src/X.ts becomes dist/X.js (ESM, dependencies
// left as imports, code shared between entries in dist/chunks/) with dist/X.d.ts and the
// other declarations from tsc. The `source` condition is for the monorepo's own tools (vitest,
// esbuild, tsc); `publishConfig.exports`, which pnpm pack puts in its place, names dist only.
// An export with a `source` condition alone (test helpers) stays inside the workspace.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename } from 'node:path';

const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const entries = {};
for (const [subpath, target] of Object.entries(pkg.exports ?? {})) {
  const source = typeof target === 'object' ? target.source : undefined;
  const dist = typeof target === 'object' ? (target.import ?? target.default) : undefined;
  // An export with only a `source` is for the workspace (e.g. test helpers) and is not built.
  if (!source || !dist) continue;
  const name = dist.replace(/^\.\/dist\//, '').replace(/\.js$/, '');
  if (!source.startsWith('./src/') || name === dist) throw new Error(`${pkg.name}: export '${subpath}' must map ./src/X.ts to ./dist/X.js (got ${source} -> ${dist})`);
  entries[name] = source;
}
if (!Object.keys(entries).length) throw new Error(`${pkg.name}: no export with a "source" condition to build`);

rmSync('dist', { recursive: true, force: true });
await build({
  entryPoints: entries,
  outdir: 'dist',
  bundle: true,
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  // Neutral: the same files run in Node and in browsers; the entries that use Node built-ins
  // (a `./node` subpath) import them by their `node:` names.
  platform: 'neutral',
  format: 'esm',
  target: 'es2022',
  sourcemap: true,
  external: [...Object.keys({ ...pkg.dependencies, ...pkg.peerDependencies }), 'node:*'],
  logLevel: 'warning',
});

// Declarations: dependencies resolve to their built dist/*.d.ts (no `source` condition), so
// the published types are checked against what a consumer gets; `pnpm -r` builds in order.
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const tsconfig = {
  extends: '../../tsconfig.json',
  compilerOptions: { noEmit: false, emitDeclarationOnly: true, declaration: true, outDir: 'dist', rootDir: 'src', customConditions: [] },
  files: Object.values(entries),
  include: [],
};
const configFile = `tsconfig.build-${process.pid}.json`;
writeFileSync(configFile, JSON.stringify(tsconfig, null, 2));
let tscFailed = false;
try {
  execFileSync(process.execPath, [tsc, '-p', configFile], { stdio: 'inherit' });
} catch {
  tscFailed = true;
} finally {
  rmSync(configFile, { force: true });
}
if (tscFailed) {
  console.error(`build ${pkg.name}: tsc failed on the declarations (errors above)`);
  process.exit(1);
}
console.log(`built ${pkg.name}: ${Object.keys(entries).map((e) => `dist/${e}.js`).join(', ')} (${basename(process.cwd())})`);
