export {
  Runtime,
  getRuntime,
  runtime,
  destroyRuntime,
  describeAdapter,
  NoAdapterError,
  DeviceError,
  type AdapterReport,
  type RuntimeOptions,
} from './device.js';
export { BufferPool, sizeClass, type PooledBuffer, type PoolStats } from './pool.js';
export {
  Dispatcher,
  type KernelSource,
  type StorageAccess,
  type BufferRange,
  type CompiledKernel,
  type KernelTiming,
  type CapturedCommand,
} from './dispatch.js';
export { capture, CapturedGraph } from './graph.js';
export {
  Tensor,
  ShapeError,
  releaseOnThrow,
  stridesOf,
  sizeOf,
  formatShape,
  type DType,
  type TypedArrayOf,
  type AnyTypedArray,
} from './tensor.js';
export { Rng } from './random.js';
export { SubmitPacer, type PacerOptions } from './pacer.js';
export { type AdapterProfile } from './profile.js';
export { waitQuietly } from './quiet-wait.js';
export {
  parseSafetensors,
  serializeSafetensors,
  SafetensorsError,
  crc32,
  CHECKSUM_KEY,
  MAX_HEADER_BYTES,
  type SafeTensor,
  type SafeTensorsFile,
  type SafeDType,
  type SafeArray,
} from './safetensors.js';
