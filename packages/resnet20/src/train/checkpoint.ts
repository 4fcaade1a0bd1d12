// Training checkpoints: one safetensors file holding the model's state (PyTorch names), the
// optimizer's momentum buffers (`optimizer.momentum.<param>`) and, in the metadata, the
// trainer's JSON state (epoch, step, schedule position, RNG and data-order state, history).
// One file written atomically (temp file, fsync, rename): a process killed while writing
// leaves the previous checkpoint intact and loadable.

import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { SafeArray } from '@wgtorch/tensor';
import { readSafetensors, writeSafetensors } from '@wgtorch/tensor/node';
import { TrainError } from './config.js';

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

/** Reads a safetensors file, with errors that name it: a missing path, a folder, or what the system said. */
function readFile(path: string): ReturnType<typeof readSafetensors> {
  if (!existsSync(path)) throw new TrainError(`No checkpoint at ${path}: there is no such file.`);
  if (statSync(path).isDirectory()) {
    const inside = join(path, 'checkpoint.safetensors');
    throw new TrainError(
      `${path} is a folder, not a checkpoint file${existsSync(inside) ? `; did you mean ${inside}?` : '.'}`,
    );
  }
  try {
    return readSafetensors(path);
  } catch (e) {
    // System errors (EACCES, EIO, ...) do not name the file; format errors do.
    const err = e as NodeJS.ErrnoException;
    if (err.code && !err.message.includes(path))
      throw new TrainError(`Cannot read ${path}: ${err.message}`, { cause: e });
    throw e;
  }
}

export function loadCheckpoint<S>(path: string): Checkpoint<S> {
  return parseCheckpoint(path, readFile(path));
}

function parseCheckpoint<S>(path: string, file: ReturnType<typeof readSafetensors>): Checkpoint<S> {
  const json = file.metadata[STATE_KEY];
  if (!json)
    throw new TrainError(`${path} is a safetensors file but not a trainer checkpoint (no '${STATE_KEY}' metadata).`);
  const model: NamedArrays = {};
  const optimizer: NamedArrays = {};
  for (const [k, t] of file.tensors) {
    if (!(t.data instanceof Float32Array)) throw new TrainError(`${path}: tensor '${k}' is ${t.dtype}, expected F32.`);
    if (k.startsWith(MOMENTUM_PREFIX)) optimizer[k.slice(MOMENTUM_PREFIX.length)] = { shape: t.shape, data: t.data };
    else model[k] = { shape: t.shape, data: t.data };
  }
  let state: S;
  try {
    state = JSON.parse(json) as S;
  } catch (e) {
    throw new TrainError(`${path}: the trainer state in its metadata is not valid JSON (${(e as Error).message}).`);
  }
  return { model, optimizer, state };
}

/** Counters PyTorch keeps in its state_dict (int64) that carry no weights. */
const COUNTER_KEY = /(^|\.)num_batches_tracked$/;

/**
 * The model weights of a trainer checkpoint or of a weights-only file (`resnet20 export`, or
 * PyTorch's safetensors.torch.save_file of a state_dict), with the trainer state when there is one.
 */
export function loadWeights<S>(path: string): { model: NamedArrays; state?: S } {
  const file = readFile(path);
  if (file.metadata[STATE_KEY]) {
    const ck = parseCheckpoint<S>(path, file);
    return { model: ck.model, state: ck.state };
  }
  const model: NamedArrays = {};
  for (const [k, t] of file.tensors) {
    if (COUNTER_KEY.test(k)) continue;
    if (k.startsWith(MOMENTUM_PREFIX)) continue;
    if (!(t.data instanceof Float32Array))
      throw new TrainError(`${path}: tensor '${k}' is ${t.dtype}, expected F32 weights.`);
    model[k] = { shape: t.shape, data: t.data };
  }
  return { model };
}
