// The dense VAE's fused native kernels against the tfjs graph on the native backend: the importance-
// sampled NLL (native/train_step.cc denseVaeLogWeights, used by src/eval/likelihood.ts) gives the figure
// of the tfjs log-weights from the same ε, for one and several chunks of samples; the training step is
// covered in trainer.test.ts ('backends agree').
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend/index.js';
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
});
