// vaekit's public API.
export { initBackend, backendInfo, type BackendChoice, type BackendInfo } from './backend/index.js';
export { Rng, type RngState } from './rng.js';
export {
  loadDataset,
  batches,
  take,
  parseDatasetName,
  type Dataset,
  type DatasetSpec,
  type Split,
  type Batch,
} from './data/dataset.js';
export { DiagGaussian, StdNormal, BernoulliLogits, type Distribution } from './distributions/index.js';
export { buildMlp, initTorchStyle, type NetworkSpec } from './nn/index.js';
export { createModel, VAE, type LatentVariableModel, type ModelConfig, type VaeConfig } from './models/index.js';
export { elbo, meanTerms } from './objectives/elbo.js';
export type { Terms, Objective, ObjectiveContext } from './objectives/types.js';
export { iwae, logImportanceWeights, logMeanExp } from './objectives/iwae.js';
export { train, TrainingDivergedError, type TrainOptions, type EpochMetrics } from './train/trainer.js';
export { Optimizer, type OptimizerConfig } from './train/optimizers.js';
export { evaluateElbo, importanceSampledNll, type NllResult } from './eval/likelihood.js';
export { generate, reconstruct, encode, interpolate } from './tasks/generate.js';
export { compressBinaryImages, decompressBinaryImages, modelFingerprint } from './tasks/compress/index.js';
export { FormatError, readContainer, RansStack } from './codec/index.js';
export { saveModel, loadModel, readModelMeta } from './io/model.js';
export { loadModelFromBuffers, modelFiles, type DataInfo, type ModelMeta } from './models/files.js';
export { toStateDict, loadStateDict, type StateLayout, type StateTensor } from './models/state-dict.js';
export { exportPytorch, importPytorch, readPytorchExport, pytorchArch } from './io/pytorch/export.js';
