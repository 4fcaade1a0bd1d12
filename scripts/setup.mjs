#!/usr/bin/env node
// Makes sure a WebGPU adapter is usable before tests, training or benchmarks run.
// 1. Probe: load dawn.node (the `webgpu` package) in a child process and ask for an adapter.
// 2. None on Debian/Ubuntu as root: install Mesa's lavapipe (Vulkan on the CPU). Dawn needs
//    Mesa 24+; Debian 12 (bookworm) has it only in bookworm-backports, which is added.
// 3. Probe again; otherwise print exactly what to install and exit 1.
// 4. With --browser (pnpm test): headless Chromium for the browser tests, installed the same way
//    (apt-get install chromium-headless-shell, and gcc for the lavapipe shim) where missing;
//    where it cannot be installed, say what to install (the browser tests then skip, or fail
//    under CI) and go on. The tests put Chromium's WebGPU on lavapipe themselves
//    (test/browser/chromium.ts, cached in .cache/).
// Set WGTORCH_SKIP_SETUP=1 to skip all of this.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

if (process.env.WGTORCH_SKIP_SETUP === '1') process.exit(0);

const probeCode = `
const { create } = await import('webgpu');
const gpu = create([${process.env.WEBGPU_ADAPTER ? `'adapter=' + process.env.WEBGPU_ADAPTER` : ''}]);
const a = await gpu.requestAdapter({ powerPreference: 'high-performance' });
if (!a) { console.log(JSON.stringify({ ok: false })); process.exit(0); }
const i = a.info;
console.log(
  JSON.stringify({ ok: true, name: (i.description || i.device || i.vendor), vendor: i.vendor, arch: i.architecture }),
);
process.exit(0);
`;

function probe() {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', probeCode], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  const line = (r.stdout || '').trim().split('\n').pop() || '';
  try {
    return JSON.parse(line);
  } catch {
    return {
      ok: false,
      error: (r.stderr || r.error?.message || 'probe failed').trim().split('\n').slice(0, 5).join('\n'),
    };
  }
}

function osRelease() {
  if (!existsSync('/etc/os-release')) return {};
  const out = {};
  for (const l of readFileSync('/etc/os-release', 'utf8').split('\n')) {
    const m = l.match(/^([A-Z_]+)=(.*)$/);
    if (m) out[m[1]] = m[2].replace(/^"|"$/g, '');
  }
  return out;
}

function run(cmd, args) {
  console.error(`setup: ${cmd} ${args.join(' ')}`);
  execFileSync(cmd, args, {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

/** The browser tests' Chromium (test/browser/chromium.ts reads the same variable and default). */
const CHROMIUM = process.env.WGTORCH_CHROMIUM || '/usr/bin/chromium-headless-shell';
const CHROMIUM_HOWTO =
  `Headless Chromium (${CHROMIUM}) is missing: the browser tests (test/browser) skip until it is installed ` +
  '(and fail when CI is set). On Debian or Ubuntu, as root: apt-get install -y chromium-headless-shell ' +
  '(or point WGTORCH_CHROMIUM at a Chromium with WebGPU). Then run this again (node scripts/setup.mjs --browser).';

/** apt-get, quietly: one line saying what is installed, the output only when it fails. */
function aptQuiet(args) {
  const r = spawnSync('apt-get', ['-qq', ...args], {
    encoding: 'utf8',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (r.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed:\n${(r.stdout || '') + (r.stderr || '')}`);
}

/** Whether a C compiler answers (test/browser/chromium.ts builds its lavapipe shim with it). */
function hasCompiler() {
  return spawnSync(process.env.CC || 'cc', ['--version']).status === 0;
}

/** Exits 0, after making sure of Chromium (and the C compiler its lavapipe shim needs) when --browser was given. */
function done() {
  if (!process.argv.includes('--browser') || (existsSync(CHROMIUM) && hasCompiler())) process.exit(0);
  const canInstall =
    process.platform === 'linux' &&
    existsSync('/etc/debian_version') &&
    process.getuid?.() === 0 &&
    process.env.WGTORCH_SETUP_NO_INSTALL !== '1';
  if (!canInstall) {
    if (!existsSync(CHROMIUM)) console.error(`setup: ${CHROMIUM_HOWTO}`);
    else
      console.error('setup: no C compiler (cc): the browser tests run Chromium on SwiftShader, slowly; install gcc.');
    process.exit(0);
  }
  // gcc and libc6-dev: the shim that puts Chromium's WebGPU on lavapipe is compiled on first use.
  const packages = [
    ...(existsSync(CHROMIUM) ? [] : ['chromium-headless-shell']),
    ...(hasCompiler() ? [] : ['gcc', 'libc6-dev']),
  ];
  console.error(`setup: installing ${packages.join(', ')} (apt-get) for the browser tests`);
  const install = ['install', '-y', '--no-install-recommends', ...packages];
  try {
    try {
      aptQuiet(install);
    } catch {
      aptQuiet(['update']);
      aptQuiet(install);
    }
  } catch (e) {
    console.error(`setup: ${e.message}`);
  }
  if (!existsSync(CHROMIUM)) console.error(`setup: ${CHROMIUM_HOWTO}`);
  process.exit(0);
}

let p = probe();
if (p.ok) {
  if (!process.env.WGTORCH_QUIET) console.error(`setup: WebGPU adapter: ${p.name} (${p.vendor}/${p.arch})`);
  done();
}
if (p.error && /Cannot find (package|module) 'webgpu'/.test(p.error)) {
  console.error("setup: the 'webgpu' package is not installed: run 'pnpm install' first.");
  process.exit(1);
}
console.error(`setup: no WebGPU adapter found${p.error ? ` (${p.error})` : ''}.`);

const os = osRelease();
const isDebianLike = existsSync('/etc/debian_version');
const isRoot = process.getuid?.() === 0;
const howTo =
  'Install a Vulkan driver with Mesa 24 or newer: on Debian 12, as root, add\n' +
  "  'deb http://deb.debian.org/debian bookworm-backports main' to /etc/apt/sources.list.d/backports.list, then\n" +
  '  apt-get update && apt-get install -y -t bookworm-backports mesa-vulkan-drivers\n' +
  'On Ubuntu 24.04+ or Debian 13: apt-get install -y mesa-vulkan-drivers. ' +
  'On Fedora: dnf install mesa-vulkan-drivers.\n' +
  'With a GPU, install its vendor Vulkan driver instead. Then run this again (node scripts/setup.mjs).';

// WGTORCH_SETUP_NO_INSTALL=1: report only (tests use it to see the message without installing).
if (process.platform !== 'linux' || !isDebianLike || !isRoot || process.env.WGTORCH_SETUP_NO_INSTALL === '1') {
  console.error(`setup: cannot install it automatically here (needs root on Debian/Ubuntu).\n${howTo}`);
  process.exit(1);
}

try {
  if (os.VERSION_CODENAME === 'bookworm') {
    const list = '/etc/apt/sources.list.d/wgtorch-bookworm-backports.list';
    const hasBackports =
      spawnSync('sh', ['-c', 'grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/'], {})
        .status === 0;
    if (!hasBackports) writeFileSync(list, 'deb http://deb.debian.org/debian bookworm-backports main\n');
    run('apt-get', ['update']);
    run('apt-get', [
      'install',
      '-y',
      '--no-install-recommends',
      '-t',
      'bookworm-backports',
      'mesa-vulkan-drivers',
      'libvulkan1',
    ]);
  } else {
    run('apt-get', ['update']);
    run('apt-get', ['install', '-y', '--no-install-recommends', 'mesa-vulkan-drivers', 'libvulkan1']);
  }
} catch (e) {
  console.error(`setup: installing Mesa's Vulkan drivers failed: ${e.message}\n${howTo}`);
  process.exit(1);
}

p = probe();
if (p.ok) {
  console.error(`setup: WebGPU adapter: ${p.name} (${p.vendor}/${p.arch})`);
  done();
}
console.error(`setup: still no WebGPU adapter after installing Mesa${p.error ? ` (${p.error})` : ''}.\n${howTo}`);
process.exit(1);
