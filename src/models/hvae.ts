// The hierarchical VAE with L ≥ 2 stochastic layers z_1 (next to x) … z_L, and top-down inference that
// shares the generative path (the Ladder VAE, Sønderby et al., 2016):
//   generative   p(z_L) = N(0, I),   p(z_l | z_{l+1}) = N(μ_p,l, diag σ²_p,l),  [μ_p,l, log σ²_p,l] = prior_l(z_{l+1}),
//                p(x | z_1) = Bernoulli(logits = dec(z_1))  or  N(dec(z_1), σ² I)
//   bottom-up    [μ̂_1, log σ̂²_1] = enc(x),   [μ̂_l, log σ̂²_l] = enc_l([μ̂_{l−1}, log σ̂²_{l−1}])   (deterministic)
//   inference    q(z_L | x) = N(μ̂_L, σ̂²_L),   q(z_l | z_{l+1}, x) = N(μ_q,l, σ²_q,l), the precision-weighted
//                combination of the bottom-up and top-down Gaussians:
//                  σ⁻²_q = σ̂⁻² + σ⁻²_p,   μ_q = σ²_q (μ̂ σ̂⁻² + μ_p σ⁻²_p)
//   KL           KL(q(z|x) ‖ p(z)) = Σ_l E_q[KL(q(z_l | z_{l+1}, x) ‖ p(z_l | z_{l+1}))]  (chain rule), each term
//                analytic given the sample of z_{l+1}; the ELBO reports them as kl1 … klL.
// z travels flat with the layers side by side, [z_1, …, z_L] ([B, Σ d_l]); decode reads z_1.
// Networks (tfjs-layers, one input each): encoder (x → 2d_1, mlp or conv), encoder2 … encoderL,
// prior1 … prior{L−1} (p(z_l | z_{l+1})), decoder (z_1 → x). In the browser: z_L ~ N(0, I), then
// prior{L−1} … prior1, then decoder.
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { DiagGaussian, StdNormal } from '../distributions/gaussian.js';
import { normalNoise, type Distribution } from '../distributions/types.js';
import { buildMlp, buildNetworks, initTorchStyle } from '../nn/index.js';
import type { Rng } from '../rng.js';
import { checkRows, decoderWidth, gaussianHead, LatentModelBase } from './base.js';
import type { HvaeConfig } from './configs.js';
import type { LayeredLatent, LayeredPosterior } from './types.js';
import { validateVaeConfig } from './vae.js';
import { prod } from '../util/math.js';

export function validateHvaeConfig(c: HvaeConfig): void {
  const bad = (m: string) => {
    throw new Error(`invalid HVAE config: ${m}`);
  };
  if (
    !Array.isArray(c.latentDims) ||
    c.latentDims.length < 2 ||
    !c.latentDims.every((d) => Number.isInteger(d) && d > 0)
  )
    bad(`latentDims must be two or more positive integers (bottom to top), got ${JSON.stringify(c.latentDims)}`);
  const sum = c.latentDims.reduce((a, b) => a + b, 0);
  if (c.latentDim !== sum) bad(`latentDim must be the sum of latentDims (${sum}), got ${c.latentDim}`);
  if (!Array.isArray(c.layerHidden) || !c.layerHidden.every((d) => Number.isInteger(d) && d > 0))
    bad(`layerHidden must be positive integers, got ${JSON.stringify(c.layerHidden)}`);
  try {
    validateVaeConfig({ ...c, kind: 'vae' });
  } catch (e) {
    bad((e as Error).message.replace(/^invalid VAE config: /, ''));
  }
}

/** p(z_l | z_{l+1}) for l = 0 … L−2 (0-based: layer l is z_{l+1} of the comments). */
type Conditional = (l: number, zAbove: tf.Tensor2D) => DiagGaussian;

// q(z_l | z_{l+1}, x) ∝ q̂_l(z_l) · p(z_l | z_{l+1}):  w = σ²_p / (σ̂² + σ²_p) = sigmoid(log σ²_p − log σ̂²),
//   μ_q = w μ̂ + (1 − w) μ_p,   log σ²_q = log σ̂² − softplus(log σ̂² − log σ²_p)
function precisionWeighted(qHat: DiagGaussian, p: DiagGaussian): DiagGaussian {
  const [mu, logVar] = tf.tidy(() => {
    const w = tf.sigmoid(tf.sub(p.logVar, qHat.logVar));
    return [
      tf.add(p.mu, tf.mul(w, tf.sub(qHat.mu, p.mu))),
      tf.sub(qHat.logVar, tf.softplus(tf.sub(qHat.logVar, p.logVar))),
    ] as tf.Tensor2D[];
  });
  return new DiagGaussian(mu, logVar);
}

function splitLayers(z: tf.Tensor2D, dims: number[]): tf.Tensor2D[] {
  if (z.rank !== 2 || z.shape[1] !== dims.reduce((a, b) => a + b, 0))
    throw new Error(
      `expected z of shape [B, ${dims.reduce((a, b) => a + b, 0)}] (layers ${dims.join(' + ')}), got [${z.shape}]`,
    );
  return tf.split(z, dims, 1) as tf.Tensor2D[];
}

/** p(z) = p(z_L) Π_l p(z_l | z_{l+1}) over the tuple [z_1, …, z_L]. */
export class HierarchicalPrior implements LayeredLatent {
  constructor(
    readonly batch: number,
    readonly dims: number[],
    private readonly conditional: Conditional,
  ) {}

  // ancestral sampling: z_L ~ N(0, I), then z_l ~ p(z_l | z_{l+1}) down to z_1
  sample(rng: Rng): tf.Tensor2D {
    return tf.tidy(() => {
      const L = this.dims.length;
      const zs: tf.Tensor2D[] = new Array(L);
      zs[L - 1] = normalNoise(tf, rng, [this.batch, this.dims[L - 1]]) as tf.Tensor2D;
      for (let l = L - 2; l >= 0; l--) zs[l] = this.conditional(l, zs[l + 1]).sample(rng);
      return tf.concat(zs, 1) as tf.Tensor2D;
    });
  }

  // log p(z) = log N(z_L; 0, I) + Σ_{l<L} log N(z_l; μ_p,l(z_{l+1}), σ²_p,l(z_{l+1}))
  logProb(z: tf.Tensor): tf.Tensor1D {
    return tf.tidy(() => {
      const zs = splitLayers(z as tf.Tensor2D, this.dims);
      const L = this.dims.length;
      const terms = [new StdNormal(this.batch, this.dims[L - 1]).logProb(zs[L - 1])];
      for (let l = 0; l < L - 1; l++) terms.push(this.conditional(l, zs[l + 1]).logProb(zs[l]));
      return tf.addN(terms) as tf.Tensor1D;
    });
  }

  // the mean path: z_L = 0, then z_l = μ_p,l(z_{l+1})
  mean(): tf.Tensor2D {
    return tf.tidy(() => {
      const L = this.dims.length;
      const zs: tf.Tensor2D[] = new Array(L);
      zs[L - 1] = tf.zeros([this.batch, this.dims[L - 1]]);
      for (let l = L - 2; l >= 0; l--) zs[l] = this.conditional(l, zs[l + 1]).mu;
      return tf.concat(zs, 1) as tf.Tensor2D;
    });
  }
}

/** q(z|x) = q(z_L | x) Π_l q(z_l | z_{l+1}, x), from the bottom-up Gaussians q̂_l and the prior's conditionals. */
export class HierarchicalPosterior implements LayeredPosterior {
  readonly dims: number[];
  /** The last sample and its per-layer (q, p) pairs, so klTerms at that sample does not run the networks again. */
  private last: { z: tf.Tensor2D; q: DiagGaussian[]; p: (DiagGaussian | null)[] } | null = null;
  private plugIn: { mu: tf.Tensor2D; logVar: tf.Tensor2D; q: DiagGaussian[]; p: (DiagGaussian | null)[] } | null = null;

  constructor(
    /** q̂_1 … q̂_L, [B, d_l] each. */
    readonly bottomUp: DiagGaussian[],
    private readonly conditional: Conditional,
  ) {
    this.dims = bottomUp.map((g) => g.mu.shape[1]);
  }

  /** q(z_l | z_{l+1}, x) and p(z_l | z_{l+1}) for layer l given z_{l+1} (the top layer: q̂_L and none). */
  private layer(l: number, zAbove: tf.Tensor2D | null): { q: DiagGaussian; p: DiagGaussian | null } {
    if (!zAbove) return { q: this.bottomUp[l], p: null };
    const p = this.conditional(l, zAbove);
    return { q: precisionWeighted(this.bottomUp[l], p), p };
  }

  /** Top-down pass: each layer from the one above, which `pick` draws (a sample, or the mean). */
  private topDown(pick: (q: DiagGaussian) => tf.Tensor2D): {
    zs: tf.Tensor2D[];
    q: DiagGaussian[];
    p: (DiagGaussian | null)[];
  } {
    const L = this.dims.length;
    const zs: tf.Tensor2D[] = new Array(L);
    const q: DiagGaussian[] = new Array(L);
    const p: (DiagGaussian | null)[] = new Array(L);
    for (let l = L - 1; l >= 0; l--) {
      const g = this.layer(l, l === L - 1 ? null : zs[l + 1]);
      q[l] = g.q;
      p[l] = g.p;
      zs[l] = pick(g.q);
    }
    return { zs, q, p };
  }

  // z_L ~ q(z_L | x), then z_l ~ q(z_l | z_{l+1}, x) down to z_1, each reparameterized: z = μ_q + σ_q ⊙ ε
  sample(rng: Rng): tf.Tensor2D {
    const { zs, q, p } = this.topDown((g) => g.sample(rng));
    const z = tf.concat(zs, 1) as tf.Tensor2D;
    this.last = { z, q, p };
    return z;
  }

  // log q(z|x) = log q(z_L | x) + Σ_{l<L} log q(z_l | z_{l+1}, x)
  logProb(z: tf.Tensor): tf.Tensor1D {
    return tf.tidy(() => {
      const zs = splitLayers(z as tf.Tensor2D, this.dims);
      return tf.addN(
        zs.map((zl, l) => this.layer(l, l === zs.length - 1 ? null : zs[l + 1]).q.logProb(zl)),
      ) as tf.Tensor1D;
    });
  }

  // kl_L = KL(q(z_L | x) ‖ N(0, I)),  kl_l = KL(q(z_l | z_{l+1}, x) ‖ p(z_l | z_{l+1})) at the sample's z_{l+1}
  klTerms(z: tf.Tensor2D): tf.Tensor1D[] {
    let pairs = this.last && this.last.z === z ? this.last : null;
    if (!pairs) {
      const zs = splitLayers(z, this.dims);
      const q: DiagGaussian[] = [];
      const p: (DiagGaussian | null)[] = [];
      zs.forEach((_, l) => {
        const g = this.layer(l, l === zs.length - 1 ? null : zs[l + 1]);
        q.push(g.q);
        p.push(g.p);
      });
      pairs = { z, q, p };
    }
    const { q, p } = pairs;
    return q.map((ql, l) => {
      const pl = p[l];
      return pl ? ql.kl(pl) : ql.klStdNormal();
    });
  }

  /** The mean path: z_L = μ̂_L, then each layer's q mean given the means above (computed once). */
  private meanPath(): NonNullable<HierarchicalPosterior['plugIn']> {
    if (!this.plugIn) {
      const { zs, q, p } = this.topDown((g) => g.mu);
      this.plugIn = {
        mu: tf.concat(zs, 1) as tf.Tensor2D,
        logVar: tf.concat(
          q.map((g) => g.logVar),
          1,
        ) as tf.Tensor2D,
        q,
        p,
      };
    }
    return this.plugIn;
  }

  mean(): tf.Tensor2D {
    return this.meanPath().mu;
  }

  get mu(): tf.Tensor2D {
    return this.meanPath().mu;
  }

  get logVar(): tf.Tensor2D {
    return this.meanPath().logVar;
  }

  // per unit: ½(μ_q² + σ²_q − log σ²_q − 1) on the top layer; KL(q(z_l|·) ‖ p(z_l|·)) per unit below, on the mean path
  klStdNormalPerDim(): tf.Tensor2D {
    const { q, p } = this.meanPath();
    return tf.tidy(() => {
      const per = q.map((ql, l) => {
        const pl = p[l];
        if (!pl) return ql.klStdNormalPerDim();
        const t = tf.add(
          tf.sub(pl.logVar, ql.logVar),
          tf.mul(tf.add(tf.exp(ql.logVar), tf.square(tf.sub(ql.mu, pl.mu))), tf.exp(tf.neg(pl.logVar))),
        );
        return tf.mul(tf.sub(t, 1), 0.5) as tf.Tensor2D;
      });
      return tf.concat(per, 1) as tf.Tensor2D;
    });
  }

  /**
   * The top-down pass with the bottom k layers taken from the generative path (Havtorn et al. 2021's L^{>k}):
   * z_L … z_{k+1} ~ q as in sample(), then z_k … z_1 the conditional prior p(z_l | z_{l+1})'s mean ('mean') or
   * a draw from it ('sample'). Returns z and the KL terms of the layers drawn from q (top first), each at the
   * sample above it; the bottom layers add none (q = p there).
   */
  samplePriorBelow(k: number, rng: Rng, bottom: 'mean' | 'sample' = 'mean'): { z: tf.Tensor2D; kl: tf.Tensor1D[] } {
    const L = this.dims.length;
    if (!Number.isInteger(k) || k < 1 || k >= L)
      throw new Error(`samplePriorBelow: k must be an integer in 1 … ${L - 1} (layers from the prior), got ${k}`);
    const zs: tf.Tensor2D[] = new Array(L);
    const kl: tf.Tensor1D[] = [];
    for (let l = L - 1; l >= 0; l--) {
      if (l >= k) {
        const g = this.layer(l, l === L - 1 ? null : zs[l + 1]);
        zs[l] = g.q.sample(rng);
        kl.push(g.p ? g.q.kl(g.p) : g.q.klStdNormal());
      } else {
        const p = this.conditional(l, zs[l + 1]);
        zs[l] = bottom === 'mean' ? p.mu : p.sample(rng);
      }
    }
    return { z: tf.concat(zs, 1) as tf.Tensor2D, kl };
  }

  repeat(L: number): HierarchicalPosterior {
    if (L === 1) return this;
    return new HierarchicalPosterior(
      this.bottomUp.map((g) => g.repeat(L)),
      this.conditional,
    );
  }
}

export class HVAE extends LatentModelBase {
  /** x → [μ̂_1, log σ̂²_1] (the network spec: mlp or conv). */
  readonly encoder: tfl.LayersModel;
  /** z_1 → parameters of p(x | z_1). */
  readonly decoder: tfl.LayersModel;
  /** encoderUp[l − 1]: [μ̂_{l−1}, log σ̂²_{l−1}] → [μ̂_l, log σ̂²_l] for l = 2 … L. */
  readonly encoderUp: tfl.LayersModel[] = [];
  /** priorNets[l − 1]: z_{l+1} → [μ_p,l, log σ²_p,l] for l = 1 … L−1. */
  readonly priorNets: tfl.LayersModel[] = [];
  private readonly D: number;
  private readonly dims: number[];
  private readonly conditional: Conditional;

  constructor(
    readonly config: HvaeConfig,
    rng: Rng,
  ) {
    super();
    validateHvaeConfig(config);
    this.D = prod(config.inputShape);
    this.dims = [...config.latentDims];
    const dims = this.dims;
    const nets = buildNetworks(config.network, config.inputShape, 2 * dims[0], dims[0], decoderWidth(config, this.D));
    this.encoder = nets.encoder;
    this.decoder = nets.decoder;
    const act = config.network.activation;
    for (let l = 1; l < dims.length; l++)
      this.encoderUp.push(buildMlp(`encoder${l + 1}`, 2 * dims[l - 1], config.layerHidden, 2 * dims[l], act));
    for (let l = 0; l < dims.length - 1; l++)
      this.priorNets.push(buildMlp(`prior${l + 1}`, dims[l + 1], config.layerHidden, 2 * dims[l], act));
    for (const net of Object.values(this.networks())) initTorchStyle(net, rng);
    this.conditional = (l, zAbove) => gaussianHead(this.priorNets[l].apply(zAbove) as tf.Tensor2D);
    this.initDecoderScale(config, this.D);
  }

  // p(z) = N(z_L; 0, I) Π_l p(z_l | z_{l+1})
  prior(batch: number): HierarchicalPrior {
    return new HierarchicalPrior(batch, this.dims, this.conditional);
  }

  // bottom-up q̂_1 … q̂_L, combined top-down with p(z_l | z_{l+1}) when sampled
  encode(x: tf.Tensor2D): HierarchicalPosterior {
    checkRows(x, this.D);
    let h = this.encoder.apply(x) as tf.Tensor2D;
    const bottomUp = [gaussianHead(h)];
    for (const net of this.encoderUp) {
      h = net.apply(h) as tf.Tensor2D;
      bottomUp.push(gaussianHead(h));
    }
    return new HierarchicalPosterior(bottomUp, this.conditional);
  }

  /** p(z_l | z_{l+1}) for layer l (0-based, l < L − 1), given z_{l+1} [B, d_{l+1}]: latent traversals walk the generative path with it. */
  conditionalPrior(l: number, zAbove: tf.Tensor2D): DiagGaussian {
    if (!Number.isInteger(l) || l < 0 || l >= this.dims.length - 1)
      throw new Error(`conditionalPrior: layer ${l} has no conditional prior (layers 0 … ${this.dims.length - 2})`);
    return this.conditional(l, zAbove);
  }

  // p(x | z_1): Bernoulli(logits = dec(z_1))  or  N(dec(z_1), σ²)
  decode(z: tf.Tensor2D): Distribution {
    const z1 = splitLayers(z, this.dims)[0];
    return this.observe(this.config.likelihood, this.decoder.apply(z1) as tf.Tensor2D);
  }

  networks(): Record<string, tfl.LayersModel> {
    const out: Record<string, tfl.LayersModel> = { encoder: this.encoder };
    this.encoderUp.forEach((n, i) => (out[`encoder${i + 2}`] = n));
    this.priorNets.forEach((n, i) => (out[`prior${i + 1}`] = n));
    out.decoder = this.decoder;
    return out;
  }
}
