// What `vaekit score`, `calibrate` and `ood` share: their flags, the rows of a data set as a stream of batches
// (a CSV file read line by line, never whole), the modality check (a pixel model scores images of its own
// protocol only), scoring a stream into per-row arrays with a progress bar, and the calibration file kept in
// the model directory. The scores themselves come from src/tasks/anomaly.ts.
import cliProgress from 'cli-progress';
import { Option, type Command } from 'commander';
import { parseDatasetName, rowRange, type Split } from '../data/dataset.js';
import type { Normalizer } from '../data/csv.js';
import type { ModelMeta } from '../models/files.js';
import type { LatentVariableModel } from '../models/index.js';
import { Rng } from '../rng.js';
import {
  defaultScore,
  pixelRule,
  pixelViolation,
  scoreStream,
  SCORER_DEFAULTS,
  SCORE_NAMES,
  type Rows,
  type ScoreName,
} from '../tasks/anomaly.js';
import { csvRowBatches } from './csv-rows.js';
import { checkShape, loadData, pickSplit, type ModelContext, type ModelFlags } from './data.js';
import { posInt } from './options.js';

export interface ScoreFlags extends ModelFlags {
  k: number;
  batchSize: number;
  score?: string;
  seed: number;
  progress: string;
  regretSteps: number;
}

/** --k, --batch-size, --score, --seed, --progress. */
export function scoreOptions(cmd: Command): Command {
  return cmd
    .option('--k <k>', 'importance samples of the NLL (1: the ELBO; 100 for a tight −log p(x))', posInt('--k'), 1)
    .option('--batch-size <n>', 'rows scored per batch (memory is one batch)', posInt('--batch-size'), 500)
    .addOption(
      new Option(
        '--score <name>',
        "the score to flag and rank by (default: the model kind's, see docs/anomaly.md)",
      ).choices(SCORE_NAMES as unknown as string[]),
    )
    .option('--seed <n>', 'seed of the samples of z', posInt('--seed'), SCORER_DEFAULTS.seed)
    .option(
      '--regret-steps <n>',
      'likelihood regret: Adam steps refitting q(z|x) per row (0: off, the default; --score regret: 20)',
      (v) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 0) throw new Error(`--regret-steps must be a non-negative integer, got ${v}`);
        return n;
      },
      0,
    )
    .addOption(
      new Option('--progress <mode>', 'progress bar on stderr').choices(['auto', 'bar', 'none']).default('auto'),
    );
}

const PIXEL = ['binary', 'continuous'];
const IMAGE_DATA = ['fashion-mnist', 'mnist', 'images', 'dsprites'];

/**
 * The model's protocol becomes the data's (a binary model scores binary pixels); another one on the command
 * line, or image data for a tabular model, is an error naming both.
 */
export function checkModality(meta: ModelMeta, f: ModelFlags): void {
  const trained = meta.data.protocol;
  const kind = parseDatasetName(f.dataset ?? meta.data.dataset).name;
  if (PIXEL.includes(trained)) {
    if (f.protocol !== undefined && f.protocol !== trained)
      throw new Error(`the model was trained on ${trained} pixels; --protocol ${f.protocol} gives it other inputs`);
    if (IMAGE_DATA.includes(kind)) f.protocol = trained;
  } else if (IMAGE_DATA.includes(kind))
    throw new Error(`the model was trained on ${meta.data.dataset} (${trained}), not on images; got ${f.dataset}`);
}

/** An error unless every value fits the pixel protocol (0/1 for binary, [0, 1] for continuous). */
function checkPixels(rows: Rows, protocol: string, first: number): void {
  const bad = pixelViolation(rows.x, protocol);
  if (bad)
    throw new Error(
      `row ${first + Math.floor(bad.index / (rows.x.length / rows.n))} has the value ${bad.value}; the model takes ${pixelRule(protocol)}`,
    );
}

function* splitBatches(split: Split, bs: number, withLabels: boolean): Generator<Rows> {
  for (let s = 0; s < split.n; s += bs) {
    const m = Math.min(bs, split.n - s);
    yield {
      x: rowRange(split, s, s + m),
      n: m,
      shape: split.shape,
      ...(withLabels && split.y ? { y: split.y.subarray(s, s + m) } : {}),
    };
  }
}

/** The rows of the data flags as batches; total: the row count when known beforehand (not for a CSV stream). */
export async function rowSource(
  ctx: Pick<ModelContext, 'model' | 'meta'>,
  flags: ModelFlags & { batchSize: number },
): Promise<{ batches: AsyncIterable<Rows>; total?: number; name: string }> {
  const { model, meta } = ctx;
  const f = { ...flags };
  checkModality(meta, f);
  const ds = parseDatasetName(f.dataset ?? meta.data.dataset);
  const protocol = meta.data.protocol;
  const check = async function* (src: Iterable<Rows> | AsyncIterable<Rows>) {
    let first = 0;
    for await (const rows of src) {
      if (PIXEL.includes(protocol)) checkPixels(rows, protocol, first);
      first += rows.n;
      yield rows;
    }
  };
  if (ds.name === 'csv') {
    // streamed: the file is read in batches of lines, whatever its size
    const normalizer = meta.data.dataset.startsWith('csv:') ? (meta.data.normalizer as Normalizer) : undefined;
    const name = `${ds.path}`;
    const src = csvRowBatches(ds.path!, {
      shape: model.config.inputShape,
      normalizer,
      labelColumn: f.labelColumn,
      batchSize: f.batchSize,
    });
    return { batches: check(src), name };
  }
  const data = await loadData(f, meta);
  checkShape(model, data);
  const split = pickSplit(data, f.split ?? 'test');
  return {
    batches: check(splitBatches(split, f.batchSize, model.numClasses !== undefined)),
    total: split.n,
    name: `${data.name} ${f.split ?? 'test'}`,
  };
}

/** Every row's scores, each kind in one array (index = row). */
export interface ScoreTable {
  n: number;
  scores: Partial<Record<ScoreName | 'complexityBits', Float64Array>>;
}

class Column {
  a = new Float64Array(1024);
  n = 0;
  push(v: number): void {
    if (this.n === this.a.length) {
      const b = new Float64Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = v;
  }
}

function progressBar(mode: string, total: number | undefined) {
  if (mode === 'none' || (mode === 'auto' && !process.stderr.isTTY)) return { update() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    {
      format:
        total === undefined
          ? 'scoring {value} rows  {rate} rows/s'
          : 'scoring |{bar}| {value}/{total}  {rate} rows/s  ETA {eta_formatted}',
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  const t0 = performance.now();
  bar.start(total ?? 0, 0, { rate: '-' });
  return {
    update(done: number) {
      bar.update(done, { rate: (done / ((performance.now() - t0) / 1000)).toFixed(0) });
    },
    stop() {
      bar.stop();
    },
  };
}

/** The regret settings of the flags: --regret-steps, or 20 steps when --score regret asks for it; else none. */
export function regretSettings(f: Pick<ScoreFlags, 'regretSteps' | 'score'>): { steps: number } | null {
  const steps = f.regretSteps || (f.score === 'regret' ? 20 : 0);
  return steps > 0 ? { steps } : null;
}

/** Scores a stream of batches into a ScoreTable, with a progress bar (memory: one batch plus the scores). */
export async function scoreAll(
  model: LatentVariableModel,
  src: { batches: AsyncIterable<Rows>; total?: number },
  f: ScoreFlags,
): Promise<ScoreTable> {
  const cols: Partial<Record<ScoreName | 'complexityBits', Column>> = {};
  const bar = progressBar(f.progress, src.total);
  let n = 0;
  try {
    for await (const r of scoreStream(model, src.batches, {
      rng: new Rng(f.seed),
      k: f.k,
      batchSize: Math.min(f.batchSize, SCORER_DEFAULTS.batchSize),
      maxRows: SCORER_DEFAULTS.maxRows,
      regret: regretSettings(f),
      onProgress: (done) => bar.update(done),
    })) {
      for (const key of [...SCORE_NAMES, 'complexityBits'] as const) {
        const v = r[key];
        if (v !== undefined) (cols[key] ??= new Column()).push(v);
      }
      n++;
    }
  } finally {
    bar.stop();
  }
  if (n === 0) throw new Error('the data have no rows to score');
  const scores: ScoreTable['scores'] = {};
  for (const [key, c] of Object.entries(cols)) scores[key as ScoreName] = c.a.subarray(0, c.n);
  return { n, scores };
}

/** The score of --score, or the model kind's default; an error when this model gives no such score. */
export function chosenScore(model: LatentVariableModel, table: ScoreTable, flag?: string): ScoreName {
  const name = (flag ?? defaultScore(model, table.scores.corrected !== undefined)) as ScoreName;
  if (!table.scores[name])
    throw new Error(
      name === 'corrected'
        ? '--score corrected: this model has no reference coder of its inputs (image models only)'
        : name === 'regret'
          ? '--score regret: the regret was not computed (set --regret-steps)'
          : `--score ${name}: the likelihood ratio applies to a hierarchical VAE only`,
    );
  return name;
}

export { CALIBRATION_FILE, readCalibration, writeCalibration, type CalibrationFile } from '../io/calibration.js';
