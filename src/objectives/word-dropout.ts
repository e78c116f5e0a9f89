// Word dropout (Bowman et al. 2016, §3.2): in training, each teacher-forcing input x_{t−1} of a sequence VAE's
// decoder is replaced by the unknown token (the zero vector) with probability p, so the decoder must lean on z.
import { SeqVAE } from '../models/seqvae.js';
import type { Objective } from './types.js';

/** Wraps a training objective so that a SeqVAE with wordDropout > 0 applies it (drawn from the step's RNG). */
export function withWordDropout(objective: Objective): Objective {
  return (model, x, ctx) =>
    model instanceof SeqVAE && (model.spec.wordDropout ?? 0) > 0
      ? model.withWordDropout(ctx.rng, () => objective(model, x, ctx))
      : objective(model, x, ctx);
}
