// The masked fused likelihoods (src/backend/fused.ts, native/likelihood_masked.cc): on the native backend the
// masked Bernoulli and Gaussian NLLs and the discretised logistic NLL (with and without a mask) run on their own
// kernels, and their values and gradients equal the plain-tfjs formulas on tfjs-cpu, for masks of one row per
// example and one shared row, every log-variance shape the kernels address, and log-scales outside the clamp.
// Skipped when the addon is not built or predates these kernels.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers'; // registers tfjs-core's gradients
import { NATIVE_BACKEND, registerNativeBackend } from '../src/backend/native/index.js';
import { FUSED_KERNELS } from '../src/backend/kernel-names.js';
import { bernoulliNllWithLogits, discretizedLogisticNll, gaussianNll } from '../src/backend/fused.js';
import { DiscretizedLogistic } from '../src/distributions/discretized-logistic.js';
import { Rng } from '../src/rng.js';

const reg = registerNativeBackend();
const masked = [
  FUSED_KERNELS.bernoulliNllMasked,
  FUSED_KERNELS.gaussianNllMasked,
  FUSED_KERNELS.discretizedLogisticNll,
].every((k) => reg.ok && tf.getKernel(k, NATIVE_BACKEND) != null);
const skip = masked ? false : `native masked kernels unavailable: ${reg.reason ?? 'an older build'}`;

const rng = new Rng(4242);
const N = 7,
  D = 33;
const uni = (n: number, lo: number, hi: number) =>
  Float32Array.from({ length: n }, () => lo + (hi - lo) * rng.uniform());
const bits = (n: number, p: number) => Float32Array.from({ length: n }, () => (rng.uniform() < p ? 1 : 0));
const levels = (n: number) =>
  Float32Array.from({ length: n }, (_, i) =>
    i % 11 === 0 ? 0 : i % 13 === 0 ? 1 : Math.floor(rng.uniform() * 256) / 255,
  );

function near(what: string, got: ArrayLike<number>, want: ArrayLike<number>, rtol = 2e-4, atol = 2e-4): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++)
    if (!(Math.abs(got[i] - want[i]) <= atol + rtol * Math.abs(want[i])))
      assert.fail(`${what} at ${i}: native ${got[i]}, plain ${want[i]}`);
}

/** Value and gradients (w.r.t. the params) of Σ_n w_n f(params)_n on a backend. */
async function run(
  backend: string,
  f: (...p: tf.Tensor[]) => tf.Tensor1D,
  params: [Float32Array, number[]][],
  w: Float32Array,
): Promise<{ value: Float32Array; grads: Float32Array[] }> {
  assert.ok(await tf.setBackend(backend));
  return tf.tidy(() => {
    const ts = params.map(([v, s]) => tf.tensor(v, s));
    const wt = tf.tensor1d(w);
    const value = f(...ts).dataSync() as Float32Array;
    const g = tf.grads((...p: tf.Tensor[]) => tf.sum(tf.mul(f(...p), wt)));
    return { value, grads: g(ts).map((t) => t.dataSync() as Float32Array) };
  });
}

async function compare(what: string, f: (...p: tf.Tensor[]) => tf.Tensor1D, params: [Float32Array, number[]][]) {
  const w = uni(N, 0.5, 1.5);
  const plain = await run('cpu', f, params, w);
  const native = await run(NATIVE_BACKEND, f, params, w);
  near(`${what} value`, native.value, plain.value);
  native.grads.forEach((g, i) => near(`${what} grad ${i}`, g, plain.grads[i]));
  return native;
}

/** Counts the calls of a native kernel while fn runs (to know the fused path was taken). */
async function callsOf(kernel: string, fn: () => Promise<unknown>): Promise<number> {
  const k = tf.getKernel(kernel, NATIVE_BACKEND)!;
  let calls = 0;
  tf.unregisterKernel(kernel, NATIVE_BACKEND);
  tf.registerKernel({ ...k, kernelFunc: (a) => (calls++, k.kernelFunc(a)) });
  try {
    await fn();
  } finally {
    tf.unregisterKernel(kernel, NATIVE_BACKEND);
    tf.registerKernel(k);
  }
  return calls;
}

describe('masked fused likelihoods on the native kernels', { skip }, () => {
  const maskFull = bits(N * D, 0.6);
  const maskRow = bits(D, 0.5);
  const masks: [string, Float32Array, number[]][] = [
    ['mask [N, D]', maskFull, [N, D]],
    ['mask [1, D]', maskRow, [1, D]],
  ];

  it('Bernoulli: value and ∂/∂logits equal plain tfjs, on the masked kernel', async () => {
    const logits = uni(N * D, -4, 4),
      x = bits(N * D, 0.4);
    for (const [name, m, ms] of masks) {
      const mt = () => tf.tensor(m, ms);
      const calls = await callsOf(FUSED_KERNELS.bernoulliNllMasked, () =>
        compare(`bernoulli ${name}`, (l) => bernoulliNllWithLogits(l as tf.Tensor2D, tf.tensor2d(x, [N, D]), mt()), [
          [logits, [N, D]],
        ]),
      );
      assert.ok(calls >= 1, `${name}: the masked kernel ran`);
    }
  });

  it('Gaussian: value, ∂/∂x, ∂/∂mean and ∂/∂logVar equal plain tfjs for scalar, [1, D] and [N, D] log-variances', async () => {
    const x = uni(N * D, -1, 2),
      mean = uni(N * D, -1, 2);
    const lvs: [Float32Array, number[]][] = [
      [uni(1, -2, 1), [1]],
      [uni(D, -3, 1), [1, D]],
      [uni(N * D, -3, 1), [N, D]],
    ];
    for (const [name, m, ms] of masks)
      for (const lv of lvs) {
        const calls = await callsOf(FUSED_KERNELS.gaussianNllMaskedGrad, () =>
          compare(`gaussian ${name} lv [${lv[1]}]`, (xi, mi, li) => gaussianNll(xi, mi, li, tf.tensor(m, ms)), [
            [x, [N, D]],
            [mean, [N, D]],
            lv,
          ]),
        );
        assert.ok(calls >= 1, `${name} lv [${lv[1]}]: the masked gradient kernel ran`);
      }
  });

  it('discretised logistic: value, ∂/∂mu and ∂/∂logScale equal plain tfjs, with and without a mask, at the end bins and outside the clamp', async () => {
    const x = levels(N * D);
    const mu = uni(N * D, -0.2, 1.2);
    const lsRow = uni(D, -6, 0);
    lsRow[3] = -13; // below the clamp: no gradient
    lsRow[5] = 1.5; // above it
    const lsFull = uni(N * D, -6, 0.5);
    for (const [mname, m, ms] of [['no mask', null, []] as const, ...masks])
      for (const ls of [
        [lsRow, [1, D]],
        [lsFull, [N, D]],
      ] as [Float32Array, number[]][]) {
        const calls = await callsOf(FUSED_KERNELS.discretizedLogisticNll, async () => {
          const r = await compare(
            `logistic ${mname} logScale [${ls[1]}]`,
            (mi, li) => discretizedLogisticNll(tf.tensor2d(x, [N, D]), mi, li, m ? tf.tensor(m, [...ms]) : undefined),
            [[mu, [N, D]], ls],
          );
          if (ls[1][0] === 1) assert.equal(r.grads[1][3], 0, 'no gradient below the clamp');
        });
        assert.ok(calls >= 1, `${mname}: the fused kernel ran`);
      }
  });

  it('DiscretizedLogistic.logProb(x, mask) is the fused NLL negated, the masked values left out', async () => {
    assert.ok(await tf.setBackend(NATIVE_BACKEND));
    tf.tidy(() => {
      const x = tf.tensor2d(levels(N * D), [N, D]);
      const p = new DiscretizedLogistic(tf.tensor2d(uni(N * D, 0, 1), [N, D]), tf.tensor2d(uni(D, -5, -1), [1, D]));
      const mask = tf.tensor2d(maskFull, [N, D]);
      const perDim = p.logProbPerDim(x);
      const want = tf.sum(tf.mul(perDim, mask), 1).dataSync();
      near('masked logProb', p.logProb(x, mask).dataSync(), want);
      near('logProb', p.logProb(x).dataSync(), tf.sum(perDim, 1).dataSync());
    });
  });
});
