// vaekit's native addon: the kernels of the native tfjs backend (src/backend/native.ts).
// core.cc: matmul (OpenBLAS sgemm), elementwise/broadcast, reductions, fused optimizer steps and
// likelihoods. conv.cc: convolutions and their gradients (oneDNN, im2col + sgemm fallback).
#include <napi.h>

void InitCore(Napi::Env env, Napi::Object exports);
void InitConv(Napi::Env env, Napi::Object exports);

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InitCore(env, exports);
  InitConv(env, exports);
  return exports;
}

NODE_API_MODULE(vaekit_native, Init)
