// On the GPU an optimizer keeps each parameter as a view of its flat buffer: a step then copies
// only the gradients in, and every other way of touching a parameter still sees and changes
// the right values.

import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { getRuntime, runtime, Tensor as DeviceTensor } from '@wgtorch/tensor';
import { Adam, Linear, Parameter, SGD, tensor } from './index.js';

beforeAll(async () => {
  await getRuntime();
});

afterEach(() => {
  vi.restoreAllMocks();
});

const param = (data: number[], shape: number[]) => new Parameter(tensor(data, shape).detach().data);
const setGrad = (p: Parameter, g: number[]) => {
  p.zeroGrad();
  p.grad = tensor(g, p.shape);
};

describe('parameters in the flat buffer', () => {
  it('become segments of one buffer, and a later step copies only the gradients', async () => {
    const ps = [param([1, 2, 3], [3]), param([4, 5, 6, 7, 8], [5]), param([9], [1])];
    const opt = new SGD(ps, { lr: 0.5, momentum: 0.9 });
    ps.forEach((p) => setGrad(p, Array(p.size).fill(1)));
    opt.step();
    const raws = ps.map((p) => p.raw as DeviceTensor);
    expect(new Set(raws.map((r) => r.buffer)).size).toBe(1);
    expect(raws.map((r) => r.byteOffset % (DeviceTensor.segmentAlignment() * 4))).toEqual([0, 0, 0]);
    expect(new Set(raws.map((r) => r.byteOffset)).size).toBe(3);

    ps.forEach((p) => setGrad(p, Array(p.size).fill(1)));
    const copy = vi.spyOn(runtime().dispatcher, 'copy');
    opt.step();
    expect(copy).toHaveBeenCalledTimes(ps.length);
    // p - 0.5 * 1, then buf = 0.9 * 1 + 1 = 1.9: p - 0.5 - 0.95.
    expect([...(await ps[1].toArray())].map((v) => +v.toFixed(5))).toEqual([2.55, 3.55, 4.55, 5.55, 6.55]);
    expect([...(await ps[2].toArray())].map((v) => +v.toFixed(5))).toEqual([7.55]);
  });

  it('stay right when two optimizers take turns on the same parameter', async () => {
    const p = param([1, 2], [2]);
    const a = new SGD([p], { lr: 0.1 });
    const b = new Adam([p], { lr: 0.01 });
    let want = [1, 2];
    for (let i = 0; i < 3; i++) {
      setGrad(p, [1, -1]);
      a.step();
      want = want.map((v, j) => v - 0.1 * [1, -1][j]);
      setGrad(p, [1, -1]);
      b.step(); // Adam's first steps move each value by lr against the gradient's sign
      want = want.map((v, j) => v - 0.01 * [1, -1][j]);
    }
    const got = [...(await p.toArray())];
    got.forEach((v, j) => expect(v).toBeCloseTo(want[j], 5));
  });

  it('load from a state dict into their segment, leaving the others alone', async () => {
    const m = new Linear(3, 2);
    const opt = new SGD(m.parameters(), { lr: 0.1 });
    for (const p of m.parameters()) setGrad(p, Array(p.size).fill(0));
    opt.step();
    const bias = [...(await m.bias!.toArray())];
    m.loadStateDict(
      new Map([
        ['weight', { shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) }],
        [
          'bias',
          {
            shape: [2],
            data: Float32Array.from(bias),
          },
        ],
      ]),
    );
    expect([...(await m.weight.toArray())]).toEqual([1, 2, 3, 4, 5, 6]);
    expect([...(await m.bias!.toArray())]).toEqual(bias);
    // The optimizer updates the loaded values in place.
    setGrad(m.weight, [1, 1, 1, 1, 1, 1]);
    setGrad(m.bias!, [0, 0]);
    opt.step();
    expect([...(await m.weight.toArray())].map((v) => +v.toFixed(5))).toEqual([0.9, 1.9, 2.9, 3.9, 4.9, 5.9]);
  });

  it('outlive the optimizer that holds their buffer', async () => {
    const p = param([1, 2, 3], [3]);
    const opt = new SGD([p], { lr: 1 });
    setGrad(p, [1, 1, 1]);
    opt.step();
    opt.dispose();
    expect([...(await p.toArray())]).toEqual([0, 1, 2]);
    p.dispose();
  });
});
