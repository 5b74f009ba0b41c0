#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include "cpu/cpu_ops.h"
#include "cpu/kernels.h"
#include "cpu/parallel.h"
#include "infercore/build_info.h"
#include "infercore/errors.h"

namespace infercore {
namespace cpu {
namespace {

// An environment setting parsed once; a malformed one is reported on every use.
struct EnvSetting {
  int value = 0;
  std::string error;
  int get() const {
    if (!error.empty()) throw ArgumentError(ErrorKind::kValueError, error);
    return value;
  }
};

EnvSetting read_num_threads() {
  EnvSetting s;
  const char* env = std::getenv("INFERCORE_NUM_THREADS");
  if (env == nullptr || *env == '\0') {
    s.value = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    return s;
  }
  char* end = nullptr;
  const long n = std::strtol(env, &end, 10);
  if (*end != '\0' || n < 1 || n > 1024) {
    s.error = std::string("INFERCORE_NUM_THREADS: expected an integer from 1 to 1024, got '") +
              env + "'";
  }
  s.value = static_cast<int>(n);
  return s;
}

EnvSetting read_isa() {
  EnvSetting s;
  __builtin_cpu_init();
  const bool has_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const char* env = std::getenv("INFERCORE_CPU_ISA");
  const std::string want = env ? env : "";
  if (want.empty() || want == "auto") {
    s.value = has_avx2;
  } else if (want == "baseline") {
    s.value = 0;
  } else if (want == "avx2") {
    if (!has_avx2) s.error = "INFERCORE_CPU_ISA: avx2 was requested, but this CPU lacks AVX2/FMA";
    s.value = 1;
  } else {
    s.error = "INFERCORE_CPU_ISA: expected auto, avx2 or baseline, got '" + want + "'";
  }
  return s;
}

template <int W>
INFERCORE_ALWAYS_INLINE void gemm_tile_impl(int64_t m, int64_t n, int64_t k, const float* a,
                                            int64_t lda, const float* packed, float* c,
                                            int64_t ldc) {
  gemm_packed<W>(m, n, k, a, lda, packed, c, ldc, /*accumulate=*/false);
}
INFERCORE_CPU_KERNEL(gemm_tile,
                     (int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                      const float* packed, float* c, int64_t ldc),
                     (m, n, k, a, lda, packed, c, ldc))

}  // namespace

int num_threads() {
  static const EnvSetting setting = read_num_threads();
  return setting.get();
}

bool use_avx2_fma() {
  static const EnvSetting setting = read_isa();
  return setting.get() != 0;
}

void gemm(const detail::GemmShape& s, const float* a, const float* b, float* c) {
  num_threads();  // report a malformed setting before any work starts
  use_avx2_fma();
  if (s.m == 0 || s.n == 0) return;
  // B is packed once, whole, so every tile reads the same panels; that costs
  // a copy of B but no synchronisation between the tiles.
  const int64_t panels = num_panels(s.n);
  std::unique_ptr<float[]> packed(new float[static_cast<size_t>(panels * s.k * kNR)]);
  parallel_for(panels, static_cast<double>(s.k * kNR), [&](int64_t begin, int64_t end) {
    pack_b(b, s.n, /*transposed=*/false, s.k, s.n, begin, end, packed.get());
  });
  // Tiles of kMB x kNB: a tile's rows of A (kMB x 256 floats per k block) stay in L2.
  constexpr int64_t kMB = 96, kNB = 256;
  const int64_t row_blocks = (s.m + kMB - 1) / kMB, col_blocks = (s.n + kNB - 1) / kNB;
  parallel_for(row_blocks * col_blocks, 2.0 * kMB * kNB * s.k, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const int64_t i0 = (t / col_blocks) * kMB, j0 = (t % col_blocks) * kNB;
      gemm_tile(std::min(kMB, s.m - i0), std::min(kNB, s.n - j0), s.k, a + i0 * s.k, s.k,
                packed.get() + (j0 / kNR) * s.k * kNR, c + i0 * s.n + j0, s.n);
    }
  });
}

}  // namespace cpu

const char* cpu_isa() { return cpu::use_avx2_fma() ? "avx2" : "baseline"; }

int cpu_num_threads() { return cpu::num_threads(); }

}  // namespace infercore
