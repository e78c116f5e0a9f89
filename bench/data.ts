// Data larger than memory (issue 16): a generated CSV and a folder of PNG files train one epoch and are encoded
// and scored through the vaekit CLI, as a user would, with the peak resident memory of each command measured
// (VmHWM from /proc, polled); and steps/s of the trainer on Fashion-MNIST held as float32 in memory vs read lazily
// from its IDX file on disk (and vs uint8 pixels in memory), in the same process, alternated.
//
//   node --import tsx bench/data.ts [--csv-mb 2048] [--png-files 100000] [--batch 512] [--fm-steps 300] [--fm-rounds 5]
//     [--dir /tmp/data/bench]
//     [--parts csv,png,fm]   (csv: the generated CSV; png: the PNG folder; fm: the Fashion-MNIST steps/s)
//
// Everything generated goes under --dir and is deleted at the end.
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import { initBackend } from '../src/backend/index.js';
import { loadDataset } from '../src/data/dataset.js';
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

async function stepsPerSecond(): Promise<{ mem: Rate; lazy: Rate; bytes: Rate }> {
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
  const run = async (split: Split) => {
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
  await run(mem); // warm-up
  const splits = { mem, lazy, bytes };
  const names = Object.keys(splits) as (keyof typeof splits)[];
  const got = Object.fromEntries(names.map((k) => [k, [] as { wall: number; cpu: number }[]])) as Record<
    keyof typeof splits,
    { wall: number; cpu: number }[]
  >;
  for (let r = 0; r < fmRounds; r++)
    for (let i = 0; i < names.length; i++) {
      const k = names[(r + i) % names.length]; // the order rotates each round
      got[k].push(await run(splits[k]));
    }
  const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const of = (k: keyof typeof splits) => ({
    wall: median(got[k].map((g) => g.wall)),
    cpu: median(got[k].map((g) => g.cpu)),
  });
  return { mem: of('mem'), lazy: of('lazy'), bytes: of('bytes') };
}

rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
try {
  const rows: string[] = [];
  if (parts.includes('csv')) await csvPart(rows);
  if (parts.includes('png')) await pngPart(rows);
  if (rows.length) console.log('| data | command | seconds | peak RSS (MB) |\n|---|---|---:|---:|\n' + rows.join('\n'));
  if (parts.includes('fm')) {
    const sps = await stepsPerSecond();
    const line = (what: string, r: Rate) =>
      `| ${what} | ${r.wall.toFixed(1)} | ${(r.wall / sps.mem.wall).toFixed(3)} | ${r.cpu.toFixed(1)} | ${(r.cpu / sps.mem.cpu).toFixed(3)} |`;
    console.log(
      `\nFashion-MNIST, MLP VAE (256 hidden, 16 latent), batch 128, ${fmSteps} steps a run, median of ${fmRounds} rounds ` +
        `(order rotated each round):\n\n| train split | steps/s (wall) | × in-memory | steps per CPU-second | × in-memory |\n` +
        `|---|---:|---:|---:|---:|\n` +
        [
          line('float32 in memory', sps.mem),
          line('lazy, IDX file on disk', sps.lazy),
          line('uint8 pixels in memory', sps.bytes),
        ].join('\n'),
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
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
  const trC = await vaekit(['train', '--dataset', `csv:${csv}`, ...common, '--out', path.join(dir, 'csv-run')]);
  const enC = await vaekit([
    'encode',
    path.join(dir, 'csv-run/model'),
    '--split',
    'test',
    '--out',
    path.join(dir, 'z.csv'),
  ]);
  rowOf(rows, `| CSV ${csvGb.toFixed(2)} GiB, ${nCsv} rows × 32 | train 1 epoch | ${secMb(trC)} |`, trC.tail);
  rowOf(rows, `| | encode the test split (${Math.round(nCsv / 10)} rows) | ${secMb(enC)} |`, enC.tail);
  const scC = await vaekit(['score', path.join(dir, 'csv-run/model'), '--out', path.join(dir, 's.csv'), ...quiet]);
  rowOf(rows, `| | score the whole file (${nCsv} rows, streamed) | ${secMb(scC)} |`, scC.tail);
  rmSync(csv);
}

/** The generated PNG folder through train, encode and score. */
async function pngPart(rows: string[]): Promise<void> {
  const folder = path.join(dir, 'pngs');
  const t0 = performance.now();
  writePngs(folder, pngFiles);
  console.error(`generated ${pngFiles} PNG files 28×28 in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  const trP = await vaekit(['train', '--dataset', `images:${folder}`, ...common, '--out', path.join(dir, 'png-run')]);
  const enP = await vaekit([
    'encode',
    path.join(dir, 'png-run/model'),
    '--split',
    'test',
    '--out',
    path.join(dir, 'zp.csv'),
  ]);
  rowOf(rows, `| PNG folder, ${pngFiles} files 28×28 | train 1 epoch | ${secMb(trP)} |`, trP.tail);
  rowOf(rows, `| | encode the test split (${Math.round(pngFiles / 10)} images) | ${secMb(enP)} |`, enP.tail);
  const scP = await vaekit(['score', path.join(dir, 'png-run/model'), '--out', path.join(dir, 'sp.csv'), ...quiet]);
  rowOf(rows, `| | score the test split (${Math.round(pngFiles / 10)} images) | ${secMb(scP)} |`, scP.tail);
}
