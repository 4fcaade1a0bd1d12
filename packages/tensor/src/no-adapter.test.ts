// Without any Vulkan driver the runtime must fail with an error that says what to install.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';

const repo = resolve(import.meta.dirname, '../../..');

describe('no adapter', () => {
  it('getRuntime() explains what to install; setup.mjs says so too', () => {
    const env = { ...process.env, VK_DRIVER_FILES: '/nonexistent/icd.json', VK_ICD_FILENAMES: '/nonexistent/icd.json' };
    const r = spawnSync(
      process.execPath,
      [join(repo, 'scripts/run-ts.mjs'), 'packages/tensor/src/no-adapter.fixture.ts'],
      { cwd: repo, env, encoding: 'utf8', timeout: 60_000 },
    );
    expect(r.stdout).toMatch(/NoAdapterError: No WebGPU adapter found.*mesa-vulkan-drivers/s);
    // as a non-root user setup cannot install, and must say what to do instead
    const s = spawnSync(process.execPath, [join(repo, 'scripts/setup.mjs')], {
      cwd: repo,
      env: { ...env, WGTORCH_SETUP_NO_INSTALL: '1' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(s.status).toBe(1);
    expect(s.stderr).toMatch(/no WebGPU adapter found/);
    expect(s.stderr).toMatch(/bookworm-backports.*mesa-vulkan-drivers/s);
  });
});
