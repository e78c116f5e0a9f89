// vaekit native: the masked fused likelihoods (src/backend/fused.ts; inpainting, MIWAE): the Bernoulli and
// Gaussian NLLs of likelihood.cc weighted by an observation mask, and the discretised logistic NLL of 8-bit
// values (mask optional), with their gradients.
#include "napi_util.h"
#include "ops.h"
#include "pool.h"
#include "vmath.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace vaekit {
namespace {

// lv addressing: mode 0 scalar, 1 row [D], 2 full [N, D] (as likelihood.cc)
inline const float* LvRow(const float* lv, int mode, int64_t n, int64_t D) { return mode == 2 ? lv + n * D : lv; }

constexpr float kLog2Pi = 1.8378770664093453f;

// ------------------------------------------------------------------------------------------------
// masked likelihoods (inpainting, MIWAE): the same terms weighted by an observation mask m, 1 observed,
// 0 missing, of maskRows rows (N: one per example, 1: one row shared by all); the gradients are the
// unmasked ones times m (and the log-variance's reduced over the masked terms only).

inline const float* MaskRow(const float* m, int64_t maskRows, int64_t n, int64_t D) {
  return maskRows == 1 ? m : m + n * D;
}

// bernoulliNllMasked(logits, x, mask, maskRows, out[N], N, D): out[n] = sum_d m_d (max(l,0) - x l + log1p(exp(-|l|)))
Napi::Value BernoulliNllMasked(const Napi::CallbackInfo& info) {
  const float* L = F32(info[0]);
  const float* X = F32(info[1]);
  const float* MK = F32(info[2]);
  int64_t maskRows = info[3].As<Napi::Number>().Int64Value();
  float* O = F32(info[4]);
  int64_t N = info[5].As<Napi::Number>().Int64Value(), D = info[6].As<Napi::Number>().Int64Value();
  if ((maskRows != 1 && maskRows != N) || (int64_t)Len(info[0]) != N * D || (int64_t)Len(info[1]) != N * D ||
      (int64_t)Len(info[2]) != maskRows * D || (int64_t)Len(info[4]) != N)
    return Fail(info, "bernoulliNllMasked: length mismatch");
  ParallelFor(
      (size_t)N, std::max<size_t>(1, 8192 / (size_t)std::max<int64_t>(D, 1)),
      [&](size_t s, size_t e) {
        for (size_t n = s; n < e; n++) {
          const float* l = L + n * D;
          const float* x = X + n * D;
          const float* m = MaskRow(MK, maskRows, (int64_t)n, D);
          double acc = 0.0;
#pragma omp simd reduction(+ : acc)
          for (int64_t d = 0; d < D; d++) {
            float li = l[d];
            float v = (li > 0.0f ? li : 0.0f) - x[d] * li + VLog1p(VExp(-std::fabs(li)));
            acc += (double)(m[d] * v);
          }
          O[n] = (float)acc;
        }
      },
      1);
  return info.Env().Undefined();
}

__attribute__((noinline)) void BceGradRowMasked(const float* __restrict l, const float* __restrict x,
                                                const float* __restrict m, float g, float* __restrict o,
                                                int64_t D) {
#pragma omp simd
  for (int64_t d = 0; d < D; d++) o[d] = (VSigmoid(l[d]) - x[d]) * g * m[d];
}

// bernoulliNllMaskedGrad(logits, x, mask, maskRows, dy[N], out[N,D], N, D): out = m (sigmoid(l) - x) dy[n]
Napi::Value BernoulliNllMaskedGrad(const Napi::CallbackInfo& info) {
  const float* L = F32(info[0]);
  const float* X = F32(info[1]);
  const float* MK = F32(info[2]);
  int64_t maskRows = info[3].As<Napi::Number>().Int64Value();
  const float* DY = F32(info[4]);
  float* O = F32(info[5]);
  int64_t N = info[6].As<Napi::Number>().Int64Value(), D = info[7].As<Napi::Number>().Int64Value();
  if ((maskRows != 1 && maskRows != N) || (int64_t)Len(info[0]) != N * D || (int64_t)Len(info[1]) != N * D ||
      (int64_t)Len(info[2]) != maskRows * D || (int64_t)Len(info[4]) != N || (int64_t)Len(info[5]) != N * D)
    return Fail(info, "bernoulliNllMaskedGrad: length mismatch");
  ParallelFor(
      (size_t)N, std::max<size_t>(1, 8192 / (size_t)std::max<int64_t>(D, 1)),
      [&](size_t s, size_t e) {
        for (size_t n = s; n < e; n++)
          BceGradRowMasked(L + n * D, X + n * D, MaskRow(MK, maskRows, (int64_t)n, D), DY[n], O + n * D, D);
      },
      1);
  return info.Env().Undefined();
}

// gaussianNllMasked(x, mean, lv, lvMode, mask, maskRows, out[N], N, D):
// out[n] = sum_d m_d 0.5 (log 2pi + lv + (x-m)^2 exp(-lv))
Napi::Value GaussianNllMasked(const Napi::CallbackInfo& info) {
  const float* X = F32(info[0]);
  const float* M = F32(info[1]);
  const float* LV = F32(info[2]);
  int mode = info[3].As<Napi::Number>().Int32Value();
  const float* MK = F32(info[4]);
  int64_t maskRows = info[5].As<Napi::Number>().Int64Value();
  float* O = F32(info[6]);
  int64_t N = info[7].As<Napi::Number>().Int64Value(), D = info[8].As<Napi::Number>().Int64Value();
  int64_t lvLen = mode == 0 ? 1 : (mode == 1 ? D : N * D);
  if ((maskRows != 1 && maskRows != N) || (int64_t)Len(info[0]) != N * D || (int64_t)Len(info[1]) != N * D ||
      (int64_t)Len(info[2]) != lvLen || (int64_t)Len(info[4]) != maskRows * D || (int64_t)Len(info[6]) != N)
    return Fail(info, "gaussianNllMasked: length mismatch");
  ParallelFor(
      (size_t)N, std::max<size_t>(1, 8192 / (size_t)std::max<int64_t>(D, 1)),
      [&](size_t s, size_t e) {
        for (size_t n = s; n < e; n++) {
          const float* x = X + n * D;
          const float* m = M + n * D;
          const float* mk = MaskRow(MK, maskRows, (int64_t)n, D);
          double acc = 0.0;
          if (mode == 0) {
            const float lv = LV[0], iv = VExp(-lv);
#pragma omp simd reduction(+ : acc)
            for (int64_t d = 0; d < D; d++) {
              float df = x[d] - m[d];
              acc += (double)(mk[d] * (kLog2Pi + lv + df * df * iv));
            }
          } else {
            const float* lv = LvRow(LV, mode, n, D);
#pragma omp simd reduction(+ : acc)
            for (int64_t d = 0; d < D; d++) {
              float df = x[d] - m[d];
              acc += (double)(mk[d] * (kLog2Pi + lv[d] + df * df * VExp(-lv[d])));
            }
          }
          O[n] = (float)(0.5 * acc);
        }
      },
      1);
  return info.Env().Undefined();
}

// gaussianNllMaskedGrad(x, mean, lv, lvMode, mask, maskRows, dy[N], dMean[N,D], dLv[lvLen], N, D)
// dMean = m dy (mean - x) exp(-lv); dLv = reduce_to_lv_shape(m dy 0.5 (1 - (x-mean)^2 exp(-lv)))
Napi::Value GaussianNllMaskedGrad(const Napi::CallbackInfo& info) {
  const float* X = F32(info[0]);
  const float* M = F32(info[1]);
  const float* LV = F32(info[2]);
  int mode = info[3].As<Napi::Number>().Int32Value();
  const float* MK = F32(info[4]);
  int64_t maskRows = info[5].As<Napi::Number>().Int64Value();
  const float* DY = F32(info[6]);
  float* DM = F32(info[7]);
  float* DL = F32(info[8]);
  int64_t N = info[9].As<Napi::Number>().Int64Value(), D = info[10].As<Napi::Number>().Int64Value();
  int64_t lvLen = mode == 0 ? 1 : (mode == 1 ? D : N * D);
  if ((maskRows != 1 && maskRows != N) || (int64_t)Len(info[0]) != N * D || (int64_t)Len(info[1]) != N * D ||
      (int64_t)Len(info[2]) != lvLen || (int64_t)Len(info[4]) != maskRows * D || (int64_t)Len(info[6]) != N ||
      (int64_t)Len(info[7]) != N * D || (int64_t)Len(info[8]) != lvLen)
    return Fail(info, "gaussianNllMaskedGrad: length mismatch");
  if (mode == 2) {
    ParallelFor(
        (size_t)N, std::max<size_t>(1, 8192 / (size_t)std::max<int64_t>(D, 1)),
        [&](size_t s, size_t e) {
          for (size_t n = s; n < e; n++) {
            const float* x = X + n * D;
            const float* m = M + n * D;
            const float* lv = LV + n * D;
            const float* mk = MaskRow(MK, maskRows, (int64_t)n, D);
            float* dm = DM + n * D;
            float* dl = DL + n * D;
            const float g = DY[n];
#pragma omp simd
            for (int64_t d = 0; d < D; d++) {
              float iv = VExp(-lv[d]);
              float df = m[d] - x[d];
              float gm = g * mk[d];
              dm[d] = gm * df * iv;
              dl[d] = 0.5f * gm * (1.0f - df * df * iv);
            }
          }
        },
        1);
    return info.Env().Undefined();
  }
  std::vector<double> acc(mode == 0 ? 1 : D, 0.0);
  std::vector<float> iv(mode == 0 ? 1 : D);
  for (size_t i = 0; i < iv.size(); i++) iv[i] = VExp(-LV[i]);
  for (int64_t n = 0; n < N; n++) {
    const float g = DY[n];
    const float* x = X + n * D;
    const float* m = M + n * D;
    const float* mk = MaskRow(MK, maskRows, n, D);
    float* dm = DM + n * D;
    if (mode == 0) {
      const float v = iv[0];
      double a = 0.0;
#pragma omp simd reduction(+ : a)
      for (int64_t d = 0; d < D; d++) {
        float df = m[d] - x[d];
        float gm = g * mk[d];
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
        float gm = g * mk[d];
        dm[d] = gm * df * v[d];
        ac[d] += (double)(0.5f * gm * (1.0f - df * df * v[d]));
      }
    }
  }
  for (size_t i = 0; i < acc.size(); i++) DL[i] = (float)acc[i];
  return info.Env().Undefined();
}

// ------------------------------------------------------------------------------------------------
// discretised logistic over 8-bit values (src/distributions/discretized-logistic.ts): per value x = k/255
// of a logistic (mu, s), log s clamped to [-12, 1], c = x - mu, a = (c + h)/s, b = (c - h)/s, h = 1/510:
//   x < h      log P = -softplus(-a)
//   x > 1 - h  log P = -softplus(b)
//   else       log P = a - softplus(a) - softplus(b) + log(1 - exp(-2h/s))
// NLL = -sum_d m_d log P (maskRows 0: no mask, every m_d = 1). The gradient flows to mu and log s (zero
// where log s is outside the clamp, as tfjs's clipByValue).

constexpr float kDlHalfBin = 1.0f / 510.0f;
constexpr float kDlMinLogScale = -12.0f, kDlMaxLogScale = 1.0f;

struct DlTerm {
  float logP, dMu, dLs;  // log P and its derivatives
};

// What depends on log s only: 1/s, log(1 - exp(-2h/s)), its derivative in 1/s, and whether s is inside the
// clamp (computed once per dimension when log s is a scalar or a row).
struct DlScale {
  float invS, log1mExp, dK;
  bool inside;
};

inline DlScale DlScaleOf(float ls) {
  const bool inside = ls >= kDlMinLogScale && ls <= kDlMaxLogScale;
  const float lsc = std::min(std::max(ls, kDlMinLogScale), kDlMaxLogScale);
  const float invS = std::exp(-lsc);
  const float delta = 2.0f * kDlHalfBin * invS;
  // log(1 - e^{-Δ}) (0 for a large Δ, where e^Δ overflows) and its derivative in 1/s, 2h / (e^Δ - 1)
  return {invS, std::log(-std::expm1(-delta)), 2.0f * kDlHalfBin / std::expm1(delta), inside};
}

inline DlTerm DlEval(float x, float mu, const DlScale& k) {
  const float invS = k.invS;
  const float c = x - mu;
  const float a = (c + kDlHalfBin) * invS, b = (c - kDlHalfBin) * invS;
  float logP, ga = 0.0f, gb = 0.0f, gk = 0.0f;
  if (x < kDlHalfBin) {
    logP = -VSoftplus(-a);
    ga = VSigmoid(-a);
  } else if (x > 1.0f - kDlHalfBin) {
    logP = -VSoftplus(b);
    gb = -VSigmoid(b);
  } else {
    logP = a - VSoftplus(a) - VSoftplus(b) + k.log1mExp;
    ga = VSigmoid(-a);
    gb = -VSigmoid(b);
    gk = k.dK;
  }
  const float dInvS = ga * (c + kDlHalfBin) + gb * (c - kDlHalfBin) + gk;
  return {logP, -invS * (ga + gb), k.inside ? -invS * dInvS : 0.0f};
}

// The per-dimension scale terms of a scalar or row log s (empty for a full [N, D] one).
inline std::vector<DlScale> DlScales(const float* LS, int mode, int64_t D) {
  std::vector<DlScale> v;
  if (mode == 0) v.push_back(DlScaleOf(LS[0]));
  if (mode == 1)
    for (int64_t d = 0; d < D; d++) v.push_back(DlScaleOf(LS[d]));
  return v;
}

inline DlScale DlScaleAt(const std::vector<DlScale>& pre, const float* LS, int mode, int64_t n, int64_t d,
                         int64_t D) {
  if (mode == 0) return pre[0];
  if (mode == 1) return pre[d];
  return DlScaleOf(LS[n * D + d]);
}

// discretizedLogisticNll(x, mu, ls, lsMode, mask, maskRows, out[N], N, D)
Napi::Value DiscretizedLogisticNll(const Napi::CallbackInfo& info) {
  const float* X = F32(info[0]);
  const float* MU = F32(info[1]);
  const float* LS = F32(info[2]);
  int mode = info[3].As<Napi::Number>().Int32Value();
  const float* MK = F32(info[4]);
  int64_t maskRows = info[5].As<Napi::Number>().Int64Value();
  float* O = F32(info[6]);
  int64_t N = info[7].As<Napi::Number>().Int64Value(), D = info[8].As<Napi::Number>().Int64Value();
  int64_t lsLen = mode == 0 ? 1 : (mode == 1 ? D : N * D);
  if ((maskRows != 0 && maskRows != 1 && maskRows != N) || (int64_t)Len(info[0]) != N * D ||
      (int64_t)Len(info[1]) != N * D || (int64_t)Len(info[2]) != lsLen || (int64_t)Len(info[4]) != maskRows * D ||
      (int64_t)Len(info[6]) != N)
    return Fail(info, "discretizedLogisticNll: length mismatch");
  const std::vector<DlScale> pre = DlScales(LS, mode, D);
  ParallelFor(
      (size_t)N, std::max<size_t>(1, 2048 / (size_t)std::max<int64_t>(D, 1)),
      [&](size_t s, size_t e) {
        for (size_t n = s; n < e; n++) {
          const float* x = X + n * D;
          const float* mu = MU + n * D;
          const float* mk = maskRows ? MaskRow(MK, maskRows, (int64_t)n, D) : nullptr;
          double acc = 0.0;
          for (int64_t d = 0; d < D; d++) {
            if (mk && mk[d] == 0.0f) continue;
            const float lp = DlEval(x[d], mu[d], DlScaleAt(pre, LS, mode, (int64_t)n, d, D)).logP;
            acc -= (double)(mk ? mk[d] * lp : lp);
          }
          O[n] = (float)acc;
        }
      },
      1);
  return info.Env().Undefined();
}

// discretizedLogisticNllGrad(x, mu, ls, lsMode, mask, maskRows, dy[N], dMu[N,D], dLs[lsLen], N, D)
Napi::Value DiscretizedLogisticNllGrad(const Napi::CallbackInfo& info) {
  const float* X = F32(info[0]);
  const float* MU = F32(info[1]);
  const float* LS = F32(info[2]);
  int mode = info[3].As<Napi::Number>().Int32Value();
  const float* MK = F32(info[4]);
  int64_t maskRows = info[5].As<Napi::Number>().Int64Value();
  const float* DY = F32(info[6]);
  float* DMU = F32(info[7]);
  float* DLS = F32(info[8]);
  int64_t N = info[9].As<Napi::Number>().Int64Value(), D = info[10].As<Napi::Number>().Int64Value();
  int64_t lsLen = mode == 0 ? 1 : (mode == 1 ? D : N * D);
  if ((maskRows != 0 && maskRows != 1 && maskRows != N) || (int64_t)Len(info[0]) != N * D ||
      (int64_t)Len(info[1]) != N * D || (int64_t)Len(info[2]) != lsLen || (int64_t)Len(info[4]) != maskRows * D ||
      (int64_t)Len(info[6]) != N || (int64_t)Len(info[7]) != N * D || (int64_t)Len(info[8]) != lsLen)
    return Fail(info, "discretizedLogisticNllGrad: length mismatch");
  const std::vector<DlScale> pre = DlScales(LS, mode, D);
  auto row = [&](int64_t n, float* dls) {
    const float* x = X + n * D;
    const float* mu = MU + n * D;
    const float* mk = maskRows ? MaskRow(MK, maskRows, n, D) : nullptr;
    float* dmu = DMU + n * D;
    const float g = DY[n];
    for (int64_t d = 0; d < D; d++) {
      const float w = mk ? g * mk[d] : g;
      if (w == 0.0f) {
        dmu[d] = 0.0f;
        if (mode == 2) dls[d] = 0.0f;
        continue;
      }
      const DlTerm t = DlEval(x[d], mu[d], DlScaleAt(pre, LS, mode, n, d, D));
      dmu[d] = -w * t.dMu;  // d(-log P)
      if (mode == 2)
        dls[d] = -w * t.dLs;
      else
        dls[mode == 0 ? 0 : d] += -w * t.dLs;
    }
  };
  if (mode == 2) {
    ParallelFor(
        (size_t)N, std::max<size_t>(1, 2048 / (size_t)std::max<int64_t>(D, 1)),
        [&](size_t s, size_t e) {
          for (size_t n = s; n < e; n++) row((int64_t)n, DLS + n * D);
        },
        1);
    return info.Env().Undefined();
  }
  // scalar / row log-scale: accumulated sequentially (the reduction over examples)
  std::fill(DLS, DLS + lsLen, 0.0f);
  for (int64_t n = 0; n < N; n++) row(n, DLS);
  return info.Env().Undefined();
}

VK_EXPORT("bernoulliNllMasked", BernoulliNllMasked)
VK_EXPORT("bernoulliNllMaskedGrad", BernoulliNllMaskedGrad)
VK_EXPORT("gaussianNllMasked", GaussianNllMasked)
VK_EXPORT("gaussianNllMaskedGrad", GaussianNllMaskedGrad)
VK_EXPORT("discretizedLogisticNll", DiscretizedLogisticNll)
VK_EXPORT("discretizedLogisticNllGrad", DiscretizedLogisticNllGrad)

}  // namespace
}  // namespace vaekit
