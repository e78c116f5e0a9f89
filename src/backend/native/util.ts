// Helpers shared by the kernel families of the native backend.
import * as tf from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { NativeAddon } from './addon.js';
import { allocF32, guarded } from './memory.js';

export type TI = tf.TensorInfo;
export type KernelFunc = tf.KernelFunc;
export type Backend = MathBackendCPU;
export type Arr = Float32Array | Int32Array | Uint8Array;

/** A kernel family: the kernels it overrides, by tfjs kernel name. */
export type KernelFamily = (addon: NativeAddon) => Record<string, KernelFunc>;

export const sizeOf = (s: number[]): number => {
  let n = 1;
  for (const d of s) n *= d;
  return n;
};

/** A float32 tensor's values as a Float32Array, or null (not float32, or not held as typed array). */
export function f32(backend: Backend, t: TI | undefined): Float32Array | null {
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

/** Values of a float32/int32/bool tensor as their typed array, else null. */
export function plainValues(backend: Backend, t: TI | undefined): Arr | null {
  if (!t) return null;
  const v = backend.data.get(t.dataId)?.values;
  if (t.dtype === 'float32' && v instanceof Float32Array) return v;
  if (t.dtype === 'int32' && v instanceof Int32Array) return v;
  if (t.dtype === 'bool' && v instanceof Uint8Array) return v;
  return null;
}

export function allocLike(dtype: tf.DataType, n: number): Arr {
  return dtype === 'float32' ? allocF32(n) : dtype === 'int32' ? new Int32Array(n) : new Uint8Array(n);
}

/** tfjs-backend-cpu's kernel `name` (the fallback of a native kernel). */
export function cpuKernel(name: string): KernelFunc {
  const k = tf.getKernel(name, 'cpu');
  if (!k) throw new Error(`vaekit native: tfjs-backend-cpu has no ${name} kernel`);
  return guarded(k.kernelFunc);
}

export function out(
  backend: Backend,
  shape: number[],
  values: Float32Array | Uint8Array | Int32Array,
  dtype: tf.DataType = 'float32',
): TI {
  return backend.makeTensorInfo(shape, dtype, values);
}

export function broadcastShape(a: number[], b: number[]): number[] {
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

/** The code of `name` in one of the addon's code tables; throws if the addon lacks it (stale build). */
export function code(table: Record<string, number>, name: string): number {
  const c = table[name];
  if (c === undefined)
    throw new Error(`vaekit native: the addon has no op ${name} (stale build? npm run build:native)`);
  return c;
}
