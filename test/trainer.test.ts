import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, renameSync, rmSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import type { Dataset } from '../src/data/dataset.js';
import { loadModel } from '../src/io/model.js';
import { createModel, type VaeConfig } from '../src/models/index.js';
import { elbo, elboObjective } from '../src/objectives/elbo.js';
import { Rng } from '../src/rng.js';
import { train, TrainingDivergedError, type Objective, type TrainOptions } from '../src/train/trainer.js';
import { Optimizer } from '../src/train/optimizers.js';
import { fusedStepFor } from '../src/train/fused-step.js';
import { hasCheckpoint } from '../src/train/checkpoint.js';
import { betaAt, lrAt, parseLrSchedule } from '../src/train/schedules.js';
import { setupBackend } from './helpers.js';

// Binary "images": two prototypes plus noise, so a VAE has something to learn.
function toyData(n: number, seed: number): Dataset {
  const r = new Rng(seed);
  const D = 16;
  const make = (m: number) => {
    const x = new Float32Array(m * D);
    for (let i = 0; i < m; i++) {
      const c = i % 2;
      for (let d = 0; d < D; d++) x[i * D + d] = (d % 2 === c ? 0.9 : 0.1) > r.uniform() ? 1 : 0;
    }
    return { x, n: m, shape: [D] };
  };
  return { name: 'toy', train: make(n), test: make(64), shape: [D], protocol: 'binary' };
}

const config: VaeConfig = {
  kind: 'vae',
  inputShape: [16],
  latentDim: 2,
  network: { type: 'mlp', hidden: [8] },
  likelihood: 'bernoulli',
};
const objective: Objective = (m, x, c) => elbo(m, x, { beta: c.beta, rng: c.rng });
const dataInfo = { dataset: 'toy', protocol: 'binary', shape: [16] };
const opts = (o: Partial<TrainOptions>): TrainOptions => ({
  epochs: 3,
  batchSize: 32,
  seed: 5,
  optimizer: { kind: 'adam', lr: 3e-2 },
  beta: 1,
  progress: 'none',
  dataInfo,
  log: () => {},
  ...o,
});

function weights(model: ReturnType<typeof createModel>): number[] {
  return Object.values(model.namedParameters()).flatMap((v) => Array.from(v.dataSync()));
}

describe('trainer', () => {
  const dirs: string[] = [];
  const tmp = () => {
    const d = mkdtempSync(path.join(tmpdir(), 'vaekit-train-'));
    dirs.push(d);
    return d;
  };
  before(setupBackend);
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  const data = toyData(512, 1);

  it('learns: the loss falls, and a fixed seed gives the same run twice', async () => {
    const run = async () => {
      const model = createModel(config, new Rng(5));
      const r = await train(model, data, objective, opts({ evaluate: () => ({ total: 1 }) }));
      const w = weights(model);
      model.dispose();
      return { r, w };
    };
    const a = await run();
    const b = await run();
    assert.ok(a.r.metrics[2].loss < a.r.metrics[0].loss - 0.5, `loss ${a.r.metrics.map((m) => m.loss)}`);
    assert.deepEqual(a.w, b.w);
    assert.deepEqual(
      a.r.metrics.map((m) => m.loss),
      b.r.metrics.map((m) => m.loss),
    );
    assert.equal(a.r.metrics[0].test_loss, 1);
  });

  it('resume continues exactly where an interrupted run stopped (epoch ends and mid-epoch)', async () => {
    const full = tmp();
    const m1 = createModel(config, new Rng(5));
    const r1 = await train(m1, data, objective, opts({ outDir: full }));
    // interrupted after 1 epoch + 3 steps (the checkpoint at step 3 of epoch 2 is the last one)
    const part = tmp();
    const m2 = createModel(config, new Rng(5));
    await train(m2, data, objective, opts({ outDir: part, maxSteps: 16 + 5, checkpointEvery: 3 }));
    m2.dispose();
    const m3 = createModel(config, new Rng(99)); // different init: everything must come from the checkpoint
    const r3 = await train(m3, data, objective, opts({ outDir: part, resume: true }));
    assert.deepEqual(weights(m3), weights(m1));
    assert.deepEqual(
      r3.metrics.map((m) => m.loss),
      r1.metrics.map((m) => m.loss),
    );
    const lines = readFileSync(path.join(part, 'metrics.jsonl'), 'utf8').trim().split('\n');
    assert.equal(lines.length, 3);
    assert.equal(r3.model, m3, 'the trainer hands back the model it trained');
    assert.ok(!existsSync(path.join(part, 'model')), 'the trainer saves no model (its caller does)');
    const ck = await loadModel(path.join(part, 'checkpoint'));
    assert.deepEqual(weights(ck.model), weights(m1));
    [m1, m3, ck.model].forEach((m) => m.dispose());
  });

  it('resume refuses a checkpoint of a different run', async () => {
    const d = tmp();
    const m = createModel(config, new Rng(5));
    await train(m, data, objective, opts({ outDir: d, epochs: 1 }));
    await assert.rejects(train(m, data, objective, opts({ outDir: d, resume: true, batchSize: 16 })), /batchSize/);
    await assert.rejects(train(m, data, objective, opts({ outDir: tmp(), resume: true })), /no checkpoint/);
    m.dispose();
  });

  it('resume finds the checkpoint a kill between the two renames of its swap left as a backup', async () => {
    const d = tmp();
    const m1 = createModel(config, new Rng(5));
    await train(m1, data, objective, opts({ outDir: d, epochs: 1 }));
    const ckpt = path.join(d, 'checkpoint');
    // The state a kill between "rename checkpoint → backup" and "rename temp → checkpoint" leaves behind.
    renameSync(ckpt, `${ckpt}.bak-1700000000000-999999-deadbeef`);
    assert.ok(hasCheckpoint(ckpt), 'hasCheckpoint sees the backup');
    const m2 = createModel(config, new Rng(99));
    const r = await train(m2, data, objective, opts({ outDir: d, epochs: 2, resume: true }));
    assert.equal(r.state.epoch, 2);
    assert.deepEqual(readdirSync(d).sort(), ['checkpoint', 'metrics.jsonl']);
    const m3 = createModel(config, new Rng(5));
    await train(m3, data, objective, opts({ outDir: tmp(), epochs: 2 }));
    assert.deepEqual(weights(m2), weights(m3), 'resumed from the backup as from the checkpoint');
    [m1, m2, m3].forEach((m) => m.dispose());
  });

  it('resume of a run folder that does not exist leaves nothing behind', async () => {
    const d = path.join(tmp(), 'no-such-run');
    const m = createModel(config, new Rng(5));
    await assert.rejects(train(m, data, objective, opts({ outDir: d, resume: true })), /--resume: no checkpoint in/);
    assert.ok(!existsSync(d));
    m.dispose();
  });

  it('an output folder that cannot be created fails at once, naming it', { timeout: 60_000 }, async () => {
    const m = createModel(config, new Rng(5));
    await assert.rejects(
      train(m, data, objective, opts({ outDir: '/proc/vaekit-run' })),
      /^OutputError: cannot create the folder \/proc\/vaekit-run: \/proc does not allow creating folders in it$/,
    );
    m.dispose();
  });

  it('a run that diverges before its first checkpoint does not point at one', async () => {
    const d = tmp();
    const m = createModel(config, new Rng(5));
    let calls = 0;
    const poisoned: Objective = (mm, x, c) => {
      const t = objective(mm, x, c);
      return ++calls === 2 ? { ...t, total: tf.mul(t.total, NaN) as tf.Tensor1D } : t;
    };
    await assert.rejects(train(m, data, poisoned, opts({ outDir: d })), (e: Error) => {
      assert.ok(e instanceof TrainingDivergedError);
      assert.match(e.message, /before its first checkpoint, so there is nothing to resume/);
      assert.doesNotMatch(e.message, /intact|--resume/);
      return true;
    });
    assert.ok(!existsSync(path.join(d, 'checkpoint')));
    m.dispose();
  });

  it('a NaN loss stops training with a clear message and leaves the last good checkpoint intact', async () => {
    const d = tmp();
    const m = createModel(config, new Rng(5));
    let calls = 0;
    const poisoned: Objective = (mm, x, c) => {
      calls++;
      const t = objective(mm, x, c);
      return calls === 20 ? { ...t, total: tf.mul(t.total, NaN) as tf.Tensor1D } : t;
    };
    await assert.rejects(train(m, data, poisoned, opts({ outDir: d })), (e: Error) => {
      assert.ok(e instanceof TrainingDivergedError);
      assert.match(e.message, /non-finite at epoch 2, step 4/);
      assert.match(e.message, /last good checkpoint/);
      return true;
    });
    const state = JSON.parse(readFileSync(path.join(d, 'checkpoint', 'state.json'), 'utf8'));
    assert.equal(state.epoch, 1);
    const ck = await loadModel(path.join(d, 'checkpoint'));
    assert.ok(weights(ck.model).every(Number.isFinite));
    assert.ok(!existsSync(path.join(d, 'model')), 'no final model written for a diverged run');
    assert.deepEqual(
      readdirSync(d).filter((f) => f.includes('tmp')),
      [],
    );
    ck.model.dispose();
    m.dispose();
  });

  it('tensor count stays flat across epochs', async () => {
    const m = createModel(config, new Rng(5));
    const r = await train(m, data, objective, opts({ epochs: 4, evaluate: () => ({}) }));
    const counts = r.metrics.map((x) => x.num_tensors);
    assert.equal(new Set(counts.slice(1)).size, 1, `numTensors per epoch: ${counts}`);
    m.dispose();
  });

  it('SGD with momentum and Adagrad also train', async () => {
    for (const optimizer of [
      { kind: 'sgd', lr: 0.05, momentum: 0.9 },
      { kind: 'adagrad', lr: 0.1 },
    ] as const) {
      const m = createModel(config, new Rng(5));
      const r = await train(m, data, objective, opts({ optimizer }));
      assert.ok(r.metrics[2].loss < r.metrics[0].loss, `${optimizer.kind}: ${r.metrics.map((x) => x.loss)}`);
      m.dispose();
    }
  });

  it('optimizers follow PyTorch update rules on a quadratic', () => {
    // minimise ½‖w‖²: gradient = w
    for (const [cfg, expect] of [
      [{ kind: 'adam', lr: 0.1 }, (w0: number) => w0 - 0.1 * Math.sign(w0)], // first Adam step is lr·sign(g)
      [{ kind: 'sgd', lr: 0.1 }, (w0: number) => w0 * 0.9],
      [{ kind: 'adagrad', lr: 0.1 }, (w0: number) => w0 - 0.1 * Math.sign(w0)],
    ] as const) {
      const v = tf.variable(tf.tensor1d([1.5, -2, 0.5]));
      const o = new Optimizer(cfg);
      o.step({ w: v }, { w: v.clone() });
      const got = v.dataSync();
      [1.5, -2, 0.5].forEach((w0, i) =>
        assert.ok(Math.abs(got[i] - expect(w0)) < 1e-5, `${cfg.kind}: ${got[i]} vs ${expect(w0)}`),
      );
      v.dispose();
    }
  });

  it('schedules: KL warm-up, cosine and step learning rates', () => {
    assert.equal(betaAt(4, 0, 0), 4);
    assert.equal(betaAt(4, 10, 4), 2);
    assert.equal(betaAt(4, 10, 100), 4);
    const cos = parseLrSchedule('cosine', 100);
    assert.equal(lrAt(1, cos, 0), 1);
    assert.ok(Math.abs(lrAt(1, cos, 50) - 0.5) < 1e-12);
    assert.equal(lrAt(1, parseLrSchedule('step:10:0.5', 0), 25), 0.25);
    assert.throws(() => parseLrSchedule('warp', 1), /unknown --lr-schedule/);
  });
});

describe('backends agree', () => {
  it('the native backend follows the same learning curve as tfjs-cpu on a fixed seed', async (t) => {
    const { initBackend } = await import('../src/backend/index.js');
    const data = toyData(256, 3);
    // the plain closure runs the tfjs graph everywhere; elboObjective() the fused native step on native
    const curve = async (o: Objective) => {
      const m = createModel({ ...config, network: { type: 'mlp', hidden: [32] } }, new Rng(5));
      const r = await train(m, data, o, opts({ epochs: 3 }));
      m.dispose();
      return r.metrics.map((x) => x.loss);
    };
    let native: number[], fused: number[];
    try {
      await initBackend('native', true);
      native = await curve(objective);
      fused = await curve(elboObjective());
    } catch (e) {
      t.skip(`native backend unavailable: ${(e as Error).message}`);
      return;
    }
    await tf.setBackend('cpu');
    const cpu = await curve(objective);
    await tf.setBackend('vaekit-native');
    for (const [what, got] of [
      ['native', native],
      ['fused native step', fused],
    ] as const)
      got.forEach((v, i) =>
        assert.ok(Math.abs(v - cpu[i]) < 1e-3 * Math.abs(cpu[i]), `epoch ${i + 1}: ${what} ${v} vs cpu ${cpu[i]}`),
      );
  });

  it('the fused native step is the tfjs step: same update, same run on resume', async (t) => {
    const { initBackend } = await import('../src/backend/index.js');
    try {
      await initBackend('native', true);
    } catch (e) {
      return t.skip(`native backend unavailable: ${(e as Error).message}`);
    }
    const cfg: VaeConfig = { ...config, network: { type: 'mlp', hidden: [24, 12] } };
    const probe = createModel(cfg, new Rng(5));
    const optimizer = new Optimizer({ kind: 'adam', lr: 1e-2 });
    if (!fusedStepFor(probe, elboObjective(), optimizer, { freeBits: 0 }))
      return t.skip('this native build has no fused step (npm run build:native)');
    assert.equal(fusedStepFor(probe, objective, optimizer, { freeBits: 0 }), null, 'an untagged objective');
    assert.equal(fusedStepFor(probe, elboObjective(2), optimizer, { freeBits: 0 }), null, 'L = 2 samples');
    assert.equal(fusedStepFor(probe, elboObjective(), optimizer, { freeBits: 0.5 }), null, 'free bits');
    probe.dispose();
    // one step each way from the same weights and ε: the same loss and parameters
    const data = toyData(32, 4);
    const one = async (o: Objective) => {
      const m = createModel(cfg, new Rng(5));
      const r = await train(m, data, o, opts({ epochs: 1, beta: 0.7 }));
      return { m, loss: r.metrics[0].loss };
    };
    const a = await one(objective),
      b = await one(elboObjective());
    assert.ok(Math.abs(a.loss - b.loss) < 1e-5 * Math.abs(a.loss), `loss ${b.loss} vs ${a.loss}`);
    const wa = weights(a.m),
      wb = weights(b.m);
    wa.forEach((w, i) => assert.ok(Math.abs(w - wb[i]) < 1e-5, `parameter ${i}: fused ${wb[i]} vs tfjs ${w}`));
    [a.m, b.m].forEach((m) => m.dispose());
    // a fused run interrupted and resumed ends bit for bit where the uninterrupted one does
    const big = toyData(256, 3);
    const dir1 = mkdtempSync(path.join(tmpdir(), 'vaekit-fused-'));
    const dir2 = mkdtempSync(path.join(tmpdir(), 'vaekit-fused-'));
    try {
      const m1 = createModel(cfg, new Rng(5));
      await train(m1, big, elboObjective(), opts({ outDir: dir1 }));
      const m2 = createModel(cfg, new Rng(5));
      await train(m2, big, elboObjective(), opts({ outDir: dir2, maxSteps: 8 + 3, checkpointEvery: 3 }));
      const m3 = createModel(cfg, new Rng(99));
      await train(m3, big, elboObjective(), opts({ outDir: dir2, resume: true }));
      assert.deepEqual(weights(m3), weights(m1));
      [m1, m2, m3].forEach((m) => m.dispose());
    } finally {
      for (const d of [dir1, dir2]) rmSync(d, { recursive: true, force: true });
    }
  });
});
