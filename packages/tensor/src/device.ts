// Acquiring the WebGPU device through Dawn's Node bindings (the `webgpu` package).
//
// One Runtime per process. The object returned by dawn.node's `create()` must stay referenced
// for the life of the process: once it is garbage-collected Dawn aborts a few hundred submits
// later with futex / pthread assertion errors. The module-level `current` keeps it alive.

import { BufferPool } from './pool.js';
import { Dispatcher } from './dispatch.js';
import { waitQuietly } from './quiet-wait.js';

/** What the chosen adapter is, as reported once at startup. */
export interface AdapterReport {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** True for CPU implementations such as Mesa's lavapipe (llvmpipe). */
  isSoftware: boolean;
  features: string[];
  limits: Record<string, number>;
  subgroupMinSize?: number;
  subgroupMaxSize?: number;
}

export interface RuntimeOptions {
  /** Substring of the adapter's name/description to pick (also `WEBGPU_ADAPTER`). */
  adapter?: string;
  /** 'high-performance' (default) or 'low-power'. */
  powerPreference?: GPUPowerPreference;
  /** Extra dawn.node flags, e.g. 'backend=vulkan'. */
  dawnFlags?: string[];
  /** Print the chosen adapter on stderr (default: false). */
  report?: boolean;
}

/** Raised when no WebGPU adapter can be found; the message says what to install. */
export class NoAdapterError extends Error {
  constructor(detail: string) {
    super(
      `No WebGPU adapter found${detail ? ` (${detail})` : ''}. ` +
        'On Linux without a GPU, install Mesa 24+ lavapipe: on Debian 12 as root run ' +
        "'node scripts/setup.mjs' (it adds bookworm-backports and installs mesa-vulkan-drivers); " +
        "on Ubuntu 24.04+ 'apt-get install mesa-vulkan-drivers'. With a GPU, install its Vulkan driver. " +
        'Set WEBGPU_ADAPTER to a substring of the adapter name to choose among several.',
    );
    this.name = 'NoAdapterError';
  }
}

/** The GPU device errors (validation, out-of-memory, device lost) surface as this. */
export class DeviceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeviceError';
  }
}

const WANTED_FEATURES: GPUFeatureName[] = ['timestamp-query', 'shader-f16', 'subgroups' as GPUFeatureName];
const WANTED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
] as const;

export class Runtime {
  readonly pool: BufferPool;
  readonly dispatcher: Dispatcher;
  /** Errors reported asynchronously by the device; thrown at the next sync point. */
  private pendingErrors: string[] = [];
  private lostReason: string | undefined;
  private destroyed = false;

  constructor(
    /** The object dawn.node's create() returned; held so it is never collected. */
    readonly gpu: GPU,
    readonly adapter: GPUAdapter,
    readonly device: GPUDevice,
    readonly report: AdapterReport,
  ) {
    this.pool = new BufferPool(device);
    this.dispatcher = new Dispatcher(this);
    device.onuncapturederror = (ev: GPUUncapturedErrorEvent) => {
      this.pendingErrors.push(ev.error.message);
    };
    void device.lost.then((info) => {
      if (!this.destroyed) this.lostReason = `${info.reason}: ${info.message}`;
    });
  }

  get features(): ReadonlySet<string> {
    return this.device.features as unknown as ReadonlySet<string>;
  }

  get limits(): GPUSupportedLimits {
    return this.device.limits;
  }

  hasFeature(name: string): boolean {
    return this.device.features.has(name);
  }

  /** Throws if the device was lost or reported an error since the last check. */
  checkErrors(): void {
    if (this.destroyed) throw new DeviceError('The WebGPU runtime was destroyed; call getRuntime() again.');
    if (this.lostReason) throw new DeviceError(`The GPU device was lost (${this.lostReason}).`);
    if (this.pendingErrors.length) {
      const errs = this.pendingErrors.splice(0);
      throw new DeviceError(`GPU error${errs.length > 1 ? 's' : ''}: ${errs.join('\n---\n')}`);
    }
  }

  /** Submits everything recorded so far. */
  flush(): void {
    this.dispatcher.flush();
  }

  /** Waits until the GPU has finished all submitted work, then reports device errors. */
  async sync(): Promise<void> {
    this.dispatcher.flush();
    await waitQuietly(this.device.queue.onSubmittedWorkDone());
    this.checkErrors();
  }

  /** Waits for the GPU, then destroys pooled (unused) buffers, e.g. between phases with different shapes. */
  async trim(): Promise<void> {
    await this.sync();
    this.dispatcher.forgetBindGroups();
    this.pool.trim();
  }

  get isDestroyed(): boolean {
    return this.destroyed;
  }

  /** Releases the device. Pending work is submitted first; the process can then exit. */
  destroy(): void {
    if (this.destroyed) return;
    try {
      this.dispatcher.flush();
    } catch {
      // a broken device still has to be released
    }
    this.destroyed = true;
    this.pool.destroyAll();
    this.device.destroy();
    if (current === this) current = undefined;
  }
}

let current: Runtime | undefined;
let pending: Promise<Runtime> | undefined;

/** The process-wide runtime, created on first use with the given options. */
export function getRuntime(options: RuntimeOptions = {}): Promise<Runtime> {
  if (current && !current.isDestroyed) return Promise.resolve(current);
  if (!pending) {
    pending = createRuntime(options).then(
      (rt) => {
        current = rt;
        pending = undefined;
        return rt;
      },
      (err) => {
        pending = undefined;
        throw err;
      },
    );
  }
  return pending;
}

/** The runtime created by getRuntime(); throws if there is none yet. */
export function runtime(): Runtime {
  if (!current || current.isDestroyed) {
    throw new DeviceError('No WebGPU runtime: await getRuntime() before creating tensors or running kernels.');
  }
  return current;
}

/** Destroys the process-wide runtime, if any. */
export function destroyRuntime(): void {
  current?.destroy();
  current = undefined;
}

async function loadDawn(): Promise<{ create: (flags: string[]) => GPU; globals: Record<string, unknown> }> {
  try {
    return (await import('webgpu')) as unknown as { create: (flags: string[]) => GPU; globals: Record<string, unknown> };
  } catch (err) {
    throw new NoAdapterError(`the 'webgpu' package (dawn.node) failed to load: ${(err as Error).message}`);
  }
}

async function createRuntime(options: RuntimeOptions): Promise<Runtime> {
  const { create, globals } = await loadDawn();
  // GPUBufferUsage, GPUMapMode, ... as globals, as in a browser.
  for (const [k, v] of Object.entries(globals)) {
    if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  }
  const wanted = options.adapter ?? process.env.WEBGPU_ADAPTER;
  const flags = [...(options.dawnFlags ?? [])];
  if (wanted) flags.push(`adapter=${wanted}`);
  // Keep GPU timestamps at full resolution for the per-op profile.
  flags.push('disable-dawn-features=timestamp_quantization');
  const gpu = create(flags);
  const adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
  if (!adapter) throw new NoAdapterError(wanted ? `none matches WEBGPU_ADAPTER='${wanted}'` : '');

  const info = adapter.info;
  const name = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`;
  if (wanted && !name.toLowerCase().includes(wanted.toLowerCase())) {
    throw new NoAdapterError(`the adapter found is '${name.trim()}', which does not match WEBGPU_ADAPTER='${wanted}'`);
  }
  const requiredFeatures = WANTED_FEATURES.filter((f) => adapter.features.has(f));
  // The default limits are far below what adapters offer (128 MiB bindings, 16 KiB workgroup memory).
  const requiredLimits: Record<string, number> = {};
  for (const k of WANTED_LIMITS) requiredLimits[k] = (adapter.limits as unknown as Record<string, number>)[k];
  const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });

  const limits: Record<string, number> = {};
  for (const k of WANTED_LIMITS) limits[k] = (device.limits as unknown as Record<string, number>)[k];
  const report: AdapterReport = {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    isSoftware: /llvmpipe|lavapipe|swiftshader|software/i.test(name),
    features: [...device.features].map(String).sort(),
    limits,
    subgroupMinSize: (info as unknown as { subgroupMinSize?: number }).subgroupMinSize,
    subgroupMaxSize: (info as unknown as { subgroupMaxSize?: number }).subgroupMaxSize,
  };
  const rt = new Runtime(gpu, adapter, device, report);
  if (options.report) process.stderr.write(`WebGPU adapter: ${describeAdapter(report)}\n`);
  return rt;
}

/** One line naming the adapter, e.g. "llvmpipe: Mesa 25.0.7 (software; subgroups, timestamp-query)". */
export function describeAdapter(r: AdapterReport): string {
  const name = r.description || `${r.vendor} ${r.device}`.trim() || 'unknown adapter';
  const feats = r.features.filter((f) => ['subgroups', 'shader-f16', 'timestamp-query'].includes(f));
  return `${name} [${r.vendor}/${r.architecture}]${r.isSoftware ? ' (software)' : ''}${feats.length ? `; ${feats.join(', ')}` : ''}`;
}
