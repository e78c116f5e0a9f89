// The evaluation classifier on a small real slice (2,000 Fashion-MNIST images, 1 epoch), its cache,
// and the whole eval report (library and CLI) on a small model.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { allRows, loadDataset, take, type Dataset } from '../src/data/dataset.js';
import {
  binarizeSplit,
  classifierFor,
  classifierKey,
  defaultClassifierCacheDir,
  IMAGE_BINARIZE,
  loadClassifier,
  saveClassifier,
  trainClassifier,
} from '../src/eval/classifier.js';
import { evaluateModel, formatEvalReport, sampleRows } from '../src/eval/report.js';
import { evaluateSampleQuality } from '../src/eval/sample-quality.js';
import { createModel } from '../src/models/index.js';
import { Rng } from '../src/rng.js';
import { setupBackend } from './helpers.js';

const HAVE_FMNIST = existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz');
const DATASET = HAVE_FMNIST ? 'fashion-mnist' : 'mnist';
const root = mkdtempSync(path.join(tmpdir(), 'vaekit-eval-'));
let data: Dataset;

before(async () => {
  await setupBackend();
  const full = await loadDataset({ name: DATASET, protocol: 'continuous' });
  data = { ...full, train: take(full.train, 2000), test: take(full.test, 500) };
});
after(() => rmSync(root, { recursive: true, force: true }));

describe(`evaluation classifier (${DATASET}, 2,000 images, 1 epoch)`, () => {
  it('trains, beats chance by a wide margin, saves and loads back identically, and is cached', async () => {
    const t0 = performance.now();
    const { classifier, testAccuracy } = trainClassifier(data.train, data.test, 10, { epochs: 1, seed: 1 });
    const seconds = (performance.now() - t0) / 1000;
    assert.ok(testAccuracy! > 0.6, `test accuracy ${testAccuracy} (chance 0.1), ${seconds.toFixed(1)} s`);
    const dir = path.join(root, 'saved');
    await saveClassifier(dir, classifier);
    const back = await loadClassifier(dir);
    const a = classifier.run(allRows(data.test).subarray(0, 20 * 784), 20);
    const b = back.run(allRows(data.test).subarray(0, 20 * 784), 20);
    // Same weights; the native backend may pick another convolution kernel per shape (tiny round-off).
    for (let i = 0; i < a.logits.length; i++)
      assert.ok(Math.abs(a.logits[i] - b.logits[i]) < 1e-4, `logit ${i}: ${a.logits[i]} vs ${b.logits[i]}`);
    assert.deepEqual(b.labels, a.labels);
    assert.equal(a.featureDim, 128);
    assert.equal(back.meta.testAccuracy, testAccuracy);
    classifier.dispose();
    back.dispose();

    // classifierFor: trains once, then the cache answers; other data → retrained.
    const logs: string[] = [];
    const opts = {
      cacheDir: root,
      key: classifierKey(data.name, data.protocol, 2000),
      epochs: 1,
      log: (m: string) => logs.push(m),
    };
    const first = await classifierFor(data, opts);
    assert.equal(first.cached, false);
    // one classifier per data set (not per pixel protocol), measured on grayscale and binarized test images
    assert.ok(existsSync(path.join(root, `${DATASET}-limit2000`, 'classifier.json')));
    const m = first.classifier.meta;
    assert.equal(m.protocol, 'continuous');
    assert.equal(m.training?.binarize, IMAGE_BINARIZE, 'image data: half the training images binarized');
    assert.ok(
      m.testAccuracyBinarized! > 0.3 && m.testAccuracyBinarized! <= 1,
      `binarized accuracy ${m.testAccuracyBinarized}`,
    );
    assert.equal(m.testAccuracyBinarized, first.classifier.accuracy(binarizeSplit(data.test)));
    const second = await classifierFor(data, opts);
    assert.equal(second.cached, true);
    assert.equal(second.classifier.meta.testAccuracy, first.classifier.meta.testAccuracy);
    const other = await classifierFor({ ...data, train: take(data.train, 500) }, { ...opts, noSave: true });
    assert.equal(other.cached, false);
    assert.match(logs.join('\n'), /trained on different data/);
    // the binary protocol's images cannot train it: it needs the grayscale ones
    await assert.rejects(
      classifierFor({ ...data, protocol: 'binary' }, { ...opts, noSave: true }),
      /trained on its grayscale images: load the data set with the continuous protocol/,
    );
    for (const c of [first, second, other]) c.classifier.dispose();
  });

  it('cache locations and keys', () => {
    assert.equal(defaultClassifierCacheDir({ VAEKIT_CLASSIFIER_DIR: '/x/y' }), '/x/y');
    assert.equal(defaultClassifierCacheDir({ XDG_CACHE_HOME: '/c' }), '/c/vaekit/classifiers');
    // images: both pixel protocols share one classifier; CSV data: one per normalisation
    assert.equal(classifierKey('fashion-mnist', 'binary'), 'fashion-mnist');
    assert.equal(classifierKey('fashion-mnist', 'continuous'), 'fashion-mnist');
    assert.equal(classifierKey('mnist', 'continuous', 600), 'mnist-limit600');
    assert.match(classifierKey('images:/data/my faces', 'continuous'), /^images-my_faces-[0-9a-f]{8}$/);
    assert.match(classifierKey('csv:/data/t.csv', 'standardize'), /^csv-t-[0-9a-f]{8}-standardize$/);
  });

  it('binarizeSplit thresholds at 0.5 exactly as the binary protocol does', () => {
    const b = allRows(binarizeSplit(take(data.test, 20)));
    const x = allRows(data.test);
    assert.equal(b.length, 20 * 784);
    for (let i = 0; i < b.length; i++) assert.equal(b[i], x[i] > 0.5 ? 1 : 0);
  });
});

describe('sample quality and the eval report on a small model', () => {
  it('real images score better than noise; the report has every section', async () => {
    const { classifier } = await classifierFor(data, {
      cacheDir: root,
      key: classifierKey(data.name, data.protocol, 2000),
      epochs: 1,
    }); // cached by the test above
    const rng = new Rng(3);
    // "Samples" that are real training images vs uniform noise.
    let off = 0;
    const realGen = (n: number) => {
      const x = allRows(data.train).slice(off * 784, (off + n) * 784);
      off += n;
      return x;
    };
    const good = evaluateSampleQuality({
      classifier,
      real: data.test,
      generate: realGen,
      n: 400,
      rng: rng.fork(),
      reference: data.train,
    });
    const noise = evaluateSampleQuality({
      classifier,
      real: data.test,
      generate: (n) => rng.fillUniform(new Float32Array(n * 784)),
      n: 400,
      rng: rng.fork(),
    });
    assert.ok(
      good.frechetDistance < noise.frechetDistance / 5,
      `FD real ${good.frechetDistance} vs noise ${noise.frechetDistance}`,
    );
    assert.ok(good.precision > 0.5 && good.recall > 0.5, `real: P ${good.precision} R ${good.recall}`);
    // Noise images all land in one small region of feature space: no recall (precision alone can be
    // fooled by that when the region falls in the k-NN ball of an outlying real image).
    assert.ok(noise.recall < 0.05 && noise.precision < good.precision, `noise: P ${noise.precision} R ${noise.recall}`);
    assert.ok(good.diversity.classCoverage === 1 && good.diversity.classEntropyNormalized > 0.9);
    assert.ok(good.frechetDistanceReference! >= 0 && good.frechetDistanceReference! < noise.frechetDistance / 5);
    // A conditional generator that returns real images of the requested class: accuracy ≈ the classifier's.
    const byClass = (n: number, label: number) => {
      const idx: number[] = [];
      for (let i = 0; i < data.test.n && idx.length < n; i++) if (data.test.y![i] === label) idx.push(i);
      while (idx.length < n) idx.push(idx[idx.length % Math.max(1, idx.length)]);
      const x = new Float32Array(n * 784);
      idx.forEach((j, k) => x.set(allRows(data.test).subarray(j * 784, (j + 1) * 784), k * 784));
      return x;
    };
    const cond = evaluateSampleQuality({
      classifier,
      real: data.test,
      generate: realGen,
      n: 100,
      rng: rng.fork(),
      conditional: byClass,
      conditionalPerClass: 20,
    });
    assert.ok(cond.conditional!.accuracy > 0.6, `conditional accuracy ${cond.conditional!.accuracy}`);
    assert.equal(cond.conditional!.perClass.length, 10);

    const model = createModel(
      {
        kind: 'vae',
        inputShape: [28, 28, 1],
        latentDim: 8,
        network: { type: 'mlp', hidden: [64] },
        likelihood: 'gaussian',
        sigma: 1,
      },
      new Rng(0),
    );
    const report = evaluateModel(model, data.test, {
      seed: 0,
      limit: 200,
      k: 5,
      nllLimit: 50,
      samples: 300,
      classifier: { classifier, cached: true },
      reference: data.train,
    });
    assert.equal(report.n, 200);
    assert.equal(report.nll_n, 50);
    assert.ok(Number.isFinite(report.elbo) && Number.isFinite(report.nll!) && report.bits_per_dim! > 0);
    assert.ok(report.reconstruction.ssim! > -1 && report.reconstruction.ssim! < 1 && report.reconstruction.psnr! > 0);
    assert.equal(report.latent.latent_dim, 8);
    assert.ok(!('skipped' in report.sample_quality));
    if (!('skipped' in report.sample_quality))
      assert.ok(
        report.sample_quality.frechet_distance > good.frechetDistance,
        'an untrained VAE is worse than real data',
      );
    assert.equal(sampleRows(model, 3, new Rng(1)).length, 3 * 784);
    const text = formatEvalReport(report);
    for (const s of [
      '−ELBO',
      'NLL (k=5, n=50)',
      'SSIM',
      'active units',
      'Fréchet distance',
      'precision / recall',
      'class entropy',
      'grayscale',
      'binarized',
    ])
      assert.ok(text.includes(s), `table has ${s}`);
    if (!('skipped' in report.sample_quality))
      assert.equal(report.sample_quality.classifier.test_accuracy_binarized, classifier.meta.testAccuracyBinarized);
    JSON.parse(JSON.stringify(report));
    const off2 = evaluateModel(model, data.test, { seed: 0, limit: 50, k: 0, samples: 0 });
    assert.deepEqual(off2.sample_quality, { skipped: 'turned off' });
    assert.equal(off2.nll, undefined);
    model.dispose();
    classifier.dispose();
  });
});

describe('vaekit eval --quick (CLI)', () => {
  it('writes the JSON report and prints the table', () => {
    const BIN = path.resolve('bin/vaekit.js');
    const run = path.join(root, 'run');
    const env = { ...process.env, FORCE_COLOR: '0', VAEKIT_CLASSIFIER_DIR: path.join(root, 'cache') };
    const common = ['--dataset', DATASET, '--limit', '600'];
    const tr = spawnSync(
      process.execPath,
      [
        BIN,
        'train',
        ...common,
        '--epochs',
        '1',
        '--hidden',
        '64',
        '--latent',
        '4',
        '--report-k',
        '0',
        '--no-eval',
        '--progress',
        'none',
        '--out',
        run,
      ],
      { encoding: 'utf8', env },
    );
    assert.equal(tr.status, 0, tr.stderr);
    const model = path.join(run, 'model');
    const ev = spawnSync(
      process.execPath,
      [BIN, 'eval', model, '--limit', '600', '--quick', '--classifier-epochs', '1', '--samples', '200', '--json'],
      { encoding: 'utf8', env },
    );
    assert.equal(ev.status, 0, ev.stderr);
    const r = JSON.parse(ev.stdout);
    assert.equal(r.k, 100);
    assert.equal(r.n, 100, 'limit 600 → 100 test examples');
    assert.ok(r.nll > 0 && r.nll_stderr > 0);
    assert.ok(r.reconstruction.bce > 0, 'binary protocol by default → BCE');
    assert.equal(r.latent.latent_dim, 4);
    assert.equal(r.sample_quality.n_samples, 200);
    assert.equal(r.sample_quality.classifier.cached, false);
    // a binary-protocol model: the classifier is trained on the grayscale images and measured on both
    assert.match(ev.stderr, /training the evaluation classifier for \S+ \(grayscale images/);
    assert.ok(
      r.sample_quality.classifier.test_accuracy > 0.1 && r.sample_quality.classifier.test_accuracy_binarized > 0.1,
    );
    assert.ok(existsSync(path.join(root, 'cache', `${DATASET}-limit600`, 'classifier.json')));
    assert.equal(r.report_file, path.join(run, 'model.eval.json'));
    assert.deepEqual(JSON.parse(readFileSync(r.report_file, 'utf8')).latent, r.latent);
    // Second run: the classifier comes from the cache; the table goes to stdout.
    const tb = spawnSync(
      process.execPath,
      [
        BIN,
        'eval',
        model,
        '--limit',
        '600',
        '--quick',
        '--samples',
        '200',
        '--k',
        '3',
        '--out',
        path.join(root, 'e.json'),
      ],
      { encoding: 'utf8', env },
    );
    assert.equal(tb.status, 0, tb.stderr);
    assert.match(
      tb.stdout,
      /Likelihood[\s\S]*Reconstruction[\s\S]*SSIM[\s\S]*Latent units[\s\S]*Sample quality[\s\S]*\(cached\)/,
    );
    assert.equal(JSON.parse(readFileSync(path.join(root, 'e.json'), 'utf8')).k, 3);
  });
});
