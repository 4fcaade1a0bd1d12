// pnpm example NAME: trains one of the example models (examples/src/NAME/).

const [example] = process.argv.slice(2);
console.error(`pnpm example: no example named '${example ?? ''}' yet.`);
process.exit(2);
export {};
