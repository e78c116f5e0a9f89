// config.json is validated against a schema before a model is rebuilt from it: a damaged or hand-written file
// gets one line naming the file and the field, and every model vaekit writes (and wrote in format 1) passes.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadModel, readModelMeta } from '../src/io/model.js';
import { validateModelConfigJson } from '../src/io/model-schema.js';
import { modelFiles, type ModelMeta } from '../src/models/files.js';
import { createModel } from '../src/models/index.js';
import { Rng } from '../src/rng.js';
import { setupBackend } from './helpers.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'models-v1');
const kinds = readdirSync(fixtures).filter((f) => !f.includes('.'));
const fixture = (k: string): ModelMeta => JSON.parse(readFileSync(path.join(fixtures, k, 'config.json'), 'utf8'));

describe('config.json schema', () => {
  const dirs: string[] = [];
  before(async () => {
    await setupBackend();
  });
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('every format-1 fixture passes and loads', async () => {
    assert.ok(kinds.length >= 7);
    for (const k of kinds) {
      validateModelConfigJson(fixture(k), k);
      const meta = await readModelMeta(path.join(fixtures, k));
      assert.equal(meta.config.kind, fixture(k).config.kind);
    }
  });

  it('every model kind as written now passes', async () => {
    for (const k of kinds) {
      const meta = fixture(k);
      const model = createModel(meta.config, new Rng(1));
      const files = await modelFiles(model, meta.data, { epochs: 1 });
      model.dispose();
      validateModelConfigJson(JSON.parse(files['config.json'] as string), `${k} (written now)`);
    }
  });

  const bad: [string, (m: ModelMeta) => unknown, RegExp][] = [
    ['no config', (m) => ({ format: m.format, version: 1 }), /: config is missing$/],
    ['config a string', (m) => ({ ...m, config: 'vae' }), /: config must be an object, got "vae"$/],
    ['no kind', (m) => ({ ...m, config: { ...m.config, kind: undefined } }), /: config\.kind is missing$/],
    [
      'unknown kind',
      (m) => ({ ...m, config: { ...m.config, kind: 'gan' } }),
      /: config\.kind must be one of vae, cvae, hvae, seqvae, vqvae, got "gan"$/,
    ],
    [
      'no latentDim',
      (m) => ({ ...m, config: { ...m.config, latentDim: undefined } }),
      /: config\.latentDim is missing$/,
    ],
    [
      'hidden widths not an array',
      (m) => ({ ...m, config: { ...m.config, network: { type: 'mlp', hidden: '16' } } }),
      /: config\.network\.hidden must be an array, got "16"$/,
    ],
    [
      'a fractional width',
      (m) => ({ ...m, config: { ...m.config, network: { type: 'mlp', hidden: [16, 2.5] } } }),
      /: config\.network\.hidden\[1\] must be an integer, got 2\.5$/,
    ],
    [
      'unknown network type',
      (m) => ({ ...m, config: { ...m.config, network: { type: 'transformer' } } }),
      /: config\.network\.type must be "mlp" or "conv", got "transformer"$/,
    ],
    [
      'unknown likelihood',
      (m) => ({ ...m, config: { ...m.config, likelihood: 'poisson' } }),
      /: config\.likelihood must be one of "bernoulli", "gaussian", "discretized-logistic", "local-logistic-mixture", got "poisson"$/,
    ],
    ['no data', (m) => ({ ...m, data: undefined }), /: data is missing$/],
    ['no data shape', (m) => ({ ...m, data: { dataset: 'mnist', protocol: 'binary' } }), /: data\.shape is missing$/],
    ['an array', () => [1, 2], /: a model config must be a JSON object, got \[1,2\]$/],
  ];
  for (const [what, edit, re] of bad) {
    it(`names the file and the field: ${what}`, () => {
      assert.throws(
        () => validateModelConfigJson(JSON.parse(JSON.stringify(edit(fixture('vae')) ?? null)), 'm/config.json'),
        (e: Error) => {
          assert.match(e.message, /^m\/config\.json: /);
          assert.match(e.message, re);
          return true;
        },
      );
    });
  }

  it('loadModel refuses a bad config.json with the file and the field', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vaekit-schema-'));
    dirs.push(dir);
    const m = path.join(dir, 'model');
    mkdirSync(m);
    writeFileSync(path.join(m, 'config.json'), JSON.stringify({ format: 'vaekit-model', version: 1 }));
    await assert.rejects(loadModel(m), new RegExp(`^Error: ${m}/config\\.json: config is missing$`));
    writeFileSync(path.join(m, 'config.json'), JSON.stringify({ ...fixture('cvae'), config: { kind: 'cvae' } }));
    await assert.rejects(loadModel(m), /config\.json: config\.inputShape is missing$/);
    // A newer format version is parseModelMeta's to refuse, in its own words.
    writeFileSync(path.join(m, 'config.json'), JSON.stringify({ format: 'vaekit-model', version: 99 }));
    await assert.rejects(loadModel(m), /model format version 99 is newer than this vaekit reads/);
  });
});
