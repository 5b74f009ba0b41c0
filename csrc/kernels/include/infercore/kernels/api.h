// The contract between the engine core and its fast-kernel libraries
// (libinfercore_kernels_<family>.a, built by `nox -s kernels-smXX`).
//
// Each kernel library exposes one table of entries (see registry.h); the core's
// dispatcher picks an entry by device compute capability, dtype, head dim and
// causal flag. Entries only see validated, contiguous device tensors: all
// argument checking happens in the core before a kernel is chosen.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace infercore::kernels {

enum class DType : int { fp16 = 0, bf16 = 1 };

inline const char* dtype_name(DType d) { return d == DType::bf16 ? "bf16" : "fp16"; }

// Contiguous FlashAttention layout: q, out (batch, seqlen_q, nheads, headdim);
// k, v (batch, seqlen_k, nheads_kv, headdim); nheads % nheads_kv == 0.
// causal: query i sees key j iff j <= i + seqlen_k - seqlen_q (bottom-right
// aligned); a row that sees no key outputs zeros.
struct AttentionArgs {
    const void* q = nullptr;
    const void* k = nullptr;
    const void* v = nullptr;
    void* out = nullptr;
    int batch = 0;
    int seqlen_q = 0;
    int seqlen_k = 0;
    int nheads = 0;
    int nheads_kv = 0;
    int headdim = 0;
    DType dtype = DType::bf16;
    bool causal = false;
    float scale = 0.f;  // already resolved (1/sqrt(headdim) by default)
    cudaStream_t stream = nullptr;
};

// Row-major a (m, k) @ b (k, n) -> out (m, n); fp32 accumulation.
struct GemmArgs {
    const void* a = nullptr;
    const void* b = nullptr;
    void* out = nullptr;
    int m = 0;
    int n = 0;
    int k = 0;
    DType dtype = DType::bf16;
    cudaStream_t stream = nullptr;
};

// Kernel entry points. `supports` answers for shapes the kernel cannot take
// (alignment, seqlen limits...); the dispatcher only calls `run` when it is
// true. `run` is asynchronous on args.stream and returns the CUDA error of its
// launch (cudaSuccess when launched); it never throws and never exits.
using AttentionSupports = bool (*)(const AttentionArgs&);
using AttentionRun = cudaError_t (*)(const AttentionArgs&);
using GemmSupports = bool (*)(const GemmArgs&);
using GemmRun = cudaError_t (*)(const GemmArgs&);

}  // namespace infercore::kernels
