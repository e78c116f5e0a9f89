// vaekit native: ISA detection (cpuid leaves 0, 1, 7.0, 7.1 and the extended brand string; xgetbv for
// the register state the OS saves: AVX needs XMM|YMM, AVX-512 also opmask|ZMM, AMX the tile state).
#include "cpu.h"

#include <cpuid.h>

#include <cstdint>
#include <cstring>

namespace vaekit {

namespace {

uint64_t Xgetbv() {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((uint64_t)hi << 32) | lo;
}

CpuInfo Detect() {
  CpuInfo c;
  unsigned a, b, cx, d;
  if (!__get_cpuid(0, &a, &b, &cx, &d)) return c;
  const unsigned maxLeaf = a;
  char vendor[13];
  std::memcpy(vendor, &b, 4);
  std::memcpy(vendor + 4, &d, 4);
  std::memcpy(vendor + 8, &cx, 4);
  vendor[12] = 0;
  c.vendor = vendor;
  __get_cpuid(1, &a, &b, &cx, &d);
  const unsigned baseFamily = (a >> 8) & 0xf, baseModel = (a >> 4) & 0xf;
  c.family = (int)(baseFamily == 0xf ? baseFamily + ((a >> 20) & 0xff) : baseFamily);
  c.model = (int)((baseFamily == 0x6 || baseFamily == 0xf) ? (((a >> 16) & 0xf) << 4) + baseModel : baseModel);
  c.sse3 = cx & 1;
  const bool osxsave = (cx >> 27) & 1;
  const uint64_t xcr0 = osxsave ? Xgetbv() : 0;
  const bool ymm = (xcr0 & 0x6) == 0x6, zmm = ymm && (xcr0 & 0xe0) == 0xe0, tiles = (xcr0 & 0x60000) == 0x60000;
  c.avx = ymm && ((cx >> 28) & 1);
  c.fma = ymm && ((cx >> 12) & 1);
  if (maxLeaf >= 7) {
    __cpuid_count(7, 0, a, b, cx, d);
    c.avx2 = ymm && ((b >> 5) & 1);
    c.avx512f = zmm && ((b >> 16) & 1);
    c.avx512dq = zmm && ((b >> 17) & 1);
    c.avx512cd = zmm && ((b >> 28) & 1);
    c.avx512bw = zmm && ((b >> 30) & 1);
    c.avx512vl = zmm && ((b >> 31) & 1);
    c.avx512fp16 = zmm && ((d >> 23) & 1);
    c.amxBf16 = tiles && ((d >> 22) & 1);
    c.amxTile = tiles && ((d >> 24) & 1);
    c.amxInt8 = tiles && ((d >> 25) & 1);
    const unsigned sub = a;
    if (sub >= 1) {
      __cpuid_count(7, 1, a, b, cx, d);
      c.avx512bf16 = zmm && ((a >> 5) & 1);
    }
  }
  if (__get_cpuid(0x80000000, &a, &b, &cx, &d) && a >= 0x80000004) {
    char brand[49] = {0};
    for (unsigned i = 0; i < 3; i++) {
      unsigned r[4];
      __get_cpuid(0x80000002 + i, &r[0], &r[1], &r[2], &r[3]);
      std::memcpy(brand + 16 * i, r, 16);
    }
    c.brand = brand;
    size_t s = c.brand.find_first_not_of(' ');
    c.brand = s == std::string::npos ? "" : c.brand.substr(s);
  }
  return c;
}

}  // namespace

std::string CpuInfo::isaList() const {
  std::string s;
  auto add = [&](bool f, const char* n) {
    if (!f) return;
    if (!s.empty()) s += ' ';
    s += n;
  };
  add(sse3, "SSE3");
  add(avx, "AVX");
  add(avx2, "AVX2");
  add(fma, "FMA");
  add(avx512f, "AVX512F");
  add(avx512bw, "AVX512BW");
  add(avx512vl, "AVX512VL");
  add(avx512dq, "AVX512DQ");
  add(avx512cd, "AVX512CD");
  add(avx512bf16, "AVX512_BF16");
  add(avx512fp16, "AVX512_FP16");
  add(amxTile, "AMX-TILE");
  add(amxBf16, "AMX-BF16");
  add(amxInt8, "AMX-INT8");
  return s;
}

const CpuInfo& Cpu() {
  static const CpuInfo c = Detect();
  return c;
}

}  // namespace vaekit
