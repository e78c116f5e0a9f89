// BatchMatMul and _FusedMatMul: the addon's GEMM (native/gemm.cc: split across the thread pool),
// batch broadcasting, a row-vector bias and the activation fused into the GEMM's epilogue; other bias
// shapes and PReLU as elementwise ops after it.
import type { NativeAddon } from './addon.js';
import { allocF32 } from './memory.js';
import { broadcastShape, code, cpuKernel, f32, out, sizeOf, type Backend, type KernelFunc, type TI } from './util.js';

function matMulKernel(addon: NativeAddon, fused: boolean): KernelFunc {
  const ACT = addon.codes.act;
  const ADD = code(addon.codes.binary, 'ADD'),
    PRELU = code(addon.codes.binary, 'PRELU');
  const fallback = cpuKernel(fused ? '_FusedMatMul' : 'BatchMatMul');
  const cpuPrelu = cpuKernel('Prelu');
  return (args) => {
    const backend = args.backend as Backend;
    const inputs = args.inputs as Record<string, TI | undefined>;
    const attrs = args.attrs as any;
    const a = inputs.a!,
      b = inputs.b!;
    const av = f32(backend, a),
      bv = f32(backend, b);
    const activation: string = fused ? (attrs.activation ?? 'linear') : 'linear';
    const bias = fused ? inputs.bias : undefined;
    const prelu = fused ? inputs.preluActivationWeights : undefined;
    if (!av || !bv) return fallback(args);
    if (activation !== 'prelu' && !(activation in ACT)) return fallback(args);
    const biasV = bias ? f32(backend, bias) : null;
    if (bias && !biasV) return fallback(args);
    const tA = !!attrs.transposeA,
      tB = !!attrs.transposeB;
    const ar = a.shape.length,
      br = b.shape.length;
    if (ar < 2 || br < 2) return fallback(args);
    const K = tA ? a.shape[ar - 2] : a.shape[ar - 1];
    const K2 = tB ? b.shape[br - 1] : b.shape[br - 2];
    const M = tA ? a.shape[ar - 1] : a.shape[ar - 2];
    const N = tB ? b.shape[br - 2] : b.shape[br - 1];
    if (K !== K2) {
      throw new Error(
        `Error in matMul: inner shapes (${K}) and (${K2}) of Tensors with shapes ${a.shape} and ${b.shape} and ` +
          `transposeA=${tA} and transposeB=${tB} must match.`,
      );
    }
    const outerA = a.shape.slice(0, -2),
      outerB = b.shape.slice(0, -2);
    const outer = broadcastShape(outerA, outerB);
    const batch = sizeOf(outer);
    const batchA = sizeOf(outerA),
      batchB = sizeOf(outerB);
    const outShape = outer.concat([M, N]);
    const o = allocF32(batch * M * N);
    if (o.length === 0) return out(backend, outShape, o);
    let aOffs: Int32Array | null = null,
      bOffs: Int32Array | null = null;
    let aStride = M * K,
      bStride = K * N;
    if (batchA !== batch || batchB !== batch) {
      if (batchA === 1 && batchB === batch) aStride = 0;
      else if (batchB === 1 && batchA === batch) bStride = 0;
      else {
        aOffs = new Int32Array(batch);
        bOffs = new Int32Array(batch);
        const rank = outer.length;
        const pa = new Array(rank - outerA.length).fill(1).concat(outerA);
        const pb = new Array(rank - outerB.length).fill(1).concat(outerB);
        for (let i = 0; i < batch; i++) {
          let rem = i,
            ia = 0,
            ib = 0,
            sa = 1,
            sb = 1;
          for (let d = rank - 1; d >= 0; d--) {
            const c = rem % outer[d];
            rem = Math.floor(rem / outer[d]);
            if (pa[d] !== 1) ia += c * sa;
            if (pb[d] !== 1) ib += c * sb;
            sa *= pa[d];
            sb *= pb[d];
          }
          aOffs[i] = ia * M * K;
          bOffs[i] = ib * K * N;
        }
      }
    }
    // bias: fused into the GEMM epilogue when it is a row vector ([N], [1,N], ...)
    let rowBias: Float32Array | null = null;
    let act = activation === 'prelu' ? 0 : ACT[activation];
    let generalBias = false;
    if (biasV && bias) {
      if (biasV.length === N && bias.shape.length >= 1 && bias.shape[bias.shape.length - 1] === N) rowBias = biasV;
      else generalBias = true;
    }
    if (generalBias) act = 0;
    addon.gemm(
      av,
      bv,
      o,
      M,
      N,
      K,
      tA,
      tB,
      batch,
      aOffs,
      bOffs,
      aStride,
      bStride,
      rowBias,
      act,
      attrs.leakyreluAlpha ?? 0.2,
    );
    let res = o;
    let resShape = outShape;
    if (generalBias) {
      resShape = broadcastShape(outShape, bias!.shape);
      const r2 = allocF32(sizeOf(resShape));
      addon.binary(ADD, res, outShape, biasV!, bias!.shape, r2);
      res = r2;
      if (activation !== 'linear' && activation !== 'prelu') {
        const r3 = allocF32(res.length);
        const u = code(addon.codes.unary, activation.toUpperCase()); // relu → RELU, ...
        addon.unary(u, res, r3, attrs.leakyreluAlpha ?? 0.2, 0);
        res = r3;
      }
    }
    if (activation === 'prelu') {
      const wv = f32(backend, prelu);
      const tmp = out(backend, resShape, res);
      if (!wv || !prelu) {
        const r = cpuPrelu({ inputs: { x: tmp, alpha: prelu! }, backend, attrs: {} }) as TI;
        backend.disposeIntermediateTensorInfo(tmp);
        return r;
      }
      backend.disposeIntermediateTensorInfo(tmp);
      const ps = broadcastShape(resShape, prelu.shape);
      const r4 = allocF32(sizeOf(ps));
      addon.binary(PRELU, res, resShape, wv, prelu.shape, r4);
      return out(backend, ps, r4);
    }
    return out(backend, resShape, res);
  };
}

export function matMulKernels(addon: NativeAddon): Record<string, KernelFunc> {
  return { BatchMatMul: matMulKernel(addon, false), _FusedMatMul: matMulKernel(addon, true) };
}
