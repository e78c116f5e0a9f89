// Recurrent encoders and decoders for sequences (GRU, Cho et al. 2014; LSTM, Hochreiter & Schmidhuber 1997),
// as in the sentence VAE of Bowman et al. (2016). Sequences travel flat, x [B, T·W] (T steps of W values:
// a one-hot token over a vocabulary of W, or W channels of a numeric series), step-major (x[t·W + w]).
//
//   encoder  x → T×W → [dense E, no bias: embedding] → (bi)RNN → final states [h_fwd, h_bwd]
//              → dense outDim (linear), e.g. [μ, log σ²]
//   decoder  (z, x_prev) → T×W → [embedding] ⊕ z at every step → RNN(h_0 = tanh(dense(z)) [, c_0 = dense(z)])
//              → dense O per step → flat [B, T·O]
//   x_prev is the input sequence shifted one step right: x_prev[0] = 0 (begin), x_prev[t] = x[t−1] (teacher
//   forcing in training; the model's own previous output when generating).
//
// The tfjs-layers models define the architecture, own the weights and save in the browser format (the
// decoder is causal: out[t] depends on x_prev[≤ t] only, so a browser can generate by feeding its outputs
// back). The same computation also runs here through a fused path (apply / step): tfjs-layers' RNN
// slices the gates out of the last axis at every step, and tfjs-cpu's SplitV takes a per-element slow
// path there (~70 ms a split at B=64, H=128), which made one GRU step of training cost more than a second.
// The fused path splits the weights once per call and keeps every per-step tensor contiguous
// (time-major); tests check it against model.apply.
//
// Cells compute what torch.nn.GRU / torch.nn.LSTM compute (the saved weights load into them, src/models/state-dict.ts):
//   GRU   r = σ(x W_r + b_ir + h U_r + b_hr)   z = σ(x W_z + b_iz + h U_z + b_hz)
//         n = tanh(x W_n + b_in + r ⊙ (h U_n + b_hn))   h' = (1 − z) ⊙ n + z ⊙ h      (resetAfter: src/nn/gru-cell.ts)
//   LSTM  [i, f, g, o] = [σ, σ, tanh, σ](x W + h U + b)   c' = f ⊙ c + i ⊙ g   h' = o ⊙ tanh(c')   (tfjs-layers' LSTM;
//         its one bias b is PyTorch's b_ih + b_hh)
// Models saved before vaekit 0.2 have the GRU of tfjs-layers (spec.resetAfter absent), kept as it was:
//   GRU-v1 z = σ(x W_z + h U_z + b_z)   r = σ(x W_r + h U_r + b_r)   h̃ = tanh(x W_h + (r ⊙ h) U_h + b_h)
//         h' = z ⊙ h + (1 − z) ⊙ h̃                                   (reset before U_h: Keras reset_after=False)
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { Rng } from '../rng.js';
import { TorchGRU } from './gru-cell.js';
import { fanIn } from './init.js';
import { isPosInt } from '../util/math.js';

export type RnnCellKind = 'gru' | 'lstm';

export interface RnnSpec {
  type: 'rnn';
  cell: RnnCellKind;
  /** Hidden units H of the recurrent layer (per direction). */
  hidden: number;
  /** Width E of a learned linear embedding of each step's input (dense W → E, no bias); 0 or absent: none. */
  embedding?: number;
  /** Encoder reads the sequence both ways and concatenates the two final states (default true). */
  bidirectional?: boolean;
  /**
   * GRU only: true is PyTorch's nn.GRU (the reset gate applied after the recurrent product, separate input and
   * hidden biases), what new models use; absent or false is the GRU of models saved before (tfjs-layers').
   */
  resetAfter?: boolean;
}

/** The recurrence a layer computes: PyTorch's GRU, the GRU of models saved before (tfjs-layers'), or the LSTM. */
export type RecurrentKind = 'gru' | 'gru-v1' | 'lstm';

export function recurrentKindOf(spec: RnnSpec): RecurrentKind {
  return spec.cell === 'lstm' ? 'lstm' : spec.resetAfter ? 'gru' : 'gru-v1';
}

export function validateRnnSpec(spec: RnnSpec): void {
  const bad = (m: string) => {
    throw new Error(`invalid rnn network: ${m}`);
  };
  if (spec.type !== 'rnn') bad(`type must be "rnn", got ${JSON.stringify(spec.type)}`);
  if (spec.cell !== 'gru' && spec.cell !== 'lstm') bad(`cell must be gru or lstm, got ${JSON.stringify(spec.cell)}`);
  if (!isPosInt(spec.hidden)) bad(`hidden must be a positive integer, got ${spec.hidden}`);
  if (spec.embedding !== undefined && spec.embedding !== 0 && !isPosInt(spec.embedding))
    bad(`embedding must be a non-negative integer, got ${spec.embedding}`);
  if (spec.bidirectional !== undefined && typeof spec.bidirectional !== 'boolean')
    bad(`bidirectional must be true or false, got ${spec.bidirectional}`);
  if (spec.resetAfter !== undefined && typeof spec.resetAfter !== 'boolean')
    bad(`resetAfter must be true or false, got ${JSON.stringify(spec.resetAfter)}`);
  if (spec.resetAfter && spec.cell !== 'gru') bad('resetAfter is a GRU setting (the LSTM has no reset gate)');
}

/**
 * Gates per cell, in the order of the kernels' columns: GRU [r, z, n] (PyTorch's), GRU-v1 [z, r, h̃] (tfjs-layers'),
 * LSTM [i, f, g, o] (both's).
 */
const GATES: Record<RecurrentKind, number> = { gru: 3, 'gru-v1': 3, lstm: 4 };

/** PyTorch's gate k is the kernels' column block TORCH_GATE_ORDER[kind][k] (PyTorch: GRU [r, z, n], LSTM [i, f, g, o]). */
export const TORCH_GATE_ORDER: Record<RecurrentKind, number[]> = {
  gru: [0, 1, 2],
  'gru-v1': [1, 0, 2],
  lstm: [0, 1, 2, 3],
};

function recurrentLayer(spec: RnnSpec, name: string, returnSequences: boolean): tfl.RNN {
  // Weights are set by initRnnNetwork from vaekit's RNG; 'zeros' keeps tfjs's own initialisers (and its
  // orthogonal one, which needs chained ops) out of the way.
  const args = {
    units: spec.hidden,
    activation: 'tanh' as const,
    recurrentActivation: 'sigmoid' as const,
    kernelInitializer: 'zeros' as const,
    recurrentInitializer: 'zeros' as const,
    returnSequences,
    name,
  };
  if (spec.cell === 'gru' && spec.resetAfter) return new TorchGRU({ units: spec.hidden, returnSequences, name });
  return spec.cell === 'gru' ? tfl.layers.gru(args) : tfl.layers.lstm(args);
}

function stepsOf(name: string, x: tfl.SymbolicTensor, steps: number, width: number, spec: RnnSpec): tfl.SymbolicTensor {
  let h = tfl.layers.reshape({ targetShape: [steps, width], name: `${name}_steps` }).apply(x) as tfl.SymbolicTensor;
  if (spec.embedding)
    h = tfl.layers
      .dense({ units: spec.embedding, useBias: false, name: `${name}_embed` })
      .apply(h) as tfl.SymbolicTensor;
  return h;
}

/** x flat [B, T·W] → [B, outDim] from the final states of a (bidirectional) RNN. */
export function buildRnnEncoderNet(
  name: string,
  spec: RnnSpec,
  steps: number,
  width: number,
  outDim: number,
): tfl.LayersModel {
  validateRnnSpec(spec);
  for (const [k, v] of [
    ['steps', steps],
    ['width', width],
    ['outDim', outDim],
  ] as const)
    if (!isPosInt(v)) throw new Error(`${name}: ${k} must be a positive integer, got ${v}`);
  const x = tfl.input({ shape: [steps * width], name: `${name}_x` });
  let h = stepsOf(name, x, steps, width, spec);
  const bidirectional = spec.bidirectional ?? true;
  const rnn = bidirectional
    ? tfl.layers.bidirectional({
        layer: recurrentLayer(spec, `${name}_rnn_cell`, false),
        mergeMode: 'concat',
        name: `${name}_rnn`,
      })
    : recurrentLayer(spec, `${name}_rnn`, false);
  h = rnn.apply(h) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: outDim, name: `${name}_out` }).apply(h) as tfl.SymbolicTensor;
  return tfl.model({ inputs: x, outputs: out, name });
}

/** [z [B, zDim], x_prev flat [B, T·W]] → flat [B, T·outWidth] (teacher forcing; causal in x_prev). */
export function buildRnnDecoderNet(
  name: string,
  spec: RnnSpec,
  steps: number,
  width: number,
  zDim: number,
  outWidth: number,
): tfl.LayersModel {
  validateRnnSpec(spec);
  for (const [k, v] of [
    ['steps', steps],
    ['width', width],
    ['zDim', zDim],
    ['outWidth', outWidth],
  ] as const)
    if (!isPosInt(v)) throw new Error(`${name}: ${k} must be a positive integer, got ${v}`);
  const z = tfl.input({ shape: [zDim], name: `${name}_z` });
  const prev = tfl.input({ shape: [steps * width], name: `${name}_prev` });
  let h = stepsOf(name, prev, steps, width, spec);
  const zs = tfl.layers.repeatVector({ n: steps, name: `${name}_zsteps` }).apply(z) as tfl.SymbolicTensor;
  h = tfl.layers.concatenate({ axis: -1, name: `${name}_concat` }).apply([h, zs]) as tfl.SymbolicTensor; // [emb(x_{t−1}), z]
  const init = [
    tfl.layers.dense({ units: spec.hidden, activation: 'tanh', name: `${name}_init_h` }).apply(z) as tfl.SymbolicTensor,
  ];
  if (spec.cell === 'lstm')
    init.push(tfl.layers.dense({ units: spec.hidden, name: `${name}_init_c` }).apply(z) as tfl.SymbolicTensor);
  const rnn = recurrentLayer(spec, `${name}_rnn`, true);
  h = rnn.apply([h, ...init]) as tfl.SymbolicTensor; //                   [sequence, h_0 (, c_0)]: the states are inputs of the node
  // tfjs also keeps the symbolic initial states as the node's call arguments, which do not serialise (a
  // console warning at every save); the node's extra inputs already carry them, and that is all a loaded
  // model has, so drop the copy.
  for (const node of (rnn as unknown as { inboundNodes: { callArgs?: Record<string, unknown> }[] }).inboundNodes)
    delete node.callArgs?.initialState;
  h = tfl.layers.dense({ units: outWidth, name: `${name}_out` }).apply(h) as tfl.SymbolicTensor;
  const out = tfl.layers
    .reshape({ targetShape: [steps * outWidth], name: `${name}_flat` })
    .apply(h) as tfl.SymbolicTensor;
  return tfl.model({ inputs: [z, prev], outputs: out, name });
}

/** The recurrent layers inside a (bidirectional) layer: [forward] or [forward, backward]. */
function cellsOf(layer: tfl.layers.Layer): tfl.RNN[] {
  const cls = layer.getClassName();
  if (cls === 'Bidirectional') {
    const b = layer as unknown as { forwardLayer: tfl.RNN; backwardLayer: tfl.RNN };
    return [b.forwardLayer, b.backwardLayer];
  }
  if (cls === 'GRU' || cls === 'LSTM') return [layer as tfl.RNN];
  if (layer instanceof TorchGRU) return [layer];
  return [];
}

function kindOfLayer(layer: tfl.RNN): RecurrentKind {
  const cls = layer.getClassName();
  if (cls === 'GRU') return 'gru-v1';
  if (cls === 'LSTM') return 'lstm';
  if (layer instanceof TorchGRU) return 'gru';
  throw new Error(`rnn: expected a GRU or LSTM layer, got ${cls}`);
}

/**
 * PyTorch-style initialisation from vaekit's RNG: dense layers uniform ±1/√fan_in (nn.Linear), recurrent
 * weights and biases uniform ±1/√H (nn.GRU / nn.LSTM).
 */
export function initRnnNetwork(model: tfl.LayersModel, rng: Rng): void {
  for (const layer of model.layers) {
    const weights = layer.getWeights();
    if (weights.length === 0) continue;
    const rnns = cellsOf(layer);
    const bound = rnns.length
      ? 1 / Math.sqrt((rnns[0].cell as unknown as { units: number }).units)
      : 1 / Math.sqrt(fanIn(layer.getClassName(), weights[0].shape));
    const fresh = weights.map((w) => tf.tensor(rng.fillUniform(new Float32Array(w.size), -bound, bound), w.shape));
    layer.setWeights(fresh);
    fresh.forEach((t) => t.dispose());
  }
}

/** One direction of a recurrent layer, as its variables are named: `${prefix}.weight_ih${suffix}` etc. */
export interface RecurrentGroup {
  /** `${net}.rnn` */
  prefix: string;
  /** '_l0' (forward) or '_l0_reverse' (the backward direction of a bidirectional layer). */
  suffix: '_l0' | '_l0_reverse';
  kind: RecurrentKind;
  hidden: number;
}

/** The recurrent directions of an RNN network, named as rnnParameters names their variables. */
export function recurrentGroups(net: string, model: tfl.LayersModel): RecurrentGroup[] {
  return model.layers.flatMap((layer) =>
    cellsOf(layer).map((r, dir) => ({
      prefix: `${net}.rnn`,
      suffix: dir === 0 ? ('_l0' as const) : ('_l0_reverse' as const),
      kind: kindOfLayer(r),
      hidden: (r.cell as unknown as { units: number }).units,
    })),
  );
}

/**
 * Named parameters of an RNN network in PyTorch's naming: `${net}.embed.weight`, `${net}.init_h.weight`,
 * `${net}.rnn.weight_ih_l0` / `weight_hh_l0` / `bias_ih_l0` [/ `bias_hh_l0`] (`…_reverse` for the backward
 * direction), `${net}.out.weight`. The variables are in tfjs's layout (Dense [in, out]; recurrent kernels
 * [in, G·H] and [H, G·H] with the gates along the columns); src/models/state-dict.ts maps them to PyTorch's
 * ([out, in], [G·H, in], gates in PyTorch's order, bias_hh zero where the cell has one bias).
 */
export function rnnParameters(net: string, model: tfl.LayersModel): Record<string, tf.Variable> {
  const out: Record<string, tf.Variable> = {};
  const prefix = `${model.name}_`;
  for (const layer of model.layers) {
    if (layer.trainableWeights.length === 0) continue;
    const module = layer.name.startsWith(prefix) ? layer.name.slice(prefix.length) : layer.name;
    const rnns = cellsOf(layer);
    if (rnns.length) {
      rnns.forEach((r, dir) => {
        const suffix = dir === 0 ? '_l0' : '_l0_reverse';
        const [k, u, b, bh] = r.trainableWeights;
        out[`${net}.rnn.weight_ih${suffix}`] = k.read() as tf.Variable;
        out[`${net}.rnn.weight_hh${suffix}`] = u.read() as tf.Variable;
        if (b) out[`${net}.rnn.bias_ih${suffix}`] = b.read() as tf.Variable;
        if (bh) out[`${net}.rnn.bias_hh${suffix}`] = bh.read() as tf.Variable;
      });
      continue;
    }
    const names = ['weight', 'bias'];
    layer.trainableWeights.forEach(
      (w, j) => (out[`${net}.${module}.${names[j] ?? `p${j}`}`] = w.read() as tf.Variable),
    );
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// The fused path

/** One direction's weights split by gate: W_g [in, H], U_g [H, H], b_g [H] (or null), b_hg [H] (PyTorch's GRU). */
interface GateWeights {
  kind: RecurrentKind;
  H: number;
  W: tf.Tensor2D[];
  U: tf.Tensor2D[];
  b: tf.Tensor1D[] | null;
  bh: tf.Tensor1D[] | null;
}

/** Splits a GRU/LSTM layer's kernels by gate (column slices: once per call, not per step). */
function gateWeights(layer: tfl.RNN): GateWeights {
  const kind = kindOfLayer(layer);
  const cell = layer.cell as unknown as {
    units: number;
    activation?: { getClassName(): string };
    recurrentActivation?: { getClassName(): string };
  };
  if (kind !== 'gru') {
    const act = cell.activation!.getClassName().toLowerCase();
    const rec = cell.recurrentActivation!.getClassName().toLowerCase();
    if (act !== 'tanh' || rec !== 'sigmoid')
      throw new Error(
        `rnn: the fused path needs activation tanh and recurrent activation sigmoid, ${layer.name} has ${act}/${rec}`,
      );
  }
  const H = cell.units;
  const G = GATES[kind];
  const [k, u, bias, hBias] = layer.trainableWeights.map((w) => w.read());
  const cols = <T extends tf.Tensor>(t: tf.Tensor, g: number) =>
    (t.rank === 1 ? tf.slice(t, [g * H], [H]) : tf.slice(t, [0, g * H], [t.shape[0], H])) as T;
  const gates = [...Array(G).keys()];
  return {
    kind,
    H,
    W: gates.map((g) => cols<tf.Tensor2D>(k, g)),
    U: gates.map((g) => cols<tf.Tensor2D>(u, g)),
    b: bias ? gates.map((g) => cols<tf.Tensor1D>(bias, g)) : null,
    bh: hBias ? gates.map((g) => cols<tf.Tensor1D>(hBias, g)) : null,
  };
}

/** One step of the cell from its per-gate input projections a_g = x W_g + b_g ([B, H] each). */
function cellStep(w: GateWeights, a: tf.Tensor2D[], state: tf.Tensor2D[]): tf.Tensor2D[] {
  const h = state[0];
  if (w.kind === 'gru') {
    const hU = (g: number) => (w.bh ? tf.add(tf.matMul(h, w.U[g]), w.bh[g]) : tf.matMul(h, w.U[g])); // h U_g + b_hg
    const r = tf.sigmoid(tf.add(a[0], hU(0))); //                      r = σ(x W_r + b_ir + h U_r + b_hr)
    const z = tf.sigmoid(tf.add(a[1], hU(1))); //                      z = σ(x W_z + b_iz + h U_z + b_hz)
    const n = tf.tanh(tf.add(a[2], tf.mul(r, hU(2)))); //               n = tanh(x W_n + b_in + r ⊙ (h U_n + b_hn))
    return [tf.add(n, tf.mul(z, tf.sub(h, n))) as tf.Tensor2D]; //       h' = (1 − z) ⊙ n + z ⊙ h
  }
  if (w.kind === 'gru-v1') {
    const z = tf.sigmoid(tf.add(a[0], tf.matMul(h, w.U[0]))); //       z = σ(x W_z + h U_z + b_z)
    const r = tf.sigmoid(tf.add(a[1], tf.matMul(h, w.U[1]))); //       r = σ(x W_r + h U_r + b_r)
    const hh = tf.tanh(tf.add(a[2], tf.matMul(tf.mul(r, h), w.U[2]))); // h̃ = tanh(x W_h + (r ⊙ h) U_h + b_h)
    return [tf.add(hh, tf.mul(z, tf.sub(h, hh))) as tf.Tensor2D]; //      h' = z ⊙ h + (1 − z) ⊙ h̃
  }
  const c = state[1];
  const i = tf.sigmoid(tf.add(a[0], tf.matMul(h, w.U[0])));
  const f = tf.sigmoid(tf.add(a[1], tf.matMul(h, w.U[1])));
  const g = tf.tanh(tf.add(a[2], tf.matMul(h, w.U[2])));
  const o = tf.sigmoid(tf.add(a[3], tf.matMul(h, w.U[3])));
  const c2 = tf.add(tf.mul(f, c), tf.mul(i, g)) as tf.Tensor2D; //      c' = f ⊙ c + i ⊙ g
  return [tf.mul(o, tf.tanh(c2)) as tf.Tensor2D, c2]; //                  h' = o ⊙ tanh(c')
}

/** x time-major [T·B, in] (rows t·B … t·B+B−1 are step t) → per-gate projections x W_g + b_g, each T tensors [B, H]. */
function projectSteps(w: GateWeights, x: tf.Tensor2D, T: number, extra?: tf.Tensor2D[]): tf.Tensor2D[][] {
  const B = x.shape[0] / T;
  return w.W.map((Wg, g) => {
    let a: tf.Tensor = tf.reshape(tf.matMul(x, Wg), [T, B, w.H]);
    if (w.b) a = tf.add(a, w.b[g]);
    if (extra) a = tf.add(a, extra[g]); // a per-sequence term, the same at every step (the decoder's z W_z)
    return tf.unstack(a) as tf.Tensor2D[];
  });
}

/** Runs one direction over T steps: outputs h_t in time order [T of [B, H]] and the final state. */
function runDirection(
  w: GateWeights,
  a: tf.Tensor2D[][],
  state: tf.Tensor2D[],
  reverse: boolean,
): { outputs: tf.Tensor2D[]; state: tf.Tensor2D[] } {
  const T = a[0].length;
  const outputs = new Array<tf.Tensor2D>(T);
  for (let s = 0; s < T; s++) {
    const t = reverse ? T - 1 - s : s;
    state = cellStep(
      w,
      a.map((ag) => ag[t]),
      state,
    );
    outputs[t] = state[0];
  }
  return { outputs, state };
}

function zeroState(w: GateWeights, B: number): tf.Tensor2D[] {
  const h = tf.zeros([B, w.H]) as tf.Tensor2D;
  return w.kind === 'lstm' ? [h, h] : [h];
}

/** [B, T·W] (step-major) → time-major rows [T·B, W]. */
function timeMajor(x: tf.Tensor2D, T: number): tf.Tensor2D {
  const [B, D] = x.shape;
  return tf.reshape(tf.transpose(tf.reshape(x, [B, T, D / T]), [1, 0, 2]), [T * B, D / T]);
}

/** Time-major rows [T·B, O] → [B, T·O] (step-major). */
function batchMajor(y: tf.Tensor2D, T: number): tf.Tensor2D {
  const [TB, O] = y.shape;
  const B = TB / T;
  return tf.reshape(tf.transpose(tf.reshape(y, [T, B, O]), [1, 0, 2]), [B, T * O]);
}

function dense(layer: tfl.layers.Layer, x: tf.Tensor2D, act?: 'tanh'): tf.Tensor2D {
  const [k, b] = layer.trainableWeights.map((w) => w.read());
  let y = tf.matMul(x, k as tf.Tensor2D);
  if (b) y = tf.add(y, b);
  return (act === 'tanh' ? tf.tanh(y) : y) as tf.Tensor2D;
}

function checkWidth(what: string, x: tf.Tensor, D: number): void {
  if (x.rank !== 2 || x.shape[1] !== D) throw new Error(`${what}: expected [B, ${D}], got [${x.shape}]`);
}

/** A recurrent encoder: the tfjs-layers model and its fused forward pass. */
export class RnnEncoder {
  readonly model: tfl.LayersModel;
  private readonly embed: tfl.layers.Layer | null;
  private readonly rnns: tfl.RNN[];
  private readonly out: tfl.layers.Layer;

  constructor(
    readonly name: string,
    readonly spec: RnnSpec,
    readonly steps: number,
    readonly width: number,
    readonly outDim: number,
  ) {
    this.model = buildRnnEncoderNet(name, spec, steps, width, outDim);
    this.embed = spec.embedding ? this.model.getLayer(`${name}_embed`) : null;
    this.rnns = cellsOf(this.model.getLayer(`${name}_rnn`));
    this.out = this.model.getLayer(`${name}_out`);
  }

  /** x flat [B, T·W] → [B, outDim]; the same function as model.apply(x). */
  apply(x: tf.Tensor2D): tf.Tensor2D {
    checkWidth(this.name, x, this.steps * this.width);
    return tf.tidy(() => {
      const T = this.steps;
      let e = timeMajor(x, T);
      if (this.embed) e = dense(this.embed, e); //                        e_t = x_t E
      const finals = this.rnns.map((layer, dir) => {
        const w = gateWeights(layer);
        return runDirection(w, projectSteps(w, e, T), zeroState(w, x.shape[0]), dir === 1).state[0];
      });
      const h = finals.length === 1 ? finals[0] : (tf.concat(finals, 1) as tf.Tensor2D); // [h_fwd(T), h_bwd(1)]
      return dense(this.out, h);
    });
  }

  parameters(): Record<string, tf.Variable> {
    return rnnParameters(this.name, this.model);
  }

  recurrentGroups(): RecurrentGroup[] {
    return recurrentGroups(this.name, this.model);
  }
}

/** State of a decoder between steps: [h] (GRU) or [h, c] (LSTM). */
export type RnnState = tf.Tensor2D[];

/** A recurrent decoder: the tfjs-layers model, its fused teacher-forced pass and step-by-step generation. */
export class RnnDecoder {
  readonly model: tfl.LayersModel;
  private readonly embed: tfl.layers.Layer | null;
  private readonly init: tfl.layers.Layer[];
  private readonly rnn: tfl.RNN;
  private readonly out: tfl.layers.Layer;

  constructor(
    readonly name: string,
    readonly spec: RnnSpec,
    readonly steps: number,
    readonly width: number,
    readonly zDim: number,
    readonly outWidth: number,
  ) {
    this.model = buildRnnDecoderNet(name, spec, steps, width, zDim, outWidth);
    this.embed = spec.embedding ? this.model.getLayer(`${name}_embed`) : null;
    this.init = [this.model.getLayer(`${name}_init_h`)];
    if (spec.cell === 'lstm') this.init.push(this.model.getLayer(`${name}_init_c`));
    this.rnn = this.model.getLayer(`${name}_rnn`) as tfl.RNN;
    this.out = this.model.getLayer(`${name}_out`);
  }

  private inWidth(): number {
    return this.spec.embedding || this.width;
  }

  /** The input kernels split into the rows of the step input and of z: x_t W_g = e_t W^e_g + z W^z_g. */
  private weights(): { w: GateWeights; Wz: tf.Tensor2D[] } {
    const w = gateWeights(this.rnn);
    const E = this.inWidth();
    const Wz = w.W.map((Wg) => tf.slice(Wg, [E, 0], [this.zDim, w.H]) as tf.Tensor2D);
    w.W = w.W.map((Wg) => tf.slice(Wg, [0, 0], [E, w.H]) as tf.Tensor2D);
    return { w, Wz };
  }

  /** h_0 = tanh(z W + b) [, c_0 = z W' + b']. */
  initialState(z: tf.Tensor2D): RnnState {
    checkWidth(`${this.name} z`, z, this.zDim);
    return tf.tidy(() => this.init.map((l, i) => dense(l, z, i === 0 ? 'tanh' : undefined)));
  }

  /** Teacher forcing: z [B, zDim], x_prev flat [B, T·W] → flat [B, T·O]; the same function as model.apply([z, x_prev]). */
  apply(z: tf.Tensor2D, prev: tf.Tensor2D): tf.Tensor2D {
    checkWidth(`${this.name} z`, z, this.zDim);
    checkWidth(`${this.name} x_prev`, prev, this.steps * this.width);
    return tf.tidy(() => {
      const T = this.steps;
      const { w, Wz } = this.weights();
      let e = timeMajor(prev, T);
      if (this.embed) e = dense(this.embed, e);
      const zc = Wz.map((Wzg) => tf.matMul(z, Wzg) as tf.Tensor2D); //    z W^z_g, the same at every step
      const { outputs } = runDirection(w, projectSteps(w, e, T, zc), this.initialState(z), false);
      const h = tf.reshape(tf.stack(outputs), [T * z.shape[0], w.H]) as tf.Tensor2D;
      return batchMajor(dense(this.out, h), T);
    });
  }

  /**
   * Generation, one step at a time: at step t the decoder reads `input` (x_{t−1}; zeros at t = 0) and
   * gives out_t [B, O]; `next(out_t, t)` chooses x_t, which is fed back. Returns the outputs [B, T·O] and
   * the chosen inputs [B, T·W] (the generated sequence).
   */
  generate(
    z: tf.Tensor2D,
    next: (out: tf.Tensor2D, t: number) => tf.Tensor2D,
  ): { outputs: tf.Tensor2D; sequence: tf.Tensor2D } {
    checkWidth(`${this.name} z`, z, this.zDim);
    return tf.tidy(() => {
      const B = z.shape[0];
      const { w, Wz } = this.weights();
      const zc = Wz.map((Wzg, g) => (w.b ? tf.add(tf.matMul(z, Wzg), w.b[g]) : tf.matMul(z, Wzg)) as tf.Tensor2D);
      let state = this.initialState(z);
      let input = tf.zeros([B, this.width]) as tf.Tensor2D;
      const outs: tf.Tensor2D[] = [];
      const seq: tf.Tensor2D[] = [];
      for (let t = 0; t < this.steps; t++) {
        const e = this.embed ? dense(this.embed, input) : input;
        state = cellStep(
          w,
          w.W.map((Wg, g) => tf.add(tf.matMul(e, Wg), zc[g]) as tf.Tensor2D),
          state,
        );
        const out = dense(this.out, state[0]);
        input = next(out, t);
        outs.push(out);
        seq.push(input);
      }
      return { outputs: tf.concat(outs, 1) as tf.Tensor2D, sequence: tf.concat(seq, 1) as tf.Tensor2D };
    });
  }

  parameters(): Record<string, tf.Variable> {
    return rnnParameters(this.name, this.model);
  }

  recurrentGroups(): RecurrentGroup[] {
    return recurrentGroups(this.name, this.model);
  }
}

/** x [B, T·W] shifted one step right (x_prev[0] = 0, x_prev[t] = x[t−1]): the decoder's teacher-forcing input. */
export function shiftRight(x: tf.Tensor2D, width: number): tf.Tensor2D {
  return tf.tidy(() => {
    const [B, D] = x.shape;
    return tf.concat([tf.zeros([B, width]), tf.slice(x, [0, 0], [B, D - width])], 1) as tf.Tensor2D;
  });
}
