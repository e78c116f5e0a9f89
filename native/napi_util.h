// vaekit native: argument helpers for the N-API entry points and the export registry.
//
// Every entry point of the addon is a Napi function registered with VK_EXPORT("name", Fn) in the
// .cc file that defines it; addon.cc exports them all in one loop. VK_ON_LOAD(Fn) runs Fn(env) once
// when the addon loads (before the exports are set).
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace vaekit {

using NapiFn = Napi::Value (*)(const Napi::CallbackInfo&);
using LoadFn = void (*)(Napi::Env);

struct ExportEntry {
  const char* name;
  NapiFn fn;
};
std::vector<ExportEntry>& ExportList();
std::vector<LoadFn>& LoadList();

struct Exporter {
  Exporter(const char* name, NapiFn fn) { ExportList().push_back({name, fn}); }
};
struct OnLoad {
  explicit OnLoad(LoadFn fn) { LoadList().push_back(fn); }
};
#define VK_EXPORT(name, fn) static const ::vaekit::Exporter vk_export_##fn(name, fn);
#define VK_ON_LOAD(fn) static const ::vaekit::OnLoad vk_on_load_##fn(fn);

inline float* F32(const Napi::Value& v) { return v.As<Napi::Float32Array>().Data(); }
inline size_t Len(const Napi::Value& v) { return v.As<Napi::TypedArray>().ElementLength(); }
inline bool IsNil(const Napi::Value& v) { return v.IsUndefined() || v.IsNull(); }

inline std::vector<int64_t> Shape(const Napi::Value& v) {
  Napi::Array a = v.As<Napi::Array>();
  uint32_t n = a.Length();
  std::vector<int64_t> s(n);
  for (uint32_t i = 0; i < n; i++) s[i] = a.Get(i).As<Napi::Number>().Int64Value();
  return s;
}

inline int64_t SizeOf(const std::vector<int64_t>& s) {
  int64_t n = 1;
  for (auto d : s) n *= d;
  return n;
}

inline Napi::Value Fail(const Napi::CallbackInfo& info, const std::string& msg) {
  Napi::Error::New(info.Env(), "vaekit native: " + msg).ThrowAsJavaScriptException();
  return info.Env().Undefined();
}

}  // namespace vaekit
