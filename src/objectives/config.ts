// The objective settings of a training run, in one place: the KL weight β, its linear warm-up, free bits and
// word dropout. They belong to the run, not to the model (no model reads them): the trainer applies them and
// a saved model records them as config.json's `training.objective` (models saved before kept β and a SeqVAE's
// word dropout in their model config: src/models/files.ts moves them there when it reads them).

export interface ObjectiveConfig {
  /** Weight of the KL term (1: the ELBO; > 1: β-VAE). */
  beta: number;
  /** Raise β linearly from 0 over this many steps (0: none). */
  klWarmup: number;
  /** Free bits λ, nats per latent unit (0: off): the objective's KL is Σ_j max(λ, batch-mean KL_j). */
  freeBits: number;
  /** Word dropout rate p in training (sequence VAEs' teacher-forcing inputs; 0: off). */
  wordDropout: number;
}

export const DEFAULT_OBJECTIVE: Readonly<ObjectiveConfig> = { beta: 1, klWarmup: 0, freeBits: 0, wordDropout: 0 };

const CHECKS: Record<keyof ObjectiveConfig, [(v: number) => boolean, string]> = {
  beta: [(v) => Number.isFinite(v) && v >= 0, 'a non-negative number'],
  klWarmup: [(v) => Number.isInteger(v) && v >= 0, 'a non-negative integer'],
  freeBits: [(v) => Number.isFinite(v) && v >= 0, 'a non-negative number'],
  wordDropout: [(v) => v >= 0 && v <= 1, 'in [0, 1]'],
};

/** A complete, checked objective config: the defaults where `o` leaves a setting out; an error names a bad one. */
export function objectiveConfig(
  o: Partial<Record<keyof ObjectiveConfig, unknown>> = {},
  source = 'objective',
): ObjectiveConfig {
  const c = { ...DEFAULT_OBJECTIVE };
  for (const k of Object.keys(CHECKS) as (keyof ObjectiveConfig)[]) {
    const v = o[k];
    if (v === undefined || v === null) continue;
    const [ok, what] = CHECKS[k];
    if (typeof v !== 'number' || !ok(v)) throw new Error(`${source}: ${k} must be ${what}, got ${JSON.stringify(v)}`);
    c[k] = v;
  }
  return c;
}

/** One line: β (with its warm-up), free bits and word dropout where they are on. */
export function describeObjective(o: ObjectiveConfig): string {
  return [
    `β=${o.beta}${o.klWarmup > 0 ? ` (warm-up ${o.klWarmup} steps)` : ''}`,
    ...(o.freeBits > 0 ? [`free bits ${o.freeBits} nats/unit`] : []),
    ...(o.wordDropout > 0 ? [`word dropout ${o.wordDropout}`] : []),
  ].join(', ');
}
