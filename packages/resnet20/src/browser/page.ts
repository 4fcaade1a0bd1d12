/// <reference lib="dom" />
// The browser demo's page: trains ResNet20 on CIFAR-10 with the same step, model, optimizer,
// schedule and data pipeline as `pnpm train` (@wgtorch/resnet20/browser), on navigator.gpu.
// The server (serve.ts) passes the trainer's defaults and the data files' URLs in window.DEMO.
// URL parameters override the form and shorten runs for tests: epochs, batch-size, lr,
// steps-per-epoch, test-subset, train-files (how many of the five training files to fetch),
// log-every, autostart=1.
import { getRuntime, parseSafetensors, SubmitPacer, Tensor as DeviceTensor, type Runtime } from '@wgtorch/tensor';
import { argmax } from '@wgtorch/kernels-wgsl';
import { fromDevice, noGrad, tidy } from '@wgtorch/autograd';
import {
  CLASS_NAMES,
  IMAGE_BYTES,
  ResNet20,
  TrainLoader,
  curvesSvg,
  evaluate,
  makeOptimizer,
  makeSchedule,
  parseCifarRecords,
  subsetSplit,
  testBatches,
  CapturedSteps,
  uploadBatch,
  type CifarSplit,
  type CurvePoint,
  type TrainConfig,
} from '../browser.js';

interface DemoConfig {
  defaults: TrainConfig;
  trainFiles: string[];
  testFiles: string[];
}

/** What the page exposes to scripts (tests): per-readback mean losses and the last epoch's numbers. */
interface DemoState {
  status: string;
  losses: number[];
  history: CurvePoint[];
  stepsDone: number;
  imagesPerSec: number;
  saveWeights: () => Promise<Uint8Array>;
}

const cfgIn = (window as unknown as { DEMO: DemoConfig }).DEMO;
const params = new URLSearchParams(location.search);
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const num = (name: string, fallback: number) => (params.has(name) ? Number(params.get(name)) : fallback);
const GRID = 32;

const state: DemoState = {
  status: 'idle',
  losses: [],
  history: [],
  stepsDone: 0,
  imagesPerSec: 0,
  saveWeights: async () => {
    if (!model) throw new Error('no model yet: train or load weights first');
    return model.saveBytes();
  },
};
(window as unknown as { demo: DemoState }).demo = state;

function setStatus(kind: 'idle' | 'training' | 'paused' | 'done' | 'error', message = ''): void {
  state.status = kind;
  $('status').textContent = message ? `${kind}: ${message}` : kind;
  $('status').className = kind;
}

let rt: Runtime | undefined;
let model: ResNet20 | undefined;
let data: { train: CifarSplit; test: CifarSplit } | undefined;
let paused = false;
let resume: (() => void) | undefined;

async function runtime(): Promise<Runtime> {
  if (rt) return rt;
  rt = await getRuntime();
  const r = rt.report as unknown as { description?: string; vendor?: string; architecture?: string; device?: string };
  const info = rt.adapter?.info;
  $('adapter').textContent =
    [info?.description || info?.device || r.description, info?.vendor, info?.architecture]
      .filter(Boolean)
      .join(' / ') || 'unknown adapter';
  rt.device.addEventListener('uncapturederror', (ev) =>
    setStatus('error', `WebGPU error: ${(ev as GPUUncapturedErrorEvent).error.message}`),
  );
  void rt.device.lost.then((info) => {
    if (info.reason !== 'destroyed') setStatus('error', `the GPU device was lost (${info.reason}: ${info.message})`);
  });
  return rt;
}

async function fetchSplit(names: string[]): Promise<CifarSplit> {
  const parts = [];
  for (const name of names) {
    $('status').textContent = `${state.status}: fetching ${name}`;
    const res = await fetch(`data/${name}`);
    if (!res.ok) throw new Error(`data/${name}: HTTP ${res.status} ${res.statusText}`);
    parts.push({ name, bytes: new Uint8Array(await res.arrayBuffer()) });
  }
  return parseCifarRecords(parts, 'The server verifies every file; restart `pnpm demo`.');
}

async function loadData(): Promise<{ train: CifarSplit; test: CifarSplit }> {
  if (data) return data;
  const train = await fetchSplit(cfgIn.trainFiles.slice(0, num('train-files', cfgIn.trainFiles.length)));
  const test = await fetchSplit(cfgIn.testFiles);
  const subset = num('test-subset', 0);
  data = { train, test: subset ? subsetSplit(test, subset) : test };
  return data;
}

function drawCurves(points: CurvePoint[]): void {
  $('curves').innerHTML = curvesSvg(points);
}

/** The first GRID test images with predicted and true labels (green right, red wrong). */
async function drawGrid(m: ResNet20, test: CifarSplit): Promise<void> {
  const batch = testBatches(subsetSplit(test, Math.min(GRID, test.n)), GRID).next().value!;
  const g = uploadBatch(batch);
  // Eval mode: in train mode BatchNorm would use this batch's statistics and update its running ones.
  const training = m.training;
  m.eval();
  const pred = noGrad(() => tidy(() => argmax(m.forward(fromDevice(g.x.reshape(g.x.shape))).data)));
  if (training) m.train();
  const p = await pred.toArray();
  pred.dispose();
  g.dispose();
  const grid = $('grid');
  grid.innerHTML = '';
  for (let i = 0; i < batch.size; i++) {
    const cell = document.createElement('figure');
    const canvas = document.createElement('canvas');
    canvas.width = canvas.height = 32;
    const ctx = canvas.getContext('2d')!;
    const img = ctx.createImageData(32, 32);
    const px = batch.images.subarray(i * IMAGE_BYTES, (i + 1) * IMAGE_BYTES);
    for (let j = 0; j < 1024; j++) {
      img.data[4 * j] = px[j];
      img.data[4 * j + 1] = px[1024 + j];
      img.data[4 * j + 2] = px[2048 + j];
      img.data[4 * j + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
    const caption = document.createElement('figcaption');
    const right = p[i] === batch.labels[i];
    caption.className = right ? 'right' : 'wrong';
    caption.textContent = right ? CLASS_NAMES[p[i]] : `${CLASS_NAMES[p[i]]} (${CLASS_NAMES[batch.labels[i]]})`;
    cell.append(canvas, caption);
    grid.append(cell);
  }
}

async function train(): Promise<void> {
  const cfg: TrainConfig = {
    ...cfgIn.defaults,
    epochs: Number(($('epochs') as HTMLInputElement).value),
    batchSize: Number(($('batch-size') as HTMLInputElement).value),
    lr: Number(($('lr') as HTMLInputElement).value),
    stepsPerEpoch: num('steps-per-epoch', 0),
    logEvery: num('log-every', cfgIn.defaults.logEvery),
  };
  cfg.scheduleEpochs = cfg.epochs;
  setStatus('training', 'starting');
  const r = await runtime();
  const { train: trainSplit, test } = await loadData();
  model?.dispose();
  model = new ResNet20({ shortcut: cfg.shortcut, seed: cfg.seed });
  const opt = makeOptimizer(model, cfg);
  const loader = new TrainLoader(trainSplit, { batchSize: cfg.batchSize, seed: cfg.seed });
  const steps = cfg.stepsPerEpoch ? Math.min(cfg.stepsPerEpoch, loader.steps) : loader.steps;
  const sched = makeSchedule(cfg, opt, cfg.scheduleEpochs * steps);
  const pacer = new SubmitPacer(r);
  const total = cfg.epochs * steps;
  const started = performance.now();
  let trainSec = 0;
  let images = 0;
  const live: CurvePoint[] = [];
  setStatus('training');
  for (let epoch = 0; epoch < cfg.epochs; epoch++) {
    const lossSum = DeviceTensor.zeros([1]);
    const correct = DeviceTensor.zeros([1]);
    // The trainer's captured step: the step's JavaScript runs only when a graph is captured.
    const stepper = new CapturedSteps({
      model,
      opt,
      sched,
      acc: { lossSum, correct },
      labelSmoothing: cfg.labelSmoothing,
    });
    let [seen, lastLoss, lastSeen] = [0, 0, 0];
    let segment = performance.now();
    for (let step = 0; step < steps; step++) {
      if (paused) {
        await pacer.wait();
        trainSec += (performance.now() - segment) / 1000;
        setStatus('paused');
        await new Promise<void>((res) => (resume = res));
        setStatus('training');
        segment = performance.now();
      }
      const batch = loader.batch(epoch, step);
      stepper.step(batch);
      await pacer.throttle();
      pacer.submit();
      seen += batch.size;
      images += batch.size;
      state.stepsDone++;
      if ((step + 1) % cfg.logEvery === 0 || step === steps - 1) {
        await pacer.wait();
        r.checkErrors();
        const [l, c] = [await lossSum.item(), await correct.item()];
        if (!Number.isFinite(l))
          throw new Error(`the training loss became ${l} at epoch ${epoch + 1}, step ${step + 1}`);
        state.losses.push((l - lastLoss) / (seen - lastSeen));
        [lastLoss, lastSeen] = [l, seen];
        const sec = trainSec + (performance.now() - segment) / 1000;
        state.imagesPerSec = images / sec;
        const done = epoch * steps + step + 1;
        $('step').textContent = `${done} / ${total}`;
        $('train-loss').textContent = (l / seen).toFixed(4);
        $('img-per-sec').textContent = state.imagesPerSec.toFixed(1);
        $('eta').textContent = `${Math.round(((total - done) * cfg.batchSize) / state.imagesPerSec)} s`;
        ($('progress') as HTMLProgressElement).value = done / total;
        live.push({
          epoch: epoch + (step + 1) / steps,
          trainLoss: l / seen,
          trainAcc: c / seen,
          testLoss: NaN,
          testAcc: NaN,
        });
        drawCurves(live);
      }
    }
    trainSec += (performance.now() - segment) / 1000;
    const [ls, cs] = [await lossSum.item(), await correct.item()];
    stepper.dispose();
    lossSum.dispose();
    correct.dispose();
    const ev = await evaluate(model, test);
    state.history.push({
      epoch: epoch + 1,
      trainLoss: ls / seen,
      trainAcc: cs / seen,
      testLoss: ev.loss,
      testAcc: ev.acc,
    });
    $('test-acc').textContent = `${(100 * ev.acc).toFixed(2)}%`;
    // The live train points stay; each epoch's end adds the test loss and accuracy.
    live.splice(live.length - 1, 1, state.history[state.history.length - 1]);
    drawCurves(live);
    await drawGrid(model, test);
  }
  opt.dispose();
  setStatus('done', `${cfg.epochs} epochs in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

async function loadWeights(file: File): Promise<void> {
  setStatus('training', `loading ${file.name}`);
  await runtime();
  const bytes = new Uint8Array(await file.arrayBuffer());
  // A trainer checkpoint also holds momentum buffers (optimizer.*): only the model's names must match.
  const keys = [...parseSafetensors(bytes, file.name).tensors.keys()];
  const next = new ResNet20({ shortcut: keys.includes('layer2.0.shortcut.0.weight') ? 'B' : 'A' });
  const { missing } = next.loadBytes(bytes, { strict: false, source: file.name });
  if (missing.length) {
    next.dispose();
    throw new Error(`${file.name}: not ResNet20 weights (missing ${missing.slice(0, 3).join(', ')}...)`);
  }
  model?.dispose();
  model = next;
  const { test } = await loadData();
  const ev = await evaluate(model, test);
  $('test-acc').textContent = `${(100 * ev.acc).toFixed(2)}%`;
  await drawGrid(model, test);
  setStatus('done', `${file.name}: ${(100 * ev.acc).toFixed(2)}% on ${test.n} test images`);
}

async function saveWeights(): Promise<void> {
  const bytes = await state.saveWeights();
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([bytes as BlobPart], { type: 'application/octet-stream' }));
  a.download = 'resnet20-browser.safetensors';
  a.click();
}

const fail = (e: unknown) => setStatus('error', (e as Error).message ?? String(e));
window.addEventListener('unhandledrejection', (ev: PromiseRejectionEvent) => fail(ev.reason));

function init(): void {
  const d = cfgIn.defaults;
  ($('epochs') as HTMLInputElement).value = String(num('epochs', d.epochs));
  ($('batch-size') as HTMLInputElement).value = String(num('batch-size', d.batchSize));
  ($('lr') as HTMLInputElement).value = String(num('lr', d.lr));
  drawCurves([]);
  $('start').addEventListener('click', () => {
    ($('start') as HTMLButtonElement).disabled = true;
    train()
      .catch(fail)
      .finally(() => (($('start') as HTMLButtonElement).disabled = false));
  });
  $('pause').addEventListener('click', () => {
    paused = !paused;
    $('pause').textContent = paused ? 'Resume' : 'Pause';
    if (!paused) resume?.();
  });
  $('load').addEventListener('change', (ev: Event) => {
    const f = (ev.target as HTMLInputElement).files?.[0];
    if (f) loadWeights(f).catch(fail);
  });
  $('save').addEventListener('click', () => void saveWeights().catch(fail));
  if (!navigator.gpu) return setStatus('error', 'this browser has no WebGPU (navigator.gpu is undefined)');
  void runtime().then(() => {
    setStatus('idle');
    if (params.get('autostart') === '1') $('start').click();
  }, fail);
}

init();
