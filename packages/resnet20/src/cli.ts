// `pnpm resnet20 <command>` (and `pnpm train`, which is `resnet20 train`).
//   train     train on CIFAR-10 (see --help)
//   golden F  compare with PyTorch reference values; exit 0 exactly when all are in tolerance
//   eval      test accuracy, per-class accuracy and confusion matrix of a checkpoint
//   export    weights of a checkpoint as safetensors with PyTorch's state_dict names
//   summary   the model, like PyTorch's print(model)

import { parseArgs } from 'node:util';
import { describeAdapter, getRuntime } from '@wgtorch/tensor';

const USAGE =
  `usage: pnpm resnet20 <command> [options]
  train [--help]                      train ResNet20 on CIFAR-10 (same as pnpm train)
  golden FILE                         check against a PyTorch fixture ` +
  `(e.g. ../shared/fixtures/resnet20-golden-s0.safetensors)
  eval --checkpoint F [--data-dir D] [--test-subset N]
                                      test accuracy, per-class accuracy, confusion matrix of a
                                      checkpoint or of a weights-only file (what export writes)
  export --checkpoint F --out F       weights as safetensors with PyTorch state_dict names
  summary [--shortcut A|B]            print the model and its parameter counts`;

/** Errors raised for bad options, data or files (by name, so this file imports none of their modules). */
const USER_ERRORS = new Set(['TrainError', 'CifarDataError', 'SafetensorsError', 'StateDictError', 'FileWriteError']);

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'golden': {
      if (!rest[0]) {
        console.error(
          'golden: give the fixture file, e.g. pnpm resnet20 golden ../shared/fixtures/resnet20-golden-s0.safetensors',
        );
        return 2;
      }
      const rt = await getRuntime();
      console.error(`adapter: ${describeAdapter(rt.report)}`);
      const { runGolden, formatGolden } = await import('./golden.js');
      const r = await runGolden(rest[0]);
      console.log(formatGolden(r));
      return r.ok ? 0 : 1;
    }
    case 'train': {
      const { trainMain } = await import('./train/trainer.js');
      return trainMain(rest);
    }
    case 'eval': {
      const { evalMain } = await import('./train/evaluate.js');
      return evalMain(rest);
    }
    case 'export': {
      const { exportMain } = await import('./train/evaluate.js');
      return exportMain(rest);
    }
    case 'summary': {
      const { values } = parseArgs({
        args: rest,
        options: { shortcut: { type: 'string', default: 'B' } },
        strict: true,
      });
      const shortcut = values.shortcut!.toUpperCase();
      if (shortcut !== 'A' && shortcut !== 'B') {
        console.error(`summary: --shortcut '${values.shortcut}' is not A or B.`);
        return 2;
      }
      await getRuntime();
      const { ResNet20, summary } = await import('./model.js');
      const m = new ResNet20({ shortcut });
      console.log(summary(m));
      return 0;
    }
    default:
      console.error(USAGE);
      return cmd === undefined || cmd === '--help' || cmd === '-h' ? 0 : 2;
  }
}

main(process.argv.slice(2)).then(
  async (code) => {
    const { destroyRuntime } = await import('@wgtorch/tensor');
    destroyRuntime();
    process.exit(code);
  },
  (err: Error) => {
    // Errors about the user's input or files say what to do: their message is enough.
    // Anything else is a bug, and its stack helps.
    const userError =
      USER_ERRORS.has(err.name) || String((err as NodeJS.ErrnoException).code).startsWith('ERR_PARSE_ARGS');
    console.error(userError ? `error: ${err.message}` : (err.stack ?? err.message));
    process.exit(1);
  },
);
