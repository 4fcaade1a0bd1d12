// @wgtorch/autograd/node: a module's weights in safetensors files by path, on Node. The portable
// entry has the same through bytes (saveBytes/loadBytes) and URLs (loadUrl).

import { readSafetensors, writeFileAtomic } from '@wgtorch/tensor/node';
import type { Module } from './nn/module.js';

/**
 * Writes `module`'s state dict to a safetensors file (float32, with the checksum) atomically:
 * on any error the previous file is unchanged. Errors name the file.
 */
export async function save(module: Module, path: string, metadata?: Record<string, string>): Promise<void> {
  let bytes: Uint8Array;
  try {
    bytes = await module.saveBytes(metadata);
  } catch (e) {
    throw new Error(`${path}: could not save ${module.constructor.name}: ${(e as Error).message}`, { cause: e });
  }
  writeFileAtomic(path, bytes);
}

/**
 * Loads a safetensors file written by save() or by PyTorch into `module`, all or nothing
 * (`strict: false` loads the matching keys only). Errors name the file.
 */
export function load(
  module: Module,
  path: string,
  options: { strict?: boolean } = {},
): { missing: string[]; unexpected: string[] } {
  return module.loadSafetensors(readSafetensors(path), { ...options, source: path });
}
