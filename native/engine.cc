// vaekit native: the GEMM engine (engine.h). OpenBLAS is not linked: it is loaded here with dlopen,
// after OPENBLAS_CORETYPE is set (OpenBLAS reads it once, when it loads):
//   * the user's OPENBLAS_CORETYPE, if set, as is;
//   * else the kernel for the widest ISA the CPU and OS have: Cooperlake (AVX-512 with BF16),
//     SkylakeX (AVX-512F/BW/VL/DQ/CD), Zen (an AMD Zen without AVX-512), Haswell (AVX2 + FMA),
//     Sandybridge (AVX); otherwise OpenBLAS picks. (Debian's OpenBLAS 0.3.21 knows no CPU newer than
//     it, and on those falls back to Prescott: SSE3, ~5x slower on a recent Xeon.)
// The engine at load: VAEKIT_GEMM=openblas|onednn if set; else oneDNN's dnnl_sgemm where the CPU has
// AVX-512 (its jit kernels are chosen by ISA, not by CPU model), else OpenBLAS; whichever of the two
// is available if one is missing. That is a first guess: the TypeScript side then times both engines
// on the mlp step's GEMMs (measureGemm, gemm.cc) and keeps the faster, cached per CPU
// (src/backend/native/engine-choice.ts), so the same machine and environment get the same engine and
// kernel, and the same seed the same run.
#include "engine.h"

#include <dlfcn.h>
#include <omp.h>

#include <cstdlib>
#include <cstring>

#include <dnnl.h>

#include "cpu.h"
#include "napi_util.h"
#include "signals.h"

namespace vaekit {

namespace {

// The CBLAS entry points used, declared here (OpenBLAS is dlopen'ed, its headers are not needed).
enum { kRowMajor = 101, kNoTrans = 111, kTrans = 112 };
using SgemmFn = void (*)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*,
                         int);
using SetThreadsFn = void (*)(int);
using GetIntFn = int (*)();
using GetStrFn = char* (*)();

struct OpenBlas {
  SgemmFn sgemm = nullptr;
  SetThreadsFn setThreads = nullptr;
  GetIntFn getThreads = nullptr;
  GetStrFn config = nullptr, corename = nullptr;
};
OpenBlas g_ob;
EngineState g_state;

// The OpenBLAS core type for this CPU's ISA, or "" to let OpenBLAS choose.
const char* CoretypeFor(const CpuInfo& c) {
  const bool avx512 = c.avx512f && c.avx512bw && c.avx512vl && c.avx512dq && c.avx512cd;
  if (avx512 && c.avx512bf16) return "Cooperlake";
  if (avx512) return "SkylakeX";
  // AMD Zen 1-3 (family 0x17 Zen/Zen 2, 0x19 Zen 3; AVX2 + FMA, no AVX-512): OpenBLAS's Zen kernels,
  // what 0.3.21 picks itself on these; a Zen 4/5 with AVX-512 took the branches above
  if (c.vendor == "AuthenticAMD" && c.family >= 0x17 && c.avx2 && c.fma) return "Zen";
  if (c.avx2 && c.fma) return "Haswell";
  if (c.avx) return "Sandybridge";
  return "";
}

const char* IsaName(dnnl_cpu_isa_t isa) {
  switch (isa) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_mic: return "avx512_mic";
    case dnnl_cpu_isa_avx512_mic_4ops: return "avx512_mic_4ops";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "?";
  }
}

void LoadOpenBlas() {
  const CpuInfo& cpu = Cpu();
  const char* user = std::getenv("OPENBLAS_CORETYPE");
  if (user && *user) {
    g_state.coretype = user;
    g_state.coretypeWhy = "OPENBLAS_CORETYPE set by the user";
  } else {
    const char* ct = CoretypeFor(cpu);
    if (*ct) {
      setenv("OPENBLAS_CORETYPE", ct, 1);
      g_state.coretype = ct;
      g_state.coretypeWhy = std::string("set by vaekit from cpuid (") + cpu.isaList() + ")";
    } else {
      g_state.coretypeWhy = "not set: OpenBLAS detects the CPU itself";
    }
  }
  void* h = nullptr;
  for (const char* name : {"libopenblas.so.0", "libopenblas.so"}) {
    h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (h) break;
  }
  if (!h) {
    const char* e = dlerror();
    g_state.openblasError = std::string("OpenBLAS not loadable: ") + (e ? e : "?");
    return;
  }
  g_ob.sgemm = (SgemmFn)dlsym(h, "cblas_sgemm");
  g_ob.setThreads = (SetThreadsFn)dlsym(h, "openblas_set_num_threads");
  g_ob.getThreads = (GetIntFn)dlsym(h, "openblas_get_num_threads");
  g_ob.config = (GetStrFn)dlsym(h, "openblas_get_config");
  g_ob.corename = (GetStrFn)dlsym(h, "openblas_get_corename");
  if (!g_ob.sgemm) {
    g_state.openblasError = "the loaded libopenblas has no cblas_sgemm";
    return;
  }
  g_state.openblas = true;
  if (g_ob.setThreads) g_ob.setThreads(1);
  const char* cfg = g_ob.config ? g_ob.config() : nullptr;
  g_state.openblasConfig = cfg ? cfg : "OpenBLAS";
}

void LoadEngine(Napi::Env) {
  LoadOpenBlas();
  g_state.onednnIsa = IsaName(dnnl_get_effective_cpu_isa());
  const CpuInfo& cpu = Cpu();
  const char* env = std::getenv("VAEKIT_GEMM");
  std::string want = env ? env : "";
  if (want == "openblas" && g_state.openblas) {
    g_state.engine = E_OPENBLAS;
    g_state.why = "VAEKIT_GEMM=openblas";
  } else if (want == "onednn") {
    g_state.engine = E_ONEDNN;
    g_state.why = "VAEKIT_GEMM=onednn";
  } else if (!g_state.openblas) {
    g_state.engine = E_ONEDNN;
    g_state.why = g_state.openblasError;
  } else if (cpu.avx512f) {
    g_state.engine = E_ONEDNN;
    g_state.why =
        "the CPU has AVX-512: oneDNN's jit sgemm, faster than OpenBLAS's AVX-512 kernels on the mlp step here "
        "(docs/results.md); VAEKIT_GEMM=openblas for OpenBLAS";
  } else {
    g_state.engine = E_OPENBLAS;
    g_state.why = "no AVX-512: OpenBLAS's " + g_state.coretype + " kernels";
  }
  if (!want.empty() && want != "openblas" && want != "onednn") g_state.why += " (VAEKIT_GEMM=" + want + " ignored)";
  if (want == "openblas" && !g_state.openblas) g_state.why += " (VAEKIT_GEMM=openblas: not available)";
}

VK_ON_LOAD(LoadEngine)

}  // namespace

const EngineState& Engine() { return g_state; }

std::string EngineKernel(GemmEngine e) {
  if (e == E_ONEDNN) return "jit " + g_state.onednnIsa;
  const char* c = g_ob.corename ? g_ob.corename() : nullptr;
  return c ? c : "?";
}

bool SetEngine(GemmEngine e, std::string& why, const std::string& reason) {
  if (e == E_OPENBLAS && !g_state.openblas) {
    why = g_state.openblasError;
    return false;
  }
  g_state.engine = e;
  g_state.why = reason.empty() ? "set by setGemmEngine" : reason;
  return true;
}

void EngineSgemm(bool tA, bool tB, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
                 int64_t ldb, float beta, float* C, int64_t ldc, bool ownThreads) {
  if (g_state.engine == E_OPENBLAS) {
    g_ob.sgemm(kRowMajor, tA ? kTrans : kNoTrans, tB ? kTrans : kNoTrans, (int)M, (int)N, (int)K, 1.0f, A, (int)lda, B,
               (int)ldb, beta, C, (int)ldc);
    return;
  }
  // dnnl_sgemm threads with OpenMP (omp_get_max_threads of the calling thread): one thread when the
  // caller splits the GEMM across the pool.
  // Its jit kernels move rsp onto the heap: no asynchronous signal on this thread meanwhile (signals.h).
  const AsyncSignalsBlocked noSignals;
  const int prev = ownThreads ? 1 : omp_get_max_threads();
  if (prev != 1) omp_set_num_threads(1);
  dnnl_sgemm(tA ? 'T' : 'N', tB ? 'T' : 'N', M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
  if (prev != 1) omp_set_num_threads(prev);
}

void OpenBlasSetThreads(int n) {
  if (g_ob.setThreads) g_ob.setThreads(n);
}
int OpenBlasThreads() { return g_ob.getThreads ? g_ob.getThreads() : 0; }

}  // namespace vaekit
