// A training step captured once (capture) and replayed must update the model exactly as
// the same steps recorded one by one, with the learning rate changing between replays; a graph
// whose buffers were released refuses to replay; a capture may not read back.

import { beforeAll, describe, expect, it, vi } from 'vitest';
import { capture, getRuntime, runtime, Rng, Tensor as DeviceTensor, type CapturedGraph } from '@wgtorch/tensor';
import {
  AdamW,
  AdaptiveAvgPool2d,
  BatchNorm2d,
  Conv2d,
  Flatten,
  Linear,
  ReLU,
  SGD,
  Sequential,
  crossEntropy,
  fromDevice,
  manualSeed,
  tidy,
  type Module,
  type Optimizer,
  type Parameter,
} from './index.js';

beforeAll(async () => {
  await getRuntime();
});

function makeModel(): Module {
  manualSeed(3);
  return new Sequential(
    new Conv2d(3, 8, 3, { padding: 1, bias: false }),
    new BatchNorm2d(8),
    new ReLU(),
    new AdaptiveAvgPool2d(1),
    new Flatten(),
    new Linear(8, 4),
  );
}

/** Batch i: random inputs and labels from a seed, the same in every run. */
function batch(i: number): { x: Float32Array; labels: Int32Array } {
  const rng = new Rng(100 + i);
  return {
    x: Float32Array.from({ length: 4 * 3 * 8 * 8 }, () => rng.normal()),
    labels: Int32Array.from({ length: 4 }, () => rng.int(4)),
  };
}

/**
 * Trains `steps` steps with a falling lr; `captured` records the step once (after one plain step)
 * and replays it. `change(i, opt)` runs after step i. `launches` counts the kernel launches that
 * ran inside replays (the optimizer's, when its update could not replay as captured).
 */
async function train<O extends Optimizer = SGD>(
  steps: number,
  captured: boolean,
  change?: (i: number, opt: O) => void,
  launches = { n: 0 },
  makeOpt: (params: Parameter[]) => O = (ps) =>
    new SGD(ps, { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-3 }) as unknown as O,
): Promise<number[][]> {
  const model = makeModel();
  const opt = makeOpt(model.parameters());
  const x = DeviceTensor.zeros([4, 3, 8, 8]);
  const labels = DeviceTensor.zeros([4], 'i32');
  const step = () => {
    tidy(() => crossEntropy(model.forward(fromDevice(x.reshape(x.shape))), labels).backward());
    opt.step();
    opt.zeroGrad();
  };
  let graph: CapturedGraph | undefined;
  for (let i = 0; i < steps; i++) {
    const b = batch(i);
    x.write(b.x);
    labels.write(b.labels);
    if (!captured || i === 0) step();
    else if (!graph) graph = capture(step);
    else {
      const spy = vi.spyOn(runtime().dispatcher, 'dispatch');
      graph.replay();
      launches.n += spy.mock.calls.length;
      spy.mockRestore();
    }
    opt.paramGroups[0].lr *= 0.8;
    change?.(i, opt);
    if (i === 0) {
      // An eval pass in between leaves the packed weights fresh: the capture must still pack.
      model.eval();
      tidy(() => void model.forward(fromDevice(x.reshape(x.shape))));
      model.train();
    }
    runtime().flush();
  }
  const out = await Promise.all(model.parameters().map(async (p) => [...(await p.toArray())]));
  graph?.dispose();
  for (const t of [x, labels]) t.dispose();
  opt.dispose();
  return out;
}

describe('captured training steps', () => {
  it('update the parameters bit for bit as the same steps recorded one by one', async () => {
    const eager = await train(6, false);
    const captured = await train(6, true);
    expect(captured).toEqual(eager);
    // The run changed the parameters (a replay that did nothing would differ from the eager run too).
    const first = await train(1, false);
    expect(captured[0]).not.toEqual(first[0]);
  });

  it("replay the optimizer's update with new rates without its launcher, and launch it when more changed", async () => {
    const toggle = (i: number, opt: SGD) => {
      if (i === 3) opt.paramGroups[0].nesterov = false;
    };
    const eager = await train(7, false, toggle);
    const launches = { n: 0 };
    expect(await train(7, true, toggle, launches)).toEqual(eager);
    // Replays at steps 2-6: the update's captured dispatch at 2 and 3; it differs from the captured
    // one in more than its params from step 4 on, so it is launched anew there.
    expect(launches.n).toBe(3);
    // Plain SGD (no momentum buffers) replays its dispatch too.
    const plain = { n: 0 };
    const sgd = (ps: Parameter[]) => new SGD(ps, { lr: 0.1 });
    expect(await train(5, true, undefined, plain, sgd)).toEqual(await train(5, false, undefined, undefined, sgd));
    expect(plain.n).toBe(0);
  });

  it("replay Adam's update with new step counts and rates, bit for bit, without its launcher", async () => {
    const adamW = (ps: Parameter[]) => new AdamW(ps, { lr: 1e-2 });
    const counted = (i: number, opt: AdamW) => {
      if (i === 4) expect(opt.stepCount(opt.paramGroups[0].params[0])).toBe(5);
    };
    const launches = { n: 0 };
    expect(await train(5, true, counted, launches, adamW)).toEqual(await train(5, false, counted, undefined, adamW));
    expect(launches.n).toBe(0);
  });

  it('replay without running the JavaScript that built them', () => {
    const a = DeviceTensor.fromArray(new Float32Array([1, 2, 3, 4]), [4]);
    const model = makeModel();
    const built: number[] = [];
    const graph = capture(() => {
      built.push(1);
      tidy(() => void model.forward(fromDevice(DeviceTensor.zeros([1, 3, 8, 8]))));
    });
    const d0 = runtime().dispatcher.counters.dispatches;
    graph.replay();
    graph.replay();
    expect(built).toEqual([1]);
    expect(runtime().dispatcher.counters.dispatches - d0).toBe(2 * graph.dispatches);
    expect(graph.dispatches).toBeGreaterThan(3);
    graph.dispose();
    a.dispose();
  });

  it('go stale when a tensor they bind is released, and then refuse to replay', () => {
    const w = DeviceTensor.fromArray(new Float32Array([1, 2, 3, 4]), [4]);
    const graph = capture(() => tidy(() => void fromDevice(w.reshape([4])).mul(2)));
    graph.replay();
    expect(graph.valid).toBe(true);
    w.dispose();
    expect(graph.valid).toBe(false);
    expect(() => graph.replay()).toThrow(/stale.*capture again/);
    graph.dispose();
    expect(() => graph.replay()).toThrow(/disposed/);
  });

  it('hold their intermediates until disposed, and then give them back', async () => {
    await runtime().sync();
    const x = DeviceTensor.fromArray(new Float32Array(64).fill(1), [64]);
    const before = runtime().pool.getStats().liveBytes;
    const graph = capture(() => {
      tidy(
        () =>
          void fromDevice(x.reshape([64]))
            .mul(3)
            .add(1)
            .relu()
            .sum(),
      );
    });
    const held = runtime().pool.getStats().liveBytes - before;
    expect(held).toBeGreaterThan(0);
    graph.dispose();
    expect(runtime().pool.getStats().liveBytes).toBe(before);
    x.dispose();
  });

  it('may not read back, nor nest', async () => {
    const t = DeviceTensor.zeros([4]);
    let read: Promise<unknown> | undefined;
    const g = capture(() => {
      read = t.toArray();
    });
    await expect(read).rejects.toThrow(/captured.*Read the values outside/);
    g.dispose();
    expect(() => capture(() => capture(() => {}))).toThrow(/do not nest/);
    t.dispose();
  });
});
