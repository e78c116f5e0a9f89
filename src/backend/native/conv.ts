// Convolution kernels of the native backend (native/conv*.cc): registered onto the native backend.
//
//   Conv2D, FusedConv2D (bias + linear/relu/relu6/elu/sigmoid/leakyrelu fused; prelu = native
//   conv + bias, then tfjs-cpu's Prelu), Conv2DBackpropInput (conv2d's input gradient and
//   conv2dTranspose), Conv2DBackpropFilter.
//
// Layouts are tfjs's own (x/dy NHWC or NCHW, filters HWIO), so no data is copied or transposed on
// the way in or out. Anything the addon does not handle (non-float32, odd bias/PReLU shapes,
// negative explicit pads, NCHW without oneDNN) goes to tfjs-backend-cpu's kernel, registered under
// 'cpu', with the same inputs and attrs.
import * as tf from '@tensorflow/tfjs-core';
import { backend_util } from '@tensorflow/tfjs-core';
import type { KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';

/** The addon's convolution entry points (native/conv.cc). */
export interface NativeConvAddon {
  convForward(
    x: Float32Array,
    filter: Float32Array,
    bias: Float32Array | null,
    y: Float32Array,
    params: Int32Array,
    activation: number,
    alpha: number,
  ): boolean;
  convBackwardData(dy: Float32Array, filter: Float32Array, dx: Float32Array, params: Int32Array): boolean;
  convBackwardFilter(x: Float32Array, dy: Float32Array, dw: Float32Array, params: Int32Array): boolean;
  /**
   * mode: 'auto' (default; per shape, deterministic: oneDNN where it has a direct jit kernel, else
   * im2col + sgemm), 'tune' (time both paths on a shape's first 8 calls, keep the faster; not
   * reproducible run to run), 'onednn' or 'gemm' (that path wherever it applies). blas: the GEMM of
   * the im2col path ('core', default: the addon's GEMM on its thread pool, like the matmuls;
   * 'onednn': dnnl_sgemm on OpenMP threads; 'openblas': old name of 'core'). threads: the addon's
   * thread count (as setNativeThreads).
   */
  convConfig(opts?: {
    mode?: ConvMode;
    blas?: 'core' | 'onednn' | 'openblas';
    threads?: number;
    clearCache?: boolean;
  }): NativeConvInfo;
  convStats(): NativeConvStat[];
  codes: ConvCodes;
}

export type ConvMode = 'auto' | 'tune' | 'onednn' | 'gemm';

export interface NativeConvInfo {
  onednn: boolean;
  onednnError?: string;
  onednnVersion: string;
  runtime: string;
  threads: number;
  mode: ConvMode;
  blas: 'core' | 'onednn';
  cached: number;
}

export interface NativeConvStat {
  kind: 'forward' | 'backwardData' | 'backwardFilter';
  /** The parameters in the order of `codes.convParams` (native/ops.def: N, IH, IW, IC, OH, ...). */
  params: number[];
  bias: boolean;
  activation: number;
  /** OpenMP threads the primitive was created for. */
  threads: number;
  impl: string;
  onednnWhy?: string;
  /** The path of the latest call. */
  path: 'onednn' | 'gemm' | 'undecided';
  /** Mode 'tune' only: the winner, once decided. */
  tuned?: 'onednn' | 'gemm' | 'undecided';
  tOnednnMs?: number;
  tGemmMs?: number;
  uses: number;
}

/** How many calls of each kernel went to tfjs-cpu's implementation (unsupported by the addon). */
export const convFallbacks: Record<string, number> = {};

export const CONV_KERNELS = ['Conv2D', 'FusedConv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter'] as const;

/** The codes the convolutions read from the addon (native/ops.def): activations and parameter layout. */
interface ConvCodes {
  act: Record<string, number>;
  convParams: string[];
}

/** True if `addon` exports the convolution entry points. */
export function hasNativeConv(addon: unknown): addon is NativeConvAddon {
  const a = addon as Partial<NativeConvAddon> | null | undefined;
  return (
    !!a &&
    typeof a.convForward === 'function' &&
    typeof a.convBackwardData === 'function' &&
    typeof a.convBackwardFilter === 'function' &&
    typeof a.convConfig === 'function' &&
    !!a.codes?.convParams
  );
}

// The backend is a MathBackendCPU (or a subclass); only its data store and makeTensorInfo are used.
interface CpuLikeBackend {
  data: { get(dataId: unknown): { values?: unknown } };
  makeTensorInfo(shape: number[], dtype: 'float32', values: Float32Array): TensorInfo;
}

type KernelArgs = { inputs: Record<string, TensorInfo | undefined>; backend: unknown; attrs?: NamedAttrMap };

/** A convolution's parameters by the names of native/ops.def's VK_CONV_PARAM list. */
function paramValues(info: backend_util.Conv2DInfo): Record<string, number> | null {
  const { top, bottom, left, right } = info.padInfo;
  if (top < 0 || bottom < 0 || left < 0 || right < 0) return null;
  return {
    N: info.batchSize,
    IH: info.inHeight,
    IW: info.inWidth,
    IC: info.inChannels,
    OH: info.outHeight,
    OW: info.outWidth,
    OC: info.outChannels,
    KH: info.filterHeight,
    KW: info.filterWidth,
    SH: info.strideHeight,
    SW: info.strideWidth,
    DH: info.dilationHeight,
    DW: info.dilationWidth,
    PT: top,
    PB: bottom,
    PL: left,
    PR: right,
    NCHW: info.dataFormat === 'channelsFirst' ? 1 : 0,
  };
}

/** The Int32Array of parameters the addon reads (laid out as `layout`), or null if a case cannot go native. */
export function convParams(info: backend_util.Conv2DInfo, layout: string[]): Int32Array | null {
  const v = paramValues(info);
  if (!v) return null;
  const p = layout.map((name) => v[name]);
  if (!p.every((x) => Number.isInteger(x) && x >= 0 && x < 2 ** 31)) return null;
  // every size, stride and dilation is positive (pads and the layout flag may be 0)
  if (layout.some((name, i) => !/^P[TBLR]$|^NCHW$/.test(name) && p[i] === 0)) return null;
  return Int32Array.from(p);
}

// A float32 tensor's values as a Float32Array. tfjs-cpu does not always store float32 tensors as
// Float32Array: Cast from bool keeps the Uint8Array (e.g. the binarised images), so other typed
// arrays are converted (a copy).
function f32(backend: CpuLikeBackend, t: TensorInfo | undefined, size: number): Float32Array | null {
  if (!t || t.dtype !== 'float32') return null;
  const v = backend.data.get(t.dataId).values;
  if (v instanceof Float32Array) return v.length >= size ? v : null;
  if (
    (v instanceof Uint8Array ||
      v instanceof Int32Array ||
      v instanceof Float64Array ||
      v instanceof Int8Array ||
      v instanceof Uint16Array ||
      v instanceof Int16Array ||
      v instanceof Uint32Array ||
      v instanceof Uint8ClampedArray) &&
    v.length >= size
  )
    return new Float32Array(v.subarray(0, size));
  return null;
}

const sizeOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

// An output array the addon overwrites entirely: large ones skip the zero-fill (allocUnsafeSlow: a
// fresh, unpooled ArrayBuffer, offset 0).
function outputArray(n: number): Float32Array {
  if (n < 4096) return new Float32Array(n);
  const b = Buffer.allocUnsafeSlow(n * 4);
  return new Float32Array(b.buffer, b.byteOffset, n);
}

// The backprop kernels' parameters; null unless dy has the convolution's output shape. (It may not:
// tfjs's conv2d gradient drops dimRoundingMode, so after a forward pass with 'ceil'/'round' dy can
// have a row more than computeConv2DInfo says, and tfjs-cpu's kernels then ignore that row. The
// cpu kernel keeps that behaviour for these rare cases.)
function backpropParams(info: backend_util.Conv2DInfo, dy: TensorInfo, layout: string[]): Int32Array | null {
  const out = info.outShape;
  if (dy.shape.length !== 4 || !dy.shape.every((d, i) => d === out[i])) return null;
  return convParams(info, layout);
}

/** True if every value is a shape of rank 4. */
const rank4 = (...shapes: unknown[]) => shapes.every((s) => Array.isArray(s) && s.length === 4);

/** The Conv2DInfo of a kernel from its attrs (strides, pad, dataFormat, dimRoundingMode); the backprop kernels' dilation is 1. */
function convInfo(
  inShape: number[],
  filterShape: number[],
  attrs: NamedAttrMap,
  dilations: number | [number, number] = 1,
): backend_util.Conv2DInfo {
  const { strides, pad, dataFormat, dimRoundingMode } = attrs as any;
  return backend_util.computeConv2DInfo(
    inShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides,
    dilations,
    pad,
    dimRoundingMode,
    false,
    backend_util.convertConv2DDataFormat(dataFormat ?? 'NHWC'),
  );
}

/**
 * Registers the native convolution kernels for `backendName` (which must already have the 'cpu'
 * kernels copied onto it, for the fallbacks) and returns the kernel names registered; [] if the
 * addon has no convolution entry points.
 */
export function registerConvKernels(backendName: string, addon: unknown): string[] {
  const kernels = convKernels(addon, backendName);
  const registered: string[] = [];
  for (const [name, kernelFunc] of Object.entries(kernels)) {
    if (tf.getKernel(name, backendName)) tf.unregisterKernel(name, backendName);
    tf.registerKernel({ kernelName: name, backendName, kernelFunc });
    registered.push(name);
  }
  return registered;
}

/**
 * The native convolution kernels, by name ({} if the addon has no convolution entry points). The
 * fallbacks are tfjs-backend-cpu's kernels; FusedConv2D with PReLU uses `backendName`'s own Prelu.
 */
export function convKernels(addon: unknown, backendName: string): Record<string, KernelFunc> {
  if (!hasNativeConv(addon)) return {};
  const native: NativeConvAddon = addon;
  const ACTIVATIONS = native.codes.act;
  const layout = native.codes.convParams;

  const cpuKernel = (name: string): KernelFunc => {
    const k = tf.getKernel(name, 'cpu');
    if (!k) throw new Error(`registerConvKernels: tfjs-backend-cpu's ${name} kernel is not registered`);
    return k.kernelFunc;
  };
  const cpuConv2D = cpuKernel('Conv2D');
  const cpuFused = cpuKernel('FusedConv2D');
  const cpuBackInput = cpuKernel('Conv2DBackpropInput');
  const cpuBackFilter = cpuKernel('Conv2DBackpropFilter');
  const cpuPrelu = cpuKernel('Prelu');
  const fallbackName = new Map<KernelFunc, string>([
    [cpuConv2D, 'Conv2D'],
    [cpuFused, 'FusedConv2D'],
    [cpuBackInput, 'Conv2DBackpropInput'],
    [cpuBackFilter, 'Conv2DBackpropFilter'],
  ]);
  const fallback = (k: KernelFunc, args: KernelArgs) => {
    const name = fallbackName.get(k);
    if (name) convFallbacks[name] = (convFallbacks[name] ?? 0) + 1;
    return k(args as Parameters<KernelFunc>[0]) as TensorInfo;
  };

  const conv2D = (args: KernelArgs): TensorInfo => {
    const { inputs, attrs = {} } = args;
    const backend = args.backend as CpuLikeBackend;
    const { x, filter } = inputs;
    const out = x && filter ? forward(backend, x, filter, attrs, null, 'linear', 0) : null;
    return out ?? fallback(cpuConv2D, args);
  };

  // y = act(conv(x, filter) + bias), natively; null if not handled.
  const forward = (
    backend: CpuLikeBackend,
    x: TensorInfo,
    filter: TensorInfo,
    attrs: NamedAttrMap,
    bias: Float32Array | null,
    activation: string,
    alpha: number,
  ): TensorInfo | null => {
    if (!rank4(x.shape, filter.shape)) return null;
    const info = convInfo(x.shape, filter.shape, attrs, (attrs.dilations as number | [number, number]) ?? 1);
    const params = convParams(info, layout);
    const act = ACTIVATIONS[activation];
    if (!params || act === undefined) return null;
    const xv = f32(backend, x, sizeOf(x.shape));
    const wv = f32(backend, filter, sizeOf(filter.shape));
    if (!xv || !wv) return null;
    const y = outputArray(sizeOf(info.outShape));
    if (!native.convForward(xv, wv, bias, y, params, act, alpha)) return null;
    return backend.makeTensorInfo(info.outShape, 'float32', y);
  };

  // Bias as a per-output-channel vector (scalar or [.., C] broadcasts), or null if another shape.
  const channelBias = (
    backend: CpuLikeBackend,
    bias: TensorInfo,
    channels: number,
    nchw: boolean,
  ): Float32Array | null => {
    const n = sizeOf(bias.shape);
    const v = f32(backend, bias, n);
    if (!v) return null;
    if (n === 1) return new Float32Array(channels).fill(v[0]);
    if (n !== channels) return null;
    // NHWC: any shape whose only non-1 dim is the last; NCHW: rank ≤ 1 (tfjs's own rule).
    if (nchw ? bias.shape.length > 1 : bias.shape[bias.shape.length - 1] !== channels) return null;
    return v.length === n ? v : v.subarray(0, n);
  };

  const fusedConv2D = (args: KernelArgs): TensorInfo => {
    const { inputs, attrs = {} } = args;
    const backend = args.backend as CpuLikeBackend;
    const { x, filter, bias, preluActivationWeights } = inputs;
    const activation = (attrs.activation as string | undefined) ?? 'linear';
    const leakyreluAlpha = (attrs.leakyreluAlpha as number | undefined) ?? 0.2;
    const nchw = attrs.dataFormat === 'NCHW';
    if (!x || !filter || filter.shape.length !== 4) return fallback(cpuFused, args);
    const outChannels = filter.shape[3];
    let b: Float32Array | null = null;
    if (bias) {
      b = channelBias(backend, bias, outChannels, nchw);
      if (!b) return fallback(cpuFused, args);
    }
    if (activation === 'prelu') {
      // Native conv + bias, then the backend's Prelu (it broadcasts the weights like the fused kernel
      // does for NHWC); NCHW with per-channel weights needs a reshape: leave it to the cpu kernel.
      if (nchw || !preluActivationWeights) return fallback(cpuFused, args);
      const y = forward(backend, x, filter, attrs, b, 'linear', 0);
      if (!y) return fallback(cpuFused, args);
      const prelu = tf.getKernel('Prelu', backendName)?.kernelFunc ?? cpuPrelu; // the backend's own, if any
      const out = fallback(prelu, { inputs: { x: y, alpha: preluActivationWeights }, backend, attrs: {} });
      (backend as any).disposeIntermediateTensorInfo(y);
      return out;
    }
    const out = forward(backend, x, filter, attrs, b, activation, leakyreluAlpha);
    return out ?? fallback(cpuFused, args);
  };

  const conv2DBackpropInput = (args: KernelArgs): TensorInfo => {
    const { inputs, attrs = {} } = args;
    const backend = args.backend as CpuLikeBackend;
    const { dy, filter } = inputs;
    const { inputShape } = attrs;
    if (!dy || !filter || !rank4(dy.shape, filter.shape, inputShape)) return fallback(cpuBackInput, args);
    const info = convInfo(inputShape as number[], filter.shape, attrs);
    const params = backpropParams(info, dy, layout);
    const dyv = f32(backend, dy, sizeOf(dy.shape));
    const wv = f32(backend, filter, sizeOf(filter.shape));
    if (!params || !dyv || !wv) return fallback(cpuBackInput, args);
    const dx = outputArray(sizeOf(info.inShape));
    if (!native.convBackwardData(dyv, wv, dx, params)) return fallback(cpuBackInput, args);
    return backend.makeTensorInfo([...info.inShape], 'float32', dx);
  };

  const conv2DBackpropFilter = (args: KernelArgs): TensorInfo => {
    const { inputs, attrs = {} } = args;
    const backend = args.backend as CpuLikeBackend;
    const { x, dy } = inputs;
    const { filterShape } = attrs;
    if (!x || !dy || !rank4(x.shape, dy.shape, filterShape)) return fallback(cpuBackFilter, args);
    const info = convInfo(x.shape, filterShape as number[], attrs);
    const params = backpropParams(info, dy, layout);
    const xv = f32(backend, x, sizeOf(x.shape));
    const dyv = f32(backend, dy, sizeOf(dy.shape));
    if (!params || !xv || !dyv) return fallback(cpuBackFilter, args);
    const dw = outputArray(sizeOf(info.filterShape));
    if (!native.convBackwardFilter(xv, dyv, dw, params)) return fallback(cpuBackFilter, args);
    return backend.makeTensorInfo([...info.filterShape], 'float32', dw);
  };

  const kernels: Record<(typeof CONV_KERNELS)[number], (args: KernelArgs) => TensorInfo> = {
    Conv2D: conv2D,
    FusedConv2D: fusedConv2D,
    Conv2DBackpropInput: conv2DBackpropInput,
    Conv2DBackpropFilter: conv2DBackpropFilter,
  };
  return kernels as unknown as Record<string, KernelFunc>;
}
