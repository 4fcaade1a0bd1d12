// Headless Chromium for the browser tests, driven with puppeteer-core (no browser download):
// Debian's chromium-headless-shell with WebGPU on Vulkan (lavapipe here, the GPU's driver
// elsewhere). Where it is missing the tests skip with what to install; under CI they fail.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';

/** The same variable and default as scripts/setup.mjs. */
export const CHROMIUM = process.env.WGTORCH_CHROMIUM || '/usr/bin/chromium-headless-shell';

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

export interface OpenBrowser {
  browser: Browser;
  /** A page that records console errors and uncaught exceptions into `errors`. */
  newPage(): Promise<Page>;
  errors: string[];
  close(): Promise<void>;
}

export async function launchChromium(): Promise<OpenBrowser> {
  const profile = mkdtempSync(join(tmpdir(), 'wgtorch-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--enable-unsafe-webgpu',
      '--enable-features=Vulkan',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      `--user-data-dir=${profile}`,
    ],
  });
  const errors: string[] = [];
  return {
    browser,
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
