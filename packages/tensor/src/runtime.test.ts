import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  getRuntime,
  runtime,
  Tensor,
  ShapeError,
  type KernelSource,
  parseSafetensors,
  serializeSafetensors,
  Rng,
  sizeClass,
  SubmitPacer,
} from './index.js';
import { readSafetensors, writeSafetensors } from './node-files.js';

// PyTorch's fixtures: the repository's, and ../shared's beside the checkout where it exists.
const FIXTURE_DIRS = ['test/fixtures', '../shared/fixtures'].filter(
  (d, i) => i === 0 || existsSync(join(import.meta.dirname, '../../..', d)),
);

const addOne: KernelSource = {
  name: 'test.addOne',
  storage: ['read', 'read_write'],
  code: /* wgsl */ `
struct Params { n: u32, value: f32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) {
  if (g.x < params.n) { y[g.x] = x[g.x] + params.value; }
}`,
};

function addScalar(x: Tensor, v: number): Tensor {
  const y = Tensor.empty(x.shape, 'f32', 'addOne');
  const p = new ArrayBuffer(8);
  new Uint32Array(p, 0, 1)[0] = x.size;
  new Float32Array(p, 4, 1)[0] = v;
  runtime().dispatcher.dispatch(addOne, [x.binding(), y.binding()], [Math.ceil(x.size / 64)], new Uint8Array(p));
  return y;
}

beforeAll(async () => {
  await getRuntime();
});

describe('device', () => {
  it('reports the adapter with real limits', () => {
    const r = runtime().report;
    expect(r.description.length + r.vendor.length).toBeGreaterThan(0);
    // The default storage binding limit is 128 MiB; we ask for what the adapter offers.
    expect(runtime().limits.maxStorageBufferBindingSize).toBe(r.limits.maxStorageBufferBindingSize);
    expect(r.limits.maxComputeWorkgroupStorageSize).toBeGreaterThanOrEqual(16384);
  });
});

describe('tensors', () => {
  for (const dtype of ['f32', 'i32', 'u32'] as const) {
    for (const n of [1, 3, 1000003]) {
      it(`round-trips ${n} ${dtype} values`, async () => {
        const Ctor = dtype === 'f32' ? Float32Array : dtype === 'i32' ? Int32Array : Uint32Array;
        const data = new Ctor(n);
        for (let i = 0; i < n; i++) data[i] = dtype === 'f32' ? i * 0.5 - 7.25 : dtype === 'i32' ? i - 5 : i * 3;
        const t = Tensor.fromArray(data, [n], dtype);
        const back = await t.toArray();
        expect(back).toBeInstanceOf(Ctor);
        // byte comparison: vitest's deep equality takes seconds on a million elements
        expect(
          Buffer.compare(Buffer.from(back.buffer, back.byteOffset, back.byteLength), Buffer.from(data.buffer)),
        ).toBe(0);
        t.dispose();
      });
    }
  }

  it('zeros, ones, full, reshape, clone', async () => {
    expect(Array.from(await Tensor.zeros([2, 3]).toArray())).toEqual([0, 0, 0, 0, 0, 0]);
    expect(Array.from(await Tensor.ones([3], 'i32').toArray())).toEqual([1, 1, 1]);
    const f = Tensor.full([2, 2], 2.5);
    const r = f.reshape([4, -1]);
    expect(r.shape).toEqual([4, 1]);
    f.dispose();
    expect(Array.from(await r.toArray())).toEqual([2.5, 2.5, 2.5, 2.5]); // the view keeps the buffer
    const c = r.clone();
    r.dispose();
    expect(Array.from(await c.toArray())).toEqual([2.5, 2.5, 2.5, 2.5]);
  });

  it('seeded random tensors are reproducible with sensible moments', async () => {
    const a = await Tensor.randn([10000], { seed: 7 }).toArray();
    const b = await Tensor.randn([10000], { seed: 7 }).toArray();
    expect(a).toEqual(b);
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    const varr = a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length;
    expect(Math.abs(mean)).toBeLessThan(0.05);
    expect(Math.abs(varr - 1)).toBeLessThan(0.05);
    const u = await Tensor.rand([1000], { seed: 1, low: 2, high: 3 }).toArray();
    expect(Math.min(...u)).toBeGreaterThanOrEqual(2);
    expect(Math.max(...u)).toBeLessThan(3);
  });

  it('rng state saves and restores', () => {
    const r = new Rng(3);
    r.normal();
    const s = r.getState();
    const x = [r.next(), r.normal(), r.int(10)];
    const r2 = new Rng(99);
    r2.setState(s);
    expect([r2.next(), r2.normal(), r2.int(10)]).toEqual(x);
  });

  it('bad shapes and use after dispose are clear errors', async () => {
    expect(() => Tensor.fromArray([1, 2, 3], [2, 2])).toThrow(/3 elements but shape \[2, 2\] needs 4/);
    expect(() => Tensor.zeros([2, -1])).toThrow(ShapeError);
    expect(() => Tensor.zeros([2, 1.5])).toThrow(/non-negative integer/);
    const t = Tensor.ones([2, 3]);
    expect(() => t.reshape([4])).toThrow(/cannot view \[2, 3\]/);
    t.dispose();
    await expect(t.toArray()).rejects.toThrow(/tensor \[2, 3\] f32 .* used after dispose/);
  });
});

describe('dispatch and pool', () => {
  it('many ops, one submit batch, one readback', async () => {
    const d = runtime().dispatcher;
    const before = { ...d.counters };
    let x: Tensor = Tensor.zeros([1000]);
    for (let i = 0; i < 200; i++) {
      const y = addScalar(x, 1);
      x.dispose();
      x = y;
    }
    const out = await x.toArray();
    expect(out.every((v) => v === 200)).toBe(true);
    expect(d.counters.dispatches - before.dispatches).toBe(200);
    expect(d.counters.readbacks - before.readbacks).toBe(1);
    expect(d.counters.submits - before.submits).toBe(1);
    x.dispose();
  });

  it('reuses buffers: no growth over 10,000 allocate/dispose cycles', async () => {
    const pool = runtime().pool;
    // warm up the size classes
    for (const n of [17, 4096, 100000]) Tensor.empty([n]).dispose();
    runtime().flush();
    const start = pool.getStats();
    for (let i = 0; i < 10000; i++) {
      const n = [17, 4096, 100000][i % 3];
      const t = i % 2 ? Tensor.empty([n]) : Tensor.fromArray(new Float32Array(n));
      t.dispose();
      if (i % 100 === 0) runtime().flush();
    }
    runtime().flush();
    const end = pool.getStats();
    expect(end.created).toBe(start.created);
    expect(end.liveBytes).toBe(start.liveBytes);
  });

  it(
    'a per-step upload between kernel outputs reuses buffers ' +
      '(no growth over 3,000 steps, with or without submits)',
    async () => {
      const pool = runtime().pool;
      const step = () => {
        const x = Tensor.zeros([128]); // kernel outputs of the same size class...
        const y = addScalar(x, 1);
        const z = addScalar(y, 1);
        const labels = Tensor.fromArray(new Int32Array(128), [128], 'i32'); // ...and an upload, every step
        x.dispose();
        y.dispose();
        labels.dispose();
        z.dispose();
      };
      for (let i = 0; i < 10; i++) step();
      runtime().flush();
      const created = pool.getStats().created;
      for (let i = 0; i < 3000; i++) {
        step();
        if (i < 1500) runtime().flush(); // a submit per step, then none (the dispatcher's own batching)
      }
      await runtime().sync();
      expect(pool.getStats().created - created).toBeLessThanOrEqual(2);
    },
  );

  it('size classes waste at most a quarter', () => {
    for (const b of [1, 255, 257, 5000, 123457, 1e7]) {
      const c = sizeClass(b);
      expect(c).toBeGreaterThanOrEqual(b);
      expect(c).toBeLessThanOrEqual(Math.max(256, b * 1.25 + 256));
    }
  });

  it('a step that repeats its allocations reuses its bind groups (buffers come back in a canonical order)', () => {
    const rt = runtime();
    const x = Tensor.zeros([4096]);
    let created = 0;
    for (let step = 0; step < 12; step++) {
      if (step === 4) created = rt.dispatcher.counters.bindGroupsCreated;
      const a = addScalar(x, 1);
      const b = addScalar(a, 1);
      const c = addScalar(b, 1);
      const d = addScalar(c, 1);
      const e = addScalar(d, 1);
      // Released out of allocation order, as autograd releases saved tensors.
      for (const t of [b, e, a, d, c]) t.dispose();
      rt.flush();
    }
    expect(rt.dispatcher.counters.bindGroupsCreated - created).toBe(0);
    x.dispose();
  });

  it('a kernel with a wrong number of buffers is a clear error', () => {
    const x = Tensor.zeros([4]);
    expect(() => runtime().dispatcher.dispatch(addOne, [x.binding()], [1])).toThrow(
      /test.addOne' expects 2 storage buffers, got 1/,
    );
    x.dispose();
  });
});

// A kernel that keeps the GPU busy for a while: `iters` dependent FMAs per invocation.
const busyLoop: KernelSource = {
  name: 'test.busyLoop',
  storage: ['read_write'],
  code: /* wgsl */ `
struct Params { iters: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) {
  var a = f32(g.x) * 1e-6;
  for (var i = 0u; i < params.iters; i++) { a = a * 0.999 + 1e-3; }
  y[g.x] = a;
}`,
};

describe('waiting for the GPU', () => {
  it('polls the device every millisecond instead of spinning the main thread, and restores setImmediate', async () => {
    const rt = runtime();
    const native = globalThis.setImmediate;
    let polls = 0;
    const counting = ((fn: (...a: unknown[]) => void, ...a: unknown[]) => {
      polls++;
      return native(fn, ...a);
    }) as unknown as typeof setImmediate;
    globalThis.setImmediate = counting;
    const y = Tensor.empty([64 * 512], 'f32', 'busy');
    try {
      const iters = new Uint32Array([rt.profile.software ? 20000 : 2_000_000]);
      for (let i = 0; i < 4; i++) rt.dispatcher.dispatch(busyLoop, [y.binding()], [512], iters);
      const t = performance.now();
      // Two waits at once: the throttle stays until both are done, then goes.
      await Promise.all([rt.sync(), y.toArray()]);
      const ms = performance.now() - t;
      expect(globalThis.setImmediate).toBe(counting);
      // Spinning re-arms setImmediate on every turn of the event loop: thousands of polls in
      // a wait this long. Throttled, only the first 2 ms use setImmediate.
      if (rt.profile.software) expect(ms).toBeGreaterThan(50);
      expect(polls).toBeLessThan(400);
    } finally {
      globalThis.setImmediate = native;
      y.dispose();
    }
  });
});

describe('submit pacing', () => {
  it('keeps at most `depth` submits in flight and drains on wait()', async () => {
    const rt = runtime();
    const y = Tensor.empty([64 * 64], 'f32', 'busy');
    const work = () => rt.dispatcher.dispatch(busyLoop, [y.binding()], [64], new Uint32Array([2000]));
    for (const depth of [1, 2, 3]) {
      const pacer = new SubmitPacer(rt, { depth });
      for (let i = 0; i < 5; i++) {
        await pacer.throttle();
        expect(pacer.pending).toBeLessThan(depth);
        work();
        pacer.submit();
        expect(pacer.pending).toBeLessThanOrEqual(depth);
      }
      expect(pacer.pending).toBe(depth);
      await pacer.wait();
      expect(pacer.pending).toBe(0);
    }
    expect(new SubmitPacer(rt).depth).toBe(rt.report.isSoftware ? 1 : 2);
    y.dispose();
  });
});

describe('safetensors', () => {
  it('round-trips F32, I32, U8 with metadata, atomically written', () => {
    const dir = mkdtempSync(join(tmpdir(), 'st-'));
    const path = join(dir, 'a.safetensors');
    const tensors = {
      w: { shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6.5]) },
      labels: { shape: [3], data: new Int32Array([-1, 0, 7]) },
      img: { shape: [1, 2], data: new Uint8Array([0, 255]) },
    };
    writeSafetensors(path, tensors, { note: 'hi' });
    expect(readdirSync(dir)).toEqual(['a.safetensors']);
    const back = readSafetensors(path);
    expect(back.metadata).toEqual({ note: 'hi' });
    for (const [k, v] of Object.entries(tensors)) {
      expect(back.tensors.get(k)!.shape).toEqual(v.shape);
      expect(Array.from(back.tensors.get(k)!.data as Float32Array)).toEqual(Array.from(v.data));
    }
    const bytes = serializeSafetensors(tensors);
    expect(() => parseSafetensors(bytes.subarray(0, bytes.length - 3), 'cut')).toThrow(/cut: tensor/);
  });

  for (const name of FIXTURE_DIRS)
    it(`reads every tensor of the fixtures in ${name}`, () => {
      const dir = join(import.meta.dirname, '../../..', name);
      const files = readdirSync(dir).filter((n) => n.endsWith('.safetensors'));
      expect(files.length).toBeGreaterThan(1);
      for (const f of files) {
        const file = readSafetensors(join(dir, f));
        expect(file.tensors.size).toBeGreaterThan(10);
        for (const [name, t] of file.tensors) {
          expect(['F32', 'F16', 'F64', 'I32', 'U8']).toContain(t.dtype);
          expect(t.data.length, name).toBe(t.shape.reduce((a, d) => a * d, 1));
        }
        // re-serialized bytes parse to the same tensors
        const again = parseSafetensors(serializeSafetensors(file.tensors));
        expect(again.tensors.size).toBe(file.tensors.size);
        expect(readFileSync(join(dir, f)).length).toBeGreaterThan(0);
      }
    });
});

afterAll(() => {
  runtime().destroy();
});
