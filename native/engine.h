// vaekit native: the GEMM engine (engine.cc). At load, the CPU's ISA is read (cpu.cc) and the engine
// chosen: OpenBLAS (loaded with dlopen after OPENBLAS_CORETYPE is set for this ISA, so that a CPU that
// Debian's OpenBLAS does not know does not fall back to its SSE3 kernels) or oneDNN's dnnl_sgemm
// (dispatches by ISA itself). VAEKIT_GEMM=openblas|onednn and a user's OPENBLAS_CORETYPE win.
#pragma once
#include <cstdint>
#include <string>

namespace vaekit {

enum GemmEngine { E_OPENBLAS = 0, E_ONEDNN = 1 };

struct EngineState {
  GemmEngine engine = E_ONEDNN;
  std::string why;             // why this engine
  bool openblas = false;       // OpenBLAS loaded
  std::string openblasError;   // why not
  std::string openblasConfig;  // openblas_get_config()
  std::string coretype;        // OPENBLAS_CORETYPE in effect ("" if none)
  std::string coretypeWhy;     // set by the user / by vaekit from cpuid / not set
  std::string onednnIsa;       // the ISA dnnl_sgemm dispatches to
};

const EngineState& Engine();
// The kernel the engine runs: OpenBLAS's core name, or oneDNN's ISA.
std::string EngineKernel(GemmEngine e);
// Selects the engine (`reason`: why, for info(); empty: "set by setGemmEngine"); false (and why) if it
// is not available.
bool SetEngine(GemmEngine e, std::string& why, const std::string& reason = "");

// C[M,N] = op(A)·op(B) + beta·C, row-major, with the engine. ownThreads: the engine's own threading
// (setGemmMode(1)); else a single-threaded call (the caller splits the GEMM across the pool).
void EngineSgemm(bool tA, bool tB, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
                 int64_t ldb, float beta, float* C, int64_t ldc, bool ownThreads);
// OpenBLAS's own thread count (1 unless it threads GEMMs itself), 0 without OpenBLAS.
void OpenBlasSetThreads(int n);
int OpenBlasThreads();

}  // namespace vaekit
