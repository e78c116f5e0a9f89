// vaekit native: the fused VAE terms per example over the rows of [N, D] (src/backend/fused.ts):
// Bernoulli NLL with logits, Gaussian NLL (log-variance scalar, per dimension or full), the KL of a
// diagonal Gaussian from N(0, I), and their gradients (masked ones and the 8-bit likelihood: likelihood_masked.cc).
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
// fused VAE likelihoods (per-example over rows of [N, D])

// bernoulliNll(logits, x, out[N], N, D): out[n] = sum_d max(l,0) - x l + log1p(exp(-|l|))
Napi::Value BernoulliNll(const Napi::CallbackInfo& info) {
  const float* L = F32(info[0]);
  const float* X = F32(info[1]);
  float* O = F32(info[2]);
  int64_t N = info[3].As<Napi::Number>().Int64Value(), D = info[4].As<Napi::Number>().Int64Value();
  if ((int64_t)Len(info[0]) != N * D || (int64_t)Len(info[1]) != N * D || (int64_t)Len(info[2]) != N)
    return Fail(info, "bernoulliNll: length mismatch");
  ParallelFor(
      (size_t)N, std::max<size_t>(1, 8192 / (size_t)std::max<int64_t>(D, 1)),
      [&](size_t s, size_t e) {
        for (size_t n = s; n < e; n++) {
          const float* l = L + n * D;
          const float* x = X + n * D;
          double acc = 0.0;
#pragma omp simd reduction(+ : acc)
          for (int64_t d = 0; d < D; d++) {
            float li = l[d];
            float v = (li > 0.0f ? li : 0.0f) - x[d] * li + VLog1p(VExp(-std::fabs(li)));
            acc += (double)v;
          }
          O[n] = (float)acc;
        }
      },
      1);
  return info.Env().Undefined();
}

__attribute__((noinline)) void BceGradRow(const float* __restrict l, const float* __restrict x, float g,
                                          float* __restrict o, int64_t D) {
#pragma omp simd
  for (int64_t d = 0; d < D; d++) o[d] = (VSigmoid(l[d]) - x[d]) * g;
}

// bernoulliNllGrad(logits, x, dy[N], out[N,D], N, D): out = (sigmoid(l) - x) * dy[n]
Napi::Value BernoulliNllGrad(const Napi::CallbackInfo& info) {
  const float* L = F32(info[0]);
  const float* X = F32(info[1]);
  const float* DY = F32(info[2]);
  float* O = F32(info[3]);
  int64_t N = info[4].As<Napi::Number>().Int64Value(), D = info[5].As<Napi::Number>().Int64Value();
  if ((int64_t)Len(info[0]) != N * D || (int64_t)Len(info[1]) != N * D || (int64_t)Len(info[2]) != N ||
      (int64_t)Len(info[3]) != N * D)
    return Fail(info, "bernoulliNllGrad: length mismatch");
  ParallelFor(
      (size_t)N, std::max<size_t>(1, 8192 / (size_t)std::max<int64_t>(D, 1)),
      [&](size_t s, size_t e) {
        for (size_t n = s; n < e; n++) BceGradRow(L + n * D, X + n * D, DY[n], O + n * D, D);
      },
      1);
  return info.Env().Undefined();
}

// lv addressing: mode 0 scalar, 1 row [D], 2 full [N, D]
inline const float* LvRow(const float* lv, int mode, int64_t n, int64_t D) { return mode == 2 ? lv + n * D : lv; }

constexpr float kLog2Pi = 1.8378770664093453f;

// gaussianNll(x, mean, lv, lvMode, out[N], N, D): out[n] = sum_d 0.5 (log 2pi + lv + (x-m)^2 exp(-lv))
Napi::Value GaussianNll(const Napi::CallbackInfo& info) {
  const float* X = F32(info[0]);
  const float* M = F32(info[1]);
  const float* LV = F32(info[2]);
  int mode = info[3].As<Napi::Number>().Int32Value();
  float* O = F32(info[4]);
  int64_t N = info[5].As<Napi::Number>().Int64Value(), D = info[6].As<Napi::Number>().Int64Value();
  int64_t lvLen = mode == 0 ? 1 : (mode == 1 ? D : N * D);
  if ((int64_t)Len(info[0]) != N * D || (int64_t)Len(info[1]) != N * D || (int64_t)Len(info[2]) != lvLen ||
      (int64_t)Len(info[4]) != N)
    return Fail(info, "gaussianNll: length mismatch");
  ParallelFor(
      (size_t)N, std::max<size_t>(1, 8192 / (size_t)std::max<int64_t>(D, 1)),
      [&](size_t s, size_t e) {
        for (size_t n = s; n < e; n++) {
          const float* x = X + n * D;
          const float* m = M + n * D;
          double acc = 0.0;
          if (mode == 0) {
            const float lv = LV[0], iv = VExp(-lv);
#pragma omp simd reduction(+ : acc)
            for (int64_t d = 0; d < D; d++) {
              float df = x[d] - m[d];
              acc += (double)(df * df * iv);
            }
            acc = 0.5 * (acc + (double)D * ((double)kLog2Pi + lv));
          } else {
            const float* lv = LvRow(LV, mode, n, D);
#pragma omp simd reduction(+ : acc)
            for (int64_t d = 0; d < D; d++) {
              float df = x[d] - m[d];
              acc += (double)(kLog2Pi + lv[d] + df * df * VExp(-lv[d]));
            }
            acc *= 0.5;
          }
          O[n] = (float)acc;
        }
      },
      1);
  return info.Env().Undefined();
}

__attribute__((noinline)) void GaussGradRow(const float* __restrict x, const float* __restrict m,
                                            const float* __restrict lv, float g, float* __restrict dm,
                                            float* __restrict dl, int64_t D) {
#pragma omp simd
  for (int64_t d = 0; d < D; d++) {
    float iv = VExp(-lv[d]);
    float df = m[d] - x[d];
    dm[d] = g * df * iv;
    dl[d] = 0.5f * g * (1.0f - df * df * iv);
  }
}

// gaussianNllGrad(x, mean, lv, lvMode, dy[N], dMean[N,D], dLv[lvLen], N, D)
// dMean = dy (m - x) exp(-lv); dLv = reduce_to_lv_shape(dy 0.5 (1 - (x-m)^2 exp(-lv)))
Napi::Value GaussianNllGrad(const Napi::CallbackInfo& info) {
  const float* X = F32(info[0]);
  const float* M = F32(info[1]);
  const float* LV = F32(info[2]);
  int mode = info[3].As<Napi::Number>().Int32Value();
  const float* DY = F32(info[4]);
  float* DM = F32(info[5]);
  float* DL = F32(info[6]);
  int64_t N = info[7].As<Napi::Number>().Int64Value(), D = info[8].As<Napi::Number>().Int64Value();
  int64_t lvLen = mode == 0 ? 1 : (mode == 1 ? D : N * D);
  if ((int64_t)Len(info[0]) != N * D || (int64_t)Len(info[1]) != N * D || (int64_t)Len(info[2]) != lvLen ||
      (int64_t)Len(info[4]) != N || (int64_t)Len(info[5]) != N * D || (int64_t)Len(info[6]) != lvLen)
    return Fail(info, "gaussianNllGrad: length mismatch");
  if (mode == 2) {
    ParallelFor(
        (size_t)N, std::max<size_t>(1, 8192 / (size_t)std::max<int64_t>(D, 1)),
        [&](size_t s, size_t e) {
          for (size_t n = s; n < e; n++)
            GaussGradRow(X + n * D, M + n * D, LV + n * D, DY[n], DM + n * D, DL + n * D, D);
        },
        1);
    return info.Env().Undefined();
  }
  // scalar / row: sequential accumulation of dLv in double (small)
  std::vector<double> acc(mode == 0 ? 1 : D, 0.0);
  std::vector<float> iv(mode == 0 ? 1 : D);
  for (size_t i = 0; i < iv.size(); i++) iv[i] = VExp(-LV[i]);
  for (int64_t n = 0; n < N; n++) {
    const float g = DY[n];
    const float* x = X + n * D;
    const float* m = M + n * D;
    float* dm = DM + n * D;
    if (mode == 0) {
      const float v = iv[0];
      double a = 0.0;
#pragma omp simd reduction(+ : a)
      for (int64_t d = 0; d < D; d++) {
        float df = m[d] - x[d];
        dm[d] = g * df * v;
        a += (double)(0.5f * g * (1.0f - df * df * v));
      }
      acc[0] += a;
    } else {
      double* ac = acc.data();
      const float* v = iv.data();
#pragma omp simd
      for (int64_t d = 0; d < D; d++) {
        float df = m[d] - x[d];
        dm[d] = g * df * v[d];
        ac[d] += (double)(0.5f * g * (1.0f - df * df * v[d]));
      }
    }
  }
  for (size_t i = 0; i < acc.size(); i++) DL[i] = (float)acc[i];
  return info.Env().Undefined();
}

// klStdNormal(mu, lv, out[N], N, D): out[n] = 0.5 sum_d (mu^2 + exp(lv) - lv - 1)
Napi::Value KlStdNormal(const Napi::CallbackInfo& info) {
  const float* MU = F32(info[0]);
  const float* LV = F32(info[1]);
  float* O = F32(info[2]);
  int64_t N = info[3].As<Napi::Number>().Int64Value(), D = info[4].As<Napi::Number>().Int64Value();
  if ((int64_t)Len(info[0]) != N * D || (int64_t)Len(info[1]) != N * D || (int64_t)Len(info[2]) != N)
    return Fail(info, "klStdNormal: length mismatch");
  ParallelFor(
      (size_t)N, std::max<size_t>(1, 8192 / (size_t)std::max<int64_t>(D, 1)),
      [&](size_t s, size_t e) {
        for (size_t n = s; n < e; n++) {
          const float* mu = MU + n * D;
          const float* lv = LV + n * D;
          double acc = 0.0;
#pragma omp simd reduction(+ : acc)
          for (int64_t d = 0; d < D; d++) acc += (double)(mu[d] * mu[d] + VExp(lv[d]) - lv[d] - 1.0f);
          O[n] = (float)(0.5 * acc);
        }
      },
      1);
  return info.Env().Undefined();
}

__attribute__((noinline)) void KlGradRow(const float* __restrict mu, const float* __restrict lv, float g,
                                         float* __restrict dm, float* __restrict dl, int64_t D) {
#pragma omp simd
  for (int64_t d = 0; d < D; d++) {
    dm[d] = g * mu[d];
    dl[d] = 0.5f * g * (VExp(lv[d]) - 1.0f);
  }
}

// klStdNormalGrad(mu, lv, dy[N], dMu, dLv, N, D): dMu = dy mu; dLv = 0.5 dy (exp(lv) - 1)
Napi::Value KlStdNormalGrad(const Napi::CallbackInfo& info) {
  const float* MU = F32(info[0]);
  const float* LV = F32(info[1]);
  const float* DY = F32(info[2]);
  float* DM = F32(info[3]);
  float* DL = F32(info[4]);
  int64_t N = info[5].As<Napi::Number>().Int64Value(), D = info[6].As<Napi::Number>().Int64Value();
  if ((int64_t)Len(info[0]) != N * D || (int64_t)Len(info[1]) != N * D || (int64_t)Len(info[2]) != N ||
      (int64_t)Len(info[3]) != N * D || (int64_t)Len(info[4]) != N * D)
    return Fail(info, "klStdNormalGrad: length mismatch");
  ParallelFor(
      (size_t)N, std::max<size_t>(1, 8192 / (size_t)std::max<int64_t>(D, 1)),
      [&](size_t s, size_t e) {
        for (size_t n = s; n < e; n++) KlGradRow(MU + n * D, LV + n * D, DY[n], DM + n * D, DL + n * D, D);
      },
      1);
  return info.Env().Undefined();
}


VK_EXPORT("bernoulliNll", BernoulliNll)
VK_EXPORT("bernoulliNllGrad", BernoulliNllGrad)
VK_EXPORT("gaussianNll", GaussianNll)
VK_EXPORT("gaussianNllGrad", GaussianNllGrad)
VK_EXPORT("klStdNormal", KlStdNormal)
VK_EXPORT("klStdNormalGrad", KlStdNormalGrad)

}  // namespace
}  // namespace vaekit
