// The GEMM engine by measurement (src/backend/native/engine-choice.ts), each case in a fresh process
// with its own cache directory: measured and cached on first use, the cached choice honoured (even
// one that is not the faster), a corrupt cache file ignored and rewritten, and VAEKIT_GEMM winning.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAddon } from '../src/backend/native/index.js';

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
