#include <napi.h>
void InitConv(Napi::Env env, Napi::Object exports) {}
