// Convolution kernels of vaekit's native backend (src/backend/native-conv.ts registers them):
// forward (optionally fused with bias + activation), backward data (= conv2dTranspose) and
// backward filter, on tfjs layouts (x/dy NHWC or NCHW, filter HWIO).
//
// Two implementations:
//   * oneDNN (Debian's libdnnl, OpenMP runtime): primitives created once per shape and cached; user
//     tensors are used in place (nhwc/nchw), only the small weights are reordered to the blocked
//     layout the primitive wants.
//   * im2col / col2im + sgemm (oneDNN's dnnl_sgemm, or OpenBLAS's cblas_sgemm; NHWC only, any padding/dilation): the fallback when
//     oneDNN is unavailable or rejects a case, and sometimes the faster one (e.g. the backward data
//     of a convolution with 1 input channel, which oneDNN runs through a slow gemm path).
// Mode "auto" (default) picks per shape, deterministically: oneDNN where it has a direct jit kernel,
// im2col + sgemm where it would use its own gemm-based fallback (see runConv).
// VAEKIT_CONV=auto|tune|onednn|gemm selects the mode; VAEKIT_CONV_BLAS=onednn|openblas the sgemm of the
// im2col path; VAEKIT_THREADS sets the OpenMP thread count.
//
// Every entry point returns true when it computed the result, false when the case is unsupported
// (the JS side then uses tfjs-backend-cpu's kernel); it throws only on malformed arguments.
#include <napi.h>

#include <cblas.h>
#include <omp.h>
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <dnnl.hpp>

namespace {

using dnnl::memory;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

// Layout of the Int32Array of parameters the JS side sends (see native-conv.ts).
enum P {
  P_N, P_IH, P_IW, P_IC, P_OH, P_OW, P_OC, P_KH, P_KW, P_SH, P_SW, P_DH, P_DW,
  P_PT, P_PB, P_PL, P_PR, P_NCHW, P_COUNT
};

struct Conv {
  int64_t n, ih, iw, ic, oh, ow, oc, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr;
  bool nchw;
  size_t xSize() const { return (size_t)(n * ih * iw * ic); }
  size_t ySize() const { return (size_t)(n * oh * ow * oc); }
  size_t wSize() const { return (size_t)(kh * kw * ic * oc); }
};

enum Kind { K_FWD = 0, K_BWD_DATA = 1, K_BWD_FILTER = 2 };
// Fused activations (tfjs names): linear, relu, relu6, elu, sigmoid, leakyrelu.
enum Act { A_LINEAR = 0, A_RELU = 1, A_RELU6 = 2, A_ELU = 3, A_SIGMOID = 4, A_LEAKY = 5, A_COUNT = 6 };
enum Mode { M_AUTO = 0, M_ONEDNN = 1, M_GEMM = 2, M_TUNE = 3 };
enum Choice { C_UNDECIDED = 0, C_ONEDNN = 1, C_GEMM = 2 };

Mode g_mode = M_AUTO;
int g_threads = 0;
// sgemm of the im2col path: oneDNN's (on the same OpenMP team as the oneDNN primitives, so the two
// paths never have OpenMP and OpenBLAS worker threads competing for the cores) or OpenBLAS's.
enum Blas { B_DNNL = 0, B_OPENBLAS = 1 };
Blas g_blas = B_DNNL;

// Row-major C[M,N] = op(A)[M,K] · op(B)[K,N] + beta·C.
void sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb,
           float beta, float* C, int64_t ldc) {
  if (g_blas == B_DNNL &&
      dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, 1.f, A, lda, B, ldb, beta, C, ldc) == dnnl_success)
    return;
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K, 1.f, A,
              (int)lda, B, (int)ldb, beta, C, (int)ldc);
}

double nowMs() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// ---------------------------------------------------------------------------------------------
// im2col / col2im + sgemm (NHWC). A "col" row holds one output pixel's receptive field in HWI
// order, so that col [rows, KH*KW*IC] x filter [KH*KW*IC, OC] (HWIO, row-major) = y [rows, OC].

std::vector<float>& scratch() {
  static std::vector<float> buf;
  return buf;
}

constexpr size_t kColChunkFloats = size_t(4) << 20;  // 16 MiB of col buffer at most per chunk

int64_t imagesPerChunk(const Conv& c) {
  size_t perImage = (size_t)(c.oh * c.ow * c.kh * c.kw * c.ic);
  int64_t k = (int64_t)std::max<size_t>(1, kColChunkFloats / std::max<size_t>(1, perImage));
  return std::min<int64_t>(k, c.n);
}

bool isPointwise(const Conv& c) {
  return c.kh == 1 && c.kw == 1 && c.sh == 1 && c.sw == 1 && c.pt == 0 && c.pl == 0 && c.oh == c.ih && c.ow == c.iw;
}

void im2col(const Conv& c, const float* x, int64_t n0, int64_t nb, float* col) {
  const int64_t K = c.kh * c.kw * c.ic;
  const size_t icBytes = sizeof(float) * (size_t)c.ic;
  const int64_t rows = nb * c.oh;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; r++) {
    const int64_t n = n0 + r / c.oh, oy = r % c.oh;
    float* dst = col + (size_t)r * c.ow * K;
    for (int64_t ox = 0; ox < c.ow; ox++, dst += K) {
      for (int64_t ky = 0; ky < c.kh; ky++) {
        const int64_t iy = oy * c.sh - c.pt + ky * c.dh;
        float* d = dst + ky * c.kw * c.ic;
        if (iy < 0 || iy >= c.ih) {
          std::memset(d, 0, icBytes * (size_t)c.kw);
          continue;
        }
        const float* xrow = x + ((n * c.ih + iy) * c.iw) * c.ic;
        for (int64_t kx = 0; kx < c.kw; kx++, d += c.ic) {
          const int64_t ix = ox * c.sw - c.pl + kx * c.dw;
          if (ix < 0 || ix >= c.iw) std::memset(d, 0, icBytes);
          else if (c.ic == 1) *d = xrow[ix];
          else std::memcpy(d, xrow + ix * c.ic, icBytes);
        }
      }
    }
  }
}

// dx[n0 .. n0+nb) += col2im(col); dx must be zeroed by the caller.
void col2im(const Conv& c, const float* col, int64_t n0, int64_t nb, float* dx) {
  const int64_t K = c.kh * c.kw * c.ic;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < nb; i++) {
    const int64_t n = n0 + i;
    float* dxn = dx + (size_t)n * c.ih * c.iw * c.ic;
    const float* src = col + (size_t)i * c.oh * c.ow * K;
    for (int64_t oy = 0; oy < c.oh; oy++) {
      for (int64_t ox = 0; ox < c.ow; ox++, src += K) {
        for (int64_t ky = 0; ky < c.kh; ky++) {
          const int64_t iy = oy * c.sh - c.pt + ky * c.dh;
          if (iy < 0 || iy >= c.ih) continue;
          const float* s = src + ky * c.kw * c.ic;
          float* drow = dxn + iy * c.iw * c.ic;
          for (int64_t kx = 0; kx < c.kw; kx++, s += c.ic) {
            const int64_t ix = ox * c.sw - c.pl + kx * c.dw;
            if (ix < 0 || ix >= c.iw) continue;
            float* d = drow + ix * c.ic;
            for (int64_t ch = 0; ch < c.ic; ch++) d[ch] += s[ch];
          }
        }
      }
    }
  }
}

inline float activate(float v, int act, float alpha) {
  switch (act) {
    case A_RELU: return v > 0.f ? v : 0.f;
    case A_RELU6: return std::min(std::max(v, 0.f), 6.f);
    case A_ELU: return v > 0.f ? v : std::expm1(v);
    case A_SIGMOID: return 1.f / (1.f + std::exp(-v));
    case A_LEAKY: return v > 0.f ? v : alpha * v;
    default: return v;
  }
}

void biasActivation(float* y, size_t rows, int64_t oc, const float* bias, int act, float alpha) {
  if (!bias && act == A_LINEAR) return;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < (int64_t)rows; r++) {
    float* p = y + (size_t)r * oc;
    if (bias)
      for (int64_t j = 0; j < oc; j++) p[j] += bias[j];
    if (act != A_LINEAR)
      for (int64_t j = 0; j < oc; j++) p[j] = activate(p[j], act, alpha);
  }
}

bool gemmSupported(const Conv& c) { return !c.nchw; }

void gemmForward(const Conv& c, const float* x, const float* w, const float* bias, int act, float alpha, float* y) {
  const int64_t K = c.kh * c.kw * c.ic;
  if (isPointwise(c)) {
    sgemm(false, false, c.n * c.oh * c.ow, c.oc, K, x, K, w, c.oc, 0.f, y, c.oc);
  } else {
    const int64_t chunk = imagesPerChunk(c);
    std::vector<float>& col = scratch();
    col.resize((size_t)(chunk * c.oh * c.ow * K));
    for (int64_t n0 = 0; n0 < c.n; n0 += chunk) {
      const int64_t nb = std::min(chunk, c.n - n0);
      im2col(c, x, n0, nb, col.data());
      const int64_t rows = nb * c.oh * c.ow;
      sgemm(false, false, rows, c.oc, K, col.data(), K, w, c.oc, 0.f, y + (size_t)n0 * c.oh * c.ow * c.oc, c.oc);
    }
  }
  biasActivation(y, (size_t)(c.n * c.oh * c.ow), c.oc, bias, act, alpha);
}

void gemmBackwardData(const Conv& c, const float* dy, const float* w, float* dx) {
  const int64_t K = c.kh * c.kw * c.ic;
  if (isPointwise(c)) {
    sgemm(false, true, c.n * c.oh * c.ow, K, c.oc, dy, c.oc, w, c.oc, 0.f, dx, K);
    return;
  }
  std::memset(dx, 0, sizeof(float) * c.xSize());
  const int64_t chunk = imagesPerChunk(c);
  std::vector<float>& col = scratch();
  col.resize((size_t)(chunk * c.oh * c.ow * K));
  for (int64_t n0 = 0; n0 < c.n; n0 += chunk) {
    const int64_t nb = std::min(chunk, c.n - n0);
    const int64_t rows = nb * c.oh * c.ow;
    sgemm(false, true, rows, K, c.oc, dy + (size_t)n0 * c.oh * c.ow * c.oc, c.oc, w, c.oc, 0.f, col.data(), K);
    col2im(c, col.data(), n0, nb, dx);
  }
}

void gemmBackwardFilter(const Conv& c, const float* x, const float* dy, float* dw) {
  const int64_t K = c.kh * c.kw * c.ic;
  if (isPointwise(c)) {
    sgemm(true, false, K, c.oc, c.n * c.oh * c.ow, x, K, dy, c.oc, 0.f, dw, c.oc);
    return;
  }
  const int64_t chunk = imagesPerChunk(c);
  std::vector<float>& col = scratch();
  col.resize((size_t)(chunk * c.oh * c.ow * K));
  for (int64_t n0 = 0; n0 < c.n; n0 += chunk) {
    const int64_t nb = std::min(chunk, c.n - n0);
    im2col(c, x, n0, nb, col.data());
    const int64_t rows = nb * c.oh * c.ow;
    sgemm(true, false, K, c.oc, rows, col.data(), K, dy + (size_t)n0 * c.oh * c.ow * c.oc, c.oc, n0 == 0 ? 0.f : 1.f, dw,
          c.oc);
  }
}

// ---------------------------------------------------------------------------------------------
// oneDNN

struct Dnnl {
  bool tried = false;
  bool ok = false;
  std::string error;
  std::unique_ptr<dnnl::engine> eng;
  std::unique_ptr<dnnl::stream> strm;
};

Dnnl& dnnlState() {
  static Dnnl d;
  if (!d.tried) {
    d.tried = true;
    try {
      d.eng.reset(new dnnl::engine(dnnl::engine::kind::cpu, 0));
      d.strm.reset(new dnnl::stream(*d.eng));
      d.ok = true;
    } catch (const std::exception& e) {
      d.error = e.what();
    }
  }
  return d;
}

memory::dims dimsX(const Conv& c) { return {c.n, c.ic, c.ih, c.iw}; }
memory::dims dimsY(const Conv& c) { return {c.n, c.oc, c.oh, c.ow}; }
memory::dims dimsW(const Conv& c) { return {c.oc, c.ic, c.kh, c.kw}; }

// oneDNN wants oh == (ih + pt + pb - ekh) / sh + 1; tfjs's pads already satisfy that except with
// dimRoundingMode 'ceil'/'round' on numeric pads, where extra bottom/right zero padding does.
bool dnnlPads(const Conv& c, int64_t& pb, int64_t& pr) {
  auto fix = [](int64_t i, int64_t o, int64_t k, int64_t s, int64_t d, int64_t p0, int64_t p1, int64_t& out) {
    const int64_t ek = (k - 1) * d + 1;
    if (i + p0 + p1 - ek >= 0 && (i + p0 + p1 - ek) / s + 1 == o) {
      out = p1;
      return true;
    }
    const int64_t need = (o - 1) * s + ek - i - p0;
    if (need < 0) return false;
    out = need;
    return true;
  };
  return fix(c.ih, c.oh, c.kh, c.sh, c.dh, c.pt, c.pb, pb) && fix(c.iw, c.ow, c.kw, c.sw, c.dw, c.pl, c.pr, pr);
}

struct DnnlConv {
  // Forward: weights reordered from hwio into wMem (if needed) then prim(src, wts, bias, dst).
  // Backward data: same weights handling. Backward filter: prim writes dwMem, reordered to hwio.
  std::unique_ptr<dnnl::primitive> prim;
  std::unique_ptr<dnnl::reorder> wReorder;  // hwio -> primitive's layout (fwd, bwd data) or back (bwd filter)
  std::unique_ptr<memory> xMem, yMem, wUser, wPrim, biasMem;
  std::string impl;
  bool direct = false;  // a direct (jit) implementation, not oneDNN's gemm-based fallback
};

dnnl::post_ops activationPostOps(int act, float alpha) {
  dnnl::post_ops po;
  switch (act) {
    case A_RELU: po.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f); break;
    case A_RELU6: po.append_eltwise(1.f, dnnl::algorithm::eltwise_clip, 0.f, 6.f); break;
    case A_ELU: po.append_eltwise(1.f, dnnl::algorithm::eltwise_elu, 1.f, 0.f); break;
    case A_SIGMOID: po.append_eltwise(1.f, dnnl::algorithm::eltwise_logistic, 0.f, 0.f); break;
    case A_LEAKY: po.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, alpha, 0.f); break;
    default: break;
  }
  return po;
}

// Creates the primitive for one case; returns null (with the reason in `why`) when oneDNN cannot.
std::unique_ptr<DnnlConv> dnnlCreate(const Conv& c, int kind, bool hasBias, int act, float alpha, std::string& why) {
  Dnnl& d = dnnlState();
  if (!d.ok) {
    why = "oneDNN engine: " + d.error;
    return nullptr;
  }
  int64_t pb, pr;
  if (!dnnlPads(c, pb, pr)) {
    why = "padding not expressible";
    return nullptr;
  }
  try {
    const dnnl::engine& eng = *d.eng;
    const tag act_tag = c.nchw ? tag::nchw : tag::nhwc;
    memory::desc xmd(dimsX(c), dt::f32, act_tag), ymd(dimsY(c), dt::f32, act_tag);
    memory::desc wAny(dimsW(c), dt::f32, tag::any), wUserMd(dimsW(c), dt::f32, tag::hwio);
    memory::desc bmd({c.oc}, dt::f32, tag::x);
    memory::dims strides{c.sh, c.sw}, dil{c.dh - 1, c.dw - 1}, padL{c.pt, c.pl}, padR{pb, pr};
    auto out = std::make_unique<DnnlConv>();

    const bool fwdBias = kind == K_FWD && hasBias;
    auto fdesc = fwdBias ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                                                           xmd, wAny, bmd, ymd, strides, dil, padL, padR)
                         : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                                                           xmd, wAny, ymd, strides, dil, padL, padR);
    dnnl::primitive_attr attr;
    if (kind == K_FWD && act != A_LINEAR) attr.set_post_ops(activationPostOps(act, alpha));
    dnnl::convolution_forward::primitive_desc fpd(fdesc, attr, eng);

    memory::desc wPrimMd;
    if (kind == K_FWD) {
      out->impl = fpd.impl_info_str();
      out->prim.reset(new dnnl::convolution_forward(fpd));
      wPrimMd = fpd.weights_desc();
      if (fwdBias) out->biasMem.reset(new memory(bmd, eng, DNNL_MEMORY_NONE));
    } else if (kind == K_BWD_DATA) {
      dnnl::convolution_backward_data::desc bd(dnnl::algorithm::convolution_direct, xmd, wAny, ymd, strides, dil, padL, padR);
      dnnl::convolution_backward_data::primitive_desc bpd(bd, eng, fpd);
      out->impl = bpd.impl_info_str();
      if (bpd.diff_src_desc() != xmd || bpd.diff_dst_desc() != ymd) {
        why = "unexpected layouts";
        return nullptr;
      }
      out->prim.reset(new dnnl::convolution_backward_data(bpd));
      wPrimMd = bpd.weights_desc();
    } else {
      dnnl::convolution_backward_weights::desc wd(dnnl::algorithm::convolution_direct, xmd, wAny, ymd, strides, dil, padL, padR);
      dnnl::convolution_backward_weights::primitive_desc wpd(wd, eng, fpd);
      out->impl = wpd.impl_info_str();
      if (wpd.src_desc() != xmd || wpd.diff_dst_desc() != ymd) {
        why = "unexpected layouts";
        return nullptr;
      }
      out->prim.reset(new dnnl::convolution_backward_weights(wpd));
      wPrimMd = wpd.diff_weights_desc();
    }
    out->direct = out->impl.find("gemm") == std::string::npos;
    if (out->impl.rfind("ref", 0) == 0) {
      why = "only the reference implementation (" + out->impl + ")";
      return nullptr;
    }
    out->xMem.reset(new memory(xmd, eng, DNNL_MEMORY_NONE));
    out->yMem.reset(new memory(ymd, eng, DNNL_MEMORY_NONE));
    out->wUser.reset(new memory(wUserMd, eng, DNNL_MEMORY_NONE));
    if (wPrimMd != wUserMd) {
      out->wPrim.reset(new memory(wPrimMd, eng));  // owned buffer in the primitive's layout
      if (kind == K_BWD_FILTER) out->wReorder.reset(new dnnl::reorder(*out->wPrim, *out->wUser));
      else out->wReorder.reset(new dnnl::reorder(*out->wUser, *out->wPrim));
    }
    return out;
  } catch (const dnnl::error& e) {
    why = std::string("oneDNN: ") + e.what();
    return nullptr;
  }
}

// x: src / diff_src; y: dst / diff_dst; w: weights / diff_weights (hwio, user).
void dnnlRun(DnnlConv& p, int kind, float* x, float* w, float* bias, float* y) {
  dnnl::stream& s = *dnnlState().strm;
  p.xMem->set_data_handle(x);
  p.yMem->set_data_handle(y);
  p.wUser->set_data_handle(w);
  memory& wArg = p.wPrim ? *p.wPrim : *p.wUser;
  if (kind != K_BWD_FILTER && p.wReorder) p.wReorder->execute(s, *p.wUser, *p.wPrim);
  if (kind == K_FWD) {
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, *p.xMem}, {DNNL_ARG_WEIGHTS, wArg}, {DNNL_ARG_DST, *p.yMem}};
    if (p.biasMem) {
      p.biasMem->set_data_handle(bias);
      args.insert({DNNL_ARG_BIAS, *p.biasMem});
    }
    p.prim->execute(s, args);
  } else if (kind == K_BWD_DATA) {
    p.prim->execute(s, {{DNNL_ARG_DIFF_SRC, *p.xMem}, {DNNL_ARG_WEIGHTS, wArg}, {DNNL_ARG_DIFF_DST, *p.yMem}});
  } else {
    p.prim->execute(s, {{DNNL_ARG_SRC, *p.xMem}, {DNNL_ARG_DIFF_WEIGHTS, wArg}, {DNNL_ARG_DIFF_DST, *p.yMem}});
    if (p.wReorder) p.wReorder->execute(s, *p.wPrim, *p.wUser);
  }
  s.wait();
}

// ---------------------------------------------------------------------------------------------
// Per-case state: the oneDNN primitive (if any) and the auto-tuning between the two paths.

struct Entry {
  std::unique_ptr<DnnlConv> dnnl;
  bool dnnlTried = false;
  std::string dnnlWhy;
  Choice tuned = C_UNDECIDED;  // mode tune: the winner once decided
  Choice last = C_UNDECIDED;   // the path of the latest call
  int calls = 0;
  double tDnnl = INFINITY, tGemm = INFINITY;
  int64_t uses = 0;
};

constexpr size_t kMaxEntries = 512;
constexpr int kTuneCalls = 8;
std::unordered_map<std::string, std::unique_ptr<Entry>>& cache() {
  static std::unordered_map<std::string, std::unique_ptr<Entry>> m;
  return m;
}

// The thread count is part of the key: oneDNN sizes a primitive's work split for the OpenMP thread
// count at creation, so a change (setThreads) must create new primitives.
std::string makeKey(const Conv& c, int kind, bool hasBias, int act, float alpha) {
  const int64_t v[] = {kind, c.n, c.ih, c.iw, c.ic, c.oh, c.ow, c.oc, c.kh, c.kw, c.sh, c.sw,
                       c.dh, c.dw, c.pt, c.pb, c.pl, c.pr, c.nchw, hasBias, act, omp_get_max_threads()};
  std::string k(reinterpret_cast<const char*>(v), sizeof(v));
  if (act == A_LEAKY) k.append(reinterpret_cast<const char*>(&alpha), sizeof(alpha));
  return k;
}

Entry& entryFor(const Conv& c, int kind, bool hasBias, int act, float alpha) {
  auto& m = cache();
  std::string key = makeKey(c, kind, hasBias, act, alpha);
  auto it = m.find(key);
  if (it != m.end()) return *it->second;
  if (m.size() >= kMaxEntries) m.clear();
  return *m.emplace(key, std::make_unique<Entry>()).first->second;
}

bool ensureDnnl(Entry& e, const Conv& c, int kind, bool hasBias, int act, float alpha) {
  if (!e.dnnlTried) {
    e.dnnlTried = true;
    e.dnnl = dnnlCreate(c, kind, hasBias, act, alpha, e.dnnlWhy);
  }
  return e.dnnl != nullptr;
}

// Runs one case on the path the mode picks; returns false if no native path supports it.
//   auto:   oneDNN when it has a direct (jit) implementation for the case, else im2col + sgemm (when
//           oneDNN would fall back to its own gemm-based convolution, e.g. backward data with one
//           input channel, or has none). Deterministic: the same path for a shape on every run.
//   tune:   both paths alternately for a shape's first calls (2 to warm up, 3 timed each), then the
//           faster minimum; not reproducible from run to run (timings decide), hence opt-in.
//   onednn / gemm: that path whenever it supports the case.
bool runConv(const Conv& c, int kind, float* x, float* w, float* bias, int act, float alpha, float* y) {
  Entry& e = entryFor(c, kind, bias != nullptr, act, alpha);
  e.uses++;
  const bool gemmOk = gemmSupported(c);
  auto haveDnnl = [&] { return ensureDnnl(e, c, kind, bias != nullptr, act, alpha); };
  auto runGemm = [&] {
    e.last = C_GEMM;
    if (kind == K_FWD) gemmForward(c, x, w, bias, act, alpha, y);
    else if (kind == K_BWD_DATA) gemmBackwardData(c, y, w, x);
    else gemmBackwardFilter(c, x, y, w);
  };
  auto runDnnl = [&] {
    try {
      dnnlRun(*e.dnnl, kind, x, w, bias, y);
      e.last = C_ONEDNN;
      return true;
    } catch (const dnnl::error& err) {
      e.dnnlWhy = std::string("oneDNN execute: ") + err.what();
      e.dnnl.reset();
      return false;
    }
  };
  Choice use = C_ONEDNN;
  if (g_mode == M_GEMM) {
    use = C_GEMM;
  } else if (g_mode == M_AUTO) {
    use = haveDnnl() && (e.dnnl->direct || !gemmOk) ? C_ONEDNN : C_GEMM;
  } else if (g_mode == M_TUNE) {
    if (e.tuned == C_UNDECIDED && !(haveDnnl() && gemmOk)) e.tuned = e.dnnl ? C_ONEDNN : C_GEMM;
    if (e.tuned == C_UNDECIDED) {
      const bool dnnlTurn = (e.calls % 2) == 0;
      const double t0 = nowMs();
      if (!dnnlTurn) runGemm();
      else if (!runDnnl()) {
        e.tuned = C_GEMM;
        runGemm();
        return true;
      }
      const double t = nowMs() - t0;
      if (e.calls >= 2) {
        double& best = dnnlTurn ? e.tDnnl : e.tGemm;
        best = std::min(best, t);
      }
      if (++e.calls >= kTuneCalls) e.tuned = e.tGemm < e.tDnnl ? C_GEMM : C_ONEDNN;
      return true;
    }
    use = e.tuned;
  }
  if (use == C_ONEDNN && haveDnnl() && runDnnl()) return true;
  if (gemmOk) {
    runGemm();
    return true;
  }
  // NCHW (no im2col path): oneDNN or nothing.
  return use != C_ONEDNN && haveDnnl() && runDnnl();
}

// ---------------------------------------------------------------------------------------------
// N-API glue

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
  if (act < 0 || act >= A_COUNT) return Napi::Boolean::New(env, false);
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
  Dnnl& d = dnnlState();
  o.Set("onednn", Napi::Boolean::New(env, d.ok));
  if (!d.ok) o.Set("onednnError", Napi::String::New(env, d.error));
  const dnnl_version_t* v = dnnl_version();
  o.Set("onednnVersion", Napi::String::New(env, std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch)));
  o.Set("runtime", Napi::String::New(env, v->cpu_runtime == DNNL_RUNTIME_OMP ? "openmp" : v->cpu_runtime == DNNL_RUNTIME_TBB ? "tbb" : "other"));
  o.Set("threads", Napi::Number::New(env, omp_get_max_threads()));
  o.Set("mode", Napi::String::New(env, modeName(g_mode)));
  o.Set("blas", Napi::String::New(env, g_blas == B_OPENBLAS ? "openblas" : "onednn"));
  o.Set("cached", Napi::Number::New(env, (double)cache().size()));
  return o;
}

// convConfig({ mode?: 'auto'|'onednn'|'gemm', threads?: number, clearCache?: boolean }) -> info
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
      if (t > 0) {
        g_threads = t;
        omp_set_num_threads(t);
      }
    }
    if (o.Has("blas") && o.Get("blas").IsString()) {
      const std::string b = o.Get("blas").As<Napi::String>().Utf8Value();
      if (b != "onednn" && b != "openblas") {
        Napi::RangeError::New(env, "convConfig: blas must be onednn or openblas").ThrowAsJavaScriptException();
        return env.Null();
      }
      g_blas = b == "openblas" ? B_OPENBLAS : B_DNNL;
    }
    if (o.Has("clearCache") && o.Get("clearCache").ToBoolean()) cache().clear();
  }
  return infoObject(env);
}

// convStats() -> [{ kind, params, bias, activation, impl, onednnWhy, path, tuned, tOnednnMs, tGemmMs, uses }]
Napi::Value ConvStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env);
  uint32_t i = 0;
  for (auto& kv : cache()) {
    const int64_t* v = reinterpret_cast<const int64_t*>(kv.first.data());
    const Entry& e = *kv.second;
    Napi::Object o = Napi::Object::New(env);
    static const char* kinds[] = {"forward", "backwardData", "backwardFilter"};
    o.Set("kind", Napi::String::New(env, kinds[v[0]]));
    Napi::Array p = Napi::Array::New(env);
    for (uint32_t j = 1; j <= (uint32_t)P_COUNT; j++) p.Set(j - 1, Napi::Number::New(env, (double)v[j]));
    o.Set("params", p);
    o.Set("bias", Napi::Boolean::New(env, v[P_COUNT + 1] != 0));
    o.Set("activation", Napi::Number::New(env, (double)v[P_COUNT + 2]));
    o.Set("threads", Napi::Number::New(env, (double)v[P_COUNT + 3]));
    o.Set("impl", Napi::String::New(env, e.dnnl ? e.dnnl->impl : std::string()));
    if (!e.dnnlWhy.empty()) o.Set("onednnWhy", Napi::String::New(env, e.dnnlWhy));
    auto name = [](Choice ch) { return ch == C_ONEDNN ? "onednn" : ch == C_GEMM ? "gemm" : "undecided"; };
    o.Set("path", Napi::String::New(env, name(e.last)));
    if (e.tuned != C_UNDECIDED || e.calls > 0) o.Set("tuned", Napi::String::New(env, name(e.tuned)));
    if (std::isfinite(e.tDnnl)) o.Set("tOnednnMs", Napi::Number::New(env, e.tDnnl));
    if (std::isfinite(e.tGemm)) o.Set("tGemmMs", Napi::Number::New(env, e.tGemm));
    o.Set("uses", Napi::Number::New(env, (double)e.uses));
    out.Set(i++, o);
  }
  return out;
}

int affinityCpus() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return 1;
}

}  // namespace

void InitConv(Napi::Env env, Napi::Object exports) {
  const char* mode = std::getenv("VAEKIT_CONV");
  if (mode) {
    Mode m;
    if (parseMode(mode, m)) g_mode = m;
  }
  const char* blas = std::getenv("VAEKIT_CONV_BLAS");
  if (blas && std::string(blas) == "openblas") g_blas = B_OPENBLAS;
  // oneDNN (OpenMP build) and the im2col loops share libgomp's team: one thread per available core
  // unless VAEKIT_THREADS or OMP_NUM_THREADS says otherwise.
  const char* vt = std::getenv("VAEKIT_THREADS");
  if (vt && std::atoi(vt) > 0) g_threads = std::atoi(vt);
  else if (!std::getenv("OMP_NUM_THREADS")) g_threads = affinityCpus();
  if (g_threads > 0) omp_set_num_threads(g_threads);

  exports.Set("convForward", Napi::Function::New(env, ConvForward, "convForward"));
  exports.Set("convBackwardData", Napi::Function::New(env, ConvBackwardData, "convBackwardData"));
  exports.Set("convBackwardFilter", Napi::Function::New(env, ConvBackwardFilter, "convBackwardFilter"));
  exports.Set("convConfig", Napi::Function::New(env, ConvConfig, "convConfig"));
  exports.Set("convStats", Napi::Function::New(env, ConvStats, "convStats"));
}
