// A model's parameters as a PyTorch state dict: the names and layouts of the equivalent torch.nn modules, so
// that model.safetensors loads into them with load_state_dict (the module file `vaekit export --pytorch`
// writes, src/io/pytorch/, builds exactly those modules). vaekit's own variables stay in tfjs's layouts;
// this file is the one place that maps between the two.
//   nn.Linear            weight [out, in]          ← Dense kernel [in, out]
//   nn.Conv2d            weight [out, in, kh, kw]  ← Conv2D kernel [kh, kw, in, out]
//   nn.ConvTranspose2d   weight [in, out, kh, kw]  ← Conv2DTranspose kernel [kh, kw, out, in]
//   nn.GRU / nn.LSTM     weight_ih_l0 [G·H, in], weight_hh_l0 [G·H, H], bias_ih_l0, bias_hh_l0 [G·H]
//                        (`_reverse` for the backward direction; gates in PyTorch's order, GRU [r, z, n],
//                        LSTM [i, f, g, o]) ← kernels [in, G·H], [H, G·H] with the gates along the columns.
//                        A cell with one bias (the LSTM, the GRU of old models) writes bias_ih = b,
//                        bias_hh = 0, and reads b = bias_ih + bias_hh.
// Everything else (biases, log σ², codebooks, EMA state) is written as it is.
//
// Files written before this layout ('vaekit-v1') differ only in the recurrent tensors: kernels as tfjs has
// them ([in, G·H], tfjs's gate order) and one bias_ih; loadStateDict reads both.
import * as tf from '@tensorflow/tfjs-core';
import { TORCH_GATE_ORDER, type RecurrentGroup } from '../nn/rnn.js';
import { SeqVAE } from './seqvae.js';
import type { LatentVariableModel } from './types.js';

export interface StateTensor {
  shape: number[];
  data: Float32Array;
}

/** A tensor read from a file: any dtype (only F32 is accepted), any typed array. */
export interface StoredTensor {
  dtype: string;
  shape: number[];
  data: ArrayLike<number | bigint>;
}

/** 'pytorch': this file's layout (what vaekit writes); 'vaekit-v1': model.safetensors written before it. */
export type StateLayout = 'pytorch' | 'vaekit-v1';

/** The value the safetensors metadata key `layout` has in files in PyTorch's layout. */
export const PYTORCH_LAYOUT = 'pytorch';

/** tfjs layout → PyTorch layout for a parameter named `…weight`: Dense [in,out] → [out,in]; Conv [kh,kw,a,b] → [b,a,kh,kw]. */
function torchPerm(name: string, rank: number): number[] | null {
  if (!name.endsWith('.weight')) return null;
  if (rank === 2) return [1, 0];
  if (rank === 4) return [3, 2, 0, 1];
  return null;
}

function inversePerm(p: number[]): number[] {
  const inv = new Array<number>(p.length);
  p.forEach((v, i) => (inv[v] = i));
  return inv;
}

/** The recurrent directions of a model (only the sequence VAE has any). */
function groupsOf(model: LatentVariableModel): RecurrentGroup[] {
  return model instanceof SeqVAE ? model.recurrentGroups() : [];
}

/** Reorders the gate blocks of the last axis: out block k = in block order[k] (blocks of H). */
function gateBlocks(t: tf.Tensor, order: number[], H: number): tf.Tensor {
  if (order.every((g, k) => g === k)) return tf.clone(t);
  const axis = t.rank - 1;
  const blocks = tf.split(t, order.length, axis);
  if (blocks[0].shape[axis] !== H) throw new Error(`gate blocks of ${blocks[0].shape[axis]}, expected ${H}`);
  return tf.concat(
    order.map((g) => blocks[g]),
    axis,
  );
}

const names = (g: RecurrentGroup) => ({
  wih: `${g.prefix}.weight_ih${g.suffix}`,
  whh: `${g.prefix}.weight_hh${g.suffix}`,
  bih: `${g.prefix}.bias_ih${g.suffix}`,
  bhh: `${g.prefix}.bias_hh${g.suffix}`,
});

const stateOf = (t: tf.Tensor): StateTensor => ({ shape: t.shape, data: Float32Array.from(t.dataSync()) });

/** The model's parameters in PyTorch's names and layouts (the order of namedParameters, bias_hh after bias_ih). */
export function toStateDict(model: LatentVariableModel): Record<string, StateTensor> {
  const params = model.namedParameters();
  const recurrent = new Map<string, RecurrentGroup>();
  for (const g of groupsOf(model)) for (const n of Object.values(names(g))) recurrent.set(n, g);
  const out: Record<string, StateTensor> = {};
  tf.tidy(() => {
    for (const [name, v] of Object.entries(params)) {
      const g = recurrent.get(name);
      if (!g) {
        const perm = torchPerm(name, v.rank);
        out[name] = stateOf(perm ? tf.transpose(v, perm) : v);
        continue;
      }
      const n = names(g);
      const order = TORCH_GATE_ORDER[g.kind];
      if (name === n.wih || name === n.whh) out[name] = stateOf(tf.transpose(gateBlocks(v, order, g.hidden)));
      else if (name === n.bih) {
        out[name] = stateOf(gateBlocks(v, order, g.hidden));
        // a cell with one bias: PyTorch's b_hh is zero
        if (!(n.bhh in params)) out[n.bhh] = { shape: v.shape, data: new Float32Array(v.size) };
      } else out[name] = stateOf(gateBlocks(v, order, g.hidden)); //              PyTorch's GRU: its own b_hh
    }
  });
  return out;
}

/** What one of the model's variables is read from: the stored tensors it combines, each mapped to vaekit's layout. */
interface Source {
  stored: string[];
  expected: number[][];
  combine: (ts: tf.Tensor[]) => tf.Tensor;
}

function sourcesOf(model: LatentVariableModel, layout: StateLayout): Map<string, Source> {
  const params = model.namedParameters();
  const out = new Map<string, Source>();
  for (const [name, v] of Object.entries(params)) {
    const perm = torchPerm(name, v.rank);
    out.set(
      name,
      perm
        ? {
            stored: [name],
            expected: [perm.map((i) => v.shape[i])],
            combine: ([t]) => tf.transpose(t, inversePerm(perm)),
          }
        : { stored: [name], expected: [v.shape], combine: ([t]) => tf.clone(t) },
    );
  }
  if (layout === 'vaekit-v1') return out; // recurrent tensors as tfjs has them, one bias: read as they are
  for (const g of groupsOf(model)) {
    const n = names(g);
    const inv = inversePerm(TORCH_GATE_ORDER[g.kind]);
    const H = g.hidden;
    for (const w of [n.wih, n.whh]) {
      const [rows, cols] = params[w].shape;
      out.set(w, {
        stored: [w],
        expected: [[cols, rows]],
        combine: ([t]) => gateBlocks(tf.transpose(t), inv, H),
      });
    }
    const G = params[n.wih].shape[1] as number;
    if (n.bhh in params) {
      out.set(n.bih, { stored: [n.bih], expected: [[G]], combine: ([t]) => gateBlocks(t, inv, H) });
      out.set(n.bhh, { stored: [n.bhh], expected: [[G]], combine: ([t]) => gateBlocks(t, inv, H) });
    } else
      out.set(n.bih, {
        stored: [n.bih, n.bhh],
        expected: [[G], [G]],
        combine: ([bi, bh]) => gateBlocks(tf.add(bi, bh), inv, H), //        b = b_ih + b_hh
      });
  }
  return out;
}

/**
 * Sets every parameter of the model from a state dict in `layout` (PyTorch's, or vaekit-v1 files'), or only
 * the parameters named in `only` (the browser loader's: those its tfjs networks do not hold). Each problem is
 * one error naming `source` and the tensor: missing, not F32, the wrong shape, NaN or Inf, or a tensor the
 * model does not have (or, with `only`, one not asked for).
 */
export function loadStateDict(
  model: LatentVariableModel,
  tensors: Record<string, StoredTensor>,
  source: string,
  layout: StateLayout,
  only?: ReadonlySet<string>,
): void {
  const params = model.namedParameters();
  const sources = sourcesOf(model, layout);
  if (only) {
    for (const name of only) if (!sources.has(name)) throw new Error(`${source}: the model has no parameter "${name}"`);
    for (const name of [...sources.keys()]) if (!only.has(name)) sources.delete(name);
  }
  const used = new Set<string>();
  const values = new Map<string, tf.Tensor>();
  try {
    for (const [name, s] of sources) {
      const parts = s.stored.map((stored, i) => {
        const st = tensors[stored];
        if (!st) throw new Error(`${source}: parameter "${stored}" is missing`);
        const expected = s.expected[i];
        if (st.dtype !== 'F32' || st.shape.join(',') !== expected.join(','))
          throw new Error(`${source}: parameter "${stored}" is ${st.dtype} [${st.shape}], expected F32 [${expected}]`);
        const data = st.data as Float32Array;
        if (!data.every(Number.isFinite)) throw new Error(`${source}: parameter "${stored}" holds NaN or Inf`);
        used.add(stored);
        return tf.tensor(data, st.shape, 'float32');
      });
      values.set(
        name,
        tf.tidy(() => s.combine(parts)),
      );
      parts.forEach((t) => t.dispose());
    }
    const extra = Object.keys(tensors).filter((k) => !used.has(k));
    if (extra.length)
      throw new Error(`${source}: unexpected parameters ${extra.join(', ')} (does config.json match the weights?)`);
    for (const [name, t] of values) params[name].assign(t);
  } finally {
    for (const t of values.values()) t.dispose();
  }
}
