// Pacing submits: how many steps may be in flight, how long one takes, and waiting for them
// without spinning.
//
// Every wait goes through waitQuietly (quiet-wait.ts), which stops dawn.node from spinning the
// main thread while the GPU works. The pacer bounds the submits in flight and learns how long
// one takes: it sleeps (a timer, no CPU, no device polls) for most of that time and only then
// asks Dawn.

import type { Runtime } from './device.js';
import { waitQuietly } from './quiet-wait.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface InFlight {
  /** When it was submitted (performance.now()). */
  at: number;
  /** Its completion, asked for at submit time where more than one submit may be in flight. */
  done?: Promise<void>;
}

/** How a {@link SubmitPacer} paces submits. */
export interface PacerOptions {
  /** Fraction of the expected duration slept before asking Dawn (default 0.9). */
  sleepFraction?: number;
  /** Submits allowed in flight before throttle() waits (default: the runtime profile's submitDepth). */
  depth?: number;
}

/**
 * Bounds the submits in flight and waits for them without spinning: it learns how long a
 * submit takes, sleeps (a timer) for most of that, then asks the device. A training loop calls
 * `throttle()` before recording a step and `submit()` after it; `wait()` before reading results.
 */
export class SubmitPacer {
  private readonly inFlight: InFlight[] = [];
  private expectedMs = 0;
  private readonly sleepFraction: number;
  /** Submits allowed in flight before throttle() waits. */
  readonly depth: number;

  constructor(
    private readonly rt: Runtime,
    opts: PacerOptions = {},
  ) {
    this.sleepFraction = opts.sleepFraction ?? 0.9;
    this.depth = Math.max(1, opts.depth ?? rt.profile.submitDepth);
  }

  /** Submits everything recorded so far and starts timing it. */
  submit(): void {
    this.rt.flush();
    // onSubmittedWorkDone covers all work submitted so far, so it is asked for now when a
    // later submit may follow before this one is waited on.
    const done = this.depth > 1 ? waitQuietly(this.rt.device.queue.onSubmittedWorkDone()) : undefined;
    this.inFlight.push({ at: performance.now(), done });
  }

  /** Waits until fewer than `depth` submits are in flight (before submitting another). */
  async throttle(): Promise<void> {
    while (this.inFlight.length >= this.depth) await this.retireOldest();
  }

  /** Waits until everything submitted through the pacer is done, sleeping rather than spinning. */
  async wait(): Promise<void> {
    while (this.inFlight.length) await this.retireOldest();
  }

  private async retireOldest(): Promise<void> {
    const f = this.inFlight[0];
    const wakeAt = f.at + this.expectedMs * this.sleepFraction;
    const now = performance.now();
    if (wakeAt - now > 1) await sleep(wakeAt - now);
    await (f.done ?? waitQuietly(this.rt.device.queue.onSubmittedWorkDone()));
    const took = performance.now() - f.at;
    // Converges from above too: when the work got shorter, `took` is the sleep plus a tick.
    this.expectedMs = this.expectedMs === 0 ? took : 0.7 * this.expectedMs + 0.3 * took;
    this.inFlight.shift();
    this.rt.checkErrors();
  }

  /** Submits not yet waited for. */
  get pending(): number {
    return this.inFlight.length;
  }

  /** The learned duration from a submit to its completion, in ms. */
  get expected(): number {
    return this.expectedMs;
  }
}
