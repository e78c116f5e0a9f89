// vaekit native: the discretised logistic NLL of 8-bit values (src/backend/fused.ts; mask optional) and
// its gradient. (The masked Bernoulli and Gaussian NLLs share their unmasked kernels in likelihood.cc.)
#include "likelihood.h"
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
  const int64_t lsLen = LvLen(mode, N, D);
  if ((maskRows != 0 && maskRows != 1 && maskRows != N) || (int64_t)Len(info[0]) != N * D ||
      (int64_t)Len(info[1]) != N * D || (int64_t)Len(info[2]) != lsLen || (int64_t)Len(info[4]) != maskRows * D ||
      (int64_t)Len(info[6]) != N)
    return Fail(info, "discretizedLogisticNll: length mismatch");
  const std::vector<DlScale> pre = DlScales(LS, mode, D);
  EachRow(N, D, [&](int64_t n) {
    const float* x = X + n * D;
    const float* mu = MU + n * D;
    const float* mk = maskRows ? MaskRow(MK, maskRows, n, D) : nullptr;
    double acc = 0.0;
    for (int64_t d = 0; d < D; d++) {
      if (mk && mk[d] == 0.0f) continue;
      const float lp = DlEval(x[d], mu[d], DlScaleAt(pre, LS, mode, n, d, D)).logP;
      acc -= (double)(mk ? mk[d] * lp : lp);
    }
    O[n] = (float)acc;
  }, 2048);
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
  const int64_t lsLen = LvLen(mode, N, D);
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
    EachRow(N, D, [&](int64_t n) { row(n, DLS + n * D); }, 2048);
    return info.Env().Undefined();
  }
  // scalar / row log-scale: accumulated sequentially (the reduction over examples)
  std::fill(DLS, DLS + lsLen, 0.0f);
  for (int64_t n = 0; n < N; n++) row(n, DLS);
  return info.Env().Undefined();
}

VK_EXPORT("discretizedLogisticNll", DiscretizedLogisticNll)
VK_EXPORT("discretizedLogisticNllGrad", DiscretizedLogisticNllGrad)

}  // namespace
}  // namespace vaekit
