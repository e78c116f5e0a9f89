// A way out to PyTorch and back (`vaekit export MODEL --pytorch DIR`, `vaekit import DIR --out MODEL`):
//   DIR/model.py            self-contained: the nn.Module of the model kind (runtime.py beside this file) with
//                           the networks' layer graphs (ARCH, src/io/pytorch/graph.ts) at its end; needs only torch
//   DIR/model.safetensors   the state dict (PyTorch's names and layouts: src/models/state-dict.ts)
//   DIR/config.json         the vaekit model's config.json, which `import` rebuilds the model from
//   DIR/data.safetensors    optional: x_train [n, D] (F32, after the model's data protocol), y_train (I32), x_test, y_test
// Train it further with PyTorch (docs/pytorch.md: DistributedDataParallel under torchrun), save the state dict
// over DIR/model.safetensors (model.save_safetensors), and import brings it back into a vaekit model directory
// for the tasks, the server and the browser.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { decodeSafetensors, encodeSafetensors, type TensorInput } from '../../codec/safetensors.js';
import { allRows, rowSize, type Split } from '../../data/dataset.js';
import { createModel, type LatentVariableModel } from '../../models/index.js';
import { loadStateDict } from '../../models/state-dict.js';
import { Rng } from '../../rng.js';
import { readJson, writeDirAtomic, type FileData } from '../../util/atomic.js';
import { MODEL_FORMAT, parametersToSafetensors, type ModelMeta } from '../../models/files.js';
import { loadModel, saveModel } from '../model.js';
import { objectiveConfig, type ObjectiveConfig } from '../../objectives/config.js';
import { netGraph, type NetGraph } from './graph.js';

export const PYTORCH_EXPORT_FORMAT = 'vaekit-pytorch';
export const PYTORCH_EXPORT_VERSION = 1;
const KINDS = ['vae', 'cvae', 'hvae', 'seqvae', 'vqvae'];

/** What model.py's ARCH holds. */
export interface PytorchArch {
  format: typeof PYTORCH_EXPORT_FORMAT;
  version: number;
  config: ModelMeta['config'];
  /** The run's objective settings (β, word dropout, …) that the module's neg_elbo and training use. */
  objective: ObjectiveConfig;
  nets: Record<string, NetGraph>;
  /** The Gaussian decoder's log σ²: 'learned' (the parameter decoder.log_var), a fixed value, or null (none). */
  decoder_log_var: 'learned' | number | null;
  /** Its width (D, or the channels of a series). */
  decoder_width: number | null;
  /** VQ-VAE: codes per example. */
  num_codes?: number;
}

const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);

/**
 * ARCH for a model: its config, the run's objective settings (config.json's training.objective; defaults: β = 1)
 * and every network's op graph; an error naming anything the exporter does not know.
 */
export function pytorchArch(model: LatentVariableModel, objective?: unknown): PytorchArch {
  const config = model.config;
  if (!KINDS.includes(config.kind))
    throw new Error(
      `model kind "${(config as { kind: string }).kind}" is not one the PyTorch exporter knows (${KINDS.join(', ')})`,
    );
  const params = model.namedParameters();
  const nets = Object.fromEntries(
    Object.entries(model.networks()).map(([name, net]) => [name, netGraph(name, net, params)]),
  );
  let logVar: PytorchArch['decoder_log_var'] = null;
  let width: number | null = null;
  const sigma = (config as { sigma?: number | 'learned' }).sigma;
  if (config.likelihood === 'gaussian') {
    width = config.kind === 'seqvae' ? config.inputShape[1] : prod(config.inputShape);
    logVar = sigma === 'learned' ? 'learned' : Math.log((sigma ?? 1) ** 2);
  }
  if ((config as { logisticScale?: string }).logisticScale === 'decoder')
    throw new Error(
      'export: a discretized-logistic decoder with per-image scales (logisticScale decoder) has no PyTorch export yet',
    );
  if (config.likelihood === 'local-logistic-mixture')
    throw new Error('export: the local-logistic-mixture decoder has no PyTorch export yet');
  if (config.likelihood === 'discretized-logistic') width = prod(config.inputShape); // decoder.log_scale [1, D]
  const arch: PytorchArch = {
    format: PYTORCH_EXPORT_FORMAT,
    version: PYTORCH_EXPORT_VERSION,
    config,
    objective: objectiveConfig((objective ?? {}) as Partial<ObjectiveConfig>, 'training.objective'),
    nets,
    decoder_log_var: logVar,
    decoder_width: width,
  };
  if (config.kind === 'vqvae') arch.num_codes = (model as unknown as { numCodes: number }).numCodes;
  return arch;
}

let runtime: string | null = null;
async function runtimeSource(): Promise<string> {
  runtime ??= await readFile(new URL('./runtime.py', import.meta.url), 'utf8');
  return runtime;
}

/** model.py: the runtime, then ARCH as JSON (which never holds three quotes in a row, so a raw string holds it). */
export async function modelPy(arch: PytorchArch): Promise<string> {
  const json = JSON.stringify(arch);
  return `${await runtimeSource()}\n\n# The model: vaekit's config and each network's layers (written by vaekit export --pytorch).\nARCH = json.loads(r"""${json}""")\n`;
}

function dataFile(data: { train?: Split; test?: Split }): Uint8Array {
  const tensors: Record<string, TensorInput> = {};
  for (const [name, s] of Object.entries(data)) {
    if (!s) continue;
    tensors[`x_${name}`] = { dtype: 'F32', shape: [s.n, rowSize(s)], data: allRows(s) };
    if (s.y) tensors[`y_${name}`] = { dtype: 'I32', shape: [s.n], data: s.y };
  }
  return encodeSafetensors(tensors, {
    format: PYTORCH_EXPORT_FORMAT,
    shape: JSON.stringify(Object.values(data)[0]?.shape ?? []),
  });
}

export interface PytorchExportOptions {
  /** Splits to write as DIR/data.safetensors (x after the model's data protocol, as vaekit trains on it). */
  data?: { train?: Split; test?: Split };
}

/** Writes DIR (atomically) for the model directory `modelDir`; returns the files written. */
export async function exportPytorch(
  modelDir: string,
  outDir: string,
  opts: PytorchExportOptions = {},
): Promise<string[]> {
  const meta = await readJson<ModelMeta>(path.join(modelDir, 'config.json'), 'model config');
  if (meta?.config && !KINDS.includes(meta.config.kind))
    throw new Error(
      `${modelDir}: model kind "${meta.config.kind}" is not one the PyTorch exporter knows (${KINDS.join(', ')})`,
    );
  const { model, meta: full } = await loadModel(modelDir);
  try {
    const files: Record<string, FileData> = {
      'model.py': await modelPy(pytorchArch(model, full.training?.objective)),
      'model.safetensors': parametersToSafetensors(model, { format: MODEL_FORMAT, kind: model.config.kind }),
      'config.json': JSON.stringify(full, null, 2) + '\n',
    };
    if (opts.data && (opts.data.train || opts.data.test)) files['data.safetensors'] = dataFile(opts.data);
    await writeDirAtomic(outDir, files);
    return Object.keys(files);
  } finally {
    model.dispose();
  }
}

/**
 * Reads DIR (config.json and a model.safetensors in PyTorch's layout, as model.py's save_safetensors writes
 * it) into a vaekit model; every problem is one error naming the file and the tensor.
 */
export async function readPytorchExport(dir: string): Promise<{ model: LatentVariableModel; meta: ModelMeta }> {
  const meta = await readJson<ModelMeta>(path.join(dir, 'config.json'), 'model config');
  if (meta?.format !== MODEL_FORMAT || !meta.config)
    throw new Error(`${dir}/config.json is not the config.json of a vaekit model (format "${meta?.format}")`);
  if (!KINDS.includes(meta.config.kind))
    throw new Error(
      `${dir}/config.json: model kind "${meta.config.kind}" is not one vaekit knows (${KINDS.join(', ')})`,
    );
  const file = path.join(dir, 'model.safetensors');
  let buf: Buffer;
  try {
    buf = await readFile(file);
  } catch (e) {
    throw new Error(`cannot read ${file}: ${(e as Error).message}`, { cause: e });
  }
  const { tensors } = decodeSafetensors(buf, { source: file });
  const model = createModel(meta.config, new Rng(0));
  try {
    loadStateDict(model, tensors, file, 'pytorch');
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { model, meta };
}

/** `vaekit import DIR --out MODEL`: the state dict of DIR (trained in PyTorch or not) as a vaekit model directory. */
export async function importPytorch(dir: string, outModelDir: string): Promise<void> {
  const { model, meta } = await readPytorchExport(dir);
  try {
    await saveModel(outModelDir, model, meta.data, {
      ...(meta.training ?? {}),
      importedFrom: { format: PYTORCH_EXPORT_FORMAT, dir: path.resolve(dir), at: new Date().toISOString() },
    });
  } finally {
    model.dispose();
  }
}
