#include <napi.h>
void InitCore(Napi::Env env, Napi::Object exports) {}
