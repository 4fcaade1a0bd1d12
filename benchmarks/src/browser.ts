// `pnpm bench --browser`: ResNet20 training images/s in a page of headless Chromium beside
// Node's, by the same code (browser-steps.ts) on the same adapter: lavapipe in both where
// test/browser/chromium.ts can put Chromium's WebGPU on it (else the browser's own, SwiftShader
// here, which the table names). Batch 128 (the trainer's) and batch 8 (fixed cost per step).
// Writes benchmarks/results/browser.json unless --json names another file. Each timed run has
// its own model and comes after a throwaway run of WARMUP_STEPS (see there).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describeAdapter, getRuntime } from '@wgtorch/tensor';
import { writeFileAtomic } from '@wgtorch/tensor/node';
import { TRAIN_DEFAULTS } from '@wgtorch/resnet20';
import { launchChromium } from '../../test/browser/chromium.js';
import { serveChecks } from '../../test/browser/harness.js';
import { timeTraining, type StepTiming } from './browser-steps.js';

export interface BrowserBenchReport {
  date: string;
  node: { adapter: string; runs: StepTiming[] };
  browser: { adapter: string; chromium: string; via: string; runs: StepTiming[] };
}

const SELF = 'benchmarks/src/browser.ts';
/**
 * Each timed run follows a throwaway one with its own model: in a fresh page the first model's
 * steps stay several times slower for its first ~10 s (not pipelines or buffers: none are made
 * then; the GPU process itself), which would otherwise dominate a short run.
 */
const WARMUP_STEPS = 4;

/** The repository root (this file may run bundled under .cache/run). */
function repoRoot(): string {
  for (let dir = import.meta.dirname; ; dir = dirname(dir)) {
    if (existsSync(join(dir, SELF))) return dir;
    if (dirname(dir) === dir) throw new Error(`bench --browser: cannot find ${SELF} above ${import.meta.dirname}`);
  }
}

export async function runBrowserBench(opts: { quick: boolean; json?: string }): Promise<BrowserBenchReport> {
  const repo = repoRoot();
  const cases: [number, number][] = opts.quick
    ? [
        [128, 2],
        [8, 5],
      ]
    : [
        [128, 6],
        [8, 20],
      ];
  const cfg = { ...TRAIN_DEFAULTS };

  const rt = await getRuntime();
  const node = { adapter: describeAdapter(rt.report), runs: [] as StepTiming[] };
  for (const [batch, steps] of cases) {
    await timeTraining(cfg, batch, WARMUP_STEPS);
    node.runs.push(await timeTraining(cfg, batch, steps));
  }

  const server = await serveChecks(join(repo, 'benchmarks/src/browser-page.ts'));
  const chromium = await launchChromium();
  let browser: BrowserBenchReport['browser'];
  try {
    const page = await chromium.newPage();
    await page.goto(server.url);
    await page.waitForFunction('window.bench !== undefined');
    type Bench = { adapter(): Promise<string>; time(c: typeof cfg, b: number, s: number): Promise<StepTiming> };
    const adapter = await page.evaluate(() => (window as unknown as { bench: Bench }).bench.adapter());
    const via = chromium.setup.adapter === 'lavapipe' ? 'lavapipe (test/browser/lavapipe-shim.c)' : 'as installed';
    browser = { adapter, chromium: chromium.setup.executable, via, runs: [] };
    const time = (batch: number, steps: number) =>
      page.evaluate((c, b, s) => (window as unknown as { bench: Bench }).bench.time(c, b, s), cfg, batch, steps);
    for (const [batch, steps] of cases) {
      await time(batch, WARMUP_STEPS);
      browser.runs.push(await time(batch, steps));
    }
    if (chromium.errors.length) throw new Error(`page errors: ${chromium.errors.join('\n')}`);
  } finally {
    await chromium.close();
    await server.close();
  }

  const report: BrowserBenchReport = { date: new Date().toISOString(), node, browser };
  console.log(`Node:     ${node.adapter}`);
  console.log(`Chromium: ${browser.adapter} (${browser.via}${chromium.setup.why ? `: ${chromium.setup.why}` : ''})`);
  console.log('training step       Node img/s  page img/s  page/Node   Node host ms  page host ms  dispatches');
  node.runs.forEach((n, i) => {
    const b = browser.runs[i];
    console.log(
      [
        `ResNet20 batch ${n.batch}`.padEnd(18),
        n.imgPerSec.toFixed(1).padStart(11),
        b.imgPerSec.toFixed(1).padStart(11),
        (b.imgPerSec / n.imgPerSec).toFixed(2).padStart(10),
        n.hostMs.toFixed(0).padStart(14),
        b.hostMs.toFixed(0).padStart(13),
        String(b.dispatches).padStart(11),
      ].join(' '),
    );
  });
  const out = opts.json ?? join(repo, 'benchmarks/results/browser.json');
  writeFileAtomic(out, JSON.stringify(report, null, 2) + '\n');
  console.log(`\nwrote ${out}`);
  return report;
}
