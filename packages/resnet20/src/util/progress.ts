// A small terminal progress bar. On a TTY it redraws one line with \r; elsewhere (CI logs,
// files) it prints a line now and then (every 10% or 30 s) so logs stay short.
//
//   epoch 3 [##########----------]  51% 25.6k/50.0k  921 img/s  ETA 0:26  loss 0.912  acc 68.1%

export type Metrics = Record<string, number | string>;

export interface ProgressOptions {
  /** Units of work in all (images, bytes, ...); 0 or undefined for unknown. */
  total?: number;
  /** Text before the bar, e.g. 'epoch 3'. */
  label?: string;
  /** 'img' (default) shows counts and img/s; 'B' shows MB and MB/s. Any other word is used as is. */
  unit?: string;
  /** Where to draw (default process.stderr). */
  stream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** Force TTY or plain-line mode (default: stream.isTTY). */
  tty?: boolean;
  /** Least time between TTY redraws (default 100 ms). */
  redrawMs?: number;
  /** Non-TTY: print a line every this many ms at most... (default 30000) */
  lineMs?: number;
  /** Non-TTY: no lines before this many ms have passed, so short tasks print only the final line (default 2000). */
  quietMs?: number;
  /** ...or whenever this fraction more is done (default 0.1). */
  lineFraction?: number;
  /** Width of the bar in characters (default 20). */
  width?: number;
  /** Clock in ms (tests). */
  now?: () => number;
}

/** 1234567 -> '1.23M', 5120 -> '5.1k', 12 -> '12'. */
export function formatCount(n: number): string {
  const a = Math.abs(n);
  if (a >= 1e9) return `${(n / 1e9).toFixed(2)}G`;
  if (a >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (a >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return `${Math.round(n)}`;
}

/** Seconds as m:ss or h:mm:ss. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

function formatMetric(v: number | string): string {
  if (typeof v === 'string') return v;
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2);
  return a >= 100 ? v.toFixed(1) : v.toFixed(a >= 10 ? 2 : 3);
}

export class ProgressBar {
  private readonly opts: Required<Omit<ProgressOptions, 'total' | 'stream' | 'tty' | 'now'>>;
  private readonly stream: NonNullable<ProgressOptions['stream']>;
  private readonly isTTY: boolean;
  private readonly now: () => number;
  private readonly start: number;
  total: number;
  private done = 0;
  private metrics: Metrics = {};
  /** Recent (time, done) samples for the rate. */
  private samples: [number, number][] = [];
  private lastDraw = -Infinity;
  private lastLineTime: number;
  private lastLineDone = 0;
  private drawnWidth = 0;
  private finished = false;

  constructor(opts: ProgressOptions = {}) {
    this.opts = {
      label: opts.label ?? '',
      unit: opts.unit ?? 'img',
      redrawMs: opts.redrawMs ?? 100,
      lineMs: opts.lineMs ?? 30000,
      quietMs: opts.quietMs ?? 2000,
      lineFraction: opts.lineFraction ?? 0.1,
      width: opts.width ?? 20,
    };
    this.stream = opts.stream ?? process.stderr;
    this.isTTY = opts.tty ?? Boolean(this.stream.isTTY);
    this.now = opts.now ?? (() => performance.now());
    this.total = opts.total ?? 0;
    this.start = this.now();
    this.lastLineTime = this.start;
    this.samples.push([this.start, 0]);
  }

  /** Work per second over the last ~10 s (the whole run when shorter). */
  get rate(): number {
    const t = this.now();
    const s = this.samples;
    while (s.length > 2 && t - s[1][0] > 10000) s.shift();
    const [t0, d0] = s[0];
    const dt = (t - t0) / 1000;
    return dt > 0 ? (this.done - d0) / dt : 0;
  }

  get elapsedSeconds(): number {
    return (this.now() - this.start) / 1000;
  }

  get value(): number {
    return this.done;
  }

  /** Sets the amount done and (optionally) the metrics shown; redraws when due. */
  update(done: number, metrics?: Metrics): void {
    this.done = done;
    if (metrics) this.metrics = { ...this.metrics, ...metrics };
    const t = this.now();
    const last = this.samples[this.samples.length - 1];
    if (t - last[0] >= 250) this.samples.push([t, done]);
    if (this.isTTY) {
      if (t - this.lastDraw >= this.opts.redrawMs) this.draw(t);
    } else {
      const frac = this.total > 0 ? (done - this.lastLineDone) / this.total : 0;
      const due = t - this.lastLineTime >= this.opts.lineMs || frac >= this.opts.lineFraction;
      if (due && t - this.start >= this.opts.quietMs) {
        this.stream.write(this.line() + '\n');
        this.lastLineTime = t;
        this.lastLineDone = done;
      }
    }
  }

  /** Adds `n` to the amount done. */
  tick(n = 1, metrics?: Metrics): void {
    this.update(this.done + n, metrics);
  }

  /** Prints a line above the bar without breaking it. */
  log(text: string): void {
    if (this.isTTY && this.drawnWidth > 0) {
      this.stream.write(`\r${' '.repeat(this.drawnWidth)}\r${text}\n`);
      this.drawnWidth = 0;
      if (!this.finished) this.draw(this.now());
    } else {
      this.stream.write(text + '\n');
    }
  }

  /** Draws the final state and ends the line. */
  finish(metrics?: Metrics): void {
    if (this.finished) return;
    if (metrics) this.metrics = { ...this.metrics, ...metrics };
    this.finished = true;
    if (this.isTTY) {
      this.draw(this.now());
      this.stream.write('\n');
    } else {
      this.stream.write(this.line(true) + '\n');
    }
    this.drawnWidth = 0;
  }

  /** Removes the bar from a TTY line without printing a final state (e.g. on error). */
  clear(): void {
    if (this.isTTY && this.drawnWidth > 0) this.stream.write(`\r${' '.repeat(this.drawnWidth)}\r`);
    this.drawnWidth = 0;
    this.finished = true;
  }

  /** The text of the bar (without \r). */
  line(final = false): string {
    const { label, unit, width } = this.opts;
    const parts: string[] = [];
    if (label) parts.push(label);
    const bytes = unit === 'B';
    const amount = (n: number) => (bytes ? `${(n / 1e6).toFixed(1)}` : formatCount(n));
    if (this.total > 0) {
      const frac = Math.min(1, Math.max(0, this.done / this.total));
      const filled = Math.round(frac * width);
      parts.push(`[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${(frac * 100).toFixed(0).padStart(3)}%`);
      parts.push(`${amount(this.done)}/${amount(this.total)}${bytes ? ' MB' : ''}`);
    } else {
      parts.push(`${amount(this.done)}${bytes ? ' MB' : ` ${unit}`}`);
    }
    const elapsed = this.elapsedSeconds;
    const rate = final && elapsed > 0 ? this.done / elapsed : this.rate;
    parts.push(bytes ? `${(rate / 1e6).toFixed(1)} MB/s` : `${formatCount(rate)} ${unit}/s`);
    if (final) parts.push(`in ${formatDuration(elapsed)}`);
    else if (this.total > 0 && rate > 0) parts.push(`ETA ${formatDuration((this.total - this.done) / rate)}`);
    for (const [k, v] of Object.entries(this.metrics)) parts.push(`${k} ${formatMetric(v)}`);
    return parts.join('  ');
  }

  private draw(t: number): void {
    this.lastDraw = t;
    let text = this.line();
    const cols = this.stream.columns;
    if (cols && text.length > cols - 1) text = text.slice(0, cols - 1);
    const padding = Math.max(0, this.drawnWidth - text.length);
    this.stream.write(`\r${text}${' '.repeat(padding)}`);
    this.drawnWidth = text.length;
  }
}
