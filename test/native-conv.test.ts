// Native convolution kernels (native/conv*.cc via src/backend/native/conv.ts) against tfjs-backend-cpu:
// forward and gradients (w.r.t. input and filter) of conv2d, conv2dTranspose and fused conv2d, on the
// canonical conv VAE's shapes and on odd ones, with both native paths (oneDNN, im2col + sgemm) and
// the auto-tuned choice. Tolerance: max |native − cpu| ≤ 1e-4 · max(1, max |cpu|).
//
// Runs on the real 'vaekit-native' backend when registerNativeBackend() succeeds, otherwise on a
// test backend ('conv-test': tfjs-cpu's kernels + the native conv kernels). Skipped if the addon is
// not built.
import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers'; // registers tfjs-core's gradients (as the trainer gets them)
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { convFallbacks, hasNativeConv, registerConvKernels, type NativeConvAddon } from '../src/backend/native/conv.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const addonFile = path.join(root, 'build/Release/vaekit_native.node');

function loadConvAddon(): NativeConvAddon | null {
  if (!existsSync(addonFile)) return null;
  try {
    const a = createRequire(import.meta.url)(addonFile);
    return hasNativeConv(a) ? a : null;
  } catch {
    return null;
  }
}

const addon = loadConvAddon();
const skip = addon ? false : `native addon with conv kernels not built (${addonFile}); run npm run build:native`;

/** The backend under test: 'vaekit-native' if the core backend is ready, else 'conv-test'. */
async function nativeBackendName(): Promise<string> {
  try {
    const { registerNativeBackend, NATIVE_BACKEND } = await import('../src/backend/native/index.js');
    const r = registerNativeBackend();
    if (r.ok && tf.findBackend(NATIVE_BACKEND) && tf.getKernel('Conv2DBackpropInput', NATIVE_BACKEND)) {
      if (await tf.setBackend(NATIVE_BACKEND)) return NATIVE_BACKEND;
    }
  } catch {
    // core backend not usable yet: fall through
  }
  const name = 'conv-test';
  if (!tf.findBackend(name)) {
    class ConvTestBackend extends MathBackendCPU {}
    tf.registerBackend(name, () => new ConvTestBackend(), 0);
    for (const k of tf.getKernelsForBackend('cpu')) tf.registerKernel({ ...k, backendName: name });
    const names = registerConvKernels(name, addon);
    assert.deepEqual([...names].sort(), ['Conv2D', 'Conv2DBackpropFilter', 'Conv2DBackpropInput', 'FusedConv2D']);
  }
  return name;
}

// Deterministic uniform(-1, 1) values.
function rand(n: number, seed: number): Float32Array {
  let s = (seed * 2654435761) >>> 0 || 1;
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    a[i] = (s / 4294967296) * 2 - 1;
  }
  return a;
}

const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
type Shape4 = [number, number, number, number];

type Case = {
  name: string;
  op: 'conv2d' | 'conv2dTranspose' | 'fused';
  x: number[]; // [N, H, W, C] of the op's input
  f: number[]; // HWIO (conv2dTranspose: [kh, kw, outC, inC])
  strides: number | [number, number];
  pad: 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  outShape?: [number, number, number, number]; // conv2dTranspose
  activation?: 'linear' | 'relu' | 'relu6' | 'elu' | 'sigmoid' | 'leakyrelu' | 'prelu';
  bias?: boolean;
  grads?: boolean;
  dilations?: number;
  dataFormat?: 'NHWC' | 'NCHW';
};

// Runs a case on the current backend: the output and, if asked, d(sum(out ⊙ r))/d(x, filter[, bias]).
function runCase(c: Case, seed: number): Float32Array[] {
  return tf.tidy(() => {
    const x = tf.tensor4d(rand(size(c.x), seed), c.x as Shape4);
    const w = tf.tensor4d(rand(size(c.f), seed + 1), c.f as Shape4);
    const oc = c.op === 'conv2dTranspose' ? c.f[2] : c.f[3];
    const b = tf.tensor1d(rand(oc, seed + 2));
    const alpha = tf.tensor1d(rand(oc, seed + 3).map((v) => Math.abs(v) * 0.3));
    const f = (xx: tf.Tensor4D, ww: tf.Tensor4D, bb?: tf.Tensor1D) => {
      if (c.op === 'conv2d')
        return tf.conv2d(xx, ww, c.strides, c.pad, c.dataFormat ?? 'NHWC', c.dilations ?? 1, c.dimRoundingMode);
      if (c.op === 'conv2dTranspose') return tf.conv2dTranspose(xx, ww, c.outShape!, c.strides, c.pad);
      return tf.fused.conv2d({
        x: xx,
        filter: ww,
        strides: c.strides,
        pad: c.pad,
        dataFormat: c.dataFormat ?? 'NHWC',
        dilations: c.dilations ?? 1,
        bias: c.bias ? bb : undefined,
        activation: c.activation ?? 'linear',
        preluActivationWeights: c.activation === 'prelu' ? alpha : undefined,
        leakyreluAlpha: 0.15,
        dimRoundingMode: c.dimRoundingMode,
      });
    };
    const y = f(x, w, b);
    const out = [y.dataSync() as Float32Array];
    if (c.grads) {
      const r = tf.tensor(rand(y.size, seed + 4), y.shape);
      const loss = (...a: tf.Tensor[]) =>
        tf.sum(tf.mul(f(a[0] as tf.Tensor4D, a[1] as tf.Tensor4D, a[2] as tf.Tensor1D), r));
      const args = c.op === 'fused' && c.bias ? [x, w, b] : [x, w];
      for (const g of tf.grads(loss)(args)) out.push(g.dataSync() as Float32Array);
    }
    return out;
  });
}

function maxErr(a: Float32Array, ref: Float32Array): { err: number; scale: number } {
  let err = 0;
  let scale = 1;
  for (let i = 0; i < ref.length; i++) {
    err = Math.max(err, Math.abs(a[i] - ref[i]));
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return { err, scale };
}

// The canonical model's layers at batch 4 (batch 128 in training; tfjs-cpu's reference is far too
// slow for that, and nothing in the kernels depends on the batch size below 16 MiB of im2col buffer).
const B = 4;
const canonical: Case[] = [
  // encoder: conv 1→32, 32→64 (4×4/2 same), as fused conv with bias (layers' path) and plain conv2d
  {
    name: 'enc1 conv 28x28x1→32',
    op: 'conv2d',
    x: [B, 28, 28, 1],
    f: [4, 4, 1, 32],
    strides: 2,
    pad: 'same',
    grads: true,
  },
  {
    name: 'enc2 fused 14x14x32→64 bias',
    op: 'fused',
    x: [B, 14, 14, 32],
    f: [4, 4, 32, 64],
    strides: 2,
    pad: 'same',
    bias: true,
    grads: true,
  },
  // decoder: convT 64→32 (7→14), 32→1 (14→28)
  {
    name: 'dec1 convT 7x7x64→32',
    op: 'conv2dTranspose',
    x: [B, 7, 7, 64],
    f: [4, 4, 32, 64],
    strides: 2,
    pad: 'same',
    outShape: [B, 14, 14, 32],
    grads: true,
  },
  {
    name: 'dec2 convT 14x14x32→1',
    op: 'conv2dTranspose',
    x: [B, 14, 14, 32],
    f: [4, 4, 1, 32],
    strides: 2,
    pad: 'same',
    outShape: [B, 28, 28, 1],
    grads: true,
  },
];

const odd: Case[] = [
  { name: '7x5x3 3x3/1 same', op: 'conv2d', x: [1, 7, 5, 3], f: [3, 3, 3, 4], strides: 1, pad: 'same', grads: true },
  { name: '7x5x3 3x3/2 same', op: 'conv2d', x: [2, 7, 5, 3], f: [3, 3, 3, 5], strides: 2, pad: 'same', grads: true },
  { name: '7x5x1 3x3/2 valid', op: 'conv2d', x: [1, 7, 5, 1], f: [3, 3, 1, 2], strides: 2, pad: 'valid', grads: true },
  {
    name: '8x6x3 3x3/2 valid (unused edge)',
    op: 'conv2d',
    x: [3, 8, 6, 3],
    f: [3, 3, 3, 2],
    strides: 2,
    pad: 'valid',
    grads: true,
  },
  { name: '7x5x3 1x1/1', op: 'conv2d', x: [1, 7, 5, 3], f: [1, 1, 3, 6], strides: 1, pad: 'valid', grads: true },
  { name: '7x5x3 1x1/2 same', op: 'conv2d', x: [2, 7, 5, 3], f: [1, 1, 3, 4], strides: 2, pad: 'same', grads: true },
  {
    name: '9x7x3 4x3 strides [2,1] same',
    op: 'conv2d',
    x: [2, 9, 7, 3],
    f: [4, 3, 3, 4],
    strides: [2, 1],
    pad: 'same',
    grads: true,
  },
  { name: '7x5x3 3x3 pad 2', op: 'conv2d', x: [1, 7, 5, 3], f: [3, 3, 3, 4], strides: 2, pad: 2, grads: true },
  // (forward only: tfjs's conv2d gradient drops dimRoundingMode; those backprops stay on tfjs-cpu)
  {
    name: '8x8x3 3x3/2 pad 0 ceil',
    op: 'conv2d',
    x: [2, 8, 8, 3],
    f: [3, 3, 3, 4],
    strides: 2,
    pad: 0,
    dimRoundingMode: 'ceil',
  },
  {
    name: '8x6x3 3x3/2 pad 1 round',
    op: 'conv2d',
    x: [2, 8, 6, 3],
    f: [3, 3, 3, 4],
    strides: 2,
    pad: 1,
    dimRoundingMode: 'round',
  },
  {
    name: '8x6x3 3x3/2 pad 1 fused ceil',
    op: 'fused',
    x: [2, 8, 6, 3],
    f: [3, 3, 3, 4],
    strides: 2,
    pad: 1,
    dimRoundingMode: 'ceil',
    bias: true,
  },
  {
    name: '7x5x3 explicit pads',
    op: 'conv2d',
    x: [2, 7, 5, 3],
    f: [3, 2, 3, 4],
    strides: [2, 1],
    pad: [
      [0, 0],
      [2, 0],
      [0, 3],
      [0, 0],
    ],
    grads: true,
  },
  {
    name: '9x8x2 3x3 dilation 2',
    op: 'conv2d',
    x: [2, 9, 8, 2],
    f: [3, 3, 2, 3],
    strides: 1,
    pad: 'same',
    dilations: 2,
  },
  {
    name: 'NCHW 3x7x5 3x3/1 same',
    op: 'conv2d',
    x: [2, 3, 7, 5],
    f: [3, 3, 3, 4],
    strides: 1,
    pad: 'same',
    dataFormat: 'NCHW',
  },
  {
    name: 'convT 4x3x3→1 3x3/2 same',
    op: 'conv2dTranspose',
    x: [1, 4, 3, 3],
    f: [3, 3, 1, 3],
    strides: 2,
    pad: 'same',
    outShape: [1, 7, 5, 1],
    grads: true,
  },
  {
    name: 'convT 3x2x3→2 3x3/2 valid',
    op: 'conv2dTranspose',
    x: [2, 3, 2, 3],
    f: [3, 3, 2, 3],
    strides: 2,
    pad: 'valid',
    outShape: [2, 7, 5, 2],
    grads: true,
  },
  {
    name: 'convT 7x5x3→4 1x1/1',
    op: 'conv2dTranspose',
    x: [1, 7, 5, 3],
    f: [1, 1, 4, 3],
    strides: 1,
    pad: 'valid',
    outShape: [1, 7, 5, 4],
    grads: true,
  },
  {
    name: 'fused bias+relu 7x5x3',
    op: 'fused',
    x: [2, 7, 5, 3],
    f: [3, 3, 3, 4],
    strides: 1,
    pad: 'same',
    bias: true,
    activation: 'relu',
  },
  {
    name: 'fused bias+relu6',
    op: 'fused',
    x: [2, 7, 5, 3],
    f: [3, 3, 3, 4],
    strides: 2,
    pad: 'same',
    bias: true,
    activation: 'relu6',
  },
  {
    name: 'fused bias+elu',
    op: 'fused',
    x: [2, 7, 5, 3],
    f: [3, 3, 3, 4],
    strides: 1,
    pad: 'valid',
    bias: true,
    activation: 'elu',
  },
  {
    name: 'fused bias+sigmoid',
    op: 'fused',
    x: [1, 7, 5, 1],
    f: [3, 3, 1, 4],
    strides: 1,
    pad: 'same',
    bias: true,
    activation: 'sigmoid',
  },
  {
    name: 'fused leakyrelu no bias',
    op: 'fused',
    x: [1, 7, 5, 3],
    f: [3, 3, 3, 4],
    strides: 1,
    pad: 'same',
    activation: 'leakyrelu',
  },
  {
    name: 'fused bias+prelu',
    op: 'fused',
    x: [1, 7, 5, 3],
    f: [3, 3, 3, 4],
    strides: 1,
    pad: 'same',
    bias: true,
    activation: 'prelu',
  },
  {
    name: 'fused NCHW bias linear',
    op: 'fused',
    x: [2, 3, 7, 5],
    f: [3, 3, 3, 4],
    strides: 1,
    pad: 'same',
    bias: true,
    dataFormat: 'NCHW',
  },
  {
    name: 'fused bias linear grads',
    op: 'fused',
    x: [2, 7, 5, 3],
    f: [3, 3, 3, 4],
    strides: 2,
    pad: 'same',
    bias: true,
    grads: true,
  },
  {
    name: 'fused bias+relu grads (unfused under tape)',
    op: 'fused',
    x: [2, 7, 5, 3],
    f: [3, 3, 3, 4],
    strides: 1,
    pad: 'same',
    bias: true,
    activation: 'relu',
    grads: true,
  },
];

it('native conv kernels match tfjs-cpu', { skip }, async (t) => {
  const nativeName = await nativeBackendName();
  const cases = [...canonical, ...odd];
  // tfjs-cpu reference, once per case.
  await tf.setBackend('cpu');
  const refs = cases.map((c, i) => runCase(c, 100 + i));
  await tf.setBackend(nativeName);
  const before = addon!.convConfig();
  try {
    const runs = [
      ['onednn', 'onednn'],
      ['gemm', 'onednn'],
      ['gemm', 'openblas'],
      ['tune', 'onednn'],
      ['auto', 'onednn'],
    ] as const;
    for (const [mode, blas] of runs) {
      addon!.convConfig({ mode, blas, clearCache: true });
      await t.test(`${mode} path${mode === 'gemm' ? ` (${blas} sgemm)` : ''} on ${nativeName}`, () => {
        // tune: the first and last canonical cases (enc1, dec2) 9 times each, so the tuner (8 calls
        // per shape) has decided by the last (the others are covered by the onednn and gemm runs).
        const reps = mode === 'tune' ? 9 : 1;
        cases.forEach((c, i) => {
          if (mode === 'tune' && i !== 0 && i !== canonical.length - 1) return;
          for (let r = 0; r < reps; r++) {
            const got = runCase(c, 100 + i);
            assert.equal(got.length, refs[i].length, c.name);
            got.forEach((g, j) => {
              assert.equal(g.length, refs[i][j].length, `${c.name} output ${j} size`);
              const { err, scale } = maxErr(g, refs[i][j]);
              assert.ok(err <= 1e-4 * scale, `${c.name} [${mode}] output ${j}: max abs err ${err} > 1e-4·${scale}`);
            });
          }
        });
        if (mode === 'tune') {
          const st = addon!.convStats();
          assert.ok(
            st.length >= 3 && st.every((s) => s.tuned === 'onednn' || s.tuned === 'gemm'),
            'the tuner did not decide',
          );
        }
      });
    }
    // The kernels went native (not the cpu fallbacks): the cache has forward, backward-data and
    // backward-filter entries; in auto mode the canonical layers run on oneDNN's direct kernels, and on
    // im2col + sgemm where oneDNN has only its gemm-based fallback.
    assert.deepEqual(convFallbacks, {}, 'some cases fell back to the tfjs-cpu kernels');
    const tuned = addon!.convStats(); // (cache cleared at the start of the auto run: auto entries only)
    assert.ok(
      tuned.every((s) => s.tuned === undefined),
      'auto mode must not tune',
    );
    const stats = addon!.convStats();
    const kinds = new Set(stats.map((s) => s.kind));
    assert.deepEqual([...kinds].sort(), ['backwardData', 'backwardFilter', 'forward']);
    if (before.onednn) {
      const canon = stats.filter((s) => s.params[0] === B && s.params[7] === 4);
      assert.equal(canon.length, 6 + 1, 'canonical shapes: 2 layers x 3 kinds + the fused forward with bias');
      // auto's rule: oneDNN where its implementation is a direct (jit) kernel, im2col + sgemm where oneDNN would
      // use its own gemm-based fallback. Which one oneDNN picks depends on the CPU's ISA (the 1-input-channel
      // backward data is gemm-based on some CPUs, jit:avx512_core on others), so the test checks the rule.
      for (const s of canon) {
        const gemm = s.impl.includes('gemm');
        assert.equal(s.path, gemm ? 'gemm' : 'onednn', `${s.kind} ${s.params.slice(0, 7)}: ${s.path} (${s.impl})`);
        if (s.kind === 'forward')
          assert.equal(s.path, 'onednn', `forward ${s.params.slice(0, 7)} runs oneDNN's direct kernel (${s.impl})`);
      }
    }
  } finally {
    addon!.convConfig({ mode: before.mode, blas: before.blas, clearCache: true });
  }
});

it('float32 tensors stored as Uint8Array (cast from bool) go native', { skip }, async () => {
  const nativeName = await nativeBackendName();
  const shape: Shape4 = [3, 9, 7, 1];
  const bits = rand(size(shape), 7).map((v) => (v > 0 ? 1 : 0));
  const w = rand(3 * 3 * 1 * 5, 8);
  const run = () =>
    tf.tidy(() => {
      const x = tf.cast(tf.greater(tf.tensor4d(bits, shape), 0.5), 'float32') as tf.Tensor4D;
      return tf.conv2d(x, tf.tensor4d(w, [3, 3, 1, 5]), 2, 'same').dataSync() as Float32Array;
    });
  await tf.setBackend('cpu');
  const ref = run();
  await tf.setBackend(nativeName);
  addon!.convConfig({ clearCache: true });
  const got = run();
  const { err, scale } = maxErr(got, ref);
  assert.ok(err <= 1e-4 * scale, `max abs err ${err}`);
  const used = addon!.convStats().some((s) => s.kind === 'forward' && s.params.slice(0, 4).join() === shape.join());
  assert.ok(used, 'conv2d on a cast-from-bool input fell back to the cpu kernel');
});

it('the addon overwrites its outputs entirely (NaN-filled output arrays)', { skip }, () => {
  // registerConvKernels hands the addon uninitialised arrays; every path must write every element.
  const before = addon!.convConfig();
  try {
    const combos = [
      ['onednn', 'onednn'],
      ['gemm', 'onednn'],
      ['gemm', 'openblas'],
      ['auto', 'onednn'],
    ] as const;
    for (const [mode, blas] of combos) {
      addon!.convConfig({ mode, blas, clearCache: true });
      for (const [n, ih, iw, ic, oc, k, s] of [
        [5, 28, 28, 1, 32, 4, 2],
        [3, 14, 14, 32, 64, 4, 2],
        [2, 7, 5, 3, 4, 1, 1],
        [2, 9, 7, 3, 5, 3, 1],
      ]) {
        const oh = Math.ceil(ih / s);
        const ow = Math.ceil(iw / s);
        const pt = Math.floor(Math.max(0, (oh - 1) * s + k - ih) / 2);
        const pl = Math.floor(Math.max(0, (ow - 1) * s + k - iw) / 2);
        const pb = Math.max(0, (oh - 1) * s + k - ih) - pt;
        const pr = Math.max(0, (ow - 1) * s + k - iw) - pl;
        const p = Int32Array.from([n, ih, iw, ic, oh, ow, oc, k, k, s, s, 1, 1, pt, pb, pl, pr, 0]);
        const x = rand(n * ih * iw * ic, 1);
        const w = rand(k * k * ic * oc, 2);
        const dy = rand(n * oh * ow * oc, 3);
        const y = new Float32Array(n * oh * ow * oc).fill(NaN);
        const dx = new Float32Array(x.length).fill(NaN);
        const dw = new Float32Array(w.length).fill(NaN);
        assert.ok(addon!.convForward(x, w, null, y, p, 0, 0));
        assert.ok(addon!.convBackwardData(dy, w, dx, p));
        assert.ok(addon!.convBackwardFilter(x, dy, dw, p));
        for (const [name, a] of [
          ['y', y],
          ['dx', dx],
          ['dw', dw],
        ] as const)
          assert.ok(a.every(Number.isFinite), `${mode}/${blas} ${p.slice(0, 7)}: ${name} has unwritten elements`);
      }
    }
  } finally {
    addon!.convConfig({ mode: before.mode, blas: before.blas, clearCache: true });
  }
});

it('registerConvKernels without conv entry points registers nothing', () => {
  assert.deepEqual(registerConvKernels('nowhere', {}), []);
  assert.deepEqual(registerConvKernels('nowhere', null), []);
});
