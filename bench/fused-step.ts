// The fused mlp training step (native/train_step.cc) beside its 11 GEMMs alone, in one process,
// alternated: how much of a step is not GEMM. Canonical mlp VAE, batch 128, random binary x.
//
//   node --import tsx bench/fused-step.ts [--rounds 40]      (VAEKIT_THREADS=1 for one thread)
import { initBackend } from '../src/backend/index.js';
import { nativeAddon } from '../src/backend/native/index.js';
import { createModel } from '../src/models/index.js';
import { elboObjective } from '../src/objectives/elbo.js';
import { Rng } from '../src/rng.js';
import { fusedStepFor } from '../src/train/fused-step.js';
import { Optimizer } from '../src/train/optimizers.js';

const i = process.argv.indexOf('--rounds');
const rounds = i > 0 ? Number(process.argv[i + 1]) : 40;
await initBackend('native', true);
const addon = nativeAddon();
const model = createModel(
  { kind: 'vae', inputShape: [784], latentDim: 20, network: { type: 'mlp', hidden: [400] }, likelihood: 'bernoulli' },
  new Rng(1),
);
const step = addon && fusedStepFor(model, elboObjective(), new Optimizer({ kind: 'adam', lr: 1e-3 }), { freeBits: 0 });
if (!addon || !step) {
  console.error('bench/fused-step: no native backend with the fused step (npm run build:native)');
  process.exit(1);
}
const rng = new Rng(2);
const x = new Float32Array(128 * 784).map(() => (rng.uniform() > 0.7 ? 1 : 0));
for (let w = 0; w < 30; w++) step(x, 128, rng, 1, 1e-3);
const st: number[] = [],
  gm: number[] = [];
for (let r = 0; r < rounds; r++) {
  for (let s = 0; s < 5; s++) {
    const t0 = performance.now(); // each step timed alone, as measureGemm times each GEMM set
    step(x, 128, rng, 1, 1e-3);
    st.push(performance.now() - t0);
  }
  const g = addon.measureGemm(5);
  gm.push(addon.info().gemm.engine === 'openblas' && g.openblas !== null ? g.openblas : g.onednn);
}
const q = (v: number[], p: number) => [...v].sort((a, b) => a - b)[Math.floor(p * (v.length - 1))]!;
const g = addon.info().gemm;
console.log(
  `fused step ms: min ${q(st, 0).toFixed(3)} median ${q(st, 0.5).toFixed(3)}; its 11 GEMMs (${g.engine}, ${g.kernel}) ms: ` +
    `min ${q(gm, 0).toFixed(3)} median ${q(gm, 0.5).toFixed(3)}; ratio of minima ${(q(st, 0) / q(gm, 0)).toFixed(2)}; ` +
    `${addon.info().threads} threads, load ${(await import('node:os')).loadavg()[0]!.toFixed(2)}`,
);
