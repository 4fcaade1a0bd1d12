// The safetensors reader refuses every malformed file with one error type naming the file and
// the tensor, verifies the writer's checksum, and survives a fuzz of mutated files.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CHECKSUM_KEY,
  crc32,
  f16ToF32,
  parseSafetensors,
  SafetensorsError,
  serializeSafetensors,
  type SafeTensorsFile,
} from './safetensors.js';
import { readSafetensors } from './node-files.js';
import { Rng } from './random.js';

const enc = new TextEncoder();

/** A file from header JSON text and data bytes (the header written as given, so tests can make it malformed). */
function fileOf(header: string, data: Uint8Array | number = 0): Uint8Array {
  const h = enc.encode(header);
  const d = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + h.length + d.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(d, 8 + h.length);
  return out;
}

/** The error parseSafetensors throws for `bytes` (failing the test if it returns or throws another type). */
function errorOf(bytes: Uint8Array, source = 'bad.safetensors'): SafetensorsError {
  try {
    parseSafetensors(bytes, source);
  } catch (e) {
    expect(e, String(e)).toBeInstanceOf(SafetensorsError);
    expect((e as SafetensorsError).file).toBe(source);
    expect((e as Error).message.startsWith(`${source}: `)).toBe(true);
    return e as SafetensorsError;
  }
  throw new Error('expected a SafetensorsError, but the file parsed');
}

const tensorsOf = () => ({
  w: { shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6.5]) },
  labels: { shape: [3], data: new Int32Array([-1, 0, 7]) },
  bias: { shape: [4], data: new Float32Array([0.25, -0.5, 1e-3, 3]) },
  empty: { shape: [0, 5], data: new Float32Array(0) },
  step: { shape: [], data: new Int32Array([42]) },
});
const metadataOf = () => ({ note: 'hi', format: 'pt' });

describe('safetensors validation', () => {
  // Two F32 tensors of 2 values each (16 data bytes) unless a case says otherwise.
  const two = (a: string, b = '"dtype":"F32","shape":[2],"data_offsets":[8,16]') =>
    fileOf(`{"a":{${a}},"b":{${b}}}`, 16);

  it('refuses offsets that are negative, out of range, overlapping, or leave gaps or extra bytes', () => {
    let e = errorOf(two('"dtype":"F32","shape":[2],"data_offsets":[-8,0]'));
    expect([e.tensor, e.message]).toEqual([
      'a',
      expect.stringMatching(/data_offsets \[-8,0\]; they must be \[begin, end\]/),
    ]);
    e = errorOf(two('"dtype":"F32","shape":[2],"data_offsets":[8,0]'));
    expect(e.tensor).toBe('a');
    e = errorOf(two('"dtype":"F32","shape":[4],"data_offsets":[8,24]'));
    expect([e.tensor, e.message]).toEqual([
      'a',
      expect.stringMatching(/bytes \[8, 24\), past the end of the 16-byte data section/),
    ]);
    e = errorOf(
      two('"dtype":"F32","shape":[2],"data_offsets":[0,8]', '"dtype":"F32","shape":[2],"data_offsets":[4,12]'),
    );
    expect([e.tensor, e.message]).toEqual([
      'b',
      expect.stringMatching(/has bytes \[4, 12\), which overlap tensor 'a' \(ending at 8\)/),
    ]);
    e = errorOf(
      two('"dtype":"F32","shape":[2],"data_offsets":[0,8]', '"dtype":"F32","shape":[2],"data_offsets":[0,8]'),
    );
    expect(e.message).toMatch(/tensor '(a|b)' has bytes \[0, 8\), which overlap tensor '(a|b)'/);
    e = errorOf(fileOf('{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}', 16));
    expect([e.tensor, e.message]).toEqual([
      'a',
      expect.stringMatching(/starts at byte 8, leaving bytes \[0, 8\) of the data section unused/),
    ]);
    e = errorOf(fileOf('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', 12));
    expect([e.tensor, e.message]).toEqual([
      undefined,
      expect.stringMatching(/cover 8 bytes of the 12-byte data section/),
    ]);
    e = errorOf(two('"dtype":"F32","shape":[2],"data_offsets":[0,8.5]'));
    expect(e.tensor).toBe('a');
    e = errorOf(two('"dtype":"F32","shape":[2],"data_offsets":[0,8,16]'));
    expect(e.tensor).toBe('a');
  });

  it('refuses shapes that are not arrays of non-negative integers, or that do not match the byte length', () => {
    for (const shape of ['[-2,-2]', '[0.5,8]', '["2","2"]', '2', 'null', '[1e400]', '[9007199254740993,1]']) {
      const e = errorOf(two(`"dtype":"F32","shape":${shape},"data_offsets":[0,8]`));
      expect([e.tensor, e.message], shape).toEqual([
        'a',
        expect.stringMatching(/has shape .*(non-negative integers|too large)/),
      ]);
    }
    const e = errorOf(two('"dtype":"F32","shape":[3],"data_offsets":[0,8]'));
    expect(e.message).toMatch(/tensor 'a' \[3\] F32 needs 12 bytes, but its data_offsets \[0, 8\] hold 8/);
    // Product overflow: each dim fine, together past 2^53.
    expect(errorOf(two('"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]')).message).toMatch(
      /too large to address/,
    );
  });

  it('refuses unknown dtypes, malformed entries and metadata with the file and tensor named, never a TypeError', () => {
    expect(errorOf(two('"dtype":"BF16","shape":[2],"data_offsets":[0,8]')).message).toMatch(
      /tensor 'a' has dtype "BF16"; supported: F32, F16, F64/,
    );
    expect(errorOf(two('"dtype":"toString","shape":[2],"data_offsets":[0,8]')).message).toMatch(/dtype "toString"/);
    for (const entry of ['1', 'null', '[1,2]', '"F32"']) {
      const e = errorOf(fileOf(`{"a":${entry}}`));
      expect([e.tensor, e.message]).toEqual([
        'a',
        expect.stringMatching(/is .*, not an object \{dtype, shape, data_offsets\}/),
      ]);
    }
    expect(errorOf(two('"shape":[2],"data_offsets":[0,8]')).message).toMatch(/tensor 'a' has dtype missing/);
    expect(errorOf(two('"dtype":"F32","data_offsets":[0,8]')).message).toMatch(/tensor 'a' has shape missing/);
    expect(errorOf(two('"dtype":"F32","shape":[2]')).message).toMatch(/tensor 'a' has data_offsets missing/);
    expect(errorOf(two('"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":1')).message).toMatch(
      /unknown field 'extra'/,
    );
    expect(errorOf(fileOf('{"__metadata__":[1]}')).message).toMatch(
      /__metadata__ is \[1\]; it must be an object of strings/,
    );
    expect(errorOf(fileOf('{"__metadata__":{"n":1}}')).message).toMatch(
      /__metadata__ entry 'n' is 1; metadata values must be strings/,
    );
    expect(parseSafetensors(fileOf('{"__metadata__":null}')).metadata).toEqual({});
  });

  it('refuses repeated keys, which JSON.parse would silently drop', () => {
    const entry = '{"dtype":"F32","shape":[2],"data_offsets":[0,8]}';
    let e = errorOf(fileOf(`{"a":${entry},"a":${entry}}`, 8));
    expect([e.tensor, e.message]).toEqual([
      undefined,
      expect.stringMatching(/^bad\.safetensors: the header repeats the key "a": JSON would keep only the last one/),
    ]);
    e = errorOf(fileOf(`{"a":{"dtype":"F32","shape":[2],"shape":[2],"data_offsets":[0,8]}}`, 8));
    expect([e.tensor, e.message]).toEqual([
      'a',
      expect.stringMatching(/^bad\.safetensors: tensor 'a' repeats the key "shape"/),
    ]);
    e = errorOf(fileOf(`{"__metadata__":{"k":"1","\\u006b":"2"}}`));
    expect([e.tensor, e.message]).toEqual([
      undefined,
      expect.stringMatching(/^bad\.safetensors: __metadata__ repeats the key "k"/),
    ]);
    // The same name inside strings or different objects is no repeat.
    expect(
      parseSafetensors(fileOf(`{"__metadata__":{"a":"{\\"a\\":1,\\"a\\":2}"},"a":${entry}}`, 8)).tensors.size,
    ).toBe(1);
  });

  it('refuses bad header lengths and headers that are not JSON objects', () => {
    expect(errorOf(new Uint8Array(5)).message).toMatch(/5 bytes is too short/);
    const huge = fileOf('{}');
    new DataView(huge.buffer).setBigUint64(0, 2n ** 63n, true);
    expect(errorOf(huge).message).toMatch(
      /header length 9223372036854775808 exceeds the format's limit of 100000000 bytes/,
    );
    const long = fileOf('{}', 8);
    new DataView(long.buffer).setBigUint64(0, 20n, true);
    expect(errorOf(long).message).toMatch(/header length 20 exceeds the 10 bytes after it/);
    expect(errorOf(fileOf('[]')).message).toMatch(/the header is \[\], not a JSON object/);
    expect(errorOf(fileOf(' {}')).message).toMatch(/not a JSON object/);
    expect(errorOf(fileOf('{"a":')).message).toMatch(/not valid UTF-8 JSON/);
    const bad = fileOf('{"\xff":1}');
    bad[10] = 0xff; // an invalid UTF-8 byte inside the key
    expect(errorOf(bad).message).toMatch(/not valid UTF-8 JSON/);
  });

  it('reading a folder or a missing file names the path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'st-read-'));
    expect(() => readSafetensors(dir)).toThrow(
      new SafetensorsError(dir, undefined, 'is a folder, not a safetensors file.'),
    );
    expect(() => readSafetensors(join(dir, 'none.safetensors'))).toThrow(
      `${join(dir, 'none.safetensors')}: no such file.`,
    );
    writeFileSync(join(dir, 'bad.safetensors'), fileOf('{"a":null}'));
    expect(() => readSafetensors(join(dir, 'bad.safetensors'))).toThrow(
      `${join(dir, 'bad.safetensors')}: tensor 'a' is null`,
    );
    rmSync(dir, { recursive: true });
  });
});

describe('safetensors F16', () => {
  // Halves as PyTorch writes them (torch.tensor([...], dtype=torch.float16).numpy().tobytes()).
  const halves: [number, number][] = [
    [0x3c00, 1],
    [0xc000, -2],
    [0x3555, 0.333251953125],
    [0x7bff, 65504],
    [0x0400, 2 ** -14],
    [0x0001, 2 ** -24],
    [0x03ff, 1023 * 2 ** -24],
    [0x8000, -0],
    [0x7c00, Infinity],
    [0xfc00, -Infinity],
  ];

  it('f16ToF32 decodes normals, subnormals, zeros, infinities and NaN', () => {
    for (const [bits, v] of halves) expect(f16ToF32(bits), bits.toString(16)).toBe(v);
    expect(f16ToF32(0x7e00)).toBeNaN();
  });

  it('is read into a Float32Array, exactly; its byte length is 2 per element; the checksum covers it', () => {
    const bits = new Uint16Array(halves.map(([b]) => b));
    const bytes = fileOf(`{"h":{"dtype":"F16","shape":[2,5],"data_offsets":[0,20]}}`, new Uint8Array(bits.buffer));
    const t = parseSafetensors(bytes).tensors.get('h')!;
    expect(t.dtype).toBe('F16');
    expect(t.shape).toEqual([2, 5]);
    expect(t.data).toBeInstanceOf(Float32Array);
    expect(Array.from(t.data as Float32Array)).toEqual(halves.map(([, v]) => v));
    expect(errorOf(fileOf(`{"h":{"dtype":"F16","shape":[3],"data_offsets":[0,12]}}`, 12)).message).toBe(
      "bad.safetensors: tensor 'h' [3] F16 needs 6 bytes, but its data_offsets [0, 12] hold 12.",
    );
    // Our writer stores what it reads as F32 (lossless), with the checksum.
    const again = parseSafetensors(serializeSafetensors(parseSafetensors(bytes).tensors));
    expect(again.tensors.get('h')!.dtype).toBe('F32');
    expect(Array.from(again.tensors.get('h')!.data as Float32Array)).toEqual(halves.map(([, v]) => v));
  });
});

describe('safetensors checksum', () => {
  it('is CRC-32 (IEEE)', () => {
    expect(crc32(enc.encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(enc.encode('6789'), crc32(enc.encode('12345')))).toBe(0xcbf43926);
  });

  it('is written by the writer, hidden from the metadata read back, and refuses changed data or header', () => {
    const bytes = serializeSafetensors(tensorsOf(), { ...metadataOf(), [CHECKSUM_KEY]: 'stale' });
    const text = new TextDecoder().decode(bytes);
    expect(text).toMatch(/"wgtorch\.crc32":"[0-9a-f]{8}"/);
    expect(parseSafetensors(bytes).metadata).toEqual(metadataOf());
    const last = bytes.slice();
    last[last.length - 1] ^= 1;
    expect(errorOf(last).message).toMatch(
      new RegExp(
        /^bad\.safetensors: fails its checksum \(wgtorch\.crc32 "[0-9a-f]{8}", /.source +
          /the contents give "[0-9a-f]{8}"\): the file was changed or damaged/.source,
      ),
    );
    // A header edit that keeps the file well-formed: w [2, 3] read as [3, 2].
    expect(errorOf(replaceInHeader(bytes, '"shape":[2,3]', '"shape":[3,2]')).message).toMatch(/fails its checksum/);
    expect(errorOf(replaceInHeader(bytes, '"note":"hi"', '"note":"ho"')).message).toMatch(/fails its checksum/);
  });

  it('files without the checksum (as PyTorch writes them) still load', () => {
    const bytes = serializeSafetensors(tensorsOf(), metadataOf());
    const plain = replaceInHeader(bytes, /,"wgtorch\.crc32":"[0-9a-f]{8}"/, '');
    expect(new TextDecoder().decode(plain)).not.toMatch(/crc32/);
    expectSame(parseSafetensors(plain), parseSafetensors(bytes));
  });
});

/** The same file with its header text edited (the header length updated). */
function replaceInHeader(bytes: Uint8Array, from: string | RegExp, to: string): Uint8Array {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = new TextDecoder().decode(bytes.subarray(8, 8 + n));
  const edited = header.replace(from, to);
  expect(edited).not.toBe(header);
  return fileOf(edited, bytes.slice(8 + n));
}

/** Whether `a` holds exactly the tensors of `b`, and its metadata too unless `tensorsOnly`. */
function same(a: SafeTensorsFile, b: SafeTensorsFile, tensorsOnly = false): boolean {
  if (!tensorsOnly && JSON.stringify(a.metadata) !== JSON.stringify(b.metadata)) return false;
  if (a.tensors.size !== b.tensors.size) return false;
  for (const [k, t] of a.tensors) {
    const u = b.tensors.get(k);
    if (!u || u.dtype !== t.dtype || u.shape.join() !== t.shape.join() || u.data.byteLength !== t.data.byteLength)
      return false;
    const x = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    const y = new Uint8Array(u.data.buffer, u.data.byteOffset, u.data.byteLength);
    if (x.some((v, i) => v !== y[i])) return false;
  }
  return true;
}

function expectSame(a: SafeTensorsFile, b: SafeTensorsFile): void {
  expect(same(a, b)).toBe(true);
}

describe('safetensors fuzz', () => {
  const original = serializeSafetensors(tensorsOf(), metadataOf());
  const expected = parseSafetensors(original);
  const headerLength = Number(new DataView(original.buffer).getBigUint64(0, true));
  const stored = new TextDecoder().decode(original).match(/"wgtorch\.crc32":"[0-9a-f]{8}"/)![0];

  /** One random change: a bit flip, a byte edit, truncation, extension, or an edit of the header's JSON. */
  function mutate(bytes: Uint8Array, rng: Rng): Uint8Array {
    const pick = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)];
    const kind = bytes.length < 16 ? 4 : rng.int(8); // a stack of mutations may have cut the file short
    const out = bytes.slice();
    if (kind === 0) {
      out[rng.int(out.length)] ^= 1 << rng.int(8);
      return out;
    }
    if (kind === 1) {
      // a flip confined to the data section, where only the checksum can notice
      const n = out.length < 8 ? out.length : Number(new DataView(out.buffer).getBigUint64(0, true));
      if (out.length > 8 + n) out[8 + n + rng.int(out.length - 8 - n)] ^= 1 << rng.int(8);
      return out;
    }
    if (kind === 2) {
      out[rng.int(out.length)] = rng.int(256);
      return out;
    }
    if (kind === 3) return bytes.slice(0, rng.int(bytes.length));
    if (kind === 4) {
      const extra = new Uint8Array(1 + rng.int(16)).map(() => (rng.int(2) ? 0x20 : rng.int(256)));
      const grown = new Uint8Array(bytes.length + extra.length);
      grown.set(bytes);
      grown.set(extra, bytes.length);
      return grown;
    }
    if (kind === 5) {
      // the header length field off by a little or a lot
      const n = new DataView(out.buffer).getBigUint64(0, true);
      new DataView(out.buffer).setBigUint64(
        0,
        pick([n + 1n, n - 1n, n + 8n, n - 8n, 0n, 2n ** 64n - 1n, BigInt(rng.int(out.length))]),
        true,
      );
      return out;
    }
    try {
      return editHeader(bytes, kind === 6, rng);
    } catch {
      // an earlier mutation left no header to edit
      out[rng.int(out.length)] ^= 1 << rng.int(8);
      return out;
    }
  }

  /** Edits of the header as text or as JSON, written back with the right header length. */
  function editHeader(bytes: Uint8Array, asText: boolean, rng: Rng): Uint8Array {
    const pick = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)];
    const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    const data = bytes.slice(8 + n);
    if (asText) {
      // a textual edit: repeat an entry, or cut or insert characters
      const at = rng.int(text.length);
      const edits = [
        () => text.replace(/^\{("\w+":\{[^}]*\})/, '{$1,$1'),
        () => text.replace(/("__metadata__":\{)("\w+":"\w*")/, '$1$2,$2'),
        () => text.slice(0, at) + text.slice(at + 1 + rng.int(4)),
        () => text.slice(0, at) + pick([',', '"', '{', '}', '[', ']', '0', '-', ' ', 'e']) + text.slice(at),
      ];
      return fileOf(pick(edits)(), data);
    }
    const header = JSON.parse(text) as Record<string, Record<string, unknown>>;
    const names = Object.keys(header).filter((k) => k !== '__metadata__');
    const name = pick(names);
    const t = header[name];
    const someValue = () =>
      pick<unknown>([
        -1,
        0,
        1,
        2,
        3,
        4,
        5,
        6,
        8,
        12,
        16,
        24,
        0.5,
        '2',
        null,
        [],
        {},
        2 ** 53,
        data.length,
        data.length + 4,
      ]);
    const edits = [
      () => ((t.data_offsets as unknown[])[rng.int(2)] = someValue()),
      () => (t.data_offsets = [someValue(), someValue()]),
      () => {
        const other = header[pick(names)];
        [t.data_offsets, other.data_offsets] = [other.data_offsets, t.data_offsets];
      },
      () => (t.shape = [...(t.shape as number[])].reverse()),
      () => (t.shape = [...(t.shape as number[]), 1]),
      () => (t.shape = rng.int(2) ? [] : [someValue()]),
      () => {
        const s = t.shape as unknown[];
        if (s.length) s[rng.int(s.length)] = someValue();
      },
      () => (t.dtype = pick(['F32', 'I32', 'U32', 'U8', 'F64', 'I64', 'F16', 'BF16', 'f32', '', null, 4])),
      () => delete header[name],
      () => {
        header[name + 'x'] = t;
        delete header[name];
      },
      () => (header[name] = someValue() as Record<string, unknown>),
      () => delete t[pick(['dtype', 'shape', 'data_offsets'])],
      () => (t[pick(['extra', 'offset'])] = someValue()),
      () => (header.__metadata__[pick(['note', 'format', 'added', CHECKSUM_KEY])] = someValue()),
      () => (header.__metadata__.note = 'ho'),
      () => delete header.__metadata__[CHECKSUM_KEY],
      () => (header.__metadata__ = someValue() as Record<string, unknown>),
    ];
    pick(edits)();
    return fileOf(JSON.stringify(header), data);
  }

  function outcome(bytes: Uint8Array): SafeTensorsFile | SafetensorsError {
    try {
      return parseSafetensors(bytes, 'fuzz');
    } catch (e) {
      if (e instanceof SafetensorsError) return e;
      throw new Error(`a mutated file gave ${e} instead of a SafetensorsError`);
    }
  }

  it('every single mutation loads exactly the original tensors or throws SafetensorsError', () => {
    const rng = new Rng(12);
    const tally = { same: 0, refused: 0 };
    for (let i = 0; i < 5000; i++) {
      const bytes = mutate(original, rng);
      const r = outcome(bytes);
      if (r instanceof SafetensorsError) tally.refused++;
      else {
        // A mutation of the metadata that removes the checksum (or its key) may show in the metadata,
        // never in the tensors.
        const checked = new TextDecoder().decode(bytes).includes(stored);
        expect(
          same(r, expected, !checked),
          `case ${i}: a mutated file loaded different contents: ` +
            `${new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))}`,
        ).toBe(true);
        tally.same++;
      }
    }
    // Most mutations are refused; a few (a flip in the header padding, a no-op edit) change nothing.
    expect(tally.refused).toBeGreaterThan(4000);
  });

  it('stacked mutations: a changed result only where the mutations removed the checksum itself', () => {
    const rng = new Rng(13);
    for (let i = 0; i < 3000; i++) {
      let bytes = original;
      for (let k = 2 + rng.int(3); k > 0; k--) bytes = mutate(bytes, rng);
      const r = outcome(bytes);
      if (r instanceof SafetensorsError || same(r, expected)) continue;
      expect(
        new TextDecoder().decode(bytes).includes(stored),
        `case ${i}: a file with its checksum intact loaded different tensors`,
      ).toBe(false);
    }
  });

  it('files without a checksum: mutations give SafetensorsError or well-formed tensors', () => {
    const rng = new Rng(14);
    const plain = replaceInHeader(original, /,"wgtorch\.crc32":"[0-9a-f]{8}"/, '');
    for (let i = 0; i < 2000; i++) {
      const r = outcome(mutate(plain, rng));
      if (r instanceof SafetensorsError) continue;
      for (const [k, t] of r.tensors) expect(t.data.length, k).toBe(t.shape.reduce((a, d) => a * d, 1));
    }
  });
});
