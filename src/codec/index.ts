// Pure coders (no tfjs, no node:): rANS, bit I/O, CRC-32, SHA-256, the .vkz container, safetensors.
export { RansStack, RANS_LOW, MAX_PRECISION, quantizeCdf } from './rans.js';
export { BitReader, BitWriter, ByteReader, ByteWriter, TruncatedError, packBits, unpackBits } from './bitio.js';
export { crc32 } from './crc32.js';
export { Sha256, sha256Hex } from './sha256.js';
export {
  checkFingerprint,
  DEFAULT_BLOCK_SIZE,
  FormatError,
  readContainer,
  sniffContainer,
  VKZ_MAGIC,
  VKZ_MODES,
  VKZ_READ_VERSIONS,
  VKZ_VERSION,
  type VkzMode,
  writeContainer,
  type ContainerHeader,
} from './container.js';
