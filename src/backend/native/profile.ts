// VAEKIT_KERNEL_PROFILE=1: the time of every kernel of the native backend, a table on stderr at exit.
import * as tf from '@tensorflow/tfjs-core';
import { NATIVE_BACKEND } from '../kernel-names.js';

/** VAEKIT_KERNEL_PROFILE=1: time every kernel of the native backend; table on stderr at exit. */
export function profileKernels(native: Set<string>): void {
  const stats = new Map<string, { ms: number; n: number }>();
  for (const k of tf.getKernelsForBackend(NATIVE_BACKEND)) {
    const f = k.kernelFunc;
    tf.unregisterKernel(k.kernelName, NATIVE_BACKEND);
    tf.registerKernel({
      ...k,
      kernelFunc: (args) => {
        const t0 = performance.now();
        try {
          return f(args);
        } finally {
          const st = stats.get(k.kernelName) ?? { ms: 0, n: 0 };
          st.ms += performance.now() - t0;
          st.n++;
          stats.set(k.kernelName, st);
        }
      },
    });
  }
  process.on('exit', () => {
    const rows = [...stats.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 40);
    const lines = rows.map(
      ([k, st]) =>
        `  ${k.padEnd(30)} ${st.ms.toFixed(1).padStart(10)} ms ${String(st.n).padStart(8)} calls  ${native.has(k) ? 'native' : 'cpu'}`,
    );
    process.stderr.write(`vaekit kernel profile (${NATIVE_BACKEND}):\n${lines.join('\n')}\n`);
  });
}
