// Times the canonical conv VAE at batch 128: forward + backward of its convolution layers alone, and
// a whole training step (forward, backward, Adam), on vaekit's native backend, on tfjs-cpu, and on
// PyTorch (the protocol's peer: /usr/bin/python3, torch.set_num_threads(2), OPENBLAS_NUM_THREADS=1)
// when it is installed. Prints ms/step (median and min of the timed steps; the min is the steadier
// figure on a shared machine) and which path the native convolutions took per shape. Then vaekit's
// own conv VAE (src/models, as `vaekit train --model conv` builds it): the trainer's tfjs-graph step
// and the fused native step (native/conv_step.cc) alternated step by step, wall and CPU ms (process
// CPU time: both threads, spin included) and their ratio.
//
//   node --import tsx bench/native-conv-step.ts                  # native, PyTorch, 1 step of tfjs-cpu
//   node --import tsx bench/native-conv-step.ts --steps 30 --cpu-steps 0 --conv-mode onednn
//
// Options: --steps N (timed steps, default 20; also the alternated pairs), --warmup N (default 9), --cpu-steps N (tfjs-cpu
// timed steps, default 1; 0 skips it), --cpu-batch N (tfjs-cpu's batch, default 16, its times scaled
// to 128: both parts of the step are linear in the batch, and 128 takes minutes a step),
// --conv-mode auto|tune|onednn|gemm, --conv-blas onednn|openblas, --threads N (both sides; default 2,
// as the protocol), --no-torch, --no-fused (skip the alternated model steps), --json.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers'; // registers tfjs-core's gradients
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { registerConvKernels, hasNativeConv, type NativeConvAddon } from '../src/backend/native/conv.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ADDON = path.join(ROOT, 'build/Release/vaekit_native.node');
const BATCH = 128;
let B = BATCH; // the batch of the backend being timed (tfjs-cpu: --cpu-batch)

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}
const steps = Number(arg('steps', '20'));
const warmup = Number(arg('warmup', '9'));
const cpuSteps = Number(arg('cpu-steps', '1'));
const cpuBatch = Number(arg('cpu-batch', '16'));
const convMode = arg('conv-mode', 'auto') as 'auto' | 'tune' | 'onednn' | 'gemm';
const convBlas = arg('conv-blas', 'core') as 'core' | 'onednn' | 'openblas';
const threads = Number(arg('threads', '2'));
const noTorch = process.argv.includes('--no-torch');
const asJson = process.argv.includes('--json');
const noFused = process.argv.includes('--no-fused');
// the user's own libgomp spin setting: PyTorch gets the environment as bench/run.ts gives it, not the
// GOMP_SPINCOUNT that loading the addon sets for vaekit's OpenMP team (src/backend/native/addon.ts)
const userSpin = process.env.GOMP_SPINCOUNT;

// ------------------------------------------------------------------------------------------ backends

/** 'vaekit-native' (core + conv kernels) if it registers, else 'conv-test' (tfjs-cpu + conv kernels). */
async function nativeBackend(): Promise<{ name: string; addon: NativeConvAddon; note: string }> {
  try {
    const m = await import('../src/backend/native/index.js');
    const r = m.registerNativeBackend();
    const addon = m.loadAddon().addon;
    if (r.ok) r.threads = m.setNativeThreads(threads);
    if (r.ok && hasNativeConv(addon) && (await tf.setBackend(m.NATIVE_BACKEND)))
      return { name: m.NATIVE_BACKEND, addon, note: `core + conv kernels, ${r.threads} threads, BLAS ${r.blas}` };
  } catch {
    // fall through
  }
  if (!existsSync(ADDON)) throw new Error(`native addon not built (${ADDON}); run npm run build:native`);
  const addon = createRequire(import.meta.url)(ADDON);
  if (!hasNativeConv(addon)) throw new Error('the native addon has no convolution kernels');
  class ConvBench extends MathBackendCPU {}
  tf.registerBackend('conv-bench', () => new ConvBench(), 0);
  for (const k of tf.getKernelsForBackend('cpu')) tf.registerKernel({ ...k, backendName: 'conv-bench' });
  registerConvKernels('conv-bench', addon);
  addon.convConfig({ threads });
  return { name: 'conv-bench', addon, note: 'tfjs-cpu + native conv kernels (core backend not available)' };
}

// --------------------------------------------------------------------------------------------- model

// PyTorch-style uniform(±1/√fan_in) values, deterministic.
function uniform(shape: number[], fanIn: number, seed: number): tf.Tensor {
  let s = (seed * 2654435761) >>> 0 || 1;
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  const bound = 1 / Math.sqrt(fanIn);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    v[i] = ((s / 4294967296) * 2 - 1) * bound;
  }
  return tf.tensor(v, shape);
}

interface Params {
  [k: string]: tf.Variable;
}

function makeParams(): Params {
  const p: Record<string, [number[], number]> = {
    c1w: [[4, 4, 1, 32], 16],
    c1b: [[32], 16],
    c2w: [[4, 4, 32, 64], 512],
    c2b: [[64], 512],
    e1w: [[3136, 256], 3136],
    e1b: [[256], 3136],
    e2w: [[256, 32], 256],
    e2b: [[32], 256],
    d1w: [[16, 256], 16],
    d1b: [[256], 16],
    d2w: [[256, 3136], 256],
    d2b: [[3136], 256],
    t1w: [[4, 4, 32, 64], 512],
    t1b: [[32], 512], // conv2dTranspose filter: [kh, kw, out, in]
    t2w: [[4, 4, 1, 32], 512],
    t2b: [[1], 512],
  };
  const out: Params = {};
  Object.entries(p).forEach(([k, [shape, fanIn]], i) => {
    out[k] = tf.variable(uniform(shape, fanIn, 11 + i), true, k);
  });
  return out;
}

// The canonical conv VAE's convolution layers, as tfjs-layers runs them under a gradient tape
// (Conv2D+ReLU: conv2d, add, relu; Conv2DTranspose: conv2dTranspose, add); h stands for the
// decoder's dense output and needs a gradient, as in the model.
function convLoss(p: Params, x: tf.Tensor4D, h: tf.Variable, r1: tf.Tensor, r2: tf.Tensor): tf.Scalar {
  const e1 = tf.relu(tf.add(tf.conv2d(x, p.c1w as tf.Tensor4D, 2, 'same'), p.c1b));
  const e2 = tf.relu(tf.add(tf.conv2d(e1 as tf.Tensor4D, p.c2w as tf.Tensor4D, 2, 'same'), p.c2b));
  const d1 = tf.relu(
    tf.add(tf.conv2dTranspose(h as tf.Tensor4D, p.t1w as tf.Tensor4D, [B, 14, 14, 32], 2, 'same'), p.t1b),
  );
  const d2 = tf.add(tf.conv2dTranspose(d1 as tf.Tensor4D, p.t2w as tf.Tensor4D, [B, 28, 28, 1], 2, 'same'), p.t2b);
  return tf.add(tf.sum(tf.mul(e2, r1)), tf.sum(tf.mul(d2, r2)));
}

// The whole model: −ELBO with a Bernoulli decoder (BCE with logits summed over pixels) + analytic KL.
function elbo(p: Params, x: tf.Tensor4D, eps: tf.Tensor2D): tf.Scalar {
  const dense = (a: tf.Tensor, w: tf.Variable, b: tf.Variable) =>
    tf.add(tf.matMul(a as tf.Tensor2D, w as tf.Tensor2D), b);
  let h: tf.Tensor = tf.relu(tf.add(tf.conv2d(x, p.c1w as tf.Tensor4D, 2, 'same'), p.c1b));
  h = tf.relu(tf.add(tf.conv2d(h as tf.Tensor4D, p.c2w as tf.Tensor4D, 2, 'same'), p.c2b));
  h = tf.relu(dense(tf.reshape(h, [B, 3136]), p.e1w, p.e1b));
  const q = dense(h, p.e2w, p.e2b);
  const [mu, logVar] = tf.split(q, 2, 1);
  const z = tf.add(mu, tf.mul(tf.exp(tf.mul(logVar, 0.5)), eps));
  h = tf.relu(dense(z, p.d1w, p.d1b));
  h = tf.relu(dense(h, p.d2w, p.d2b));
  h = tf.relu(
    tf.add(
      tf.conv2dTranspose(tf.reshape(h, [B, 7, 7, 64]) as tf.Tensor4D, p.t1w as tf.Tensor4D, [B, 14, 14, 32], 2, 'same'),
      p.t1b,
    ),
  );
  const logits = tf.reshape(
    tf.add(tf.conv2dTranspose(h as tf.Tensor4D, p.t2w as tf.Tensor4D, [B, 28, 28, 1], 2, 'same'), p.t2b),
    [B, 784],
  );
  const xf = tf.reshape(x, [B, 784]);
  // BCE with logits: max(l, 0) − l·x + log(1 + exp(−|l|))
  const bce = tf.add(tf.sub(tf.relu(logits), tf.mul(logits, xf)), tf.log1p(tf.exp(tf.neg(tf.abs(logits)))));
  const kl = tf.mul(0.5, tf.sub(tf.add(tf.square(mu), tf.exp(logVar)), tf.add(logVar, 1)));
  return tf.div(tf.add(tf.sum(bce), tf.sum(kl)), B) as tf.Scalar;
}

function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

interface Timing {
  convMs: number;
  stepMs: number;
  convMinMs: number;
  stepMinMs: number;
}

async function timeBackend(name: string, nSteps: number, nWarmup: number): Promise<Timing> {
  await tf.setBackend(name);
  const p = makeParams();
  const x = tf.tidy(() => tf.cast(tf.greater(uniform([B, 28, 28, 1], 1, 3), 0), 'float32')) as tf.Tensor4D;
  const h = tf.variable(uniform([B, 7, 7, 64], 1, 4), true, 'h');
  const r1 = uniform([B, 7, 7, 64], 1, 5);
  const r2 = uniform([B, 28, 28, 1], 1, 6);
  const eps = uniform([B, 16], 1, 7) as tf.Tensor2D;
  const convVars = [p.c1w, p.c1b, p.c2w, p.c2b, p.t1w, p.t1b, p.t2w, p.t2b, h];
  const opt = tf.train.adam(1e-3);
  const run = (f: () => void): [number, number] => {
    const ts: number[] = [];
    for (let i = 0; i < nWarmup + nSteps; i++) {
      const t0 = performance.now();
      f();
      if (i >= nWarmup) ts.push(performance.now() - t0);
    }
    return [median(ts), Math.min(...ts)];
  };
  const [convMs, convMinMs] = run(() =>
    tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => convLoss(p, x, h, r1, r2), convVars);
      value.dataSync();
      for (const g of Object.values(grads)) g.dataSync();
    }),
  );
  const [stepMs, stepMinMs] = run(() => {
    const loss = opt.minimize(() => elbo(p, x, eps), true, Object.values(p));
    loss!.dataSync();
    loss!.dispose();
  });
  opt.dispose();
  tf.dispose([...Object.values(p), x, h, r1, r2, eps]);
  return { convMs, stepMs, convMinMs, stepMinMs };
}

// ------------------------------------------------------------------ vaekit's model: graph vs fused

interface Pair {
  graphMs: number;
  fusedMs: number;
  graphCpuMs: number;
  fusedCpuMs: number;
  /** median of the per-pair ratios fused / graph (wall) */
  ratio: number;
  fused: boolean;
}

async function timeModelSteps(name: string, nSteps: number, nWarmup: number): Promise<Pair> {
  await tf.setBackend(name);
  const { createModel } = await import('../src/models/index.js');
  const { elbo, elboObjective } = await import('../src/objectives/elbo.js');
  const { Rng } = await import('../src/rng.js');
  const { Optimizer } = await import('../src/train/optimizers.js');
  const { fusedStepFor } = await import('../src/train/fused-step.js');
  const config = {
    kind: 'vae' as const,
    inputShape: [28, 28, 1],
    latentDim: 16,
    network: { type: 'conv' as const, channels: [32, 64], kernel: 4, stride: 2, dense: [256] },
    likelihood: 'bernoulli' as const,
  };
  const mg = createModel(config, new Rng(1)),
    mf = createModel(config, new Rng(1));
  const og = new Optimizer({ kind: 'adam', lr: 1e-3 }),
    of = new Optimizer({ kind: 'adam', lr: 1e-3 });
  const fused = fusedStepFor(mf, elboObjective(), of, { freeBits: 0 });
  const rg = new Rng(2),
    rf = new Rng(2);
  const D = 784;
  const xv = new Float32Array(BATCH * D).map((_, i) => (((i * 2654435761) >>> 0) % 3 === 0 ? 1 : 0));
  const x = tf.tensor2d(xv, [BATCH, D]);
  const params = mg.namedParameters();
  const vars = Object.values(params);
  const nameOf = new Map(Object.entries(params).map(([k, v]) => [v.name, k]));
  const graphStep = () => {
    const g = tf.variableGrads(() => tf.mean(elbo(mg, x, { beta: 1, rng: rg }).total) as tf.Scalar, vars);
    g.value.dataSync();
    const byName: Record<string, tf.Tensor> = {};
    for (const [vn, t] of Object.entries(g.grads)) byName[nameOf.get(vn) ?? vn] = t;
    og.step(params, byName, 1e-3);
    tf.dispose([g.value, ...Object.values(g.grads)]);
  };
  const fusedStep = () => {
    if (!fused || !fused(xv, BATCH, rf, 1, 1e-3)) throw new Error('the fused conv step did not run');
  };
  const cpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const g: number[] = [],
    f: number[] = [],
    gc: number[] = [],
    fc: number[] = [],
    r: number[] = [];
  for (let i = 0; i < nWarmup + nSteps; i++) {
    let t0 = performance.now(),
      c0 = cpu();
    graphStep();
    const tg = performance.now() - t0,
      cg = cpu() - c0;
    if (!fused) continue;
    t0 = performance.now();
    c0 = cpu();
    fusedStep();
    const tf_ = performance.now() - t0,
      cf = cpu() - c0;
    if (i < nWarmup) continue;
    g.push(tg);
    gc.push(cg);
    f.push(tf_);
    fc.push(cf);
    r.push(tf_ / tg);
  }
  x.dispose();
  mg.dispose();
  mf.dispose();
  if (!fused) return { graphMs: NaN, fusedMs: NaN, graphCpuMs: NaN, fusedCpuMs: NaN, ratio: NaN, fused: false };
  return {
    graphMs: median(g),
    fusedMs: median(f),
    graphCpuMs: median(gc),
    fusedCpuMs: median(fc),
    ratio: median(r),
    fused: true,
  };
}

// ---------------------------------------------------------------------------------------- PyTorch

const TORCH = `
import json, statistics, sys, time, torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(1)
B, steps, warmup = 128, int(sys.argv[1]), int(sys.argv[2])
torch.set_num_threads(int(sys.argv[3]))
c1, c2 = nn.Conv2d(1, 32, 4, 2, 1), nn.Conv2d(32, 64, 4, 2, 1)
t1, t2 = nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ConvTranspose2d(32, 1, 4, 2, 1)
e1, e2, d1, d2 = nn.Linear(3136, 256), nn.Linear(256, 32), nn.Linear(16, 256), nn.Linear(256, 3136)
mods = [c1, c2, t1, t2, e1, e2, d1, d2]
x = (torch.rand(B, 1, 28, 28) > 0.5).float()
h = torch.randn(B, 64, 7, 7, requires_grad=True)
r1, r2 = torch.randn(B, 64, 7, 7), torch.randn(B, 1, 28, 28)
def conv_step():
    loss = (F.relu(c2(F.relu(c1(x)))) * r1).sum() + (t2(F.relu(t1(h))) * r2).sum()
    for m in mods: m.zero_grad(set_to_none=True)
    h.grad = None
    loss.backward()
params = [q for m in mods for q in m.parameters()]
opt = torch.optim.Adam(params, lr=1e-3)
def step():
    q = e2(F.relu(e1(F.relu(c2(F.relu(c1(x)))).flatten(1))))
    mu, logvar = q[:, :16], q[:, 16:]
    z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
    l = t2(F.relu(t1(F.relu(d2(F.relu(d1(z)))).view(-1, 64, 7, 7)))).view(-1, 784)
    rec = F.binary_cross_entropy_with_logits(l, x.view(-1, 784), reduction='none').sum(1)
    kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(1)
    loss = (rec + kl).mean()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
def timed(f):
    ts = []
    for i in range(warmup + steps):
        t0 = time.perf_counter(); f(); t = time.perf_counter() - t0
        if i >= warmup: ts.append(t * 1000)
    return statistics.median(ts), min(ts)
(c, cmin), (s, smin) = timed(conv_step), timed(step)
print(json.dumps({'convMs': c, 'convMinMs': cmin, 'stepMs': s, 'stepMinMs': smin, 'torch': torch.__version__, 'threads': torch.get_num_threads()}))
`;

function timeTorch(): (Timing & { note: string }) | { error: string } {
  const py = '/usr/bin/python3';
  if (!existsSync(py)) return { error: `${py} not found` };
  const env: NodeJS.ProcessEnv = { ...process.env, OPENBLAS_NUM_THREADS: '1' };
  if (userSpin === undefined) delete env.GOMP_SPINCOUNT;
  const r = spawnSync(py, ['-c', TORCH, String(steps), String(warmup), String(threads)], {
    env,
    encoding: 'utf8',
  });
  if (r.status !== 0) return { error: (r.stderr || 'python failed').trim().split('\n').slice(-1)[0] };
  const o = JSON.parse(r.stdout.trim().split('\n').slice(-1)[0]);
  return {
    convMs: o.convMs,
    stepMs: o.stepMs,
    convMinMs: o.convMinMs,
    stepMinMs: o.stepMinMs,
    note: `PyTorch ${o.torch}, ${o.threads} threads`,
  };
}

// -------------------------------------------------------------------------------------------- main

const progress = (m: string) => process.stderr.write(`${m}\n`);
const native = await nativeBackend();
native.addon.convConfig({ mode: convMode, blas: convBlas, clearCache: true });
const rows: ({ backend: string; note: string } & Partial<Timing>)[] = [];
progress(`timing ${native.name} ...`);
const n = await timeBackend(native.name, steps, warmup);
rows.push({ backend: native.name, ...n, note: native.note });
const stats = native.addon.convStats();
let pair: Pair | undefined;
if (!noFused && native.name !== 'conv-bench') {
  progress(`timing vaekit's conv VAE: the tfjs-graph step and the fused step, alternated ...`);
  pair = await timeModelSteps(native.name, steps, warmup);
}
if (cpuSteps > 0) {
  progress(`timing tfjs-cpu at batch ${cpuBatch} ...`);
  B = cpuBatch;
  const c = await timeBackend('cpu', cpuSteps, 0);
  B = BATCH;
  const k = BATCH / cpuBatch;
  const scaled = { convMs: c.convMs * k, stepMs: c.stepMs * k, convMinMs: c.convMinMs * k, stepMinMs: c.stepMinMs * k };
  const how = cpuBatch === BATCH ? '' : `, measured at batch ${cpuBatch} and scaled x${k}`;
  rows.push({ backend: 'cpu', ...scaled, note: `tfjs-backend-cpu, ${cpuSteps} step(s), no warm-up${how}` });
}
if (!noTorch) {
  progress('timing PyTorch ...');
  const t = timeTorch();
  rows.push('error' in t ? { backend: 'pytorch', note: `not run: ${t.error}` } : { backend: 'pytorch', ...t });
}
const info = native.addon.convConfig();
if (asJson) {
  console.log(JSON.stringify({ batch: BATCH, steps, warmup, conv: info, rows, stats, modelSteps: pair }, null, 2));
} else {
  const f = (v?: number) => (v === undefined ? '—' : v.toFixed(1));
  console.log(`canonical conv VAE, batch ${BATCH}; ms/step: median (min) of ${steps} steps after ${warmup} warm-up`);
  console.log(
    `native conv: oneDNN ${info.onednnVersion} (${info.runtime}, ${info.threads} threads), mode ${info.mode}, im2col sgemm ${info.blas}`,
  );
  console.log(`${'backend'.padEnd(14)} ${'conv fwd+bwd'.padStart(20)} ${'whole step'.padStart(20)}  note`);
  const cell = (m?: number, lo?: number) => (m === undefined ? '—' : `${f(m)} (${f(lo)})`).padStart(20);
  for (const r of rows)
    console.log(`${r.backend.padEnd(14)} ${cell(r.convMs, r.convMinMs)} ${cell(r.stepMs, r.stepMinMs)}  ${r.note}`);
  const torch = rows.find((r) => r.backend === 'pytorch' && r.stepMs !== undefined);
  if (torch) {
    const q = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
    console.log(
      `ratio ${native.name}/pytorch: conv ${q(n.convMs, torch.convMs!)} (min ${q(n.convMinMs, torch.convMinMs!)}), ` +
        `step ${q(n.stepMs, torch.stepMs!)} (min ${q(n.stepMinMs, torch.stepMinMs!)})`,
    );
  }
  if (pair?.fused) {
    const tq = torch ? ` (fused / PyTorch's whole step: ${(pair.fusedMs / torch.stepMs!).toFixed(2)}x)` : '';
    console.log(
      `vaekit conv VAE, alternated step by step (${steps} pairs): tfjs graph ${pair.graphMs.toFixed(1)} ms ` +
        `(CPU ${pair.graphCpuMs.toFixed(1)}), fused ${pair.fusedMs.toFixed(1)} ms (CPU ${pair.fusedCpuMs.toFixed(1)}); ` +
        `fused / graph ${pair.ratio.toFixed(2)}x${tq}`,
    );
  } else if (pair) console.log('vaekit conv VAE: no fused conv step in this build (npm run build:native)');
  console.log('native conv paths (per shape: N IH IW IC → OH OW OC):');
  for (const s of stats) {
    const q = s.params;
    const t = [
      s.tOnednnMs !== undefined ? `oneDNN ${s.tOnednnMs.toFixed(2)} ms` : '',
      s.tGemmMs !== undefined ? `gemm ${s.tGemmMs.toFixed(2)} ms` : '',
    ]
      .filter(Boolean)
      .join(', ');
    console.log(
      `  ${s.kind.padEnd(14)} ${q[0]}x${q[1]}x${q[2]}x${q[3]} → ${q[4]}x${q[5]}x${q[6]} k${q[7]}x${q[8]}/${q[9]}: ${s.path}` +
        `${s.impl ? ` (oneDNN impl ${s.impl})` : ''}${t ? `; tuning: ${t}` : ''}`,
    );
  }
}
