// Sample-quality math: eigendecomposition, Fréchet distance against closed forms, k-NN precision and
// recall, class statistics.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { Rng } from '../src/rng.js';
import {
  classStats,
  frechetDistance,
  gaussianStats,
  precisionRecall,
  sqrtPsd,
  symmetricEigen,
  traceSqrtProduct,
} from '../src/eval/sample-quality.js';
import { setupBackend } from './helpers.js';

before(async () => {
  await setupBackend();
});

/** A random symmetric positive-definite d×d matrix: Q diag(λ) Qᵀ with Q from Gram–Schmidt. */
function randomSpd(d: number, rng: Rng, lo = 0.1, hi = 3): { A: Float64Array; Q: Float64Array; lambda: Float64Array } {
  const Q = new Float64Array(d * d);
  for (let k = 0; k < d; k++) {
    const v = Float64Array.from({ length: d }, () => rng.normal());
    for (let j = 0; j < k; j++) {
      let dot = 0;
      for (let i = 0; i < d; i++) dot += v[i] * Q[i * d + j];
      for (let i = 0; i < d; i++) v[i] -= dot * Q[i * d + j];
    }
    const nrm = Math.hypot(...v);
    for (let i = 0; i < d; i++) Q[i * d + k] = v[i] / nrm;
  }
  const lambda = Float64Array.from({ length: d }, () => lo + (hi - lo) * rng.uniform());
  const A = new Float64Array(d * d);
  for (let i = 0; i < d; i++)
    for (let j = 0; j < d; j++) for (let k = 0; k < d; k++) A[i * d + j] += Q[i * d + k] * lambda[k] * Q[j * d + k];
  return { A, Q, lambda };
}

function diag(v: number[]): Float64Array {
  const d = v.length;
  const A = new Float64Array(d * d);
  v.forEach((x, i) => (A[i * d + i] = x));
  return A;
}

describe('symmetric eigendecomposition (Jacobi)', () => {
  it('recovers eigenvalues and reconstructs A = V Λ Vᵀ with orthonormal V', () => {
    const rng = new Rng(1);
    for (const d of [1, 2, 5, 40]) {
      const { A, lambda } = randomSpd(d, rng);
      const { values, vectors: V } = symmetricEigen(A, d);
      const want = Array.from(lambda).sort((a, b) => a - b);
      for (let i = 0; i < d; i++) assert.ok(Math.abs(values[i] - want[i]) < 1e-10, `λ${i} ${values[i]} vs ${want[i]}`);
      for (let i = 0; i < d; i++)
        for (let j = 0; j < d; j++) {
          let r = 0;
          let o = 0;
          for (let k = 0; k < d; k++) {
            r += V[i * d + k] * values[k] * V[j * d + k];
            o += V[k * d + i] * V[k * d + j];
          }
          assert.ok(Math.abs(r - A[i * d + j]) < 1e-10, `A[${i},${j}]`);
          assert.ok(Math.abs(o - (i === j ? 1 : 0)) < 1e-10, `VᵀV[${i},${j}]`);
        }
    }
  });

  it('handles singular and indefinite matrices; sqrtPsd squares back', () => {
    const { values } = symmetricEigen([2, 1, 1, 2], 2);
    assert.deepEqual(
      Array.from(values, (v) => +v.toFixed(12)),
      [1, 3],
    );
    const s = symmetricEigen([1, 1, 1, 1], 2).values; // rank 1
    assert.ok(Math.abs(s[0]) < 1e-14 && Math.abs(s[1] - 2) < 1e-14);
    const rng = new Rng(2);
    const { A } = randomSpd(6, rng);
    const S = sqrtPsd(A, 6);
    for (let i = 0; i < 6; i++)
      for (let j = 0; j < 6; j++) {
        let v = 0;
        for (let k = 0; k < 6; k++) v += S[i * 6 + k] * S[k * 6 + j];
        assert.ok(Math.abs(v - A[i * 6 + j]) < 1e-10);
      }
  });
});

describe('Fréchet distance', () => {
  it('is 0 for identical statistics and for identical feature sets', () => {
    const rng = new Rng(3);
    const { A } = randomSpd(10, rng);
    const mean = Float64Array.from({ length: 10 }, () => rng.normal());
    assert.ok(Math.abs(frechetDistance({ mean, cov: A }, { mean, cov: A })) < 1e-9);
    const x = rng.fillNormal(new Float32Array(500 * 16));
    const st = gaussianStats(x, 500, 16);
    const fd = frechetDistance(st, gaussianStats(x, 500, 16));
    assert.ok(Math.abs(fd) < 1e-9, `FD of a set with itself: ${fd}`);
  });

  it('equals the closed form for diagonal and for commuting covariances', () => {
    // Σ1 = diag(a), Σ2 = diag(b): FD = ‖μ1 − μ2‖² + Σ (√a_i − √b_i)²
    const a = [1, 4, 0.25, 9];
    const b = [4, 1, 1, 0.01];
    const m1 = Float64Array.from([0, 1, 2, 3]);
    const m2 = Float64Array.from([1, 1, 0, 3]);
    const want = 1 + 0 + 4 + 0 + a.reduce((s, ai, i) => s + (Math.sqrt(ai) - Math.sqrt(b[i])) ** 2, 0);
    const fd = frechetDistance({ mean: m1, cov: diag(a) }, { mean: m2, cov: diag(b) });
    assert.ok(Math.abs(fd - want) < 1e-10, `${fd} vs ${want}`);
    // The same, rotated: Σ1 = Q diag(a) Qᵀ, Σ2 = Q diag(b) Qᵀ (FD is rotation invariant).
    const rng = new Rng(4);
    const { Q } = randomSpd(4, rng);
    const rot = (v: number[]) => {
      const R = new Float64Array(16);
      for (let i = 0; i < 4; i++)
        for (let j = 0; j < 4; j++) for (let k = 0; k < 4; k++) R[i * 4 + j] += Q[i * 4 + k] * v[k] * Q[j * 4 + k];
      return R;
    };
    const fdr = frechetDistance({ mean: m1, cov: rot(a) }, { mean: m2, cov: rot(b) });
    assert.ok(Math.abs(fdr - want) < 1e-9, `${fdr} vs ${want}`);
  });

  it('equals the closed form for non-commuting 2×2 covariances', () => {
    // For 2×2 PSD A, B: tr (AB)^{1/2} = √(tr AB + 2 √det AB).
    const A = [2, 0.5, 0.5, 1];
    const B = [1, -0.7, -0.7, 3];
    const AB = [
      A[0] * B[0] + A[1] * B[2],
      A[0] * B[1] + A[1] * B[3],
      A[2] * B[0] + A[3] * B[2],
      A[2] * B[1] + A[3] * B[3],
    ];
    const trSqrt = Math.sqrt(AB[0] + AB[3] + 2 * Math.sqrt(AB[0] * AB[3] - AB[1] * AB[2]));
    assert.ok(Math.abs(traceSqrtProduct(A, B, 2) - trSqrt) < 1e-12);
    const fd = frechetDistance(
      { mean: Float64Array.from([1, 2]), cov: Float64Array.from(A) },
      { mean: Float64Array.from([0, 0]), cov: Float64Array.from(B) },
    );
    assert.ok(Math.abs(fd - (5 + 3 + 4 - 2 * trSqrt)) < 1e-12);
  });

  it('estimated from samples of two Gaussians, approaches the closed form', () => {
    const rng = new Rng(5);
    const d = 3;
    const n = 40000;
    const s1 = [1, 2, 0.5];
    const s2 = [0.5, 1, 1.5];
    const mu2 = [2, -1, 0];
    const x1 = new Float32Array(n * d);
    const x2 = new Float32Array(n * d);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < d; j++) {
        x1[i * d + j] = s1[j] * rng.normal();
        x2[i * d + j] = mu2[j] + s2[j] * rng.normal();
      }
    const want = 4 + 1 + s1.reduce((s, a, j) => s + (a - s2[j]) ** 2, 0);
    const fd = frechetDistance(gaussianStats(x1, n, d), gaussianStats(x2, n, d));
    assert.ok(Math.abs(fd - want) < 0.1, `FD ${fd} vs closed form ${want}`);
  });
});

describe('precision and recall (k-NN manifolds)', () => {
  const rng = new Rng(6);
  const n = 300;
  const d = 8;
  const real = rng.fillNormal(new Float32Array(n * d));

  it('identical sets: precision = recall = 1', () => {
    const pr = precisionRecall(real, n, real.slice(), n, d, 3);
    assert.equal(pr.precision, 1);
    assert.equal(pr.recall, 1);
    assert.ok(Math.abs(pr.realMeanPairwiseDistance - pr.sampleMeanPairwiseDistance) < 1e-9);
  });

  it('disjoint, far-apart sets: precision = recall = 0', () => {
    const far = real.map((v) => v + 1000);
    const pr = precisionRecall(real, n, far, n, d, 3);
    assert.equal(pr.precision, 0);
    assert.equal(pr.recall, 0);
  });

  it('a collapsed sample set (one mode) has high precision and low recall', () => {
    const m = 200;
    const fake = new Float32Array(m * d);
    for (let i = 0; i < m; i++) for (let j = 0; j < d; j++) fake[i * d + j] = real[j] + 0.01 * rng.normal(); // near real point 0
    const pr = precisionRecall(real, n, fake, m, d, 3);
    assert.ok(pr.precision > 0.9, `precision ${pr.precision}`);
    assert.ok(pr.recall < 0.05, `recall ${pr.recall}`);
    assert.ok(pr.sampleMeanPairwiseDistance < 0.1 * pr.realMeanPairwiseDistance);
  });

  it('mean pairwise distance matches a direct computation', () => {
    const m = 50;
    const x = rng.fillNormal(new Float32Array(m * 4));
    let s = 0;
    for (let i = 0; i < m; i++)
      for (let j = 0; j < m; j++) {
        if (i === j) continue;
        let q = 0;
        for (let k = 0; k < 4; k++) q += (x[i * 4 + k] - x[j * 4 + k]) ** 2;
        s += Math.sqrt(q);
      }
    const pr = precisionRecall(x, m, x, m, 4, 3);
    assert.ok(Math.abs(pr.realMeanPairwiseDistance - s / (m * (m - 1))) < 1e-4);
  });
});

describe('class statistics', () => {
  it('coverage and entropy of predicted-class histograms', () => {
    const uniform = Int32Array.from({ length: 100 }, (_, i) => i % 10);
    const u = classStats(uniform, 10);
    assert.equal(u.coverage, 1);
    assert.ok(Math.abs(u.entropy - Math.log(10)) < 1e-12);
    assert.ok(Math.abs(u.entropyNormalized - 1) < 1e-12);
    const one = classStats(new Int32Array(50).fill(3), 10);
    assert.equal(one.coverage, 0.1);
    assert.equal(one.entropy, 0);
    const two = classStats(Int32Array.from([0, 0, 1, 1]), 4);
    assert.equal(two.coverage, 0.5);
    assert.ok(Math.abs(two.entropy - Math.log(2)) < 1e-12);
    assert.deepEqual(two.histogram, [2, 2, 0, 0]);
  });
});
