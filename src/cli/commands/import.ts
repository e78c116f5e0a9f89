// `vaekit import DIR --out MODEL`: a state dict in DIR (as `vaekit export --pytorch` wrote it, trained further
// in PyTorch or not) back into a vaekit model directory, for the tasks, the server and the browser.
import type { Command } from 'commander';
import { initBackend, type BackendChoice } from '../../backend/index.js';
import { importPytorch } from '../../io/pytorch/export.js';
import { readModelMeta } from '../../io/model.js';
import { backendOption, out } from '../common.js';

export function importCommand(program: Command): void {
  backendOption(
    program
      .command('import <dir>')
      .description(
        'read DIR (config.json and model.safetensors in PyTorch layout, as vaekit export --pytorch writes them) into a vaekit model directory',
      )
      .requiredOption('--out <model>', 'the model directory to write (atomically)')
      .option('--json', 'print what was written as JSON'),
  ).action(async (dir: string, f: Record<string, any>) => {
    await initBackend(f.backend as BackendChoice);
    await importPytorch(dir, f.out);
    const meta = await readModelMeta(f.out);
    out(
      !!f.json,
      { model: f.out, kind: meta.config.kind, from: dir },
      `wrote ${f.out} (${meta.config.kind}, from ${dir})`,
    );
  });
}
