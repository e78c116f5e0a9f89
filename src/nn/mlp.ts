// Multilayer perceptrons (tfjs-layers Dense stacks): the networks for flat data.
import * as tfl from '@tensorflow/tfjs-layers';

export type Activation = 'relu' | 'tanh' | 'elu' | 'softplus' | 'sigmoid' | 'linear';
export const ACTIVATIONS: Activation[] = ['relu', 'tanh', 'elu', 'softplus', 'sigmoid', 'linear'];

export interface MlpSpec {
  type: 'mlp';
  /** Hidden widths, encoder order; the decoder mirrors them. */
  hidden: number[];
  activation?: Activation;
}

/** inDim → hidden… (activation) → outDim (linear). */
export function buildMlp(
  name: string,
  inDim: number,
  hidden: number[],
  outDim: number,
  activation: Activation = 'relu',
): tfl.Sequential {
  for (const w of [inDim, outDim, ...hidden]) {
    if (!Number.isInteger(w) || w < 1) throw new Error(`${name}: layer widths must be positive integers, got ${w}`);
  }
  const model = tfl.sequential({ name });
  hidden.forEach((units, i) => {
    model.add(
      tfl.layers.dense({ units, activation, inputShape: i === 0 ? [inDim] : undefined, name: `${name}_dense${i}` }),
    );
  });
  model.add(
    tfl.layers.dense({
      units: outDim,
      activation: 'linear',
      inputShape: hidden.length === 0 ? [inDim] : undefined,
      name: `${name}_out`,
    }),
  );
  return model;
}
