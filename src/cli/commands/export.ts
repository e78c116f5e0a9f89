// `vaekit export MODEL --pytorch DIR`: the model as a self-contained PyTorch module (model.py), its state dict
// and config.json, and with --data the model's data splits, for training further with PyTorch (docs/pytorch.md).
import type { Command } from 'commander';
import { initBackend, type BackendChoice } from '../../backend/index.js';
import { readModelMeta } from '../../io/model.js';
import { exportPytorch } from '../../io/pytorch/export.js';
import { backendOption, dataOptions, out } from '../common.js';
import { loadData } from '../data.js';

export function exportCommand(program: Command): void {
  const cmd = program
    .command('export <model>')
    .description(
      'write the model for PyTorch: DIR/model.py (a self-contained nn.Module, needs only torch), model.safetensors (the state dict), config.json; see docs/pytorch.md',
    )
    .requiredOption('--pytorch <dir>', 'output directory (written atomically)')
    .option('--data', "also write DIR/data.safetensors: the data set's train and test splits as the model sees them")
    .option('--json', 'print what was written as JSON');
  dataOptions(cmd, false);
  backendOption(cmd).action(async (dir: string, f: Record<string, any>) => {
    await initBackend(f.backend as BackendChoice);
    let data;
    if (f.data) {
      const meta = await readModelMeta(dir);
      data = await loadData(f, meta);
      const want = meta.config.inputShape.join('×');
      if (data.shape.join('×') !== want)
        throw new Error(`the model takes ${want} inputs but dataset ${data.name} has ${data.shape.join('×')} examples`);
    }
    const files = await exportPytorch(dir, f.pytorch, data ? { data: { train: data.train, test: data.test } } : {});
    out(
      !!f.json,
      { dir: f.pytorch, files, ...(data ? { train: data.train.n, test: data.test.n } : {}) },
      `wrote ${f.pytorch}: ${files.join(', ')}` +
        (data ? ` (${data.name}: ${data.train.n} train, ${data.test.n} test examples)` : ''),
    );
  });
}
