/// <reference types="@webgpu/types" preserve="true" />
// Acquiring the WebGPU device. In a browser it comes from `navigator.gpu`; an application may
// pass its own `GPU` object or `GPUDevice` (shared with its rendering); in Node, with neither,
// Dawn's Node bindings (the optional `webgpu` package) are loaded on first use.
//
// One Runtime at a time. The object returned by dawn.node's `create()` must stay referenced
// for the life of the process: once it is garbage-collected Dawn aborts a few hundred submits
// later with futex / pthread assertion errors. `Runtime.gpu` keeps it alive.

import { BufferPool } from './pool.js';
import { Dispatcher } from './dispatch.js';
import { waitQuietly } from './quiet-wait.js';
import { DeviceError } from './errors.js';
import { adapterProfile, type AdapterProfile } from './profile.js';

export { DeviceError };

/** What the chosen adapter is, as reported once at startup. */
export interface AdapterReport {
  /** The adapter's vendor, e.g. "mesa" or "nvidia" (may be empty in a browser). */
  vendor: string;
  /** The adapter's architecture family, e.g. "llvm" or "ampere" (may be empty). */
  architecture: string;
  /** The adapter's device name (may be empty). */
  device: string;
  /** A human-readable description, e.g. "llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)" (may be empty). */
  description: string;
  /** True for CPU implementations such as Mesa's lavapipe (llvmpipe) or SwiftShader. */
  isSoftware: boolean;
  /** The features the device was created with, sorted. */
  features: string[];
  /** The device's limits that the kernels depend on (binding sizes, workgroup sizes). */
  limits: Record<string, number>;
  /** The adapter's smallest subgroup size, where it reports one. */
  subgroupMinSize?: number;
  /** The adapter's largest subgroup size, where it reports one. */
  subgroupMaxSize?: number;
}

/** How {@link getRuntime} finds its device. Every field is optional; the defaults suit both Node and browsers. */
export interface RuntimeOptions {
  /**
   * A device the application already has, e.g. the one it renders with. It is used as it is:
   * its limits and features are those it was created with (request the adapter's
   * `maxStorageBufferBindingSize`, `maxBufferSize` and `maxComputeWorkgroupStorageSize` for
   * large tensors), and {@link Runtime.destroy} leaves it alive.
   */
  device?: GPUDevice;
  /**
   * Where to request the adapter: a `GPU` object such as `navigator.gpu` (the default in a
   * browser) or what dawn.node's `create()` returns. Without it in Node, the `webgpu` package
   * is loaded.
   */
  gpu?: GPU;
  /**
   * An adapter already chosen, or a substring of the adapter's name that the adapter found must
   * contain (in Node also `WEBGPU_ADAPTER`; with Dawn it also chooses among several adapters).
   */
  adapter?: GPUAdapter | string;
  /** 'high-performance' (default) or 'low-power'. */
  powerPreference?: GPUPowerPreference;
  /** Extra dawn.node flags, e.g. 'backend=vulkan' (only where Dawn is loaded by getRuntime). */
  dawnFlags?: string[];
  /** Print the chosen adapter on stderr, or the console in a browser (default: false). */
  report?: boolean;
}

const NODE_ADVICE =
  'On Linux without a GPU, install Mesa 24+ lavapipe: on Debian 12 as root run ' +
  "'node scripts/setup.mjs' (it adds bookworm-backports and installs mesa-vulkan-drivers); " +
  "on Ubuntu 24.04+ 'apt-get install mesa-vulkan-drivers'. With a GPU, install its Vulkan driver. " +
  'Set WEBGPU_ADAPTER to a substring of the adapter name to choose among several.';
const BROWSER_ADVICE =
  'Use a browser with WebGPU enabled, on a page served over https or from localhost ' +
  '(WebGPU is only offered to secure contexts), or pass getRuntime({ device }) or ({ gpu }).';

/** Raised when no WebGPU adapter can be found; the message says what to install. */
export class NoAdapterError extends Error {
  /**
   * @param detail what was tried and what failed, shown in parentheses
   * @param advice what to do about it (default: how to get a Vulkan driver in Node)
   */
  constructor(detail: string, advice: string = NODE_ADVICE) {
    super(`No WebGPU adapter found${detail ? ` (${detail})` : ''}. ${advice}`);
    this.name = 'NoAdapterError';
  }
}

/**
 * The WebGPU device with what runs on it: the buffer pool, the dispatcher (pipeline and
 * bind-group caches, batched submits) and the device's asynchronous errors. Made by
 * {@link getRuntime}; everything else reaches it through {@link runtime}.
 */
export class Runtime {
  /** Reuses GPU buffers by size class; tensors take theirs from here. */
  readonly pool: BufferPool;
  /** Records kernel dispatches and submits them in batches. */
  readonly dispatcher: Dispatcher;
  /** The adapter-dependent choices, made once from {@link Runtime.report}. */
  readonly profile: AdapterProfile;
  /** Errors reported asynchronously by the device; thrown at the next sync point. */
  private pendingErrors: string[] = [];
  private lostReason: string | undefined;
  private destroyed = false;

  constructor(
    /** Where the adapter came from; with Dawn, the object its create() returned, held so it is never collected. */
    readonly gpu: GPU | undefined,
    /** The adapter the device was requested from; undefined for a device the application passed. */
    readonly adapter: GPUAdapter | undefined,
    /** The device every tensor and kernel of this runtime lives on. */
    readonly device: GPUDevice,
    /** What the adapter is, its features and limits. */
    readonly report: AdapterReport,
    /** False for a device the application passed: destroy() then leaves it alive. */
    readonly ownsDevice = true,
  ) {
    this.profile = adapterProfile(report);
    this.pool = new BufferPool(device);
    this.dispatcher = new Dispatcher(this);
    const onError = (ev: GPUUncapturedErrorEvent) => void this.pendingErrors.push(ev.error.message);
    // A shared device may have the application's own handler: add ours beside it.
    if (ownsDevice) device.onuncapturederror = onError;
    else device.addEventListener('uncapturederror', onError);
    void device.lost.then((info) => {
      if (!this.destroyed) this.lostReason = `${info.reason}: ${info.message}`;
    });
  }

  /** The features the device was created with. */
  get features(): ReadonlySet<string> {
    return this.device.features as unknown as ReadonlySet<string>;
  }

  /** The device's limits. */
  get limits(): GPUSupportedLimits {
    return this.device.limits;
  }

  /** Whether the device was created with the feature, e.g. 'subgroups' or 'timestamp-query'. */
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

  /** True once {@link Runtime.destroy} has run. */
  get isDestroyed(): boolean {
    return this.destroyed;
  }

  /**
   * Releases the runtime's buffers and the device it created (not a device the application
   * passed). Pending work is submitted first; in Node the process can then exit.
   */
  destroy(): void {
    if (this.destroyed) return;
    try {
      this.dispatcher.flush();
    } catch {
      // a broken device still has to be released
    }
    this.destroyed = true;
    this.pool.destroyAll();
    if (this.ownsDevice) this.device.destroy();
    if (current === this) current = undefined;
  }
}

let current: Runtime | undefined;
let pending: Promise<Runtime> | undefined;

/**
 * The runtime, created on first use with the given options; later calls return the same one
 * (their options are ignored) until it is destroyed.
 *
 * - `getRuntime()`: in a browser, an adapter from `navigator.gpu`; in Node, from Dawn (the
 *   `webgpu` package, which must then be installed).
 * - `getRuntime({ device })`: the application's own device, shared with its rendering.
 * - `getRuntime({ gpu })`: an adapter from that `GPU` object.
 *
 * Rejects with {@link NoAdapterError}, saying what to install, where no adapter can be found.
 */
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

/** Destroys the runtime, if any (see {@link Runtime.destroy}); getRuntime() then makes a new one. */
export function destroyRuntime(): void {
  current?.destroy();
  current = undefined;
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

const inNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';

function env(name: string): string | undefined {
  return typeof process !== 'undefined' ? process.env?.[name] : undefined;
}

async function createRuntime(options: RuntimeOptions): Promise<Runtime> {
  if (options.device) {
    ensureWebGpuConstants();
    return new Runtime(options.gpu, undefined, options.device, describeDevice(options.device, undefined), false);
  }

  const wanted = typeof options.adapter === 'string' ? options.adapter : inNode ? env('WEBGPU_ADAPTER') : undefined;
  const wantedFrom =
    typeof options.adapter === 'string' ? `getRuntime's adapter '${wanted}'` : `WEBGPU_ADAPTER='${wanted}'`;
  let gpu = options.gpu;
  let adapter = typeof options.adapter === 'object' ? options.adapter : null;
  if (!adapter) {
    gpu ??= (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
    if (!gpu && !inNode)
      throw new NoAdapterError('navigator.gpu is undefined: this browser offers no WebGPU', BROWSER_ADVICE);
    gpu ??= await createDawnGpu(options, wanted);
    adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
    if (!adapter)
      throw new NoAdapterError(wanted ? `none matches ${wantedFrom}` : '', inNode ? NODE_ADVICE : BROWSER_ADVICE);
  }
  const name = adapterName(adapter.info);
  if (wanted && !name.toLowerCase().includes(wanted.toLowerCase())) {
    throw new NoAdapterError(`the adapter found is '${name.trim()}', which does not match ${wantedFrom}`);
  }
  ensureWebGpuConstants(); // after Dawn's own globals, where Dawn was loaded
  const requiredFeatures = WANTED_FEATURES.filter((f) => adapter.features.has(f));
  // The default limits are far below what adapters offer (128 MiB bindings, 16 KiB workgroup memory).
  const requiredLimits: Record<string, number> = {};
  for (const k of WANTED_LIMITS) requiredLimits[k] = (adapter.limits as unknown as Record<string, number>)[k];
  const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
  const rt = new Runtime(gpu, adapter, device, describeDevice(device, adapter.info));
  if (options.report) {
    const line = `WebGPU adapter: ${describeAdapter(rt.report)}`;
    if (inNode) process.stderr.write(`${line}\n`);
    else console.info(line);
  }
  return rt;
}

interface DawnModule {
  create: (flags: string[]) => GPU;
  globals: Record<string, unknown>;
}

// A name held in a variable, so that bundlers leave this import alone: browser bundles must
// not pull in Dawn's Node code, and `webgpu` is an optional peer dependency.
const DAWN_PACKAGE = 'webgpu';

/** Loads dawn.node and creates its GPU object with the adapter choice and our flags. */
async function createDawnGpu(options: RuntimeOptions, wanted: string | undefined): Promise<GPU> {
  let dawn: DawnModule;
  try {
    dawn = (await import(/* @vite-ignore */ /* webpackIgnore: true */ DAWN_PACKAGE)) as DawnModule;
  } catch (err) {
    const e = err as { code?: string; message: string };
    if (
      (e.code === 'ERR_MODULE_NOT_FOUND' || /Cannot find (package|module)/.test(e.message)) &&
      e.message.includes(`'${DAWN_PACKAGE}'`)
    ) {
      throw new NoAdapterError(
        "the 'webgpu' package, Dawn's WebGPU for Node, is not installed",
        "Install it beside @wgtorch/tensor: 'npm install webgpu' (or pnpm add / yarn add webgpu), " +
          'or pass getRuntime({ gpu }) or ({ device }).',
      );
    }
    throw new NoAdapterError(`the 'webgpu' package (dawn.node) failed to load: ${e.message}`);
  }
  // GPUBufferUsage, GPUMapMode, ... as globals, as in a browser.
  for (const [k, v] of Object.entries(dawn.globals)) {
    if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  }
  const flags = [...(options.dawnFlags ?? [])];
  if (wanted) flags.push(`adapter=${wanted}`);
  // Keep GPU timestamps at full resolution for the per-op profile.
  flags.push('disable-dawn-features=timestamp_quantization');
  return dawn.create(flags);
}

// The WebGPU constants the runtime uses, with the specification's values, for a GPU object
// from a Node binding that did not install them as globals (browsers and Dawn's globals do).
const WEBGPU_CONSTANTS: Record<string, Record<string, number>> = {
  GPUBufferUsage: {
    MAP_READ: 1,
    MAP_WRITE: 2,
    COPY_SRC: 4,
    COPY_DST: 8,
    INDEX: 16,
    VERTEX: 32,
    UNIFORM: 64,
    STORAGE: 128,
    INDIRECT: 256,
    QUERY_RESOLVE: 512,
  },
  GPUMapMode: { READ: 1, WRITE: 2 },
  GPUShaderStage: { VERTEX: 1, FRAGMENT: 2, COMPUTE: 4 },
};

function ensureWebGpuConstants(): void {
  for (const [k, v] of Object.entries(WEBGPU_CONSTANTS)) {
    if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = Object.freeze({ ...v });
  }
}

type AdapterInfoLike = Partial<GPUAdapterInfo> & {
  subgroupMinSize?: number;
  subgroupMaxSize?: number;
  isFallbackAdapter?: boolean;
};

function adapterName(info: AdapterInfoLike | undefined): string {
  return `${info?.vendor ?? ''} ${info?.architecture ?? ''} ${info?.device ?? ''} ${info?.description ?? ''}`;
}

function describeDevice(device: GPUDevice, adapterInfo: AdapterInfoLike | undefined): AdapterReport {
  // A device the application passed knows its adapter's info (where the browser supports it).
  const info = adapterInfo ?? ((device as { adapterInfo?: AdapterInfoLike }).adapterInfo || {});
  const limits: Record<string, number> = {};
  for (const k of WANTED_LIMITS) limits[k] = (device.limits as unknown as Record<string, number>)[k];
  return {
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device: info.device ?? '',
    description: info.description ?? '',
    isSoftware: /llvmpipe|lavapipe|swiftshader|software/i.test(adapterName(info)) || info.isFallbackAdapter === true,
    features: [...device.features].map(String).sort(),
    limits,
    subgroupMinSize: info.subgroupMinSize,
    subgroupMaxSize: info.subgroupMaxSize,
  };
}

/** One line naming the adapter, e.g. "llvmpipe: Mesa 25.0.7 (software; subgroups, timestamp-query)". */
export function describeAdapter(r: AdapterReport): string {
  const name = r.description || `${r.vendor} ${r.device}`.trim() || 'unknown adapter';
  const feats = r.features.filter((f) => ['subgroups', 'shader-f16', 'timestamp-query'].includes(f));
  return (
    `${name} [${r.vendor}/${r.architecture}]${r.isSoftware ? ' (software)' : ''}` +
    `${feats.length ? `; ${feats.join(', ')}` : ''}`
  );
}
