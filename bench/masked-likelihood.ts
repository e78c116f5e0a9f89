// The masked likelihoods (issue 15.3) on the native backend: value + gradient of the masked Bernoulli and
// Gaussian NLLs and of the discretised logistic NLL (masked) on their fused kernels
// (native/likelihood_masked.cc), against the same maths as plain tfjs ops (the peer: those kernels
// unregistered, so src/backend/fused.ts takes its plain path, still on the native backend's elementwise ops).
// Shape [N, 784], half the values observed, log-variance / log-scale one row [1, 784] (the decoders' shape).
//
//   node --import tsx bench/masked-likelihood.ts [--n 400] [--reps 50]
//
// Prints ms per value + gradient (median of reps) and the ratio plain / fused.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers'; // registers tfjs-core's gradients
import { FUSED_KERNELS as F } from '../src/backend/kernel-names.js';
import { NATIVE_BACKEND, registerNativeBackend } from '../src/backend/native/index.js';
import { bernoulliNllWithLogits, discretizedLogisticNll, gaussianNll } from '../src/backend/fused.js';

const args = process.argv.slice(2);
const flag = (name: string, def: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const N = Number(flag('--n', '400')),
  reps = Number(flag('--reps', '50')),
  D = 784;
const reg = registerNativeBackend();
if (!reg.ok) throw new Error(`native backend unavailable: ${reg.reason}`);
await tf.setBackend(NATIVE_BACKEND);
const MASKED = [
  F.bernoulliNllMasked,
  F.bernoulliNllMaskedGrad,
  F.gaussianNllMasked,
  F.gaussianNllMaskedGrad,
  F.discretizedLogisticNll,
  F.discretizedLogisticNllGrad,
];
if (!MASKED.every((k) => tf.getKernel(k, NATIVE_BACKEND)))
  throw new Error('this native build has no masked kernels: npm run build:native');

const x = tf.div(tf.round(tf.mul(tf.randomUniform([N, D], 0, 1, 'float32', 1), 255)), 255) as tf.Tensor2D;
const bits = tf.cast(tf.greater(x, 0.5), 'float32') as tf.Tensor2D;
const mu = tf.variable(tf.randomUniform([N, D], -0.2, 1.2, 'float32', 2));
const lv = tf.variable(tf.fill([1, D], -2));
const mask = tf.cast(tf.greater(tf.randomUniform([N, D], 0, 1, 'float32', 3), 0.5), 'float32');
const cases: [string, () => tf.Scalar][] = [
  ['Bernoulli', () => tf.sum(bernoulliNllWithLogits(mu as unknown as tf.Tensor2D, bits, mask))],
  ['Gaussian', () => tf.sum(gaussianNll(x, mu, lv, mask))],
  ['discretised logistic', () => tf.sum(discretizedLogisticNll(x, mu, lv, mask))],
];

function median(f: () => tf.Scalar): number {
  for (let i = 0; i < 5; i++) tf.tidy(() => void tf.variableGrads(f).value.dataSync());
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    tf.tidy(() => {
      const g = tf.variableGrads(f);
      g.value.dataSync();
      for (const v of Object.values(g.grads)) v.dataSync();
    });
    t.push(performance.now() - t0);
  }
  return t.sort((a, b) => a - b)[Math.floor(t.length / 2)];
}

const fused = cases.map(([, f]) => median(f));
const saved = MASKED.map((k) => tf.getKernel(k, NATIVE_BACKEND)!);
for (const k of MASKED) tf.unregisterKernel(k, NATIVE_BACKEND);
const plain = cases.map(([, f]) => median(f));
for (const k of saved) tf.registerKernel(k);
console.log(`masked NLL, value + gradient, [${N}, ${D}], half observed, median of ${reps}`);
console.log('| likelihood | fused kernels ms | plain tfjs ops ms | plain / fused |');
console.log('|---|---:|---:|---:|');
cases.forEach(([name], i) =>
  console.log(`| ${name} | ${fused[i].toFixed(2)} | ${plain[i].toFixed(2)} | ${(plain[i] / fused[i]).toFixed(1)}× |`),
);
