// The sequence VAE (Bowman, Vilnis, Vinyals, Dai, Jozefowicz & Bengio, 2016, "Generating sentences from a
// continuous space"), here over characters of words or steps of numeric series:
//   prior       p(z)   = N(0, I)
//   encoder     q(z|x) = N(μ, diag σ²),  [μ, log σ²] = dense(h_fwd(T), h_bwd(1)),  a bidirectional RNN over x
//   decoder     p(x|z) = Π_t p(x_t | x_<t, z),  an RNN with h_0 = tanh(dense(z)) that reads [x_{t−1}, z] at step t
//               tokens:  p(x_t | ·) = Cat(softmax(l_t)), scored up to the first end token
//               series:  p(x_t | ·) = N(μ_t, diag σ²), σ fixed or learned per channel
// The objective is the VAE's, −ELBO = −E_q[log p(x|z)] + β·KL(q ‖ p), with the two remedies of the paper
// against an unused z: KL warm-up (β from 0 to 1: the trainer's klWarmup) and word dropout (each teacher-
// forcing input x_{t−1} replaced by the unknown token, the zero vector, with probability p, in training).
//
// decode(z) is the autoregressive p(x|z): logProb(x) runs the decoder teacher-forced on x; mean() is the
// greedy decode (argmax token, or the mean value, fed back at each step); sample(rng) draws each step.
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { Categorical, drawToken } from '../distributions/categorical.js';
import { decoderLogVariance, DiagGaussian, StdNormal } from '../distributions/gaussian.js';
import type { Distribution } from '../distributions/types.js';
import { END_TOKEN, LOWERCASE } from '../data/words.js';
import { initRnnNetwork, validateRnnSpec, type RecurrentGroup } from '../nn/rnn.js';
import { RnnDecoder, RnnEncoder, shiftRight } from '../nn/rnn-fused.js';
import type { Rng } from '../rng.js';
import { pathWeights, type PathMethod } from './latent-path.js';
import type { SeqVaeConfig } from './configs.js';
import { gaussianHead, LatentModelBase } from './base.js';

export function validateSeqVaeConfig(c: SeqVaeConfig): void {
  const bad = (m: string) => {
    throw new Error(`invalid seqvae config: ${m}`);
  };
  if (c.kind !== 'seqvae') bad(`kind must be "seqvae", got ${JSON.stringify(c.kind)}`);
  const s = c.inputShape;
  if (!Array.isArray(s) || s.length !== 2 || !s.every((d) => Number.isInteger(d) && d > 0))
    bad(`inputShape must be [steps, width], got ${JSON.stringify(s)}`);
  if (s[0] < 2) bad(`a sequence needs at least 2 steps, got ${s[0]}`);
  if (!Number.isInteger(c.latentDim) || c.latentDim < 1)
    bad(`latentDim must be a positive integer, got ${c.latentDim}`);
  try {
    validateRnnSpec(c.network);
  } catch (e) {
    bad((e as Error).message);
  }
  if (c.likelihood !== 'categorical' && c.likelihood !== 'gaussian')
    bad(`likelihood must be categorical or gaussian, got ${c.likelihood}`);
  if (c.likelihood === 'categorical') {
    if (s[1] < 2) bad(`a categorical sequence needs at least 2 tokens (one is the end token), got width ${s[1]}`);
    if (c.vocabulary !== undefined && c.vocabulary.length + 1 !== s[1])
      bad(
        `vocabulary "${c.vocabulary}" has ${c.vocabulary.length} characters, width ${s[1]} needs ${s[1] - 1} (token 0 is the end token)`,
      );
  }
  if (
    c.likelihood === 'gaussian' &&
    c.sigma !== undefined &&
    c.sigma !== 'learned' &&
    !(typeof c.sigma === 'number' && c.sigma > 0)
  )
    bad(`sigma must be a positive number or "learned", got ${c.sigma}`);
}

export interface SeqVaeOptions {
  latentDim?: number;
  cell?: 'gru' | 'lstm';
  hidden?: number;
  embedding?: number;
  bidirectional?: boolean;
  sigma?: number | 'learned';
}

/** A config for a data set: one-hot words ({shape, vocabulary}) or numeric series ({shape} = [T, C]). */
export function seqVaeConfigFor(
  data: { shape: number[]; vocabulary?: string; protocol?: string },
  o: SeqVaeOptions = {},
): SeqVaeConfig {
  if (data.shape.length !== 2)
    throw new Error(`seqvae: the data must be sequences of shape [steps, width], got [${data.shape}]`);
  const categorical = data.vocabulary !== undefined || data.protocol === 'onehot';
  const config: SeqVaeConfig = {
    kind: 'seqvae',
    inputShape: [data.shape[0], data.shape[1]],
    latentDim: o.latentDim ?? 16,
    network: {
      type: 'rnn',
      cell: o.cell ?? 'gru',
      hidden: o.hidden ?? 256,
      embedding: o.embedding ?? (categorical ? 32 : 0),
      bidirectional: o.bidirectional ?? true,
      ...((o.cell ?? 'gru') === 'gru' ? { resetAfter: true } : {}), //  PyTorch's nn.GRU
    },
    likelihood: categorical ? 'categorical' : 'gaussian',
  };
  if (categorical)
    config.vocabulary = data.vocabulary ?? (data.shape[1] === LOWERCASE.length + 1 ? LOWERCASE : undefined);
  else config.sigma = o.sigma ?? 'learned';
  validateSeqVaeConfig(config);
  return config;
}

export interface GenerateOptions {
  /** 'greedy': the argmax token (the mean value) at every step; 'sample': a draw from p(x_t | x_<t, z). */
  mode?: 'greedy' | 'sample';
  rng?: Rng;
  /** Sampling: logits / τ for tokens, σ·τ for values (default 1). */
  temperature?: number;
}

/** p(x|z) = Π_t p(x_t | x_<t, z), the decoder RNN run on z. */
export class SequenceLikelihood implements Distribution {
  constructor(
    private readonly model: SeqVAE,
    readonly z: tf.Tensor2D,
  ) {}

  /** The per-step decoder outputs teacher-forced on x (logits or means), [B, T·O]. */
  outputs(x: tf.Tensor2D): tf.Tensor2D {
    return this.model.teacherForced(this.z, x);
  }

  // log p(x|z) = Σ_t log p(x_t | x_<t, z), teacher-forced on x, [B]
  logProb(x: tf.Tensor): tf.Tensor1D {
    return tf.tidy(() => this.model.stepDistribution(this.outputs(x as tf.Tensor2D)).logProb(x));
  }

  /** The greedy decode: the most probable token (the mean value) at each step, fed back. [B, T·W]. */
  mean(): tf.Tensor2D {
    return this.model.generate(this.z, { mode: 'greedy' });
  }

  sample(rng: Rng, temperature = 1): tf.Tensor2D {
    return this.model.generate(this.z, { mode: 'sample', rng, temperature });
  }
}

export class SeqVAE extends LatentModelBase {
  readonly encoder: RnnEncoder;
  readonly decoder: RnnDecoder;
  readonly steps: number;
  readonly width: number;
  /** Set while a training step runs under withWordDropout: the RNG of the word-dropout masks. */
  private dropout: { rng: Rng; p: number } | null = null;

  constructor(
    readonly spec: SeqVaeConfig,
    rng: Rng,
  ) {
    super();
    validateSeqVaeConfig(spec);
    [this.steps, this.width] = spec.inputShape;
    const d = spec.latentDim;
    this.encoder = new RnnEncoder('encoder', spec.network, this.steps, this.width, 2 * d);
    this.decoder = new RnnDecoder('decoder', spec.network, this.steps, this.width, d, this.width);
    initRnnNetwork(this.encoder.model, rng);
    initRnnNetwork(this.decoder.model, rng);
    if (spec.likelihood === 'gaussian') this.decoderLogVar = decoderLogVariance(spec.sigma, this.width);
  }

  get config(): SeqVaeConfig {
    return this.spec;
  }

  prior(batch: number): StdNormal {
    return new StdNormal(batch, this.spec.latentDim);
  }

  // q(z|x) = N(μ, diag σ²),  [μ, log σ²] = dense(biRNN(x))
  encode(x: tf.Tensor2D): DiagGaussian {
    const [mu, logVar] = tf.tidy(() => {
      const q = gaussianHead(this.encoder.apply(x));
      return [q.mu, q.logVar];
    });
    return new DiagGaussian(mu, logVar);
  }

  // p(x|z) = Π_t p(x_t | x_<t, z)
  decode(z: tf.Tensor2D): SequenceLikelihood {
    return new SequenceLikelihood(this, z);
  }

  /** Decoder outputs teacher-forced on x: input at step t is x_{t−1} (zeros at t = 0), with word dropout in training. */
  teacherForced(z: tf.Tensor2D, x: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      let prev = shiftRight(x, this.width);
      const p = this.dropout?.p ?? 0;
      if (this.dropout && p > 0) {
        // keep x_{t−1} with probability 1 − p, else the unknown token (zeros)
        const B = x.shape[0];
        const u = this.dropout.rng.fillUniform(new Float32Array(B * this.steps));
        const keep = tf.tensor3d(
          u.map((v) => (v >= p ? 1 : 0)),
          [B, this.steps, 1],
        );
        prev = tf.reshape(tf.mul(tf.reshape(prev, [B, this.steps, this.width]), keep), [B, this.steps * this.width]);
      }
      return this.decoder.apply(z, prev);
    });
  }

  /** The per-step distribution of x given decoder outputs [B, T·O] (logits, or means). */
  stepDistribution(out: tf.Tensor2D): Categorical | DiagGaussian {
    if (this.spec.likelihood === 'categorical') return new Categorical(out, this.width, END_TOKEN);
    return new DiagGaussian(out, tf.tile(this.decoderLogVar as tf.Tensor2D, [1, this.steps]) as tf.Tensor2D);
  }

  /**
   * Decodes z step by step, feeding each step's choice back: greedy (argmax token / mean value) or sampled.
   * Tokens after the first end token are the end token (padding), as in the data. Returns x [B, T·W].
   */
  generate(z: tf.Tensor2D, opts: GenerateOptions = {}): tf.Tensor2D {
    const mode = opts.mode ?? 'greedy';
    const tau = opts.temperature ?? 1;
    if (mode === 'sample' && !opts.rng) throw new Error('generate: sampling needs an rng');
    if (!(tau > 0)) throw new Error(`generate: temperature must be positive, got ${tau}`);
    const B = z.shape[0];
    const W = this.width;
    if (this.spec.likelihood === 'gaussian') {
      return tf.tidy(() => {
        const sd = tf.mul(tf.exp(tf.mul(this.decoderLogVar as tf.Tensor2D, 0.5)), tau);
        const pick = (mu: tf.Tensor2D) =>
          mode === 'greedy'
            ? mu
            : (tf.add(
                mu,
                tf.mul(sd, tf.tensor2d(opts.rng!.fillNormal(new Float32Array(B * W)), [B, W])),
              ) as tf.Tensor2D);
        return this.decoder.generate(z, pick).sequence;
      });
    }
    const ended = new Uint8Array(B);
    const pick = (logits: tf.Tensor2D) => {
      const l = logits.dataSync();
      const next = new Float32Array(B * W);
      const p = new Float64Array(W);
      for (let b = 0; b < B; b++) {
        let tok = END_TOKEN;
        if (!ended[b]) {
          if (mode === 'greedy') {
            tok = 0;
            for (let v = 1; v < W; v++) if (l[b * W + v] > l[b * W + tok]) tok = v;
          } else {
            let m = -Infinity;
            for (let v = 0; v < W; v++) m = Math.max(m, l[b * W + v] / tau);
            for (let v = 0; v < W; v++) p[v] = Math.exp(l[b * W + v] / tau - m);
            tok = drawToken(p, 0, W, opts.rng!.uniform());
          }
          if (tok === END_TOKEN) ended[b] = 1;
        }
        next[b * W + tok] = 1;
      }
      return tf.tensor2d(next, [B, W]);
    };
    return tf.tidy(() => this.decoder.generate(z, pick).sequence);
  }

  /** Greedy reconstruction from the posterior mean: decode(μ(x)). */
  reconstruct(x: tf.Tensor2D, opts: GenerateOptions = {}): tf.Tensor2D {
    return tf.tidy(() => this.generate(this.encode(x).mu, opts));
  }

  /**
   * Decodes along the path from μ(a) to μ(b) (a, b: [1, T·W]) at `steps` points, ends included: [steps, T·W].
   * linear (default): z(α) = (1 − α) μ_a + α μ_b; slerp: sin((1 − α)ω)/sin ω · μ_a + sin(αω)/sin ω · μ_b with
   * cos ω = μ_a·μ_b / (|μ_a| |μ_b|), which keeps the norm typical of the prior.
   */
  interpolate(
    a: tf.Tensor2D,
    b: tf.Tensor2D,
    steps: number,
    opts: GenerateOptions & { method?: PathMethod } = {},
  ): tf.Tensor2D {
    if (!(Number.isInteger(steps) && steps >= 2))
      throw new Error(`interpolate: steps must be an integer ≥ 2, got ${steps}`);
    const method = opts.method ?? 'linear';
    if (method !== 'linear' && method !== 'slerp')
      throw new Error(`interpolate: method must be linear or slerp, got ${method}`);
    return tf.tidy(() => {
      const za = this.encode(a).mu;
      const zb = this.encode(b).mu;
      const { wa, wb } = pathWeights(za.dataSync(), zb.dataSync(), steps, method);
      const z = tf.add(tf.mul(tf.tensor2d(wa, [steps, 1]), za), tf.mul(tf.tensor2d(wb, [steps, 1]), zb)) as tf.Tensor2D; // z(α) = w_a(α) μ_a + w_b(α) μ_b
      return this.generate(z, opts);
    });
  }

  /** Runs fn (one training step's objective) with word dropout of rate p (the run's, src/objectives/config.ts) drawn from rng. */
  withWordDropout<T>(rng: Rng, p: number, fn: () => T): T {
    this.dropout = { rng, p };
    try {
      return fn();
    } finally {
      this.dropout = null;
    }
  }

  networks(): Record<string, tfl.LayersModel> {
    return { encoder: this.encoder.model, decoder: this.decoder.model };
  }

  /** The recurrent layers' directions, named as in namedParameters (src/models/state-dict.ts maps them to PyTorch's). */
  recurrentGroups(): RecurrentGroup[] {
    return [...this.encoder.recurrentGroups(), ...this.decoder.recurrentGroups()];
  }

  /** The recurrent networks name their own weights (src/nn/rnn.ts), and the decoder's log σ² per channel, [1, C]. */
  override namedParameters(): Record<string, tf.Variable> {
    const out = { ...this.encoder.parameters(), ...this.decoder.parameters() };
    if (this.decoderLogVar instanceof tf.Variable) out['decoder.log_var'] = this.decoderLogVar;
    return out;
  }
}
