// Data larger than memory (issue 16): a generated CSV and a folder of PNG files train one epoch and are encoded
// and scored through the vaekit CLI, as a user would, with the peak resident memory of each command measured
// (VmHWM from /proc, polled); and steps/s of the trainer on Fashion-MNIST held as float32 in memory vs read lazily
// from its IDX file on disk (and vs uint8 pixels in memory), in the same process, alternated (the order rotated
// each round; the ratios are medians of each round's own), with the CPU time of the data side alone (the batches
// read as the trainer reads them) and the load average before and after.
//
//   node --import tsx bench/data.ts [--csv-mb 2048] [--png-files 100000] [--batch 512] [--fm-steps 300] [--fm-rounds 5]
//     [--dir /tmp/data/bench]
//     [--parts csv,png,fm]   (csv: the generated CSV; png: the PNG folder; fm: the Fashion-MNIST steps/s)
//
// Everything generated goes under --dir and is deleted at the end.
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import { initBackend } from '../src/backend/index.js';
import { loadDataset, prefetchBatches } from '../src/data/dataset.js';
import { loadFashionMnist } from '../src/data/fashion-mnist.js';
import { pixelSplit } from '../src/data/pixels.js';
import { applyProtocol } from '../src/data/protocol.js';
import type { Dataset, Split } from '../src/data/types.js';
import { createModel, type VaeConfig } from '../src/models/index.js';
import { elbo } from '../src/objectives/elbo.js';
import { Rng } from '../src/rng.js';
import { train, type Objective } from '../src/train/trainer.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const arg = (k: string, d: string) => {
  const i = process.argv.indexOf(`--${k}`);
  return i >= 0 ? process.argv[i + 1] : d;
};
const csvMb = Number(arg('csv-mb', '2048'));
const pngFiles = Number(arg('png-files', '100000'));
const batch = arg('batch', '512');
const fmSteps = Number(arg('fm-steps', '300'));
const fmRounds = Number(arg('fm-rounds', '5'));
const dir = arg('dir', '/tmp/data/bench');
const parts = arg('parts', 'csv,png,fm').split(',');
const quiet = ['--progress', 'none'];
const common = ['--epochs', '1', '--batch-size', batch, '--no-eval', '--report-k', '0', ...quiet];
const secMb = (r: { seconds: number; peakMb: number }) => `${r.seconds.toFixed(0)} | ${r.peakMb.toFixed(0)}`;
/** A table row, also printed as the command ends with the last lines the command printed (its step count). */
const rowOf = (rows: string[], r: string, tail: string) => {
  rows.push(r);
  console.error(`${r}    [${tail}]`);
};

/** Runs `vaekit ARGS`; its wall time and peak resident set (VmHWM, polled every 50 ms). */
function vaekit(args: string[]): Promise<{ seconds: number; peakMb: number; tail: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/vaekit.js'), ...args], { cwd: ROOT });
    let out = '';
    child.stdout.on('data', (b) => (out += b));
    child.stderr.on('data', (b) => (out += b));
    let peak = 0;
    const poll = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) peak = Math.max(peak, Number(m[1]) / 1024);
      } catch {
        /* exited */
      }
    }, 50);
    child.on('close', (code) => {
      clearInterval(poll);
      const tail = out.trim().split('\n').slice(-2).join(' | ');
      if (code !== 0) reject(new Error(`vaekit ${args.join(' ')} exited ${code}: ${tail}`));
      else resolve({ seconds: (performance.now() - t0) / 1000, peakMb: peak, tail });
    });
  });
}

function writeCsv(file: string, mb: number, d: number): number {
  const fd = openSync(file, 'w');
  writeSync(fd, Array.from({ length: d }, (_, j) => `c${j}`).join(',') + '\n');
  let bytes = 0;
  let n = 0;
  let s = 12345;
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) * 4 - 2;
  while (bytes < mb * 2 ** 20) {
    let block = '';
    for (let i = 0; i < 4096; i++, n++) {
      const z = rnd();
      block += Array.from({ length: d }, (_, j) => (z * (j % 4) + rnd()).toFixed(4)).join(',') + '\n';
    }
    bytes += writeSync(fd, block);
  }
  closeSync(fd);
  return n;
}

function writePngs(folder: string, n: number): void {
  mkdirSync(folder, { recursive: true });
  for (let i = 0; i < n; i++) {
    const p = new PNG({ width: 28, height: 28 });
    const cx = 6 + (i % 16);
    const cy = 6 + ((i >> 4) % 16);
    for (let y = 0; y < 28; y++)
      for (let x = 0; x < 28; x++) {
        const v = (x - cx) ** 2 + (y - cy) ** 2 < 25 ? 230 : 20;
        p.data.set([v, v, v, 255], 4 * (y * 28 + x));
      }
    writeFileSync(path.join(folder, `img${String(i).padStart(6, '0')}.png`), PNG.sync.write(p));
  }
}

type Rate = { wall: number; cpu: number };
type Splits<T> = { mem: T; lazy: T; bytes: T };
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const load = () => loadavg()[0].toFixed(1);

/**
 * Steps/s of the trainer on each split, and the CPU time of the data side alone (one epoch of 128-row batches
 * through prefetchBatches, as the trainer reads them), in rounds that alternate the splits, the order rotated
 * each round. The ratios to float32 in memory are the medians of each round's own ratios.
 */
async function stepsPerSecond(): Promise<{ rate: Splits<Rate>; ratio: Splits<Rate>; readMs: Splits<number> }> {
  await initBackend('auto', true);
  const fm = await loadFashionMnist({ download: false });
  const shape = [28, 28, 1];
  const mem: Split = { x: applyProtocol('binary', fm.train.pixels), n: fm.train.n, shape, y: fm.train.labels };
  const bytes = pixelSplit(fm.train, 'binary'); // uint8 pixels in memory
  const lazy = (await loadDataset({ name: 'fashion-mnist', protocol: 'binary', download: false })).train; // from disk
  if (!lazy.source) throw new Error('fashion-mnist did not load as a lazy split');
  const config: VaeConfig = {
    kind: 'vae',
    inputShape: shape,
    latentDim: 16,
    network: { type: 'mlp', hidden: [256] },
    likelihood: 'bernoulli',
  };
  const objective: Objective = (m, x, c) => elbo(m, x, { beta: c.beta, rng: c.rng });
  const run = async (split: Split): Promise<Rate> => {
    const data: Dataset = { name: 'fashion-mnist', train: split, test: split, shape, protocol: 'binary' };
    const model = createModel(config, new Rng(0));
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    await train(model, data, objective, {
      epochs: 1,
      maxSteps: fmSteps,
      batchSize: 128,
      seed: 1,
      optimizer: { kind: 'adam', lr: 1e-3 },
      beta: 1,
      progress: 'none',
      dataInfo: { dataset: 'fashion-mnist', protocol: 'binary', shape },
      log: () => {},
    });
    model.dispose();
    const cpu = process.cpuUsage(c0);
    return { wall: fmSteps / ((performance.now() - t0) / 1000), cpu: fmSteps / ((cpu.user + cpu.system) / 1e6) };
  };
  let sink = 0;
  const readEpoch = async (split: Split, epoch: number): Promise<number> => {
    const c0 = process.cpuUsage();
    let k = 0;
    for await (const b of prefetchBatches(split, { batchSize: 128, seed: 1, epoch })) {
      sink += b.x[k % b.x.length];
      k++;
    }
    const cpu = process.cpuUsage(c0);
    return (cpu.user + cpu.system) / 1000 / k;
  };
  const splits: Splits<Split> = { mem, lazy, bytes };
  const names = Object.keys(splits) as (keyof Splits<Split>)[];
  await run(mem); // warm-up
  for (const k of names) await readEpoch(splits[k], 1000); // warm-up (the lazy split's first epoch fills its cache)
  const got = { mem: [] as Rate[], lazy: [] as Rate[], bytes: [] as Rate[] };
  const reads = { mem: [] as number[], lazy: [] as number[], bytes: [] as number[] };
  for (let r = 0; r < fmRounds; r++)
    for (let i = 0; i < names.length; i++) {
      const k = names[(r + i) % names.length]; // the order rotates each round
      got[k].push(await run(splits[k]));
      reads[k].push(await readEpoch(splits[k], r));
    }
  if (!Number.isFinite(sink)) throw new Error('the batches held a non-finite value');
  const of = (k: keyof Splits<Split>, f: (g: Rate, r: number) => number) => median(got[k].map(f));
  const rate = (k: keyof Splits<Split>) => ({ wall: of(k, (g) => g.wall), cpu: of(k, (g) => g.cpu) });
  const ratio = (k: keyof Splits<Split>) => ({
    wall: of(k, (g, r) => g.wall / got.mem[r].wall),
    cpu: of(k, (g, r) => g.cpu / got.mem[r].cpu),
  });
  return {
    rate: { mem: rate('mem'), lazy: rate('lazy'), bytes: rate('bytes') },
    ratio: { mem: ratio('mem'), lazy: ratio('lazy'), bytes: ratio('bytes') },
    readMs: { mem: median(reads.mem), lazy: median(reads.lazy), bytes: median(reads.bytes) },
  };
}

rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
try {
  const rows: string[] = [];
  if (parts.includes('csv')) await csvPart(rows);
  if (parts.includes('png')) await pngPart(rows);
  if (rows.length) console.log('| data | command | seconds | peak RSS (MB) |\n|---|---|---:|---:|\n' + rows.join('\n'));
  if (parts.includes('fm')) {
    const before = load();
    const t0 = new Date().toISOString().slice(11, 16);
    const { rate, ratio, readMs } = await stepsPerSecond();
    const line = (what: string, k: keyof Splits<Rate>) =>
      `| ${what} | ${rate[k].wall.toFixed(1)} | ${ratio[k].wall.toFixed(3)} | ${rate[k].cpu.toFixed(1)} | ` +
      `${ratio[k].cpu.toFixed(3)} | ${readMs[k].toFixed(3)} |`;
    console.log(
      `\nFashion-MNIST, MLP VAE (256 hidden, 16 latent), batch 128, ${fmSteps} steps a run, median of ${fmRounds} rounds ` +
        `(order rotated each round; × in-memory: the median of each round's ratio), ${t0}–` +
        `${new Date().toISOString().slice(11, 16)} UTC, load average ${before} → ${load()} on ${availableParallelism()} cores:\n\n` +
        `| train split | steps/s (wall) | × in-memory | steps per CPU-second | × in-memory | data side, CPU ms a batch |\n` +
        `|---|---:|---:|---:|---:|---:|\n` +
        [
          line('float32 in memory', 'mem'),
          line('lazy, IDX file on disk', 'lazy'),
          line('uint8 pixels in memory', 'bytes'),
        ].join('\n'),
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

/** train one epoch, encode the test split and score through the CLI: a table row each, with `data` naming it. */
async function trainEncodeScore(
  rows: string[],
  dataset: string,
  name: string,
  labels: { data: string; encode: string; score: string },
): Promise<void> {
  const model = path.join(dir, `${name}-run/model`);
  const tr = await vaekit(['train', '--dataset', dataset, ...common, '--out', path.join(dir, `${name}-run`)]);
  const en = await vaekit(['encode', model, '--split', 'test', '--out', path.join(dir, `z-${name}.csv`)]);
  rowOf(rows, `| ${labels.data} | train 1 epoch | ${secMb(tr)} |`, tr.tail);
  rowOf(rows, `| | ${labels.encode} | ${secMb(en)} |`, en.tail);
  const sc = await vaekit(['score', model, '--out', path.join(dir, `s-${name}.csv`), ...quiet]);
  rowOf(rows, `| | ${labels.score} | ${secMb(sc)} |`, sc.tail);
}

/** The generated CSV through train, encode and score. */
async function csvPart(rows: string[]): Promise<void> {
  const csv = path.join(dir, 'big.csv');
  const t0 = performance.now();
  const nCsv = writeCsv(csv, csvMb, 32);
  const csvGb = statSync(csv).size / 2 ** 30;
  console.error(
    `generated ${csv}: ${nCsv} rows × 32, ${csvGb.toFixed(2)} GiB in ${((performance.now() - t0) / 1000).toFixed(0)} s`,
  );
  await trainEncodeScore(rows, `csv:${csv}`, 'csv', {
    data: `CSV ${csvGb.toFixed(2)} GiB, ${nCsv} rows × 32`,
    encode: `encode the test split (${Math.round(nCsv / 10)} rows)`,
    score: `score the whole file (${nCsv} rows, streamed)`,
  });
  rmSync(csv);
}

/** The generated PNG folder through train, encode and score. */
async function pngPart(rows: string[]): Promise<void> {
  const folder = path.join(dir, 'pngs');
  const t0 = performance.now();
  writePngs(folder, pngFiles);
  console.error(`generated ${pngFiles} PNG files 28×28 in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  await trainEncodeScore(rows, `images:${folder}`, 'png', {
    data: `PNG folder, ${pngFiles} files 28×28`,
    encode: `encode the test split (${Math.round(pngFiles / 10)} images)`,
    score: `score the test split (${Math.round(pngFiles / 10)} images)`,
  });
}
