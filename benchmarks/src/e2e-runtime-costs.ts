// Runtime costs on the current adapter (the numbers in the foundation issue's note):
// recording cost per dispatch, readback latency, and main-thread CPU while waiting for the GPU,
// with dawn.node's spinning wait versus the SubmitPacer's sleep-then-poll.
// Run: node scripts/run-ts.mjs benchmarks/src/e2e-runtime-costs.ts
import { getRuntime, Tensor, SubmitPacer, type KernelSource } from '@wgtorch/tensor';
import { readFileSync } from 'node:fs';

const rt = await getRuntime({ report: true });
const mainThreadMs = () => {
  const f = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (+f[11] + +f[12]) * 10;
};

const k: KernelSource = {
  name: 'noop',
  storage: ['read_write'],
  code: `
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) {
  if (g.x == 0u) { y[0] = y[0] + 1.0; }
}`,
};
const big: KernelSource = {
  name: 'spin',
  storage: ['read_write'],
  code: `
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) {
  var a = f32(g.x);
  for (var i = 0u; i < 20000u; i++) { a = a * 1.0000001 + 0.5; }
  y[g.x] = a;
}`,
};
const t = Tensor.zeros([1 << 16]);
await t.toArray();
const d = rt.dispatcher;
// recording cost
for (let rep = 0; rep < 3; rep++) {
  let t0 = performance.now();
  for (let i = 0; i < 1000; i++) d.dispatch(k, [t.binding()], [1]);
  const rec = performance.now() - t0;
  t0 = performance.now();
  await t.toArray();
  const sub = performance.now() - t0;
  console.log(
    `1000 dispatches: record ${rec.toFixed(1)} ms (${rec.toFixed(2)} us/dispatch), ` +
      `submit+execute+readback ${sub.toFixed(1)} ms`,
  );
}
// readback latency, tiny
const one = Tensor.zeros([1]);
const lat: number[] = [];
for (let i = 0; i < 50; i++) {
  const t0 = performance.now();
  await one.toArray();
  lat.push(performance.now() - t0);
}
lat.sort((a, b) => a - b);
console.log(`readback of 4 bytes: median ${lat[25].toFixed(3)} ms, min ${lat[0].toFixed(3)}`);

// main-thread CPU while waiting for GPU work

const pacer = new SubmitPacer(rt);
for (const mode of ['spin', 'pacer']) {
  const m0 = mainThreadMs();
  const w0 = performance.now();
  for (let s = 0; s < 6; s++) {
    for (let i = 0; i < 2; i++) rt.dispatcher.dispatch(big, [t.binding()], [1024]);
    if (mode === 'spin') {
      rt.flush();
      await rt.device.queue.onSubmittedWorkDone();
    } else {
      pacer.submit();
      await pacer.wait();
    }
  }
  console.log(
    `${mode}: 6 waits in ${(performance.now() - w0).toFixed(0)} ms wall, main thread CPU ${mainThreadMs() - m0} ms`,
  );
}
rt.destroy();
