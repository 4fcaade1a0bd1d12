/// <reference lib="dom" />
// The browser demo (`pnpm demo`) in headless Chromium on real CIFAR-10: one short epoch of 20
// steps through the page's Start button, with the same step code as `pnpm train`; the loss
// falls, the curves and the prediction grid appear, a screenshot is kept in
// benchmarks/results/browser-demo.png, and "Save weights" gives a file `pnpm resnet20 eval`
// accepts and "Load weights" classifies with.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Page } from 'puppeteer-core';
import { startDemoServer, type DemoServer } from '@wgtorch/resnet20/demo';
import { browserSkipReason, chromiumOnLavapipe, launchChromium, type OpenBrowser } from './chromium.js';

const repo = resolve(import.meta.dirname, '../..');
const skip = browserSkipReason();
if (skip) console.warn(`skipping the browser demo tests: ${skip}`);

const STEPS = 20;
// On lavapipe (chromium.ts) a step costs about as much at batch 32 as at 8; on SwiftShader, where
// chromium.ts cannot set lavapipe up, a step costs seconds even at batch 8.
const BATCH = !skip && chromiumOnLavapipe().adapter === 'lavapipe' ? 32 : 8;
const TEST_IMAGES = 64;
const SCREENSHOT = join(repo, 'benchmarks/results/browser-demo.png');

interface DemoState {
  status: string;
  losses: number[];
  stepsDone: number;
  imagesPerSec: number;
}

describe.skipIf(skip)('the browser demo in headless Chromium', () => {
  let server: DemoServer;
  let chromium: OpenBrowser;
  let page: Page;
  let work: string;
  const text = (id: string) => page.$eval(`#${id}`, (e) => e.textContent ?? '');
  const demo = () => page.evaluate(() => (window as unknown as { demo: DemoState }).demo);
  /** Polls #status from here until it leaves `before` for done or error (one long in-page wait would time out). */
  const settled = async (before = '') => {
    for (const end = Date.now() + 420_000; Date.now() < end; await new Promise((r) => setTimeout(r, 500))) {
      const s = await text('status');
      if (s !== before && /^(done|error)/.test(s)) return;
    }
    throw new Error(
      `the demo did not finish in 420 s: #status is '${await text('status')}', #step '${await text('step')}'`,
    );
  };

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'wgtorch-demo-'));
    server = await startDemoServer();
    chromium = await launchChromium();
    page = await chromium.newPage();
    await page.setViewport({ width: 900, height: 1000 });
    const query =
      `epochs=1&batch-size=${BATCH}&lr=0.05&steps-per-epoch=${STEPS}&log-every=1` +
      `&train-files=1&test-subset=${TEST_IMAGES}&autostart=1`;
    await page.goto(`${server.url}?${query}`);
    await settled();
  }, 480_000);

  afterAll(async () => {
    await chromium?.close();
    await server?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it(`trains ${STEPS} steps on real CIFAR-10 with a falling loss`, async () => {
    const status = await text('status');
    expect(status, `#status: ${status}; page errors: ${chromium.errors.join('\n')}`).toMatch(/^done/);
    const s = await demo();
    expect(s.stepsDone).toBe(STEPS);
    expect(s.losses).toHaveLength(STEPS);
    const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
    const [first, last] = [mean(s.losses.slice(0, 5)), mean(s.losses.slice(-5))];
    console.log(
      `browser: losses ${s.losses.map((l) => l.toFixed(3)).join(' ')}; ${s.imagesPerSec.toFixed(1)} img/s; ` +
        `adapter ${await text('adapter')}; test acc ${await text('test-acc')}`,
    );
    expect(first).toBeGreaterThan(2);
    expect(last, `mean loss of the last 5 steps vs the first 5`).toBeLessThan(first - 0.05);
    expect(await text('step')).toBe(`${STEPS} / ${STEPS}`);
    expect(Number(await text('img-per-sec'))).toBeGreaterThan(0);
    expect(await text('adapter')).not.toMatch(/^\??$/);
    expect(chromium.errors).toEqual([]);
  });

  it('shows the curves and the prediction grid, kept as a screenshot', async () => {
    expect(await page.$$eval('#curves polyline', (l) => l.length)).toBeGreaterThanOrEqual(2);
    const captions = await page.$$eval('#grid figcaption', (l) => l.map((c) => c.className));
    expect(captions).toHaveLength(32);
    expect(captions.every((c) => c === 'right' || c === 'wrong')).toBe(true);
    mkdirSync(join(repo, 'benchmarks/results'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT as `${string}.png`, fullPage: true });
    console.log(`screenshot: ${SCREENSHOT}`);
  });

  it('Save weights gives a file pnpm resnet20 eval accepts; Load weights classifies with it', async () => {
    const accuracy = await text('test-acc');
    const b64 = await page.evaluate(async () => {
      const bytes = await (window as unknown as { demo: { saveWeights(): Promise<Uint8Array> } }).demo.saveWeights();
      let s = '';
      for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      return btoa(s);
    });
    const file = join(work, 'browser.safetensors');
    writeFileSync(file, Buffer.from(b64, 'base64'));
    const out = execFileSync(
      process.execPath,
      [
        'scripts/run-ts.mjs',
        'packages/resnet20/src/cli.ts',
        'eval',
        '--checkpoint',
        file,
        '--test-subset',
        String(TEST_IMAGES),
      ],
      { cwd: repo, encoding: 'utf8', env: { ...process.env, CIFAR10_DIR: server.dataDir } },
    );
    // The same weights and test images on Dawn in Node and reloaded in the page: this barely trained model's
    // logits sit close together, so the two devices' rounding may flip a few predictions.
    const cli = out.match(/test accuracy: ([\d.]+)% \((\d+)\/(\d+)\)/);
    expect(cli, out).not.toBeNull();
    expect(Number(cli![3])).toBe(TEST_IMAGES);

    const input = await page.$('#load');
    await (input as unknown as { uploadFile(p: string): Promise<void> }).uploadFile(file);
    await settled(await text('status'));
    expect(await text('status')).toMatch(/^done: browser\.safetensors: /);
    // The same weights on the same device and images: exactly the accuracy the page had after training.
    expect(await text('test-acc')).toBe(accuracy);
    const reloaded = parseFloat(await text('test-acc'));
    expect(Math.abs(Number(cli![2]) - (reloaded / 100) * TEST_IMAGES)).toBeLessThanOrEqual(3);
    console.log(`test accuracy: ${accuracy} after training in the page, ${reloaded}% reloaded, ${cli![1]}% in Node`);
  }, 240_000);
});
