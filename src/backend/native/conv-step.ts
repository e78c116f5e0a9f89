// The conv VAE's whole training step on the native backend (native/conv_step.cc), registered with the
// in-place steps (optimizer.ts) for src/train/fused-conv-step.ts. The convolutions' parameters are
// computed here as the conv kernels compute them (tfjs's computeConv2DInfo, 'same' padding), so the
// fused step runs the very primitives the tfjs graph does.
import type * as tf from '@tensorflow/tfjs-core';
import { backend_util } from '@tensorflow/tfjs-core';
import type { ConvNet, ConvVaeStepArgs } from '../inplace-steps.js';
import { convParams } from './conv.js';

type F32 = Float32Array;

/** The addon's entry point (native/conv_step.cc). */
interface ConvStepAddon {
  convVaeStep(
    params: F32[],
    m: F32[],
    s: F32[],
    spec: Int32Array,
    convs: Int32Array,
    x: F32,
    eps: F32,
    beta: number,
    lr: number,
    beta1: number,
    beta2: number,
    adamEps: number,
    t: number,
    grads?: F32[],
  ): number[] | null;
  codes: { convParams: string[] };
}

/** The P_COUNT parameters of each convolution of `net` at batch n, or null if one cannot go native. */
function stackParams(net: ConvNet, n: number, layout: string[]): Int32Array[] | null {
  const out: Int32Array[] = [];
  for (let i = 0; i < net.images.length; i++) {
    const [H, W, C] = net.images[i];
    const k = net.params[2 * i].shape as [number, number, number, number];
    if (k.length !== 4 || k[2] !== C) return null;
    const info = backend_util.computeConv2DInfo(
      [n, H, W, C],
      k,
      net.stride,
      1,
      'same',
      undefined,
      false,
      'channelsLast',
    );
    const p = convParams(info, layout);
    if (!p) return null;
    out.push(p);
  }
  return out;
}

/**
 * The conv VAE step of `addon`, or undefined if this build has none. `writable`: a variable's own
 * Float32Array on the native backend (optimizer.ts), updated in place.
 */
export function convVaeStepOf(
  addon: unknown,
  writable: (v: tf.Variable) => F32 | null,
): ((a: ConvVaeStepArgs) => [number, number, number] | null) | undefined {
  const a = addon as Partial<ConvStepAddon> | null;
  if (!a || typeof a.convVaeStep !== 'function' || !a.codes?.convParams) return undefined;
  const native = a as ConvStepAddon;
  const specs = new Map<string, { spec: Int32Array; convs: Int32Array } | null>();
  const specFor = (s: ConvVaeStepArgs) => {
    const key = `${s.batch}:${JSON.stringify([s.encConv.images, s.decConv.images, s.encDense.dims, s.decDense.dims])}`;
    if (!specs.has(key)) {
      const enc = stackParams(s.encConv, s.batch, native.codes.convParams);
      const dec = stackParams(s.decConv, s.batch, native.codes.convParams);
      const { dims: ed } = s.encDense,
        { dims: dd } = s.decDense;
      specs.set(
        key,
        enc && dec
          ? {
              spec: Int32Array.from([enc.length, ed.length, dd.length, dec.length, ...ed, ...dd]),
              convs: Int32Array.from([...enc, ...dec].flatMap((p) => [...p])),
            }
          : null,
      );
    }
    return specs.get(key)!;
  };
  return (s) => {
    const sp = specFor(s);
    if (!sp) return null;
    const nets = [s.encConv, s.encDense, s.decDense, s.decConv];
    const params = nets.flatMap((n) => n.params.map(writable));
    if (params.some((v) => !v)) return null;
    const o = s.adam;
    const r = native.convVaeStep(
      params as F32[],
      nets.flatMap((n) => n.m),
      nets.flatMap((n) => n.s),
      sp.spec,
      sp.convs,
      s.x,
      s.eps(),
      s.beta,
      o.lr,
      o.beta1,
      o.beta2,
      o.eps,
      o.t,
      s.grads,
    );
    return r ? [r[0], r[1], r[2]] : null;
  };
}
