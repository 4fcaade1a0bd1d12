// `pnpm resnet20 eval --checkpoint F`: test accuracy, per-class accuracy and the confusion
// matrix of a checkpoint. `pnpm resnet20 export --checkpoint F --out F`: its weights as a
// safetensors file with PyTorch's state_dict names (loads with torch's load_state_dict).
// Both take a trainer checkpoint or a weights-only file (what export writes).

import { parseArgs } from 'node:util';
import { describeAdapter, getRuntime } from '@wgtorch/tensor';
import { writeSafetensors } from '@wgtorch/tensor/node';
import { argmax } from '@wgtorch/kernels-wgsl';
import { fromDevice, noGrad, tidy } from '@wgtorch/autograd';
import { ResNet20 } from '../model.js';
import { loadCifar10, subsetSplit, testBatches, uploadBatch } from '../data/index.js';
import { loadWeights } from './checkpoint.js';
import { TrainError } from './config.js';
import type { TrainerState } from './trainer.js';

function loadModel(path: string): ResNet20 {
  const ck = loadWeights<TrainerState>(path);
  // A weights-only file has no config: shortcut B is the one with projection weights.
  const model = new ResNet20({
    shortcut: ck.state?.config?.shortcut ?? (ck.model['layer2.0.shortcut.0.weight'] ? 'B' : 'A'),
  });
  try {
    model.loadStateDict(ck.model);
  } catch (e) {
    model.dispose();
    throw new TrainError(`${path}: ${(e as Error).message}`, { cause: e });
  }
  return model;
}

/** parseArgs with string options; its errors (an unknown option, a missing value) become TrainErrors. */
function parseOptions<K extends string>(
  cmd: string,
  argv: string[],
  options: Record<K, { type: 'string' }>,
): { values: Partial<Record<K, string>> } {
  try {
    return parseArgs({ args: argv, options, strict: true }) as { values: Partial<Record<K, string>> };
  } catch (e) {
    throw new TrainError(`${cmd}: ${(e as Error).message}`, { cause: e });
  }
}

export async function evalMain(argv: string[]): Promise<number> {
  const { values } = parseOptions('eval', argv, {
    checkpoint: { type: 'string' },
    'data-dir': { type: 'string' },
    'batch-size': { type: 'string' },
    'test-subset': { type: 'string' },
  });
  if (!values.checkpoint) throw new TrainError('eval: pass --checkpoint runs/<name>/checkpoint.safetensors');
  const rt = await getRuntime();
  console.log(`adapter: ${describeAdapter(rt.report)}`);
  const model = loadModel(values.checkpoint).eval();
  const data = await loadCifar10({ dataDir: values['data-dir'] });
  const K = data.classes.length;
  const confusion = Array.from({ length: K }, () => new Array<number>(K).fill(0));
  const subset = values['test-subset'] === undefined ? 0 : Number(values['test-subset']);
  if (!(Number.isInteger(subset) && subset >= 0 && subset <= data.test.n))
    throw new TrainError(
      `eval: --test-subset '${values['test-subset']}' is not a count of test images (0..${data.test.n}).`,
    );
  const test = subset ? subsetSplit(data.test, subset) : data.test;
  for (const b of testBatches(test, Number(values['batch-size'] ?? 256))) {
    const g = uploadBatch(b);
    const pred = noGrad(() => tidy(() => argmax(model.forward(fromDevice(g.x.reshape(g.x.shape))).data)));
    const p = await pred.toArray();
    pred.dispose();
    g.dispose();
    for (let i = 0; i < b.size; i++) confusion[b.labels[i]][p[i]]++;
  }
  const total = test.n;
  const correct = confusion.reduce((a, row, i) => a + row[i], 0);
  console.log(`test accuracy: ${((100 * correct) / total).toFixed(2)}% (${correct}/${total})\n`);
  const w = Math.max(...data.classes.map((c) => c.length));
  console.log(`${'class'.padEnd(w)}  accuracy`);
  data.classes.forEach((c, i) => {
    const n = confusion[i].reduce((a, v) => a + v, 0);
    console.log(`${c.padEnd(w)}  ${((100 * confusion[i][i]) / Math.max(1, n)).toFixed(1).padStart(7)}%`);
  });
  console.log(`\nconfusion matrix (rows: true class, columns: predicted)`);
  console.log(`${''.padEnd(w)} ${data.classes.map((c) => c.slice(0, 5).padStart(6)).join('')}`);
  data.classes.forEach((c, i) =>
    console.log(`${c.padEnd(w)} ${confusion[i].map((v) => String(v).padStart(6)).join('')}`),
  );
  model.dispose();
  return 0;
}

export async function exportMain(argv: string[]): Promise<number> {
  const { values } = parseOptions('export', argv, { checkpoint: { type: 'string' }, out: { type: 'string' } });
  if (!values.checkpoint || !values.out)
    throw new TrainError('export: pass --checkpoint runs/<name>/checkpoint.safetensors --out resnet20.safetensors');
  const ck = loadWeights<TrainerState>(values.checkpoint);
  writeSafetensors(values.out, ck.model, { format: 'pt' });
  console.log(`wrote ${Object.keys(ck.model).length} tensors (PyTorch state_dict names) to ${values.out}`);
  return 0;
}
