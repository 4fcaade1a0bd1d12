#!/usr/bin/env node
// Builds the package in the current directory for use by other projects. Each export of
// package.json whose `source` condition names src/X.ts has dist/X.js and dist/X.d.ts. Every
// module the entries reach is compiled to its own dist file (src/a/b.ts -> dist/a/b.js), not
// bundled into one, so that an application's bundler drops the modules it does not use
// (`sideEffects` in package.json). The `source` condition is for the monorepo's own tools
// (vitest, esbuild, tsc); `publishConfig.exports`, which pnpm pack puts in its place, names
// dist only. An export with a `source` condition alone stays inside the workspace.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename } from 'node:path';

const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const sources = [];
for (const [subpath, target] of Object.entries(pkg.exports ?? {})) {
  const source = typeof target === 'object' ? target.source : undefined;
  const dist = typeof target === 'object' ? (target.import ?? target.default) : undefined;
  // An export with only a `source` is for the workspace (e.g. test helpers) and is not built.
  if (!source || !dist) continue;
  const expected = source.replace(/^\.\/src\//, './dist/').replace(/\.ts$/, '.js');
  if (!source.startsWith('./src/') || dist !== expected || target.types !== expected.replace(/\.js$/, '.d.ts')) {
    throw new Error(
      `${pkg.name}: export '${subpath}' must map ${source} to ${expected} ` +
        `with types ${expected.replace(/\.js$/, '.d.ts')} (got ${dist}, ${target.types})`,
    );
  }
  sources.push(source);
}
if (!sources.length) throw new Error(`${pkg.name}: no export with a "source" condition to build`);

rmSync('dist', { recursive: true, force: true });
// Neutral: the same files run in Node and in browsers; the entries that use Node built-ins
// (a `./node` subpath) import them by their `node:` names.
const common = { platform: 'neutral', format: 'esm', target: 'es2022', logLevel: 'warning' };
// The modules the entries reach, from esbuild's module graph (dependencies stay imports).
const { metafile } = await build({
  ...common,
  entryPoints: sources,
  bundle: true,
  outdir: 'dist',
  write: false,
  metafile: true,
  external: [...Object.keys({ ...pkg.dependencies, ...pkg.peerDependencies }), 'node:*'],
});
const modules = Object.keys(metafile.inputs).filter((f) => f.startsWith('src/') && f.endsWith('.ts'));
await build({ ...common, entryPoints: modules, outdir: 'dist', outbase: 'src', bundle: false, sourcemap: true });

// Declarations: dependencies resolve to their built dist/*.d.ts (no `source` condition), so
// the published types are checked against what a consumer gets; `pnpm -r` builds in order.
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const tsconfig = {
  extends: '../../tsconfig.json',
  compilerOptions: {
    noEmit: false,
    emitDeclarationOnly: true,
    declaration: true,
    outDir: 'dist',
    rootDir: 'src',
    customConditions: [],
  },
  files: sources,
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
console.log(
  `built ${pkg.name}: ${sources.map((s) => s.replace(/^\.\/src\//, 'dist/').replace(/\.ts$/, '.js')).join(', ')} ` +
    `and ${modules.length - sources.length} more modules (${basename(process.cwd())})`,
);
