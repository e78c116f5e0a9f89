// vaekit native: what the CPU can do (cpuid + xgetbv: the ISA the OS has enabled), read once.
#pragma once
#include <string>

namespace vaekit {

struct CpuInfo {
  std::string vendor, brand;
  int family = 0, model = 0;
  bool sse3 = false, avx = false, avx2 = false, fma = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false, avx512cd = false;
  bool avx512bf16 = false, avx512fp16 = false;
  bool amxTile = false, amxBf16 = false, amxInt8 = false;
  // FP32 FMA lanes per instruction at the widest enabled width (16 with AVX-512, 8 with AVX2).
  int fp32Lanes() const { return avx512f ? 16 : (avx2 || avx) ? 8 : 4; }
  // e.g. "AVX2 FMA AVX512F AVX512BW AVX512VL AVX512_BF16 AMX-BF16"
  std::string isaList() const;
};

const CpuInfo& Cpu();

}  // namespace vaekit
