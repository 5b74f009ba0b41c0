// Hopper (sm_90a) GEMM: a CUTLASS 3.x warp-specialized persistent kernel
// (TMA + wgmma, built by CollectiveBuilder; see gemm_sm90.cuh).
// Row-major a (m, k) @ row-major b (k, n) -> row-major out (m, n), fp32 accumulation.
//
// This header needs no CUTLASS (the core's dispatcher includes it); the compiled
// dtypes are listed by INFERCORE_GEMM_SM90_KERNELS in the generated
// <infercore_cutlass_sm90_kernels.h>.
#pragma once

#include <infercore/kernels/api.h>

#include <cstdint>

namespace infercore::kernels {

// Returns cudaErrorInvalidValue (launching nothing) for arguments supports() rejects.
template <DType D>
cudaError_t gemm_sm90_run(const GemmArgs& args);

// TMA needs 16-byte aligned base addresses and row pitches: k and n multiples
// of 8 elements. m, n, k are ints in CUTLASS's problem shape.
inline bool gemm_sm90_supports(const GemmArgs& g) {
    auto aligned16 = [](const void* p) { return (reinterpret_cast<std::uintptr_t>(p) & 15u) == 0; };
    if (!g.a || !g.b || !g.out) return false;
    if (!aligned16(g.a) || !aligned16(g.b) || !aligned16(g.out)) return false;
    if (g.m <= 0 || g.n <= 0 || g.k <= 0) return false;
    if (g.k % 8 != 0 || g.n % 8 != 0) return false;
    return g.dtype == DType::fp16 || g.dtype == DType::bf16;
}

}  // namespace infercore::kernels
