// Recurrent encoders and decoders (src/nn/rnn.ts): the fused path computes what the tfjs-layers models
// compute (values and gradients), for GRU and LSTM, one or both directions, with and without an embedding;
// teacher forcing and step-by-step generation agree when fed the same tokens; the networks save in the
// tfjs browser format and load back with the same outputs.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initRnnNetwork, type RnnSpec } from '../src/nn/rnn.js';
import { RnnDecoder, RnnEncoder, shiftRight } from '../src/nn/rnn-fused.js';
import { Rng } from '../src/rng.js';
import { maxAbsDiff, setupBackend } from './helpers.js';

const T = 5;
const W = 6;
const B = 3;
const D = 4;

function oneHotRows(rng: Rng, n: number): tf.Tensor2D {
  const x = new Float32Array(n * T * W);
  for (let r = 0; r < n * T; r++) x[r * W + rng.int(W)] = 1;
  return tf.tensor2d(x, [n, T * W]);
}

async function roundTrip(model: tfl.LayersModel): Promise<tfl.LayersModel> {
  let saved: tf.io.ModelArtifacts | null = null;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      saved = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  const a = saved as unknown as tf.io.ModelArtifacts;
  // through JSON text, as model.json travels
  return tfl.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: JSON.parse(JSON.stringify(a.modelTopology)),
      weightSpecs: a.weightSpecs,
      weightData: a.weightData,
    }),
  );
}

const specs: RnnSpec[] = [
  { type: 'rnn', cell: 'gru', hidden: 7, embedding: 5, bidirectional: true, resetAfter: true },
  { type: 'rnn', cell: 'gru', hidden: 4, bidirectional: false, resetAfter: true },
  { type: 'rnn', cell: 'gru', hidden: 7, embedding: 5, bidirectional: true },
  { type: 'rnn', cell: 'lstm', hidden: 7, embedding: 5, bidirectional: true },
  { type: 'rnn', cell: 'gru', hidden: 4, bidirectional: false },
  { type: 'rnn', cell: 'lstm', hidden: 4, embedding: 0, bidirectional: false },
];

describe('recurrent networks', () => {
  before(setupBackend);

  for (const spec of specs) {
    const label = `${spec.cell}${spec.resetAfter ? ' (PyTorch)' : spec.cell === 'gru' ? ' (v1)' : ''}${spec.bidirectional ? ', bidirectional' : ''}${spec.embedding ? ', embedding' : ''}`;

    it(`encoder (${label}): shapes, names, the fused path = tfjs-layers (values and gradients)`, () => {
      const rng = new Rng(11);
      const enc = new RnnEncoder('encoder', spec, T, W, 2 * D);
      initRnnNetwork(enc.model, rng);
      const x = oneHotRows(rng, B);
      const fused = enc.apply(x);
      const ref = enc.model.apply(x) as tf.Tensor;
      assert.deepEqual(fused.shape, [B, 2 * D]);
      assert.ok(maxAbsDiff(fused.dataSync(), ref.dataSync()) < 1e-5);
      const params = enc.parameters();
      const names = Object.keys(params);
      assert.ok(
        names.includes('encoder.rnn.weight_ih_l0') &&
          names.includes('encoder.rnn.weight_hh_l0') &&
          names.includes('encoder.out.weight'),
      );
      assert.equal(names.includes('encoder.rnn.weight_ih_l0_reverse'), !!spec.bidirectional);
      assert.equal(names.includes('encoder.embed.weight'), !!spec.embedding);
      const G = spec.cell === 'gru' ? 3 : 4;
      assert.deepEqual(params['encoder.rnn.weight_hh_l0'].shape, [spec.hidden, G * spec.hidden]);
      // every trainable weight is named once
      assert.equal(names.length, enc.model.trainableWeights.length);
      const vars = Object.values(params);
      const w = tf.tensor2d(rng.fillNormal(new Float32Array(B * 2 * D)), [B, 2 * D]);
      const gF = tf.variableGrads(() => tf.sum(tf.mul(enc.apply(x), w)) as tf.Scalar, vars).grads;
      const gR = tf.variableGrads(() => tf.sum(tf.mul(enc.model.apply(x) as tf.Tensor, w)) as tf.Scalar, vars).grads;
      for (const v of vars) {
        const a = gF[v.name].dataSync();
        assert.ok(a.every(Number.isFinite));
        assert.ok(
          a.some((g) => g !== 0),
          `${v.name} gets a gradient`,
        );
        assert.ok(maxAbsDiff(a, gR[v.name].dataSync()) < 1e-4, `${v.name}: fused and tfjs-layers gradients agree`);
      }
    });

    it(`decoder (${label}): teacher forcing = tfjs-layers = step-by-step generation fed the same tokens`, async () => {
      const rng = new Rng(12);
      const dec = new RnnDecoder('decoder', spec, T, W, D, W);
      initRnnNetwork(dec.model, rng);
      const x = oneHotRows(rng, B);
      const z = tf.tensor2d(rng.fillNormal(new Float32Array(B * D)), [B, D]);
      const prev = shiftRight(x, W);
      assert.deepEqual(Array.from(prev.dataSync().subarray(0, W)), new Array(W).fill(0));
      assert.deepEqual(Array.from(prev.dataSync().subarray(W, 2 * W)), Array.from(x.dataSync().subarray(0, W)));
      const tf1 = dec.apply(z, prev);
      const ref = dec.model.apply([z, prev]) as tf.Tensor;
      assert.deepEqual(tf1.shape, [B, T * W]);
      assert.ok(maxAbsDiff(tf1.dataSync(), ref.dataSync()) < 1e-5);
      // step by step, feeding the true x_t back: the same logits at every step
      const xs = tf.split(x, T, 1) as tf.Tensor2D[];
      const { outputs, sequence } = dec.generate(z, (_out, t) => xs[t].clone());
      assert.ok(maxAbsDiff(outputs.dataSync(), tf1.dataSync()) < 1e-5);
      assert.deepEqual(Array.from(sequence.dataSync()), Array.from(x.dataSync()));
      // causal: changing x at the last step leaves every output unchanged (it is never an input)
      const x2 = tf.concat([tf.slice(x, [0, 0], [B, (T - 1) * W]), tf.zeros([B, W])], 1) as tf.Tensor2D;
      assert.ok(maxAbsDiff(dec.apply(z, shiftRight(x2, W)).dataSync(), tf1.dataSync()) < 1e-6);
      // gradients reach every parameter and match tfjs-layers'
      const vars = Object.values(dec.parameters());
      const wts = tf.tensor2d(rng.fillNormal(new Float32Array(B * T * W)), [B, T * W]);
      const gF = tf.variableGrads(() => tf.sum(tf.mul(dec.apply(z, prev), wts)) as tf.Scalar, vars).grads;
      const gR = tf.variableGrads(
        () => tf.sum(tf.mul(dec.model.apply([z, prev]) as tf.Tensor, wts)) as tf.Scalar,
        vars,
      ).grads;
      for (const v of vars) {
        assert.ok(
          gF[v.name].dataSync().some((g) => g !== 0),
          `${v.name} gets a gradient`,
        );
        assert.ok(maxAbsDiff(gF[v.name].dataSync(), gR[v.name].dataSync()) < 1e-4, `${v.name}: gradients agree`);
      }
      // the browser format: saved and loaded back, the same function
      const back = await roundTrip(dec.model);
      assert.ok(maxAbsDiff((back.predict([z, prev]) as tf.Tensor).dataSync(), tf1.dataSync()) < 1e-5);
    });
  }

  it('encoder saves in the browser format', async () => {
    const enc = new RnnEncoder('encoder', specs[0], T, W, 2 * D);
    initRnnNetwork(enc.model, new Rng(3));
    const x = oneHotRows(new Rng(4), B);
    const back = await roundTrip(enc.model);
    assert.ok(maxAbsDiff((back.predict(x) as tf.Tensor).dataSync(), enc.apply(x).dataSync()) < 1e-5);
  });

  it('rejects bad specs and inputs', () => {
    assert.throws(
      () => new RnnEncoder('e', { type: 'rnn', cell: 'rnn' as 'gru', hidden: 4 }, T, W, 2),
      /cell must be gru or lstm/,
    );
    assert.throws(() => new RnnEncoder('e', { type: 'rnn', cell: 'gru', hidden: 0 }, T, W, 2), /hidden/);
    const enc = new RnnEncoder('e', specs[2], T, W, 2);
    assert.throws(() => enc.apply(tf.zeros([2, T * W + 1])), /expected \[B, 30\]/);
  });
});
