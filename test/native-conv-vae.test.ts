// The conv VAE's fused native step (native/conv_step.cc via src/train/fused-conv-step.ts) against the
// tfjs graph on the native backend: the gradients of every parameter from the same weights and ε, one
// training step (loss and weights), the learning curve of a few epochs, and the same run twice from a
// fixed seed. Models the step does not compute (a crop in the decoder) take the tfjs path.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend/index.js';
import { getInPlaceSteps } from '../src/backend/inplace-steps.js';
import type { Dataset } from '../src/data/dataset.js';
import { createModel, type VaeConfig } from '../src/models/index.js';
import { elbo, elboObjective } from '../src/objectives/elbo.js';
import { Rng } from '../src/rng.js';
import { convVae } from '../src/train/fused-conv-step.js';
import { fusedStepFor } from '../src/train/fused-step.js';
import { Optimizer } from '../src/train/optimizers.js';
import { train, type Objective, type TrainOptions } from '../src/train/trainer.js';

async function native(): Promise<string | false> {
  try {
    await initBackend('native', true);
  } catch (e) {
    return `native backend unavailable: ${(e as Error).message}`;
  }
  return getInPlaceSteps(tf.getBackend())?.convVaeStep ? false : 'no fused conv step in this build';
}

// two layers, symmetric pads (8 → 4 → 2, kernel 4/2) and one layer with two channels and an
// asymmetric 'same' pad (6 → 3, kernel 3/2: pad 0 top, 1 bottom)
const configs: VaeConfig[] = [
  {
    kind: 'vae',
    inputShape: [8, 8, 1],
    latentDim: 3,
    network: { type: 'conv', channels: [4, 6], kernel: 4, stride: 2, dense: [10] },
    likelihood: 'bernoulli',
  },
  {
    kind: 'vae',
    inputShape: [6, 6, 2],
    latentDim: 2,
    network: { type: 'conv', channels: [5], kernel: 3, stride: 2, dense: [7, 6] },
    likelihood: 'bernoulli',
  },
];

function binary(n: number, D: number, seed: number): Float32Array {
  const r = new Rng(seed);
  // two prototypes plus noise, so that a VAE has something to learn
  return new Float32Array(n * D).map((_, i) =>
    ((i % D) % 3 === Math.floor(i / D) % 2 ? 0.85 : 0.15) > r.uniform() ? 1 : 0,
  );
}

function toyData(config: VaeConfig, n: number, seed: number): Dataset {
  const shape = config.inputShape;
  const D = shape.reduce((a, b) => a * b, 1);
  return {
    name: 'toy',
    train: { x: binary(n, D, seed), n, shape },
    test: { x: binary(32, D, seed + 1), n: 32, shape },
    shape,
    protocol: 'binary',
  };
}

const objective: Objective = (m, x, c) => elbo(m, x, { beta: c.beta, rng: c.rng });
const opts = (o: Partial<TrainOptions>): TrainOptions => ({
  epochs: 3,
  batchSize: 16,
  seed: 5,
  optimizer: { kind: 'adam', lr: 1e-2 },
  beta: 1,
  progress: 'none',
  dataInfo: { dataset: 'toy', protocol: 'binary', shape: [] },
  log: () => {},
  ...o,
});
const weights = (m: ReturnType<typeof createModel>) =>
  Object.values(m.namedParameters()).flatMap((v) => Array.from(v.dataSync()));

describe('fused conv-VAE step', () => {
  it('gives the gradients of the tfjs graph from the same weights and ε', async (t) => {
    const skip = await native();
    if (skip) return t.skip(skip);
    for (const config of configs) {
      const model = createModel(config, new Rng(3));
      const vae = convVae(model);
      assert.ok(vae, `${JSON.stringify(config.network)} is a conv VAE the step computes`);
      const nets = [vae.encConv, vae.encDense, vae.decDense, vae.decConv];
      const vars = nets.flatMap((n) => n.params);
      const names = nets.flatMap((n) => n.names);
      const n = 5,
        D = config.inputShape.reduce((a, b) => a * b, 1),
        beta = 0.7;
      const x = binary(n, D, 9);
      // tfjs: the ELBO's gradients
      const tfjs = tf.tidy(() => {
        const xt = tf.tensor2d(x, [n, D]);
        const { value, grads } = tf.variableGrads(
          () => tf.mean(elbo(model, xt, { beta, rng: new Rng(7) }).total) as tf.Scalar,
          vars,
        );
        return { loss: value.dataSync()[0], grads: vars.map((v) => grads[v.name].dataSync() as Float32Array) };
      });
      // fused: lr 0 leaves the weights as they are; grads receives the gradients
      const zeros = (v: tf.Variable) => new Float32Array(v.size);
      const grads = vars.map(zeros);
      const args = <S extends { params: tf.Variable[] }>(s: S) => ({
        ...s,
        m: s.params.map(zeros),
        s: s.params.map(zeros),
      });
      const r = getInPlaceSteps(tf.getBackend())!.convVaeStep!({
        encConv: args(vae.encConv),
        encDense: args(vae.encDense),
        decDense: args(vae.decDense),
        decConv: args(vae.decConv),
        x,
        batch: n,
        eps: () => new Rng(7).fillNormal(new Float32Array(n * config.latentDim)),
        beta,
        adam: { lr: 0, beta1: 0.9, beta2: 0.999, eps: 1e-8, t: 1 },
        grads,
      });
      assert.ok(r, 'the step ran');
      assert.ok(Math.abs(r[0] - tfjs.loss) < 1e-5 * Math.abs(tfjs.loss), `loss ${r[0]} vs tfjs ${tfjs.loss}`);
      grads.forEach((g, i) => {
        const want = tfjs.grads[i];
        const scale = want.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
        assert.ok(scale > 0, `${names[i]}: a gradient`);
        g.forEach((v, j) =>
          assert.ok(Math.abs(v - want[j]) <= 1e-4 * scale, `${names[i]}[${j}]: fused ${v} vs tfjs ${want[j]}`),
        );
      });
      model.dispose();
    }
  });

  it('is the tfjs step: same update, a learning curve near the graph’s, the same run twice', async (t) => {
    const skip = await native();
    if (skip) return t.skip(skip);
    const config = configs[0];
    const data = toyData(config, 96, 4);
    const run = async (o: Objective, epochs: number) => {
      const m = createModel(config, new Rng(5));
      const r = await train(m, data, o, opts({ epochs }));
      return { m, losses: r.metrics.map((e) => e.loss) };
    };
    // the fused step is taken for elboObjective() only (the plain closure runs the tfjs graph)
    const probe = createModel(config, new Rng(5));
    const optimizer = new Optimizer({ kind: 'adam', lr: 1e-2 });
    assert.ok(fusedStepFor(probe, elboObjective(), optimizer, { freeBits: 0 }), 'a fused step for the conv VAE');
    assert.equal(fusedStepFor(probe, objective, optimizer, { freeBits: 0 }), null, 'an untagged objective');
    probe.dispose();
    // one epoch of 6 steps each way: loss and weights agree
    const a = await run(objective, 1),
      b = await run(elboObjective(), 1);
    assert.ok(Math.abs(a.losses[0] - b.losses[0]) < 1e-5 * Math.abs(a.losses[0]), `loss ${b.losses} vs ${a.losses}`);
    const wa = weights(a.m),
      wb = weights(b.m);
    wa.forEach((w, i) => assert.ok(Math.abs(w - wb[i]) < 1e-4, `parameter ${i}: fused ${wb[i]} vs tfjs ${w}`));
    [a.m, b.m].forEach((m) => m.dispose());
    // the learning curve of 4 epochs, and the fused run repeated from the same seed: bit for bit
    const g = await run(objective, 4),
      f1 = await run(elboObjective(), 4),
      f2 = await run(elboObjective(), 4);
    assert.ok(g.losses[3] < g.losses[0], `the loss falls: ${g.losses}`);
    f1.losses.forEach((v, i) =>
      assert.ok(
        Math.abs(v - g.losses[i]) < 1e-3 * Math.abs(g.losses[i]),
        `epoch ${i + 1}: fused ${v} vs tfjs ${g.losses[i]}`,
      ),
    );
    assert.deepEqual(f2.losses, f1.losses);
    assert.deepEqual(weights(f2.m), weights(f1.m));
    [g.m, f1.m, f2.m].forEach((m) => m.dispose());
  });

  it('leaves a conv decoder with a crop to the tfjs graph', async (t) => {
    const skip = await native();
    if (skip) return t.skip(skip);
    const model = createModel({ ...configs[0], inputShape: [7, 7, 1] }, new Rng(1)); // 7 → 4 → 2 → 8, cropped to 7
    assert.equal(convVae(model), null);
    model.dispose();
  });
});
