// vaekit native core kernels: matmul (OpenBLAS sgemm, split across OpenMP threads), elementwise
// unary/binary ops with N-d broadcasting, reductions, transpose/slice, AddN, and fused VAE
// likelihoods and optimizer steps. Called from src/backend/native.ts and src/backend/fused.ts.
//
// Conventions: every function takes its inputs and a caller-allocated output (typed arrays; JS
// allocates, C++ only fills). Inputs are never written to, except the explicit in-place optimizer
// steps. Shapes come as JS arrays of numbers. Transcendentals use vectorisable Cephes-style
// polynomials (1-2 ulp) so that GCC emits AVX2 code without -ffast-math; NaN/Inf are propagated.
//
// Threading: one OpenMP pool for everything (OpenBLAS is kept single-threaded and large GEMMs are
// split across the OpenMP threads here), so that OpenBLAS and OpenMP workers never fight over the
// cores. setGemmMode(1) switches to OpenBLAS' own threading instead (for comparison).
#include <napi.h>
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <array>
#include <type_traits>
#include <utility>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace {

int g_threads = 2;
int g_gemm_mode = 0;  // 0: OpenMP split + single-threaded OpenBLAS; 1: OpenBLAS threads

// ------------------------------------------------------------------------------------------------
// threading helpers

inline int ThreadsFor(size_t n, size_t grain) {
  if (g_threads <= 1 || n < 2 * grain) return 1;
  size_t t = n / grain;
  return (int)std::min<size_t>(t, (size_t)g_threads);
}

// f(begin, end) over [0, n), split in contiguous chunks (aligned to `align`) across threads.
template <class F>
inline void ParallelFor(size_t n, size_t grain, F&& f, size_t align = 16) {
  int nt = ThreadsFor(n, grain);
  if (nt <= 1) {
    if (n) f((size_t)0, n);
    return;
  }
#pragma omp parallel num_threads(nt)
  {
    size_t t = (size_t)omp_get_thread_num(), T = (size_t)omp_get_num_threads();
    size_t chunk = (n + T - 1) / T;
    if (align > 1) chunk = (chunk + align - 1) / align * align;
    size_t b = std::min(n, t * chunk), e = std::min(n, b + chunk);
    if (b < e) f(b, e);
  }
}

// ------------------------------------------------------------------------------------------------
// vectorisable math

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

// ------------------------------------------------------------------------------------------------
// argument helpers

inline float* F32(const Napi::Value& v) { return v.As<Napi::Float32Array>().Data(); }
inline size_t Len(const Napi::Value& v) { return v.As<Napi::TypedArray>().ElementLength(); }
inline bool IsNil(const Napi::Value& v) { return v.IsUndefined() || v.IsNull(); }

std::vector<int64_t> Shape(const Napi::Value& v) {
  Napi::Array a = v.As<Napi::Array>();
  uint32_t n = a.Length();
  std::vector<int64_t> s(n);
  for (uint32_t i = 0; i < n; i++) s[i] = a.Get(i).As<Napi::Number>().Int64Value();
  return s;
}

int64_t SizeOf(const std::vector<int64_t>& s) {
  int64_t n = 1;
  for (auto d : s) n *= d;
  return n;
}

Napi::Value Fail(const Napi::CallbackInfo& info, const std::string& msg) {
  Napi::Error::New(info.Env(), "vaekit native: " + msg).ThrowAsJavaScriptException();
  return info.Env().Undefined();
}

// ------------------------------------------------------------------------------------------------
// unary ops

enum UnaryOp {
  U_COPY = 0, U_NEG, U_ABS, U_SQUARE, U_SQRT, U_RSQRT, U_RECIP, U_EXP, U_LOG, U_LOG1P, U_EXPM1,
  U_SIGMOID, U_SOFTPLUS, U_TANH, U_RELU, U_RELU6, U_STEP, U_ELU, U_LEAKYRELU, U_SELU, U_SIGN,
  U_FLOOR, U_CEIL, U_ROUND, U_CLIP, U_SIN, U_COS, U_ERF, U_NUM
};

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

template <int OP>
void UnaryLoop(const float* __restrict x, float* __restrict o, size_t n, float p, float q) {
  constexpr bool heavy = OP == U_EXP || OP == U_LOG || OP == U_LOG1P || OP == U_EXPM1 || OP == U_SIGMOID ||
                         OP == U_SOFTPLUS || OP == U_TANH || OP == U_ELU || OP == U_SELU || OP == U_SIN ||
                         OP == U_COS || OP == U_ERF;
  ParallelFor(n, heavy ? 8192 : 32768, [&](size_t b, size_t e) {
#pragma omp simd
    for (size_t i = b; i < e; i++) o[i] = Unary1<OP>(x[i], p, q);
  });
}

using UnaryFn = void (*)(const float*, float*, size_t, float, float);

template <int... OPS>
constexpr auto MakeUnaryTable(std::integer_sequence<int, OPS...>) {
  return std::array<UnaryFn, sizeof...(OPS)>{&UnaryLoop<OPS>...};
}
const auto kUnary = MakeUnaryTable(std::make_integer_sequence<int, U_NUM>{});

// unary(op, x, out, p?, q?)
Napi::Value Unary(const Napi::CallbackInfo& info) {
  int op = info[0].As<Napi::Number>().Int32Value();
  if (op < 0 || op >= U_NUM) return Fail(info, "bad unary op");
  Napi::Float32Array x = info[1].As<Napi::Float32Array>();
  Napi::Float32Array o = info[2].As<Napi::Float32Array>();
  if (o.ElementLength() != x.ElementLength()) return Fail(info, "unary: length mismatch");
  float p = info.Length() > 3 ? info[3].As<Napi::Number>().FloatValue() : 0.0f;
  float q = info.Length() > 4 ? info[4].As<Napi::Number>().FloatValue() : 0.0f;
  kUnary[op](x.Data(), o.Data(), x.ElementLength(), p, q);
  return info.Env().Undefined();
}

// ------------------------------------------------------------------------------------------------
// binary ops with broadcasting

enum BinaryOp {
  B_ADD = 0, B_SUB, B_MUL, B_DIV, B_MAX, B_MIN, B_SQDIFF, B_POW, B_PRELU, B_ELUGRAD, B_ATAN2, B_MOD,
  B_FLOORDIV, B_NUM_FLOAT,
  B_GREATER = 20, B_GREATER_EQ, B_LESS, B_LESS_EQ, B_EQUAL, B_NOT_EQUAL, B_NUM
};

template <int OP>
inline auto Binary1(float a, float b) {
  if constexpr (OP == B_ADD) return a + b;
  if constexpr (OP == B_SUB) return a - b;
  if constexpr (OP == B_MUL) return a * b;
  if constexpr (OP == B_DIV) return a / b;
  if constexpr (OP == B_MAX) {
    float r = a > b ? a : b;
    r = a != a ? a : r;
    return b != b ? b : r;
  }
  if constexpr (OP == B_MIN) {
    float r = a < b ? a : b;
    r = a != a ? a : r;
    return b != b ? b : r;
  }
  if constexpr (OP == B_SQDIFF) {
    float d = a - b;
    return d * d;
  }
  if constexpr (OP == B_POW) return std::pow(a, b);
  if constexpr (OP == B_PRELU) return a < 0.0f ? a * b : a;
  if constexpr (OP == B_ELUGRAD) return b >= 0.0f ? a : a * (b + 1.0f);
  if constexpr (OP == B_ATAN2) return std::atan2(a, b);
  if constexpr (OP == B_MOD) {  // tfjs: ((a % b) + b) % b
    float r = std::fmod(a, b);
    return (r != 0.0f && ((r < 0.0f) != (b < 0.0f))) ? r + b : r;
  }
  if constexpr (OP == B_FLOORDIV) return std::floor(a / b);
  if constexpr (OP == B_GREATER) return (uint8_t)(a > b);
  if constexpr (OP == B_GREATER_EQ) return (uint8_t)(a >= b);
  if constexpr (OP == B_LESS) return (uint8_t)(a < b);
  if constexpr (OP == B_LESS_EQ) return (uint8_t)(a <= b);
  if constexpr (OP == B_EQUAL) return (uint8_t)(a == b);
  if constexpr (OP == B_NOT_EQUAL) return (uint8_t)(a != b);
}

template <int OP>
using BinOut = decltype(Binary1<OP>(0.0f, 0.0f));

// inner contiguous kernel; sa/sb are 0 (broadcast) or 1
template <int OP>
inline void BinInner(BinOut<OP>* __restrict o, const float* __restrict a, int sa, const float* __restrict b, int sb,
                     size_t n) {
  if (sa && sb) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) o[i] = Binary1<OP>(a[i], b[i]);
  } else if (sa) {
    const float bv = b[0];
#pragma omp simd
    for (size_t i = 0; i < n; i++) o[i] = Binary1<OP>(a[i], bv);
  } else if (sb) {
    const float av = a[0];
#pragma omp simd
    for (size_t i = 0; i < n; i++) o[i] = Binary1<OP>(av, b[i]);
  } else {
    auto v = Binary1<OP>(a[0], b[0]);
    for (size_t i = 0; i < n; i++) o[i] = v;
  }
}

struct BPlan {
  int nd = 0;
  int64_t dims[16];
  int64_t sa[16], sb[16];
  int64_t total = 1;
};

// Merges the broadcast of shapes a and b (numpy rules) into at most 16 dims. Returns false on
// incompatible shapes or rank > 16.
bool MakePlan(const std::vector<int64_t>& as, const std::vector<int64_t>& bs, BPlan& p) {
  size_t R = std::max(as.size(), bs.size());
  if (R > 16) return false;
  int64_t md[16];
  int fa[16], fb[16];
  int nd = 0;
  p.total = 1;
  for (size_t d = 0; d < R; d++) {
    int64_t ad = d + as.size() >= R ? as[d + as.size() - R] : 1;
    int64_t bd = d + bs.size() >= R ? bs[d + bs.size() - R] : 1;
    int64_t od = std::max(ad, bd);
    if (ad == 0 || bd == 0) od = 0;
    if (ad != od && ad != 1) return false;
    if (bd != od && bd != 1) return false;
    p.total *= od;
    if (od == 1) continue;
    int xa = ad == od, xb = bd == od;
    if (nd > 0 && fa[nd - 1] == xa && fb[nd - 1] == xb) {
      md[nd - 1] *= od;
    } else {
      md[nd] = od;
      fa[nd] = xa;
      fb[nd] = xb;
      nd++;
    }
  }
  p.nd = nd;
  int64_t acca = 1, accb = 1;
  for (int d = nd - 1; d >= 0; d--) {
    p.dims[d] = md[d];
    p.sa[d] = fa[d] ? acca : 0;
    p.sb[d] = fb[d] ? accb : 0;
    if (fa[d]) acca *= md[d];
    if (fb[d]) accb *= md[d];
  }
  return true;
}

template <int OP>
void BinaryRun(const BPlan& p, const float* a, const float* b, BinOut<OP>* o) {
  if (p.total == 0) return;
  if (p.nd == 0) {
    o[0] = Binary1<OP>(a[0], b[0]);
    return;
  }
  const int nd = p.nd;
  const int64_t inner = p.dims[nd - 1];
  const int sa = p.sa[nd - 1] != 0, sb = p.sb[nd - 1] != 0;
  constexpr size_t grain = (OP == B_POW || OP == B_ATAN2 || OP == B_MOD) ? 4096 : 32768;
  if (nd == 1) {
    ParallelFor((size_t)inner, grain, [&](size_t s, size_t e) {
      BinInner<OP>(o + s, a + (sa ? s : 0), sa, b + (sb ? s : 0), sb, e - s);
    });
    return;
  }
  const int64_t outer = p.total / inner;
  size_t rowGrain = std::max<size_t>(1, grain / (size_t)inner);
  ParallelFor(
      (size_t)outer, rowGrain,
      [&](size_t s, size_t e) {
        // odometer over dims [0, nd-1)
        int64_t idx[16];
        int64_t rem = (int64_t)s, oa = 0, ob = 0;
        for (int d = nd - 2; d >= 0; d--) {
          idx[d] = rem % p.dims[d];
          rem /= p.dims[d];
          oa += idx[d] * p.sa[d];
          ob += idx[d] * p.sb[d];
        }
        for (size_t r = s; r < e; r++) {
          BinInner<OP>(o + r * inner, a + oa, sa, b + ob, sb, (size_t)inner);
          for (int d = nd - 2; d >= 0; d--) {
            idx[d]++;
            oa += p.sa[d];
            ob += p.sb[d];
            if (idx[d] < p.dims[d]) break;
            oa -= p.sa[d] * p.dims[d];
            ob -= p.sb[d] * p.dims[d];
            idx[d] = 0;
          }
        }
      },
      1);
}

// binary(op, a, aShape, b, bShape, out)
Napi::Value Binary(const Napi::CallbackInfo& info) {
  int op = info[0].As<Napi::Number>().Int32Value();
  Napi::Float32Array a = info[1].As<Napi::Float32Array>();
  auto as = Shape(info[2]);
  Napi::Float32Array b = info[3].As<Napi::Float32Array>();
  auto bs = Shape(info[4]);
  BPlan p;
  if (!MakePlan(as, bs, p)) return Fail(info, "binary: shapes do not broadcast");
  if ((int64_t)a.ElementLength() != SizeOf(as) || (int64_t)b.ElementLength() != SizeOf(bs))
    return Fail(info, "binary: input length does not match shape");
  Napi::TypedArray ot = info[5].As<Napi::TypedArray>();
  if ((int64_t)ot.ElementLength() != p.total) return Fail(info, "binary: output length mismatch");
  const float* A = a.Data();
  const float* B = b.Data();
  if (op >= B_GREATER) {
    if (ot.TypedArrayType() != napi_uint8_array) return Fail(info, "binary: comparison needs Uint8Array output");
    uint8_t* O = reinterpret_cast<uint8_t*>(static_cast<uint8_t*>(ot.ArrayBuffer().Data()) + ot.ByteOffset());
    switch (op) {
      case B_GREATER: BinaryRun<B_GREATER>(p, A, B, O); break;
      case B_GREATER_EQ: BinaryRun<B_GREATER_EQ>(p, A, B, O); break;
      case B_LESS: BinaryRun<B_LESS>(p, A, B, O); break;
      case B_LESS_EQ: BinaryRun<B_LESS_EQ>(p, A, B, O); break;
      case B_EQUAL: BinaryRun<B_EQUAL>(p, A, B, O); break;
      case B_NOT_EQUAL: BinaryRun<B_NOT_EQUAL>(p, A, B, O); break;
      default: return Fail(info, "bad binary op");
    }
    return info.Env().Undefined();
  }
  if (ot.TypedArrayType() != napi_float32_array) return Fail(info, "binary: needs Float32Array output");
  float* O = ot.As<Napi::Float32Array>().Data();
  switch (op) {
    case B_ADD: BinaryRun<B_ADD>(p, A, B, O); break;
    case B_SUB: BinaryRun<B_SUB>(p, A, B, O); break;
    case B_MUL: BinaryRun<B_MUL>(p, A, B, O); break;
    case B_DIV: BinaryRun<B_DIV>(p, A, B, O); break;
    case B_MAX: BinaryRun<B_MAX>(p, A, B, O); break;
    case B_MIN: BinaryRun<B_MIN>(p, A, B, O); break;
    case B_SQDIFF: BinaryRun<B_SQDIFF>(p, A, B, O); break;
    case B_POW: BinaryRun<B_POW>(p, A, B, O); break;
    case B_PRELU: BinaryRun<B_PRELU>(p, A, B, O); break;
    case B_ELUGRAD: BinaryRun<B_ELUGRAD>(p, A, B, O); break;
    case B_ATAN2: BinaryRun<B_ATAN2>(p, A, B, O); break;
    case B_MOD: BinaryRun<B_MOD>(p, A, B, O); break;
    case B_FLOORDIV: BinaryRun<B_FLOORDIV>(p, A, B, O); break;
    default: return Fail(info, "bad binary op");
  }
  return info.Env().Undefined();
}

// ------------------------------------------------------------------------------------------------
// matmul

enum Act { A_LINEAR = 0, A_RELU, A_RELU6, A_SIGMOID, A_ELU, A_LEAKYRELU, A_TANH };

void Epilogue(float* C, int64_t ldc, int64_t rows, int64_t cols, const float* bias, int act, float alpha) {
  for (int64_t i = 0; i < rows; i++) {
    float* c = C + i * ldc;
    if (bias) {
#pragma omp simd
      for (int64_t j = 0; j < cols; j++) c[j] += bias[j];
    }
    switch (act) {
      case A_LINEAR: break;
      case A_RELU:
#pragma omp simd
        for (int64_t j = 0; j < cols; j++) c[j] = Unary1<U_RELU>(c[j], 0, 0);
        break;
      case A_RELU6:
#pragma omp simd
        for (int64_t j = 0; j < cols; j++) c[j] = Unary1<U_RELU6>(c[j], 0, 0);
        break;
      case A_SIGMOID:
#pragma omp simd
        for (int64_t j = 0; j < cols; j++) c[j] = VSigmoid(c[j]);
        break;
      case A_ELU:
#pragma omp simd
        for (int64_t j = 0; j < cols; j++) c[j] = Unary1<U_ELU>(c[j], 0, 0);
        break;
      case A_LEAKYRELU:
#pragma omp simd
        for (int64_t j = 0; j < cols; j++) c[j] = Unary1<U_LEAKYRELU>(c[j], alpha, 0);
        break;
      case A_TANH:
#pragma omp simd
        for (int64_t j = 0; j < cols; j++) c[j] = VTanh(c[j]);
        break;
    }
  }
}

// C[M,N] = op(A) op(B), row-major, plus epilogue; single thread of BLAS.
inline void Gemm1(bool tA, bool tB, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
                  int64_t ldb, float* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (K == 0) {
    for (int64_t i = 0; i < M; i++) std::memset(C + i * ldc, 0, sizeof(float) * N);
    return;
  }
  cblas_sgemm(CblasRowMajor, tA ? CblasTrans : CblasNoTrans, tB ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K,
              1.0f, A, (int)lda, B, (int)ldb, 0.0f, C, (int)ldc);
}

void GemmSplit(bool tA, bool tB, int64_t M, int64_t N, int64_t K, const float* A, const float* B, float* C,
               const float* bias, int act, float alpha) {
  const int64_t lda = tA ? M : K, ldb = tB ? K : N, ldc = N;
  double work = (double)M * N * K;
  int nt = (g_gemm_mode == 0 && g_threads > 1 && work >= 48.0 * 48 * 48) ? g_threads : 1;
  if (nt > 1 && std::max(M, N) < 2 * 16) nt = 1;
  if (nt <= 1) {
    Gemm1(tA, tB, M, N, K, A, lda, B, ldb, C, ldc);
    if (bias || act) Epilogue(C, ldc, M, N, bias, act, alpha);
    return;
  }
  const bool splitN = N >= M;
#pragma omp parallel num_threads(nt)
  {
    int64_t t = omp_get_thread_num(), T = omp_get_num_threads();
    int64_t D = splitN ? N : M;
    int64_t chunk = (D + T - 1) / T;
    chunk = (chunk + 15) / 16 * 16;
    int64_t s = std::min(D, t * chunk), e = std::min(D, s + chunk);
    if (s < e) {
      if (splitN) {
        const float* Bs = tB ? B + s * ldb : B + s;
        Gemm1(tA, tB, M, e - s, K, A, lda, Bs, ldb, C + s, ldc);
        if (bias || act) Epilogue(C + s, ldc, M, e - s, bias ? bias + s : nullptr, act, alpha);
      } else {
        const float* As = tA ? A + s : A + s * lda;
        Gemm1(tA, tB, e - s, N, K, As, lda, B, ldb, C + s * ldc, ldc);
        if (bias || act) Epilogue(C + s * ldc, ldc, e - s, N, bias, act, alpha);
      }
    }
  }
}

// gemm(a, b, out, M, N, K, transA, transB, batch, aOffs|null, bOffs|null, aStride, bStride, bias|null, act, alpha)
// For batch item i: A_i = a + (aOffs ? aOffs[i] : i*aStride), same for B; C_i = out + i*M*N.
Napi::Value GemmFn(const Napi::CallbackInfo& info) {
  Napi::Float32Array a = info[0].As<Napi::Float32Array>();
  Napi::Float32Array b = info[1].As<Napi::Float32Array>();
  Napi::Float32Array o = info[2].As<Napi::Float32Array>();
  int64_t M = info[3].As<Napi::Number>().Int64Value();
  int64_t N = info[4].As<Napi::Number>().Int64Value();
  int64_t K = info[5].As<Napi::Number>().Int64Value();
  bool tA = info[6].ToBoolean(), tB = info[7].ToBoolean();
  int64_t batch = info[8].As<Napi::Number>().Int64Value();
  const int32_t* aOffs = IsNil(info[9]) ? nullptr : info[9].As<Napi::Int32Array>().Data();
  const int32_t* bOffs = IsNil(info[10]) ? nullptr : info[10].As<Napi::Int32Array>().Data();
  int64_t aStride = info[11].As<Napi::Number>().Int64Value();
  int64_t bStride = info[12].As<Napi::Number>().Int64Value();
  const float* bias = IsNil(info[13]) ? nullptr : F32(info[13]);
  if (bias && (int64_t)Len(info[13]) != N) return Fail(info, "gemm: bias must have N elements");
  int act = info[14].As<Napi::Number>().Int32Value();
  float alpha = info[15].As<Napi::Number>().FloatValue();
  if ((int64_t)o.ElementLength() != batch * M * N) return Fail(info, "gemm: output length mismatch");
  const int64_t asz = M * K, bsz = K * N;
  // bounds check of every batch item
  for (int64_t i = 0; i < batch; i++) {
    int64_t ao = aOffs ? aOffs[i] : i * aStride, bo = bOffs ? bOffs[i] : i * bStride;
    if (ao < 0 || bo < 0 || ao + asz > (int64_t)a.ElementLength() || bo + bsz > (int64_t)b.ElementLength())
      return Fail(info, "gemm: batch offset out of range");
  }
  const float* A = a.Data();
  const float* B = b.Data();
  float* C = o.Data();
  if (batch == 1) {
    GemmSplit(tA, tB, M, N, K, A, B, C, bias, act, alpha);
    return info.Env().Undefined();
  }
  double work = (double)M * N * K;
  if (work >= 128.0 * 128 * 128 || g_threads <= 1 || g_gemm_mode == 1) {
    for (int64_t i = 0; i < batch; i++) {
      int64_t ao = aOffs ? aOffs[i] : i * aStride, bo = bOffs ? bOffs[i] : i * bStride;
      GemmSplit(tA, tB, M, N, K, A + ao, B + bo, C + i * M * N, bias, act, alpha);
    }
  } else {
    int nt = ThreadsFor((size_t)(batch * work), 48 * 48 * 48);
    nt = std::min<int64_t>(nt, batch);
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t i = 0; i < batch; i++) {
      int64_t ao = aOffs ? aOffs[i] : i * aStride, bo = bOffs ? bOffs[i] : i * bStride;
      const int64_t lda = tA ? M : K, ldb = tB ? K : N;
      Gemm1(tA, tB, M, N, K, A + ao, lda, B + bo, ldb, C + i * M * N, N);
      if (bias || act) Epilogue(C + i * M * N, N, M, N, bias, act, alpha);
    }
  }
  return info.Env().Undefined();
}

// ------------------------------------------------------------------------------------------------
// reductions

enum RedOp { R_SUM = 0, R_MEAN, R_MAX, R_MIN, R_PROD };

template <int OP>
struct Red {
  using Acc = std::conditional_t<OP == R_SUM || OP == R_MEAN || OP == R_PROD, double, float>;
  static Acc init() {
    if constexpr (OP == R_MAX) return -INFINITY;
    if constexpr (OP == R_MIN) return INFINITY;
    if constexpr (OP == R_PROD) return 1.0;
    return 0.0;
  }
  static inline Acc step(Acc acc, float x) {
    if constexpr (OP == R_SUM || OP == R_MEAN) return acc + (double)x;
    if constexpr (OP == R_PROD) return acc * (double)x;
    if constexpr (OP == R_MAX) return (x > acc || x != x) ? x : acc;
    if constexpr (OP == R_MIN) return (x < acc || x != x) ? x : acc;
  }
  static inline Acc combine(Acc a, Acc b) {
    if constexpr (OP == R_SUM || OP == R_MEAN) return a + b;
    if constexpr (OP == R_PROD) return a * b;
    if constexpr (OP == R_MAX) return (b > a || b != b) ? b : a;
    if constexpr (OP == R_MIN) return (b < a || b != b) ? b : a;
  }
  static inline float fin(Acc a, double count) {
    if constexpr (OP == R_MEAN) return (float)(a / count);
    return (float)a;
  }
};

// reduce one contiguous run of length n
template <int OP>
inline typename Red<OP>::Acc ReduceRun(const float* x, int64_t n) {
  using R = Red<OP>;
  using Acc = typename R::Acc;
  if constexpr (OP == R_SUM || OP == R_MEAN) {
    double s = 0.0;
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < n; i++) s += (double)x[i];
    return s;
  } else {
    Acc lanes[8];
    for (int l = 0; l < 8; l++) lanes[l] = R::init();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
      for (int l = 0; l < 8; l++) lanes[l] = R::step(lanes[l], x[i + l]);
    Acc acc = R::init();
    for (int l = 0; l < 8; l++) acc = R::combine(acc, lanes[l]);
    for (; i < n; i++) acc = R::step(acc, x[i]);
    return acc;
  }
}

// [O, Rr, I] -> [O, I], reduce the middle axis. acc buffer per I chunk.
template <int OP>
void ReduceMiddle(const float* x, float* out, int64_t O, int64_t Rr, int64_t I, double count) {
  using R = Red<OP>;
  using Acc = typename R::Acc;
  auto body = [&](int64_t o, int64_t i0, int64_t i1, Acc* acc) {
    const float* base = x + o * Rr * I;
    int64_t w = i1 - i0;
    for (int64_t i = 0; i < w; i++) acc[i] = R::init();
    for (int64_t r = 0; r < Rr; r++) {
      const float* row = base + r * I + i0;
#pragma omp simd
      for (int64_t i = 0; i < w; i++) acc[i] = R::step(acc[i], row[i]);
    }
    float* dst = out + o * I + i0;
    for (int64_t i = 0; i < w; i++) dst[i] = R::fin(acc[i], count);
  };
  const int64_t BLK = 1024;
  int64_t nblk = (I + BLK - 1) / BLK;
  int64_t tasks = O * nblk;
  size_t perTask = (size_t)(Rr * std::min(I, BLK));
  int nt = ThreadsFor((size_t)tasks * perTask, 32768);
  if (nt > 1 && tasks < nt) {
    // few tasks: split the inner axis finer
    int64_t sub = std::max<int64_t>(16, (I + nt - 1) / nt);
    sub = (sub + 15) / 16 * 16;
    int64_t nsub = (I + sub - 1) / sub;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t t = 0; t < O * nsub; t++) {
      std::vector<Acc> acc(sub);
      int64_t o = t / nsub, i0 = (t % nsub) * sub, i1 = std::min(I, i0 + sub);
      body(o, i0, i1, acc.data());
    }
    return;
  }
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    std::vector<Acc> acc(std::min(I, BLK));
#pragma omp for schedule(static)
    for (int64_t t = 0; t < tasks; t++) {
      int64_t o = t / nblk, i0 = (t % nblk) * BLK, i1 = std::min(I, i0 + BLK);
      body(o, i0, i1, acc.data());
    }
  }
}

template <int OP>
void ReduceLast(const float* x, float* out, int64_t O, int64_t Rr, double count) {
  using R = Red<OP>;
  using Acc = typename R::Acc;
  if (O == 1) {
    // full reduction: per-thread partials
    int nt = ThreadsFor((size_t)Rr, 65536);
    if (nt <= 1) {
      out[0] = R::fin(ReduceRun<OP>(x, Rr), count);
      return;
    }
    std::vector<Acc> part(nt, R::init());
#pragma omp parallel num_threads(nt)
    {
      int64_t t = omp_get_thread_num(), T = omp_get_num_threads();
      int64_t chunk = (Rr + T - 1) / T;
      int64_t s = std::min(Rr, t * chunk), e = std::min(Rr, s + chunk);
      if (s < e) part[t] = ReduceRun<OP>(x + s, e - s);
    }
    Acc acc = R::init();
    for (int t = 0; t < nt; t++) acc = R::combine(acc, part[t]);
    out[0] = R::fin(acc, count);
    return;
  }
  ParallelFor(
      (size_t)O, std::max<size_t>(1, 32768 / (size_t)std::max<int64_t>(Rr, 1)),
      [&](size_t s, size_t e) {
        for (size_t o = s; o < e; o++) out[o] = R::fin(ReduceRun<OP>(x + o * Rr, Rr), count);
      },
      1);
}

// general: odometer over input, accumulate into out index
template <int OP>
void ReduceGeneral(const float* x, float* out, const std::vector<int64_t>& dims, const std::vector<int>& red,
                   int64_t outSize, double count) {
  using R = Red<OP>;
  using Acc = typename R::Acc;
  int nd = (int)dims.size();
  std::vector<int64_t> ostride(nd, 0);
  int64_t acc = 1;
  for (int d = nd - 1; d >= 0; d--) {
    if (!red[d]) {
      ostride[d] = acc;
      acc *= dims[d];
    }
  }
  std::vector<Acc> buf(outSize, R::init());
  std::vector<int64_t> idx(nd, 0);
  int64_t total = 1;
  for (auto d : dims) total *= d;
  const int64_t inner = dims[nd - 1];
  const int64_t is = ostride[nd - 1];
  int64_t oo = 0;
  for (int64_t i = 0; i < total; i += inner) {
    const float* xr = x + i;
    if (red[nd - 1]) {
      buf[oo] = R::combine(buf[oo], ReduceRun<OP>(xr, inner));
    } else {
      for (int64_t j = 0; j < inner; j++) buf[oo + j * is] = R::step(buf[oo + j * is], xr[j]);
    }
    for (int d = nd - 2; d >= 0; d--) {
      idx[d]++;
      oo += ostride[d];
      if (idx[d] < dims[d]) break;
      oo -= ostride[d] * dims[d];
      idx[d] = 0;
    }
  }
  for (int64_t i = 0; i < outSize; i++) out[i] = R::fin(buf[i], count);
}

template <int OP>
void ReduceRunAll(const float* x, float* out, const std::vector<int64_t>& shape, const std::vector<int>& isRed) {
  using R = Red<OP>;
  // merge: drop size-1 dims, merge adjacent with same flag
  std::vector<int64_t> dims;
  std::vector<int> red;
  double count = 1;
  int64_t outSize = 1;
  for (size_t d = 0; d < shape.size(); d++) {
    if (isRed[d]) count *= (double)shape[d];
    else outSize *= shape[d];
    if (shape[d] == 1) continue;
    if (!dims.empty() && red.back() == isRed[d]) dims.back() *= shape[d];
    else {
      dims.push_back(shape[d]);
      red.push_back(isRed[d]);
    }
  }
  if (outSize == 0) return;
  if (count == 0) {
    for (int64_t i = 0; i < outSize; i++) out[i] = R::fin(R::init(), 0);
    if (OP == R_MEAN)
      for (int64_t i = 0; i < outSize; i++) out[i] = NAN;
    return;
  }
  size_t nd = dims.size();
  if (nd == 0) {
    out[0] = R::fin(R::step(R::init(), x[0]), 1);
    return;
  }
  if (nd == 1 && !red[0]) {  // nothing reduced (only size-1 axes)
    ParallelFor((size_t)dims[0], 65536, [&](size_t s, size_t e) {
      for (size_t i = s; i < e; i++) out[i] = R::fin(R::step(R::init(), x[i]), 1);
    });
    return;
  }
  if (nd == 1) return ReduceLast<OP>(x, out, 1, dims[0], count);
  if (nd == 2 && !red[0]) return ReduceLast<OP>(x, out, dims[0], dims[1], count);
  if (nd == 2 && red[0]) return ReduceMiddle<OP>(x, out, 1, dims[0], dims[1], count);
  if (nd == 3 && !red[0]) return ReduceMiddle<OP>(x, out, dims[0], dims[1], dims[2], count);
  ReduceGeneral<OP>(x, out, dims, red, outSize, count);
}

// reduce(op, x, shape, axes, out)
Napi::Value Reduce(const Napi::CallbackInfo& info) {
  int op = info[0].As<Napi::Number>().Int32Value();
  Napi::Float32Array x = info[1].As<Napi::Float32Array>();
  auto shape = Shape(info[2]);
  auto axes = Shape(info[3]);
  Napi::Float32Array o = info[4].As<Napi::Float32Array>();
  if ((int64_t)x.ElementLength() != SizeOf(shape)) return Fail(info, "reduce: input length mismatch");
  std::vector<int> isRed(shape.size(), 0);
  for (auto a : axes) {
    if (a < 0) a += (int64_t)shape.size();
    if (a < 0 || a >= (int64_t)shape.size()) return Fail(info, "reduce: bad axis");
    isRed[a] = 1;
  }
  int64_t outSize = 1;
  for (size_t d = 0; d < shape.size(); d++)
    if (!isRed[d]) outSize *= shape[d];
  if ((int64_t)o.ElementLength() != outSize) return Fail(info, "reduce: output length mismatch");
  switch (op) {
    case R_SUM: ReduceRunAll<R_SUM>(x.Data(), o.Data(), shape, isRed); break;
    case R_MEAN: ReduceRunAll<R_MEAN>(x.Data(), o.Data(), shape, isRed); break;
    case R_MAX: ReduceRunAll<R_MAX>(x.Data(), o.Data(), shape, isRed); break;
    case R_MIN: ReduceRunAll<R_MIN>(x.Data(), o.Data(), shape, isRed); break;
    case R_PROD: ReduceRunAll<R_PROD>(x.Data(), o.Data(), shape, isRed); break;
    default: return Fail(info, "bad reduce op");
  }
  return info.Env().Undefined();
}

// ------------------------------------------------------------------------------------------------
// AddN, transpose, slice

// addN([arrays], out)
Napi::Value AddN(const Napi::CallbackInfo& info) {
  Napi::Array arr = info[0].As<Napi::Array>();
  Napi::Float32Array o = info[1].As<Napi::Float32Array>();
  uint32_t k = arr.Length();
  size_t n = o.ElementLength();
  std::vector<const float*> ps(k);
  for (uint32_t i = 0; i < k; i++) {
    Napi::Float32Array t = arr.Get(i).As<Napi::Float32Array>();
    if (t.ElementLength() != n) return Fail(info, "addN: length mismatch");
    ps[i] = t.Data();
  }
  float* O = o.Data();
  ParallelFor(n, 32768, [&](size_t s, size_t e) {
    if (k == 0) {
      std::memset(O + s, 0, (e - s) * sizeof(float));
      return;
    }
    const float* a0 = ps[0];
    if (k == 1) {
      std::memcpy(O + s, a0 + s, (e - s) * sizeof(float));
      return;
    }
    const float* a1 = ps[1];
#pragma omp simd
    for (size_t i = s; i < e; i++) O[i] = a0[i] + a1[i];
    for (uint32_t j = 2; j < k; j++) {
      const float* aj = ps[j];
#pragma omp simd
      for (size_t i = s; i < e; i++) O[i] += aj[i];
    }
  });
  return info.Env().Undefined();
}

// transpose(x, shape, perm, out); element size 4 (float32/int32 viewed as bits)
Napi::Value Transpose(const Napi::CallbackInfo& info) {
  Napi::TypedArray xt = info[0].As<Napi::TypedArray>();
  auto shape = Shape(info[1]);
  auto perm = Shape(info[2]);
  Napi::TypedArray ot = info[3].As<Napi::TypedArray>();
  if (xt.ElementSize() != 4 || ot.ElementSize() != 4) return Fail(info, "transpose: 4-byte elements only");
  const uint32_t* X = reinterpret_cast<const uint32_t*>(static_cast<uint8_t*>(xt.ArrayBuffer().Data()) + xt.ByteOffset());
  uint32_t* O = reinterpret_cast<uint32_t*>(static_cast<uint8_t*>(ot.ArrayBuffer().Data()) + ot.ByteOffset());
  size_t R = shape.size();
  if (perm.size() != R || (int64_t)xt.ElementLength() != SizeOf(shape) || ot.ElementLength() != xt.ElementLength())
    return Fail(info, "transpose: bad arguments");
  int64_t total = SizeOf(shape);
  if (total == 0) return info.Env().Undefined();
  std::vector<int64_t> istr(R);
  {
    int64_t acc = 1;
    for (int64_t d = (int64_t)R - 1; d >= 0; d--) {
      istr[d] = acc;
      acc *= shape[d];
    }
  }
  // output dims with input strides, dropping size-1 dims and merging runs
  std::vector<int64_t> od, os;
  for (size_t i = 0; i < R; i++) {
    int64_t p = perm[i];
    if (p < 0 || p >= (int64_t)R) return Fail(info, "transpose: bad perm");
    if (shape[p] == 1) continue;
    if (!od.empty() && os.back() == istr[p] * shape[p]) {
      od.back() *= shape[p];
      os.back() = istr[p];
    } else {
      od.push_back(shape[p]);
      os.push_back(istr[p]);
    }
  }
  size_t nd = od.size();
  if (nd == 0 || (nd == 1 && os[0] == 1)) {
    std::memcpy(O, X, total * 4);
    return info.Env().Undefined();
  }
  if (nd == 2 && os[1] != 1 && os[0] == 1) {
    // 2D transpose: out[i,j] = x[j,i]; x is [C=od[1], Rr=od[0]]
    int64_t Rr = od[0], C = od[1];
    const int64_t BS = 32;
    ParallelFor(
        (size_t)((Rr + BS - 1) / BS), std::max<size_t>(1, 65536 / (size_t)(BS * C)),
        [&](size_t s, size_t e) {
          for (int64_t i0 = s * BS; i0 < std::min<int64_t>(Rr, e * BS); i0 += BS)
            for (int64_t j0 = 0; j0 < C; j0 += BS)
              for (int64_t i = i0; i < std::min(Rr, i0 + BS); i++)
                for (int64_t j = j0; j < std::min(C, j0 + BS); j++) O[i * C + j] = X[j * Rr + i];
        },
        1);
    return info.Env().Undefined();
  }
  const int64_t inner = od[nd - 1], ist = os[nd - 1];
  const int64_t outer = total / inner;
  ParallelFor(
      (size_t)outer, std::max<size_t>(1, 32768 / (size_t)inner),
      [&](size_t s, size_t e) {
        std::vector<int64_t> idx(nd, 0);
        int64_t rem = (int64_t)s, off = 0;
        for (int64_t d = (int64_t)nd - 2; d >= 0; d--) {
          idx[d] = rem % od[d];
          rem /= od[d];
          off += idx[d] * os[d];
        }
        for (size_t r = s; r < e; r++) {
          uint32_t* dst = O + r * inner;
          const uint32_t* src = X + off;
          for (int64_t j = 0; j < inner; j++) dst[j] = src[j * ist];
          for (int64_t d = (int64_t)nd - 2; d >= 0; d--) {
            idx[d]++;
            off += os[d];
            if (idx[d] < od[d]) break;
            off -= os[d] * od[d];
            idx[d] = 0;
          }
        }
      },
      1);
  return info.Env().Undefined();
}

// slice(x, shape, begin, size, out): strided copy of a box; any typed array element size.
Napi::Value Slice(const Napi::CallbackInfo& info) {
  Napi::TypedArray xt = info[0].As<Napi::TypedArray>();
  auto shape = Shape(info[1]);
  auto begin = Shape(info[2]);
  auto size = Shape(info[3]);
  Napi::TypedArray ot = info[4].As<Napi::TypedArray>();
  size_t es = xt.ElementSize();
  size_t R = shape.size();
  if (ot.ElementSize() != es || begin.size() != R || size.size() != R ||
      (int64_t)xt.ElementLength() != SizeOf(shape) || (int64_t)ot.ElementLength() != SizeOf(size))
    return Fail(info, "slice: bad arguments");
  for (size_t d = 0; d < R; d++)
    if (begin[d] < 0 || size[d] < 0 || begin[d] + size[d] > shape[d]) return Fail(info, "slice: out of range");
  int64_t total = SizeOf(size);
  if (total == 0) return info.Env().Undefined();
  const uint8_t* X = static_cast<uint8_t*>(xt.ArrayBuffer().Data()) + xt.ByteOffset();
  uint8_t* O = static_cast<uint8_t*>(ot.ArrayBuffer().Data()) + ot.ByteOffset();
  if (R == 0) {
    std::memcpy(O, X, es);
    return info.Env().Undefined();
  }
  std::vector<int64_t> istr(R);
  int64_t acc = 1;
  for (int64_t d = (int64_t)R - 1; d >= 0; d--) {
    istr[d] = acc;
    acc *= shape[d];
  }
  // innermost contiguous run: trailing dims fully taken merge into the run
  int64_t run = 1;
  int64_t k = (int64_t)R - 1;
  while (k >= 0) {
    run *= size[k];
    if (size[k] != shape[k]) break;
    k--;
  }
  // dims [0, k) iterate; dim k (if >= 0) is folded into the run
  int64_t start = 0;
  for (size_t d = 0; d < R; d++) start += begin[d] * istr[d];
  int64_t outer = total / run;
  std::vector<int64_t> idx(std::max<int64_t>(k, 0), 0);
  int64_t off = start;
  for (int64_t r = 0; r < outer; r++) {
    std::memcpy(O + r * run * es, X + off * es, run * es);
    for (int64_t d = k - 1; d >= 0; d--) {
      idx[d]++;
      off += istr[d];
      if (idx[d] < size[d]) break;
      off -= istr[d] * size[d];
      idx[d] = 0;
    }
  }
  return info.Env().Undefined();
}

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
        for (size_t n = s; n < e; n++) {
          const float* l = L + n * D;
          const float* x = X + n * D;
          float* o = O + n * D;
          const float g = DY[n];
#pragma omp simd
          for (int64_t d = 0; d < D; d++) o[d] = (VSigmoid(l[d]) - x[d]) * g;
        }
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
          for (size_t n = s; n < e; n++) {
            const float g = DY[n];
            const float* x = X + n * D;
            const float* m = M + n * D;
            const float* lv = LV + n * D;
            float* dm = DM + n * D;
            float* dl = DL + n * D;
#pragma omp simd
            for (int64_t d = 0; d < D; d++) {
              float iv = VExp(-lv[d]);
              float df = m[d] - x[d];
              dm[d] = g * df * iv;
              dl[d] = 0.5f * g * (1.0f - df * df * iv);
            }
          }
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
        for (size_t n = s; n < e; n++) {
          const float g = DY[n];
          const float* mu = MU + n * D;
          const float* lv = LV + n * D;
          float* dm = DM + n * D;
          float* dl = DL + n * D;
#pragma omp simd
          for (int64_t d = 0; d < D; d++) {
            dm[d] = g * mu[d];
            dl[d] = 0.5f * g * (VExp(lv[d]) - 1.0f);
          }
        }
      },
      1);
  return info.Env().Undefined();
}

// ------------------------------------------------------------------------------------------------
// in-place optimizer steps

// adam(v, g, m, s, lr, beta1, beta2, eps, t) — torch.optim.Adam (no weight decay, no amsgrad)
Napi::Value Adam(const Napi::CallbackInfo& info) {
  float* V = F32(info[0]);
  const float* G = F32(info[1]);
  float* Mm = F32(info[2]);
  float* S = F32(info[3]);
  size_t n = Len(info[0]);
  if (Len(info[1]) != n || Len(info[2]) != n || Len(info[3]) != n) return Fail(info, "adam: length mismatch");
  double lr = info[4].As<Napi::Number>().DoubleValue();
  const float b1 = info[5].As<Napi::Number>().FloatValue();
  const float b2 = info[6].As<Napi::Number>().FloatValue();
  const float eps = info[7].As<Napi::Number>().FloatValue();
  double t = info[8].As<Napi::Number>().DoubleValue();
  double bc1 = 1.0 - std::pow((double)b1, t), bc2 = 1.0 - std::pow((double)b2, t);
  const float stepSize = (float)(lr / bc1);
  const float invSqrtBc2 = (float)(1.0 / std::sqrt(bc2));
  const float ob1 = 1.0f - b1, ob2 = 1.0f - b2;
  ParallelFor(n, 32768, [&](size_t s, size_t e) {
#pragma omp simd
    for (size_t i = s; i < e; i++) {
      float g = G[i];
      float m = b1 * Mm[i] + ob1 * g;
      float v2 = b2 * S[i] + ob2 * g * g;
      Mm[i] = m;
      S[i] = v2;
      float denom = std::sqrt(v2) * invSqrtBc2 + eps;
      V[i] -= stepSize * m / denom;
    }
  });
  return info.Env().Undefined();
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
  ParallelFor(n, 32768, [&](size_t s, size_t e) {
    if (!B || mom == 0.0f) {
#pragma omp simd
      for (size_t i = s; i < e; i++) V[i] -= lr * G[i];
    } else if (nesterov) {
#pragma omp simd
      for (size_t i = s; i < e; i++) {
        float b = mom * B[i] + G[i];
        B[i] = b;
        V[i] -= lr * (G[i] + mom * b);
      }
    } else {
#pragma omp simd
      for (size_t i = s; i < e; i++) {
        float b = mom * B[i] + G[i];
        B[i] = b;
        V[i] -= lr * b;
      }
    }
  });
  return info.Env().Undefined();
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
  ParallelFor(n, 32768, [&](size_t s, size_t e) {
#pragma omp simd
    for (size_t i = s; i < e; i++) {
      float g = G[i];
      float a = A[i] + g * g;
      A[i] = a;
      V[i] -= lr * g / (std::sqrt(a) + eps);
    }
  });
  return info.Env().Undefined();
}

// ------------------------------------------------------------------------------------------------
// configuration

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  int n = info[0].As<Napi::Number>().Int32Value();
  if (n < 1) n = 1;
  if (n > 256) n = 256;
  g_threads = n;
  omp_set_num_threads(n);
  openblas_set_num_threads(g_gemm_mode == 1 ? n : 1);
  return Napi::Number::New(info.Env(), g_threads);
}

Napi::Value SetGemmMode(const Napi::CallbackInfo& info) {
  g_gemm_mode = info[0].As<Napi::Number>().Int32Value() == 1 ? 1 : 0;
  openblas_set_num_threads(g_gemm_mode == 1 ? g_threads : 1);
  return Napi::Number::New(info.Env(), g_gemm_mode);
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  const char* cfg = openblas_get_config();
  const char* core = openblas_get_corename();
  o.Set("blas", Napi::String::New(env, std::string(cfg ? cfg : "OpenBLAS ?") + (core ? std::string(" (") + core + ")" : "")));
  o.Set("threads", Napi::Number::New(env, g_threads));
  o.Set("blasThreads", Napi::Number::New(env, openblas_get_num_threads()));
  o.Set("ompMaxThreads", Napi::Number::New(env, omp_get_max_threads()));
  o.Set("gemmMode", Napi::Number::New(env, g_gemm_mode));
  return o;
}

}  // namespace

void InitCore(Napi::Env env, Napi::Object exports) {
  exports.Set("coreVersion", Napi::Number::New(env, 1));
  exports.Set("info", Napi::Function::New(env, Info, "info"));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads, "setThreads"));
  exports.Set("setGemmMode", Napi::Function::New(env, SetGemmMode, "setGemmMode"));
  exports.Set("unary", Napi::Function::New(env, Unary, "unary"));
  exports.Set("binary", Napi::Function::New(env, Binary, "binary"));
  exports.Set("gemm", Napi::Function::New(env, GemmFn, "gemm"));
  exports.Set("reduce", Napi::Function::New(env, Reduce, "reduce"));
  exports.Set("addN", Napi::Function::New(env, AddN, "addN"));
  exports.Set("transpose", Napi::Function::New(env, Transpose, "transpose"));
  exports.Set("slice", Napi::Function::New(env, Slice, "slice"));
  exports.Set("bernoulliNll", Napi::Function::New(env, BernoulliNll, "bernoulliNll"));
  exports.Set("bernoulliNllGrad", Napi::Function::New(env, BernoulliNllGrad, "bernoulliNllGrad"));
  exports.Set("gaussianNll", Napi::Function::New(env, GaussianNll, "gaussianNll"));
  exports.Set("gaussianNllGrad", Napi::Function::New(env, GaussianNllGrad, "gaussianNllGrad"));
  exports.Set("klStdNormal", Napi::Function::New(env, KlStdNormal, "klStdNormal"));
  exports.Set("klStdNormalGrad", Napi::Function::New(env, KlStdNormalGrad, "klStdNormalGrad"));
  exports.Set("adam", Napi::Function::New(env, Adam, "adam"));
  exports.Set("sgd", Napi::Function::New(env, Sgd, "sgd"));
  exports.Set("adagrad", Napi::Function::New(env, Adagrad, "adagrad"));
  openblas_set_num_threads(1);
}
