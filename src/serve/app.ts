// The fastify app of `vaekit serve` (a factory, testable without the CLI or a socket):
//   GET  /                       the explorer page (web/index.html) and /explorer.js (its bundle)
//   GET  /model/...              the model directory's files, for the page's loader (src/serve/model-files.ts)
//   GET  /api/info               what the model is (kind, shapes, classes) and what the API offers
//   GET  /api/examples           the test split's examples the explorer maps (float32 rows, base64) and labels
//   POST /api/...                src/serve/api.ts
// Every error is JSON {error, statusCode}: malformed JSON, a body that fails its schema, a non-finite number, a
// body over the limit, an unknown route (404) or method (405). Every route has a JSON schema (its body, params,
// headers and responses as it takes them): one registered without is refused at start (requireSchemas), and
// routeTable() lists them (test/serve-schemas.test.ts checks each). At most `maxInFlight` requests are handled at
// once; more get 503 with Retry-After.
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import type { MemorySplit } from '../data/types.js';
import type { ModelMeta } from '../models/files.js';
import type { CalibrationFile } from '../io/calibration.js';
import type { LatentVariableModel } from '../models/types.js';
import { registerApi } from './api.js';
import { registerModelFiles, type ModelFiles } from './model-files.js';

export interface AppOptions {
  model: LatentVariableModel;
  meta: ModelMeta;
  /** The bytes of the model directory's config.json, model.safetensors and tfjs networks, served to the page. */
  files: ModelFiles;
  /** The model directory's calibration.json, when it matches the model (/api/score flags with it). */
  calibration?: CalibrationFile;
  /** Test examples for the explorer's map. */
  examples?: MemorySplit;
  /** The explorer page: its HTML and its bundled script. */
  page?: { html: string; script: string };
  /** Requests handled at once (default 8); the rest get 503. */
  maxInFlight?: number;
  /** Largest request body in bytes (default 4 MiB). */
  bodyLimit?: number;
  logger?: boolean;
}

export const DEFAULT_MAX_IN_FLIGHT = 8;
export const DEFAULT_BODY_LIMIT = 4 * 1024 * 1024;

/** The body of every error answer. */
export const ERROR_SCHEMA = {
  $id: 'vaekit-error',
  type: 'object',
  required: ['error', 'statusCode'],
  properties: { error: { type: 'string' }, statusCode: { type: 'integer' } },
};
const errors = { '4xx': { $ref: 'vaekit-error#' }, '5xx': { $ref: 'vaekit-error#' } };

/** A route as registered: its method(s), URL and schema. */
export interface RouteInfo {
  method: string;
  url: string;
  schema?: {
    body?: unknown;
    params?: unknown;
    querystring?: unknown;
    headers?: unknown;
    response?: Record<string, unknown>;
  };
}

const tables = new WeakMap<FastifyInstance, RouteInfo[]>();

/** Every route of an app made by createApp (HEAD routes included), as registered. */
export function routeTable(app: FastifyInstance): RouteInfo[] {
  return tables.get(app) ?? [];
}

/**
 * Refuses (throws at registration) a route without a schema: a body schema on every POST, a response schema
 * on every route, a params schema where the URL has parameters. Records the routes for routeTable().
 */
export function requireSchemas(app: FastifyInstance): void {
  const table: RouteInfo[] = [];
  tables.set(app, table);
  app.addHook('onRoute', (r) => {
    const methods = Array.isArray(r.method) ? r.method : [r.method];
    const schema = r.schema as RouteInfo['schema'];
    for (const method of methods) {
      const where = `${method} ${r.url}`;
      if (!schema?.response || !schema.response['200']) throw new Error(`route ${where} has no response schema`);
      if (method === 'POST' && !schema.body) throw new Error(`route ${where} has no body schema`);
      if (r.url.includes(':') && !schema.params) throw new Error(`route ${where} has no params schema`);
      table.push({ method, url: r.url, schema });
    }
  });
}

function message(err: FastifyError, contentType: string | undefined): { status: number; error: string } {
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
    return { status: 415, error: `unsupported content-type ${contentType ?? '(none)'}: send application/json` };
  if (err.validation && err.validationContext === 'params')
    return { status: 404, error: `no such file (${err.message})` };
  if (err.validation)
    return { status: 400, error: `${err.validationContext ?? 'body'}${err.message.replace(/^body/, '')}` };
  if (err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err instanceof SyntaxError)
    return { status: 400, error: `malformed JSON: ${err.message}` };
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
    return {
      status: 413,
      error: `request body too large (the limit is ${err.message.match(/\d+/)?.[0] ?? 'set'} bytes)`,
    };
  const s = err.statusCode ?? 500;
  if (s >= 400 && s < 500) return { status: s, error: err.message };
  return { status: 500, error: `internal error: ${err.message}` };
}

export async function createApp(opts: AppOptions): Promise<FastifyInstance> {
  const bodyLimit = opts.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit,
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    return503OnClosing: true,
  });
  app.addSchema(ERROR_SCHEMA);
  requireSchemas(app);
  const limit = opts.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
  let inFlight = 0;
  const counted = new WeakSet<object>();
  app.addHook('onRequest', async (req, reply) => {
    if (inFlight >= limit) {
      reply.code(503).header('retry-after', '1');
      return reply.send({ error: `busy: ${inFlight} requests in flight (the limit); retry shortly`, statusCode: 503 });
    }
    inFlight++;
    counted.add(req);
  });
  app.addHook('onResponse', async (req) => {
    if (counted.delete(req)) inFlight--;
  });
  app.addHook('onRequestAbort', async (req) => {
    if (counted.delete(req)) inFlight--;
  });
  // closing: the requests in flight finish before the onClose hooks (which may dispose the model) run
  app.addHook('preClose', async () => {
    while (inFlight > 0) await new Promise((r) => setTimeout(r, 10));
  });

  app.setErrorHandler((err: FastifyError, req, reply) => {
    const { status, error } = message(err, req.headers['content-type']);
    if (status >= 500) req.log.error(err);
    reply.code(status).send({ error, statusCode: status });
  });

  const known = new Map<string, Set<string>>();
  app.addHook('onRoute', (r) => {
    const methods = Array.isArray(r.method) ? r.method : [r.method];
    const set = known.get(r.url) ?? new Set<string>();
    methods.forEach((m) => set.add(m));
    known.set(r.url, set);
  });
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0];
    const allowed = known.get(path);
    if (allowed) {
      const allow = [...allowed].filter((m) => m !== 'HEAD').join(', ');
      return reply
        .code(405)
        .header('allow', allow)
        .send({ error: `${req.method} is not allowed on ${path} (use ${allow})`, statusCode: 405 });
    }
    return reply.code(404).send({ error: `no route ${req.method} ${path}`, statusCode: 404 });
  });

  const { model, meta } = opts;
  const routes = registerApi(app, model, { protocol: meta.data.protocol, calibration: opts.calibration });
  const examples = opts.examples;

  const nets = registerModelFiles(app, opts.files);
  const ints = { type: 'array', items: { type: 'integer' } };
  const nullable = (t: object) => ({ anyOf: [t, { type: 'null' }] });
  app.get(
    '/api/info',
    {
      schema: {
        response: {
          200: {
            type: 'object',
            additionalProperties: false,
            required: ['kind', 'inputShape', 'latentDim', 'numClasses', 'examples', 'routes', 'tfjs', 'limits'],
            properties: {
              kind: { type: 'string' },
              inputShape: ints,
              latentDim: nullable({ type: 'integer' }),
              numClasses: nullable({ type: 'integer' }),
              classNames: nullable({ type: 'array', items: { type: 'string' } }),
              dataset: { type: 'string' },
              protocol: { type: 'string' },
              examples: { type: 'integer' },
              routes: { type: 'array', items: { type: 'string' } },
              tfjs: { type: 'array', items: { type: 'string' } },
              calibration: nullable({
                type: 'object',
                additionalProperties: false,
                properties: { score: { type: 'string' }, threshold: { type: 'number' }, targetFpr: { type: 'number' } },
              }),
              limits: {
                type: 'object',
                additionalProperties: false,
                required: ['bodyBytes', 'maxInFlight'],
                properties: { bodyBytes: { type: 'integer' }, maxInFlight: { type: 'integer' } },
              },
            },
          },
          ...errors,
        },
      },
    },
    async () => ({
      kind: model.config.kind,
      inputShape: model.config.inputShape,
      latentDim: model.config.kind === 'vqvae' ? null : model.config.latentDim,
      numClasses: model.numClasses ?? null,
      classNames: meta.data.classNames ?? null,
      dataset: meta.data.dataset,
      protocol: meta.data.protocol,
      examples: examples?.n ?? 0,
      routes,
      tfjs: nets,
      calibration: opts.calibration
        ? {
            score: opts.calibration.score,
            threshold: opts.calibration.threshold,
            targetFpr: opts.calibration.targetFpr,
          }
        : null,
      limits: { bodyBytes: bodyLimit, maxInFlight: limit },
    }),
  );
  app.get(
    '/api/examples',
    {
      schema: {
        response: {
          200: {
            type: 'object',
            additionalProperties: false,
            required: ['n', 'shape', 'x', 'y'],
            properties: {
              n: { type: 'integer', minimum: 0 },
              shape: ints,
              x: { type: 'string', contentEncoding: 'base64' },
              y: nullable(ints),
            },
          },
          ...errors,
        },
      },
    },
    async () => {
      if (!examples) return { n: 0, shape: model.config.inputShape, x: '', y: null };
      const bytes = new Uint8Array(examples.x.buffer, examples.x.byteOffset, examples.x.byteLength);
      return {
        n: examples.n,
        shape: examples.shape,
        x: Buffer.from(bytes).toString('base64'),
        y: examples.y ? [...examples.y] : null,
      };
    },
  );
  const file = { schema: { response: { 200: { type: 'string' }, ...errors } } };
  app.get(
    '/favicon.ico',
    { schema: { response: { 204: { type: 'null' }, 200: { type: 'null' }, ...errors } } },
    async (_req, reply) => reply.code(204).send(),
  );
  if (opts.page) {
    const { html, script } = opts.page;
    app.get('/', file, async (_req, reply) => reply.type('text/html; charset=utf-8').send(html));
    app.get('/explorer.js', file, async (_req, reply) => reply.type('text/javascript; charset=utf-8').send(script));
  }
  await app.ready();
  return app;
}
