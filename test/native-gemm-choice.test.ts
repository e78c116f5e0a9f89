// The GEMM engine by measurement (src/backend/native/engine-choice.ts), each case in a fresh process
// with its own cache directory: measured and cached on first use, the cached choice honoured (even
// one that is not the faster), a corrupt cache file ignored and rewritten, and VAEKIT_GEMM winning.
// Then the rules for a measurement taken under load, on a scripted addon (its timings and the load
// given): repeated until a set is quiet, a noisy one cached as provisional, measured again when the
// machine is quiet, replaced only by a quiet one; another CPU's signature is measured afresh.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAddon } from '../src/backend/native/index.js';
import type { NativeAddon } from '../src/backend/native/addon.js';
import { ATTEMPTS, chooseGemmEngine, quietRounds } from '../src/backend/native/engine-choice.js';

const { addon, reason } = loadAddon();
const skip = addon ? (addon.info().gemm.openblas ? false : 'OpenBLAS not loadable here') : `no native addon: ${reason}`;
const INDEX = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src/backend/native/index.ts');

interface Gemm {
  engine: string;
  kernel: string;
  why: string;
  choice: { source: string; onednnMs?: number; openblasMs?: number | null; cacheFile?: string };
}

/** registerNativeBackend().gemm in a fresh process with `env`. */
function gemmWith(env: Record<string, string | undefined>): Gemm {
  const code = `const m = await import(${JSON.stringify(INDEX)}); console.log(JSON.stringify(m.registerNativeBackend().gemm));`;
  const childEnv: Record<string, string | undefined> = { ...process.env, ...env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete childEnv[k];
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    env: childEnv as NodeJS.ProcessEnv,
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Gemm;
}

interface CacheFile {
  version: number;
  entries: Record<string, { engine: string; onednnMs: number; openblasMs: number | null; measuredAt: string }>;
}

describe('GEMM engine by measurement', { skip }, () => {
  it('measures once, caches per CPU, honours the cache, re-measures a corrupt one; VAEKIT_GEMM wins', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vaekit-gemm-'));
    const file = path.join(dir, 'gemm-engine.json');
    const env = { VAEKIT_CACHE_DIR: dir, VAEKIT_GEMM: undefined, OPENBLAS_CORETYPE: undefined };
    try {
      const first = gemmWith(env);
      assert.equal(first.choice.source, 'measured');
      // (a provisional entry, measured under load, would be measured again if the load fell: made final
      // here so that the next run reads it whatever the load)
      {
        const c = JSON.parse(readFileSync(file, 'utf8')) as CacheFile;
        for (const e of Object.values(c.entries)) (e as { quiet?: boolean }).quiet = true;
        writeFileSync(file, JSON.stringify(c));
      }
      assert.ok(first.choice.onednnMs! > 0 && first.choice.openblasMs! > 0);
      const faster = first.choice.openblasMs! < first.choice.onednnMs! ? 'openblas' : 'onednn';
      assert.equal(first.engine, faster);
      assert.match(first.why, /OpenBLAS [\d.]+ ms vs oneDNN [\d.]+ ms/);
      const cache = JSON.parse(readFileSync(file, 'utf8')) as CacheFile;
      assert.equal(cache.version, 1);
      const keys = Object.keys(cache.entries);
      assert.equal(keys.length, 1);
      assert.equal(cache.entries[keys[0]].engine, faster);

      // the same machine again: the cached decision, not a new measurement
      const second = gemmWith(env);
      assert.equal(second.choice.source, 'cache');
      assert.equal(second.engine, faster);
      assert.equal(second.choice.onednnMs, first.choice.onednnMs);

      // a cached choice is honoured as it is, whatever a new timing would say
      const other = faster === 'openblas' ? 'onednn' : 'openblas';
      cache.entries[keys[0]].engine = other;
      writeFileSync(file, JSON.stringify(cache));
      const forced = gemmWith(env);
      assert.equal(forced.choice.source, 'cache');
      assert.equal(forced.engine, other);
      assert.match(forced.why, /cached in/);

      // VAEKIT_GEMM wins over the cache, and nothing is measured
      for (const e of ['openblas', 'onednn']) {
        const g = gemmWith({ ...env, VAEKIT_GEMM: e });
        assert.equal(g.engine, e);
        assert.equal(g.choice.source, 'env');
      }

      // a corrupt cache file is ignored: measured again and rewritten
      for (const junk of [
        '{"version": 1, "entries": {',
        '[1,2,3]',
        JSON.stringify({ version: 1, entries: { x: 1 } }),
      ]) {
        writeFileSync(file, junk);
        const g = gemmWith(env);
        assert.equal(g.choice.source, 'measured', junk);
        const again = JSON.parse(readFileSync(file, 'utf8')) as CacheFile;
        assert.ok(Object.values(again.entries).some((e) => e.engine === g.engine));
      }
      // an entry of another shape (a bad engine name) is not trusted either
      const bad = JSON.parse(readFileSync(file, 'utf8')) as CacheFile;
      for (const k of Object.keys(bad.entries)) bad.entries[k].engine = 'mkl';
      writeFileSync(file, JSON.stringify(bad));
      assert.equal(gemmWith(env).choice.source, 'measured');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an unwritable cache directory only means measuring every time', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vaekit-gemm-'));
    const blocker = path.join(dir, 'file');
    writeFileSync(blocker, 'not a directory');
    try {
      const env = { VAEKIT_CACHE_DIR: path.join(blocker, 'sub'), VAEKIT_GEMM: undefined };
      assert.equal(gemmWith(env).choice.source, 'measured');
      assert.equal(gemmWith(env).choice.source, 'measured');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** An addon whose measureGemm returns the scripted sets of rounds, one set per call. */
function scripted(sets: { onednn: number[]; openblas: number[] }[], brand = 'Test CPU') {
  const calls = { measure: 0, engine: '', why: '' };
  const addon = {
    coreVersion: 1,
    info: () => ({
      cpu: { vendor: 'GenuineTest', brand, family: 1, model: 2, isa: 'AVX2 FMA' },
      threads: 2,
      gemmMode: 0,
      gemm: { openblas: true, openblasKernel: 'Haswell', coretype: 'Haswell', onednnIsa: 'avx2' },
    }),
    measureGemm: () => {
      const s = sets[Math.min(calls.measure++, sets.length - 1)];
      return {
        onednn: Math.min(...s.onednn),
        openblas: Math.min(...s.openblas),
        onednnRounds: s.onednn,
        openblasRounds: s.openblas,
      };
    },
    setGemmEngine: (e: string, why: string) => {
      calls.engine = e;
      calls.why = why;
      return e;
    },
  };
  return { addon: addon as unknown as NativeAddon, calls };
}

const quietSet = (onednn: number, openblas: number) => ({
  onednn: Array.from({ length: 9 }, (_, i) => onednn * (1 + 0.005 * i)),
  openblas: Array.from({ length: 9 }, (_, i) => openblas * (1 + 0.005 * i)),
});
// a loaded machine: most rounds 2-3x the fastest
const noisySet = (onednn: number, openblas: number) => ({
  onednn: [onednn, ...Array.from({ length: 8 }, (_, i) => onednn * (2 + 0.1 * i))],
  openblas: [openblas, ...Array.from({ length: 8 }, (_, i) => openblas * (2 + 0.1 * i))],
});

describe('GEMM engine measured under load', () => {
  const LOADED = { load1: 12, cores: 2 },
    QUIET = { load1: 0.4, cores: 2 };
  const withDir = (f: (env: NodeJS.ProcessEnv, file: string) => void) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vaekit-gemm-load-'));
    try {
      f({ VAEKIT_CACHE_DIR: dir }, path.join(dir, 'gemm-engine.json'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  it('a quiet set: measured once, cached for good (no new measurement, whatever the load)', () => {
    assert.ok(quietRounds(quietSet(2, 3).onednn) && !quietRounds(noisySet(2, 3).onednn));
    withDir((env) => {
      // even rounds on a loaded machine are not quiet (each round slowed alike)
      const l = scripted([quietSet(4, 3)]);
      assert.equal(chooseGemmEngine(l.addon, env, LOADED).quiet, false);
      assert.equal(l.calls.measure, ATTEMPTS);
      const a = scripted([quietSet(4, 3)]);
      const c = chooseGemmEngine(a.addon, env, QUIET);
      assert.equal(c.source, 'measured');
      assert.equal(a.calls.measure, 1);
      assert.equal(c.quiet, true);
      assert.equal(a.calls.engine, 'openblas');
      const b = scripted([quietSet(3, 4)]);
      assert.equal(chooseGemmEngine(b.addon, env, QUIET).source, 'cache');
      assert.equal(b.calls.measure, 0);
      assert.equal(b.calls.engine, 'openblas');
    });
  });

  it('noisy sets: repeated, the fastest round over all of them, cached as provisional', () => {
    withDir((env, file) => {
      // oneDNN's luckiest round is in the second set, OpenBLAS's in the third
      const a = scripted([noisySet(5, 6), noisySet(4.5, 6), noisySet(5, 4.2), noisySet(5, 6)]);
      const c = chooseGemmEngine(a.addon, env, LOADED);
      assert.equal(a.calls.measure, ATTEMPTS);
      assert.equal(c.quiet, false);
      assert.equal(c.onednnMs, 4.5);
      assert.equal(c.openblasMs, 4.2);
      assert.equal(a.calls.engine, 'openblas');
      const entry = Object.values(JSON.parse(readFileSync(file, 'utf8')).entries)[0] as {
        quiet: boolean;
        load: number;
      };
      assert.equal(entry.quiet, false);
      assert.equal(entry.load, 12);

      // still loaded: the provisional choice holds, nothing is measured (same engine, same run)
      const b = scripted([quietSet(2, 9)]);
      const cb = chooseGemmEngine(b.addon, env, LOADED);
      assert.equal(cb.source, 'cache');
      assert.equal(b.calls.measure, 0);
      assert.equal(b.calls.engine, 'openblas');
      assert.match(b.calls.why, /provisional: measured under load/);

      // quiet, but the new set is noisy again: the provisional choice is kept, not flipped
      const n = scripted([noisySet(2, 9)]);
      assert.equal(chooseGemmEngine(n.addon, env, QUIET).source, 'cache');
      assert.equal(n.calls.measure, ATTEMPTS);
      assert.equal(n.calls.engine, 'openblas');

      // quiet and a quiet set: measured again, replaces it for good
      const q = scripted([quietSet(2, 9)]);
      const cq = chooseGemmEngine(q.addon, env, QUIET);
      assert.equal(cq.source, 'measured');
      assert.equal(cq.quiet, true);
      assert.equal(q.calls.engine, 'onednn');
      assert.doesNotMatch(q.calls.why, /provisional/);
      const after = scripted([quietSet(9, 2)]);
      assert.equal(chooseGemmEngine(after.addon, env, QUIET).source, 'cache');
      assert.equal(after.calls.engine, 'onednn');
      assert.equal(after.calls.measure, 0);
    });
  });

  it('an entry without the quiet mark (an older cache) is provisional; VAEKIT_GEMM_REMEASURE=1 measures now', () => {
    withDir((env, file) => {
      const a = scripted([quietSet(3, 4)]);
      chooseGemmEngine(a.addon, env, LOADED);
      const c = JSON.parse(readFileSync(file, 'utf8')) as CacheFile;
      for (const e of Object.values(c.entries)) delete (e as { quiet?: boolean }).quiet;
      writeFileSync(file, JSON.stringify(c));
      const loaded = scripted([quietSet(4, 3)]);
      assert.equal(chooseGemmEngine(loaded.addon, env, LOADED).source, 'cache');
      const quiet = scripted([quietSet(4, 3)]);
      assert.equal(chooseGemmEngine(quiet.addon, env, QUIET).source, 'measured');
      assert.equal(quiet.calls.engine, 'openblas');
      // a quiet entry, measured again on request
      const forced = scripted([noisySet(2, 9)]);
      const cf = chooseGemmEngine(forced.addon, { ...env, VAEKIT_GEMM_REMEASURE: '1' }, LOADED);
      assert.equal(cf.source, 'measured');
      assert.equal(forced.calls.engine, 'onednn');
    });
  });

  it("another CPU's signature is measured afresh; the first CPU's entry is kept", () => {
    withDir((env, file) => {
      chooseGemmEngine(scripted([quietSet(3, 4)], 'CPU one').addon, env, LOADED);
      const other = scripted([quietSet(4, 3)], 'CPU two');
      assert.equal(chooseGemmEngine(other.addon, env, LOADED).source, 'measured');
      assert.equal(other.calls.engine, 'openblas');
      const keys = Object.keys((JSON.parse(readFileSync(file, 'utf8')) as CacheFile).entries);
      assert.equal(keys.length, 2);
      assert.ok(keys.some((k) => k.includes('CPU one')) && keys.some((k) => k.includes('CPU two')));
      const back = scripted([quietSet(4, 3)], 'CPU one');
      assert.equal(chooseGemmEngine(back.addon, env, LOADED).source, 'cache');
      assert.equal(back.calls.engine, 'onednn');
    });
  });
});
