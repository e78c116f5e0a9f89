// The dense VAE's fused native kernels against the tfjs graph on the native backend: the importance-
// sampled NLL (native/train_step.cc denseVaeLogWeights, used by src/eval/likelihood.ts) gives the figure
// of the tfjs log-weights from the same ε, for one and several chunks of samples; the training step's
// Adam update made inside its backward pass equals the separate pass bit for bit (the step itself is
// covered in trainer.test.ts: 'backends agree'); the NLL's ε drawn in C++ (native/rng.cc) are the Rng's
// own, value for value, with the same state after.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend/index.js';
import { loadAddon } from '../src/backend/native/addon.js';
import { getInPlaceSteps } from '../src/backend/inplace-steps.js';
import { importanceSampledNll } from '../src/eval/likelihood.js';
import { createModel, type VaeConfig } from '../src/models/index.js';
import { Rng } from '../src/rng.js';
import { denseVae } from '../src/train/fused-step.js';

async function native(): Promise<string | false> {
  try {
    await initBackend('native', true);
  } catch (e) {
    return `native backend unavailable: ${(e as Error).message}`;
  }
  return getInPlaceSteps(tf.getBackend())?.denseVaeLogWeights ? false : 'no fused kernels in this build';
}

describe('fused dense-VAE NLL', () => {
  it('equals the tfjs log-weights from the same ε (one chunk and several)', async (t) => {
    const skip = await native();
    if (skip) return t.skip(skip);
    const D = 12;
    const config: VaeConfig = {
      kind: 'vae',
      inputShape: [D],
      latentDim: 3,
      network: { type: 'mlp', hidden: [16, 8] },
      likelihood: 'bernoulli',
    };
    const model = createModel(config, new Rng(3));
    assert.ok(denseVae(model), 'the model is a dense VAE');
    const r = new Rng(9);
    const n = 7;
    const x = new Float32Array(n * D).map(() => (r.uniform() > 0.5 ? 1 : 0));
    const split = { x, n, shape: [D] };
    for (const maxRows of [10000, 40]) {
      const run = (fused: boolean) => {
        process.env.VAEKIT_FUSED_STEP = fused ? '1' : '0';
        try {
          return importanceSampledNll(model, split, { k: 50, rng: new Rng(1), maxRows });
        } finally {
          delete process.env.VAEKIT_FUSED_STEP;
        }
      };
      const a = run(false),
        b = run(true);
      assert.ok(Number.isFinite(b.nll) && b.nll > 0);
      for (let i = 0; i < n; i++)
        assert.ok(
          Math.abs(a.perExample[i] - b.perExample[i]) < 1e-4 * Math.abs(a.perExample[i]),
          `maxRows ${maxRows}, example ${i}: fused ${b.perExample[i]} vs tfjs ${a.perExample[i]}`,
        );
    }
    model.dispose();
  });

  it('the Adam update inside the backward pass equals the separate pass, bit for bit', async (t) => {
    const skip = await native();
    if (skip) return t.skip(skip);
    const { addon } = loadAddon();
    // the mlp's widths (the GEMMs split across the pool by rows and by columns) and odd ones
    for (const [enc, dec, B] of [
      [[784, 400, 40], [20, 400, 784], 128],
      [[37, 29, 6], [3, 53, 37], 13],
    ] as [number[], number[], number][]) {
      const r = new Rng(enc[0]);
      const net = (dims: number[]) => {
        const p: Float32Array[] = [];
        for (let l = 0; l + 1 < dims.length; l++)
          p.push(
            new Float32Array(dims[l] * dims[l + 1]).map(() => (r.uniform() - 0.5) * (2 / Math.sqrt(dims[l]))),
            new Float32Array(dims[l + 1]).map(() => (r.uniform() - 0.5) * 0.1),
          );
        return p;
      };
      const zeros = (p: Float32Array[]) => p.map((a) => new Float32Array(a.length));
      const D = enc[0],
        Z = dec[0];
      const x = new Float32Array(B * D).map(() => (r.uniform() > 0.6 ? 1 : 0));
      const eps = Array.from({ length: 3 }, () => r.fillNormal(new Float32Array(B * Z)));
      const init = { e: net(enc), d: net(dec) };
      const copy = (p: Float32Array[]) => p.map((a) => new Float32Array(a));
      const run = (fuse: boolean) => {
        const s = { e: copy(init.e), d: copy(init.d) };
        const m = { e: zeros(s.e), d: zeros(s.d), es: zeros(s.e), ds: zeros(s.d) };
        const losses: number[] = [];
        for (let step = 1; step <= 3; step++)
          losses.push(
            ...addon!.denseVaeStep(
              s.e,
              m.e,
              m.es,
              enc,
              s.d,
              m.d,
              m.ds,
              dec,
              x,
              eps[step - 1],
              B,
              1,
              1e-3,
              0.9,
              0.999,
              1e-8,
              step,
              fuse,
            ),
          );
        return { losses, arrays: [...s.e, ...s.d, ...m.e, ...m.d, ...m.es, ...m.ds] };
      };
      const a = run(false),
        b = run(true);
      assert.deepEqual(b.losses, a.losses);
      assert.ok(a.losses.every(Number.isFinite));
      a.arrays.forEach((arr, i) => {
        const bi = b.arrays[i];
        const diff = arr.findIndex((v, j) => !Object.is(v, bi[j]));
        assert.equal(diff, -1, `array ${i} (${enc}/${dec}): element ${diff} ${arr[diff]} vs ${bi[diff]}`);
      });
      // the update moved the parameters
      assert.ok(a.arrays[0].some((v, j) => v !== init.e[0][j]));
    }
  });

  it("the native fillNormal draws the Rng's own values and leaves it in the same state", async (t) => {
    const skip = await native();
    if (skip) return t.skip(skip);
    const steps = getInPlaceSteps(tf.getBackend())!;
    const probe = new Rng(1);
    if (!steps.fillNormal?.(probe, new Float32Array(2))) return t.skip('no native fillNormal here (V8 math not found)');
    for (const [seed, sizes] of [
      [1, [0, 1, 2, 3, 7, 1000]],
      [42, [5, 200_001, 1]],
      [7, [1_000_000]],
    ] as [number, number[]][]) {
      const js = new Rng(seed),
        nat = new Rng(seed);
      js.normal(); // start with a spare pending on both
      nat.normal();
      for (const n of sizes) {
        const a = js.fillNormal(new Float32Array(n));
        const b = new Float32Array(n);
        assert.ok(steps.fillNormal(nat, b));
        const diff = a.findIndex((v, i) => !Object.is(v, b[i]));
        assert.equal(diff, -1, `seed ${seed}, n ${n}: value ${diff} ${a[diff]} vs ${b[diff]}`);
        assert.deepEqual(nat.getState(), js.getState(), `seed ${seed}, n ${n}: state`);
      }
      assert.equal(nat.uniform(), js.uniform());
    }
  });
});
