// Node file I/O for the safetensors codec (src/codec/safetensors.ts): atomic writes, reads that name the file.
import * as fsp from 'node:fs/promises';
import {
  decodeSafetensors,
  encodeSafetensors,
  SafetensorsError,
  type SafetensorsFile,
  type TensorInput,
} from '../codec/safetensors.js';
import { writeFileAtomic } from '../util/atomic.js';

/** encodeSafetensors + writeFileAtomic. */
export async function saveSafetensors(
  file: string,
  tensors: Record<string, TensorInput>,
  metadata?: Record<string, string>,
): Promise<void> {
  await writeFileAtomic(file, encodeSafetensors(tensors, metadata));
}

/** Read and decode a .safetensors file; errors name the file. */
export async function loadSafetensors(file: string): Promise<SafetensorsFile> {
  let buf: Buffer;
  try {
    buf = await fsp.readFile(file);
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new SafetensorsError(
      code === 'ENOENT' ? `safetensors file not found: ${file}` : `cannot read ${file}: ${(e as Error).message}`,
    );
  }
  return decodeSafetensors(buf, { source: file });
}
