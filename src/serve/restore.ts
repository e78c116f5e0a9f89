// POST /api/restore: restoring images the client already holds degraded, with the model as the prior
// (src/tasks/restore): the request names what was done to them and gives the observation y as it is.
//   {task: 'denoise', noise: 'gaussian', sigma, y: [[…D]]} | {task: 'denoise', noise: 'bit-flip'|'salt-pepper', p, y}
//   {task: 'inpaint', mask: [H·W of 0/1, 1 = observed], y: [[…D]]}
//   {task: 'superres', factor, y: [[…D/f²]]}
//   + method ('naive' | 'map' | 'gibbs' | 'mwg', default map), seed, samples, restarts, steps, iterations
// → {x, uncertainty, method, acceptance?}. The work per request is bounded (rows, samples, steps).
import type { FastifyInstance } from 'fastify';
import type { LatentVariableModel } from '../models/types.js';
import {
  checkRestorable,
  describeDegradation,
  expandMask,
  nearestUpsample,
  RESTORE_METHODS,
  restoreImages,
  validateDegradation,
  type Degradation,
  type Degraded,
  type ImageShape,
  type RestoreMethod,
} from '../tasks/restore/index.js';
import { BadRequest } from './errors.js';

export const MAX_RESTORE_ROWS = 16;

interface RestoreBody {
  task: 'denoise' | 'inpaint' | 'superres';
  y: number[][];
  noise?: 'gaussian' | 'bit-flip' | 'salt-pepper';
  sigma?: number;
  p?: number;
  mask?: number[];
  factor?: number;
  method?: RestoreMethod;
  seed?: number;
  samples?: number;
  restarts?: number;
  steps?: number;
  iterations?: number;
}

const int = (max: number) => ({ type: 'integer', minimum: 1, maximum: max });

function degradation(b: RestoreBody, H: number, W: number): Degradation {
  if (b.task === 'superres') {
    if (b.factor === undefined) throw new BadRequest('task superres needs body/factor');
    return { task: 'superres', factor: b.factor };
  }
  if (b.task === 'inpaint') {
    if (!b.mask) throw new BadRequest(`task inpaint needs body/mask: ${H * W} values, 1 observed, 0 missing`);
    return { task: 'inpaint', mask: { kind: 'user', name: 'body/mask', values: b.mask } };
  }
  if (b.noise === undefined || b.noise === 'gaussian') {
    if (b.sigma === undefined) throw new BadRequest('task denoise with gaussian noise needs body/sigma');
    return { task: 'denoise', noise: 'gaussian', sigma: b.sigma, seed: 0 };
  }
  if (b.p === undefined) throw new BadRequest(`task denoise with ${b.noise} noise needs body/p`);
  return { task: 'denoise', noise: b.noise, p: b.p, seed: 0 };
}

/** The Degraded record of an observation y the client sends (what src/tasks/restore's methods take). */
function observation(b: RestoreBody, shape: ImageShape): Degraded {
  const [H, W, C] = shape;
  const d = degradation(b, H, W);
  try {
    validateDegradation(d, shape);
  } catch (e) {
    throw new BadRequest(`restore: ${(e as Error).message}`);
  }
  const n = b.y.length;
  const D = H * W * C;
  const yShape: ImageShape = d.task === 'superres' ? [H / d.factor, W / d.factor, C] : shape;
  const Dy = yShape[0] * yShape[1] * yShape[2];
  const y = new Float32Array(n * Dy);
  b.y.forEach((row, i) => {
    if (row.length !== Dy)
      throw new BadRequest(`body/y/${i} has ${row.length} values; a ${b.task} observation has ${Dy} ([${yShape}])`);
    y.set(row, i * Dy);
  });
  if (d.task === 'superres')
    return {
      record: describeDegradation(d, shape, n),
      degradation: d,
      shape,
      n,
      y,
      yShape,
      display: nearestUpsample(y, n, yShape, d.factor),
    };
  if (d.task === 'denoise')
    return {
      record: describeDegradation(d, shape, n),
      degradation: d,
      shape,
      n,
      y,
      yShape,
      display: y.map((v) => Math.min(1, Math.max(0, v))),
    };
  const pixels = new Uint8Array(n * H * W);
  for (let i = 0; i < n; i++) pixels.set(b.mask!, i * H * W);
  const mask = expandMask(pixels, n, shape);
  const display = new Float32Array(n * D);
  for (let i = 0; i < n * D; i++) display[i] = mask[i] ? y[i] : 0.5;
  return { record: describeDegradation(d, shape, n, mask), degradation: d, shape, n, y, yShape, mask, display };
}

/** Registers /api/restore when the model can restore (continuous latent, unconditional, image data). */
export function registerRestore(app: FastifyInstance, model: LatentVariableModel): boolean {
  const s = model.config.inputShape;
  if (s.length !== 3 || model.config.kind === 'vqvae' || model.numClasses || model.config.kind === 'seqvae')
    return false;
  const shape = s as ImageShape;
  const rows = { type: 'array', items: { type: 'number' }, maxItems: shape[0] * shape[1] * shape[2] };
  const schema = {
    body: {
      type: 'object',
      additionalProperties: false,
      required: ['task', 'y'],
      properties: {
        task: { enum: ['denoise', 'inpaint', 'superres'] },
        y: { type: 'array', minItems: 1, maxItems: MAX_RESTORE_ROWS, items: rows },
        noise: { enum: ['gaussian', 'bit-flip', 'salt-pepper'] },
        sigma: { type: 'number', exclusiveMinimum: 0, maximum: 10 },
        p: { type: 'number', minimum: 0, maximum: 1 },
        mask: { type: 'array', minItems: shape[0] * shape[1], maxItems: shape[0] * shape[1], items: { enum: [0, 1] } },
        factor: { type: 'integer', minimum: 2, maximum: Math.min(shape[0], shape[1]) },
        method: { enum: [...RESTORE_METHODS] },
        seed: { type: 'integer', minimum: 0, maximum: 2 ** 31 - 1 },
        samples: int(64),
        restarts: int(8),
        steps: int(500),
        iterations: int(200),
      },
    },
    response: {
      200: {
        type: 'object',
        additionalProperties: false,
        required: ['x', 'uncertainty', 'method'],
        properties: {
          x: { type: 'array', items: { type: 'array', items: { type: 'number' } } },
          uncertainty: { type: 'array', items: { type: 'array', items: { type: 'number' } } },
          method: { type: 'string' },
          acceptance: { type: 'number' },
        },
      },
      '4xx': { $ref: 'vaekit-error#' },
      '5xx': { $ref: 'vaekit-error#' },
    },
  };
  app.post<{ Body: RestoreBody }>('/api/restore', { schema }, async (req) => {
    const b = req.body;
    const method = b.method ?? 'map';
    const deg = observation(b, shape);
    try {
      checkRestorable(model, method, deg.degradation.task);
    } catch (e) {
      throw new BadRequest((e as Error).message);
    }
    const r = restoreImages(model, deg, {
      method,
      seed: b.seed,
      samples: b.samples,
      restarts: b.restarts,
      steps: b.steps,
      iterations: b.iterations,
    });
    const D = shape[0] * shape[1] * shape[2];
    const out = (v: Float32Array) =>
      Array.from({ length: deg.n }, (_, i) => Array.from(v.subarray(i * D, (i + 1) * D)));
    return {
      x: out(r.x),
      uncertainty: out(r.uncertainty),
      method: r.method,
      ...(r.acceptance !== undefined ? { acceptance: r.acceptance } : {}),
    };
  });
  return true;
}
