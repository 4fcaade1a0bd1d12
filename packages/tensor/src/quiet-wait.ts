// Waiting for the GPU without spinning a CPU core.
//
// While any asynchronous operation is pending (mapAsync, onSubmittedWorkDone, popErrorScope),
// dawn.node polls the device by re-arming `setImmediate` after every poll, so the main thread
// runs at 100% of a core until the work is done. On lavapipe the "GPU" is the CPU's own cores:
// on this 2-core machine the spin took a third of the machine from the kernels, and a ResNet20
// training step at batch 128 took 2.2 s instead of 1.3 s.
//
// dawn.node looks up the global `setImmediate` each time it re-arms (AsyncRunner.cpp:
// `env.Global().Get("setImmediate")`). While one of our waits is pending we install a version
// that keeps the real `setImmediate` for the first couple of milliseconds (a short readback is
// not slowed) and then polls once per millisecond with `setTimeout`. Only code that calls the
// global `setImmediate` during a wait sees the change (its callbacks run up to 1 ms later);
// Node's own internals do not use the global. `WGTORCH_GPU_WAIT=spin` turns this off.
// Browsers have no `setImmediate` and do not spin while a promise is pending: there the wait
// is the promise itself.

const SPIN_MS = 2;
const POLL_MS = 1;

let pending = 0;
let waitStart = 0;
let nativeSetImmediate: typeof setImmediate | undefined;

function enabled(): boolean {
  if (typeof globalThis.setImmediate !== 'function') return false;
  return typeof process === 'undefined' || process.env?.WGTORCH_GPU_WAIT !== 'spin';
}

function install(): void {
  const native = globalThis.setImmediate;
  nativeSetImmediate = native;
  waitStart = performance.now();
  const throttled = ((fn: (...args: unknown[]) => void, ...args: unknown[]) =>
    performance.now() - waitStart < SPIN_MS
      ? native(fn, ...args)
      : setTimeout(fn, POLL_MS, ...args)) as unknown as typeof setImmediate;
  globalThis.setImmediate = throttled;
}

function uninstall(): void {
  if (nativeSetImmediate) globalThis.setImmediate = nativeSetImmediate;
  nativeSetImmediate = undefined;
}

/**
 * Awaits a promise from a dawn.node asynchronous operation, polling the device once per
 * millisecond (after the first 2 ms) instead of spinning the main thread.
 */
export function waitQuietly<T>(operation: Promise<T>): Promise<T> {
  if (!enabled()) return operation;
  if (pending++ === 0) install();
  return operation.finally(() => {
    if (--pending === 0) uninstall();
  });
}
