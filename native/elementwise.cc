// vaekit native: elementwise unary ops and binary ops with N-d broadcasting (numpy rules), the
// comparisons with a Uint8Array result. Codes: VK_UNARY / VK_BINARY / VK_COMPARE in ops.def.
#include "napi_util.h"
#include "ops.h"
#include "pool.h"
#include "vmath.h"
#include <array>
#include <utility>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace vaekit {
namespace {

// Hot loops live in functions with restrict pointers and scalars by value: inside a lambda that
// captures by reference GCC must assume that the float stores may alias the captured variables, and
// reloads them every iteration (7x slower for Adam).
template <int OP>
__attribute__((noinline)) void UnaryRange(const float* __restrict x, float* __restrict o, size_t n, float p, float q) {
#pragma omp simd
  for (size_t i = 0; i < n; i++) o[i] = Unary1<OP>(x[i], p, q);
}

template <int OP>
void UnaryLoop(const float* x, float* o, size_t n, float p, float q) {
  constexpr bool heavy = OP == U_EXP || OP == U_LOG || OP == U_LOG1P || OP == U_EXPM1 || OP == U_SIGMOID ||
                         OP == U_SOFTPLUS || OP == U_TANH || OP == U_ELU || OP == U_SELU || OP == U_SIN ||
                         OP == U_COS || OP == U_ERF;
  ParallelFor(n, heavy ? 8192 : 32768, [&](size_t b, size_t e) { UnaryRange<OP>(x + b, o + b, e - b, p, q); });
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
#define VK_COMPARE(id, kernel) \
  case B_##id:                 \
    BinaryRun<B_##id>(p, A, B, O); \
    break;
#include "ops.def"
      default: return Fail(info, "bad binary op");
    }
    return info.Env().Undefined();
  }
  if (ot.TypedArrayType() != napi_float32_array) return Fail(info, "binary: needs Float32Array output");
  float* O = ot.As<Napi::Float32Array>().Data();
  switch (op) {
#define VK_BINARY(id, kernel) \
  case B_##id:                \
    BinaryRun<B_##id>(p, A, B, O); \
    break;
#include "ops.def"
    default: return Fail(info, "bad binary op");
  }
  return info.Env().Undefined();
}


VK_EXPORT("unary", Unary)
VK_EXPORT("binary", Binary)

}  // namespace
}  // namespace vaekit
