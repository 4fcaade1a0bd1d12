// Pacing submits: knowing how long a unit of work takes, and waiting for it without spinning.
//
// Every wait goes through waitQuietly (quiet-wait.ts), which stops dawn.node from spinning the
// main thread while the GPU works. The pacer adds a learned expectation of how long one submit
// takes: it sleeps (a timer, no CPU, no device polls) for most of that time and only then asks
// Dawn. The trainer uses the expectation to time its steps.

import type { Runtime } from './device.js';
import { waitQuietly } from './quiet-wait.js';

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
    await waitQuietly(this.rt.device.queue.onSubmittedWorkDone());
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
