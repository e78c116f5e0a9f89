// Every GEMM path of the native addon against a plain triple loop: both engines (OpenBLAS, oneDNN's
// dnnl_sgemm) × both threading modes (split across vaekit's pool / the engine's own threads) × the
// four transpose cases, odd sizes and sizes of 1, with the fused bias + activation epilogue and
// batched products; and the engine choice (VAEKIT_GEMM, OPENBLAS_CORETYPE) in a child process.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { ADDON_PATH, loadAddon } from '../src/backend/native/index.js';

const { addon, reason } = loadAddon();
const skip = addon ? false : `native addon not available: ${reason}`;

function rand(n: number, seed: number): Float32Array {
  let s = (seed * 2654435761) >>> 0 || 1;
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    a[i] = ((s >>> 0) / 4294967296) * 2 - 1;
  }
  return a;
}

/** C = op(A)·op(B) (+ bias, relu), row-major, in float64. */
function reference(A: Float32Array, B: Float32Array, M: number, N: number, K: number, tA: boolean, tB: boolean) {
  const C = new Float64Array(M * N);
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += A[tA ? k * M + i : i * K + k] * B[tB ? j * K + k : k * N + j];
      C[i * N + j] = s;
    }
  return C;
}

function close(got: Float32Array, want: Float64Array, K: number, what: string): void {
  assert.equal(got.length, want.length, what);
  const tol = 1e-5 * Math.max(1, K);
  for (let i = 0; i < got.length; i++) {
    if (!(Math.abs(got[i] - want[i]) <= tol * (1 + Math.abs(want[i]))))
      assert.fail(`${what}: element ${i} is ${got[i]}, expected ${want[i]}`);
  }
}

// [M, N, K]: odd sizes, sizes of 1, large enough to be split across the pool (>= 64³ multiply-adds)
const SIZES: [number, number, number][] = [
  [1, 1, 1],
  [1, 7, 3],
  [5, 1, 9],
  [3, 4, 1],
  [17, 33, 65],
  [129, 67, 31],
  [31, 257, 129],
  [128, 400, 784],
];

it('every GEMM path matches a plain reference', { skip }, async (t) => {
  const a = addon!;
  const before = a.info();
  const engines = before.gemm.openblas ? (['openblas', 'onednn'] as const) : (['onednn'] as const);
  try {
    for (const engine of engines)
      for (const mode of [0, 1]) {
        a.setGemmEngine(engine);
        a.setGemmMode(mode);
        await t.test(`${engine}, ${mode ? "the engine's threads" : 'split across the pool'}`, () => {
          let seed = 1;
          for (const [M, N, K] of SIZES)
            for (const tA of [false, true])
              for (const tB of [false, true]) {
                const A = rand(M * K, seed++),
                  B = rand(K * N, seed++),
                  bias = rand(N, seed++);
                const want = reference(A, B, M, N, K, tA, tB);
                const what = `${engine} mode ${mode} ${tA ? 'T' : 'N'}${tB ? 'T' : 'N'} ${M}x${N}x${K}`;
                const C = new Float32Array(M * N).fill(NaN);
                a.gemm(A, B, C, M, N, K, tA, tB, 1, null, null, 0, 0, null, a.codes.act.linear, 0);
                close(C, want, K, what);
                // fused bias + relu
                const C2 = new Float32Array(M * N).fill(NaN);
                a.gemm(A, B, C2, M, N, K, tA, tB, 1, null, null, 0, 0, bias, a.codes.act.relu, 0);
                const want2 = want.map((v, i) => Math.max(0, v + bias[i % N]));
                close(C2, want2, K, `${what} + bias, relu`);
              }
          // batched: 3 items, B broadcast (stride 0)
          const [M, N, K] = [9, 13, 11];
          const A = rand(3 * M * K, 7),
            B = rand(K * N, 8);
          const C = new Float32Array(3 * M * N).fill(NaN);
          a.gemm(A, B, C, M, N, K, false, true, 3, null, null, M * K, 0, null, 0, 0);
          for (let i = 0; i < 3; i++)
            close(
              C.subarray(i * M * N, (i + 1) * M * N),
              reference(A.subarray(i * M * K, (i + 1) * M * K), B, M, N, K, false, true),
              K,
              `${engine} batch item ${i}`,
            );
        });
      }
  } finally {
    a.setGemmEngine(before.gemm.engine);
    a.setGemmMode(before.gemmMode);
  }
});

/** addon.info().gemm in a fresh process with `env` (the engine is chosen when the addon loads). */
function gemmInfoWith(env: Record<string, string | undefined>): { engine: string; kernel: string; coretype: string } {
  const code = `const a = require(${JSON.stringify(ADDON_PATH)}); console.log(JSON.stringify(a.info().gemm));`;
  const childEnv: Record<string, string | undefined> = { ...process.env, ...env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete childEnv[k];
  const r = spawnSync(process.execPath, ['-e', code], { env: childEnv as NodeJS.ProcessEnv, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

it('VAEKIT_GEMM and a user OPENBLAS_CORETYPE win over the choice from cpuid', { skip }, (t) => {
  const base = { VAEKIT_GEMM: undefined, OPENBLAS_CORETYPE: undefined };
  const auto = gemmInfoWith(base);
  assert.ok(['openblas', 'onednn'].includes(auto.engine));
  // no user core type: vaekit sets one for the ISA (OpenBLAS's own detection may not know the CPU)
  if (addon!.info().cpu.isa.includes('AVX2')) assert.notEqual(auto.coretype, '');
  assert.equal(gemmInfoWith({ ...base, VAEKIT_GEMM: 'onednn' }).engine, 'onednn');
  if (!addon!.info().gemm.openblas) return t.skip('OpenBLAS not loadable here');
  const ob = gemmInfoWith({ ...base, VAEKIT_GEMM: 'openblas' });
  assert.equal(ob.engine, 'openblas');
  // the user's core type is passed to OpenBLAS as is (Haswell: every x86-64 CPU with AVX2 runs it)
  if (addon!.info().cpu.isa.includes('AVX2')) {
    const hw = gemmInfoWith({ ...base, VAEKIT_GEMM: 'openblas', OPENBLAS_CORETYPE: 'Haswell' });
    assert.equal(hw.coretype, 'Haswell');
    assert.equal(hw.kernel, 'Haswell');
  }
});
