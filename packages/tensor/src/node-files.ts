// Files on Node: atomic writes and safetensors files by path. The byte-level format is in
// safetensors.ts, which stays free of Node built-ins.

import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import {
  parseSafetensors,
  serializeSafetensors,
  SafetensorsError,
  type SafeArray,
  type SafeTensorsFile,
} from './safetensors.js';

/** A failed writeFileAtomic: the file at `path` is as it was before, and no temporary file is left. */
export class FileWriteError extends Error {
  constructor(
    readonly path: string,
    /** The system's error code (ENOSPC, EACCES, ...), if the system gave one. */
    readonly code: string | undefined,
    detail: string,
    options?: { cause?: unknown },
  ) {
    // A folder in the way is left as it was too, but "the previous file" would not describe it.
    super(
      `Could not write ${path}: ${detail}.` +
        `${code === 'EISDIR' ? '' : ` The previous ${basename(path)}, if there was one, is unchanged.`}`,
      options,
    );
    this.name = 'FileWriteError';
  }
}

/**
 * Writes a file atomically: every byte to a temporary file beside it, fsynced, renamed over
 * it, then the folder fsynced so the rename survives a crash. On any error (disk full, a
 * short write, a folder in the way) the temporary file is removed, the old file is untouched
 * and a FileWriteError names the path and the system's message.
 */
export function writeFileAtomic(path: string, bytes: Uint8Array | string): void {
  const data = typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes;
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  let fd: number | undefined;
  try {
    // Checked first: renaming onto a folder fails only after the whole file is written.
    if (statSync(path, { throwIfNoEntry: false })?.isDirectory())
      throw Object.assign(new Error('it is a folder; give the path of a file'), { code: 'EISDIR' });
    fd = openSync(tmp, 'w');
    for (let at = 0; at < data.byteLength;) {
      const n = writeSync(fd, data, at, data.byteLength - at);
      if (!(n > 0)) throw new Error(`the system wrote ${n} of the remaining ${data.byteLength - at} bytes`);
      at += n;
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    rmSync(tmp, { force: true });
    throw new FileWriteError(path, (e as NodeJS.ErrnoException).code, (e as Error).message, { cause: e });
  }
  syncFolder(path);
}

/**
 * fsyncs the folder holding `path`, so a rename into it is durable.
 * Skipped where a folder cannot be opened (Windows).
 */
function syncFolder(path: string): void {
  let fd: number;
  try {
    fd = openSync(dirname(path), 'r');
  } catch {
    return;
  }
  try {
    fsyncSync(fd);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // Some file systems do not sync folders; the file itself is complete and in place.
    if (code !== 'EINVAL' && code !== 'ENOTSUP' && code !== 'EPERM') {
      throw new Error(
        `${path} was written, but syncing its folder failed (${(e as Error).message}); ` +
          'a crash now could lose the rename.',
        { cause: e },
      );
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads and validates a safetensors file; every failure, a missing file or a folder included,
 * is a SafetensorsError naming the path.
 */
export function readSafetensors(path: string): SafeTensorsFile {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'is a folder, not a safetensors file'
          : `cannot be read (${(e as Error).message})`;
    throw new SafetensorsError(path, undefined, `${why}.`, { cause: e });
  }
  return parseSafetensors(bytes, path);
}

/** Writes tensors (in insertion order) and metadata to a safetensors file, atomically and with its checksum. */
export function writeSafetensors(
  path: string,
  tensors:
    | Map<string, { shape: readonly number[]; data: SafeArray }>
    | Record<string, { shape: readonly number[]; data: SafeArray }>,
  metadata?: Record<string, string>,
): void {
  writeFileAtomic(path, serializeSafetensors(tensors, metadata));
}
