// The browser loader (vaekit/browser's loadModelFromUrl, run here in Node with its fetch) against `vaekit serve`'s
// model files: it reads config.json and the tfjs networks, and from model.safetensors only the tensors beyond
// them by Range requests (none for a plain VAE), and the model it builds has every parameter of the Node
// loader's, bit for bit. A directory without tfjs/, or with a stale tfjs/, is served without it and loads from
// model.safetensors whole; so does a server that ignores Range. The server's Range answers.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadModel } from '../src/io/model.js';
import { loadModelFromUrl, type FetchLike } from '../src/models/load-url.js';
import type { LatentVariableModel } from '../src/models/types.js';
import { byteRange } from '../src/serve/model-files.js';
import { startServer } from '../src/serve/start.js';
import { setupBackend } from './helpers.js';
import { root } from './serve-helpers.js';

const fixture = (k: string) => path.join(root, 'test', 'fixtures', 'models-v1', k);

interface Request {
  path: string;
  range?: string;
  status: number;
  bytes: number;
}

/** fetch, with a log of each request (path, Range header, status, body bytes); `dropRange` strips Range. */
function logged(dropRange = false): { fetch: FetchLike; log: Request[] } {
  const log: Request[] = [];
  const f: FetchLike = async (url, init) => {
    const headers = dropRange ? undefined : init?.headers;
    const r = await fetch(url, { headers });
    const body = await r.arrayBuffer();
    log.push({ path: new URL(url).pathname, range: headers?.range, status: r.status, bytes: body.byteLength });
    return {
      ok: r.ok,
      status: r.status,
      headers: r.headers,
      json: async () => JSON.parse(Buffer.from(body).toString('utf8')),
      arrayBuffer: async () => body,
    };
  };
  return { fetch: f, log };
}

function assertSameParameters(a: LatentVariableModel, b: LatentVariableModel): void {
  const pa = a.namedParameters();
  const pb = b.namedParameters();
  assert.deepEqual(Object.keys(pa).sort(), Object.keys(pb).sort());
  for (const [name, v] of Object.entries(pb))
    assert.deepEqual(Array.from(pa[name].dataSync()), Array.from(v.dataSync()), name);
}

async function serveAndLoad(dir: string, dropRange = false) {
  const lines: string[] = [];
  const s = await startServer({ modelDir: dir, port: 0, examples: 0, log: (l) => lines.push(l) });
  const { fetch, log } = logged(dropRange);
  try {
    const loaded = await loadModelFromUrl(`${s.url}/model`, fetch);
    const ref = await loadModel(dir);
    try {
      assertSameParameters(loaded.model, ref.model);
    } finally {
      loaded.model.dispose();
      ref.model.dispose();
    }
    return { source: loaded.source, log, lines, nets: Object.keys(ref.model.networks()) };
  } finally {
    await s.close();
  }
}

describe('the browser loader over HTTP', () => {
  const tmp: string[] = [];
  before(async () => {
    await setupBackend();
  });
  after(() => tmp.forEach((d) => rmSync(d, { recursive: true, force: true })));
  const copy = (kind: string) => {
    const d = mkdtempSync(path.join(tmpdir(), `vaekit-files-${kind}-`));
    tmp.push(d);
    cpSync(fixture(kind), d, { recursive: true });
    return d;
  };

  for (const kind of ['vae', 'vae-gauss', 'conv', 'cvae', 'hvae', 'seqvae', 'vqvae'])
    it(`${kind}: the tfjs networks, and from model.safetensors only what they do not hold`, async () => {
      const { source, log, lines, nets } = await serveAndLoad(fixture(kind));
      assert.deepEqual(lines, []);
      assert.equal(source.networks, 'tfjs', source.fallback);
      const paths = log.map((r) => r.path);
      assert.equal(paths[0], '/model/config.json');
      for (const n of nets)
        for (const f of ['model.json', 'weights.bin']) {
          const r = log.find((q) => q.path === `/model/tfjs/${n}/${f}`);
          assert.ok(r && r.status === 200 && r.bytes > 0, `fetched tfjs/${n}/${f}`);
        }
      const st = log.filter((r) => r.path === '/model/model.safetensors');
      const beyond: Record<string, string[]> = { 'vae-gauss': ['decoder.log_var'], vqvae: ['quantizer.embedding'] };
      assert.deepEqual(source.parameters, beyond[kind] ?? []);
      if (!beyond[kind]) {
        assert.equal(source.safetensors, 'none');
        assert.deepEqual(st, [], 'a model whose parameters are all in its networks reads no model.safetensors');
      } else {
        assert.equal(source.safetensors, 'ranges');
        assert.ok(
          st.every((r) => r.status === 206 && r.range),
          JSON.stringify(st),
        );
        // the length field, the header, then each tensor beyond the networks
        assert.equal(st.length, 2 + beyond[kind].length);
        const size = statSync(path.join(fixture(kind), 'model.safetensors')).size;
        const got = st.reduce((a, r) => a + r.bytes, 0);
        assert.ok(got < size / 4, `${got} of the ${size} bytes of model.safetensors read`);
      }
    });

  it('a model directory without tfjs/: served without it, loaded from model.safetensors whole', async () => {
    const d = copy('vae-gauss');
    rmSync(path.join(d, 'tfjs'), { recursive: true });
    const { source, log, lines } = await serveAndLoad(d);
    assert.match(lines.join('\n'), /serve: the page loads model.safetensors whole \(tfjs\/encoder is missing/);
    assert.equal(source.networks, 'safetensors');
    assert.match(source.fallback ?? '', /\/model\/tfjs\/encoder\/model.json: HTTP 404/);
    assert.equal(source.safetensors, 'whole');
    const st = log.filter((r) => r.path === '/model/model.safetensors');
    assert.deepEqual(
      st.map((r) => [r.status, r.range]),
      [[200, undefined]],
    );
  });

  it('a stale tfjs/ (weights that differ from model.safetensors) is not served', async () => {
    const d = copy('vae');
    const w = path.join(d, 'tfjs', 'decoder', 'weights.bin');
    const bytes = readFileSync(w);
    new Float32Array(bytes.buffer, bytes.byteOffset, 4)[0] += 1;
    writeFileSync(w, bytes);
    const { source, lines } = await serveAndLoad(d);
    assert.match(lines.join('\n'), /tfjs\/decoder holds other weights than model.safetensors/);
    assert.equal(source.networks, 'safetensors');
  });

  it('a server that ignores Range: model.safetensors read whole, the same parameters', async () => {
    const { source, log } = await serveAndLoad(fixture('vqvae'), true);
    assert.equal(source.networks, 'tfjs');
    assert.equal(source.safetensors, 'whole');
    assert.deepEqual(
      log.filter((r) => r.path === '/model/model.safetensors').map((r) => r.status),
      [200],
    );
  });

  it("the server's Range answers", async () => {
    assert.deepEqual(byteRange('bytes=0-7', 100), { start: 0, end: 7 });
    assert.deepEqual(byteRange('bytes=90-', 100), { start: 90, end: 99 });
    assert.deepEqual(byteRange('bytes=-10', 100), { start: 90, end: 99 });
    assert.deepEqual(byteRange('bytes=95-200', 100), { start: 95, end: 99 });
    assert.equal(byteRange('bytes=100-', 100), 'unsatisfiable');
    assert.equal(byteRange('bytes=-0', 100), 'unsatisfiable');
    for (const ignored of [undefined, '', 'bytes=0-1,4-5', 'items=0-1', 'bytes=5-1', 'bytes=-']) {
      assert.equal(byteRange(ignored, 100), null, String(ignored));
    }
    const dir = fixture('vae');
    const file = readFileSync(path.join(dir, 'model.safetensors'));
    const s = await startServer({ modelDir: dir, port: 0, examples: 0, log: () => undefined });
    try {
      const get = (range?: string) => fetch(`${s.url}/model/model.safetensors`, { headers: range ? { range } : {} });
      const a = await get('bytes=8-15');
      assert.equal(a.status, 206);
      assert.equal(a.headers.get('content-range'), `bytes 8-15/${file.length}`);
      assert.deepEqual(Buffer.from(await a.arrayBuffer()), file.subarray(8, 16));
      const b = await get(`bytes=${file.length}-`);
      assert.equal(b.status, 416);
      assert.equal(b.headers.get('content-range'), `bytes */${file.length}`);
      assert.match(((await b.json()) as { error: string }).error, /not within/);
      const c = await get('bytes=0-1,4-5');
      assert.equal(c.status, 200);
      assert.equal(c.headers.get('accept-ranges'), 'bytes');
      assert.equal((await c.arrayBuffer()).byteLength, file.length);
    } finally {
      await s.close();
    }
  });
});
