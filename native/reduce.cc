// vaekit native: Sum/Mean/Max/Min/Prod over any set of axes (codes: VK_REDUCE in ops.def). Sums
// accumulate in double; a full reduction combines per-chunk partials in order (deterministic).
#include "napi_util.h"
#include "ops.h"
#include "pool.h"
#include "vmath.h"
#include <type_traits>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace vaekit {
namespace {

// ------------------------------------------------------------------------------------------------
// reductions


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

// dst[i] = reduce_r x[r * ld + i] for i < w (acc: scratch of w accumulators)
template <int OP>
__attribute__((noinline)) void ReduceColumns(const float* __restrict x, int64_t ld, int64_t rows, int64_t w,
                                             typename Red<OP>::Acc* __restrict acc, float* __restrict dst,
                                             double count) {
  using R = Red<OP>;
  for (int64_t i = 0; i < w; i++) acc[i] = R::init();
  for (int64_t r = 0; r < rows; r++) {
    const float* __restrict row = x + r * ld;
#pragma omp simd
    for (int64_t i = 0; i < w; i++) acc[i] = R::step(acc[i], row[i]);
  }
  for (int64_t i = 0; i < w; i++) dst[i] = R::fin(acc[i], count);
}

// [O, Rr, I] -> [O, I], reduce the middle axis. acc buffer per I chunk.
template <int OP>
void ReduceMiddle(const float* x, float* out, int64_t O, int64_t Rr, int64_t I, double count) {
  using R = Red<OP>;
  using Acc = typename R::Acc;
  auto body = [&](int64_t o, int64_t i0, int64_t i1, Acc* acc) {
    ReduceColumns<OP>(x + o * Rr * I + i0, I, Rr, i1 - i0, acc, out + o * I + i0, count);
  };
  const size_t total = (size_t)(O * Rr * I);
  const int64_t want = ChunksFor(total, 32768);
  constexpr int64_t BLK = 1024;
  int64_t W = std::min<int64_t>(I, BLK);
  if (want > 1 && O * ((I + W - 1) / W) < want) {
    int64_t per = (want + O - 1) / O;  // column blocks per outer index
    W = std::min<int64_t>(W, std::max<int64_t>(16, ((I + per - 1) / per + 15) / 16 * 16));
  }
  const int64_t nblk = (I + W - 1) / W, tasks = O * nblk;
  auto task = [&](int64_t t) {
    Acc acc[BLK];
    int64_t o = t / nblk, i0 = (t % nblk) * W, i1 = std::min(I, i0 + W);
    body(o, i0, i1, acc);
  };
  if (want <= 1 || tasks == 1) {
    for (int64_t t = 0; t < tasks; t++) task(t);
    return;
  }
  const int64_t nc = std::min(tasks, want), per = (tasks + nc - 1) / nc;
  RunChunks((tasks + per - 1) / per, [&](int64_t c) {
    for (int64_t t = c * per; t < std::min(tasks, (c + 1) * per); t++) task(t);
  });
}

template <int OP>
void ReduceLast(const float* x, float* out, int64_t O, int64_t Rr, double count) {
  using R = Red<OP>;
  using Acc = typename R::Acc;
  if (O == 1) {
    // full reduction: partial per chunk, combined in order (deterministic)
    const int64_t nc = ChunksFor((size_t)Rr, 65536);
    if (nc <= 1) {
      out[0] = R::fin(ReduceRun<OP>(x, Rr), count);
      return;
    }
    const int64_t chunk = ((Rr + nc - 1) / nc + 15) / 16 * 16;
    const int64_t n = (Rr + chunk - 1) / chunk;
    std::vector<Acc> part(n, R::init());
    RunChunks(n, [&](int64_t c) {
      int64_t s = c * chunk, e = std::min(Rr, s + chunk);
      if (s < e) part[c] = ReduceRun<OP>(x + s, e - s);
    });
    Acc acc = R::init();
    for (int64_t t = 0; t < n; t++) acc = R::combine(acc, part[t]);
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
  if (count == 0) {  // empty reduction: identity of the op (tfjs-cpu gives 0 for mean too)
    for (int64_t i = 0; i < outSize; i++) out[i] = OP == R_MEAN ? 0.0f : R::fin(R::init(), 1);
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
#define VK_REDUCE(id, kernel) \
  case R_##id:                \
    ReduceRunAll<R_##id>(x.Data(), o.Data(), shape, isRed); \
    break;
#include "ops.def"
    default: return Fail(info, "bad reduce op");
  }
  return info.Env().Undefined();
}


VK_EXPORT("reduce", Reduce)

}  // namespace
}  // namespace vaekit
