// Where Chromium is missing the browser tests skip with what to install, except under CI, where
// they fail; setup.mjs --browser says the same and still exits 0 (the Node tests can run).
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { browserSkipReason } from './chromium.js';

const repo = resolve(import.meta.dirname, '../..');

describe('a missing Chromium', () => {
  it('skips the browser tests with what to install, and fails them under CI', () => {
    expect(browserSkipReason('/nonexistent/chromium', {})).toMatch(/apt-get install -y chromium-headless-shell/);
    expect(() => browserSkipReason('/nonexistent/chromium', { CI: 'true' })).toThrow(/cannot run under CI/);
    expect(browserSkipReason(process.execPath, { CI: 'true' })).toBeUndefined();
  });

  it('is reported by setup --browser where it cannot be installed', () => {
    const r = spawnSync(process.execPath, ['scripts/setup.mjs', '--browser'], {
      cwd: repo,
      encoding: 'utf8',
      env: { ...process.env, WGTORCH_CHROMIUM: '/nonexistent/chromium', WGTORCH_SETUP_NO_INSTALL: '1' },
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain('/nonexistent/chromium) is missing');
    expect(r.stderr).toContain('apt-get install -y chromium-headless-shell');
  });
});
