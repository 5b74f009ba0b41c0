// FlashAttention-2 behind the kernel-library contract (infercore/kernels/api.h):
// exceptions and all argument handling stay inside, callers get a cudaError_t.
#include "fa2_entry.h"

#include <cstdio>
#include <exception>

#include "fa2_forward.h"

namespace infercore::kernels {
inline namespace INFERCORE_KERNEL_GROUP {

bool fa2_supports(const AttentionArgs& a) {
    // FA2 launches grid(m_blocks, batch, nheads): grid y and z are at most 65535 (its
    // split-KV grid puts batch * nheads in z, but splits only grids that underfill the
    // GPU, far below that). Larger shapes go to the next backend, never to a failed launch.
    if (a.batch > 65535 || a.nheads > 65535) return false;
    // FA2 switches to its non-causal kernel for a single query row (decode).
    const bool causal = a.causal && a.seqlen_q > 1;
    const Fa2Dtype dtype = a.dtype == DType::bf16 ? Fa2Dtype::bf16 : Fa2Dtype::fp16;
    // Exact head dims only: the library is built without the uneven-K variants.
    return a.headdim % 32 == 0 && fa2_forward_supported(dtype, a.headdim, causal);
}

cudaError_t fa2_run(const AttentionArgs& a) {
    // FA2 writes the softmax log-sum-exp of every row; the engine has no use for
    // it, so it lives in a stream-ordered scratch buffer.
    float* lse = nullptr;
    const size_t lse_bytes = sizeof(float) * size_t(a.batch) * a.nheads * a.seqlen_q;
    if (cudaError_t err = cudaMallocAsync(reinterpret_cast<void**>(&lse), lse_bytes, a.stream); err != cudaSuccess) {
        return err;
    }
    Fa2Args f;
    f.q = a.q;
    f.k = a.k;
    f.v = a.v;
    f.out = a.out;
    f.softmax_lse = lse;
    f.batch = a.batch;
    f.seqlen_q = a.seqlen_q;
    f.seqlen_k = a.seqlen_k;
    f.nheads = a.nheads;
    f.nheads_kv = a.nheads_kv;
    f.headdim = a.headdim;
    f.dtype = a.dtype == DType::bf16 ? Fa2Dtype::bf16 : Fa2Dtype::fp16;
    f.causal = a.causal;
    f.softmax_scale = a.scale;
    cudaError_t result = cudaSuccess;
    try {
        fa2_forward(f, a.stream);
        result = cudaGetLastError();
    } catch (const std::exception& e) {
        // Only reachable when fa2_supports was not consulted: keep the reason visible.
        std::fprintf(stderr, "infercore: %s\n", e.what());
        result = cudaErrorInvalidValue;
        (void)cudaGetLastError();  // FA2 may have left a launch error: do not let it leak
    }
    const cudaError_t freed = cudaFreeAsync(lse, a.stream);
    return result != cudaSuccess ? result : freed;
}

}  // namespace INFERCORE_KERNEL_GROUP
}  // namespace infercore::kernels
