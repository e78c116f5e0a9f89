// vaekit native: the thread pool (pool.h). One pool for the whole addon: the core kernels, the
// convolutions' own loops (im2col, col2im, bias) and the split GEMMs all run on it. oneDNN's
// convolution primitives run on OpenMP (Debian's libdnnl is built with the OpenMP runtime), sized
// by the same thread setting (config.cc).
#include "pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "signals.h"

namespace vaekit {

int g_threads = 2;

namespace {

// ------------------------------------------------------------------------------------------------
// thread pool: opportunistic fork-join.
//
// The caller publishes a job of `n` chunks and works on it itself; workers that are awake claim
// chunks too. The caller waits only for chunks that a worker has already claimed and not finished,
// never for a worker that has not woken up yet: on a loaded machine (other processes on the cores)
// a job costs at most what the calling thread alone needs, instead of stalling at a barrier until
// the OS schedules every thread (OpenMP's fork-join does, which made 2 threads 2-5x slower than 1
// under load). Workers spin briefly (VAEKIT_SPIN_US, default 100 µs) between jobs, then sleep.
//
// A job's ticket packs (job id: 24 bits | chunk count: 20 | next chunk: 20) in one atomic word, so
// a stale worker can never claim a chunk of a job other than the one it read; job fields are read
// only after a successful claim, when the job cannot complete (and its slot be reused) before that
// chunk is done. Two slots alternate; a slot is rewritten only after its previous job completed.

class Pool {
 public:
  using Fn = void (*)(void*, int64_t);

  void SetThreads(int n) {
    n = std::max(1, std::min(n, 64));
    std::lock_guard<std::mutex> run(run_mu_);  // no job in flight while resizing
    while ((int)workers_.size() < n - 1) {
      workers_.emplace_back([this, id = (int)workers_.size()] { Worker(id); });
      workers_.back().detach();
    }
    active_.store(n - 1, std::memory_order_release);
    {
      std::lock_guard<std::mutex> lk(mu_);
      cv_.notify_all();  // workers above the new count go back to sleep
    }
  }
  int Threads() const { return active_.load(std::memory_order_acquire) + 1; }
  void SetSpinMicros(int us) { spin_us_.store(std::max(0, us), std::memory_order_relaxed); }

  // Runs f(ctx, i) for i in [0, n); returns when all are done.
  void Run(int64_t n, Fn f, void* ctx) {
    if (n <= 0) return;
    if (n == 1 || active_.load(std::memory_order_relaxed) == 0 || t_in_job_ || n >= (1 << 20)) {
      for (int64_t i = 0; i < n; i++) f(ctx, i);
      return;
    }
    std::unique_lock<std::mutex> run(run_mu_, std::try_to_lock);
    if (!run.owns_lock()) {  // another JS thread (worker_threads) is using the pool
      for (int64_t i = 0; i < n; i++) f(ctx, i);
      return;
    }
    uint64_t id = (++job_id_) & kIdMask;
    if (id == 0) id = (++job_id_) & kIdMask;
    Slot& s = slots_[id & 1];
    s.fn = f;
    s.ctx = ctx;
    s.done.store(0, std::memory_order_relaxed);
    s.ticket.store(Pack(id, (uint64_t)n, 0), std::memory_order_release);
    published_.store(id, std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_seq_cst) > 0) {
      std::lock_guard<std::mutex> lk(mu_);
      cv_.notify_all();
    }
    t_in_job_ = true;
    int64_t mine = Drain(s, id);
    t_in_job_ = false;
    if (mine) s.done.fetch_add(mine, std::memory_order_acq_rel);
    // wait for chunks claimed by workers (they are running them)
    int spins = 0;
    while (s.done.load(std::memory_order_acquire) < n) {
      if (++spins < 4000) Pause();
      else std::this_thread::yield();
    }
  }

 private:
  static constexpr uint64_t kIdMask = (1ull << 24) - 1, kNMask = (1ull << 20) - 1;
  static uint64_t Pack(uint64_t id, uint64_t n, uint64_t next) { return (id << 40) | (n << 20) | next; }
  static void Pause() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }

  struct Slot {
    std::atomic<uint64_t> ticket{0};
    std::atomic<int64_t> done{0};
    Fn fn = nullptr;
    void* ctx = nullptr;
  };

  // Claims and runs chunks of job `id` until none is left; returns how many this thread ran.
  int64_t Drain(Slot& s, uint64_t id) {
    int64_t ran = 0;
    uint64_t t = s.ticket.load(std::memory_order_acquire);
    for (;;) {
      if ((t >> 40) != id) break;
      uint64_t n = (t >> 20) & kNMask, next = t & kNMask;
      if (next >= n) break;
      if (s.ticket.compare_exchange_weak(t, t + 1, std::memory_order_acq_rel, std::memory_order_acquire)) {
        s.fn(s.ctx, (int64_t)next);
        ran++;
        t = s.ticket.load(std::memory_order_acquire);
      }
    }
    return ran;
  }

  void Worker(int wid) {
    BlockAsyncSignalsForever();  // a worker runs oneDNN's GEMMs and never handles a signal (signals.h)
    uint64_t seen = published_.load(std::memory_order_acquire);
    for (;;) {
      uint64_t id = published_.load(std::memory_order_acquire);
      if (id == seen || wid >= active_.load(std::memory_order_acquire)) {
        // spin a little, then sleep
        auto t0 = std::chrono::steady_clock::now();
        const auto lim = std::chrono::microseconds(spin_us_.load(std::memory_order_relaxed));
        bool got = false;
        if (wid < active_.load(std::memory_order_acquire)) {
          for (int k = 0;; k++) {
            if (published_.load(std::memory_order_acquire) != seen) {
              got = true;
              break;
            }
            Pause();
            if ((k & 63) == 63 && std::chrono::steady_clock::now() - t0 > lim) break;
          }
        }
        if (!got) {
          std::unique_lock<std::mutex> lk(mu_);
          sleepers_.fetch_add(1, std::memory_order_seq_cst);
          while (published_.load(std::memory_order_seq_cst) == seen || wid >= active_.load(std::memory_order_acquire))
            cv_.wait(lk);
          sleepers_.fetch_sub(1, std::memory_order_seq_cst);
        }
        continue;
      }
      seen = id;
      Slot& s = slots_[id & 1];
      int64_t ran = Drain(s, id);
      if (ran) s.done.fetch_add(ran, std::memory_order_acq_rel);
    }
  }

  Slot slots_[2];
  std::atomic<uint64_t> published_{0};
  uint64_t job_id_ = 0;
  std::atomic<int> active_{0};
  std::atomic<int> sleepers_{0};
  std::atomic<int> spin_us_{100};
  std::mutex mu_, run_mu_;
  std::condition_variable cv_;
  std::vector<std::thread> workers_;
  static thread_local bool t_in_job_;
};
thread_local bool Pool::t_in_job_ = false;

Pool& ThePool() {
  static Pool* p = new Pool();  // never destroyed: workers may still wait on it at exit
  return *p;
}

}  // namespace

void PoolRun(int64_t nchunks, void (*fn)(void*, int64_t), void* ctx) { ThePool().Run(nchunks, fn, ctx); }
void PoolSetThreads(int n) { ThePool().SetThreads(n); }
void PoolSetSpinMicros(int us) { ThePool().SetSpinMicros(us); }
int PoolThreads() { return ThePool().Threads(); }

}  // namespace vaekit
