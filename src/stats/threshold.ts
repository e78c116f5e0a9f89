// Calibration of a detector on held-out normal scores (higher = more anomalous; an input is flagged when its
// score is strictly above the threshold):
//
//   thresholdAtFpr(normal, α)  the smallest observed score t with #{s > t} ≤ ⌊α n⌋: t is the (⌊α n⌋ + 1)-th
//                              largest normal score, so at most a share α of the normal split is flagged
//                              (fewer when scores tie at t). The achieved FPR #{s > t} / n is returned beside
//                              it. A split of n scores cannot resolve an FPR below 1 / n: unless α n ≥
//                              minFalsePositives (default 1) it is an error, not a silently zero FPR.
//   falsePositiveRate(s, t)    the share of scores above t (the achieved FPR on any other normal split).
//   upperTailFraction(ref, s)  #{r ∈ ref : r ≥ s} / |ref| over ascending reference scores: an empirical
//                              p-value of s against the normal split, a rank that needs no second pass.

import { checkFinite } from './roc.js';

export interface Calibration {
  /** Inputs with score > threshold are flagged. */
  threshold: number;
  /** The requested false-positive rate. */
  targetFpr: number;
  /** #{normal scores > threshold} / n: at most targetFpr. */
  achievedFpr: number;
  falsePositives: number;
  n: number;
}

/** The threshold flagging at most a share `fpr` of the normal scores (see the file header). */
export function thresholdAtFpr(
  normalScores: ArrayLike<number>,
  fpr: number,
  opts: { minFalsePositives?: number } = {},
): Calibration {
  const n = normalScores.length;
  const minFp = opts.minFalsePositives ?? 1;
  if (!(fpr > 0 && fpr < 1)) throw new Error(`thresholdAtFpr: the false-positive rate must be in (0, 1), got ${fpr}`);
  if (!(minFp >= 1)) throw new Error(`thresholdAtFpr: minFalsePositives must be >= 1, got ${minFp}`);
  checkFinite(normalScores, 'thresholdAtFpr');
  // α n in counts, rounding away float noise (0.29 · 100 = 28.999999999999996).
  const allowed = Math.floor(fpr * n + 1e-9);
  if (allowed < minFp) {
    const need = Math.ceil(minFp / fpr - 1e-9);
    throw new Error(
      `calibration split too small: a false-positive rate of ${fpr} needs at least ${need} normal scores, got ${n}`,
    );
  }
  const desc = Float64Array.from(normalScores).sort().reverse();
  const threshold = desc[allowed];
  let fp = 0;
  while (fp < n && desc[fp] > threshold) fp++;
  return { threshold, targetFpr: fpr, achievedFpr: fp / n, falsePositives: fp, n };
}

/** Whether a score is flagged at a threshold (strictly above it). */
export function isFlagged(score: number, threshold: number): boolean {
  return score > threshold;
}

/** Share of the scores strictly above the threshold. */
export function falsePositiveRate(scores: ArrayLike<number>, threshold: number): number {
  if (scores.length === 0) throw new Error('falsePositiveRate: no scores');
  checkFinite(scores, 'falsePositiveRate');
  let fp = 0;
  for (let i = 0; i < scores.length; i++) if (scores[i] > threshold) fp++;
  return fp / scores.length;
}

/** #{r ≥ s} / |ref| for reference scores sorted ascending (binary search). */
export function upperTailFraction(sortedReference: ArrayLike<number>, s: number): number {
  const n = sortedReference.length;
  if (n === 0) throw new Error('upperTailFraction: empty reference');
  let a = 0;
  let b = n;
  while (a < b) {
    const m = (a + b) >> 1;
    if (sortedReference[m] < s) a = m + 1;
    else b = m;
  }
  return (n - a) / n;
}
