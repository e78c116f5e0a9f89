// Backend selection: tfjs-node if the user has it, else vaekit's native backend (OpenBLAS/oneDNN
// kernels under tfjs-backend-cpu), else tfjs-wasm with a one-line warning, else plain tfjs-cpu.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { createRequire } from 'node:module';
import { NATIVE_BACKEND, registerNativeBackend, type CpuInfo, type GemmInfo } from './native/index.js';

export type BackendChoice = 'auto' | 'node' | 'native' | 'wasm' | 'cpu';

export interface BackendInfo {
  backend: string;
  detail: string;
  warnings: string[];
  /** Native backend: the GEMM engine, its kernel and why they were chosen. */
  gemm?: GemmInfo;
  /** Native backend: the CPU as cpuid reports it. */
  cpu?: CpuInfo;
}

let current: BackendInfo | null = null;

async function tryNode(): Promise<string | null> {
  try {
    const require = createRequire(import.meta.url);
    require('@tensorflow/tfjs-node');
    return (await tf.setBackend('tensorflow')) ? null : 'tfjs-node did not initialise';
  } catch (e) {
    return '@tensorflow/tfjs-node is not installed';
  }
}

async function tryNative(): Promise<{ err: string | null; detail: string; gemm?: GemmInfo; cpu?: CpuInfo }> {
  const r = registerNativeBackend();
  if (!r.ok) return { err: r.reason ?? 'native backend unavailable', detail: '' };
  const ok = await tf.setBackend(NATIVE_BACKEND);
  if (!ok) return { err: 'native backend failed to initialise', detail: '' };
  const g = r.gemm;
  const gemm = g ? `GEMM ${g.engine} (${g.kernel})` : `BLAS ${r.blas ?? '?'}`;
  return { err: null, detail: `${gemm}, ${r.threads ?? '?'} threads`, gemm: g, cpu: r.cpu };
}

async function tryWasm(): Promise<string | null> {
  try {
    await import('@tensorflow/tfjs-backend-wasm');
    return (await tf.setBackend('wasm')) ? null : 'tfjs-wasm did not initialise';
  } catch (e) {
    return `tfjs-wasm unavailable: ${(e as Error).message}`;
  }
}

/**
 * Selects and initialises the compute backend once per process. `VAEKIT_BACKEND` overrides `auto`.
 * Returns what was chosen and why the faster ones were not.
 */
export async function initBackend(choice: BackendChoice = 'auto', quiet = false): Promise<BackendInfo> {
  const env = process.env.VAEKIT_BACKEND as BackendChoice | undefined;
  if (choice === 'auto' && env) choice = env;
  if (!['auto', 'node', 'native', 'wasm', 'cpu'].includes(choice)) {
    throw new Error(`unknown backend "${choice}" (expected auto, node, native, wasm or cpu)`);
  }
  if (current && (choice === 'auto' || current.backend === choice)) return current;
  tf.enableProdMode(); // no tfjs console chatter ("install tfjs-node…"); vaekit says what it uses itself
  const warnings: string[] = [];
  const done = (backend: string, detail: string, native?: { gemm?: GemmInfo; cpu?: CpuInfo }): BackendInfo => {
    current = { backend, detail, warnings, ...(native?.gemm ? { gemm: native.gemm, cpu: native.cpu } : {}) };
    return current;
  };
  if (choice === 'node') {
    const err = await tryNode();
    if (err) throw new Error(err);
    return done('node', 'TensorFlow C library');
  }
  if (choice === 'native') {
    const r = await tryNative();
    if (r.err) throw new Error(r.err);
    return done('native', r.detail, r);
  }
  if (choice === 'wasm') {
    const err = await tryWasm();
    if (err) throw new Error(err);
    return done('wasm', 'WebAssembly SIMD');
  }
  if (choice === 'cpu') {
    await tf.setBackend('cpu');
    return done('cpu', 'pure JavaScript');
  }
  // auto
  const nodeErr = await tryNode();
  if (!nodeErr) return done('node', 'TensorFlow C library');
  const nat = await tryNative();
  if (!nat.err) return done('native', nat.detail, nat);
  const wasmErr = await tryWasm();
  if (!wasmErr) {
    const w = `vaekit: native backend unavailable (${nat.err}); using tfjs-wasm, much slower — install libdnnl-dev and libopenblas0, then npm run build:native`;
    warnings.push(w);
    if (!quiet) console.warn(w);
    return done('wasm', 'WebAssembly');
  }
  const w = `vaekit: native backend (${nat.err}) and tfjs-wasm (${wasmErr}) unavailable; using pure-JS tfjs-cpu, very slow`;
  warnings.push(w);
  if (!quiet) console.warn(w);
  await tf.setBackend('cpu');
  return done('cpu', 'pure JavaScript');
}

export function backendInfo(): BackendInfo | null {
  return current;
}

export { tf };
