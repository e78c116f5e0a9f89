// PyTorch's GRU cell (torch.nn.GRU, the cuDNN form of Cho et al. 2014; Keras calls it reset_after=True) as a
// tfjs-layers RNN cell, so that a vaekit GRU, its saved browser network and nn.GRU compute the same function:
//   r  = σ(x W_r + b_ir + h U_r + b_hr)
//   z  = σ(x W_z + b_iz + h U_z + b_hz)
//   n  = tanh(x W_n + b_in + r ⊙ (h U_n + b_hn))        (the reset gate multiplies U_n h + b_hn: "reset after")
//   h' = (1 − z) ⊙ n + z ⊙ h
// tfjs-layers' own GRUCell computes the other variant, tanh(x W_n + b_n + (r ⊙ h) U_n), and refuses
// reset_after; models saved before vaekit had this cell keep that one (RnnSpec.resetAfter absent).
//
// Weights: kernel [in, 3H], recurrent_kernel [H, 3H], bias [3H] (b_i·), recurrent_bias [3H] (b_h·), the gate
// columns in PyTorch's order [r, z, n]: nn.GRU's weight_ih_l0 = kernelᵀ, weight_hh_l0 = recurrent_kernelᵀ,
// bias_ih_l0 = bias, bias_hh_l0 = recurrent_bias. The layer (TorchGRU, an RNN over the cell, as tfjs's GRU is)
// is registered for tfjs serialization as 'VaekitTorchGRU': importing this module (or vaekit's browser entry)
// lets tf.loadLayersModel read a saved network that uses it.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

type LayerVariable = tfl.LayerVariable;

export class TorchGRUCell extends tfl.layers.RNNCell {
  static className = 'VaekitTorchGRUCell';
  readonly units: number;
  readonly stateSize: number;
  kernel: LayerVariable | null = null;
  recurrentKernel: LayerVariable | null = null;
  bias: LayerVariable | null = null;
  recurrentBias: LayerVariable | null = null;

  constructor(args: { units: number; name?: string; trainable?: boolean }) {
    super(args);
    if (!(Number.isInteger(args.units) && args.units > 0))
      throw new Error(`TorchGRUCell: units must be a positive integer, got ${args.units}`);
    this.units = args.units;
    this.stateSize = args.units;
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
    const inDim = shape[shape.length - 1] as number;
    const H = this.units;
    // zeros: vaekit sets every weight from its own RNG (initRnnNetwork)
    const zeros = tfl.initializers.zeros();
    this.kernel = this.addWeight('kernel', [inDim, 3 * H], 'float32', zeros);
    this.recurrentKernel = this.addWeight('recurrent_kernel', [H, 3 * H], 'float32', zeros);
    this.bias = this.addWeight('bias', [3 * H], 'float32', zeros);
    this.recurrentBias = this.addWeight('recurrent_bias', [3 * H], 'float32', zeros);
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor[] {
    return tf.tidy(() => {
      const [x, h] = inputs as tf.Tensor2D[];
      const H = this.units;
      const gi = tf.add(tf.matMul(x, this.kernel!.read() as tf.Tensor2D), this.bias!.read()); //            x W + b_i
      const gh = tf.add(tf.matMul(h, this.recurrentKernel!.read() as tf.Tensor2D), this.recurrentBias!.read()); // h U + b_h
      const [ir, iz, inn] = tf.split(gi, [H, H, H], 1);
      const [hr, hz, hn] = tf.split(gh, [H, H, H], 1);
      const r = tf.sigmoid(tf.add(ir, hr));
      const z = tf.sigmoid(tf.add(iz, hz));
      const n = tf.tanh(tf.add(inn, tf.mul(r, hn)));
      const next = tf.add(n, tf.mul(z, tf.sub(h, n))); //                                   (1 − z) ⊙ n + z ⊙ h
      return [next, next];
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), units: this.units };
  }
}
tf.serialization.registerClass(TorchGRUCell);

/** An RNN layer over TorchGRUCell (as tfjs-layers' GRU is over its GRUCell); serialises by `units`, not by cell. */
export class TorchGRU extends tfl.RNN {
  static override className = 'VaekitTorchGRU';

  constructor(args: { units: number; returnSequences?: boolean; goBackwards?: boolean; name?: string }) {
    super({ ...args, cell: new TorchGRUCell({ units: args.units }) });
  }

  get units(): number {
    return (this.cell as TorchGRUCell).units;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), units: this.units };
  }

  // RNN.fromConfig would deserialise a `cell` entry (and overwrite it in the config it is given, which breaks
  // Bidirectional's second copy); this layer builds its own cell.
  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    return new cls(config);
  }
}
tf.serialization.registerClass(TorchGRU);
