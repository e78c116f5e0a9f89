export { DiagGaussian, StdNormal } from './gaussian.js';
export { BernoulliLogits } from './bernoulli.js';
export type { Distribution, MaskedLikelihood } from './types.js';
export { isMaskedLikelihood } from './types.js';
