// What every objective returns, and the signature the trainer calls: free functions over the model interface.
import type * as tf from '@tensorflow/tfjs-core';
import type { LatentVariableModel } from '../models/types.js';
import type { Rng } from '../rng.js';

/** Per-example terms, [B] each; `total` is what the optimizer minimises. */
export interface Terms {
  total: tf.Tensor1D;
  [name: string]: tf.Tensor1D;
}

/** What the trainer hands an objective at each step. */
export interface ObjectiveContext {
  rng: Rng;
  /** The KL weight at this step (β, or its warm-up value). */
  beta: number;
  step: number;
  /** Labels [B] for conditional models. */
  y?: tf.Tensor1D;
  /** Free bits λ (nats per latent unit; 0: off) for objectives that support them (elbo's freeBits). */
  freeBits?: number;
}

/** An objective: model, a batch x [B, D] and the step's context → per-example terms. */
export type Objective = (model: LatentVariableModel, x: tf.Tensor2D, ctx: ObjectiveContext) => Terms;
