// A minimal tar reader for the two archives we unpack (cifar-10-binary.tar.gz and an npm
// tarball): regular files only, ustar/GNU/pax long names, in memory.

import { gunzipSync } from 'node:zlib';

export interface TarEntry {
  name: string;
  data: Uint8Array;
}

function str(b: Uint8Array, start: number, len: number): string {
  let end = start;
  while (end < start + len && b[end] !== 0) end++;
  return Buffer.from(b.buffer, b.byteOffset + start, end - start).toString('utf8');
}

function octal(b: Uint8Array, start: number, len: number, what: string): number {
  if (b[start] & 0x80) {
    // GNU base-256 for large values.
    let v = b[start] & 0x7f;
    for (let i = start + 1; i < start + len; i++) v = v * 256 + b[i];
    return v;
  }
  const s = str(b, start, len).trim();
  const v = s === '' ? 0 : parseInt(s, 8);
  if (!Number.isFinite(v)) throw new Error(`tar: bad ${what} field '${s}'; the archive is corrupt.`);
  return v;
}

function checksumOk(b: Uint8Array, o: number): boolean {
  const stored = octal(b, o + 148, 8, 'checksum');
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : b[o + i];
  return sum === stored;
}

/** The regular files of an (uncompressed) tar archive. */
export function readTar(archive: Uint8Array): TarEntry[] {
  const out: TarEntry[] = [];
  let o = 0;
  let longName: string | undefined;
  while (o + 512 <= archive.length) {
    if (archive.subarray(o, o + 512).every((x) => x === 0)) break; // end of archive
    if (!checksumOk(archive, o))
      throw new Error(`tar: header checksum mismatch at offset ${o}; the archive is corrupt or truncated.`);
    const size = octal(archive, o + 124, 12, 'size');
    const type = String.fromCharCode(archive[o + 156] || 0x30);
    const magic = str(archive, o + 257, 6);
    const prefix = magic.startsWith('ustar') ? str(archive, o + 345, 155) : '';
    let name = str(archive, o, 100);
    if (prefix) name = `${prefix}/${name}`;
    const start = o + 512;
    const end = start + size;
    if (end > archive.length)
      throw new Error(`tar: '${name}' needs ${size} bytes but the archive ends first; it is truncated.`);
    const data = archive.subarray(start, end);
    o = start + Math.ceil(size / 512) * 512;
    if (type === 'L') {
      longName = str(data, 0, data.length);
      continue;
    }
    if (type === 'x') {
      const m = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(Buffer.from(data).toString('utf8'));
      if (m) longName = m[1];
      continue;
    }
    if (type === 'g') continue;
    if (longName !== undefined) {
      name = longName;
      longName = undefined;
    }
    if (type === '0' || type === '7') out.push({ name, data });
  }
  return out;
}

/** The regular files of a .tar.gz. */
export function readTarGz(gz: Uint8Array): TarEntry[] {
  return readTar(gunzipSync(gz));
}
