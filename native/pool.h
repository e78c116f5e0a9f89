// vaekit native: the one thread pool of the addon (pool.cc). Every parallel loop of the core
// kernels, the convolutions' own loops and the split GEMMs run on it.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace vaekit {

// Threads of the pool (VAEKIT_THREADS; 2 by default), the calling thread included.
extern int g_threads;

// Runs fn(ctx, i) for i in [0, nchunks) on the pool (the calling thread takes part) and returns
// when all are done. Cut the work into a few chunks per thread: a thread that the OS has not
// scheduled yet is not waited for; its chunks are taken by the others. Nested calls run serially.
void PoolRun(int64_t nchunks, void (*fn)(void*, int64_t), void* ctx);
// Resizes the pool (1..64 threads) / sets how long idle workers spin before sleeping.
void PoolSetThreads(int n);
void PoolSetSpinMicros(int us);
int PoolThreads();
// Sets the addon's thread count everywhere: the pool, OpenMP (oneDNN's primitives) and OpenBLAS
// (1, or n when OpenBLAS threads GEMMs itself: setGemmMode(1)). config.cc.
void SetAddonThreads(int n);

template <class F>
void Trampoline(void* ctx, int64_t i) {
  (*static_cast<F*>(ctx))(i);
}

// Runs f(i) for i in [0, n) on the pool.
template <class F>
inline void RunChunks(int64_t n, F&& f) {
  using FF = std::remove_reference_t<F>;
  PoolRun(n, &Trampoline<FF>, (void*)&f);
}

// How many chunks to cut `n` units of work into, at least `grain` each: up to 4 per thread, so that
// a thread that is late (descheduled) leaves little for the others to take over.
inline int64_t ChunksFor(size_t n, size_t grain) {
  if (g_threads <= 1 || n < 2 * grain) return 1;
  size_t c = n / grain;
  return (int64_t)std::min<size_t>(c, (size_t)g_threads * 4);
}

// f(begin, end) over [0, n), split in contiguous chunks (aligned to `align`).
template <class F>
inline void ParallelFor(size_t n, size_t grain, F&& f, size_t align = 16) {
  int64_t nc = ChunksFor(n, grain);
  if (nc <= 1) {
    if (n) f((size_t)0, n);
    return;
  }
  size_t chunk = (n + nc - 1) / nc;
  if (align > 1) chunk = (chunk + align - 1) / align * align;
  nc = (int64_t)((n + chunk - 1) / chunk);
  RunChunks(nc, [&](int64_t c) {
    size_t b = (size_t)c * chunk, e = std::min(n, b + chunk);
    if (b < e) f(b, e);
  });
}

}  // namespace vaekit
