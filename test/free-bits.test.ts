// Free bits (Kingma et al. 2016, §C.8) in the ELBO: the optimised KL is Σ_j max(λ, KL̄_j), KL̄_j the batch
// mean of latent unit j's analytic KL; the reported rec and kl stay the true terms. Checked on a toy model
// whose posterior is built explicitly (μ = xW, log σ² = xV), against the same sums done by hand in doubles;
// then the trainer (λ in checkpoints, metrics and model meta; --resume keeps it) and the CLI's refusals.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import type { Dataset } from '../src/data/dataset.js';
import { DiagGaussian, StdNormal } from '../src/distributions/gaussian.js';
import { createModel, type HvaeConfig, type LatentVariableModel, type VaeConfig } from '../src/models/index.js';
import { SeqVAE, seqVaeConfigFor } from '../src/models/seqvae.js';
import { elbo } from '../src/objectives/elbo.js';
import { Rng } from '../src/rng.js';
import { train, type Objective } from '../src/train/trainer.js';
import { setupBackend } from './helpers.js';

const D = 3; // x width
const d = 3; // latent units
const B = 4;

/** q(z|x) = N(xW, diag exp(xV)), p(x|z) = N(zU, I) or, with zDecoder false, N(0, I) (no z, no parameters). */
function toyModel(
  W: number[],
  V: number[],
  zDecoder = true,
): LatentVariableModel & { W: tf.Variable; V: tf.Variable; U: tf.Variable } {
  const Wv = tf.variable(tf.tensor2d(W, [D, d]), true, `fb_W_${Math.random()}`);
  const Vv = tf.variable(tf.tensor2d(V, [D, d]), true, `fb_V_${Math.random()}`);
  const Uv = tf.variable(
    tf.tensor2d([0.5, -0.3, 0.2, 0.1, 0.4, -0.6, -0.2, 0.3, 0.7], [d, D]),
    true,
    `fb_U_${Math.random()}`,
  );
  const config: VaeConfig = {
    kind: 'vae',
    inputShape: [D],
    latentDim: d,
    network: { type: 'mlp', hidden: [1] },
    likelihood: 'gaussian',
    sigma: 1,
  };
  return {
    config,
    W: Wv,
    V: Vv,
    U: Uv,
    prior: (batch) => new StdNormal(batch, d),
    encode: (x) => new DiagGaussian(tf.matMul(x, Wv), tf.matMul(x, Vv)),
    decode: (z) =>
      zDecoder
        ? new DiagGaussian(tf.matMul(z, Uv), tf.zeros([1, D]))
        : new DiagGaussian(tf.zeros([z.shape[0], D]), tf.zeros([1, D])),
    variables: () => [Wv, Vv, Uv],
    networks: () => ({}),
    namedParameters: () => ({ W: Wv, V: Vv, U: Uv }),
    dispose: () => tf.dispose([Wv, Vv, Uv]),
  };
}

// x: 4 examples; W, V chosen so that unit 0 is nearly unused (KL̄ ≈ 0.0015), units 1 and 2 at KL̄ ≈ 0.73 and 0.79.
const X = [1, 0.5, -1, 0.2, 1, 0.3, -0.7, 0.4, 1, 0.9, -0.2, -0.5];
const W = [0.05, 1.6, 2.5, -0.03, 1.2, -2.0, 0.02, 0.9, 1.5];
const V = [0.05, -0.4, -1.0, 0.02, -0.2, -0.5, -0.04, 0.1, -0.8];

/** KL_bj = ½(μ² + σ² − log σ² − 1) from the same numbers, in doubles: [B][d]. */
function handKl(): number[][] {
  const out: number[][] = [];
  for (let b = 0; b < B; b++) {
    const row: number[] = [];
    for (let j = 0; j < d; j++) {
      let mu = 0;
      let lv = 0;
      for (let k = 0; k < D; k++) {
        mu += X[b * D + k] * W[k * d + j];
        lv += X[b * D + k] * V[k * d + j];
      }
      row.push(0.5 * (mu * mu + Math.exp(lv) - lv - 1));
    }
    out.push(row);
  }
  return out;
}
const mean = (a: ArrayLike<number>) => Array.from(a).reduce((s, v) => s + v, 0) / a.length;
const unitMeans = (kl: number[][]) => Array.from({ length: d }, (_, j) => mean(kl.map((r) => r[j])));

describe('free bits in the ELBO', () => {
  before(setupBackend);
  const x = tf.tensor2d(X, [B, D]);
  const kl = handKl();
  const klBar = unitMeans(kl);

  it('the toy posterior has one unit below λ = 0.5 and two above (the premise of the checks below)', () => {
    assert.ok(klBar[0] < 0.1 && klBar[1] > 0.5 && klBar[2] > 0.5, `KL̄ ${klBar}`);
  });

  it('λ = 0 (and no λ) is the plain ELBO exactly', () => {
    const m = toyModel(W, V);
    const s = new Rng(3).getState();
    const plain = elbo(m, x, { rng: Rng.fromState(s), beta: 0.7, samples: 2 });
    const zero = elbo(m, x, { rng: Rng.fromState(s), beta: 0.7, samples: 2, freeBits: 0 });
    for (const k of ['total', 'rec', 'kl'])
      assert.deepEqual(Array.from(zero[k].dataSync()), Array.from(plain[k].dataSync()), k);
    m.dispose();
  });

  for (const lambda of [0.5, 0.75, 5]) {
    for (const beta of [1, 0.3]) {
      it(`λ = ${lambda}, β = ${beta}: mean objective = rec + β·Σ_j max(λ, KL̄_j), per example rec_b + β·Σ_j (KL̄_j > λ ? KL_bj : λ); rec and kl stay the true terms`, () => {
        const m = toyModel(W, V);
        const s = new Rng(4).getState();
        const plain = elbo(m, x, { rng: Rng.fromState(s), beta });
        const fb = elbo(m, x, { rng: Rng.fromState(s), beta, freeBits: lambda });
        const [tot, rec, klT] = [fb.total, fb.rec, fb.kl].map((t) => Array.from(t.dataSync()));
        assert.deepEqual(rec, Array.from(plain.rec.dataSync()));
        assert.deepEqual(klT, Array.from(plain.kl.dataSync()), 'the reported KL is the real KL, not the clamp');
        for (let b = 0; b < B; b++) assert.ok(Math.abs(klT[b] - kl[b].reduce((a, v) => a + v, 0)) < 1e-4, `kl[${b}]`);
        const want = mean(rec) + beta * klBar.reduce((a, v) => a + Math.max(lambda, v), 0);
        assert.ok(Math.abs(mean(tot) - want) < 1e-4, `objective ${mean(tot)} vs by hand ${want}`);
        for (let b = 0; b < B; b++) {
          const per = rec[b] + beta * klBar.reduce((a, v, j) => a + (v > lambda ? kl[b][j] : lambda), 0);
          assert.ok(Math.abs(tot[b] - per) < 1e-4, `total[${b}] ${tot[b]} vs ${per}`);
        }
        // the clamp only ever raises the objective, by β·Σ_j max(0, λ − KL̄_j)
        assert.ok(mean(tot) >= mean(Array.from(plain.total.dataSync())) - 1e-5);
        m.dispose();
      });
    }
  }

  it('a unit whose batch-mean KL is below λ gets no gradient from the KL term; a unit above gets the plain KL gradient', () => {
    // decoder without z: the whole gradient w.r.t. the encoder is the KL term's
    const m = toyModel(W, V, false);
    const s = new Rng(5).getState();
    const grads = (freeBits: number) => {
      const { grads: g } = tf.variableGrads(
        () => tf.mean(elbo(m, x, { rng: Rng.fromState(s), freeBits }).total) as tf.Scalar,
        [m.W, m.V],
      );
      return { W: Array.from(g[m.W.name].dataSync()), V: Array.from(g[m.V.name].dataSync()) };
    };
    const plain = grads(0);
    const fb = grads(0.5);
    for (const [name, gp, gf] of [
      ['W', plain.W, fb.W],
      ['V', plain.V, fb.V],
    ] as const) {
      for (let k = 0; k < D; k++) {
        assert.equal(gf[k * d + 0], 0, `∂/∂${name}[${k},0] (unit 0, KL̄ ${klBar[0].toFixed(3)} < λ) must be 0`);
        assert.notEqual(gp[k * d + 0], 0, `without free bits unit 0 does get a KL gradient (${name}[${k},0])`);
        for (const j of [1, 2])
          assert.ok(
            Math.abs(gf[k * d + j] - gp[k * d + j]) < 1e-6,
            `∂/∂${name}[${k},${j}]: ${gf[k * d + j]} vs plain ${gp[k * d + j]}`,
          );
      }
    }
    m.dispose();
  });

  it('with a decoder on z, the below-λ unit keeps exactly the reconstruction gradient', () => {
    const m = toyModel(W, V);
    const s = new Rng(6).getState();
    const g = (f: (t: ReturnType<typeof elbo>) => tf.Tensor) => {
      const { grads } = tf.variableGrads(
        () => tf.mean(f(elbo(m, x, { rng: Rng.fromState(s), freeBits: 0.5 }))) as tf.Scalar,
        [m.W, m.V],
      );
      return [...grads[m.W.name].dataSync(), ...grads[m.V.name].dataSync()];
    };
    const total = g((t) => t.total);
    const rec = g((t) => t.rec);
    for (let i = 0; i < 2 * D; i++) {
      const k = i % D;
      const idx = (i < D ? 0 : D * d) + k * d; // column 0 of W, then of V
      assert.ok(Math.abs(total[idx] - rec[idx]) < 1e-6, `unit 0 entry ${idx}: total ${total[idx]} vs rec ${rec[idx]}`);
    }
    assert.ok(
      total.some((v, i) => Math.abs(v - rec[i]) > 1e-3),
      'units above λ do get a KL gradient',
    );
    m.dispose();
  });

  it("a learned Gaussian prior (the CVAE's): per-unit KLs sum to kl(p), and the clamp uses them", () => {
    const q = new DiagGaussian(tf.tensor2d([0.3, -1, 0.1, 2], [2, 2]), tf.tensor2d([-0.5, 0.2, 0.1, -1], [2, 2]));
    const p = new DiagGaussian(tf.tensor2d([0.1, 0.5, -0.2, 0.4], [2, 2]), tf.tensor2d([0.3, -0.2, 0, 0.5], [2, 2]));
    const per = q.klPerDim(p).arraySync();
    const tot = q.kl(p).dataSync();
    for (let b = 0; b < 2; b++) assert.ok(Math.abs(per[b][0] + per[b][1] - tot[b]) < 1e-5);
    const std = q.klPerDim(new StdNormal(2, 2)).arraySync();
    const totStd = q.klStdNormal().dataSync();
    for (let b = 0; b < 2; b++) assert.ok(Math.abs(std[b][0] + std[b][1] - totStd[b]) < 1e-5);
  });

  it('the sequence VAE trains with free bits (its posterior is one Gaussian layer)', () => {
    const m = new SeqVAE(
      seqVaeConfigFor(
        { shape: [5, 27], vocabulary: 'abcdefghijklmnopqrstuvwxyz' },
        { hidden: 4, latentDim: 3, embedding: 4 },
      ),
      new Rng(0),
    );
    const words = tf.reshape(tf.oneHot(tf.tensor1d([3, 1, 20, 0, 0, 4, 15, 7, 0, 0], 'int32'), 27), [
      2,
      5 * 27,
    ]) as tf.Tensor2D;
    const s = new Rng(1).getState();
    const plain = elbo(m, words, { rng: Rng.fromState(s) });
    const fb = elbo(m, words, { rng: Rng.fromState(s), freeBits: 2 });
    // a fresh model's KL is far below 2 nats per unit: every unit is clamped, objective = rec + 3·2
    const want = mean(plain.rec.dataSync()) + 3 * 2;
    assert.ok(Math.abs(mean(fb.total.dataSync()) - want) < 1e-3, `${mean(fb.total.dataSync())} vs ${want}`);
    assert.deepEqual(Array.from(fb.kl.dataSync()), Array.from(plain.kl.dataSync()));
    m.dispose();
  });

  it('refuses a bad λ, and a hierarchical posterior, with one clear line', () => {
    const m = toyModel(W, V);
    for (const bad of [-0.5, NaN, Infinity])
      assert.throws(
        () => elbo(m, x, { rng: new Rng(0), freeBits: bad }),
        /free bits must be a non-negative number of nats per latent unit, got /,
      );
    m.dispose();
    const h: HvaeConfig = {
      kind: 'hvae',
      inputShape: [D],
      latentDims: [2, 1],
      latentDim: 3,
      layerHidden: [4],
      network: { type: 'mlp', hidden: [4] },
      likelihood: 'gaussian',
      sigma: 1,
    };
    const hm = createModel(h, new Rng(2));
    assert.doesNotThrow(() => elbo(hm, x, { rng: new Rng(0), freeBits: 0 }));
    assert.throws(
      () => elbo(hm, x, { rng: new Rng(0), freeBits: 0.5 }),
      /free bits needs the analytic KL of each latent unit.*hierarchical/,
    );
    hm.dispose();
  });
});

describe('free bits in the trainer', () => {
  before(setupBackend);
  const dirs: string[] = [];
  after(() => dirs.forEach((dd) => rmSync(dd, { recursive: true, force: true })));
  const r = new Rng(1);
  const make = (n: number) => ({
    x: Float32Array.from({ length: n * 8 }, () => (r.uniform() < 0.5 ? 1 : 0)),
    n,
    shape: [8],
  });
  const data: Dataset = { name: 'toy', train: make(64), test: make(16), shape: [8], protocol: 'binary' };
  const config: VaeConfig = {
    kind: 'vae',
    inputShape: [8],
    latentDim: 2,
    network: { type: 'mlp', hidden: [4] },
    likelihood: 'bernoulli',
  };
  const seen: number[] = [];
  const objective: Objective = (m, xx, c) => {
    seen.push(c.freeBits ?? -1);
    return elbo(m, xx, { beta: c.beta, rng: c.rng, freeBits: c.freeBits });
  };
  const opts = {
    batchSize: 32,
    seed: 1,
    optimizer: { kind: 'adam' as const, lr: 1e-2 },
    beta: 1,
    progress: 'none' as const,
    dataInfo: { dataset: 'toy', protocol: 'binary', shape: [8] },
    log: () => {},
  };

  it('hands λ to the objective, records it in the metrics, the checkpoint and the model meta; --resume keeps it unless given', async () => {
    const out = mkdtempSync(path.join(tmpdir(), 'vaekit-fb-'));
    dirs.push(out);
    const m = createModel(config, new Rng(1));
    const first = await train(m, data, objective, { ...opts, epochs: 1, freeBits: 0.75, outDir: out });
    assert.deepEqual([...new Set(seen)], [0.75]);
    assert.equal(first.training.objective.freeBits, 0.75); // what the saved model's config.json records
    assert.equal(JSON.parse(readFileSync(path.join(out, 'checkpoint', 'state.json'), 'utf8')).run.freeBits, 0.75);
    seen.length = 0;
    const kept: string[] = [];
    await train(m, data, objective, { ...opts, epochs: 2, outDir: out, resume: true, log: (l) => kept.push(l) }); // no freeBits: the checkpoint's
    assert.deepEqual([...new Set(seen)], [0.75]);
    assert.ok(
      kept.some((l) => /free bits 0.75 nats per latent unit, as the run had/.test(l)),
      kept.join('\n'),
    );
    const lines = readFileSync(path.join(out, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      lines.map((l) => l.free_bits),
      [0.75, 0.75],
    );
    seen.length = 0;
    const logs: string[] = [];
    await train(m, data, objective, {
      ...opts,
      epochs: 3,
      outDir: out,
      resume: true,
      freeBits: 0,
      log: (l) => logs.push(l),
    }); // given: it wins, and says so
    assert.deepEqual([...new Set(seen)], [0]);
    assert.ok(
      logs.some((l) => /free bits changed from 0.75 to 0/.test(l)),
      logs.join('\n'),
    );
    m.dispose();
  });

  it('a run without free bits hands λ = 0 and records nothing new', async () => {
    seen.length = 0;
    const m = createModel(config, new Rng(1));
    const res = await train(m, data, objective, { ...opts, epochs: 1 });
    assert.deepEqual([...new Set(seen)], [0]);
    assert.equal(res.metrics[0].free_bits, undefined);
    assert.equal(res.state.run.freeBits, undefined);
    m.dispose();
  });
});

describe('vaekit train --free-bits', () => {
  const BIN = path.resolve('bin/vaekit.js');
  const vaekit = (args: string[]) => {
    const res = spawnSync(process.execPath, [BIN, ...args], {
      encoding: 'utf8',
      env: { ...process.env, FORCE_COLOR: '0', VAEKIT_THREADS: '1' },
    });
    return { code: res.status, stdout: res.stdout, stderr: res.stderr };
  };
  const root = mkdtempSync(path.join(tmpdir(), 'vaekit-fb-cli-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  const list = path.join(root, 'words.txt');
  const rr = new Rng(3);
  const words = new Set<string>();
  while (words.size < 120)
    words.add(
      Array.from({ length: 2 + Math.floor(rr.uniform() * 5) }, () => 'abcdefghij'[Math.floor(rr.uniform() * 10)]).join(
        '',
      ),
    );
  writeFileSync(list, [...words].join('\n') + '\n');
  const common = [
    'train',
    '--dataset',
    `words:${list}`,
    '--latent',
    '3',
    '--batch-size',
    '32',
    '--report-k',
    '0',
    '--progress',
    'none',
  ];
  const base = [...common, '--model', 'seqvae', '--rnn-hidden', '8', '--embedding', '4'];

  for (const [args, re] of [
    [['--free-bits', '-1'], /--free-bits must be a non-negative number, got "-1"/],
    [['--free-bits', 'NaN'], /--free-bits must be a non-negative number, got "NaN"/],
    [['--free-bits', ''], /--free-bits must be a non-negative number/],
    [['--free-bits', '0.5', '--estimator', 'score'], /--free-bits does not combine with --estimator score/],
    [['--free-bits', '0.5', '--objective', 'iwae'], /--free-bits does not combine with --objective iwae/],
    [['--free-bits', '0.5', '--model', 'hvae'], /--free-bits does not apply to --model hvae/],
    [['--free-bits', '0.5', '--model', 'vqvae'], /--model vqvae: --free-bits does not apply/],
  ] as const) {
    it(`refuses ${args.join(' ')}`, () => {
      const other = (args as readonly string[]).some((a) => a === 'hvae' || a === 'vqvae');
      const res = vaekit([
        ...(other ? common.filter((a) => a !== '--latent' && a !== '3') : base),
        '--epochs',
        '1',
        '--out',
        path.join(root, 'bad'),
        ...args,
      ]);
      assert.notEqual(res.code, 0);
      assert.match(res.stderr, re);
      assert.doesNotMatch(res.stderr, /\n\s+at /, 'one line, no stack trace');
    });
  }

  it('trains a words model with --free-bits, and --resume keeps λ', () => {
    const out = path.join(root, 'run');
    const a = vaekit([...base, '--epochs', '1', '--free-bits', '0.5', '--out', out]);
    assert.equal(a.code, 0, a.stderr);
    assert.match(a.stderr, /free bits 0.5 nats\/unit/);
    const b = vaekit([...base, '--epochs', '2', '--resume', '--out', out]);
    assert.equal(b.code, 0, b.stderr);
    const lines = readFileSync(path.join(out, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      lines.map((l) => l.free_bits),
      [0.5, 0.5],
    );
    assert.equal(
      JSON.parse(readFileSync(path.join(out, 'model', 'config.json'), 'utf8')).training.objective.freeBits,
      0.5,
    );
  });
});
