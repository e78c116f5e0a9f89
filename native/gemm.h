// vaekit native: the GEMM of the addon (gemm.cc), used by the matmul kernels and by the im2col path
// of the convolutions.
#pragma once
#include <cstdint>
#include <functional>

namespace vaekit {

// C[M,N] = op(A)·op(B) + beta·C, row-major and dense (lda = transA ? M : K, ldb = transB ? K : N,
// ldc = N), then C += bias (a row of N, or null) and the fused activation `act` (VK_ACT codes). Split
// across the pool, each piece a single-threaded call of the GEMM engine.
void GemmSplit(bool tA, bool tB, int64_t M, int64_t N, int64_t K, const float* A, const float* B, float* C,
               const float* bias, int act, float alpha, float beta = 0.0f);

// The same product and split without an epilogue; then(r0, r1, c0, c1) runs on each chunk's thread right
// after its block C[r0:r1, c0:c1] is written (while it is in cache): the fused step's Adam update.
void GemmSplitThen(bool tA, bool tB, int64_t M, int64_t N, int64_t K, const float* A, const float* B, float* C,
                   const std::function<void(int64_t, int64_t, int64_t, int64_t)>& then);

// The same product on the calling thread only (one engine call, then the epilogue): for callers that
// split their own work across the pool.
void GemmSerial(bool tA, bool tB, int64_t M, int64_t N, int64_t K, const float* A, const float* B, float* C,
                const float* bias, int act);

}  // namespace vaekit
