// PyTorch-default initialisation from vaekit's explicit RNG: weights and biases uniform in
// ±1/√fan_in (nn.Linear / nn.Conv2d with kaiming_uniform(a=√5)), so runs match the peer's recipe.
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { Rng } from '../rng.js';

/** fan_in of a tfjs kernel: Dense [in, out]; Conv2D [kh, kw, in, out]; Conv2DTranspose [kh, kw, out, in]. */
export function fanIn(layerClass: string, kernelShape: number[]): number {
  if (kernelShape.length === 2) return kernelShape[0];
  // PyTorch's ConvTranspose2d weight is [in, out, kh, kw] and its fan_in is computed from dim 1 (= out).
  if (layerClass === 'Conv2DTranspose') return kernelShape[0] * kernelShape[1] * kernelShape[2];
  return kernelShape.slice(0, -1).reduce((a, b) => a * b, 1);
}

export function initTorchStyle(model: tfl.LayersModel, rng: Rng): void {
  for (const layer of model.layers) {
    const weights = layer.getWeights();
    if (weights.length === 0) continue;
    const kernel = weights[0];
    const bound = 1 / Math.sqrt(fanIn(layer.getClassName(), kernel.shape));
    const fresh = weights.map((w) => tf.tensor(rng.fillUniform(new Float32Array(w.size), -bound, bound), w.shape));
    layer.setWeights(fresh);
    fresh.forEach((t) => t.dispose());
  }
}
