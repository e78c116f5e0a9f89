// Usage: node --import tsx bench/grad-variance.ts [MODEL_DIR=/tmp/sfrun/model] [DRAWS=200] [BATCH=64]
// (first: node bin/vaekit.js train --dataset fashion-mnist --epochs 2 --out /tmp/sfrun)
// Encoder-gradient variance of the ELBO: reparameterization vs score function, on a trained model.
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend/index.js';
import { loadDataset, parseDatasetName, rowRange, rowSize } from '../src/data/dataset.js';
import { loadModel } from '../src/io/model.js';
import { formatGradientVariance, gradientVariance } from '../src/eval/gradient-variance.js';
const dir = process.argv[2] ?? '/tmp/sfrun/model';
const draws = +(process.argv[3] ?? 200);
const batch = +(process.argv[4] ?? 64);
const info = await initBackend();
const { model, meta } = await loadModel(dir);
console.log(
  `backend ${info.backend}; model ${meta.config.kind} from ${dir}; data ${meta.data.dataset} (${meta.data.protocol})`,
);
const data = await loadDataset({ ...parseDatasetName(meta.data.dataset), protocol: meta.data.protocol });
const D = rowSize(data.test);
const x = tf.tensor2d(rowRange(data.test, 0, batch), [batch, D]);
const c0 = process.cpuUsage();
const r = gradientVariance(model, x, { draws, seed: 0 });
const cu = process.cpuUsage(c0);
console.log(formatGradientVariance(r));
console.log(`cpu ${((cu.user + cu.system) / 1e6).toFixed(0)} s`);
console.log(
  JSON.stringify(
    r.estimators.map((s) => ({
      name: s.name,
      meanVariance: s.meanVariance,
      ratio: s.varianceRatio,
      normVariance: s.normVariance,
      normMean: s.normMean,
      meanGradNorm: s.meanGradNorm,
      biasZ: s.biasZ,
    })),
  ),
);
