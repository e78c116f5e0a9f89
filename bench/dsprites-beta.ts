// The β-VAE study on procedural dSprites (issue 5): β ∈ {1, 4, 16} × seeds, conv networks, all five
// disentanglement metrics with their spread across seeds.
//
//   node --import tsx bench/dsprites-beta.ts [--betas 1,4,16] [--seeds 0,1,2] [--steps 2000]
//        [--metric-scale 0.1] [--dci-train 10000 --dci-test 5000] [--lr 5e-4] [--kl-warmup 0] [--out bench/out/dsprites-beta] [--eval-only]
//
// Each model is trained by the vaekit CLI, as a user would (`vaekit train --dataset dsprites --network conv
// --channels 32,32,64,64 --hidden 256 --latent 10 --beta B --seed S --steps N --batch-size 64`: the
// architecture of disentanglement_lib's conv encoder/decoder, Bernoulli decoder), into OUT/b<B>-s<S>/; a run
// whose model/ exists is not trained again, so the study resumes where it stopped, and a run that stopped short
// of --steps is extended with `vaekit train --resume` (its weights, Adam state and data order go on from the
// checkpoint: a 5,000-step study becomes a 10,000-step one by running again with --steps 10000). The metrics then run
// in-process on each model's posterior mean, over freshly rendered dSprites images
// (src/eval/disentanglement.ts, disentanglement_lib's definitions). MIG and SAP use
// disentanglement_lib's default sample sizes (DCI too unless --dci-train/--dci-test: its gradient-boosted
// trees, 100 stages × one tree per factor class, dominate the evaluation time); BetaVAE and FactorVAE use them times --metric-scale (1 = the
// defaults: 15,000 votes of 64 images each, about 2 million encoder passes per model), stated in the table.
// Writes OUT/<run>/disentanglement.json, OUT/results.json and OUT/results.md (the table), and prints the table.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { initBackend } from '../src/backend/index.js';
import { dspritesGroundTruth } from '../src/data/dsprites.js';
import {
  BETA_VAE_DEFAULTS,
  evaluateDisentanglement,
  FACTOR_VAE_DEFAULTS,
  representationFromModel,
  type DisentanglementReport,
} from '../src/eval/disentanglement/index.js';
import { writeFileAtomic } from '../src/util/atomic.js';
import { loadModel } from '../src/io/model.js';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : def;
}
const nums = (s: string) => s.split(',').map(Number);
const betas = nums(arg('betas', '1,4,16'));
const seeds = nums(arg('seeds', '0,1,2'));
const steps = +arg('steps', '2000');
const lr = arg('lr', '5e-4');
const klWarmup = arg('kl-warmup', '0'); // steps over which β rises from 0 (vaekit train --kl-warmup), the same for every β
const scale = +arg('metric-scale', '0.1');
const out = arg('out', 'bench/out/dsprites-beta');
const evalOnly = process.argv.includes('--eval-only');
for (const v of [...betas, ...seeds, steps, scale, +klWarmup])
  if (!Number.isFinite(v)) throw new Error(`bad numeric option in ${process.argv.slice(2).join(' ')}`);
mkdirSync(out, { recursive: true });

const trainArgs = (beta: number, seed: number, dir: string) => [
  'bin/vaekit.js',
  'train',
  '--dataset',
  'dsprites',
  '--network',
  'conv',
  '--channels',
  '32,32,64,64',
  '--hidden',
  '256',
  '--latent',
  '10',
  '--beta',
  String(beta),
  '--seed',
  String(seed),
  '--steps',
  String(steps),
  '--epochs',
  String(Math.ceil(steps / 11520)),
  '--batch-size',
  '64', // 11,520 steps of 64 make an epoch of all 737,280 images (rendered on demand): --steps decides
  '--lr',
  lr,
  '--kl-warmup',
  klWarmup,
  '--out',
  dir,
  '--progress',
  'lines',
  '--no-eval',
  '--report-k',
  '0',
];

const info = await initBackend();
console.error(`backend ${info.backend}; betas ${betas}; seeds ${seeds}; ${steps} steps; metric scale ${scale}`);
const scaled = (n: number) => Math.max(1, Math.round(n * scale));
const dciTrain = +arg('dci-train', '10000');
const dciTest = +arg('dci-test', '5000');
const metricOpts = {
  dci: { numTrain: dciTrain, numTest: dciTest },
  betaVae: { numTrain: scaled(BETA_VAE_DEFAULTS.numTrain), numEval: scaled(BETA_VAE_DEFAULTS.numEval) },
  factorVae: { numTrain: scaled(FACTOR_VAE_DEFAULTS.numTrain), numEval: scaled(FACTOR_VAE_DEFAULTS.numEval) },
};

interface Row {
  beta: number;
  seed: number;
  steps?: number;
  trainSeconds?: number;
  finalLoss?: Record<string, number>;
  summary: Record<string, number>;
  activeDims?: number;
  seconds: Record<string, number>;
}
// Steps of the run in DIR; undefined when there is no finished model. The model records the steps it was saved
// after; the checkpoint may be further on (an extension stopped between epochs: --resume goes on from there).
function modelSteps(dir: string): number | undefined {
  const config = path.join(dir, 'model', 'config.json');
  return existsSync(config) ? JSON.parse(readFileSync(config, 'utf8')).training?.steps : undefined;
}
function trainedSteps(dir: string): number | undefined {
  const m = modelSteps(dir);
  const state = path.join(dir, 'checkpoint', 'state.json');
  return m !== undefined && existsSync(state) ? Math.max(m, JSON.parse(readFileSync(state, 'utf8')).step) : m;
}
const rows: Row[] = [];
for (const seed of seeds) {
  for (const beta of betas) {
    const dir = path.join(out, `b${beta}-s${seed}`);
    let trainSeconds: number | undefined = existsSync(path.join(dir, 'train-seconds.txt'))
      ? +readFileSync(path.join(dir, 'train-seconds.txt'), 'utf8')
      : undefined;
    const done = trainedSteps(dir);
    if (done === undefined || (done < steps && !evalOnly)) {
      if (evalOnly) {
        console.error(`${dir}: no model, skipped (--eval-only)`);
        continue;
      }
      // a finished run with fewer steps is extended: `vaekit train --resume` continues from its checkpoint (weights, Adam state, data order)
      // (all the flags again: checkpoints from before vaekit recorded a run's flags need them, and newer ones check them)
      const args = done === undefined ? trainArgs(beta, seed, dir) : [...trainArgs(beta, seed, dir), '--resume'];
      console.error(
        `${done === undefined ? 'train' : `extend (${done} → ${steps} steps)`} β=${beta} seed=${seed} → ${dir}`,
      );
      const t0 = performance.now();
      const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
      if (r.status !== 0) throw new Error(`training β=${beta} seed=${seed} failed (exit ${r.status})`);
      trainSeconds = (trainSeconds ?? 0) + (performance.now() - t0) / 1000;
      await writeFileAtomic(path.join(dir, 'train-seconds.txt'), `${trainSeconds}\n`);
    }
    const stepsTrained = modelSteps(dir); // the steps of the model the metrics score
    if (stepsTrained !== steps)
      console.error(
        `${dir}: the model was trained ${stepsTrained} steps, not ${steps}${evalOnly ? ' (--eval-only: evaluated as it is)' : ''}`,
      );
    const resFile = path.join(dir, 'disentanglement.json');
    let rep: DisentanglementReport & { metricOptions?: unknown; steps?: number };
    const cached = existsSync(resFile) ? JSON.parse(readFileSync(resFile, 'utf8')) : undefined; // reused when the same metrics ran on the same model
    if (
      cached &&
      JSON.stringify(cached.metricOptions) === JSON.stringify(metricOpts) &&
      cached.steps === stepsTrained
    ) {
      rep = cached;
    } else {
      const { model } = await loadModel(path.join(dir, 'model'));
      console.error(`metrics β=${beta} seed=${seed}`);
      rep = {
        ...(await evaluateDisentanglement(dspritesGroundTruth(), representationFromModel(model, { batchSize: 512 }), {
          seed: 0,
          ...metricOpts,
          log: (m) => console.error(`  ${m}`),
        })),
        metricOptions: metricOpts,
        steps: stepsTrained,
      };
      model.dispose();
      await writeFileAtomic(resFile, JSON.stringify(rep, null, 1));
    }
    const lines = readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const last = lines[lines.length - 1];
    rows.push({
      beta,
      seed,
      steps: stepsTrained,
      trainSeconds,
      finalLoss: last?.train ?? last,
      summary: rep.summary,
      activeDims: rep.factorVae?.numActiveDims,
      seconds: rep.seconds,
    });
    console.error(
      `  β=${beta} seed=${seed}: ${Object.entries(rep.summary)
        .map(([k, v]) => `${k} ${v.toFixed(3)}`)
        .join('  ')}`,
    );
  }
}

const keys = ['betaVae', 'factorVae', 'mig', 'dciDisentanglement', 'dciCompleteness', 'dciInformativeness', 'sap'];
const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
const sd = (a: number[]) =>
  a.length < 2 ? 0 : Math.sqrt(a.reduce((s, v) => s + (v - mean(a)) ** 2, 0) / (a.length - 1));
const fmt = (a: number[]) => `${mean(a).toFixed(3)} ± ${sd(a).toFixed(3)}`;
const by = (b: number) => rows.filter((r) => r.beta === b);
const L: string[] = [];
L.push(
  `dSprites β-VAE study: conv [32,32,64,64] 4×4/2, dense 256, z=10, Bernoulli; Adam ${lr}, batch 64, ${[...new Set(rows.map((r) => r.steps))].join(' / ')} steps${+klWarmup ? ` (KL warm-up over the first ${klWarmup})` : ''}; ${seeds.length} seeds (${seeds.join(', ')}); mean ± sd over seeds.`,
);
L.push(
  `Metrics (posterior means; sample sizes train / test): MIG 20 bins, 10,000 points and SAP 10,000 / 5,000 (disentanglement_lib's defaults); DCI ${dciTrain} / ${dciTest}${dciTrain === 10000 && dciTest === 5000 ? '' : ' (default 10,000 / 5,000)'}; BetaVAE and FactorVAE with ${metricOpts.betaVae.numTrain} / ${metricOpts.betaVae.numEval} and ${metricOpts.factorVae.numTrain} / ${metricOpts.factorVae.numEval} train / eval votes of 64 images (${scale}× the defaults).`,
  '',
);
L.push(`| β | runs | ${keys.join(' | ')} | active dims |`, `|---|---|${keys.map(() => '---').join('|')}|---|`);
for (const b of betas) {
  const rs = by(b);
  if (!rs.length) continue;
  L.push(
    `| ${b} | ${rs.length} | ${keys.map((k) => fmt(rs.map((r) => r.summary[k]))).join(' | ')} | ${fmt(rs.map((r) => r.activeDims ?? NaN))} |`,
  );
}
const base = by(1);
if (base.length) {
  L.push('');
  for (const b of betas.filter((v) => v > 1)) {
    const rs = by(b);
    if (!rs.length) continue;
    for (const k of ['mig', 'factorVae']) {
      const d = mean(rs.map((r) => r.summary[k])) - mean(base.map((r) => r.summary[k]));
      L.push(`- β=${b} vs β=1, ${k}: ${d >= 0 ? '+' : ''}${d.toFixed(3)} (${d > 0 ? 'better' : 'NOT better'})`);
    }
  }
}
const table = L.join('\n');
console.log(table);
await writeFileAtomic(path.join(out, 'results.md'), table + '\n');
await writeFileAtomic(
  path.join(out, 'results.json'),
  JSON.stringify(
    { betas, seeds, steps, lr, metricOptions: metricOpts, backend: info.backend, klWarmup: +klWarmup, rows },
    null,
    1,
  ),
);
