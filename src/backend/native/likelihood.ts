// The fused VAE kernels of src/backend/fused.ts (names in kernel-names.ts): Bernoulli and Gaussian
// NLLs, the KL from N(0, I), and their gradients. Inputs are validated by fused.ts.
import type { NativeAddon } from './addon.js';
import { FUSED_KERNELS as FUSED } from '../kernel-names.js';
import { allocF32 } from './memory.js';
import { f32, out, sizeOf, type Backend, type KernelFunc, type TI } from './util.js';

function need(backend: Backend, t: TI, what: string): Float32Array {
  const v = f32(backend, t);
  if (!v) throw new Error(`vaekit native: ${what} must be a float32 tensor`);
  return v;
}

function lvMode(lv: TI, N: number, D: number): number {
  const n = sizeOf(lv.shape);
  if (n === 1) return 0;
  if (n === N * D && lv.shape.length === 2) return 2;
  if (n === D && lv.shape[lv.shape.length - 1] === D) return 1;
  throw new Error(`vaekit native: logVar of shape [${lv.shape}] does not broadcast to [${N},${D}]`);
}

export function likelihoodKernels(addon: NativeAddon): Record<string, KernelFunc> {
  const k = (kernelName: string, kernelFunc: KernelFunc): [string, KernelFunc] => [kernelName, kernelFunc];
  return Object.fromEntries([
    k(FUSED.bernoulliNll, ({ inputs, backend }) => {
      const be = backend as Backend;
      const { logits, x } = inputs as Record<string, TI>;
      const [N, D] = logits.shape;
      const o = allocF32(N);
      addon.bernoulliNll(need(be, logits, 'logits'), need(be, x, 'x'), o, N, D);
      return out(be, [N], o);
    }),
    k(FUSED.bernoulliNllGrad, ({ inputs, backend }) => {
      const be = backend as Backend;
      const { logits, x, dy } = inputs as Record<string, TI>;
      const [N, D] = logits.shape;
      const o = allocF32(N * D);
      addon.bernoulliNllGrad(need(be, logits, 'logits'), need(be, x, 'x'), need(be, dy, 'dy'), o, N, D);
      return out(be, [N, D], o);
    }),
    k(FUSED.gaussianNll, ({ inputs, backend }) => {
      const be = backend as Backend;
      const { x, mean, logVar } = inputs as Record<string, TI>;
      const [N, D] = x.shape;
      const o = allocF32(N);
      addon.gaussianNll(
        need(be, x, 'x'),
        need(be, mean, 'mean'),
        need(be, logVar, 'logVar'),
        lvMode(logVar, N, D),
        o,
        N,
        D,
      );
      return out(be, [N], o);
    }),
    k(FUSED.gaussianNllGrad, ({ inputs, backend }) => {
      const be = backend as Backend;
      const { x, mean, logVar, dy } = inputs as Record<string, TI>;
      const [N, D] = x.shape;
      const dm = allocF32(N * D);
      const dl = allocF32(sizeOf(logVar.shape));
      addon.gaussianNllGrad(
        need(be, x, 'x'),
        need(be, mean, 'mean'),
        need(be, logVar, 'logVar'),
        lvMode(logVar, N, D),
        need(be, dy, 'dy'),
        dm,
        dl,
        N,
        D,
      );
      return [out(be, [N, D], dm), out(be, logVar.shape.slice(), dl)];
    }),
    k(FUSED.klStdNormal, ({ inputs, backend }) => {
      const be = backend as Backend;
      const { mu, logVar } = inputs as Record<string, TI>;
      const [N, D] = mu.shape;
      const o = allocF32(N);
      addon.klStdNormal(need(be, mu, 'mu'), need(be, logVar, 'logVar'), o, N, D);
      return out(be, [N], o);
    }),
    k(FUSED.klStdNormalGrad, ({ inputs, backend }) => {
      const be = backend as Backend;
      const { mu, logVar, dy } = inputs as Record<string, TI>;
      const [N, D] = mu.shape;
      const dm = allocF32(N * D),
        dl = allocF32(N * D);
      addon.klStdNormalGrad(need(be, mu, 'mu'), need(be, logVar, 'logVar'), need(be, dy, 'dy'), dm, dl, N, D);
      return [out(be, [N, D], dm), out(be, [N, D], dl)];
    }),
  ]);
}
