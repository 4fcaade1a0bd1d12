// The kernel benchmark cases, registered with kernels-wgsl's registry (listKernels) when this
// module loads: `pnpm bench` imports it; the library itself registers nothing.
import './elementwise.js';
import './reduce.js';
import './pool.js';
import './loss.js';
import './sgd.js';
import './augment.js';
import './matmul.js';
import './batchnorm.js';
import './conv2d.js';
