// `vaekit report RUN`: rebuilds RUN/index.html, the run's HTML report (curves, KL per unit, samples and
// reconstructions per epoch), from the files the run holds (src/io/run-html.ts).
import type { Command } from 'commander';
import { writeRunHtml } from '../../io/run-html.js';
import { out } from '../common.js';

export function report(program: Command): void {
  program
    .command('report <run>')
    .description("rebuild a training run's HTML report RUN/index.html from its metrics and per-epoch records")
    .option('--json', 'print the result as JSON')
    .action(async (run: string, f) => {
      const file = await writeRunHtml(run);
      out(!!f.json, { report: file }, `wrote ${file}`);
    });
}
