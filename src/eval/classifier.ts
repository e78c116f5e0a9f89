// The evaluation classifier: a small network trained once per data set, saved to a cache directory,
// whose penultimate layer is the feature space of the sample-quality figures
// (Fréchet distance, precision/recall, diversity) and whose predictions give class coverage.
//
//   images [h, w, c]:  conv 3×3 ×32 relu → conv 3×3 ×32 stride 2 relu → conv 3×3 ×64 stride 2 relu
//                      → flatten → dense 128 relu (the features) → dense C (logits)
//   flat data [d]:     dense 256 relu → dense 128 relu (the features) → dense C (logits)
//
// Training is vaekit's own loop: He-uniform weights from the seeded Rng, seeded
// batch order, Adam with a cosine learning-rate decay, softmax cross-entropy; no hidden randomness,
// so a classifier is reproducible.
//
// Images: the classifier is a property of the data set, not of a model's pixel protocol. It is trained
// once on the grayscale (continuous, pixel/255) images and serves models of both protocols: a binary
// model's samples reach it as decoder means in [0, 1], and the binary protocol's real images are the
// same images thresholded at 0.5. So that it reads both kinds, each training image is binarized with
// probability 1/2, afresh at every step (IMAGE_BINARIZE). Its test accuracy is measured on both the
// grayscale and the binarized test images; both are saved (classifier.json) and reported. Fashion-MNIST
// (bench/classifier.ts, seed 0, 10,000 test images): 4 epochs (the default) 91.0% grayscale, 87.3%
// binarized, 595 s on 2 shared cores; 3 epochs 90.4% / 86.9%; 3 epochs without the augmentation 91.0% /
// 79.4%; trained on the binary protocol's images alone, 87.2% on binarized images.
//
// Cache: <root>/<key>/ with classifier.json (format, spec, data fingerprint, test accuracy, training
// time) and tfjs/model.json + tfjs/weights.bin, written atomically as one directory. <root> is
// $VAEKIT_CLASSIFIER_DIR, else $XDG_CACHE_HOME/vaekit/classifiers, else ~/.cache/vaekit/classifiers;
// <key> is `<dataset>` for image data (both pixel protocols share it) and `<dataset>-<normalisation>`
// for CSV data (`-limit<N>` added for a --limit slice). A cached classifier is
// reused only when its spec and the fingerprint of the data it was trained on match.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { batches, chunks, rowSize, type Dataset, type Split } from '../data/dataset.js';
import { isPixelProtocol } from '../data/protocol.js';
import { readJson, recoverDir, writeDirAtomic, type FileData } from '../util/atomic.js';
import { fanIn } from '../nn/init.js';
import { Rng } from '../rng.js';
import { Optimizer } from '../train/optimizers.js';

export const CLASSIFIER_FORMAT = 'vaekit-classifier';
/** Bumped whenever the architecture or the training recipe changes: older caches are retrained. */
export const CLASSIFIER_VERSION = 4;
export const CLASSIFIER_FEATURE_DIM = 128;

export interface ClassifierSpec {
  arch: 'cnn' | 'mlp';
  /** Per-example shape; the network takes flat rows [B, prod(inputShape)]. */
  inputShape: number[];
  numClasses: number;
  featureDim: number;
}

export interface ClassifierTraining {
  epochs: number;
  batchSize: number;
  lr: number;
  seed: number;
  /** Fraction of training images binarized (x > 0.5) on the fly, per example and step (0: none). */
  binarize?: number;
  steps: number;
  seconds: number;
  backend: string;
}

export interface ClassifierMeta {
  format: typeof CLASSIFIER_FORMAT;
  version: number;
  spec: ClassifierSpec;
  dataset?: string;
  protocol?: string;
  classNames?: string[];
  /** sha256 of the training split (x and y) the classifier was trained on. */
  trainFingerprint?: string;
  trainN?: number;
  /** Accuracy on the held-out split given to training (the data set's test split; images: grayscale). */
  testAccuracy?: number;
  /** Images: accuracy on the same test images binarized as the binary protocol does (x > 0.5). */
  testAccuracyBinarized?: number;
  testN?: number;
  training?: ClassifierTraining;
  savedAt?: string;
}

export interface TrainClassifierOptions {
  epochs?: number;
  batchSize?: number;
  lr?: number;
  seed?: number;
  /** Augmentation: binarize each training image (x > 0.5) with this probability, afresh every step (default 0). */
  binarize?: number;
  /** Called after every step. */
  onStep?: (info: { epoch: number; epochs: number; step: number; steps: number; loss: number }) => void;
  log?: (msg: string) => void;
}

export const DEFAULT_CLASSIFIER_TRAINING = { epochs: 4, batchSize: 64, lr: 1e-3, seed: 0, binarize: 0 } as const;
/** The augmentation classifierFor uses for image data: each training image binarized with this probability. */
export const IMAGE_BINARIZE = 0.5;

/** The network: flat rows in, [logits, features] out. */
export function buildClassifierNetwork(spec: ClassifierSpec): tfl.LayersModel {
  const D = spec.inputShape.reduce((a, b) => a * b, 1);
  if (!Number.isInteger(spec.numClasses) || spec.numClasses < 2)
    throw new Error(`classifier: need at least 2 classes, got ${spec.numClasses}`);
  const input = tfl.input({ shape: [D], name: 'x' });
  let h: tfl.SymbolicTensor;
  if (spec.arch === 'cnn') {
    const [H, W, C] = spec.inputShape;
    if (spec.inputShape.length !== 3 || H < 10 || W < 10)
      throw new Error(`classifier: the CNN needs images of at least 10×10, got ${spec.inputShape.join('×')}`);
    h = tfl.layers.reshape({ targetShape: [H, W, C], name: 'image' }).apply(input) as tfl.SymbolicTensor;
    // Strided convolutions rather than conv + maxPooling2d: tfjs-backend-cpu's MaxPoolGrad (which the
    // native backend inherits) takes seconds per batch, the strided convolutions run natively.
    h = tfl.layers
      .conv2d({ filters: 32, kernelSize: 3, padding: 'same', activation: 'relu', name: 'conv1' })
      .apply(h) as tfl.SymbolicTensor;
    h = tfl.layers
      .conv2d({ filters: 32, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', name: 'conv2' })
      .apply(h) as tfl.SymbolicTensor;
    h = tfl.layers
      .conv2d({ filters: 64, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', name: 'conv3' })
      .apply(h) as tfl.SymbolicTensor;
    h = tfl.layers.flatten({ name: 'flatten' }).apply(h) as tfl.SymbolicTensor;
  } else {
    h = tfl.layers.dense({ units: 256, activation: 'relu', name: 'hidden' }).apply(input) as tfl.SymbolicTensor;
  }
  const features = tfl.layers
    .dense({ units: spec.featureDim, activation: 'relu', name: 'features' })
    .apply(h) as tfl.SymbolicTensor;
  const logits = tfl.layers
    .dense({ units: spec.numClasses, activation: 'linear', name: 'logits' })
    .apply(features) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: [logits, features], name: 'classifier' });
}

/** The spec vaekit uses for examples of `shape` with `numClasses` classes. */
export function classifierSpecFor(shape: number[], numClasses: number): ClassifierSpec {
  const cnn = shape.length === 3 && shape[0] >= 10 && shape[1] >= 10;
  return { arch: cnn ? 'cnn' : 'mlp', inputShape: [...shape], numClasses, featureDim: CLASSIFIER_FEATURE_DIM };
}

export interface ClassifierOutput {
  logits: Float32Array;
  features: Float32Array;
  /** argmax of the logits per row. */
  labels: Int32Array;
  n: number;
  numClasses: number;
  featureDim: number;
}

export class Classifier {
  constructor(
    readonly net: tfl.LayersModel,
    public meta: ClassifierMeta,
  ) {}

  get spec(): ClassifierSpec {
    return this.meta.spec;
  }

  /** Logits, penultimate features and predicted labels of n flat rows, in batches. */
  run(x: Float32Array, n: number, batchSize = 500): ClassifierOutput {
    const D = rowSize({ shape: this.spec.inputShape });
    if (x.length !== n * D)
      throw new Error(`classifier: ${n} rows of ${D} values need ${n * D} values, got ${x.length}`);
    const C = this.spec.numClasses;
    const F = this.spec.featureDim;
    const logits = new Float32Array(n * C);
    const features = new Float32Array(n * F);
    for (let s = 0; s < n; s += batchSize) {
      const e = Math.min(n, s + batchSize);
      const [l, f] = tf.tidy(() => {
        const out = this.net.apply(tf.tensor2d(x.subarray(s * D, e * D), [e - s, D]), {
          training: false,
        }) as tf.Tensor[];
        return [out[0].dataSync() as Float32Array, out[1].dataSync() as Float32Array];
      });
      logits.set(l, s * C);
      features.set(f, s * F);
    }
    const labels = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let c = 1; c < C; c++) if (logits[i * C + c] > logits[i * C + best]) best = c;
      labels[i] = best;
    }
    return { logits, features, labels, n, numClasses: C, featureDim: F };
  }

  /** Fraction of a labelled split classified correctly. */
  accuracy(split: Split): number {
    if (!split.y) throw new Error('classifier accuracy: the split has no labels');
    let ok = 0;
    for (const c of chunks(split, 10000)) {
      const { labels } = this.run(c.x, c.end - c.start);
      for (let i = 0; i < labels.length; i++) if (labels[i] === c.y![i]) ok++;
    }
    return ok / split.n;
  }

  dispose(): void {
    this.net.dispose();
  }
}

function namedWeights(net: tfl.LayersModel): Record<string, tf.Variable> {
  const out: Record<string, tf.Variable> = {};
  for (const layer of net.layers) {
    layer.trainableWeights.forEach((w, j) => {
      out[`${layer.name}.${['weight', 'bias'][j] ?? `p${j}`}`] = w.read() as tf.Variable;
    });
  }
  return out;
}

/** He-uniform kernels (±√(6 / fan_in), for ReLU layers) and zero biases, from vaekit's Rng. */
function initHeUniform(net: tfl.LayersModel, rng: Rng): void {
  for (const layer of net.layers) {
    const ws = layer.getWeights();
    if (ws.length === 0) continue;
    const bound = Math.sqrt(6 / fanIn(layer.getClassName(), ws[0].shape));
    const fresh = ws.map((w, i) =>
      i === 0 ? tf.tensor(rng.fillUniform(new Float32Array(w.size), -bound, bound), w.shape) : tf.zeros(w.shape),
    );
    layer.setWeights(fresh);
    tf.dispose(fresh);
  }
}

/** A copy of n rows with each row thresholded at 0.5 (as the binary protocol does) with probability p. */
function binarizeSome(x: Float32Array, n: number, D: number, p: number, rng: Rng): Float32Array {
  const out = Float32Array.from(x);
  for (let i = 0; i < n; i++) {
    if (rng.uniform() >= p) continue;
    for (let j = i * D; j < (i + 1) * D; j++) out[j] = out[j] > 0.5 ? 1 : 0;
  }
  return out;
}

/** The split with every value thresholded at 0.5: the binary protocol's images from the grayscale ones. */
export function binarizeSplit(split: Split): Split {
  if (!split.source) return { ...split, x: binarizeSome(split.x, split.n, rowSize(split), 1, new Rng(0)) };
  const src = split.source;
  const bin = (x: Float32Array) => binarizeSome(x, x.length / src.rowSize, src.rowSize, 1, new Rng(0));
  const readAsync = src.readAsync;
  return {
    ...split,
    source: {
      n: src.n,
      rowSize: src.rowSize,
      readRows: (idx) => bin(src.readRows(idx)),
      readAsync: readAsync && (async (idx) => bin(await readAsync.call(src, idx))),
      residentBytes: () => src.residentBytes(),
      close: src.close && (() => src.close!()),
    },
  };
}

/** sha256 of a split's values and labels: identifies the data a cached classifier was trained on. */
export function splitFingerprint(split: Split): string {
  const h = createHash('sha256');
  h.update(`${split.n}|${split.shape.join('x')}|`);
  for (const { x } of chunks(split, 10000)) h.update(new Uint8Array(x.buffer, x.byteOffset, x.byteLength));
  if (split.y) h.update(new Uint8Array(split.y.buffer, split.y.byteOffset, split.y.byteLength));
  return h.digest('hex');
}

/**
 * Trains a classifier on a labelled split (and measures it on `test` when given). Deterministic for
 * a given seed and backend.
 */
export function trainClassifier(
  train: Split,
  test: Split | undefined,
  numClasses: number,
  opts: TrainClassifierOptions = {},
): { classifier: Classifier; testAccuracy?: number; seconds: number } {
  if (!train.y) throw new Error('classifier: the training split has no labels');
  const epochs = opts.epochs ?? DEFAULT_CLASSIFIER_TRAINING.epochs;
  const batchSize = opts.batchSize ?? DEFAULT_CLASSIFIER_TRAINING.batchSize;
  const lr = opts.lr ?? DEFAULT_CLASSIFIER_TRAINING.lr;
  const seed = opts.seed ?? DEFAULT_CLASSIFIER_TRAINING.seed;
  const binarize = opts.binarize ?? DEFAULT_CLASSIFIER_TRAINING.binarize;
  if (!(binarize >= 0 && binarize <= 1))
    throw new Error(`classifier: binarize must be a probability in [0, 1], got ${binarize}`);
  if (!Number.isInteger(epochs) || epochs < 1)
    throw new Error(`classifier: epochs must be a positive integer, got ${epochs}`);
  for (let i = 0; i < train.n; i++) {
    const c = train.y[i];
    if (!(c >= 0 && c < numClasses))
      throw new Error(`classifier: label ${c} of training example ${i} is outside 0..${numClasses - 1}`);
  }
  const spec = classifierSpecFor(train.shape, numClasses);
  if (spec.arch === 'cnn' && !tf.getKernel('Conv2DBackpropFilter', tf.getBackend()))
    throw new Error(
      `the ${tf.getBackend()} backend has no convolution gradients (Conv2DBackpropFilter), so the evaluation classifier cannot be trained on it; ` +
        `build the native backend (npm run build:native) or use --backend cpu (slow) once: the classifier is cached`,
    );
  const net = buildClassifierNetwork(spec);
  const rng = new Rng(seed);
  initHeUniform(net, rng.fork());
  const augRng = rng.fork();
  const params = namedWeights(net);
  const vars = Object.values(params);
  const nameOf = new Map(Object.entries(params).map(([k, v]) => [v.name, k]));
  const optimizer = new Optimizer({ kind: 'adam', lr });
  const D = rowSize(train);
  const stepsPer = Math.ceil(train.n / batchSize);
  const totalSteps = epochs * stepsPer;
  const t0 = performance.now();
  let steps = 0;
  for (let epoch = 0; epoch < epochs; epoch++) {
    for (const b of batches(train, { batchSize, seed, epoch, shuffle: true })) {
      const x = tf.tensor2d(binarize > 0 ? binarizeSome(b.x, b.size, D, binarize, augRng) : b.x, [b.size, D]);
      const y = tf.tidy(() => tf.oneHot(tf.tensor1d(b.y!, 'int32'), numClasses));
      const { value, grads } = tf.variableGrads(() => {
        const [logits] = net.apply(x, { training: true }) as tf.Tensor[];
        return tf.losses.softmaxCrossEntropy(y, logits) as tf.Scalar;
      }, vars);
      const loss = value.dataSync()[0];
      tf.dispose([x, y, value]);
      if (!Number.isFinite(loss)) {
        tf.dispose(grads);
        net.dispose();
        throw new Error(`classifier training diverged (loss ${loss}) at epoch ${epoch + 1}, step ${b.step + 1}`);
      }
      const byName: Record<string, tf.Tensor> = {};
      for (const [vn, g] of Object.entries(grads)) byName[nameOf.get(vn) ?? vn] = g;
      // Cosine decay of the learning rate to 0 over the whole run.
      optimizer.step(params, byName, 0.5 * lr * (1 + Math.cos((Math.PI * steps) / totalSteps)));
      tf.dispose(grads);
      steps++;
      opts.onStep?.({ epoch: epoch + 1, epochs, step: b.step + 1, steps: stepsPer, loss });
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  const classifier = new Classifier(net, {
    format: CLASSIFIER_FORMAT,
    version: CLASSIFIER_VERSION,
    spec,
    trainN: train.n,
    training: {
      epochs,
      batchSize,
      lr,
      seed,
      ...(binarize > 0 ? { binarize } : {}),
      steps,
      seconds,
      backend: tf.getBackend(),
    },
  });
  let testAccuracy: number | undefined;
  if (test?.y) {
    testAccuracy = classifier.accuracy(test);
    classifier.meta.testAccuracy = testAccuracy;
    classifier.meta.testN = test.n;
  }
  return { classifier, testAccuracy, seconds };
}

// ---------------------------------------------------------------------------------------------------
// Saving and loading

export async function saveClassifier(dir: string, classifier: Classifier): Promise<void> {
  const files: Record<string, FileData> = {};
  await classifier.net.save(
    tf.io.withSaveHandler(async (a) => {
      files['tfjs/model.json'] = JSON.stringify({
        format: 'layers-model',
        generatedBy: `vaekit via TensorFlow.js ${tf.version_core}`,
        convertedBy: null,
        modelTopology: a.modelTopology,
        weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }],
      });
      files['tfjs/weights.bin'] = new Uint8Array(a.weightData as ArrayBuffer);
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  classifier.meta.savedAt = new Date().toISOString();
  files['classifier.json'] = JSON.stringify(classifier.meta, null, 2) + '\n';
  await writeDirAtomic(dir, files);
}

export async function loadClassifier(dir: string): Promise<Classifier> {
  await recoverDir(dir);
  const meta = await readJson<ClassifierMeta>(path.join(dir, 'classifier.json'), 'classifier metadata');
  if (meta?.format !== CLASSIFIER_FORMAT)
    throw new Error(`${dir}/classifier.json is not a vaekit classifier (format "${meta?.format}")`);
  const modelJson = await readJson<{
    modelTopology: object;
    weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[];
  }>(path.join(dir, 'tfjs/model.json'), 'classifier network');
  const weights = await readFile(path.join(dir, 'tfjs/weights.bin'));
  const weightData = weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength);
  const net = await tfl.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: modelJson.modelTopology,
      weightSpecs: modelJson.weightsManifest[0].weights,
      weightData,
    }),
  );
  return new Classifier(net, meta);
}

/** Root of the classifier cache. */
export function defaultClassifierCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.VAEKIT_CLASSIFIER_DIR) return path.resolve(env.VAEKIT_CLASSIFIER_DIR);
  const base = env.XDG_CACHE_HOME ? path.resolve(env.XDG_CACHE_HOME) : path.join(homedir(), '.cache');
  return path.join(base, 'vaekit', 'classifiers');
}

/**
 * `<dataset>` for image data (one classifier serves both pixel protocols), `<dataset>-<normalisation>`
 * otherwise; file-name safe (csv:/images: paths become a name plus a short hash).
 */
export function classifierKey(dataset: string, protocol: string, limit?: number): string {
  const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, '_');
  let name = dataset;
  const m = /^(csv|images):(.*)$/.exec(dataset);
  if (m) {
    const abs = path.resolve(m[2]);
    name = `${m[1]}-${path.basename(abs).replace(/\.[^.]*$/, '')}-${createHash('sha256').update(abs).digest('hex').slice(0, 8)}`;
  }
  return `${safe(name)}${isPixelProtocol(protocol) ? '' : `-${safe(protocol)}`}${limit !== undefined ? `-limit${limit}` : ''}`;
}

export interface ClassifierForOptions extends TrainClassifierOptions {
  /** Cache root (default {@link defaultClassifierCacheDir}). */
  cacheDir?: string;
  /** Cache key (default {@link classifierKey} of the data set). */
  key?: string;
  /** Train a new one even when a matching one is cached. */
  retrain?: boolean;
  /** Do not write the trained classifier to the cache. */
  noSave?: boolean;
}

/**
 * The cached classifier for a data set, or a new one trained on its training split and cached. Image
 * data must come with the continuous protocol (the grayscale images the classifier is trained on,
 * whatever protocol the evaluated model uses).
 */
export async function classifierFor(
  data: Dataset,
  opts: ClassifierForOptions = {},
): Promise<{ classifier: Classifier; dir: string; cached: boolean }> {
  if (!data.numClasses || !data.train.y)
    throw new Error(`data set ${data.name} has no labels; the sample-quality figures need a labelled data set`);
  const images = isPixelProtocol(data.protocol);
  if (images && data.protocol !== 'continuous')
    throw new Error(
      `the evaluation classifier of ${data.name} is trained on its grayscale images: load the data set with the continuous protocol (got ${data.protocol})`,
    );
  const dir = path.join(
    opts.cacheDir ?? defaultClassifierCacheDir(),
    opts.key ?? classifierKey(data.name, data.protocol),
  );
  const spec = classifierSpecFor(data.shape, data.numClasses);
  const fingerprint = splitFingerprint(data.train);
  const log = opts.log ?? (() => {});
  if (!opts.retrain && existsSync(path.join(dir, 'classifier.json'))) {
    let why = '';
    try {
      const c = await loadClassifier(dir);
      const m = c.meta;
      if (m.version !== CLASSIFIER_VERSION) why = `it is of an older recipe (version ${m.version})`;
      else if (JSON.stringify(m.spec) !== JSON.stringify(spec))
        why = `its spec ${JSON.stringify(m.spec)} differs from ${JSON.stringify(spec)}`;
      else if (m.trainFingerprint !== fingerprint) why = 'it was trained on different data';
      else if (opts.epochs !== undefined && m.training?.epochs !== opts.epochs)
        why = `it was trained for ${m.training?.epochs} epochs, not ${opts.epochs}`;
      else if ((m.training?.binarize ?? 0) !== (opts.binarize ?? (images ? IMAGE_BINARIZE : 0)))
        why = `it was trained with binarize ${m.training?.binarize ?? 0}, not ${opts.binarize ?? IMAGE_BINARIZE}`;
      if (!why) return { classifier: c, dir, cached: true };
      c.dispose();
    } catch (e) {
      why = `it cannot be read (${(e as Error).message})`;
    }
    log(`vaekit: cached classifier ${dir} not used: ${why}; training a new one`);
  }
  log(
    `vaekit: training the evaluation classifier for ${data.name} (${images ? 'grayscale images' : data.protocol}, ${data.train.n} examples, ${opts.epochs ?? DEFAULT_CLASSIFIER_TRAINING.epochs} epochs); cached in ${dir}`,
  );
  const { classifier } = trainClassifier(data.train, data.test.y ? data.test : undefined, data.numClasses, {
    ...opts,
    binarize: opts.binarize ?? (images ? IMAGE_BINARIZE : 0),
  });
  if (images && data.test.y) classifier.meta.testAccuracyBinarized = classifier.accuracy(binarizeSplit(data.test));
  Object.assign(classifier.meta, {
    dataset: data.name,
    protocol: data.protocol,
    classNames: data.classNames,
    trainFingerprint: fingerprint,
  });
  if (!opts.noSave) await saveClassifier(dir, classifier);
  return { classifier, dir, cached: false };
}
