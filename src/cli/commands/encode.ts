// `vaekit encode MODEL`: the latent of every example of a split as CSV or JSON: posterior means μ(x) (and
// log σ²), or a VQ-VAE's code indices k(x).
import type { Command } from 'commander';
import { chunks, type Split } from '../../data/dataset.js';
import type { LatentVariableModel } from '../../models/index.js';
import { latentDimOf } from '../../models/types.js';
import { VQVAE } from '../../models/vqvae.js';
import { encode as encodeRows, encodeCodes } from '../../tasks/generate.js';
import { isWordsModel } from '../../tasks/words.js';
import { writeStreamAtomic } from '../../util/atomic.js';
import { backendOption, dataOptions, out } from '../common.js';
import { labelsAt, range, splitWords, withModel } from '../data.js';

const BATCH = 1000;

/** The output in pieces of one batch each (only one batch of latents and its text in memory at a time). */
type Pieces = Generator<string>;

/** A VQ-VAE's code indices k(x) of every example, columns k0 … k{M−1} (raster order over the grid). */
function* codesText(model: VQVAE, split: Split, json: boolean): Pieces {
  const M = model.numCodes;
  if (json) yield `{"dim":${M},"grid":${JSON.stringify(model.grid)},"codebook_size":${model.K},"n":${split.n},"rows":[`;
  else yield [...Array.from({ length: M }, (_, i) => `k${i}`), ...(split.y ? ['label'] : [])].join(',') + '\n';
  for (const c of chunks(split, BATCH)) {
    const codes = encodeCodes(model, c.x, c.end - c.start).codes;
    const lines: string[] = [];
    for (let i = c.start; i < c.end; i++) {
      const k = Array.from(codes.subarray((i - c.start) * M, (i - c.start + 1) * M));
      if (json) lines.push(JSON.stringify({ codes: k, ...(split.y ? { label: split.y[i] } : {}) }));
      else lines.push([...k, ...(split.y ? [split.y[i]] : [])].join(','));
    }
    yield json ? (c.start > 0 ? ',' : '') + lines.join(',') : lines.join('\n') + '\n';
  }
  if (json) yield ']}\n';
}

/** Posterior means (and log σ²) of every example, batch by batch; a words model: each row's word in a last column. */
function* latentsText(
  model: LatentVariableModel,
  split: Split,
  o: { json: boolean; withLogvar: boolean; words?: string[]; dim: number },
): Pieces {
  const { words, withLogvar } = o;
  // the width is the encoder's (read off the first batch), so the header comes with it
  const header = (dim: number) => {
    o.dim = dim;
    return o.json
      ? `{"dim":${dim},"n":${split.n},"rows":[`
      : [
          ...Array.from({ length: dim }, (_, i) => `mu${i}`),
          ...(withLogvar ? Array.from({ length: dim }, (_, i) => `logvar${i}`) : []),
          ...(split.y ? ['label'] : []),
          ...(words ? ['word'] : []),
        ].join(',') + '\n';
  };
  let started = false;
  for (const c of chunks(split, BATCH)) {
    const m = c.end - c.start;
    const { mu, logVar, dim } = encodeRows(model, c.x, m, labelsAt(model, split, range(c.start, m), 'encode'));
    const row = (a: Float32Array, i: number) => Array.from(a.subarray(i * dim, (i + 1) * dim));
    const lines: string[] = [];
    for (let r = 0; r < m; r++) {
      const i = c.start + r;
      if (o.json) {
        const obj = {
          mu: row(mu, r),
          ...(withLogvar ? { logvar: row(logVar, r) } : {}),
          ...(split.y ? { label: split.y[i] } : {}),
          ...(words ? { word: words[i] } : {}),
        };
        lines.push(JSON.stringify(obj));
        continue;
      }
      const v = row(mu, r).map((x) => +x.toPrecision(7));
      if (withLogvar) v.push(...row(logVar, r).map((x) => +x.toPrecision(7)));
      if (split.y) v.push(split.y[i]);
      lines.push(v.join(',') + (words ? `,${words[i]}` : ''));
    }
    yield (started ? '' : header(dim)) + (o.json ? (started ? ',' : '') + lines.join(',') : lines.join('\n') + '\n');
    started = true;
  }
  if (!started) yield header(latentDimOf(model.config, 'encode'));
  if (o.json) yield ']}\n';
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
        const dim = model.numCodes;
        await writeStreamAtomic(f.out, codesText(model, split, json));
        return out(!!f.json, { file: f.out, n: split.n, dim }, `wrote ${split.n} × ${dim} code indices to ${f.out}`);
      }
      const words = isWordsModel(model) ? splitWords(data, f.split) : undefined;
      const o = { json, withLogvar: !!f.withLogvar, words, dim: 0 };
      await writeStreamAtomic(f.out, latentsText(model, split, o));
      const { dim } = o;
      out(!!f.json, { file: f.out, n: split.n, dim }, `wrote ${split.n} × ${dim} latent means to ${f.out}`);
    }),
  );
}
