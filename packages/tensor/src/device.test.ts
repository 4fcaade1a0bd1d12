// Where getRuntime() gets its device: an application's own GPUDevice or GPU object,
// `navigator.gpu` as in a browser, or Dawn loaded lazily; and what a Node user without the
// `webgpu` package is told.
import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { create } from 'webgpu';
import { destroyRuntime, getRuntime, Tensor, waitQuietly } from './index.js';

const repo = resolve(import.meta.dirname, '../../..');
// dawn.node's GPU objects must stay referenced while devices made from them live.
const keep: GPU[] = [];
function dawnGpu(): GPU {
  const gpu = create([]);
  keep.push(gpu);
  return gpu;
}

/** A GPU object that counts requestAdapter calls, forwarding to Dawn. */
function countingGpu(): { gpu: GPU; calls: () => number } {
  const inner = dawnGpu();
  let n = 0;
  const gpu = {
    requestAdapter: (o?: GPURequestAdapterOptions) => (n++, inner.requestAdapter(o)),
    getPreferredCanvasFormat: () => inner.getPreferredCanvasFormat(),
    wgslLanguageFeatures: inner.wgslLanguageFeatures,
  } as unknown as GPU;
  return { gpu, calls: () => n };
}

async function roundTrip(): Promise<number[]> {
  const t = Tensor.fromArray([1.5, -2, 3], [3]);
  const back = Array.from(await t.toArray());
  t.dispose();
  return back;
}

afterEach(() => destroyRuntime());

describe('getRuntime', () => {
  it('uses a device the application passes, keeps its error handler and leaves it alive', async () => {
    const adapter = (await dawnGpu().requestAdapter())!;
    const device = await adapter.requestDevice();
    const appErrors: string[] = [];
    const appHandler = (ev: GPUUncapturedErrorEvent) => void appErrors.push(ev.error.message);
    device.onuncapturederror = appHandler;

    const rt = await getRuntime({ device });
    expect(rt.device).toBe(device);
    expect(rt.ownsDevice).toBe(false);
    expect(rt.report.description).toBe(adapter.info.description);
    expect(device.onuncapturederror).toBe(appHandler);
    expect(await roundTrip()).toEqual([1.5, -2, 3]);

    // Both the application and the runtime see the device's errors.
    device.createBuffer({ size: 4, usage: 0xffffffff });
    await expect(rt.sync()).rejects.toThrow(/GPU error.*invalid/s);
    expect(appErrors.length).toBe(1);

    destroyRuntime();
    // Still usable by the application: a buffer round trip through its own queue.
    const buf = device.createBuffer({ size: 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(buf, 0, new Float32Array([7]));
    await buf.mapAsync(GPUMapMode.READ);
    expect(new Float32Array(buf.getMappedRange())[0]).toBe(7);
    device.destroy();
  });

  it('requests the adapter from a GPU object the application passes', async () => {
    const { gpu, calls } = countingGpu();
    const rt = await getRuntime({ gpu });
    expect(calls()).toBe(1);
    expect(rt.gpu).toBe(gpu);
    expect(rt.ownsDevice).toBe(true);
    expect(await roundTrip()).toEqual([1.5, -2, 3]);
  });

  it('takes navigator.gpu by default, as in a browser', async () => {
    const { gpu, calls } = countingGpu();
    Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true });
    try {
      const rt = await getRuntime();
      expect(calls()).toBe(1);
      expect(rt.gpu).toBe(gpu);
    } finally {
      delete (globalThis as { navigator?: unknown }).navigator;
    }
  });

  it('rejects an adapter whose name does not match the one asked for', async () => {
    await expect(getRuntime({ gpu: dawnGpu(), adapter: 'no-such-adapter' })).rejects.toThrow(
      /does not match getRuntime's adapter 'no-such-adapter'/,
    );
  });

  it("tells a Node user without the 'webgpu' package what to install", () => {
    // Bundled outside the repository, the fixture cannot resolve `webgpu`.
    const dir = mkdtempSync(join(tmpdir(), 'wgtorch-nodawn-'));
    try {
      const out = join(dir, 'fixture.mjs');
      const b = spawnSync(
        process.execPath,
        [join(repo, 'scripts/run-ts.mjs'), '--bundle-only', out, 'packages/tensor/src/no-adapter.fixture.ts'],
        { cwd: repo, encoding: 'utf8' },
      );
      expect(b.status, b.stderr).toBe(0);
      const r = spawnSync(process.execPath, [out], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
      expect(r.stdout).toMatch(/NoAdapterError: .*'webgpu' package.* is not installed.*npm install webgpu/s);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('waitQuietly', () => {
  it('leaves the globals alone where there is no setImmediate (browsers)', async () => {
    const native = globalThis.setImmediate;
    delete (globalThis as { setImmediate?: unknown }).setImmediate;
    try {
      let release!: () => void;
      const op = new Promise<void>((r) => (release = r));
      const waited = waitQuietly(op);
      expect(globalThis.setImmediate).toBeUndefined();
      release();
      await waited;
    } finally {
      globalThis.setImmediate = native;
    }
  });
});
