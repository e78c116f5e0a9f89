// In-place optimizer steps (Adam, SGD, Adagrad: one native loop per parameter), registered for
// fused.ts's adamStepInPlace & co. (inplace-steps.ts), and the whole dense-VAE training step
// and the importance weights of its k-sample NLL (native/train_step.cc) for src/train/fused-step.ts
// and src/eval/likelihood.ts, with its ε drawn by native/rng.cc (the Rng's own stream).
import * as tf from '@tensorflow/tfjs-core';
import type { NativeAddon } from './addon.js';
import type { InPlaceSteps } from '../inplace-steps.js';
import { convVaeStepOf } from './conv-step.js';

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

export function inPlaceSteps(addon: NativeAddon): InPlaceSteps {
  const arrays = (v: tf.Variable, g: tf.Tensor): [Float32Array, Float32Array] | null => {
    const gv = gradValues(g, v.size);
    if (!gv) return null;
    const vv = writableValues(v);
    return vv ? [vv, gv] : null;
  };
  const convVaeStep = convVaeStepOf(addon, writableValues); // the conv VAE's whole step (conv-step.ts)
  return {
    ...(convVaeStep ? { convVaeStep } : {}),
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
    denseVaeStep(a) {
      if (typeof addon.denseVaeStep !== 'function') return null; // an addon built before it
      const vals = (n: { params: tf.Variable[] }) => n.params.map(writableValues);
      const enc = vals(a.encoder),
        dec = vals(a.decoder);
      if (enc.some((v) => !v) || dec.some((v) => !v)) return null;
      const o = a.adam;
      const r = addon.denseVaeStep(
        enc as Float32Array[],
        a.encoder.m,
        a.encoder.s,
        a.encoder.dims,
        dec as Float32Array[],
        a.decoder.m,
        a.decoder.s,
        a.decoder.dims,
        a.x,
        a.eps(),
        a.batch,
        a.beta,
        o.lr,
        o.beta1,
        o.beta2,
        o.eps,
        o.t,
      );
      return [r[0], r[1], r[2]];
    },
    denseVaeLogWeights(a) {
      if (typeof addon.denseVaeLogWeights !== 'function') return null;
      const params = a.decoder.params.map((v) => (v.dtype === 'float32' ? (v.dataSync() as Float32Array) : null));
      if (params.some((v) => !v)) return null;
      const out = new Float32Array(a.k * a.batch);
      addon.denseVaeLogWeights(
        params as Float32Array[],
        a.decoder.dims,
        a.mu,
        a.logVar,
        a.eps(),
        a.x,
        a.k,
        a.batch,
        out,
      );
      return out;
    },
    fillNormal(rng, out) {
      if (typeof addon.rngFillNormal !== 'function') return false;
      const st = rng.getState();
      const s = Uint32Array.from(st.s);
      const spare = addon.rngFillNormal(s, st.spare, out);
      if (spare === false) return false;
      rng.setState({ s: [s[0], s[1], s[2], s[3]], spare });
      return true;
    },
    adagrad(v, g, acc, o) {
      const a = arrays(v, g);
      if (a) addon.adagrad(a[0], a[1], acc, o.lr, o.eps);
      return a != null;
    },
  };
}
