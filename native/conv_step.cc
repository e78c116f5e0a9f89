// vaekit native: the conv VAE fused. convVaeStep: one whole training step in one call
// (src/train/fused-conv-step.ts), the conv counterpart of train_step.cc's denseVaeStep. The model
// (src/nn/conv.ts, the canonical conv VAE of docs/PROTOCOL.md and other widths):
//   encoder  x (NHWC) → [conv k×k/s 'same' + bias → ReLU]… → CHW flatten → [dense → ReLU]… → dense → [μ | log σ²]
//   z = μ + exp(½ log σ²) ⊙ ε                                   (ε drawn by the caller, from its Rng)
//   decoder  z → [dense → ReLU]… → HWC → [transposed conv + bias → ReLU]… → transposed conv + bias → logits
//   loss = mean_b [ Σ_d BCE(logits, x) + β · KL(N(μ, σ²) ‖ N(0, I)) ]
// The convolutions are conv.h's runConv, the kernels the tfjs graph calls (the same per-shape oneDNN
// primitives, created once and cached, or im2col + GEMM): a transposed convolution is the backward
// data of its convolution, its input gradient that convolution's forward, its kernel gradient that
// convolution's backward filter with the roles of x and dy swapped. The dense layers are GemmSplit
// with the bias + ReLU epilogue. Everything else (bias gradients, ReLU masks, the CHW ↔ HWC
// permutes, the loss, the KL and the reparameterisation) is one loop each here instead of a tfjs
// kernel, a tape entry and a tensor each; then one Adam update of every parameter (optim.cc, the
// arithmetic of torch.optim.Adam). Activations, gradients and workspaces are kept for the next step
// (nothing is allocated per step but the first). A non-finite loss leaves the parameters untouched;
// a convolution no native path runs returns null before anything is changed (the caller then takes
// the tfjs path).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "conv.h"
#include "gemm.h"
#include "napi_util.h"
#include "ops.h"
#include "optim.h"
#include "pool.h"
#include "vmath.h"

namespace vaekit {
namespace conv {
namespace {

struct Param {
  float *v = nullptr, *m = nullptr, *s = nullptr;
  size_t n = 0;
  std::vector<float> g;
};

struct Work {
  std::vector<Conv> enc, dec;       // dec[j]: the convolution whose backward data is transposed conv j
  std::vector<int64_t> ed, dd;      // dense widths: encoder F → … → 2Z, decoder Z → … → G
  std::vector<Param> p;             // enc conv (W, b)…, enc dense…, dec dense…, dec conv…
  std::vector<std::vector<float>> encY, encH, decH, decY;  // layer outputs (after the activation)
  std::vector<float> F, z, dIn, gA, gB, gC, dz, dE;
};
Work g_w;

void Grow(std::vector<float>& v, size_t n) {
  if (v.size() < n) v.resize(n);
}

// x [B, H, W, C] → out [B, C·H·W] (PyTorch's flatten order; toChw) or back.
void Permute(const float* x, int64_t B, int64_t HW, int64_t C, float* out, bool toChw) {
  ParallelFor((size_t)B, 1, [&](size_t s, size_t e) {
    for (size_t b = s; b < e; b++) {
      const float* xb = x + b * HW * C;
      float* ob = out + b * HW * C;
      for (int64_t p = 0; p < HW; p++)
        for (int64_t c = 0; c < C; c++) {
          if (toChw) ob[c * HW + p] = xb[p * C + c];
          else ob[p * C + c] = xb[c * HW + p];
        }
    }
  }, 1);
}
void ToChw(const float* x, int64_t B, int64_t HW, int64_t C, float* out) { Permute(x, B, HW, C, out, true); }
void ToHwc(const float* x, int64_t B, int64_t HW, int64_t C, float* out) { Permute(x, B, HW, C, out, false); }

// g = h > 0 ? g : 0 (ReLU's gradient, h its output)
void ReluMask(float* g, const float* h, size_t n) {
  ParallelFor(n, 16384, [&](size_t s, size_t e) {
#pragma omp simd
    for (size_t i = s; i < e; i++) g[i] = h[i] > 0.0f ? g[i] : 0.0f;
  });
}

// y[r, c] = act(y[r, c] + bias[c])
void BiasAct(float* y, int64_t rows, int64_t C, const float* bias, bool relu) {
  ParallelFor((size_t)rows, std::max<int64_t>(1, 16384 / C), [&](size_t s, size_t e) {
    for (size_t r = s; r < e; r++) {
      float* p = y + r * C;
#pragma omp simd
      for (int64_t c = 0; c < C; c++) {
        const float v = p[c] + bias[c];
        p[c] = relu ? (v > 0.0f ? v : 0.0f) : v;
      }
    }
  }, 1);
}

// out[c] = Σ_r g[r, c], accumulated in double (one deterministic order whatever the thread count)
void ColSumD(const float* g, int64_t rows, int64_t C, float* out) {
  std::vector<double> acc((size_t)C, 0.0);
  for (int64_t r = 0; r < rows; r++) {
    const float* gr = g + r * C;
    for (int64_t c = 0; c < C; c++) acc[c] += gr[c];
  }
  for (int64_t c = 0; c < C; c++) out[c] = (float)acc[c];
}

// The dense layers p[off …] (widths dims), inputs in[l]: from gA = dLoss/d(pre-activation output of
// the last layer) every kernel and bias gradient and, with dInput, dLoss/d(input); a layer's input
// gradient is masked by ReLU' where that input is a ReLU output (every layer but the first).
void DenseBackward(Work& w, size_t off, const std::vector<int64_t>& dims, const std::vector<const float*>& in,
                   int64_t B, float* dInput) {
  const size_t L = dims.size() - 1;
  for (size_t l = L; l-- > 0;) {
    const int64_t din = dims[l], dout = dims[l + 1];
    Param &W = w.p[off + 2 * l], &b = w.p[off + 2 * l + 1];
    GemmSplit(true, false, din, dout, B, in[l], w.gA.data(), W.g.data(), nullptr, A_LINEAR, 0.0f);
    ColSumD(w.gA.data(), B, dout, b.g.data());
    if (l == 0 && !dInput) break;
    float* prev = l == 0 ? dInput : (Grow(w.gB, (size_t)(B * din)), w.gB.data());
    GemmSplit(false, true, B, din, dout, w.gA.data(), W.v, prev, nullptr, A_LINEAR, 0.0f);
    if (l == 0) break;
    ReluMask(prev, in[l], (size_t)(B * din));
    std::swap(w.gA, w.gB);
  }
}

bool ReadArrays(const Napi::Value& P, const Napi::Value& M, const Napi::Value& S, Work& w, std::string& err) {
  Napi::Array p = P.As<Napi::Array>(), m = M.As<Napi::Array>(), s = S.As<Napi::Array>();
  if (p.Length() != w.p.size() || m.Length() != w.p.size() || s.Length() != w.p.size()) {
    err = "params, m and s need " + std::to_string(w.p.size()) + " arrays each";
    return false;
  }
  for (uint32_t i = 0; i < p.Length(); i++) {
    Param& q = w.p[i];
    if (Len(p.Get(i)) != q.n || Len(m.Get(i)) != q.n || Len(s.Get(i)) != q.n) {
      err = "parameter " + std::to_string(i) + ": " + std::to_string(Len(p.Get(i))) + " values, expected " +
            std::to_string(q.n);
      return false;
    }
    q.v = F32(p.Get(i));
    q.m = F32(m.Get(i));
    q.s = F32(s.Get(i));
    Grow(q.g, q.n);
  }
  return true;
}

// spec: [nEncConv, nEncDense+1, nDecDense+1, nDecConv, encoder widths…, decoder widths…];
// convs: P_COUNT Int32 parameters per convolution (encoder ones, then the decoder's, each the
// convolution whose backward data is that transposed convolution).
bool ReadSpec(const Napi::Value& specV, const Napi::Value& convV, Work& w, int64_t& B, std::string& err) {
  Napi::Int32Array spec = specV.As<Napi::Int32Array>(), cp = convV.As<Napi::Int32Array>();
  const int32_t* sp = spec.Data();
  if (spec.ElementLength() < 4) return err = "spec too short", false;
  const int64_t ne = sp[0], le = sp[1], ld = sp[2], nd = sp[3];
  if (ne < 1 || nd < 1 || le < 2 || ld < 2 || (int64_t)spec.ElementLength() != 4 + le + ld ||
      (int64_t)cp.ElementLength() != (ne + nd) * P_COUNT)
    return err = "malformed spec", false;
  w.ed.assign(sp + 4, sp + 4 + le);
  w.dd.assign(sp + 4 + le, sp + 4 + le + ld);
  w.enc.clear();
  w.dec.clear();
  for (int64_t i = 0; i < ne + nd; i++) {
    const int32_t* q = cp.Data() + i * P_COUNT;
    Conv c{q[P_N], q[P_IH], q[P_IW], q[P_IC], q[P_OH], q[P_OW], q[P_OC], q[P_KH], q[P_KW], q[P_SH], q[P_SW],
           q[P_DH], q[P_DW], q[P_PT], q[P_PB], q[P_PL], q[P_PR], q[P_NCHW] != 0};
    const bool ok = c.n > 0 && c.ih > 0 && c.iw > 0 && c.ic > 0 && c.oh > 0 && c.ow > 0 && c.oc > 0 && c.kh > 0 &&
                    c.kw > 0 && c.sh > 0 && c.sw > 0 && c.dh > 0 && c.dw > 0 && c.pt >= 0 && c.pb >= 0 &&
                    c.pl >= 0 && c.pr >= 0 && !c.nchw;
    if (!ok) return err = "invalid convolution parameters", false;
    (i < ne ? w.enc : w.dec).push_back(c);
  }
  B = w.enc[0].n;
  for (auto* v : {&w.enc, &w.dec})
    for (const Conv& c : *v)
      if (c.n != B) return err = "every convolution needs the same batch", false;
  auto per = [&](size_t n) { return (int64_t)n / B; };
  for (size_t i = 0; i + 1 < w.enc.size(); i++)
    if (per(w.enc[i].ySize()) != per(w.enc[i + 1].xSize())) return err = "encoder convolutions do not chain", false;
  for (size_t j = 0; j + 1 < w.dec.size(); j++)
    if (per(w.dec[j].xSize()) != per(w.dec[j + 1].ySize())) return err = "decoder convolutions do not chain", false;
  const int64_t Z = w.dd.front();
  if (per(w.enc.back().ySize()) != w.ed.front() || w.ed.back() != 2 * Z || per(w.dec.front().ySize()) != w.dd.back() ||
      per(w.dec.back().xSize()) != per(w.enc.front().xSize()))
    return err = "the convolutions, the dense widths and the latent size do not fit together", false;
  // parameter sizes in order
  std::vector<size_t> sizes;
  for (const Conv& c : w.enc) sizes.insert(sizes.end(), {c.wSize(), (size_t)c.oc});
  for (size_t l = 0; l + 1 < w.ed.size(); l++) sizes.insert(sizes.end(), {(size_t)(w.ed[l] * w.ed[l + 1]), (size_t)w.ed[l + 1]});
  for (size_t l = 0; l + 1 < w.dd.size(); l++) sizes.insert(sizes.end(), {(size_t)(w.dd[l] * w.dd[l + 1]), (size_t)w.dd[l + 1]});
  for (const Conv& c : w.dec) sizes.insert(sizes.end(), {c.wSize(), (size_t)c.ic});
  w.p.resize(sizes.size());
  for (size_t i = 0; i < sizes.size(); i++) w.p[i].n = sizes[i];
  return true;
}

// convVaeStep(params[], m[], s[], spec Int32Array, convs Int32Array, x [B, D], eps [B, Z], beta, lr,
//             beta1, beta2, adamEps, t, grads[] | undefined) -> [mean loss, mean rec, mean KL] | null
// grads, when given (one Float32Array per parameter), receives the gradients before the update.
Napi::Value ConvVaeStep(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Work& w = g_w;
  std::string err;
  int64_t B = 0;
  auto isI32 = [](const Napi::Value& v) {
    return v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_int32_array;
  };
  if (info.Length() < 13 || !isI32(info[3]) || !isI32(info[4]) || !info[0].IsArray() || !info[1].IsArray() ||
      !info[2].IsArray())
    return Fail(info, "convVaeStep: bad arguments");
  if (!ReadSpec(info[3], info[4], w, B, err) || !ReadArrays(info[0], info[1], info[2], w, err))
    return Fail(info, "convVaeStep: " + err);
  const int64_t D = (int64_t)w.enc.front().xSize() / B, Z = w.dd.front();
  if ((int64_t)Len(info[5]) != B * D || (int64_t)Len(info[6]) != B * Z) return Fail(info, "convVaeStep: x must be [B, D] and eps [B, Z]");
  float* X = F32(info[5]);
  const float* EPS = F32(info[6]);
  const double beta = info[7].As<Napi::Number>().DoubleValue();
  const size_t ne = w.enc.size(), nd = w.dec.size(), le = w.ed.size() - 1, ld = w.dd.size() - 1;
  const size_t oEncDense = 2 * ne, oDecDense = oEncDense + 2 * le, oDecConv = oDecDense + 2 * ld;

  // ---- forward
  w.encY.resize(ne);
  for (size_t i = 0; i < ne; i++) {
    const Conv& c = w.enc[i];
    Grow(w.encY[i], c.ySize());
    float* in = i == 0 ? X : w.encY[i - 1].data();
    if (!runConv(c, K_FWD, in, w.p[2 * i].v, w.p[2 * i + 1].v, A_RELU, 0.0f, w.encY[i].data())) return env.Null();
  }
  const Conv& cl = w.enc.back();
  Grow(w.F, cl.ySize());
  ToChw(w.encY.back().data(), B, cl.oh * cl.ow, cl.oc, w.F.data());
  w.encH.resize(le);
  for (size_t l = 0; l < le; l++) {
    Grow(w.encH[l], (size_t)(B * w.ed[l + 1]));
    GemmSplit(false, false, B, w.ed[l + 1], w.ed[l], l == 0 ? w.F.data() : w.encH[l - 1].data(), w.p[oEncDense + 2 * l].v,
              w.encH[l].data(), w.p[oEncDense + 2 * l + 1].v, l + 1 < le ? A_RELU : A_LINEAR, 0.0f);
  }
  const float* E = w.encH.back().data();  // [B, 2Z]: μ | log σ²
  Grow(w.z, (size_t)(B * Z));
  for (int64_t r = 0; r < B; r++)
    for (int64_t j = 0; j < Z; j++) {
      const float mu = E[r * 2 * Z + j], lv = E[r * 2 * Z + Z + j];
      w.z[r * Z + j] = mu + VExp(lv * 0.5f) * EPS[r * Z + j];
    }
  w.decH.resize(ld);
  for (size_t l = 0; l < ld; l++) {
    Grow(w.decH[l], (size_t)(B * w.dd[l + 1]));
    GemmSplit(false, false, B, w.dd[l + 1], w.dd[l], l == 0 ? w.z.data() : w.decH[l - 1].data(), w.p[oDecDense + 2 * l].v,
              w.decH[l].data(), w.p[oDecDense + 2 * l + 1].v, A_RELU, 0.0f);
  }
  const Conv& c0 = w.dec.front();
  Grow(w.dIn, c0.ySize());
  ToHwc(w.decH.back().data(), B, c0.oh * c0.ow, c0.oc, w.dIn.data());
  w.decY.resize(nd);
  for (size_t j = 0; j < nd; j++) {
    const Conv& c = w.dec[j];
    Grow(w.decY[j], c.xSize());
    float* in = j == 0 ? w.dIn.data() : w.decY[j - 1].data();
    if (!runConv(c, K_BWD_DATA, w.decY[j].data(), w.p[oDecConv + 2 * j].v, nullptr, A_LINEAR, 0.0f, in)) return env.Null();
    BiasAct(w.decY[j].data(), c.n * c.ih * c.iw, c.ic, w.p[oDecConv + 2 * j + 1].v, j + 1 < nd);
  }
  const float* Lg = w.decY.back().data();  // logits [B, D]

  // ---- the loss and dLoss/dlogits = (sigmoid(l) - x) / B
  size_t widest = 0;
  for (const Conv& c : w.enc) widest = std::max({widest, c.xSize(), c.ySize()});
  for (const Conv& c : w.dec) widest = std::max({widest, c.xSize(), c.ySize()});
  for (auto d : w.ed) widest = std::max(widest, (size_t)(B * d));
  for (auto d : w.dd) widest = std::max(widest, (size_t)(B * d));
  Grow(w.gA, widest);
  Grow(w.gB, widest);
  Grow(w.gC, widest);
  std::vector<double> rec((size_t)B);
  float* G = w.gA.data();
  const float inv = 1.0f / (float)B;
  ParallelFor((size_t)B, 8, [&](size_t s, size_t e) {
    for (size_t r = s; r < e; r++) {
      const float *l = Lg + r * D, *x = X + r * D;
      float* g = G + r * D;
      double acc = 0.0;
#pragma omp simd reduction(+ : acc)
      for (int64_t d = 0; d < D; d++) {
        const float li = l[d], ex = VExp(-std::fabs(li));
        acc += (double)((li > 0.0f ? li : 0.0f) - x[d] * li + VLog1p(ex));
        g[d] = ((li >= 0.0f ? 1.0f : ex) / (1.0f + ex) - x[d]) * inv;
      }
      rec[r] = acc;
    }
  }, 1);
  double recSum = 0.0, klSum = 0.0;
  for (double v : rec) recSum += v;
  for (int64_t r = 0; r < B; r++) {
    double kl = 0.0;
    for (int64_t j = 0; j < Z; j++) {
      const float mu = E[r * 2 * Z + j], lv = E[r * 2 * Z + Z + j];
      kl += 0.5 * ((double)mu * mu + (double)VExp(lv) - 1.0 - lv);
    }
    klSum += kl;
  }
  const double total = (recSum + beta * klSum) / (double)B;
  Napi::Array out = Napi::Array::New(env, 3);
  out.Set(0u, total);
  out.Set(1u, recSum / (double)B);
  out.Set(2u, klSum / (double)B);
  if (!std::isfinite(total)) return out;  // the parameters stay as they were

  // ---- backward: the transposed convolutions, last first (gA: dLoss/d(pre-activation output))
  for (size_t j = nd; j-- > 0;) {
    const Conv& c = w.dec[j];
    Param &W = w.p[oDecConv + 2 * j], &b = w.p[oDecConv + 2 * j + 1];
    float* in = j == 0 ? w.dIn.data() : w.decY[j - 1].data();
    ColSumD(w.gA.data(), c.n * c.ih * c.iw, c.ic, b.g.data());
    if (!runConv(c, K_BWD_FILTER, w.gA.data(), W.g.data(), nullptr, A_LINEAR, 0.0f, in)) return env.Null();
    if (!runConv(c, K_FWD, w.gA.data(), W.v, nullptr, A_LINEAR, 0.0f, w.gB.data())) return env.Null();
    ReluMask(w.gB.data(), in, c.ySize());  // in is a ReLU output: the previous layer's or (j = 0) the dense map's
    std::swap(w.gA, w.gB);
  }
  // to the decoder's dense layers: dLoss/d(last dense output), CHW, already masked
  ToChw(w.gA.data(), B, c0.oh * c0.ow, c0.oc, w.gC.data());
  std::swap(w.gA, w.gC);
  {
    std::vector<const float*> in(ld);
    for (size_t l = 0; l < ld; l++) in[l] = l == 0 ? w.z.data() : w.decH[l - 1].data();
    Grow(w.dz, (size_t)(B * Z));
    DenseBackward(w, oDecDense, w.dd, in, B, w.dz.data());
  }
  Grow(w.dE, (size_t)(B * 2 * Z));
  const float bk = (float)(beta / (double)B);
  for (int64_t r = 0; r < B; r++)
    for (int64_t j = 0; j < Z; j++) {
      const float mu = E[r * 2 * Z + j], lv = E[r * 2 * Z + Z + j], dz = w.dz[r * Z + j];
      const float sd = VExp(lv * 0.5f);
      w.dE[r * 2 * Z + j] = dz + bk * mu;
      w.dE[r * 2 * Z + Z + j] = dz * EPS[r * Z + j] * 0.5f * sd + bk * 0.5f * (VExp(lv) - 1.0f);
    }
  std::memcpy(w.gA.data(), w.dE.data(), sizeof(float) * (size_t)(B * 2 * Z));
  {
    std::vector<const float*> in(le);
    for (size_t l = 0; l < le; l++) in[l] = l == 0 ? w.F.data() : w.encH[l - 1].data();
    DenseBackward(w, oEncDense, w.ed, in, B, w.gC.data());
  }
  // dLoss/dF (CHW) → HWC, masked by the last convolution's ReLU
  ToHwc(w.gC.data(), B, cl.oh * cl.ow, cl.oc, w.gA.data());
  ReluMask(w.gA.data(), w.encY.back().data(), cl.ySize());
  for (size_t i = ne; i-- > 0;) {
    const Conv& c = w.enc[i];
    Param &W = w.p[2 * i], &b = w.p[2 * i + 1];
    float* in = i == 0 ? X : w.encY[i - 1].data();
    ColSumD(w.gA.data(), c.n * c.oh * c.ow, c.oc, b.g.data());
    if (!runConv(c, K_BWD_FILTER, in, W.g.data(), nullptr, A_LINEAR, 0.0f, w.gA.data())) return env.Null();
    if (i == 0) break;
    if (!runConv(c, K_BWD_DATA, w.gB.data(), W.v, nullptr, A_LINEAR, 0.0f, w.gA.data())) return env.Null();
    ReluMask(w.gB.data(), in, c.xSize());
    std::swap(w.gA, w.gB);
  }

  if (info.Length() > 13 && info[13].IsArray()) {
    Napi::Array g = info[13].As<Napi::Array>();
    if (g.Length() != w.p.size()) return Fail(info, "convVaeStep: grads needs one array per parameter");
    for (uint32_t i = 0; i < g.Length(); i++) {
      if (Len(g.Get(i)) != w.p[i].n) return Fail(info, "convVaeStep: a grads array has the wrong size");
      std::memcpy(F32(g.Get(i)), w.p[i].g.data(), sizeof(float) * w.p[i].n);
    }
  }
  // ---- Adam
  const double lr = info[8].As<Napi::Number>().DoubleValue();
  const double b1 = info[9].As<Napi::Number>().DoubleValue(), b2 = info[10].As<Napi::Number>().DoubleValue();
  const float aeps = info[11].As<Napi::Number>().FloatValue();
  const double t = info[12].As<Napi::Number>().DoubleValue();
  for (Param& q : w.p) AdamUpdate(q.v, q.g.data(), q.m, q.s, q.n, lr, b1, b2, aeps, t);
  return out;
}

VK_EXPORT("convVaeStep", ConvVaeStep)

}  // namespace
}  // namespace conv
}  // namespace vaekit
