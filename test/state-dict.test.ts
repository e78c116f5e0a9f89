// Parameters as a PyTorch state dict (src/models/state-dict.ts): the sequence VAE's recurrent weights are
// written the way torch.nn.GRU / torch.nn.LSTM hold them ([G·H, in], gates r,z,n / i,f,g,o, bias_ih and
// bias_hh), read back exactly, and files in the layout written before (test/fixtures/models-v1) still load.
// With python3-torch installed, the safetensors load into torch.nn.GRU / nn.LSTM (load_state_dict, strict)
// and the encoder's and decoder's outputs equal vaekit's to 1e-5.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { decodeSafetensors } from '../src/codec/safetensors.js';
import { loadModel } from '../src/io/model.js';
import type { SeqVaeConfig } from '../src/models/configs.js';
import { loadParametersFromSafetensors, parametersToSafetensors } from '../src/models/files.js';
import { SeqVAE } from '../src/models/seqvae.js';
import { loadStateDict, toStateDict } from '../src/models/state-dict.js';
import { Rng } from '../src/rng.js';
import { maxAbsDiff, setupBackend } from './helpers.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const T = 6;
const W = 5;

function cfg(cell: 'gru' | 'lstm', resetAfter: boolean | undefined, bidirectional = true): SeqVaeConfig {
  return {
    kind: 'seqvae',
    inputShape: [T, W],
    latentDim: 3,
    network: {
      type: 'rnn',
      cell,
      hidden: 4,
      embedding: 3,
      bidirectional,
      ...(resetAfter === undefined ? {} : { resetAfter }),
    },
    likelihood: 'categorical',
  };
}

function tokens(rng: Rng, n: number): tf.Tensor2D {
  const x = new Float32Array(n * T * W);
  for (let r = 0; r < n * T; r++) x[r * W + rng.int(W)] = 1;
  return tf.tensor2d(x, [n, T * W]);
}

/** Every parameter's values, by name. */
function values(model: SeqVAE): Record<string, Float32Array> {
  return Object.fromEntries(
    Object.entries(model.namedParameters()).map(([k, v]) => [k, Float32Array.from(v.dataSync())]),
  );
}

const variants: [string, SeqVaeConfig][] = [
  ['PyTorch GRU', cfg('gru', true)],
  ['GRU of v1 models', cfg('gru', undefined)],
  ['LSTM', cfg('lstm', undefined)],
  ['PyTorch GRU, one direction', cfg('gru', true, false)],
];

describe('PyTorch state dicts', () => {
  before(setupBackend);

  for (const [label, c] of variants) {
    it(`${label}: PyTorch's shapes and names; written and read back exactly`, () => {
      const a = new SeqVAE(c, new Rng(1));
      const sd = toStateDict(a);
      const H = 4;
      const G = c.network.cell === 'gru' ? 3 : 4;
      const bi = c.network.bidirectional;
      for (const suffix of bi ? ['_l0', '_l0_reverse'] : ['_l0']) {
        assert.deepEqual(sd[`encoder.rnn.weight_ih${suffix}`].shape, [G * H, 3]); // in = embedding width
        assert.deepEqual(sd[`encoder.rnn.weight_hh${suffix}`].shape, [G * H, H]);
        assert.deepEqual(sd[`encoder.rnn.bias_ih${suffix}`].shape, [G * H]);
        assert.deepEqual(sd[`encoder.rnn.bias_hh${suffix}`].shape, [G * H]);
      }
      assert.equal('encoder.rnn.weight_ih_l0_reverse' in sd, !!bi);
      assert.deepEqual(sd['decoder.rnn.weight_ih_l0'].shape, [G * H, 3 + 3]); // [embedding, z]
      // one-bias cells write b_hh = 0; PyTorch's GRU has its own
      const bhh = sd['decoder.rnn.bias_hh_l0'].data;
      assert.equal(
        bhh.every((v) => v === 0),
        !(c.network.cell === 'gru' && c.network.resetAfter),
      );
      // dense weights as nn.Linear's [out, in]
      assert.deepEqual(sd['encoder.out.weight'].shape, [6, bi ? 2 * H : H]);
      const b = new SeqVAE(c, new Rng(2));
      const tensors = Object.fromEntries(Object.entries(sd).map(([k, v]) => [k, { dtype: 'F32', ...v }]));
      loadStateDict(b, tensors, 'test', 'pytorch');
      const va = values(a);
      const vb = values(b);
      for (const k of Object.keys(va)) assert.deepEqual(vb[k], va[k], k);
      a.dispose();
      b.dispose();
    });
  }

  it('the GRU of v1 models: kernels reordered to r, z, n (tfjs holds z, r, h)', () => {
    const m = new SeqVAE(cfg('gru', undefined), new Rng(3));
    const k = m.namedParameters()['encoder.rnn.weight_ih_l0']; // [in, 3H], columns z | r | h
    const sd = toStateDict(m)['encoder.rnn.weight_ih_l0']; //    [3H, in], rows r | z | n
    const K = k.arraySync() as number[][];
    const H = 4;
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < H; j++) {
        assert.equal(sd.data[j * 3 + i], K[i][H + j], 'r'); //    torch row j (r_j) = tfjs column H + j
        assert.equal(sd.data[(H + j) * 3 + i], K[i][j], 'z');
        assert.equal(sd.data[(2 * H + j) * 3 + i], K[i][2 * H + j], 'n');
      }
    m.dispose();
  });

  it('a one-bias cell reads b = bias_ih + bias_hh (a state dict trained in PyTorch has both)', () => {
    const m = new SeqVAE(cfg('lstm', undefined, false), new Rng(4));
    const sd = toStateDict(m);
    const bih = sd['decoder.rnn.bias_ih_l0'].data;
    const bhh = bih.map((_, i) => i / 10);
    const tensors = Object.fromEntries(Object.entries(sd).map(([k, v]) => [k, { dtype: 'F32', ...v }]));
    tensors['decoder.rnn.bias_hh_l0'] = { dtype: 'F32', shape: [bhh.length], data: bhh };
    loadStateDict(m, tensors, 'test', 'pytorch');
    const got = m.namedParameters()['decoder.rnn.bias_ih_l0'].dataSync();
    got.forEach((v, i) => assert.equal(v, Math.fround(bih[i] + bhh[i])));
    m.dispose();
  });

  it('bad state dicts: one error naming the tensor', () => {
    const m = new SeqVAE(cfg('gru', true), new Rng(5));
    const sd = toStateDict(m);
    const tensors = () => Object.fromEntries(Object.entries(sd).map(([k, v]) => [k, { dtype: 'F32', ...v }]));
    const t1 = tensors();
    delete t1['encoder.rnn.bias_hh_l0'];
    assert.throws(() => loadStateDict(m, t1, 'f', 'pytorch'), /f: parameter "encoder\.rnn\.bias_hh_l0" is missing/);
    const t2 = tensors();
    t2['encoder.rnn.weight_hh_l0'] = { dtype: 'F32', shape: [4, 12], data: new Float32Array(48) };
    assert.throws(
      () => loadStateDict(m, t2, 'f', 'pytorch'),
      /"encoder\.rnn\.weight_hh_l0" is F32 \[4,12\], expected F32 \[12,4\]/,
    );
    const t3 = tensors();
    t3['extra.weight'] = { dtype: 'F32', shape: [1], data: new Float32Array(1) };
    assert.throws(() => loadStateDict(m, t3, 'f', 'pytorch'), /unexpected parameters extra\.weight/);
    m.dispose();
  });

  it('the v1 fixture (old layout) loads, is written in PyTorch layout, and reads back to the same parameters', async () => {
    const { model } = await loadModel(path.join(root, 'test/fixtures/models-v1/seqvae'));
    const before = values(model as SeqVAE);
    const buf = parametersToSafetensors(model, { format: 'vaekit-model' });
    const { tensors, metadata } = decodeSafetensors(buf);
    assert.equal(metadata.layout, 'pytorch');
    assert.deepEqual(tensors['encoder.rnn.weight_ih_l0'].shape, [24, 4]); // H = 8, E = 4
    assert.ok('encoder.rnn.bias_hh_l0_reverse' in tensors);
    const other = new SeqVAE((model as SeqVAE).spec, new Rng(9));
    loadParametersFromSafetensors(other, buf, 'mem');
    const after = values(other);
    for (const k of Object.keys(before)) assert.deepEqual(after[k], before[k], k);
    model.dispose();
    other.dispose();
  });

  it('loads into torch.nn.GRU / torch.nn.LSTM (strict load_state_dict): the same encoder and decoder outputs', (t) => {
    const py = '/usr/bin/python3';
    if (!fs.existsSync(py)) return t.skip(`${py} not found`);
    const probe = spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8' });
    if (probe.status !== 0) return t.skip(`python3 has no torch: ${probe.stderr.trim().split('\n').pop()}`);
    const dir = fs.mkdtempSync(path.join(tmpdir(), 'vaekit-torch-rnn-'));
    try {
      const cases = variants.filter(([l]) => !l.includes('v1'));
      const inputs: unknown[] = [];
      const expected: { enc: Float32Array; dec: Float32Array }[] = [];
      cases.forEach(([, c], i) => {
        const m = new SeqVAE(c, new Rng(10 + i));
        const rng = new Rng(20 + i);
        const x = tokens(rng, 3);
        const z = tf.tensor2d(rng.fillNormal(new Float32Array(3 * 3)), [3, 3]);
        fs.writeFileSync(path.join(dir, `m${i}.safetensors`), parametersToSafetensors(m));
        inputs.push({
          file: path.join(dir, `m${i}.safetensors`),
          spec: c.network,
          T,
          W,
          x: x.arraySync(),
          z: z.arraySync(),
        });
        expected.push({
          enc: m.encoder.apply(x).dataSync() as Float32Array,
          dec: m.teacherForced(z, x).dataSync() as Float32Array,
        });
        m.dispose();
      });
      fs.writeFileSync(path.join(dir, 'cases.json'), JSON.stringify(inputs));
      const r = spawnSync(py, ['-c', TORCH_RNN, path.join(dir, 'cases.json')], { encoding: 'utf8', timeout: 120_000 });
      assert.equal(r.status, 0, `python failed:\n${r.stderr}`);
      const out = JSON.parse(r.stdout) as { enc: number[]; dec: number[] }[];
      out.forEach((o, i) => {
        const e = maxAbsDiff(o.enc, expected[i].enc);
        const d = maxAbsDiff(o.dec, expected[i].dec);
        t.diagnostic(`${cases[i][0]}: max |Δ| encoder ${e.toExponential(1)}, decoder ${d.toExponential(1)}`);
        assert.ok(e < 1e-5 && d < 1e-5, `${cases[i][0]}: encoder ${e}, decoder ${d}`);
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

// The encoder and decoder written with torch.nn.GRU / torch.nn.LSTM (batch_first), weights from the file.
const TORCH_RNN = String.raw`
import json, struct, sys, torch
F = {"F32": torch.float32}
def read(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    h.pop("__metadata__", None)
    out = {}
    for k, v in h.items():
        s, e = v["data_offsets"]
        out[k] = torch.frombuffer(bytearray(b[8 + n + s:8 + n + e]), dtype=F[v["dtype"]]).reshape(v["shape"])
    return out
def sub(sd, prefix):
    return {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}
res = []
for c in json.load(open(sys.argv[1])):
    sd, s, T, W = read(c["file"]), c["spec"], c["T"], c["W"]
    x = torch.tensor(c["x"], dtype=torch.float32); z = torch.tensor(c["z"], dtype=torch.float32); B = x.shape[0]; H = s["hidden"]; E = s.get("embedding") or W
    bi = s.get("bidirectional", True)
    RNN = torch.nn.GRU if s["cell"] == "gru" else torch.nn.LSTM
    def linear(name, v):
        w = sd[name + ".weight"]; b = sd.get(name + ".bias")
        return v @ w.T + (b if b is not None else 0)
    with torch.no_grad():
        enc = RNN(E, H, batch_first=True, bidirectional=bi)
        enc.load_state_dict(sub(sd, "encoder.rnn."), strict=True)
        e = linear("encoder.embed", x.view(B, T, W)) if s.get("embedding") else x.view(B, T, W)
        _, h = enc(e)
        if s["cell"] == "lstm": h = h[0]
        mu_logvar = linear("encoder.out", torch.cat(list(h), 1))
        dec = RNN(E + z.shape[1], H, batch_first=True)
        dec.load_state_dict(sub(sd, "decoder.rnn."), strict=True)
        prev = torch.cat([torch.zeros(B, 1, W), x.view(B, T, W)[:, :-1]], 1)
        ep = linear("decoder.embed", prev) if s.get("embedding") else prev
        inp = torch.cat([ep, z[:, None, :].expand(B, T, z.shape[1])], 2)
        h0 = torch.tanh(linear("decoder.init_h", z))[None]
        state = (h0, linear("decoder.init_c", z)[None]) if s["cell"] == "lstm" else h0
        y, _ = dec(inp, state)
        logits = linear("decoder.out", y).reshape(B, -1)
    res.append({"enc": mu_logvar.flatten().tolist(), "dec": logits.flatten().tolist()})
print(json.dumps(res))
`;
