// Models saved by vaekit before the architecture change (test/fixtures/models-v1, written by `vaekit train`
// at commit cdfde04 on tiny networks) must still load and score the same: `vaekit eval` on the same slice with
// the same seed gives the figures recorded then (test/fixtures/models-v1/KIND.expected.json).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const fixtures = path.join(root, 'test', 'fixtures', 'models-v1');
const kinds = readdirSync(fixtures)
  .filter((f) => f.endsWith('.expected.json'))
  .map((f) => f.replace('.expected.json', ''));

function flatten(o: Record<string, unknown>, prefix = '', out: Record<string, unknown> = {}): Record<string, unknown> {
  for (const [k, v] of Object.entries(o)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (/seconds|model|report_file|backend/.test(k)) continue;
    if (typeof v === 'number' || (Array.isArray(v) && v.every((x) => typeof x === 'number'))) out[key] = v;
    else if (v && typeof v === 'object' && !Array.isArray(v)) flatten(v as Record<string, unknown>, key, out);
  }
  return out;
}

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-4 * (1 + Math.abs(b));

describe('models saved before the architecture change', () => {
  it('covers every model kind', () => {
    for (const k of ['vae', 'vae-gauss', 'conv', 'cvae', 'hvae', 'seqvae', 'vqvae'])
      assert.ok(kinds.includes(k), `fixture ${k} is missing`);
  });
  for (const kind of kinds) {
    it(`${kind}: loads and evaluates to the recorded figures`, () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'vaekit-fixture-'));
      try {
        const r = spawnSync(
          process.execPath,
          [
            path.join(root, 'bin', 'vaekit.js'),
            'eval',
            path.join(fixtures, kind),
            '--k',
            '20',
            '--n',
            '30',
            '--no-sample-quality',
            '--json',
            '--seed',
            '0',
            '--out',
            path.join(dir, 'e.json'),
          ],
          { encoding: 'utf8' },
        );
        assert.equal(r.status, 0, r.stderr);
        const got = flatten(JSON.parse(r.stdout));
        const want = JSON.parse(readFileSync(path.join(fixtures, `${kind}.expected.json`), 'utf8')) as Record<
          string,
          number | number[]
        >;
        for (const [key, w] of Object.entries(want)) {
          const g = got[key];
          assert.ok(g !== undefined, `${kind}: ${key} is missing from the eval report`);
          if (Array.isArray(w)) {
            assert.ok(
              Array.isArray(g) && g.length === w.length,
              `${kind}: ${key} has ${JSON.stringify(g)}, expected ${JSON.stringify(w)}`,
            );
            w.forEach((v, i) =>
              assert.ok(close((g as number[])[i], v), `${kind}: ${key}[${i}] = ${(g as number[])[i]}, recorded ${v}`),
            );
          } else assert.ok(close(g as number, w), `${kind}: ${key} = ${g}, recorded ${w}`);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
