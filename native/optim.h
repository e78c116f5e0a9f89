// vaekit native: the optimizer updates shared by the in-place steps (optim.cc) and the fused training
// step (train_step.cc).
#pragma once
#include <cstddef>

namespace vaekit {

// torch.optim.Adam's per-step scalars, derived in double like PyTorch (1 - beta2 is (float)(1 - 0.999),
// not 1 - (float)0.999), for step t (1-based).
struct AdamScalars {
  float b1, b2, ob1, ob2, stepSize, invSqrtBc2, eps;
};
AdamScalars AdamFor(double lr, double beta1, double beta2, float eps, double t);

// The update of n values on the calling thread (the same arithmetic as AdamUpdate, value by value).
void AdamSpan(float* V, const float* G, float* Mm, float* S, size_t n, const AdamScalars& a);

// One torch.optim.Adam update of V (n values) with gradient G, first/second moments Mm/S, step t (1-based).
void AdamUpdate(float* V, const float* G, float* Mm, float* S, size_t n, double lr, double beta1, double beta2,
                float eps, double t);

}  // namespace vaekit
