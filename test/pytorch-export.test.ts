// The way out to PyTorch and back (src/io/pytorch/): `export` writes model.py + the state dict for every model
// kind, `import` reads a state dict back into a vaekit model directory. Without python: export → import
// unchanged gives the same parameters, bit for bit, and the same bound; bad input is one clear error. With
// python3-torch (one python process for every kind): model.py loads the state dict strictly, its encoder,
// decoder (and VQ prior) outputs equal vaekit's to 1e-5 and so does its bound at z = μ; then one SGD step in
// PyTorch, saved with model.py's writer, comes back through import with vaekit's bound equal to PyTorch's.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { decodeSafetensors, encodeSafetensors, type TensorInput } from '../src/codec/safetensors.js';
import { exportPytorch, importPytorch } from '../src/io/pytorch/export.js';
import { loadModel, saveModel } from '../src/io/model.js';
import { createModel, type LatentVariableModel, type ModelConfig } from '../src/models/index.js';
import type { HVAE } from '../src/models/hvae.js';
import type { CVAE } from '../src/models/cvae.js';
import type { SeqVAE } from '../src/models/seqvae.js';
import type { VQVAE } from '../src/models/vqvae.js';
import { vqObjective } from '../src/objectives/vq.js';
import { Rng } from '../src/rng.js';
import { maxAbsDiff, setupBackend } from './helpers.js';

const B = 4;

const cases: [string, ModelConfig][] = [
  [
    'vae-mlp',
    {
      kind: 'vae',
      inputShape: [6],
      latentDim: 2,
      network: { type: 'mlp', hidden: [5], activation: 'tanh' },
      likelihood: 'bernoulli',
    },
  ],
  [
    'vae-conv',
    {
      kind: 'vae',
      inputShape: [7, 6, 2],
      latentDim: 3,
      network: { type: 'conv', channels: [3, 4], kernel: 3, stride: 2, dense: [5], activation: 'elu' },
      likelihood: 'gaussian',
      sigma: 'learned',
    },
  ],
  [
    'vae-logistic',
    {
      kind: 'vae',
      inputShape: [3, 3, 1],
      latentDim: 2,
      network: { type: 'mlp', hidden: [5] },
      likelihood: 'discretized-logistic',
    },
  ],
  [
    'cvae',
    {
      kind: 'cvae',
      inputShape: [6],
      latentDim: 2,
      network: { type: 'mlp', hidden: [5] },
      likelihood: 'gaussian',
      sigma: 0.5,
      numClasses: 3,
      labelEncoding: 'embedding',
      embeddingDim: 2,
      prior: 'learned',
    },
  ],
  [
    'hvae',
    {
      kind: 'hvae',
      inputShape: [6],
      latentDims: [2, 3],
      latentDim: 5,
      layerHidden: [4],
      network: { type: 'mlp', hidden: [5], activation: 'softplus' },
      likelihood: 'bernoulli',
    },
  ],
  [
    'seqvae-gru',
    {
      kind: 'seqvae',
      inputShape: [6, 5],
      latentDim: 3,
      network: { type: 'rnn', cell: 'gru', hidden: 4, embedding: 3, bidirectional: true, resetAfter: true },
      likelihood: 'categorical',
    },
  ],
  [
    'seqvae-gru-v1',
    {
      kind: 'seqvae',
      inputShape: [6, 5],
      latentDim: 3,
      network: { type: 'rnn', cell: 'gru', hidden: 4, embedding: 3, bidirectional: true },
      likelihood: 'categorical',
    },
  ],
  [
    'seqvae-lstm-series',
    {
      kind: 'seqvae',
      inputShape: [5, 2],
      latentDim: 2,
      network: { type: 'rnn', cell: 'lstm', hidden: 4, bidirectional: false },
      likelihood: 'gaussian',
      sigma: 'learned',
    },
  ],
  [
    'vqvae',
    {
      kind: 'vqvae',
      inputShape: [8, 8, 1],
      network: { type: 'conv', channels: [4], kernel: 4, stride: 2, dense: [3] },
      likelihood: 'bernoulli',
      codebookSize: 5,
      codeDim: 2,
      commitment: 0.25,
      ema: { decay: 0.99, epsilon: 1e-5 },
      prior: { type: 'pixelcnn', channels: 4, layers: 1 },
    },
  ],
];

/** Every parameter set to values of about ±0.5 (biases, log σ², label priors and codebooks are not left at 0). */
function perturb(model: LatentVariableModel, rng: Rng): void {
  for (const [name, v] of Object.entries(model.namedParameters())) {
    if (name.endsWith('ema_cluster_size')) continue;
    v.assign(tf.tensor(rng.fillUniform(new Float32Array(v.size), -0.5, 0.5), v.shape));
  }
}

interface Inputs {
  x: tf.Tensor2D;
  y?: tf.Tensor1D;
  z?: tf.Tensor2D;
  k?: tf.Tensor2D;
}

function inputsFor(config: ModelConfig, model: LatentVariableModel, rng: Rng): Inputs {
  const D = config.inputShape.reduce((a, b) => a * b, 1);
  const x = new Float32Array(B * D);
  if (config.likelihood === 'bernoulli') for (let i = 0; i < x.length; i++) x[i] = rng.uniform() < 0.5 ? 1 : 0;
  else if (config.likelihood === 'gaussian') rng.fillNormal(x);
  else if (config.likelihood === 'discretized-logistic')
    for (let i = 0; i < x.length; i++) x[i] = [0, 1, 37, 128, 254, 255][rng.int(6)] / 255; // both end bins too
  else {
    const [T, W] = config.inputShape;
    // one-hot tokens with an end token (0) at step 3 of the first sequence: the steps after it are not scored
    for (let b = 0; b < B; b++)
      for (let t = 0; t < T; t++) x[(b * T + t) * W + (b === 0 && t === 3 ? 0 : 1 + rng.int(W - 1))] = 1;
  }
  const out: Inputs = { x: tf.tensor2d(x, [B, D]) };
  if (config.kind === 'cvae') out.y = tf.tensor1d([0, 2, 1, 2], 'int32');
  if (config.kind === 'vqvae') {
    const M = (model as unknown as VQVAE).numCodes;
    out.k = tf.tensor2d(
      Int32Array.from({ length: B * M }, () => rng.int(config.codebookSize)),
      [B, M],
      'int32',
    );
  } else out.z = tf.tensor2d(rng.fillNormal(new Float32Array(B * config.latentDim)), [B, config.latentDim]);
  return out;
}

/** vaekit's outputs, named as the python driver names PyTorch's. */
/** β of the run each case is saved with (training.objective; the exported module's bound uses it); default 1. */
const BETA: Record<string, number> = { 'vae-conv': 2 };

function vaekitOutputs(
  config: ModelConfig,
  model: LatentVariableModel,
  inp: Inputs,
  beta = 1,
): Record<string, Float32Array> {
  return tf.tidy(() => {
    const o: Record<string, tf.Tensor> = {};
    const { x, y, z, k } = inp;
    if (config.kind === 'vqvae') {
      const m = model as unknown as VQVAE;
      o.z_e = m.encodeContinuous(x);
      o.codes = tf.cast(m.encodeIndices(x), 'float32');
      o.dec = (m.decode(k!) as unknown as { logits: tf.Tensor }).logits;
      o.prior_logits = m.prior(B).logits(k!);
      o.bound = vqObjective(m, x, { rng: new Rng(0), update: false }).total;
      return Object.fromEntries(Object.entries(o).map(([n, t]) => [n, t.dataSync() as Float32Array]));
    }
    if (config.kind === 'hvae') {
      const m = model as unknown as HVAE;
      const q = m.encode(x);
      q.bottomUp.forEach((g, l) => {
        o[`mu${l + 1}`] = g.mu;
        o[`logvar${l + 1}`] = g.logVar;
      });
      const dims = config.latentDims;
      o.dec = m.decoder.apply(tf.slice(z!, [0, 0], [B, dims[0]])) as tf.Tensor;
      o.prior1 = m.priorNets[0].apply(tf.slice(z!, [0, dims[0]], [B, dims[1]])) as tf.Tensor;
      const zm = q.mean();
      const kl = tf.addN(q.klTerms(zm));
      o.bound = tf.add(tf.neg(m.decode(zm).logProb(x)), tf.mul(kl, beta));
      return Object.fromEntries(Object.entries(o).map(([n, t]) => [n, t.dataSync() as Float32Array]));
    }
    const q = model.encode(x, y) as unknown as { mu: tf.Tensor2D; logVar: tf.Tensor2D; kl(p: unknown): tf.Tensor1D };
    o.mu = q.mu;
    o.logvar = q.logVar;
    if (config.kind === 'seqvae') o.dec = (model as unknown as SeqVAE).teacherForced(z!, x);
    else if (config.kind === 'cvae') {
      const m = model as unknown as CVAE;
      o.dec = m.decoder.apply([z!, tf.cast(tf.oneHot(y!, 3), 'float32')]) as tf.Tensor;
    } else o.dec = model.networks().decoder.apply(z!) as tf.Tensor;
    const rec = tf.neg(model.decode(q.mu, y).logProb(x));
    o.bound = tf.add(rec, tf.mul(q.kl(model.prior(B, y)), beta));
    return Object.fromEntries(Object.entries(o).map(([n, t]) => [n, t.dataSync() as Float32Array]));
  });
}

const root = fs.mkdtempSync(path.join(tmpdir(), 'vaekit-pytorch-'));

describe('PyTorch export and import', () => {
  before(setupBackend);
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  const made: { label: string; config: ModelConfig; dir: string; expected: Record<string, Float32Array> }[] = [];

  it('exports every model kind; import of the unchanged export gives the same parameters, bit for bit', async () => {
    for (const [i, [label, config]] of cases.entries()) {
      const rng = new Rng(100 + i);
      const model = createModel(config, rng);
      perturb(model, rng);
      const modelDir = path.join(root, `${label}-model`);
      const beta = BETA[label] ?? 1;
      await saveModel(
        modelDir,
        model,
        { dataset: 'test', protocol: 'none', shape: config.inputShape },
        { objective: { beta } },
      );
      const dir = path.join(root, `${label}-torch`);
      const files = await exportPytorch(modelDir, dir);
      assert.deepEqual(files.sort(), ['config.json', 'model.py', 'model.safetensors']);
      const py = fs.readFileSync(path.join(dir, 'model.py'), 'utf8');
      assert.match(py, /^ARCH = json\.loads\(r"""\{"format":"vaekit-pytorch"/m);
      // back without a change
      const back = path.join(root, `${label}-back`);
      await importPytorch(dir, back);
      const { model: again } = await loadModel(back);
      const a = model.namedParameters();
      const b = again.namedParameters();
      assert.deepEqual(Object.keys(b), Object.keys(a));
      for (const n of Object.keys(a)) assert.deepEqual(b[n].dataSync(), a[n].dataSync(), `${label}: ${n}`);
      const inp = inputsFor(config, model, rng);
      const expected = vaekitOutputs(config, model, inp, beta);
      const bound = vaekitOutputs(config, again, inp, beta).bound;
      assert.deepEqual(bound, expected.bound, `${label}: the bound after import`);
      const tensors: Record<string, TensorInput> = {
        x: { dtype: 'F32', shape: inp.x.shape, data: inp.x.dataSync() as Float32Array },
      };
      if (inp.y) tensors.y = { dtype: 'I32', shape: inp.y.shape, data: inp.y.dataSync() as Int32Array };
      if (inp.z) tensors.z = { dtype: 'F32', shape: inp.z.shape, data: inp.z.dataSync() as Float32Array };
      if (inp.k) tensors.k = { dtype: 'I32', shape: inp.k.shape, data: inp.k.dataSync() as Int32Array };
      fs.writeFileSync(path.join(dir, 'inputs.safetensors'), encodeSafetensors(tensors));
      made.push({ label, config, dir, expected });
      model.dispose();
      again.dispose();
    }
  });

  it('bad input: one error naming the problem', async () => {
    const dir = made[0].dir;
    await assert.rejects(
      exportPytorch(path.join(root, 'nope'), path.join(root, 'x')),
      /nope.*config\.json|config\.json.*nope/,
    );
    const bad = path.join(root, 'bad-kind');
    fs.mkdirSync(bad);
    fs.writeFileSync(
      path.join(bad, 'config.json'),
      JSON.stringify({ format: 'vaekit-model', version: 2, config: { kind: 'flow' }, data: {} }),
    );
    await assert.rejects(
      exportPytorch(bad, path.join(root, 'y')),
      /model kind "flow" is not one the PyTorch exporter knows/,
    );
    await assert.rejects(importPytorch(bad, path.join(root, 'z')), /model kind "flow" is not one vaekit knows/);
    // a state dict whose tensor has the wrong shape
    const broken = path.join(root, 'broken');
    fs.cpSync(dir, broken, { recursive: true });
    const { tensors } = decodeSafetensors(fs.readFileSync(path.join(broken, 'model.safetensors')));
    const w = tensors['encoder.layers.0.weight'];
    tensors['encoder.layers.0.weight'] = {
      dtype: 'F32',
      shape: [w.shape[1], w.shape[0]],
      data: w.data as Float32Array,
    };
    fs.writeFileSync(path.join(broken, 'model.safetensors'), encodeSafetensors(tensors as Record<string, TensorInput>));
    await assert.rejects(
      importPytorch(broken, path.join(root, 'w')),
      /"encoder\.layers\.0\.weight" is F32 \[6,5\], expected F32 \[5,6\]/,
    );
  });

  it('with python3-torch: model.py equals vaekit (1e-5), and a state dict trained in PyTorch comes back with its bound', async (t) => {
    const py = '/usr/bin/python3';
    if (!fs.existsSync(py)) return t.skip(`${py} not found`);
    const probe = spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8' });
    if (probe.status !== 0) return t.skip(`python3 has no torch: ${probe.stderr.trim().split('\n').pop()}`);
    assert.equal(made.length, cases.length, 'the export test ran first');
    const r = spawnSync(py, ['-c', DRIVER, ...made.map((m) => m.dir)], { encoding: 'utf8', timeout: 300_000 });
    assert.equal(r.status, 0, `python failed:\n${r.stderr}`);
    for (const m of made) {
      const got = decodeSafetensors(fs.readFileSync(path.join(m.dir, 'outputs.safetensors'))).tensors;
      const worst: string[] = [];
      for (const [name, want] of Object.entries(m.expected)) {
        assert.ok(got[name], `${m.label}: python gave no ${name}`);
        const d = maxAbsDiff(got[name].data as Float32Array, want);
        worst.push(`${name} ${d.toExponential(0)}`);
        assert.ok(
          d <= 1e-5 * (name === 'bound' ? Math.max(1, ...want.map(Math.abs)) : 1),
          `${m.label}: ${name} differs by ${d}`,
        );
      }
      // the state dict after one SGD step in PyTorch, imported: vaekit's bound = PyTorch's
      const back = path.join(root, `${m.label}-trained`);
      await importPytorch(m.dir, back);
      const { model } = await loadModel(back);
      const rng = new Rng(1);
      const inp = decodeSafetensors(fs.readFileSync(path.join(m.dir, 'inputs.safetensors'))).tensors;
      const tens = (n: string) => {
        const s = inp[n];
        if (!s) return undefined;
        return s.dtype === 'I32'
          ? tf.tensor(s.data as Int32Array, s.shape, 'int32')
          : tf.tensor(s.data as Float32Array, s.shape);
      };
      const ours = vaekitOutputs(
        m.config,
        model,
        {
          x: tens('x') as tf.Tensor2D,
          y: tens('y') as tf.Tensor1D | undefined,
          z: tens('z') as tf.Tensor2D | undefined,
          k: tens('k') as tf.Tensor2D | undefined,
        },
        BETA[m.label] ?? 1,
      ).bound;
      const theirs = got.bound_after.data as Float32Array;
      const before = m.expected.bound;
      const d = maxAbsDiff(ours, theirs);
      t.diagnostic(
        `${m.label}: max |Δ| ${worst.join(', ')}; after one SGD step in PyTorch the bound moved by ${maxAbsDiff(before, theirs).toExponential(1)}, vaekit's differs from PyTorch's by ${d.toExponential(1)}`,
      );
      assert.ok(maxAbsDiff(before, theirs) > 1e-4, `${m.label}: the SGD step changed nothing`);
      assert.ok(d <= 1e-5 * Math.max(1, ...theirs.map(Math.abs)), `${m.label}: the imported bound differs by ${d}`);
      model.dispose();
      void rng;
    }
  });
});

// For each export dir: load model.py, compute the outputs vaekitOutputs computes, then one SGD step on the
// training loss (−ELBO with sampled z, the VQ loss + EMA update), and the bound again; write both with
// model.py's save_safetensors, and the trained state dict over model.safetensors.
const DRIVER = String.raw`
import importlib.util, os, sys, torch
torch.manual_seed(0)
torch.set_num_threads(1)  # tiny tensors: threads only add waiting
for i, d in enumerate(sys.argv[1:]):
    spec = importlib.util.spec_from_file_location("vaekit_export_%d" % i, os.path.join(d, "model.py"))
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    m = mod.load(d); m.eval()
    inp, _ = mod.load_safetensors(os.path.join(d, "inputs.safetensors"))
    x, y, z, k = inp["x"], inp.get("y"), inp.get("z"), inp.get("k")
    kind = m.config["kind"]
    args = (x, y) if kind == "cvae" else (x,)
    out = {}
    with torch.no_grad():
        if kind == "vqvae":
            z_e = m.encode_continuous(x)
            out["z_e"] = z_e
            out["codes"] = m.quantize(z_e)[0].float()
            out["dec"] = m.decode(k)
            out["prior_logits"] = m.prior_logits(k)
        elif kind == "hvae":
            for l, (mu, lv) in enumerate(m.encode(x)):
                out["mu%d" % (l + 1)], out["logvar%d" % (l + 1)] = mu, lv
            d1 = m.config["latentDims"][0]
            out["dec"] = m.decode(z[:, :d1])
            out["prior1"] = m.prior1(z[:, d1:])
        else:
            mu, lv = m.encode(*args)
            out["mu"], out["logvar"] = mu, lv
            if kind == "seqvae": out["dec"] = m.decode(z, x)
            elif kind == "cvae": out["dec"] = m.decode(z, y)
            else: out["dec"] = m.decode(z)
        out["bound"] = m.neg_elbo(*args, sample=False)[0]
    m.train()
    opt = torch.optim.SGD([p for p in m.parameters() if p.requires_grad], lr=0.05)
    loss, terms = m.neg_elbo(*args)
    opt.zero_grad(); loss.mean().backward(); opt.step()
    if kind == "vqvae":
        m.update_codebook(m.encode_continuous(x).detach(), terms["codes"])
    m.eval()
    with torch.no_grad():
        out["bound_after"] = m.neg_elbo(*args, sample=False)[0]
    mod.save_safetensors(out, os.path.join(d, "outputs.safetensors"))
    mod.save_safetensors(m.state_dict(), os.path.join(d, "model.safetensors"), {"format": "pt"})
`;
