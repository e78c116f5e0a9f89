// The model directory's files as `vaekit serve` gives them to the page's loader (src/models/load-url.ts), read
// once at start and held in memory (no file path is ever taken from a request):
//   GET /model/config.json
//   GET /model/model.safetensors                 a Range request (one range, bytes=a-b, a-, -n) gets 206 and
//                                                those bytes: the loader reads the header and the tensors
//                                                beyond the networks only; an unsatisfiable range gets 416
//   GET /model/tfjs/:net/model.json|weights.bin  each network in the tfjs layers format, as vaekit wrote it
// readModelFiles() checks each tfjs network against the model loaded from model.safetensors (the same weights,
// bit for bit): a tfjs/ that is absent, of another topology or stale is not served, with a line saying why,
// and the page then loads model.safetensors whole.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { LatentVariableModel } from '../models/types.js';

export interface TfjsFiles {
  modelJson: Uint8Array;
  weights: Uint8Array;
}

export interface ModelFiles {
  config: string | Uint8Array;
  safetensors: Uint8Array;
  /** The networks' tfjs files, by network name (those that match the model). */
  tfjs?: Record<string, TfjsFiles>;
}

const TFJS_FILES = ['model.json', 'weights.bin'] as const;

/** Why the tfjs files of network `name` do not hold `net`'s weights, or null when they do, bit for bit. */
export function tfjsMismatch(name: string, files: TfjsFiles, model: LatentVariableModel): string | null {
  const net = model.networks()[name];
  let json: { format?: string; weightsManifest?: { paths: string[]; weights: { shape: number[]; dtype: string }[] }[] };
  try {
    json = JSON.parse(Buffer.from(files.modelJson).toString('utf8'));
  } catch (e) {
    return `tfjs/${name}/model.json is not JSON (${(e as Error).message})`;
  }
  const groups = json.weightsManifest ?? [];
  if (json.format !== 'layers-model' || groups.length !== 1 || groups[0].paths.join() !== 'weights.bin')
    return `tfjs/${name}/model.json is not a layers model with its weights in weights.bin`;
  const specs = groups[0].weights;
  const want = net.weights;
  if (specs.length !== want.length || specs.some((s, i) => s.shape.join() !== want[i].shape.join()))
    return `tfjs/${name} has weights of other shapes than the model's network`;
  if (specs.some((s) => s.dtype !== 'float32')) return `tfjs/${name} has weights that are not float32`;
  const w = files.weights;
  const all = new Float32Array(w.buffer.slice(w.byteOffset, w.byteOffset + w.byteLength));
  let at = 0;
  for (const v of net.getWeights()) {
    const d = v.dataSync();
    if (at + d.length > all.length) return `tfjs/${name}/weights.bin is short`;
    for (let i = 0; i < d.length; i++)
      if (!Object.is(d[i], all[at + i])) return `tfjs/${name} holds other weights than model.safetensors`;
    at += d.length;
  }
  return at === all.length ? null : `tfjs/${name}/weights.bin is longer than its manifest`;
}

/** Reads config.json, model.safetensors and the tfjs networks that match the model; `log` says which are left out. */
export async function readModelFiles(
  dir: string,
  model: LatentVariableModel,
  log: (line: string) => void,
): Promise<ModelFiles> {
  const config = await readFile(path.join(dir, 'config.json'));
  const safetensors = await readFile(path.join(dir, 'model.safetensors'));
  const tfjs: Record<string, TfjsFiles> = {};
  const skipped: string[] = [];
  for (const name of Object.keys(model.networks())) {
    let files: TfjsFiles;
    try {
      files = {
        modelJson: await readFile(path.join(dir, 'tfjs', name, 'model.json')),
        weights: await readFile(path.join(dir, 'tfjs', name, 'weights.bin')),
      };
    } catch {
      skipped.push(`tfjs/${name} is missing`);
      continue;
    }
    const why = tfjsMismatch(name, files, model);
    if (why) skipped.push(why);
    else tfjs[name] = files;
  }
  // the page takes the networks from tfjs/ all or none
  if (skipped.length) {
    log(`serve: the page loads model.safetensors whole (${skipped.join('; ')})`);
    return { config, safetensors };
  }
  return { config, safetensors, tfjs };
}

/** The one byte range [start, end] of a Range header over `size` bytes; null: none, or not one we honour (send all). */
export function byteRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | 'unsatisfiable' | null {
  const m = /^bytes=(\d*)-(\d*)$/.exec((header ?? '').trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  let start: number;
  let end: number;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0) return 'unsatisfiable';
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (m[2] !== '' && Number(m[2]) < start) return null; // invalid: ignored, as RFC 9110 says
  }
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}

const binary = { 200: { type: 'string', description: 'the file' } };
const errors = {
  '4xx': { $ref: 'vaekit-error#' },
  '5xx': { $ref: 'vaekit-error#' },
};

/** Registers the routes of the model's files; returns the names of the networks served as tfjs. */
export function registerModelFiles(app: FastifyInstance, files: ModelFiles): string[] {
  const { config } = files;
  const safetensors = Buffer.from(files.safetensors);
  app.get('/model/config.json', { schema: { response: { 200: { type: 'object' }, ...errors } } }, async (_req, reply) =>
    reply.type('application/json').send(config),
  );
  app.get(
    '/model/model.safetensors',
    {
      schema: {
        headers: { type: 'object', properties: { range: { type: 'string', maxLength: 100 } } },
        response: { 200: binary, 206: binary, ...errors },
      },
    },
    async (req, reply) => {
      reply.type('application/octet-stream').header('accept-ranges', 'bytes');
      const r = byteRange(req.headers.range, safetensors.length);
      if (r === 'unsatisfiable')
        return reply
          .code(416)
          .header('content-range', `bytes */${safetensors.length}`)
          .type('application/json')
          .send({ error: `range ${req.headers.range} is not within the ${safetensors.length} bytes`, statusCode: 416 });
      if (!r) return reply.send(safetensors);
      return reply
        .code(206)
        .header('content-range', `bytes ${r.start}-${r.end}/${safetensors.length}`)
        .send(safetensors.subarray(r.start, r.end + 1));
    },
  );
  const nets = Object.keys(files.tfjs ?? {});
  if (files.tfjs && nets.length) {
    const tfjs = files.tfjs;
    app.get<{ Params: { net: string; file: (typeof TFJS_FILES)[number] } }>(
      '/model/tfjs/:net/:file',
      {
        schema: {
          params: {
            type: 'object',
            additionalProperties: false,
            required: ['net', 'file'],
            properties: { net: { enum: nets }, file: { enum: [...TFJS_FILES] } },
          },
          response: { 200: binary, ...errors },
        },
      },
      async (req, reply) => {
        const f = tfjs[req.params.net];
        return req.params.file === 'model.json'
          ? reply.type('application/json').send(Buffer.from(f.modelJson))
          : reply.type('application/octet-stream').send(Buffer.from(f.weights));
      },
    );
  }
  return nets;
}
