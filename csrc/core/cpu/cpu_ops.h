// The CPU reference implementations (float32). Arguments are validated by the caller.
#pragma once

#include "validate.h"

namespace infercore::cpu {

void attention(const detail::AttentionShape& shape, const float* q, const float* k, const float* v,
               float* out, bool causal, float scale);

void gemm(const detail::GemmShape& shape, const float* a, const float* b, float* c);

}  // namespace infercore::cpu
