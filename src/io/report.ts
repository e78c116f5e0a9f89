// The run report: what was trained, how it learned, and the held-out figures, as Markdown and JSON.
import path from 'node:path';
import type { BackendInfo } from '../backend/index.js';
import type { ModelConfig } from '../models/types.js';
import { writeFileAtomic } from './atomic.js';
import type { DataInfo } from './model.js';

export interface RunReport {
  config: ModelConfig;
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
  md.push(`- model: ${r.config.kind}, ${JSON.stringify(r.config.network)}, latent ${r.config.latentDim}, ${r.config.likelihood} decoder, β = ${r.config.beta}`);
  md.push(`- backend: ${r.backend.backend} (${r.backend.detail})`, '');
  md.push(`## Held-out figures (test split)`, '');
  if (r.final.total !== undefined) md.push(`- −ELBO: **${f2(r.final.total)}** nats (reconstruction ${f2(r.final.rec)}, KL ${f2(r.final.kl)})`);
  if (r.final.nll !== undefined) md.push(`- NLL (importance sampled, k = ${r.final.nll_k}): **${f2(r.final.nll)}** ± ${f2(r.final.nll_stderr)} nats (${r.final.bits_per_dim.toFixed(4)} bits/dim)`);
  md.push('', `## Learning curve`, '', `| epoch | steps | s | train loss | rec | KL | test −ELBO |`, `|---|---|---|---|---|---|---|`);
  for (const m of r.metrics) md.push(`| ${m.epoch} | ${m.steps} | ${f2(m.seconds)} | ${f2(m.loss)} | ${f2(m.rec)} | ${f2(m.kl)} | ${f2(m.test_loss)} |`);
  md.push('', `## Outputs`, '');
  for (const [k, file] of Object.entries(r.artefacts)) {
    const rel = path.relative(dir, file);
    md.push(file.endsWith('.png') ? `### ${k}\n\n![${k}](${rel})\n` : `- ${k}: ${rel}`);
  }
  md.push('', `The trained model is in \`model/\` (config.json, model.safetensors, tfjs/ for the browser).`, '');
  const file = path.join(dir, 'report.md');
  await writeFileAtomic(path.join(dir, 'report.json'), JSON.stringify(r, null, 2) + '\n');
  await writeFileAtomic(file, md.join('\n'));
  return file;
}
