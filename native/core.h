// vaekit native core: the pieces of native/core.cc that other native files may use.
#pragma once
#include <cstdint>

// Runs fn(ctx, i) for i in [0, nchunks) on vaekit's thread pool (the calling thread takes part) and
// returns when all are done. Cut the work into a few chunks per thread (VaekitThreads()): a thread
// that the OS has not scheduled yet is not waited for; its chunks are taken by the others. Nested
// calls run serially.
void VaekitParallelFor(int64_t nchunks, void (*fn)(void*, int64_t), void* ctx);

// Number of threads of the pool (VAEKIT_THREADS; 2 by default).
int VaekitThreads();

// C[M,N] = op(A)·op(B), row-major, dense (lda = transA ? M : K, ldb = transB ? K : N, ldc = N), with
// OpenBLAS (single-threaded) split across the pool.
void VaekitSgemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, const float* A, const float* B, float* C);
