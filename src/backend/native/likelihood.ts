// The fused VAE kernels of src/backend/fused.ts (names in kernel-names.ts): Bernoulli and Gaussian
// NLLs, the KL from N(0, I), and their gradients; the masked Bernoulli and Gaussian NLLs and the discretised
// logistic NLL (mask optional) where the addon has them (native/likelihood_masked.cc: an older build lacks
// them, and fused.ts then takes the plain-tfjs path). Inputs are validated by fused.ts.
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
    ...maskedKernels(addon).map(([n, f]) => k(n, f)),
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

/** Mask rows: N (one per example), 1 (shared); the mask input absent: 0 (no mask, the logistic only). */
function maskOf(be: Backend, mask: TI | undefined, N: number, D: number): [Float32Array, number] {
  if (!mask) return [new Float32Array(0), 0];
  const rows = sizeOf(mask.shape) / D;
  if (rows !== 1 && rows !== N) throw new Error(`vaekit native: mask of shape [${mask.shape}] for [${N},${D}]`);
  return [need(be, mask, 'mask'), rows];
}

function maskedKernels(addon: NativeAddon): [string, KernelFunc][] {
  const list: [string, KernelFunc][] = [];
  const {
    bernoulliNllMasked: bnm,
    bernoulliNllMaskedGrad: bnmg,
    gaussianNllMasked: gnm,
    gaussianNllMaskedGrad: gnmg,
    discretizedLogisticNll: dl,
    discretizedLogisticNllGrad: dlg,
  } = addon;
  if (bnm && bnmg)
    list.push(
      [
        FUSED.bernoulliNllMasked,
        ({ inputs, backend }) => {
          const be = backend as Backend;
          const { logits, x, mask } = inputs as Record<string, TI>;
          const [N, D] = logits.shape;
          const [m, rows] = maskOf(be, mask, N, D);
          const o = allocF32(N);
          bnm.call(addon, need(be, logits, 'logits'), need(be, x, 'x'), m, rows, o, N, D);
          return out(be, [N], o);
        },
      ],
      [
        FUSED.bernoulliNllMaskedGrad,
        ({ inputs, backend }) => {
          const be = backend as Backend;
          const { logits, x, mask, dy } = inputs as Record<string, TI>;
          const [N, D] = logits.shape;
          const [m, rows] = maskOf(be, mask, N, D);
          const o = allocF32(N * D);
          bnmg.call(addon, need(be, logits, 'logits'), need(be, x, 'x'), m, rows, need(be, dy, 'dy'), o, N, D);
          return out(be, [N, D], o);
        },
      ],
    );
  if (gnm && gnmg) list.push(...locScaleKernels(addon, gnm, gnmg, 'gaussianNllMasked', 'mean', 'logVar'));
  if (dl && dlg) list.push(...locScaleKernels(addon, dl, dlg, 'discretizedLogisticNll', 'mu', 'logScale'));
  return list;
}

/**
 * The masked NLL of a location-scale family and its gradient (the Gaussian with log σ², the discretised
 * logistic with log s): the same inputs (x, loc, the log-scale broadcast as a scalar, a row or in full,
 * mask) and the same native signatures.
 */
function locScaleKernels(
  addon: NativeAddon,
  nll: NonNullable<NativeAddon['gaussianNllMasked']>,
  grad: NonNullable<NativeAddon['gaussianNllMaskedGrad']>,
  name: 'gaussianNllMasked' | 'discretizedLogisticNll',
  loc: string,
  scale: string,
): [string, KernelFunc][] {
  const args = (be: Backend, inputs: Record<string, TI>) => {
    const x = inputs.x,
      ls = inputs[scale];
    const [N, D] = x.shape;
    const [m, rows] = maskOf(be, inputs.mask, N, D);
    const head = [
      need(be, x, 'x'),
      need(be, inputs[loc], loc),
      need(be, ls, scale),
      lvMode(ls, N, D),
      m,
      rows,
    ] as const;
    return { N, D, ls, head };
  };
  return [
    [
      FUSED[name],
      ({ inputs, backend }) => {
        const be = backend as Backend;
        const { N, D, head } = args(be, inputs as Record<string, TI>);
        const o = allocF32(N);
        nll.call(addon, ...head, o, N, D);
        return out(be, [N], o);
      },
    ],
    [
      FUSED[`${name}Grad`],
      ({ inputs, backend }) => {
        const be = backend as Backend;
        const { N, D, ls, head } = args(be, inputs as Record<string, TI>);
        const dLoc = allocF32(N * D);
        const dScale = allocF32(sizeOf(ls.shape));
        grad.call(addon, ...head, need(be, (inputs as Record<string, TI>).dy, 'dy'), dLoc, dScale, N, D);
        return [out(be, [N, D], dLoc), out(be, ls.shape.slice(), dScale)];
      },
    ],
  ];
}
