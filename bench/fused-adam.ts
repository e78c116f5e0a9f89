// The fused mlp step's Adam update made inside the backward pass (each weight-gradient block applied
// by the thread that computed it) against the same step with Adam as a separate pass after it
// (denseVaeStep's fuseAdam false), alternated step by step in one process; the same values either way
// (test/native-dense-vae.test.ts). Canonical mlp VAE sizes, batch 128, random binary x.
//
//   node --import tsx bench/fused-adam.ts [--rounds 200]      (VAEKIT_THREADS=1 for one thread)
import os from 'node:os';
import { initBackend } from '../src/backend/index.js';
import { nativeAddon } from '../src/backend/native/index.js';
import { Rng } from '../src/rng.js';

const i = process.argv.indexOf('--rounds');
const rounds = i > 0 ? Number(process.argv[i + 1]) : 200;
await initBackend('native', true);
const addon = nativeAddon();
if (!addon || typeof addon.denseVaeStep !== 'function') {
  console.error('bench/fused-adam: no native backend with the fused step (npm run build:native)');
  process.exit(1);
}
const r = new Rng(1);
const net = (dims: number[]) => {
  const p: Float32Array[] = [];
  for (let l = 0; l + 1 < dims.length; l++)
    p.push(
      new Float32Array(dims[l] * dims[l + 1]).map(() => (r.uniform() - 0.5) * (2 / Math.sqrt(dims[l]))),
      new Float32Array(dims[l + 1]),
    );
  return p;
};
const enc = [784, 400, 40],
  dec = [20, 400, 784],
  B = 128;
const e = net(enc),
  d = net(dec);
const zeros = (p: Float32Array[]) => p.map((a) => new Float32Array(a.length));
const [em, es, dm, ds] = [zeros(e), zeros(e), zeros(d), zeros(d)];
const x = new Float32Array(B * 784).map(() => (r.uniform() > 0.7 ? 1 : 0));
const eps = r.fillNormal(new Float32Array(B * 20));
let t = 0;
const step = (fuse: boolean) => {
  const t0 = performance.now();
  addon.denseVaeStep(e, em, es, enc, d, dm, ds, dec, x, eps, B, 1, 1e-4, 0.9, 0.999, 1e-8, ++t, fuse);
  return performance.now() - t0;
};
for (let w = 0; w < 20; w++) step(w % 2 === 0);
const fused: number[] = [],
  apart: number[] = [];
for (let k = 0; k < rounds; k++) {
  if (k % 2) {
    fused.push(step(true));
    apart.push(step(false));
  } else {
    apart.push(step(false));
    fused.push(step(true));
  }
}
const q = (v: number[], p: number) => [...v].sort((a, b) => a - b)[Math.floor(p * (v.length - 1))]!;
const ratios = fused.map((f, k) => f / apart[k]);
console.log(
  `step ms, Adam inside the backward pass: min ${q(fused, 0).toFixed(3)} median ${q(fused, 0.5).toFixed(3)}; ` +
    `Adam as a separate pass: min ${q(apart, 0).toFixed(3)} median ${q(apart, 0.5).toFixed(3)}; ` +
    `ratio of minima ${(q(fused, 0) / q(apart, 0)).toFixed(3)}, median of paired ratios ${q(ratios, 0.5).toFixed(3)}; ` +
    `${addon.info().threads} threads, ${addon.info().gemm.engine}, load ${os.loadavg()[0]!.toFixed(2)}`,
);
