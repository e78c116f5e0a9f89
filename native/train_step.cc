// vaekit native: the dense VAE fused. denseVaeStep: one whole training step in one call
// (src/train/fused-step.ts); denseVaeLogWeights: the importance weights of its k-sample NLL (below). The
// canonical mlp model of docs/PROTOCOL.md and any other widths:
//   encoder  h = relu(h W + b) ... → [μ | log σ²] (linear)      decoder  relu ... → logits (linear)
//   z = μ + exp(½ log σ²) ⊙ ε                                   (ε drawn by the caller, from its Rng)
//   loss = mean_b [ Σ_d BCE(logits, x) + β · KL(N(μ, σ²) ‖ N(0, I)) ]
// forward, backward (the same products and elementwise terms as the tfjs graph: GEMMs split across
// the pool, bias + ReLU fused into the GEMM epilogue, ReLU's gradient where h > 0) and one Adam update
// of every parameter (torch.optim.Adam's arithmetic, optim.cc), made inside the backward pass: each
// block of a weight gradient is applied by the thread that computed it, while it is in cache. Nothing
// is allocated per step but the first (a workspace kept for the next). A non-finite loss leaves the
// parameters untouched (the trainer then stops, as on the tfjs path).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "gemm.h"
#include "napi_util.h"
#include "ops.h"
#include "optim.h"
#include "pool.h"
#include "vmath.h"

namespace vaekit {
namespace {

struct Net {
  std::vector<int64_t> dims;             // d0 → d1 → … → dL
  std::vector<float*> W, b, mW, sW, mb, sb;  // per layer: kernel [d_l, d_l+1], bias, Adam moments
  std::vector<std::vector<float>> h;     // h[0] = input (not owned: see in), h[l] = layer l's output
  std::vector<std::vector<float>> gW, gb;
  const float* in = nullptr;
  const float* act(size_t l) const { return l == 0 ? in : h[l].data(); }
};

struct Workspace {
  Net enc, dec;
  std::vector<float> z, gA, gB, dz, dE;
};
Workspace g_ws;

// Grows v to at least n values (buffers change roles between steps: never shrink, never reallocate twice).
void Resize(std::vector<float>& v, size_t n) {
  if (v.size() < n) v.resize(n);
}

void Forward(Net& n, int64_t B) {
  const size_t L = n.dims.size() - 1;
  n.h.resize(L + 1);
  for (size_t l = 0; l < L; l++) {
    Resize(n.h[l + 1], (size_t)(B * n.dims[l + 1]));
    GemmSplit(false, false, B, n.dims[l + 1], n.dims[l], n.act(l), n.W[l], n.h[l + 1].data(), n.b[l],
              l + 1 < L ? A_RELU : A_LINEAR, 0.0f);
  }
}

// gb[j] = Σ_r g[r, j]
void ColSum(const float* __restrict g, int64_t rows, int64_t cols, float* __restrict out) {
  std::memset(out, 0, sizeof(float) * cols);
  for (int64_t r = 0; r < rows; r++) {
    const float* gr = g + r * cols;
#pragma omp simd
    for (int64_t j = 0; j < cols; j++) out[j] += gr[j];
  }
}

// The Adam update of one block [r0, r1) x [c0, c1) of a row-major [rows, cols] parameter from its gradient
// (row segments, so that a column block of a weight-gradient chunk is updated where it was written).
void AdamBlock(float* V, const float* G, float* Mm, float* S, int64_t cols, int64_t r0, int64_t r1, int64_t c0,
               int64_t c1, const AdamScalars& a) {
  if (c0 == 0 && c1 == cols) {
    const size_t o = (size_t)(r0 * cols);
    AdamSpan(V + o, G + o, Mm + o, S + o, (size_t)((r1 - r0) * cols), a);
    return;
  }
  for (int64_t r = r0; r < r1; r++) {
    const size_t o = (size_t)(r * cols + c0);
    AdamSpan(V + o, G + o, Mm + o, S + o, (size_t)(c1 - c0), a);
  }
}

// From g = dLoss/d(output) [B, dL] (in ws.gA): every layer's kernel and bias gradients, and, with
// dInput, dLoss/d(input) [B, d0] into dInput. With `adam`, each layer's parameters are updated as soon
// as their gradients exist (after the data gradient, which reads the kernel): every block of the
// weight-gradient GEMM on the thread that wrote it, the bias after its column sums. The same values,
// element by element, as the separate pass (AdamAll): Adam is elementwise.
void Backward(Net& n, int64_t B, std::vector<float>& gA, std::vector<float>& gB, float* dInput,
              const AdamScalars* adam) {
  const size_t L = n.dims.size() - 1;
  n.gW.resize(L);
  n.gb.resize(L);
  for (size_t l = L; l-- > 0;) {
    const int64_t din = n.dims[l], dout = n.dims[l + 1];
    Resize(n.gW[l], (size_t)(din * dout));
    Resize(n.gb[l], (size_t)dout);
    float* prev = nullptr;
    if (l > 0 || dInput) {
      prev = l == 0 ? dInput : (Resize(gB, (size_t)(B * din)), gB.data());
      GemmSplit(false, true, B, din, dout, gA.data(), n.W[l], prev, nullptr, A_LINEAR, 0.0f);
    }
    float* gW = n.gW[l].data();
    if (adam) {
      GemmSplitThen(true, false, din, dout, B, n.act(l), gA.data(), gW,
                    [&](int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
                      AdamBlock(n.W[l], gW, n.mW[l], n.sW[l], dout, r0, r1, c0, c1, *adam);
                    });
    } else {
      GemmSplit(true, false, din, dout, B, n.act(l), gA.data(), gW, nullptr, A_LINEAR, 0.0f);
    }
    ColSum(gA.data(), B, dout, n.gb[l].data());
    if (adam) AdamSpan(n.b[l], n.gb[l].data(), n.mb[l], n.sb[l], (size_t)dout, *adam);
    if (l == 0) break;
    const float* h = n.h[l].data();  // ReLU': 1 where h = relu(a) > 0
    ParallelFor((size_t)(B * din), 16384, [&](size_t s, size_t e) {
#pragma omp simd
      for (size_t i = s; i < e; i++) prev[i] = h[i] > 0.0f ? prev[i] : 0.0f;
    });
    std::swap(gA, gB);
  }
}

void AdamAll(Net& n, double lr, double b1, double b2, float eps, double t) {
  for (size_t l = 0; l + 1 < n.dims.size(); l++) {
    const size_t nw = (size_t)(n.dims[l] * n.dims[l + 1]), nb = (size_t)n.dims[l + 1];
    AdamUpdate(n.W[l], n.gW[l].data(), n.mW[l], n.sW[l], nw, lr, b1, b2, eps, t);
    AdamUpdate(n.b[l], n.gb[l].data(), n.mb[l], n.sb[l], nb, lr, b1, b2, eps, t);
  }
}

// Reads one network's arrays: params [W0, b0, W1, b1, ...], m and s alike, dims [d0, ..., dL].
bool ReadNet(const Napi::Value& params, const Napi::Value& m, const Napi::Value& s, const Napi::Value& dimsV, Net& n,
             std::string& err) {
  n.dims = Shape(dimsV);
  const size_t L = n.dims.size() - 1;
  Napi::Array P = params.As<Napi::Array>(), M = m.As<Napi::Array>(), S = s.As<Napi::Array>();
  if (n.dims.size() < 2 || P.Length() != 2 * L || M.Length() != 2 * L || S.Length() != 2 * L) {
    err = "a network needs 2 arrays (kernel, bias) per layer in params, m and s";
    return false;
  }
  for (auto* v : {&n.W, &n.b, &n.mW, &n.sW, &n.mb, &n.sb}) v->assign(L, nullptr);
  for (size_t l = 0; l < L; l++) {
    const size_t nw = (size_t)(n.dims[l] * n.dims[l + 1]), nb = (size_t)n.dims[l + 1];
    for (uint32_t k = 0; k < 2; k++) {
      const uint32_t i = (uint32_t)(2 * l + k);
      const size_t want = k ? nb : nw;
      if (Len(P.Get(i)) != want || Len(M.Get(i)) != want || Len(S.Get(i)) != want) {
        err = "layer " + std::to_string(l) + ": kernel/bias/moment sizes do not match the dims";
        return false;
      }
      (k ? n.b : n.W)[l] = F32(P.Get(i));
      (k ? n.mb : n.mW)[l] = F32(M.Get(i));
      (k ? n.sb : n.sW)[l] = F32(S.Get(i));
    }
  }
  return true;
}

// denseVaeStep(encParams, encM, encS, encDims, decParams, decM, decS, decDims, x[B, D], eps[B, Z], B,
//              beta, lr, beta1, beta2, adamEps, t, fuseAdam = true) -> [mean loss, mean rec, mean KL]
Napi::Value DenseVaeStep(const Napi::CallbackInfo& info) {
  Workspace& ws = g_ws;
  std::string err;
  if (!ReadNet(info[0], info[1], info[2], info[3], ws.enc, err) ||
      !ReadNet(info[4], info[5], info[6], info[7], ws.dec, err))
    return Fail(info, "denseVaeStep: " + err);
  const float* X = F32(info[8]);
  const float* EPS = F32(info[9]);
  const int64_t B = info[10].As<Napi::Number>().Int64Value();
  const double beta = info[11].As<Napi::Number>().DoubleValue();
  const int64_t D = ws.enc.dims.front(), Z = ws.dec.dims.front();
  if (ws.enc.dims.back() != 2 * Z || ws.dec.dims.back() != D)
    return Fail(info, "denseVaeStep: the encoder must end in 2 x the decoder's input, the decoder in the input size");
  if ((int64_t)Len(info[8]) != B * D || (int64_t)Len(info[9]) != B * Z || B < 1)
    return Fail(info, "denseVaeStep: x must be [B, D] and eps [B, Z]");

  // forward
  ws.enc.in = X;
  Forward(ws.enc, B);
  const float* E = ws.enc.h.back().data();  // [B, 2Z]: μ | log σ²
  Resize(ws.z, (size_t)(B * Z));
  for (int64_t r = 0; r < B; r++)
    for (int64_t j = 0; j < Z; j++) {
      const float mu = E[r * 2 * Z + j], lv = E[r * 2 * Z + Z + j];
      ws.z[r * Z + j] = mu + VExp(lv * 0.5f) * EPS[r * Z + j];
    }
  ws.dec.in = ws.z.data();
  Forward(ws.dec, B);
  const float* Lg = ws.dec.h.back().data();  // logits [B, D]

  // the loss and dLoss/dlogits = (sigmoid(l) - x) / B, row by row
  std::vector<double> rec((size_t)B);
  Resize(ws.gA, (size_t)(B * D));
  float* G = ws.gA.data();
  const float inv = 1.0f / (float)B;
  ParallelFor(
      (size_t)B, 8,
      [&](size_t s, size_t e) {
        for (size_t r = s; r < e; r++) {
          const float* l = Lg + r * D;
          const float* x = X + r * D;
          float* g = G + r * D;
          double acc = 0.0;
#pragma omp simd reduction(+ : acc)
          for (int64_t d = 0; d < D; d++) {
            // one exp per logit: e = exp(-|l|) gives log1p(e) and sigmoid(l) = (l >= 0 ? 1 : e) / (1 + e)
            const float li = l[d], e = VExp(-std::fabs(li));
            acc += (double)((li > 0.0f ? li : 0.0f) - x[d] * li + VLog1p(e));
            g[d] = ((li >= 0.0f ? 1.0f : e) / (1.0f + e) - x[d]) * inv;
          }
          rec[r] = acc;
        }
      },
      1);
  double recSum = 0.0, klSum = 0.0;
  for (double v : rec) recSum += v;
  // KL = ½ Σ (μ² + σ² − 1 − log σ²); its gradient, β/B-weighted, enters dE beside the decoder's dz
  Resize(ws.dE, (size_t)(B * 2 * Z));
  Resize(ws.dz, (size_t)(B * Z));
  for (int64_t r = 0; r < B; r++) {
    double kl = 0.0;
    for (int64_t j = 0; j < Z; j++) {
      const float mu = E[r * 2 * Z + j], lv = E[r * 2 * Z + Z + j];
      kl += 0.5 * ((double)mu * mu + (double)VExp(lv) - 1.0 - lv);
    }
    klSum += kl;
  }
  const double total = (recSum + beta * klSum) / (double)B;
  Napi::Array out = Napi::Array::New(info.Env(), 3);
  out.Set(0u, total);
  out.Set(1u, recSum / (double)B);
  out.Set(2u, klSum / (double)B);
  if (!std::isfinite(total)) return out;  // the parameters stay as they were

  // backward, and Adam: fused into the backward pass (each layer's update where its gradients are made),
  // or with fuseAdam false a separate pass after it (the same values: test/native-dense-vae.test.ts)
  const double lr = info[12].As<Napi::Number>().DoubleValue();
  const double b1 = info[13].As<Napi::Number>().DoubleValue(), b2 = info[14].As<Napi::Number>().DoubleValue();
  const float aeps = info[15].As<Napi::Number>().FloatValue();
  const double t = info[16].As<Napi::Number>().DoubleValue();
  const bool fuseAdam = info.Length() <= 17 || info[17].IsUndefined() || info[17].ToBoolean();
  const AdamScalars adam = AdamFor(lr, b1, b2, aeps, t);
  const AdamScalars* inline_ = fuseAdam ? &adam : nullptr;
  Backward(ws.dec, B, ws.gA, ws.gB, ws.dz.data(), inline_);
  const float bk = (float)(beta / (double)B);
  for (int64_t r = 0; r < B; r++)
    for (int64_t j = 0; j < Z; j++) {
      const float mu = E[r * 2 * Z + j], lv = E[r * 2 * Z + Z + j], dz = ws.dz[r * Z + j];
      const float sd = VExp(lv * 0.5f);
      ws.dE[r * 2 * Z + j] = dz + bk * mu;
      ws.dE[r * 2 * Z + Z + j] = dz * EPS[r * Z + j] * 0.5f * sd + bk * 0.5f * (VExp(lv) - 1.0f);
    }
  ws.gA.swap(ws.dE);
  Backward(ws.enc, B, ws.gA, ws.gB, nullptr, inline_);
  if (!fuseAdam) {
    AdamAll(ws.enc, lr, b1, b2, aeps, t);
    AdamAll(ws.dec, lr, b1, b2, aeps, t);
  }
  return out;
}

// denseVaeLogWeights(decParams, decDims, mu[B, Z], logVar[B, Z], eps[k·B, Z], x[B, D], k, B, out[k·B]):
// the importance weights of the k-sample NLL (src/eval/likelihood.ts), sample-major (row i·B + b is
// sample i of example b, as iwae.ts tiles them): z = μ + σ ⊙ ε,
//   log w = log p(x|z) + log p(z) − log q(z|x),  log q(z|x) = −½ Σ_j (log 2π + log σ²_j + ε_j²).
// Blocks of rows run on the pool, each decoding its block on one thread (single-threaded GEMMs, the
// logits still in cache for the Bernoulli log-likelihood against x itself: x is never tiled).
Napi::Value DenseVaeLogWeights(const Napi::CallbackInfo& info) {
  Net dec;
  dec.dims = Shape(info[1]);
  const size_t L = dec.dims.size() - 1;
  Napi::Array P = info[0].As<Napi::Array>();
  if (dec.dims.size() < 2 || P.Length() != 2 * L) return Fail(info, "denseVaeLogWeights: 2 arrays per layer");
  for (size_t l = 0; l < L; l++) {
    if ((int64_t)Len(P.Get((uint32_t)(2 * l))) != dec.dims[l] * dec.dims[l + 1] ||
        (int64_t)Len(P.Get((uint32_t)(2 * l + 1))) != dec.dims[l + 1])
      return Fail(info, "denseVaeLogWeights: kernel/bias sizes do not match the dims");
    dec.W.push_back(F32(P.Get((uint32_t)(2 * l))));
    dec.b.push_back(F32(P.Get((uint32_t)(2 * l + 1))));
  }
  const float* MU = F32(info[2]);
  const float* LV = F32(info[3]);
  const float* EPS = F32(info[4]);
  const float* X = F32(info[5]);
  const int64_t k = info[6].As<Napi::Number>().Int64Value(), B = info[7].As<Napi::Number>().Int64Value();
  float* O = F32(info[8]);
  const int64_t Z = dec.dims.front(), D = dec.dims.back(), R = k * B;
  if ((int64_t)Len(info[2]) != B * Z || (int64_t)Len(info[3]) != B * Z || (int64_t)Len(info[4]) != R * Z ||
      (int64_t)Len(info[5]) != B * D || (int64_t)Len(info[8]) != R || k < 1 || B < 1)
    return Fail(info, "denseVaeLogWeights: mu, logVar [B, Z], eps [k·B, Z], x [B, D], out [k·B]");
  int64_t widest = 0;
  for (auto d : dec.dims) widest = std::max(widest, d);
  const int64_t rows = 512;
  RunChunks((R + rows - 1) / rows, [&](int64_t c) {
    thread_local std::vector<float> bufA, bufB;
    const int64_t r0 = c * rows, n = std::min(rows, R - r0);
    Resize(bufA, (size_t)(rows * widest));
    Resize(bufB, (size_t)(rows * widest));
    float *cur = bufA.data(), *nxt = bufB.data();
    double lpq[rows];  // log p(z) − log q(z|x) per row
    for (int64_t i = 0; i < n; i++) {
      const int64_t r = r0 + i, b = r % B;
      double acc = 0.0;
      for (int64_t j = 0; j < Z; j++) {
        const float mu = MU[b * Z + j], lv = LV[b * Z + j], e = EPS[r * Z + j];
        const float z = mu + VExp(lv * 0.5f) * e;
        cur[i * Z + j] = z;
        acc += -0.5 * ((double)z * z) + 0.5 * ((double)lv + (double)e * e);  // the log 2π terms cancel
      }
      lpq[i] = acc;
    }
    for (size_t l = 0; l < L; l++) {
      GemmSerial(false, false, n, dec.dims[l + 1], dec.dims[l], cur, dec.W[l], nxt, dec.b[l],
                 l + 1 < L ? A_RELU : A_LINEAR);
      std::swap(cur, nxt);
    }
    for (int64_t i = 0; i < n; i++) {
      const float* lg = cur + i * D;
      const float* x = X + ((r0 + i) % B) * D;
      // −log p(x|z) = Σ_d [max(l, 0) − x l] + Σ_d log(1 + e^−|l|), the second as one log per block of 64
      // logits: log Π (1 + e^−|l|), each factor in (1, 2] (no overflow; as accurate as 64 float log1p's)
      double acc = 0.0;
      for (int64_t d0 = 0; d0 < D; d0 += 64) {
        const int64_t d1 = std::min(D, d0 + 64);
        double lin = 0.0;
        float prod = 1.0f;
#pragma omp simd reduction(+ : lin) reduction(* : prod)
        for (int64_t d = d0; d < d1; d++) {
          const float li = lg[d];
          lin += (double)((li > 0.0f ? li : 0.0f) - x[d] * li);
          prod *= 1.0f + VExp(-std::fabs(li));
        }
        acc += lin + std::log((double)prod);
      }
      O[r0 + i] = (float)(lpq[i] - acc);
    }
  });
  return info.Env().Undefined();
}

VK_EXPORT("denseVaeStep", DenseVaeStep)
VK_EXPORT("denseVaeLogWeights", DenseVaeLogWeights)

}  // namespace
}  // namespace vaekit
