// vaekit native: vectorisable math (Cephes-style polynomials, 1-2 ulp, so that GCC emits SIMD code
// without -ffast-math; NaN/Inf propagated), the scalar unary ops and the fused activations.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#include "ops.h"

namespace vaekit {

inline float AsFloat(int32_t i) {
  float f;
  std::memcpy(&f, &i, 4);
  return f;
}
inline int32_t AsInt(float f) {
  int32_t i;
  std::memcpy(&i, &f, 4);
  return i;
}

inline float VExp(float x) {
  float xc = x > 88.7228f ? 88.7228f : x;
  xc = xc < -87.3365f ? -87.3365f : xc;
  xc = x != x ? 0.0f : xc;
  float t = xc * 1.44269504088896341f;
  float fx = (t + 12582912.0f) - 12582912.0f;  // round to nearest
  float r = xc - fx * 0.693359375f;
  r = r + fx * 2.12194440e-4f;
  float y = 1.9875691500E-4f;
  y = y * r + 1.3981999507E-3f;
  y = y * r + 8.3334519073E-3f;
  y = y * r + 4.1665795894E-2f;
  y = y * r + 1.6666665459E-1f;
  y = y * r + 5.0000001201E-1f;
  y = y * (r * r) + r + 1.0f;
  int32_t n = (int32_t)fx;
  float p = AsFloat((int32_t)((uint32_t)(n + 126) << 23));
  float res = y * p * 2.0f;
  res = x > 88.7228f ? INFINITY : res;
  res = x < -87.3365f ? 0.0f : res;
  res = x != x ? x : res;
  return res;
}

inline float VLog(float x) {
  bool den = x < 1.17549435e-38f;
  float xs = den ? x * 8388608.0f : x;
  int32_t bits = AsInt(xs);
  int32_t e = ((bits >> 23) & 0xff) - 126;
  e = den ? e - 23 : e;
  float m = AsFloat((bits & 0x007fffff) | 0x3f000000);
  bool lt = m < 0.707106781186547524f;
  float fe = (float)e;
  fe = lt ? fe - 1.0f : fe;
  m = lt ? m + m - 1.0f : m - 1.0f;
  float z = m * m;
  float y = 7.0376836292E-2f;
  y = y * m - 1.1514610310E-1f;
  y = y * m + 1.1676998740E-1f;
  y = y * m - 1.2420140846E-1f;
  y = y * m + 1.4249322787E-1f;
  y = y * m - 1.6668057665E-1f;
  y = y * m + 2.0000714765E-1f;
  y = y * m - 2.4999993993E-1f;
  y = y * m + 3.3333331174E-1f;
  y = y * m * z;
  y += -2.12194440e-4f * fe;
  y += -0.5f * z;
  float r = m + y;
  r += 0.693359375f * fe;
  r = x == 0.0f ? -INFINITY : r;
  r = x < 0.0f ? NAN : r;
  r = x == INFINITY ? INFINITY : r;
  r = x != x ? x : r;
  return r;
}

inline float VLog1p(float x) {
  float u = 1.0f + x;
  float d = u - 1.0f;
  float lu = VLog(u);
  float r = d == 0.0f ? x : lu * (x / d);
  r = u == INFINITY ? INFINITY : r;
  return r;
}

inline float VExpm1(float x) {
  float u = VExp(x);
  float um1 = u - 1.0f;
  float r = um1 * (x / VLog(u));
  r = u == 1.0f ? x : r;
  r = um1 == -1.0f ? -1.0f : r;
  r = u == INFINITY ? INFINITY : r;
  r = x != x ? x : r;
  return r;
}

inline float VSigmoid(float x) { return 1.0f / (1.0f + VExp(-x)); }

inline float VSoftplus(float x) {  // max(x,0) + log1p(exp(-|x|))
  return (x > 0.0f ? x : 0.0f) + VLog1p(VExp(-std::fabs(x)));
}

inline float VTanh(float x) {
  float ax = std::fabs(x);
  float z = x * x;
  float small =
      ((((-5.70498872745E-3f * z + 2.06390887954E-2f) * z - 5.37397155531E-2f) * z + 1.33314422036E-1f) * z -
       3.33332819422E-1f) *
          z * x +
      x;
  float e = VExp(2.0f * ax);
  float big = 1.0f - 2.0f / (e + 1.0f);
  big = x < 0.0f ? -big : big;
  return ax < 0.625f ? small : big;
}

template <int OP>
inline float Unary1(float x, float p, float q) {
  if constexpr (OP == U_COPY) return x;
  if constexpr (OP == U_NEG) return -x;
  if constexpr (OP == U_ABS) return std::fabs(x);
  if constexpr (OP == U_SQUARE) return x * x;
  if constexpr (OP == U_SQRT) return std::sqrt(x);
  if constexpr (OP == U_RSQRT) return 1.0f / std::sqrt(x);
  if constexpr (OP == U_RECIP) return 1.0f / x;
  if constexpr (OP == U_EXP) return VExp(x);
  if constexpr (OP == U_LOG) return VLog(x);
  if constexpr (OP == U_LOG1P) return VLog1p(x);
  if constexpr (OP == U_EXPM1) return VExpm1(x);
  if constexpr (OP == U_SIGMOID) return VSigmoid(x);
  if constexpr (OP == U_SOFTPLUS) return VSoftplus(x);
  if constexpr (OP == U_TANH) return VTanh(x);
  if constexpr (OP == U_RELU) return x < 0.0f ? 0.0f : x;
  if constexpr (OP == U_RELU6) {
    float r = x < 0.0f ? 0.0f : x;
    return r > 6.0f ? 6.0f : r;
  }
  if constexpr (OP == U_STEP) return x != x ? x : (x > 0.0f ? 1.0f : p);
  if constexpr (OP == U_ELU) return x >= 0.0f ? x : VExpm1(x);
  if constexpr (OP == U_LEAKYRELU) return x < 0.0f ? p * x : x;
  if constexpr (OP == U_SELU) {
    const float scale = 1.0507009873554804934193349852946f, alpha = 1.6732632423543772848170429916717f;
    return x >= 0.0f ? scale * x : scale * alpha * (VExp(x) - 1.0f);
  }
  if constexpr (OP == U_SIGN) return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : 0.0f);  // tfjs: sign(NaN) = 0
  if constexpr (OP == U_FLOOR) return std::floor(x);
  if constexpr (OP == U_CEIL) return std::ceil(x);
  if constexpr (OP == U_ROUND) return std::nearbyint(x);
  if constexpr (OP == U_CLIP) return x > q ? q : (x < p ? p : x);
  if constexpr (OP == U_SIN) return std::sin(x);
  if constexpr (OP == U_COS) return std::cos(x);
  if constexpr (OP == U_ERF) return std::erf(x);
  return x;
}

// The fused activation of a GEMM / convolution output (codes: VK_ACT in ops.def).
inline float Activate(float v, int act, float alpha) {
  switch (act) {
    case A_RELU: return Unary1<U_RELU>(v, 0, 0);
    case A_RELU6: return Unary1<U_RELU6>(v, 0, 0);
    case A_SIGMOID: return VSigmoid(v);
    case A_ELU: return Unary1<U_ELU>(v, 0, 0);
    case A_LEAKYRELU: return Unary1<U_LEAKYRELU>(v, alpha, 0);
    default: return v;
  }
}

}  // namespace vaekit
