// /api/score scores as `vaekit score` does (the complexity-corrected score of an image model, the same seed and
// passes) and flags with the threshold `vaekit calibrate` wrote; pixel values the model does not take get a 400
// naming the value (not a 500 from the reference coder). calibration.json survives a re-save of the model
// directory and is not used once the weights differ from those it was fitted with.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { readCalibration } from '../src/io/calibration.js';
import { loadModel, saveModel } from '../src/io/model.js';
import { createModel } from '../src/models/index.js';
import { Rng } from '../src/rng.js';
import { createApp } from '../src/serve/app.js';
import { setupBackend } from './helpers.js';

const BIN = path.resolve('bin/vaekit.js');
const tmp = mkdtempSync(path.join(tmpdir(), 'vaekit-serve-score-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const dir = path.join(tmp, 'vae');
cpSync(path.resolve('test/fixtures/models-v1/vae'), dir, { recursive: true });

function run(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: tmp });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

// three binary rows: a digit-like blob, noise, a blank image
const D = 784;
let seed = 11;
const bit = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) > 1073741824 ? 1 : 0);
const rows = [
  Array.from({ length: D }, (_, i) => (Math.hypot((i % 28) - 14, Math.floor(i / 28) - 14) < 7 ? 1 : 0)),
  Array.from({ length: D }, bit),
  new Array(D).fill(0),
];

describe('/api/score as vaekit score, with calibration.json', () => {
  let app: FastifyInstance;
  let cli: { corrected: number[]; flagged: number[] };
  let threshold: number;
  before(async () => {
    await setupBackend();
    const c = run(['calibrate', dir, '--fpr', '0.05', '--limit', '600', '--progress', 'none', '--json']);
    assert.equal(c.code, 0, c.stderr);
    threshold = JSON.parse(c.stdout).threshold;
    const csv = path.join(tmp, 'rows.csv');
    const header = Array.from({ length: D }, (_, j) => `p${j}`).join(',');
    writeFileSync(csv, [header, ...rows.map((r) => r.join(','))].join('\n') + '\n');
    const s = run(['score', dir, '--dataset', `csv:${csv}`, '--out', 'rows-scores.csv', '--progress', 'none']);
    assert.equal(s.code, 0, s.stderr);
    const lines = readFileSync(path.join(tmp, 'rows-scores.csv'), 'utf8').trim().split('\n');
    const head = lines[0].split(',');
    const cells = lines.slice(1).map((l) => l.split(',').map(Number));
    cli = {
      corrected: cells.map((c) => c[head.indexOf('corrected')]),
      flagged: cells.map((c) => c[head.indexOf('flagged')]),
    };
    const { model, meta } = await loadModel(dir);
    const calibration = await readCalibration(dir, model);
    assert.ok(calibration, 'calibration.json read back for the model it was fitted with');
    app = await createApp({
      model,
      meta,
      calibration,
      files: { config: '{}', safetensors: new Uint8Array() },
    });
  });
  after(() => app?.close());
  const score = (payload: unknown) => app.inject({ method: 'POST', url: '/api/score', payload: payload as object });

  it("answers the CLI's corrected score and flags with the calibrated threshold", async () => {
    const r = await score({ x: rows });
    assert.equal(r.statusCode, 200, r.body);
    const j = r.json();
    assert.equal(j.score, 'corrected');
    assert.equal(j.threshold, threshold);
    assert.equal(j.corrected.length, 3);
    j.corrected.forEach((v: number, i: number) =>
      assert.ok(
        Math.abs(v - cli.corrected[i]) <= 1e-6 * Math.abs(v),
        `row ${i}: ${v} vs the CLI's ${cli.corrected[i]}`,
      ),
    );
    assert.deepEqual(j.value, j.corrected);
    assert.deepEqual(
      j.flagged,
      cli.flagged.map((f) => f === 1),
    );
    assert.ok(j.flagged[1], 'noise is flagged');
    j.corrected.forEach((v: number, i: number) =>
      assert.ok(Math.abs(v - (j.nll[i] / Math.LN2 - j.complexityBits[i])) < 1e-6 * Math.abs(v)),
    );
    const info = (await app.inject('/api/info')).json();
    assert.equal(info.calibration.threshold, threshold);
  });

  it('refuses pixel values the model does not take with a 400 naming the value, then scores again', async () => {
    const over = rows[0].slice();
    over[5] = 1.5;
    const a = await score({ x: [rows[2], over] });
    assert.equal(a.statusCode, 400, a.body);
    assert.equal(a.json().error, 'body/x/1/5 is 1.5: this model takes binary pixels (0 or 1)');
    const gray = rows[0].map((v) => v * 0.5);
    const b = await score({ x: [gray] });
    assert.equal(b.statusCode, 400);
    assert.match(b.json().error, /^body\/x\/0\/\d+ is 0.5: this model takes binary pixels/);
    const neg = await score({ x: [rows[0].map((v, i) => (i === 0 ? -1 : v))] });
    assert.equal(neg.statusCode, 400);
    assert.equal((await score({ x: [rows[0]] })).statusCode, 200);
  });

  it('calibration.json survives a re-save; other weights make it stale, named, and unused', async () => {
    const before = readFileSync(path.join(dir, 'calibration.json'), 'utf8');
    const { model, meta } = await loadModel(dir);
    await saveModel(dir, model, meta.data, meta.training);
    assert.equal(readFileSync(path.join(dir, 'calibration.json'), 'utf8'), before);
    assert.ok(await readCalibration(dir, model), 'the same weights: still the calibration');
    const other = createModel(model.config, new Rng(99));
    await saveModel(dir, other, meta.data, meta.training);
    assert.ok(existsSync(path.join(dir, 'calibration.json')), 'kept');
    let why = '';
    assert.equal(await readCalibration(dir, other, (w) => (why = w)), undefined);
    assert.match(why, /fitted with other weights.*run vaekit calibrate/);
    model.dispose();
    other.dispose();
    const s = run(['score', dir, '--limit', '600', '--out', 'stale.csv', '--progress', 'none', '--json']);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stderr, /calibration\.json was fitted with other weights/);
    assert.equal(JSON.parse(s.stdout).threshold, undefined);
  });
});
