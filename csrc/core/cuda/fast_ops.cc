// CUDA ops: pick a kernel (dispatch.h) and run it, or the reference kernel.
#include <cstdint>
#include <string>
#include <vector>

#include "cuda/cuda_check.h"
#include "cuda/cuda_ops.h"
#include "cuda/dispatch.h"
#include "infercore/build_info.h"
#include "log.h"

namespace infercore::cuda {
namespace {

kernels::DType kernel_dtype(DType d) {
  return d == DType::kBFloat16 ? kernels::DType::bf16 : kernels::DType::fp16;
}

bool is_half(DType d) { return d != DType::kFloat32; }

// 0 when unknown: the dispatch then makes no shape-based choice.
int sm_count(int device) {
  int n = 0;
  return cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, device) == cudaSuccess ? n : 0;
}

kernels::AttentionArgs attention_args(const detail::AttentionShape& s, DType dtype, bool causal,
                                      float scale, void* stream) {
  kernels::AttentionArgs a;
  a.batch = static_cast<int>(s.batch);
  a.seqlen_q = static_cast<int>(s.seqlen_q);
  a.seqlen_k = static_cast<int>(s.seqlen_k);
  a.nheads = static_cast<int>(s.nheads);
  a.nheads_kv = static_cast<int>(s.nheads_kv);
  a.headdim = static_cast<int>(s.headdim);
  a.dtype = kernel_dtype(dtype);
  a.causal = causal;
  a.scale = scale;
  a.stream = static_cast<cudaStream_t>(stream);
  return a;
}

}  // namespace

Dispatch attention(const detail::AttentionShape& s, DType dtype, int device, const void* q,
                   const void* k, const void* v, void* out, bool causal, float scale,
                   void* stream, const std::string& backend) {
  const int cc = cuda_compute_capability(device);
  kernels::AttentionArgs a = attention_args(s, dtype, causal, scale, stream);
  a.q = q;
  a.k = k;
  a.v = v;
  a.out = out;
  const AttentionChoice choice =
      choose_attention(cc, is_half(dtype), a, backend, sm_count(device));
  if (!choice.warning.empty()) log::warn_once(choice.warning);
  if (log::debug_enabled()) {
    log::backend_choice("attention", choice.backend,
                        "sm_" + std::to_string(cc) + ", " + dtype_name(dtype) + ", head dim " +
                            std::to_string(s.headdim) + (causal ? ", causal" : "") +
                            ", backend='" + backend + "'");
  }
  if (detail::numel({s.batch, s.seqlen_q, s.nheads, s.headdim}) == 0) {
    return {choice.backend, choice.warning};
  }
  if (choice.kernel == nullptr) {
    attention_ref(s, dtype, device, q, k, v, out, causal, scale, stream);
  } else {
    const DeviceGuard guard(device);
    check(choice.kernel->run(a), "attention kernel launch");
  }
  return {choice.backend, choice.warning};
}

Dispatch gemm(const detail::GemmShape& s, DType dtype, int device, const void* a, const void* b,
              void* c, void* stream, const std::string& backend) {
  const int cc = cuda_compute_capability(device);
  kernels::GemmArgs g;
  g.a = a;
  g.b = b;
  g.out = c;
  g.m = static_cast<int>(s.m);
  g.n = static_cast<int>(s.n);
  g.k = static_cast<int>(s.k);
  g.dtype = kernel_dtype(dtype);
  g.stream = static_cast<cudaStream_t>(stream);
  const GemmChoice choice = choose_gemm(cc, is_half(dtype), g, backend);
  if (log::debug_enabled()) {
    log::backend_choice("gemm", choice.backend, "sm_" + std::to_string(cc) + ", " +
                                                    dtype_name(dtype) + ", backend='" + backend + "'");
  }
  if (s.m == 0 || s.n == 0) return {choice.backend, ""};
  if (choice.kernel == nullptr) {
    gemm_ref(s, dtype, device, a, b, c, stream);
  } else {
    const DeviceGuard guard(device);
    check(choice.kernel->run(g), "gemm kernel launch");
  }
  return {choice.backend, ""};
}

std::string attention_backend(const detail::AttentionShape& s, DType dtype, int device,
                              bool causal) {
  const int cc = cuda_compute_capability(device);
  kernels::AttentionArgs a = attention_args(s, dtype, causal, 1.0f, nullptr);
  // Stand-ins for tensors: kernels' supports() only look at the alignment.
  void* aligned = reinterpret_cast<void*>(uintptr_t{256});
  a.q = a.k = a.v = a.out = aligned;
  return choose_attention(cc, is_half(dtype), a, "auto", sm_count(device)).backend;
}

std::vector<HopperAttentionRuleInfo> hopper_attention_rules() {
  std::vector<HopperAttentionRuleInfo> out;
  for (size_t i = 0; i < kHopperRules.count; ++i) {
    const HopperAttentionRule& r = kHopperRules.rules[i];
    out.push_back({r.backend, r.causal, r.min_seqlen_q, r.max_seqlen_q, r.headdim});
  }
  return out;
}

std::vector<KernelInfo> attention_kernels() {
  std::vector<KernelInfo> out;
  for (const kernels::KernelTable* t : kernel_tables()) {
    for (int i = 0; i < t->n_attention; ++i) {
      const kernels::AttentionKernel& k = t->attention[i];
      out.push_back({k.backend, kernels::dtype_name(k.dtype), k.headdim, k.causal, k.cc.min,
                     k.cc.max, t->group, k.split_kv, k.heads_ratio});
    }
  }
  return out;
}

std::vector<KernelInfo> gemm_kernels() {
  std::vector<KernelInfo> out;
  for (const kernels::KernelTable* t : kernel_tables()) {
    for (int i = 0; i < t->n_gemm; ++i) {
      const kernels::GemmKernel& k = t->gemm[i];
      out.push_back({k.backend, kernels::dtype_name(k.dtype), 0, false, k.cc.min, k.cc.max,
                     t->group});
    }
  }
  return out;
}

std::vector<std::string> kernel_libraries() {
  std::vector<std::string> out;
  for (const kernels::KernelTable* t : kernel_tables()) {
    out.push_back(std::string(t->group) + ": profile " + t->profile + ", " + t->archs);
  }
  return out;
}

}  // namespace infercore::cuda
