// Fused VAE building blocks, backend-agnostic and browser-safe: each op looks its kernel up by name
// for the active backend (tf.getKernel(name, tf.getBackend()); the names are in kernel-names.ts) and
// runs it when the backend has one (the native backend: one C++ loop, forward and gradient), else the
// same maths as plain tfjs ops. The optimizer steps likewise use the active backend's in-place steps
// (inplace-steps.ts) when it registered some. Both paths have identical semantics. This file imports
// no backend: the Node entry (index.ts) registers the native backend, which fills both registries.
import * as tf from '@tensorflow/tfjs-core';
// tfjs-cpu, browser-safe: the plain-tfjs path always has a backend (importing a model registered it
// before, through the native backend; code that builds a model without initBackend relies on it).
import '@tensorflow/tfjs-backend-cpu';
import { FUSED_KERNELS as FUSED, NATIVE_BACKEND } from './kernel-names.js';
import {
  getInPlaceSteps,
  type AdagradStepOptions,
  type AdamStepOptions,
  type SgdStepOptions,
} from './inplace-steps.js';

export type { AdagradStepOptions, AdamStepOptions, SgdStepOptions } from './inplace-steps.js';

const LOG_2PI = Math.log(2 * Math.PI);

/** True when the active backend has the fused kernel `name` (kernel-names.ts). */
function hasKernel(name: string): boolean {
  return tf.getKernel(name, tf.getBackend()) != null;
}

/** True when the active tfjs backend is vaekit's native backend with its fused kernels registered. */
export function isNativeActive(): boolean {
  return tf.getBackend() === NATIVE_BACKEND && tf.getKernel(FUSED.bernoulliNll, NATIVE_BACKEND) != null;
}

function asFloat(t: tf.Tensor): tf.Tensor {
  return t.dtype === 'float32' ? t : tf.cast(t, 'float32');
}

function sameShape(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

// tfjs types the custom-gradient function as (...inputs: Array<Tensor | GradSaveFunc>); ours are typed.

const customGrad = (
  fn: (...args: any[]) => {
    value: tf.Tensor;
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor | tf.Tensor[];
  },
) => tf.customGrad(fn as unknown as Parameters<typeof tf.customGrad>[0]);

/** Sums `g` (broadcast result) down to `shape`. */
function reduceTo(g: tf.Tensor, shape: number[]): tf.Tensor {
  if (sameShape(g.shape, shape)) return g;
  const axes = tf.backend_util.getReductionAxes(shape, g.shape);
  const s = axes.length ? tf.sum(g, axes) : g;
  return tf.reshape(s, shape);
}

/** The observation mask m as float32 (1 observed, 0 missing), or an error unless it broadcasts to [N, D]. */
function checkMask(mask: tf.Tensor, full: number[], what: string): tf.Tensor {
  let b: number[] | null;
  try {
    b = mask.rank === 2 ? tf.backend_util.assertAndGetBroadcastShape(mask.shape, full) : null;
  } catch {
    b = null;
  }
  if (!b || !sameShape(b, full)) throw new Error(`${what}: mask [${mask.shape}] does not broadcast to [${full}]`);
  return asFloat(mask);
}

/** The native kernels take a mask of one row per example or one shared row: [N, D] or [1, D]. */
function nativeMask(m: tf.Tensor, full: number[]): boolean {
  return m.rank === 2 && m.shape[1] === full[1] && (m.shape[0] === full[0] || m.shape[0] === 1);
}

/** A log-variance (log-scale) shape the native kernels address: a scalar, [D], [1, D] or [N, D]. */
function lvNativeShape(lv: tf.Tensor, full: number[]): boolean {
  const D = full[1];
  return (
    lv.size === 1 ||
    (lv.rank === 2 && sameShape(lv.shape, full)) ||
    (lv.size === D && lv.rank >= 1 && lv.shape[lv.rank - 1] === D && lv.rank <= 2)
  );
}

/** The masked Gaussian NLL on the native kernels (mean [N, D], logVar as lvNativeShape, mask as nativeMask). */
function gaussianNllMaskedNative(x: tf.Tensor, mean: tf.Tensor, logVar: tf.Tensor, mask: tf.Tensor): tf.Tensor1D {
  const f = customGrad((xi: tf.Tensor, mi: tf.Tensor, lv: tf.Tensor, save: tf.GradSaveFunc) => {
    const xf = asFloat(xi),
      mf = asFloat(mi),
      lvf = asFloat(lv);
    save([xf, mf, lvf, mask]); // the mask too: saved tensors outlive the forward pass's scope
    const value = tf.engine().runKernel(FUSED.gaussianNllMasked, { x: xf, mean: mf, logVar: lvf, mask }) as tf.Tensor;
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const [xs, ms, lvs, mks] = saved;
      const [dMean, dLv] = tf
        .engine()
        .runKernel(FUSED.gaussianNllMaskedGrad, { x: xs, mean: ms, logVar: lvs, mask: mks, dy }) as tf.Tensor[];
      return [tf.neg(dMean), dMean, dLv];
    };
    return { value, gradFunc };
  });
  return f(x, mean, logVar) as tf.Tensor1D;
}

/**
 * Per-example Bernoulli negative log-likelihood with logits: Σ_d m_d [softplus(l) − x·l], computed
 * stably as max(l,0) − x·l + log1p(exp(−|l|)). `logits` and `x` are [N, D]; returns [N]. The optional
 * mask m ([N, D] or [1, D], 1 observed, 0 missing) scores the observed dimensions only (on the native
 * backend by its masked kernel). Differentiable w.r.t. `logits` (grad m·(sigmoid(l) − x)·dy); `x` is data.
 */
export function bernoulliNllWithLogits(logits: tf.Tensor2D, x: tf.Tensor2D, mask?: tf.Tensor): tf.Tensor1D {
  if (logits.rank !== 2 || !sameShape(logits.shape, x.shape)) {
    throw new Error(
      `bernoulliNllWithLogits: logits [${logits.shape}] and x [${x.shape}] must be equal-shape rank-2 tensors`,
    );
  }
  const m = mask ? checkMask(mask, logits.shape, 'bernoulliNllWithLogits') : null;
  const native = m
    ? nativeMask(m, logits.shape) && hasKernel(FUSED.bernoulliNllMasked) && hasKernel(FUSED.bernoulliNllMaskedGrad)
    : hasKernel(FUSED.bernoulliNll) && hasKernel(FUSED.bernoulliNllGrad);
  const xf = asFloat(x);
  const f = customGrad((l: tf.Tensor, save: tf.GradSaveFunc) => {
    const lf = asFloat(l);
    save(m ? [lf, xf, m] : [lf, xf]);
    const value = native
      ? ((m
          ? tf.engine().runKernel(FUSED.bernoulliNllMasked, { logits: lf, x: xf, mask: m })
          : tf.engine().runKernel(FUSED.bernoulliNll, { logits: lf, x: xf })) as tf.Tensor)
      : tf.tidy(() => {
          const t = tf.add(tf.sub(tf.relu(lf), tf.mul(xf, lf)), tf.log1p(tf.exp(tf.neg(tf.abs(lf)))));
          return tf.sum(m ? tf.mul(t, m) : t, 1);
        });
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor => {
      const [ls, xs, ms] = saved;
      if (native)
        return (
          ms
            ? tf.engine().runKernel(FUSED.bernoulliNllMaskedGrad, { logits: ls, x: xs, mask: ms, dy })
            : tf.engine().runKernel(FUSED.bernoulliNllGrad, { logits: ls, x: xs, dy })
        ) as tf.Tensor;
      const g = tf.mul(tf.sub(tf.sigmoid(ls), xs), tf.expandDims(dy, 1));
      return ms ? tf.mul(g, ms) : g;
    };
    return { value, gradFunc };
  });
  return f(logits) as tf.Tensor1D;
}

/**
 * Per-example Gaussian negative log-likelihood Σ_d ½[log 2π + logVar + (x−mean)²·exp(−logVar)].
 * `x` is [N, D]; `mean` is [N, D] (or broadcastable to it); `logVar` is broadcastable to [N, D]
 * (scalar, [D], [1, D], [N, 1], [N, D]). Differentiable w.r.t. `x`, `mean` and `logVar`: x is not always
 * data — log q(z|x) at a reparameterized z = μ + σε (IWAE, a hierarchical VAE's layer terms) needs ∂/∂z.
 * The optional mask m ([N, D] or [1, D], 1 observed, 0 missing) weights the terms: the observed dimensions
 * only (on the native backend by its masked kernels when mean is [N, D]; else plain tfjs with autodiff).
 */
export function gaussianNll(x: tf.Tensor, mean: tf.Tensor, logVar: tf.Tensor, mask?: tf.Tensor): tf.Tensor1D {
  if (x.rank !== 2) throw new Error(`gaussianNll: x must be rank 2 [N, D], got [${x.shape}]`);
  const [N, D] = x.shape;
  const fullShape = [N, D];
  for (const [name, t] of [
    ['mean', mean],
    ['logVar', logVar],
  ] as const) {
    const b = tf.backend_util.assertAndGetBroadcastShape(t.shape, fullShape);
    if (!sameShape(b, fullShape))
      throw new Error(`gaussianNll: ${name} [${t.shape}] does not broadcast to [${fullShape}]`);
  }
  if (mask) {
    const m = checkMask(mask, fullShape, 'gaussianNll');
    const maskedNative =
      nativeMask(m, fullShape) &&
      hasKernel(FUSED.gaussianNllMasked) &&
      hasKernel(FUSED.gaussianNllMaskedGrad) &&
      sameShape(mean.shape, fullShape) &&
      lvNativeShape(logVar, fullShape);
    if (maskedNative) return gaussianNllMaskedNative(x, mean, logVar, m);
    return tf.tidy(() => {
      const lvf = asFloat(logVar);
      const sq = tf.square(tf.sub(asFloat(x), asFloat(mean)));
      const t = tf.add(tf.add(lvf, LOG_2PI), tf.mul(sq, tf.exp(tf.neg(lvf))));
      return tf.mul(tf.sum(tf.mul(t, m), 1), 0.5) as tf.Tensor1D;
    });
  }
  const native =
    hasKernel(FUSED.gaussianNll) &&
    hasKernel(FUSED.gaussianNllGrad) &&
    sameShape(mean.shape, fullShape) &&
    lvNativeShape(logVar, fullShape);
  const f = customGrad((xi: tf.Tensor, m: tf.Tensor, lv: tf.Tensor, save: tf.GradSaveFunc) => {
    const xf = asFloat(xi),
      mf = asFloat(m),
      lvf = asFloat(lv);
    save([xf, mf, lvf]);
    const value = native
      ? (tf.engine().runKernel(FUSED.gaussianNll, { x: xf, mean: mf, logVar: lvf }) as tf.Tensor)
      : tf.tidy(() => {
          const sq = tf.square(tf.sub(xf, mf));
          const t = tf.add(tf.add(lvf, LOG_2PI), tf.mul(sq, tf.exp(tf.neg(lvf))));
          return tf.mul(tf.sum(t, 1), 0.5); // t is [N, D]: x is
        });
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const [xs, ms, lvs] = saved;
      // ∂/∂x = −∂/∂mean (before any reduction to mean's shape)
      if (native) {
        const [dMean, dLv] = tf
          .engine()
          .runKernel(FUSED.gaussianNllGrad, { x: xs, mean: ms, logVar: lvs, dy }) as tf.Tensor[];
        return [tf.neg(dMean), dMean, dLv]; // native: mean has x's shape
      }
      const dyc = tf.expandDims(dy, 1);
      const iv = tf.exp(tf.neg(lvs));
      const diff = tf.sub(ms, xs); // [N, D]
      const dMean = tf.mul(tf.mul(dyc, diff), iv);
      const dLv = tf.mul(tf.mul(dyc, 0.5), tf.sub(1, tf.mul(tf.square(diff), iv)));
      return [tf.neg(dMean), reduceTo(dMean, ms.shape), reduceTo(dLv, lvs.shape)];
    };
    return { value, gradFunc };
  });
  return f(x, mean, logVar) as tf.Tensor1D;
}

/**
 * Per-example KL(N(mu, exp(logVar)) || N(0, I)) = ½ Σ_d (mu² + exp(logVar) − logVar − 1).
 * `mu` and `logVar` are [N, D]; returns [N]; differentiable w.r.t. both.
 */
export function gaussianKlStdNormal(mu: tf.Tensor2D, logVar: tf.Tensor2D): tf.Tensor1D {
  if (mu.rank !== 2 || !sameShape(mu.shape, logVar.shape)) {
    throw new Error(
      `gaussianKlStdNormal: mu [${mu.shape}] and logVar [${logVar.shape}] must be equal-shape rank-2 tensors`,
    );
  }
  const native = hasKernel(FUSED.klStdNormal) && hasKernel(FUSED.klStdNormalGrad);
  const f = customGrad((m: tf.Tensor, lv: tf.Tensor, save: tf.GradSaveFunc) => {
    const mf = asFloat(m),
      lvf = asFloat(lv);
    save([mf, lvf]);
    const value = native
      ? (tf.engine().runKernel(FUSED.klStdNormal, { mu: mf, logVar: lvf }) as tf.Tensor)
      : tf.tidy(() => tf.mul(tf.sum(tf.sub(tf.sub(tf.add(tf.square(mf), tf.exp(lvf)), lvf), 1), 1), 0.5));
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const [ms, lvs] = saved;
      if (native) return tf.engine().runKernel(FUSED.klStdNormalGrad, { mu: ms, logVar: lvs, dy }) as tf.Tensor[];
      const dyc = tf.expandDims(dy, 1);
      return [tf.mul(dyc, ms), tf.mul(tf.mul(dyc, 0.5), tf.sub(tf.exp(lvs), 1))];
    };
    return { value, gradFunc };
  });
  return f(mu, logVar) as tf.Tensor1D;
}

// ------------------------------------------------------------------------------------------------
// in-place optimizer steps

function checkState(name: string, v: tf.Variable, g: tf.Tensor, arrays: (Float32Array | null)[]): void {
  if (g.size !== v.size) throw new Error(`${name}: gradient size ${g.size} != variable size ${v.size}`);
  for (const a of arrays) {
    if (a && a.length !== v.size) throw new Error(`${name}: state array length ${a.length} != variable size ${v.size}`);
  }
}

/**
 * One Adam step exactly like torch.optim.Adam (no weight decay, no amsgrad):
 * m ← β1 m + (1−β1) g; s ← β2 s + (1−β2) g²; v ← v − lr/(1−β1^t) · m / (√s/√(1−β2^t) + eps).
 * `m` and `s` (the moments, length v.size) are updated in place; so is `v` on the native backend.
 */
export function adamStepInPlace(
  v: tf.Variable,
  g: tf.Tensor,
  m: Float32Array,
  s: Float32Array,
  opts: AdamStepOptions,
): void {
  checkState('adamStepInPlace', v, g, [m, s]);
  const { lr, beta1, beta2, eps, t } = opts;
  if (getInPlaceSteps(tf.getBackend())?.adam(v, g, m, s, opts)) return;
  const bc1 = 1 - Math.pow(beta1, t),
    bc2 = 1 - Math.pow(beta2, t);
  const nv = tf.tidy(() => {
    const gf = tf.reshape(asFloat(g), v.shape);
    const m2 = tf.add(tf.mul(tf.tensor(m, v.shape), beta1), tf.mul(gf, 1 - beta1));
    const s2 = tf.add(tf.mul(tf.tensor(s, v.shape), beta2), tf.mul(tf.square(gf), 1 - beta2));
    const denom = tf.add(tf.div(tf.sqrt(s2), Math.sqrt(bc2)), eps);
    const next = tf.sub(v, tf.mul(tf.div(m2, denom), lr / bc1));
    m.set(m2.dataSync() as Float32Array);
    s.set(s2.dataSync() as Float32Array);
    return next;
  });
  v.assign(nv);
  nv.dispose();
}

/**
 * One SGD step like torch.optim.SGD (dampening 0, no weight decay): with momentum μ,
 * buf ← μ buf + g and v ← v − lr·(nesterov ? g + μ buf : buf); without (mom null or μ = 0),
 * v ← v − lr·g. `mom` is updated in place (zeros initially, which matches torch's first step).
 */
export function sgdStepInPlace(v: tf.Variable, g: tf.Tensor, mom: Float32Array | null, opts: SgdStepOptions): void {
  checkState('sgdStepInPlace', v, g, [mom]);
  const { lr, momentum } = opts;
  const nesterov = !!opts.nesterov;
  if (getInPlaceSteps(tf.getBackend())?.sgd(v, g, mom, opts)) return;
  const nv = tf.tidy(() => {
    const gf = tf.reshape(asFloat(g), v.shape);
    if (!mom || momentum === 0) return tf.sub(v, tf.mul(gf, lr));
    const buf = tf.add(tf.mul(tf.tensor(mom, v.shape), momentum), gf);
    mom.set(buf.dataSync() as Float32Array);
    const d = nesterov ? tf.add(gf, tf.mul(buf, momentum)) : buf;
    return tf.sub(v, tf.mul(d, lr));
  });
  v.assign(nv);
  nv.dispose();
}

/**
 * One Adagrad step like torch.optim.Adagrad (lr_decay 0, no weight decay):
 * acc ← acc + g²; v ← v − lr·g / (√acc + eps). `acc` is updated in place (initialise it with
 * torch's initial_accumulator_value, default 0).
 */
export function adagradStepInPlace(v: tf.Variable, g: tf.Tensor, acc: Float32Array, opts: AdagradStepOptions): void {
  checkState('adagradStepInPlace', v, g, [acc]);
  const { lr, eps } = opts;
  if (getInPlaceSteps(tf.getBackend())?.adagrad(v, g, acc, opts)) return;
  const nv = tf.tidy(() => {
    const gf = tf.reshape(asFloat(g), v.shape);
    const a2 = tf.add(tf.tensor(acc, v.shape), tf.square(gf));
    acc.set(a2.dataSync() as Float32Array);
    return tf.sub(v, tf.mul(tf.div(gf, tf.add(tf.sqrt(a2), eps)), lr));
  });
  v.assign(nv);
  nv.dispose();
}

// The discretised logistic over 8-bit values x = k/255 (src/distributions/discretized-logistic.ts has the
// derivation): one bin [x − δ, x + δ] per value, δ = 1/510, the end bins taking the tails; log s clamped to
// [−12, 1].
const DL_HALF_BIN = 1 / 510;
const DL_MIN_LOG_SCALE = -12;
const DL_MAX_LOG_SCALE = 1;

/** log P(x_d) per value [N, D] of the discretised logistic (mu [N, D], logScale broadcast to it), plain tfjs. */
export function discretizedLogisticLogProbPerDim(x: tf.Tensor2D, mu: tf.Tensor, logScale: tf.Tensor): tf.Tensor2D {
  return tf.tidy(() => {
    const invS = tf.exp(tf.neg(tf.clipByValue(logScale, DL_MIN_LOG_SCALE, DL_MAX_LOG_SCALE)));
    const c = tf.sub(x, mu);
    const a = tf.mul(tf.add(c, DL_HALF_BIN), invS);
    const b = tf.mul(tf.sub(c, DL_HALF_BIN), invS);
    // a − b = Δ = 2δ/s ≥ 2δ/e^MAX_LOG_SCALE ≈ 1.4e-3, where float32's 1 − e^{−Δ} keeps ~5 digits.
    const log1mExp = tf.log(tf.sub(1, tf.exp(tf.mul(invS, -2 * DL_HALF_BIN))));
    const mid = tf.add(tf.sub(tf.sub(a, tf.softplus(a)), tf.softplus(b)), log1mExp);
    const low = tf.neg(tf.softplus(tf.neg(a))); // log σ(a)
    const high = tf.neg(tf.softplus(b)); // log(1 − σ(b))
    const isLow = tf.less(x, DL_HALF_BIN);
    const isHigh = tf.greater(x, 1 - DL_HALF_BIN);
    return tf.where(isLow, low, tf.where(isHigh, high, mid)) as tf.Tensor2D;
  });
}

/**
 * Per-example negative log-likelihood −Σ_d m_d log P(x_d) of the discretised logistic: x and mu [N, D],
 * logScale a scalar, [D], [1, D] or [N, D]; the optional mask m ([N, D] or [1, D], 1 observed, 0 missing)
 * scores the observed values only. On the native backend one fused kernel forward and one backward (into mu
 * and logScale; none where log s is outside the clamp, as clipByValue's); else plain tfjs with autodiff.
 */
export function discretizedLogisticNll(
  x: tf.Tensor2D,
  mu: tf.Tensor,
  logScale: tf.Tensor,
  mask?: tf.Tensor,
): tf.Tensor1D {
  const full = x.shape;
  if (x.rank !== 2) throw new Error(`discretizedLogisticNll: x must be rank 2 [N, D], got [${x.shape}]`);
  const m = mask ? checkMask(mask, full, 'discretizedLogisticNll') : null;
  const native =
    hasKernel(FUSED.discretizedLogisticNll) &&
    hasKernel(FUSED.discretizedLogisticNllGrad) &&
    sameShape(mu.shape, full) &&
    lvNativeShape(logScale, full) &&
    (!m || nativeMask(m, full));
  if (!native)
    return tf.tidy(() => {
      const lp = discretizedLogisticLogProbPerDim(x, mu, logScale);
      return tf.neg(tf.sum(m ? tf.mul(lp, m) : lp, 1)) as tf.Tensor1D;
    });
  const xf = asFloat(x);
  const f = customGrad((mi: tf.Tensor, ls: tf.Tensor, save: tf.GradSaveFunc) => {
    const mf = asFloat(mi),
      lsf = asFloat(ls);
    save(m ? [mf, lsf, xf, m] : [mf, lsf, xf]); // x and the mask too: saved tensors outlive the forward scope
    const inputs = { x: xf, mu: mf, logScale: lsf, ...(m ? { mask: m } : {}) };
    const value = tf.engine().runKernel(FUSED.discretizedLogisticNll, inputs) as tf.Tensor;
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const [ms, lss, xs, mks] = saved;
      const g = { x: xs, mu: ms, logScale: lss, dy, ...(mks ? { mask: mks } : {}) };
      return tf.engine().runKernel(FUSED.discretizedLogisticNllGrad, g) as tf.Tensor[];
    };
    return { value, gradFunc };
  });
  return f(mu, logScale) as tf.Tensor1D;
}
