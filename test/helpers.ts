// Shared test set-up: one backend for the whole file (VAEKIT_TEST_BACKEND, default: auto selection).
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, type BackendChoice } from '../src/backend/index.js';

export async function setupBackend(): Promise<string> {
  const info = await initBackend((process.env.VAEKIT_TEST_BACKEND as BackendChoice) ?? 'auto', true);
  return info.backend;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/**
 * Central finite difference of `loss` in entry i of variable v (step 1e-2), asserted equal to the analytic
 * gradient g[i] within 2e-2·(1 + |fd|). The variable is restored afterwards.
 */
export function assertFiniteDifference(
  v: tf.Variable,
  loss: () => tf.Scalar,
  g: ArrayLike<number>,
  i: number,
  label: string,
): void {
  const vals = v.dataSync().slice();
  const h = 1e-2;
  const at = (delta: number) => {
    const w = vals.slice();
    w[i] += delta;
    v.assign(tf.tensor(w, v.shape));
    return loss().dataSync()[0];
  };
  const fd = (at(h) - at(-h)) / (2 * h);
  v.assign(tf.tensor(vals, v.shape));
  assert.ok(
    Math.abs(fd - g[i]) <= 2e-2 * (1 + Math.abs(fd)),
    `${label}[${i}]: analytic ${g[i]} vs finite difference ${fd}`,
  );
}
