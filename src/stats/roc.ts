// Ranking metrics of a detector's scores (higher = more anomalous; positives = anomalies, negatives =
// normal inputs), with ties handled exactly:
//
//   ranks(x)            mid-ranks (scipy.stats.rankdata 'average'): tied values share the mean of their ranks.
//   auroc(pos, neg)     Mann–Whitney: AUROC = P(s⁺ > s⁻) + ½ P(s⁺ = s⁻) = (R⁺ − n⁺(n⁺ + 1)/2) / (n⁺ n⁻),
//                       R⁺ the sum of the positives' mid-ranks in the pooled sample. Equal to the trapezoid
//                       area under rocCurve (ties make the curve's diagonal segments).
//   rocCurve(pos, neg)  one point per distinct score t (descending), flagging s ≥ t: (FPR, TPR, t), from
//                       (0, 0, +∞) to (1, 1, min score).
//   fprAtTpr(pos, neg)  FPR at the first ROC point whose TPR reaches the target (0.95 by default): the
//                       lowest FPR of any threshold that flags at least that share of positives (no
//                       interpolation between points).
//   averagePrecision    AP = Σₜ (Rₜ − Rₜ₋₁) Pₜ over distinct thresholds t descending (sklearn
//                       average_precision_score): the AUPRC reported by vaekit, a step sum that never
//                       interpolates precision optimistically.
//   auprcTrapezoid      the trapezoid area under (recall, precision) from (0, 1) up to full recall (sklearn
//                       auc(recall, precision) over precision_recall_curve): for comparison only.
//
// Scores must be finite numbers; both classes non-empty.

/** Mid-ranks (1 = smallest; ties get the mean of the ranks they span), as scipy rankdata(method='average'). */
export function ranks(x: ArrayLike<number>): Float64Array {
  const n = x.length;
  checkFinite(x, 'ranks');
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => x[a] - x[b]);
  const r = new Float64Array(n);
  for (let i = 0; i < n;) {
    let j = i + 1;
    while (j < n && x[order[j]] === x[order[i]]) j++;
    const mid = (i + 1 + j) / 2; // ranks i+1 … j
    for (let k = i; k < j; k++) r[order[k]] = mid;
    i = j;
  }
  return r;
}

/** Area under the ROC curve by Mann–Whitney U with mid-ranks (exact with ties). */
export function auroc(positives: ArrayLike<number>, negatives: ArrayLike<number>): number {
  const np = positives.length;
  const nn = negatives.length;
  checkClasses(positives, negatives, 'auroc');
  const pooled = new Float64Array(np + nn);
  pooled.set(positives, 0);
  pooled.set(negatives, np);
  const r = ranks(pooled);
  let rp = 0;
  for (let i = 0; i < np; i++) rp += r[i];
  return (rp - (np * (np + 1)) / 2) / (np * nn);
}

export interface RocPoint {
  fpr: number;
  tpr: number;
  /** Inputs with score ≥ threshold are flagged (+∞ at the first point: none). */
  threshold: number;
}

interface Counts {
  /** Distinct thresholds, descending. */
  thresholds: number[];
  /** Cumulative positives / negatives with score ≥ thresholds[i]. */
  tp: number[];
  fp: number[];
  np: number;
  nn: number;
}

function cumulativeCounts(positives: ArrayLike<number>, negatives: ArrayLike<number>, what: string): Counts {
  checkClasses(positives, negatives, what);
  const np = positives.length;
  const nn = negatives.length;
  const s = new Float64Array(np + nn);
  s.set(positives, 0);
  s.set(negatives, np);
  const order = Array.from({ length: np + nn }, (_, i) => i).sort((a, b) => s[b] - s[a]);
  const thresholds: number[] = [];
  const tp: number[] = [];
  const fp: number[] = [];
  let t = 0;
  let f = 0;
  for (let i = 0; i < order.length;) {
    const v = s[order[i]];
    while (i < order.length && s[order[i]] === v) {
      if (order[i] < np) t++;
      else f++;
      i++;
    }
    thresholds.push(v);
    tp.push(t);
    fp.push(f);
  }
  return { thresholds, tp, fp, np, nn };
}

/** ROC curve: (0, 0) then one point per distinct score, descending, ending at (1, 1). */
export function rocCurve(positives: ArrayLike<number>, negatives: ArrayLike<number>): RocPoint[] {
  const c = cumulativeCounts(positives, negatives, 'rocCurve');
  const pts: RocPoint[] = [{ fpr: 0, tpr: 0, threshold: Infinity }];
  for (let i = 0; i < c.thresholds.length; i++)
    pts.push({ fpr: c.fp[i] / c.nn, tpr: c.tp[i] / c.np, threshold: c.thresholds[i] });
  return pts;
}

/** Trapezoid area under a curve given as points sorted by x (for ROC points: x = fpr, y = tpr). */
export function trapezoid(xs: ArrayLike<number>, ys: ArrayLike<number>): number {
  if (xs.length !== ys.length) throw new Error(`trapezoid: ${xs.length} x values but ${ys.length} y values`);
  let a = 0;
  for (let i = 1; i < xs.length; i++) a += ((xs[i] - xs[i - 1]) * (ys[i] + ys[i - 1])) / 2;
  return a;
}

/** FPR at the first ROC point whose TPR reaches `tpr` (default 0.95), and that point's threshold. */
export function fprAtTpr(
  positives: ArrayLike<number>,
  negatives: ArrayLike<number>,
  tpr = 0.95,
): { fpr: number; tpr: number; threshold: number } {
  if (!(tpr > 0 && tpr <= 1)) throw new Error(`fprAtTpr: the target TPR must be in (0, 1], got ${tpr}`);
  const c = cumulativeCounts(positives, negatives, 'fprAtTpr');
  // tp / np ≥ tpr, compared in counts (so 19 / 20 reaches 0.95 exactly).
  const need = Math.ceil(tpr * c.np - 1e-9);
  let i = 0;
  while (c.tp[i] < need) i++;
  return { fpr: c.fp[i] / c.nn, tpr: c.tp[i] / c.np, threshold: c.thresholds[i] };
}

/** Average precision (the AUPRC vaekit reports): Σ (Rₜ − Rₜ₋₁) Pₜ over distinct thresholds, descending. */
export function averagePrecision(positives: ArrayLike<number>, negatives: ArrayLike<number>): number {
  const c = cumulativeCounts(positives, negatives, 'averagePrecision');
  let ap = 0;
  let prevTp = 0;
  for (let i = 0; i < c.thresholds.length; i++) {
    const precision = c.tp[i] / (c.tp[i] + c.fp[i]);
    ap += ((c.tp[i] - prevTp) / c.np) * precision;
    prevTp = c.tp[i];
  }
  return ap;
}

/** Trapezoid area under the precision–recall curve, from (recall 0, precision 1) to the first full-recall point. */
export function auprcTrapezoid(positives: ArrayLike<number>, negatives: ArrayLike<number>): number {
  const c = cumulativeCounts(positives, negatives, 'auprcTrapezoid');
  const rec = [0];
  const prec = [1];
  for (let i = 0; i < c.thresholds.length; i++) {
    rec.push(c.tp[i] / c.np);
    prec.push(c.tp[i] / (c.tp[i] + c.fp[i]));
    if (c.tp[i] === c.np) break;
  }
  return trapezoid(rec, prec);
}

/** Splits scores into positives (label true / 1) and negatives (false / 0). */
export function splitByLabel(
  scores: ArrayLike<number>,
  labels: ArrayLike<number | boolean>,
): { positives: Float64Array; negatives: Float64Array } {
  if (scores.length !== labels.length)
    throw new Error(`splitByLabel: ${scores.length} scores but ${labels.length} labels`);
  const p: number[] = [];
  const q: number[] = [];
  for (let i = 0; i < scores.length; i++) {
    const l = labels[i];
    if (l === true || l === 1) p.push(scores[i]);
    else if (l === false || l === 0) q.push(scores[i]);
    else throw new Error(`splitByLabel: label ${i} is ${String(l)}, not 0/1 or a boolean`);
  }
  return { positives: Float64Array.from(p), negatives: Float64Array.from(q) };
}

export function checkFinite(x: ArrayLike<number>, what: string): void {
  for (let i = 0; i < x.length; i++)
    if (!Number.isFinite(x[i])) throw new Error(`${what}: score ${i} is ${x[i]}, not a finite number`);
}

function checkClasses(positives: ArrayLike<number>, negatives: ArrayLike<number>, what: string): void {
  if (positives.length === 0 || negatives.length === 0)
    throw new Error(
      `${what}: needs scores of both classes, got ${positives.length} positive and ${negatives.length} negative`,
    );
  checkFinite(positives, `${what} (positives)`);
  checkFinite(negatives, `${what} (negatives)`);
}
