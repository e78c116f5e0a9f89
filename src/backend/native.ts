// The native backend: tfjs-backend-cpu with its hot kernels replaced by the N-API addon (native/).
// (Skeleton: the kernels are registered by registerNativeBackend once the addon provides them.)
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const NATIVE_BACKEND = 'vaekit-native';

export interface NativeLoadResult {
  ok: boolean;
  reason?: string;
  blas?: string;
  threads?: number;
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The addon's exports, or an error saying why it cannot be loaded. */
export function loadAddon(): { addon?: any; reason?: string } {
  const require = createRequire(import.meta.url);
  const file = path.join(root, 'build/Release/vaekit_native.node');
  try {
    return { addon: require(file) };
  } catch (e) {
    return { reason: `native addon not loadable (${file}): ${(e as Error).message.split('\n')[0]}` };
  }
}

export function registerNativeBackend(): NativeLoadResult {
  return { ok: false, reason: 'native kernels not implemented yet' };
}
