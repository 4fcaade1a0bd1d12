// safetensors (https://github.com/huggingface/safetensors): an 8-byte little-endian header
// length, a JSON header {name: {dtype, shape, data_offsets}, __metadata__?: {..}}, then the raw
// little-endian data. The format of ../shared/fixtures and of our checkpoints.
// This file works on bytes only (no Node built-ins), so it runs in a browser too; reading and
// writing files is in node-files.ts.

/** A dtype name of the safetensors format. */
export type SafeDType = 'F32' | 'F64' | 'F16' | 'I32' | 'U32' | 'U8' | 'I64' | 'I8' | 'I16' | 'U16';
/** The typed array holding a safetensors tensor's values. */
export type SafeArray =
  | Float32Array
  | Float64Array
  | Int32Array
  | Uint32Array
  | Uint8Array
  | BigInt64Array
  | Int8Array
  | Int16Array
  | Uint16Array;

/** One tensor of a safetensors file: dtype, shape and values. */
export interface SafeTensor {
  /** The dtype in the file. F16 (half precision) is read into a Float32Array, exactly; the writer writes F32. */
  dtype: SafeDType;
  shape: number[];
  data: SafeArray;
}

type Ctor = { new (buf: ArrayBuffer, off?: number, len?: number): SafeArray; BYTES_PER_ELEMENT: number };

/** The typed array each dtype's bytes are read as (F16's bits as Uint16Array, then widened). */
const CTOR: Record<SafeDType, Ctor> = {
  F32: Float32Array,
  F16: Uint16Array,
  F64: Float64Array,
  I32: Int32Array,
  U32: Uint32Array,
  U8: Uint8Array,
  I64: BigInt64Array,
  I8: Int8Array,
  I16: Int16Array,
  U16: Uint16Array,
};

/** The reference implementation's bound on the header (a larger length means a damaged file, not a big header). */
export const MAX_HEADER_BYTES = 100_000_000;

/**
 * Metadata key of the checksum our writer stores: CRC-32 (8 hex digits) over the header's
 * content (metadata without this key; each tensor's name, dtype, shape and offsets) and then
 * the data section. Verified on read when present; files from other writers load without it.
 */
export const CHECKSUM_KEY = 'wgtorch.crc32';

/** Every problem with a safetensors file: names the file (or source) and, where one is at fault, the tensor. */
export class SafetensorsError extends Error {
  constructor(
    /** The path or source name given to the reader. */
    readonly file: string,
    /** The tensor at fault, if one is. */
    readonly tensor: string | undefined,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}: ${tensor === undefined ? '' : `tensor '${tensor}' `}${detail}`, options);
    this.name = 'SafetensorsError';
  }
}

/** An IEEE half-precision value (its 16 bits) as a number; every half is exact in float32. */
export function f16ToF32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const frac = bits & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // zero and subnormals
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1024 + frac) * 2 ** (exp - 25);
}

function dtypeOf(a: SafeArray): SafeDType {
  for (const [k, c] of Object.entries(CTOR))
    if (k !== 'F16' && a instanceof (c as unknown as Function)) return k as SafeDType;
  throw new TypeError('safetensors: unsupported array type');
}

/** A parsed safetensors file: tensors by name, in file order, and metadata. */
export interface SafeTensorsFile {
  tensors: Map<string, SafeTensor>;
  /** The file's `__metadata__`, without the checksum key. */
  metadata: Record<string, string>;
}

/** A tensor's header entry once validated. */
interface Entry {
  name: string;
  dtype: SafeDType;
  shape: number[];
  begin: number;
  end: number;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isSize = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/** A value for an error message, cut short. */
function show(v: unknown): string {
  const s = v === undefined ? 'missing' : JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/**
 * Parses a safetensors file's bytes, validating the header as the format specifies, and the
 * checksum when the file has one. Data is copied out, so the result is independent of
 * `bytes`. Throws SafetensorsError (naming `source` and the tensor) for any malformed file.
 */
export function parseSafetensors(bytes: Uint8Array, source = 'safetensors'): SafeTensorsFile {
  const fail = (detail: string, tensor?: string) => new SafetensorsError(source, tensor, detail);
  if (bytes.byteLength < 8) throw fail(`${bytes.byteLength} bytes is too short for a safetensors file (truncated?).`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(Math.min(MAX_HEADER_BYTES, bytes.byteLength - 8))) {
    const room =
      headerLength > BigInt(MAX_HEADER_BYTES)
        ? `the format's limit of ${MAX_HEADER_BYTES} bytes`
        : `the ${bytes.byteLength - 8} bytes after it`;
    throw fail(`the header length ${headerLength} exceeds ${room} (truncated, or not a safetensors file).`);
  }
  const dataStart = 8 + Number(headerLength);
  let text = '';
  let header: unknown;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, dataStart));
    header = JSON.parse(text);
  } catch (e) {
    throw fail(`the header is not valid UTF-8 JSON (${(e as Error).message}): the file is damaged or not safetensors.`);
  }
  if (!text.startsWith('{') || !isObject(header))
    throw fail(`the header is ${show(header)}, not a JSON object (damaged, or not safetensors).`);
  const repeated = firstRepeatedKey(text);
  if (repeated) {
    const where = repeated.under === undefined ? 'the header' : repeated.under === '__metadata__' ? '__metadata__' : '';
    const detail =
      `repeats the key ${JSON.stringify(repeated.key)}: JSON would keep only the last one, ` +
      'so the file is ambiguous (damaged or badly written).';
    throw where ? fail(`${where} ${detail}`) : fail(detail, repeated.under);
  }

  const dataLength = bytes.byteLength - dataStart;
  let metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, v] of Object.entries(header)) {
    if (name === '__metadata__') metadata = metadataOf(v, fail);
    else entries.push(entryOf(name, v, dataLength, fail));
  }
  checkCoverage(entries, dataLength, fail);
  const data = bytes.subarray(dataStart);
  const stored = metadata[CHECKSUM_KEY];
  if (stored !== undefined) {
    const computed = checksumOf(metadata, entries, data);
    if (stored !== computed) {
      throw fail(
        `fails its checksum (${CHECKSUM_KEY} ${show(stored)}, the contents give "${computed}"): ` +
          'the file was changed or damaged after it was written; restore it from a copy or write it again.',
      );
    }
    metadata = Object.fromEntries(Object.entries(metadata).filter(([k]) => k !== CHECKSUM_KEY));
  }

  const tensors = new Map<string, SafeTensor>();
  for (const { name, dtype, shape, begin, end } of entries) {
    // A copy (Buffer.slice would be a view into Node's shared pool), aligned for the typed array.
    const copy = new Uint8Array(end - begin);
    copy.set(data.subarray(begin, end));
    const typed = new CTOR[dtype](copy.buffer, 0, (end - begin) / CTOR[dtype].BYTES_PER_ELEMENT);
    tensors.set(name, {
      dtype,
      shape,
      data: dtype === 'F16' ? Float32Array.from(typed as Uint16Array, f16ToF32) : typed,
    });
  }
  return { tensors, metadata };
}

function metadataOf(v: unknown, fail: (detail: string) => SafetensorsError): Record<string, string> {
  if (v === null) return {}; // the reference reader takes null as no metadata
  if (!isObject(v)) throw fail(`__metadata__ is ${show(v)}; it must be an object of strings.`);
  for (const [k, s] of Object.entries(v))
    if (typeof s !== 'string') throw fail(`__metadata__ entry '${k}' is ${show(s)}; metadata values must be strings.`);
  return v as Record<string, string>;
}

function entryOf(
  name: string,
  v: unknown,
  dataLength: number,
  fail: (detail: string, tensor?: string) => SafetensorsError,
): Entry {
  if (!isObject(v)) throw fail(`is ${show(v)}, not an object {dtype, shape, data_offsets}.`, name);
  for (const k of Object.keys(v)) {
    if (k !== 'dtype' && k !== 'shape' && k !== 'data_offsets')
      throw fail(`has an unknown field '${k}' (expected dtype, shape, data_offsets).`, name);
  }
  const { dtype, shape, data_offsets: offsets } = v;
  if (typeof dtype !== 'string' || !Object.hasOwn(CTOR, dtype))
    throw fail(`has dtype ${show(dtype)}; supported: ${Object.keys(CTOR).join(', ')}.`, name);
  if (!Array.isArray(shape) || !shape.every(isSize))
    throw fail(`has shape ${show(shape)}; a shape is an array of non-negative integers.`, name);
  const bytesPer = CTOR[dtype as SafeDType].BYTES_PER_ELEMENT;
  const byteLength = shape.reduce((a: number, d: number) => a * d, bytesPer);
  if (!Number.isSafeInteger(byteLength)) throw fail(`has shape [${shape.join(', ')}], too large to address.`, name);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isSize) || offsets[0] > offsets[1]) {
    throw fail(`has data_offsets ${show(offsets)}; they must be [begin, end], integers with 0 <= begin <= end.`, name);
  }
  const [begin, end] = offsets as [number, number];
  if (end > dataLength)
    throw fail(
      `has bytes [${begin}, ${end}), past the end of the ${dataLength}-byte data section ` +
        '(truncated file, or wrong offsets).',
      name,
    );
  if (end - begin !== byteLength)
    throw fail(
      `[${shape.join(', ')}] ${dtype} needs ${byteLength} bytes, ` +
        `but its data_offsets [${begin}, ${end}] hold ${end - begin}.`,
      name,
    );
  return { name, dtype: dtype as SafeDType, shape: [...shape], begin, end };
}

/** The tensors must cover the data section exactly, without overlaps or gaps (as the format specifies). */
function checkCoverage(
  entries: Entry[],
  dataLength: number,
  fail: (detail: string, tensor?: string) => SafetensorsError,
): void {
  const byOffset = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  let previous: string | undefined;
  for (const e of byOffset) {
    if (e.begin < at)
      throw fail(`has bytes [${e.begin}, ${e.end}), which overlap tensor '${previous}' (ending at ${at}).`, e.name);
    if (e.begin > at)
      throw fail(
        `starts at byte ${e.begin}, leaving bytes [${at}, ${e.begin}) of the data section unused ` +
          '(the format allows no gaps).',
        e.name,
      );
    at = e.end;
    previous = e.name;
  }
  if (at !== dataLength)
    throw fail(
      `the tensors cover ${at} bytes of the ${dataLength}-byte data section; ` +
        'the rest belongs to no tensor (extra bytes appended, or a tensor missing from the header).',
    );
}

/** The first key an object in `json` (already known to be valid JSON) repeats, and the top-level key it sits under. */
function firstRepeatedKey(json: string): { key: string; under?: string } | undefined {
  const stack: { keys: Set<string> | null; expectKey: boolean }[] = [];
  let topKey: string | undefined;
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    const top = stack[stack.length - 1];
    if (c === '"') {
      let j = i + 1;
      while (json[j] !== '"') j += json[j] === '\\' ? 2 : 1;
      if (top?.keys && top.expectKey) {
        const key = JSON.parse(json.slice(i, j + 1)) as string;
        if (top.keys.has(key)) return { key, under: stack.length > 1 ? topKey : undefined };
        top.keys.add(key);
        top.expectKey = false;
        if (stack.length === 1) topKey = key;
      }
      i = j;
    } else if (c === '{') stack.push({ keys: new Set(), expectKey: true });
    else if (c === '[') stack.push({ keys: null, expectKey: false });
    else if (c === '}' || c === ']') stack.pop();
    else if (c === ',' && top?.keys) top.expectKey = true;
  }
  return undefined;
}

let crcTable: Uint32Array | undefined;

/** CRC-32 (IEEE, as zlib and PNG), continued from `crc` (0 to start). */
export function crc32(bytes: Uint8Array, crc = 0): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c;
    }
  }
  let c = ~crc;
  for (let i = 0; i < bytes.length; i++) c = crcTable[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/** The checksum CHECKSUM_KEY holds: over the header's content (independent of key order and spacing), then the data. */
function checksumOf(metadata: Record<string, string>, entries: readonly Entry[], data: Uint8Array): string {
  const byName = <T extends [string, ...unknown[]]>(a: T, b: T) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
  const content = JSON.stringify([
    Object.entries(metadata)
      .filter(([k]) => k !== CHECKSUM_KEY)
      .sort(byName),
    entries.map((e) => [e.name, e.dtype, e.shape, e.begin, e.end] as [string, ...unknown[]]).sort(byName),
  ]);
  return crc32(data, crc32(new TextEncoder().encode(content)))
    .toString(16)
    .padStart(8, '0');
}

type TensorsIn =
  | Map<string, { shape: readonly number[]; data: SafeArray }>
  | Record<string, { shape: readonly number[]; data: SafeArray }>;

/**
 * Serializes tensors (in insertion order) to safetensors bytes, with the checksum in the
 * metadata (CHECKSUM_KEY; any value given for that key is replaced).
 */
export function serializeSafetensors(tensors: TensorsIn, metadata: Record<string, string> = {}): Uint8Array {
  const fail = (detail: string, tensor?: string) => new SafetensorsError('serializeSafetensors', tensor, detail);
  for (const [k, s] of Object.entries(metadata))
    if (typeof s !== 'string') throw fail(`metadata '${k}' is ${show(s)}; metadata values must be strings.`);
  const given = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const entries: Entry[] = [];
  let offset = 0;
  for (const [name, t] of given) {
    if (name === '__metadata__') throw fail(`the name '__metadata__' is reserved for the metadata.`, name);
    if (!t.shape.every((d) => isSize(d)))
      throw fail(`has shape [${t.shape.join(', ')}]; a shape is an array of non-negative integers.`, name);
    const n = t.shape.reduce((a, d) => a * d, 1);
    if (n !== t.data.length) throw fail(`has ${t.data.length} values for shape [${t.shape.join(', ')}] (${n}).`, name);
    entries.push({ name, dtype: dtypeOf(t.data), shape: [...t.shape], begin: offset, end: offset + t.data.byteLength });
    offset += t.data.byteLength;
  }
  const data = new Uint8Array(offset);
  given.forEach(([, t], i) =>
    data.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), entries[i].begin),
  );

  // fromEntries, not assignment: a tensor named '__proto__' stays a tensor.
  const header = Object.fromEntries([
    ['__metadata__', { ...metadata, [CHECKSUM_KEY]: checksumOf(metadata, entries, data) }],
    ...entries.map((e) => [e.name, { dtype: e.dtype, shape: e.shape, data_offsets: [e.begin, e.end] }]),
  ]);
  // Pad the header with spaces so the data starts 8-byte aligned, as the reference writer does.
  const headerBytes = new TextEncoder().encode(JSON.stringify(header));
  const padded = new Uint8Array(Math.ceil((8 + headerBytes.byteLength) / 8) * 8 - 8).fill(0x20);
  padded.set(headerBytes);
  const out = new Uint8Array(8 + padded.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded.byteLength), true);
  out.set(padded, 8);
  out.set(data, 8 + padded.byteLength);
  return out;
}
