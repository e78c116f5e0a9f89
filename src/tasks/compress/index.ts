// Compression with a trained model: bits-back coding of binary images (bits-back.ts) on exact networks
// (exact-net.ts), latents in equal-mass prior buckets (buckets.ts), files named by model fingerprint.
export {
  BITS_BACK_DEFAULTS,
  compressBinaryImages,
  decompressBinaryImages,
  type BitsBackSettings,
  type CompressOptions,
  type CompressStats,
} from './bits-back.js';
export { compileExact, type ExactNet } from './exact-net.js';
export { gaussianBuckets, normalCdf, normalQuantile } from './buckets.js';
export { modelFingerprint } from './fingerprint.js';
export {
  compressLossy,
  decompressLossy,
  LOSSY_DEFAULT_PRECISION,
  LOSSY_METHOD,
  vqCodes,
  vqDecodeCodes,
  type LossyOptions,
  type LossyStats,
} from './lossy.js';
export { compileExactPrior, type ExactPrior } from './exact-prior.js';
