// The run's objective settings (β, KL warm-up, free bits, word dropout) live in one objective config, saved as
// config.json's training.objective, never in the model config; models saved before load with theirs moved
// there; the epoch line shows the true test −ELBO (rec + KL) when β ≠ 1.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readModelMeta } from '../src/io/model.js';
import { MODEL_FORMAT_VERSION, parseModelMeta } from '../src/models/files.js';
import { DEFAULT_OBJECTIVE, objectiveConfig } from '../src/objectives/config.js';
import { epochFigures, type EpochMetrics } from '../src/train/trainer.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(root, 'bin', 'vaekit.js');
const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('objective config', () => {
  it('fills the defaults and names a bad setting', () => {
    assert.deepEqual(objectiveConfig(), DEFAULT_OBJECTIVE);
    assert.deepEqual(objectiveConfig({ beta: 4, freeBits: undefined }), { ...DEFAULT_OBJECTIVE, beta: 4 });
    assert.throws(() => objectiveConfig({ beta: -1 }), /objective: beta must be a non-negative number, got -1/);
    assert.throws(() => objectiveConfig({ wordDropout: 1.5 }, 'x'), /x: wordDropout must be in \[0, 1\], got 1.5/);
    assert.throws(() => objectiveConfig({ klWarmup: 2.5 }), /klWarmup must be a non-negative integer/);
  });

  it('a model config of format 2 has its β and word dropout (and the run free bits) moved to training.objective', () => {
    const meta = parseModelMeta(
      {
        format: 'vaekit-model',
        version: 2,
        config: { kind: 'seqvae', inputShape: [4, 27], latentDim: 2, beta: 4, wordDropout: 0.25 },
        data: { dataset: 'words', protocol: 'onehot', shape: [4, 27] },
        training: { epochs: 1, freeBits: 0.5 },
      },
      'm/config.json',
    );
    assert.ok(!('beta' in meta.config) && !('wordDropout' in meta.config), JSON.stringify(meta.config));
    assert.deepEqual(meta.training?.objective, { beta: 4, wordDropout: 0.25, freeBits: 0.5 });
    assert.equal(meta.training?.epochs, 1);
    assert.ok(MODEL_FORMAT_VERSION > 2);
  });

  it('the v1 fixtures read with β in training.objective and none in the model config', async () => {
    for (const kind of ['vae', 'seqvae', 'hvae']) {
      const meta = await readModelMeta(path.join(root, 'test', 'fixtures', 'models-v1', kind));
      assert.ok(!('beta' in meta.config), `${kind}: ${JSON.stringify(meta.config)}`);
      assert.equal((meta.training?.objective as { beta?: number }).beta, 1, kind);
    }
  });

  it('the epoch line: β-weighted training loss, and the test −ELBO as rec + KL whatever β the evaluation used', () => {
    const m: EpochMetrics = {
      epoch: 1,
      steps: 4,
      seconds: 1,
      lr: 1e-3,
      beta: 4,
      num_tensors: 0,
      loss: 180,
      rec: 100,
      kl: 20,
      test_loss: 190, // an evaluation with β = 4: rec + 4·KL
      test_rec: 110,
      test_kl: 20,
    };
    const line = epochFigures(m);
    assert.match(line, /^loss 180\.00 \(β-weighted, β=4\) \(rec 100\.00, kl 20\.00\)/);
    assert.match(line, /test −ELBO 130\.00$/);
    assert.doesNotMatch(epochFigures({ ...m, beta: 1, loss: 120 }), /β-weighted/);
  });

  it('vaekit train --beta 4: the epoch line and metrics hold the true test −ELBO; config.json the objective block', () => {
    const out = mkdtempSync(path.join(tmpdir(), 'vaekit-objective-'));
    dirs.push(out);
    const r = spawnSync(
      process.execPath,
      [
        BIN,
        'train',
        '--dataset',
        'mnist',
        '--limit',
        '256',
        '--hidden',
        '32',
        '--latent',
        '4',
        '--epochs',
        '1',
        '--beta',
        '4',
        '--kl-warmup',
        '2',
        '--free-bits',
        '0.1',
        '--report-k',
        '0',
        '--progress',
        'lines',
        '--out',
        out,
      ],
      { encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0' } },
    );
    assert.equal(r.status, 0, r.stderr);
    const [m] = readFileSync(path.join(out, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.ok(Math.abs(m.test_loss - (m.test_rec + m.test_kl)) < 1e-3, JSON.stringify(m)); // β = 1 on the test split
    const line = r.stderr.split('\n').find((l) => /^epoch 1\/1 {2}loss/.test(l.trim()));
    assert.ok(line, r.stderr);
    assert.match(line, /β-weighted, β=4/);
    assert.match(line, new RegExp(`test −ELBO ${(m.test_rec + m.test_kl).toFixed(2)}`));
    const meta = JSON.parse(readFileSync(path.join(out, 'model', 'config.json'), 'utf8'));
    assert.ok(!('beta' in meta.config), JSON.stringify(meta.config));
    assert.deepEqual(meta.training.objective, { beta: 4, klWarmup: 2, freeBits: 0.1, wordDropout: 0 });
    assert.equal(meta.version, MODEL_FORMAT_VERSION);
    assert.match(
      readFileSync(path.join(out, 'report.md'), 'utf8'),
      /β=4 \(warm-up 2 steps\), free bits 0.1 nats\/unit/,
    );
  });
});
