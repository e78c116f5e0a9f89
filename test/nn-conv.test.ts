// Convolutional encoders/decoders (src/nn/conv.ts): shapes for any H×W×C and depth, gradients, PyTorch
// initialisation, the browser (tfjs) format of the saved networks, and a conv VAE learning on real images.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { loadDataset } from '../src/data/dataset.js';
import { loadModel, saveModel } from '../src/io/model.js';
import { createModel, type VaeConfig } from '../src/models/index.js';
import {
  buildDecoderNet,
  buildEncoderNet,
  buildNetworks,
  initTorchStyle,
  netBody,
  type ConvSpec,
} from '../src/nn/index.js';
import { convSizes } from '../src/nn/conv.js';
import { elbo } from '../src/objectives/elbo.js';
import { Rng } from '../src/rng.js';
import { train } from '../src/train/trainer.js';
import { assertFiniteDifference, maxAbsDiff, setupBackend } from './helpers.js';

const conv = (channels: number[], o: Partial<ConvSpec> = {}): ConvSpec => ({
  type: 'conv',
  channels,
  kernel: 4,
  stride: 2,
  dense: [32],
  ...o,
});
const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);
const HAVE_FMNIST = existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz');

/** Loads the tfjs artefacts of a saved network the way a browser does (model.json + weights.bin). */
async function loadBrowserNet(dir: string, net: string): Promise<tfl.LayersModel> {
  const json = JSON.parse(readFileSync(path.join(dir, 'tfjs', net, 'model.json'), 'utf8'));
  const bin = readFileSync(path.join(dir, 'tfjs', net, 'weights.bin'));
  const weightData = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength);
  return tfl.loadLayersModel(
    tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData }),
  );
}

describe('convolutional networks', () => {
  const dirs: string[] = [];
  before(setupBackend);
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  for (const shape of [
    [28, 28, 1],
    [20, 12, 3],
  ]) {
    for (const depth of [1, 3]) {
      it(`${shape.join('×')}, depth ${depth}: encoder [B, D] → [B, 2d], decoder [B, d] → [B, D]`, () => {
        const channels = [8, 16, 16].slice(0, depth);
        const D = prod(shape);
        const { encoder, decoder } = buildNetworks(conv(channels), shape, 10, 5, D);
        tf.tidy(() => {
          const x = tf.randomUniform([3, D]) as tf.Tensor2D;
          assert.deepEqual((encoder.apply(x) as tf.Tensor).shape, [3, 10]);
          assert.deepEqual((decoder.apply(tf.randomNormal([3, 5])) as tf.Tensor).shape, [3, D]);
        });
        // the feature maps shrink by ⌈·/s⌉ per layer, and the decoder ends on the image again
        const sizes = convSizes(shape[0], shape[1], depth, 2);
        const convOut = encoder.layers
          .filter((l) => l.getClassName() === 'Conv2D')
          .map((l) => (l.outputShape as number[]).slice(1));
        assert.deepEqual(
          convOut,
          channels.map((c, i) => [...sizes[i + 1], c]),
        );
        assert.deepEqual((encoder.inputs[0].shape as number[]).slice(1), [D], 'the browser model takes flat rows');
        assert.deepEqual((decoder.outputs[0].shape as number[]).slice(1), [D]);
        encoder.dispose();
        decoder.dispose();
      });
    }
  }

  it('the canonical conv model of PROTOCOL.md has its layers and PyTorch-layout parameters', () => {
    const m = createModel(
      {
        kind: 'vae',
        inputShape: [28, 28, 1],
        latentDim: 16,
        network: conv([32, 64], { dense: [256] }),
        likelihood: 'bernoulli',
      },
      new Rng(1),
    );
    const shapes = Object.fromEntries(Object.entries(m.namedParameters()).map(([k, v]) => [k, v.shape]));
    // tfjs layouts (saved permuted: Conv2d [out, in, kh, kw], ConvTranspose2d [in, out, kh, kw], Linear [out, in])
    assert.deepEqual(Object.values(shapes), [
      [4, 4, 1, 32],
      [32],
      [4, 4, 32, 64],
      [64],
      [3136, 256],
      [256],
      [256, 32],
      [32], // encoder
      [16, 256],
      [256],
      [256, 3136],
      [3136],
      [4, 4, 32, 64],
      [32],
      [4, 4, 1, 32],
      [1], // decoder
    ]);
    // flattened in C·H·W order, as nn.Flatten after nn.Conv2d
    const enc = (m.networks().encoder as tfl.LayersModel).layers.map((l) => l.getClassName());
    assert.deepEqual(enc, ['InputLayer', 'Reshape', 'Conv2D', 'Conv2D', 'Permute', 'Flatten', 'Dense', 'Dense']);
    const dec = (m.networks().decoder as tfl.LayersModel).layers.map((l) => l.getClassName());
    assert.deepEqual(dec, [
      'InputLayer',
      'Dense',
      'Dense',
      'Reshape',
      'Permute',
      'Conv2DTranspose',
      'Conv2DTranspose',
      'Flatten',
    ]);
    m.dispose();
  });

  it('PyTorch-default initialisation: uniform ±1/√fan_in for conv, transposed conv and dense layers', () => {
    const { encoder, decoder } = buildNetworks(conv([6, 10], { kernel: 3 }), [12, 10, 2], 8, 4, 240);
    initTorchStyle(encoder, new Rng(3));
    initTorchStyle(decoder, new Rng(4));
    // PyTorch fan_in: Conv2d in·k·k; ConvTranspose2d (weight [in, out, k, k]) out·k·k; Linear in
    const expected: Record<string, number> = {
      encoder_conv0: 2 * 9,
      encoder_conv1: 6 * 9,
      encoder_dense0: 10 * 3 * 3,
      encoder_out: 32,
      decoder_dense0: 4,
      decoder_map: 32,
      decoder_deconv0: 6 * 9,
      decoder_deconv1: 2 * 9,
    };
    for (const layer of [...encoder.layers, ...decoder.layers]) {
      if (layer.getWeights().length === 0) continue;
      const fan = expected[layer.name];
      assert.ok(fan, `unexpected layer ${layer.name}`);
      const bound = 1 / Math.sqrt(fan);
      for (const w of layer.getWeights()) {
        const m = Array.from(w.dataSync() as Float32Array).reduce((a, b) => Math.max(a, Math.abs(b)), 0);
        assert.ok(m <= bound + 1e-7 && m > 0.6 * bound, `${layer.name}: max |w| ${m} vs bound ${bound}`);
      }
    }
    encoder.dispose();
    decoder.dispose();
  });

  it('gradients: analytic (through conv and transposed conv, crop and permutes) match finite differences', async () => {
    // a smooth (tanh) net on an odd 7×5×2 image, depth 2, so the decoder crops 8×8 → 7×5
    const spec = conv([3, 4], { kernel: 3, dense: [5], activation: 'tanh' });
    const shape = [7, 5, 2];
    const D = prod(shape);
    const { encoder, decoder } = buildNetworks(spec, shape, 4, 4, D);
    initTorchStyle(encoder, new Rng(5));
    initTorchStyle(decoder, new Rng(6));
    assert.ok(decoder.layers.some((l) => l.getClassName() === 'Cropping2D'));
    const r = new Rng(7);
    const x = tf.tensor2d(r.fillUniform(new Float32Array(2 * D)), [2, D]);
    const wOut = tf.tensor2d(r.fillNormal(new Float32Array(2 * D)), [2, D]);
    const loss = () =>
      tf.tidy(
        () => tf.sum(tf.mul(decoder.apply(tf.tanh(encoder.apply(x) as tf.Tensor)) as tf.Tensor, wOut)) as tf.Scalar,
      );
    const vars = [...encoder.trainableWeights, ...decoder.trainableWeights].map((w) => w.read() as tf.Variable);
    const { grads, value } = tf.variableGrads(loss, vars);
    value.dispose();
    let checked = 0;
    for (const v of vars) {
      const g = grads[v.name].dataSync();
      assert.ok(g.every(Number.isFinite), `${v.name}: non-finite gradient`);
      assert.ok(
        g.some((a) => a !== 0),
        `${v.name}: zero gradient`,
      );
      for (const i of [0, Math.floor(v.size / 2), v.size - 1]) {
        assertFiniteDifference(v, loss, g, i, v.name);
        checked++;
      }
    }
    assert.ok(checked >= 3 * 16);
    tf.dispose([x, wOut, ...Object.values(grads)]);
    encoder.dispose();
    decoder.dispose();
  });

  it('a conditional network takes [x, onehot(y)] and its output depends on the label', () => {
    for (const spec of [conv([4]), { type: 'mlp' as const, hidden: [8] }]) {
      for (const embed of [undefined, 3]) {
        const enc = buildEncoderNet('enc', netBody(spec), [8, 6, 1], 6, { classes: 4, embed });
        const dec = buildDecoderNet('dec', netBody(spec), 3, [8, 6, 1], { classes: 4, embed });
        initTorchStyle(enc, new Rng(1));
        initTorchStyle(dec, new Rng(2));
        tf.tidy(() => {
          const x = tf.randomUniform([2, 48]);
          const y0 = tf.cast(tf.oneHot(tf.tensor1d([0, 0], 'int32'), 4), 'float32');
          const y1 = tf.cast(tf.oneHot(tf.tensor1d([1, 1], 'int32'), 4), 'float32');
          const a = enc.apply([x, y0]) as tf.Tensor;
          assert.deepEqual(a.shape, [2, 6]);
          assert.ok(maxAbsDiff(a.dataSync(), (enc.apply([x, y1]) as tf.Tensor).dataSync()) > 1e-4);
          const z = tf.randomNormal([2, 3]);
          const b = dec.apply([z, y0]) as tf.Tensor;
          assert.deepEqual(b.shape, [2, 48]);
          assert.ok(maxAbsDiff(b.dataSync(), (dec.apply([z, y1]) as tf.Tensor).dataSync()) > 1e-4);
        });
        assert.equal(
          enc.layers.some((l) => l.name === 'enc_embed'),
          embed !== undefined,
        );
        enc.dispose();
        dec.dispose();
      }
    }
  });

  it('rejects what it cannot build, with clear messages', () => {
    assert.throws(() => buildNetworks(conv([8]), [784], 4, 2, 784), /image-shaped inputs \[H, W, C\]/);
    assert.throws(() => buildNetworks(conv([]), [8, 8, 1], 4, 2, 64), /channels must be one or more/);
    assert.throws(() => buildNetworks(conv([8], { stride: 0 }), [8, 8, 1], 4, 2, 64), /stride/);
    assert.throws(() => buildNetworks({ type: 'rbf' } as never, [8], 4, 2, 8), /unknown network type "rbf"/);
  });

  it('a conv VAE on 20×12×3 saves and loads: identical outputs, and the tfjs networks work as a browser loads them', async () => {
    const config: VaeConfig = {
      kind: 'vae',
      inputShape: [20, 12, 3],
      latentDim: 6,
      network: conv([8, 16, 16], { dense: [24] }),
      likelihood: 'gaussian',
      sigma: 0.5,
    };
    const m = createModel(config, new Rng(8));
    const dir = mkdtempSync(path.join(tmpdir(), 'vaekit-conv-'));
    dirs.push(dir);
    await saveModel(path.join(dir, 'model'), m, { dataset: 'toy', protocol: 'continuous', shape: [20, 12, 3] });
    const { model: back } = await loadModel(path.join(dir, 'model'));
    const x = tf.tensor2d(new Rng(9).fillUniform(new Float32Array(4 * 720)), [4, 720]);
    const [a, b] = [m, back].map((mm) => tf.tidy(() => elbo(mm, x, { rng: new Rng(10) }).total.dataSync()));
    assert.deepEqual(Array.from(a), Array.from(b));
    for (const net of ['encoder', 'decoder'] as const) {
      const browser = await loadBrowserNet(path.join(dir, 'model'), net);
      const input = net === 'encoder' ? x : tf.randomNormal([4, 6]);
      const want = (m.networks()[net].apply(input) as tf.Tensor).dataSync();
      const got = (browser.predict(input) as tf.Tensor).dataSync();
      assert.ok(maxAbsDiff(want, got) < 1e-5, `${net}: browser model differs by ${maxAbsDiff(want, got)}`);
      browser.dispose();
    }
    [m, back].forEach((mm) => mm.dispose());
  });

  it(`the conv VAE learns on real images (${HAVE_FMNIST ? 'Fashion-MNIST' : 'MNIST'}, 600 examples): the loss falls`, async () => {
    const data = await loadDataset({ name: HAVE_FMNIST ? 'fashion-mnist' : 'mnist', protocol: 'binary', limit: 600 });
    const m = createModel(
      {
        kind: 'vae',
        inputShape: data.shape,
        latentDim: 8,
        network: conv([16, 32], { dense: [64] }),
        likelihood: 'bernoulli',
      },
      new Rng(11),
    );
    const r = await train(m, data, (mm, x, c) => elbo(mm, x, { rng: c.rng, beta: c.beta }), {
      epochs: 3,
      batchSize: 50,
      seed: 1,
      optimizer: { kind: 'adam', lr: 2e-3 },
      beta: 1,
      progress: 'none',
      dataInfo: { dataset: data.name, protocol: 'binary', shape: data.shape },
      log: () => {},
    });
    const losses = r.metrics.map((e) => e.loss);
    assert.ok(losses[2] < losses[0] - 30, `loss per epoch ${losses.map((l) => l.toFixed(1))}`);
    m.dispose();
  });
});
