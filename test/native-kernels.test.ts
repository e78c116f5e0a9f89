// Native core kernels (native/*.cc via src/backend/native/) against tfjs-backend-cpu: every
// overridden kernel, forward and gradient (tf.grads with a random dy), on random data and edge
// shapes (size-1 dims, scalars, empty tensors, non-contiguous broadcasts like [3,1,5]+[1,4,1],
// large 512×784 tensors that take the multi-threaded paths).
// Tolerance: |native − cpu| ≤ atol + rtol·|cpu| with rtol 1e-4, atol 1e-5 (elementwise) or
// atol 1e-4·√K (matmul, reduction length K). NaN must match NaN. Skipped if the addon is not built.
import { strict as assert } from 'node:assert';
import { it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers'; // registers tfjs-core's gradients
import { NATIVE_BACKEND, registerNativeBackend } from '../src/backend/native/index.js';
import { Rng } from '../src/rng.js';

const reg = registerNativeBackend();
const skip = reg.ok ? false : `native backend unavailable: ${reg.reason}`;

type Arr = Float32Array | Int32Array | Uint8Array;
interface In {
  shape: number[];
  data: Arr;
  dtype?: tf.DataType;
}
interface Out {
  shape: number[];
  dtype: string;
  data: Arr;
}

const rng = new Rng(12345);
const rnd = (): number => rng.uniform();
const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
function randn(shape: number[], lo = -2, hi = 2): In {
  const d = new Float32Array(size(shape));
  for (let i = 0; i < d.length; i++) d[i] = lo + (hi - lo) * rnd();
  return { shape, data: d };
}
function randPos(shape: number[], lo = 0.2, hi = 3): In {
  return randn(shape, lo, hi);
}

async function use(name: string): Promise<void> {
  const ok = await tf.setBackend(name);
  assert.ok(ok, `backend ${name} did not initialise`);
  (tf.backend() as any).firstUse = false;
}

function collect(r: tf.Tensor | tf.Tensor[] | tf.NamedTensorMap): Out[] {
  const ts = r instanceof tf.Tensor ? [r] : Array.isArray(r) ? r : Object.values(r);
  return ts.map((t) => ({ shape: t.shape.slice(), dtype: t.dtype, data: (t.dataSync() as Arr).slice() }));
}

/** Runs fn on the cpu and the native backend with the same inputs. */
async function both(
  inputs: In[],
  fn: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[] | tf.NamedTensorMap,
): Promise<[Out[], Out[]]> {
  const res: Out[][] = [];
  for (const b of ['cpu', NATIVE_BACKEND]) {
    await use(b);
    // (tidy must not return the typed arrays: tfjs walks every index of a returned container)
    const ts = tf.tidy(() => {
      const xs = inputs.map((i) =>
        tf.tensor(i.data, i.shape, i.dtype ?? (i.data instanceof Float32Array ? 'float32' : 'int32')),
      );
      const r = fn(...xs);
      return r instanceof tf.Tensor ? [r] : Array.isArray(r) ? r : Object.values(r);
    });
    res.push(collect(ts));
    tf.dispose(ts);
  }
  return [res[0], res[1]];
}

function close(what: string, cpu: Out[], nat: Out[], rtol = 1e-4, atol = 1e-5): void {
  assert.equal(nat.length, cpu.length, `${what}: number of outputs`);
  for (let k = 0; k < cpu.length; k++) {
    const c = cpu[k],
      n = nat[k];
    assert.deepEqual(n.shape, c.shape, `${what}[${k}]: shape`);
    assert.equal(n.dtype, c.dtype, `${what}[${k}]: dtype`);
    for (let i = 0; i < c.data.length; i++) {
      const a = n.data[i],
        b = c.data[i];
      if (Number.isNaN(b)) {
        assert.ok(Number.isNaN(a), `${what}[${k}] at ${i}: native ${a}, cpu NaN`);
        continue;
      }
      if (a === b) continue;
      const ok = Math.abs(a - b) <= atol + rtol * Math.abs(b);
      if (!ok) assert.fail(`${what}[${k}] at ${i}/${c.data.length}: native ${a}, cpu ${b} (shape [${c.shape}])`);
    }
  }
}

/** Forward of fn, and gradients of Σ(fn(xs)·dy) w.r.t. the inputs in `wrt`. */
const TIMES: [string, number][] = [];
process.on('exit', () => {
  if (process.env.NK_TIMES)
    console.error(
      TIMES.sort((a, b) => b[1] - a[1])
        .slice(0, 25)
        .map(([w, t]) => `${t.toFixed(0)}ms ${w}`)
        .join('\n'),
    );
});
async function check(
  what: string,
  inputs: In[],
  fn: (...xs: tf.Tensor[]) => tf.Tensor,
  opts: { grad?: boolean; rtol?: number; atol?: number; gatol?: number } = {},
): Promise<void> {
  const t0 = performance.now();
  try {
    await check1(what, inputs, fn, opts);
  } finally {
    TIMES.push([what, performance.now() - t0]);
  }
}
async function check1(
  what: string,
  inputs: In[],
  fn: (...xs: tf.Tensor[]) => tf.Tensor,
  opts: { grad?: boolean; rtol?: number; atol?: number; gatol?: number } = {},
): Promise<void> {
  const [c, n] = await both(inputs, fn);
  close(`${what} forward`, c, n, opts.rtol, opts.atol);
  if (opts.grad === false) return;
  const dy = randn(c[0].shape, -1, 1);
  const [gc, gn] = await both([dy, ...inputs], (d, ...xs) => tf.grads((...ys: tf.Tensor[]) => fn(...ys))(xs, d));
  close(`${what} grad`, gc, gn, opts.rtol, opts.gatol ?? opts.atol);
}

it('registerNativeBackend reports the addon and is idempotent', { skip }, () => {
  assert.equal(reg.ok, true);
  assert.match(reg.blas ?? '', /OpenBLAS|oneDNN/);
  assert.ok(reg.gemm && ['openblas', 'onednn'].includes(reg.gemm.engine) && reg.gemm.why.length > 0);
  assert.ok((reg.threads ?? 0) >= 1);
  assert.strictEqual(registerNativeBackend(), reg);
  for (const k of ['BatchMatMul', '_FusedMatMul', 'Add', 'Multiply', 'Sum', 'Exp', 'Relu', 'Step']) {
    assert.ok(reg.kernels?.includes(k), `${k} is native`);
  }
  // every cpu kernel exists on the native backend
  const nat = new Set(tf.getKernelsForBackend(NATIVE_BACKEND).map((k) => k.kernelName));
  for (const k of tf.getKernelsForBackend('cpu')) assert.ok(nat.has(k.kernelName), `${k.kernelName} registered`);
});

const BIN_SHAPES: [number[], number[]][] = [
  [[5], [5]],
  [[], [7]],
  [[3, 4], []],
  [[1], [1]],
  [
    [1, 1],
    [6, 1],
  ],
  [
    [3, 1, 5],
    [1, 4, 1],
  ],
  [
    [2, 3, 4, 5],
    [3, 1, 5],
  ],
  [
    [4, 1],
    [1, 6],
  ],
  [[128, 784], [784]],
  [
    [128, 784],
    [128, 1],
  ],
  [
    [1, 784],
    [128, 784],
  ],
  [
    [64, 1, 32],
    [1, 50, 32],
  ],
  [
    [512, 784],
    [512, 784],
  ],
  [[0, 3], [3]],
];

it('binary ops with broadcasting: forward and gradients', { skip }, async () => {
  const ops: [string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor, boolean][] = [
    ['add', tf.add, true],
    ['sub', tf.sub, true],
    ['mul', tf.mul, true],
    ['div', tf.div, true],
    ['maximum', tf.maximum, true],
    ['minimum', tf.minimum, true],
    ['squaredDifference', tf.squaredDifference, true],
    ['pow', tf.pow, true],
    ['atan2', tf.atan2, false],
  ];
  // tfjs' own gradients of maximum/minimum/squaredDifference do not reduce broadcast dims
  const bcastGrad = new Set(['add', 'sub', 'mul', 'div', 'pow']);
  for (const [name, f, grad] of ops) {
    for (const [sa, sb] of BIN_SHAPES) {
      const big = Math.max(size(sa), size(sb)) > 50000;
      if (size(sa) > 200000 && name !== 'add' && name !== 'mul' && name !== 'div') continue; // cpu reference time
      const same = sa.length === sb.length && sa.every((d, i) => d === sb[i]);
      const a = name === 'pow' ? randPos(sa) : randn(sa);
      const b = name === 'div' ? randPos(sb) : name === 'pow' ? randn(sb, -1.5, 1.5) : randn(sb);
      const g = grad && (same || bcastGrad.has(name)) && (!big || name === 'add' || name === 'mul');
      await check(`${name} [${sa}]∘[${sb}]`, [a, b], f, { grad: g, atol: 1e-5, gatol: 1e-4 });
    }
  }
});

it('comparison ops produce identical bools', { skip }, async () => {
  const ops: [string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor][] = [
    ['greater', tf.greater],
    ['greaterEqual', tf.greaterEqual],
    ['less', tf.less],
    ['lessEqual', tf.lessEqual],
    ['equal', tf.equal],
    ['notEqual', tf.notEqual],
  ];
  for (const [name, f] of ops) {
    for (const [sa, sb] of BIN_SHAPES.filter(([x, y]) => Math.max(size(x), size(y)) <= 50000 || x[1] === 784)) {
      if (Math.max(size(sa), size(sb)) > 50000 && name !== 'greater') continue;
      const a = randn(sa),
        b = randn(sb);
      // some exact ties
      for (let i = 0; i < a.data.length; i += 3) a.data[i] = Math.round(a.data[i]);
      for (let i = 0; i < b.data.length; i += 2) b.data[i] = Math.round(b.data[i]);
      const [c, n] = await both([a, b], f);
      assert.equal(n[0].dtype, 'bool');
      assert.deepEqual(Array.from(n[0].data), Array.from(c[0].data), `${name} [${sa}] [${sb}]`);
    }
  }
});

it('prelu and leakyRelu/elu (EluGrad) with broadcasting', { skip }, async () => {
  await check('prelu [128,40]·[40]', [randn([128, 40]), randn([40], 0, 0.5)], (x, a) => tf.prelu(x, a));
  await check('prelu [3,1,5]·[4,1]', [randn([3, 1, 5]), randn([4, 1])], (x, a) =>
    tf.prelu(tf.add(x, tf.zeros([3, 4, 5])), a),
  );
  await check('leakyRelu', [randn([64, 33])], (x) => tf.leakyRelu(x, 0.13));
  await check('elu', [randn([64, 33])], (x) => tf.elu(x));
});

const UNARY: [string, (x: tf.Tensor) => tf.Tensor, 'any' | 'pos' | 'gtm1', boolean][] = [
  ['exp', tf.exp, 'any', true],
  ['log', tf.log, 'pos', true],
  ['log1p', tf.log1p, 'gtm1', true],
  ['expm1', tf.expm1, 'any', true],
  ['sigmoid', tf.sigmoid, 'any', true],
  ['softplus', tf.softplus, 'any', true],
  ['tanh', tf.tanh, 'any', true],
  ['relu', tf.relu, 'any', true],
  ['relu6', (x) => tf.relu6(tf.mul(x, 4)), 'any', true],
  ['square', tf.square, 'any', true],
  ['sqrt', tf.sqrt, 'pos', true],
  ['rsqrt', tf.rsqrt, 'pos', true],
  ['neg', tf.neg, 'any', true],
  ['abs', tf.abs, 'any', true],
  ['reciprocal', tf.reciprocal, 'pos', true],
  ['step', (x) => tf.step(x, 0.3), 'any', false],
  ['elu', tf.elu, 'any', true],
  ['selu', tf.selu, 'any', true],
  ['sign', tf.sign, 'any', false],
  ['floor', tf.floor, 'any', false],
  ['ceil', tf.ceil, 'any', false],
  ['round', (x) => tf.round(tf.mul(x, 2)), 'any', false],
  ['clipByValue', (x) => tf.clipByValue(x, -0.5, 0.7), 'any', true],
  ['sin', tf.sin, 'any', true],
  ['cos', tf.cos, 'any', true],
  ['erf', tf.erf, 'any', true],
];

it('unary ops: forward and gradients on edge and large shapes', { skip }, async () => {
  const shapes = [[], [1], [7], [3, 5], [2, 1, 3], [0, 4], [64, 100], [512, 784]];
  for (const [name, f, dom, grad] of UNARY) {
    for (const s of shapes) {
      const big = size(s) > 50000;
      const x = dom === 'pos' ? randPos(s) : dom === 'gtm1' ? randn(s, -0.9, 4) : randn(s, -6, 6);
      if (name === 'round' || name === 'floor' || name === 'ceil') {
        for (let i = 0; i < x.data.length; i += 4) x.data[i] = Math.round(x.data[i] * 2) / 4; // .5 ties
      }
      await check(`${name} [${s}]`, [x], f, { grad: grad && !big, atol: 1e-5, gatol: 2e-5 });
    }
  }
});

it('unary ops: special values (NaN, ±Inf, ±0, extremes) match tfjs-cpu', { skip }, async () => {
  const special = new Float32Array([
    NaN,
    Infinity,
    -Infinity,
    0,
    -0,
    1e-30,
    -1e-30,
    88,
    89,
    -87,
    -104,
    1e30,
    -1e30,
    20,
    -20,
    1e-7,
    -0.9999,
  ]);
  const x: In = { shape: [special.length], data: special };
  const fs: [string, (x: tf.Tensor) => tf.Tensor][] = [
    ['exp', tf.exp],
    ['sigmoid', tf.sigmoid],
    ['softplus', tf.softplus],
    ['tanh', tf.tanh],
    ['relu', tf.relu],
    ['abs', tf.abs],
    ['neg', tf.neg],
    ['square', tf.square],
    ['step', (t) => tf.step(t)],
    ['sign', tf.sign],
    ['elu', tf.elu],
    ['expm1', tf.expm1],
    ['log1p', (t) => tf.log1p(tf.abs(t))],
    ['log', (t) => tf.log(tf.abs(t))],
  ];
  for (const [name, f] of fs) {
    const [c, n] = await both([x], f);
    close(`${name} special`, c, n, 1e-4, 1e-6);
  }
});

it('reductions over any axes (Sum, Mean, Max, Min, Prod) and their gradients', { skip }, async () => {
  const cases: [number[], number[] | null][] = [
    [[512, 784], [0]],
    [[512, 784], [1]],
    [[512, 784], null],
    [[3, 4, 5], [0]],
    [[3, 4, 5], [1]],
    [[3, 4, 5], [2]],
    [
      [3, 4, 5],
      [0, 2],
    ],
    [
      [3, 4, 5],
      [1, 2],
    ],
    [
      [3, 4, 5],
      [0, 1],
    ],
    [
      [2, 3, 4, 5],
      [1, 3],
    ],
    [
      [2, 3, 4, 5],
      [0, 2],
    ],
    [[1, 5, 1], [1]],
    [
      [1, 5, 1],
      [0, 2],
    ],
    [
      [1, 128, 400],
      [0, 1],
    ],
    [[7], [0]],
    [[], null],
    [[4, 0], [1]],
    [[6, 3], []],
  ];
  for (const [s, axes] of cases) {
    const K = axes == null ? size(s) : axes.reduce((k, a) => k * s[a], 1);
    const atol = 1e-5 * Math.max(1, Math.sqrt(K));
    const x = randn(s);
    for (const keep of size(s) > 50000 ? [false] : [false, true]) {
      await check(`sum [${s}] axes ${axes} keep ${keep}`, [x], (t) => tf.sum(t, axes ?? undefined, keep), { atol });
      await check(`mean [${s}] axes ${axes} keep ${keep}`, [x], (t) => tf.mean(t, axes ?? undefined, keep), { atol });
      if (size(s) > 0) {
        await check(`max [${s}] axes ${axes} keep ${keep}`, [x], (t) => tf.max(t, axes ?? undefined, keep), {
          atol,
          grad: size(s) <= 50000,
        });
        await check(`min [${s}] axes ${axes} keep ${keep}`, [x], (t) => tf.min(t, axes ?? undefined, keep), {
          atol,
          grad: false,
        });
      }
    }
    if (size(s) <= 2000) {
      const p = randn(s, 0.8, 1.2);
      await check(`prod [${s}] axes ${axes}`, [p], (t) => tf.prod(t, axes ?? undefined), { grad: false, rtol: 1e-4 });
    }
  }
  // NaN propagation in max
  const xn = randn([4, 6]);
  xn.data[7] = NaN;
  const [c, n] = await both([xn], (t) => tf.max(t, 1));
  close('max with NaN', c, n);
});

it('AddN, transpose and slice', { skip }, async () => {
  for (const s of [[1], [3, 5], [512, 784]]) {
    await check(`addN x3 [${s}]`, [randn(s), randn(s), randn(s)], (a, b, c) => tf.addN([a, b, c]));
    await check(`addN x2 [${s}]`, [randn(s), randn(s)], (a, b) => tf.addN([a, b]));
  }
  const perms: [number[], number[]][] = [
    [
      [3, 5],
      [1, 0],
    ],
    [
      [400, 784],
      [1, 0],
    ],
    [
      [2, 3, 4],
      [2, 0, 1],
    ],
    [
      [2, 3, 4],
      [0, 2, 1],
    ],
    [
      [2, 3, 4, 5],
      [3, 1, 2, 0],
    ],
    [
      [1, 7, 1],
      [2, 1, 0],
    ],
    [
      [4, 6],
      [0, 1],
    ],
  ];
  for (const [s, p] of perms) {
    await check(`transpose [${s}] perm ${p}`, [randn(s)], (t) => tf.transpose(t, p));
    const xi: In = { shape: s, data: Int32Array.from({ length: size(s) }, (_, i) => i * 7 - 3), dtype: 'int32' };
    const [c, n] = await both([xi], (t) => tf.transpose(t, p));
    assert.deepEqual(Array.from(n[0].data), Array.from(c[0].data), `int32 transpose [${s}] ${p}`);
  }
  const slices: [number[], number[], number[]][] = [
    [
      [128, 40],
      [0, 0],
      [128, 20],
    ],
    [
      [128, 40],
      [0, 20],
      [128, 20],
    ],
    [
      [128, 40],
      [5, 0],
      [10, 40],
    ], // contiguous
    [
      [3, 4, 5],
      [1, 1, 2],
      [2, 2, 3],
    ],
    [
      [3, 4, 5],
      [0, 1, 0],
      [3, 2, 5],
    ],
    [
      [2, 3, 4, 5],
      [1, 0, 1, 1],
      [1, 3, 2, 4],
    ],
    [[6], [2], [3]],
  ];
  for (const [s, b, z] of slices) {
    await check(`slice [${s}] begin ${b} size ${z}`, [randn(s)], (t) => tf.slice(t, b, z));
    const xi: In = { shape: s, data: Int32Array.from({ length: size(s) }, (_, i) => i), dtype: 'int32' };
    const [c, n] = await both([xi], (t) => tf.slice(t, b, z));
    assert.deepEqual(Array.from(n[0].data), Array.from(c[0].data), `int32 slice`);
  }
});

it('pad (PadV2) and the slice gradient', { skip }, async () => {
  const cases: [number[], [number, number][], number][] = [
    [
      [3, 4],
      [
        [1, 2],
        [0, 3],
      ],
      0,
    ],
    [
      [128, 20],
      [
        [0, 0],
        [20, 0],
      ],
      0,
    ],
    [
      [2, 3, 4],
      [
        [1, 0],
        [2, 1],
        [0, 2],
      ],
      -1.5,
    ],
    [[5], [[2, 3]], 7],
    [
      [0, 3],
      [
        [1, 1],
        [0, 0],
      ],
      2,
    ],
  ];
  for (const [s, p, v] of cases) await check(`pad [${s}] ${JSON.stringify(p)}`, [randn(s)], (t) => tf.pad(t, p, v));
  await check('slice grad [128,40] cols 20..40', [randn([128, 40])], (t) => tf.slice(t, [0, 20], [128, 20]));
});

it('softmax (last axis) and logSoftmax, with gradients', { skip }, async () => {
  for (const s of [[5], [3, 7], [128, 10], [2, 3, 50], [64, 1]]) {
    await check(`softmax [${s}]`, [randn(s, -8, 8)], (t) => tf.softmax(t), { atol: 1e-6, gatol: 1e-6 });
    await check(`logSoftmax [${s}]`, [randn(s, -8, 8)], (t) => tf.logSoftmax(t), { atol: 1e-5 });
  }
  const big = randn([4, 6], -1, 1);
  big.data[3] = 80;
  big.data[9] = -90;
  await check('softmax with extreme logits', [big], (t) => tf.softmax(t), { atol: 1e-6, grad: false });
});

it('split, unstack, concat, stack and tile (float32 and int32)', { skip }, async () => {
  const ints = (shape: number[]): In => ({
    shape,
    data: Int32Array.from({ length: size(shape) }, (_, i) => i * 3 - 7),
    dtype: 'int32',
  });
  const exact = async (what: string, inputs: In[], f: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[]) => {
    const [c, n] = await both(inputs, f);
    assert.equal(n.length, c.length, what);
    c.forEach((o, k) => {
      assert.deepEqual(n[k].shape, o.shape, `${what}[${k}] shape`);
      assert.equal(n[k].dtype, o.dtype, `${what}[${k}] dtype`);
      assert.deepEqual(Array.from(n[k].data), Array.from(o.data), `${what}[${k}]`);
    });
  };
  for (const mk of [randn, ints]) {
    await exact('split [128,40] in 2 along 1', [mk([128, 40])], (t) => tf.split(t, 2, 1));
    await exact('split [6,10] [3,-1] along 1', [mk([6, 10])], (t) => tf.split(t, [3, -1], 1));
    await exact('split [4,3,5] along 0', [mk([4, 3, 5])], (t) => tf.split(t, [1, 3], 0));
    await exact('split [2,6,3] along -2', [mk([2, 6, 3])], (t) => tf.split(t, 3, -2));
    await exact('unstack [3,4,5] axis 1', [mk([3, 4, 5])], (t) => tf.unstack(t, 1));
    await exact('unstack [3,4] axis 0', [mk([3, 4])], (t) => tf.unstack(t, 0));
    await exact('concat axis 1', [mk([5, 3]), mk([5, 4]), mk([5, 1])], (a, b, c) => tf.concat([a, b, c], 1));
    await exact('concat axis 0', [mk([2, 3]), mk([4, 3])], (a, b) => tf.concat([a, b], 0));
    await exact('concat axis 1 of 3d', [mk([2, 3, 4]), mk([2, 1, 4])], (a, b) => tf.concat([a, b], 1));
    await exact('concat with empty', [mk([2, 3]), mk([2, 0])], (a, b) => tf.concat([a, b], 1));
    await exact('stack axis 0', [mk([3, 4]), mk([3, 4])], (a, b) => tf.stack([a, b], 0));
    await exact('stack axis 1', [mk([3, 4]), mk([3, 4]), mk([3, 4])], (a, b, c) => tf.stack([a, b, c], 1));
    await exact('stack axis -1', [mk([3, 4]), mk([3, 4])], (a, b) => tf.stack([a, b], -1));
    await exact('tile [2,3] x [3,2]', [mk([2, 3])], (t) => tf.tile(t, [3, 2]));
    await exact('tile [2,1,3] x [1,4,2]', [mk([2, 1, 3])], (t) => tf.tile(t, [1, 4, 2]));
    await exact('tile [5] x [3]', [mk([5])], (t) => tf.tile(t, [3]));
    await exact('tile [128,20] x [4,1]', [mk([128, 20])], (t) => tf.tile(t, [4, 1]));
    await exact('tile [2,3,4,2] x [2,1,3,1]', [mk([2, 3, 4, 2])], (t) => tf.tile(t, [2, 1, 3, 1]));
  }
  // gradients go through slice/pad/concat/sum
  await check('split grad', [randn([8, 10])], (t) => {
    const [a, b] = tf.split(t, [4, 6], 1);
    return tf.add(tf.mul(a, 2), tf.sum(b, 1, true));
  });
  await check('concat grad', [randn([3, 2]), randn([3, 5])], (a, b) => tf.concat([a, b], 1));
  await check('tile grad', [randn([2, 3])], (t) => tf.tile(t, [2, 2]));
  await check('stack grad', [randn([4, 3]), randn([4, 3])], (a, b) => tf.stack([a, b], 1));
});

it('matMul: transposes, batches, broadcast batches; forward and gradients', { skip }, async () => {
  const cases: [number, number, number][] = [
    [1, 1, 1],
    [3, 5, 7],
    [17, 1, 9],
    [128, 784, 400],
    [128, 400, 20],
    [64, 20, 400],
    [96, 300, 200],
  ];
  for (const [M, K, N] of cases) {
    for (const tA of [false, true]) {
      for (const tB of [false, true]) {
        const a = randn(tA ? [K, M] : [M, K], -1, 1);
        const b = randn(tB ? [N, K] : [K, N], -1, 1);
        const atol = 1e-5 * Math.sqrt(Math.max(K, M, N)) * 4;
        const big = M * K * N > 1e6;
        if (big && (tA || tB)) continue; // keep the cpu reference time down
        await check(`matMul ${M}x${K}x${N} tA=${tA} tB=${tB}`, [a, b], (x, y) => tf.matMul(x, y, tA, tB), {
          atol,
          gatol: atol * 4,
          grad: !big,
        });
      }
    }
  }
  // batched
  await check('batch [4,3,5]x[4,5,6]', [randn([4, 3, 5]), randn([4, 5, 6])], (x, y) => tf.matMul(x, y), { atol: 1e-5 });
  await check('batch [4,5,3]ᵀx[4,6,5]ᵀ', [randn([4, 5, 3]), randn([4, 6, 5])], (x, y) => tf.matMul(x, y, true, true), {
    atol: 1e-5,
  });
  await check('batch [1,3,5]x[4,5,6]', [randn([1, 3, 5]), randn([4, 5, 6])], (x, y) => tf.matMul(x, y), {
    atol: 1e-5,
    grad: false,
  });
  await check('batch [4,3,5]x[1,5,6]', [randn([4, 3, 5]), randn([1, 5, 6])], (x, y) => tf.matMul(x, y), {
    atol: 1e-5,
    grad: false,
  });
  await check('batch [3,2,3,5]x[5,6]', [randn([3, 2, 3, 5]), randn([5, 6])], (x, y) => tf.matMul(x, y), {
    atol: 1e-5,
    grad: false,
  });
  await check('batch [8,64,64]x[8,64,64]', [randn([8, 64, 64]), randn([8, 64, 64])], (x, y) => tf.matMul(x, y), {
    atol: 1e-4,
  });
  // general broadcast [2,1,m,k]x[1,3,k,n] (tfjs-cpu mishandles it: reference by explicit tiling)
  const a = randn([2, 1, 3, 4]),
    b = randn([1, 3, 4, 5]);
  const [c] = await both([a, b], (x, y) => tf.matMul(tf.tile(x, [1, 3, 1, 1]), tf.tile(y, [2, 1, 1, 1])));
  const [, n] = await both([a, b], (x, y) => tf.matMul(x, y));
  close('broadcast [2,1,3,4]x[1,3,4,5]', c, n);
});

it('fused matMul: bias shapes and activations; gradients', { skip }, async () => {
  const acts = ['linear', 'relu', 'relu6', 'sigmoid', 'elu', 'leakyrelu'] as const;
  for (const act of acts) {
    for (const [bs, label] of [
      [[40], 'row'],
      [[1, 40], 'row2d'],
      [[33, 40], 'full'],
      [[33, 1], 'col'],
      [[], 'scalar'],
    ] as [number[], string][]) {
      await check(
        `fused ${act} bias ${label}`,
        [randn([33, 50], -1, 1), randn([50, 40], -1, 1), randn(bs)],
        (a, b, bias) => tf.fused.matMul({ a, b, bias, activation: act, leakyreluAlpha: 0.1 }),
        { atol: 1e-4, grad: act === 'linear' || act === 'relu' },
      );
    }
  }
  await check(
    'fused prelu',
    [randn([33, 50], -1, 1), randn([50, 40], -1, 1), randn([40]), randn([40], 0, 0.5)],
    (a, b, bias, w) => tf.fused.matMul({ a, b, bias, activation: 'prelu', preluActivationWeights: w }),
    { atol: 1e-4, grad: false },
  );
  await check(
    'fused transposed, no bias',
    [randn([50, 33], -1, 1), randn([40, 50], -1, 1)],
    (a, b) => tf.fused.matMul({ a, b, transposeA: true, transposeB: true, activation: 'relu' }),
    { atol: 1e-4 },
  );
  await check(
    'fused batched [3,8,5]x[3,5,6] + bias',
    [randn([3, 8, 5]), randn([3, 5, 6]), randn([6])],
    (a, b, bias) => tf.fused.matMul({ a, b, bias }),
    { atol: 1e-4 },
  );
});

it('int32 and bool inputs fall back to the cpu kernels', { skip }, async () => {
  const ai: In = { shape: [2, 3], data: Int32Array.from([1, -2, 3, 4, 5, -6]), dtype: 'int32' };
  const bi: In = { shape: [3], data: Int32Array.from([7, 8, -9]), dtype: 'int32' };
  const [c, n] = await both([ai, bi], (a, b) => [
    tf.add(a, b),
    tf.mul(a, b),
    tf.sum(a, 1),
    tf.abs(a),
    tf.maximum(a, b),
    tf.neg(a),
    tf.matMul(a, tf.reshape(b, [3, 1])),
  ]);
  for (let k = 0; k < c.length; k++) {
    assert.equal(n[k].dtype, c[k].dtype);
    assert.deepEqual(Array.from(n[k].data), Array.from(c[k].data));
  }
});

it('a small MLP training gradient matches tfjs-cpu end to end', { skip }, async () => {
  const x = randn([32, 50], 0, 1);
  const w1 = randn([50, 30], -0.3, 0.3),
    b1 = randn([30], -0.1, 0.1);
  const w2 = randn([30, 50], -0.3, 0.3),
    b2 = randn([50], -0.1, 0.1);
  const [c, n] = await both([x, w1, b1, w2, b2], (xx, ...ws) => {
    const vs = ws.map((w, i) => tf.variable(w, true, `mlp${i}_${tf.getBackend()}`));
    const { value, grads } = tf.variableGrads(() => {
      const h = tf.relu(tf.add(tf.matMul(xx, vs[0]), vs[1]));
      const l = tf.add(tf.matMul(h, vs[2]), vs[3]);
      const nll = tf.sum(tf.sub(tf.softplus(l), tf.mul(xx, l)), 1);
      return tf.mean(nll) as tf.Scalar;
    }, vs);
    const r = [value, ...vs.map((v) => grads[v.name])];
    vs.forEach((v) => v.dispose());
    return r;
  });
  close('mlp value+grads', c, n, 1e-4, 1e-5);
});
