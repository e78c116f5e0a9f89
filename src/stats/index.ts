// Statistics and small machine learning in pure TypeScript (no tfjs, no node:): classifiers checked against
// scikit-learn, their optimisers, discrete information measures; detector metrics (AUROC, AUPRC, FPR at a TPR)
// and calibration of a threshold at a false-positive rate.

export { checkCount } from './check.js';
export { accuracy, classIndex, type Classifier } from './classifier.js';
export { lbfgs, newton } from './optimize.js';
export { fitLogisticRegression } from './logistic-regression.js';
export { fitLinearSvc1d } from './linear-svc.js';
export { TreeGrower, type Tree } from './decision-tree.js';
export { fitGradientBoosting, GBT_DEFAULTS, type GbtOptions, type GradientBoostingModel } from './gradient-boosting.js';
export { discreteEntropy, discreteMutualInfo, entropyBase, histogramDiscretize } from './information.js';
export {
  auprcTrapezoid,
  auroc,
  averagePrecision,
  fprAtTpr,
  ranks,
  rocCurve,
  splitByLabel,
  trapezoid,
  type RocPoint,
} from './roc.js';
export { falsePositiveRate, isFlagged, thresholdAtFpr, upperTailFraction, type Calibration } from './threshold.js';
