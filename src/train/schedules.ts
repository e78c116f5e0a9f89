// Learning-rate and β schedules: pure functions of the global step.
import { didYouMean } from '../util/suggest.js';

export type LrSchedule =
  | { kind: 'constant' }
  | { kind: 'cosine'; totalSteps: number; minLr?: number }
  | { kind: 'step'; every: number; gamma: number };

/** Parses `constant`, `cosine`, `cosine:MIN`, `step:EVERY:GAMMA` (EVERY in steps). */
export function parseLrSchedule(s: string, totalSteps: number): LrSchedule {
  const [kind, a, b] = s.split(':');
  if (kind === 'constant' && a === undefined) return { kind: 'constant' };
  if (kind === 'cosine') {
    const minLr = a === undefined ? 0 : Number(a);
    if (!Number.isFinite(minLr) || minLr < 0) throw new Error(`--lr-schedule cosine:MIN needs MIN ≥ 0, got "${a}"`);
    return { kind: 'cosine', totalSteps, minLr };
  }
  if (kind === 'step') {
    const every = Number(a);
    const gamma = Number(b);
    if (!Number.isInteger(every) || every < 1 || !(gamma > 0))
      throw new Error(`--lr-schedule step:EVERY:GAMMA needs EVERY ≥ 1 and GAMMA > 0, got "${s}"`);
    return { kind: 'step', every, gamma };
  }
  const hint = didYouMean(kind, ['constant', 'cosine', 'step']);
  throw new Error(
    `unknown --lr-schedule "${s}"${hint ? `: ${hint}` : ''} (expected constant, cosine[:MIN] or step:EVERY:GAMMA)`,
  );
}

export function lrAt(base: number, sched: LrSchedule, step: number): number {
  switch (sched.kind) {
    case 'constant':
      return base;
    case 'cosine': {
      const min = sched.minLr ?? 0;
      const p = Math.min(1, step / Math.max(1, sched.totalSteps));
      return min + 0.5 * (base - min) * (1 + Math.cos(Math.PI * p));
    }
    case 'step':
      return base * Math.pow(sched.gamma, Math.floor(step / sched.every));
  }
}

/** KL warm-up (Bowman et al. 2016; Sønderby et al. 2016): β rises linearly from 0 to its value over `warmupSteps`. */
export function betaAt(beta: number, warmupSteps: number, step: number): number {
  if (warmupSteps <= 0) return beta;
  return beta * Math.min(1, (step + 1) / warmupSteps);
}
