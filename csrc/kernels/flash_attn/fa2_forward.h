// infercore entry point for the FlashAttention-2 (2.8.3) forward kernels,
// built without PyTorch (see cmake/flash-attention.cmake and shim/).
//
// Covers upstream mha_fwd (csrc/flash_attn/flash_api.cpp) for the
// non-varlen, no-dropout, no-alibi, no-paged-KV, no-KV-append case, split-KV
// included where the profile compiled it (num_splits by upstream's heuristic;
// the fp32 accumulators are stream-ordered scratch, cudaMallocAsync).
// Only the (dtype, head-dim bucket, causal) combinations compiled into the
// build can run; others throw std::invalid_argument naming what was compiled.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <string>

namespace infercore {
// Per arch group (see fa2_entry.h): keeps two groups' wrappers apart in one binary.
#ifdef INFERCORE_KERNEL_GROUP
inline namespace INFERCORE_KERNEL_GROUP {
#endif

enum class Fa2Dtype : int { fp16 = 0, bf16 = 1 };

struct Fa2Args {
    // Device pointers. q: (batch, seqlen_q, nheads, headdim); k, v:
    // (batch, seqlen_k, nheads_kv, headdim); out: like q. All of `dtype`, last
    // dimension contiguous, 16-byte aligned.
    const void* q = nullptr;
    const void* k = nullptr;
    const void* v = nullptr;
    void* out = nullptr;
    // Caller-provided fp32 buffer of batch * nheads * seqlen_q floats, written
    // as [batch][nheads][seqlen_q] (natural-log LSE of each softmax row;
    // +inf when seqlen_k == 0).
    float* softmax_lse = nullptr;

    int batch = 0;
    int seqlen_q = 0;
    int seqlen_k = 0;
    int nheads = 0;     // query heads
    int nheads_kv = 0;  // key/value heads; must divide nheads (MQA/GQA)
    int headdim = 0;    // multiple of 8, <= 256; dispatched to bucket 32/64/96/128/192/256

    Fa2Dtype dtype = Fa2Dtype::bf16;
    bool causal = false;  // bottom-right aligned causal mask (as FA2 >= 2.1)
    float softmax_scale = 0.f;  // usually 1/sqrt(headdim)

    // Strides in elements for the (batch, seqlen, heads, headdim) layout.
    // 0 = derive from the contiguous layout (row = heads*headdim,
    // batch = seqlen*row, head = headdim).
    int64_t q_batch_stride = 0, q_row_stride = 0, q_head_stride = 0;
    int64_t k_batch_stride = 0, k_row_stride = 0, k_head_stride = 0;
    int64_t v_batch_stride = 0, v_row_stride = 0, v_head_stride = 0;
    int64_t o_batch_stride = 0, o_row_stride = 0, o_head_stride = 0;

    // Upstream's optional extras (same semantics as flash_attn_func):
    // sliding window (-1 = unbounded) and tanh soft-capping (0 = off).
    int window_size_left = -1;
    int window_size_right = -1;
    float softcap = 0.f;
};

// Runs the forward pass on `stream` (asynchronous). Throws
// std::invalid_argument for bad arguments or a combination that was not
// compiled, std::runtime_error for CUDA errors (launch/attribute failures).
void fa2_forward(const Fa2Args& args, cudaStream_t stream);

// Whether (dtype, headdim, causal) would be dispatched to a compiled kernel.
// Note: upstream treats seqlen_q == 1 as non-causal, so decode steps always
// need the non-causal variant.
bool fa2_forward_supported(Fa2Dtype dtype, int headdim, bool causal);

// Human-readable list of the compiled forward kernels, e.g. "bf16/hdim128/noncausal",
// "bf16/hdim128/noncausal/split-kv".
std::string fa2_forward_compiled_kernels();

#ifdef INFERCORE_KERNEL_GROUP
}  // namespace INFERCORE_KERNEL_GROUP
#endif
}  // namespace infercore
