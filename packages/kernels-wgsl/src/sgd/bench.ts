// Only for sgd.test.ts, which imports resnet20ParamShapes from here; the benchmark case lives in
// benchmarks/src/kernels/sgd.ts. Goes when the test takes the shapes from there.
export { resnet20ParamShapes } from './resnet20-shapes.js';
