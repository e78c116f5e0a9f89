// `npm run bench`: vaekit side by side with PyTorch on this machine, in the same run, per
// docs/PROTOCOL.md (see bench/README.md for what each figure means).
//
//   npm run bench                               # mlp + conv timing, k=1000 NLL, sgemm floor (3 epochs)
//   npm run bench -- --epochs 5 --only mlp,nll
//   npm run bench -- --quality                  # adds test -ELBO and NLL after 10 mlp epochs, both sides
//
// Sub-processes run one after another, never two at once (the machines have 2 cores). Nothing is
// installed: missing prerequisites are listed and the run stops. Results go to stdout (a Markdown
// table) and to bench/out/ (results.md, results.json, and a timestamped copy of each).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  bestCoretype,
  bestRow,
  coretypesFor,
  epochAtGflops,
  floorTable,
  fp32Peak,
  type FloorRow,
  type Peak,
} from './native-floor.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.join(ROOT, 'bench', 'out');
const PYTHON = '/usr/bin/python3';
const DATA_DIR = '/usr/share/datasets/fashion-mnist';
const DATA_FILES = [
  'train-images-idx3-ubyte.gz',
  'train-labels-idx1-ubyte.gz',
  't10k-images-idx3-ubyte.gz',
  't10k-labels-idx1-ubyte.gz',
];
const CBLAS_DIRS = [
  '/usr/include/x86_64-linux-gnu/openblas-pthread',
  '/usr/include/x86_64-linux-gnu/openblas-openmp',
  '/usr/include/x86_64-linux-gnu',
  '/usr/include/openblas',
  '/usr/include',
];
const LIB_DIRS = ['/usr/lib/x86_64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/local/lib'];
const NATIVE_ADDON = path.join(ROOT, 'build', 'Release', 'vaekit_native.node');
const CLI = path.join(ROOT, 'bin', 'vaekit.js');
const STEPS_PER_EPOCH = 469; // ceil(60000 / 128)

/**
 * Targets for the ratio column (vaekit / PyTorch, lower is better; quality rows: vaekit - PyTorch in
 * nats). These are the project's goals as this script states them; change them here.
 */
const TARGETS = {
  // issue 17's targets, against the fairly configured PyTorch (best OPENBLAS_CORETYPE) and the machine floor
  mlpRatio: 0.5, // mlp s/epoch at most 0.5x PyTorch's
  convRatio: 0.5, // conv s/step at most 0.5x PyTorch's
  nllRatio: 0.4, // k=1000 NLL pass at most 0.4x PyTorch's
  floorRatio: 1.3, // mlp s/epoch at most 1.3x the best machine floor
  qualityNats: 1.0, // test -ELBO and NLL within 1 nat of PyTorch's
};

type Task = 'mlp' | 'conv' | 'nll' | 'sgemm';
const ALL_TASKS: Task[] = ['mlp', 'conv', 'nll', 'sgemm'];

interface Options {
  epochs: number;
  only: Set<Task>;
  quality: boolean;
  qualityEpochs: number;
  convSteps: number;
  k: number;
  nllImages: number;
  seed: number;
  backend: string;
  reps: number;
  waitIdle: number;
  fmaUnits?: number;
  ghz?: number;
  /** Cap each mlp epoch at this many steps (both sides); s/epoch is then s/step × 469. */
  mlpSteps?: number;
  /** Timing rounds: vaekit and PyTorch alternated this many times; each side's median is reported. */
  rounds: number;
}

function usage(): string {
  return `usage: npm run bench -- [options]
  --epochs N          epochs per timing run (default 3); s/epoch is the median of epochs 2..N
  --only LIST         comma-separated subset of ${ALL_TASKS.join(',')} (default: all)
  --quality           train mlp for 10 epochs (both sides) and add test -ELBO and k-sample NLL rows
  --quality-epochs N  epochs for --quality (default 10)
  --conv-steps N      steps per conv epoch (default 50); conv is reported in s/step
  --k N               importance samples for the NLL (default 1000)
  --nll-images N      test images for the NLL (default 10000; fewer only for a quick look)
  --seed N            seed for both sides (default 1)
  --backend B         vaekit backend: auto|native|cpu|wasm (default auto)
  --reps N            repetitions of the sgemm floor step (default 500)
  --mlp-steps N       cap each mlp epoch at N steps on both sides (a short look; s/epoch = s/step x 469)
  --fma-units N       FMA units per core for the theoretical peak (default 2)
  --ghz X             clock for the theoretical peak (default: /proc/cpuinfo)
  --rounds N          alternate the vaekit and PyTorch timing runs N times (default 1) and report each side's
                      median (on a shared machine: both sides see the same load; the NLL runs in round 1)
  --wait-idle S       first wait up to S seconds for the 1-minute load to fall below half the cores`;
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    epochs: 3,
    only: new Set(ALL_TASKS),
    quality: false,
    qualityEpochs: 10,
    convSteps: 50,
    k: 1000,
    nllImages: 10000,
    seed: 1,
    backend: 'auto',
    reps: 500,
    waitIdle: 0,
    rounds: 1,
  };
  const int = (name: string, v: string | undefined, min: number): number => {
    const n = Number(v);
    if (v === undefined || !Number.isInteger(n) || n < min)
      throw new Error(`${name} needs an integer >= ${min}, got ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] =
      a.startsWith('--') && a.includes('=')
        ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]
        : [a, undefined];
    const val = (): string | undefined => inline ?? argv[++i];
    switch (flag) {
      case '--epochs':
        o.epochs = int(flag, val(), 1);
        break;
      case '--quality':
        o.quality = true;
        break;
      case '--quality-epochs':
        o.qualityEpochs = int(flag, val(), 1);
        break;
      case '--conv-steps':
        o.convSteps = int(flag, val(), 1);
        break;
      case '--k':
        o.k = int(flag, val(), 1);
        break;
      case '--nll-images':
        o.nllImages = int(flag, val(), 1);
        break;
      case '--seed':
        o.seed = int(flag, val(), 0);
        break;
      case '--reps':
        o.reps = int(flag, val(), 1);
        break;
      case '--wait-idle':
        o.waitIdle = int(flag, val(), 0);
        break;
      case '--rounds':
        o.rounds = int(flag, val(), 1);
        break;
      case '--mlp-steps':
        o.mlpSteps = int(flag, val(), 1);
        break;
      case '--fma-units':
        o.fmaUnits = int(flag, val(), 1);
        break;
      case '--ghz': {
        const v = Number(val());
        if (!(v > 0)) throw new Error('--ghz needs a positive number');
        o.ghz = v;
        break;
      }
      case '--backend': {
        const b = val();
        if (!b || !['auto', 'native', 'cpu', 'wasm', 'node'].includes(b))
          throw new Error(`--backend: auto, native, cpu, wasm or node, got ${b}`);
        o.backend = b;
        break;
      }
      case '--only': {
        const list = (val() ?? '')
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
        const bad = list.filter((t) => !ALL_TASKS.includes(t as Task));
        if (!list.length || bad.length)
          throw new Error(`--only: expected some of ${ALL_TASKS.join(',')}, got ${bad.join(',') || 'nothing'}`);
        o.only = new Set(list as Task[]);
        break;
      }
      case '-h':
      case '--help':
        console.log(usage());
        process.exit(0);
        break;
      default:
        throw new Error(`unknown option ${a}\n${usage()}`);
    }
  }
  return o;
}

// ------------------------------------------------------------------------------------ prerequisites

interface Prereqs {
  missing: string[];
  cblasDir: string | null;
}

function checkPrereqs(o: Options): Prereqs {
  const missing: string[] = [];
  if (!existsSync(PYTHON)) {
    missing.push(`python3-torch: ${PYTHON} not found (apt-get install python3-torch)`);
  } else {
    const r = spawnSync(PYTHON, ['-c', 'import torch, numpy; print(torch.__version__)'], { encoding: 'utf8' });
    if (r.status !== 0)
      missing.push(`python3-torch: \`${PYTHON} -c "import torch, numpy"\` fails (apt-get install python3-torch)`);
  }
  const cblasDir = CBLAS_DIRS.find((d) => existsSync(path.join(d, 'cblas.h'))) ?? null;
  const lib = LIB_DIRS.some((d) => existsSync(path.join(d, 'libopenblas.so')));
  if (!cblasDir || !lib)
    missing.push(
      `libopenblas-dev: ${!cblasDir ? 'cblas.h' : 'libopenblas.so'} not found (apt-get install libopenblas-dev)`,
    );
  if (o.only.has('sgemm') && spawnSync('cc', ['--version']).status !== 0)
    missing.push('a C compiler: `cc` not found (apt-get install gcc)');
  const noData = DATA_FILES.filter((f) => !existsSync(path.join(DATA_DIR, f)));
  if (noData.length)
    missing.push(
      `dataset-fashion-mnist: ${noData.map((f) => path.join(DATA_DIR, f)).join(', ')} missing (apt-get install dataset-fashion-mnist)`,
    );
  const needVaekit = o.quality || o.only.has('mlp') || o.only.has('conv') || o.only.has('nll');
  if (needVaekit && (o.backend === 'auto' || o.backend === 'native') && !existsSync(NATIVE_ADDON)) {
    missing.push(
      `the native addon ${path.relative(ROOT, NATIVE_ADDON)}: not built (npm run build:native; it needs g++, make, libopenblas-dev and libdnnl-dev)`,
    );
  }
  if (needVaekit && (!existsSync(CLI) || !existsSync(path.join(ROOT, 'src', 'cli', 'main.ts'))))
    missing.push('the vaekit CLI: bin/vaekit.js or src/cli/main.ts missing');
  return { missing, cblasDir };
}

// ------------------------------------------------------------------------------------ sub-processes

interface Proc {
  code: number | null;
  stdout: string;
  stderrTail: string;
  wall: number;
}

/** 1-minute load average when each sub-process started, for results.json. */
const loads: { label: string; load1: number }[] = [];

/** Runs one command to completion; stdout is captured, both streams are echoed to our stderr. */
function run(label: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Proc> {
  process.stderr.write(
    `\n== ${label}\n$ ${[cmd, ...args].map((a) => (/[\s"']/.test(a) ? JSON.stringify(a) : a)).join(' ')}\n`,
  );
  loads.push({ label, load1: os.loadavg()[0]! });
  const t0 = performance.now();
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      process.stderr.write(d);
    });
    p.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
      process.stderr.write(d);
    });
    const tail = (): string =>
      stderr
        .trim()
        .split('\n')
        .filter((l) => l.trim())
        .pop()
        ?.trim()
        .slice(0, 160) ?? '';
    p.on('error', (e) => {
      process.stderr.write(`${label}: ${e.message}\n`);
      resolve({ code: -1, stdout, stderrTail: e.message, wall: (performance.now() - t0) / 1000 });
    });
    p.on('close', (code) => resolve({ code, stdout, stderrTail: tail(), wall: (performance.now() - t0) / 1000 }));
  });
}

const failure = (p: Proc, what?: string): string =>
  [`exit ${p.code}`, what, p.stderrTail].filter(Boolean).join(': ').replace(/\|/g, '/');

/** The last line of stdout that parses as a JSON object. */
function lastJson(stdout: string): Record<string, unknown> | null {
  const lines = stdout.trim().split('\n').reverse();
  for (const l of lines) {
    const s = l.trim();
    if (!s.startsWith('{')) continue;
    try {
      return JSON.parse(s) as Record<string, unknown>;
    } catch {
      /* not JSON */
    }
  }
  return null;
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const num = (x: unknown): number | undefined => (typeof x === 'number' && Number.isFinite(x) ? x : undefined);

// ---------------------------------------------------------------------------------------- the sides

interface TrainResult {
  ok: boolean;
  error?: string;
  epochs: Record<string, unknown>[];
  secondsPerEpoch?: number;
  secondsPerStep?: number;
  steps?: number;
  testElbo?: number;
  nll?: number;
  nllSeconds?: number;
  nllImages?: number;
  wall: number;
  raw?: unknown;
}

function summarise(
  epochs: Record<string, unknown>[],
): Pick<TrainResult, 'secondsPerEpoch' | 'secondsPerStep' | 'steps'> {
  const timed = epochs.length > 1 ? epochs.filter((e) => (num(e.epoch) ?? 0) >= 2) : epochs;
  const secs = timed.map((e) => num(e.seconds)).filter((x): x is number => x !== undefined);
  const perStep = timed
    .map((e) => {
      const s = num(e.seconds),
        n = num(e.steps);
      return s !== undefined && n ? s / n : undefined;
    })
    .filter((x): x is number => x !== undefined);
  return {
    secondsPerEpoch: secs.length ? median(secs) : undefined,
    secondsPerStep: perStep.length ? median(perStep) : undefined,
    steps: num(timed[0]?.steps),
  };
}

/** One side's runs of the rounds as one result: the first run's figures, the medians of the timings. */
function medianOfRounds(runs: TrainResult[]): TrainResult {
  const ok = runs.filter((r) => r.ok);
  if (!ok.length) return runs[0]!;
  const med = (f: (r: TrainResult) => number | undefined) => {
    const v = ok.map(f).filter((x): x is number => x !== undefined);
    return v.length ? median(v) : undefined;
  };
  return { ...ok[0]!, secondsPerEpoch: med((r) => r.secondsPerEpoch), secondsPerStep: med((r) => r.secondsPerStep) };
}

const roundsCell = (runs: TrainResult[], perStep: boolean): string =>
  runs.map((r) => (perStep ? r.secondsPerStep : r.secondsPerEpoch)?.toFixed(perStep ? 4 : 3) ?? '—').join(', ');

/** PyTorch's run; `coretype`: the OPENBLAS_CORETYPE to set ('' = as Debian ships it, unset). */
async function torchTrain(
  o: Options,
  model: 'mlp' | 'conv',
  epochs: number,
  extra: string[],
  coretype = '',
): Promise<TrainResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, OPENBLAS_NUM_THREADS: '1' };
  delete env.OPENBLAS_CORETYPE;
  if (coretype) env.OPENBLAS_CORETYPE = coretype;
  const p = await run(
    `PyTorch ${model}${coretype ? ` (OPENBLAS_CORETYPE=${coretype})` : ' (as shipped)'}`,
    PYTHON,
    [
      path.join('bench', 'torch_vae.py'),
      '--model',
      model,
      '--epochs',
      String(epochs),
      '--seed',
      String(o.seed),
      '--json',
      ...extra,
    ],
    env,
  );
  const j = lastJson(p.stdout);
  if (p.code !== 0 || !j) return { ok: false, error: failure(p, j ? undefined : 'no JSON'), epochs: [], wall: p.wall };
  const eps = (j.epochs as Record<string, unknown>[]) ?? [];
  return {
    ok: true,
    epochs: eps,
    ...summarise(eps),
    testElbo: num(j.test_elbo),
    nll: num(j.nll),
    nllSeconds: num(j.nll_seconds),
    nllImages: num(j.nll_images),
    wall: p.wall,
    raw: j,
  };
}

/** What this checkout's `vaekit train` accepts, read from its --help (the CLI is young and may change). */
interface CliCaps {
  modelFlag: '--model' | '--preset';
  progress: string[];
  reportK: boolean;
  noEval: boolean;
  limit: boolean;
  help: string;
}
let caps: CliCaps | null = null;

function cliCaps(): CliCaps {
  if (caps) return caps;
  const r = spawnSync(process.execPath, [CLI, 'train', '--help'], { cwd: ROOT, encoding: 'utf8' });
  const help = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  caps = {
    modelFlag: /--model\b/.test(help) ? '--model' : '--preset',
    progress: /--no-progress\b/.test(help)
      ? ['--no-progress']
      : /--progress\b/.test(help)
        ? ['--progress', 'none']
        : [],
    reportK: /--report-k\b/.test(help),
    noEval: /--no-eval\b/.test(help),
    limit: /--limit\b/.test(help),
    help,
  };
  return caps;
}

function vaekitDir(name: string): string {
  return path.join(OUT, 'runs', `vaekit-${name}`);
}

/**
 * Trains with the vaekit CLI. `stepsPerEpoch` (conv) caps an epoch by training on the first
 * 128 x N examples (`--limit`), so each epoch is N full steps. `eval`: keep the per-epoch test -ELBO.
 */
async function vaekitTrain(
  o: Options,
  model: 'mlp' | 'conv',
  epochs: number,
  stepsPerEpoch: number | null,
  name: string,
  evalEpochs: boolean,
): Promise<TrainResult> {
  const c = cliCaps();
  const dir = vaekitDir(name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(path.dirname(dir), { recursive: true });
  const args = [
    CLI,
    'train',
    '--dataset',
    'fashion-mnist',
    '--protocol',
    'binary',
    c.modelFlag,
    model,
    '--epochs',
    String(epochs),
    '--batch-size',
    '128',
    '--lr',
    '1e-3',
    '--seed',
    String(o.seed),
    '--out',
    dir,
    '--backend',
    o.backend,
    ...c.progress,
  ];
  if (c.reportK) args.push('--report-k', '0'); // the NLL is timed by `vaekit eval`, not inside training
  if (!evalEpochs && c.noEval) args.push('--no-eval');
  if (stepsPerEpoch !== null) {
    if (!c.limit)
      return { ok: false, error: '`vaekit train` has no --limit to cap the steps of an epoch', epochs: [], wall: 0 };
    args.push('--limit', String(stepsPerEpoch * 128));
  }
  const p = await run(`vaekit ${model}`, process.execPath, args);
  const metricsFile = path.join(dir, 'metrics.jsonl');
  let eps: Record<string, unknown>[] = [];
  if (existsSync(metricsFile)) {
    eps = readFileSync(metricsFile, 'utf8')
      .split('\n')
      .filter((l) => l.trim())
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as Record<string, unknown>];
        } catch {
          return [];
        }
      })
      .filter((e) => num(e.epoch) !== undefined);
  }
  if (p.code !== 0 || !eps.length)
    return {
      ok: false,
      error: failure(p, eps.length ? undefined : 'no epochs in metrics.jsonl'),
      epochs: eps,
      wall: p.wall,
    };
  const withTest = eps.filter((e) => num(e.test_loss) !== undefined);
  return {
    ok: true,
    epochs: eps,
    ...summarise(eps),
    testElbo: num(withTest[withTest.length - 1]?.test_loss),
    wall: p.wall,
  };
}

interface EvalResult {
  ok: boolean;
  error?: string;
  elbo?: number;
  nll?: number;
  nllSeconds?: number;
  wall: number;
  raw?: unknown;
}

let evalHelp: string | null = null;

async function vaekitEval(o: Options, name: string): Promise<EvalResult> {
  evalHelp ??= (() => {
    const r = spawnSync(process.execPath, [CLI, 'eval', '--help'], { cwd: ROOT, encoding: 'utf8' });
    return `${r.stdout ?? ''}${r.stderr ?? ''}`;
  })();
  const args = [
    CLI,
    'eval',
    path.join(vaekitDir(name), 'model'),
    '--dataset',
    'fashion-mnist',
    '--protocol',
    'binary',
    '--k',
    String(o.k),
    '--json',
  ];
  // Only the -ELBO and the NLL are benchmarked: skip the report's other sections where the CLI allows.
  if (/--no-sample-quality\b/.test(evalHelp)) args.push('--no-sample-quality');
  if (o.nllImages < 10000) {
    // the NLL on the first N test images: --nll-n N, or else --limit 6N (which keeps ceil(6N/6) test images)
    if (/--nll-n\b/.test(evalHelp)) args.push('--nll-n', String(o.nllImages));
    else args.push('--limit', String(o.nllImages * 6));
  }
  if (o.backend !== 'auto') args.push('--backend', o.backend);
  const p = await run('vaekit eval (NLL)', process.execPath, args);
  const j = lastJson(p.stdout);
  if (p.code !== 0 || !j) return { ok: false, error: failure(p, j ? undefined : 'no JSON'), wall: p.wall };
  return { ok: true, elbo: num(j.elbo), nll: num(j.nll), nllSeconds: num(j.nll_seconds), wall: p.wall, raw: j };
}

interface Floor {
  ok: boolean;
  error?: string;
  rows: FloorRow[];
  best?: FloorRow;
  peak?: Peak;
  /** The fastest OPENBLAS_CORETYPE, for the fairly configured PyTorch run. */
  bestCoretype?: string;
}

/** The ISA extensions from /proc/cpuinfo's flags, named as `vaekit info` names them. */
function cpuIsa(): string {
  let flags: string[];
  try {
    flags = (/^flags\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '').split(/\s+/);
  } catch {
    return '';
  }
  const map: Record<string, string> = {
    avx: 'AVX',
    avx2: 'AVX2',
    fma: 'FMA',
    avx512f: 'AVX512F',
    avx512bw: 'AVX512BW',
    avx512vl: 'AVX512VL',
    avx512dq: 'AVX512DQ',
    avx512cd: 'AVX512CD',
    avx512_bf16: 'AVX512_BF16',
  };
  return flags
    .map((f) => map[f])
    .filter(Boolean)
    .join(' ');
}

/** /proc/cpuinfo's vendor_id (GenuineIntel, AuthenticAMD), '' if it cannot be read. */
function cpuVendor(): string {
  try {
    return /^vendor_id\s*:\s*(\S+)/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '';
  } catch {
    return '';
  }
}

async function sgemmFloor(o: Options, cblasDir: string | null): Promise<Floor> {
  const bin = path.join(OUT, 'sgemm_floor');
  const cc = await run('compile sgemm floor', 'cc', [
    '-O2',
    '-fopenmp',
    '-o',
    bin,
    path.join('bench', 'sgemm_floor.c'),
    ...(cblasDir ? [`-I${cblasDir}`] : []),
    '-lopenblas',
    '-ldnnl',
  ]);
  if (cc.code !== 0) return { ok: false, error: `cc ${failure(cc)}`, rows: [] };
  const isa = cpuIsa();
  const configs: { engine: string; coretype: string }[] = [
    ...coretypesFor(isa, cpuVendor()).map((coretype) => ({ engine: 'openblas', coretype })),
    { engine: 'onednn', coretype: '' },
  ];
  const rows: FloorRow[] = [];
  for (const c of configs) {
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.OPENBLAS_CORETYPE;
    if (c.coretype) env.OPENBLAS_CORETYPE = c.coretype;
    // oneDNN threads with OpenMP: idle threads sleep instead of spinning (on a shared machine a
    // spinning team waits for threads the OS has not scheduled; vaekit itself splits GEMMs on its pool)
    if (c.engine === 'onednn') env.OMP_WAIT_POLICY ??= 'passive';
    const what = c.engine === 'onednn' ? 'oneDNN' : `OpenBLAS ${c.coretype || 'as shipped'}`;
    const args = ['--threads', '2', '--reps', String(o.reps), '--steps-per-epoch', String(STEPS_PER_EPOCH)];
    const p = await run(`sgemm floor (${what}, 2 threads)`, bin, [...args, '--engine', c.engine, '--json'], env);
    const j = lastJson(p.stdout);
    if (p.code !== 0 || !j) {
      rows.push({ ...c, kernel: '?', error: failure(p) });
      continue;
    }
    rows.push({
      ...c,
      // sgemm_floor's JSON: config = the library ("oneDNN 2.6.3 dnnl_sgemm" / OpenBLAS's config), core = OpenBLAS's core
      kernel: c.engine === 'onednn' ? String(j.config ?? 'oneDNN') : String(j.core ?? '?'),
      msPerStep: num(j.ms_per_step),
      secondsPerEpoch: num(j.seconds_per_epoch),
      gflops: num(j.gflops),
      torchLayoutSecondsPerEpoch: num(j.torch_layout_seconds_per_epoch),
    });
  }
  const lanes = isa.includes('AVX512F') ? 16 : isa.includes('AVX') ? 8 : 4;
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  const peak = fp32Peak(lanes, Math.min(2, cores), o.fmaUnits, o.ghz);
  const best = bestRow(rows);
  return { ok: !!best, error: best ? undefined : 'no engine ran', rows, best, peak, bestCoretype: bestCoretype(rows) };
}

// -------------------------------------------------------------------------------------------- table

const fmt = (x: number | undefined, d = 3): string =>
  x === undefined ? '—' : x >= 100 ? x.toFixed(1) : x >= 10 ? x.toFixed(2) : x.toFixed(d);
const ratio = (a: number | undefined, b: number | undefined): number | undefined =>
  a !== undefined && b !== undefined && b > 0 ? a / b : undefined;

function ratioCell(r: number | undefined, target: number): string {
  if (r === undefined) return '—';
  return `${r.toFixed(2)}× ${r <= target ? '✓' : '✗'}`;
}

function diffCell(a: number | undefined, b: number | undefined, target: number | null): string {
  if (a === undefined || b === undefined) return '—';
  const d = a - b;
  return `${d >= 0 ? '+' : ''}${d.toFixed(2)} nats${target === null ? '' : Math.abs(d) <= target ? ' ✓' : ' ✗'}`;
}

function cell(r: { ok: boolean; error?: string } | undefined, v: number | undefined, d = 3): string {
  if (!r) return 'not run';
  if (!r.ok) return `failed (${r.error})`;
  return fmt(v, d);
}

// --------------------------------------------------------------------------------------------- main

/** ", family 6 model 167, AVX2 FMA AVX512F ..." from `vaekit info --json`, if it says. */
function cpuLine(info: Record<string, unknown> | null): string {
  const c = info?.cpu as { family?: number; model?: number; isa?: string } | undefined;
  return c ? ` (cpuid: family ${c.family}, model ${c.model}; ${c.isa})` : '';
}

async function waitIdle(maxSeconds: number): Promise<void> {
  const limit = os.cpus().length / 2;
  const t0 = Date.now();
  while (os.loadavg()[0]! >= limit && Date.now() - t0 < maxSeconds * 1000) {
    process.stderr.write(
      `bench: 1-minute load ${os.loadavg()[0]!.toFixed(2)} >= ${limit}; waiting for an idle machine (${Math.round((Date.now() - t0) / 1000)}/${maxSeconds} s)\n`,
    );
    await new Promise((r) => setTimeout(r, 15000));
  }
}

async function main(): Promise<void> {
  let o: Options;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error((e as Error).message);
    process.exit(2);
  }
  const pre = checkPrereqs(o);
  if (pre.missing.length) {
    console.error('bench: cannot run; missing:');
    for (const m of pre.missing) console.error(`  - ${m}`);
    console.error('Nothing was installed. Install the above (root: apt-get install ...) and run again.');
    process.exit(1);
  }
  mkdirSync(OUT, { recursive: true });
  if (o.waitIdle > 0) await waitIdle(o.waitIdle);
  const started = new Date();
  const load0 = os.loadavg();
  const mlpEpochs = o.quality ? o.qualityEpochs : o.epochs;
  const wantMlp = o.only.has('mlp') || o.only.has('nll') || o.quality;
  const wantNll = o.only.has('nll') || o.quality;
  const nllArgs = wantNll ? ['--eval-k', String(o.k), '--eval-limit', String(o.nllImages)] : [];

  let floor: Floor | undefined;
  let vMlp: TrainResult | undefined, tMlp: TrainResult | undefined, vEval: EvalResult | undefined;
  let vConv: TrainResult | undefined, tConv: TrainResult | undefined;
  // PyTorch with the best OPENBLAS_CORETYPE of the floor (the fairly configured peer)
  let fMlp: TrainResult | undefined, fConv: TrainResult | undefined;

  const roundLoads: number[] = [],
    roundLines: string[] = [];
  // One after another: never two processes at once.
  let backendInfo: Record<string, unknown> | null = null;
  if (wantMlp || o.only.has('conv')) {
    const p = await run('vaekit backend', process.execPath, [CLI, 'info', '--json', '--backend', o.backend]);
    backendInfo = p.code === 0 ? lastJson(p.stdout) : null;
  }
  if (o.only.has('sgemm')) floor = await sgemmFloor(o, pre.cblasDir);
  // the fairly configured PyTorch: the floor's fastest OpenBLAS core type, else the widest the ISA allows
  const fair = floor?.bestCoretype ?? (coretypesFor(cpuIsa(), cpuVendor()).pop() || undefined);
  if (wantMlp) {
    // The test -ELBO comes from `vaekit eval` when it sees all 10,000 test images, else from training.
    const cap = o.mlpSteps ?? null;
    const torchCap = cap ? ['--steps', String(cap)] : [];
    const vs: TrainResult[] = [],
      ts: TrainResult[] = [],
      fs: TrainResult[] = [];
    for (let r = 0; r < o.rounds; r++) {
      const v = await vaekitTrain(o, 'mlp', mlpEpochs, cap, 'mlp', r === 0 && (!wantNll || o.nllImages < 10000));
      vs.push(v);
      if (r === 0 && wantNll && v.ok) vEval = await vaekitEval(o, 'mlp');
      const tArgs = [...(r === 0 ? nllArgs : []), ...torchCap];
      ts.push(await torchTrain(o, 'mlp', mlpEpochs, tArgs));
      if (fair) fs.push(await torchTrain(o, 'mlp', mlpEpochs, tArgs, fair));
      roundLoads.push(os.loadavg()[0]!);
    }
    [vMlp, tMlp] = [medianOfRounds(vs), medianOfRounds(ts)];
    if (fair) fMlp = medianOfRounds(fs);
    if (o.rounds > 1)
      roundLines.push(
        `mlp s/${cap ? 'step' : 'epoch'} per round: vaekit ${roundsCell(vs, !!cap)}; PyTorch as shipped ${roundsCell(ts, !!cap)}${fair ? `; PyTorch ${fair} ${roundsCell(fs, !!cap)}` : ''}`,
      );
    // capped epochs: the full epoch's time from the time per step
    if (cap)
      for (const r of [vMlp, tMlp, fMlp])
        if (r?.secondsPerStep !== undefined) r.secondsPerEpoch = r.secondsPerStep * STEPS_PER_EPOCH;
  }
  if (o.only.has('conv')) {
    const convArgs = ['--steps', String(o.convSteps), '--no-elbo'];
    const vs: TrainResult[] = [],
      ts: TrainResult[] = [],
      fs: TrainResult[] = [];
    for (let r = 0; r < o.rounds; r++) {
      vs.push(await vaekitTrain(o, 'conv', o.epochs, o.convSteps, 'conv', false));
      ts.push(await torchTrain(o, 'conv', o.epochs, convArgs));
      if (fair) fs.push(await torchTrain(o, 'conv', o.epochs, convArgs, fair));
      roundLoads.push(os.loadavg()[0]!);
    }
    [vConv, tConv] = [medianOfRounds(vs), medianOfRounds(ts)];
    if (fair) fConv = medianOfRounds(fs);
    if (o.rounds > 1)
      roundLines.push(
        `conv s/step per round: vaekit ${roundsCell(vs, true)}; PyTorch as shipped ${roundsCell(ts, true)}${fair ? `; PyTorch ${fair} ${roundsCell(fs, true)}` : ''}`,
      );
  }
  // the peer the ratios are taken against: the fairly configured PyTorch where it ran
  const peerMlp = fMlp ?? tMlp,
    peerConv = fConv ?? tConv;
  const load1 = os.loadavg();

  // ---- the table
  const nEp = (n: number): string => (n > 2 ? `median of epochs 2–${n}` : n === 2 ? 'epoch 2' : 'epoch 1 only');
  const rows: string[][] = [];
  if (o.only.has('mlp') || o.quality) {
    rows.push([
      o.mlpSteps
        ? `mlp training, s/epoch (s/step × ${STEPS_PER_EPOCH}; ${nEp(mlpEpochs)} of ${o.mlpSteps} steps)`
        : `mlp training, s/epoch (${nEp(mlpEpochs)}, ${STEPS_PER_EPOCH} steps)`,
      cell(vMlp, vMlp?.secondsPerEpoch),
      cell(tMlp, tMlp?.secondsPerEpoch),
      cell(fMlp, fMlp?.secondsPerEpoch),
      ratioCell(ratio(vMlp?.secondsPerEpoch, peerMlp?.secondsPerEpoch), TARGETS.mlpRatio),
      `≤ ${TARGETS.mlpRatio}×`,
    ]);
  }
  if (vConv || tConv) {
    rows.push([
      `conv training, s/step (${nEp(o.epochs)}, ${o.convSteps} steps each)`,
      cell(vConv, vConv?.secondsPerStep, 4),
      cell(tConv, tConv?.secondsPerStep, 4),
      cell(fConv, fConv?.secondsPerStep, 4),
      ratioCell(ratio(vConv?.secondsPerStep, peerConv?.secondsPerStep), TARGETS.convRatio),
      `≤ ${TARGETS.convRatio}×`,
    ]);
  }
  if (wantNll) {
    const vn = vEval ?? (vMlp && !vMlp.ok ? { ok: false, error: 'no model: training failed' } : undefined);
    rows.push([
      `NLL k=${o.k}, ${o.nllImages.toLocaleString('en-US')} test images (mlp), s`,
      cell(vn, vEval?.nllSeconds, 2),
      cell(tMlp, tMlp?.nllSeconds, 2),
      cell(fMlp, fMlp?.nllSeconds, 2),
      ratioCell(ratio(vEval?.nllSeconds, peerMlp?.nllSeconds), TARGETS.nllRatio),
      `≤ ${TARGETS.nllRatio}×`,
    ]);
  }
  if (wantMlp) {
    const vElbo =
      (o.nllImages >= 10000 || /--nll-n\b/.test(evalHelp ?? '') ? vEval?.elbo : undefined) ?? vMlp?.testElbo;
    const q = o.quality ? `≤ ${TARGETS.qualityNats} nat apart` : '(informative)';
    const qt = o.quality ? TARGETS.qualityNats : null;
    rows.push([
      `mlp test −ELBO after ${mlpEpochs} epochs, nats`,
      cell(vMlp, vElbo, 2),
      cell(tMlp, tMlp?.testElbo, 2),
      cell(fMlp, fMlp?.testElbo, 2),
      diffCell(vElbo, tMlp?.testElbo, qt),
      q,
    ]);
    if (wantNll) {
      const sub = o.nllImages < 10000 ? `, first ${o.nllImages} test images` : '';
      rows.push([
        `mlp test NLL (k=${o.k}${sub}) after ${mlpEpochs} epochs, nats`,
        cell(vEval ?? vMlp, vEval?.nll, 2),
        cell(tMlp, tMlp?.nll, 2),
        cell(fMlp, fMlp?.nll, 2),
        diffCell(vEval?.nll, tMlp?.nll, qt),
        q,
      ]);
    }
  }
  const lines: string[] = [];
  lines.push(`# vaekit vs PyTorch — ${started.toISOString()}`, '');
  const torchRaw = (tMlp?.raw ?? tConv?.raw) as Record<string, unknown> | undefined;
  const vBackend = backendInfo ? `${backendInfo.backend ?? '?'}: ${backendInfo.detail ?? ''}` : undefined;
  lines.push(
    `Machine: ${os.cpus()[0]?.model ?? '?'}${cpuLine(backendInfo)}, ${os.cpus().length} cores; load average ${load0.map((x) => x.toFixed(2)).join(' ')} before, ${load1.map((x) => x.toFixed(2)).join(' ')} after.`,
  );
  if (Math.max(load0[0]!, load1[0]!) > 0.75 * os.cpus().length) {
    lines.push(
      `**Warning: the machine was busy** (1-minute load ${load0[0]!.toFixed(1)} before, ${load1[0]!.toFixed(1)} after, on ${os.cpus().length} cores): other processes shared the cores, absolute times are inflated and even the ratios are unreliable; rerun on an idle machine.`,
    );
  }
  lines.push(
    `vaekit: node ${process.version}, --backend ${o.backend}${vBackend ? ` (${vBackend})` : ''}. PyTorch ${torchRaw?.torch ?? '?'} (${PYTHON}), torch.set_num_threads(2), OPENBLAS_NUM_THREADS=1, run as shipped and with OPENBLAS_CORETYPE=${fair ?? '(no floor run)'}. Seed ${o.seed}, batch 128, binary Fashion-MNIST.`,
    '',
  );
  if (rows.length) {
    const fairHead = fair ? `PyTorch, OPENBLAS_CORETYPE=${fair}` : 'PyTorch, fairly configured (no floor run)';
    lines.push(
      `| task | vaekit | PyTorch as shipped | ${fairHead} | ratio vaekit/PyTorch${fair ? ` (${fair})` : ''} | target |`,
      '|---|---:|---:|---:|---:|---|',
    );
    for (const r of rows) lines.push(`| ${r.join(' | ')} |`);
    lines.push('');
  }
  if (floor) {
    lines.push(...floorTable(floor.rows, floor.peak, STEPS_PER_EPOCH), '');
    if (!floor.ok) lines.push(`sgemm floor: failed (${floor.error})`, '');
    const floorEpoch = floor.best?.secondsPerEpoch;
    const peakEpoch = floor.peak ? epochAtGflops(floor.peak.gflops, STEPS_PER_EPOCH) : undefined;
    if (floor.ok && (o.only.has('mlp') || o.quality)) {
      lines.push(
        `| mlp s/epoch vs the machine | s/epoch | ratio to the floor (${floor.best?.engine === 'onednn' ? 'oneDNN' : `OpenBLAS ${floor.best?.kernel}`}) | ratio to the FP32 peak | target |`,
        '|---|---:|---:|---:|---|',
      );
      const peakCell = (x: number | undefined) => {
        const r = ratio(x, peakEpoch);
        return r === undefined ? '—' : `${r.toFixed(1)}×`;
      };
      lines.push(
        `| vaekit | ${cell(vMlp, vMlp?.secondsPerEpoch)} | ${ratioCell(ratio(vMlp?.secondsPerEpoch, floorEpoch), TARGETS.floorRatio)} | ${peakCell(vMlp?.secondsPerEpoch)} | ≤ ${TARGETS.floorRatio}× the floor |`,
      );
      for (const [name, r] of [
        ['PyTorch as shipped', tMlp],
        [`PyTorch, OPENBLAS_CORETYPE=${fair}`, fMlp],
      ] as const) {
        if (!r) continue;
        const rf = ratio(r.secondsPerEpoch, floorEpoch);
        lines.push(
          `| ${name} | ${cell(r, r.secondsPerEpoch)} | ${rf === undefined ? '—' : `${rf.toFixed(2)}×`} | ${peakCell(r.secondsPerEpoch)} | |`,
        );
      }
      lines.push('');
    }
  }
  if (roundLines.length)
    lines.push(
      `${o.rounds} rounds, vaekit and PyTorch alternated; each side's median above. 1-minute load after each round: ${roundLoads.map((x) => x.toFixed(2)).join(', ')}.`,
      '',
      ...roundLines.map((l) => `- ${l}`),
      '',
    );
  lines.push(
    'Ratios < 1 mean vaekit is faster. Timings on a shared machine are noisy: the ratio from one run is the figure that counts.',
  );
  const table = lines.join('\n') + '\n';

  const raw = {
    started: started.toISOString(),
    finished: new Date().toISOString(),
    options: { ...o, only: [...o.only] },
    targets: TARGETS,
    machine: {
      cpu: os.cpus()[0]?.model,
      cores: os.cpus().length,
      memGiB: os.totalmem() / 2 ** 30,
      loadBefore: load0,
      loadAfter: load1,
      node: process.version,
      OPENBLAS_NUM_THREADS: process.env.OPENBLAS_NUM_THREADS ?? null,
    },
    vaekitBackend: backendInfo,
    loadAtStart: loads,
    roundLoads,
    git: spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout?.trim() || null,
    sgemmFloor: floor,
    vaekit: { mlp: vMlp, eval: vEval, conv: vConv },
    pytorch: { mlp: tMlp, conv: tConv },
    pytorchFair: { coretype: fair ?? null, mlp: fMlp, conv: fConv },
  };
  const stamp = started.toISOString().replace(/[:.]/g, '-');
  writeFileSync(path.join(OUT, 'results.md'), table);
  writeFileSync(path.join(OUT, `results-${stamp}.md`), table);
  writeFileSync(path.join(OUT, 'results.json'), JSON.stringify(raw, null, 2) + '\n');
  writeFileSync(path.join(OUT, `results-${stamp}.json`), JSON.stringify(raw, null, 2) + '\n');
  process.stderr.write('\n');
  process.stdout.write(table);
  process.stderr.write(
    `\n(written to ${path.relative(ROOT, path.join(OUT, 'results.md'))} and results.json, and timestamped copies)\n`,
  );
  const failed = [floor, vMlp, tMlp, fMlp, vEval, vConv, tConv, fConv].some((r) => r && !r.ok);
  process.exit(failed ? 1 : 0);
}

await main();
