// Test helper (not part of the package): writes a large checkpoint over argv[2], slowly enough
// that the test can kill it part-way through the write.
import { saveCheckpoint } from './checkpoint.js';

const path = process.argv[2];
const big = new Float32Array(100_000_000); // 400 MB
big.fill(7);
console.log('writing');
saveCheckpoint(path, { model: { w: { shape: [big.length], data: big } }, optimizer: {}, state: { n: 2 } });
console.log('done');
