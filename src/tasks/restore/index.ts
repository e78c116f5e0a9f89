// Restoration with a learned prior: degradations, classical baselines, quality metrics and the methods.
export * from './degrade.js';
export * from './baselines.js';
export * from './metrics.js';
export * from './measurement.js';
export * from './methods.js';
export * from './spec.js';
