import { it } from 'node:test';
import assert from 'node:assert/strict';
import {
  auprcTrapezoid,
  auroc,
  averagePrecision,
  fprAtTpr,
  ranks,
  rocCurve,
  splitByLabel,
  trapezoid,
} from '../src/stats/roc.js';
import { Rng } from '../src/rng.js';

const close = (a: number, b: number, tol = 1e-12, what = '') =>
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

/** P(s⁺ > s⁻) + ½ P(s⁺ = s⁻) by counting all pairs. */
function pairwiseAuroc(pos: ArrayLike<number>, neg: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < pos.length; i++)
    for (let j = 0; j < neg.length; j++) s += pos[i] > neg[j] ? 1 : pos[i] === neg[j] ? 0.5 : 0;
  return s / (pos.length * neg.length);
}

it('ranks: mid-ranks for ties (scipy rankdata average)', () => {
  assert.deepEqual(Array.from(ranks([10, 20, 20, 30])), [1, 2.5, 2.5, 4]);
  assert.deepEqual(Array.from(ranks([3, 1, 3, 3, 2])), [4, 1, 4, 4, 2]);
  assert.deepEqual(Array.from(ranks([5, 5])), [1.5, 1.5]);
  assert.deepEqual(Array.from(ranks([])), []);
  assert.throws(() => ranks([1, NaN]), /score 1 is NaN/);
});

it('AUROC: hand-computed cases, ties counted one half', () => {
  // pairs (3,1) (3,2) (2,1) win, (2,2) ties: 3.5 / 4
  assert.equal(auroc([3, 2], [1, 2]), 0.875);
  assert.equal(auroc([1, 1, 1], [1, 1]), 0.5);
  assert.equal(auroc([4, 5], [1, 2, 3]), 1);
  assert.equal(auroc([1, 2, 3], [4, 5]), 0);
  // pos [1, 3], neg [2, 2]: (1,2)(1,2) lose, (3,2)(3,2) win → 0.5
  assert.equal(auroc([1, 3], [2, 2]), 0.5);
  assert.throws(() => auroc([], [1]), /both classes/);
  assert.throws(() => auroc([1, Infinity], [1]), /positives.*score 1 is Infinity/);
});

it('AUROC equals the pairwise count and the trapezoid under the ROC curve, on heavily tied scores', () => {
  const r = new Rng(3);
  for (let trial = 0; trial < 20; trial++) {
    const np = 1 + r.int(30);
    const nn = 1 + r.int(30);
    const pos = Array.from({ length: np }, () => r.int(6) + 1);
    const neg = Array.from({ length: nn }, () => r.int(6));
    const want = pairwiseAuroc(pos, neg);
    close(auroc(pos, neg), want, 1e-12, 'auroc');
    const roc = rocCurve(pos, neg);
    close(
      trapezoid(
        roc.map((p) => p.fpr),
        roc.map((p) => p.tpr),
      ),
      want,
      1e-12,
      'trapezoid',
    );
  }
});

it('ROC curve points, FPR at 95% TPR', () => {
  assert.deepEqual(rocCurve([3, 2], [1, 2]), [
    { fpr: 0, tpr: 0, threshold: Infinity },
    { fpr: 0, tpr: 0.5, threshold: 3 },
    { fpr: 0.5, tpr: 1, threshold: 2 },
    { fpr: 1, tpr: 1, threshold: 1 },
  ]);
  // 20 positives 1..20: TPR 0.95 needs 19 of them, threshold 2; negatives ≥ 2: only 2.5 of 4.
  const pos = Array.from({ length: 20 }, (_, i) => i + 1);
  assert.deepEqual(fprAtTpr(pos, [2.5, 0, 0, 0]), { fpr: 0.25, tpr: 0.95, threshold: 2 });
  // A tie at the threshold counts whole: the negative at 2 is flagged too.
  assert.deepEqual(fprAtTpr(pos, [2, 0, 0, 0]), { fpr: 0.25, tpr: 0.95, threshold: 2 });
  assert.deepEqual(fprAtTpr(pos, [1.5, 0, 0, 0]), { fpr: 0, tpr: 0.95, threshold: 2 });
  assert.equal(fprAtTpr([3, 2], [1, 2], 1).fpr, 0.5);
  assert.throws(() => fprAtTpr([1], [0], 0), /target TPR/);
});

it('average precision and the trapezoid AUPRC: hand-computed, ties as one threshold', () => {
  // thresholds 3: P 1, R ½; 2: P ⅔, R 1; 1: P ½, R 1 → AP = ½·1 + ½·⅔
  close(averagePrecision([3, 2], [1, 2]), 0.5 + 1 / 3);
  // (0,1) (½,1) (1,⅔): ½ + ½·(1 + ⅔)/2
  close(auprcTrapezoid([3, 2], [1, 2]), 0.5 + 5 / 12);
  assert.equal(averagePrecision([5, 4], [1, 2, 3]), 1);
  // all tied: one threshold, precision = base rate
  close(averagePrecision([1, 1], [1, 1, 1, 1]), 1 / 3);
  // positives below the negatives: P at R ½ is ¼ (pos 2 after neg 4, 3, …), at R 1 is 2/5
  close(averagePrecision([2, 1], [6, 5, 4]), 0.5 * (1 / 4) + 0.5 * (2 / 5));
});

it('splitByLabel', () => {
  const { positives, negatives } = splitByLabel([0.1, 0.9, 0.5], [0, 1, true]);
  assert.deepEqual(Array.from(positives), [0.9, 0.5]);
  assert.deepEqual(Array.from(negatives), [0.1]);
  assert.throws(() => splitByLabel([1], [2]), /label 0 is 2/);
  assert.throws(() => splitByLabel([1, 2], [1]), /2 scores but 1 labels/);
});
