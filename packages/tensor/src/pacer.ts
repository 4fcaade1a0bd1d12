// Waiting for the GPU without stealing a CPU core from it.
//
// dawn.node drives its asynchronous operations (mapAsync, onSubmittedWorkDone) by ticking the
// device from a setImmediate loop on the main thread for as long as one is pending: the main
// thread spins at 100% of a core while it waits. On lavapipe, where the "GPU" is the CPU's own
// cores, that takes about a third of the machine from the kernels (measured: 780 ms of main
// thread CPU while waiting 1237 ms for GPU work on 2 cores). The pacer sleeps (a timer, no CPU)
// for most of the expected duration of the work in flight and only then asks Dawn, so the
// spinning is limited to the last few percent. The expectation is learned from previous waits.

import type { Runtime } from './device.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class SubmitPacer {
  private submittedAt: number | undefined;
  private expectedMs = 0;
  /** Fraction of the expected duration slept before polling. */
  private readonly sleepFraction: number;

  constructor(
    private readonly rt: Runtime,
    opts: { sleepFraction?: number } = {},
  ) {
    this.sleepFraction = opts.sleepFraction ?? 0.9;
  }

  /** Submits everything recorded so far and starts timing it. */
  submit(): void {
    this.rt.flush();
    this.submittedAt = performance.now();
  }

  /** Waits until the work of the last submit() is done, sleeping rather than spinning. */
  async wait(): Promise<void> {
    if (this.submittedAt === undefined) return;
    const start = this.submittedAt;
    const wakeAt = start + this.expectedMs * this.sleepFraction;
    const now = performance.now();
    if (wakeAt - now > 1) await sleep(wakeAt - now);
    await this.rt.device.queue.onSubmittedWorkDone();
    const took = performance.now() - start;
    // Converges from above too: when the work got shorter, `took` is the sleep plus a tick.
    this.expectedMs = this.expectedMs === 0 ? took : 0.7 * this.expectedMs + 0.3 * took;
    this.submittedAt = undefined;
    this.rt.checkErrors();
  }

  /** The learned duration of one submitted unit of work, in ms. */
  get expected(): number {
    return this.expectedMs;
  }
}
