// `vaekit encode MODEL`: the latent of every example of a split as CSV or JSON: posterior means μ(x) (and
// log σ²), or a VQ-VAE's code indices k(x).
import type { Command } from 'commander';
import { chunks, type Split } from '../../data/dataset.js';
import type { LatentVariableModel } from '../../models/index.js';
import { VQVAE } from '../../models/vqvae.js';
import { encode as encodeRows, encodeCodes } from '../../tasks/generate.js';
import { isWordsModel } from '../../tasks/words.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { backendOption, dataOptions, out } from '../common.js';
import { labelsAt, range, splitWords, withModel } from '../data.js';

const BATCH = 1000;

/** μ(x) and log σ²(x) of every example of the split, in batches (a conditional model: q(z|x, y)). */
function encodeAll(model: LatentVariableModel, split: Split): { mu: Float32Array; logVar: Float32Array; dim: number } {
  const parts: { mu: Float32Array; logVar: Float32Array }[] = [];
  let dim = 0;
  for (const c of chunks(split, BATCH)) {
    const m = c.end - c.start;
    const r = encodeRows(model, c.x, m, labelsAt(model, split, range(c.start, m), 'encode'));
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

/** A VQ-VAE's code indices k(x) of every example, columns k0 … k{M−1} (raster order over the grid). */
function codesText(model: VQVAE, split: Split, json: boolean): { text: string; dim: number } {
  const M = model.numCodes;
  const codes = new Int32Array(split.n * M);
  for (const c of chunks(split, BATCH)) codes.set(encodeCodes(model, c.x, c.end - c.start).codes, c.start * M);
  if (json) {
    const rows = Array.from({ length: split.n }, (_, i) => ({
      codes: Array.from(codes.subarray(i * M, (i + 1) * M)),
      ...(split.y ? { label: split.y[i] } : {}),
    }));
    return {
      text: JSON.stringify({ dim: M, grid: model.grid, codebook_size: model.K, n: split.n, rows }) + '\n',
      dim: M,
    };
  }
  const lines = [[...Array.from({ length: M }, (_, i) => `k${i}`), ...(split.y ? ['label'] : [])].join(',')];
  for (let i = 0; i < split.n; i++)
    lines.push([...codes.subarray(i * M, (i + 1) * M), ...(split.y ? [split.y[i]] : [])].join(','));
  return { text: lines.join('\n') + '\n', dim: M };
}

/** Posterior means (and log σ²) of every example; a words model: each row's word in a last column. */
function latentsText(
  model: LatentVariableModel,
  split: Split,
  o: { json: boolean; withLogvar: boolean; words?: string[] },
): { text: string; dim: number } {
  const { mu, logVar, dim } = encodeAll(model, split);
  const { words, withLogvar } = o;
  const row = (a: Float32Array, i: number) => Array.from(a.subarray(i * dim, (i + 1) * dim));
  if (o.json) {
    const rows = Array.from({ length: split.n }, (_, i) => ({
      mu: row(mu, i),
      ...(withLogvar ? { logvar: row(logVar, i) } : {}),
      ...(split.y ? { label: split.y[i] } : {}),
      ...(words ? { word: words[i] } : {}),
    }));
    return { text: JSON.stringify({ dim, n: split.n, rows }) + '\n', dim };
  }
  const cols = [
    ...Array.from({ length: dim }, (_, i) => `mu${i}`),
    ...(withLogvar ? Array.from({ length: dim }, (_, i) => `logvar${i}`) : []),
    ...(split.y ? ['label'] : []),
    ...(words ? ['word'] : []),
  ];
  const lines = [cols.join(',')];
  for (let i = 0; i < split.n; i++) {
    const r = row(mu, i).map((v) => +v.toPrecision(7));
    if (withLogvar) r.push(...row(logVar, i).map((v) => +v.toPrecision(7)));
    if (split.y) r.push(split.y[i]);
    lines.push(r.join(',') + (words ? `,${words[i]}` : ''));
  }
  return { text: lines.join('\n') + '\n', dim };
}

export function encode(program: Command): void {
  const cmd = program
    .command('encode <model>')
    .description('posterior means μ(x) (and log σ²) of a split, as CSV or JSON')
    .option('--split <name>', 'train or test', 'test')
    .option('--out <file>', 'output file (.csv or .json)', 'latents.csv')
    .option('--with-logvar', 'also write log σ²')
    .option('--json', 'print what was written as JSON');
  dataOptions(cmd, false);
  backendOption(cmd).action((dir, f) =>
    withModel(dir, f, async (ctx) => {
      const { model } = ctx;
      const data = await ctx.data();
      const split = await ctx.split();
      const json = f.out.endsWith('.json');
      if (model instanceof VQVAE) {
        // a VQ-VAE's latent: its code indices k(x), one column per grid position
        if (f.withLogvar)
          throw new Error("--with-logvar: a VQ-VAE's posterior is a point mass on code indices, with no variance");
        const { text, dim } = codesText(model, split, json);
        await writeFileAtomic(f.out, text);
        return out(!!f.json, { file: f.out, n: split.n, dim }, `wrote ${split.n} × ${dim} code indices to ${f.out}`);
      }
      const words = isWordsModel(model) ? splitWords(data, f.split) : undefined;
      const { text, dim } = latentsText(model, split, { json, withLogvar: !!f.withLogvar, words });
      await writeFileAtomic(f.out, text);
      out(!!f.json, { file: f.out, n: split.n, dim }, `wrote ${split.n} × ${dim} latent means to ${f.out}`);
    }),
  );
}
