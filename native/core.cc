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
#include "core.h"

#include <napi.h>
#include <cblas.h>
#include <omp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <algorithm>
#include <array>
#include <type_traits>
#include <utility>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

namespace {

int g_threads = 2;
int g_gemm_mode = 0;  // 0: split across vaekit's pool + single-threaded OpenBLAS; 1: OpenBLAS threads

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

template <class F>
void Trampoline(void* ctx, int64_t i) {
  (*static_cast<F*>(ctx))(i);
}

// Runs f(i) for i in [0, n) on the pool.
template <class F>
inline void RunChunks(int64_t n, F&& f) {
  using FF = std::remove_reference_t<F>;
  ThePool().Run(n, &Trampoline<FF>, (void*)&f);
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

void Epilogue(float* __restrict C, int64_t ldc, int64_t rows, int64_t cols, const float* __restrict bias, int act,
              float alpha) {
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
  const double work = (double)M * N * K;
  const bool splitN = N >= M;
  const int64_t D = splitN ? N : M;
  // chunks of >= 32 rows/columns and >= ~1 M multiply-adds; at most 2 per thread (the operand that is
  // not split is packed again by every chunk)
  int64_t nc = 1;
  if (g_gemm_mode == 0 && g_threads > 1 && work >= 64.0 * 64 * 64) {
    nc = std::min<int64_t>({(int64_t)g_threads * (work >= 4e6 * g_threads ? 2 : 1), D / 32, (int64_t)(work / 1e6) + 1});
  }
  if (nc <= 1) {
    Gemm1(tA, tB, M, N, K, A, lda, B, ldb, C, ldc);
    if (bias || act) Epilogue(C, ldc, M, N, bias, act, alpha);
    return;
  }
  int64_t chunk = (D + nc - 1) / nc;
  chunk = (chunk + 15) / 16 * 16;
  nc = (D + chunk - 1) / chunk;
  RunChunks(nc, [&](int64_t c) {
    int64_t s = c * chunk, e = std::min(D, s + chunk);
    if (s >= e) return;
    if (splitN) {
      const float* Bs = tB ? B + s * ldb : B + s;
      Gemm1(tA, tB, M, e - s, K, A, lda, Bs, ldb, C + s, ldc);
      if (bias || act) Epilogue(C + s, ldc, M, e - s, bias ? bias + s : nullptr, act, alpha);
    } else {
      const float* As = tA ? A + s : A + s * lda;
      Gemm1(tA, tB, e - s, N, K, As, lda, B, ldb, C + s * ldc, ldc);
      if (bias || act) Epilogue(C + s * ldc, ldc, e - s, N, bias, act, alpha);
    }
  });
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
    const int64_t lda = tA ? M : K, ldb = tB ? K : N;
    auto item = [&](int64_t i) {
      int64_t ao = aOffs ? aOffs[i] : i * aStride, bo = bOffs ? bOffs[i] : i * bStride;
      Gemm1(tA, tB, M, N, K, A + ao, lda, B + bo, ldb, C + i * M * N, N);
      if (bias || act) Epilogue(C + i * M * N, N, M, N, bias, act, alpha);
    };
    int64_t per = std::max<int64_t>(1, (int64_t)(64.0 * 64 * 64 / std::max(work, 1.0)));  // items per chunk
    int64_t nc = ChunksFor((size_t)batch, (size_t)per);
    if (nc <= 1) {
      for (int64_t i = 0; i < batch; i++) item(i);
    } else {
      int64_t chunk = (batch + nc - 1) / nc;
      RunChunks((batch + chunk - 1) / chunk, [&](int64_t c) {
        for (int64_t i = c * chunk; i < std::min(batch, (c + 1) * chunk); i++) item(i);
      });
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

__attribute__((noinline)) void AddTwo(const float* __restrict a, const float* __restrict b, float* __restrict o, size_t n) {
#pragma omp simd
  for (size_t i = 0; i < n; i++) o[i] = a[i] + b[i];
}
__attribute__((noinline)) void AddInto(const float* __restrict a, float* __restrict o, size_t n) {
#pragma omp simd
  for (size_t i = 0; i < n; i++) o[i] += a[i];
}

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
    if (k == 1) {
      std::memcpy(O + s, ps[0] + s, (e - s) * sizeof(float));
      return;
    }
    AddTwo(ps[0] + s, ps[1] + s, O + s, e - s);
    for (uint32_t j = 2; j < k; j++) AddInto(ps[j] + s, O + s, e - s);
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

// pad(x, shape, before, outShape, out, value): float32 constant padding (PadV2)
Napi::Value Pad(const Napi::CallbackInfo& info) {
  Napi::Float32Array xt = info[0].As<Napi::Float32Array>();
  auto shape = Shape(info[1]);
  auto before = Shape(info[2]);
  auto oshape = Shape(info[3]);
  Napi::Float32Array ot = info[4].As<Napi::Float32Array>();
  const float value = info[5].As<Napi::Number>().FloatValue();
  const size_t R = shape.size();
  if (before.size() != R || oshape.size() != R || (int64_t)xt.ElementLength() != SizeOf(shape) ||
      (int64_t)ot.ElementLength() != SizeOf(oshape))
    return Fail(info, "pad: bad arguments");
  for (size_t d = 0; d < R; d++)
    if (before[d] < 0 || before[d] + shape[d] > oshape[d]) return Fail(info, "pad: bad paddings");
  const float* X = xt.Data();
  float* O = ot.Data();
  const int64_t total = SizeOf(oshape), n = SizeOf(shape);
  ParallelFor((size_t)total, 65536, [&](size_t b, size_t e) { std::fill(O + b, O + e, value); });
  if (n == 0) return info.Env().Undefined();
  if (R == 0) {
    O[0] = X[0];
    return info.Env().Undefined();
  }
  std::vector<int64_t> ostr(R);
  int64_t acc = 1;
  for (int64_t d = (int64_t)R - 1; d >= 0; d--) {
    ostr[d] = acc;
    acc *= oshape[d];
  }
  const int64_t inner = shape[R - 1];
  const int64_t rows = n / inner;
  int64_t start = 0;
  for (size_t d = 0; d < R; d++) start += before[d] * ostr[d];
  std::vector<int64_t> idx(R, 0);
  int64_t off = start;
  for (int64_t r = 0; r < rows; r++) {
    std::memcpy(O + off, X + r * inner, inner * sizeof(float));
    for (int64_t d = (int64_t)R - 2; d >= 0; d--) {
      idx[d]++;
      off += ostr[d];
      if (idx[d] < shape[d]) break;
      off -= ostr[d] * shape[d];
      idx[d] = 0;
    }
  }
  return info.Env().Undefined();
}

// softmax over the last axis of [rows, cols]
__attribute__((noinline)) void SoftmaxRow(const float* __restrict x, float* __restrict o, int64_t n) {
  float mx = -INFINITY;
  bool nan = false;
  for (int64_t i = 0; i < n; i++) {
    mx = x[i] > mx ? x[i] : mx;
    nan |= x[i] != x[i];
  }
  if (nan) {
    for (int64_t i = 0; i < n; i++) o[i] = NAN;
    return;
  }
  double sum = 0.0;
#pragma omp simd reduction(+ : sum)
  for (int64_t i = 0; i < n; i++) {
    float e = VExp(x[i] - mx);
    o[i] = e;
    sum += (double)e;
  }
  const float inv = (float)(1.0 / sum);
#pragma omp simd
  for (int64_t i = 0; i < n; i++) o[i] *= inv;
}

// softmax(x, rows, cols, out)
Napi::Value Softmax(const Napi::CallbackInfo& info) {
  const float* X = F32(info[0]);
  int64_t rows = info[1].As<Napi::Number>().Int64Value(), cols = info[2].As<Napi::Number>().Int64Value();
  float* O = F32(info[3]);
  if ((int64_t)Len(info[0]) != rows * cols || (int64_t)Len(info[3]) != rows * cols)
    return Fail(info, "softmax: length mismatch");
  if (cols == 0) return info.Env().Undefined();
  ParallelFor(
      (size_t)rows, std::max<size_t>(1, 8192 / (size_t)cols),
      [&](size_t s, size_t e) {
        for (size_t r = s; r < e; r++) SoftmaxRow(X + r * cols, O + r * cols, cols);
      },
      1);
  return info.Env().Undefined();
}

// concat([arrays], inners[], outer, out): out row o = [a_0 row o (inner_0 elements), a_1 row o, ...];
// any element size (all arrays of one type).
Napi::Value Concat(const Napi::CallbackInfo& info) {
  Napi::Array arr = info[0].As<Napi::Array>();
  auto inners = Shape(info[1]);
  int64_t outer = info[2].As<Napi::Number>().Int64Value();
  Napi::TypedArray ot = info[3].As<Napi::TypedArray>();
  uint32_t k = arr.Length();
  if (inners.size() != k) return Fail(info, "concat: bad arguments");
  size_t es = ot.ElementSize();
  std::vector<const uint8_t*> ps(k);
  int64_t row = 0;
  for (uint32_t i = 0; i < k; i++) {
    Napi::TypedArray t = arr.Get(i).As<Napi::TypedArray>();
    if (t.ElementSize() != es || (int64_t)t.ElementLength() != inners[i] * outer) return Fail(info, "concat: input size");
    ps[i] = static_cast<uint8_t*>(t.ArrayBuffer().Data()) + t.ByteOffset();
    row += inners[i];
  }
  if ((int64_t)ot.ElementLength() != row * outer) return Fail(info, "concat: output size");
  uint8_t* O = static_cast<uint8_t*>(ot.ArrayBuffer().Data()) + ot.ByteOffset();
  ParallelFor(
      (size_t)outer, std::max<size_t>(1, 65536 / (size_t)std::max<int64_t>(row, 1)),
      [&](size_t s, size_t e) {
        for (size_t o = s; o < e; o++) {
          uint8_t* dst = O + o * row * es;
          for (uint32_t i = 0; i < k; i++) {
            size_t b = (size_t)inners[i] * es;
            std::memcpy(dst, ps[i] + o * b, b);
            dst += b;
          }
        }
      },
      1);
  return info.Env().Undefined();
}

// tile(x, shape, reps, out): any element size
Napi::Value Tile(const Napi::CallbackInfo& info) {
  Napi::TypedArray xt = info[0].As<Napi::TypedArray>();
  auto shape = Shape(info[1]);
  auto reps = Shape(info[2]);
  Napi::TypedArray ot = info[3].As<Napi::TypedArray>();
  const size_t R = shape.size(), es = xt.ElementSize();
  if (reps.size() != R || ot.ElementSize() != es || (int64_t)xt.ElementLength() != SizeOf(shape))
    return Fail(info, "tile: bad arguments");
  std::vector<int64_t> oshape(R);
  for (size_t d = 0; d < R; d++) oshape[d] = shape[d] * reps[d];
  if ((int64_t)ot.ElementLength() != SizeOf(oshape)) return Fail(info, "tile: output size");
  const int64_t total = SizeOf(oshape);
  if (total == 0) return info.Env().Undefined();
  const uint8_t* X = static_cast<uint8_t*>(xt.ArrayBuffer().Data()) + xt.ByteOffset();
  uint8_t* O = static_cast<uint8_t*>(ot.ArrayBuffer().Data()) + ot.ByteOffset();
  if (R == 0) {
    std::memcpy(O, X, es);
    return info.Env().Undefined();
  }
  // Build the output dimension by dimension from the innermost: after step d, the block
  // [d..R) of every leading index is complete; copy it reps[d]-1 times along dim d.
  // Step 0: scatter the input rows (innermost dim) into place, each repeated reps[R-1] times.
  std::vector<int64_t> istr(R), ostr(R);
  int64_t a = 1, b = 1;
  for (int64_t d = (int64_t)R - 1; d >= 0; d--) {
    istr[d] = a;
    ostr[d] = b;
    a *= shape[d];
    b *= oshape[d];
  }
  const int64_t inner = shape[R - 1];
  const int64_t rows = SizeOf(shape) / std::max<int64_t>(inner, 1);
  std::vector<int64_t> idx(R, 0);
  // place input row r at output offset of its index (all leading reps = 0)
  for (int64_t r = 0; r < rows; r++) {
    int64_t rem = r, off = 0;
    for (int64_t d = (int64_t)R - 2; d >= 0; d--) {
      int64_t c = rem % shape[d];
      rem /= shape[d];
      off += c * ostr[d];
    }
    uint8_t* dst = O + off * es;
    for (int64_t t = 0; t < reps[R - 1]; t++) std::memcpy(dst + t * inner * es, X + r * inner * es, inner * es);
  }
  // for d = R-2 .. 0: every block of dim d+1.. (size ostr[d] elements) at index i < shape[d] is complete
  // for leading indices < shape; replicate along dim d
  for (int64_t d = (int64_t)R - 2; d >= 0; d--) {
    // iterate over leading indices [0, d) within the original extents
    int64_t lead = 1;
    for (int64_t q = 0; q < d; q++) lead *= shape[q];
    const int64_t blk = shape[d] * ostr[d];  // one filled period along d
    for (int64_t l = 0; l < lead; l++) {
      int64_t rem = l, off = 0;
      for (int64_t q = d - 1; q >= 0; q--) {
        int64_t c = rem % shape[q];
        rem /= shape[q];
        off += c * ostr[q];
      }
      uint8_t* base = O + off * es;
      for (int64_t t = 1; t < reps[d]; t++) std::memcpy(base + t * blk * es, base, blk * es);
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

__attribute__((noinline)) void BceGradRow(const float* __restrict l, const float* __restrict x, float g,
                                          float* __restrict o, int64_t D) {
#pragma omp simd
  for (int64_t d = 0; d < D; d++) o[d] = (VSigmoid(l[d]) - x[d]) * g;
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
        for (size_t n = s; n < e; n++) BceGradRow(L + n * D, X + n * D, DY[n], O + n * D, D);
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

__attribute__((noinline)) void GaussGradRow(const float* __restrict x, const float* __restrict m,
                                            const float* __restrict lv, float g, float* __restrict dm,
                                            float* __restrict dl, int64_t D) {
#pragma omp simd
  for (int64_t d = 0; d < D; d++) {
    float iv = VExp(-lv[d]);
    float df = m[d] - x[d];
    dm[d] = g * df * iv;
    dl[d] = 0.5f * g * (1.0f - df * df * iv);
  }
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
          for (size_t n = s; n < e; n++)
            GaussGradRow(X + n * D, M + n * D, LV + n * D, DY[n], DM + n * D, DL + n * D, D);
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

__attribute__((noinline)) void KlGradRow(const float* __restrict mu, const float* __restrict lv, float g,
                                         float* __restrict dm, float* __restrict dl, int64_t D) {
#pragma omp simd
  for (int64_t d = 0; d < D; d++) {
    dm[d] = g * mu[d];
    dl[d] = 0.5f * g * (VExp(lv[d]) - 1.0f);
  }
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
        for (size_t n = s; n < e; n++) KlGradRow(MU + n * D, LV + n * D, DY[n], DM + n * D, DL + n * D, D);
      },
      1);
  return info.Env().Undefined();
}

// ------------------------------------------------------------------------------------------------
// in-place optimizer steps

// The loops take restrict pointers and scalars by value: inside a lambda that captures by reference
// GCC must assume the float stores may alias the captured scalars and keeps reloading them.
__attribute__((noinline)) void AdamLoop(float* __restrict V, const float* __restrict G, float* __restrict Mm,
                                        float* __restrict S, size_t n, float b1, float b2, float ob1, float ob2,
                                        float stepSize, float invSqrtBc2, float eps) {
#pragma omp simd
  for (size_t i = 0; i < n; i++) {
    float g = G[i];
    float m = b1 * Mm[i] + ob1 * g;
    float v2 = b2 * S[i] + ob2 * g * g;
    Mm[i] = m;
    S[i] = v2;
    float denom = std::sqrt(v2) * invSqrtBc2 + eps;
    V[i] -= stepSize * m / denom;
  }
}

// adam(v, g, m, s, lr, beta1, beta2, eps, t) — torch.optim.Adam (no weight decay, no amsgrad)
Napi::Value Adam(const Napi::CallbackInfo& info) {
  float* V = F32(info[0]);
  const float* G = F32(info[1]);
  float* Mm = F32(info[2]);
  float* S = F32(info[3]);
  size_t n = Len(info[0]);
  if (Len(info[1]) != n || Len(info[2]) != n || Len(info[3]) != n) return Fail(info, "adam: length mismatch");
  double lr = info[4].As<Napi::Number>().DoubleValue();
  // scalars derived in double, like PyTorch (1 - beta2 is (float)(1 - 0.999), not 1 - (float)0.999)
  const double b1d = info[5].As<Napi::Number>().DoubleValue();
  const double b2d = info[6].As<Napi::Number>().DoubleValue();
  const float eps = info[7].As<Napi::Number>().FloatValue();
  double t = info[8].As<Napi::Number>().DoubleValue();
  double bc1 = 1.0 - std::pow(b1d, t), bc2 = 1.0 - std::pow(b2d, t);
  const float b1 = (float)b1d, b2 = (float)b2d;
  const float stepSize = (float)(lr / bc1);
  const float invSqrtBc2 = (float)(1.0 / std::sqrt(bc2));
  const float ob1 = (float)(1.0 - b1d), ob2 = (float)(1.0 - b2d);
  ParallelFor(n, 32768, [&](size_t s, size_t e) { AdamLoop(V + s, G + s, Mm + s, S + s, e - s, b1, b2, ob1, ob2, stepSize, invSqrtBc2, eps); });
  return info.Env().Undefined();
}

__attribute__((noinline)) void SgdLoop(float* __restrict V, const float* __restrict G, float* __restrict B, size_t n,
                                       float lr, float mom, bool nesterov) {
  if (!B || mom == 0.0f) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) V[i] -= lr * G[i];
  } else if (nesterov) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
      float b = mom * B[i] + G[i];
      B[i] = b;
      V[i] -= lr * (G[i] + mom * b);
    }
  } else {
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
      float b = mom * B[i] + G[i];
      B[i] = b;
      V[i] -= lr * b;
    }
  }
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
  ParallelFor(n, 32768, [&](size_t s, size_t e) { SgdLoop(V + s, G + s, B ? B + s : nullptr, e - s, lr, mom, nesterov); });
  return info.Env().Undefined();
}

__attribute__((noinline)) void AdagradLoop(float* __restrict V, const float* __restrict G, float* __restrict A,
                                           size_t n, float lr, float eps) {
#pragma omp simd
  for (size_t i = 0; i < n; i++) {
    float g = G[i];
    float a = A[i] + g * g;
    A[i] = a;
    V[i] -= lr * g / (std::sqrt(a) + eps);
  }
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
  ParallelFor(n, 32768, [&](size_t s, size_t e) { AdagradLoop(V + s, G + s, A + s, e - s, lr, eps); });
  return info.Env().Undefined();
}

// ------------------------------------------------------------------------------------------------
// configuration

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  int n = info[0].As<Napi::Number>().Int32Value();
  if (n < 1) n = 1;
  if (n > 256) n = 256;
  g_threads = n;
  ThePool().SetThreads(n);
  omp_set_num_threads(n);
  openblas_set_num_threads(g_gemm_mode == 1 ? n : 1);
  return Napi::Number::New(info.Env(), g_threads);
}

// CPU time of the calling thread in ms (profiling: free of time spent waiting for a core).
Napi::Value ThreadCpuMs(const Napi::CallbackInfo& info) {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return Napi::Number::New(info.Env(), ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6);
}

Napi::Value SetSpin(const Napi::CallbackInfo& info) {
  ThePool().SetSpinMicros(info[0].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
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
  o.Set("poolThreads", Napi::Number::New(env, ThePool().Threads()));
  return o;
}

}  // namespace

// ---- C++ API for the other native files (native/core.h) ----
void VaekitParallelFor(int64_t nchunks, void (*fn)(void*, int64_t), void* ctx) { ThePool().Run(nchunks, fn, ctx); }
int VaekitThreads() { return g_threads; }
void VaekitSgemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, const float* A, const float* B, float* C) {
  GemmSplit(transA, transB, M, N, K, A, B, C, nullptr, 0, 0.0f);
}

void InitCore(Napi::Env env, Napi::Object exports) {
  exports.Set("coreVersion", Napi::Number::New(env, 1));
  exports.Set("info", Napi::Function::New(env, Info, "info"));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads, "setThreads"));
  exports.Set("threadCpuMs", Napi::Function::New(env, ThreadCpuMs, "threadCpuMs"));
  exports.Set("setSpin", Napi::Function::New(env, SetSpin, "setSpin"));
  exports.Set("setGemmMode", Napi::Function::New(env, SetGemmMode, "setGemmMode"));
  exports.Set("unary", Napi::Function::New(env, Unary, "unary"));
  exports.Set("binary", Napi::Function::New(env, Binary, "binary"));
  exports.Set("gemm", Napi::Function::New(env, GemmFn, "gemm"));
  exports.Set("reduce", Napi::Function::New(env, Reduce, "reduce"));
  exports.Set("addN", Napi::Function::New(env, AddN, "addN"));
  exports.Set("transpose", Napi::Function::New(env, Transpose, "transpose"));
  exports.Set("slice", Napi::Function::New(env, Slice, "slice"));
  exports.Set("pad", Napi::Function::New(env, Pad, "pad"));
  exports.Set("concat", Napi::Function::New(env, Concat, "concat"));
  exports.Set("tile", Napi::Function::New(env, Tile, "tile"));
  exports.Set("softmax", Napi::Function::New(env, Softmax, "softmax"));
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
