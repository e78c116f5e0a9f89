// The `vaekit` command. It parses flags, loads data and models, and calls the library; it does no math.
import { Command, CommanderError, Option } from 'commander';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { initBackend, type BackendChoice } from '../backend/index.js';
import { loadDataset, parseDatasetName, take, type Dataset, type DatasetSpec, type Split } from '../data/dataset.js';
import { evaluateElbo, importanceSampledNll } from '../eval/likelihood.js';
import { writeFileAtomic } from '../io/atomic.js';
import { loadModel, type DataInfo, type ModelMeta } from '../io/model.js';
import { writePairs, writeRows } from '../io/outputs.js';
import { writeRunReport } from '../io/report.js';
import { createModel, type LatentVariableModel, type VaeConfig } from '../models/index.js';
import { ACTIVATIONS, type Activation } from '../nn/mlp.js';
import { elbo } from '../objectives/elbo.js';
import { iwae } from '../objectives/iwae.js';
import { Rng } from '../rng.js';
import { encode, generate, interpolate, reconstruct } from '../tasks/generate.js';
import { OPTIMIZERS, type OptimizerKind } from '../train/optimizers.js';
import { train, type Objective } from '../train/trainer.js';
import { int, intList, nonNegInt, nonNegNum, oneOf, posInt, posNum } from './options.js';

const BACKENDS = ['auto', 'node', 'native', 'wasm', 'cpu'] as const;

/** Canonical models of PROTOCOL.md. */
const PRESETS: Record<string, { hidden: number[]; latent: number }> = {
  mlp: { hidden: [400], latent: 20 },
};

function dataOptions(cmd: Command, withDefault: boolean): Command {
  return cmd
    .option('--dataset <name>', 'fashion-mnist | mnist | csv:PATH | images:DIR' + (withDefault ? '' : ' (default: the one the model was trained on)'), withDefault ? 'mnist' : undefined)
    .option('--protocol <name>', 'images: binary | continuous; csv: standardize | minmax | none (default: binary for fashion-mnist/mnist)')
    .option('--data-dir <dir>', 'fashion-mnist: directory holding the four IDX files')
    .option('--label-column <name>', 'csv: the label column')
    .option('--limit <n>', 'use only the first N training examples (and N/6 test examples)', posInt('--limit'));
}

function backendOption(cmd: Command): Command {
  return cmd.addOption(new Option('--backend <name>', 'compute backend').choices(BACKENDS as unknown as string[]).default('auto'));
}

interface DataFlags {
  dataset?: string;
  protocol?: string;
  dataDir?: string;
  labelColumn?: string;
  limit?: number;
}

async function loadData(f: DataFlags, meta?: ModelMeta): Promise<Dataset> {
  const name = f.dataset ?? meta?.data.dataset ?? 'mnist';
  const { name: kind, path: p } = parseDatasetName(name);
  let protocol = f.protocol ?? (meta && (f.dataset === undefined || f.dataset === meta.data.dataset) ? meta.data.protocol : undefined);
  if (protocol === undefined && (kind === 'fashion-mnist' || kind === 'mnist')) protocol = 'binary';
  const spec: DatasetSpec = { name: kind, path: p, protocol, dataDir: f.dataDir, labelColumn: f.labelColumn, limit: f.limit };
  if (kind === 'csv' && protocol && ['standardize', 'minmax', 'none'].includes(protocol)) spec.normalize = protocol as DatasetSpec['normalize'];
  if (kind === 'csv' && meta?.data.normalizer) spec.normalizer = meta.data.normalizer as DatasetSpec['normalizer'];
  return loadDataset(spec);
}

function dataInfo(d: Dataset): DataInfo {
  return { dataset: d.name, protocol: d.protocol, shape: d.shape, numClasses: d.numClasses, classNames: d.classNames, normalizer: d.normalizer };
}

function checkShape(model: LatentVariableModel, d: Dataset): void {
  const a = model.config.inputShape.join('×');
  const b = d.shape.join('×');
  if (a !== b) throw new Error(`the model takes ${a} inputs but dataset ${d.name} has ${b} examples`);
}

function out(json: boolean, obj: Record<string, unknown>, text: string): void {
  process.stdout.write(json ? JSON.stringify(obj) + '\n' : text + '\n');
}

function pickSplit(d: Dataset, which: string): Split {
  if (which !== 'train' && which !== 'test') throw new Error(`--split must be train or test, got "${which}"`);
  return which === 'train' ? d.train : d.test;
}

function rowsAt(split: Split, idx: number[]): Float32Array {
  const D = split.x.length / split.n;
  const outRows = new Float32Array(idx.length * D);
  idx.forEach((i, k) => {
    if (!Number.isInteger(i) || i < 0 || i >= split.n) throw new Error(`example index ${i} is out of range (the split has ${split.n} examples)`);
    outRows.set(split.x.subarray(i * D, (i + 1) * D), k * D);
  });
  return outRows;
}

export function buildProgram(): Command {
  const program = new Command('vaekit')
    .description('Train, evaluate and use Variational Autoencoders')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .exitOverride();

  // ---------------------------------------------------------------------------------------------- train
  const trainCmd = program.command('train').description('train a VAE (β-VAE with --beta) and write the model, samples and a report');
  dataOptions(trainCmd, true);
  backendOption(trainCmd);
  trainCmd
    .option('--preset <name>', 'canonical model of PROTOCOL.md: mlp', 'mlp')
    .option('--latent <d>', 'latent dimensions (default: the preset\'s)', posInt('--latent'))
    .option('--hidden <widths>', 'hidden widths of the MLP encoder, e.g. 512,256 (decoder mirrors; default: the preset\'s)', intList('--hidden'))
    .addOption(new Option('--activation <name>', 'hidden activation').choices(ACTIVATIONS).default('relu'))
    .addOption(new Option('--likelihood <name>', 'p(x|z): bernoulli for binary data, gaussian for continuous (default: by protocol)').choices(['bernoulli', 'gaussian']))
    .option('--sigma <s>', 'gaussian decoder: fixed σ (a number) or "learned"', '1')
    .option('--beta <b>', 'weight of the KL term (1: plain VAE, >1: β-VAE)', nonNegNum('--beta'), 1)
    .option('--kl-warmup <steps>', 'raise β linearly from 0 over this many steps', nonNegInt('--kl-warmup'), 0)
    .option('--samples <L>', 'samples of ε per example in the ELBO', posInt('--samples'), 1)
    .addOption(new Option('--objective <name>', 'training objective').choices(['elbo', 'iwae']).default('elbo'))
    .option('--k <k>', 'importance samples for --objective iwae', posInt('--k'), 5)
    .addOption(new Option('--optimizer <name>', 'optimizer').choices(OPTIMIZERS).default('adam'))
    .option('--lr <rate>', 'learning rate', posNum('--lr'), 1e-3)
    .option('--momentum <m>', 'sgd momentum', nonNegNum('--momentum'), 0)
    .option('--lr-schedule <s>', 'constant | cosine[:MIN] | step:EVERY:GAMMA', 'constant')
    .option('--epochs <n>', 'epochs', posInt('--epochs'), 10)
    .option('--steps <n>', 'stop after this many steps in all', posInt('--steps'))
    .option('--batch-size <n>', 'minibatch size', posInt('--batch-size'), 128)
    .option('--seed <n>', 'seed of everything random (init, data order, ε)', int('--seed'), 0)
    .option('--out <dir>', 'run directory (metrics.jsonl, checkpoint/, model/, samples, report)', 'runs/vae')
    .option('--resume', 'continue the run in --out from its last checkpoint')
    .option('--checkpoint-every <steps>', 'also checkpoint every N steps inside an epoch', nonNegInt('--checkpoint-every'), 0)
    .addOption(new Option('--progress <mode>', 'progress display').choices(['auto', 'bar', 'lines', 'none']).default('auto'))
    .option('--no-eval', 'skip the test −ELBO after each epoch')
    .option('--report-k <k>', 'importance samples for the report\'s test NLL (0: skip)', nonNegInt('--report-k'), 100)
    .option('--json', 'print the final summary as JSON')
    .action(async (f) => {
      const info = await initBackend(f.backend as BackendChoice);
      const data = await loadData(f);
      const preset = PRESETS[f.preset];
      if (!preset) throw new Error(`unknown --preset "${f.preset}" (expected ${Object.keys(PRESETS).join(', ')})`);
      const binary = data.protocol === 'binary';
      const likelihood = f.likelihood ?? (binary ? 'bernoulli' : 'gaussian');
      const sigma = f.sigma === 'learned' ? 'learned' : posNum('--sigma')(f.sigma);
      const config: VaeConfig = {
        kind: 'vae',
        inputShape: data.shape,
        latentDim: f.latent ?? preset.latent,
        network: { type: 'mlp', hidden: f.hidden ?? preset.hidden, activation: f.activation as Activation },
        likelihood,
        ...(likelihood === 'gaussian' ? { sigma } : {}),
        beta: f.beta,
      };
      const rng = new Rng(f.seed);
      const model = createModel(config, rng.fork());
      const objective: Objective =
        f.objective === 'iwae' ? (m, x, c) => iwae(m, x, { k: f.k, rng: c.rng, y: c.y }) : (m, x, c) => elbo(m, x, { beta: c.beta, samples: f.samples, rng: c.rng, y: c.y });
      const di = dataInfo(data);
      process.stderr.write(
        `vaekit: ${data.name} (${data.protocol}, ${data.train.n} train / ${data.test.n} test, ${data.shape.join('×')}), ` +
          `${config.kind} ${config.network.type} [${config.network.hidden.join(',')}] z=${config.latentDim} ${likelihood}, β=${config.beta}; backend ${info.backend} (${info.detail})\n`,
      );
      const evalTest = f.eval !== false;
      const result = await train(model, data, objective, {
        epochs: f.epochs,
        maxSteps: f.steps,
        batchSize: f.batchSize,
        seed: f.seed,
        optimizer: { kind: f.optimizer as OptimizerKind, lr: f.lr, momentum: f.momentum },
        lrSchedule: f.lrSchedule,
        beta: f.beta,
        klWarmup: f.klWarmup,
        outDir: f.out,
        resume: !!f.resume,
        checkpointEvery: f.checkpointEvery,
        progress: f.progress,
        dataInfo: di,
        run: { objective: f.objective, samples: f.samples, backend: info.backend },
        evaluate: evalTest ? (m, epoch) => evaluateElbo(m, data.test, { rng: new Rng(f.seed + 7919 * epoch), beta: f.beta }) : undefined,
      });
      // Artefacts of the run: samples, reconstructions, report.
      const artefacts: Record<string, string> = {};
      const nShow = 64;
      artefacts.samples = await writeRows(path.join(f.out, data.shape.length === 3 ? 'samples.png' : 'samples.csv'), generate(model, nShow, new Rng(f.seed + 1)), nShow, data.shape, { cols: 8, normalizer: data.normalizer });
      const nRec = Math.min(32, data.test.n);
      const orig = rowsAt(data.test, Array.from({ length: nRec }, (_, i) => i));
      artefacts.reconstructions = await writePairs(
        path.join(f.out, data.shape.length === 3 ? 'reconstructions.png' : 'reconstructions.csv'),
        orig,
        reconstruct(model, orig, nRec),
        nRec,
        data.shape,
        { normalizer: data.normalizer },
      );
      const final: Record<string, number> = {};
      if (evalTest) Object.assign(final, evaluateElbo(model, data.test, { rng: new Rng(f.seed + 2), beta: 1 }));
      if (f.reportK > 0) {
        const nll = importanceSampledNll(model, data.test, { k: f.reportK, rng: new Rng(f.seed + 3) });
        Object.assign(final, { nll: nll.nll, nll_stderr: nll.stderr, nll_k: f.reportK, bits_per_dim: nll.bitsPerDim });
      }
      const report = await writeRunReport(f.out, { config, data: di, backend: info, metrics: result.metrics, final, artefacts, command: `vaekit ${process.argv.slice(2).join(' ')}` });
      model.dispose();
      out(
        !!f.json,
        { out: f.out, model: path.join(f.out, 'model'), final, epochs: result.state.epoch, steps: result.state.step, report },
        `done: ${result.state.epoch} epochs, ${result.state.step} steps; model in ${path.join(f.out, 'model')}; report ${report}` +
          (final.total !== undefined ? `\ntest −ELBO ${final.total.toFixed(2)} nats (rec ${final.rec.toFixed(2)}, KL ${final.kl.toFixed(2)})` : '') +
          (final.nll !== undefined ? `; NLL (k=${f.reportK}) ${final.nll.toFixed(2)} ± ${final.nll_stderr.toFixed(2)}` : ''),
      );
    });

  // ---------------------------------------------------------------------------------------------- sample
  backendOption(
    program
      .command('sample <model>')
      .description('generate new examples: z ~ p(z), x = decoder mean (PNG grid, or CSV for tabular data)')
      .option('-n, --n <n>', 'how many', posInt('--n'), 64)
      .option('--out <file>', 'output file (.png or .csv)', 'samples.png')
      .option('--seed <n>', 'seed', int('--seed'), 0)
      .option('--temperature <t>', 'scale of z (1: the prior)', posNum('--temperature'), 1)
      .option('--binarize', 'draw x ~ p(x|z) instead of its mean')
      .option('--json', 'print what was written as JSON'),
  ).action(async (dir, f) => {
    await initBackend(f.backend);
    const { model, meta } = await loadModel(dir);
    const rows = generate(model, f.n, new Rng(f.seed), { sampleX: !!f.binarize, temperature: f.temperature });
    const file = await writeRows(f.out, rows, f.n, meta.data.shape, { normalizer: meta.data.normalizer });
    model.dispose();
    out(!!f.json, { file, n: f.n }, `wrote ${f.n} samples to ${file}`);
  });

  // ---------------------------------------------------------------------------------------------- reconstruct
  const recCmd = program
    .command('reconstruct <model>')
    .description('originals beside their reconstructions E[x | z = μ(x)]')
    .option('-n, --n <n>', 'how many examples', posInt('--n'), 32)
    .option('--split <name>', 'train or test', 'test')
    .option('--start <i>', 'first example index', nonNegInt('--start'), 0)
    .option('--out <file>', 'output file (.png or .csv)', 'reconstructions.png')
    .option('--json', 'print what was written as JSON');
  dataOptions(recCmd, false);
  backendOption(recCmd).action(async (dir, f) => {
    await initBackend(f.backend);
    const { model, meta } = await loadModel(dir);
    const data = await loadData(f, meta);
    checkShape(model, data);
    const split = pickSplit(data, f.split);
    const n = Math.min(f.n, split.n - f.start);
    if (n < 1) throw new Error(`--start ${f.start} is past the end of the ${f.split} split (${split.n} examples)`);
    const x = rowsAt(split, Array.from({ length: n }, (_, i) => f.start + i));
    const file = await writePairs(f.out, x, reconstruct(model, x, n), n, data.shape, { normalizer: data.normalizer });
    model.dispose();
    out(!!f.json, { file, n }, `wrote ${n} originals and reconstructions to ${file}`);
  });

  // ---------------------------------------------------------------------------------------------- interpolate
  const interpCmd = program
    .command('interpolate <model>')
    .description('decode points on the latent path between two examples')
    .option('--from <i>', 'index of the first example', nonNegInt('--from'), 0)
    .option('--to <i>', 'index of the second example', nonNegInt('--to'), 1)
    .option('--steps <n>', 'points on the path, ends included', posInt('--steps'), 10)
    .addOption(new Option('--method <m>', 'path').choices(['linear', 'slerp']).default('linear'))
    .option('--split <name>', 'train or test', 'test')
    .option('--out <file>', 'output file (.png or .csv)', 'interpolation.png')
    .option('--json', 'print what was written as JSON');
  dataOptions(interpCmd, false);
  backendOption(interpCmd).action(async (dir, f) => {
    await initBackend(f.backend);
    const { model, meta } = await loadModel(dir);
    const data = await loadData(f, meta);
    checkShape(model, data);
    const split = pickSplit(data, f.split);
    const rows = interpolate(model, rowsAt(split, [f.from]), rowsAt(split, [f.to]), f.steps, f.method);
    const file = await writeRows(f.out, rows, f.steps, data.shape, { cols: f.steps, normalizer: data.normalizer });
    model.dispose();
    out(!!f.json, { file, steps: f.steps }, `wrote a ${f.steps}-step interpolation to ${file}`);
  });

  // ---------------------------------------------------------------------------------------------- encode
  const encCmd = program
    .command('encode <model>')
    .description('posterior means μ(x) (and log σ²) of a split, as CSV or JSON')
    .option('--split <name>', 'train or test', 'test')
    .option('--out <file>', 'output file (.csv or .json)', 'latents.csv')
    .option('--with-logvar', 'also write log σ²')
    .option('--json', 'print what was written as JSON');
  dataOptions(encCmd, false);
  backendOption(encCmd).action(async (dir, f) => {
    await initBackend(f.backend);
    const { model, meta } = await loadModel(dir);
    const data = await loadData(f, meta);
    checkShape(model, data);
    const split = pickSplit(data, f.split);
    const { mu, logVar, dim } = encodeAll(model, split);
    const cols = [...Array.from({ length: dim }, (_, i) => `mu${i}`), ...(f.withLogvar ? Array.from({ length: dim }, (_, i) => `logvar${i}`) : []), ...(split.y ? ['label'] : [])];
    let text: string;
    if (f.out.endsWith('.json')) {
      const rows = Array.from({ length: split.n }, (_, i) => ({
        mu: Array.from(mu.subarray(i * dim, (i + 1) * dim)),
        ...(f.withLogvar ? { logvar: Array.from(logVar.subarray(i * dim, (i + 1) * dim)) } : {}),
        ...(split.y ? { label: split.y[i] } : {}),
      }));
      text = JSON.stringify({ dim, n: split.n, rows }) + '\n';
    } else {
      const lines = [cols.join(',')];
      for (let i = 0; i < split.n; i++) {
        const r = Array.from(mu.subarray(i * dim, (i + 1) * dim), (v) => +v.toPrecision(7));
        if (f.withLogvar) r.push(...Array.from(logVar.subarray(i * dim, (i + 1) * dim), (v) => +v.toPrecision(7)));
        if (split.y) r.push(split.y[i]);
        lines.push(r.join(','));
      }
      text = lines.join('\n') + '\n';
    }
    await writeFileAtomic(f.out, text);
    model.dispose();
    out(!!f.json, { file: f.out, n: split.n, dim }, `wrote ${split.n} × ${dim} latent means to ${f.out}`);
  });

  // ---------------------------------------------------------------------------------------------- eval
  const evalCmd = program
    .command('eval <model>')
    .description('test −ELBO (one sample) and importance-sampled NLL with k samples (PROTOCOL.md)')
    .option('--k <k>', 'importance samples per example', posInt('--k'), 1000)
    .option('--split <name>', 'train or test', 'test')
    .option('--seed <n>', 'seed', int('--seed'), 0)
    .option('--out <file>', 'also write the report as JSON here')
    .option('--json', 'print the report as JSON');
  dataOptions(evalCmd, false);
  backendOption(evalCmd).action(async (dir, f) => {
    const info = await initBackend(f.backend);
    const { model, meta } = await loadModel(dir);
    const data = await loadData(f, meta);
    checkShape(model, data);
    const split = pickSplit(data, f.split);
    const t0 = performance.now();
    const e = evaluateElbo(model, split, { rng: new Rng(f.seed) });
    const elboSeconds = (performance.now() - t0) / 1000;
    const nll = importanceSampledNll(model, split, { k: f.k, rng: new Rng(f.seed + 1) });
    const report = {
      model: dir,
      dataset: data.name,
      protocol: data.protocol,
      split: f.split,
      n: split.n,
      backend: info.backend,
      elbo: e.total,
      rec: e.rec,
      kl: e.kl,
      elbo_seconds: elboSeconds,
      k: f.k,
      nll: nll.nll,
      nll_stderr: nll.stderr,
      bits_per_dim: nll.bitsPerDim,
      nll_seconds: nll.seconds,
    };
    if (f.out) await writeFileAtomic(f.out, JSON.stringify(report, null, 2) + '\n');
    model.dispose();
    out(
      !!f.json,
      report,
      [
        `${data.name} ${f.split} (${split.n} examples, ${data.protocol})`,
        `  −ELBO        ${e.total.toFixed(3)} nats  (reconstruction ${e.rec.toFixed(3)}, KL ${e.kl.toFixed(3)})`,
        `  NLL (k=${f.k})  ${nll.nll.toFixed(3)} ± ${nll.stderr.toFixed(3)} nats  (${nll.bitsPerDim.toFixed(4)} bits/dim, ${nll.seconds.toFixed(1)} s)`,
      ].join('\n'),
    );
  });

  // ---------------------------------------------------------------------------------------------- info
  backendOption(program.command('info').description('which compute backend, BLAS and threads are in use').option('--json', 'as JSON')).action(async (f) => {
    const info = await initBackend(f.backend, true);
    out(!!f.json, { ...info }, `backend: ${info.backend} (${info.detail})${info.warnings.length ? '\n' + info.warnings.join('\n') : ''}`);
  });

  return program;
}

function encodeAll(model: LatentVariableModel, split: Split): { mu: Float32Array; logVar: Float32Array; dim: number } {
  const bs = 1000;
  const parts: { mu: Float32Array; logVar: Float32Array }[] = [];
  let dim = 0;
  for (let s = 0; s < split.n; s += bs) {
    const t = take({ ...split, x: split.x.subarray(s * (split.x.length / split.n)), n: split.n - s, y: undefined }, Math.min(bs, split.n - s));
    const r = encode(model, t.x, t.n);
    dim = r.dim;
    parts.push(r);
  }
  const mu = new Float32Array(split.n * dim);
  const logVar = new Float32Array(split.n * dim);
  let o = 0;
  for (const p of parts) {
    mu.set(p.mu, o);
    logVar.set(p.logVar, o);
    o += p.mu.length;
  }
  return { mu, logVar, dim };
}

/** Runs the CLI; errors print one clear line and exit non-zero. */
export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode;
      return;
    }
    process.stderr.write(`vaekit: error: ${(e as Error).message}\n`);
    if (process.env.VAEKIT_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
    process.exitCode = 1;
  }
}
