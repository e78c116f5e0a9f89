// vaekit native: the fused VAE terms per example over the rows of [N, D] (src/backend/fused.ts):
// Bernoulli NLL with logits, Gaussian NLL (log-variance scalar, per dimension or full), each also with an
// observation mask, the KL of a diagonal Gaussian from N(0, I), and their gradients (the 8-bit
// likelihood: likelihood_masked.cc).
#include "likelihood.h"
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
// fused VAE likelihoods (per-example over rows of [N, D]), each with an optional observation mask
// (inpainting, MIWAE: the same terms weighted by m; the gradients the unmasked ones times m, the
// log-variance's reduced over the masked terms only). One body per term: Masked false is the unmasked
// kernel, value for value as it was before the masked ones shared it.

// out[n] = sum_d m_d (max(l,0) - x l + log1p(exp(-|l|)))
template <bool Masked>
void BernoulliRows(const float* L, const float* X, Mask mask, float* O, int64_t N, int64_t D) {
  EachRow(N, D, [&](int64_t n) {
    const float* l = L + n * D;
    const float* x = X + n * D;
    const float* m = Masked ? mask.row(n, D) : nullptr;
    double acc = 0.0;
#pragma omp simd reduction(+ : acc)
    for (int64_t d = 0; d < D; d++) {
      float li = l[d];
      float v = (li > 0.0f ? li : 0.0f) - x[d] * li + VLog1p(VExp(-std::fabs(li)));
      acc += (double)(Masked ? m[d] * v : v);
    }
    O[n] = (float)acc;
  });
}

// out = m (sigmoid(l) - x) g
template <bool Masked>
__attribute__((noinline)) void BceGradRow(const float* __restrict l, const float* __restrict x,
                                          const float* __restrict m, float g, float* __restrict o, int64_t D) {
#pragma omp simd
  for (int64_t d = 0; d < D; d++) {
    const float r = (VSigmoid(l[d]) - x[d]) * g;
    o[d] = Masked ? r * m[d] : r;
  }
}

template <bool Masked>
void BernoulliGradRows(const float* L, const float* X, Mask mask, const float* DY, float* O, int64_t N, int64_t D) {
  EachRow(N, D, [&](int64_t n) {
    BceGradRow<Masked>(L + n * D, X + n * D, Masked ? mask.row(n, D) : nullptr, DY[n], O + n * D, D);
  });
}

// bernoulliNll(logits, x, out[N], N, D)
Napi::Value BernoulliNll(const Napi::CallbackInfo& info) {
  int64_t N = info[3].As<Napi::Number>().Int64Value(), D = info[4].As<Napi::Number>().Int64Value();
  if ((int64_t)Len(info[0]) != N * D || (int64_t)Len(info[1]) != N * D || (int64_t)Len(info[2]) != N)
    return Fail(info, "bernoulliNll: length mismatch");
  BernoulliRows<false>(F32(info[0]), F32(info[1]), {}, F32(info[2]), N, D);
  return info.Env().Undefined();
}

// bernoulliNllGrad(logits, x, dy[N], out[N,D], N, D): out = (sigmoid(l) - x) * dy[n]
Napi::Value BernoulliNllGrad(const Napi::CallbackInfo& info) {
  int64_t N = info[4].As<Napi::Number>().Int64Value(), D = info[5].As<Napi::Number>().Int64Value();
  if ((int64_t)Len(info[0]) != N * D || (int64_t)Len(info[1]) != N * D || (int64_t)Len(info[2]) != N ||
      (int64_t)Len(info[3]) != N * D)
    return Fail(info, "bernoulliNllGrad: length mismatch");
  BernoulliGradRows<false>(F32(info[0]), F32(info[1]), {}, F32(info[2]), F32(info[3]), N, D);
  return info.Env().Undefined();
}

// A mask argument pair (mask, maskRows) at info[i], info[i + 1]; false if maskRows is neither 1 nor N or
// the mask's length is not maskRows * D.
bool ReadMask(const Napi::CallbackInfo& info, size_t i, int64_t N, int64_t D, Mask& m) {
  m = {F32(info[i]), info[i + 1].As<Napi::Number>().Int64Value()};
  return (m.rows == 1 || m.rows == N) && (int64_t)Len(info[i]) == m.rows * D;
}

// bernoulliNllMasked(logits, x, mask, maskRows, out[N], N, D)
Napi::Value BernoulliNllMasked(const Napi::CallbackInfo& info) {
  int64_t N = info[5].As<Napi::Number>().Int64Value(), D = info[6].As<Napi::Number>().Int64Value();
  Mask m;
  if (!ReadMask(info, 2, N, D, m) || (int64_t)Len(info[0]) != N * D || (int64_t)Len(info[1]) != N * D ||
      (int64_t)Len(info[4]) != N)
    return Fail(info, "bernoulliNllMasked: length mismatch");
  BernoulliRows<true>(F32(info[0]), F32(info[1]), m, F32(info[4]), N, D);
  return info.Env().Undefined();
}

// bernoulliNllMaskedGrad(logits, x, mask, maskRows, dy[N], out[N,D], N, D): out = m (sigmoid(l) - x) dy[n]
Napi::Value BernoulliNllMaskedGrad(const Napi::CallbackInfo& info) {
  int64_t N = info[6].As<Napi::Number>().Int64Value(), D = info[7].As<Napi::Number>().Int64Value();
  Mask m;
  if (!ReadMask(info, 2, N, D, m) || (int64_t)Len(info[0]) != N * D || (int64_t)Len(info[1]) != N * D ||
      (int64_t)Len(info[4]) != N || (int64_t)Len(info[5]) != N * D)
    return Fail(info, "bernoulliNllMaskedGrad: length mismatch");
  BernoulliGradRows<true>(F32(info[0]), F32(info[1]), m, F32(info[4]), F32(info[5]), N, D);
  return info.Env().Undefined();
}

// out[n] = sum_d m_d 0.5 (log 2pi + lv + (x-m)^2 exp(-lv))
template <bool Masked>
void GaussianRows(const float* X, const float* M, const float* LV, int mode, Mask mask, float* O, int64_t N,
                  int64_t D) {
  EachRow(N, D, [&](int64_t n) {
    const float* x = X + n * D;
    const float* m = M + n * D;
    const float* mk = Masked ? mask.row(n, D) : nullptr;
    double acc = 0.0;
    if (mode == 0 && !Masked) {  // the constant terms once per row
      const float lv = LV[0], iv = VExp(-lv);
#pragma omp simd reduction(+ : acc)
      for (int64_t d = 0; d < D; d++) {
        float df = x[d] - m[d];
        acc += (double)(df * df * iv);
      }
      acc = 0.5 * (acc + (double)D * ((double)kLog2Pi + lv));
    } else if (mode == 0) {
      const float lv = LV[0], iv = VExp(-lv);
#pragma omp simd reduction(+ : acc)
      for (int64_t d = 0; d < D; d++) {
        float df = x[d] - m[d];
        acc += (double)(mk[d] * (kLog2Pi + lv + df * df * iv));
      }
      acc *= 0.5;
    } else {
      const float* lv = LvRow(LV, mode, n, D);
#pragma omp simd reduction(+ : acc)
      for (int64_t d = 0; d < D; d++) {
        float df = x[d] - m[d];
        const float t = kLog2Pi + lv[d] + df * df * VExp(-lv[d]);
        acc += (double)(Masked ? mk[d] * t : t);
      }
      acc *= 0.5;
    }
    O[n] = (float)acc;
  });
}

// dMean = m dy (mean - x) exp(-lv); dLv = reduce_to_lv_shape(m dy 0.5 (1 - (x-mean)^2 exp(-lv)))
template <bool Masked>
void GaussianGradRows(const float* X, const float* M, const float* LV, int mode, Mask mask, const float* DY,
                      float* DM, float* DL, int64_t N, int64_t D) {
  if (mode == 2) {
    EachRow(N, D, [&](int64_t n) {
      const float* x = X + n * D;
      const float* m = M + n * D;
      const float* lv = LV + n * D;
      const float* mk = Masked ? mask.row(n, D) : nullptr;
      float* dm = DM + n * D;
      float* dl = DL + n * D;
      const float g = DY[n];
#pragma omp simd
      for (int64_t d = 0; d < D; d++) {
        float iv = VExp(-lv[d]);
        float df = m[d] - x[d];
        float gm = Masked ? g * mk[d] : g;
        dm[d] = gm * df * iv;
        dl[d] = 0.5f * gm * (1.0f - df * df * iv);
      }
    });
    return;
  }
  // scalar / row: sequential accumulation of dLv in double (small)
  std::vector<double> acc(mode == 0 ? 1 : D, 0.0);
  std::vector<float> iv(mode == 0 ? 1 : D);
  for (size_t i = 0; i < iv.size(); i++) iv[i] = VExp(-LV[i]);
  for (int64_t n = 0; n < N; n++) {
    const float g = DY[n];
    const float* x = X + n * D;
    const float* m = M + n * D;
    const float* mk = Masked ? mask.row(n, D) : nullptr;
    float* dm = DM + n * D;
    if (mode == 0) {
      const float v = iv[0];
      double a = 0.0;
#pragma omp simd reduction(+ : a)
      for (int64_t d = 0; d < D; d++) {
        float df = m[d] - x[d];
        float gm = Masked ? g * mk[d] : g;
        dm[d] = gm * df * v;
        a += (double)(0.5f * gm * (1.0f - df * df * v));
      }
      acc[0] += a;
    } else {
      double* ac = acc.data();
      const float* v = iv.data();
#pragma omp simd
      for (int64_t d = 0; d < D; d++) {
        float df = m[d] - x[d];
        float gm = Masked ? g * mk[d] : g;
        dm[d] = gm * df * v[d];
        ac[d] += (double)(0.5f * gm * (1.0f - df * df * v[d]));
      }
    }
  }
  for (size_t i = 0; i < acc.size(); i++) DL[i] = (float)acc[i];
}

// gaussianNll(x, mean, lv, lvMode, out[N], N, D)
Napi::Value GaussianNll(const Napi::CallbackInfo& info) {
  int mode = info[3].As<Napi::Number>().Int32Value();
  int64_t N = info[5].As<Napi::Number>().Int64Value(), D = info[6].As<Napi::Number>().Int64Value();
  if ((int64_t)Len(info[0]) != N * D || (int64_t)Len(info[1]) != N * D || (int64_t)Len(info[2]) != LvLen(mode, N, D) ||
      (int64_t)Len(info[4]) != N)
    return Fail(info, "gaussianNll: length mismatch");
  GaussianRows<false>(F32(info[0]), F32(info[1]), F32(info[2]), mode, {}, F32(info[4]), N, D);
  return info.Env().Undefined();
}

// gaussianNllGrad(x, mean, lv, lvMode, dy[N], dMean[N,D], dLv[lvLen], N, D)
Napi::Value GaussianNllGrad(const Napi::CallbackInfo& info) {
  int mode = info[3].As<Napi::Number>().Int32Value();
  int64_t N = info[7].As<Napi::Number>().Int64Value(), D = info[8].As<Napi::Number>().Int64Value();
  const int64_t lvLen = LvLen(mode, N, D);
  if ((int64_t)Len(info[0]) != N * D || (int64_t)Len(info[1]) != N * D || (int64_t)Len(info[2]) != lvLen ||
      (int64_t)Len(info[4]) != N || (int64_t)Len(info[5]) != N * D || (int64_t)Len(info[6]) != lvLen)
    return Fail(info, "gaussianNllGrad: length mismatch");
  GaussianGradRows<false>(F32(info[0]), F32(info[1]), F32(info[2]), mode, {}, F32(info[4]), F32(info[5]),
                          F32(info[6]), N, D);
  return info.Env().Undefined();
}

// gaussianNllMasked(x, mean, lv, lvMode, mask, maskRows, out[N], N, D)
Napi::Value GaussianNllMasked(const Napi::CallbackInfo& info) {
  int mode = info[3].As<Napi::Number>().Int32Value();
  int64_t N = info[7].As<Napi::Number>().Int64Value(), D = info[8].As<Napi::Number>().Int64Value();
  Mask m;
  if (!ReadMask(info, 4, N, D, m) || (int64_t)Len(info[0]) != N * D || (int64_t)Len(info[1]) != N * D ||
      (int64_t)Len(info[2]) != LvLen(mode, N, D) || (int64_t)Len(info[6]) != N)
    return Fail(info, "gaussianNllMasked: length mismatch");
  GaussianRows<true>(F32(info[0]), F32(info[1]), F32(info[2]), mode, m, F32(info[6]), N, D);
  return info.Env().Undefined();
}

// gaussianNllMaskedGrad(x, mean, lv, lvMode, mask, maskRows, dy[N], dMean[N,D], dLv[lvLen], N, D)
Napi::Value GaussianNllMaskedGrad(const Napi::CallbackInfo& info) {
  int mode = info[3].As<Napi::Number>().Int32Value();
  int64_t N = info[9].As<Napi::Number>().Int64Value(), D = info[10].As<Napi::Number>().Int64Value();
  const int64_t lvLen = LvLen(mode, N, D);
  Mask m;
  if (!ReadMask(info, 4, N, D, m) || (int64_t)Len(info[0]) != N * D || (int64_t)Len(info[1]) != N * D ||
      (int64_t)Len(info[2]) != lvLen || (int64_t)Len(info[6]) != N || (int64_t)Len(info[7]) != N * D ||
      (int64_t)Len(info[8]) != lvLen)
    return Fail(info, "gaussianNllMaskedGrad: length mismatch");
  GaussianGradRows<true>(F32(info[0]), F32(info[1]), F32(info[2]), mode, m, F32(info[6]), F32(info[7]),
                         F32(info[8]), N, D);
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
  EachRow(N, D, [&](int64_t n) {
    const float* mu = MU + n * D;
    const float* lv = LV + n * D;
    double acc = 0.0;
#pragma omp simd reduction(+ : acc)
    for (int64_t d = 0; d < D; d++) acc += (double)(mu[d] * mu[d] + VExp(lv[d]) - lv[d] - 1.0f);
    O[n] = (float)(0.5 * acc);
  });
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
  EachRow(N, D, [&](int64_t n) { KlGradRow(MU + n * D, LV + n * D, DY[n], DM + n * D, DL + n * D, D); });
  return info.Env().Undefined();
}

VK_EXPORT("bernoulliNll", BernoulliNll)
VK_EXPORT("bernoulliNllGrad", BernoulliNllGrad)
VK_EXPORT("gaussianNll", GaussianNll)
VK_EXPORT("gaussianNllGrad", GaussianNllGrad)
VK_EXPORT("bernoulliNllMasked", BernoulliNllMasked)
VK_EXPORT("bernoulliNllMaskedGrad", BernoulliNllMaskedGrad)
VK_EXPORT("gaussianNllMasked", GaussianNllMasked)
VK_EXPORT("gaussianNllMaskedGrad", GaussianNllMaskedGrad)
VK_EXPORT("klStdNormal", KlStdNormal)
VK_EXPORT("klStdNormalGrad", KlStdNormalGrad)

}  // namespace
}  // namespace vaekit
