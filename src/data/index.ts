// Public surface of the data layer.
export * from './dataset.js';
export * from './protocol.js';
export * from './csv.js';
export * from './idx.js';
export * from './fashion-mnist.js';
export * from './mnist.js';
export * from './images.js';
export * from './raw.js';
export * from './dsprites.js';
