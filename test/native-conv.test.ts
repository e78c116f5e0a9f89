// Native convolution kernels (native/conv.cc via src/backend/native-conv.ts) against tfjs-backend-cpu:
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
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers'; // registers tfjs-core's gradients (as the trainer gets them)
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { hasNativeConv, registerConvKernels, type NativeConvAddon } from '../src/backend/native-conv.js';

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
    const { registerNativeBackend, NATIVE_BACKEND } = await import('../src/backend/native.js');
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
  pad: 'same' | 'valid' | number;
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
        return tf.conv2d(xx, ww, c.strides, c.pad, c.dataFormat ?? 'NHWC', c.dilations ?? 1);
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
      });
    };
    const y = f(x, w, b);
    const out = [y.dataSync() as Float32Array];
    if (c.grads) {
      const r = tf.tensor(rand(y.size, seed + 4), y.shape);
      const loss = (...a: tf.Tensor[]) => tf.sum(tf.mul(f(a[0] as tf.Tensor4D, a[1] as tf.Tensor4D, a[2] as tf.Tensor1D), r));
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
  { name: 'enc1 conv 28x28x1→32', op: 'conv2d', x: [B, 28, 28, 1], f: [4, 4, 1, 32], strides: 2, pad: 'same', grads: true },
  { name: 'enc2 fused 14x14x32→64 bias', op: 'fused', x: [B, 14, 14, 32], f: [4, 4, 32, 64], strides: 2, pad: 'same', bias: true, grads: true },
  // decoder: convT 64→32 (7→14), 32→1 (14→28)
  { name: 'dec1 convT 7x7x64→32', op: 'conv2dTranspose', x: [B, 7, 7, 64], f: [4, 4, 32, 64], strides: 2, pad: 'same', outShape: [B, 14, 14, 32], grads: true },
  { name: 'dec2 convT 14x14x32→1', op: 'conv2dTranspose', x: [B, 14, 14, 32], f: [4, 4, 1, 32], strides: 2, pad: 'same', outShape: [B, 28, 28, 1], grads: true },
];

const odd: Case[] = [
  { name: '7x5x3 3x3/1 same', op: 'conv2d', x: [1, 7, 5, 3], f: [3, 3, 3, 4], strides: 1, pad: 'same', grads: true },
  { name: '7x5x3 3x3/2 same', op: 'conv2d', x: [2, 7, 5, 3], f: [3, 3, 3, 5], strides: 2, pad: 'same', grads: true },
  { name: '7x5x1 3x3/2 valid', op: 'conv2d', x: [1, 7, 5, 1], f: [3, 3, 1, 2], strides: 2, pad: 'valid', grads: true },
  { name: '8x6x3 3x3/2 valid (unused edge)', op: 'conv2d', x: [3, 8, 6, 3], f: [3, 3, 3, 2], strides: 2, pad: 'valid', grads: true },
  { name: '7x5x3 1x1/1', op: 'conv2d', x: [1, 7, 5, 3], f: [1, 1, 3, 6], strides: 1, pad: 'valid', grads: true },
  { name: '7x5x3 1x1/2 same', op: 'conv2d', x: [2, 7, 5, 3], f: [1, 1, 3, 4], strides: 2, pad: 'same', grads: true },
  { name: '9x7x3 4x3 strides [2,1] same', op: 'conv2d', x: [2, 9, 7, 3], f: [4, 3, 3, 4], strides: [2, 1], pad: 'same', grads: true },
  { name: '7x5x3 3x3 pad 2', op: 'conv2d', x: [1, 7, 5, 3], f: [3, 3, 3, 4], strides: 2, pad: 2, grads: true },
  { name: '9x8x2 3x3 dilation 2', op: 'conv2d', x: [2, 9, 8, 2], f: [3, 3, 2, 3], strides: 1, pad: 'same', dilations: 2 },
  { name: 'NCHW 3x7x5 3x3/1 same', op: 'conv2d', x: [2, 3, 7, 5], f: [3, 3, 3, 4], strides: 1, pad: 'same', dataFormat: 'NCHW' },
  { name: 'convT 4x3x3→1 3x3/2 same', op: 'conv2dTranspose', x: [1, 4, 3, 3], f: [3, 3, 1, 3], strides: 2, pad: 'same', outShape: [1, 7, 5, 1], grads: true },
  { name: 'convT 3x2x3→2 3x3/2 valid', op: 'conv2dTranspose', x: [2, 3, 2, 3], f: [3, 3, 2, 3], strides: 2, pad: 'valid', outShape: [2, 7, 5, 2], grads: true },
  { name: 'convT 7x5x3→4 1x1/1', op: 'conv2dTranspose', x: [1, 7, 5, 3], f: [1, 1, 4, 3], strides: 1, pad: 'valid', outShape: [1, 7, 5, 4], grads: true },
  { name: 'fused bias+relu 7x5x3', op: 'fused', x: [2, 7, 5, 3], f: [3, 3, 3, 4], strides: 1, pad: 'same', bias: true, activation: 'relu' },
  { name: 'fused bias+relu6', op: 'fused', x: [2, 7, 5, 3], f: [3, 3, 3, 4], strides: 2, pad: 'same', bias: true, activation: 'relu6' },
  { name: 'fused bias+elu', op: 'fused', x: [2, 7, 5, 3], f: [3, 3, 3, 4], strides: 1, pad: 'valid', bias: true, activation: 'elu' },
  { name: 'fused bias+sigmoid', op: 'fused', x: [1, 7, 5, 1], f: [3, 3, 1, 4], strides: 1, pad: 'same', bias: true, activation: 'sigmoid' },
  { name: 'fused leakyrelu no bias', op: 'fused', x: [1, 7, 5, 3], f: [3, 3, 3, 4], strides: 1, pad: 'same', activation: 'leakyrelu' },
  { name: 'fused bias+prelu', op: 'fused', x: [1, 7, 5, 3], f: [3, 3, 3, 4], strides: 1, pad: 'same', bias: true, activation: 'prelu' },
  { name: 'fused bias linear grads', op: 'fused', x: [2, 7, 5, 3], f: [3, 3, 3, 4], strides: 2, pad: 'same', bias: true, grads: true },
  { name: 'fused bias+relu grads (unfused under tape)', op: 'fused', x: [2, 7, 5, 3], f: [3, 3, 3, 4], strides: 1, pad: 'same', bias: true, activation: 'relu', grads: true },
];

test('native conv kernels match tfjs-cpu', { skip }, async (t) => {
  const nativeName = await nativeBackendName();
  const cases = [...canonical, ...odd];
  // tfjs-cpu reference, once per case.
  await tf.setBackend('cpu');
  const refs = cases.map((c, i) => runCase(c, 100 + i));
  await tf.setBackend(nativeName);
  const before = addon!.convConfig();
  try {
    for (const mode of ['onednn', 'gemm', 'auto'] as const) {
      addon!.convConfig({ mode, clearCache: true });
      await t.test(`${mode} path on ${nativeName}`, () => {
        // auto: run each case 7 times so the auto-tuner has decided by the last run.
        const reps = mode === 'auto' ? 7 : 1;
        cases.forEach((c, i) => {
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
      });
    }
    // The kernels went native (not the cpu fallbacks): the cache has forward, backward-data and
    // backward-filter entries for the canonical shapes, and at least one ran on oneDNN.
    const stats = addon!.convStats();
    const kinds = new Set(stats.map((s) => s.kind));
    assert.deepEqual([...kinds].sort(), ['backwardData', 'backwardFilter', 'forward']);
    if (before.onednn) assert.ok(stats.some((s) => s.impl.length > 0), 'no oneDNN primitive was created');
  } finally {
    addon!.convConfig({ mode: before.mode, clearCache: true });
  }
});

test('registerConvKernels without conv entry points registers nothing', () => {
  assert.deepEqual(registerConvKernels('nowhere', {}), []);
  assert.deepEqual(registerConvKernels('nowhere', null), []);
});
