// The GEMM engine by measurement. At the first native use on a machine, both engines (OpenBLAS with
// the core type chosen for the ISA, oneDNN's dnnl_sgemm) are timed on the mlp step's 11 GEMMs
// (addon.measureGemm: 9 rounds, the engines alternated so that both see the same load, ~0.1–0.2 s) and
// the faster is kept. The decision is cached per CPU in $VAEKIT_CACHE_DIR, else $XDG_CACHE_HOME/vaekit,
// else ~/.cache/vaekit (gemm-engine.json, written atomically), so that later runs on the same machine
// use the same engine and kernel: same seed, same machine, same run. The key is the CPU's signature
// (vendor, brand, family/model, ISA), the threads, each engine's kernel and the addon: another CPU
// (a VM moved to other hardware) is measured afresh, its old entry kept for when it comes back.
//
// A measurement taken under load is not trusted for good. A set of rounds is quiet when the machine's
// 1-minute load is below its core count and every engine's median round is within QUIET of its
// fastest (the spread alone does not tell: at load 17 on 2 cores a set of 9 rounds came out even, every
// round ~1.4x the idle time); until one is, up to ATTEMPTS sets are timed, the fastest round of each
// engine over all of them deciding. A choice that never saw a quiet set is cached as
// provisional: it holds (the same engine for every run) until a process starts on a machine whose
// 1-minute load is below its core count, which measures again; a quiet result then replaces it for
// good. So the engine can change once on a machine, from a choice made under load to one made quiet.
// VAEKIT_GEMM_REMEASURE=1 measures again now whatever the cache says (`vaekit info` shows the result).
//
// The environment still wins: VAEKIT_GEMM=openblas|onednn picks the engine (nothing is measured), a
// user's OPENBLAS_CORETYPE picks OpenBLAS's kernel (and is part of the cache key). A cache file that
// cannot be read or parsed is ignored: the engines are measured again and the file rewritten.
import { readFileSync } from 'node:fs';
import os, { homedir } from 'node:os';
import path from 'node:path';
import { ensureDirSync, writeFileAtomicSync } from '../../util/atomic.js';
import type { EngineChoice, NativeAddon } from './addon.js';

const CACHE_VERSION = 1;
const ROUNDS = 9;
/** A set of rounds is quiet when each engine's median is at most this times its fastest. */
export const QUIET = 1.1;
/** Sets of ROUNDS timed at most, until one is quiet. */
export const ATTEMPTS = 4;

interface CacheEntry {
  engine: 'openblas' | 'onednn';
  onednnMs: number;
  openblasMs: number | null;
  measuredAt: string;
  /** A quiet set decided (absent in entries written before this was recorded: not trusted for good). */
  quiet?: boolean;
  /** The 1-minute load when measured. */
  load?: number;
}

/** The directory of vaekit's per-machine cache files. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.VAEKIT_CACHE_DIR) return path.resolve(env.VAEKIT_CACHE_DIR);
  const xdg = env.XDG_CACHE_HOME;
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(env.HOME || homedir(), '.cache');
  return path.join(base, 'vaekit');
}

export function engineCacheFile(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(cacheDir(env), 'gemm-engine.json');
}

/** What the decision depends on: the CPU, the threads, the kernels each engine runs, the addon. */
function cacheKey(addon: NativeAddon): string {
  const i = addon.info();
  const c = i.cpu;
  return [
    `${c.vendor} ${c.brand} family ${c.family} model ${c.model}`,
    c.isa,
    `threads ${i.threads} mode ${i.gemmMode}`,
    `openblas ${i.gemm.openblasKernel ?? '-'} (${i.gemm.coretype || 'unset'})`,
    `onednn ${i.gemm.onednnIsa}`,
    `core ${addon.coreVersion}`,
  ].join(' | ');
}

function validEntry(e: unknown): e is CacheEntry {
  if (!e || typeof e !== 'object') return false;
  const r = e as Record<string, unknown>;
  return (
    (r.engine === 'openblas' || r.engine === 'onednn') &&
    typeof r.onednnMs === 'number' &&
    Number.isFinite(r.onednnMs) &&
    (r.openblasMs === null || (typeof r.openblasMs === 'number' && Number.isFinite(r.openblasMs))) &&
    typeof r.measuredAt === 'string' &&
    (r.quiet === undefined || typeof r.quiet === 'boolean')
  );
}

/** The cache's entries; {} when the file is missing, unreadable or not a cache of this version. */
function readCache(file: string): Record<string, unknown> {
  try {
    const j = JSON.parse(readFileSync(file, 'utf8')) as { version?: unknown; entries?: unknown };
    if (j && j.version === CACHE_VERSION && j.entries && typeof j.entries === 'object' && !Array.isArray(j.entries))
      return j.entries as Record<string, unknown>;
  } catch {
    // missing or corrupt: measured again
  }
  return {};
}

const ms = (v: number | null | undefined): string => (v == null ? '-' : `${v.toFixed(2)} ms`);

function why(e: CacheEntry, source: 'measured' | 'cache', file: string): string {
  const when = source === 'measured' ? 'measured now' : `measured ${e.measuredAt}, cached in ${file}`;
  const load = e.load === undefined ? '' : `, load ${e.load.toFixed(1)}`;
  const quiet = e.quiet ? '' : ', provisional: measured under load, measured again when the machine is quiet';
  return (
    `the faster on this CPU: mlp-step GEMMs OpenBLAS ${ms(e.openblasMs)} vs oneDNN ${ms(e.onednnMs)} (${when}${load}${quiet}); ` +
    'VAEKIT_GEMM=openblas|onednn to force one'
  );
}

const median = (v: number[]): number => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Whether every engine's rounds of one set are quiet (median within QUIET of the fastest). */
export function quietRounds(...sets: (number[] | null | undefined)[]): boolean {
  return sets.every((r) => r == null || (r.length > 0 && median(r) <= QUIET * Math.min(...r)));
}

/**
 * Up to ATTEMPTS sets of ROUNDS, until one is quiet; the fastest round of each engine over all sets. An
 * addon that returns no rounds (an older build) gives one set, never quiet.
 */
function measure(addon: NativeAddon, machine: MachineLoad): CacheEntry {
  const load = machine.load1;
  let onednn = Infinity,
    openblas: number | null = null,
    quiet = false;
  for (let a = 0; a < ATTEMPTS && !quiet; a++) {
    const t = addon.measureGemm(ROUNDS);
    onednn = Math.min(onednn, t.onednn);
    if (t.openblas !== null) openblas = Math.min(openblas ?? Infinity, t.openblas);
    if (!t.onednnRounds) break;
    quiet = load < machine.cores && quietRounds(t.onednnRounds, t.openblasRounds);
  }
  return {
    engine: openblas !== null && openblas < onednn ? 'openblas' : 'onednn',
    onednnMs: onednn,
    openblasMs: openblas,
    measuredAt: new Date().toISOString(),
    quiet,
    load: Math.round(load * 100) / 100,
  };
}

/** For the tests: the 1-minute load and the core count (default: the OS's). */
export interface MachineLoad {
  load1: number;
  cores: number;
}

function machineLoad(): MachineLoad {
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return { load1: os.loadavg()[0] ?? 0, cores };
}

/**
 * Chooses the GEMM engine as described above and sets it on the addon. Never throws: a cache that
 * cannot be written only means the next process measures again.
 */
export function chooseGemmEngine(
  addon: NativeAddon,
  env: NodeJS.ProcessEnv = process.env,
  machine: MachineLoad = machineLoad(),
): EngineChoice {
  const gemm = addon.info().gemm;
  if (env.VAEKIT_GEMM === 'openblas' || env.VAEKIT_GEMM === 'onednn') return { source: 'env' };
  // one engine only, or an addon built before measureGemm existed (stale build): the load-time choice
  if (!gemm.openblas || typeof addon.measureGemm !== 'function') return { source: 'only-engine' };
  const file = engineCacheFile(env);
  const key = cacheKey(addon);
  const entries = readCache(file);
  const cached = entries[key];
  const quietNow = machine.load1 < machine.cores;
  const remeasure = env.VAEKIT_GEMM_REMEASURE === '1' || (validEntry(cached) && !cached.quiet && quietNow);
  if (validEntry(cached) && !remeasure) {
    addon.setGemmEngine(cached.engine, why(cached, 'cache', file));
    return { source: 'cache', ...cached, cacheFile: file };
  }
  const fresh = measure(addon, machine);
  // a provisional choice is replaced only by a quiet one (another noisy set would only flip it)
  const keep = validEntry(cached) && !cached.quiet && !fresh.quiet && env.VAEKIT_GEMM_REMEASURE !== '1';
  const entry: CacheEntry = keep ? cached : fresh;
  addon.setGemmEngine(entry.engine, why(entry, keep ? 'cache' : 'measured', file));
  if (!keep) {
    try {
      ensureDirSync(path.dirname(file));
      const kept = Object.fromEntries(Object.entries(entries).filter(([, e]) => validEntry(e)));
      writeFileAtomicSync(
        file,
        JSON.stringify({ version: CACHE_VERSION, entries: { ...kept, [key]: entry } }, null, 1),
      );
    } catch {
      // read-only home, full disk: the choice still holds for this process
    }
  }
  return { source: keep ? 'cache' : 'measured', ...entry, cacheFile: file };
}
