// vaekit native: AddN, transpose, slice, pad, softmax, concat and tile. Data movement works on any
// element size where tfjs may hand int32 or bool tensors (transpose: 4-byte elements).
#include "napi_util.h"
#include "ops.h"
#include "pool.h"
#include "vmath.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace vaekit {
namespace {

// ------------------------------------------------------------------------------------------------
// AddN, transpose, slice

__attribute__((noinline)) void AddTwo(const float* __restrict a, const float* __restrict b, float* __restrict o, size_t n) {
#pragma omp simd
  for (size_t i = 0; i < n; i++) o[i] = a[i] + b[i];
}
__attribute__((noinline)) void AddInto(const float* __restrict a, float* __restrict o, size_t n) {
#pragma omp simd
  for (size_t i = 0; i < n; i++) o[i] += a[i];
}

// Element strides of a row-major array of dims `shape`.
std::vector<int64_t> RowStrides(const std::vector<int64_t>& shape) {
  std::vector<int64_t> str(shape.size());
  int64_t acc = 1;
  for (size_t d = shape.size(); d-- > 0;) {
    str[d] = acc;
    acc *= shape[d];
  }
  return str;
}

// One step of an odometer over dims [0, k) of `dims` (the last fastest): index idx, element offset off
// with strides str.
inline void Advance(std::vector<int64_t>& idx, int64_t k, const std::vector<int64_t>& dims,
                    const std::vector<int64_t>& str, int64_t& off) {
  for (int64_t d = k - 1; d >= 0; d--) {
    idx[d]++;
    off += str[d];
    if (idx[d] < dims[d]) break;
    off -= str[d] * dims[d];
    idx[d] = 0;
  }
}

// slice's and pad's shapes: info[1] (x's shape), info[2] (a box's corner), info[3] (its size / the out shape)
struct Box {
  std::vector<int64_t> shape, corner, dims;
};
Box BoxArgs(const Napi::CallbackInfo& info) { return {Shape(info[1]), Shape(info[2]), Shape(info[3])}; }

// A typed array's first byte.
uint8_t* Bytes(const Napi::TypedArray& t) { return static_cast<uint8_t*>(t.ArrayBuffer().Data()) + t.ByteOffset(); }

// A copy of rank R with nothing to loop over: no elements, or a scalar (copied); true when done.
bool NoneOrScalar(int64_t total, size_t R, const uint8_t* X, uint8_t* O, size_t es) {
  if (R == 0 && total > 0) std::memcpy(O, X, es);
  return total == 0 || R == 0;
}

// transpose's and tile's arguments: (x, x's shape, perm / reps, out)
struct Move {
  Napi::TypedArray x;
  std::vector<int64_t> shape, how;
  Napi::TypedArray out;
};
Move MoveArgs(const Napi::CallbackInfo& info) {
  return {info[0].As<Napi::TypedArray>(), Shape(info[1]), Shape(info[2]), info[3].As<Napi::TypedArray>()};
}

// addN([arrays], out)
Napi::Value AddN(const Napi::CallbackInfo& info) {
  Napi::Array arr = info[0].As<Napi::Array>();
  Napi::Float32Array o = info[1].As<Napi::Float32Array>();
  uint32_t k = arr.Length();
  size_t n = o.ElementLength();
  std::vector<const float*> ps(k);
  for (uint32_t i = 0; i < k; i++) {
    Napi::Float32Array t = arr.Get(i).As<Napi::Float32Array>();
    if (t.ElementLength() != n) return Fail(info, "addN: length mismatch");
    ps[i] = t.Data();
  }
  float* O = o.Data();
  ParallelFor(n, 32768, [&](size_t s, size_t e) {
    if (k == 0) {
      std::memset(O + s, 0, (e - s) * sizeof(float));
      return;
    }
    if (k == 1) {
      std::memcpy(O + s, ps[0] + s, (e - s) * sizeof(float));
      return;
    }
    AddTwo(ps[0] + s, ps[1] + s, O + s, e - s);
    for (uint32_t j = 2; j < k; j++) AddInto(ps[j] + s, O + s, e - s);
  });
  return info.Env().Undefined();
}

// transpose(x, shape, perm, out); element size 4 (float32/int32 viewed as bits)
Napi::Value Transpose(const Napi::CallbackInfo& info) {
  const auto [xt, shape, perm, ot] = MoveArgs(info);
  if (xt.ElementSize() != 4 || ot.ElementSize() != 4) return Fail(info, "transpose: 4-byte elements only");
  const uint32_t* X = reinterpret_cast<const uint32_t*>(Bytes(xt));
  uint32_t* O = reinterpret_cast<uint32_t*>(Bytes(ot));
  size_t R = shape.size();
  if (perm.size() != R || (int64_t)xt.ElementLength() != SizeOf(shape) || ot.ElementLength() != xt.ElementLength())
    return Fail(info, "transpose: bad arguments");
  int64_t total = SizeOf(shape);
  if (total == 0) return info.Env().Undefined();
  const std::vector<int64_t> istr = RowStrides(shape);
  // output dims with input strides, dropping size-1 dims and merging runs
  std::vector<int64_t> od, os;
  for (size_t i = 0; i < R; i++) {
    int64_t p = perm[i];
    if (p < 0 || p >= (int64_t)R) return Fail(info, "transpose: bad perm");
    if (shape[p] == 1) continue;
    if (!od.empty() && os.back() == istr[p] * shape[p]) {
      od.back() *= shape[p];
      os.back() = istr[p];
    } else {
      od.push_back(shape[p]);
      os.push_back(istr[p]);
    }
  }
  size_t nd = od.size();
  if (nd == 0 || (nd == 1 && os[0] == 1)) {
    std::memcpy(O, X, total * 4);
    return info.Env().Undefined();
  }
  if (nd == 2 && os[1] != 1 && os[0] == 1) {
    // 2D transpose: out[i,j] = x[j,i]; x is [C=od[1], Rr=od[0]]
    int64_t Rr = od[0], C = od[1];
    const int64_t BS = 32;
    ParallelFor(
        (size_t)((Rr + BS - 1) / BS), std::max<size_t>(1, 65536 / (size_t)(BS * C)),
        [&](size_t s, size_t e) {
          for (int64_t i0 = s * BS; i0 < std::min<int64_t>(Rr, e * BS); i0 += BS)
            for (int64_t j0 = 0; j0 < C; j0 += BS)
              for (int64_t i = i0; i < std::min(Rr, i0 + BS); i++)
                for (int64_t j = j0; j < std::min(C, j0 + BS); j++) O[i * C + j] = X[j * Rr + i];
        },
        1);
    return info.Env().Undefined();
  }
  const int64_t inner = od[nd - 1], ist = os[nd - 1];
  const int64_t outer = total / inner;
  ParallelFor(
      (size_t)outer, std::max<size_t>(1, 32768 / (size_t)inner),
      [&](size_t s, size_t e) {
        std::vector<int64_t> idx(nd, 0);
        int64_t rem = (int64_t)s, off = 0;
        for (int64_t d = (int64_t)nd - 2; d >= 0; d--) {
          idx[d] = rem % od[d];
          rem /= od[d];
          off += idx[d] * os[d];
        }
        for (size_t r = s; r < e; r++) {
          uint32_t* dst = O + r * inner;
          const uint32_t* src = X + off;
          for (int64_t j = 0; j < inner; j++) dst[j] = src[j * ist];
          Advance(idx, (int64_t)nd - 1, od, os, off);
        }
      },
      1);
  return info.Env().Undefined();
}

// slice(x, shape, begin, size, out): strided copy of a box; any typed array element size.
Napi::Value Slice(const Napi::CallbackInfo& info) {
  Napi::TypedArray xt = info[0].As<Napi::TypedArray>(), ot = info[4].As<Napi::TypedArray>();
  const auto [shape, begin, size] = BoxArgs(info);
  size_t es = xt.ElementSize();
  size_t R = shape.size();
  if (ot.ElementSize() != es || begin.size() != R || size.size() != R ||
      (int64_t)xt.ElementLength() != SizeOf(shape) || (int64_t)ot.ElementLength() != SizeOf(size))
    return Fail(info, "slice: bad arguments");
  for (size_t d = 0; d < R; d++)
    if (begin[d] < 0 || size[d] < 0 || begin[d] + size[d] > shape[d]) return Fail(info, "slice: out of range");
  const int64_t total = SizeOf(size);
  const uint8_t* X = Bytes(xt);
  uint8_t* O = Bytes(ot);
  if (NoneOrScalar(total, R, X, O, es)) return info.Env().Undefined();
  const std::vector<int64_t> istr = RowStrides(shape);
  // innermost contiguous run: trailing dims fully taken merge into the run
  int64_t run = 1;
  int64_t k = (int64_t)R - 1;
  while (k >= 0) {
    run *= size[k];
    if (size[k] != shape[k]) break;
    k--;
  }
  // dims [0, k) iterate; dim k (if >= 0) is folded into the run
  int64_t start = 0;
  for (size_t d = 0; d < R; d++) start += begin[d] * istr[d];
  int64_t outer = total / run;
  std::vector<int64_t> idx(std::max<int64_t>(k, 0), 0);
  int64_t off = start;
  for (int64_t r = 0; r < outer; r++) {
    std::memcpy(O + r * run * es, X + off * es, run * es);
    Advance(idx, k, size, istr, off);
  }
  return info.Env().Undefined();
}

// pad(x, shape, before, outShape, out, value): float32 constant padding (PadV2)
Napi::Value Pad(const Napi::CallbackInfo& info) {
  Napi::Float32Array xt = info[0].As<Napi::Float32Array>(), ot = info[4].As<Napi::Float32Array>();
  const auto [shape, before, oshape] = BoxArgs(info);
  const float value = info[5].As<Napi::Number>().FloatValue();
  const size_t R = shape.size();
  if (before.size() != R || oshape.size() != R || (int64_t)xt.ElementLength() != SizeOf(shape) ||
      (int64_t)ot.ElementLength() != SizeOf(oshape))
    return Fail(info, "pad: bad arguments");
  for (size_t d = 0; d < R; d++)
    if (before[d] < 0 || before[d] + shape[d] > oshape[d]) return Fail(info, "pad: bad paddings");
  const float* X = xt.Data();
  float* O = ot.Data();
  const int64_t total = SizeOf(oshape), n = SizeOf(shape);
  ParallelFor((size_t)total, 65536, [&](size_t b, size_t e) { std::fill(O + b, O + e, value); });
  if (n == 0) return info.Env().Undefined();
  if (R == 0) {
    O[0] = X[0];
    return info.Env().Undefined();
  }
  const std::vector<int64_t> ostr = RowStrides(oshape);
  const int64_t inner = shape[R - 1];
  const int64_t rows = n / inner;
  int64_t start = 0;
  for (size_t d = 0; d < R; d++) start += before[d] * ostr[d];
  std::vector<int64_t> idx(R, 0);
  int64_t off = start;
  for (int64_t r = 0; r < rows; r++) {
    std::memcpy(O + off, X + r * inner, inner * sizeof(float));
    Advance(idx, (int64_t)R - 1, shape, ostr, off);
  }
  return info.Env().Undefined();
}

// softmax over the last axis of [rows, cols]
__attribute__((noinline)) void SoftmaxRow(const float* __restrict x, float* __restrict o, int64_t n) {
  float mx = -INFINITY;
  bool nan = false;
  for (int64_t i = 0; i < n; i++) {
    mx = x[i] > mx ? x[i] : mx;
    nan |= x[i] != x[i];
  }
  if (nan) {
    for (int64_t i = 0; i < n; i++) o[i] = NAN;
    return;
  }
  double sum = 0.0;
#pragma omp simd reduction(+ : sum)
  for (int64_t i = 0; i < n; i++) {
    float e = VExp(x[i] - mx);
    o[i] = e;
    sum += (double)e;
  }
  const float inv = (float)(1.0 / sum);
#pragma omp simd
  for (int64_t i = 0; i < n; i++) o[i] *= inv;
}

// softmax(x, rows, cols, out)
Napi::Value Softmax(const Napi::CallbackInfo& info) {
  const float* X = F32(info[0]);
  int64_t rows = info[1].As<Napi::Number>().Int64Value(), cols = info[2].As<Napi::Number>().Int64Value();
  float* O = F32(info[3]);
  if ((int64_t)Len(info[0]) != rows * cols || (int64_t)Len(info[3]) != rows * cols)
    return Fail(info, "softmax: length mismatch");
  if (cols == 0) return info.Env().Undefined();
  ParallelFor(
      (size_t)rows, std::max<size_t>(1, 8192 / (size_t)cols),
      [&](size_t s, size_t e) {
        for (size_t r = s; r < e; r++) SoftmaxRow(X + r * cols, O + r * cols, cols);
      },
      1);
  return info.Env().Undefined();
}

// concat([arrays], inners[], outer, out): out row o = [a_0 row o (inner_0 elements), a_1 row o, ...];
// any element size (all arrays of one type).
Napi::Value Concat(const Napi::CallbackInfo& info) {
  Napi::Array arr = info[0].As<Napi::Array>();
  auto inners = Shape(info[1]);
  int64_t outer = info[2].As<Napi::Number>().Int64Value();
  Napi::TypedArray ot = info[3].As<Napi::TypedArray>();
  uint32_t k = arr.Length();
  if (inners.size() != k) return Fail(info, "concat: bad arguments");
  size_t es = ot.ElementSize();
  std::vector<const uint8_t*> ps(k);
  int64_t row = 0;
  for (uint32_t i = 0; i < k; i++) {
    Napi::TypedArray t = arr.Get(i).As<Napi::TypedArray>();
    if (t.ElementSize() != es || (int64_t)t.ElementLength() != inners[i] * outer) return Fail(info, "concat: input size");
    ps[i] = Bytes(t);
    row += inners[i];
  }
  if ((int64_t)ot.ElementLength() != row * outer) return Fail(info, "concat: output size");
  uint8_t* O = Bytes(ot);
  ParallelFor(
      (size_t)outer, std::max<size_t>(1, 65536 / (size_t)std::max<int64_t>(row, 1)),
      [&](size_t s, size_t e) {
        for (size_t o = s; o < e; o++) {
          uint8_t* dst = O + o * row * es;
          for (uint32_t i = 0; i < k; i++) {
            size_t b = (size_t)inners[i] * es;
            std::memcpy(dst, ps[i] + o * b, b);
            dst += b;
          }
        }
      },
      1);
  return info.Env().Undefined();
}

// tile(x, shape, reps, out): any element size
Napi::Value Tile(const Napi::CallbackInfo& info) {
  const auto [xt, shape, reps, ot] = MoveArgs(info);
  const size_t R = shape.size(), es = xt.ElementSize();
  if (reps.size() != R || ot.ElementSize() != es || (int64_t)xt.ElementLength() != SizeOf(shape))
    return Fail(info, "tile: bad arguments");
  std::vector<int64_t> oshape(R);
  for (size_t d = 0; d < R; d++) oshape[d] = shape[d] * reps[d];
  if ((int64_t)ot.ElementLength() != SizeOf(oshape)) return Fail(info, "tile: output size");
  const int64_t total = SizeOf(oshape);
  const uint8_t* X = Bytes(xt);
  uint8_t* O = Bytes(ot);
  if (NoneOrScalar(total, R, X, O, es)) return info.Env().Undefined();
  // Build the output dimension by dimension from the innermost: after step d, the block
  // [d..R) of every leading index is complete; copy it reps[d]-1 times along dim d.
  // Step 0: scatter the input rows (innermost dim) into place, each repeated reps[R-1] times.
  std::vector<int64_t> istr(R), ostr(R);
  int64_t a = 1, b = 1;
  for (int64_t d = (int64_t)R - 1; d >= 0; d--) {
    istr[d] = a;
    ostr[d] = b;
    a *= shape[d];
    b *= oshape[d];
  }
  const int64_t inner = shape[R - 1];
  const int64_t rows = SizeOf(shape) / std::max<int64_t>(inner, 1);
  std::vector<int64_t> idx(R, 0);
  // place input row r at output offset of its index (all leading reps = 0)
  for (int64_t r = 0; r < rows; r++) {
    int64_t rem = r, off = 0;
    for (int64_t d = (int64_t)R - 2; d >= 0; d--) {
      int64_t c = rem % shape[d];
      rem /= shape[d];
      off += c * ostr[d];
    }
    uint8_t* dst = O + off * es;
    for (int64_t t = 0; t < reps[R - 1]; t++) std::memcpy(dst + t * inner * es, X + r * inner * es, inner * es);
  }
  // for d = R-2 .. 0: every block of dim d+1.. (size ostr[d] elements) at index i < shape[d] is complete
  // for leading indices < shape; replicate along dim d
  for (int64_t d = (int64_t)R - 2; d >= 0; d--) {
    // iterate over leading indices [0, d) within the original extents
    int64_t lead = 1;
    for (int64_t q = 0; q < d; q++) lead *= shape[q];
    const int64_t blk = shape[d] * ostr[d];  // one filled period along d
    for (int64_t l = 0; l < lead; l++) {
      int64_t rem = l, off = 0;
      for (int64_t q = d - 1; q >= 0; q--) {
        int64_t c = rem % shape[q];
        rem /= shape[q];
        off += c * ostr[q];
      }
      uint8_t* base = O + off * es;
      for (int64_t t = 1; t < reps[d]; t++) std::memcpy(base + t * blk * es, base, blk * es);
    }
  }
  return info.Env().Undefined();
}


VK_EXPORT("addN", AddN)
VK_EXPORT("transpose", Transpose)
VK_EXPORT("slice", Slice)
VK_EXPORT("pad", Pad)
VK_EXPORT("softmax", Softmax)
VK_EXPORT("concat", Concat)
VK_EXPORT("tile", Tile)

}  // namespace
}  // namespace vaekit
