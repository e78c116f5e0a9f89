// Paths between two latent points a and b, for interpolation: z(t) = w_a(t)·a + w_b(t)·b at t = 0 … 1.
//   linear  w_a = 1 − t,                 w_b = t
//   slerp   w_a = sin((1 − t)ω) / sin ω,  w_b = sin(tω) / sin ω,   cos ω = a·b / (|a| |b|)
// (slerp keeps the norm typical of a Gaussian prior; it falls back to linear when a ∥ b.)

export type PathMethod = 'linear' | 'slerp';

/** The weights (w_a, w_b) of `steps` points from a to b, ends included. */
export function pathWeights(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  steps: number,
  method: PathMethod = 'linear',
): { wa: number[]; wb: number[] } {
  if (!(Number.isInteger(steps) && steps >= 2))
    throw new Error(`interpolation needs an integer number of steps ≥ 2, got ${steps}`);
  if (method !== 'linear' && method !== 'slerp')
    throw new Error(`interpolation method must be linear or slerp, got ${method}`);
  if (a.length !== b.length)
    throw new Error(`interpolation: the two latent points differ in size (${a.length} vs ${b.length})`);
  const t = Array.from({ length: steps }, (_, i) => i / (steps - 1));
  if (method === 'slerp') {
    let dot = 0,
      na = 0,
      nb = 0;
    for (let i = 0; i < a.length; i++) {
      dot += a[i] * b[i];
      na += a[i] * a[i];
      nb += b[i] * b[i];
    }
    const omega = Math.acos(Math.max(-1, Math.min(1, dot / (Math.sqrt(na * nb) || 1))));
    if (omega > 1e-6)
      return {
        wa: t.map((s) => Math.sin((1 - s) * omega) / Math.sin(omega)),
        wb: t.map((s) => Math.sin(s * omega) / Math.sin(omega)),
      };
  }
  return { wa: t.map((s) => 1 - s), wb: t };
}
