// The checks every FlashAttention-4 variant's entry makes before it launches (fa4_entry.h).
// Plain C++ (no CUDA call): tests/cpp/test_kernel_dispatch.cc runs them without a GPU.
#include "fa4_entry.h"

#include <climits>
#include <cmath>

namespace infercore::kernels {
inline namespace INFERCORE_KERNEL_GROUP {
namespace {

bool aligned16(const void* p) { return (reinterpret_cast<std::uintptr_t>(p) & 15u) == 0; }

}  // namespace

bool fa4_supports(const AttentionArgs& a, const Fa4Variant& v) {
    if (a.dtype != v.dtype || a.headdim != v.headdim || a.causal != v.causal) return false;
    if (!a.q || !a.k || !a.v || !a.out) return false;
    if (!aligned16(a.q) || !aligned16(a.k) || !aligned16(a.v) || !aligned16(a.out)) return false;
    if (a.batch <= 0 || a.seqlen_q <= 0 || a.seqlen_k <= 0 || a.nheads <= 0 || a.nheads_kv <= 0) return false;
    // The head ratio is compiled in: q head h reads kv head h / ratio (or, packed, the
    // kernel folds the ratio into its rows).
    if (a.nheads % a.nheads_kv != 0 || a.nheads / a.nheads_kv != v.heads_ratio) return false;
    // Strides of a contiguous tensor are multiples of the head dim: the variant's TMA
    // descriptors need multiples of 8 elements (16 bytes).
    if (a.headdim % 8 != 0) return false;
    // The non-persistent schedulers put heads and batch in grid y and z (at most 65535);
    // packed GQA rows (seqlen_q x ratio) are counted in int32.
    if (a.batch > 65535 || a.nheads > 65535) return false;
    if (int64_t{a.seqlen_q} * v.heads_ratio > INT_MAX) return false;
    // Masking relies on -inf * scale staying -inf.
    return a.scale > 0.f && std::isfinite(a.scale);
}

}  // namespace INFERCORE_KERNEL_GROUP
}  // namespace infercore::kernels
