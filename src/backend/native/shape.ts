// Data movement: AddN, Transpose, Slice (strided boxes; contiguous slices stay tfjs-cpu's zero-copy
// views), PadV2, SplitV, Unpack, Concat, Pack and Tile, on float32, int32 and bool tensors.
import * as tf from '@tensorflow/tfjs-core';
import type { NativeAddon } from './addon.js';
import { allocF32 } from './memory.js';
import {
  allocLike,
  cpuKernel,
  f32,
  out,
  plainValues,
  sizeOf,
  type Arr,
  type Backend,
  type KernelFunc,
  type TI,
} from './util.js';

/** Copies box [begin, begin+size) of x into a new tensor (native strided copy). */
function sliceInto(addon: NativeAddon, backend: Backend, x: TI, v: Arr, begin: number[], size: number[]): TI {
  const o = allocLike(x.dtype, sizeOf(size));
  addon.slice(v, x.shape, begin, size, o);
  return out(backend, size, o, x.dtype);
}

function addNKernel(addon: NativeAddon): KernelFunc {
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

function transposeKernel(addon: NativeAddon): KernelFunc {
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

function sliceKernel(addon: NativeAddon): KernelFunc {
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

function padKernel(addon: NativeAddon): KernelFunc {
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

function splitVKernel(addon: NativeAddon): KernelFunc {
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

function unpackKernel(addon: NativeAddon): KernelFunc {
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
function concatCore(addon: NativeAddon, backend: Backend, ts: TI[], axis: number, outShape: number[]): TI | null {
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

function concatKernel(addon: NativeAddon): KernelFunc {
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

function packKernel(addon: NativeAddon): KernelFunc {
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

function tileKernel(addon: NativeAddon): KernelFunc {
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

export function shapeKernels(addon: NativeAddon): Record<string, KernelFunc> {
  return {
    AddN: addNKernel(addon),
    Transpose: transposeKernel(addon),
    Slice: sliceKernel(addon),
    PadV2: padKernel(addon),
    SplitV: splitVKernel(addon),
    Unpack: unpackKernel(addon),
    Concat: concatKernel(addon),
    Pack: packKernel(addon),
    Tile: tileKernel(addon),
  };
}
