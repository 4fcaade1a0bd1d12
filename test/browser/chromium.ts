// Headless Chromium for the browser tests and `pnpm bench --browser`, driven with puppeteer-core
// (no browser download): Debian's chromium-headless-shell. Where it is missing the tests skip with
// what to install; under CI they fail.
//
// WebGPU on lavapipe: Chromium hands a page a CPU Vulkan adapter only if it is SwiftShader (see
// lavapipe-shim.c), so on a machine without a GPU its pages get SwiftShader, several times slower
// than Mesa's lavapipe, which the Node tests use. chromiumOnLavapipe() builds a folder that
// mirrors the browser's (links to its files, the binary hard-linked or copied, since Chromium
// finds its libraries beside /proc/self/exe) with lavapipe-shim.c compiled as libvk_swiftshader.so.
// It needs a C compiler and lavapipe; without them the browser runs as installed, on SwiftShader.
// WGTORCH_CHROMIUM_LAVAPIPE=0 turns it off; WGTORCH_CHROMIUM_ARGS adds browser flags (space-separated).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';

/** The same variable and default as scripts/setup.mjs. */
export const CHROMIUM = process.env.WGTORCH_CHROMIUM || '/usr/bin/chromium-headless-shell';
const SHIM_PATH = 'test/browser/lavapipe-shim.c';

/** The repository root: the folder above this file that holds test/browser/lavapipe-shim.c (also when bundled). */
function repoRoot(): string {
  for (let dir = import.meta.dirname; ; dir = dirname(dir)) {
    if (existsSync(join(dir, SHIM_PATH))) return dir;
    if (dirname(dir) === dir) throw new Error(`chromium: cannot find ${SHIM_PATH} above ${import.meta.dirname}`);
  }
}

/**
 * Why the browser tests cannot run here, or undefined when they can. Under CI a missing
 * Chromium throws instead: CI must run them.
 */
export function browserSkipReason(chromium = CHROMIUM, env = process.env): string | undefined {
  if (existsSync(chromium)) return undefined;
  const why =
    `${chromium} is missing: install it with 'apt-get install -y chromium-headless-shell' ` +
    "(as root on Debian or Ubuntu; 'node scripts/setup.mjs --browser' does it), or set WGTORCH_CHROMIUM.";
  if (env.CI) throw new Error(`browser tests cannot run under CI: ${why}`);
  return why;
}

/** The first bytes of a file, as latin1 text. */
function head(path: string, n: number): string {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(n);
    return b.subarray(0, readSync(fd, b, 0, n, 0)).toString('latin1');
  } finally {
    closeSync(fd);
  }
}

/** The browser binary behind `chromium`: itself, or the one a wrapper script (Debian's) runs. */
function browserBinary(chromium: string): string {
  const real = realpathSync(chromium);
  if (head(real, 2) !== '#!') return real;
  const script = readFileSync(real, 'utf8');
  for (const m of script.matchAll(/(\/[^\s"']+)/g)) {
    const p = m[1];
    if (basename(p) === basename(chromium) && existsSync(p) && head(p, 4) === '\x7fELF') return p;
  }
  throw new Error(`${chromium} is a script that runs no binary named ${basename(chromium)}; set WGTORCH_CHROMIUM`);
}

/** Mesa's lavapipe library from its Vulkan driver manifest, or undefined. */
function lavapipeLibrary(): string | undefined {
  for (const dir of ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d']) {
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir).filter((n) => /^lvp_icd.*\.json$/.test(n))) {
      const lib = (JSON.parse(readFileSync(join(dir, f), 'utf8')) as { ICD?: { library_path?: string } }).ICD
        ?.library_path;
      if (lib) return lib; // a bare name: dlopen searches for it as the Vulkan loader does
    }
  }
  return undefined;
}

export interface ChromiumSetup {
  /** The browser to launch. */
  executable: string;
  /** Its WebGPU adapter: 'lavapipe' through the shim, else whatever the browser picks (SwiftShader here). */
  adapter: 'lavapipe' | 'default';
  /** Why not lavapipe, when not. */
  why?: string;
}

let setup: ChromiumSetup | undefined;

/** The browser to launch: the lavapipe mirror where it can be built (cached in .cache/), else CHROMIUM. */
export function chromiumOnLavapipe(): ChromiumSetup {
  if (setup) return setup;
  const plain = (why: string): ChromiumSetup => (setup = { executable: CHROMIUM, adapter: 'default', why });
  if (process.env.WGTORCH_CHROMIUM_LAVAPIPE === '0') return plain('WGTORCH_CHROMIUM_LAVAPIPE=0');
  if (process.platform !== 'linux') return plain('the lavapipe shim is for Linux');
  const lavapipe = lavapipeLibrary();
  if (!lavapipe) return plain("Mesa's lavapipe is not installed (no lvp_icd*.json)");
  const cc = process.env.CC || 'cc';
  if (spawnSync(cc, ['--version']).status !== 0) return plain(`no C compiler (${cc}) to build lavapipe-shim.c`);
  const repo = repoRoot();
  const shim = join(repo, SHIM_PATH);
  const binary = browserBinary(CHROMIUM);
  const st = statSync(binary);
  const key = createHash('sha256')
    .update([readFileSync(shim, 'utf8'), binary, st.size, st.mtimeMs, lavapipe].join('\n'))
    .digest('hex')
    .slice(0, 16);
  const dir = join(repo, '.cache', 'chromium-lavapipe', key);
  const executable = join(dir, basename(binary));
  if (!existsSync(executable)) {
    mkdirSync(dirname(dir), { recursive: true });
    const tmp = mkdtempSync(`${dir}.tmp-`);
    const from = dirname(binary);
    for (const name of readdirSync(from)) {
      if (name === 'libvk_swiftshader.so' || name === basename(binary)) continue;
      symlinkSync(join(from, name), join(tmp, name));
    }
    const cmd = [cc, '-shared', '-fPIC', '-O2', `-DLAVAPIPE="${lavapipe}"`, '-o', join(tmp, 'libvk_swiftshader.so')];
    const r = spawnSync(cmd[0], [...cmd.slice(1), shim, '-ldl'], { encoding: 'utf8' });
    if (r.status !== 0) {
      rmSync(tmp, { recursive: true, force: true });
      return plain(`building lavapipe-shim.c failed: ${cmd.join(' ')}: ${r.stderr}`);
    }
    try {
      linkSync(binary, join(tmp, basename(binary)));
    } catch {
      copyFileSync(binary, join(tmp, basename(binary))); // another file system: a copy
    }
    // Another process may have built the same folder meanwhile: keep whichever came first.
    try {
      renameSync(tmp, dir);
    } catch {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  return (setup = { executable, adapter: 'lavapipe' });
}

export interface OpenBrowser {
  browser: Browser;
  /** How the browser was set up (which binary, which adapter). */
  setup: ChromiumSetup;
  /** A page that records console errors and uncaught exceptions into `errors`. */
  newPage(): Promise<Page>;
  errors: string[];
  close(): Promise<void>;
}

export async function launchChromium(): Promise<OpenBrowser> {
  const how = chromiumOnLavapipe();
  const profile = mkdtempSync(join(tmpdir(), 'wgtorch-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: how.executable,
    headless: true,
    args: [
      '--no-sandbox',
      '--enable-unsafe-webgpu',
      // The adapter's real description (e.g. llvmpipe) in GPUAdapterInfo, for #adapter and the reports.
      '--enable-webgpu-developer-features',
      // ANGLE (compositing, canvas) on the system's Vulkan driver rather than on the shim.
      ...(how.adapter === 'lavapipe' ? ['--use-angle=vulkan'] : ['--enable-features=Vulkan']),
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      ...(process.env.WGTORCH_CHROMIUM_ARGS?.split(' ').filter(Boolean) ?? []),
      `--user-data-dir=${profile}`,
    ],
  });
  const errors: string[] = [];
  return {
    browser,
    setup: how,
    errors,
    async newPage() {
      const page = await browser.newPage();
      page.on('pageerror', (e) => errors.push(String((e as Error).message ?? e)));
      page.on('console', (m) => void (m.type() === 'error' && errors.push(m.text())));
      return page;
    },
    async close() {
      await browser.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
