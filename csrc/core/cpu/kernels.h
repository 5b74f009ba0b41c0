// The CPU kernels' inner loops, written with GCC/Clang vector extensions so the
// same source compiles to SSE2 (baseline x86-64) and to AVX2+FMA. Every function
// here is always_inline: it takes the instruction set of the function it is
// inlined into, and the ops compile their hot loops twice (see
// INFERCORE_CPU_KERNEL) and pick one at run time, with no -march flag.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#define INFERCORE_ALWAYS_INLINE inline __attribute__((always_inline))

// Defines NAME##_avx2 and NAME##_baseline around an always_inline template
// NAME##_impl<W> (W: floats per vector) with the given parameters, and NAME,
// which calls the one this CPU can run.
#define INFERCORE_CPU_KERNEL(NAME, PARAMS, ARGS)                                         \
  __attribute__((target("avx2,fma"))) void NAME##_avx2 PARAMS { NAME##_impl<8> ARGS; } \
  void NAME##_baseline PARAMS { NAME##_impl<4> ARGS; }                                 \
  void NAME PARAMS {                                                                   \
    if (use_avx2_fma()) {                                                              \
      NAME##_avx2 ARGS;                                                                \
    } else {                                                                           \
      NAME##_baseline ARGS;                                                            \
    }                                                                                  \
  }

namespace infercore::cpu {

// W floats per vector: 8 for AVX2, 4 for the SSE2 baseline, each the machine's
// own width (wider vectors on SSE2 compile to stack traffic, not to pairs).
// Vectors pass by reference: by value, 32-byte vectors change the calling
// convention between the two instruction sets (GCC's -Wpsabi).
template <int W>
struct Simd;
template <>
struct Simd<4> {
  typedef float V __attribute__((vector_size(16)));
  typedef int32_t I __attribute__((vector_size(16)));
  static constexpr int64_t kMR = 3;  // micro-kernel rows: 3 x 16 accumulators fit 16 registers
};
template <>
struct Simd<8> {
  typedef float V __attribute__((vector_size(32)));
  typedef int32_t I __attribute__((vector_size(32)));
  static constexpr int64_t kMR = 6;  // 6 x 16 accumulators fill AVX2's 16 registers with 12
};

template <class V>
INFERCORE_ALWAYS_INLINE void load(V& v, const float* p) {
  std::memcpy(&v, p, sizeof v);
}
template <class V>
INFERCORE_ALWAYS_INLINE void store(float* p, const V& v) {
  std::memcpy(p, &v, sizeof v);
}

template <int W>
INFERCORE_ALWAYS_INLINE float hsum(const typename Simd<W>::V& v) {
  float s = 0.0f;
  for (int i = 0; i < W; ++i) s += v[i];
  return s;
}

template <int W>
INFERCORE_ALWAYS_INLINE float hmax(const typename Simd<W>::V& v) {
  float m = v[0];
  for (int i = 1; i < W; ++i) m = std::max(m, v[i]);
  return m;
}

// e^x for x <= 0 (Cephes' expf: Cody-Waite reduction and a degree-5 polynomial,
// within 2 ulp); x below -87.3 (including -inf) gives exactly 0.
template <int W>
INFERCORE_ALWAYS_INLINE void exp_nonpositive(typename Simd<W>::V& y,
                                             const typename Simd<W>::V& x) {
  using V = typename Simd<W>::V;
  using I = typename Simd<W>::I;
  const V zero = {};
  const V lo = zero - 87.33654f;
  const V xc = x < lo ? lo : x;
  const V magic = zero + 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const V n = (xc * 1.44269504088896341f + magic) - magic;
  const V r = (xc - n * 0.693359375f) - n * -2.12194440e-4f;
  V p = r * 1.9875691500e-4f + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const V e = p * (r * r) + r + 1.0f;
  const I bits = (__builtin_convertvector(n, I) + 127) << 23;
  y = e * (V)bits;  // a vector cast reinterprets the bits: 2^n
  y = x < lo ? zero : y;
}

// Packed right-hand matrices for gemm_packed: panels of kNR columns. Panel p
// holds columns [p*kNR, p*kNR + kNR) of all k rows, row after row; columns past
// n are zero, so the micro-kernel never needs a column edge case.
constexpr int64_t kNR = 16;

INFERCORE_ALWAYS_INLINE int64_t num_panels(int64_t n) { return (n + kNR - 1) / kNR; }

// Packs panels [panel_begin, panel_end) of the k x n matrix B, where
// B(r, c) = src[r * ld + c], or src[c * ld + r] when transposed.
INFERCORE_ALWAYS_INLINE void pack_b(const float* src, int64_t ld, bool transposed, int64_t k,
                                    int64_t n, int64_t panel_begin, int64_t panel_end,
                                    float* packed) {
  for (int64_t p = panel_begin; p < panel_end; ++p) {
    const int64_t c0 = p * kNR;
    const int64_t nr = std::min(kNR, n - c0);
    float* dst = packed + p * k * kNR;
    if (nr < kNR) std::fill(dst, dst + k * kNR, 0.0f);
    if (!transposed) {
      for (int64_t r = 0; r < k; ++r) std::memcpy(dst + r * kNR, src + r * ld + c0, nr * 4);
    } else {
      for (int64_t c = 0; c < nr; ++c) {
        const float* col = src + (c0 + c) * ld;
        for (int64_t r = 0; r < k; ++r) dst[r * kNR + c] = col[r];
      }
    }
  }
}

// C[0:mr, 0:nr] (+)= A[0:mr, 0:kc] * Bp[0:kc, 0:kNR] for one packed panel slice.
template <int W>
INFERCORE_ALWAYS_INLINE void micro_kernel(int64_t kc, const float* a, int64_t lda, const float* bp,
                                          float* c, int64_t ldc, int64_t mr, int64_t nr,
                                          bool accumulate) {
  using V = typename Simd<W>::V;
  constexpr int64_t kMR = Simd<W>::kMR, kNV = kNR / W;
  // Rows past mr re-read row mr-1 (valid memory) and are never stored, so the
  // loop below has one shape for full and edge tiles.
  const float* rows[kMR];
  for (int64_t r = 0; r < kMR; ++r) rows[r] = a + std::min(r, mr - 1) * lda;
  V acc[kMR][kNV] = {};
  for (int64_t kk = 0; kk < kc; ++kk) {
    V b[kNV];
    for (int64_t v = 0; v < kNV; ++v) load(b[v], bp + kk * kNR + v * W);
#pragma GCC unroll 6
    for (int64_t r = 0; r < kMR; ++r) {
      const float av = rows[r][kk];
      for (int64_t v = 0; v < kNV; ++v) acc[r][v] += av * b[v];
    }
  }
  for (int64_t r = 0; r < mr; ++r) {
    float* crow = c + r * ldc;
    if (nr == kNR) {
      for (int64_t v = 0; v < kNV; ++v) {
        if (accumulate) {
          V old;
          load(old, crow + v * W);
          acc[r][v] += old;
        }
        store(crow + v * W, acc[r][v]);
      }
    } else {
      float tile[kNR];
      for (int64_t v = 0; v < kNV; ++v) store(tile + v * W, acc[r][v]);
      for (int64_t j = 0; j < nr; ++j) crow[j] = accumulate ? crow[j] + tile[j] : tile[j];
    }
  }
}

// C (m x n, row stride ldc) (+)= A (m x k, row stride lda) * B, with B packed
// by pack_b starting at its first panel (panel stride k * kNR).
template <int W>
INFERCORE_ALWAYS_INLINE void gemm_packed(int64_t m, int64_t n, int64_t k, const float* a,
                                         int64_t lda, const float* packed, float* c, int64_t ldc,
                                         bool accumulate) {
  constexpr int64_t kMR = Simd<W>::kMR;
  if (k == 0 && !accumulate) {
    for (int64_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, 0.0f);
    return;
  }
  // Blocks of k keep one packed panel slice (kKC x kNR floats, 16 KiB) in L1
  // while it meets every row block of A.
  constexpr int64_t kKC = 256;
  for (int64_t k0 = 0; k0 < k; k0 += kKC) {
    const int64_t kc = std::min(kKC, k - k0);
    const bool acc = accumulate || k0 > 0;
    for (int64_t p = 0; p < num_panels(n); ++p) {
      const float* bp = packed + p * k * kNR + k0 * kNR;
      const int64_t nr = std::min(kNR, n - p * kNR);
      for (int64_t i = 0; i < m; i += kMR) {
        micro_kernel<W>(kc, a + i * lda + k0, lda, bp, c + i * ldc + p * kNR, ldc,
                        std::min(kMR, m - i), nr, acc);
      }
    }
  }
}

}  // namespace infercore::cpu
