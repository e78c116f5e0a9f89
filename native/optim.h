// vaekit native: the optimizer updates shared by the in-place steps (optim.cc) and the fused training
// step (train_step.cc).
#pragma once
#include <cstddef>

namespace vaekit {

// One torch.optim.Adam update of V (n values) with gradient G, first/second moments Mm/S, step t (1-based).
void AdamUpdate(float* V, const float* G, float* Mm, float* S, size_t n, double lr, double beta1, double beta2,
                float eps, double t);

}  // namespace vaekit
