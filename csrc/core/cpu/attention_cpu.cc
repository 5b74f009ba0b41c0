// CPU attention: per (batch, head, block of query rows), keys in blocks with an
// online softmax, both products on the packed-panel gemm kernel. Memory stays
// bounded by the block sizes whatever seqlen_k is.
#include <cmath>
#include <limits>
#include <memory>

#include "cpu/cpu_ops.h"
#include "cpu/kernels.h"
#include "cpu/parallel.h"

namespace infercore::cpu {
namespace {

constexpr int64_t kBQ = 64;   // query rows per task
constexpr int64_t kBK = 256;  // keys per block (a multiple of 8 and of kNR)

// Floats of scratch one task needs: packed K^T and V blocks, scores, output rows,
// and the running max and sum of every row.
int64_t workspace_floats(int64_t d) {
  return kBK * d + num_panels(d) * kNR * kBK + kBQ * kBK + kBQ * d + 2 * kBQ;
}

template <int W>
INFERCORE_ALWAYS_INLINE void attention_task_impl(const detail::AttentionShape& s, const float* q,
                                                 const float* k, const float* v, float* out,
                                                 bool causal, float scale, int64_t task,
                                                 float* workspace) {
  using V = typename Simd<W>::V;
  const int64_t d = s.headdim, h_count = s.nheads;
  const int64_t q_blocks = (s.seqlen_q + kBQ - 1) / kBQ;
  const int64_t qb = task % q_blocks, bh = task / q_blocks;
  const int64_t b = bh / h_count, h = bh % h_count;
  const int64_t hk = h / (h_count / s.nheads_kv);
  const int64_t i0 = qb * kBQ, bq = std::min(kBQ, s.seqlen_q - i0);
  const int64_t ldq = h_count * d, ldkv = s.nheads_kv * d;
  const float* q_rows = q + ((b * s.seqlen_q + i0) * h_count + h) * d;
  const float* k_rows = k + (b * s.seqlen_k * s.nheads_kv + hk) * d;
  const float* v_rows = v + (b * s.seqlen_k * s.nheads_kv + hk) * d;
  float* out_rows = out + ((b * s.seqlen_q + i0) * h_count + h) * d;

  float* kt = workspace;                           // K block, transposed and packed: d x bk
  float* vp = kt + kBK * d;                        // V block, packed: bk x d
  float* scores = vp + num_panels(d) * kNR * kBK;  // bq x kBK, then probabilities
  float* acc = scores + kBQ * kBK;                 // bq x d, unnormalised output rows
  float* row_max = acc + kBQ * d;
  float* row_sum = row_max + kBQ;

  // Keys query row i may see: [0, visible(i)).
  const int64_t diagonal = s.seqlen_k - s.seqlen_q;
  auto visible = [&](int64_t i) {
    return causal ? std::clamp<int64_t>(i + diagonal + 1, 0, s.seqlen_k) : s.seqlen_k;
  };
  const float neg_inf = -std::numeric_limits<float>::infinity();
  std::fill(acc, acc + bq * d, 0.0f);
  std::fill(row_max, row_max + bq, neg_inf);
  std::fill(row_sum, row_sum + bq, 0.0f);

  const int64_t keys = visible(i0 + bq - 1);  // the last row sees the most
  for (int64_t k0 = 0; k0 < keys; k0 += kBK) {
    const int64_t bk = std::min(kBK, keys - k0), bk8 = (bk + 7) / 8 * 8;
    pack_b(k_rows + k0 * ldkv, ldkv, /*transposed=*/true, d, bk, 0, num_panels(bk), kt);
    gemm_packed<W>(bq, bk, d, q_rows, ldq, kt, scores, kBK, /*accumulate=*/false);
    for (int64_t r = 0; r < bq; ++r) {
      float* row = scores + r * kBK;
      const int64_t n = std::min(visible(i0 + r) - k0, bk);
      if (n <= 0) {  // this row sees none of these keys: its probabilities are 0
        std::fill(row, row + bk8, 0.0f);
        continue;
      }
      for (int64_t j = 0; j < n; ++j) row[j] *= scale;
      std::fill(row + n, row + bk8, neg_inf);
      V vmax = V{} + neg_inf, x;
      for (int64_t j = 0; j < bk8; j += W) {
        load(x, row + j);
        vmax = x > vmax ? x : vmax;
      }
      const float m = std::max(row_max[r], hmax<W>(vmax));
      const float alpha = std::exp(row_max[r] - m);  // rescales what earlier blocks summed
      V vsum = {}, p;
      for (int64_t j = 0; j < bk8; j += W) {
        load(x, row + j);
        exp_nonpositive<W>(p, x - m);
        store(row + j, p);
        vsum += p;
      }
      row_sum[r] = row_sum[r] * alpha + hsum<W>(vsum);
      row_max[r] = m;
      if (alpha != 1.0f) {
        for (float *o = acc + r * d, *end = o + d; o < end; ++o) *o *= alpha;
      }
    }
    pack_b(v_rows + k0 * ldkv, ldkv, /*transposed=*/false, bk, d, 0, num_panels(d), vp);
    gemm_packed<W>(bq, d, bk, scores, kBK, vp, acc, d, /*accumulate=*/true);
  }

  for (int64_t r = 0; r < bq; ++r) {
    float* o = out_rows + r * ldq;
    // A row that saw no key (causal with seqlen_q > seqlen_k) outputs zeros, as FlashAttention.
    const float inv = row_sum[r] > 0.0f ? 1.0f / row_sum[r] : 0.0f;
    for (int64_t j = 0; j < d; ++j) o[j] = acc[r * d + j] * inv;
  }
}
INFERCORE_CPU_KERNEL(attention_task,
                     (const detail::AttentionShape& s, const float* q, const float* k,
                      const float* v, float* out, bool causal, float scale, int64_t task,
                      float* workspace),
                     (s, q, k, v, out, causal, scale, task, workspace))

}  // namespace

void attention(const detail::AttentionShape& s, const float* q, const float* k, const float* v,
               float* out, bool causal, float scale) {
  num_threads();  // report a malformed setting before any work starts
  use_avx2_fma();
  const int64_t tasks = s.batch * s.nheads * ((s.seqlen_q + kBQ - 1) / kBQ);
  const double work = 4.0 * kBQ * static_cast<double>(s.seqlen_k) * static_cast<double>(s.headdim);
  parallel_for(tasks, work, [&](int64_t begin, int64_t end) {
    std::unique_ptr<float[]> workspace(new float[workspace_floats(s.headdim)]);
    for (int64_t t = begin; t < end; ++t) {
      attention_task(s, q, k, v, out, causal, scale, t, workspace.get());
    }
  });
}

}  // namespace infercore::cpu
