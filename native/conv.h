// vaekit native: convolutions (conv.cc: entry points; conv_gemm.cc: im2col + GEMM; conv_dnnl.cc:
// oneDNN primitives and the per-shape choice between the two paths). Layouts are tfjs's own: x/dy
// NHWC or NCHW, filters HWIO. The parameters come as an Int32Array laid out by VK_CONV_PARAM in
// ops.def; the fused activation codes are VK_ACT's.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "ops.h"

namespace vaekit {
namespace conv {

struct Conv {
  int64_t n, ih, iw, ic, oh, ow, oc, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr;
  bool nchw;
  size_t xSize() const { return (size_t)(n * ih * iw * ic); }
  size_t ySize() const { return (size_t)(n * oh * ow * oc); }
  size_t wSize() const { return (size_t)(kh * kw * ic * oc); }
};

enum Kind { K_FWD = 0, K_BWD_DATA = 1, K_BWD_FILTER = 2 };
enum Mode { M_AUTO = 0, M_ONEDNN = 1, M_GEMM = 2, M_TUNE = 3 };
enum Choice { C_UNDECIDED = 0, C_ONEDNN = 1, C_GEMM = 2 };
// GEMM of the im2col path: the addon's (gemm.cc, split across the pool; default) or oneDNN's
// dnnl_sgemm on OpenMP threads (for comparison).
enum Blas { B_CORE = 0, B_DNNL = 1 };

extern Mode g_mode;
extern Blas g_blas;

// im2col + GEMM (NHWC only).
bool gemmSupported(const Conv& c);
void gemmForward(const Conv& c, const float* x, const float* w, const float* bias, int act, float alpha, float* y);
void gemmBackwardData(const Conv& c, const float* dy, const float* w, float* dx);
void gemmBackwardFilter(const Conv& c, const float* x, const float* dy, float* dw);

// Runs one case on the path the mode picks (x: src/diff_src, y: dst/diff_dst, w: weights/diff
// weights); false if no native path supports it.
bool runConv(const Conv& c, int kind, float* x, float* w, float* bias, int act, float alpha, float* y);

// oneDNN's state and the per-shape cache, for convConfig / convStats.
struct DnnlStatus {
  bool ok;
  std::string error;
};
DnnlStatus dnnlStatus();
size_t cacheSize();
void clearCache();
struct StatRow {
  const int64_t* key;  // kind, the P_COUNT parameters, bias, activation, threads
  std::string impl, why;
  Choice last, tuned;
  int calls;
  double tDnnl, tGemm;
  int64_t uses;
};
void forEachEntryFn(void (*fn)(void*, const StatRow&), void* ctx);

}  // namespace conv
}  // namespace vaekit
