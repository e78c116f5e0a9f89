// Usage: node --import tsx bench/seqvae-words.ts [--epochs 4] [--hidden 192] [--latent 16] [--batch 128] [--cell gru|lstm]
//        [--word-dropout 0.3] [--kl-warmup 1000] [--steps N] [--out DIR]
// Train the character-level word VAE (Bowman et al. 2016) on /usr/share/dict/words and show what it learned.
import { initBackend } from '../src/backend/index.js';
import { loadWords } from '../src/data/word-list.js';
import { SeqVAE, seqVaeConfigFor } from '../src/models/seqvae.js';
import type { Objective } from '../src/objectives/types.js';
import { reconstructWords, sampleWords, interpolateWords } from '../src/tasks/words.js';
import { elbo } from '../src/objectives/elbo.js';
import { evaluateElbo, importanceSampledNll } from '../src/eval/likelihood.js';
import { train } from '../src/train/trainer.js';
import { Rng } from '../src/rng.js';
const arg = (k: string, d: string) => {
  const i = process.argv.indexOf('--' + k);
  return i > 0 ? process.argv[i + 1] : d;
};
const info = await initBackend();
const epochs = +arg('epochs', '4'),
  hidden = +arg('hidden', '256'),
  latent = +arg('latent', '16'),
  bs = +arg('batch', '128');
const wd = +arg('word-dropout', '0.3'),
  warm = +arg('kl-warmup', '800'),
  maxSteps = +arg('steps', '0') || undefined;
const cell = arg('cell', 'gru') as 'gru' | 'lstm';
const out = arg('out', '');
const data = loadWords({});
console.log(`backend ${info.backend}; words: ${data.train.n} train / ${data.test.n} test, shape [${data.shape}]`);
const model = new SeqVAE(seqVaeConfigFor(data, { hidden, latentDim: latent, cell, embedding: 32 }), new Rng(0));
console.log(JSON.stringify(model.spec));
const obj: Objective = (m, x, ctx) => elbo(m, x, { beta: ctx.beta, rng: ctx.rng });
const c0 = process.cpuUsage();
const r = await train(model, data, obj, {
  epochs,
  maxSteps,
  batchSize: bs,
  seed: 0,
  optimizer: { kind: 'adam', lr: 2e-3 },
  beta: 1,
  klWarmup: warm,
  wordDropout: wd,
  progress: 'lines',
  outDir: out || undefined,
  dataInfo: { dataset: data.name, protocol: data.protocol, shape: data.shape },
  evaluate: (m) => evaluateElbo(m, data.test, { rng: new Rng(1), limit: 2000 }),
});
const cu = process.cpuUsage(c0);
console.log(`cpu ${((cu.user + cu.system) / 1e6).toFixed(0)} s`);
for (const m of r.metrics)
  console.log(
    `epoch ${m.epoch}: train −ELBO ${m.loss.toFixed(2)} (rec ${m.rec.toFixed(2)}, kl ${m.kl.toFixed(2)}), test −ELBO ${m.test_loss.toFixed(2)} (rec ${m.test_rec.toFixed(2)}, kl ${m.test_kl.toFixed(2)}) β ${m.beta.toFixed(2)} ${m.seconds.toFixed(0)}s tensors ${m.num_tensors}`,
  );
const words = data.words.test.slice(0, 16);
const rec = reconstructWords(model, words);
let exact = 0;
const n = 500;
const recN = reconstructWords(model, data.words.test.slice(0, n));
recN.forEach((w, i) => (exact += +(w === data.words.test[i])));
console.log(`greedy reconstruction exact on ${n} test words: ${((100 * exact) / n).toFixed(1)}%`);
console.log('reconstructions (test words → greedy decode of μ):');
words.forEach((w, i) => console.log(`  ${w.padEnd(13)} → ${rec[i]}`));
console.log('samples z ~ N(0, I), greedy:', sampleWords(model, 16, new Rng(7)).join(' '));
console.log('samples z ~ N(0, I), sampled (τ=1):', sampleWords(model, 16, new Rng(8), { mode: 'sample' }).join(' '));
const seen = new Set(data.words.train);
const smp = sampleWords(model, 500, new Rng(9));
console.log(
  `greedy samples that are training words: ${((100 * smp.filter((w) => seen.has(w)).length) / 500).toFixed(1)}%, distinct: ${new Set(smp).size}/500`,
);
for (const [a, b] of [
  ['house', 'garden'],
  ['cat', 'elephant'],
  ['running', 'sleep'],
])
  console.log(`interpolate ${a} → ${b}:`, interpolateWords(model, a, b, 8).join(' → '));
const nll = importanceSampledNll(model, data.test, { k: 100, rng: new Rng(3), limit: 500 });
console.log(`test NLL (k=100, 500 words): ${nll.nll.toFixed(2)} ± ${nll.stderr.toFixed(2)} nats`);
