#!/usr/bin/env node
// Runs a TypeScript entry point of the workspace under plain Node 20: esbuild bundles it
// (workspace packages resolved from source through the "source" export condition) into
// .cache/run/, then the bundle runs in this same process with the remaining arguments.
// With --bundle-only OUT.mjs it writes the bundle there and exits (e.g. to run the benchmark
// on a machine with node and dawn.node but no node_modules).
import { build } from 'esbuild';
import { mkdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
let argv = process.argv.slice(2);
let bundleOnly;
if (argv[0] === '--bundle-only') {
  bundleOnly = resolve(argv[1]);
  argv = argv.slice(2);
}
const [entry, ...args] = argv;
if (!entry) {
  console.error('usage: node scripts/run-ts.mjs ENTRY.ts [args...]');
  process.exit(2);
}
const outDir = join(root, '.cache', 'run');
mkdirSync(outDir, { recursive: true });
const outfile = bundleOnly ?? join(outDir, basename(entry).replace(/\.ts$/, '') + '.mjs');
await build({
  entryPoints: [resolve(root, entry)],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'inline',
  conditions: ['source'],
  // dawn.node is a native addon: load it from node_modules, never bundle it.
  external: ['webgpu'],
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  logLevel: 'warning',
});
if (bundleOnly) process.exit(0);
process.argv = [process.argv[0], outfile, ...args];
process.setSourceMapsEnabled?.(true);
await import(pathToFileURL(outfile).href);
