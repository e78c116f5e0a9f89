// Out-of-distribution detection (issue 13): Fashion-MNIST (in: trained on its train split, scored on its test
// split) against MNIST test digits (out), binary and continuous protocols, for the mlp, conv and hierarchical
// VAE, every score of src/tasks/anomaly.ts (raw −ELBO and NLL included); one-class Fashion-MNIST (the mlp trained
// on one class's training images, the whole test split scored, that class normal); scoring throughput at
// k = 1 and k = 100. Prints Markdown tables and writes bench/out/ood.json.
//
//   node --import tsx bench/ood.ts [--dir bench/out/ood] [--k 10] [--only pairs,oneclass,speed]
//        [--models mlp-binary,conv-binary,...] [--oneclass-epochs 10] [--oneclass-protocol binary]
//
// Models are read from DIR/<model>-<protocol>/model and trained with `vaekit train` when missing (the commands
// are printed): mlp and hvae 10 epochs, conv 5 (binary) and 1 (continuous) — what a shared 2-core machine does
// in an afternoon; continuous models with a learned σ per pixel (--sigma learned), since the default σ = 1
// Gaussian leaves p(x|z) nearly flat (its KL collapses to ~5 nats) and says little about likelihood at all.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { initBackend } from '../src/backend/index.js';
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
const ONLY = flag('only', 'pairs,oneclass,speed').split(',');
const MODELS = flag(
  'models',
  'mlp-binary,mlp-continuous,conv-binary,conv-continuous,hvae-binary,hvae-continuous',
).split(',');
const OC_EPOCHS = Number(flag('oneclass-epochs', '10'));
const OC_PROTOCOL = flag('oneclass-protocol', 'binary');
const SCORES = ['negElbo', 'nll', 'corrected', 'llr'] as const;
const LABEL: Record<string, string> = { negElbo: '−ELBO', nll: 'NLL', corrected: 'NLL − L(x)', llr: 'HVAE LLR' };

const TRAIN: Record<string, string[]> = {
  mlp: ['--model', 'mlp', '--epochs', '10'],
  hvae: ['--model', 'hvae', '--epochs', '10'],
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
    const opts = { rng: new Rng(1), k: K, batchSize: 500, maxRows: 50_000 };
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
  const { model: ref } = await loadModel(ensureModel(`mlp-${OC_PROTOCOL}`));
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
    `\n### One-class Fashion-MNIST (${OC_PROTOCOL}, mlp, ${OC_EPOCHS} epochs per class), AUROC, k = ${K}\n\n${lines.join('\n')}\n`,
  );
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
  model.dispose();
  results.speed = out;
  console.log(
    `\n### Scoring throughput (mlp, binary, ${n} images, images/s)\n\n| k | scores without L(x) | with the context-model L(x) |\n|---|---|---|\n` +
      `| 1 | ${out.k1.toFixed(0)} | ${out['k1+L'].toFixed(0)} |\n| 100 | ${out.k100.toFixed(0)} | ${out['k100+L'].toFixed(0)} |\n`,
  );
}

const info = await initBackend('auto', true);
results.backend = info;
console.log(`backend ${info.backend}; models in ${DIR}`);
mkdirSync(DIR, { recursive: true });
if (ONLY.includes('pairs')) await pairs();
if (ONLY.includes('oneclass')) await oneClass();
if (ONLY.includes('speed')) await speed();
mkdirSync('bench/out', { recursive: true });
writeFileSync('bench/out/ood.json', JSON.stringify(results, null, 2) + '\n');
