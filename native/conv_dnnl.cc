// vaekit native: the oneDNN path of the convolutions and the per-shape choice between it and
// im2col + GEMM. oneDNN (Debian's libdnnl, OpenMP runtime): primitives created once per shape and
// cached; user tensors are used in place (nhwc/nchw), only the small weights are reordered to the
// blocked layout the primitive wants. Its OpenMP team is sized by the addon's thread setting.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <dnnl.hpp>

#include "conv.h"
#include "signals.h"

namespace vaekit {
namespace conv {

Mode g_mode = M_AUTO;

namespace {

using dnnl::memory;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

double nowMs() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
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
    case A_LEAKYRELU: po.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, alpha, 0.f); break;
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
  const AsyncSignalsBlocked noSignals;  // its gemm-based kernels move rsp onto the heap (signals.h)
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
  if (act == A_LEAKYRELU) k.append(reinterpret_cast<const char*>(&alpha), sizeof(alpha));
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



}  // namespace

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

DnnlStatus dnnlStatus() {
  Dnnl& d = dnnlState();
  return {d.ok, d.error};
}
size_t cacheSize() { return cache().size(); }
void clearCache() { cache().clear(); }
void forEachEntryFn(void (*fn)(void*, const StatRow&), void* ctx) {
  for (auto& kv : cache()) {
    const Entry& e = *kv.second;
    StatRow r{reinterpret_cast<const int64_t*>(kv.first.data()), e.dnnl ? e.dnnl->impl : std::string(), e.dnnlWhy,
              e.last, e.tuned, e.calls, e.tDnnl, e.tGemm, e.uses};
    fn(ctx, r);
  }
}

}  // namespace conv
}  // namespace vaekit
