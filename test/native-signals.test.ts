// oneDNN's jit sgemm kernels point rsp at a heap workspace while they run (oneDNN issue #4845): a
// signal handled on that thread meanwhile writes its frame into the heap. `node --cpu-prof` (SIGPROF
// to the JavaScript thread every interval) then aborted every native training run in free() or made
// its loss NaN. native/signals.h blocks the asynchronous signals around each oneDNN call; here a child
// process profiled every 50 µs runs oneDNN GEMMs of the mlp step's size on the JavaScript thread and
// split across the pool, each compared bit for bit with the same product before the profiler started.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ADDON_PATH, loadAddon } from '../src/backend/native/index.js';

const { addon, reason } = loadAddon();
const skip = addon ? false : `native addon not available: ${reason}`;

// The child (profiled from its start): for each mode and transpose case one product, then 25 more
// compared with it bit for bit. Prints "ok <calls>", or the first mismatch and exits 2; before the fix
// it died in free() ("corrupted size vs. prev_size while consolidating") within the first few calls.
const CHILD = `
const a = require(process.env.ADDON);
a.setGemmEngine('onednn');
let s = 12345;
const rnd = (n) => { const x = new Float32Array(n); for (let i = 0; i < n; i++) { s = (s * 1664525 + 1013904223) >>> 0; x[i] = s / 4294967296 - 0.5; } return x; };
const [M, N, K] = [128, 400, 784];
const A = rnd(M * K), B = rnd(K * N);
let calls = 0;
for (const mode of [0, 1]) {
  a.setGemmMode(mode);
  for (const tA of [false, true]) for (const tB of [false, true]) {
    const want = new Float32Array(M * N);
    a.gemm(A, B, want, M, N, K, tA, tB, 1, null, null, 0, 0, null, 0, 0);
    const wb = Buffer.from(want.buffer);
    for (let r = 0; r < Number(process.env.REPS); r++) {
      const c = new Float32Array(M * N).fill(NaN);
      a.gemm(A, B, c, M, N, K, tA, tB, 1, null, null, 0, 0, null, 0, 0);
      calls++;
      if (!wb.equals(Buffer.from(c.buffer))) { console.log('mismatch: mode ' + mode + ' ' + tA + ' ' + tB + ' rep ' + r); process.exit(2); }
    }
  }
}
console.log('ok ' + calls);
`;

for (const threads of [1, 2]) {
  it(
    `oneDNN GEMMs under node --cpu-prof (SIGPROF every 50 µs), ${threads} thread(s): no heap corruption, same bytes`,
    { skip },
    () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'vaekit-sigprof-'));
      try {
        const r = spawnSync(
          process.execPath,
          ['--cpu-prof', '--cpu-prof-interval', '50', '--cpu-prof-dir', dir, '-e', CHILD],
          {
            env: { ...process.env, ADDON: ADDON_PATH, REPS: '25', VAEKIT_THREADS: String(threads) },
            encoding: 'utf8',
          },
        );
        assert.equal(r.signal, null, `child killed by ${r.signal}: ${r.stderr}`);
        assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
        assert.equal(r.stdout.trim(), `ok ${2 * 4 * 25}`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
}
