// Loads and stores of the three element types as float, for kernels templated on T.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "infercore/tensor.h"

namespace infercore::cuda {

__device__ __forceinline__ float to_float(float x) { return x; }
__device__ __forceinline__ float to_float(__half x) { return __half2float(x); }
__device__ __forceinline__ float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }

template <typename T>
__device__ __forceinline__ T from_float(float x);
template <>
__device__ __forceinline__ float from_float<float>(float x) {
  return x;
}
template <>
__device__ __forceinline__ __half from_float<__half>(float x) {
  return __float2half_rn(x);
}
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float x) {
  return __float2bfloat16_rn(x);
}

// Calls f(T()) with T the element type of `dtype`.
template <typename F>
void dispatch_dtype(DType dtype, F&& f) {
  switch (dtype) {
    case DType::kFloat32:
      f(float());
      break;
    case DType::kFloat16:
      f(__half());
      break;
    case DType::kBFloat16:
      f(__nv_bfloat16());
      break;
  }
}

}  // namespace infercore::cuda
