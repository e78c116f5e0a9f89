// vaekit native: the N-API entry points of the convolutions (src/backend/native/conv.ts registers
// them): forward (optionally fused with bias + activation), backward data (= conv2dTranspose) and
// backward filter. Every entry point returns true when it computed the result, false when the case is
// unsupported (the JS side then uses tfjs-backend-cpu's kernel); it throws only on malformed arguments.
// VAEKIT_CONV=auto|tune|onednn|gemm selects the mode; VAEKIT_CONV_BLAS=core|onednn the GEMM of the
// im2col path; the thread count is the addon's (setThreads).
#include <dnnl.h>
#include <omp.h>

#include <cmath>
#include <cstdlib>
#include <string>

#include "conv.h"
#include "napi_util.h"
#include "pool.h"

namespace vaekit {
namespace conv {
namespace {

bool readConv(const Napi::Env& env, const Napi::Value& v, Conv& c) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array ||
      v.As<Napi::Int32Array>().ElementLength() < P_COUNT) {
    Napi::TypeError::New(env, "conv: params must be an Int32Array of " + std::to_string((int)P_COUNT)).ThrowAsJavaScriptException();
    return false;
  }
  const int32_t* p = v.As<Napi::Int32Array>().Data();
  c = Conv{p[P_N], p[P_IH], p[P_IW], p[P_IC], p[P_OH], p[P_OW], p[P_OC], p[P_KH], p[P_KW], p[P_SH], p[P_SW],
           p[P_DH], p[P_DW], p[P_PT], p[P_PB], p[P_PL], p[P_PR], p[P_NCHW] != 0};
  const bool positive = c.n > 0 && c.ih > 0 && c.iw > 0 && c.ic > 0 && c.oh > 0 && c.ow > 0 && c.oc > 0 && c.kh > 0 &&
                        c.kw > 0 && c.sh > 0 && c.sw > 0 && c.dh > 0 && c.dw > 0;
  if (!positive || c.pt < 0 || c.pb < 0 || c.pl < 0 || c.pr < 0) {
    Napi::RangeError::New(env, "conv: invalid convolution parameters").ThrowAsJavaScriptException();
    return false;
  }
  return true;
}

float* readF32(const Napi::Env& env, const Napi::Value& v, size_t need, const char* what) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    Napi::TypeError::New(env, std::string("conv: ") + what + " must be a Float32Array").ThrowAsJavaScriptException();
    return nullptr;
  }
  Napi::Float32Array a = v.As<Napi::Float32Array>();
  if (a.ElementLength() < need) {
    Napi::RangeError::New(env, std::string("conv: ") + what + " has " + std::to_string(a.ElementLength()) +
                                   " elements, expected " + std::to_string(need))
        .ThrowAsJavaScriptException();
    return nullptr;
  }
  return a.Data();
}

// convForward(x, filter, bias | null, y, params, activation, alpha) -> boolean
Napi::Value ConvForward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Conv c;
  if (info.Length() < 5 || !readConv(env, info[4], c)) {
    if (!env.IsExceptionPending()) Napi::TypeError::New(env, "convForward(x, w, bias, y, params, act, alpha)").ThrowAsJavaScriptException();
    return env.Null();
  }
  float* x = readF32(env, info[0], c.xSize(), "x");
  if (!x) return env.Null();
  float* w = readF32(env, info[1], c.wSize(), "filter");
  if (!w) return env.Null();
  float* bias = nullptr;
  if (!info[2].IsNull() && !info[2].IsUndefined()) {
    bias = readF32(env, info[2], (size_t)c.oc, "bias");
    if (!bias) return env.Null();
  }
  float* y = readF32(env, info[3], c.ySize(), "y");
  if (!y) return env.Null();
  const int act = info.Length() > 5 && info[5].IsNumber() ? info[5].As<Napi::Number>().Int32Value() : 0;
  const float alpha = info.Length() > 6 && info[6].IsNumber() ? info[6].As<Napi::Number>().FloatValue() : 0.f;
  if (act < 0 || act >= A_NUM) return Napi::Boolean::New(env, false);
  return Napi::Boolean::New(env, runConv(c, K_FWD, x, w, bias, act, alpha, y));
}

// convBackwardData(dy, filter, dx, params) -> boolean
Napi::Value ConvBackwardData(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Conv c;
  if (info.Length() < 4 || !readConv(env, info[3], c)) {
    if (!env.IsExceptionPending()) Napi::TypeError::New(env, "convBackwardData(dy, w, dx, params)").ThrowAsJavaScriptException();
    return env.Null();
  }
  float* dy = readF32(env, info[0], c.ySize(), "dy");
  if (!dy) return env.Null();
  float* w = readF32(env, info[1], c.wSize(), "filter");
  if (!w) return env.Null();
  float* dx = readF32(env, info[2], c.xSize(), "dx");
  if (!dx) return env.Null();
  return Napi::Boolean::New(env, runConv(c, K_BWD_DATA, dx, w, nullptr, A_LINEAR, 0.f, dy));
}

// convBackwardFilter(x, dy, dw, params) -> boolean
Napi::Value ConvBackwardFilter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Conv c;
  if (info.Length() < 4 || !readConv(env, info[3], c)) {
    if (!env.IsExceptionPending()) Napi::TypeError::New(env, "convBackwardFilter(x, dy, dw, params)").ThrowAsJavaScriptException();
    return env.Null();
  }
  float* x = readF32(env, info[0], c.xSize(), "x");
  if (!x) return env.Null();
  float* dy = readF32(env, info[1], c.ySize(), "dy");
  if (!dy) return env.Null();
  float* dw = readF32(env, info[2], c.wSize(), "dw");
  if (!dw) return env.Null();
  return Napi::Boolean::New(env, runConv(c, K_BWD_FILTER, x, dw, nullptr, A_LINEAR, 0.f, dy));
}

const char* modeName(Mode m) { return m == M_ONEDNN ? "onednn" : m == M_GEMM ? "gemm" : m == M_TUNE ? "tune" : "auto"; }

bool parseMode(const std::string& s, Mode& m) {
  if (s == "auto") m = M_AUTO;
  else if (s == "onednn") m = M_ONEDNN;
  else if (s == "gemm") m = M_GEMM;
  else if (s == "tune") m = M_TUNE;
  else return false;
  return true;
}

Napi::Object infoObject(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  const DnnlStatus d = dnnlStatus();
  o.Set("onednn", Napi::Boolean::New(env, d.ok));
  if (!d.ok) o.Set("onednnError", Napi::String::New(env, d.error));
  const dnnl_version_t* v = dnnl_version();
  o.Set("onednnVersion", Napi::String::New(env, std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch)));
  o.Set("runtime", Napi::String::New(env, v->cpu_runtime == DNNL_RUNTIME_OMP ? "openmp" : v->cpu_runtime == DNNL_RUNTIME_TBB ? "tbb" : "other"));
  o.Set("threads", Napi::Number::New(env, omp_get_max_threads()));
  o.Set("mode", Napi::String::New(env, modeName(g_mode)));
  o.Set("blas", Napi::String::New(env, g_blas == B_DNNL ? "onednn" : "core"));
  o.Set("cached", Napi::Number::New(env, (double)cacheSize()));
  return o;
}

// convConfig({ mode?: 'auto'|'tune'|'onednn'|'gemm', blas?: 'core'|'onednn' ('openblas': old name of 'core'),
//              threads?: number (the addon's, as setThreads), clearCache?: boolean }) -> info
Napi::Value ConvConfig(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() > 0 && info[0].IsObject()) {
    Napi::Object o = info[0].As<Napi::Object>();
    if (o.Has("mode") && o.Get("mode").IsString()) {
      Mode m;
      if (!parseMode(o.Get("mode").As<Napi::String>().Utf8Value(), m)) {
        Napi::RangeError::New(env, "convConfig: mode must be auto, tune, onednn or gemm").ThrowAsJavaScriptException();
        return env.Null();
      }
      g_mode = m;
    }
    if (o.Has("threads") && o.Get("threads").IsNumber()) {
      const int t = o.Get("threads").As<Napi::Number>().Int32Value();
      if (t > 0) SetAddonThreads(t);
    }
    if (o.Has("blas") && o.Get("blas").IsString()) {
      const std::string b = o.Get("blas").As<Napi::String>().Utf8Value();
      if (b != "onednn" && b != "core" && b != "openblas") {
        Napi::RangeError::New(env, "convConfig: blas must be core or onednn").ThrowAsJavaScriptException();
        return env.Null();
      }
      g_blas = b == "onednn" ? B_DNNL : B_CORE;
    }
    if (o.Has("clearCache") && o.Get("clearCache").ToBoolean()) clearCache();
  }
  return infoObject(env);
}

// convStats() -> [{ kind, params, bias, activation, impl, onednnWhy, path, tuned, tOnednnMs, tGemmMs, uses }]
Napi::Value ConvStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env);
  struct Ctx {
    Napi::Env env;
    Napi::Array out;
    uint32_t i;
  } ctx{env, out, 0};
  forEachEntryFn(
      [](void* p, const StatRow& e) {
        Ctx& c = *static_cast<Ctx*>(p);
        Napi::Env env = c.env;
        const int64_t* v = e.key;
        Napi::Object o = Napi::Object::New(env);
        static const char* kinds[] = {"forward", "backwardData", "backwardFilter"};
        o.Set("kind", Napi::String::New(env, kinds[v[0]]));
        Napi::Array p2 = Napi::Array::New(env);
        for (uint32_t j = 1; j <= (uint32_t)P_COUNT; j++) p2.Set(j - 1, Napi::Number::New(env, (double)v[j]));
        o.Set("params", p2);
        o.Set("bias", Napi::Boolean::New(env, v[P_COUNT + 1] != 0));
        o.Set("activation", Napi::Number::New(env, (double)v[P_COUNT + 2]));
        o.Set("threads", Napi::Number::New(env, (double)v[P_COUNT + 3]));
        o.Set("impl", Napi::String::New(env, e.impl));
        if (!e.why.empty()) o.Set("onednnWhy", Napi::String::New(env, e.why));
        auto name = [](Choice ch) { return ch == C_ONEDNN ? "onednn" : ch == C_GEMM ? "gemm" : "undecided"; };
        o.Set("path", Napi::String::New(env, name(e.last)));
        if (e.tuned != C_UNDECIDED || e.calls > 0) o.Set("tuned", Napi::String::New(env, name(e.tuned)));
        if (std::isfinite(e.tDnnl)) o.Set("tOnednnMs", Napi::Number::New(env, e.tDnnl));
        if (std::isfinite(e.tGemm)) o.Set("tGemmMs", Napi::Number::New(env, e.tGemm));
        o.Set("uses", Napi::Number::New(env, (double)e.uses));
        c.out.Set(c.i++, o);
      },
      &ctx);
  return out;
}

void LoadConv(Napi::Env) {
  const char* mode = std::getenv("VAEKIT_CONV");
  if (mode) {
    Mode m;
    if (parseMode(mode, m)) g_mode = m;
  }
  const char* blas = std::getenv("VAEKIT_CONV_BLAS");
  if (blas && std::string(blas) == "onednn") g_blas = B_DNNL;
}

VK_ON_LOAD(LoadConv)
VK_EXPORT("convForward", ConvForward)
VK_EXPORT("convBackwardData", ConvBackwardData)
VK_EXPORT("convBackwardFilter", ConvBackwardFilter)
VK_EXPORT("convConfig", ConvConfig)
VK_EXPORT("convStats", ConvStats)

}  // namespace
}  // namespace conv
}  // namespace vaekit
