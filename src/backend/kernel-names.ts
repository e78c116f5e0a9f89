// Names shared by the browser-safe fused ops (fused.ts) and the backends that implement them: the
// fused VAE kernels are looked up by these names for the active backend (tf.getKernel), so the ops
// never import a backend. Browser-safe: no node: module, no addon.

/** The tfjs backend name of vaekit's native (N-API) backend. */
export const NATIVE_BACKEND = 'vaekit-native';

/** Kernel names of the fused VAE likelihood and KL terms (forward and gradient; the masked likelihoods too). */
export const FUSED_KERNELS = {
  bernoulliNll: 'VaekitBernoulliNll',
  bernoulliNllGrad: 'VaekitBernoulliNllGrad',
  gaussianNll: 'VaekitGaussianNll',
  gaussianNllGrad: 'VaekitGaussianNllGrad',
  bernoulliNllMasked: 'VaekitBernoulliNllMasked',
  bernoulliNllMaskedGrad: 'VaekitBernoulliNllMaskedGrad',
  gaussianNllMasked: 'VaekitGaussianNllMasked',
  gaussianNllMaskedGrad: 'VaekitGaussianNllMaskedGrad',
  discretizedLogisticNll: 'VaekitDiscretizedLogisticNll',
  discretizedLogisticNllGrad: 'VaekitDiscretizedLogisticNllGrad',
  klStdNormal: 'VaekitKlStdNormal',
  klStdNormalGrad: 'VaekitKlStdNormalGrad',
} as const;

export type FusedKernelName = (typeof FUSED_KERNELS)[keyof typeof FUSED_KERNELS];
