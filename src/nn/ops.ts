// Tensor operations the objectives and models share.
import * as tf from '@tensorflow/tfjs-core';

/** Stop-gradient sg[x] (⊥x): the identity forward, zero gradient backward. */
export const stopGradient = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
  value: tf.clone(args[0] as tf.Tensor),
  gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
})) as <T extends tf.Tensor>(x: T) => T;
