// Module state in and out: loadStateDict is all or nothing, save/load (the Node entry) errors
// name the file, and the byte-level saveBytes/loadBytes and loadUrl round-trip with the checksum verified.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getRuntime, SafetensorsError, serializeSafetensors } from '@wgtorch/tensor';
import { FileWriteError } from '@wgtorch/tensor/node';
import { BatchNorm2d, Linear, Sequential, StateDictError, tensor, type BackendName, type StateValue } from './index.js';
import { load, save } from './node.js';

const dir = mkdtempSync(join(tmpdir(), 'module-io-'));
beforeAll(async () => {
  await getRuntime();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const model = (backend: BackendName = 'gpu') =>
  new Sequential(new Linear(3, 2, { backend }), new BatchNorm2d(2, { backend }));

/** Every state value, read back, by key. */
async function valuesOf(m: Sequential): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const [k, t] of m.stateDict()) out[k] = Array.from(await t.toArray());
  return out;
}

/** A state dict for model() whose values are all 7 except where `change` says otherwise. */
function stateOf(change: Record<string, StateValue | null> = {}): Map<string, StateValue | null> {
  const shapes: Record<string, number[]> = {
    '0.weight': [2, 3],
    '0.bias': [2],
    '1.weight': [2],
    '1.bias': [2],
    '1.running_mean': [2],
    '1.running_var': [2],
  };
  const out = new Map<string, StateValue | null>();
  for (const [k, shape] of Object.entries(shapes))
    out.set(k, { shape, data: new Float32Array(shape.reduce((a, d) => a * d, 1)).fill(7) });
  for (const [k, v] of Object.entries(change)) out.set(k, v);
  return out;
}

function stateDictErrorOf(f: () => unknown): StateDictError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(StateDictError);
    return e as StateDictError;
  }
  throw new Error('expected a StateDictError');
}

describe('loadStateDict', () => {
  it(
    'changes nothing when a later entry is bad ' +
      '(wrong value count, 64-bit integers, bad shape, null, other backend)',
    async () => {
      const m = model();
      const before = await valuesOf(m);
      const cases: [Record<string, StateValue | null>, RegExp][] = [
        [
          { '1.running_var': { shape: [2], data: new Float32Array(3) } },
          /1\.running_var: has 3 values for shape \[2\] \(2\)/,
        ],
        [{ '1.running_var': { shape: [2], data: new BigInt64Array(2) } }, /1\.running_var: holds 64-bit integers/],
        [
          { '1.running_var': { shape: [-2], data: new Float32Array(2) } },
          /1\.running_var: shape \[-2\] is not a list of non-negative integers/,
        ],
        [{ '1.running_var': { shape: [2.5], data: new Float32Array(2) } }, /1\.running_var: shape \[2\.5\]/],
        [{ '1.running_var': null }, /1\.running_var: null is not a tensor or \{shape, data\}/],
        [
          { '1.running_var': tensor([1, 2], [2], { backend: 'cpu64' }) },
          /1\.running_var: the tensor is on the cpu64 backend, the module on gpu/,
        ],
      ];
      for (const [change, why] of cases) {
        const e = stateDictErrorOf(() => m.loadStateDict(stateOf(change) as Map<string, StateValue>));
        expect(e.message).toMatch(/nothing was loaded/);
        expect(e.message).toMatch(why);
        expect(e.invalid).toHaveLength(1);
        expect(await valuesOf(m)).toEqual(before);
      }
      // strict: false skips missing and unexpected keys, never invalid ones.
      expect(() =>
        m.loadStateDict(
          stateOf({ '1.running_var': { shape: [2], data: new Float32Array(5) } }) as Map<string, StateValue>,
          { strict: false },
        ),
      ).toThrow(StateDictError);
      expect(await valuesOf(m)).toEqual(before);
      // A good state dict loads every entry.
      m.loadStateDict(stateOf() as Map<string, StateValue>);
      for (const v of Object.values(await valuesOf(m))) expect(v.every((x) => x === 7)).toBe(true);
    },
  );
});

describe('save and load', () => {
  it('saveBytes and loadBytes round-trip, and refuse damaged bytes naming the source', async () => {
    const a = model();
    a.loadStateDict(
      stateOf({ '0.weight': { shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) } }) as Map<string, StateValue>,
    );
    const bytes = await a.saveBytes({ note: 'x' });
    const b = model();
    expect(b.loadBytes(bytes)).toEqual({ missing: [], unexpected: [] });
    expect(await valuesOf(b)).toEqual(await valuesOf(a));
    const c = model();
    const before = await valuesOf(c);
    const damaged = bytes.slice();
    damaged[damaged.length - 5] ^= 0x10;
    expect(() => c.loadBytes(damaged, { source: 'download' })).toThrow(SafetensorsError);
    expect(() => c.loadBytes(damaged, { source: 'download' })).toThrow(/^download: fails its checksum/);
    expect(await valuesOf(c)).toEqual(before);
  });

  it('loadUrl fetches the weights, and its errors name the URL', async () => {
    const a = model();
    a.loadStateDict(stateOf({ '0.bias': { shape: [2], data: new Float32Array([3, 4]) } }) as Map<string, StateValue>);
    const bytes = await a.saveBytes();
    const server = createServer((req, res) => {
      if (req.url === '/w.safetensors') res.end(bytes);
      else res.writeHead(404, 'Not Found').end();
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const b = model();
      expect(await b.loadUrl(`${base}/w.safetensors`)).toEqual({ missing: [], unexpected: [] });
      expect(await valuesOf(b)).toEqual(await valuesOf(a));
      const before = await valuesOf(b);
      await expect(b.loadUrl(`${base}/none.safetensors`)).rejects.toThrow(
        `${base}/none.safetensors: could not fetch the weights for Sequential: HTTP 404 Not Found`,
      );
      const small = new Sequential(new Linear(2, 2));
      await expect(small.loadUrl(new URL(`${base}/w.safetensors`))).rejects.toThrow(
        new RegExp(`^${base}/w.safetensors: loadStateDict: the state dict does not match`),
      );
      expect(await valuesOf(b)).toEqual(before);
    } finally {
      server.close();
    }
  });

  it('load errors name the file: missing, a folder, damaged, or for another model', async () => {
    const m = model();
    const before = await valuesOf(m);
    expect(() => load(m, join(dir, 'none.safetensors'))).toThrow(`${join(dir, 'none.safetensors')}: no such file.`);
    expect(() => load(m, dir)).toThrow(`${dir}: is a folder, not a safetensors file.`);
    const path = join(dir, 'm.safetensors');
    await save(model(), path);
    const bytes = readFileSync(path);
    bytes[bytes.length - 1] ^= 1;
    writeFileSync(path, bytes);
    expect(() => load(m, path)).toThrow(new RegExp(`^${path}: fails its checksum`));
    const other = join(dir, 'other.safetensors');
    writeFileSync(other, serializeSafetensors({ '0.weight': { shape: [3, 2], data: new Float32Array(6) } }));
    const e = stateDictErrorOf(() => load(m, other));
    expect(e.message).toMatch(
      new RegExp(`^${other}: loadStateDict: the state dict does not match Sequential \\(nothing was loaded\\)`),
    );
    expect(e.misShaped).toEqual(['0.weight: expected [2, 3], got [3, 2]']);
    expect(await valuesOf(m)).toEqual(before);
  });

  it('save errors name the file and leave no temporary file', async () => {
    const folder = join(dir, 'out');
    mkdirSync(folder);
    await expect(save(model(), folder)).rejects.toThrow(FileWriteError);
    await expect(save(model(), folder)).rejects.toThrow(
      `Could not write ${folder}: it is a folder; give the path of a file.`,
    );
    expect(readdirSync(folder)).toEqual([]);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const gone = model();
    gone.dispose();
    await expect(save(gone, join(dir, 'gone.safetensors'))).rejects.toThrow(
      new RegExp(`^${join(dir, 'gone.safetensors')}: could not save Sequential: Tensor: used after dispose`),
    );
  });
});
