// Supervised disentanglement metrics on data with known generative factors, following
// disentanglement_lib (Locatello et al. 2019) definitions and its default sample sizes
// (config/unsupervised_study_v1/metric_configs and its copies), one file per metric in this folder:
//
//   BetaVAE score  (Higgins et al. 2017)   batch 64, 10,000 train / 5,000 eval points; multinomial
//                                           L2 logistic regression (C = 1) on mean |r1 − r2| per batch pair.
//   FactorVAE score (Kim & Mnih 2018)      10,000 points for global variances (ddof 1), dims with
//                                           std < 0.05 pruned; batch 64, 10,000 train / 5,000 eval votes;
//                                           majority-vote classifier on argmin of normalised variance.
//   MIG (Chen et al. 2018)                 10,000 points; per-latent 20-bin equal-width histogram
//                                           (numpy.histogram + digitize); discrete MI with each factor;
//                                           (top − second) / H(factor), averaged over factors.
//   DCI (Eastwood & Williams 2018)         10,000 train / 5,000 test; per factor a gradient boosted tree
//                                           classifier (sklearn GradientBoostingClassifier defaults, see
//                                           src/stats); importance matrix → disentanglement, completeness;
//                                           informativeness = mean train / test accuracy.
//   SAP (Kumar et al. 2018)                10,000 train / 5,000 test; per (latent, factor) the test
//                                           accuracy of a 1-D linear SVM (sklearn LinearSVC(C = 0.01,
//                                           class_weight = 'balanced'), reimplemented, see src/stats); mean
//                                           over factors of the gap between the two best latents.
//
// A representation is any function (x: Float32Array [n × D], n) → Float32Array [n × d] (sync or async):
// usually a model's posterior mean (representationFromModel), but it can be anything, including the ground
// truth itself. Every metric draws from its own `new Rng(seed)` (seed 0 by default, as the library's
// evaluation.random_seed), so results are deterministic. Observations are rendered and encoded in chunks
// of at most `chunk` rows (default 1024), which only groups work and changes no result.
//
// What to expect (tests/disentanglement.test.ts, dSprites' factor sizes, the factors themselves as codes):
//   BetaVAE 1 and FactorVAE 1 (chance, for useless codes: about 1 / numFactors = 0.2, not 0); MIG 0.896,
//   the ceiling 20 bins leave on dSprites (0.902: 40 orientations and 32 positions share bins), ≈ 0.99
//   with 40 bins; DCI D = C = I = 1; SAP 0.23 only: a 1-D one-vs-rest linear SVM cannot single out a
//   factor's middle values, so the discrete SAP of perfect codes is far below 1 (continuousFactors: ≈ 1).
//   Random codes: MIG, DCI D/C and SAP ≈ 0. Invariances: MIG, DCI and FactorVAE are unchanged by
//   permuting, rescaling and shifting the codes (FactorVAE as long as no code's std falls below the
//   absolute 0.05 prune threshold); SAP (discrete) and the BetaVAE classifier are regularised and so
//   depend on the codes' scale and offset, as in the library (SAP is unchanged by permutation).
//
// Cost: DCI dominates — one tree per class per stage, 100 stages: 11,300 depth-3 trees over 10,000 codes
// on dSprites (about 70 s of CPU for 10 latents, measured on a busy 2-core machine). The others are cheap
// next to encoding the observations (BetaVAE encodes 1.92 M images, FactorVAE 970 k, MIG 10 k, DCI and
// SAP 15 k each).
//
// The numerics are in src/stats/ (no sound npm package: ml-logistic-regression is unregularised fixed-step
// one-vs-rest gradient descent without intercept; ml-random-forest / ml-cart have no boosting and quadratic
// split search; ml-xgboost and decision-tree expose no sklearn-compatible importances; libsvm-js has no
// liblinear), each checked against scikit-learn 1.2.1 in test/disentanglement.test.ts:
//   logistic-regression.ts (Newton / L-BFGS from optimize.ts), linear-svc.ts, gradient-boosting.ts
//   (decision-tree.ts), information.ts (histogram discretisation, mutual information, entropy).
// This index keeps the module's API in one place: callers import from here.

export {
  factorGroundTruth,
  representationFromModel,
  sampleFactorCodes,
  type FactorCodes,
  type GroundTruthData,
  type MetricOptions,
  type Representation,
} from './common.js';
export { BETA_VAE_DEFAULTS, betaVaeScore, type BetaVaeOptions, type BetaVaeScore } from './beta-vae.js';
export { FACTOR_VAE_DEFAULTS, factorVaeScore, type FactorVaeOptions, type FactorVaeScore } from './factor-vae.js';
export { MIG_DEFAULTS, migFromCodes, migScore, type MigOptions, type MigScore } from './mig.js';
export {
  DCI_DEFAULTS,
  dciCompleteness,
  dciDisentanglement,
  dciFromCodes,
  dciScore,
  type DciOptions,
  type DciScore,
} from './dci.js';
export { SAP_DEFAULTS, sapFromCodes, sapScore, type SapOptions, type SapScore } from './sap.js';
export {
  evaluateDisentanglement,
  METRIC_NAMES,
  type DisentanglementOptions,
  type DisentanglementReport,
  type MetricName,
} from './evaluate.js';
// The numerics, re-exported from src/stats/ under the names this module always had.
export type { Classifier } from '../../stats/classifier.js';
export { fitLogisticRegression } from '../../stats/logistic-regression.js';
export { lbfgs, newton } from '../../stats/optimize.js';
export { fitLinearSvc1d } from '../../stats/linear-svc.js';
export {
  fitGradientBoosting,
  GBT_DEFAULTS,
  type GbtOptions,
  type GradientBoostingModel,
} from '../../stats/gradient-boosting.js';
export { discreteEntropy, discreteMutualInfo, histogramDiscretize } from '../../stats/information.js';
