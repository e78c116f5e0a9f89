// vaekit native: matmul. C = op(A)·op(B) (+ bias, + fused activation) with the GEMM engine
// (engine.cc: OpenBLAS or oneDNN, single-threaded calls) split across the pool: by columns when
// N >= M, else by rows; batched matmuls run item by item, or several items per chunk when they are
// small. setGemmMode(1) lets the engine thread each GEMM itself instead (for comparison).
#include "gemm.h"

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>

#include "engine.h"
#include "napi_util.h"
#include "ops.h"
#include "pool.h"
#include "signals.h"
#include "vmath.h"

namespace vaekit {

int g_gemm_mode = 0;  // 0: split across vaekit's pool, single-threaded engine calls; 1: the engine's threads

namespace {

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
    }
  }
}

// C[M,N] = op(A) op(B), row-major, plus epilogue; single thread of BLAS.
inline void Gemm1(bool tA, bool tB, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
                  int64_t ldb, float* C, int64_t ldc, float beta = 0.0f) {
  if (M <= 0 || N <= 0) return;
  if (K == 0) {
    for (int64_t i = 0; i < M; i++) {
      float* c = C + i * ldc;
      if (beta == 0.0f) std::memset(c, 0, sizeof(float) * N);
      else
        for (int64_t j = 0; j < N; j++) c[j] *= beta;
    }
    return;
  }
  EngineSgemm(tA, tB, M, N, K, A, lda, B, ldb, beta, C, ldc, g_gemm_mode == 1);
}

}  // namespace

namespace {

// The split of GemmSplit: chunks of >= 32 rows/columns and >= ~1 M multiply-adds, at most 2 per thread
// (the operand that is not split is packed again by every chunk), by columns when N >= M, else by rows.
// `then(r0, r1, c0, c1)` runs on the chunk's thread right after its product (the block of C it wrote,
// still in cache).
template <class Then>
void SplitRun(bool tA, bool tB, int64_t M, int64_t N, int64_t K, const float* A, const float* B, float* C, float beta,
              const Then& then) {
  const int64_t lda = tA ? M : K, ldb = tB ? K : N, ldc = N;
  const double work = (double)M * N * K;
  const bool splitN = N >= M;
  const int64_t D = splitN ? N : M;
  int64_t nc = 1;
  if (g_gemm_mode == 0 && g_threads > 1 && work >= 64.0 * 64 * 64) {
    nc = std::min<int64_t>({(int64_t)g_threads * (work >= 4e6 * g_threads ? 2 : 1), D / 32, (int64_t)(work / 1e6) + 1});
  }
  if (nc <= 1) {
    Gemm1(tA, tB, M, N, K, A, lda, B, ldb, C, ldc, beta);
    then(0, M, 0, N);
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
      Gemm1(tA, tB, M, e - s, K, A, lda, Bs, ldb, C + s, ldc, beta);
      then(0, M, s, e);
    } else {
      const float* As = tA ? A + s : A + s * lda;
      Gemm1(tA, tB, e - s, N, K, As, lda, B, ldb, C + s * ldc, ldc, beta);
      then(s, e, 0, N);
    }
  });
}

}  // namespace

void GemmSplit(bool tA, bool tB, int64_t M, int64_t N, int64_t K, const float* A, const float* B, float* C,
               const float* bias, int act, float alpha, float beta) {
  SplitRun(tA, tB, M, N, K, A, B, C, beta, [&](int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
    if (bias || act) Epilogue(C + r0 * N + c0, N, r1 - r0, c1 - c0, bias ? bias + c0 : nullptr, act, alpha);
  });
}

void GemmSplitThen(bool tA, bool tB, int64_t M, int64_t N, int64_t K, const float* A, const float* B, float* C,
                   const std::function<void(int64_t, int64_t, int64_t, int64_t)>& then) {
  SplitRun(tA, tB, M, N, K, A, B, C, 0.0f, then);
}

void GemmSerial(bool tA, bool tB, int64_t M, int64_t N, int64_t K, const float* A, const float* B, float* C,
                const float* bias, int act) {
  Gemm1(tA, tB, M, N, K, A, tA ? M : K, B, tB ? K : N, C, N);
  if (bias || act) Epilogue(C, N, M, N, bias, act, 0.0f);
}

namespace {

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
  // once for the whole call, not a pair of syscalls (~1 µs) per batch item (signals.h)
  std::optional<AsyncSignalsBlocked> noSignals;
  if (Engine().engine == E_ONEDNN) noSignals.emplace();
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

Napi::Value SetGemmMode(const Napi::CallbackInfo& info) {
  g_gemm_mode = info[0].As<Napi::Number>().Int32Value() == 1 ? 1 : 0;
  OpenBlasSetThreads(g_gemm_mode == 1 ? g_threads : 1);
  return Napi::Number::New(info.Env(), g_gemm_mode);
}

// setGemmEngine('openblas' | 'onednn', why?) -> the engine in use; throws if that engine is unavailable.
Napi::Value SetGemmEngine(const Napi::CallbackInfo& info) {
  const std::string e = info[0].As<Napi::String>().Utf8Value();
  if (e != "openblas" && e != "onednn") return Fail(info, "setGemmEngine: openblas or onednn");
  const std::string reason = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
  std::string why;
  if (!SetEngine(e == "openblas" ? E_OPENBLAS : E_ONEDNN, why, reason)) return Fail(info, "setGemmEngine: " + why);
  return Napi::String::New(info.Env(), e);
}

// measureGemm(rounds) -> {onednn: ms, openblas: ms | null, onednnRounds: ms[], openblasRounds: ms[] | null}:
// the 11 GEMMs of one step of the canonical mlp
// VAE (batch 128; 784-400-40 / 20-400-784, tfjs's [in, out] kernels: forward NN, data gradient NT,
// weight gradient TN) as vaekit runs them (split across the pool), with each engine, the engines
// alternated round by round so that both see the same load; the fastest round of each, and every round
// (engine-choice.ts tells a quiet measurement from one taken under load by their spread). The engine in
// use is left as it was.
Napi::Value MeasureGemm(const Napi::CallbackInfo& info) {
  const int rounds = std::max(1, std::min(1000, info[0].As<Napi::Number>().Int32Value()));
  struct G {
    bool tA, tB;
    int64_t M, N, K;
    const float *A, *B;
    float* C;
  };
  const int64_t Bt = 128;
  const int64_t layers[4][3] = {{784, 400, 0}, {400, 40, 1}, {20, 400, 1}, {400, 784, 1}};  // in, out, data grad
  std::vector<std::vector<float>> bufs;
  auto buf = [&](int64_t n) {
    bufs.emplace_back(n);
    uint32_t s = 12345u + (uint32_t)bufs.size();
    for (auto& v : bufs.back()) v = ((s = s * 1664525u + 1013904223u) >> 8) * (1.0f / 16777216.0f) - 0.5f;
    return bufs.back().data();
  };
  bufs.reserve(24);
  std::vector<G> gs;
  for (auto& l : layers) {
    const int64_t in = l[0], out = l[1];
    float *X = buf(Bt * in), *W = buf(in * out), *Y = buf(Bt * out), *dY = buf(Bt * out), *dW = buf(in * out);
    gs.push_back({false, false, Bt, out, in, X, W, Y});
    if (l[2]) gs.push_back({false, true, Bt, in, out, dY, W, buf(Bt * in)});
    gs.push_back({true, false, in, out, Bt, X, dY, dW});
  }
  const GemmEngine before = Engine().engine;
  const std::string beforeWhy = Engine().why;
  std::vector<GemmEngine> engines = {E_ONEDNN};
  if (Engine().openblas) engines.push_back(E_OPENBLAS);
  std::vector<double> best(engines.size(), 1e30);
  std::vector<std::vector<double>> all(engines.size());
  std::string why;
  auto step = [&] {
    for (const G& g : gs) GemmSplit(g.tA, g.tB, g.M, g.N, g.K, g.A, g.B, g.C, nullptr, 0, 0.0f);
  };
  for (size_t e = 0; e < engines.size(); e++) {  // warm-up: oneDNN's jit, OpenBLAS's buffers, caches
    SetEngine(engines[e], why);
    for (int w = 0; w < 3; w++) step();
  }
  for (int r = 0; r < rounds; r++) {
    for (size_t i = 0; i < engines.size(); i++) {
      const size_t e = (r % 2) ? engines.size() - 1 - i : i;  // ABBA order
      SetEngine(engines[e], why);
      const auto t0 = std::chrono::steady_clock::now();
      step();
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      best[e] = std::min(best[e], ms);
      all[e].push_back(ms);
    }
  }
  SetEngine(before, why, beforeWhy);
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("onednn", Napi::Number::New(info.Env(), best[0]));
  o.Set("openblas", engines.size() > 1 ? Napi::Number::New(info.Env(), best[1]) : info.Env().Null());
  auto list = [&](const std::vector<double>& v) {
    Napi::Array a = Napi::Array::New(info.Env(), v.size());
    for (uint32_t i = 0; i < v.size(); i++) a.Set(i, v[i]);
    return a;
  };
  o.Set("onednnRounds", list(all[0]));
  o.Set("openblasRounds", engines.size() > 1 ? (Napi::Value)list(all[1]) : info.Env().Null());
  return o;
}

VK_EXPORT("gemm", GemmFn)
VK_EXPORT("setGemmMode", SetGemmMode)
VK_EXPORT("setGemmEngine", SetGemmEngine)
VK_EXPORT("measureGemm", MeasureGemm)

}  // namespace
}  // namespace vaekit
