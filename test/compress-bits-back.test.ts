// Bits-back coding of binary images (src/tasks/compress): exact networks against tfjs, the bit-exact round trip
// on MNIST test digits with the saved fixture models (mlp and conv), the file size against the model's −ELBO,
// the same file across backends and thread counts, and the errors for a wrong model, a damaged file and bad input.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { setupBackend, maxAbsDiff } from './helpers.js';
import { loadDataset, rowRange } from '../src/data/dataset.js';
import { evaluateElbo } from '../src/eval/likelihood.js';
import { loadModel } from '../src/io/model.js';
import { createModel } from '../src/models/index.js';
import { elbo } from '../src/objectives/elbo.js';
import type { VaeConfig } from '../src/models/configs.js';
import { Rng } from '../src/rng.js';
import { compileExact } from '../src/tasks/compress/exact-net.js';
import { compressBinaryImages, decompressBinaryImages } from '../src/tasks/compress/bits-back.js';
import { FormatError, readContainer, writeContainer } from '../src/codec/container.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const fixture = (kind: string) => path.join(root, 'test', 'fixtures', 'models-v1', kind);
await setupBackend();
const data = await loadDataset({ name: 'mnist', protocol: 'binary' });
const N = 300;
const x = rowRange(data.test, 0, N);

it('exact networks compute what the tfjs networks compute (mlp, conv with cropping, every activation)', () => {
  const configs: VaeConfig[] = [
    {
      kind: 'vae',
      inputShape: [28, 28, 1],
      latentDim: 5,
      likelihood: 'bernoulli',
      network: { type: 'mlp', hidden: [30, 20], activation: 'elu' },
    },
    {
      kind: 'vae',
      inputShape: [13, 11, 2],
      latentDim: 3,
      likelihood: 'bernoulli',
      network: { type: 'conv', channels: [4, 6], kernel: 3, stride: 2, dense: [9], activation: 'tanh' },
    },
    {
      kind: 'vae',
      inputShape: [28, 28, 1],
      latentDim: 4,
      likelihood: 'bernoulli',
      network: { type: 'conv', channels: [8, 16], kernel: 4, stride: 2, dense: [32], activation: 'softplus' },
    },
  ];
  const rng = new Rng(0);
  for (const c of configs) {
    const model = createModel(c, rng);
    const D = c.inputShape.reduce((a, b) => a * b, 1);
    for (const [name, net] of Object.entries(model.networks())) {
      const exact = compileExact(net);
      const inDim = name === 'encoder' ? D : c.latentDim;
      const input = new Float32Array(inDim).map(() =>
        name === 'encoder' ? (rng.uniform() < 0.3 ? 1 : 0) : rng.normal(),
      );
      const ref = tf.tidy(() => (net.apply(tf.tensor2d(input, [1, inDim])) as tf.Tensor).dataSync());
      const got = exact.apply(input);
      assert.equal(got.length, ref.length);
      assert.ok(maxAbsDiff(got, ref) < 1e-4, `${c.network.type} ${name}: ${maxAbsDiff(got, ref)}`);
    }
    model.dispose();
  }
});

for (const kind of ['vae', 'conv']) {
  it(`bits-back (${kind} fixture): ${N} MNIST test digits back bit for bit, file within a few % of the −ELBO`, async () => {
    const { model } = await loadModel(fixture(kind));
    const { bytes, stats } = compressBinaryImages(model, x, N);
    const back = decompressBinaryImages(model, bytes);
    assert.equal(back.count, N);
    assert.deepEqual(back.shape, [28, 28, 1]);
    assert.ok(
      back.x.every((v, i) => v === x[i]),
      'decompress(compress(x)) == x',
    );
    const rng = new Rng(0);
    let nats = 0;
    for (let r = 0; r < 4; r++)
      nats +=
        evaluateElbo(model, { x, n: N, shape: data.test.shape, y: data.test.y?.subarray(0, N) }, { rng }).total / 4;
    const elboBits = (N * nats) / Math.LN2;
    const ratio = (8 * stats.fileBytes) / elboBits;
    // the header (about 280 bytes) weighs on 300 images; the message alone is within 2%
    assert.ok(stats.messageBits / elboBits < 1.02 && ratio < 1.04 && ratio > 0.97, `file / −ELBO = ${ratio}`);
    assert.ok(stats.startupBits > 0 && stats.startupBits < 200);
    model.dispose();
  });
}

it(`bits-back (hvae fixture): ${N} MNIST test digits back bit for bit through both layers, the message at the −ELBO`, async () => {
  const { model } = await loadModel(fixture('hvae'));
  const { bytes, stats } = compressBinaryImages(model, x, N);
  const back = decompressBinaryImages(model, bytes);
  assert.ok(
    back.x.every((v, i) => v === x[i]),
    'decompress(compress(x)) == x',
  );
  let nats = 0;
  const rng = new Rng(0);
  for (let r = 0; r < 4; r++) nats += evaluateElbo(model, { x, n: N, shape: data.test.shape }, { rng }).total / 4;
  const ratio = stats.messageBits / ((N * nats) / Math.LN2);
  assert.ok(ratio > 0.97 && ratio < 1.02, `message / −ELBO = ${ratio}`);
  // the first image borrows the pops of both layers (6 units here)
  assert.ok(stats.startupBits > 0 && stats.startupBits < 200);
  // the lower layer's bucket layout travels in the header; a damaged one is named
  const { header, payload } = readContainer(bytes);
  assert.equal((header.latentLayout as number[]).length, 2 * 4);
  const bad = { ...header, latentLayout: (header.latentLayout as number[]).map((v, i) => (i === 1 ? -1 : v)) };
  assert.throws(
    () => decompressBinaryImages(model, writeContainer(bad, payload)),
    (e) => e instanceof FormatError && /latent layout/.test(e.message),
  );
  // a shifted layout decodes other numbers: caught as a stream that does not decode, never as wrong images
  const shifted = { ...header, latentLayout: (header.latentLayout as number[]).map((v, i) => (i === 0 ? v + 0.5 : v)) };
  assert.throws(
    () => decompressBinaryImages(model, writeContainer(shifted, payload)),
    (e) => e instanceof FormatError && /does not decode/.test(e.message),
  );
  model.dispose();
});

it(
  'bits-back: the same file and images with the native backend on 2 threads and with plain tfjs-cpu on 1',
  { timeout: 300_000 },
  () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vaekit-compress-'));
    const script = path.join(root, 'test', 'fixtures', 'compress', 'roundtrip.mts');
    const run = (env: Record<string, string>, ...args: string[]) =>
      execFileSync(process.execPath, ['--import', 'tsx', script, ...args], {
        cwd: root,
        env: { ...process.env, ...env },
        encoding: 'utf8',
      }).trim();
    const n = '60';
    const native = { VAEKIT_BACKEND: 'native', VAEKIT_THREADS: '2' };
    const cpu = { VAEKIT_BACKEND: 'cpu', VAEKIT_THREADS: '1' };
    const a = path.join(dir, 'a.vkz');
    const b = path.join(dir, 'b.vkz');
    const usedNative = run(native, 'compress', fixture('conv'), n, a);
    assert.equal(run(cpu, 'compress', fixture('conv'), n, b), 'cpu');
    assert.deepEqual(readFileSync(a), readFileSync(b), `the ${usedNative} and cpu files differ`);
    run(cpu, 'decompress', fixture('conv'), a, path.join(dir, 'a.bin'));
    run(native, 'decompress', fixture('conv'), b, path.join(dir, 'b.bin'));
    const want = Uint8Array.from(rowRange(data.test, 0, 60));
    assert.deepEqual(new Uint8Array(readFileSync(path.join(dir, 'a.bin'))), want);
    assert.deepEqual(new Uint8Array(readFileSync(path.join(dir, 'b.bin'))), want);
  },
);

it('bits-back: another model, a damaged stream, non-binary pixels and a Gaussian decoder each fail with one line', async () => {
  const { model } = await loadModel(fixture('vae'));
  const { model: other } = await loadModel(fixture('conv'));
  const { model: gauss } = await loadModel(fixture('vae-gauss'));
  const { bytes } = compressBinaryImages(model, x.subarray(0, 20 * 784), 20);
  assert.throws(
    () => decompressBinaryImages(other, bytes),
    (e) => e instanceof FormatError && /another model/.test(e.message),
  );
  assert.throws(() => decompressBinaryImages(model, bytes.subarray(0, bytes.length - 9)), /truncated \.vkz file/);
  // a payload changed under a valid CRC: the stream no longer ends where the coder began
  const { header, payload } = readContainer(bytes);
  for (const at of [3, Math.floor(payload.length / 2)]) {
    const bad = payload.slice();
    bad[at] ^= 0x10;
    assert.throws(
      () => decompressBinaryImages(model, writeContainer(header, bad)),
      (e) => e instanceof FormatError && /does not decode/.test(e.message),
    );
  }
  const half = Float32Array.from(x.subarray(0, 784)).fill(0.5, 100, 101);
  assert.throws(
    () => compressBinaryImages(model, half, 1),
    /value 0.5 at pixel 100 of image 0; the binary coder needs 0\/1 pixels/,
  );
  assert.throws(() => compressBinaryImages(model, x.subarray(0, 700), 1), /expected 1 images of 784 values/);
  assert.throws(() => compressBinaryImages(gauss, x.subarray(0, 784), 1), /needs a Bernoulli decoder/);
  assert.throws(() => compressBinaryImages(model, x.subarray(0, 784), 1, { latentBits: 13 }), /latent bucket bits/);
  for (const m of [model, other, gauss]) m.dispose();
});

it('bits-back, 8-bit: a discretized-logistic VAE codes raw MNIST pixels and gives their levels back exactly', async () => {
  const model = createModel(
    {
      kind: 'vae',
      inputShape: [28, 28, 1],
      latentDim: 8,
      likelihood: 'discretized-logistic',
      network: { type: 'mlp', hidden: [32] },
    },
    new Rng(0),
  );
  const raw = await loadDataset({ name: 'mnist', protocol: 'continuous' });
  const n = 30;
  const x8 = rowRange(raw.test, 0, n);
  const { bytes, stats } = compressBinaryImages(model, x8, n);
  const back = decompressBinaryImages(model, bytes);
  assert.ok(back.x.every((v, i) => v === Math.round(x8[i] * 255)));
  // untrained: the frequency floor (1/2^16 a level) can only make the file smaller than the −ELBO
  const nats = evaluateElbo(model, { x: x8, n, shape: raw.test.shape }, { rng: new Rng(0) }).total;
  assert.ok(stats.messageBits / ((n * nats) / Math.LN2) < 1.05);
  assert.throws(
    () => compressBinaryImages(model, Float32Array.from(x8.subarray(0, 784)).fill(0.001, 5, 6), 1),
    /not k\/255 of an 8-bit pixel/,
  );
  model.dispose();
});

it('bits-back, 8-bit: trained a few steps (vae per-pixel and per-image scales, hvae), raw pixels back exactly, never above the −ELBO', async () => {
  // a trained model's posteriors are sharp and its scales small, so a differing input bit (a float32 k/255
  // against the decoder's float64) or a rounding edge shows at once, where an untrained model hides it
  const raw = await loadDataset({ name: 'mnist', protocol: 'continuous' });
  const train = tf.tensor2d(rowRange(raw.train, 0, 200), [200, 784]);
  const n = 60;
  const x8 = rowRange(raw.test, 0, n);
  const base = { inputShape: [28, 28, 1], likelihood: 'discretized-logistic', network: { type: 'mlp', hidden: [48] } };
  const configs = [
    { kind: 'vae', ...base, latentDim: 8 },
    { kind: 'vae', ...base, latentDim: 8, logisticScale: 'decoder' },
    { kind: 'hvae', ...base, latentDim: 9, latentDims: [6, 3], layerHidden: [16], logisticScale: 'decoder' },
  ] as Parameters<typeof createModel>[0][];
  for (const c of configs) {
    const model = createModel(c, new Rng(0));
    const rng = new Rng(1);
    const opt = tf.train.adam(3e-3);
    const loss = () => tf.tidy(() => tf.mean(elbo(model, train, { rng }).total) as tf.Scalar);
    for (let i = 0; i < 150; i++) opt.minimize(loss, false, model.variables());
    const { bytes, stats } = compressBinaryImages(model, x8, n);
    const back = decompressBinaryImages(model, bytes);
    const name = `${c.kind}${(c as { logisticScale?: string }).logisticScale ? ' decoder scales' : ''}`;
    assert.ok(
      back.x.every((v, i) => v === Math.round(x8[i] * 255)),
      `${name}: decompress(compress(x)) == x`,
    );
    let nats = 0;
    for (let r = 0; r < 4; r++) nats += evaluateElbo(model, { x: x8, n, shape: raw.test.shape }, { rng }).total / 4;
    const ratio = stats.messageBits / ((n * nats) / Math.LN2);
    // at most the −ELBO; below it where the 2^−16 floor caps a badly predicted pixel's cost at 16 bits
    assert.ok(ratio > 0.8 && ratio < 1.02, `${name}: message / −ELBO = ${ratio}`);
    model.dispose();
  }
  train.dispose();
});
