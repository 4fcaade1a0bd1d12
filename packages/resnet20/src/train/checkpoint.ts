// Training checkpoints: one safetensors file holding the model's state (PyTorch names), the
// optimizer's momentum buffers (`optimizer.momentum.<param>`) and, in the metadata, the
// trainer's JSON state (epoch, step, schedule position, RNG and data-order state, history).
// One file written atomically (temp file, fsync, rename): a process killed while writing
// leaves the previous checkpoint intact and loadable.

import { existsSync } from 'node:fs';
import { readSafetensors, writeSafetensors, type SafeArray } from '@wgtorch/tensor';

export interface NamedArrays {
  [name: string]: { shape: readonly number[]; data: Float32Array };
}

export interface Checkpoint<S> {
  model: NamedArrays;
  optimizer: NamedArrays;
  state: S;
}

const MOMENTUM_PREFIX = 'optimizer.';
const STATE_KEY = 'wgtorch.trainer_state';

export function saveCheckpoint<S>(path: string, ckpt: Checkpoint<S>): void {
  const tensors = new Map<string, { shape: readonly number[]; data: SafeArray }>();
  for (const [k, v] of Object.entries(ckpt.model)) tensors.set(k, v);
  for (const [k, v] of Object.entries(ckpt.optimizer)) tensors.set(MOMENTUM_PREFIX + k, v);
  writeSafetensors(path, tensors, { format: 'pt', [STATE_KEY]: JSON.stringify(ckpt.state) });
}

export function loadCheckpoint<S>(path: string): Checkpoint<S> {
  if (!existsSync(path)) throw new Error(`No checkpoint at ${path}: start without --resume, or point --run-dir at a run that has one.`);
  const file = readSafetensors(path);
  const json = file.metadata[STATE_KEY];
  if (!json) throw new Error(`${path} is a safetensors file but not a trainer checkpoint (no '${STATE_KEY}' metadata).`);
  const model: NamedArrays = {};
  const optimizer: NamedArrays = {};
  for (const [k, t] of file.tensors) {
    if (!(t.data instanceof Float32Array)) throw new Error(`${path}: tensor '${k}' is ${t.dtype}, expected F32.`);
    if (k.startsWith(MOMENTUM_PREFIX)) optimizer[k.slice(MOMENTUM_PREFIX.length)] = { shape: t.shape, data: t.data };
    else model[k] = { shape: t.shape, data: t.data };
  }
  return { model, optimizer, state: JSON.parse(json) as S };
}
