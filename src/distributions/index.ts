export { DiagGaussian, StdNormal } from './gaussian.js';
export { BernoulliLogits } from './bernoulli.js';
export type { Distribution } from './types.js';
