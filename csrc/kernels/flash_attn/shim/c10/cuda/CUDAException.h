// infercore torch-free shim for <c10/cuda/CUDAException.h>.
//
// Replaces: PyTorch's c10/cuda/CUDAException.h, included by FlashAttention-2
// (2.8.3) csrc/flash_attn/src/flash_fwd_launch_template.h (and, unused by us,
// flash_bwd_launch_template.h).
//
// Why this is enough: the forward launch code uses exactly two macros from it,
//   C10_CUDA_CHECK(expr)            around cudaFuncSetAttribute(...) and the
//                                   cudaDeviceGetAttribute status (hdim 224/256)
//   C10_CUDA_KERNEL_LAUNCH_CHECK()  after every <<<...>>> launch
// Upstream they throw c10::Error (via c10_cuda_check_implementation); here they
// throw std::runtime_error carrying the CUDA error name/string and the
// file:line, so no c10 symbol is referenced. C10_CUDA_KERNEL_LAUNCH_CHECK()
// calls cudaGetLastError(), which (as upstream) also clears a non-sticky
// launch error. The FA2 entry point (fa2_forward.cu) documents that it may
// throw these.
#pragma once
#ifndef INFERCORE_FA2_SHIM_C10_CUDA_CUDAEXCEPTION_H
#define INFERCORE_FA2_SHIM_C10_CUDA_CUDAEXCEPTION_H

#include <cuda_runtime_api.h>

#include <stdexcept>
#include <string>

// Marker: lets infercore code assert it is compiled against the shim, not torch.
#define INFERCORE_FA2_TORCH_SHIM 1

namespace infercore_fa2_shim {
[[noreturn]] inline void throw_cuda_error(cudaError_t err, const char* expr, const char* file, int line) {
    std::string msg = "FlashAttention-2 CUDA error: ";
    msg += cudaGetErrorName(err);
    msg += " (";
    msg += cudaGetErrorString(err);
    msg += ") in `";
    msg += expr;
    msg += "` at ";
    msg += file;
    msg += ":";
    msg += std::to_string(line);
    throw std::runtime_error(msg);
}
}  // namespace infercore_fa2_shim

#define C10_CUDA_CHECK(EXPR)                                                          \
    do {                                                                              \
        const cudaError_t infercore_fa2_err_ = (EXPR);                                \
        if (infercore_fa2_err_ != cudaSuccess) {                                      \
            ::infercore_fa2_shim::throw_cuda_error(infercore_fa2_err_, #EXPR, __FILE__, \
                                                   __LINE__);                         \
        }                                                                             \
    } while (0)

#define C10_CUDA_KERNEL_LAUNCH_CHECK() C10_CUDA_CHECK(cudaGetLastError())

#endif  // INFERCORE_FA2_SHIM_C10_CUDA_CUDAEXCEPTION_H
