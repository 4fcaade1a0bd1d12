// `pnpm demo [--port N] [--data-dir DIR]`: builds the browser demo (page.ts) with esbuild and
// serves it from localhost with node:http, together with CIFAR-10's files found and verified as
// `pnpm train` finds them (--data-dir, CIFAR10_DIR, the cache, a download, npm).
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { locateCifar10 } from '../data/sources.js';
import { TEST_FILES, TRAIN_FILES } from '../data/format.js';
import { DEFAULTS } from '../train/config.js';

const PAGE = 'packages/resnet20/src/browser/page.ts';

/** page.ts beside this file, or (when this file runs bundled, e.g. under .cache/run) under a folder above it. */
function pageEntry(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'page.ts')) && existsSync(join(dir, 'serve.ts'))) return join(dir, 'page.ts');
    if (existsSync(join(dir, PAGE))) return join(dir, PAGE);
    if (dirname(dir) === dir) throw new Error(`demo: cannot find ${PAGE} above ${fileURLToPath(import.meta.url)}`);
  }
}

/** The page's JavaScript, one ES module with every workspace package from source. */
export function buildPage(minify = false): Promise<string> {
  return bundleForBrowser(pageEntry(), minify);
}

/**
 * `entry` bundled for a page (ES module, workspace packages from source). A Node built-in
 * imported anywhere below it fails the build: what a page runs must be portable.
 */
export async function bundleForBrowser(entry: string, minify = false): Promise<string> {
  // Loaded by a name esbuild cannot follow: `pnpm demo` runs this file bundled (scripts/run-ts.mjs),
  // and esbuild bundled into itself cannot start its service.
  const esbuild = 'esbuild';
  const { build } = (await import(esbuild)) as typeof import('esbuild');
  const out = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    conditions: ['source'],
    minify,
    logLevel: 'warning',
  });
  return out.outputFiles[0].text;
}

const HTML = (config: unknown) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ResNet20 on CIFAR-10 in the browser (wgtorch)</title>
<style>
body { font-family: sans-serif; margin: 16px; max-width: 900px; }
label { margin-right: 12px; } input[type=number] { width: 5em; }
#status { font-weight: bold; } #status.error { color: #c00; } #status.done { color: #080; }
.stats span { display: inline-block; min-width: 6em; font-family: monospace; }
progress { width: 100%; height: 14px; }
#grid { display: grid; grid-template-columns: repeat(8, 1fr); gap: 6px; }
#grid figure { margin: 0; text-align: center; font-size: 11px; }
#grid canvas { width: 64px; height: 64px; image-rendering: pixelated; }
.right { color: #080; } .wrong { color: #c00; }
</style></head><body>
<h2>ResNet20 on CIFAR-10, trained in this page on WebGPU</h2>
<div>adapter: <span id="adapter">?</span></div>
<p><label>epochs <input id="epochs" type="number" min="1"></label>
<label>batch size <input id="batch-size" type="number" min="1"></label>
<label>learning rate <input id="lr" type="number" step="any"></label>
<button id="start">Start</button> <button id="pause">Pause</button>
<label>Load weights <input id="load" type="file" accept=".safetensors"></label>
<button id="save">Save weights</button></p>
<div>status: <span id="status">loading</span></div>
<progress id="progress" value="0" max="1"></progress>
<div class="stats">step <span id="step">0</span> train loss <span id="train-loss">-</span>
test acc <span id="test-acc">-</span> img/s <span id="img-per-sec">-</span> ETA <span id="eta">-</span></div>
<div id="curves"></div>
<h3>Test images: prediction (true class when wrong)</h3>
<div id="grid"></div>
<script>window.DEMO = ${JSON.stringify(config)};</script>
<script type="module" src="demo.js"></script>
</body></html>
`;

export interface DemoServer {
  url: string;
  dataDir: string;
  close(): Promise<void>;
}

/** Builds the page and serves it with the data; port 0 picks a free one. */
export async function startDemoServer(opts: { port?: number; dataDir?: string } = {}): Promise<DemoServer> {
  const dataDir = await locateCifar10({ dataDir: opts.dataDir });
  const js = await buildPage();
  const html = HTML({ defaults: DEFAULTS, trainFiles: TRAIN_FILES, testFiles: TEST_FILES });
  const files = new Set<string>([...TRAIN_FILES, ...TEST_FILES]);
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const send = (status: number, type: string, body: string | Uint8Array) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (path === '/' || path === '/index.html') return send(200, 'text/html; charset=utf-8', html);
    if (path === '/demo.js') return send(200, 'text/javascript; charset=utf-8', js);
    const name = path.startsWith('/data/') ? path.slice(6) : '';
    if (files.has(name)) return send(200, 'application/octet-stream', readFileSync(join(dataDir, name)));
    send(404, 'text/plain', `not found: ${path}`);
  });
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(opts.port ?? 0, '127.0.0.1', () => res());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  return {
    url: `http://localhost:${port}/`,
    dataDir,
    close: () => new Promise((res) => server.close(() => res())),
  };
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { port: { type: 'string' }, 'data-dir': { type: 'string' }, help: { type: 'boolean' } },
  });
  if (values.help) {
    console.log('pnpm demo [--port N] [--data-dir DIR]   serve the browser demo (open the URL in a WebGPU browser)');
    return;
  }
  const port = values.port === undefined ? 8080 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`demo: --port must be 0..65535, got ${values.port}`);
  const s = await startDemoServer({ port, dataDir: values['data-dir'] });
  console.log(`data: ${s.dataDir} (verified)\ndemo: ${s.url}  (Ctrl-C stops)`);
}

// Run as `pnpm demo` (scripts/run-ts.mjs sets argv[1] to the bundle of this file).
if (/serve\.(ts|mjs)$/.test(process.argv[1] ?? '')) {
  main(process.argv.slice(2)).catch((e) => {
    console.error((e as Error).message);
    process.exit(1);
  });
}
