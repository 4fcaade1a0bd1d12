// How another project gets the packages: `pnpm build`, `pnpm pack` each library package, then
// in an empty folder outside the workspace, plain `npm install` of the tarballs (no overrides;
// `webgpu` and `@webgpu/types` from this checkout's node_modules, so it runs offline). Then:
// a strict TypeScript consumer type-checks against the published .d.ts, for a browser and for
// Node; the shipped example trains with plain `node`; and a browser entry bundles with
// `esbuild --platform=browser` with no stubs, under the size budget, and runs on a GPU object
// given as `navigator.gpu`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build, type Metafile } from 'esbuild';

const repo = resolve(import.meta.dirname, '..');
const PACKAGES = ['tensor', 'kernels-wgsl', 'autograd', 'resnet20'];
/** tensor + kernels-wgsl + autograd, minified and gzipped, for a small training step. */
const BROWSER_BUDGET_BYTES = 100_000;
const requireHere = createRequire(join(repo, 'package.json'));

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): string {
  try {
    return execFileSync(cmd, args, {
      cwd,
      env: { ...env, NO_COLOR: '1' },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 64 << 20,
    });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(
      `${cmd} ${args.join(' ')} (in ${cwd}) failed: ${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}`,
    );
  }
}

/** The environment of a user's shell: none of the npm_* settings pnpm passes to its scripts. */
function plainEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) && k !== 'NODE_OPTIONS'));
}

let work = '';
let app = '';
const tarballs: Record<string, string> = {};

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'wgtorch-pack-'));
  run('pnpm', ['run', '--silent', 'build'], repo);
  const packed = join(work, 'tarballs');
  mkdirSync(packed);
  for (const p of PACKAGES) run('pnpm', ['pack', '--pack-destination', packed], join(repo, 'packages', p));
  for (const f of readdirSync(packed)) {
    const m = f.match(/^wgtorch-(.+)-\d+\.\d+\.\d+.*\.tgz$/);
    if (m) tarballs[m[1]] = join(packed, f);
  }
  app = join(work, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module' }));
  const fromCheckout = (name: string) => realpathSync(join(repo, 'packages/tensor/node_modules', name));
  run(
    'npm',
    [
      'install',
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      ...PACKAGES.map((p) => tarballs[p]),
      fromCheckout('webgpu'),
      fromCheckout('@webgpu/types'),
    ],
    app,
    plainEnv(),
  );
}, 240_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('packed packages', () => {
  it('ship dist, README and LICENSE, with exports naming only shipped files and real versions', () => {
    const sizes: string[] = [];
    for (const p of PACKAGES) {
      expect(tarballs[p], `no tarball for ${p}`).toBeDefined();
      const dir = join(app, 'node_modules/@wgtorch', p);
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      const targets: string[] = [];
      const walk = (v: unknown): void => {
        if (typeof v === 'string') targets.push(v);
        else if (v && typeof v === 'object') Object.values(v).forEach(walk);
      };
      walk(manifest.exports);
      expect(JSON.stringify(manifest.exports), `${p}: exports`).not.toMatch(/"source"|\/src\//);
      for (const t of targets) expect(statSync(join(dir, t)).isFile(), `${p}: exports names ${t}`).toBe(true);
      expect(readFileSync(join(dir, 'LICENSE'), 'utf8'), `${p}: LICENSE`).toBe(
        readFileSync(join(repo, 'LICENSE'), 'utf8'),
      );
      expect(statSync(join(dir, 'README.md')).size, `${p}: README.md`).toBeGreaterThan(100);
      for (const field of ['license', 'repository', 'keywords', 'description'])
        expect(manifest[field], `${p}: ${field}`).toBeTruthy();
      expect(manifest.sideEffects, `${p}: sideEffects`).toBeDefined();
      const deps = { ...manifest.dependencies, ...manifest.peerDependencies };
      for (const [name, spec] of Object.entries(deps)) expect(spec, `${p}: ${name}`).toMatch(/^\^?\d+\.\d+\.\d+/);
      expect(manifest.dependencies?.webgpu, `${p}: webgpu must be an optional peer, not a dependency`).toBeUndefined();
      sizes.push(`${p} ${(statSync(tarballs[p]).size / 1024).toFixed(1)} KiB`);
    }
    console.log(`tarballs: ${sizes.join(', ')}`);
  });

  it('bundle the installed packages: autograd keeps its Tensor methods, kernels-wgsl only what is used', async () => {
    const bundle = async (name: string, contents: string) => {
      const outfile = join(app, `${name}.mjs`);
      await build({
        stdin: { contents, resolveDir: app, sourcefile: `${name}-entry.mjs` },
        outfile,
        bundle: true,
        platform: 'node',
        format: 'esm',
        external: ['webgpu'],
        logLevel: 'silent',
      });
      return outfile;
    };
    // Only `tensor` is imported by name; add, mul and sum are methods that functional.ts defines.
    const methods = await bundle(
      'methods-bundle',
      "import { tensor } from '@wgtorch/autograd';\n" +
        "export const values = () => tensor([1, 2, 3], [3], { backend: 'cpu64' }).add(1).mul(2).sum().toArray();",
    );
    const { values } = (await import(pathToFileURL(methods).href)) as { values: () => Promise<ArrayLike<number>> };
    expect(Array.from(await values())).toEqual([18]);
    const code = readFileSync(await bundle('relu-bundle', "export { relu } from '@wgtorch/kernels-wgsl';"), 'utf8');
    expect(code).toContain('elementwise.');
    for (const other of ['conv2d.', 'batchnorm.', 'sgd.step', 'loss.softmaxCrossEntropy'])
      expect(code, other).not.toContain(other);
  });

  it('type-check as a strict TypeScript consumer, in a browser project and in a Node one', () => {
    writeFileSync(
      join(app, 'consumer.ts'),
      `import {
  Conv2d, BatchNorm2d, Sequential, SGD, OneCycleLR, crossEntropy, tidy, getRuntime, type Tensor,
} from '@wgtorch/autograd';
import { getRuntime as getDeviceRuntime, type Runtime, type RuntimeOptions } from '@wgtorch/tensor';
const m = new Sequential(new Conv2d(3, 4, 3), new BatchNorm2d(4));
const opt = new SGD(m.parameters(), { lr: 0.1, momentum: 0.9 });
export const sched: OneCycleLR = new OneCycleLR(opt, { maxLr: 0.1, totalSteps: 10 });
export const step = (x: Tensor, y: Int32Array): Tensor => tidy(() => crossEntropy(m.forward(x), y));
export const onShared = (device: GPUDevice): Promise<Runtime> => getDeviceRuntime({ device });
export const onGpu = (gpu: GPU, adapter?: string): Promise<Runtime> =>
  getRuntime({ gpu, adapter, powerPreference: 'low-power' } satisfies RuntimeOptions);
`,
    );
    // Node only: files by path from the `./node` subpaths of tensor and autograd.
    writeFileSync(
      join(app, 'node-consumer.ts'),
      `import { writeFileAtomic, readSafetensors } from '@wgtorch/tensor/node';
import { save, load } from '@wgtorch/autograd/node';
import type { Module } from '@wgtorch/autograd';
export const write = (path: string, bytes: Uint8Array): void => writeFileAtomic(path, bytes);
export const names = (path: string): string[] => [...readSafetensors(path).tensors.keys()];
export const roundTrip = async (m: Module, path: string): Promise<string[]> => {
  await save(m, path, { note: 'x' });
  return load(m, path, { strict: true }).missing;
};
`,
    );
    const tsc = requireHere.resolve('typescript/bin/tsc');
    const base = {
      strict: true,
      noEmit: true,
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      target: 'ES2022',
      types: [],
    };
    // A browser project checks every declaration file; @webgpu/types itself needs the DOM lib.
    const configs = {
      browser: { compilerOptions: { ...base, lib: ['ES2022', 'DOM'], skipLibCheck: false }, files: ['consumer.ts'] },
      node: {
        compilerOptions: { ...base, lib: ['ES2022'], skipLibCheck: true },
        files: ['consumer.ts', 'node-consumer.ts'],
      },
    };
    for (const [name, config] of Object.entries(configs)) {
      writeFileSync(join(app, `tsconfig.${name}.json`), JSON.stringify(config));
      run(process.execPath, [tsc, '-p', `tsconfig.${name}.json`], app);
    }
  });

  it("run the shipped example with plain node: a small CNN's loss goes down", () => {
    const out = run(
      process.execPath,
      [join(app, 'node_modules/@wgtorch/autograd/examples/small-cnn.mjs')],
      app,
      plainEnv(),
    );
    const losses = [...out.matchAll(/loss (\d+\.\d+)/g)].map((m) => Number(m[1]));
    expect(losses.length, out).toBeGreaterThanOrEqual(3);
    expect(Math.abs(losses[0] - Math.log(10)), `first loss near ln 10\n${out}`).toBeLessThan(0.5);
    expect(losses[losses.length - 1], out).toBeLessThan(losses[0] * 0.8);
    // Saved and loaded into a fresh copy through @wgtorch/autograd/node: the same eval loss.
    const saved = out.match(/^saved \S+small-cnn\.safetensors; eval loss (\d+\.\d+), loaded copy (\d+\.\d+)$/m);
    expect(saved, out).not.toBeNull();
    expect(saved![2], out).toBe(saved![1]);
  });

  const browserTitle =
    `bundle the browser example with no stubs, at most ${BROWSER_BUDGET_BYTES / 1000} KB gzipped, ` +
    'and run it on navigator.gpu';
  it(browserTitle, async () => {
    // The shipped page: an import map onto the installed dist files and one module script.
    const page = readFileSync(join(app, 'node_modules/@wgtorch/autograd/examples/browser.html'), 'utf8');
    const importMap = JSON.parse(page.match(/<script type="importmap">([\s\S]*?)<\/script>/)![1]) as {
      imports: Record<string, string>;
    };
    const script = page.match(/<script type="module">([\s\S]*?)<\/script>/)![1];
    for (const target of Object.values(importMap.imports))
      expect(statSync(join(app, target)).isFile(), `import map target ${target}`).toBe(true);

    const entry = join(app, 'browser-entry.mjs');
    writeFileSync(entry, script);
    const outfile = join(app, 'browser-bundle.js');
    const bare = new Set<string>(); // what the page's import map must cover, to run without a bundler
    try {
      await build({
        entryPoints: [entry],
        outfile,
        bundle: true,
        platform: 'browser',
        format: 'esm',
        minify: true,
        logLevel: 'silent',
        plugins: [
          { name: 'bare-imports', setup: (b) => void b.onResolve({ filter: /^[^./]/ }, (a) => void bare.add(a.path)) },
        ],
      });
    } catch (e) {
      const chains = await nodeImportChains(script);
      throw new Error(
        `The browser bundle failed: a Node built-in is reachable from the library entry points.\n` +
          `${(e as Error).message}\nFrom the sources (entry -> ... -> built-in):\n` +
          (chains.map((c) => `  ${c}`).join('\n') || '  (none found from source)'),
      );
    }
    expect([...bare].sort(), 'bare imports of the example and the dist files').toEqual(
      Object.keys(importMap.imports).sort(),
    );
    const bytes = readFileSync(outfile);
    const gz = gzipSync(bytes, { level: 9 }).length;
    console.log(
      `browser bundle (tensor + kernels-wgsl + autograd, minified): ${(bytes.length / 1000).toFixed(1)} KB, ` +
        `${(gz / 1000).toFixed(1)} KB gzipped`,
    );
    expect(gz, 'gzipped bytes').toBeLessThanOrEqual(BROWSER_BUDGET_BYTES);

    // The bundle as a page runs it: navigator.gpu (Dawn's GPU object here) and a #out element.
    writeFileSync(
      join(app, 'run-bundle.mjs'),
      `import { create } from 'webgpu';
const out = { textContent: '' };
Object.defineProperty(globalThis, 'navigator', { value: { gpu: create([]) }, configurable: true });
globalThis.document = { querySelector: (sel) => (sel === '#out' ? out : null) };
await import('./browser-bundle.js');
console.log(out.textContent);
`,
    );
    const out = run(process.execPath, ['run-bundle.mjs'], app, plainEnv());
    expect(out).toMatch(/^adapter: \S/m);
    expect(out).toMatch(/^y = 32, dy\/dx = 5, 7, 9$/m);
    const losses = [...out.matchAll(/loss (\d+\.\d+)/g)].map((m) => Number(m[1]));
    expect(losses.length, out).toBe(5);
    expect(losses[4], out).toBeLessThan(losses[0] * 0.8);
  });
});

/** From the workspace sources: every chain of imports from the entry to a Node built-in. */
async function nodeImportChains(entrySource: string): Promise<string[]> {
  const r = await build({
    stdin: { contents: entrySource, resolveDir: join(repo, 'test'), sourcefile: 'browser-entry.mjs' },
    bundle: true,
    write: false,
    platform: 'browser',
    format: 'esm',
    conditions: ['source'],
    external: ['node:*', 'fs', 'path', 'url', 'os', 'crypto', 'child_process'],
    metafile: true,
    absWorkingDir: repo,
    logLevel: 'silent',
  });
  const inputs = (r.metafile as Metafile).inputs;
  const entry = Object.keys(inputs).find((f) => f.endsWith('browser-entry.mjs'))!;
  const parent = new Map<string, string>();
  const queue = [entry];
  const chains: string[] = [];
  while (queue.length) {
    const file = queue.shift()!;
    for (const imp of inputs[file]?.imports ?? []) {
      if (imp.external) {
        if (!/^node:|^(fs|path|url|os|crypto|child_process)$/.test(imp.path)) continue;
        const chain = [imp.path];
        for (let f: string | undefined = file; f; f = parent.get(f)) chain.unshift(f);
        chains.push(chain.join(' -> '));
      } else if (!parent.has(imp.path) && imp.path !== entry) {
        parent.set(imp.path, file);
        queue.push(imp.path);
      }
    }
  }
  return chains;
}
