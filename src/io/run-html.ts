// The live HTML report of a training run, RUN/index.html: train and test curves (total, reconstruction, KL and
// any other term the objective reports), KL per latent unit, sample grids and reconstructions per epoch. Made
// from files the run already holds (RUN/metrics.jsonl from the trainer; RUN/report/epoch-NNN.json and its
// PNGs from src/io/run-epoch.ts), so `vaekit report RUN` rebuilds it at any time; written atomically after
// every epoch, so it can be opened mid-run (it reloads itself every 30 s until the run has ended). The plots
// are uPlot's, inlined with its stylesheet: the file is whole on its own (file:// works).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';

export const REPORT_DIR = 'report';
export const REPORT_FILE = 'index.html';

/** What the per-epoch hook records in RUN/report/epoch-NNN.json (image paths relative to RUN). */
export interface EpochRecord {
  epoch: number;
  /** Mean KL(q(z_i|x) ‖ N(0,1)) per latent unit over the test examples, nats. */
  klPerUnit?: number[];
  samples?: string;
  reconstructions?: string;
}

export interface RunData {
  title: string;
  /** One line each: the model and the data. */
  about: string[];
  metrics: Record<string, number>[];
  epochs: EpochRecord[];
  /** false while the run goes on (the page then reloads itself). */
  done: boolean;
}

const epochFile = (epoch: number) => `epoch-${String(epoch).padStart(3, '0')}.json`;

/** Writes RUN/report/epoch-NNN.json. */
export async function writeEpochRecord(runDir: string, rec: EpochRecord): Promise<void> {
  await writeFileAtomic(path.join(runDir, REPORT_DIR, epochFile(rec.epoch)), JSON.stringify(rec) + '\n');
}

function readJsonLines(file: string): Record<string, number>[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, number>];
      } catch {
        return []; // a line cut short by a kill: the rest still shows
      }
    });
}

function describeRun(runDir: string): string[] {
  for (const f of [path.join(runDir, 'model', 'config.json'), path.join(runDir, 'checkpoint', 'config.json')]) {
    if (!existsSync(f)) continue;
    try {
      const meta = JSON.parse(readFileSync(f, 'utf8'));
      const c = meta.config ?? {};
      const d = meta.data ?? {};
      return [
        `model: ${c.kind}${c.latentDim !== undefined ? `, latent ${c.latentDim}` : ''}${c.network ? `, ${JSON.stringify(c.network)}` : ''}${c.likelihood ? `, ${c.likelihood} decoder` : ''}`,
        `data: ${d.dataset} (${d.protocol}), examples ${(d.shape ?? []).join('×')}`,
      ];
    } catch {
      // fall through: an unreadable config leaves the header short
    }
  }
  return [];
}

/** Everything the report shows, read from RUN. */
export function readRunData(runDir: string, done: boolean): RunData {
  if (!existsSync(runDir)) throw new Error(`no run directory ${runDir}`);
  const metrics = readJsonLines(path.join(runDir, 'metrics.jsonl'));
  const rdir = path.join(runDir, REPORT_DIR);
  const epochs = existsSync(rdir)
    ? readdirSync(rdir)
        .filter((f) => /^epoch-\d+\.json$/.test(f))
        .sort()
        .flatMap((f) => {
          try {
            return [JSON.parse(readFileSync(path.join(rdir, f), 'utf8')) as EpochRecord];
          } catch {
            return [];
          }
        })
    : [];
  if (!metrics.length && !epochs.length)
    throw new Error(`${runDir} holds no metrics.jsonl and no ${REPORT_DIR}/ records: not a vaekit run directory`);
  return { title: path.basename(path.resolve(runDir)), about: describeRun(runDir), metrics, epochs, done };
}

const esc = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

let uplotCache: { js: string; css: string } | null = null;
function uplotFiles(): { js: string; css: string } {
  if (!uplotCache) {
    const require = createRequire(import.meta.url);
    const dist = path.dirname(require.resolve('uplot/dist/uPlot.iife.min.js'));
    uplotCache = {
      js: readFileSync(path.join(dist, 'uPlot.iife.min.js'), 'utf8'),
      css: readFileSync(path.join(dist, 'uPlot.min.css'), 'utf8'),
    };
  }
  return uplotCache;
}

// The page's own script: the curves (one chart per term, train and test), KL per unit (bars at the last
// epoch), from the JSON in #run-data.
const PAGE_SCRIPT = `
const run = JSON.parse(document.getElementById('run-data').textContent);
const m = run.metrics;
const x = m.map((r) => r.epoch);
const skip = new Set(['epoch', 'steps', 'seconds', 'lr', 'beta', 'num_tensors', 'eval_seconds', 'partial', 'free_bits']);
const terms = [...new Set(m.flatMap((r) => Object.keys(r)))].filter((k) => !skip.has(k) && !k.startsWith('test_'));
const colors = ['#1f77b4', '#d62728'];
const width = () => Math.min(560, document.body.clientWidth - 40);
for (const t of terms) {
  const el = document.createElement('div');
  el.className = 'chart';
  el.dataset.term = t;
  document.getElementById('curves').append(el);
  const series = [{ label: 'epoch' }, { label: 'train ' + t, stroke: colors[0], width: 2 }];
  const data = [x, m.map((r) => r[t] ?? null)];
  if (m.some((r) => r['test_' + t] !== undefined)) {
    series.push({ label: 'test ' + t, stroke: colors[1], width: 2, dash: [6, 3] });
    data.push(m.map((r) => r['test_' + t] ?? null));
  }
  new uPlot({ title: t === 'loss' ? 'total (−ELBO or the objective)' : t, width: width(), height: 220, series,
    scales: { x: { time: false } }, axes: [{ label: 'epoch', incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500] }, {}] }, data, el);
}
const withKl = run.epochs.filter((e) => e.klPerUnit);
if (withKl.length) {
  const last = withKl[withKl.length - 1];
  const d = last.klPerUnit.length;
  const el = document.getElementById('kl');
  el.dataset.units = String(d);
  new uPlot({ title: 'KL per latent unit at epoch ' + last.epoch + ' (nats)', width: width(), height: 220,
    series: [{ label: 'unit' }, { label: 'KL', fill: '#1f77b480', stroke: '#1f77b4', paths: uPlot.paths.bars({ size: [0.8] }), points: { show: false } }],
    scales: { x: { time: false, range: [-0.5, d - 0.5] } }, axes: [{ label: 'unit', incrs: [1, 2, 5, 10, 20, 50, 100] }, {}] },
    [last.klPerUnit.map((_, i) => i), last.klPerUnit], el);
}
`;

/** The report page for `data` (pure: the same data give the same bytes). */
export function renderRunHtml(data: RunData): string {
  const { js, css } = uplotFiles();
  const json = JSON.stringify(data).replace(/</g, '\\u003c');
  const last = data.metrics[data.metrics.length - 1];
  const lastLine = last
    ? `epoch ${last.epoch}: ` +
      ['loss', 'rec', 'kl', 'test_loss', 'test_rec', 'test_kl']
        .filter((k) => last[k] !== undefined)
        .map((k) => `${k} ${last[k].toFixed(3)}`)
        .join(', ')
    : 'no epoch finished yet';
  const images = [...data.epochs]
    .reverse()
    .filter((e) => e.samples || e.reconstructions)
    .map(
      (e) =>
        `<div class="epoch" data-epoch="${e.epoch}"><h3>epoch ${e.epoch}</h3>` +
        (e.samples
          ? `<figure><img src="${esc(e.samples)}" alt="samples"><figcaption>samples</figcaption></figure>`
          : '') +
        (e.reconstructions
          ? `<figure><img src="${esc(e.reconstructions)}" alt="reconstructions"><figcaption>test examples | reconstructions</figcaption></figure>`
          : '') +
        `</div>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>vaekit run ${esc(data.title)}</title>
${data.done ? '' : '<meta http-equiv="refresh" content="30">'}
<style>${css}
body { font: 14px/1.4 system-ui, sans-serif; margin: 1rem 2rem; color: #222; }
.charts { display: flex; flex-wrap: wrap; gap: 1rem; }
figure { display: inline-block; margin: 0 1rem 0 0; }
img { image-rendering: pixelated; width: 260px; border: 1px solid #ccc; }
.epoch h3 { margin: 0.8rem 0 0.3rem; font-size: 1rem; }
</style>
</head>
<body>
<h1>vaekit run ${esc(data.title)}</h1>
<p>${data.about.map(esc).join('<br>')}</p>
<p id="state">${data.done ? 'finished' : 'in progress (this page reloads every 30 s)'} · ${esc(lastLine)}</p>
<h2>Learning curves</h2>
<div id="curves" class="charts"></div>
<h2>KL per latent unit</h2>
<div id="kl">${data.epochs.some((e) => e.klPerUnit) ? '' : 'not recorded for this run'}</div>
<h2>Samples and reconstructions per epoch</h2>
<div id="images">${images || 'none recorded for this run'}</div>
<script type="application/json" id="run-data">${json}</script>
<script>${js}</script>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
}

/** Rebuilds RUN/index.html from the run's files; returns its path. */
export async function writeRunHtml(runDir: string, opts: { done?: boolean } = {}): Promise<string> {
  const file = path.join(runDir, REPORT_FILE);
  await writeFileAtomic(file, renderRunHtml(readRunData(runDir, opts.done ?? true)));
  return file;
}
