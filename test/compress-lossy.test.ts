// Lossy compression with a VQ-VAE (src/tasks/compress/lossy.ts): the exact incremental PixelCNN against the
// tfjs prior, the exact code round trip, the decoded images equal to the model's reconstruction from the
// codes, the file size at the prior's −log₂ p(k), and the clean errors for a damaged file or a non-VQ model.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { setupBackend, maxAbsDiff } from './helpers.js';
import { loadDataset, rowRange } from '../src/data/dataset.js';
import { loadModel } from '../src/io/model.js';
import { VQVAE } from '../src/models/vqvae.js';
import type { VqvaeConfig } from '../src/models/configs.js';
import { Rng } from '../src/rng.js';
import { FormatError } from '../src/codec/container.js';
import { compileExactPrior } from '../src/tasks/compress/exact-prior.js';
import { compressLossy, decompressLossy, vqCodes, vqDecodeCodes } from '../src/tasks/compress/lossy.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const fixture = (kind: string) => path.join(root, 'test', 'fixtures', 'models-v1', kind);
await setupBackend();
const data = await loadDataset({ name: 'mnist', protocol: 'continuous' });
const N = 20;
const x = rowRange(data.test, 0, N);

const convCfg = (over: Partial<VqvaeConfig> = {}): VqvaeConfig => ({
  kind: 'vqvae',
  inputShape: [28, 28, 1],
  network: { type: 'conv', channels: [4, 6], kernel: 4, stride: 2, dense: [] },
  likelihood: 'gaussian',
  sigma: 1,
  codebookSize: 16,
  codeDim: 3,
  commitment: 0.25,
  ema: null,
  prior: { type: 'pixelcnn', channels: 6, layers: 2 },
  ...over,
});

/** A model whose prior is far from uniform (its weights scaled up), so the coded sizes say something. */
function sharpened(m: VQVAE): VQVAE {
  for (const [k, v] of Object.entries(m.namedParameters()))
    if (k.startsWith('prior.')) tf.tidy(() => v.assign(tf.mul(v, 3)));
  return m;
}

describe('lossy VQ-VAE coding', () => {
  it('the exact incremental prior gives the tfjs PixelCNN logits at every position (decoded in order)', () => {
    const m = sharpened(new VQVAE(convCfg(), new Rng(5)));
    const { codes } = vqCodes(m, x.subarray(0, 3 * 784), 3);
    const M = m.numCodes;
    const tfLogits = tf.tidy(
      () =>
        m
          .prior(3)
          .logits(tf.tensor2d(codes, [3, M], 'int32'))
          .dataSync() as Float32Array,
    );
    const ex = compileExactPrior(m.priorNet!, m.grid, m.K);
    const got = new Float64Array(3 * M * m.K);
    for (let n = 0; n < 3; n++) {
      ex.reset();
      for (let i = 0; i < M; i++) {
        got.set(ex.logits(i), (n * M + i) * m.K);
        ex.set(i, codes[n * M + i]);
      }
    }
    assert.ok(maxAbsDiff(got, tfLogits) < 1e-4, `max |Δ| ${maxAbsDiff(got, tfLogits)}`);
    ex.reset();
    assert.throws(() => ex.logits(1), /not causal/);
  });

  it('round trip: the exact codes back, the images equal the reconstruction from the codes; size at −log₂ p(k)', () => {
    for (const m of [sharpened(new VQVAE(convCfg(), new Rng(1))), new VQVAE(convCfg({ prior: null }), new Rng(2))]) {
      const { bytes, stats, codes, images } = compressLossy(m, x, N);
      const back = decompressLossy(m, bytes);
      assert.deepEqual(back.codes, codes);
      assert.deepEqual(back.images, images);
      assert.deepEqual(back.images, vqDecodeCodes(m, codes, N));
      assert.equal(back.count, N);
      // the model's own (tfjs) reconstruction from the codes: the same codes, the same pixels within a level
      const M = m.numCodes;
      const tfCodes = Array.from(tf.tidy(() => m.encodeIndices(tf.tensor2d(x, [N, 784])).dataSync()));
      const agree = tfCodes.reduce((s, v, i) => s + (v === codes[i] ? 1 : 0), 0);
      assert.ok(agree >= 0.99 * N * M, `${agree} of ${N * M} codes agree with the tfjs encoder`);
      const mean = tf.tidy(() =>
        m
          .decode(tf.tensor2d(codes, [N, M], 'int32'))
          .mean()
          .dataSync(),
      );
      const tfImages = Uint8Array.from(mean, (v) => Math.round(255 * Math.min(1, Math.max(0, v))));
      assert.ok(maxAbsDiff(tfImages, back.images) <= 1);
      // the message is the information of the coded frequencies within a few bits, and below M log₂ K with a prior
      assert.ok(Math.abs(stats.payloadBitsPerImage - stats.informationBitsPerImage) < 64 / N + 0.05 * M);
      // and that information is −log₂ p(k) of the model's (tfjs) prior, up to the quantisation to 2^16
      // (the sharpened prior puts codes below the floor of 1/2^16: a fraction of a bit a code)
      const nats = tf.tidy(() =>
        m
          .prior(N)
          .logProb(tf.tensor2d(codes, [N, M], 'int32'))
          .dataSync(),
      );
      const bits = -Array.from(nats).reduce((s, v) => s + v, 0) / N / Math.LN2;
      assert.ok(
        Math.abs(stats.informationBitsPerImage - bits) < 0.2 * M,
        `${stats.informationBitsPerImage} vs ${bits}`,
      );
      if (!m.priorNet) assert.ok(Math.abs(bits - M * 4) < 1e-3, `${bits}`);
      assert.ok(stats.psnr > 0 && stats.ssim <= 1);
      assert.equal(stats.fileBytes, bytes.length);
    }
  });

  it('the saved MLP fixture: its codes round-trip; another model, a cut or flipped file: one-line FormatErrors', async () => {
    const { model } = await loadModel(fixture('vqvae'));
    const { bytes, codes } = compressLossy(model, x, N);
    assert.deepEqual(decompressLossy(model, bytes).codes, codes);
    const other = new VQVAE(convCfg(), new Rng(9));
    const fails = (b: Uint8Array, re: RegExp, m = model) =>
      assert.throws(
        () => decompressLossy(m, b),
        (e: unknown) => e instanceof FormatError && re.test(e.message) && !e.message.includes('\n'),
      );
    fails(bytes, /compressed with another model/, other);
    fails(bytes.subarray(0, bytes.length - 7), /truncated \.vkz file/);
    const flipped = bytes.slice();
    flipped[bytes.length - 12] ^= 0x10;
    fails(flipped, /CRC of block 0 does not match/);
  });

  it('a model that is not a VQ-VAE: one line', async () => {
    const { model } = await loadModel(fixture('vae'));
    assert.throws(
      () => compressLossy(model, x.subarray(0, 2 * 784), 2),
      (e: unknown) =>
        e instanceof Error && /lossy coding codes a VQ-VAE's code grid; this model is a vae/.test(e.message),
    );
  });
});
