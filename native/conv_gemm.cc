// vaekit native: the im2col / col2im + GEMM path of the convolutions (NHWC, any padding and
// dilation): the fallback when oneDNN is unavailable or rejects a case, and sometimes the faster one
// (e.g. the backward data of a convolution with 1 input channel, which oneDNN runs through a slow
// gemm path). Its loops run on the addon's pool, its GEMMs are the addon's (gemm.cc).
#include <dnnl.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "conv.h"
#include "gemm.h"
#include "pool.h"
#include "signals.h"
#include "vmath.h"

namespace vaekit {
namespace conv {

Blas g_blas = B_CORE;

namespace {

// Row-major C[M,N] = op(A)[M,K] · op(B)[K,N] + beta·C, dense operands.
void sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* A, const float* B, float beta, float* C) {
  const AsyncSignalsBlocked noSignals;  // oneDNN's jit kernels move rsp onto the heap (signals.h)
  if (g_blas == B_DNNL && dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, 1.f, A, ta ? M : K, B, tb ? K : N, beta, C,
                                     N) == dnnl_success)
    return;
  GemmSplit(ta, tb, M, N, K, A, B, C, nullptr, A_LINEAR, 0.f, beta);
}

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
  ParallelFor((size_t)rows, std::max<size_t>(1, 16384 / (size_t)std::max<int64_t>(1, c.ow * K)), [&](size_t rs, size_t re) {
  for (int64_t r = (int64_t)rs; r < (int64_t)re; r++) {
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
  }, 1);
}

// dx[n0 .. n0+nb) += col2im(col); dx must be zeroed by the caller.
void col2im(const Conv& c, const float* col, int64_t n0, int64_t nb, float* dx) {
  const int64_t K = c.kh * c.kw * c.ic;
  ParallelFor((size_t)nb, 1, [&](size_t is, size_t ie) {
  for (int64_t i = (int64_t)is; i < (int64_t)ie; i++) {
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
  }, 1);
}

void biasActivation(float* y, size_t rows, int64_t oc, const float* bias, int act, float alpha) {
  if (!bias && act == A_LINEAR) return;
  ParallelFor(
      rows, std::max<size_t>(1, 16384 / (size_t)oc),
      [&](size_t s, size_t e) {
        for (size_t r = s; r < e; r++) {
          float* p = y + r * oc;
          if (bias)
            for (int64_t j = 0; j < oc; j++) p[j] += bias[j];
          if (act != A_LINEAR)
            for (int64_t j = 0; j < oc; j++) p[j] = Activate(p[j], act, alpha);
        }
      },
      1);
}

}  // namespace

bool gemmSupported(const Conv& c) { return !c.nchw; }

void gemmForward(const Conv& c, const float* x, const float* w, const float* bias, int act, float alpha, float* y) {
  const int64_t K = c.kh * c.kw * c.ic;
  if (isPointwise(c)) {
    sgemm(false, false, c.n * c.oh * c.ow, c.oc, K, x, w, 0.f, y);
  } else {
    const int64_t chunk = imagesPerChunk(c);
    std::vector<float>& col = scratch();
    col.resize((size_t)(chunk * c.oh * c.ow * K));
    for (int64_t n0 = 0; n0 < c.n; n0 += chunk) {
      const int64_t nb = std::min(chunk, c.n - n0);
      im2col(c, x, n0, nb, col.data());
      const int64_t rows = nb * c.oh * c.ow;
      sgemm(false, false, rows, c.oc, K, col.data(), w, 0.f, y + (size_t)n0 * c.oh * c.ow * c.oc);
    }
  }
  biasActivation(y, (size_t)(c.n * c.oh * c.ow), c.oc, bias, act, alpha);
}

void gemmBackwardData(const Conv& c, const float* dy, const float* w, float* dx) {
  const int64_t K = c.kh * c.kw * c.ic;
  if (isPointwise(c)) {
    sgemm(false, true, c.n * c.oh * c.ow, K, c.oc, dy, w, 0.f, dx);
    return;
  }
  std::memset(dx, 0, sizeof(float) * c.xSize());
  const int64_t chunk = imagesPerChunk(c);
  std::vector<float>& col = scratch();
  col.resize((size_t)(chunk * c.oh * c.ow * K));
  for (int64_t n0 = 0; n0 < c.n; n0 += chunk) {
    const int64_t nb = std::min(chunk, c.n - n0);
    const int64_t rows = nb * c.oh * c.ow;
    sgemm(false, true, rows, K, c.oc, dy + (size_t)n0 * c.oh * c.ow * c.oc, w, 0.f, col.data());
    col2im(c, col.data(), n0, nb, dx);
  }
}

void gemmBackwardFilter(const Conv& c, const float* x, const float* dy, float* dw) {
  const int64_t K = c.kh * c.kw * c.ic;
  if (isPointwise(c)) {
    sgemm(true, false, K, c.oc, c.n * c.oh * c.ow, x, dy, 0.f, dw);
    return;
  }
  const int64_t chunk = imagesPerChunk(c);
  std::vector<float>& col = scratch();
  col.resize((size_t)(chunk * c.oh * c.ow * K));
  for (int64_t n0 = 0; n0 < c.n; n0 += chunk) {
    const int64_t nb = std::min(chunk, c.n - n0);
    im2col(c, x, n0, nb, col.data());
    const int64_t rows = nb * c.oh * c.ow;
    sgemm(true, false, K, c.oc, rows, col.data(), dy + (size_t)n0 * c.oh * c.ow * c.oc, n0 == 0 ? 0.f : 1.f, dw);
  }
}

}  // namespace conv
}  // namespace vaekit
