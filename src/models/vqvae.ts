// The Vector-Quantised VAE (van den Oord, Vinyals & Kavukcuoglu, 2017).
//   encoder     z_e(x) ∈ R^{M×D}: an h×w grid of D-vectors (conv networks, M = h·w) or M D-vectors (MLP)
//   codebook    e_1 … e_K ∈ R^D
//   posterior   q(k|x) = δ(k_i = argmin_j ‖z_e,i(x) − e_j‖²)   a deterministic (one-hot) distribution over code indices
//   decoder     p(x|k) = p(x | z_q),  z_q,i = e_{k_i}:  Bernoulli(logits = dec(z_q))  or  N(dec(z_q), σ² I), σ fixed
//   prior       p(k) = K^−M (uniform) while the VQ-VAE trains; then a PixelCNN over the code grid
//               (src/models/vq-prior.ts), fitted to the training codes, so that sampling makes new images
// Training (src/objectives/vq.ts): z_q = z_e + sg[e − z_e] (straight-through),
//   loss = −log p(x | z_q) + ‖sg[z_e] − e‖² + β ‖z_e − sg[e]‖²
// or, with EMA codebook updates (paper, appendix A.1), without the codebook term and with
//   N_k ← γ N_k + (1−γ) n_k,   m_k ← γ m_k + (1−γ) Σ_{i: k_i = k} z_e,i,   e_k = m_k / Ñ_k,
//   Ñ_k = (N_k + ε) / (Σ_j N_j + K ε) · Σ_j N_j   (Laplace smoothing, as Sonnet's VectorQuantizerEMA)
// and, optionally, restarts of dead codes: a code no example used for `restartAfter` steps is moved to a
// random encoder output of the current batch.
//
// The codebook changes outside the gradient step (EMA, restarts): the objective calls
// model.updateCodebook(z_e, k, rng) once per training step, after the assignments and with values only
// (no gradient flows through it), so the shared trainer needs no hook; the EMA state and the restart
// counters are non-trainable variables among namedParameters, so saves and checkpoints carry them.
//
// Latent values, as the shared interface sees them: z is the code grid, either int32 indices [B, M] or a
// one-hot [B, M·K] (what encode(x).sample() and prior(n).sample() return); decode takes both.
//
// Networks (tfjs-layers, flat at the edges): encoder x [B, prod(inputShape)] → z_e [B, M·D] (position-major,
// h×w×D for a grid), decoder z_q [B, M·D] → [B, prod(inputShape)], prior onehot(k) [B, M·K] → logits
// [B, M·K]. In the browser: k ~ prior (raster order), z_q = codebook rows (model.safetensors'
// quantizer.embedding, [K, D], nn.Embedding's layout), then decoder.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { decoderLogVariance } from '../distributions/gaussian.js';
import type { Distribution } from '../distributions/types.js';
import { buildMlp, initTorchStyle, netBody } from '../nn/index.js';
import { convSizes, deconvToImage, imageDims, type ConvSpec } from '../nn/conv.js';
import type { Rng } from '../rng.js';
import { isPosInt, prod } from '../util/math.js';
import { checkRows, LatentModelBase, observation } from './base.js';
import { buildPixelCnn, validateVqPriorConfig } from '../nn/pixelcnn.js';
import { codeIndices, CodePosterior, CodePrior } from '../distributions/codes.js';
import type { VqvaeConfig } from './configs.js';

export const VQVAE_DEFAULTS = { commitment: 0.25, ema: { decay: 0.99, epsilon: 1e-5 }, sigma: 1 } as const;

export function validateVqvaeConfig(c: VqvaeConfig): void {
  const bad = (m: string) => {
    throw new Error(`invalid VQ-VAE config: ${m}`);
  };
  if (!Array.isArray(c.inputShape) || c.inputShape.length === 0 || !c.inputShape.every(isPosInt))
    bad(`inputShape must be positive integers, got ${JSON.stringify(c.inputShape)}`);
  if (c.likelihood !== 'bernoulli' && c.likelihood !== 'gaussian')
    bad(`likelihood must be bernoulli or gaussian, got ${c.likelihood}`);
  if (c.sigma !== undefined && !(typeof c.sigma === 'number' && c.sigma > 0 && Number.isFinite(c.sigma)))
    bad(
      `sigma must be a positive number (the VQ-VAE's Gaussian decoder has a fixed σ), got ${JSON.stringify(c.sigma)}`,
    );
  if (!isPosInt(c.codebookSize) || c.codebookSize < 2)
    bad(`codebookSize must be an integer ≥ 2, got ${c.codebookSize}`);
  if (!isPosInt(c.codeDim)) bad(`codeDim must be a positive integer, got ${c.codeDim}`);
  if (!(Number.isFinite(c.commitment) && c.commitment >= 0))
    bad(`commitment must be a non-negative number, got ${c.commitment}`);
  if (c.network?.type === 'mlp' && !isPosInt(c.numCodes))
    bad(`numCodes (codes per example) must be a positive integer for an MLP network, got ${c.numCodes}`);
  if (c.network?.type === 'conv' && c.numCodes !== undefined)
    bad('numCodes is set by a conv network (its h×w grid); leave it out');
  if (c.ema) {
    if (!(c.ema.decay > 0 && c.ema.decay < 1)) bad(`ema.decay must be in (0, 1), got ${c.ema.decay}`);
    if (!(c.ema.epsilon >= 0 && Number.isFinite(c.ema.epsilon)))
      bad(`ema.epsilon must be a non-negative number, got ${c.ema.epsilon}`);
  }
  if (c.restartAfter !== undefined && !(Number.isInteger(c.restartAfter) && c.restartAfter >= 0))
    bad(`restartAfter must be a non-negative integer (steps), got ${c.restartAfter}`);
  if (c.prior !== null) {
    try {
      validateVqPriorConfig(c.prior);
    } catch (e) {
      bad((e as Error).message.replace(/^invalid VQ prior: /, 'prior: '));
    }
  }
}

/** The spatial conv encoder: x → H×W×C → [conv c_i, k×k/s, same → act]_i → [1×1 conv d_j → act]_j → 1×1 conv D → flat [B, h·w·D]. */
function buildVqConvEncoder(spec: ConvSpec, inputShape: number[], D: number): tfl.LayersModel {
  const body = netBody(spec);
  const act = body.activation ?? 'relu';
  const [H, W, C] = imageDims(inputShape);
  const { channels, kernel, stride } = body.conv!;
  const x = tfl.input({ shape: [H * W * C], name: 'encoder_x' });
  let h = tfl.layers.reshape({ targetShape: [H, W, C], name: 'encoder_image' }).apply(x) as tfl.SymbolicTensor;
  channels.forEach((filters, i) => {
    h = tfl.layers
      .conv2d({
        filters,
        kernelSize: kernel,
        strides: stride,
        padding: 'same',
        activation: act,
        name: `encoder_conv${i}`,
      })
      .apply(h) as tfl.SymbolicTensor;
  });
  body.dense.forEach((filters, i) => {
    h = tfl.layers
      .conv2d({ filters, kernelSize: 1, activation: act, name: `encoder_pointwise${i}` })
      .apply(h) as tfl.SymbolicTensor;
  });
  h = tfl.layers
    .conv2d({ filters: D, kernelSize: 1, activation: 'linear', name: 'encoder_out' })
    .apply(h) as tfl.SymbolicTensor;
  const out = tfl.layers.flatten({ name: 'encoder_flatten' }).apply(h) as tfl.SymbolicTensor;
  return tfl.model({ inputs: x, outputs: out, name: 'encoder' });
}

/**
 * The mirrored decoder: flat z_q → h×w×D → [1×1 conv d_j → act]_j (reversed) → k×k conv c_L → act
 * → [transposed conv c_{i−1}, k×k/s → act]_i → transposed conv (outChannels, linear) → crop → flat.
 */
function buildVqConvDecoder(
  spec: ConvSpec,
  inputShape: number[],
  grid: [number, number],
  D: number,
  outChannels: number,
): tfl.LayersModel {
  const body = netBody(spec);
  const act = body.activation ?? 'relu';
  const [H, W] = imageDims(inputShape);
  const { channels, kernel } = body.conv!;
  const [hL, wL] = grid;
  const z = tfl.input({ shape: [hL * wL * D], name: 'decoder_z' });
  let h = tfl.layers.reshape({ targetShape: [hL, wL, D], name: 'decoder_grid' }).apply(z) as tfl.SymbolicTensor;
  [...body.dense].reverse().forEach((filters, i) => {
    h = tfl.layers
      .conv2d({ filters, kernelSize: 1, activation: act, name: `decoder_pointwise${i}` })
      .apply(h) as tfl.SymbolicTensor;
  });
  h = tfl.layers
    .conv2d({
      filters: channels[channels.length - 1],
      kernelSize: kernel,
      padding: 'same',
      activation: act,
      name: 'decoder_map',
    })
    .apply(h) as tfl.SymbolicTensor;
  h = deconvToImage('decoder', h, body.conv!, act, [H, W, outChannels], grid);
  const out = tfl.layers.flatten({ name: 'decoder_flatten' }).apply(h) as tfl.SymbolicTensor;
  return tfl.model({ inputs: z, outputs: out, name: 'decoder' });
}

/** Squared distances ‖z_n − e_k‖² [N, K] of rows z [N, D] to codes E [K, D]: ‖z‖² − 2 z·e + ‖e‖². */
export function squaredDistances(z: tf.Tensor2D, E: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const zz = tf.sum(tf.square(z), 1, true);
    const ee = tf.reshape(tf.sum(tf.square(E), 1), [1, -1]);
    return tf.add(tf.sub(zz, tf.mul(tf.matMul(z, E, false, true), 2)), ee) as tf.Tensor2D;
  });
}

/** k_n = argmin_k ‖z_n − e_k‖² for rows z [N, D], as plain int32 data (no gradient path). */
export function nearestCodes(z: tf.Tensor2D, E: tf.Tensor2D): Int32Array {
  // ‖z‖² is the same for every k, so argmin_k (‖e_k‖² − 2 z·e_k)
  const s = tf.tidy(() => {
    const ee = tf.reshape(tf.sum(tf.square(E), 1), [1, -1]);
    return tf.sub(ee, tf.mul(tf.matMul(z, E, false, true), 2)).dataSync() as Float32Array;
  });
  // the argmin over each row in plain JS (tfjs-cpu's ArgMin is several times slower), first minimum on ties
  const K = E.shape[0];
  const out = new Int32Array(z.shape[0]);
  for (let n = 0; n < out.length; n++) {
    let best = 0;
    let bestS = s[n * K];
    for (let k = 1; k < K; k++) {
      const v = s[n * K + k];
      if (v < bestS) {
        best = k;
        bestS = v;
      }
    }
    out[n] = best;
  }
  return out;
}

export class VQVAE extends LatentModelBase {
  readonly encoder: tfl.LayersModel;
  readonly decoder: tfl.LayersModel;
  /** The PixelCNN prior over the code grid (null: the uniform prior only). */
  readonly priorNet: tfl.LayersModel | null = null;
  /** e_1 … e_K, [K, D]: trained by the codebook loss, or set by the EMA updates (then not trainable). */
  readonly codebook: tf.Variable;
  /** EMA state (paper A.1): N_k [K] and m_k [K, D]. */
  readonly emaClusterSize: tf.Variable | null = null;
  readonly emaW: tf.Variable | null = null;
  /** Steps since each code was last assigned [K] (kept when restartAfter > 0). */
  readonly unusedSteps: tf.Variable | null = null;
  /** M codes per example, laid out as an h×w grid (a conv encoder's last feature map; 1×M for an MLP). */
  readonly numCodes: number;
  readonly grid: [number, number];
  readonly K: number;
  readonly D: number;
  private readonly xDim: number;

  constructor(
    readonly config: VqvaeConfig,
    rng: Rng,
  ) {
    super();
    validateVqvaeConfig(config);
    const { codebookSize: K, codeDim: D, network } = config;
    this.K = K;
    this.D = D;
    this.xDim = prod(config.inputShape);
    if (network.type === 'conv') {
      const [H, W] = imageDims(config.inputShape);
      const sizes = convSizes(H, W, network.channels.length, network.stride);
      this.grid = sizes[sizes.length - 1];
      this.encoder = buildVqConvEncoder(network, config.inputShape, D);
      this.decoder = buildVqConvDecoder(network, config.inputShape, this.grid, D, imageDims(config.inputShape)[2]);
    } else if (network.type === 'mlp') {
      this.grid = [1, config.numCodes as number];
      const M = config.numCodes as number;
      this.encoder = buildMlp('encoder', this.xDim, network.hidden, M * D, network.activation);
      this.decoder = buildMlp('decoder', M * D, [...network.hidden].reverse(), this.xDim, network.activation);
    } else {
      throw new Error(`unknown network type "${(network as { type: string }).type}" (expected mlp or conv)`);
    }
    this.numCodes = this.grid[0] * this.grid[1];
    initTorchStyle(this.encoder, rng);
    initTorchStyle(this.decoder, rng);
    if (config.prior) {
      this.priorNet = buildPixelCnn('prior', this.grid, K, config.prior);
      initTorchStyle(this.priorNet, rng);
    }
    // e_k ~ U(−1/K, 1/K) (the reference PyTorch VQ-VAE's nn.Embedding initialisation)
    const e0 = rng.fillUniform(new Float32Array(K * D), -1 / K, 1 / K);
    this.codebook = tf.variable(tf.tensor2d(e0, [K, D]), !config.ema);
    if (config.ema) {
      // N_k = 1, m_k = e_k: every code starts as if it had been assigned once, to itself (e = m/N holds at step 0)
      this.emaClusterSize = tf.variable(tf.ones([K]), false);
      this.emaW = tf.variable(tf.tensor2d(e0, [K, D]), false);
    }
    if (config.restartAfter) this.unusedSteps = tf.variable(tf.zeros([K]), false);
    if (config.likelihood === 'gaussian')
      this.decoderLogVar = decoderLogVariance(config.sigma ?? VQVAE_DEFAULTS.sigma, this.xDim); // fixed σ only
  }

  /** z_e(x), [B, M, D]. */
  encodeContinuous(x: tf.Tensor2D): tf.Tensor3D {
    checkRows(x, this.xDim);
    return tf.tidy(
      () => tf.reshape(this.encoder.apply(x) as tf.Tensor2D, [x.shape[0], this.numCodes, this.D]) as tf.Tensor3D,
    );
  }

  // k_i = argmin_j ‖z_e,i − e_j‖²,  e = e_k  (the indices carry no gradient; e does, to the codebook)
  quantize(zE: tf.Tensor3D): { indices: tf.Tensor2D; e: tf.Tensor3D } {
    const [B, M, D] = zE.shape;
    const k = tf.tidy(() => nearestCodes(tf.reshape(zE, [B * M, D]) as tf.Tensor2D, this.codebook as tf.Tensor2D));
    const indices = tf.tensor2d(k, [B, M], 'int32');
    // e = onehot(k) E: a matmul, whose gradient onehot(k)ᵀ ∂L/∂e is far faster on the CPU backends than gather's (unsortedSegmentSum)
    const e = tf.tidy(
      () =>
        tf.reshape(tf.matMul(tf.cast(tf.oneHot(tf.tensor1d(k, 'int32'), this.K), 'float32'), this.codebook), [
          B,
          M,
          D,
        ]) as tf.Tensor3D,
    );
    return { indices, e };
  }

  /** k(x): the code grid of x, int32 [B, M]. */
  encodeIndices(x: tf.Tensor2D): tf.Tensor2D {
    const B = x.shape[0];
    const k = tf.tidy(() =>
      nearestCodes(
        tf.reshape(this.encodeContinuous(x), [B * this.numCodes, this.D]) as tf.Tensor2D,
        this.codebook as tf.Tensor2D,
      ),
    );
    return tf.tensor2d(k, [B, this.numCodes], 'int32');
  }

  /** q(k|x) = δ(k = k(x)). */
  encode(x: tf.Tensor2D): CodePosterior {
    return new CodePosterior(this.encodeIndices(x), this.K);
  }

  /** z_q = (e_{k_1}, …, e_{k_M}) [B, M, D] of codes z (indices [B, M], or a one-hot [B, M·K]: a soft one-hot mixes codes). */
  lookup(z: tf.Tensor2D): tf.Tensor3D {
    return tf.tidy(() => {
      const B = z.shape[0];
      if (z.rank === 2 && z.shape[1] === this.numCodes)
        return tf.reshape(tf.gather(this.codebook, tf.reshape(codeIndices(z, this.numCodes, this.K), [-1])), [
          B,
          this.numCodes,
          this.D,
        ]) as tf.Tensor3D;
      if (z.rank !== 2 || z.shape[1] !== this.numCodes * this.K)
        throw new Error(
          `expected codes as indices [B, ${this.numCodes}] or a one-hot [B, ${this.numCodes * this.K}], got [${z.shape}]`,
        );
      return tf.reshape(tf.matMul(tf.reshape(z, [B * this.numCodes, this.K]), this.codebook), [
        B,
        this.numCodes,
        this.D,
      ]) as tf.Tensor3D;
    });
  }

  // p(x | z_q): Bernoulli(logits = dec(z_q))  or  N(dec(z_q), σ²)
  decodeLatent(zQ: tf.Tensor3D | tf.Tensor2D): Distribution {
    const B = zQ.shape[0];
    const out = tf.tidy(
      () => this.decoder.apply(zQ.rank === 2 ? zQ : tf.reshape(zQ, [B, this.numCodes * this.D])) as tf.Tensor2D,
    );
    return observation(this.config.likelihood, out, this.decoderLogVar as tf.Tensor2D);
  }

  /** p(x | k) for codes z: int32 indices [B, M] or one-hot [B, M·K]. */
  decode(z: tf.Tensor2D): Distribution {
    return this.decodeLatent(this.lookup(z));
  }

  /** p(k): the PixelCNN (uniform before config.prior is trained, if it is null). */
  prior(batch: number): CodePrior {
    return new CodePrior(this.priorNet, batch, this.grid, this.K);
  }

  /** n new examples: k ~ p(k) ancestrally (logits / temperature), then the decoder's mean, [n, D_x]. */
  sample(n: number, rng: Rng, opts: { temperature?: number } = {}): tf.Tensor2D {
    return tf.tidy(() => this.decode(this.prior(n).sampleIndices(rng, opts.temperature ?? 1)).mean() as tf.Tensor2D);
  }

  /**
   * The codebook's own update after a training step's assignments k for encoder outputs z_e [B, M, D]:
   * the EMA update (if config.ema), then restarts of codes unused for config.restartAfter steps (if set).
   * Values only: nothing here is differentiated. Returns the assignment counts n_k and the codes restarted.
   */
  updateCodebook(zE: tf.Tensor3D, indices: tf.Tensor2D, rng: Rng): { counts: Float64Array; restarted: number[] } {
    const { K, D } = this;
    const idx = indices.dataSync();
    const counts = new Float64Array(K);
    for (let i = 0; i < idx.length; i++) counts[idx[i]] += 1;
    const ema = this.config.ema;
    if (ema && this.emaClusterSize && this.emaW) {
      const { decay: g, epsilon: eps } = ema;
      tf.tidy(() => {
        const z = tf.reshape(zE, [-1, D]) as tf.Tensor2D;
        const sums = tf.matMul(tf.cast(tf.oneHot(tf.tensor1d(idx, 'int32'), K), 'float32'), z, true, false); // Σ_{i: k_i = k} z_e,i = onehot(k)ᵀ z_e
        const N = tf.add(tf.mul(this.emaClusterSize!, g), tf.mul(tf.tensor1d(Float32Array.from(counts)), 1 - g)); // N ← γN + (1−γ)n
        const m = tf.add(tf.mul(this.emaW!, g), tf.mul(sums, 1 - g)); //                                            m ← γm + (1−γ)Σz
        const n = tf.sum(N);
        const Ns = tf.mul(tf.div(tf.add(N, eps), tf.add(n, K * eps)), n); //                                  Ñ = (N + ε)/(n + Kε)·n
        this.emaClusterSize!.assign(N);
        this.emaW!.assign(m);
        this.codebook.assign(tf.div(m, tf.reshape(Ns, [K, 1]))); //                                           e = m / Ñ
      });
    }
    const restarted: number[] = [];
    const after = this.config.restartAfter ?? 0;
    if (after > 0 && this.unusedSteps) {
      const unused = Float32Array.from(this.unusedSteps.dataSync());
      for (let k = 0; k < K; k++) {
        unused[k] = counts[k] > 0 ? 0 : unused[k] + 1;
        if (unused[k] >= after) restarted.push(k);
      }
      if (restarted.length) {
        // e_k ← z_e,r for distinct random rows r of the batch (N_k = 1, m_k = e_k with EMA, as at initialisation)
        const rows = idx.length;
        const z = zE.dataSync();
        const E = Float32Array.from(this.codebook.dataSync());
        const Nk = this.emaClusterSize ? Float32Array.from(this.emaClusterSize.dataSync()) : null;
        const W = this.emaW ? Float32Array.from(this.emaW.dataSync()) : null;
        const taken = new Set<number>();
        for (const k of restarted) {
          let r = rng.int(rows);
          while (taken.has(r) && taken.size < rows) r = rng.int(rows);
          taken.add(r);
          const row = z.subarray(r * D, (r + 1) * D);
          E.set(row, k * D);
          if (W) W.set(row, k * D);
          if (Nk) Nk[k] = 1;
          unused[k] = 0;
        }
        tf.tidy(() => {
          this.codebook.assign(tf.tensor2d(E, [K, D]));
          if (W) this.emaW!.assign(tf.tensor2d(W, [K, D]));
          if (Nk) this.emaClusterSize!.assign(tf.tensor1d(Nk));
        });
      }
      tf.tidy(() => this.unusedSteps!.assign(tf.tensor1d(unused)));
    }
    return { counts, restarted };
  }

  networks(): Record<string, tfl.LayersModel> {
    const nets: Record<string, tfl.LayersModel> = { encoder: this.encoder, decoder: this.decoder };
    if (this.priorNet) nets.prior = this.priorNet;
    return nets;
  }

  /**
   * Beyond the networks' weights (`encoder.layers.i.weight`, …, `prior.layers.i.bias`): the codebook
   * `quantizer.embedding` [K, D] (nn.Embedding(K, D).weight), and the non-trainable state:
   * `quantizer.ema_cluster_size` [K], `quantizer.ema_w` [K, D] (EMA), `quantizer.unused_steps` [K] (restarts).
   */
  protected override ownParameters(): Record<string, tf.Variable> {
    const out: Record<string, tf.Variable> = { 'quantizer.embedding': this.codebook };
    if (this.emaClusterSize) out['quantizer.ema_cluster_size'] = this.emaClusterSize;
    if (this.emaW) out['quantizer.ema_w'] = this.emaW;
    if (this.unusedSteps) out['quantizer.unused_steps'] = this.unusedSteps;
    return out;
  }
}
