// vaekit native: configuration and introspection (threads, pool spin, info), the op codes of ops.def
// exported by name (addon.codes), and the export registry behind VK_EXPORT.
#include <omp.h>

#include <ctime>
#include <string>

#include "cpu.h"
#include "engine.h"
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
  OpenBlasSetThreads(g_gemm_mode == 1 ? n : 1);
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
  const EngineState& e = Engine();
  const bool ob = e.engine == E_OPENBLAS;
  const std::string kernel = EngineKernel(e.engine);
  o.Set("blas", Napi::String::New(env, ob ? e.openblasConfig + " (" + kernel + ")" : "oneDNN dnnl_sgemm (" + kernel + ")"));
  Napi::Object g = Napi::Object::New(env);
  g.Set("engine", Napi::String::New(env, ob ? "openblas" : "onednn"));
  g.Set("kernel", Napi::String::New(env, kernel));
  g.Set("why", Napi::String::New(env, e.why));
  g.Set("openblas", Napi::Boolean::New(env, e.openblas));
  if (e.openblas) {
    g.Set("openblasConfig", Napi::String::New(env, e.openblasConfig));
    g.Set("openblasKernel", Napi::String::New(env, EngineKernel(E_OPENBLAS)));
  } else {
    g.Set("openblasError", Napi::String::New(env, e.openblasError));
  }
  g.Set("coretype", Napi::String::New(env, e.coretype));
  g.Set("coretypeWhy", Napi::String::New(env, e.coretypeWhy));
  g.Set("onednnIsa", Napi::String::New(env, e.onednnIsa));
  o.Set("gemm", g);
  const CpuInfo& c = Cpu();
  Napi::Object cpu = Napi::Object::New(env);
  cpu.Set("vendor", Napi::String::New(env, c.vendor));
  cpu.Set("brand", Napi::String::New(env, c.brand));
  cpu.Set("family", Napi::Number::New(env, c.family));
  cpu.Set("model", Napi::Number::New(env, c.model));
  cpu.Set("isa", Napi::String::New(env, c.isaList()));
  cpu.Set("fp32Lanes", Napi::Number::New(env, c.fp32Lanes()));
  cpu.Set("fma", Napi::Boolean::New(env, c.fma));
  o.Set("cpu", cpu);
  o.Set("threads", Napi::Number::New(env, g_threads));
  o.Set("blasThreads", Napi::Number::New(env, OpenBlasThreads()));
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

VK_EXPORT("setThreads", SetThreads)
VK_EXPORT("threadCpuMs", ThreadCpuMs)
VK_EXPORT("setSpin", SetSpin)
VK_EXPORT("info", Info)

}  // namespace

Napi::Object CodesObject(Napi::Env env) { return Codes(env); }

}  // namespace vaekit
