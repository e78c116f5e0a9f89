// Interpolation paths between two latent points (src/models/latent-path.ts): linear and spherical weights.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pathWeights } from '../src/models/latent-path.js';

const point = (wa: number, wb: number, a: number[], b: number[]) => a.map((v, i) => wa * v + wb * b[i]);
const norm = (v: number[]) => Math.hypot(...v);

describe('pathWeights', () => {
  it('linear: ends at a and b, evenly spaced', () => {
    const { wa, wb } = pathWeights([1, 2], [3, -1], 5, 'linear');
    assert.deepEqual(wa, [1, 0.75, 0.5, 0.25, 0]);
    assert.deepEqual(wb, [0, 0.25, 0.5, 0.75, 1]);
  });

  it('slerp between orthogonal points of equal norm stays on the circle, at equal angles', () => {
    const a = [2, 0, 0];
    const b = [0, 2, 0];
    const { wa, wb } = pathWeights(a, b, 7, 'slerp');
    const pts = wa.map((w, s) => point(w, wb[s], a, b));
    for (const p of pts) assert.ok(Math.abs(norm(p) - 2) < 1e-12, `norm ${norm(p)}`);
    pts.forEach((p, s) =>
      assert.ok(Math.abs(Math.atan2(p[1], p[0]) - (s / 6) * (Math.PI / 2)) < 1e-12, `angle at step ${s}`),
    );
    assert.deepEqual(pts[0], a);
    assert.ok(norm(point(wa[6], wb[6], a, b).map((v, i) => v - b[i])) < 1e-12);
    // the linear midpoint is shorter: |(a + b)/2| = √2 < 2
    const lin = pathWeights(a, b, 7, 'linear');
    assert.ok(norm(point(lin.wa[3], lin.wb[3], a, b)) < 1.5);
  });

  it('slerp between parallel points falls back to the line', () => {
    assert.deepEqual(pathWeights([1, 1], [2, 2], 3, 'slerp'), pathWeights([1, 1], [2, 2], 3, 'linear'));
  });

  it('refuses fewer than 2 steps, an unknown method and points of different sizes', () => {
    assert.throws(() => pathWeights([1], [2], 1), /steps ≥ 2, got 1/);
    assert.throws(() => pathWeights([1], [2], 3, 'cubic' as 'linear'), /linear or slerp, got cubic/);
    assert.throws(() => pathWeights([1, 2], [2], 3), /differ in size \(2 vs 1\)/);
  });
});
