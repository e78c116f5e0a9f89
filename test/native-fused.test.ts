// Fused VAE ops (src/backend/fused.ts): the native kernels against the composite tfjs formulas on
// tfjs-cpu and against float64 references (values, analytic gradients and central finite
// differences); the in-place optimizer steps against hand-written float64 PyTorch update rules over
// several steps, on the native backend and on the plain-tfjs path. Native parts are skipped when the
// addon is not built; the plain-tfjs checks always run.
import { strict as assert } from 'node:assert';
import { it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers'; // registers tfjs-core's gradients
import { NATIVE_BACKEND, registerNativeBackend } from '../src/backend/native/index.js';
import {
  adagradStepInPlace,
  adamStepInPlace,
  bernoulliNllWithLogits,
  gaussianKlStdNormal,
  gaussianNll,
  isNativeActive,
  sgdStepInPlace,
} from '../src/backend/fused.js';
import { Rng } from '../src/rng.js';

const reg = registerNativeBackend();
const skip = reg.ok ? false : `native backend unavailable: ${reg.reason}`;
const BACKENDS = reg.ok ? ['cpu', NATIVE_BACKEND] : ['cpu'];

const rng = new Rng(777);
const rnd = (): number => rng.uniform();
function uni(n: number, lo: number, hi: number): Float32Array {
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = lo + (hi - lo) * rnd();
  return v;
}
function bits(n: number): Float32Array {
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = rnd() < 0.4 ? 1 : 0;
  return v;
}

async function use(name: string): Promise<void> {
  assert.ok(await tf.setBackend(name));
  (tf.backend() as any).firstUse = false;
}

function near(what: string, got: ArrayLike<number>, want: ArrayLike<number>, rtol = 1e-4, atol = 1e-5): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    const a = got[i],
      b = want[i];
    if (!(Math.abs(a - b) <= atol + rtol * Math.abs(b))) assert.fail(`${what} at ${i}: got ${a}, want ${b}`);
  }
}

// float64 references
const softplus = (l: number) => Math.max(l, 0) + Math.log1p(Math.exp(-Math.abs(l)));
const sigmoid = (l: number) => 1 / (1 + Math.exp(-l));
function refBernoulli(l: ArrayLike<number>, x: ArrayLike<number>, N: number, D: number): number[] {
  const o: number[] = [];
  for (let n = 0; n < N; n++) {
    let s = 0;
    for (let d = 0; d < D; d++) s += softplus(l[n * D + d]) - x[n * D + d] * l[n * D + d];
    o.push(s);
  }
  return o;
}
/** lv accessor for broadcast shapes */
function lvAt(lv: ArrayLike<number>, shape: number[], n: number, d: number): number {
  if (lv.length === 1) return lv[0];
  if (shape.length === 2 && shape[0] > 1 && shape[1] === 1) return lv[n];
  if (shape.length === 2 && shape[0] > 1) return lv[n * shape[1] + d];
  return lv[d];
}
function refGauss(
  x: ArrayLike<number>,
  m: ArrayLike<number>,
  lv: ArrayLike<number>,
  lvShape: number[],
  N: number,
  D: number,
): number[] {
  const o: number[] = [];
  for (let n = 0; n < N; n++) {
    let s = 0;
    for (let d = 0; d < D; d++) {
      const v = lvAt(lv, lvShape, n, d),
        df = x[n * D + d] - m[n * D + d];
      s += 0.5 * (Math.log(2 * Math.PI) + v + df * df * Math.exp(-v));
    }
    o.push(s);
  }
  return o;
}
function refKl(mu: ArrayLike<number>, lv: ArrayLike<number>, N: number, D: number): number[] {
  const o: number[] = [];
  for (let n = 0; n < N; n++) {
    let s = 0;
    for (let d = 0; d < D; d++) s += mu[n * D + d] ** 2 + Math.exp(lv[n * D + d]) - lv[n * D + d] - 1;
    o.push(0.5 * s);
  }
  return o;
}

/** Central finite differences of Σ_n w_n f(p)_n w.r.t. p (float64), at the given indices. */
function fd(f: (p: Float64Array) => number[], p: Float32Array, w: Float32Array, idx: number[], h = 1e-4): number[] {
  const q = Float64Array.from(p);
  return idx.map((i) => {
    const o = q[i];
    q[i] = o + h;
    const a = f(q).reduce((s, v, n) => s + v * w[n], 0);
    q[i] = o - h;
    const b = f(q).reduce((s, v, n) => s + v * w[n], 0);
    q[i] = o;
    return (a - b) / (2 * h);
  });
}

function sample(n: number, k: number): number[] {
  const s = new Set<number>([0, n - 1]);
  while (s.size < Math.min(k, n)) s.add(Math.floor(rnd() * n));
  return [...s];
}

it('fused.ts bundles for the browser: no node: module, no native backend', async () => {
  const { build } = await import('esbuild');
  const r = await build({
    entryPoints: [new URL('../src/backend/fused.ts', import.meta.url).pathname],
    bundle: true,
    write: false,
    platform: 'browser',
    format: 'esm',
    metafile: true,
    external: ['@tensorflow/*'],
    logLevel: 'silent',
  });
  const inputs = Object.keys(r.metafile.inputs);
  assert.ok(
    inputs.every((f) => !/backend\/native|backend\/index/.test(f)),
    `fused.ts pulls in ${inputs.join(', ')}`,
  );
  assert.ok(!/from ['"]node:/.test(r.outputFiles[0].text), 'a node: import in the bundle');
});

it("fused ops run the active backend's kernel by name, else plain tfjs", async () => {
  // A backend of its own ('fused-probe', tfjs-cpu's kernels) with a VaekitKlStdNormal kernel that
  // returns a marker: the op must call it; with the kernel unregistered, the tfjs formula runs.
  const { FUSED_KERNELS } = await import('../src/backend/kernel-names.js');
  const { MathBackendCPU } = await import('@tensorflow/tfjs-backend-cpu');
  const name = 'fused-probe';
  if (!tf.findBackendFactory(name)) {
    tf.registerBackend(name, () => new MathBackendCPU());
    for (const k of tf.getKernelsForBackend('cpu')) tf.registerKernel({ ...k, backendName: name });
  }
  let calls = 0;
  tf.registerKernel({
    kernelName: FUSED_KERNELS.klStdNormal,
    backendName: name,
    kernelFunc: ({ backend }) => {
      calls++;
      return (backend as InstanceType<typeof MathBackendCPU>).makeTensorInfo([2], 'float32', new Float32Array([7, 7]));
    },
  });
  tf.registerKernel({ kernelName: FUSED_KERNELS.klStdNormalGrad, backendName: name, kernelFunc: () => [] });
  try {
    await use(name);
    const mu = tf.tensor2d([0, 1, 2, 3], [2, 2]),
      lv = tf.zeros([2, 2]) as tf.Tensor2D;
    assert.deepEqual(Array.from(gaussianKlStdNormal(mu as tf.Tensor2D, lv).dataSync()), [7, 7]);
    assert.equal(calls, 1);
    tf.unregisterKernel(FUSED_KERNELS.klStdNormal, name);
    near('kl without the kernel', gaussianKlStdNormal(mu as tf.Tensor2D, lv).dataSync(), [0.5, 6.5]);
    assert.equal(calls, 1);
    assert.equal(isNativeActive(), false);
  } finally {
    tf.unregisterKernel(FUSED_KERNELS.klStdNormalGrad, name);
    await use('cpu');
  }
});

it('isNativeActive follows the active backend', async () => {
  await use('cpu');
  assert.equal(isNativeActive(), false);
  if (reg.ok) {
    await use(NATIVE_BACKEND);
    assert.equal(isNativeActive(), true);
  }
});

it('bernoulliNllWithLogits: value and gradient vs float64 reference and finite differences', async () => {
  for (const [N, D] of [
    [1, 1],
    [3, 5],
    [128, 784],
  ]) {
    const l = uni(N * D, -8, 8),
      x = bits(N * D),
      w = uni(N, -1, 1);
    if (N * D > 10) {
      l[0] = 100;
      l[1] = -100; // stability: no overflow
    }
    const want = refBernoulli(l, x, N, D);
    const wantG = Array.from(l, (li, i) => (sigmoid(li) - x[i]) * w[Math.floor(i / D)]);
    for (const b of BACKENDS) {
      await use(b);
      const [v, g] = tf.tidy(() => {
        const lt = tf.tensor2d(l, [N, D]),
          xt = tf.tensor2d(x, [N, D]);
        const val = bernoulliNllWithLogits(lt, xt);
        const gr = tf.grad((t: tf.Tensor) =>
          tf.sum(tf.mul(bernoulliNllWithLogits(t as tf.Tensor2D, xt), tf.tensor1d(w))),
        )(lt);
        return [val.dataSync().slice(), gr.dataSync().slice()];
      });
      near(`${b} bernoulli value [${N},${D}]`, v, want, 1e-5, 1e-4);
      near(`${b} bernoulli grad [${N},${D}]`, g, wantG, 1e-4, 1e-6);
      if (N * D <= 15) {
        const idx = sample(N * D, 6);
        const num = fd((p) => refBernoulli(p, x, N, D), l, w, idx);
        near(
          `${b} bernoulli finite differences`,
          idx.map((i) => g[i]),
          num,
          1e-3,
          1e-4,
        );
      }
    }
  }
});

it('bernoulliNllWithLogits: native equals the composite tfjs formula on tfjs-cpu', { skip }, async () => {
  const N = 64,
    D = 300;
  const l = uni(N * D, -6, 6),
    x = bits(N * D);
  await use('cpu');
  const comp = tf.tidy(() => {
    const lt = tf.tensor2d(l, [N, D]),
      xt = tf.tensor2d(x, [N, D]);
    return tf
      .sum(tf.add(tf.sub(tf.relu(lt), tf.mul(xt, lt)), tf.log1p(tf.exp(tf.neg(tf.abs(lt))))), 1)
      .dataSync()
      .slice();
  });
  await use(NATIVE_BACKEND);
  const nat = tf.tidy(() =>
    bernoulliNllWithLogits(tf.tensor2d(l, [N, D]), tf.tensor2d(x, [N, D]))
      .dataSync()
      .slice(),
  );
  near('native vs composite', nat, comp, 1e-5, 1e-4);
});

it('gaussianNll: broadcast logVar shapes, value and gradients (x, mean, logVar)', async () => {
  const N = 6,
    D = 5;
  const shapes: number[][] = [[], [1], [D], [1, D], [N, D], [N, 1]];
  for (const lvShape of shapes) {
    const lvSize = lvShape.reduce((a, b) => a * b, 1);
    const x = uni(N * D, -2, 2),
      m = uni(N * D, -2, 2),
      lv = uni(lvSize, -1.5, 1.5),
      w = uni(N, -1, 1);
    const want = refGauss(x, m, lv, lvShape, N, D);
    for (const b of BACKENDS) {
      await use(b);
      const [v, gm, glv, gx] = tf.tidy(() => {
        const xt = tf.tensor2d(x, [N, D]),
          mt = tf.tensor2d(m, [N, D]),
          lvt = tf.tensor(lv, lvShape);
        const val = gaussianNll(xt, mt, lvt);
        const [e, a, c] = tf.grads((o: tf.Tensor, p: tf.Tensor, q: tf.Tensor) =>
          tf.sum(tf.mul(gaussianNll(o as tf.Tensor2D, p, q), tf.tensor1d(w))),
        )([xt, mt, lvt]);
        return [val.dataSync().slice(), a.dataSync().slice(), c.dataSync().slice(), e.dataSync().slice()];
      });
      const what = `${b} gaussianNll lv [${lvShape}]`;
      near(`${what} value`, v, want, 1e-5, 1e-5);
      const im = sample(N * D, 8);
      near(
        `${what} d/dmean`,
        im.map((i) => gm[i]),
        fd((p) => refGauss(x, p, lv, lvShape, N, D), m, w, im),
        1e-3,
        1e-4,
      );
      // x is differentiated too: log q(z|x) at a reparameterized z (IWAE, HVAE layer terms) needs ∂/∂z
      near(
        `${what} d/dx`,
        im.map((i) => gx[i]),
        fd((p) => refGauss(p, m, lv, lvShape, N, D), x, w, im),
        1e-3,
        1e-4,
      );
      const il = sample(lvSize, 6);
      near(
        `${what} d/dlogVar`,
        il.map((i) => glv[i]),
        fd((p) => refGauss(x, m, p, lvShape, N, D), lv, w, il),
        1e-3,
        1e-4,
      );
    }
  }
});

it('gaussianNll: native equals tfjs-cpu on a large batch', { skip }, async () => {
  const N = 128,
    D = 784;
  const x = uni(N * D, 0, 1),
    m = uni(N * D, 0, 1),
    lvRow = uni(D, -3, 1),
    lvFull = uni(N * D, -3, 1),
    dy = uni(N, -1, 1);
  const res: Float32Array[][] = [];
  for (const b of ['cpu', NATIVE_BACKEND]) {
    await use(b);
    res.push(
      tf.tidy(() => {
        const out: Float32Array[] = [];
        for (const [lv, shape] of [
          [lvRow, [1, D]],
          [lvFull, [N, D]],
          [new Float32Array([0.3]), []],
        ] as [Float32Array, number[]][]) {
          const xt = tf.tensor2d(x, [N, D]),
            mt = tf.tensor2d(m, [N, D]),
            lvt = tf.tensor(lv, shape);
          out.push(gaussianNll(xt, mt, lvt).dataSync().slice() as Float32Array);
          const g = tf.grads((p: tf.Tensor, q: tf.Tensor) => gaussianNll(xt, p, q))([mt, lvt], tf.tensor1d(dy));
          for (const t of g) out.push(t.dataSync().slice() as Float32Array);
        }
        return out;
      }),
    );
  }
  res[0].forEach((c, k) => near(`output ${k}`, res[1][k], c, 1e-4, 1e-3));
});

it('gaussianKlStdNormal: value and gradients', async () => {
  for (const [N, D] of [
    [1, 1],
    [4, 3],
    [128, 20],
  ]) {
    const mu = uni(N * D, -2, 2),
      lv = uni(N * D, -3, 2),
      w = uni(N, -1, 1);
    const want = refKl(mu, lv, N, D);
    const wantMu = Array.from(mu, (v, i) => v * w[Math.floor(i / D)]);
    const wantLv = Array.from(lv, (v, i) => 0.5 * (Math.exp(v) - 1) * w[Math.floor(i / D)]);
    for (const b of BACKENDS) {
      await use(b);
      const [v, gm, gl] = tf.tidy(() => {
        const mt = tf.tensor2d(mu, [N, D]),
          lt = tf.tensor2d(lv, [N, D]);
        const [a, c] = tf.grads((p: tf.Tensor, q: tf.Tensor) =>
          tf.sum(tf.mul(gaussianKlStdNormal(p as tf.Tensor2D, q as tf.Tensor2D), tf.tensor1d(w))),
        )([mt, lt]);
        return [gaussianKlStdNormal(mt, lt).dataSync().slice(), a.dataSync().slice(), c.dataSync().slice()];
      });
      near(`${b} kl value [${N},${D}]`, v, want, 1e-5, 1e-5);
      near(`${b} kl d/dmu`, gm, wantMu, 1e-5, 1e-6);
      near(`${b} kl d/dlogVar`, gl, wantLv, 1e-5, 1e-6);
      if (N * D <= 12) {
        const idx = sample(N * D, 5);
        near(
          `${b} kl fd mu`,
          idx.map((i) => gm[i]),
          fd((p) => refKl(p, lv, N, D), mu, w, idx),
          1e-3,
          1e-4,
        );
        near(
          `${b} kl fd lv`,
          idx.map((i) => gl[i]),
          fd((p) => refKl(mu, p, N, D), lv, w, idx),
          1e-3,
          1e-4,
        );
      }
    }
  }
});

it('fused ops leave no tensors behind and work inside tidy + variableGrads', async () => {
  for (const b of BACKENDS) {
    await use(b);
    const before = tf.memory().numTensors;
    const init = tf.tensor2d(uni(40, -1, 1), [8, 5]);
    const mu = tf.variable(init, true, `leak_mu_${b}`);
    init.dispose();
    const x = tf.tensor2d(bits(8 * 5), [8, 5]);
    for (let i = 0; i < 3; i++) {
      const { value, grads } = tf.variableGrads(
        () =>
          tf.tidy(() =>
            tf.mean(
              tf.add(
                bernoulliNllWithLogits(mu as tf.Tensor2D, x),
                gaussianKlStdNormal(mu as tf.Tensor2D, tf.mul(mu, 0.5) as tf.Tensor2D),
              ),
            ),
          ) as tf.Scalar,
      );
      tf.dispose([value, ...Object.values(grads)]);
    }
    mu.dispose();
    x.dispose();
    assert.equal(tf.memory().numTensors, before, `${b}: tensors leaked`);
  }
});

// ------------------------------------------------------------------------------------------------
// optimizers

function refAdam(
  w: Float64Array,
  g: Float32Array,
  m: Float64Array,
  s: Float64Array,
  lr: number,
  b1: number,
  b2: number,
  eps: number,
  t: number,
) {
  const bc1 = 1 - b1 ** t,
    bc2 = 1 - b2 ** t;
  for (let i = 0; i < w.length; i++) {
    m[i] = b1 * m[i] + (1 - b1) * g[i];
    s[i] = b2 * s[i] + (1 - b2) * g[i] * g[i];
    w[i] -= ((lr / bc1) * m[i]) / (Math.sqrt(s[i]) / Math.sqrt(bc2) + eps);
  }
}
function refSgd(
  w: Float64Array,
  g: Float32Array,
  buf: Float64Array | null,
  lr: number,
  mom: number,
  nesterov: boolean,
) {
  for (let i = 0; i < w.length; i++) {
    let d = g[i];
    if (buf && mom !== 0) {
      buf[i] = mom * buf[i] + g[i];
      d = nesterov ? g[i] + mom * buf[i] : buf[i];
    }
    w[i] -= lr * d;
  }
}
function refAdagrad(w: Float64Array, g: Float32Array, acc: Float64Array, lr: number, eps: number) {
  for (let i = 0; i < w.length; i++) {
    acc[i] += g[i] * g[i];
    w[i] -= (lr * g[i]) / (Math.sqrt(acc[i]) + eps);
  }
}

type Kind = 'adam' | 'sgd' | 'sgd-momentum' | 'sgd-nesterov' | 'adagrad';

async function runOptimizer(backend: string, kind: Kind, shape: number[], steps: number): Promise<void> {
  await use(backend);
  const n = shape.reduce((a, b) => a * b, 1);
  const w0 = uni(n, -1, 1);
  const v = tf.variable(tf.tensor(w0, shape), true, `opt_${kind}_${backend}_${shape.join('x')}_${rnd()}`);
  const ref = Float64Array.from(w0);
  const s1 = new Float32Array(n),
    s2 = new Float32Array(n);
  const r1 = new Float64Array(n),
    r2 = new Float64Array(n);
  for (let t = 1; t <= steps; t++) {
    const gv = uni(n, -0.5, 0.5);
    const g = tf.tensor(gv, shape);
    switch (kind) {
      case 'adam':
        adamStepInPlace(v, g, s1, s2, { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, t });
        refAdam(ref, gv, r1, r2, 0.01, 0.9, 0.999, 1e-8, t);
        break;
      case 'sgd':
        sgdStepInPlace(v, g, null, { lr: 0.1, momentum: 0 });
        refSgd(ref, gv, null, 0.1, 0, false);
        break;
      case 'sgd-momentum':
      case 'sgd-nesterov':
        sgdStepInPlace(v, g, s1, { lr: 0.1, momentum: 0.9, nesterov: kind === 'sgd-nesterov' });
        refSgd(ref, gv, r1, 0.1, 0.9, kind === 'sgd-nesterov');
        break;
      case 'adagrad':
        adagradStepInPlace(v, g, s1, { lr: 0.1, eps: 1e-10 });
        refAdagrad(ref, gv, r1, 0.1, 1e-10);
        break;
    }
    g.dispose();
  }
  near(`${backend} ${kind} [${shape}] weights after ${steps} steps`, v.dataSync(), ref, 1e-5, 2e-6);
  if (kind !== 'sgd') near(`${backend} ${kind} state`, s1, r1, 1e-5, 1e-7);
  if (kind === 'adam') near(`${backend} adam second moment`, s2, r2, 1e-5, 1e-9);
  v.dispose();
}

it('optimizer steps match float64 PyTorch update rules over several steps', async () => {
  for (const b of BACKENDS) {
    for (const kind of ['adam', 'sgd', 'sgd-momentum', 'sgd-nesterov', 'adagrad'] as Kind[]) {
      await runOptimizer(b, kind, [7, 3], 5);
      await runOptimizer(b, kind, [400, 784], 3);
      await runOptimizer(b, kind, [1], 4);
    }
  }
});

it('in-place updates never write through shared data (copy-on-write)', { skip }, async () => {
  await use(NATIVE_BACKEND);
  // a variable sharing its data with a live tensor
  const init = tf.tensor1d([1, 2, 3, 4]);
  const v = tf.variable(init, true, 'cow_shared');
  sgdStepInPlace(v, tf.ones([4]), null, { lr: 0.5, momentum: 0 });
  assert.deepEqual(Array.from(init.dataSync()), [1, 2, 3, 4]);
  assert.deepEqual(Array.from(v.dataSync()), [0.5, 1.5, 2.5, 3.5]);
  // steady state: the variable now owns its buffer and is updated in place
  const before = (tf.backend() as any).data.get(v.dataId).values;
  sgdStepInPlace(v, tf.ones([4]), null, { lr: 0.5, momentum: 0 });
  assert.strictEqual((tf.backend() as any).data.get(v.dataId).values, before, 'updated in place');
  assert.deepEqual(Array.from(v.dataSync()), [0, 1, 2, 3]);
  // a variable whose data is a view into a bigger tensor's buffer (contiguous slice)
  const big = tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2]);
  const part = tf.slice(big, [1, 0], [1, 2]);
  const v2 = tf.variable(part, true, 'cow_view');
  part.dispose();
  adamStepInPlace(v2, tf.ones([1, 2]), new Float32Array(2), new Float32Array(2), {
    lr: 0.1,
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    t: 1,
  });
  assert.deepEqual(Array.from(big.dataSync()), [1, 2, 3, 4, 5, 6]);
  near('adam on a view', v2.dataSync(), [2.9, 3.9], 1e-6, 1e-6);
  tf.dispose([init, v, big, v2]);
});

it('optimizer steps reject mismatched state', async () => {
  await use('cpu');
  const v = tf.variable(tf.zeros([3]), true, 'bad_state');
  assert.throws(
    () =>
      adamStepInPlace(v, tf.zeros([3]), new Float32Array(2), new Float32Array(3), {
        lr: 1,
        beta1: 0.9,
        beta2: 0.9,
        eps: 1e-8,
        t: 1,
      }),
    /state array length/,
  );
  assert.throws(() => sgdStepInPlace(v, tf.zeros([4]), null, { lr: 1, momentum: 0 }), /gradient size/);
  v.dispose();
});
