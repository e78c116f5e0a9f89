import { it } from 'node:test';
import assert from 'node:assert/strict';
import { falsePositiveRate, isFlagged, thresholdAtFpr, upperTailFraction } from '../src/stats/threshold.js';

it('thresholdAtFpr: the (⌊αn⌋+1)-th largest normal score, achieved FPR beside it', () => {
  const s = Array.from({ length: 100 }, (_, i) => 100 - i); // 1..100, shuffled order does not matter
  const c = thresholdAtFpr(s, 0.05);
  assert.deepEqual(c, { threshold: 95, targetFpr: 0.05, achievedFpr: 0.05, falsePositives: 5, n: 100 });
  assert.equal(falsePositiveRate(s, c.threshold), 0.05);
  assert.ok(isFlagged(96, 95) && !isFlagged(95, 95));
  // 0.29 · 100 is 28.999999999999996 in floating point: still 29 allowed
  assert.equal(thresholdAtFpr(s, 0.29).falsePositives, 29);
  assert.equal(thresholdAtFpr(s, 0.01).threshold, 99);
});

it('thresholdAtFpr: ties at the threshold lower the achieved FPR, never raise it', () => {
  // 10 scores, α = 0.3 allows 3: desc 9 8 7 7 7 ... → threshold 7, only 9 and 8 are above
  const s = [1, 2, 3, 4, 7, 7, 7, 8, 9, 5];
  const c = thresholdAtFpr(s, 0.3);
  assert.equal(c.threshold, 7);
  assert.equal(c.falsePositives, 2);
  assert.equal(c.achievedFpr, 0.2);
  // all equal: nothing can be flagged
  assert.equal(thresholdAtFpr([2, 2, 2, 2], 0.5).achievedFpr, 0);
});

it('thresholdAtFpr: a split too small for the FPR is an error naming the size needed', () => {
  const s = Array.from({ length: 100 }, (_, i) => i);
  assert.throws(
    () => thresholdAtFpr(s, 0.001),
    /split too small: a false-positive rate of 0.001 needs at least 1000 normal scores, got 100/,
  );
  assert.doesNotThrow(() => thresholdAtFpr(s, 0.01));
  assert.throws(() => thresholdAtFpr(s, 0.05, { minFalsePositives: 10 }), /at least 200/);
  assert.throws(() => thresholdAtFpr(s, 0), /must be in \(0, 1\)/);
  assert.throws(() => thresholdAtFpr([1, NaN], 0.5), /score 1 is NaN/);
});

it('upperTailFraction: empirical p-value against sorted reference scores', () => {
  const ref = [1, 2, 2, 3];
  assert.equal(upperTailFraction(ref, 0), 1);
  assert.equal(upperTailFraction(ref, 2), 0.75);
  assert.equal(upperTailFraction(ref, 2.5), 0.25);
  assert.equal(upperTailFraction(ref, 4), 0);
});
