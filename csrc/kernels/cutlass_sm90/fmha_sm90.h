// Hopper (sm_90a) attention forward: CUTLASS's examples/88_hopper_fmha kernel
// (TMA + wgmma, warp-specialized), with infercore's semantics on top (see
// fmha_sm90.cuh): FlashAttention layout, GQA, bottom-right causal, any scale.
//
// This header needs no CUTLASS: the core's dispatcher includes it, checks
// fmha_sm90_supports() and picks an instantiation from the generated
// <infercore_cutlass_sm90_kernels.h> (INFERCORE_FMHA_SM90_KERNELS) by
// (dtype, fmha_sm90_headdim_bucket(headdim), causal).
#pragma once

#include <infercore/kernels/api.h>

#include <climits>
#include <cstdint>

namespace infercore::kernels {

// One instantiation per (dtype, head-dim bucket, causal), compiled by
// cmake/cutlass.cmake. Runs any headdim <= HeadDim (multiple of 8); the tile's
// unused columns are zero-filled by TMA and clipped on store. Returns
// cudaErrorInvalidValue (launching nothing) for arguments supports() rejects.
template <DType D, int HeadDim, bool Causal>
cudaError_t fmha_sm90_run(const AttentionArgs& args);

// The compiled head dims are 64, 128, 256: the smallest that fits.
inline int fmha_sm90_headdim_bucket(int headdim) { return headdim <= 64 ? 64 : headdim <= 128 ? 128 : 256; }

namespace detail {
inline bool aligned16(const void* p) { return (reinterpret_cast<std::uintptr_t>(p) & 15u) == 0; }
}  // namespace detail

// Shapes the kernel cannot take (the dispatcher then falls back to FA2):
// - pointers not 16-byte aligned, or headdim not a multiple of 8 (or > 256):
//   TMA needs 16-byte aligned addresses and strides;
// - per-batch tensor extents >= 2^31 elements: the kernel's strides are int;
// - batch or nheads_kv > 65535 (grid y/z limits);
// - scale <= 0 or not finite: masking relies on -inf * scale staying -inf.
inline bool fmha_sm90_supports(const AttentionArgs& a) {
    using detail::aligned16;
    if (!a.q || !a.k || !a.v || !a.out) return false;
    if (!aligned16(a.q) || !aligned16(a.k) || !aligned16(a.v) || !aligned16(a.out)) return false;
    if (a.batch <= 0 || a.seqlen_q <= 0 || a.seqlen_k <= 0 || a.nheads <= 0 || a.nheads_kv <= 0) return false;
    if (a.nheads % a.nheads_kv != 0) return false;
    if (a.headdim <= 0 || a.headdim > 256 || a.headdim % 8 != 0) return false;
    if (a.batch > 65535 || a.nheads_kv > 65535) return false;
    if (int64_t(a.seqlen_q) * a.nheads * a.headdim > INT_MAX) return false;
    if (int64_t(a.seqlen_k) * a.nheads_kv * a.headdim > INT_MAX) return false;
    if (!(a.scale > 0.f) || a.scale > 3.0e38f) return false;  // also rejects NaN
    return a.dtype == DType::fp16 || a.dtype == DType::bf16;
}

}  // namespace infercore::kernels
