// `vaekit sample MODEL`: new examples from the prior (a conditional model: per class; a VQ-VAE: codes from its
// learned prior; a words model: words decoded character by character).
import { Option, type Command } from 'commander';
import * as tf from '@tensorflow/tfjs-core';
import { NO_TRAINED_PRIOR } from '../../eval/vq-report.js';
import type { ModelMeta } from '../../models/files.js';
import { VQVAE } from '../../models/vqvae.js';
import { Rng } from '../../rng.js';
import { generate } from '../../tasks/generate.js';
import { sampleWords } from '../../tasks/words.js';
import { backendOption, classRows, flagName, log, out } from '../common.js';
import { withModel, type ModelContext } from '../data.js';
import { vqPriorTrained } from '../model-kinds.js';
import { int, nonNegInt, posInt, posNum } from '../options.js';
import { outFile, outputKind, rowsWriter, wordsOutFile, writeLines } from '../outputs.js';

/** n samples of a VQ-VAE: codes k ~ p(k) from the learned prior (logits / temperature), decoded (mean, or x ~ p(x|k) with sampleX). */
function sampleVq(model: VQVAE, meta: ModelMeta, n: number, rng: Rng, o: { temperature: number; sampleX: boolean }) {
  if (!vqPriorTrained(meta)) throw new Error(NO_TRAINED_PRIOR);
  return tf.tidy(() => {
    const k = model.prior(n).sampleIndices(rng, o.temperature);
    const px = model.decode(k);
    return (o.sampleX ? px.sample(rng) : px.mean()).dataSync() as Float32Array;
  });
}

/** Words: z ~ N(0, T²·I) decoded character by character; to stdout, one a line (an empty line: the end token came first). */
async function sampleWordsCommand({ model }: ModelContext, f: Record<string, any>, cmd: Command): Promise<void> {
  if (f.binarize && f.decode === 'greedy')
    throw new Error('--binarize draws the characters; it conflicts with --decode greedy');
  const mode: 'greedy' | 'sample' = f.decode ?? (f.binarize ? 'sample' : 'greedy');
  if (f.charTemperature !== undefined && mode !== 'sample')
    throw new Error('--char-temperature applies to sampled characters: add --decode sample');
  const n: number = f.n ?? 64;
  const words = sampleWords(model as never, n, new Rng(f.seed), {
    mode,
    zScale: f.temperature,
    temperature: f.charTemperature,
  });
  const file = wordsOutFile(cmd, f.out);
  if (file) {
    await writeLines(file, words);
    if (!f.json) log(`vaekit: wrote ${n} words to ${file}`);
  }
  const info = {
    n,
    decode: mode,
    z_scale: f.temperature,
    ...(mode === 'sample' ? { char_temperature: f.charTemperature ?? 1 } : {}),
  };
  out(!!f.json, { ...info, words, ...(file ? { file } : {}) }, words.join('\n'));
}

export function sample(program: Command): void {
  backendOption(
    program
      .command('sample <model>')
      .description(
        'generate new examples: z ~ p(z) (p(z|y) for a conditional model), x = decoder mean (PNG grid, or CSV for tabular data)',
      )
      .option(
        '-n, --n <n>',
        'how many (default 64); a conditional model without --label: how many per class, one row each (default 10)',
        posInt('--n'),
      )
      .option(
        '--label <k>',
        'conditional models: sample class k only (default: a grid with one row per class)',
        nonNegInt('--label'),
      )
      .option('--out <file>', 'output file (.png or .csv)', 'samples.png')
      .option('--seed <n>', 'seed', int('--seed'), 0)
      .option('--temperature <t>', 'scale of z (1: the prior)', posNum('--temperature'), 1)
      .option('--binarize', 'draw x ~ p(x|z) instead of its mean (words models: the same as --decode sample)')
      .addOption(
        new Option(
          '--decode <mode>',
          'words models: greedy (the most probable character at each step) or sample (each character drawn from p(x_t | x_<t, z)); default greedy, sample with --binarize',
        ).choices(['greedy', 'sample']),
      )
      .option(
        '--char-temperature <t>',
        'words models, --decode sample: divide the character logits by T (<1: safer, >1: wilder; default 1)',
        posNum('--char-temperature'),
      )
      .option('--json', 'print what was written as JSON'),
  ).action((dir, f, cmd: Command) =>
    withModel(dir, f, async (ctx) => {
      const { model, meta } = ctx;
      const kind = outputKind(model);
      if (kind === 'words') return sampleWordsCommand(ctx, f, cmd);
      for (const flag of ['decode', 'charTemperature'] as const)
        if (f[flag] !== undefined)
          throw new Error(`${flagName(flag)} is an option of words models (--model seqvae trained on --dataset words)`);
      const K = model.numClasses;
      if (f.label !== undefined && !K)
        throw new Error(`--label: this ${model.config.kind} model is not conditioned on labels`);
      if (f.label !== undefined && f.label >= (K as number))
        throw new Error(`--label ${f.label} is out of range: the model has classes 0 … ${(K as number) - 1}`);
      const grid = !!K && f.label === undefined; // one row per class
      const n: number = grid ? (f.n ?? 10) * (K as number) : (f.n ?? 64);
      const y = K ? (grid ? classRows(K, f.n ?? 10) : new Int32Array(n).fill(f.label)) : undefined;
      const o = { sampleX: !!f.binarize, temperature: f.temperature };
      const rows =
        model instanceof VQVAE
          ? sampleVq(model, meta, n, new Rng(f.seed), o) // codes from the learned prior, logits / T
          : generate(model, n, new Rng(f.seed), { ...o, y });
      const w = rowsWriter(kind, meta.data.shape, meta.data.normalizer);
      const written = await w.rows(outFile(cmd, w, f.out), rows, n, {
        ...(grid ? { cols: f.n ?? 10 } : {}),
        title: `${n} samples of ${meta.data.dataset}`,
      });
      if (written.plot)
        return out(
          !!f.json,
          { file: written.file, plot: written.plot, n },
          `wrote ${n} series to ${written.file} and a line plot to ${written.plot}`,
        );
      const names = meta.data.classNames;
      const className = (k: number) => names?.[k] ?? String(k);
      const what = grid
        ? `one row of ${f.n ?? 10} per class (${Array.from({ length: K as number }, (_, k) => className(k)).join(', ')})`
        : K
          ? `of class ${className(f.label)}`
          : '';
      out(
        !!f.json,
        { file: written.file, n, ...(K ? { labels: grid ? Array.from({ length: K }, (_, k) => k) : [f.label] } : {}) },
        `wrote ${n} samples ${what}${what ? ' ' : ''}to ${written.file}`,
      );
    }),
  );
}
