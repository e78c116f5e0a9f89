// `vaekit serve` started by its command: binds 127.0.0.1, serves the explorer and the API over real HTTP,
// answers bad requests with 4xx JSON and keeps serving, and stops cleanly on SIGTERM (a request in flight
// is finished first, the exit code is 0).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { root, startServe, type Served } from './serve-helpers.js';

const model = path.join(root, 'test', 'fixtures', 'models-v1', 'vae');
const post = (url: string, body: string) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

describe('vaekit serve (the command)', () => {
  let s: Served;
  before(async () => {
    s = await startServe([model, '--port', '0', '--examples', '50', '--body-limit', '100000']);
  });
  after(() => s.stop());

  it('binds 127.0.0.1 by default and serves the page, the model files and the examples', async () => {
    assert.match(s.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const page = await fetch(`${s.url}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /vaekit explorer/);
    const js = await fetch(`${s.url}/explorer.js`);
    assert.match(js.headers.get('content-type') ?? '', /javascript/);
    assert.ok((await js.text()).length > 100_000, 'the bundle');
    const ex = (await (await fetch(`${s.url}/api/examples`)).json()) as { n: number; x: string };
    assert.equal(ex.n, 50);
    assert.equal(Buffer.from(ex.x, 'base64').length, 50 * 784 * 4);
  });

  it('answers each bad request with a 4xx JSON error and keeps serving', async () => {
    const bad: [string, () => Promise<Response>, number][] = [
      ['malformed JSON', () => post(`${s.url}/api/decode`, '{"z": [[0,'), 400],
      ['NaN', () => post(`${s.url}/api/decode`, '{"z": [[NaN, 0, 0, 0]]}'), 400],
      ['wrong shape', () => post(`${s.url}/api/decode`, '{"z": [[0, 0]]}'), 400],
      [
        'huge body',
        () =>
          post(
            `${s.url}/api/reconstruct`,
            JSON.stringify({
              x: [new Array(784).fill(0.123456789)].concat(new Array(60).fill(new Array(784).fill(0.123456789))),
            }),
          ),
        413,
      ],
      ['unknown route', () => fetch(`${s.url}/etc/passwd`), 404],
      ['path traversal', () => fetch(`${s.url}/model/..%2f..%2fpackage.json`), 404],
      ['wrong method', () => fetch(`${s.url}/api/sample`, { method: 'DELETE' }), 405],
    ];
    for (const [what, send, status] of bad) {
      const r = await send();
      assert.equal(r.status, status, what);
      const j = (await r.json()) as { error: string };
      assert.ok(typeof j.error === 'string' && j.error.length > 5, `${what}: ${JSON.stringify(j)}`);
      const good = await post(`${s.url}/api/decode`, '{"z": [[0, 0, 0, 0]]}');
      assert.equal(good.status, 200, `after ${what}`);
      assert.equal(((await good.json()) as { x: number[][] }).x[0].length, 784);
    }
  });

  it('on SIGTERM finishes the request in flight, then exits 0', async () => {
    const t = await startServe([model, '--port', '0', '--examples', '0']);
    const body = '{"z": [[0, 0, 0, 0]]}';
    const sock = connect(Number(new URL(t.url).port), '127.0.0.1');
    await new Promise<void>((r) => sock.once('connect', () => r()));
    const answer = new Promise<string>((r) => {
      let got = '';
      sock.on('data', (b) => (got += b.toString()));
      sock.on('close', () => r(got));
    });
    sock.write(
      `POST /api/decode HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n` +
        body.slice(0, 4),
    );
    await new Promise((r) => setTimeout(r, 300));
    t.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    sock.write(body.slice(4));
    assert.match(await answer, /^HTTP\/1.1 200/);
    assert.equal(await t.exited, 0);
    assert.match(t.output(), /stopped/);
  });

  it('refuses a bad port or model with one line and a non-zero exit', () => {
    const r = spawnSync(process.execPath, [path.join(root, 'bin', 'vaekit.js'), 'serve', model, '--port', '70000'], {
      encoding: 'utf8',
    });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /--port 70000 is not a port/);
    const m = spawnSync(process.execPath, [path.join(root, 'bin', 'vaekit.js'), 'serve', '/nonexistent/model'], {
      encoding: 'utf8',
    });
    assert.notEqual(m.status, 0);
    assert.match(m.stderr, /nonexistent/);
  });
});
