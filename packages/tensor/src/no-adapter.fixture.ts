// Test helper: prints how getRuntime() fails (run with no Vulkan driver visible).
import { getRuntime } from './index.js';

try {
  await getRuntime();
  console.log('adapter found');
} catch (e) {
  console.log(`${(e as Error).name}: ${(e as Error).message}`);
}
process.exit(0);
