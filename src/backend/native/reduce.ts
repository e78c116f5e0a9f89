// Reductions (Sum, Mean, Max, Min, Prod over any axes; the ops of native/ops.def's VK_REDUCE list
// that name a tfjs kernel) and Softmax over the last axis.
import * as tf from '@tensorflow/tfjs-core';
import type { NativeAddon } from './addon.js';
import { allocF32 } from './memory.js';
import { cpuKernel, f32, out, sizeOf, type Backend, type KernelFunc, type TI } from './util.js';

/** The attribute holding the axes, for the reductions whose is not `axis`. */
const AXIS_ATTR: Record<string, string> = { Max: 'reductionIndices' };

function reduceKernel(addon: NativeAddon, name: string, op: number, axisAttr: string): KernelFunc {
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

function softmaxKernel(addon: NativeAddon): KernelFunc {
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

export function reduceKernels(addon: NativeAddon): Record<string, KernelFunc> {
  const ks: Record<string, KernelFunc> = {};
  for (const [name, op] of Object.entries(addon.codes.kernels.reduce))
    ks[name] = reduceKernel(addon, name, op, AXIS_ATTR[name] ?? 'axis');
  ks.Softmax = softmaxKernel(addon);
  return ks;
}
