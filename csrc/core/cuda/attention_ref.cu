// Reference attention on the GPU: one thread block per query row, keys in chunks
// with an online softmax, everything accumulated in float. Simple on purpose: it
// is the yardstick for the fast kernels, so it favours obviousness over speed.
#include <algorithm>
#include <cstdint>

#include "cuda/cuda_check.h"
#include "cuda/cuda_ops.h"
#include "cuda/dtype.cuh"

namespace infercore::cuda {
namespace {

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;
constexpr int kChunk = 64;  // keys per chunk; at most kThreads (one thread exponentiates each)

// Rows are (batch, query, head) in q's memory order, so row r of q and out
// starts at r * headdim. Shared memory: q row, output accumulator (headdim
// floats each) and the chunk's scores.
template <typename T>
__global__ void __launch_bounds__(kThreads)
    attention_ref_kernel(const T* __restrict__ q, const T* __restrict__ k,
                         const T* __restrict__ v, T* __restrict__ out, detail::AttentionShape s,
                         bool causal, float scale) {
  extern __shared__ float smem[];
  const int64_t d = s.headdim;
  float* q_s = smem;
  float* acc_s = q_s + d;
  float* p_s = acc_s + d;
  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  const int64_t rows = s.batch * s.seqlen_q * s.nheads;
  const int64_t ldkv = s.nheads_kv * d;

  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const int64_t h = row % s.nheads;
    const int64_t i = (row / s.nheads) % s.seqlen_q;
    const int64_t b = row / (s.nheads * s.seqlen_q);
    const int64_t hk = h / (s.nheads / s.nheads_kv);
    const T* k_head = k + (b * s.seqlen_k * s.nheads_kv + hk) * d;
    const T* v_head = v + (b * s.seqlen_k * s.nheads_kv + hk) * d;
    // Keys [0, n) are visible; the causal diagonal aligns the last query with the last key.
    const int64_t n =
        causal ? min(max(i + s.seqlen_k - s.seqlen_q + 1, int64_t{0}), s.seqlen_k) : s.seqlen_k;

    for (int64_t j = tid; j < d; j += kThreads) {
      q_s[j] = to_float(q[row * d + j]);
      acc_s[j] = 0.0f;
    }
    __syncthreads();

    float m = -INFINITY, l = 0.0f;
    for (int64_t c0 = 0; c0 < n; c0 += kChunk) {
      const int cn = static_cast<int>(min(static_cast<int64_t>(kChunk), n - c0));
      for (int jj = warp; jj < cn; jj += kWarps) {
        const T* k_row = k_head + (c0 + jj) * ldkv;
        float dot = 0.0f;
        for (int64_t j = lane; j < d; j += 32) dot += q_s[j] * to_float(k_row[j]);
        for (int offset = 16; offset > 0; offset /= 2) {
          dot += __shfl_xor_sync(0xffffffffu, dot, offset);
        }
        if (lane == 0) p_s[jj] = dot * scale;
      }
      __syncthreads();
      // Every thread computes the same max and sum from shared memory.
      float chunk_max = -INFINITY;
      for (int jj = 0; jj < cn; ++jj) chunk_max = fmaxf(chunk_max, p_s[jj]);
      const float m_new = fmaxf(m, chunk_max);
      const float alpha = expf(m - m_new);
      __syncthreads();  // all scores read before they become probabilities
      if (tid < cn) p_s[tid] = expf(p_s[tid] - m_new);
      __syncthreads();
      float chunk_sum = 0.0f;
      for (int jj = 0; jj < cn; ++jj) chunk_sum += p_s[jj];
      l = l * alpha + chunk_sum;
      m = m_new;
      for (int64_t j = tid; j < d; j += kThreads) {
        float a = acc_s[j] * alpha;
        for (int jj = 0; jj < cn; ++jj) a += p_s[jj] * to_float(v_head[(c0 + jj) * ldkv + j]);
        acc_s[j] = a;
      }
      __syncthreads();  // probabilities used before the next chunk overwrites them
    }

    // A row that saw no key (causal with seqlen_q > seqlen_k) outputs zeros, as FlashAttention.
    const float inv = l > 0.0f ? 1.0f / l : 0.0f;
    for (int64_t j = tid; j < d; j += kThreads) out[row * d + j] = from_float<T>(acc_s[j] * inv);
    __syncthreads();  // q_s and acc_s are reused by the next row
  }
}

}  // namespace

void attention_ref(const detail::AttentionShape& s, DType dtype, int device, const void* q,
                   const void* k, const void* v, void* out, bool causal, float scale,
                   void* stream) {
  static_assert(kChunk <= kThreads, "one thread exponentiates each key of a chunk");
  DeviceGuard guard(device);
  const int64_t rows = s.batch * s.seqlen_q * s.nheads;
  const unsigned blocks = static_cast<unsigned>(std::min<int64_t>(rows, int64_t{1} << 30));
  const size_t smem = (2 * s.headdim + kChunk) * sizeof(float);
  dispatch_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    attention_ref_kernel<T><<<blocks, kThreads, smem, static_cast<cudaStream_t>(stream)>>>(
        static_cast<const T*>(q), static_cast<const T*>(k), static_cast<const T*>(v),
        static_cast<T*>(out), s, causal, scale);
  });
  check(cudaGetLastError(), "attention reference kernel launch");
}

}  // namespace infercore::cuda
