// The GEMM engine by measurement. At the first native use on a machine, both engines (OpenBLAS with
// the core type chosen for the ISA, oneDNN's dnnl_sgemm) are timed on the mlp step's 11 GEMMs
// (addon.measureGemm: ~0.1–0.2 s once per machine, the engines alternated so that both see the same load) and the faster
// is kept. The decision is cached per CPU in $VAEKIT_CACHE_DIR, else $XDG_CACHE_HOME/vaekit, else
// ~/.cache/vaekit (gemm-engine.json, written atomically), so that later runs on the same machine use
// the same engine and kernel: same seed, same machine, same run. The environment still wins:
// VAEKIT_GEMM=openblas|onednn picks the engine (nothing is measured), a user's OPENBLAS_CORETYPE picks
// OpenBLAS's kernel (and is part of the cache key). A cache file that cannot be read or parsed is
// ignored: the engines are measured again and the file rewritten.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { ensureDirSync, writeFileAtomicSync } from '../../util/atomic.js';
import type { EngineChoice, NativeAddon } from './addon.js';

const CACHE_VERSION = 1;
const ROUNDS = 9;

interface CacheEntry {
  engine: 'openblas' | 'onednn';
  onednnMs: number;
  openblasMs: number | null;
  measuredAt: string;
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
    typeof r.measuredAt === 'string'
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
  return (
    `the faster on this CPU: mlp-step GEMMs OpenBLAS ${ms(e.openblasMs)} vs oneDNN ${ms(e.onednnMs)} (${when}); ` +
    'VAEKIT_GEMM=openblas|onednn to force one'
  );
}

/**
 * Chooses the GEMM engine as described above and sets it on the addon. Never throws: a cache that
 * cannot be written only means the next process measures again.
 */
export function chooseGemmEngine(addon: NativeAddon, env: NodeJS.ProcessEnv = process.env): EngineChoice {
  const gemm = addon.info().gemm;
  if (env.VAEKIT_GEMM === 'openblas' || env.VAEKIT_GEMM === 'onednn') return { source: 'env' };
  // one engine only, or an addon built before measureGemm existed (stale build): the load-time choice
  if (!gemm.openblas || typeof addon.measureGemm !== 'function') return { source: 'only-engine' };
  const file = engineCacheFile(env);
  const key = cacheKey(addon);
  const entries = readCache(file);
  const cached = entries[key];
  if (validEntry(cached)) {
    addon.setGemmEngine(cached.engine, why(cached, 'cache', file));
    return { source: 'cache', ...cached, cacheFile: file };
  }
  const t = addon.measureGemm(ROUNDS);
  const engine = t.openblas !== null && t.openblas < t.onednn ? 'openblas' : 'onednn';
  const entry: CacheEntry = {
    engine,
    onednnMs: t.onednn,
    openblasMs: t.openblas,
    measuredAt: new Date().toISOString(),
  };
  addon.setGemmEngine(engine, why(entry, 'measured', file));
  try {
    ensureDirSync(path.dirname(file));
    const kept = Object.fromEntries(Object.entries(entries).filter(([, e]) => validEntry(e)));
    writeFileAtomicSync(file, JSON.stringify({ version: CACHE_VERSION, entries: { ...kept, [key]: entry } }, null, 1));
  } catch {
    // read-only home, full disk: the choice still holds for this process
  }
  return { source: 'measured', ...entry, cacheFile: file };
}
