// infercore torch-free shim for <ATen/cuda/CUDAGeneratorImpl.h>.
//
// Replaces: PyTorch's ATen/cuda/CUDAGeneratorImpl.h, included by FlashAttention-2
// (2.8.3) csrc/flash_attn/src/flash.h "For at::Generator and at::PhiloxCudaState".
//
// Why this is enough: the kernel sources only need the *type* at::PhiloxCudaState
// (member Flash_fwd_params::philox_args, passed by value into the kernel, and
// read on the device by at::cuda::philox::unpack, see
// ATen/cuda/detail/UnpackRaw.cuh). at::Generator / CUDAGeneratorImpl are only
// used by flash_api.cpp (the torch binding, which we do not compile) to seed
// dropout. The forward kernels call unpack() unconditionally but only *use* the
// result when Is_dropout (p_dropout < 1), which infercore never requests
// (inference, p_dropout = 1 = keep-probability), so a value-initialised state
// (seed 0, offset 0, not captured) is all the forward path ever sees.
//
// The layout and member names below match PyTorch's
// aten/src/ATen/cuda/PhiloxCudaState.h (torch >= 2.1), so the unpack helper
// is the verbatim upstream logic and a dropout-enabled build would still work
// if somebody filled the state (seed/offset by value, or the graph-capture
// pointer form).
//
// The types live in an inline namespace: source code still spells them
// at::PhiloxCudaState, but their mangled names are at::infercore_fa2_shim::...,
// so they can never collide (ODR) with a real libtorch loaded in the same
// process. They are header-only; no at:: symbol is referenced or defined.
#pragma once
#ifndef INFERCORE_FA2_SHIM_ATEN_CUDA_CUDAGENERATORIMPL_H
#define INFERCORE_FA2_SHIM_ATEN_CUDA_CUDAGENERATORIMPL_H

#include <cstdint>

#define INFERCORE_FA2_TORCH_SHIM 1

namespace at {
inline namespace infercore_fa2_shim {

struct PhiloxCudaState {
    PhiloxCudaState() = default;
    // Not under CUDA graph capture: seed/offset by value.
    PhiloxCudaState(uint64_t seed, uint64_t offset) {
        seed_.val = seed;
        offset_.val = offset;
    }
    // Under CUDA graph capture: seed/offset read from device memory at run time.
    PhiloxCudaState(int64_t* seed, int64_t* offset_extragraph, uint32_t offset_intragraph) {
        seed_.ptr = seed;
        offset_.ptr = offset_extragraph;
        offset_intragraph_ = offset_intragraph;
        captured_ = true;
    }

    union Payload {
        uint64_t val;
        int64_t* ptr;
    };

    Payload seed_{};
    Payload offset_{};
    uint32_t offset_intragraph_ = 0;
    bool captured_ = false;
};

}  // namespace infercore_fa2_shim
}  // namespace at

#endif  // INFERCORE_FA2_SHIM_ATEN_CUDA_CUDAGENERATORIMPL_H
