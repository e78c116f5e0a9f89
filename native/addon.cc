// vaekit's native addon: the kernels of the native tfjs backend (src/backend/native/). One file per
// kernel family (elementwise, gemm, reduce, shape, likelihood, optim, conv*), each registering its
// entry points with VK_EXPORT; the op codes come from ops.def (exported here as `codes`).
#include <napi.h>

#include "napi_util.h"

namespace vaekit {
Napi::Object CodesObject(Napi::Env env);
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  for (auto fn : vaekit::LoadList()) fn(env);
  for (const auto& e : vaekit::ExportList()) exports.Set(e.name, Napi::Function::New(env, e.fn, e.name));
  exports.Set("codes", vaekit::CodesObject(env));
  exports.Set("coreVersion", Napi::Number::New(env, 2));
  return exports;
}

NODE_API_MODULE(vaekit_native, Init)
