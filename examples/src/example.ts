// pnpm example NAME [options]: trains one of the example models.
//   transformer  a small GPT-style character model on Moby-Dick (examples/src/transformer)
//   mobilenet    a depthwise-separable CNN with max pooling on CIFAR-10 (examples/src/mobilenet)

import { destroyRuntime, getRuntime } from '@wgtorch/tensor';
import { trainTransformer } from './transformer/train.js';
import { trainMobilenet } from './mobilenet/train.js';

const EXAMPLES: Record<string, (argv: string[]) => Promise<void>> = {
  transformer: trainTransformer,
  mobilenet: trainMobilenet,
};

const [name, ...rest] = process.argv.slice(2);
const run = name ? EXAMPLES[name] : undefined;
if (!run) {
  console.error(`usage: pnpm example ${Object.keys(EXAMPLES).join('|')} [options]` + (name ? ` (got '${name}')` : ''));
  process.exit(2);
}
try {
  await getRuntime();
  await run(rest);
} catch (e) {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
} finally {
  destroyRuntime();
}
