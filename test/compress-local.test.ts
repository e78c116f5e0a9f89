// The local-logistic-mixture decoder (src/distributions/local-logistic-mixture.ts) and its bits-back coding:
// the teacher-forced log-likelihood against a pixel-by-pixel float64 evaluation of the same mixture, the exact
// round trip of raw 8-bit MNIST pixels after a few training steps (4 and 8 neighbours), the message against the
// −ELBO, the same file with the native backend on 2 threads and tfjs-cpu on 1, and the config errors.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { setupBackend } from './helpers.js';
import { loadDataset, rowRange } from '../src/data/dataset.js';
import { LocalLogisticMixture, LocalPixel } from '../src/distributions/local-logistic-mixture.js';
import { evaluateElbo } from '../src/eval/likelihood.js';
import { saveModel } from '../src/io/model.js';
import { createModel } from '../src/models/index.js';
import { elbo } from '../src/objectives/elbo.js';
import { Rng } from '../src/rng.js';
import { compressBinaryImages, decompressBinaryImages } from '../src/tasks/compress/bits-back.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
await setupBackend();
const raw = await loadDataset({ name: 'mnist', protocol: 'continuous' });

it('local-logistic-mixture: the teacher-forced log P per pixel is the log of the float64 table entry, neighbours included', () => {
  const H = 5,
    W = 6,
    K = 3;
  for (const N of [4, 8]) {
    const P = 3 * K + N;
    const rng = new Rng(N);
    const B = 2;
    const out = rng.fillNormal(new Float32Array(B * H * W * P));
    for (let i = 0; i < out.length; i++) if (i % P >= 2 * K && i % P < 3 * K) out[i] = -2 + 0.5 * out[i];
    const levels = Array.from({ length: B * H * W }, (_, i) => (i * 37 + (i % 7) * 101) % 256);
    levels[0] = 0;
    levels[1] = 255;
    const x = Float32Array.from(levels, (k) => k / 255);
    const d = new LocalLogisticMixture(tf.tensor2d(out, [B, H * W * P]), H, W, K, N);
    const lp = d.logProbPerDim(tf.tensor2d(x, [B, H * W])).dataSync();
    const pix = new LocalPixel(K, N);
    const M = 2 ** 40; // the table at a fine total: its entries are the mixture's CDF to ~1e-12
    for (let b = 0; b < B; b++) {
      const row = Float64Array.from(out.subarray(b * H * W * P, (b + 1) * H * W * P));
      const xb = Float64Array.from(levels.slice(b * H * W, (b + 1) * H * W), (k) => k / 255);
      for (let p = 0; p < H * W; p++) {
        pix.set(row, xb, p, H, W);
        const k = levels[b * H * W + p];
        const want = Math.log((pix.cdfAt(k + 1, M) - pix.cdfAt(k, M) - 1) / (M - 256));
        const got = lp[b * H * W + p];
        assert.ok(Math.abs(got - want) < 2e-3 * Math.max(1, Math.abs(want)), `N ${N} pixel ${p}: ${got} vs ${want}`);
      }
    }
  }
});

it('bits-back, local-logistic-mixture: trained a few steps (4 and 8 neighbours, vae and hvae), raw MNIST pixels back exactly, at the −ELBO', async () => {
  const train = tf.tensor2d(rowRange(raw.train, 0, 200), [200, 784]);
  const n = 40;
  const x8 = rowRange(raw.test, 0, n);
  const base = {
    inputShape: [28, 28, 1],
    likelihood: 'local-logistic-mixture',
    network: { type: 'mlp', hidden: [24] },
  };
  const configs = [
    { kind: 'vae', ...base, latentDim: 6, mixtures: 2 },
    { kind: 'vae', ...base, latentDim: 6, neighbours: 8 },
    { kind: 'hvae', ...base, latentDim: 9, latentDims: [6, 3], layerHidden: [16], mixtures: 1 },
  ] as Parameters<typeof createModel>[0][];
  for (const c of configs) {
    const model = createModel(c, new Rng(0));
    const rng = new Rng(1);
    const opt = tf.train.adam(3e-3);
    const loss = () => tf.tidy(() => tf.mean(elbo(model, train, { rng }).total) as tf.Scalar);
    for (let i = 0; i < 60; i++) opt.minimize(loss, false, model.variables());
    const { bytes, stats } = compressBinaryImages(model, x8, n);
    const back = decompressBinaryImages(model, bytes);
    const name = JSON.stringify(c).slice(0, 60);
    assert.ok(
      back.x.every((v, i) => v === Math.round(x8[i] * 255)),
      `${name}: decompress(compress(x)) == x`,
    );
    let nats = 0;
    for (let r = 0; r < 4; r++) nats += evaluateElbo(model, { x: x8, n, shape: raw.test.shape }, { rng }).total / 4;
    const ratio = stats.messageBits / ((n * nats) / Math.LN2);
    assert.ok(ratio > 0.9 && ratio < 1.03, `${name}: message / −ELBO = ${ratio}`);
    model.dispose();
  }
  train.dispose();
});

it(
  'bits-back, local-logistic-mixture: the same file and pixels with the native backend on 2 threads and with plain tfjs-cpu on 1',
  { timeout: 300_000 },
  async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vaekit-compress-local-'));
    const model = createModel(
      {
        kind: 'vae',
        inputShape: [28, 28, 1],
        latentDim: 6,
        likelihood: 'local-logistic-mixture',
        neighbours: 8,
        network: { type: 'mlp', hidden: [24] },
      },
      new Rng(3),
    );
    const train = tf.tensor2d(rowRange(raw.train, 0, 200), [200, 784]);
    const rng = new Rng(4);
    const opt = tf.train.adam(3e-3);
    for (let i = 0; i < 40; i++)
      opt.minimize(
        () => tf.tidy(() => tf.mean(elbo(model, train, { rng }).total) as tf.Scalar),
        false,
        model.variables(),
      );
    train.dispose();
    const mdir = path.join(dir, 'model');
    await saveModel(mdir, model, { dataset: 'mnist', protocol: 'continuous', shape: [28, 28, 1] });
    model.dispose();
    const script = path.join(root, 'test', 'fixtures', 'compress', 'roundtrip.mts');
    const run = (env: Record<string, string>, ...args: string[]) =>
      execFileSync(process.execPath, ['--import', 'tsx', script, ...args], {
        cwd: root,
        env: { ...process.env, ...env },
        encoding: 'utf8',
      }).trim();
    const native = { VAEKIT_BACKEND: 'native', VAEKIT_THREADS: '2' };
    const cpu = { VAEKIT_BACKEND: 'cpu', VAEKIT_THREADS: '1' };
    const a = path.join(dir, 'a.vkz');
    const b = path.join(dir, 'b.vkz');
    const usedNative = run(native, 'compress', mdir, '20', a, '8bit');
    assert.equal(run(cpu, 'compress', mdir, '20', b, '8bit'), 'cpu');
    assert.deepEqual(readFileSync(a), readFileSync(b), `the ${usedNative} and cpu files differ`);
    run(cpu, 'decompress', mdir, a, path.join(dir, 'a.bin'));
    run(native, 'decompress', mdir, b, path.join(dir, 'b.bin'));
    const want = Uint8Array.from(rowRange(raw.test, 0, 20), (v) => Math.round(v * 255));
    assert.deepEqual(new Uint8Array(readFileSync(path.join(dir, 'a.bin'))), want);
    assert.deepEqual(new Uint8Array(readFileSync(path.join(dir, 'b.bin'))), want);
  },
);

it('local-logistic-mixture: bad settings each fail with one line naming the problem', () => {
  const base = { kind: 'vae', inputShape: [28, 28, 1], latentDim: 4, network: { type: 'mlp', hidden: [8] } } as const;
  const make = (c: object) => () =>
    createModel({ ...base, ...c } as unknown as Parameters<typeof createModel>[0], new Rng(0));
  assert.throws(make({ likelihood: 'local-logistic-mixture', mixtures: 0 }), /mixtures must be an integer in 1…10/);
  assert.throws(make({ likelihood: 'local-logistic-mixture', neighbours: 5 }), /neighbours must be 4 or 8, got 5/);
  assert.throws(
    make({ likelihood: 'discretized-logistic', mixtures: 2 }),
    /mixtures is a setting of the local-logistic-mixture/,
  );
  assert.throws(
    make({ likelihood: 'local-logistic-mixture', inputShape: [28, 28, 3] }),
    /needs one-channel images \[H, W, 1\], got \[28, 28, 3\]/,
  );
});
