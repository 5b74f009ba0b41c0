#include "infercore/ops.h"

#include <string>

#include "infercore/build_info.h"
#include "infercore/errors.h"

#include "cpu/cpu_ops.h"
#include "cuda/cuda_ops.h"
#include "log.h"
#include "validate.h"

namespace infercore {

namespace {

void check_cpu_backend(const std::string& backend) {
  if (backend != "auto" && backend != "reference") {
    throw ArgumentError(ErrorKind::kValueError,
                        "backend: CPU tensors run the reference implementation; got backend '" +
                            backend + "', expected 'auto' or 'reference'");
  }
}

void log_cpu_choice(const char* op) {
  if (log::debug_enabled()) {
    log::backend_choice(op, "reference", std::string("CPU, ") + cpu_isa() + " code path, " +
                                             std::to_string(cpu_num_threads()) + " threads");
  }
}

}  // namespace

Dispatch attention(const TensorView& q, const TensorView& k, const TensorView& v,
                   const TensorView& out, bool causal, std::optional<float> scale, void* stream,
                   const std::string& backend) {
  const detail::AttentionShape s = detail::check_attention_inputs(q, k, v);
  detail::check_output(out, q.shape, q, {&q, &k, &v});
  const float softmax_scale = detail::check_scale(scale, s.headdim);
  if (q.device.type == DeviceType::kCPU) {
    check_cpu_backend(backend);
    log_cpu_choice("attention");
    if (detail::numel(q.shape) == 0) return {"reference", ""};
    cpu::attention(s, static_cast<const float*>(q.data), static_cast<const float*>(k.data),
                   static_cast<const float*>(v.data), static_cast<float*>(out.data), causal,
                   softmax_scale);
    return {"reference", ""};
  }
  return cuda::attention(s, q.dtype, q.device.index, q.data, k.data, v.data, out.data, causal,
                         softmax_scale, stream, backend);
}

Dispatch gemm(const TensorView& a, const TensorView& b, const TensorView& out, void* stream,
              const std::string& backend) {
  const detail::GemmShape s = detail::check_gemm_inputs(a, b);
  detail::check_output(out, {s.m, s.n}, a, {&a, &b});
  if (a.device.type == DeviceType::kCPU) {
    check_cpu_backend(backend);
    log_cpu_choice("gemm");
    if (s.m == 0 || s.n == 0) return {"reference", ""};
    cpu::gemm(s, static_cast<const float*>(a.data), static_cast<const float*>(b.data),
              static_cast<float*>(out.data));
    return {"reference", ""};
  }
  return cuda::gemm(s, a.dtype, a.device.index, a.data, b.data, out.data, stream, backend);
}

std::string attention_backend(int device, DType dtype, int64_t headdim, bool causal,
                              int64_t seqlen_q, int64_t seqlen_k, int64_t nheads,
                              int64_t nheads_kv, int64_t batch) {
  // Each parameter named in its error, with the same int32 limit as the
  // dimensions of attention()'s tensors.
  const struct {
    const char* name;
    int64_t value;
    int64_t min;
  } params[] = {{"batch", batch, 1},   {"headdim", headdim, 1}, {"seqlen_q", seqlen_q, 1},
                {"seqlen_k", seqlen_k, 0}, {"nheads", nheads, 1}, {"nheads_kv", nheads_kv, 1}};
  for (const auto& p : params) {
    if (p.value < p.min || p.value > detail::kMaxDim) {
      throw ArgumentError(ErrorKind::kValueError,
                          std::string(p.name) + ": expected " + std::to_string(p.min) + " to " +
                              std::to_string(detail::kMaxDim) + " (int32), got " +
                              std::to_string(p.value));
    }
  }
  if (nheads % nheads_kv != 0) {
    throw ArgumentError(ErrorKind::kValueError,
                        "nheads_kv: expected a divisor of nheads = " + std::to_string(nheads) +
                            ", got " + std::to_string(nheads_kv));
  }
  const detail::AttentionShape s{batch, seqlen_q, seqlen_k, nheads, nheads_kv, headdim};
  return cuda::attention_backend(s, dtype, device, causal);
}

std::vector<KernelInfo> attention_kernels() { return cuda::attention_kernels(); }
std::vector<KernelInfo> gemm_kernels() { return cuda::gemm_kernels(); }
std::vector<std::string> kernel_libraries() { return cuda::kernel_libraries(); }
std::vector<HopperAttentionRuleInfo> hopper_attention_rules() {
  return cuda::hopper_attention_rules();
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
