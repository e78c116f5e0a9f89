// vaekit native: what likelihood.cc (the Bernoulli and Gaussian NLLs, masked or not, the KL) and
// likelihood_masked.cc (the discretised logistic) share: the log-variance/log-scale and mask addressing.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "pool.h"

namespace vaekit {

// lv addressing: mode 0 scalar, 1 row [D], 2 full [N, D]
inline const float* LvRow(const float* lv, int mode, int64_t n, int64_t D) { return mode == 2 ? lv + n * D : lv; }
inline int64_t LvLen(int mode, int64_t N, int64_t D) { return mode == 0 ? 1 : (mode == 1 ? D : N * D); }

constexpr float kLog2Pi = 1.8378770664093453f;

// An observation mask, 1 observed, 0 missing, of `rows` rows (N: one per example, 1: one row shared by
// all; m null: no mask).
struct Mask {
  const float* m = nullptr;
  int64_t rows = 0;
  const float* row(int64_t n, int64_t D) const { return rows == 1 ? m : m + n * D; }
};
inline const float* MaskRow(const float* m, int64_t maskRows, int64_t n, int64_t D) {
  return Mask{m, maskRows}.row(n, D);
}

// Rows per chunk of the pool for rows of D values (~`values` values a chunk).
inline size_t RowGrain(int64_t D, size_t values = 8192) {
  return std::max<size_t>(1, values / (size_t)std::max<int64_t>(D, 1));
}

// f(n) for every row n of [N, D], the rows split across the pool (~`values` values a chunk).
template <class F>
void EachRow(int64_t N, int64_t D, F&& f, size_t values = 8192) {
  ParallelFor(
      (size_t)N, RowGrain(D, values),
      [&](size_t s, size_t e) {
        for (size_t n = s; n < e; n++) f((int64_t)n);
      },
      1);
}

}  // namespace vaekit
