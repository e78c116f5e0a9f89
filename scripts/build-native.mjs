// Builds the native addon (native/, binding.gyp) with node-gyp. Never fails the install: when the
// build cannot run (no compiler, no OpenBLAS headers), vaekit falls back to tfjs-wasm at run time
// and says what was missing.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const force = process.argv.includes('--force');
if (process.env.VAEKIT_SKIP_NATIVE === '1' && !force) {
  console.log('vaekit: VAEKIT_SKIP_NATIVE=1, not building the native backend');
  process.exit(0);
}
const require = createRequire(import.meta.url);
let gyp;
try {
  gyp = require.resolve('node-gyp/bin/node-gyp.js');
} catch {
  console.warn('vaekit: node-gyp not found; the native backend is not built (vaekit will use tfjs-wasm)');
  process.exit(0);
}
const args = [gyp, 'rebuild', '--jobs=max'];
if (existsSync('/usr/include/node/node_api.h')) args.push('--nodedir=/usr');
const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
if (r.status !== 0) {
  console.warn(
    "vaekit: the native backend did not build (see above; it needs g++, make and Debian's libdnnl-dev; OpenBLAS, libopenblas0, is loaded at run time).\n" +
      'vaekit: continuing without it; training will use tfjs-wasm, which is much slower.',
  );
}
process.exit(0);
