// FlashAttention-4 forward variants behind the kernel-library contract
// (infercore/kernels/api.h): the checks and the tensor descriptors every variant's entry
// (fa4_variant.cc.in, one generated TU per exported variant) shares.
//
// An exported variant (scripts/buildsys/kernels/fa4_export.py) is compiled for one
// dtype, head dim, causal flag and query-heads-per-KV-head ratio, and assumes 16-byte
// aligned base pointers and strides that are multiples of 8 elements; it checks none of
// that at run time, so fa4_supports() does before anything is launched.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "infercore/kernels/api.h"

#ifndef INFERCORE_KERNEL_GROUP
#error "compile with -DINFERCORE_KERNEL_GROUP=<arch group> (csrc/kernels/CMakeLists.txt)"
#endif

namespace infercore::kernels {
inline namespace INFERCORE_KERNEL_GROUP {

// What one exported variant was compiled for.
struct Fa4Variant {
    DType dtype;
    int headdim;
    bool causal;
    int heads_ratio;  // nheads / nheads_kv: compiled in (FA4's pack_gqa above 1)
};

// Whether `v` can run `a`: its dtype, head dim, causal flag and head ratio; aligned,
// non-empty tensors within the kernels' grid and index limits; a positive finite scale.
// Anything else goes to the next backend (the dispatcher) or is refused (a forced call).
bool fa4_supports(const AttentionArgs& a, const Fa4Variant& v);

// The current device's SM count, passed at every launch: sm_100a's persistent scheduler
// sizes its grid by it (the variants that do not use it ignore it).
inline cudaError_t fa4_sm_count(int32_t* count) {
    int device = 0;
    if (cudaError_t err = cudaGetDevice(&device); err != cudaSuccess) return err;
    int sms = 0;
    if (cudaError_t err = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device);
        err != cudaSuccess) {
        return err;
    }
    *count = sms;
    return cudaSuccess;
}

// A contiguous (batch, seqlen, heads, headdim) tensor in an exported variant's ABI
// (PREFIX_Tensor_mQ_t ...): the head dim is compiled in, the other extents are int32 and
// their strides int64, in elements.
template <class Tensor>
Tensor fa4_tensor(const void* data, int batch, int seqlen, int heads, int headdim) {
    static_assert(sizeof(Tensor::dynamic_shapes) == 3 * sizeof(int32_t) &&
                      sizeof(Tensor::dynamic_strides) == 3 * sizeof(int64_t),
                  "the exported tensor ABI changed: (batch, seqlen, heads) extents and strides expected");
    Tensor t{};
    t.data = const_cast<void*>(data);
    t.dynamic_shapes[0] = batch;
    t.dynamic_shapes[1] = seqlen;
    t.dynamic_shapes[2] = heads;
    t.dynamic_strides[0] = int64_t{seqlen} * heads * headdim;
    t.dynamic_strides[1] = int64_t{heads} * headdim;
    t.dynamic_strides[2] = headdim;
    return t;
}

}  // namespace INFERCORE_KERNEL_GROUP
}  // namespace infercore::kernels
