// The engine's operators. Every entry point validates its arguments first and
// throws infercore::ArgumentError (never crashes) on bad input; the output
// tensor is always provided by the caller.
#pragma once

#include <optional>

#include "infercore/tensor.h"

namespace infercore {

// FlashAttention layout: q (batch, seqlen_q, nheads, headdim); k, v
// (batch, seqlen_k, nheads_kv, headdim) with nheads % nheads_kv == 0; out has
// q's shape. scale defaults to 1/sqrt(headdim). With causal, query i may see
// key j iff j <= i + seqlen_k - seqlen_q (the last query aligns with the last key);
// a query row that sees no key (seqlen_q > seqlen_k) outputs zeros, as in FlashAttention.
// CPU tensors must be float32; CUDA ones float32, float16 or bfloat16 (float accumulation).
// stream: a cudaStream_t for CUDA tensors (nullptr: the legacy default stream).
void attention(const TensorView& q, const TensorView& k, const TensorView& v,
               const TensorView& out, bool causal, std::optional<float> scale,
               void* stream = nullptr);

// Row-major (M, K) @ (K, N) -> out (M, N).
void gemm(const TensorView& a, const TensorView& b, const TensorView& out,
          void* stream = nullptr);

// Shapes of the outputs for valid inputs; these run the same validation as the
// ops (minus the output checks), so the bindings can allocate `out` safely.
std::vector<int64_t> attention_output_shape(const TensorView& q, const TensorView& k,
                                            const TensorView& v);
std::vector<int64_t> gemm_output_shape(const TensorView& a, const TensorView& b);

}  // namespace infercore
