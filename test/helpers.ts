// Shared test set-up: one backend for the whole file (VAEKIT_TEST_BACKEND, default: auto selection).
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
