// Unconstrained minimisation of smooth convex objectives, given f and its gradient in one call
// fg(x, g) → f(x) (writing ∇f(x) into g):
//   newton  damped Newton's method, x ← x − t H⁻¹∇f with a backtracking (Armijo) line search on t and the
//           Hessian solved by Cholesky (a tiny ridge keeps flat directions solvable); for few parameters.
//   lbfgs   limited-memory BFGS (two-loop recursion over the last m pairs s = Δx, y = Δ∇f, initial scale
//           sᵀy / yᵀy), the same line search, restarting from steepest descent when the direction fails.
// Both stop at max|∇f| ≤ gtol, at a relative decrease of f below a tolerance, or when no step decreases f.

/** Damped Newton's method with a backtracking line search, for smooth convex objectives of few parameters. */
export function newton(
  fg: (x: Float64Array, g: Float64Array) => number,
  hess: (x: Float64Array, H: Float64Array) => void,
  x0: Float64Array,
  opts: { maxIter?: number; gtol?: number } = {},
): Float64Array {
  const P = x0.length;
  const maxIter = opts.maxIter ?? 100;
  const gtol = opts.gtol ?? 1e-10;
  let x = Float64Array.from(x0);
  const g = new Float64Array(P);
  const gn = new Float64Array(P);
  const H = new Float64Array(P * P);
  const xn = new Float64Array(P);
  let f = fg(x, g);
  for (let it = 0; it < maxIter; it++) {
    let gmax = 0;
    for (let i = 0; i < P; i++) gmax = Math.max(gmax, Math.abs(g[i]));
    if (gmax <= gtol) break;
    hess(x, H);
    // A tiny ridge keeps the softmax's shift-invariant (intercept) direction solvable.
    let tr = 0;
    for (let i = 0; i < P; i++) tr += H[i * P + i];
    const ridge = 1e-10 * (tr / P) + 1e-14;
    for (let i = 0; i < P; i++) H[i * P + i] += ridge;
    const dir = choleskySolve(H, g, P);
    if (!dir) break;
    let slope = 0;
    for (let i = 0; i < P; i++) {
      dir[i] = -dir[i];
      slope += g[i] * dir[i];
    }
    if (!(slope < 0)) break;
    let t = 1;
    let fn = Infinity;
    for (let ls = 0; ls < 50; ls++) {
      for (let i = 0; i < P; i++) xn[i] = x[i] + t * dir[i];
      fn = fg(xn, gn);
      if (fn <= f + 1e-4 * t * slope) break;
      t *= 0.5;
    }
    if (!(fn <= f)) break;
    x = Float64Array.from(xn);
    g.set(gn);
    const df = f - fn;
    f = fn;
    if (df <= 1e-15 * Math.max(1, Math.abs(f))) break;
  }
  return x;
}

/** Solves A x = b for a symmetric positive definite A (row-major P × P); null if not positive definite. */
function choleskySolve(A: Float64Array, b: Float64Array, P: number): Float64Array | null {
  const L = new Float64Array(P * P);
  for (let i = 0; i < P; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i * P + j];
      for (let k = 0; k < j; k++) s -= L[i * P + k] * L[j * P + k];
      if (i === j) {
        if (!(s > 0)) return null;
        L[i * P + i] = Math.sqrt(s);
      } else L[i * P + j] = s / L[j * P + j];
    }
  }
  const y = new Float64Array(P);
  for (let i = 0; i < P; i++) {
    let s = b[i];
    for (let k = 0; k < i; k++) s -= L[i * P + k] * y[k];
    y[i] = s / L[i * P + i];
  }
  for (let i = P - 1; i >= 0; i--) {
    let s = y[i];
    for (let k = i + 1; k < P; k++) s -= L[k * P + i] * y[k];
    y[i] = s / L[i * P + i];
  }
  return y;
}

/** Limited-memory BFGS with a backtracking (Armijo) line search, for smooth convex objectives. */
export function lbfgs(
  fg: (x: Float64Array, g: Float64Array) => number,
  x0: Float64Array,
  opts: { maxIter?: number; m?: number; gtol?: number; ftol?: number } = {},
): Float64Array {
  const maxIter = opts.maxIter ?? 1000;
  const M = opts.m ?? 10;
  const gtol = opts.gtol ?? 1e-8;
  const ftol = opts.ftol ?? 1e-13;
  const P = x0.length;
  let x = Float64Array.from(x0);
  let g = new Float64Array(P);
  let f = fg(x, g);
  const S: Float64Array[] = [];
  const Y: Float64Array[] = [];
  const rho: number[] = [];
  const dir = new Float64Array(P);
  const xn = new Float64Array(P);
  const gn = new Float64Array(P);
  const alpha = new Float64Array(M);
  const dot = (a: Float64Array, b: Float64Array) => {
    let s = 0;
    for (let i = 0; i < P; i++) s += a[i] * b[i];
    return s;
  };
  const maxAbs = (a: Float64Array) => {
    let m = 0;
    for (let i = 0; i < P; i++) m = Math.max(m, Math.abs(a[i]));
    return m;
  };
  for (let it = 0; it < maxIter; it++) {
    if (maxAbs(g) <= gtol) break;
    // Two-loop recursion: dir = −H g
    for (let i = 0; i < P; i++) dir[i] = -g[i];
    for (let k = S.length - 1; k >= 0; k--) {
      alpha[k] = rho[k] * dot(S[k], dir);
      for (let i = 0; i < P; i++) dir[i] -= alpha[k] * Y[k][i];
    }
    if (S.length) {
      const last = S.length - 1;
      const gamma = dot(S[last], Y[last]) / dot(Y[last], Y[last]);
      for (let i = 0; i < P; i++) dir[i] *= gamma;
    } else {
      const s = 1 / Math.max(1, Math.sqrt(dot(g, g)));
      for (let i = 0; i < P; i++) dir[i] *= s;
    }
    for (let k = 0; k < S.length; k++) {
      const beta = rho[k] * dot(Y[k], dir);
      for (let i = 0; i < P; i++) dir[i] += S[k][i] * (alpha[k] - beta);
    }
    let slope = dot(g, dir);
    if (!(slope < 0)) {
      // Not a descent direction: restart from steepest descent.
      S.length = Y.length = rho.length = 0;
      for (let i = 0; i < P; i++) dir[i] = -g[i];
      slope = -dot(g, g);
    }
    let t = 1;
    let fn = Infinity;
    for (let ls = 0; ls < 60; ls++) {
      for (let i = 0; i < P; i++) xn[i] = x[i] + t * dir[i];
      fn = fg(xn, gn);
      if (fn <= f + 1e-4 * t * slope) break;
      t *= 0.5;
    }
    if (!(fn <= f)) break; // no progress possible
    const s = new Float64Array(P);
    const yv = new Float64Array(P);
    for (let i = 0; i < P; i++) {
      s[i] = xn[i] - x[i];
      yv[i] = gn[i] - g[i];
    }
    const sy = dot(s, yv);
    if (sy > 1e-20) {
      if (S.length === M) {
        S.shift();
        Y.shift();
        rho.shift();
      }
      S.push(s);
      Y.push(yv);
      rho.push(1 / sy);
    }
    const df = f - fn;
    x = Float64Array.from(xn);
    g = Float64Array.from(gn);
    f = fn;
    if (df <= ftol * Math.max(1, Math.abs(f))) break;
  }
  return x;
}
