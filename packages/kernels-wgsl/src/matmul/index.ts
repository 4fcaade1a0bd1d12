// Public API: matmul with optional transposes, plain and batched.
import './bench.js';

export { matmul, matmulShape, type MatmulOptions } from './matmul.js';
export { matmulRef } from './reference.js';
