// How another project uses us: build and `pnpm pack` the workspace packages, install the
// tarballs into a scratch project outside the workspace, type-check a TypeScript consumer
// against the published .d.ts, and run examples/small-cnn.mjs with plain `node`.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const repo = resolve(import.meta.dirname, '../../..');
const packages = ['tensor', 'kernels-wgsl', 'autograd'];

function run(cmd: string, args: string[], cwd: string): string {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) failed: ${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}`);
  }
}

describe('packed packages', () => {
  it('install into a scratch project and run the README example with node', { timeout: 240_000 }, () => {
    const work = mkdtempSync(join(tmpdir(), 'wgtorch-pack-'));
    try {
      for (const p of packages) {
        const dir = join(repo, 'packages', p);
        run('pnpm', ['run', '--silent', 'build'], dir);
        run('pnpm', ['pack', '--pack-destination', work], dir);
      }
      const tarballs = readdirSync(work).filter((f) => f.endsWith('.tgz'));
      const tgz = (name: string) => `file:../${tarballs.find((f) => f.startsWith(`wgtorch-${name}-`))}`;
      expect(tarballs.length).toBe(packages.length);

      const app = join(work, 'app');
      mkdirSync(app);
      writeFileSync(
        join(app, 'package.json'),
        JSON.stringify({
          name: 'scratch',
          private: true,
          type: 'module',
          dependencies: { '@wgtorch/autograd': tgz('autograd') },
          // The tarballs depend on each other by version; point those at the tarballs too.
          pnpm: { overrides: { '@wgtorch/tensor': tgz('tensor'), '@wgtorch/kernels-wgsl': tgz('kernels-wgsl') } },
        }),
      );
      run('pnpm', ['install', '--prefer-offline', '--ignore-workspace'], app);

      // The published types are enough for a strict TypeScript consumer.
      writeFileSync(
        join(app, 'consumer.ts'),
        `import { Conv2d, BatchNorm2d, Sequential, SGD, OneCycleLR, crossEntropy, tidy, type Tensor } from '@wgtorch/autograd';
const m = new Sequential(new Conv2d(3, 4, 3), new BatchNorm2d(4));
const opt = new SGD(m.parameters(), { lr: 0.1, momentum: 0.9 });
const s: OneCycleLR = new OneCycleLR(opt, { maxLr: 0.1, totalSteps: 10 });
export const step = (x: Tensor, y: Int32Array): Tensor => tidy(() => crossEntropy(m.forward(x), y));
export { s };
`,
      );
      writeFileSync(
        join(app, 'tsconfig.json'),
        JSON.stringify({ compilerOptions: { strict: true, noEmit: true, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', types: [], skipLibCheck: true }, files: ['consumer.ts'] }),
      );
      const tsc = createRequire(join(repo, 'package.json')).resolve('typescript/bin/tsc');
      run(process.execPath, [tsc, '-p', 'tsconfig.json'], app);

      copyFileSync(join(repo, 'packages/autograd/examples/small-cnn.mjs'), join(app, 'small-cnn.mjs'));
      const out = run(process.execPath, ['small-cnn.mjs'], app);
      const losses = [...out.matchAll(/loss (\d+\.\d+)/g)].map((m) => Number(m[1]));
      expect(losses.length, out).toBeGreaterThanOrEqual(3);
      expect(losses[losses.length - 1], out).toBeLessThan(losses[0]);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
