// Elementwise kernels: every unary, binary and comparison op of native/ops.def that names a tfjs
// kernel is registered from the addon's own list (addon.codes.kernels); only the inputs' names and
// the attributes of a few kernels are kept here, by kernel name.
import type { NativeAddon } from './addon.js';
import { allocF32 } from './memory.js';
import { broadcastShape, cpuKernel, f32, out, sizeOf, type Backend, type KernelFunc, type TI } from './util.js';

/** Input names of the binary kernels whose inputs are not (a, b). */
const BINARY_INPUTS: Record<string, [string, string]> = { Prelu: ['x', 'alpha'], EluGrad: ['dy', 'y'] };

/** The (p, q) parameters of the unary kernels that take attributes. */
const UNARY_PARAMS: Record<string, (attrs: any) => [number, number]> = {
  Step: (a) => [a.alpha ?? 0, 0],
  LeakyRelu: (a) => [a.alpha ?? 0.2, 0],
  ClipByValue: (a) => [a.clipValueMin, a.clipValueMax],
};

function binaryKernel(addon: NativeAddon, name: string, op: number, bool: boolean): KernelFunc {
  const fallback = cpuKernel(name);
  const [na, nb] = BINARY_INPUTS[name] ?? ['a', 'b'];
  return (args) => {
    const backend = args.backend as Backend;
    const inputs = args.inputs as Record<string, TI>;
    const a = inputs[na],
      b = inputs[nb];
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

function unaryKernel(addon: NativeAddon, name: string, op: number): KernelFunc {
  const fallback = cpuKernel(name);
  const params = UNARY_PARAMS[name];
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

export function elementwiseKernels(addon: NativeAddon): Record<string, KernelFunc> {
  const ks: Record<string, KernelFunc> = {};
  const { unary, binary, compare } = addon.codes.kernels;
  for (const [name, op] of Object.entries(unary)) ks[name] = unaryKernel(addon, name, op);
  for (const [name, op] of Object.entries(binary)) ks[name] = binaryKernel(addon, name, op, false);
  for (const [name, op] of Object.entries(compare)) ks[name] = binaryKernel(addon, name, op, true);
  return ks;
}
