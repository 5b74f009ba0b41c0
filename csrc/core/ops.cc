#include "infercore/ops.h"

#include "cpu/cpu_ops.h"
#include "cuda/cuda_ops.h"
#include "validate.h"

namespace infercore {

void attention(const TensorView& q, const TensorView& k, const TensorView& v,
               const TensorView& out, bool causal, std::optional<float> scale, void* stream) {
  const detail::AttentionShape s = detail::check_attention_inputs(q, k, v);
  detail::check_output(out, q.shape, q, {&q, &k, &v});
  const float softmax_scale = detail::check_scale(scale, s.headdim);
  if (detail::numel(q.shape) == 0) return;
  if (q.device.type == DeviceType::kCPU) {
    cpu::attention(s, static_cast<const float*>(q.data), static_cast<const float*>(k.data),
                   static_cast<const float*>(v.data), static_cast<float*>(out.data), causal,
                   softmax_scale);
  } else {
    cuda::attention_ref(s, q.dtype, q.device.index, q.data, k.data, v.data, out.data, causal,
                        softmax_scale, stream);
  }
}

void gemm(const TensorView& a, const TensorView& b, const TensorView& out, void* stream) {
  const detail::GemmShape s = detail::check_gemm_inputs(a, b);
  detail::check_output(out, {s.m, s.n}, a, {&a, &b});
  if (s.m == 0 || s.n == 0) return;
  if (a.device.type == DeviceType::kCPU) {
    cpu::gemm(s, static_cast<const float*>(a.data), static_cast<const float*>(b.data),
              static_cast<float*>(out.data));
  } else {
    cuda::gemm_ref(s, a.dtype, a.device.index, a.data, b.data, out.data, stream);
  }
}

std::vector<int64_t> attention_output_shape(const TensorView& q, const TensorView& k,
                                            const TensorView& v) {
  detail::check_attention_inputs(q, k, v);
  return q.shape;
}

std::vector<int64_t> gemm_output_shape(const TensorView& a, const TensorView& b) {
  const detail::GemmShape s = detail::check_gemm_inputs(a, b);
  return {s.m, s.n};
}

}  // namespace infercore
