// The run report: what was trained, how it learned, and the held-out figures, as Markdown and JSON.
import path from 'node:path';
import type { BackendInfo } from '../backend/index.js';
import type { ModelConfig } from '../models/types.js';
import { describeObjective, type ObjectiveConfig } from '../objectives/config.js';
import { writeFileAtomic } from '../util/atomic.js';
import type { DataInfo } from '../models/files.js';

export interface RunReport {
  config: ModelConfig;
  /** The run's objective settings (β, warm-up, free bits, word dropout); none for the VQ-VAE's own objective. */
  objective?: ObjectiveConfig;
  data: DataInfo;
  backend: BackendInfo;
  metrics: Record<string, number>[];
  final: Record<string, number>;
  artefacts: Record<string, string>;
  command: string;
}

const f2 = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '' : v.toFixed(2));

/** Writes report.md and report.json into `dir`; returns the Markdown file's path. */
export async function writeRunReport(dir: string, r: RunReport): Promise<string> {
  const md: string[] = [];
  md.push(`# vaekit run report`, '');
  md.push(`Command: \`${r.command}\``, '');
  md.push(`- data: ${r.data.dataset} (${r.data.protocol}), example shape ${r.data.shape.join('×')}`);
  const c = r.config;
  md.push(
    c.kind === 'vqvae'
      ? `- model: vqvae, ${JSON.stringify(c.network)}, codebook K = ${c.codebookSize} × D = ${c.codeDim}, ${c.likelihood} decoder, commitment β = ${c.commitment}${c.ema ? `, EMA codebook (γ = ${c.ema.decay})` : ''}${c.restartAfter ? `, dead codes restarted after ${c.restartAfter} steps` : ''}`
      : `- model: ${c.kind}, ${JSON.stringify(c.network)}, latent ${c.latentDim}, ${c.likelihood} decoder${r.objective ? `, ${describeObjective(r.objective)}` : ''}`,
  );
  md.push(`- backend: ${r.backend.backend} (${r.backend.detail})`, '');
  md.push(`## Held-out figures (test split)`, '');
  const pc = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '' : `${(100 * v).toFixed(1)}%`);
  if (r.final.perplexity !== undefined)
    md.push(
      `- reconstruction: MSE **${r.final.mse.toFixed(5)}** per value, PSNR **${f2(r.final.psnr)}** dB (decoder mean at the codes k(x))`,
      `- codebook: perplexity **${f2(r.final.perplexity)}** of K = ${c.kind === 'vqvae' ? c.codebookSize : '?'}, usage ${pc(r.final.usage)} of the codes (over the test split)`,
    );
  if (r.final.prior_nll !== undefined)
    md.push(
      `- learned prior: −log p(k) = ${f2(r.final.prior_nll)} nats per code grid (${r.final.prior_bits_per_code.toFixed(3)} bits per code)`,
    );
  if (r.final.total !== undefined)
    md.push(`- −ELBO: **${f2(r.final.total)}** nats (reconstruction ${f2(r.final.rec)}, KL ${f2(r.final.kl)})`);
  if (r.final.nll !== undefined)
    md.push(
      `- NLL (importance sampled, k = ${r.final.nll_k}): **${f2(r.final.nll)}** ± ${f2(r.final.nll_stderr)} nats (${r.final.bits_per_dim.toFixed(4)} bits/dim)`,
    );
  if (c.kind === 'vqvae') {
    md.push(
      '',
      `## Learning curve`,
      '',
      `| epoch | steps | s | train loss | rec | commitment | perplexity | usage | test MSE | test PSNR | test perplexity | test usage |`,
      `|---|---|---|---|---|---|---|---|---|---|---|---|`,
    );
    for (const m of r.metrics)
      md.push(
        `| ${m.epoch} | ${m.steps} | ${f2(m.seconds)} | ${f2(m.loss)} | ${f2(m.rec)} | ${f2(m.commitment)} | ${f2(m.perplexity)} | ${pc(m.usage)} | ${m.test_mse?.toFixed(5) ?? ''} | ${f2(m.test_psnr)} | ${f2(m.test_perplexity)} | ${pc(m.test_usage)} |`,
      );
  } else {
    md.push(
      '',
      `## Learning curve`,
      '',
      `| epoch | steps | s | train loss (β-weighted) | rec | KL | test −ELBO (rec + KL) |`,
      `|---|---|---|---|---|---|---|`,
    );
    for (const m of r.metrics)
      md.push(
        `| ${m.epoch} | ${m.steps} | ${f2(m.seconds)} | ${f2(m.loss)} | ${f2(m.rec)} | ${f2(m.kl)} | ${f2(m.test_loss)} |`,
      );
  }
  md.push('', `## Outputs`, '');
  for (const [k, file] of Object.entries(r.artefacts)) {
    const rel = path.relative(dir, file);
    md.push(/\.(png|svg)$/.test(file) ? `### ${k}\n\n![${k}](${rel})\n` : `- ${k}: ${rel}`);
  }
  md.push('', `The trained model is in \`model/\` (config.json, model.safetensors, tfjs/ for the browser).`, '');
  const file = path.join(dir, 'report.md');
  await writeFileAtomic(path.join(dir, 'report.json'), JSON.stringify(r, null, 2) + '\n');
  await writeFileAtomic(file, md.join('\n'));
  return file;
}
