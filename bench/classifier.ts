// Usage: node --import tsx bench/classifier.ts [EPOCHS=4] [BINARIZE=0.5] [DATASET=fashion-mnist] [LIMIT]
// Trains the evaluation classifier (src/eval/classifier.ts) on the grayscale training images and
// prints its test accuracy on the grayscale and on the binarized (binary-protocol) test images, and,
// for comparison, its wall time. BINARIZE: probability of binarizing each training image per step.
import { initBackend } from '../src/backend/index.js';
import { loadDataset, parseDatasetName, take } from '../src/data/dataset.js';
import { binarizeSplit, trainClassifier } from '../src/eval/classifier.js';

const epochs = +(process.argv[2] ?? 4);
const binarize = +(process.argv[3] ?? 0.5);
const name = process.argv[4] ?? 'fashion-mnist';
const limit = process.argv[5] !== undefined ? +process.argv[5] : undefined;
const info = await initBackend();
const full = await loadDataset({ ...parseDatasetName(name), protocol: 'continuous' });
const train = limit ? take(full.train, limit) : full.train;
const test = limit ? take(full.test, Math.ceil(limit / 6)) : full.test;
console.log(
  `backend ${info.backend} (${info.detail}); ${name}: ${train.n} train / ${test.n} test; epochs ${epochs}, binarize ${binarize}`,
);
let last = performance.now();
const { classifier, testAccuracy, seconds } = trainClassifier(train, test, full.numClasses!, {
  epochs,
  binarize,
  onStep: (s) => {
    if (performance.now() - last > 30000) {
      last = performance.now();
      console.log(`  epoch ${s.epoch}/${s.epochs} step ${s.step}/${s.steps} loss ${s.loss.toFixed(3)}`);
    }
  },
});
const bin = classifier.accuracy(binarizeSplit(test));
console.log(
  JSON.stringify({
    epochs,
    binarize,
    seconds: +seconds.toFixed(1),
    test_accuracy: testAccuracy,
    test_accuracy_binarized: bin,
  }),
);
classifier.dispose();
