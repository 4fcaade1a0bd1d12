// The differentiable ops (PyTorch's torch.* / torch.nn.functional.* in camelCase), one file per
// family under functional/. Each op is declared once, in one block there: its forward and
// backward (written against the kernel names both backends share), then its public function and
// its Tensor method.

export * from './functional/elementwise.js';
export * from './functional/shape.js';
export * from './functional/reduce.js';
export * from './functional/linalg.js';
export * from './functional/conv.js';
export * from './functional/pool.js';
export * from './functional/norm.js';
export * from './functional/loss.js';
export * from './functional/indexing.js';
export * from './functional/nn.js';
