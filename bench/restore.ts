// Restoration with the learned prior against classical baselines (issue 15), per data set and setting:
// PSNR / SSIM over the first N test images (data range 1), restores per second, and for the vaekit methods the
// correlation of the per-pixel spread with the per-pixel error (missing pixels only for inpainting). Then the
// MIWAE check: the evaluation classifier's accuracy on images with 50% of pixels missing, imputed by each
// method vs filled with the training mean of each pixel.
//
//   node bin/vaekit.js train --dataset fashion-mnist --protocol continuous --sigma learned --epochs 30 --out /tmp/restore/fm2
//   node bin/vaekit.js train --dataset mnist --protocol continuous --sigma learned --epochs 150 --out /tmp/restore/mn2
//   node --import tsx bench/restore.ts --model fashion-mnist=/tmp/restore/fm2/model --model mnist=/tmp/restore/mn2/model --n 1000
//
// Options: --n N (default 1000), --steps S and --restarts R (MAP, default 150 and 4), --miwae D1,D2 (the data
// sets of the classifier check, default all), --only denoise,inpaint,superres,miwae,
// --data-dir DIR (Fashion-MNIST IDX files). Writes bench/out/restore.json and restore.md, and prints the table.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend } from '../src/backend/index.js';
import { allRows, chunks, loadDataset, take, type DatasetKind } from '../src/data/dataset.js';
import { classifierFor } from '../src/eval/classifier.js';
import { loadModel } from '../src/io/model.js';
import type { LatentVariableModel } from '../src/models/types.js';
import {
  bicubicUpsample,
  degrade,
  gaussianBlur,
  harmonicFill,
  medianFilter,
  nearestUpsample,
  pearson,
  quality,
  restoreImages,
  type Degradation,
  type Degraded,
  type RestoreMethod,
} from '../src/tasks/restore/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const flag = (name: string, def?: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const models = args.flatMap((a, i) => (args[i - 1] === '--model' ? [a.split('=') as [string, string]] : []));
if (models.length === 0) throw new Error('give --model DATASET=MODEL_DIR (one or more)');
const N = Number(flag('--n', '1000'));
const steps = Number(flag('--steps', '150'));
const restarts = Number(flag('--restarts', '4'));
const miwaeSets = flag('--miwae')?.split(',');
const only = (flag('--only', 'denoise,inpaint,superres,miwae') as string).split(',');
const dataDir = flag('--data-dir', '/usr/share/datasets/fashion-mnist');

interface Row {
  dataset: string;
  setting: string;
  method: string;
  kind: 'vaekit' | 'baseline';
  psnr: number;
  ssim: number;
  restoresPerSecond: number;
  spreadErrorCorrelation?: number;
  acceptance?: number;
}

const SETTINGS: [string, Degradation][] = [
  ['noise σ=0.1', { task: 'denoise', noise: 'gaussian', sigma: 0.1, seed: 1 }],
  ['noise σ=0.3', { task: 'denoise', noise: 'gaussian', sigma: 0.3, seed: 1 }],
  ['noise σ=0.5', { task: 'denoise', noise: 'gaussian', sigma: 0.5, seed: 1 }],
  ['50% missing', { task: 'inpaint', mask: { kind: 'random', fraction: 0.5, seed: 1 } }],
  ['80% missing', { task: 'inpaint', mask: { kind: 'random', fraction: 0.8, seed: 1 } }],
  ['14×14 centre', { task: 'inpaint', mask: { kind: 'center', size: 14 } }],
  ['bottom half', { task: 'inpaint', mask: { kind: 'bottom' } }],
  ['×2', { task: 'superres', factor: 2 }],
  ['×4', { task: 'superres', factor: 4 }],
];

function baselines(deg: Degraded): [string, () => Float32Array][] {
  const { n, shape, yShape } = deg;
  const d = deg.degradation;
  if (d.task === 'denoise')
    return [
      ['noisy input (clipped)', () => deg.display],
      ['median 3×3', () => medianFilter(deg.display, n, shape, 3)],
      ['Gaussian blur σ=1', () => gaussianBlur(deg.display, n, shape, 1)],
    ];
  if (d.task === 'superres')
    return [
      ['nearest', () => nearestUpsample(deg.y, n, yShape, d.factor)],
      ['bicubic', () => bicubicUpsample(deg.y, n, yShape, d.factor)],
    ];
  return [['harmonic fill', () => harmonicFill(deg.y, deg.mask!, n, shape)]];
}

function timed<T>(fn: () => T): [T, number] {
  const t0 = performance.now();
  const r = fn();
  return [r, (performance.now() - t0) / 1000];
}

await initBackend('auto', true);
const rows: Row[] = [];
const miwae: Record<string, unknown>[] = [];
for (const [name, dir] of models) {
  const { model } = (await loadModel(dir)) as { model: LatentVariableModel };
  const data = await loadDataset({ name: name as DatasetKind, protocol: 'continuous', dataDir });
  const test = take(data.test, Math.min(N, data.test.n));
  const n = test.n;
  const x = allRows(test);
  process.stderr.write(`${name}: ${n} test images, model ${dir}\n`);
  for (const [setting, d] of SETTINGS) {
    if (!only.includes(d.task)) continue;
    const deg = degrade(x, n, test.shape, d);
    for (const [method, fn] of baselines(deg)) {
      const [r, s] = timed(fn);
      const q = quality(r, x, n, deg.shape);
      rows.push({
        dataset: name,
        setting,
        method,
        kind: 'baseline',
        psnr: q.psnr,
        ssim: q.ssim,
        // the noisy input is no method: no speed
        restoresPerSecond: method.startsWith('noisy') ? NaN : n / s,
      });
    }
    const methods: RestoreMethod[] = d.task === 'inpaint' ? ['naive', 'map', 'gibbs', 'mwg'] : ['naive', 'map'];
    for (const method of methods) {
      const [r, s] = timed(() => restoreImages(model, deg, { method, steps, restarts }));
      const q = quality(r.x, x, n, deg.shape);
      const err = r.x.map((v, i) => Math.abs(v - x[i]));
      const rho = pearson(r.uncertainty, err, deg.mask ? (i) => deg.mask![i] === 0 : undefined);
      rows.push({
        dataset: name,
        setting,
        method,
        kind: 'vaekit',
        psnr: q.psnr,
        ssim: q.ssim,
        restoresPerSecond: n / s,
        spreadErrorCorrelation: rho,
        ...(r.acceptance !== undefined ? { acceptance: r.acceptance } : {}),
      });
      process.stderr.write(
        `  ${setting} ${method}: PSNR ${q.psnr.toFixed(2)} SSIM ${q.ssim.toFixed(3)} ρ ${rho.toFixed(3)} ${s.toFixed(1)} s\n`,
      );
    }
  }
  if (only.includes('miwae') && (!miwaeSets || miwaeSets.includes(name)) && data.train.y && test.y) {
    // 50% missing at random: accuracy of the evaluation classifier on clean, mean-filled and imputed images
    const { classifier } = await classifierFor(data, { log: (m) => process.stderr.write(`  classifier: ${m}\n`) });
    const D = x.length / n;
    const mean = new Float64Array(D);
    for (const c of chunks(data.train, 5000)) for (let i = 0; i < c.x.length; i++) mean[i % D] += c.x[i] / data.train.n;
    const deg = degrade(x, n, test.shape, { task: 'inpaint', mask: { kind: 'random', fraction: 0.5, seed: 2 } });
    const acc = (imgs: Float32Array) => {
      const { labels } = classifier.run(imgs, n);
      let ok = 0;
      for (let i = 0; i < n; i++) if (labels[i] === test.y![i]) ok++;
      return ok / n;
    };
    const meanFilled = deg.y.map((v, i) => (deg.mask![i] ? v : mean[i % D]));
    const entry: Record<string, unknown> = {
      dataset: name,
      n,
      clean: acc(x),
      'mean-filled': acc(meanFilled),
      'zero-filled': acc(deg.y),
      'harmonic fill': acc(harmonicFill(deg.y, deg.mask!, n, deg.shape)),
    };
    for (const method of ['naive', 'map', 'gibbs', 'mwg'] as const)
      entry[method] = acc(restoreImages(model, deg, { method, steps, restarts }).x);
    miwae.push(entry);
    process.stderr.write(`  MIWAE check: ${JSON.stringify(entry)}\n`);
    classifier.dispose();
  }
  model.dispose();
}

// the table: per dataset and setting, each method; the best vaekit PSNR minus the best baseline's
const f2 = (v: number) => v.toFixed(2);
const lines = [
  `Restoration, first ${N} test images (continuous protocol, data range 1), MAP ${steps} Adam steps × ${restarts} starts`,
  '',
  '| data set | setting | method | PSNR dB | SSIM | restores/s | ρ(spread, error) |',
  '|---|---|---|---:|---:|---:|---:|',
  ...rows.map(
    (r) =>
      `| ${r.dataset} | ${r.setting} | ${r.kind === 'vaekit' ? `**${r.method}**` : r.method} | ${f2(r.psnr)} | ${r.ssim.toFixed(3)} | ${Number.isFinite(r.restoresPerSecond) ? r.restoresPerSecond.toFixed(0) : '–'} | ${r.spreadErrorCorrelation !== undefined ? r.spreadErrorCorrelation.toFixed(3) : '–'} |`,
  ),
  '',
  '| data set | setting | best vaekit (PSNR) | best baseline (PSNR) | margin dB |',
  '|---|---|---|---|---:|',
];
for (const [name] of models)
  for (const [setting] of SETTINGS) {
    const rs = rows.filter((r) => r.dataset === name && r.setting === setting);
    if (rs.length === 0) continue;
    const best = (k: Row['kind']) =>
      rs.filter((r) => r.kind === k && !r.method.startsWith('noisy')).sort((a, b) => b.psnr - a.psnr)[0];
    const v = best('vaekit'),
      b = best('baseline');
    lines.push(
      `| ${name} | ${setting} | ${v.method} ${f2(v.psnr)} | ${b.method} ${f2(b.psnr)} | ${(v.psnr - b.psnr >= 0 ? '+' : '') + f2(v.psnr - b.psnr)} |`,
    );
  }
if (miwae.length) {
  const keys = ['clean', 'mean-filled', 'zero-filled', 'harmonic fill', 'naive', 'map', 'gibbs', 'mwg'];
  lines.push('', 'MIWAE check: classifier accuracy with 50% of pixels missing at random', '');
  lines.push(`| data set | ${keys.join(' | ')} |`, `|---|${keys.map(() => '---:').join('|')}|`);
  for (const m of miwae)
    lines.push(`| ${m.dataset} | ${keys.map((k) => (100 * (m[k] as number)).toFixed(1) + '%').join(' | ')} |`);
}
const table = lines.join('\n') + '\n';
process.stdout.write(table);
const out = path.join(ROOT, 'bench', 'out');
mkdirSync(out, { recursive: true });
writeFileSync(path.join(out, 'restore.json'), JSON.stringify({ n: N, steps, rows, miwae }, null, 2) + '\n');
writeFileSync(path.join(out, 'restore.md'), table);
