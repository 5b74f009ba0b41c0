// The dispatch table of one kernel library (libinfercore_kernels_<group>.a).
//
// Generated from the kernel profile at build time (csrc/kernels/registry.cu
// expands the X-macro lists that cmake/flash-attention.cmake, cmake/cutlass.cmake and
// cmake/flash-attention-4.cmake write), so it lists exactly what was compiled.
#pragma once

#include "infercore/kernels/api.h"

namespace infercore::kernels {

// Compute capabilities (major*10+minor) an entry's code runs on: SASS for sm_XY
// runs on XY..X9, arch-specific sm_90a only on 90, PTX on anything newer.
struct CcRange {
    int min = 0;
    int max = 0;
    bool contains(int cc) const { return cc >= min && cc <= max; }
};

struct AttentionKernel {
    const char* backend;  // "fa2", "fmha-sm90", "fa4"
    DType dtype;
    int headdim;
    bool causal;
    CcRange cc;
    AttentionSupports supports;
    AttentionRun run;
    bool split_kv = false;  // also splits the KV sequence when the GPU would idle (fa2)
    int heads_ratio = 0;    // the nheads / nheads_kv it is compiled for (fa4); 0: any
};

struct GemmKernel {
    const char* backend;  // "cutlass-sm90"
    DType dtype;
    CcRange cc;
    GemmSupports supports;
    GemmRun run;
};

struct KernelTable {
    const char* group;    // arch group, e.g. "sm90"
    const char* profile;  // kernel profile it was built with, e.g. "ci"
    const char* archs;    // per family CUDA architectures, e.g. "fa2=90-real cutlass-sm90=90a-real"
    const AttentionKernel* attention;
    int n_attention;
    const GemmKernel* gemm;
    int n_gemm;
};

// One per library; the core's generated kernel_tables.cc lists the linked ones.
// (Two levels so that a macro argument such as INFERCORE_KERNEL_GROUP expands first.)
#define INFERCORE_KERNEL_TABLE_NAME2(group) table_##group
#define INFERCORE_KERNEL_TABLE_NAME(group) INFERCORE_KERNEL_TABLE_NAME2(group)
#define INFERCORE_DECLARE_KERNEL_TABLE(group) \
    const ::infercore::kernels::KernelTable& INFERCORE_KERNEL_TABLE_NAME(group)()

}  // namespace infercore::kernels
