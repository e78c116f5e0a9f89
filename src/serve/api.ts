// The JSON API of `vaekit serve`: one route per use of a model, each with a JSON schema for its body built
// from the model (rows of exactly D = prod(inputShape) numbers, z rows of its latent width, labels in
// range), so a wrong shape is refused by the schema before a handler runs. The handlers only convert
// between JSON and flat arrays and call src/tasks: no math here.
//
//   POST /api/encode       {x: [[…D]], y?}                → {mu, logVar} (a VQ-VAE: {codes})
//   POST /api/decode       {z: [[…d]], y?}                → {x}          E[x | z]
//   POST /api/sample       {n, seed?, temperature?, y?}   → {x}          z ~ p(z), E[x | z]
//   POST /api/reconstruct  {x, y?}                        → {x}          E[x | z = μ(x)]
//   POST /api/score        {x, y?, k?, seed?}             → {negElbo, nll, rec, kl, corrected?, …, score, value,
//                                                            threshold?, flagged?}   (src/tasks/anomaly.ts, scored
//                                                            as `vaekit score` does, flagged with calibration.json)
//   POST /api/restore      src/serve/restore.ts (image models with a continuous latent, no label)
import type { FastifyInstance } from 'fastify';
import type { LatentVariableModel } from '../models/types.js';
import { Rng } from '../rng.js';
import { defaultScore, pixelRule, pixelViolation, SCORER_DEFAULTS, scoreBatch } from '../tasks/anomaly.js';
import type { CalibrationFile } from '../io/calibration.js';
import { decodeLatent } from '../tasks/explore.js';
import { encode, encodeCodes, generate, reconstruct } from '../tasks/generate.js';
import { BadRequest } from './errors.js';
import { registerRestore } from './restore.js';

/** Most rows in one request (the body limit bounds the bytes too). */
export const MAX_ROWS = 256;
/** Most importance samples of /api/score. */
export const MAX_SCORE_K = 64;

export { BadRequest };

const numberRows = (width: number) => ({
  type: 'array',
  minItems: 1,
  maxItems: MAX_ROWS,
  items: { type: 'array', minItems: width, maxItems: width, items: { type: 'number' } },
});
const rowsOut = { type: 'array', items: { type: 'array', items: { type: 'number' } } };

/** Flat Float32Array of rows, or a 400 naming the first value that is not finite (JSON's 1e999 is Infinity). */
function flat(rows: number[][], what: string): Float32Array {
  const w = rows[0].length;
  const out = new Float32Array(rows.length * w);
  rows.forEach((r, i) =>
    r.forEach((v, j) => {
      if (!Number.isFinite(v)) throw new BadRequest(`${what}[${i}][${j}] is ${v}, not a finite number`);
      out[i * w + j] = v;
    }),
  );
  return out;
}

function unflat(x: ArrayLike<number>, n: number): number[][] {
  const w = x.length / n;
  return Array.from({ length: n }, (_, i) => Array.from({ length: w }, (_, j) => x[i * w + j]));
}

function checkLabels(model: LatentVariableModel, y: number[] | undefined, n: number): number[] | undefined {
  const K = model.numClasses;
  if (!K) {
    if (y !== undefined) throw new BadRequest(`this ${model.config.kind} takes no labels (body/y)`);
    return undefined;
  }
  if (y === undefined)
    throw new BadRequest(`this ${model.config.kind} is conditioned on a label: give body/y, one per row`);
  if (y.length !== n) throw new BadRequest(`body/y has ${y.length} labels for ${n} rows`);
  return y;
}

export interface ApiOptions {
  /** The data protocol the model was trained on (config.json's data.protocol): /api/score checks pixel values. */
  protocol?: string;
  /** The model directory's calibration.json (when it matches the model): /api/score flags with its threshold. */
  calibration?: CalibrationFile;
}

export function registerApi(app: FastifyInstance, model: LatentVariableModel, opts: ApiOptions = {}): string[] {
  const D = model.config.inputShape.reduce((a, b) => a * b, 1);
  const K = model.numClasses;
  const vq = model.config.kind === 'vqvae';
  const latent = vq ? 0 : model.config.latentDim;
  const y = K ? { type: 'array', maxItems: MAX_ROWS, items: { type: 'integer', minimum: 0, maximum: K - 1 } } : {};
  const body = (props: Record<string, unknown>, required: string[]) => ({
    type: 'object',
    additionalProperties: false,
    required,
    properties: { ...props, ...(K ? { y } : {}) },
  });
  const out = (props: Record<string, unknown>) => ({
    200: { type: 'object', additionalProperties: false, properties: props },
    '4xx': { $ref: 'vaekit-error#' },
    '5xx': { $ref: 'vaekit-error#' },
  });
  const routes: string[] = [];
  const post = <B>(url: string, schema: object, handler: (b: B) => unknown | Promise<unknown>) => {
    routes.push(url);
    app.post<{ Body: B }>(url, { schema }, async (req) => handler(req.body as B));
  };

  type Rows = { x: number[][]; y?: number[] };
  post<Rows>(
    '/api/encode',
    {
      body: body({ x: numberRows(D) }, ['x']),
      response: out({ mu: rowsOut, logVar: rowsOut, codes: rowsOut }),
    },
    (b) => {
      const x = flat(b.x, 'body/x');
      const n = b.x.length;
      const labels = checkLabels(model, b.y, n);
      if (vq) return { codes: unflat(encodeCodes(model, x, n).codes, n) };
      const e = encode(model, x, n, labels);
      return { mu: unflat(e.mu, n), logVar: unflat(e.logVar, n) };
    },
  );

  if (!vq)
    post<{ z: number[][]; y?: number[] }>(
      '/api/decode',
      { body: body({ z: numberRows(latent) }, ['z']), response: out({ x: rowsOut }) },
      (b) => {
        const n = b.z.length;
        return { x: unflat(decodeLatent(model, flat(b.z, 'body/z'), n, checkLabels(model, b.y, n)), n) };
      },
    );

  post<{ n: number; seed?: number; temperature?: number; y?: number[] }>(
    '/api/sample',
    {
      body: body(
        {
          n: { type: 'integer', minimum: 1, maximum: MAX_ROWS },
          seed: { type: 'integer', minimum: 0, maximum: 2 ** 31 - 1 },
          temperature: { type: 'number', exclusiveMinimum: 0, maximum: 10 },
        },
        ['n'],
      ),
      response: out({ x: rowsOut }),
    },
    (b) => {
      const opts = { temperature: b.temperature, y: checkLabels(model, b.y, b.n) };
      return { x: unflat(generate(model, b.n, new Rng(b.seed ?? 0), opts), b.n) };
    },
  );

  post<Rows>('/api/reconstruct', { body: body({ x: numberRows(D) }, ['x']), response: out({ x: rowsOut }) }, (b) => {
    const n = b.x.length;
    return { x: unflat(reconstruct(model, flat(b.x, 'body/x'), n, checkLabels(model, b.y, n)), n) };
  });

  const scores = { type: 'array', items: { type: 'number' } };
  const cal = opts.calibration;
  const protocol = opts.protocol ?? '';
  post<Rows & { k?: number; seed?: number }>(
    '/api/score',
    {
      body: body(
        {
          x: numberRows(D),
          k: { type: 'integer', minimum: 1, maximum: MAX_SCORE_K },
          seed: { type: 'integer', minimum: 0, maximum: 2 ** 31 - 1 },
        },
        ['x'],
      ),
      response: out({
        negElbo: scores,
        nll: scores,
        rec: scores,
        kl: scores,
        complexityBits: scores,
        corrected: scores,
        llr: scores,
        regret: scores,
        k: { type: 'integer' },
        score: { type: 'string' },
        value: scores,
        threshold: { type: 'number' },
        flagged: { type: 'array', items: { type: 'boolean' } },
        calibration: {
          type: 'object',
          properties: {
            data: { type: 'string' },
            targetFpr: { type: 'number' },
            achievedFpr: { type: 'number' },
            n: { type: 'integer' },
          },
        },
      }),
    },
    async (b) => {
      const n = b.x.length;
      const labels = checkLabels(model, b.y, n);
      const x = flat(b.x, 'body/x');
      // the reference coder of the corrected score (and the CLI) take pixels of the model's protocol only
      const bad = pixelViolation(x, protocol);
      if (bad)
        throw new BadRequest(
          `body/x/${Math.floor(bad.index / D)}/${bad.index % D} is ${bad.value}: this model takes ${pixelRule(protocol)}`,
        );
      const rows = { x, n, shape: model.config.inputShape, y: labels && Int32Array.from(labels) };
      // as `vaekit score`: the same seed, passes and k as the calibration (unless asked otherwise)
      const s = await scoreBatch(model, rows, {
        rng: new Rng(b.seed ?? SCORER_DEFAULTS.seed),
        k: b.k ?? Math.min(cal?.k ?? 1, MAX_SCORE_K),
        batchSize: SCORER_DEFAULTS.batchSize,
        maxRows: SCORER_DEFAULTS.maxRows,
        regret: cal?.score === 'regret' ? { steps: cal.regretSteps ?? 20 } : null,
      });
      const name = cal?.score ?? defaultScore(model, s.corrected !== undefined);
      const value = s[name];
      if (!value)
        throw new Error(`the ${name} score of calibration.json is not computed for this ${model.config.kind}`);
      const opt = (k: 'complexityBits' | 'corrected' | 'llr' | 'regret') => (s[k] ? { [k]: [...s[k]] } : {});
      return {
        negElbo: [...s.negElbo],
        nll: [...s.nll],
        rec: [...s.rec],
        kl: [...s.kl],
        ...opt('complexityBits'),
        ...opt('corrected'),
        ...opt('llr'),
        ...opt('regret'),
        k: s.k,
        score: name,
        value: [...value],
        ...(cal
          ? {
              threshold: cal.threshold,
              flagged: [...value].map((v) => v > cal.threshold),
              calibration: { data: cal.data, targetFpr: cal.targetFpr, achievedFpr: cal.achievedFpr, n: cal.n },
            }
          : {}),
      };
    },
  );
  if (registerRestore(app, model)) routes.push('/api/restore');
  return routes;
}
