// Times one training step (batch 128) of the canonical mlp VAE (784 → 400 ReLU → μ, log σ² (one
// 400 → 40 layer, sliced); 20 → 400 ReLU → 784 logits; Bernoulli BCE-with-logits summed over pixels
// + analytic KL, mean over the batch; Adam 1e-3) written with plain tf ops and variables, loss via
// src/backend/fused.ts, gradients with tf.variableGrads, Adam via adamStepInPlace. On tfjs-cpu and on
// 'vaekit-native'; optionally PyTorch (/usr/bin/python3) on the same machine for reference.
//
//   node --import tsx bench/native-step.ts                    # native + 3 steps of tfjs-cpu + PyTorch
//   node --import tsx bench/native-step.ts --profile          # + per-kernel profile of the native step
//   node --import tsx bench/native-step.ts --steps 200 --cpu-steps 0 --no-torch
//
// Prints ms/step (median of the timed steps). --profile also prints the time per tfjs kernel, the
// JS/engine time outside kernels, and the pure sgemm time of the step (the step's GEMM calls replayed
// back to back through the addon: the floor the step can approach).
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers'; // registers tfjs-core's gradients
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { NATIVE_BACKEND, nativeAddon, poolStats, registerNativeBackend } from '../src/backend/native/index.js';
import { adamStepInPlace, bernoulliNllWithLogits, gaussianKlStdNormal } from '../src/backend/fused.js';
import { Rng } from '../src/rng.js';

const D = 784,
  H = 400,
  Z = 20;

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}
const steps = Number(arg('steps', '100'));
const warmup = Number(arg('warmup', '20'));
const cpuSteps = Number(arg('cpu-steps', '3'));
const profile = process.argv.includes('--profile');
const noTorch = process.argv.includes('--no-torch');
const asJson = process.argv.includes('--json');
const B = Number(arg('batch', '128'));

let rng = new Rng(42); // reset per model: every backend starts from the same weights
const rnd = (): number => rng.uniform();
function uniform(n: number, a: number): Float32Array {
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = (2 * rnd() - 1) * a;
  return v;
}
const median = (xs: number[]): number => {
  const s = xs.slice().sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
};

interface Model {
  vars: tf.Variable[];
  m: Float32Array[];
  s: Float32Array[];
  t: number;
  x: tf.Tensor2D;
}

function buildModel(): Model {
  rng = new Rng(42);
  const layer = (i: number, o: number, name: string): tf.Variable[] => {
    const a = 1 / Math.sqrt(i);
    return [
      tf.variable(tf.tensor2d(uniform(i * o, a), [i, o]), true, `${name}.w`),
      tf.variable(tf.tensor1d(uniform(o, a)), true, `${name}.b`),
    ];
  };
  const vars = [...layer(D, H, 'enc1'), ...layer(H, 2 * Z, 'enc2'), ...layer(Z, H, 'dec1'), ...layer(H, D, 'dec2')];
  const xv = new Float32Array(B * D);
  for (let i = 0; i < xv.length; i++) xv[i] = rnd() < 0.3 ? 1 : 0;
  return {
    vars,
    m: vars.map((v) => new Float32Array(v.size)),
    s: vars.map((v) => new Float32Array(v.size)),
    t: 0,
    x: tf.tensor2d(xv, [B, D]),
  };
}

function step(md: Model): number {
  const [w1, b1, w2, b2, w3, b3, w4, b4] = md.vars;
  const eps = tf.randomNormal([B, Z], 0, 1, 'float32', 7 + md.t);
  const { value, grads } = tf.variableGrads(() => {
    const h = tf.relu(tf.add(tf.matMul(md.x, w1), b1));
    const enc = tf.add(tf.matMul(h, w2), b2);
    const mu = tf.slice(enc, [0, 0], [B, Z]) as tf.Tensor2D;
    const lv = tf.slice(enc, [0, Z], [B, Z]) as tf.Tensor2D;
    const z = tf.add(mu, tf.mul(tf.exp(tf.mul(lv, 0.5)), eps));
    const h2 = tf.relu(tf.add(tf.matMul(z, w3), b3));
    const logits = tf.add(tf.matMul(h2, w4), b4) as tf.Tensor2D;
    return tf.mean(tf.add(bernoulliNllWithLogits(logits, md.x), gaussianKlStdNormal(mu, lv))) as tf.Scalar;
  }, md.vars);
  md.t += 1;
  const c0 = clock(),
    t0 = performance.now();
  md.vars.forEach((v, i) =>
    adamStepInPlace(v, grads[v.name], md.m[i], md.s[i], { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, t: md.t }),
  );
  optStat.ms += performance.now() - t0;
  optStat.cpu += clock() - c0;
  const loss = value.dataSync()[0];
  tf.dispose([value, eps, ...Object.values(grads)]);
  return loss;
}

/** Wall ms per step, and CPU ms per step (user + system, all threads: on a loaded machine with
 * VAEKIT_THREADS=1 this is the work itself, free of waiting for a core). */
function timeSteps(md: Model, n: number, w: number): { ms: number[]; cpuMs: number; loss: number } {
  let loss = NaN;
  for (let i = 0; i < w; i++) loss = step(md);
  const ms: number[] = [];
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    loss = step(md);
    ms.push(performance.now() - t0);
  }
  const c = process.cpuUsage(c0);
  return { ms, cpuMs: (c.user + c.system) / 1000 / n, loss };
}

// ---------------------------------------------------------------------------------------- profiling

interface KStat {
  ms: number;
  cpu: number;
  n: number;
}
let clock: () => number = () => 0; // main-thread CPU ms (addon.threadCpuMs)
const optStat = { ms: 0, cpu: 0 }; // time in the optimizer steps
function instrumentKernels(backend: string): { stats: Map<string, KStat>; restore: () => void } {
  const stats = new Map<string, KStat>();
  const orig = tf.getKernelsForBackend(backend);
  for (const k of orig) {
    const f = k.kernelFunc;
    tf.unregisterKernel(k.kernelName, backend);
    tf.registerKernel({
      ...k,
      kernelFunc: (args) => {
        const c0 = clock();
        const t0 = performance.now();
        const r = f(args);
        const dt = performance.now() - t0;
        const s = stats.get(k.kernelName) ?? { ms: 0, cpu: 0, n: 0 };
        s.ms += dt;
        s.cpu += clock() - c0;
        s.n += 1;
        stats.set(k.kernelName, s);
        return r;
      },
    });
  }
  return {
    stats,
    restore: () => {
      for (const k of orig) {
        tf.unregisterKernel(k.kernelName, backend);
        tf.registerKernel(k);
      }
    },
  };
}

function recordGemms(addon: any): { calls: any[][]; restore: () => void } {
  const calls: any[][] = [];
  const orig = addon.gemm;
  addon.gemm = (...a: any[]) => {
    calls.push(a);
    return orig.apply(addon, a);
  };
  return { calls, restore: () => (addon.gemm = orig) };
}

/** Replays the GEMMs of one step (same shapes, fresh buffers, no bias/activation) back to back:
 * median wall ms and CPU ms per replay. */
function sgemmFloor(addon: any, calls: any[][], reps: number): { ms: number; cpuMs: number } {
  const prepared = calls.map((c) => {
    const [a, b, o, M, N, K, tA, tB, batch, aOffs, bOffs, aS, bS] = c;
    return [
      new Float32Array(a.length).fill(0.01),
      new Float32Array(b.length).fill(0.02),
      new Float32Array(o.length),
      M,
      N,
      K,
      tA,
      tB,
      batch,
      aOffs,
      bOffs,
      aS,
      bS,
      null,
      0,
      0,
    ];
  });
  const run = () => {
    for (const p of prepared) addon.gemm(...p);
  };
  for (let i = 0; i < 10; i++) run();
  const ms: number[] = [];
  const c0 = process.cpuUsage();
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    run();
    ms.push(performance.now() - t0);
  }
  const c = process.cpuUsage(c0);
  return { ms: median(ms), cpuMs: (c.user + c.system) / 1000 / reps };
}

// ------------------------------------------------------------------------------------------ PyTorch

const TORCH_SCRIPT = String.raw`
import sys, time, json, torch, torch.nn as nn, torch.nn.functional as F
torch.set_num_threads(2); torch.manual_seed(0)
B, D, H, Z = 128, 784, 400, 20
class VAE(nn.Module):
    def __init__(s):
        super().__init__(); s.e1 = nn.Linear(D, H); s.e2 = nn.Linear(H, 2 * Z); s.d1 = nn.Linear(Z, H); s.d2 = nn.Linear(H, D)
    def forward(s, x):
        h = F.relu(s.e1(x)); mu, lv = s.e2(h).chunk(2, dim=1)
        z = mu + torch.exp(0.5 * lv) * torch.randn_like(mu)
        logits = s.d2(F.relu(s.d1(z)))
        rec = F.binary_cross_entropy_with_logits(logits, x, reduction='none').sum(1)
        kl = 0.5 * (mu.pow(2) + lv.exp() - lv - 1).sum(1)
        return (rec + kl).mean()
m = VAE(); opt = torch.optim.Adam(m.parameters(), lr=1e-3)
x = (torch.rand(B, D) < 0.3).float()
def step():
    opt.zero_grad(); loss = m(x); loss.backward(); opt.step(); return loss.item()
n, w = int(sys.argv[1]), int(sys.argv[2])
for _ in range(w): step()
ts = []
for _ in range(n):
    t0 = time.perf_counter(); step(); ts.append((time.perf_counter() - t0) * 1e3)
ts.sort(); print(json.dumps({"median": ts[len(ts) // 2], "torch": torch.__version__}))
`;

function torchStep(n: number, w: number): { median: number; torch: string } | { error: string } {
  if (!existsSync('/usr/bin/python3')) return { error: '/usr/bin/python3 not found' };
  const r = spawnSync('/usr/bin/python3', ['-c', TORCH_SCRIPT, String(n), String(w)], {
    env: { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '2' },
    encoding: 'utf8',
    timeout: 600_000,
  });
  if (r.status !== 0) return { error: (r.stderr || r.error?.message || 'failed').trim().split('\n').pop()! };
  try {
    return JSON.parse(r.stdout.trim().split('\n').pop()!);
  } catch {
    return { error: `unexpected output: ${r.stdout}` };
  }
}

// --------------------------------------------------------------------------------------------- main

const out: Record<string, unknown> = { loadavg: os.loadavg(), batch: B };
const lines: string[] = [];
const reg = registerNativeBackend();
if (!reg.ok) lines.push(`native backend unavailable: ${reg.reason}`);

if (cpuSteps > 0) {
  await tf.setBackend('cpu');
  (tf.backend() as any).firstUse = false;
  const md = buildModel();
  const r = timeSteps(md, cpuSteps, 1);
  out.cpu = { median: median(r.ms), steps: r.ms.length, loss: r.loss };
  lines.push(
    `tfjs-cpu       ${median(r.ms).toFixed(1).padStart(9)} ms/step  (median of ${r.ms.length}, loss ${r.loss.toFixed(2)})`,
  );
  tf.dispose([md.x, ...md.vars]);
}

if (reg.ok) {
  await tf.setBackend(NATIVE_BACKEND);
  const md = buildModel();
  const r = timeSteps(md, steps, warmup);
  out.native = {
    median: median(r.ms),
    min: Math.min(...r.ms),
    cpuMs: r.cpuMs,
    steps: r.ms.length,
    loss: r.loss,
    blas: reg.blas,
    threads: reg.threads,
  };
  lines.push(
    `vaekit-native  ${median(r.ms).toFixed(2).padStart(9)} ms/step  (median of ${r.ms.length}, min ${Math.min(...r.ms).toFixed(2)}, CPU ${r.cpuMs.toFixed(2)} ms/step, loss ${r.loss.toFixed(2)}; ${reg.threads} threads, ${reg.blas})`,
  );
  if (profile) {
    const addon = nativeAddon()!;
    const rec = recordGemms(addon);
    step(md);
    rec.restore();
    const gemmCalls = rec.calls.slice();
    clock = addon.threadCpuMs ?? clock;
    const inst = instrumentKernels(NATIVE_BACKEND);
    const n = Math.max(20, Math.min(steps, 100));
    optStat.ms = optStat.cpu = 0;
    const c0 = clock();
    const t0 = performance.now();
    for (let i = 0; i < n; i++) step(md);
    const total = (performance.now() - t0) / n;
    const totalCpu = (clock() - c0) / n;
    inst.restore();
    const floor = sgemmFloor(addon, gemmCalls, 100);
    const rows = [...inst.stats.entries()].sort((a, b) => b[1].cpu - a[1].cpu);
    let kernelMs = 0,
      kernelCpu = 0;
    lines.push('', `profile of the native step (${n} steps; per step: wall ms, main-thread CPU ms, calls):`);
    const row = (name: string, ms: number, cpu: number, calls = '') =>
      lines.push(
        `  ${name.padEnd(24)} ${ms.toFixed(3).padStart(8)} ${cpu.toFixed(3).padStart(8)} ${calls.padStart(4)}`,
      );
    for (const [name, s] of rows) {
      kernelMs += s.ms / n;
      kernelCpu += s.cpu / n;
      row(name, s.ms / n, s.cpu / n, (s.n / n).toFixed(0));
    }
    row('kernels total', kernelMs, kernelCpu);
    row('Adam (adamStepInPlace)', optStat.ms / n, optStat.cpu / n);
    row('rest (JS, engine, GC)', total - kernelMs - optStat.ms / n, totalCpu - kernelCpu - optStat.cpu / n);
    row('step (instrumented)', total, totalCpu);
    lines.push(
      `  pure sgemm of the step: ${floor.ms.toFixed(3)} ms wall, ${floor.cpuMs.toFixed(3)} ms CPU (${gemmCalls.length} GEMMs replayed back to back)`,
      `  step / sgemm: ${(median(r.ms) / floor.ms).toFixed(2)} (wall), ${(r.cpuMs / floor.cpuMs).toFixed(2)} (CPU)`,
      `  output pool: ${poolStats.hits} reused, ${poolStats.misses} allocated, ${poolStats.recycled} returned`,
    );
    out.profile = {
      kernels: Object.fromEntries(rows.map(([k, s]) => [k, { ms: s.ms / n, calls: s.n / n }])),
      kernelMs,
      total,
      sgemmMs: floor.ms,
      sgemmCpuMs: floor.cpuMs,
      gemms: gemmCalls.length,
    };
  }
  tf.dispose([md.x, ...md.vars]);
}

if (!noTorch) {
  const t = torchStep(Math.max(10, Math.min(steps, 50)), 5);
  out.torch = t;
  if ('error' in t) lines.push(`PyTorch: not measured (${t.error})`);
  else
    lines.push(
      `PyTorch ${t.torch.padEnd(6)} ${t.median.toFixed(2).padStart(9)} ms/step  (median; torch.set_num_threads(2), OPENBLAS_NUM_THREADS=1)`,
    );
}
lines.push(
  `load average: ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
console.log(asJson ? JSON.stringify(out) : lines.join('\n'));
