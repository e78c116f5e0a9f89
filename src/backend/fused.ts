// Fused likelihoods, KL and optimizer steps. Backend-agnostic: plain tfjs ops here (identical maths on
// every backend); the native backend's fast paths plug in below these signatures.
import * as tf from '@tensorflow/tfjs-core';

export function isNativeActive(): boolean {
  return tf.getBackend() === 'vaekit-native';
}

/** Per-example Σ_d [softplus(l) − x·l] = Σ_d [max(l,0) − x·l + log1p(exp(−|l|))]; grad w.r.t. l: σ(l) − x. */
export function bernoulliNllWithLogits(logits: tf.Tensor2D, x: tf.Tensor2D): tf.Tensor1D {
  const f = tf.customGrad(((l: tf.Tensor, xx: tf.Tensor, save: tf.GradSaveFunc) => {
    save([l, xx]);
    const value = tf.sum(tf.add(tf.sub(tf.relu(l), tf.mul(xx, l)), tf.log1p(tf.exp(tf.neg(tf.abs(l))))), -1);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [ls, xs] = saved;
        const g = tf.mul(tf.sub(tf.sigmoid(ls), xs), tf.expandDims(dy, -1));
        return [g, tf.zerosLike(xs)];
      },
    };
  }) as any);
  return f(logits, x) as tf.Tensor1D;
}

/** Per-example Σ_d ½[log 2π + logVar + (x − mean)²·exp(−logVar)], logVar broadcastable. */
export function gaussianNll(x: tf.Tensor2D, mean: tf.Tensor2D, logVar: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const t = tf.add(tf.add(logVar, Math.log(2 * Math.PI)), tf.mul(tf.square(tf.sub(x, mean)), tf.exp(tf.neg(logVar))));
    return tf.mul(tf.sum(t, -1), 0.5) as tf.Tensor1D;
  });
}

/** Per-example ½ Σ_d (μ² + exp(lv) − lv − 1). */
export function gaussianKlStdNormal(mu: tf.Tensor2D, logVar: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => tf.mul(tf.sum(tf.sub(tf.sub(tf.add(tf.square(mu), tf.exp(logVar)), logVar), 1), -1), 0.5) as tf.Tensor1D);
}

function assignFrom(v: tf.Variable, values: Float32Array): void {
  tf.tidy(() => v.assign(tf.tensor(values, v.shape)));
}

/** torch.optim.Adam: m ← β1 m + (1−β1) g; s ← β2 s + (1−β2) g²; w ← w − lr·m̂/(√ŝ + ε). */
export function adamStepInPlace(v: tf.Variable, g: tf.Tensor, m: Float32Array, s: Float32Array, o: { lr: number; beta1: number; beta2: number; eps: number; t: number }): void {
  const w = v.dataSync().slice() as Float32Array;
  const gr = g.dataSync();
  const bc1 = 1 - Math.pow(o.beta1, o.t);
  const bc2 = Math.sqrt(1 - Math.pow(o.beta2, o.t));
  const stepSize = o.lr / bc1;
  for (let i = 0; i < w.length; i++) {
    m[i] = o.beta1 * m[i] + (1 - o.beta1) * gr[i];
    s[i] = o.beta2 * s[i] + (1 - o.beta2) * gr[i] * gr[i];
    w[i] -= (stepSize * m[i]) / (Math.sqrt(s[i]) / bc2 + o.eps);
  }
  assignFrom(v, w);
}

/** torch.optim.SGD: buf ← μ buf + g; w ← w − lr·(nesterov ? g + μ buf : buf). */
export function sgdStepInPlace(v: tf.Variable, g: tf.Tensor, mom: Float32Array | null, o: { lr: number; momentum: number; nesterov?: boolean }): void {
  const w = v.dataSync().slice() as Float32Array;
  const gr = g.dataSync();
  for (let i = 0; i < w.length; i++) {
    let d = gr[i];
    if (mom && o.momentum > 0) {
      mom[i] = o.momentum * mom[i] + d;
      d = o.nesterov ? d + o.momentum * mom[i] : mom[i];
    }
    w[i] -= o.lr * d;
  }
  assignFrom(v, w);
}

/** torch.optim.Adagrad: acc ← acc + g²; w ← w − lr·g/(√acc + ε). */
export function adagradStepInPlace(v: tf.Variable, g: tf.Tensor, acc: Float32Array, o: { lr: number; eps: number }): void {
  const w = v.dataSync().slice() as Float32Array;
  const gr = g.dataSync();
  for (let i = 0; i < w.length; i++) {
    acc[i] += gr[i] * gr[i];
    w[i] -= (o.lr * gr[i]) / (Math.sqrt(acc[i]) + o.eps);
  }
  assignFrom(v, w);
}
