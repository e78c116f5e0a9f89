// vaekit native: the in-place optimizer steps (Adam, SGD with momentum/Nesterov, Adagrad), with
// PyTorch's arithmetic.
#include "optim.h"

#include "napi_util.h"
#include "ops.h"
#include "pool.h"
#include "vmath.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace vaekit {
namespace {

// ------------------------------------------------------------------------------------------------
// in-place optimizer steps

// The loops take restrict pointers and scalars by value: inside a lambda that captures by reference
// GCC must assume the float stores may alias the captured scalars and keeps reloading them.
__attribute__((noinline)) void AdamLoop(float* __restrict V, const float* __restrict G, float* __restrict Mm,
                                        float* __restrict S, size_t n, float b1, float b2, float ob1, float ob2,
                                        float stepSize, float invSqrtBc2, float eps) {
#pragma omp simd
  for (size_t i = 0; i < n; i++) {
    float g = G[i];
    float m = b1 * Mm[i] + ob1 * g;
    float v2 = b2 * S[i] + ob2 * g * g;
    Mm[i] = m;
    S[i] = v2;
    float denom = std::sqrt(v2) * invSqrtBc2 + eps;
    V[i] -= stepSize * m / denom;
  }
}

}  // namespace

AdamScalars AdamFor(double lr, double b1d, double b2d, float eps, double t) {
  const double bc1 = 1.0 - std::pow(b1d, t), bc2 = 1.0 - std::pow(b2d, t);
  return {(float)b1d, (float)b2d, (float)(1.0 - b1d), (float)(1.0 - b2d), (float)(lr / bc1),
          (float)(1.0 / std::sqrt(bc2)), eps};
}

void AdamSpan(float* V, const float* G, float* Mm, float* S, size_t n, const AdamScalars& a) {
  AdamLoop(V, G, Mm, S, n, a.b1, a.b2, a.ob1, a.ob2, a.stepSize, a.invSqrtBc2, a.eps);
}

void AdamUpdate(float* V, const float* G, float* Mm, float* S, size_t n, double lr, double b1d, double b2d, float eps,
                double t) {
  const AdamScalars a = AdamFor(lr, b1d, b2d, eps, t);
  ParallelFor(n, 32768, [&](size_t s, size_t e) { AdamSpan(V + s, G + s, Mm + s, S + s, e - s, a); });
}

namespace {

// adam(v, g, m, s, lr, beta1, beta2, eps, t) — torch.optim.Adam (no weight decay, no amsgrad)
Napi::Value Adam(const Napi::CallbackInfo& info) {
  float* V = F32(info[0]);
  const float* G = F32(info[1]);
  float* Mm = F32(info[2]);
  float* S = F32(info[3]);
  size_t n = Len(info[0]);
  if (Len(info[1]) != n || Len(info[2]) != n || Len(info[3]) != n) return Fail(info, "adam: length mismatch");
  AdamUpdate(V, G, Mm, S, n, info[4].As<Napi::Number>().DoubleValue(), info[5].As<Napi::Number>().DoubleValue(),
             info[6].As<Napi::Number>().DoubleValue(), info[7].As<Napi::Number>().FloatValue(),
             info[8].As<Napi::Number>().DoubleValue());
  return info.Env().Undefined();
}

__attribute__((noinline)) void SgdLoop(float* __restrict V, const float* __restrict G, float* __restrict B, size_t n,
                                       float lr, float mom, bool nesterov) {
  if (!B || mom == 0.0f) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) V[i] -= lr * G[i];
  } else if (nesterov) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
      float b = mom * B[i] + G[i];
      B[i] = b;
      V[i] -= lr * (G[i] + mom * b);
    }
  } else {
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
      float b = mom * B[i] + G[i];
      B[i] = b;
      V[i] -= lr * b;
    }
  }
}

// sgd(v, g, mom|null, lr, momentum, nesterov) — torch.optim.SGD (dampening 0, no weight decay)
Napi::Value Sgd(const Napi::CallbackInfo& info) {
  float* V = F32(info[0]);
  const float* G = F32(info[1]);
  float* B = IsNil(info[2]) ? nullptr : F32(info[2]);
  size_t n = Len(info[0]);
  if (Len(info[1]) != n || (B && Len(info[2]) != n)) return Fail(info, "sgd: length mismatch");
  const float lr = info[3].As<Napi::Number>().FloatValue();
  const float mom = info[4].As<Napi::Number>().FloatValue();
  const bool nesterov = info[5].ToBoolean();
  ParallelFor(n, 32768, [&](size_t s, size_t e) { SgdLoop(V + s, G + s, B ? B + s : nullptr, e - s, lr, mom, nesterov); });
  return info.Env().Undefined();
}

__attribute__((noinline)) void AdagradLoop(float* __restrict V, const float* __restrict G, float* __restrict A,
                                           size_t n, float lr, float eps) {
#pragma omp simd
  for (size_t i = 0; i < n; i++) {
    float g = G[i];
    float a = A[i] + g * g;
    A[i] = a;
    V[i] -= lr * g / (std::sqrt(a) + eps);
  }
}

// adagrad(v, g, acc, lr, eps) — torch.optim.Adagrad (lr_decay 0, no weight decay)
Napi::Value Adagrad(const Napi::CallbackInfo& info) {
  float* V = F32(info[0]);
  const float* G = F32(info[1]);
  float* A = F32(info[2]);
  size_t n = Len(info[0]);
  if (Len(info[1]) != n || Len(info[2]) != n) return Fail(info, "adagrad: length mismatch");
  const float lr = info[3].As<Napi::Number>().FloatValue();
  const float eps = info[4].As<Napi::Number>().FloatValue();
  ParallelFor(n, 32768, [&](size_t s, size_t e) { AdagradLoop(V + s, G + s, A + s, e - s, lr, eps); });
  return info.Env().Undefined();
}

VK_EXPORT("adam", Adam)
VK_EXPORT("sgd", Sgd)
VK_EXPORT("adagrad", Adagrad)

}  // namespace
}  // namespace vaekit
