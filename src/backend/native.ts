// The native backend: tfjs-backend-cpu with its hot kernels replaced by the N-API addon (native/).
//
// `registerNativeBackend()` loads build/Release/vaekit_native.node, registers a backend named
// 'vaekit-native' (a MathBackendCPU subclass, so every tensor is a typed array in JS memory and every
// cpu kernel works unchanged), copies all cpu kernels onto it and overrides the hot ones with native
// code: BatchMatMul/_FusedMatMul (OpenBLAS sgemm split across vaekit's thread pool, fused bias and
// activation), elementwise binary ops with N-d broadcasting and comparisons, unary ops, Sum/Mean/Max/
// Min/Prod over any axes, AddN, Transpose, Slice, PadV2 (slice gradients), SplitV/Unpack/Concat/
// Pack/Tile, Softmax; plus the fused VAE kernels of src/backend/fused.ts and the convolution kernels
// of native-conv.ts. Native kernels fall back to the cpu implementation for dtypes or cases they do
// not handle (int32, bool, complex).
//
// Environment: VAEKIT_THREADS (threads of the native kernels, default 2), VAEKIT_SPIN_US (how long
// idle pool workers spin before sleeping, default 100), VAEKIT_POOL_MB (memory kept for reusing
// kernel outputs, default 256; 0 disables), VAEKIT_GEMM_MODE=blas (let OpenBLAS thread GEMMs itself
// instead; for comparison), VAEKIT_KERNEL_PROFILE=1 (time per kernel on stderr at exit).
import * as tf from '@tensorflow/tfjs-core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { registerConvKernels } from './native-conv.js';
import { FUSED_KERNELS as FUSED, NATIVE_BACKEND } from './kernel-names.js';
import { registerInPlaceSteps, type InPlaceSteps } from './inplace-steps.js';

export { NATIVE_BACKEND };

export interface NativeLoadResult {
  ok: boolean;
  reason?: string;
  blas?: string;
  threads?: number;
  /** Kernel names overridden with native code (core + conv). */
  kernels?: string[];
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const ADDON_PATH = path.join(root, 'build/Release/vaekit_native.node');

let loaded: { addon?: any; reason?: string } | null = null;

/** The addon's exports, or an error saying why it cannot be loaded. Loads once. */
export function loadAddon(): { addon?: any; reason?: string } {
  if (loaded) return loaded;
  if (!existsSync(ADDON_PATH)) {
    loaded = { reason: `native addon not built (${ADDON_PATH} missing; run npm run build:native)` };
    return loaded;
  }
  // OpenBLAS reads this when it loads. vaekit splits GEMMs across its own thread pool (native/core.cc),
  // so OpenBLAS stays single-threaded: no second pool of threads fighting for the same cores.
  process.env.OPENBLAS_NUM_THREADS ??= '1';
  const require = createRequire(import.meta.url);
  try {
    const addon = require(ADDON_PATH);
    if (typeof addon.gemm !== 'function' || typeof addon.binary !== 'function') {
      loaded = {
        reason: `native addon at ${ADDON_PATH} lacks the core kernels (stale build? run npm run build:native)`,
      };
    } else {
      loaded = { addon };
    }
  } catch (e) {
    loaded = { reason: `native addon not loadable (${ADDON_PATH}): ${(e as Error).message.split('\n')[0]}` };
  }
  return loaded;
}

/** The loaded addon, or null when registerNativeBackend has not succeeded. */
export function nativeAddon(): any | null {
  return state?.ok ? (loaded?.addon ?? null) : null;
}

// ------------------------------------------------------------------------------------------------
// output buffer pool
//
// A fresh `new Float32Array(n)` of a few hundred KB costs more than the kernel that fills it (V8
// callocs it; large blocks come from mmap and fault in page by page): ~100 µs for 128×784, ~1.5 ms
// of a training step. Native kernels therefore take their outputs from a pool, and the backend puts
// an array back when its tensor data is disposed, so one step's buffers are reused by the next.
// An array is only reused if nothing else can still see it: never after it was read out
// (readSync/read: dataSync(), data(), print()... return the array itself), and never if a cpu
// kernel made another tensor over the same memory (a zero-copy slice, for instance).
const POOL_MIN_BYTES = 4 * 1024;
let poolLimitBytes = (() => {
  const mb = Number.parseFloat(process.env.VAEKIT_POOL_MB ?? '');
  return Number.isFinite(mb) && mb >= 0 ? mb * 2 ** 20 : 256 * 2 ** 20;
})();
const pool = new Map<number, Float32Array[]>();
let pooledBytes = 0;
const managed = new WeakSet<object>(); // buffers allocated by allocF32
const exposed = new WeakSet<object>(); // managed buffers that escaped: never reused
const inPool = new WeakSet<object>();
export const poolStats = { hits: 0, misses: 0, recycled: 0 };

/** A Float32Array for a kernel output; contents are unspecified (the kernel overwrites all of it). */
export function allocF32(n: number): Float32Array {
  const bytes = n * 4;
  if (bytes < POOL_MIN_BYTES) return new Float32Array(n);
  const list = pool.get(n);
  if (list && list.length) {
    const a = list.pop()!;
    inPool.delete(a.buffer);
    pooledBytes -= bytes;
    poolStats.hits++;
    return a;
  }
  poolStats.misses++;
  const a = new Float32Array(n);
  managed.add(a.buffer);
  return a;
}

function recycle(v: Float32Array): void {
  const buf = v.buffer;
  if (!managed.has(buf) || exposed.has(buf) || inPool.has(buf)) return;
  if (v.byteOffset !== 0 || v.byteLength !== buf.byteLength) return;
  if (pooledBytes + v.byteLength > poolLimitBytes) return;
  let list = pool.get(v.length);
  if (!list) pool.set(v.length, (list = []));
  list.push(v);
  inPool.add(buf);
  pooledBytes += v.byteLength;
  poolStats.recycled++;
}

function expose(v: unknown): void {
  if (ArrayBuffer.isView(v) && managed.has(v.buffer)) exposed.add(v.buffer);
}

/** Sets the most memory the output pool keeps for reuse (0 disables reuse); returns the old limit. */
export function setOutputPoolLimit(bytes: number): number {
  const old = poolLimitBytes;
  poolLimitBytes = Math.max(0, bytes);
  if (pooledBytes > poolLimitBytes) {
    pool.clear();
    pooledBytes = 0;
  }
  return old;
}

/** tfjs-cpu with the firstUse warning ("install tfjs-node") silenced, and output buffer reuse. */
export class NativeBackend extends MathBackendCPU {
  constructor() {
    super();
    (this as any).firstUse = false;
  }

  override readSync(dataId: object): tf.BackendValues {
    expose(this.data.get(dataId)?.values);
    return super.readSync(dataId);
  }

  override read(dataId: object): Promise<tf.BackendValues> {
    expose(this.data.get(dataId)?.values);
    return super.read(dataId);
  }

  override disposeData(dataId: object, force = false): boolean {
    const v = this.data.get(dataId)?.values;
    const r = super.disposeData(dataId, force);
    if (v instanceof Float32Array && !this.data.has(dataId)) recycle(v);
    return r;
  }
}

/**
 * Marks pooled inputs as exposed when a (cpu) kernel returns a new tensor over their memory (a
 * zero-copy view). Outputs that are an input's own data (Identity, Reshape: same dataId, reference
 * counted) are fine.
 */
function guarded(kf: KernelFunc): KernelFunc {
  return (args) => {
    const r = kf(args);
    const backend = args.backend as Backend;
    const outs = Array.isArray(r) ? r : [r];
    const ins = Object.values(args.inputs as Record<string, TI | TI[] | undefined>);
    for (const o of outs) {
      const v = backend.data.get(o.dataId)?.values;
      if (!ArrayBuffer.isView(v) || !managed.has(v.buffer)) continue;
      let own = false;
      for (const i of ins) {
        if (i && (Array.isArray(i) ? i.some((t) => t.dataId === o.dataId) : i.dataId === o.dataId)) own = true;
      }
      if (!own) exposed.add(v.buffer);
    }
    return r;
  };
}

// ------------------------------------------------------------------------------------------------
// op codes (mirror native/core.cc)

export const U = {
  COPY: 0,
  NEG: 1,
  ABS: 2,
  SQUARE: 3,
  SQRT: 4,
  RSQRT: 5,
  RECIP: 6,
  EXP: 7,
  LOG: 8,
  LOG1P: 9,
  EXPM1: 10,
  SIGMOID: 11,
  SOFTPLUS: 12,
  TANH: 13,
  RELU: 14,
  RELU6: 15,
  STEP: 16,
  ELU: 17,
  LEAKYRELU: 18,
  SELU: 19,
  SIGN: 20,
  FLOOR: 21,
  CEIL: 22,
  ROUND: 23,
  CLIP: 24,
  SIN: 25,
  COS: 26,
  ERF: 27,
} as const;
export const B = {
  ADD: 0,
  SUB: 1,
  MUL: 2,
  DIV: 3,
  MAX: 4,
  MIN: 5,
  SQDIFF: 6,
  POW: 7,
  PRELU: 8,
  ELUGRAD: 9,
  ATAN2: 10,
  MOD: 11,
  FLOORDIV: 12,
  GREATER: 20,
  GREATER_EQ: 21,
  LESS: 22,
  LESS_EQ: 23,
  EQUAL: 24,
  NOT_EQUAL: 25,
} as const;
const R = { SUM: 0, MEAN: 1, MAX: 2, MIN: 3, PROD: 4 } as const;
const ACT: Record<string, number> = { linear: 0, relu: 1, relu6: 2, sigmoid: 3, elu: 4, leakyrelu: 5 };

// ------------------------------------------------------------------------------------------------
// kernel helpers

type TI = tf.TensorInfo;
type KernelFunc = tf.KernelFunc;
type Backend = MathBackendCPU;
const sizeOf = (s: number[]): number => {
  let n = 1;
  for (const d of s) n *= d;
  return n;
};

function f32(backend: Backend, t: TI | undefined): Float32Array | null {
  if (t == null || t.dtype !== 'float32') return null;
  const d = backend.data.get(t.dataId);
  const v = d?.values;
  if (v instanceof Float32Array) return v;
  // tfjs-cpu's Cast from bool keeps a Uint8Array behind a float32 tensor: convert it once, in place.
  if (d && (v instanceof Uint8Array || v instanceof Int32Array)) {
    d.values = Float32Array.from(v);
    return d.values as Float32Array;
  }
  return null;
}

function cpuKernel(name: string): KernelFunc {
  const k = tf.getKernel(name, 'cpu');
  if (!k) throw new Error(`vaekit native: tfjs-backend-cpu has no ${name} kernel`);
  return guarded(k.kernelFunc);
}

function out(
  backend: Backend,
  shape: number[],
  values: Float32Array | Uint8Array | Int32Array,
  dtype: tf.DataType = 'float32',
): TI {
  return backend.makeTensorInfo(shape, dtype, values);
}

function broadcastShape(a: number[], b: number[]): number[] {
  if (a.length === b.length) {
    let same = true;
    for (let i = 0; i < a.length; i++)
      if (a[i] !== b[i]) {
        same = false;
        break;
      }
    if (same) return a.slice();
  }
  return tf.backend_util.assertAndGetBroadcastShape(a, b);
}

function binaryKernel(addon: any, name: string, op: number, names: [string, string], bool = false): KernelFunc {
  const fallback = cpuKernel(name);
  return (args) => {
    const backend = args.backend as Backend;
    const inputs = args.inputs as Record<string, TI>;
    const a = inputs[names[0]],
      b = inputs[names[1]];
    const av = f32(backend, a),
      bv = f32(backend, b);
    if (!av || !bv) return fallback(args);
    const shape = broadcastShape(a.shape, b.shape);
    const n = sizeOf(shape);
    const o = bool ? new Uint8Array(n) : allocF32(n);
    addon.binary(op, av, a.shape, bv, b.shape, o);
    return out(backend, shape, o, bool ? 'bool' : 'float32');
  };
}

function unaryKernel(addon: any, name: string, op: number, params?: (attrs: any) => [number, number]): KernelFunc {
  const fallback = cpuKernel(name);
  return (args) => {
    const backend = args.backend as Backend;
    const x = (args.inputs as Record<string, TI>).x;
    const xv = f32(backend, x);
    if (!xv) return fallback(args);
    const o = allocF32(xv.length);
    if (params) {
      const [p, q] = params(args.attrs ?? {});
      addon.unary(op, xv, o, p, q);
    } else {
      addon.unary(op, xv, o);
    }
    return out(backend, x.shape, o);
  };
}

function reduceKernel(addon: any, name: string, op: number, axisAttr: 'axis' | 'reductionIndices'): KernelFunc {
  const fallback = cpuKernel(name);
  return (args) => {
    const backend = args.backend as Backend;
    const x = (args.inputs as Record<string, TI>).x;
    const xv = f32(backend, x);
    if (!xv) return fallback(args);
    const attrs = args.attrs as any;
    const axes = tf.util.parseAxisParam(attrs[axisAttr], x.shape);
    const [outShape] = tf.backend_util.computeOutAndReduceShapes(x.shape, axes);
    const o = allocF32(sizeOf(outShape));
    addon.reduce(op, xv, x.shape, axes, o);
    const shape = attrs.keepDims ? tf.backend_util.expandShapeToKeepDim(outShape, axes) : outShape;
    return out(backend, shape, o);
  };
}

function matMulKernel(addon: any, fused: boolean): KernelFunc {
  const fallback = cpuKernel(fused ? '_FusedMatMul' : 'BatchMatMul');
  const cpuPrelu = cpuKernel('Prelu');
  return (args) => {
    const backend = args.backend as Backend;
    const inputs = args.inputs as Record<string, TI | undefined>;
    const attrs = args.attrs as any;
    const a = inputs.a!,
      b = inputs.b!;
    const av = f32(backend, a),
      bv = f32(backend, b);
    const activation: string = fused ? (attrs.activation ?? 'linear') : 'linear';
    const bias = fused ? inputs.bias : undefined;
    const prelu = fused ? inputs.preluActivationWeights : undefined;
    if (!av || !bv) return fallback(args);
    if (activation !== 'prelu' && !(activation in ACT)) return fallback(args);
    const biasV = bias ? f32(backend, bias) : null;
    if (bias && !biasV) return fallback(args);
    const tA = !!attrs.transposeA,
      tB = !!attrs.transposeB;
    const ar = a.shape.length,
      br = b.shape.length;
    if (ar < 2 || br < 2) return fallback(args);
    const K = tA ? a.shape[ar - 2] : a.shape[ar - 1];
    const K2 = tB ? b.shape[br - 1] : b.shape[br - 2];
    const M = tA ? a.shape[ar - 1] : a.shape[ar - 2];
    const N = tB ? b.shape[br - 2] : b.shape[br - 1];
    if (K !== K2) {
      throw new Error(
        `Error in matMul: inner shapes (${K}) and (${K2}) of Tensors with shapes ${a.shape} and ${b.shape} and ` +
          `transposeA=${tA} and transposeB=${tB} must match.`,
      );
    }
    const outerA = a.shape.slice(0, -2),
      outerB = b.shape.slice(0, -2);
    const outer = broadcastShape(outerA, outerB);
    const batch = sizeOf(outer);
    const batchA = sizeOf(outerA),
      batchB = sizeOf(outerB);
    const outShape = outer.concat([M, N]);
    const o = allocF32(batch * M * N);
    if (o.length === 0) return out(backend, outShape, o);
    let aOffs: Int32Array | null = null,
      bOffs: Int32Array | null = null;
    let aStride = M * K,
      bStride = K * N;
    if (batchA !== batch || batchB !== batch) {
      if (batchA === 1 && batchB === batch) aStride = 0;
      else if (batchB === 1 && batchA === batch) bStride = 0;
      else {
        aOffs = new Int32Array(batch);
        bOffs = new Int32Array(batch);
        const rank = outer.length;
        const pa = new Array(rank - outerA.length).fill(1).concat(outerA);
        const pb = new Array(rank - outerB.length).fill(1).concat(outerB);
        for (let i = 0; i < batch; i++) {
          let rem = i,
            ia = 0,
            ib = 0,
            sa = 1,
            sb = 1;
          for (let d = rank - 1; d >= 0; d--) {
            const c = rem % outer[d];
            rem = Math.floor(rem / outer[d]);
            if (pa[d] !== 1) ia += c * sa;
            if (pb[d] !== 1) ib += c * sb;
            sa *= pa[d];
            sb *= pb[d];
          }
          aOffs[i] = ia * M * K;
          bOffs[i] = ib * K * N;
        }
      }
    }
    // bias: fused into the GEMM epilogue when it is a row vector ([N], [1,N], ...)
    let rowBias: Float32Array | null = null;
    let act = activation === 'prelu' ? 0 : ACT[activation];
    let generalBias = false;
    if (biasV && bias) {
      if (biasV.length === N && bias.shape.length >= 1 && bias.shape[bias.shape.length - 1] === N) rowBias = biasV;
      else generalBias = true;
    }
    if (generalBias) act = 0;
    addon.gemm(
      av,
      bv,
      o,
      M,
      N,
      K,
      tA,
      tB,
      batch,
      aOffs,
      bOffs,
      aStride,
      bStride,
      rowBias,
      act,
      attrs.leakyreluAlpha ?? 0.2,
    );
    let res = o;
    let resShape = outShape;
    if (generalBias) {
      resShape = broadcastShape(outShape, bias!.shape);
      const r2 = allocF32(sizeOf(resShape));
      addon.binary(B.ADD, res, outShape, biasV, bias!.shape, r2);
      res = r2;
      if (activation !== 'linear' && activation !== 'prelu') {
        const r3 = allocF32(res.length);
        const u = { relu: U.RELU, relu6: U.RELU6, sigmoid: U.SIGMOID, elu: U.ELU, leakyrelu: U.LEAKYRELU }[activation]!;
        addon.unary(u, res, r3, attrs.leakyreluAlpha ?? 0.2, 0);
        res = r3;
      }
    }
    if (activation === 'prelu') {
      const wv = f32(backend, prelu);
      const tmp = out(backend, resShape, res);
      if (!wv || !prelu) {
        const r = cpuPrelu({ inputs: { x: tmp, alpha: prelu! }, backend, attrs: {} }) as TI;
        backend.disposeIntermediateTensorInfo(tmp);
        return r;
      }
      backend.disposeIntermediateTensorInfo(tmp);
      const ps = broadcastShape(resShape, prelu.shape);
      const r4 = allocF32(sizeOf(ps));
      addon.binary(B.PRELU, res, resShape, wv, prelu.shape, r4);
      return out(backend, ps, r4);
    }
    return out(backend, resShape, res);
  };
}

function addNKernel(addon: any): KernelFunc {
  const fallback = cpuKernel('AddN');
  return (args) => {
    const backend = args.backend as Backend;
    const ts = args.inputs as unknown as TI[];
    const vs: Float32Array[] = [];
    for (const t of ts) {
      const v = f32(backend, t);
      if (!v) return fallback(args);
      vs.push(v);
    }
    if (ts.length === 0) return fallback(args);
    const o = allocF32(vs[0].length);
    addon.addN(vs, o);
    return out(backend, ts[0].shape, o);
  };
}

function transposeKernel(addon: any): KernelFunc {
  const fallback = cpuKernel('Transpose');
  return (args) => {
    const backend = args.backend as Backend;
    const x = (args.inputs as Record<string, TI>).x;
    const perm: number[] = (args.attrs as any).perm;
    const v = backend.data.get(x.dataId)?.values;
    if (!(v instanceof Float32Array || v instanceof Int32Array) || (x.dtype !== 'float32' && x.dtype !== 'int32')) {
      return fallback(args);
    }
    const shape = perm.map((p) => x.shape[p]);
    const o = x.dtype === 'float32' ? allocF32(v.length) : new Int32Array(v.length);
    addon.transpose(v, x.shape, perm, o);
    return out(backend, shape, o, x.dtype);
  };
}

function sliceKernel(addon: any): KernelFunc {
  const fallback = cpuKernel('Slice');
  return (args) => {
    const backend = args.backend as Backend;
    const x = (args.inputs as Record<string, TI>).x;
    const v = plainValues(backend, x);
    if (!v) return fallback(args);
    const attrs = args.attrs as any;
    const [begin, size] = tf.slice_util.parseSliceParams(x as tf.Tensor, attrs.begin, attrs.size);
    tf.slice_util.assertParamsValid(x as tf.Tensor, begin, size);
    // contiguous slices are zero-copy views in tfjs-cpu: keep that
    if (tf.slice_util.isSliceContinous(x.shape, begin, size)) return fallback(args);
    return sliceInto(addon, backend, x, v, begin, size);
  };
}

function padKernel(addon: any): KernelFunc {
  const fallback = cpuKernel('PadV2');
  return (args) => {
    const backend = args.backend as Backend;
    const x = (args.inputs as Record<string, TI>).x;
    const xv = f32(backend, x);
    if (!xv) return fallback(args);
    const { paddings, constantValue } = args.attrs as any;
    const before = (paddings as [number, number][]).map((p) => p[0]);
    const shape = x.shape.map((d, i) => paddings[i][0] + d + paddings[i][1]);
    const o = allocF32(sizeOf(shape));
    addon.pad(xv, x.shape, before, shape, o, constantValue ?? 0);
    return out(backend, shape, o);
  };
}

function softmaxKernel(addon: any): KernelFunc {
  const fallback = cpuKernel('Softmax');
  return (args) => {
    const backend = args.backend as Backend;
    const x = (args.inputs as Record<string, TI>).logits;
    const xv = f32(backend, x);
    const dim = (args.attrs as any)?.dim ?? -1;
    const rank = x?.shape.length ?? 0;
    if (!xv || rank === 0 || (dim !== -1 && dim !== rank - 1)) return fallback(args);
    const cols = x.shape[rank - 1];
    const o = allocF32(xv.length);
    addon.softmax(xv, cols ? xv.length / cols : 0, cols, o);
    return out(backend, x.shape, o);
  };
}

type Arr = Float32Array | Int32Array | Uint8Array;
/** Values of a float32/int32/bool tensor as their typed array, else null. */
function plainValues(backend: Backend, t: TI | undefined): Arr | null {
  if (!t) return null;
  const v = backend.data.get(t.dataId)?.values;
  if (t.dtype === 'float32' && v instanceof Float32Array) return v;
  if (t.dtype === 'int32' && v instanceof Int32Array) return v;
  if (t.dtype === 'bool' && v instanceof Uint8Array) return v;
  return null;
}
function allocLike(dtype: tf.DataType, n: number): Arr {
  return dtype === 'float32' ? allocF32(n) : dtype === 'int32' ? new Int32Array(n) : new Uint8Array(n);
}

/** Copies box [begin, begin+size) of x into a new tensor (native strided copy). */
function sliceInto(addon: any, backend: Backend, x: TI, v: Arr, begin: number[], size: number[]): TI {
  const o = allocLike(x.dtype, sizeOf(size));
  addon.slice(v, x.shape, begin, size, o);
  return out(backend, size, o, x.dtype);
}

function splitVKernel(addon: any): KernelFunc {
  const fallback = cpuKernel('SplitV');
  return (args) => {
    const backend = args.backend as Backend;
    const x = (args.inputs as Record<string, TI>).x;
    const v = plainValues(backend, x);
    if (!v) return fallback(args);
    const { numOrSizeSplits, axis } = args.attrs as any;
    const ax = tf.util.parseAxisParam(axis, x.shape)[0];
    const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, numOrSizeSplits, ax);
    const begin = new Array(x.shape.length).fill(0);
    return sizes.map((n) => {
      const size = x.shape.slice();
      size[ax] = n;
      const r = sliceInto(addon, backend, x, v, begin.slice(), size);
      begin[ax] += n;
      return r;
    });
  };
}

function unpackKernel(addon: any): KernelFunc {
  const fallback = cpuKernel('Unpack');
  return (args) => {
    const backend = args.backend as Backend;
    const x = (args.inputs as Record<string, TI>).value;
    const v = plainValues(backend, x);
    if (!v) return fallback(args);
    let axis: number = (args.attrs as any).axis;
    if (axis < 0) axis += x.shape.length;
    const outShape = x.shape.filter((_, i) => i !== axis);
    const size = x.shape.slice();
    size[axis] = 1;
    const res: TI[] = [];
    for (let i = 0; i < x.shape[axis]; i++) {
      const begin = new Array(x.shape.length).fill(0);
      begin[axis] = i;
      const o = allocLike(x.dtype, sizeOf(size));
      addon.slice(v, x.shape, begin, size, o);
      res.push(out(backend, outShape, o, x.dtype));
    }
    return res;
  };
}

/** Concatenation of same-dtype tensors along `axis` (shapes already validated by the op). */
function concatCore(addon: any, backend: Backend, ts: TI[], axis: number, outShape: number[]): TI | null {
  const vs: Arr[] = [];
  for (const t of ts) {
    const v = plainValues(backend, t);
    if (!v || t.dtype !== ts[0].dtype) return null;
    vs.push(v);
  }
  const outer = sizeOf(outShape.slice(0, axis));
  const inners = ts.map((t) => sizeOf(t.shape.slice(axis)));
  const o = allocLike(ts[0].dtype, sizeOf(outShape));
  addon.concat(vs, inners, outer, o);
  return out(backend, outShape, o, ts[0].dtype);
}

function concatKernel(addon: any): KernelFunc {
  const fallback = cpuKernel('Concat');
  return (args) => {
    const backend = args.backend as Backend;
    const ts = (args.inputs as unknown as TI[]).filter((t) => sizeOf(t.shape) > 0);
    if (ts.length < 2) return fallback(args);
    const all = args.inputs as unknown as TI[];
    const axis = tf.util.parseAxisParam((args.attrs as any).axis, all[0].shape)[0];
    const outShape = tf.backend_util.computeOutShape(
      all.map((t) => t.shape),
      axis,
    );
    return concatCore(addon, backend, ts, axis, outShape) ?? fallback(args);
  };
}

function packKernel(addon: any): KernelFunc {
  const fallback = cpuKernel('Pack');
  return (args) => {
    const backend = args.backend as Backend;
    const ts = args.inputs as unknown as TI[];
    if (ts.length < 2) return fallback(args);
    let axis: number = (args.attrs as any).axis;
    const rank = ts[0].shape.length;
    if (axis < 0) axis += rank + 1;
    const outShape = ts[0].shape.slice();
    outShape.splice(axis, 0, ts.length);
    const shaped = ts.map((t) => ({ ...t, shape: t.shape.slice(0, axis).concat([1], t.shape.slice(axis)) }));
    return concatCore(addon, backend, shaped, axis, outShape) ?? fallback(args);
  };
}

function tileKernel(addon: any): KernelFunc {
  const fallback = cpuKernel('Tile');
  return (args) => {
    const backend = args.backend as Backend;
    const x = (args.inputs as Record<string, TI>).x;
    const v = plainValues(backend, x);
    const reps: number[] = (args.attrs as any).reps;
    if (!v || reps.length !== x.shape.length) return fallback(args);
    const shape = x.shape.map((d, i) => d * reps[i]);
    const o = allocLike(x.dtype, sizeOf(shape));
    addon.tile(v, x.shape, reps, o);
    return out(backend, shape, o, x.dtype);
  };
}

// ------------------------------------------------------------------------------------------------
// fused VAE kernels (used by src/backend/fused.ts; inputs are validated there)

function need(backend: Backend, t: TI, what: string): Float32Array {
  const v = f32(backend, t);
  if (!v) throw new Error(`vaekit native: ${what} must be a float32 tensor`);
  return v;
}

function lvMode(lv: TI, N: number, D: number): number {
  const n = sizeOf(lv.shape);
  if (n === 1) return 0;
  if (n === N * D && lv.shape.length === 2) return 2;
  if (n === D && lv.shape[lv.shape.length - 1] === D) return 1;
  throw new Error(`vaekit native: logVar of shape [${lv.shape}] does not broadcast to [${N},${D}]`);
}

function fusedKernels(addon: any): tf.KernelConfig[] {
  const k = (kernelName: string, kernelFunc: KernelFunc): tf.KernelConfig => ({
    kernelName,
    backendName: NATIVE_BACKEND,
    kernelFunc,
  });
  return [
    k(FUSED.bernoulliNll, ({ inputs, backend }) => {
      const be = backend as Backend;
      const { logits, x } = inputs as Record<string, TI>;
      const [N, D] = logits.shape;
      const o = allocF32(N);
      addon.bernoulliNll(need(be, logits, 'logits'), need(be, x, 'x'), o, N, D);
      return out(be, [N], o);
    }),
    k(FUSED.bernoulliNllGrad, ({ inputs, backend }) => {
      const be = backend as Backend;
      const { logits, x, dy } = inputs as Record<string, TI>;
      const [N, D] = logits.shape;
      const o = allocF32(N * D);
      addon.bernoulliNllGrad(need(be, logits, 'logits'), need(be, x, 'x'), need(be, dy, 'dy'), o, N, D);
      return out(be, [N, D], o);
    }),
    k(FUSED.gaussianNll, ({ inputs, backend }) => {
      const be = backend as Backend;
      const { x, mean, logVar } = inputs as Record<string, TI>;
      const [N, D] = x.shape;
      const o = allocF32(N);
      addon.gaussianNll(
        need(be, x, 'x'),
        need(be, mean, 'mean'),
        need(be, logVar, 'logVar'),
        lvMode(logVar, N, D),
        o,
        N,
        D,
      );
      return out(be, [N], o);
    }),
    k(FUSED.gaussianNllGrad, ({ inputs, backend }) => {
      const be = backend as Backend;
      const { x, mean, logVar, dy } = inputs as Record<string, TI>;
      const [N, D] = x.shape;
      const dm = allocF32(N * D);
      const dl = allocF32(sizeOf(logVar.shape));
      addon.gaussianNllGrad(
        need(be, x, 'x'),
        need(be, mean, 'mean'),
        need(be, logVar, 'logVar'),
        lvMode(logVar, N, D),
        need(be, dy, 'dy'),
        dm,
        dl,
        N,
        D,
      );
      return [out(be, [N, D], dm), out(be, logVar.shape.slice(), dl)];
    }),
    k(FUSED.klStdNormal, ({ inputs, backend }) => {
      const be = backend as Backend;
      const { mu, logVar } = inputs as Record<string, TI>;
      const [N, D] = mu.shape;
      const o = allocF32(N);
      addon.klStdNormal(need(be, mu, 'mu'), need(be, logVar, 'logVar'), o, N, D);
      return out(be, [N], o);
    }),
    k(FUSED.klStdNormalGrad, ({ inputs, backend }) => {
      const be = backend as Backend;
      const { mu, logVar, dy } = inputs as Record<string, TI>;
      const [N, D] = mu.shape;
      const dm = allocF32(N * D),
        dl = allocF32(N * D);
      addon.klStdNormalGrad(need(be, mu, 'mu'), need(be, logVar, 'logVar'), need(be, dy, 'dy'), dm, dl, N, D);
      return [out(be, [N, D], dm), out(be, [N, D], dl)];
    }),
  ];
}

// ------------------------------------------------------------------------------------------------

function coreKernels(addon: any): Record<string, KernelFunc> {
  const ks: Record<string, KernelFunc> = {};
  const ab: [string, string] = ['a', 'b'];
  const bin: [string, number][] = [
    ['Add', B.ADD],
    ['Sub', B.SUB],
    ['Multiply', B.MUL],
    ['RealDiv', B.DIV],
    ['Maximum', B.MAX],
    ['Minimum', B.MIN],
    ['SquaredDifference', B.SQDIFF],
    ['Pow', B.POW],
    ['Atan2', B.ATAN2],
  ];
  for (const [name, op] of bin) ks[name] = binaryKernel(addon, name, op, ab);
  const cmp: [string, number][] = [
    ['Greater', B.GREATER],
    ['GreaterEqual', B.GREATER_EQ],
    ['Less', B.LESS],
    ['LessEqual', B.LESS_EQ],
    ['Equal', B.EQUAL],
    ['NotEqual', B.NOT_EQUAL],
  ];
  for (const [name, op] of cmp) ks[name] = binaryKernel(addon, name, op, ab, true);
  ks.Prelu = binaryKernel(addon, 'Prelu', B.PRELU, ['x', 'alpha']);
  ks.EluGrad = binaryKernel(addon, 'EluGrad', B.ELUGRAD, ['dy', 'y']);
  const un: [string, number][] = [
    ['Exp', U.EXP],
    ['Log', U.LOG],
    ['Log1p', U.LOG1P],
    ['Expm1', U.EXPM1],
    ['Sigmoid', U.SIGMOID],
    ['Softplus', U.SOFTPLUS],
    ['Tanh', U.TANH],
    ['Relu', U.RELU],
    ['Relu6', U.RELU6],
    ['Square', U.SQUARE],
    ['Sqrt', U.SQRT],
    ['Rsqrt', U.RSQRT],
    ['Neg', U.NEG],
    ['Abs', U.ABS],
    ['Reciprocal', U.RECIP],
    ['Elu', U.ELU],
    ['Selu', U.SELU],
    ['Sign', U.SIGN],
    ['Floor', U.FLOOR],
    ['Ceil', U.CEIL],
    ['Round', U.ROUND],
    ['Sin', U.SIN],
    ['Cos', U.COS],
    ['Erf', U.ERF],
  ];
  for (const [name, op] of un) ks[name] = unaryKernel(addon, name, op);
  ks.Step = unaryKernel(addon, 'Step', U.STEP, (a) => [a.alpha ?? 0, 0]);
  ks.LeakyRelu = unaryKernel(addon, 'LeakyRelu', U.LEAKYRELU, (a) => [a.alpha ?? 0.2, 0]);
  ks.ClipByValue = unaryKernel(addon, 'ClipByValue', U.CLIP, (a) => [a.clipValueMin, a.clipValueMax]);
  ks.Sum = reduceKernel(addon, 'Sum', R.SUM, 'axis');
  ks.Mean = reduceKernel(addon, 'Mean', R.MEAN, 'axis');
  ks.Max = reduceKernel(addon, 'Max', R.MAX, 'reductionIndices');
  ks.Min = reduceKernel(addon, 'Min', R.MIN, 'axis');
  ks.Prod = reduceKernel(addon, 'Prod', R.PROD, 'axis');
  ks.BatchMatMul = matMulKernel(addon, false);
  ks._FusedMatMul = matMulKernel(addon, true);
  ks.AddN = addNKernel(addon);
  ks.Transpose = transposeKernel(addon);
  ks.Slice = sliceKernel(addon);
  ks.PadV2 = padKernel(addon);
  ks.Softmax = softmaxKernel(addon);
  ks.SplitV = splitVKernel(addon);
  ks.Unpack = unpackKernel(addon);
  ks.Concat = concatKernel(addon);
  ks.Pack = packKernel(addon);
  ks.Tile = tileKernel(addon);
  return ks;
}

// ------------------------------------------------------------------------------------------------
// in-place optimizer steps (registered for fused.ts's adamStepInPlace & co.)

interface NativeData {
  values: Float32Array;
  refCount: number;
}

/** The variable's own Float32Array on the native backend (copy-on-write when its data is shared). */
function writableValues(v: tf.Variable): Float32Array | null {
  if (v.dtype !== 'float32') return null;
  const backend = tf.backend() as any;
  const get = (): NativeData | undefined => backend.data?.get(v.dataId);
  const d = get();
  if (!d || !(d.values instanceof Float32Array)) return null;
  const engineRef: number = (tf.engine() as any).state?.tensorInfo?.get(v.dataId)?.refCount ?? 1;
  const vals = d.values;
  const shared = d.refCount > 1 || engineRef > 1 || vals.byteOffset !== 0 || vals.byteLength !== vals.buffer.byteLength;
  if (!shared) return vals;
  const own = tf.tensor(new Float32Array(vals), v.shape, 'float32');
  v.assign(own);
  own.dispose();
  const d2 = get();
  return d2 && d2.values instanceof Float32Array ? d2.values : null;
}

function gradValues(g: tf.Tensor, n: number): Float32Array | null {
  if (g.dtype !== 'float32' || g.size !== n) return null;
  const d = (tf.backend() as any).data?.get(g.dataId);
  return d && d.values instanceof Float32Array ? d.values : null;
}

function inPlaceSteps(addon: any): InPlaceSteps {
  const arrays = (v: tf.Variable, g: tf.Tensor): [Float32Array, Float32Array] | null => {
    const gv = gradValues(g, v.size);
    if (!gv) return null;
    const vv = writableValues(v);
    return vv ? [vv, gv] : null;
  };
  return {
    adam(v, g, m, s, o) {
      const a = arrays(v, g);
      if (a) addon.adam(a[0], a[1], m, s, o.lr, o.beta1, o.beta2, o.eps, o.t);
      return a != null;
    },
    sgd(v, g, mom, o) {
      const a = arrays(v, g);
      if (a) addon.sgd(a[0], a[1], mom, o.lr, o.momentum, !!o.nesterov);
      return a != null;
    },
    adagrad(v, g, acc, o) {
      const a = arrays(v, g);
      if (a) addon.adagrad(a[0], a[1], acc, o.lr, o.eps);
      return a != null;
    },
  };
}

let state: NativeLoadResult | null = null;

/** VAEKIT_KERNEL_PROFILE=1: time every kernel of the native backend; table on stderr at exit. */
function profileKernels(native: Set<string>): void {
  const stats = new Map<string, { ms: number; n: number }>();
  for (const k of tf.getKernelsForBackend(NATIVE_BACKEND)) {
    const f = k.kernelFunc;
    tf.unregisterKernel(k.kernelName, NATIVE_BACKEND);
    tf.registerKernel({
      ...k,
      kernelFunc: (args) => {
        const t0 = performance.now();
        try {
          return f(args);
        } finally {
          const st = stats.get(k.kernelName) ?? { ms: 0, n: 0 };
          st.ms += performance.now() - t0;
          st.n++;
          stats.set(k.kernelName, st);
        }
      },
    });
  }
  process.on('exit', () => {
    const rows = [...stats.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 40);
    const lines = rows.map(
      ([k, st]) =>
        `  ${k.padEnd(30)} ${st.ms.toFixed(1).padStart(10)} ms ${String(st.n).padStart(8)} calls  ${native.has(k) ? 'native' : 'cpu'}`,
    );
    process.stderr.write(`vaekit kernel profile (${NATIVE_BACKEND}):\n${lines.join('\n')}\n`);
  });
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
    const spin = Number.parseInt(process.env.VAEKIT_SPIN_US ?? '', 10);
    if (Number.isFinite(spin) && spin >= 0) addon.setSpin(spin);
    const overrides = coreKernels(addon);
    if (!tf.findBackendFactory(NATIVE_BACKEND)) {
      // priority 2: above tfjs-cpu (1), below tfjs-node (3)
      tf.registerBackend(NATIVE_BACKEND, () => new NativeBackend(), 2);
    }
    const registered = new Set(tf.getKernelsForBackend(NATIVE_BACKEND).map((k) => k.kernelName));
    for (const k of tf.getKernelsForBackend('cpu')) {
      if (overrides[k.kernelName] || registered.has(k.kernelName)) continue;
      tf.registerKernel({ ...k, backendName: NATIVE_BACKEND, kernelFunc: guarded(k.kernelFunc) });
    }
    const kernels: string[] = [];
    for (const [kernelName, kernelFunc] of Object.entries(overrides)) {
      if (registered.has(kernelName)) tf.unregisterKernel(kernelName, NATIVE_BACKEND);
      tf.registerKernel({ kernelName, backendName: NATIVE_BACKEND, kernelFunc });
      kernels.push(kernelName);
    }
    for (const cfg of fusedKernels(addon)) {
      if (registered.has(cfg.kernelName)) tf.unregisterKernel(cfg.kernelName, NATIVE_BACKEND);
      tf.registerKernel(cfg);
    }
    let conv: string[] = [];
    try {
      conv = registerConvKernels(NATIVE_BACKEND, addon) ?? [];
      for (const name of conv) {
        const k = tf.getKernel(name, NATIVE_BACKEND);
        if (!k) continue;
        tf.unregisterKernel(name, NATIVE_BACKEND);
        tf.registerKernel({ ...k, kernelFunc: guarded(k.kernelFunc) });
      }
    } catch (e) {
      // convolutions stay on the cpu kernels
      conv = [];
      process.emitWarning(`vaekit: native convolution kernels not registered: ${(e as Error).message}`);
    }
    registerInPlaceSteps(NATIVE_BACKEND, inPlaceSteps(addon));
    if (process.env.VAEKIT_KERNEL_PROFILE === '1')
      profileKernels(new Set([...kernels, ...conv, ...Object.values(FUSED)]));
    const info = addon.info();
    state = { ok: true, blas: info.blas, threads, kernels: kernels.concat(conv) };
  } catch (e) {
    state = { ok: false, reason: `native backend registration failed: ${(e as Error).message}` };
  }
  return state;
}

/** Changes the number of threads of the native kernels (OpenMP; GEMMs are split across them). */
export function setNativeThreads(n: number): number {
  const addon = nativeAddon();
  return addon ? addon.setThreads(n) : 0;
}
