// The Fréchet distance between two Gaussians (as in FID, Heusel et al. 2017) and the Float64 linear algebra it
// needs: FD = ‖μ_r − μ_g‖² + tr Σ_r + tr Σ_g − 2 tr (Σ_r^{1/2} Σ_g Σ_r^{1/2})^{1/2}, means and (n−1)-normalised
// covariances in Float64; the trace of the matrix square root from the eigendecomposition (cyclic Jacobi) of the
// symmetric PSD product Σ_r^{1/2} Σ_g Σ_r^{1/2}, whose eigenvalues are those of Σ_r Σ_g. Pure numerics (no tfjs).
// Linear algebra (Float64, row-major n×n)

/**
 * Eigendecomposition of a symmetric matrix by the cyclic Jacobi method: A = V diag(λ) Vᵀ. Only the
 * upper triangle of A is read. Returns the eigenvalues (ascending) and V (row-major, column k is
 * the eigenvector of values[k]).
 */
export function symmetricEigen(A: ArrayLike<number>, n: number): { values: Float64Array; vectors: Float64Array } {
  if (A.length !== n * n) throw new Error(`symmetricEigen: expected ${n * n} values, got ${A.length}`);
  const a = Float64Array.from(A);
  for (let i = 0; i < n * n; i++) if (!Number.isFinite(a[i])) throw new Error('symmetricEigen: matrix has NaN or Inf');
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  const d = new Float64Array(n);
  const b = new Float64Array(n);
  const z = new Float64Array(n);
  for (let i = 0; i < n; i++) b[i] = d[i] = a[i * n + i];
  let converged = false;
  for (let sweep = 1; sweep <= 100; sweep++) {
    let sm = 0;
    for (let p = 0; p < n - 1; p++) for (let q = p + 1; q < n; q++) sm += Math.abs(a[p * n + q]);
    if (sm === 0) {
      converged = true;
      break;
    }
    const tresh = sweep < 4 ? (0.2 * sm) / (n * n) : 0;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        const g = 100 * Math.abs(apq);
        if (sweep > 4 && Math.abs(d[p]) + g === Math.abs(d[p]) && Math.abs(d[q]) + g === Math.abs(d[q])) {
          a[p * n + q] = 0;
        } else if (Math.abs(apq) > tresh) {
          let h = d[q] - d[p];
          let t: number;
          if (Math.abs(h) + g === Math.abs(h)) t = apq / h;
          else {
            const theta = (0.5 * h) / apq;
            t = 1 / (Math.abs(theta) + Math.sqrt(1 + theta * theta));
            if (theta < 0) t = -t;
          }
          const c = 1 / Math.sqrt(1 + t * t);
          const s = t * c;
          const tau = s / (1 + c);
          h = t * apq;
          z[p] -= h;
          z[q] += h;
          d[p] -= h;
          d[q] += h;
          a[p * n + q] = 0;
          const rot = (m: Float64Array, i: number, j: number, k: number, l: number) => {
            const gg = m[i * n + j];
            const hh = m[k * n + l];
            m[i * n + j] = gg - s * (hh + gg * tau);
            m[k * n + l] = hh + s * (gg - hh * tau);
          };
          for (let j = 0; j < p; j++) rot(a, j, p, j, q);
          for (let j = p + 1; j < q; j++) rot(a, p, j, j, q);
          for (let j = q + 1; j < n; j++) rot(a, p, j, q, j);
          for (let j = 0; j < n; j++) rot(v, j, p, j, q);
        }
      }
    }
    for (let p = 0; p < n; p++) {
      b[p] += z[p];
      d[p] = b[p];
      z[p] = 0;
    }
  }
  if (!converged) throw new Error(`symmetricEigen: Jacobi iteration did not converge for a ${n}×${n} matrix`);
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => d[i] - d[j]);
  const values = Float64Array.from(order, (i) => d[i]);
  const vectors = new Float64Array(n * n);
  for (let r = 0; r < n; r++) for (let k = 0; k < n; k++) vectors[r * n + k] = v[r * n + order[k]];
  return { values, vectors };
}

function matmulSquare(A: Float64Array, B: Float64Array, n: number): Float64Array {
  const C = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let k = 0; k < n; k++) {
      const aik = A[i * n + k];
      if (aik === 0) continue;
      for (let j = 0; j < n; j++) C[i * n + j] += aik * B[k * n + j];
    }
  return C;
}

/** The PSD square root V diag(√max(λ, 0)) Vᵀ of a symmetric matrix. */
export function sqrtPsd(A: ArrayLike<number>, n: number): Float64Array {
  const { values, vectors: V } = symmetricEigen(A, n);
  const S = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const r = Math.sqrt(Math.max(values[k], 0));
    if (r === 0) continue;
    for (let i = 0; i < n; i++) {
      const vik = V[i * n + k] * r;
      for (let j = 0; j < n; j++) S[i * n + j] += vik * V[j * n + k];
    }
  }
  return S;
}

/** tr (A B)^{1/2} for symmetric PSD A, B: Σ √λ of A^{1/2} B A^{1/2} (negative round-off clamped to 0). */
export function traceSqrtProduct(A: ArrayLike<number>, B: ArrayLike<number>, n: number): number {
  const S = sqrtPsd(A, n);
  const M = matmulSquare(matmulSquare(S, Float64Array.from(B), n), S, n);
  for (let i = 0; i < n; i++)
    for (let j = i + 1; j < n; j++) {
      const m = 0.5 * (M[i * n + j] + M[j * n + i]);
      M[i * n + j] = M[j * n + i] = m;
    }
  const { values } = symmetricEigen(M, n);
  let t = 0;
  for (const l of values) t += Math.sqrt(Math.max(l, 0));
  return t;
}

export interface GaussianStats {
  mean: Float64Array;
  /** d × d, row-major, normalised by n − 1 (as numpy.cov). */
  cov: Float64Array;
  n: number;
  d: number;
}

/** Mean and (n−1)-normalised covariance of n rows of d features, in Float64. */
export function gaussianStats(x: ArrayLike<number>, n: number, d: number): GaussianStats {
  if (x.length !== n * d) throw new Error(`gaussianStats: ${n} × ${d} needs ${n * d} values, got ${x.length}`);
  if (n < 2) throw new Error('gaussianStats: need at least 2 rows');
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += x[i * d + j];
  for (let j = 0; j < d; j++) mean[j] /= n;
  const cov = new Float64Array(d * d);
  const r = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) r[j] = x[i * d + j] - mean[j];
    for (let j = 0; j < d; j++) {
      const rj = r[j];
      if (rj === 0) continue;
      const o = j * d;
      for (let k = j; k < d; k++) cov[o + k] += rj * r[k];
    }
  }
  for (let j = 0; j < d; j++)
    for (let k = j; k < d; k++) {
      const c = cov[j * d + k] / (n - 1);
      cov[j * d + k] = c;
      cov[k * d + j] = c;
    }
  return { mean, cov, n, d };
}

/** Fréchet distance between N(μ1, Σ1) and N(μ2, Σ2): ‖μ1 − μ2‖² + tr Σ1 + tr Σ2 − 2 tr (Σ1 Σ2)^{1/2}. */
export function frechetDistance(
  a: Pick<GaussianStats, 'mean' | 'cov'>,
  b: Pick<GaussianStats, 'mean' | 'cov'>,
): number {
  const d = a.mean.length;
  if (b.mean.length !== d || a.cov.length !== d * d || b.cov.length !== d * d)
    throw new Error('frechetDistance: dimensions differ');
  let m = 0;
  for (let i = 0; i < d; i++) m += (a.mean[i] - b.mean[i]) ** 2;
  let tr = 0;
  for (let i = 0; i < d; i++) tr += a.cov[i * d + i] + b.cov[i * d + i];
  return m + tr - 2 * traceSqrtProduct(a.cov, b.cov, d);
}
