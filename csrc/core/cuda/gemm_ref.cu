// Reference gemm on the GPU: 32x32 output tiles through shared memory, float
// accumulation. The yardstick for the fast kernels, not one of them.
#include <algorithm>
#include <cstdint>

#include "cuda/cuda_check.h"
#include "cuda/cuda_ops.h"
#include "cuda/dtype.cuh"

namespace infercore::cuda {
namespace {

constexpr int kTile = 32;
constexpr int kRowsPerThread = 4;
constexpr int kThreadRows = kTile / kRowsPerThread;  // blockDim = (kTile, kThreadRows)

template <typename T>
__global__ void __launch_bounds__(kTile * kThreadRows)
    gemm_ref_kernel(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ c,
                    detail::GemmShape s) {
  __shared__ float a_s[kTile][kTile + 1];
  __shared__ float b_s[kTile][kTile + 1];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t tiles_m = (s.m + kTile - 1) / kTile, tiles_n = (s.n + kTile - 1) / kTile;
  // Grid-stride over tiles, so any M and N fit the grid's limits.
  for (int64_t tm = blockIdx.y; tm < tiles_m; tm += gridDim.y) {
    for (int64_t tn = blockIdx.x; tn < tiles_n; tn += gridDim.x) {
      const int64_t row0 = tm * kTile, col = tn * kTile + tx;
      float acc[kRowsPerThread] = {};
      for (int64_t k0 = 0; k0 < s.k; k0 += kTile) {
        for (int r = 0; r < kRowsPerThread; ++r) {
          const int tr = ty + r * kThreadRows;
          const int64_t ar = row0 + tr, ac = k0 + tx, br = k0 + tr;
          a_s[tr][tx] = (ar < s.m && ac < s.k) ? to_float(a[ar * s.k + ac]) : 0.0f;
          b_s[tr][tx] = (br < s.k && col < s.n) ? to_float(b[br * s.n + col]) : 0.0f;
        }
        __syncthreads();
        for (int kk = 0; kk < kTile; ++kk) {
          const float bv = b_s[kk][tx];
          for (int r = 0; r < kRowsPerThread; ++r) acc[r] += a_s[ty + r * kThreadRows][kk] * bv;
        }
        __syncthreads();
      }
      for (int r = 0; r < kRowsPerThread; ++r) {
        const int64_t row = row0 + ty + r * kThreadRows;
        if (row < s.m && col < s.n) c[row * s.n + col] = from_float<T>(acc[r]);
      }
    }
  }
}

}  // namespace

void gemm_ref(const detail::GemmShape& s, DType dtype, int device, const void* a, const void* b,
              void* c, void* stream) {
  DeviceGuard guard(device);
  const int64_t tiles_m = (s.m + kTile - 1) / kTile, tiles_n = (s.n + kTile - 1) / kTile;
  const dim3 grid(static_cast<unsigned>(std::min<int64_t>(tiles_n, int64_t{1} << 30)),
                  static_cast<unsigned>(std::min<int64_t>(tiles_m, 65535)));
  const dim3 block(kTile, kThreadRows);
  dispatch_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    gemm_ref_kernel<T><<<grid, block, 0, static_cast<cudaStream_t>(stream)>>>(
        static_cast<const T*>(a), static_cast<const T*>(b), static_cast<T*>(c), s);
  });
  check(cudaGetLastError(), "gemm reference kernel launch");
}

}  // namespace infercore::cuda
