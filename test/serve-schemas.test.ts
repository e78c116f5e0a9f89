// Every route of `vaekit serve` has a JSON schema: for each model kind of the fixtures the app's routes are
// enumerated (fastify's onRoute hook, cross-checked with printRoutes) and each must have a response schema, a
// body schema when it takes a body, a params schema when its URL has parameters and the error schema on the
// API; the JSON each GET route answers validates against its own response schema (ajv). A route registered
// without a schema is refused when it is registered.
import assert from 'node:assert/strict';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { Ajv } from 'ajv';
import Fastify from 'fastify';
import { allRows, loadDataset, take } from '../src/data/dataset.js';
import { loadModel } from '../src/io/model.js';
import { createApp, ERROR_SCHEMA, requireSchemas, routeTable, type RouteInfo } from '../src/serve/app.js';
import { readModelFiles } from '../src/serve/model-files.js';
import { setupBackend } from './helpers.js';
import { root } from './serve-helpers.js';

const KINDS = ['vae', 'vae-gauss', 'conv', 'cvae', 'hvae', 'seqvae', 'vqvae'];
const fixture = (k: string) => path.join(root, 'test', 'fixtures', 'models-v1', k);

/** The routes printRoutes shows, as "METHOD /url". */
function printed(tree: string): string[] {
  const out: string[] = [];
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const m = /^([│ ]*)(?:[├└]── )?(\S+)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!m) continue;
    const depth = m[1].length / 4;
    stack.length = depth;
    stack.push(m[2]);
    if (m[3]) for (const method of m[3].split(', ')) out.push(`${method} ${stack.join('')}`);
  }
  return out.sort();
}

describe('serve: a JSON schema on every route', () => {
  before(async () => {
    await setupBackend();
  });

  for (const kind of KINDS)
    it(`${kind}: every route has its schemas, and the GET routes answer as their schemas say`, async () => {
      const { model, meta } = await loadModel(fixture(kind));
      const lines: string[] = [];
      const files = await readModelFiles(fixture(kind), model, (l) => lines.push(l));
      let examples;
      if (meta.data.dataset === 'mnist') {
        const t = take((await loadDataset({ name: 'mnist', protocol: meta.data.protocol })).test, 3);
        examples = { x: allRows(t), n: t.n, shape: t.shape, y: t.y };
      }
      const app = await createApp({ model, meta, files, examples, page: { html: '<p>x</p>', script: '1' } });
      try {
        const table = routeTable(app);
        const key = (r: RouteInfo) => `${r.method} ${r.url}`;
        // the table holds every route fastify has, no more
        assert.deepEqual(table.map(key).sort(), printed(app.printRoutes({ commonPrefix: false })));
        const urls = new Set(table.map((r) => r.url));
        for (const u of ['/api/info', '/api/examples', '/api/encode', '/model/config.json', '/model/model.safetensors'])
          assert.ok(urls.has(u), u);
        assert.ok(urls.has('/model/tfjs/:net/:file'), `the tfjs networks are served (${lines.join('; ')})`);
        for (const r of table) {
          const s = r.schema;
          assert.ok(s?.response, `${key(r)}: a response schema`);
          assert.ok(s.response['200'] || s.response['204'], `${key(r)}: a schema of its success answer`);
          if (r.method === 'POST') {
            const body = s.body as { type?: string; additionalProperties?: boolean; required?: string[] } | undefined;
            assert.equal(body?.type, 'object', `${key(r)}: a body schema`);
            assert.equal(body?.additionalProperties, false, `${key(r)}: the body's unknown keys refused`);
          }
          if (r.url.includes(':')) {
            const params = s.params as { properties?: Record<string, { enum?: unknown[] }> } | undefined;
            for (const p of r.url.match(/:\w+/g)!)
              assert.ok(params?.properties?.[p.slice(1)]?.enum, `${key(r)}: ${p} named from a fixed list`);
          }
          if (r.url.startsWith('/api/') || r.url.startsWith('/model/'))
            assert.deepEqual(s.response['4xx'], { $ref: 'vaekit-error#' }, `${key(r)}: the error schema`);
        }
        // the JSON of the GET routes matches their own schemas
        const ajv = new Ajv({ strict: false });
        ajv.addSchema(ERROR_SCHEMA);
        for (const r of table.filter((t) => t.method === 'GET' && t.url.startsWith('/api/'))) {
          const res = await app.inject({ url: r.url });
          assert.equal(res.statusCode, 200, r.url);
          const validate = ajv.compile(r.schema!.response!['200'] as object);
          assert.ok(validate(res.json()), `${r.url}: ${ajv.errorsText(validate.errors)}`);
        }
        const info = (await app.inject({ url: '/api/info' })).json();
        assert.equal(info.kind, model.config.kind);
        assert.equal(info.dataset, meta.data.dataset, 'a key outside `required` still answered');
        assert.deepEqual(info.tfjs, Object.keys(model.networks()));
        if (examples) assert.equal((await app.inject({ url: '/api/examples' })).json().n, 3);
        // an unknown network or file of tfjs/ is a 404 JSON error, not a path
        const bad = await app.inject({ url: '/model/tfjs/encoder/..%2f..%2fconfig.json' });
        assert.equal(bad.statusCode, 404);
        assert.match(bad.json().error, /no such file/);
      } finally {
        await app.close();
        model.dispose();
      }
    });

  it('a route without a schema is refused when it is registered', () => {
    const app = Fastify();
    requireSchemas(app);
    assert.throws(() => app.get('/api/x', async () => ({})), /route GET \/api\/x has no response schema/);
    const response = { 200: { type: 'object' } };
    assert.throws(() => app.post('/api/y', { schema: { response } }, async () => ({})), /POST \/api\/y has no body/);
    assert.throws(
      () => app.get('/f/:name', { schema: { response } }, async () => ({})),
      /GET \/f\/:name has no params schema/,
    );
    app.get('/ok', { schema: { response } }, async () => ({}));
    assert.deepEqual(
      routeTable(app).map((r) => `${r.method} ${r.url}`),
      ['GET /ok', 'HEAD /ok'],
    );
    return app.close();
  });
});
