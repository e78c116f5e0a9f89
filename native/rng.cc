// vaekit native: Rng.fillNormal (src/rng.ts) in C++, value for value: xoshiro128** on the same four
// words and Box-Muller with V8's own log, sin and cos (Math.log/sin/cos are v8::base::ieee754's
// fdlibm port; the node binary exports them and they are looked up at first use), so the same
// doubles, the same float32 values and the same state and spare after. Where they cannot be found
// (another host of N-API) rngFillNormal returns false and the caller draws in JavaScript.
// For the k-sample NLL, whose 20 M normals per 1,000 test images were ~1 s of JavaScript: the words
// are drawn in order on one thread, the transcendental part of each pair on the pool.
#include <dlfcn.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "napi_util.h"
#include "pool.h"

namespace vaekit {
namespace {

using MathFn = double (*)(double);
struct V8Math {
  MathFn log = nullptr, sin = nullptr, cos = nullptr;
  bool ok() const { return log && sin && cos; }
};

const V8Math& Math() {
  static const V8Math m = [] {
    V8Math r;
    r.log = (MathFn)dlsym(RTLD_DEFAULT, "_ZN2v84base7ieee7543logEd");
    r.sin = (MathFn)dlsym(RTLD_DEFAULT, "_ZN2v84base7ieee7543sinEd");
    r.cos = (MathFn)dlsym(RTLD_DEFAULT, "_ZN2v84base7ieee7543cosEd");
    return r;
  }();
  return m;
}

inline uint32_t Rotl(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }

// Rng.nextUint32: xoshiro128**
inline uint32_t Next(uint32_t* s) {
  const uint32_t result = Rotl(s[1] * 5u, 7) * 9u;
  const uint32_t t = s[1] << 9;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = Rotl(s[3], 11);
  return result;
}

inline double Uniform(uint32_t* s) { return (double)Next(s) / 4294967296.0; }

// rngFillNormal(s: Uint32Array(4), spare: number | null, out: Float32Array) -> the spare after (number |
// null), s updated in place; false (nothing drawn) when V8's math functions are not available.
Napi::Value RngFillNormal(const Napi::CallbackInfo& info) {
  const V8Math& m = Math();
  if (!m.ok()) return Napi::Boolean::New(info.Env(), false);
  Napi::Uint32Array sa = info[0].As<Napi::Uint32Array>();
  if (sa.ElementLength() != 4) return Fail(info, "rngFillNormal: the state is 4 uint32 words");
  uint32_t s[4] = {sa[0], sa[1], sa[2], sa[3]};
  bool has = !IsNil(info[1]);
  double spare = has ? info[1].As<Napi::Number>().DoubleValue() : 0.0;
  float* out = F32(info[2]);
  const size_t n = Len(info[2]);
  const double twoPi = 2 * M_PI;  // 2 * Math.PI, exact
  size_t i0 = 0;
  if (has && n > 0) {
    out[i0++] = (float)spare;
    has = false;
  }
  // the generator's words for every pair, in stream order (u redrawn while it is 0, as normal() does),
  // then the pairs' Box-Muller on the pool: each value depends only on its own two words
  const size_t pairs = (n - i0 + 1) / 2;
  std::vector<uint32_t> w(2 * pairs);
  for (size_t p = 0; p < pairs; p++) {
    uint32_t a = Next(s);
    while (a == 0) a = Next(s);
    w[2 * p] = a;
    w[2 * p + 1] = Next(s);
  }
  auto pair = [&](size_t p, double& c, double& sn) {
    const double u = (double)w[2 * p] / 4294967296.0, v = (double)w[2 * p + 1] / 4294967296.0;
    const double r = std::sqrt(-2 * m.log(u));
    sn = r * m.sin(twoPi * v);
    c = r * m.cos(twoPi * v);
  };
  const size_t full = (n - i0) / 2;  // pairs whose both values are written
  ParallelFor(full, 4096, [&](size_t b, size_t e) {
    for (size_t p = b; p < e; p++) {
      double c, sn;
      pair(p, c, sn);
      out[i0 + 2 * p] = (float)c;
      out[i0 + 2 * p + 1] = (float)sn;
    }
  });
  if (full < pairs) {  // an odd count: the last pair's sine is the spare
    double c;
    pair(full, c, spare);
    out[n - 1] = (float)c;
    has = true;
  }
  for (int i = 0; i < 4; i++) sa[i] = s[i];
  return has ? Napi::Number::New(info.Env(), spare) : info.Env().Null();
}

VK_EXPORT("rngFillNormal", RngFillNormal)

}  // namespace
}  // namespace vaekit
