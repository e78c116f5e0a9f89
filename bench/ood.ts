// Out-of-distribution detection (issue 13): Fashion-MNIST (in: trained on its train split, scored on its test
// split) against MNIST test digits (out), binary and continuous protocols, for the mlp, conv and hierarchical
// VAE, every score of src/tasks/anomaly.ts (raw −ELBO and NLL included); one-class Fashion-MNIST (the mlp trained
// on one class's training images, the whole test split scored, that class normal); scoring throughput at
// k = 1 and k = 100. Prints Markdown tables and writes bench/out/ood.json.
//
//   node --import tsx bench/ood.ts [--dir bench/out/ood] [--k 10] [--only pairs,coders,oneclass,speed]
//        [--models mlp-binary,conv-binary,...] [--regret-steps 20] [--oneclass-epochs 10]
//        [--oneclass-protocol binary] [--oneclass-model mlp] [--coder-model hvaewu-binary]
//
// Models are read from DIR/<model>-<protocol>/model and trained with `vaekit train` when missing (the commands
// are printed): mlp and hvae 10 epochs, conv 5 (binary) and 1 (continuous) — what a shared 2-core machine does
// in an afternoon; continuous models with a learned σ per pixel (--sigma learned), since the default σ = 1
// Gaussian leaves p(x|z) nearly flat (its KL collapses to ~5 nats) and says little about likelihood at all.
// Stronger settings: mlp50 (the mlp, 50 epochs) and hvaewu (the hvae, 20 epochs, β warmed up from 0 over the
// first 10). The likelihood regret (--regret-steps, 0: none) is scored for the single-layer mlp models.
// `coders` re-scores one model's NLL with reference coders of other settings (the sensitivity of the
// correction to the coder; picked on this very benchmark, so not a held-out result).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { initBackend } from '../src/backend/index.js';
import { contextModelBits, type ContextModelOptions } from '../src/codec/context-model.js';
import { allRows, loadDataset, readRows, rowRange, type Dataset } from '../src/data/dataset.js';
import { loadModel } from '../src/io/model.js';
import { createModel } from '../src/models/index.js';
import type { ModelConfig } from '../src/models/configs.js';
import { elbo } from '../src/objectives/elbo.js';
import { Rng } from '../src/rng.js';
import { detectionMetrics, scoreBatch, type BatchScores } from '../src/tasks/anomaly.js';
import { train } from '../src/train/trainer.js';

const argv = process.argv.slice(2);
const flag = (name: string, def: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : def;
};
const DIR = path.resolve(flag('dir', 'bench/out/ood'));
const K = Number(flag('k', '10'));
const ONLY = flag('only', 'pairs,coders,oneclass,speed').split(',');
const MODELS = flag(
  'models',
  'mlp-binary,mlp50-binary,conv-binary,hvae-binary,hvaewu-binary,mlp-continuous,conv-continuous,hvae-continuous',
).split(',');
const OC_EPOCHS = Number(flag('oneclass-epochs', '10'));
const OC_PROTOCOL = flag('oneclass-protocol', 'binary');
const OC_MODEL = flag('oneclass-model', 'mlp');
const REGRET_STEPS = Number(flag('regret-steps', '20'));
const CODER_MODEL = flag('coder-model', 'hvaewu-binary');
const SCORES = ['negElbo', 'nll', 'corrected', 'llr', 'regret'] as const;
const LABEL: Record<string, string> = {
  negElbo: '−ELBO',
  nll: 'NLL',
  corrected: 'NLL − L(x)',
  llr: 'HVAE LLR',
  regret: 'regret',
};

const TRAIN: Record<string, string[]> = {
  mlp: ['--model', 'mlp', '--epochs', '10'],
  mlp50: ['--model', 'mlp', '--epochs', '50'],
  hvae: ['--model', 'hvae', '--epochs', '10'],
  hvaewu: ['--model', 'hvae', '--epochs', '20', '--kl-warmup', '4690'],
  conv: ['--model', 'conv', '--epochs', '5'],
};

function trainArgs(name: string): string[] {
  const [model, protocol] = name.split('-');
  const epochs = model === 'conv' && protocol === 'continuous' ? ['--epochs', '1', '--no-eval'] : [];
  return [
    'train',
    '--dataset',
    'fashion-mnist',
    '--protocol',
    protocol,
    ...(protocol === 'continuous' ? ['--sigma', 'learned'] : []),
    ...TRAIN[model],
    ...epochs,
    '--report-k',
    '0',
    '--progress',
    'none',
    '--out',
    path.join(DIR, name),
  ];
}

function ensureModel(name: string): string {
  const dir = path.join(DIR, name, 'model');
  if (existsSync(path.join(dir, 'config.json'))) return dir;
  const args = trainArgs(name);
  process.stderr.write(`$ vaekit ${args.join(' ')}\n`);
  const r = spawnSync(process.execPath, ['bin/vaekit.js', ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`training ${name} failed`);
  return dir;
}

const data: Record<string, Dataset> = {};
async function dataset(name: 'fashion-mnist' | 'mnist', protocol: string): Promise<Dataset> {
  return (data[`${name}-${protocol}`] ??= await loadDataset({ name, protocol }));
}

const rowsOf = (d: Dataset) => ({ x: allRows(d.test), n: d.test.n, shape: d.test.shape });
const fmt = (v: number | undefined) => (v === undefined ? '—' : v.toFixed(3));
const results: Record<string, unknown> = { k: K, date: new Date().toISOString() };

async function pairs(): Promise<void> {
  const table: Record<string, unknown>[] = [];
  const lines = [
    `| model | protocol | test −ELBO | ${SCORES.map((s) => `${LABEL[s]} AUROC`).join(' | ')} | default: AUPRC | FPR@95%TPR |`,
    `|---|---|---|${SCORES.map(() => '---').join('|')}|---|---|`,
  ];
  for (const name of MODELS) {
    const [kind, protocol] = name.split('-');
    const { model } = await loadModel(ensureModel(name));
    const t0 = performance.now();
    // the regret of the conv models would cost ~20 conv training epochs of compute here: mlp models only
    const regret =
      REGRET_STEPS > 0 && model.config.kind === 'vae' && model.config.network.type === 'mlp'
        ? { steps: REGRET_STEPS }
        : null;
    const opts = { rng: new Rng(1), k: K, batchSize: 500, maxRows: 50_000, regret };
    const a = await scoreBatch(model, rowsOf(await dataset('fashion-mnist', protocol)), opts);
    const b = await scoreBatch(model, rowsOf(await dataset('mnist', protocol)), opts);
    const seconds = (performance.now() - t0) / 1000;
    const m: Record<string, ReturnType<typeof detectionMetrics>> = {};
    for (const s of SCORES) if (a[s] && b[s]) m[s] = detectionMetrics(a[s]!, b[s]!);
    const negElbo = a.negElbo.reduce((x, y) => x + y, 0) / a.n;
    table.push({ model: kind, protocol, testNegElbo: negElbo, metrics: m, seconds });
    const d = m.corrected;
    lines.push(
      `| ${kind} | ${protocol} | ${negElbo.toFixed(1)} | ${SCORES.map((s) => fmt(m[s]?.auroc)).join(' | ')} | ${fmt(d?.auprc)} | ${fmt(d?.fprAt95Tpr)} |`,
    );
    process.stderr.write(`${name}: scored ${a.n} + ${b.n} rows at k = ${K} in ${seconds.toFixed(0)} s\n`);
    model.dispose();
  }
  results.pairs = table;
  console.log(`\n### Fashion-MNIST (in) vs MNIST (out), AUROC, k = ${K}\n\n${lines.join('\n')}\n`);
}

async function oneClass(): Promise<void> {
  const fm = await dataset('fashion-mnist', OC_PROTOCOL);
  const { model: ref } = await loadModel(ensureModel(`${OC_MODEL}-${OC_PROTOCOL}`));
  const cfg = ref.config as ModelConfig;
  ref.dispose();
  const per: Record<string, number>[] = [];
  for (let c = 0; c < 10; c++) {
    const idx = Array.from(fm.train.y!).flatMap((y, i) => (y === c ? [i] : []));
    const x = readRows(fm.train, idx);
    const one: Dataset = { ...fm, train: { x, n: idx.length, shape: fm.train.shape } };
    const model = createModel(cfg, new Rng(100 + c));
    await train(model, one, (mm, xx, ctx) => elbo(mm, xx, { rng: ctx.rng, beta: ctx.beta }), {
      epochs: OC_EPOCHS,
      batchSize: 128,
      seed: c,
      optimizer: { kind: 'adam', lr: 1e-3 },
      beta: 1,
      klWarmup: OC_MODEL === 'hvaewu' ? Math.round((OC_EPOCHS / 2) * Math.ceil(idx.length / 128)) : 0,
      progress: 'none',
      dataInfo: { dataset: fm.name, protocol: fm.protocol, shape: fm.shape },
      log: () => {},
    });
    const s: BatchScores = await scoreBatch(model, rowsOf(fm), { rng: new Rng(2), k: K, batchSize: 500 });
    const row: Record<string, number> = { class: c };
    for (const name of SCORES) {
      const v = s[name];
      if (!v) continue;
      const normal = Array.from(v).filter((_, i) => fm.test.y![i] === c);
      const anomalous = Array.from(v).filter((_, i) => fm.test.y![i] !== c);
      row[name] = detectionMetrics(normal, anomalous).auroc;
    }
    per.push(row);
    process.stderr.write(`one-class ${c}: ${JSON.stringify(row)}\n`);
    model.dispose();
  }
  const names = SCORES.filter((s) => per[0][s] !== undefined);
  const mean = Object.fromEntries(names.map((s) => [s, per.reduce((a, r) => a + r[s], 0) / per.length]));
  results.oneClass = { epochs: OC_EPOCHS, protocol: OC_PROTOCOL, perClass: per, mean };
  const lines = [
    `| class | ${names.map((s) => LABEL[s]).join(' | ')} |`,
    `|---|${names.map(() => '---').join('|')}|`,
    ...per.map((r) => `| ${r.class} ${fm.classNames![r.class]} | ${names.map((s) => fmt(r[s])).join(' | ')} |`),
    `| **mean** | ${names.map((s) => `**${fmt(mean[s])}**`).join(' | ')} |`,
  ];
  console.log(
    `\n### One-class Fashion-MNIST (${OC_PROTOCOL}, ${OC_MODEL}, ${OC_EPOCHS} epochs per class), AUROC, k = ${K}\n\n${lines.join('\n')}\n`,
  );
}

/** Reference-coder settings re-scored on one model's NLL: [label, options of src/codec/context-model.ts]. */
const CODERS: [string, ContextModelOptions][] = [
  ['KT, 12 neighbours, α = ½ (the default)', {}],
  ['KT, 12 neighbours, α = 0.05', { alpha: 0.05 }],
  ['KT, 8 neighbours, α = ½', { neighbours: 8 }],
  ['KT, 8 neighbours, α = 0.05', { neighbours: 8, alpha: 0.05 }],
  ['KT, 6 neighbours, α = 0.1', { neighbours: 6, alpha: 0.1 }],
  ['KT, 4 neighbours, α = ½', { neighbours: 4 }],
  ['CTW, depth 12, α = ½', { method: 'ctw' }],
];

async function coders(): Promise<void> {
  const [, protocol] = CODER_MODEL.split('-');
  const { model } = await loadModel(ensureModel(CODER_MODEL));
  const opts = { rng: new Rng(1), k: K, batchSize: 500, maxRows: 50_000, complexity: null };
  const fm = await dataset('fashion-mnist', protocol);
  const mn = await dataset('mnist', protocol);
  const a = await scoreBatch(model, rowsOf(fm), opts);
  const b = await scoreBatch(model, rowsOf(mn), opts);
  model.dispose();
  const bits = protocol === 'binary' ? 1 : 8;
  const rows: Record<string, unknown>[] = [];
  const lines = ['| reference coder | mean L(x), Fashion-MNIST test (bits) | NLL − L(x) AUROC |', '|---|---|---|'];
  for (const [label, o] of CODERS) {
    const la = contextModelBits(rowsOf(fm).x, a.n, fm.test.shape, { ...o, bits });
    const lb = contextModelBits(rowsOf(mn).x, b.n, mn.test.shape, { ...o, bits });
    const s = (t: BatchScores, l: Float64Array) => Float64Array.from(t.nll, (v, i) => v / Math.LN2 - l[i]);
    const au = detectionMetrics(s(a, la), s(b, lb)).auroc;
    const meanL = la.reduce((p, q) => p + q, 0) / la.length;
    rows.push({ coder: label, options: o, meanBits: meanL, auroc: au });
    lines.push(`| ${label} | ${meanL.toFixed(1)} | ${au.toFixed(4)} |`);
  }
  results.coders = { model: CODER_MODEL, k: K, rows };
  console.log(`\n### Reference coders on ${CODER_MODEL} (k = ${K})\n\n${lines.join('\n')}\n`);
}

async function speed(): Promise<void> {
  const { model } = await loadModel(ensureModel('mlp-binary'));
  const fm = await dataset('fashion-mnist', 'binary');
  const n = 1000;
  const rows = { x: rowRange(fm.test, 0, n), n, shape: fm.test.shape };
  const out: Record<string, number> = {};
  for (const k of [1, 100]) {
    for (const withL of [false, true]) {
      const t0 = performance.now();
      await scoreBatch(model, rows, {
        rng: new Rng(3),
        k,
        batchSize: 500,
        maxRows: 50_000,
        complexity: withL ? undefined : null,
      });
      out[`k${k}${withL ? '+L' : ''}`] = n / ((performance.now() - t0) / 1000);
    }
  }
  const steps = REGRET_STEPS || 20;
  const t0 = performance.now();
  await scoreBatch(model, rows, { rng: new Rng(3), k: 1, batchSize: 500, complexity: null, regret: { steps } });
  out.regret = n / ((performance.now() - t0) / 1000);
  model.dispose();
  results.speed = { ...out, regretSteps: steps };
  console.log(
    `\n### Scoring throughput (mlp, binary, ${n} images, images/s)\n\n| k | scores without L(x) | with the context-model L(x) |\n|---|---|---|\n` +
      `| 1 | ${out.k1.toFixed(0)} | ${out['k1+L'].toFixed(0)} |\n| 100 | ${out.k100.toFixed(0)} | ${out['k100+L'].toFixed(0)} |\n` +
      `\nWith the likelihood regret (${steps} steps, k = 1, no L(x)): ${out.regret.toFixed(0)} images/s\n`,
  );
}

const info = await initBackend('auto', true);
results.backend = info;
console.log(`backend ${info.backend}; models in ${DIR}`);
mkdirSync(DIR, { recursive: true });
if (ONLY.includes('pairs')) await pairs();
if (ONLY.includes('coders')) await coders();
if (ONLY.includes('oneclass')) await oneClass();
if (ONLY.includes('speed')) await speed();
mkdirSync('bench/out', { recursive: true });
writeFileSync('bench/out/ood.json', JSON.stringify(results, null, 2) + '\n');
