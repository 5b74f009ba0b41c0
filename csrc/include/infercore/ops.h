// The engine's operators. Every entry point validates its arguments first and
// throws infercore::ArgumentError (never crashes) on bad input; the output
// tensor is always provided by the caller.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "infercore/tensor.h"

namespace infercore {

// Which implementation an op ran, and a warning for the caller to show (empty: none).
struct Dispatch {
  std::string backend;
  std::string warning;
};

// FlashAttention layout: q (batch, seqlen_q, nheads, headdim); k, v
// (batch, seqlen_k, nheads_kv, headdim) with nheads % nheads_kv == 0; out has
// q's shape. scale defaults to 1/sqrt(headdim). With causal, query i may see
// key j iff j <= i + seqlen_k - seqlen_q (the last query aligns with the last key);
// a query row that sees no key (seqlen_q > seqlen_k) outputs zeros, as in FlashAttention.
// CPU tensors must be float32; CUDA ones float32, float16 or bfloat16 (float accumulation).
// stream: a cudaStream_t for CUDA tensors (nullptr: the legacy default stream).
// backend: "auto" (see csrc/core/cuda/dispatch.h for the rules), or a name:
// "reference", "fa2", "fmha-sm90" (CPU tensors: "auto" or "reference").
Dispatch attention(const TensorView& q, const TensorView& k, const TensorView& v,
                   const TensorView& out, bool causal, std::optional<float> scale,
                   void* stream = nullptr, const std::string& backend = "auto");

// Row-major (M, K) @ (K, N) -> out (M, N). backend: "auto", "reference", "cutlass-sm90".
Dispatch gemm(const TensorView& a, const TensorView& b, const TensorView& out,
              void* stream = nullptr, const std::string& backend = "auto");

// The attention backend "auto" would pick on CUDA device `device` for these
// parameters; throws ArgumentError where attention() would.
std::string attention_backend(int device, DType dtype, int64_t headdim, bool causal,
                              int64_t seqlen_q, int64_t seqlen_k, int64_t nheads,
                              int64_t nheads_kv, int64_t batch = 1);

// What the linked kernel libraries contain: one entry per compiled kernel, and
// the libraries themselves ("sm90: profile ci, fa2=90-real cutlass-sm90=90a-real").
struct KernelInfo {
  std::string backend;  // "fa2", "fmha-sm90", "fa4", "cutlass-sm90"
  std::string dtype;    // "bf16", "fp16"
  int headdim = 0;      // attention only
  bool causal = false;  // attention only
  int cc_min = 0;       // compute capabilities it runs on (major*10+minor)
  int cc_max = 0;
  std::string library;  // arch group, e.g. "sm90"
  bool split_kv = false;  // attention: splits the KV sequence when the GPU would idle (fa2)
  int heads_ratio = 0;    // attention: the nheads / nheads_kv it is compiled for (fa4); 0: any
};
std::vector<KernelInfo> attention_kernels();
std::vector<KernelInfo> gemm_kernels();
std::vector<std::string> kernel_libraries();

// On Hopper, where fa4 and fmha-sm90 both take a call, which one "auto" runs: the first
// rule whose ranges hold the call names it; none matches: fmha-sm90. The dispatcher's own
// table (dispatch.h), listed so that users and the GPU tests read it instead of a copy.
struct HopperAttentionRuleInfo {
  std::string backend;    // "fa4" or "fmha-sm90"
  int causal = -1;        // -1: either; 0 or 1: non-causal or causal calls only
  int min_seqlen_q = 0;   // seqlen_q in [min_seqlen_q, max_seqlen_q]
  int max_seqlen_q = 0;
  int headdim = 0;        // 0: any head dim
};
std::vector<HopperAttentionRuleInfo> hopper_attention_rules();  // empty in a CPU-only build

// Shapes of the outputs for valid inputs; these run the same validation as the
// ops (minus the output checks), so the bindings can allocate `out` safely.
std::vector<int64_t> attention_output_shape(const TensorView& q, const TensorView& k,
                                            const TensorView& v);
std::vector<int64_t> gemm_output_shape(const TensorView& a, const TensorView& b);

}  // namespace infercore
