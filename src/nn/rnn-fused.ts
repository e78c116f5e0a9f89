// The fused path of the recurrent encoder and decoder of src/nn/rnn.ts (which defines the architecture and
// owns the weights): tfjs-layers' RNN slices the gates out of the last axis at every step, and tfjs-cpu's SplitV
// takes a per-element slow path there, so this path splits the weights once per call and keeps every per-step
// tensor contiguous (time-major). Tests check it against model.apply.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {
  buildRnnDecoderNet,
  buildRnnEncoderNet,
  cellsOf,
  GATES,
  kindOfLayer,
  recurrentGroups,
  rnnParameters,
  type RecurrentGroup,
  type RecurrentKind,
  type RnnSpec,
} from './rnn.js';

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
