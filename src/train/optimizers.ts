// Minibatch optimizers (SGD with momentum, Adagrad, Adam) with explicit, saveable state.
// Each step is one fused in-place update per parameter (src/backend/fused.ts): native on the native
// backend, plain tfjs ops elsewhere, with PyTorch's update rules.
import type * as tf from '@tensorflow/tfjs-core';
import { adagradStepInPlace, adamStepInPlace, sgdStepInPlace } from '../backend/fused.js';

export type OptimizerKind = 'adam' | 'sgd' | 'adagrad';
export const OPTIMIZERS: OptimizerKind[] = ['adam', 'sgd', 'adagrad'];

export interface OptimizerConfig {
  kind: OptimizerKind;
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  momentum?: number;
  nesterov?: boolean;
}

export interface OptimizerState {
  config: OptimizerConfig;
  t: number;
  /** Slot arrays by `${parameterName}.${slot}`. */
  slots: Record<string, Float32Array>;
}

export class Optimizer {
  t = 0;
  readonly slots = new Map<string, Float32Array>();

  constructor(readonly config: OptimizerConfig) {
    if (!OPTIMIZERS.includes(config.kind))
      throw new Error(`unknown optimizer "${config.kind}" (expected ${OPTIMIZERS.join(', ')})`);
    if (!(config.lr > 0) || !Number.isFinite(config.lr))
      throw new Error(`learning rate must be a positive number, got ${config.lr}`);
  }

  /** The state array `name` (e.g. `${parameter}.m`), created as zeros of `size` on first use. */
  slot(name: string, size: number): Float32Array {
    let s = this.slots.get(name);
    if (!s) {
      s = new Float32Array(size);
      this.slots.set(name, s);
    }
    return s;
  }

  /** One update of every named parameter with its gradient, at learning rate `lr`. */
  step(params: Record<string, tf.Variable>, grads: Record<string, tf.Tensor>, lr = this.config.lr): void {
    this.t += 1;
    const c = this.config;
    for (const [name, v] of Object.entries(params)) {
      const g = grads[name];
      if (!g) continue;
      switch (c.kind) {
        case 'adam':
          adamStepInPlace(v, g, this.slot(`${name}.m`, v.size), this.slot(`${name}.v`, v.size), {
            lr,
            beta1: c.beta1 ?? 0.9,
            beta2: c.beta2 ?? 0.999,
            eps: c.eps ?? 1e-8,
            t: this.t,
          });
          break;
        case 'sgd':
          sgdStepInPlace(v, g, (c.momentum ?? 0) > 0 ? this.slot(`${name}.momentum`, v.size) : null, {
            lr,
            momentum: c.momentum ?? 0,
            nesterov: c.nesterov ?? false,
          });
          break;
        case 'adagrad':
          adagradStepInPlace(v, g, this.slot(`${name}.sum`, v.size), { lr, eps: c.eps ?? 1e-10 });
          break;
      }
    }
  }

  getState(): OptimizerState {
    return { config: { ...this.config }, t: this.t, slots: Object.fromEntries(this.slots) };
  }

  setState(state: OptimizerState): void {
    if (state.config.kind !== this.config.kind)
      throw new Error(`checkpoint optimizer is ${state.config.kind}, but this run uses ${this.config.kind}`);
    this.t = state.t;
    this.slots.clear();
    for (const [k, v] of Object.entries(state.slots)) this.slots.set(k, Float32Array.from(v));
  }
}
