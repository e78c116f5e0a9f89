// The native backend: tfjs-backend-cpu with its hot kernels replaced by the N-API addon (native/).
//
// `registerNativeBackend()` loads build/Release/vaekit_native.node, registers a backend named
// 'vaekit-native' (a MathBackendCPU subclass, so every tensor is a typed array in JS memory and every
// cpu kernel works unchanged), copies all cpu kernels onto it and overrides the hot ones with the
// kernel families below, in one loop. Each family is one file: elementwise (unary/binary/compare,
// from the addon's own op list), matmul, reduce (+ softmax), shape (data movement), likelihood (the
// fused VAE kernels of fused.ts) and conv; optimizer.ts holds the in-place steps. Native kernels fall
// back to the cpu implementation for dtypes or cases they do not handle (int32, bool, complex).
//
// Environment: VAEKIT_THREADS (threads of the native kernels, default 2), VAEKIT_SPIN_US (how long
// idle pool workers spin before sleeping, default 100), VAEKIT_POOL_MB (memory kept for reusing
// kernel outputs, default 256; 0 disables), VAEKIT_GEMM=openblas|onednn (the GEMM engine; default
// the faster of the two on this CPU, measured once and cached: engine-choice.ts), VAEKIT_CACHE_DIR
// (where that choice is cached; default $XDG_CACHE_HOME/vaekit or ~/.cache/vaekit), OPENBLAS_CORETYPE (OpenBLAS's kernel; default chosen
// from the ISA), VAEKIT_GEMM_MODE=blas (let the engine thread GEMMs itself instead of splitting them
// across the pool; for comparison), VAEKIT_KERNEL_PROFILE=1 (time per kernel on stderr at exit).
import * as tf from '@tensorflow/tfjs-core';
import os from 'node:os';
import { FUSED_KERNELS, NATIVE_BACKEND } from '../kernel-names.js';
import { registerInPlaceSteps } from '../inplace-steps.js';
import { loadAddon, type CpuInfo, type GemmInfo, type NativeAddon } from './addon.js';
import { convKernels } from './conv.js';
import { elementwiseKernels } from './elementwise.js';
import { chooseGemmEngine } from './engine-choice.js';
import { likelihoodKernels } from './likelihood.js';
import { matMulKernels } from './matmul.js';
import { guarded, NativeBackend } from './memory.js';
import { inPlaceSteps } from './optimizer.js';
import { profileKernels } from './profile.js';
import { reduceKernels } from './reduce.js';
import { shapeKernels } from './shape.js';
import type { KernelFunc } from './util.js';

export { NATIVE_BACKEND };
export { cacheDir, engineCacheFile } from './engine-choice.js';
export { ADDON_PATH, loadAddon, type CpuInfo, type GemmInfo, type NativeAddon } from './addon.js';
export { allocF32, poolStats, setOutputPoolLimit, NativeBackend } from './memory.js';

export interface NativeLoadResult {
  ok: boolean;
  reason?: string;
  blas?: string;
  gemm?: GemmInfo;
  cpu?: CpuInfo;
  threads?: number;
  /** Kernel names overridden with native code. */
  kernels?: string[];
}

/**
 * The kernel families, each (addon) → {tfjs kernel name: kernel}. `guard`: the family may hand back
 * a tfjs-cpu result over a pooled input's memory (see guarded); the others' outputs are their own.
 */
const FAMILIES: { kernels: (addon: NativeAddon) => Record<string, KernelFunc>; guard?: boolean }[] = [
  { kernels: elementwiseKernels },
  { kernels: matMulKernels },
  { kernels: reduceKernels },
  { kernels: shapeKernels },
  { kernels: likelihoodKernels },
  { kernels: (addon) => convKernels(addon, NATIVE_BACKEND), guard: true },
];

let state: NativeLoadResult | null = null;

/** The loaded addon, or null when registerNativeBackend has not succeeded. */
export function nativeAddon(): NativeAddon | null {
  return state?.ok ? (loadAddon().addon ?? null) : null;
}

function threadCount(): number {
  const env = Number.parseInt(process.env.VAEKIT_THREADS ?? '', 10);
  if (Number.isFinite(env) && env >= 1) return env;
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, Math.min(2, cores));
}

/**
 * Registers the 'vaekit-native' backend (idempotent; never throws). Returns what was loaded, or
 * `{ok: false, reason}` saying what is missing.
 */
export function registerNativeBackend(): NativeLoadResult {
  if (state) return state;
  try {
    const { addon, reason } = loadAddon();
    if (!addon) {
      state = { ok: false, reason };
      return state;
    }
    const threads = addon.setThreads(threadCount());
    if (process.env.VAEKIT_GEMM_MODE === 'blas') addon.setGemmMode(1);
    const choice = chooseGemmEngine(addon);
    const spin = Number.parseInt(process.env.VAEKIT_SPIN_US ?? '', 10);
    if (Number.isFinite(spin) && spin >= 0) addon.setSpin(spin);
    const overrides: Record<string, KernelFunc> = {};
    for (const f of FAMILIES)
      for (const [name, kf] of Object.entries(f.kernels(addon))) overrides[name] = f.guard ? guarded(kf) : kf;
    if (!tf.findBackendFactory(NATIVE_BACKEND)) {
      // priority 2: above tfjs-cpu (1), below tfjs-node (3)
      tf.registerBackend(NATIVE_BACKEND, () => new NativeBackend(), 2);
    }
    // every cpu kernel (guarded), then the native ones over them: one loop
    const kernels = new Map<string, KernelFunc>();
    for (const k of tf.getKernelsForBackend('cpu')) kernels.set(k.kernelName, guarded(k.kernelFunc));
    for (const [name, kf] of Object.entries(overrides)) kernels.set(name, kf);
    for (const [kernelName, kernelFunc] of kernels) {
      if (tf.getKernel(kernelName, NATIVE_BACKEND)) tf.unregisterKernel(kernelName, NATIVE_BACKEND);
      tf.registerKernel({ kernelName, backendName: NATIVE_BACKEND, kernelFunc });
    }
    registerInPlaceSteps(NATIVE_BACKEND, inPlaceSteps(addon));
    const native = Object.keys(overrides);
    if (process.env.VAEKIT_KERNEL_PROFILE === '1')
      profileKernels(new Set([...native, ...Object.values(FUSED_KERNELS)]));
    const info = addon.info();
    state = { ok: true, blas: info.blas, gemm: { ...info.gemm, choice }, cpu: info.cpu, threads, kernels: native };
  } catch (e) {
    state = { ok: false, reason: `native backend registration failed: ${(e as Error).message}` };
  }
  return state;
}

/** Changes the number of threads of the native kernels (the pool, and oneDNN's OpenMP team). */
export function setNativeThreads(n: number): number {
  const addon = nativeAddon();
  return addon ? addon.setThreads(n) : 0;
}
