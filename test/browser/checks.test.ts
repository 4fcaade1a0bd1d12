// In headless Chromium (on lavapipe where chromium.ts can set it up, see there): every kernel
// family against its float64 reference on awkward shapes, and the ResNet20 golden check from the
// fixture file's bytes, both in a page (checks-page.ts) built from the same sources as the Node
// tests' and nothing from node:*.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join, resolve } from 'node:path';
import type { Page } from 'puppeteer-core';
import type { CheckResult } from './checks-page.js';
import { browserSkipReason, launchChromium, type OpenBrowser } from './chromium.js';
import { serveChecks, type CheckServer } from './harness.js';

const repo = resolve(import.meta.dirname, '../..');
const skip = browserSkipReason();
if (skip) console.warn(`skipping the in-browser checks: ${skip}`);

type Checks = {
  families: string[];
  adapter(): Promise<string>;
  kernels(): Promise<CheckResult[]>;
  golden(url: string): Promise<{ ok: boolean; report: string }>;
  captured(): Promise<{ ok: boolean; report: string }>;
};

describe.skipIf(skip)('in headless Chromium', () => {
  let server: CheckServer;
  let chromium: OpenBrowser;
  let page: Page;

  beforeAll(async () => {
    server = await serveChecks(join(import.meta.dirname, 'checks-page.ts'), {
      'resnet20-golden-s0.safetensors': join(repo, 'test/fixtures/resnet20-golden-s0.safetensors'),
    });
    chromium = await launchChromium();
    page = await chromium.newPage();
    await page.goto(server.url);
    await page.waitForFunction('window.checks !== undefined');
    const adapter = await page.evaluate(() => (window as unknown as { checks: Checks }).checks.adapter());
    console.log(
      `browser adapter: ${adapter} (${chromium.setup.adapter}` +
        `${chromium.setup.why ? `: ${chromium.setup.why}` : ''})`,
    );
  });

  afterAll(async () => {
    await chromium?.close();
    await server?.close();
  });

  it('every kernel family matches its float64 reference on awkward shapes', async () => {
    const { results, families } = await page.evaluate(async () => {
      const c = (window as unknown as { checks: Checks }).checks;
      return { results: await c.kernels(), families: c.families };
    });
    for (const f of families) expect(results.filter((r) => r.family === f).length, f).toBeGreaterThan(0);
    const failed = results.filter((r) => !r.ok);
    expect(failed.map((r) => `${r.family} ${r.message}`).join('\n')).toBe('');
    expect(chromium.errors).toEqual([]);
    console.log(`${results.length} checks in ${families.length} kernel families passed in the page`);
  });

  it('ResNet20 matches the PyTorch golden values from the fixture bytes', async () => {
    const r = await page.evaluate(() =>
      (window as unknown as { checks: Checks }).checks.golden('files/resnet20-golden-s0.safetensors'),
    );
    expect(r.ok, r.report).toBe(true);
    expect(r.report).toMatch(/all \d+ tensors within tolerance/);
  });

  it("trains ResNet20 by the trainer's captured step exactly as by trainStep", async () => {
    const r = await page.evaluate(() => (window as unknown as { checks: Checks }).checks.captured());
    expect(r.report).toMatch(/^0 of \d+ parameters differ$/);
    expect(r.ok).toBe(true);
  });
});
