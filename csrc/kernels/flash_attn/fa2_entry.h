// FlashAttention-2 forward as a kernel-library entry (see fa2_entry.cu).
#pragma once

#include "infercore/kernels/api.h"

#ifndef INFERCORE_KERNEL_GROUP
#error "compile with -DINFERCORE_KERNEL_GROUP=<arch group> (csrc/kernels/CMakeLists.txt)"
#endif

namespace infercore::kernels {
// Every arch group's library has its own FA2 entry points (sm_80 code in one, sm_90 code
// in the other): the group's inline namespace keeps their symbols apart when both are
// linked into one wheel; unqualified calls still find them.
inline namespace INFERCORE_KERNEL_GROUP {

bool fa2_supports(const AttentionArgs& args);
cudaError_t fa2_run(const AttentionArgs& args);

}  // namespace INFERCORE_KERNEL_GROUP
}  // namespace infercore::kernels
