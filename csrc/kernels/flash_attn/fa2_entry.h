// FlashAttention-2 forward as a kernel-library entry (see fa2_entry.cu).
#pragma once

#include "infercore/kernels/api.h"

namespace infercore::kernels {

bool fa2_supports(const AttentionArgs& args);
cudaError_t fa2_run(const AttentionArgs& args);

}  // namespace infercore::kernels
