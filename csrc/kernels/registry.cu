// The dispatch table of this kernel library, expanded from the X-macro lists
// that the family CMake functions generate from the kernel profile, so the
// table holds exactly the compiled combinations.
//
// Compiled with INFERCORE_KERNEL_GROUP (e.g. sm90), INFERCORE_KERNEL_PROFILE,
// INFERCORE_KERNEL_ARCHS and, per family present, INFERCORE_HAVE_<FAMILY> and
// its compute-capability range INFERCORE_<FAMILY>_CC_MIN/MAX.
#include "infercore/kernels/registry.h"

#ifdef INFERCORE_HAVE_FA2
#include "flash_attn/fa2_entry.h"
#include "infercore_fa2_kernels.h"
#endif
#ifdef INFERCORE_HAVE_CUTLASS_SM90
#include "cutlass_sm90/fmha_sm90.h"
#include "cutlass_sm90/gemm_sm90.h"
#include "infercore_cutlass_sm90_kernels.h"
#endif
#ifdef INFERCORE_HAVE_FA4
#include "infercore_fa4_kernels.h"
// Each exported variant's entries (cmake/flash-attention-4.cmake: one generated TU each).
#define X(P, NAME, HD, C, R, CC)                                                      \
    extern "C" bool fa4supports_##P(const infercore::kernels::AttentionArgs&);        \
    extern "C" cudaError_t fa4run_##P(const infercore::kernels::AttentionArgs&);
INFERCORE_FA4_KERNELS(X)
#undef X
#endif

#define INFERCORE_STR2(x) #x
#define INFERCORE_STR(x) INFERCORE_STR2(x)

namespace infercore::kernels {
namespace {

#ifdef INFERCORE_HAVE_FA2
// Whether the profile compiled split-KV kernels for this plain FA2 combination.
constexpr bool fa2_split(DType dtype, int headdim, bool causal) {
#define X(T, NAME, HD, C) \
    if (dtype == DType::NAME && headdim == HD && causal == C) return true;
    INFERCORE_FA2_FWD_SPLIT_KERNELS(X)
#undef X
    return false;
}
#endif

const AttentionKernel kAttention[] = {
#ifdef INFERCORE_HAVE_FA2
#define X(T, NAME, HD, C)                                                                             \
    {"fa2", DType::NAME, HD, C, {INFERCORE_FA2_CC_MIN, INFERCORE_FA2_CC_MAX}, &fa2_supports, &fa2_run, \
     fa2_split(DType::NAME, HD, C)},
    INFERCORE_FA2_FWD_KERNELS(X)
#undef X
#endif
#ifdef INFERCORE_HAVE_CUTLASS_SM90
#define X(NAME, HD, C)                                                                      \
    {"fmha-sm90", DType::NAME, HD, C, {INFERCORE_CUTLASS_SM90_CC_MIN, INFERCORE_CUTLASS_SM90_CC_MAX}, \
     &fmha_sm90_supports, &fmha_sm90_run<DType::NAME, HD, C>},
    INFERCORE_FMHA_SM90_KERNELS(X)
#undef X
#endif
#ifdef INFERCORE_HAVE_FA4
// Arch-specific code (sm_90a, sm_100a): each variant runs on its own compute capability.
#define X(P, NAME, HD, C, R, CC) \
    {"fa4", DType::NAME, HD, C, {CC, CC}, &fa4supports_##P, &fa4run_##P, false, R},
    INFERCORE_FA4_KERNELS(X)
#undef X
#endif
    {nullptr, DType::bf16, 0, false, {0, 0}, nullptr, nullptr},  // keeps the array non-empty
};

const GemmKernel kGemm[] = {
#ifdef INFERCORE_HAVE_CUTLASS_SM90
#define X(NAME)                                                                                 \
    {"cutlass-sm90", DType::NAME, {INFERCORE_CUTLASS_SM90_CC_MIN, INFERCORE_CUTLASS_SM90_CC_MAX}, \
     &gemm_sm90_supports, &gemm_sm90_run<DType::NAME>},
    INFERCORE_GEMM_SM90_KERNELS(X)
#undef X
#endif
    {nullptr, DType::bf16, {0, 0}, nullptr, nullptr},
};

}  // namespace

INFERCORE_DECLARE_KERNEL_TABLE(INFERCORE_KERNEL_GROUP) {
    static const KernelTable table{
        INFERCORE_STR(INFERCORE_KERNEL_GROUP),
        INFERCORE_KERNEL_PROFILE,
        INFERCORE_KERNEL_ARCHS,
        kAttention,
        int(sizeof(kAttention) / sizeof(kAttention[0])) - 1,
        kGemm,
        int(sizeof(kGemm) / sizeof(kGemm[0])) - 1,
    };
    return table;
}

}  // namespace infercore::kernels
