export { Params, params } from './common/params.js';
export { KernelArgumentError, checkDtype, checkRank, checkSameShape } from './common/errors.js';
export { grid1d, FLAT_INDEX_WGSL, MAX_WORKGROUPS_PER_DIM } from './common/grid.js';
export { registerKernel, listKernels, type KernelEntry, type BenchCase } from './common/registry.js';
export { fixturesDir, loadFixture, compare, assertClose, randomArray, type CloseOptions, type Comparison } from './common/testing.js';
