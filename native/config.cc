// vaekit native: configuration and introspection (threads, pool spin, info), the op codes of ops.def
// exported by name (addon.codes), and the export registry behind VK_EXPORT.
#include <cblas.h>
#include <omp.h>

#include <ctime>
#include <string>

#include "napi_util.h"
#include "ops.h"
#include "pool.h"

namespace vaekit {

extern int g_gemm_mode;  // gemm.cc

std::vector<ExportEntry>& ExportList() {
  static std::vector<ExportEntry> v;
  return v;
}
std::vector<LoadFn>& LoadList() {
  static std::vector<LoadFn> v;
  return v;
}

void SetAddonThreads(int n) {
  n = std::max(1, std::min(n, 256));
  g_threads = n;
  PoolSetThreads(n);
  omp_set_num_threads(n);
  openblas_set_num_threads(g_gemm_mode == 1 ? n : 1);
}

namespace {

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  SetAddonThreads(info[0].As<Napi::Number>().Int32Value());
  return Napi::Number::New(info.Env(), g_threads);
}

// CPU time of the calling thread in ms (profiling: free of time spent waiting for a core).
Napi::Value ThreadCpuMs(const Napi::CallbackInfo& info) {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return Napi::Number::New(info.Env(), ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6);
}

Napi::Value SetSpin(const Napi::CallbackInfo& info) {
  PoolSetSpinMicros(info[0].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
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
  o.Set("poolThreads", Napi::Number::New(env, PoolThreads()));
  return o;
}

// addon.codes: { unary: {ID: code}, binary, compare, reduce, act: {tfjs name: code}, convParams: [ID...],
// kernels: { unary: {tfjs kernel: code}, binary, compare, reduce } }.
Napi::Object Codes(Napi::Env env) {
  Napi::Object codes = Napi::Object::New(env), kernels = Napi::Object::New(env);
  Napi::Object u = Napi::Object::New(env), b = Napi::Object::New(env), c = Napi::Object::New(env),
               r = Napi::Object::New(env), a = Napi::Object::New(env);
  Napi::Object ku = Napi::Object::New(env), kb = Napi::Object::New(env), kc = Napi::Object::New(env),
               kr = Napi::Object::New(env);
  Napi::Array p = Napi::Array::New(env);
  auto put = [&](Napi::Object& ids, Napi::Object& ks, const char* id, const char* kernel, int code) {
    ids.Set(id, Napi::Number::New(env, code));
    if (kernel[0]) ks.Set(kernel, Napi::Number::New(env, code));
  };
#define VK_UNARY(id, kernel) put(u, ku, #id, kernel, U_##id);
#define VK_BINARY(id, kernel) put(b, kb, #id, kernel, B_##id);
#define VK_COMPARE(id, kernel) put(c, kc, #id, kernel, B_##id);
#define VK_REDUCE(id, kernel) put(r, kr, #id, kernel, R_##id);
#define VK_ACT(id, name) a.Set(name, Napi::Number::New(env, A_##id));
#define VK_CONV_PARAM(id) p.Set((uint32_t)P_##id, Napi::String::New(env, #id));
#include "ops.def"
  codes.Set("unary", u);
  codes.Set("binary", b);
  codes.Set("compare", c);
  codes.Set("reduce", r);
  codes.Set("act", a);
  codes.Set("convParams", p);
  kernels.Set("unary", ku);
  kernels.Set("binary", kb);
  kernels.Set("compare", kc);
  kernels.Set("reduce", kr);
  codes.Set("kernels", kernels);
  return codes;
}

void LoadConfig(Napi::Env) { openblas_set_num_threads(1); }

VK_ON_LOAD(LoadConfig)
VK_EXPORT("setThreads", SetThreads)
VK_EXPORT("threadCpuMs", ThreadCpuMs)
VK_EXPORT("setSpin", SetSpin)
VK_EXPORT("info", Info)

}  // namespace

Napi::Object CodesObject(Napi::Env env) { return Codes(env); }

}  // namespace vaekit
