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
// The fused path (RnnEncoder / RnnDecoder) is in src/nn/rnn-fused.ts.
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
export const GATES: Record<RecurrentKind, number> = { gru: 3, 'gru-v1': 3, lstm: 4 };

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
export function cellsOf(layer: tfl.layers.Layer): tfl.RNN[] {
  const cls = layer.getClassName();
  if (cls === 'Bidirectional') {
    const b = layer as unknown as { forwardLayer: tfl.RNN; backwardLayer: tfl.RNN };
    return [b.forwardLayer, b.backwardLayer];
  }
  if (cls === 'GRU' || cls === 'LSTM') return [layer as tfl.RNN];
  if (layer instanceof TorchGRU) return [layer];
  return [];
}

export function kindOfLayer(layer: tfl.RNN): RecurrentKind {
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
