// The CUDA reference kernels' entry points. Plain C++ (no CUDA headers), so
// ops.cc compiles the same in CPU-only builds, where cuda_disabled.cc defines
// these to throw. Arguments are validated by the caller; `device` is the CUDA
// device index of every pointer and `stream` a cudaStream_t (nullptr: legacy default).
#pragma once

#include <string>
#include <vector>

#include "infercore/ops.h"
#include "infercore/tensor.h"
#include "validate.h"

namespace infercore::cuda {

void attention_ref(const detail::AttentionShape& shape, DType dtype, int device, const void* q,
                   const void* k, const void* v, void* out, bool causal, float scale,
                   void* stream);

void gemm_ref(const detail::GemmShape& shape, DType dtype, int device, const void* a,
              const void* b, void* c, void* stream);

// Fast-kernel dispatch (dispatch.h) with the reference kernels above as fallback.
Dispatch attention(const detail::AttentionShape& shape, DType dtype, int device, const void* q,
                   const void* k, const void* v, void* out, bool causal, float scale,
                   void* stream, const std::string& backend);
Dispatch gemm(const detail::GemmShape& shape, DType dtype, int device, const void* a,
              const void* b, void* c, void* stream, const std::string& backend);
std::string attention_backend(const detail::AttentionShape& shape, DType dtype, int device,
                              bool causal);
std::vector<HopperAttentionRuleInfo> hopper_attention_rules();
std::vector<KernelInfo> attention_kernels();
std::vector<KernelInfo> gemm_kernels();
std::vector<std::string> kernel_libraries();

}  // namespace infercore::cuda
