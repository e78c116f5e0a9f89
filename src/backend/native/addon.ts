// The N-API addon (native/, built into build/Release/vaekit_native.node): its typed interface and
// loading. Op and activation codes are not kept here: the addon exports them by name (`codes`, from
// native/ops.def), and the kernel families read them from there.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NativeConvAddon } from './conv.js';

type Codes = Record<string, number>;

/** The op codes of native/ops.def, by name. */
export interface NativeCodes {
  unary: Codes;
  binary: Codes;
  compare: Codes;
  reduce: Codes;
  /** tfjs fused activation name → code (GEMM epilogue and convolutions). */
  act: Codes;
  /** The layout of a convolution's Int32Array of parameters, in order. */
  convParams: string[];
  /** tfjs kernel name → code, for the ops that implement a tfjs kernel. */
  kernels: { unary: Codes; binary: Codes; compare: Codes; reduce: Codes };
}

/** The GEMM engine in use and why (native/engine.cc). */
export interface GemmInfo {
  engine: 'openblas' | 'onednn';
  /** OpenBLAS's core name (e.g. SkylakeX) or the ISA oneDNN dispatches to (e.g. avx512_core). */
  kernel: string;
  why: string;
  openblas: boolean;
  openblasConfig?: string;
  openblasKernel?: string;
  openblasError?: string;
  /** OPENBLAS_CORETYPE in effect ('' if none) and who set it. */
  coretype: string;
  coretypeWhy: string;
  onednnIsa: string;
  /** How the engine was chosen when the backend registered (engine-choice.ts). */
  choice?: EngineChoice;
}

/** The engine choice of engine-choice.ts: who chose, and the timings it rests on. */
export interface EngineChoice {
  source: 'env' | 'measured' | 'cache' | 'only-engine';
  /** Fastest mlp-step GEMM set, ms, per engine (measured now or read from the cache). */
  onednnMs?: number;
  openblasMs?: number | null;
  /** When the timings were taken (ISO). */
  measuredAt?: string;
  /** Decided by a quiet set of rounds (false: provisional, measured under load). */
  quiet?: boolean;
  /** The 1-minute load when measured. */
  load?: number;
  cacheFile?: string;
}

/** The CPU as cpuid reports it (native/cpu.cc). */
export interface CpuInfo {
  vendor: string;
  brand: string;
  family: number;
  model: number;
  /** The ISA extensions the CPU and OS have enabled, e.g. "AVX2 FMA AVX512F ...". */
  isa: string;
  /** FP32 lanes of one FMA at the widest enabled vector width. */
  fp32Lanes: number;
  fma: boolean;
}

export interface NativeInfo {
  /** One line: the GEMM library and its kernel. */
  blas: string;
  gemm: GemmInfo;
  cpu: CpuInfo;
  threads: number;
  blasThreads: number;
  ompMaxThreads: number;
  gemmMode: number;
  poolThreads: number;
}

type F32 = Float32Array;
type Arr = Float32Array | Int32Array | Uint8Array;

/**
 * A masked location-scale NLL (the Gaussian's: loc the mean, scale log σ²; the discretised logistic's:
 * loc μ, scale log s), scale broadcast by `mode` (0 scalar, 1 row [D], 2 full [N, D]); mask [maskRows, D],
 * maskRows N or 1 (0: none, logistic only); out [N].
 */
type LocScaleHead = [x: F32, loc: F32, scale: F32, mode: number, mask: F32, maskRows: number];
type LocScaleNll = (...a: [...LocScaleHead, out: F32, N: number, D: number]) => void;
/** Its gradient: dLoc [N, D], dScale of the scale's own shape. */
type LocScaleNllGrad = (...a: [...LocScaleHead, dy: F32, dLoc: F32, dScale: F32, N: number, D: number]) => void;

/** The addon's entry points (native/*.cc; each .cc registers its own with VK_EXPORT). */
export interface NativeAddon extends NativeConvAddon {
  codes: NativeCodes;
  coreVersion: number;
  info(): NativeInfo;
  setThreads(n: number): number;
  setSpin(us: number): void;
  /** 0: GEMMs split across the pool, single-threaded engine calls; 1: the engine's own threads. */
  setGemmMode(mode: number): number;
  /** Selects the GEMM engine; `why` is what info() says of the choice. */
  setGemmEngine(engine: 'openblas' | 'onednn', why?: string): string;
  /** The fastest of `rounds` alternated timings of the mlp step's 11 GEMMs with each engine, ms. */
  /** The fastest round of each engine, and every round (absent from builds before they were returned). */
  measureGemm(rounds: number): {
    onednn: number;
    openblas: number | null;
    onednnRounds?: number[];
    openblasRounds?: number[] | null;
  };
  threadCpuMs(): number;
  unary(op: number, x: F32, out: F32, p?: number, q?: number): void;
  binary(op: number, a: F32, aShape: number[], b: F32, bShape: number[], out: F32 | Uint8Array): void;
  gemm(
    a: F32,
    b: F32,
    out: F32,
    M: number,
    N: number,
    K: number,
    transA: boolean,
    transB: boolean,
    batch: number,
    aOffs: Int32Array | null,
    bOffs: Int32Array | null,
    aStride: number,
    bStride: number,
    bias: F32 | null,
    act: number,
    alpha: number,
  ): void;
  reduce(op: number, x: F32, shape: number[], axes: number[], out: F32): void;
  addN(xs: F32[], out: F32): void;
  transpose(x: F32 | Int32Array, shape: number[], perm: number[], out: F32 | Int32Array): void;
  slice(x: Arr, shape: number[], begin: number[], size: number[], out: Arr): void;
  pad(x: F32, shape: number[], before: number[], outShape: number[], out: F32, value: number): void;
  softmax(x: F32, rows: number, cols: number, out: F32): void;
  concat(xs: Arr[], inners: number[], outer: number, out: Arr): void;
  tile(x: Arr, shape: number[], reps: number[], out: Arr): void;
  bernoulliNll(logits: F32, x: F32, out: F32, N: number, D: number): void;
  bernoulliNllGrad(logits: F32, x: F32, dy: F32, out: F32, N: number, D: number): void;
  gaussianNll(x: F32, mean: F32, logVar: F32, lvMode: number, out: F32, N: number, D: number): void;
  gaussianNllGrad(
    x: F32,
    mean: F32,
    logVar: F32,
    lvMode: number,
    dy: F32,
    dMean: F32,
    dLogVar: F32,
    N: number,
    D: number,
  ): void;
  // masked likelihoods and the discretised logistic (native/likelihood_masked.cc; absent from older builds,
  // whose kernels then fall back to plain tfjs): mask [maskRows, D], maskRows N or 1 (0: none, logistic only)
  bernoulliNllMasked?(logits: F32, x: F32, mask: F32, maskRows: number, out: F32, N: number, D: number): void;
  bernoulliNllMaskedGrad?(
    logits: F32,
    x: F32,
    mask: F32,
    maskRows: number,
    dy: F32,
    out: F32,
    N: number,
    D: number,
  ): void;
  gaussianNllMasked?: LocScaleNll;
  gaussianNllMaskedGrad?: LocScaleNllGrad;
  discretizedLogisticNll?: LocScaleNll;
  discretizedLogisticNllGrad?: LocScaleNllGrad;
  klStdNormal(mu: F32, logVar: F32, out: F32, N: number, D: number): void;
  klStdNormalGrad(mu: F32, logVar: F32, dy: F32, dMu: F32, dLogVar: F32, N: number, D: number): void;
  adam(v: F32, g: F32, m: F32, s: F32, lr: number, beta1: number, beta2: number, eps: number, t: number): void;
  sgd(v: F32, g: F32, mom: F32 | null, lr: number, momentum: number, nesterov: boolean): void;
  adagrad(v: F32, g: F32, acc: F32, lr: number, eps: number): void;
  /** One whole dense-VAE training step (native/train_step.cc): [mean loss, mean rec, mean KL]. */
  denseVaeStep(
    encParams: F32[],
    encM: F32[],
    encS: F32[],
    encDims: number[],
    decParams: F32[],
    decM: F32[],
    decS: F32[],
    decDims: number[],
    x: F32,
    eps: F32,
    batch: number,
    beta: number,
    lr: number,
    beta1: number,
    beta2: number,
    adamEps: number,
    t: number,
    /** false: Adam as a separate pass after the backward pass (the same values; for the tests) */
    fuseAdam?: boolean,
  ): number[];
  /**
   * Rng.fillNormal in C++ (native/rng.cc): fills out, updates the 4 state words in s, returns the spare
   * after; false (nothing drawn) without V8's math functions. Absent from older builds.
   */
  rngFillNormal?(s: Uint32Array, spare: number | null, out: F32): number | null | false;
  /** The k-sample importance log-weights of a dense VAE's Bernoulli decoder into out [k·B]. */
  denseVaeLogWeights(
    decParams: F32[],
    decDims: number[],
    mu: F32,
    logVar: F32,
    eps: F32,
    x: F32,
    k: number,
    batch: number,
    out: F32,
  ): void;
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const ADDON_PATH = path.join(root, 'build/Release/vaekit_native.node');

let loaded: { addon?: NativeAddon; reason?: string } | null = null;

/** The addon's exports, or an error saying why it cannot be loaded. Loads once. */
export function loadAddon(): { addon?: NativeAddon; reason?: string } {
  if (loaded) return loaded;
  if (!existsSync(ADDON_PATH)) {
    loaded = { reason: `native addon not built (${ADDON_PATH} missing; run npm run build:native)` };
    return loaded;
  }
  // OpenBLAS reads this when it loads (native/engine.cc loads it, after choosing OPENBLAS_CORETYPE).
  // vaekit splits GEMMs across its own thread pool (native/pool.cc), so OpenBLAS stays
  // single-threaded: no second pool of threads fighting for the same cores.
  process.env.OPENBLAS_NUM_THREADS ??= '1';
  // libgomp reads this when the addon loads it: the OpenMP team of oneDNN's convolutions then spins
  // ~5,000 pauses (≈ the pool's 100 µs) between primitives instead of 300,000 (milliseconds), which
  // kept a core busy through the pool's GEMMs and loops in between (conv step, 2 threads, load 15:
  // CPU 230 → 105 ms a step, wall 0.65x). The user's own GOMP_SPINCOUNT or OMP_WAIT_POLICY wins.
  if (process.env.OMP_WAIT_POLICY === undefined) process.env.GOMP_SPINCOUNT ??= '5000';
  const require = createRequire(import.meta.url);
  try {
    const addon = require(ADDON_PATH) as Partial<NativeAddon>;
    if (typeof addon.gemm !== 'function' || typeof addon.binary !== 'function' || !addon.codes) {
      loaded = {
        reason: `native addon at ${ADDON_PATH} lacks the core kernels (stale build? run npm run build:native)`,
      };
    } else {
      loaded = { addon: addon as NativeAddon };
    }
  } catch (e) {
    loaded = { reason: `native addon not loadable (${ADDON_PATH}): ${(e as Error).message.split('\n')[0]}` };
  }
  return loaded;
}
