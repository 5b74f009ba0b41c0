// infercore torch-free shim for <ATen/cuda/detail/UnpackRaw.cuh>.
//
// Replaces: PyTorch's ATen/cuda/detail/UnpackRaw.cuh, included by FlashAttention-2
// (2.8.3) csrc/flash_attn/src/philox_unpack.cuh, which flash_fwd_kernel.h
// includes "For at::cuda::philox::unpack".
//
// Why this is enough: the forward kernel (compute_attn_1rowblock) does
//     auto seed_offset = at::cuda::philox::unpack(params.philox_args);
// and feeds std::get<0/1>(seed_offset) to FLASH_NAMESPACE::Dropout (FA2's own
// philox in philox.cuh) and, only if Is_dropout, to params.rng_state. This is
// the same device-inlinable helper as upstream (same logic, same return type
// std::tuple<uint64_t, uint64_t>; std::get on it in device code relies on
// --expt-relaxed-constexpr, as upstream). With p_dropout = 1 (no dropout, the
// only mode infercore uses) the value is computed and ignored, and the
// captured_ branch is never taken for a value-initialised state.
#pragma once
#ifndef INFERCORE_FA2_SHIM_ATEN_CUDA_DETAIL_UNPACKRAW_CUH
#define INFERCORE_FA2_SHIM_ATEN_CUDA_DETAIL_UNPACKRAW_CUH

#include <ATen/cuda/CUDAGeneratorImpl.h>  // at::PhiloxCudaState (shim)

#include <cstdint>
#include <tuple>

namespace at {
namespace cuda {
namespace philox {
inline namespace infercore_fa2_shim {

__host__ __device__ __forceinline__ std::tuple<uint64_t, uint64_t> unpack(at::PhiloxCudaState arg) {
    if (arg.captured_) {
        return std::make_tuple(static_cast<uint64_t>(*arg.seed_.ptr),
                               static_cast<uint64_t>(*(arg.offset_.ptr) + arg.offset_intragraph_));
    } else {
        return std::make_tuple(arg.seed_.val, arg.offset_.val);
    }
}

}  // namespace infercore_fa2_shim
}  // namespace philox
}  // namespace cuda
}  // namespace at

#endif  // INFERCORE_FA2_SHIM_ATEN_CUDA_DETAIL_UNPACKRAW_CUH
