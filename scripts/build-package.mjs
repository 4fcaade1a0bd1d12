#!/usr/bin/env node
// Builds the package in the current directory for use by other projects:
// dist/index.js (ESM, bundled except for dependencies) and dist/*.d.ts from tsc.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
rmSync('dist', { recursive: true, force: true });
await build({
  entryPoints: ['src/index.ts'],
  outfile: 'dist/index.js',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  external: [...Object.keys(pkg.dependencies ?? {}), 'webgpu'],
  logLevel: 'warning',
});
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const tsconfig = {
  extends: '../../tsconfig.json',
  compilerOptions: { noEmit: false, emitDeclarationOnly: true, declaration: true, outDir: 'dist', rootDir: 'src' },
  include: ['src/**/*.ts'],
  exclude: ['src/**/*.test.ts'],
};
writeFileSync('tsconfig.build.json', JSON.stringify(tsconfig, null, 2));
try {
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
} finally {
  rmSync('tsconfig.build.json', { force: true });
}
