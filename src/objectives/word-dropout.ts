// Word dropout (Bowman et al. 2016, §3.2): in training, each teacher-forcing input x_{t−1} of a sequence VAE's
// decoder is replaced by the unknown token (the zero vector) with probability p, so the decoder must lean on z.
// The rate is the run's (ObjectiveConfig.wordDropout), not the model's.
import { SeqVAE } from '../models/seqvae.js';
import type { Objective } from './types.js';

/** Wraps a training objective so that a SeqVAE applies word dropout of rate p (drawn from the step's RNG); p = 0: as it is. */
export function withWordDropout(objective: Objective, p: number): Objective {
  if (!(p > 0)) return objective;
  return (model, x, ctx) =>
    model instanceof SeqVAE
      ? model.withWordDropout(ctx.rng, p, () => objective(model, x, ctx))
      : objective(model, x, ctx);
}
