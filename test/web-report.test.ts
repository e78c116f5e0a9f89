// The live run report: reportEpoch writes an epoch's samples, reconstructions and KL per unit and rewrites
// RUN/index.html (atomically) from metrics.jsonl and those records; the page draws its uPlot charts in a real
// chromium (file://), one per term plus the KL bars, and shows every epoch's images.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadModel } from '../src/io/model.js';
import { reportEpoch } from '../src/io/run-epoch.js';
import { readRunData, writeRunHtml } from '../src/io/run-html.js';
import { createModel } from '../src/models/index.js';
import type { LatentVariableModel } from '../src/models/types.js';
import { elbo } from '../src/objectives/elbo.js';
import { Rng } from '../src/rng.js';
import { train } from '../src/train/trainer.js';
import { setupBackend } from './helpers.js';
import { launchChromium, root } from './web-helpers.js';

const dir = path.join(root, 'test', 'fixtures', 'models-v1', 'vae');

describe('run report (RUN/index.html)', () => {
  let model: LatentVariableModel;
  let run: string;
  before(async () => {
    await setupBackend();
    model = (await loadModel(dir)).model;
    mkdirSync('/tmp/vaekit-test', { recursive: true });
    run = mkdtempSync('/tmp/vaekit-test/run-');
  });
  after(() => model.dispose());

  it('is rebuilt after each epoch from metrics.jsonl and the epoch records', async () => {
    const n = 20;
    const test = { x: new Float32Array(n * 784).map((_, i) => ((i * 7919) % 17) / 16), n, shape: [28, 28, 1] };
    const line = (e: number) =>
      JSON.stringify({
        epoch: e,
        steps: 10,
        loss: 200 - e,
        rec: 180 - e,
        kl: 20,
        test_loss: 205 - e,
        test_rec: 185 - e,
        test_kl: 20,
      }) + '\n';
    writeFileSync(path.join(run, 'metrics.jsonl'), line(1));
    await reportEpoch(run, model, test, 1);
    const first = readFileSync(path.join(run, 'index.html'), 'utf8');
    assert.match(first, /http-equiv="refresh"/, 'mid-run the page reloads itself');
    assert.match(first, /epoch 1: loss 199\.000/);
    writeFileSync(path.join(run, 'metrics.jsonl'), line(1) + line(2) + '{"epoch": 3, "lo'); // a torn last line
    const rec = await reportEpoch(run, model, test, 2);
    assert.ok(existsSync(path.join(run, rec.samples!)) && existsSync(path.join(run, rec.reconstructions!)));
    assert.equal(rec.klPerUnit!.length, 4);
    assert.ok(rec.klPerUnit!.every((v) => v >= 0));
    const data = readRunData(run, true);
    assert.deepEqual(
      data.metrics.map((m) => m.epoch),
      [1, 2],
    );
    assert.deepEqual(
      data.epochs.map((e) => e.epoch),
      [1, 2],
    );
    await writeRunHtml(run); // `vaekit report RUN`: the finished page
    const html = readFileSync(path.join(run, 'index.html'), 'utf8');
    assert.doesNotMatch(html, /http-equiv="refresh"/);
    assert.match(html, /uPlot/);
  });

  it('draws the curves and the KL bars in chromium, and shows both epochs', async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`file://${path.join(run, 'index.html')}`);
      await page.waitForSelector('#kl .uplot');
      const charts = await page.$$eval('#curves .chart', (els) => els.map((e) => (e as HTMLElement).dataset.term));
      assert.deepEqual(charts, ['loss', 'rec', 'kl']);
      assert.equal(await page.$$eval('#curves .uplot canvas', (els) => els.length), 3);
      assert.equal(await page.getAttribute('#kl', 'data-units'), '4');
      assert.deepEqual(await page.$$eval('.epoch', (els) => els.map((e) => (e as HTMLElement).dataset.epoch)), [
        '2',
        '1',
      ]);
      const loaded = await page.$$eval('.epoch img', (els) =>
        els.every((e) => (e as HTMLImageElement).naturalWidth > 0),
      );
      assert.ok(loaded, 'the epoch images load');
      assert.deepEqual(errors, []);
      await page.screenshot({ path: path.join(root, 'test', 'artifacts', 'web-report.png'), fullPage: true });
    } finally {
      await browser.close();
    }
  });

  it("the trainer's onEpoch hook rewrites the report after every epoch, with that epoch's metrics", async () => {
    const out = mkdtempSync('/tmp/vaekit-test/train-');
    const r = new Rng(3);
    const split = (n: number) => ({
      x: new Float32Array(n * 64).map(() => (r.uniform() < 0.3 ? 1 : 0)),
      n,
      shape: [8, 8, 1],
    });
    const data = { name: 'toy', train: split(64), test: split(16), shape: [8, 8, 1], protocol: 'binary' };
    const m = createModel(
      {
        kind: 'vae',
        inputShape: [8, 8, 1],
        latentDim: 2,
        network: { type: 'mlp', hidden: [8] },
        likelihood: 'bernoulli',
      },
      new Rng(1),
    );
    const seen: string[] = [];
    await train(m, data, (mm, x, c) => elbo(mm, x, { beta: c.beta, rng: c.rng }), {
      epochs: 2,
      batchSize: 32,
      seed: 1,
      optimizer: { kind: 'adam', lr: 1e-2 },
      beta: 1,
      progress: 'none',
      outDir: out,
      dataInfo: { dataset: 'toy', protocol: 'binary', shape: [8, 8, 1] },
      log: () => {},
      onEpoch: async (metrics, model) => {
        await reportEpoch(out, model, data.test, metrics.epoch);
        seen.push(readFileSync(path.join(out, 'index.html'), 'utf8'));
      },
    });
    m.dispose();
    assert.equal(seen.length, 2);
    seen.forEach((html, i) => assert.match(html, new RegExp(`epoch ${i + 1}: loss \\d`)));
    assert.ok(existsSync(path.join(out, 'report', 'samples-002.png')));
  });

  it('refuses a directory that is not a run, naming it', () => {
    const empty = mkdtempSync('/tmp/vaekit-test/empty-');
    assert.throws(() => readRunData(empty, true), /holds no metrics\.jsonl/);
  });

  it('`vaekit report RUN` rebuilds the page, and names a directory that is not a run', () => {
    const cli = (...a: string[]) =>
      spawnSync(process.execPath, [path.join(root, 'bin', 'vaekit.js'), 'report', ...a], { encoding: 'utf8' });
    writeFileSync(path.join(run, 'index.html'), 'stale');
    const r = cli(run, '--json');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).report, path.join(run, 'index.html'));
    assert.match(readFileSync(path.join(run, 'index.html'), 'utf8'), /Learning curves/);
    const bad = cli(mkdtempSync('/tmp/vaekit-test/empty-'));
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /not a vaekit run directory/);
  });
});
