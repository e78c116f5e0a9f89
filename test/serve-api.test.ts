// The serve app's JSON API through fastify's inject (no socket): each route answers as the task it calls does,
// and every kind of bad request gets a 4xx JSON error naming the problem, after which a good request still works.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { loadModel } from '../src/io/model.js';
import type { LatentVariableModel } from '../src/models/types.js';
import { Rng } from '../src/rng.js';
import { createApp } from '../src/serve/app.js';
import { decodeLatent } from '../src/tasks/explore.js';
import { encode, generate, reconstruct } from '../src/tasks/generate.js';
import { degrade, restoreImages } from '../src/tasks/restore/index.js';
import { maxAbsDiff, setupBackend } from './helpers.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = path.join(root, 'test', 'fixtures', 'models-v1', 'vae');
const D = 784;
const row = (s: number) => Array.from({ length: D }, (_, i) => ((i * 7919 + s) % 13) / 12);

describe('serve API (inject)', () => {
  let app: FastifyInstance;
  let model: LatentVariableModel;
  before(async () => {
    await setupBackend();
    const loaded = await loadModel(dir);
    model = loaded.model;
    app = await createApp({
      model,
      meta: loaded.meta,
      files: {
        config: readFileSync(path.join(dir, 'config.json')),
        safetensors: readFileSync(path.join(dir, 'model.safetensors')),
      },
      bodyLimit: 256 * 1024,
    });
  });
  after(async () => {
    await app.close();
    model.dispose();
  });
  const post = (url: string, payload: unknown) => app.inject({ method: 'POST', url, payload: payload as object });

  it('encode, decode, sample, reconstruct and score answer as the tasks do', async () => {
    const xs = [row(1), row(2)];
    const flat = Float32Array.from(xs.flat());
    const e = (await post('/api/encode', { x: xs })).json();
    const want = encode(model, flat, 2);
    assert.equal(maxAbsDiff(e.mu.flat(), want.mu), 0);
    assert.equal(maxAbsDiff(e.logVar.flat(), want.logVar), 0);
    const z = [
      [0.5, -1, 0, 2],
      [0, 0, 0, 0],
    ];
    const d = await post('/api/decode', { z });
    assert.equal(d.statusCode, 200);
    assert.equal(maxAbsDiff(d.json().x.flat(), decodeLatent(model, Float32Array.from(z.flat()), 2)), 0);
    const s = (await post('/api/sample', { n: 3, seed: 5 })).json();
    assert.equal(maxAbsDiff(s.x.flat(), generate(model, 3, new Rng(5))), 0);
    const r = (await post('/api/reconstruct', { x: xs })).json();
    assert.equal(maxAbsDiff(r.x.flat(), reconstruct(model, flat, 2)), 0);
    const bin = xs.map((r) => r.map((v) => (v > 0.5 ? 1 : 0))); // a binary model scores 0/1 pixels
    const sc = await post('/api/score', { x: bin, k: 4, seed: 1 });
    assert.equal(sc.statusCode, 200, sc.body);
    assert.equal(sc.json().nll.length, 2);
    assert.ok(sc.json().negElbo.every((v: number) => v > 0));
  });

  it('restores an inpainting observation as src/tasks/restore does, and names a missing mask', async () => {
    const x = Float32Array.from(row(3));
    const mask = Array.from({ length: 784 }, (_, i) => (Math.floor(i / 28) < 14 ? 1 : 0)); // the top half seen
    const deg = degrade(x, 1, [28, 28, 1], { task: 'inpaint', mask: { kind: 'user', name: 'm', values: mask } });
    const want = restoreImages(model, deg, { method: 'naive', seed: 2, samples: 4 });
    const r = await post('/api/restore', {
      task: 'inpaint',
      y: [Array.from(deg.y)],
      mask,
      method: 'naive',
      seed: 2,
      samples: 4,
    });
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(maxAbsDiff(r.json().x[0], want.x), 0);
    assert.equal(maxAbsDiff(r.json().uncertainty[0], want.uncertainty), 0);
    const noMask = await post('/api/restore', { task: 'inpaint', y: [Array.from(deg.y)] });
    assert.equal(noMask.statusCode, 400);
    assert.match(noMask.json().error, /needs body\/mask/);
    const sr = await post('/api/restore', {
      task: 'superres',
      factor: 4,
      y: [new Array(49).fill(0.2)],
      method: 'naive',
    });
    assert.equal(sr.statusCode, 200, sr.body);
    assert.equal(sr.json().x[0].length, 784);
    const wrong = await post('/api/restore', { task: 'superres', factor: 4, y: [new Array(50).fill(0.2)] });
    assert.match(wrong.json().error, /has 50 values; a superres observation has 49/);
  });

  it('serves the model files and its description', async () => {
    const info = (await app.inject('/api/info')).json();
    assert.equal(info.kind, 'vae');
    assert.equal(info.latentDim, 4);
    assert.ok(info.routes.includes('/api/score') && info.routes.includes('/api/restore'));
    const st = await app.inject('/model/model.safetensors');
    assert.equal(st.rawPayload.length, readFileSync(path.join(dir, 'model.safetensors')).length);
  });

  it('every bad request gets a 4xx JSON error naming the problem, then a good request still works', async () => {
    const bad: [string, () => ReturnType<typeof post>, number, RegExp][] = [
      [
        'malformed JSON',
        () =>
          app.inject({
            method: 'POST',
            url: '/api/decode',
            payload: '{"z": [[1,2',
            headers: { 'content-type': 'application/json' },
          }),
        400,
        /malformed JSON/,
      ],
      [
        'NaN',
        () =>
          app.inject({
            method: 'POST',
            url: '/api/decode',
            payload: '{"z": [[NaN, 0, 0, 0]]}',
            headers: { 'content-type': 'application/json' },
          }),
        400,
        /malformed JSON/,
      ],
      ['NaN as a string', () => post('/api/decode', { z: [['NaN', 0, 0, 0]] }), 400, /body\/z\/0\/0 must be number/],
      [
        'Infinity',
        () =>
          app.inject({
            method: 'POST',
            url: '/api/decode',
            payload: '{"z": [[1e999, 0, 0, 0]]}',
            headers: { 'content-type': 'application/json' },
          }),
        400,
        /body\/z\/0\/0 must be number/,
      ],
      [
        'wrong width',
        () => post('/api/decode', { z: [[1, 2, 3]] }),
        400,
        /body\/z\/0 must NOT have fewer than 4 items/,
      ],
      ['wrong length', () => post('/api/reconstruct', { x: [row(1).slice(1)] }), 400, /fewer than 784 items/],
      ['missing field', () => post('/api/reconstruct', {}), 400, /must have required property 'x'/],
      ['extra field', () => post('/api/sample', { n: 1, path: '/etc/passwd' }), 400, /additional properties/],
      ['labels for an unconditional model', () => post('/api/sample', { n: 1, y: [1] }), 400, /additional properties/],
      ['too many rows', () => post('/api/sample', { n: 100000 }), 400, /must be <= 256/],
      [
        'a pixel the model does not take, to score',
        () =>
          post('/api/score', {
            x: [
              row(0)
                .map((v) => (v > 0.5 ? 1 : 0))
                .map((v, i) => (i === 3 ? 2 : v)),
            ],
          }),
        400,
        /body\/x\/0\/3 is 2: this model takes binary pixels \(0 or 1\)/,
      ],
      [
        'a huge body',
        () => post('/api/reconstruct', { x: Array.from({ length: 200 }, () => row(0)) }),
        413,
        /too large/,
      ],
      ['unknown route', () => app.inject({ method: 'GET', url: '/api/nothing' }), 404, /no route GET \/api\/nothing/],
      [
        'wrong method',
        () => app.inject({ method: 'GET', url: '/api/decode' }),
        405,
        /GET is not allowed on \/api\/decode \(use POST\)/,
      ],
      [
        'not JSON',
        () =>
          app.inject({
            method: 'POST',
            url: '/api/decode',
            payload: 'z=1',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
          }),
        415,
        /content-type/i,
      ],
    ];
    for (const [what, send, status, re] of bad) {
      const r = await send();
      assert.equal(r.statusCode, status, `${what}: ${r.body}`);
      const body = r.json();
      assert.match(body.error, re, what);
      assert.equal(body.statusCode, status);
      const good = await post('/api/decode', { z: [[0, 0, 0, 0]] });
      assert.equal(good.statusCode, 200, `after ${what}`);
    }
  });
});

describe('serve API of a conditional model', () => {
  it('needs one label per row, in range, and decodes given it', async () => {
    await setupBackend();
    const cdir = path.join(root, 'test', 'fixtures', 'models-v1', 'cvae');
    const { model: m, meta } = await loadModel(cdir);
    const app = await createApp({ model: m, meta, files: { config: '{}', safetensors: new Uint8Array(0) } });
    try {
      const z = [[0.1, 0.2, 0.3, 0.4]];
      const send = (payload: object) => app.inject({ method: 'POST', url: '/api/decode', payload });
      assert.match((await send({ z })).json().error, /conditioned on a label: give body\/y/);
      assert.match((await send({ z, y: [10] })).json().error, /body\/y\/0 must be <= 9/);
      assert.match((await send({ z, y: [1, 2] })).json().error, /body\/y has 2 labels for 1 rows/);
      const ok = await send({ z, y: [3] });
      assert.equal(ok.statusCode, 200);
      assert.equal(maxAbsDiff(ok.json().x[0], decodeLatent(m, Float32Array.from(z[0]), 1, [3])), 0);
      assert.equal((await app.inject('/api/info')).json().numClasses, 10);
    } finally {
      await app.close();
      m.dispose();
    }
  });
});

describe('serve concurrency', () => {
  it('answers 503 while maxInFlight requests are in flight, and serves again once they end', async () => {
    await setupBackend();
    const loaded = await loadModel(dir);
    const app = await createApp({
      model: loaded.model,
      meta: loaded.meta,
      files: { config: '{}', safetensors: new Uint8Array(0) },
      maxInFlight: 1,
    });
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      // a request whose body is still arriving holds the one slot
      const body = JSON.stringify({ z: [[0, 0, 0, 0]] });
      const sock = connect(Number(new URL(url).port), '127.0.0.1');
      await new Promise<void>((r) => sock.once('connect', () => r()));
      const answer = new Promise<string>((r) => {
        let got = '';
        sock.on('data', (b) => (got += b.toString()));
        sock.on('end', () => r(got));
      });
      sock.write(
        `POST /api/decode HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n` +
          body.slice(0, 5),
      );
      await new Promise((r) => setTimeout(r, 200));
      const busy = await fetch(`${url}/api/info`);
      assert.equal(busy.status, 503);
      assert.equal(busy.headers.get('retry-after'), '1');
      assert.match(((await busy.json()) as { error: string }).error, /busy/);
      sock.end(body.slice(5));
      assert.match(await answer, /^HTTP\/1.1 200/);
      const again = await fetch(`${url}/api/decode`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      assert.equal(again.status, 200);
    } finally {
      await app.close();
      loaded.model.dispose();
    }
  });
});
