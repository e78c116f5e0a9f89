// vaekit native: asynchronous signals kept off the threads while they run oneDNN's jit GEMM kernels.
//
// oneDNN's generated sgemm kernels (jit_avx2/avx512_common_gemm_f32, Debian's 2.6.3 included) point
// rsp at a workspace on the heap while they run (oneDNN issue #4845, fixed upstream by PR #4855 in
// 2026-03). A signal handled on that thread meanwhile has its frame written below rsp, into the heap:
// glibc later aborts in free ("corrupted size vs. prev_size", "invalid next size") or the GEMM's
// output is garbage (NaN losses). `node --cpu-prof` does it every time: V8's sampler sends SIGPROF to
// the JavaScript thread every 1 ms. So the calling thread blocks the asynchronous signals around each
// oneDNN call (a pending one is delivered, on the ordinary stack, when the call returns), and the
// pool's workers block them for good (they never handle signals; a process-directed signal goes to
// another thread). The synchronous ones (faults) stay unblocked. OpenMP's threads, created by the
// first oneDNN call of the JavaScript thread inside such a block, inherit its mask.
#pragma once
#include <pthread.h>
#include <signal.h>

namespace vaekit {

inline thread_local int t_signals_blocked = 0;  // > 0: this thread's asynchronous signals are blocked

inline sigset_t AsyncSignals() {
  sigset_t s;
  sigfillset(&s);
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT}) sigdelset(&s, sig);
  return s;
}

// Blocks the asynchronous signals of the calling thread for its scope (nested scopes: no syscall).
class AsyncSignalsBlocked {
 public:
  AsyncSignalsBlocked() {
    if (t_signals_blocked++ == 0) {
      const sigset_t s = AsyncSignals();
      pthread_sigmask(SIG_BLOCK, &s, &old_);
    }
  }
  ~AsyncSignalsBlocked() {
    if (--t_signals_blocked == 0) pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  AsyncSignalsBlocked(const AsyncSignalsBlocked&) = delete;
  AsyncSignalsBlocked& operator=(const AsyncSignalsBlocked&) = delete;

 private:
  sigset_t old_;
};

// For a thread that never handles signals (the pool's workers): blocked for the rest of its life.
inline void BlockAsyncSignalsForever() {
  const sigset_t s = AsyncSignals();
  pthread_sigmask(SIG_BLOCK, &s, nullptr);
  t_signals_blocked++;
}

}  // namespace vaekit
