// safetensors (https://github.com/huggingface/safetensors): an 8-byte little-endian header
// length, a JSON header {name: {dtype, shape, data_offsets}, __metadata__?: {..}}, then the raw
// little-endian data. The format of ../shared/fixtures and of our checkpoints.

import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync, rmSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';

export type SafeDType = 'F32' | 'F64' | 'I32' | 'U32' | 'U8' | 'I64' | 'I8' | 'I16' | 'U16';
export type SafeArray = Float32Array | Float64Array | Int32Array | Uint32Array | Uint8Array | BigInt64Array | Int8Array | Int16Array | Uint16Array;

export interface SafeTensor {
  dtype: SafeDType;
  shape: number[];
  data: SafeArray;
}

const CTOR: Record<SafeDType, { new (buf: ArrayBuffer, off?: number, len?: number): SafeArray; BYTES_PER_ELEMENT: number }> = {
  F32: Float32Array,
  F64: Float64Array,
  I32: Int32Array,
  U32: Uint32Array,
  U8: Uint8Array,
  I64: BigInt64Array,
  I8: Int8Array,
  I16: Int16Array,
  U16: Uint16Array,
};

function dtypeOf(a: SafeArray): SafeDType {
  for (const [k, c] of Object.entries(CTOR)) if (a instanceof (c as unknown as Function)) return k as SafeDType;
  throw new TypeError('safetensors: unsupported array type');
}

export interface SafeTensorsFile {
  tensors: Map<string, SafeTensor>;
  metadata: Record<string, string>;
}

/** Parses a safetensors file's bytes. Data is copied out, so the result is independent of `bytes`. */
export function parseSafetensors(bytes: Uint8Array, source = 'safetensors'): SafeTensorsFile {
  if (bytes.byteLength < 8) throw new Error(`${source}: ${bytes.byteLength} bytes is too short for a safetensors file (truncated?).`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  if (headerLen > bytes.byteLength - 8) {
    throw new Error(`${source}: header length ${headerLen} exceeds the file size ${bytes.byteLength} (truncated or not safetensors).`);
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen)));
  } catch (e) {
    throw new Error(`${source}: the header is not valid JSON (${(e as Error).message}).`);
  }
  const dataStart = 8 + headerLen;
  const tensors = new Map<string, SafeTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, v] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = v as Record<string, string>;
      continue;
    }
    const { dtype, shape, data_offsets } = v as { dtype: SafeDType; shape: number[]; data_offsets: [number, number] };
    const ctor = CTOR[dtype];
    if (!ctor) throw new Error(`${source}: tensor '${name}' has dtype ${dtype}, which is not supported (${Object.keys(CTOR).join(', ')}).`);
    const [b, e] = data_offsets;
    const n = shape.reduce((a, d) => a * d, 1);
    if (e - b !== n * ctor.BYTES_PER_ELEMENT || dataStart + e > bytes.byteLength) {
      throw new Error(`${source}: tensor '${name}' [${shape}] ${dtype} has byte range [${b}, ${e}) that does not fit its shape or the file.`);
    }
    // A copy (Buffer.slice would be a view into Node's shared pool), aligned for the typed array.
    const copy = new Uint8Array(e - b);
    copy.set(bytes.subarray(dataStart + b, dataStart + e));
    tensors.set(name, { dtype, shape: [...shape], data: new ctor(copy.buffer, 0, n) });
  }
  return { tensors, metadata };
}

/** Serializes tensors (in insertion order) to safetensors bytes. */
export function serializeSafetensors(
  tensors: Map<string, { shape: readonly number[]; data: SafeArray }> | Record<string, { shape: readonly number[]; data: SafeArray }>,
  metadata?: Record<string, string>,
): Uint8Array {
  const entries = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of entries) {
    const n = t.shape.reduce((a, d) => a * d, 1);
    if (n !== t.data.length) throw new Error(`safetensors: tensor '${name}' has ${t.data.length} values for shape [${t.shape}].`);
    header[name] = { dtype: dtypeOf(t.data), shape: [...t.shape], data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces so the data starts 8-byte aligned, as the reference writer does.
  while ((8 + json.length) % 8 !== 0) json += ' ';
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.byteLength;
  for (const [, t] of entries) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), pos);
    pos += t.data.byteLength;
  }
  return out;
}

export function readSafetensors(path: string): SafeTensorsFile {
  return parseSafetensors(readFileSync(path), path);
}

/** Writes a file atomically: a temporary file beside it, fsynced, then renamed over it. */
export function writeFileAtomic(path: string, bytes: Uint8Array | string): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, typeof bytes === 'string' ? Buffer.from(bytes) : bytes);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
}

export function writeSafetensors(
  path: string,
  tensors: Map<string, { shape: readonly number[]; data: SafeArray }> | Record<string, { shape: readonly number[]; data: SafeArray }>,
  metadata?: Record<string, string>,
): void {
  writeFileAtomic(path, serializeSafetensors(tensors, metadata));
}
