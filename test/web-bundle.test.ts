// The explorer page's script (web/explorer.ts on the browser entry) bundles for a browser with nothing of
// Node in it, and the explore task's pieces (PCA map and its inverse, KL per unit, unit order) are right.
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { build } from 'esbuild';
import { klPerUnit, pcaInverse, pcaMap, unitsByUse } from '../src/tasks/explore.js';
import { WEB_DIR } from '../src/serve/page.js';

describe('explorer bundle', () => {
  it('bundles web/explorer.ts for platform browser without node: modules or the native backend', async () => {
    const r = await build({
      entryPoints: [path.join(WEB_DIR, 'explorer.ts')],
      bundle: true,
      write: false,
      platform: 'browser',
      format: 'esm',
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(r.metafile.inputs);
    const nodeish = inputs.filter((f) => /^node:|backend\/(native|index)|src\/io\/|src\/cli\/|src\/serve\//.test(f));
    assert.deepEqual(nodeish, []);
    assert.ok(inputs.some((f) => f.includes('umap-js')));
    assert.ok(inputs.some((f) => f.includes('src/browser.ts')));
  });
});

describe('explore task', () => {
  it('pcaMap finds the principal axes and inverts the projection on their plane', () => {
    // points along (1, 1, 0) with a smaller spread along (1, −1, 0), none along z
    const n = 50;
    const x = new Float32Array(n * 3);
    for (let i = 0; i < n; i++) {
      const a = (Math.floor(i / 2) - 12) / 3; // each a twice, once with each b: cov(a, b) = 0
      const b = i % 2 ? 0.3 : -0.3;
      x.set([a + b + 1, a - b - 2, 3], i * 3);
    }
    const m = pcaMap(x, n, 3);
    const [a1, a2] = m.axes;
    assert.ok(Math.abs(Math.abs(a1[0]) - Math.SQRT1_2) < 1e-6 && Math.abs(a1[0] - a1[1]) < 1e-6, `${a1}`);
    assert.ok(Math.abs(Math.abs(a2[0]) - Math.SQRT1_2) < 1e-6 && Math.abs(a2[0] + a2[1]) < 1e-6, `${a2}`);
    for (const i of [0, 17, 49]) {
      const back = pcaInverse(m, m.points[2 * i], m.points[2 * i + 1]);
      for (let j = 0; j < 3; j++) assert.ok(Math.abs(back[j] - x[i * 3 + j]) < 1e-4, `point ${i}`);
    }
  });

  it('klPerUnit is ½(μ² + σ² − log σ² − 1) averaged, and unitsByUse orders by it', () => {
    const mu = Float32Array.of(1, 0, 0, 2, 0, 3);
    const lv = Float32Array.of(0, Math.log(4), 0, 0, 0, 0);
    const kl = klPerUnit(mu, lv, 2, 3);
    assert.ok(Math.abs(kl[0] - (0.5 + 2) / 2) < 1e-9);
    assert.ok(Math.abs(kl[1] - (0.5 * (4 - Math.log(4) - 1)) / 2) < 1e-6);
    assert.ok(Math.abs(kl[2] - 4.5 / 2) < 1e-9);
    assert.deepEqual(unitsByUse(kl), [2, 0, 1]);
  });
});
