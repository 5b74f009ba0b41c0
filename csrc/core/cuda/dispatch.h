// Choosing the kernel for a CUDA op: by the device's compute capability and by
// what the linked kernel libraries contain (their tables list exactly what the
// kernel profile compiled).
//
// attention, "auto": fmha-sm90 where it is compiled and runs on the device
// (sm_90), else fa2 (sm_80 and newer), else -- on a GPU this build has no fast
// kernels for -- the reference kernel, with a warning. One exception: when the
// Hopper FMHA's grid (one CTA per 128 query rows of each batch and kv head)
// would not fill the GPU's SMs -- decode steps, small batches -- and FA2 has
// split-KV kernels for the combination, fa2 runs: it splits the KV sequence
// across the idle SMs. float32 always runs the
// reference kernel (the fast kernels are half precision). A half-precision
// request on a GPU the build does have fast kernels for, for a head dim, dtype
// or causal flag that was not compiled, is an error listing what is there.
// The slots for FlashAttention 3 (Hopper) and 4 (Blackwell) are the backend
// names "fa3" and "fa4", ranked above fmha-sm90 once a family provides them.
#pragma once

#include <string>
#include <vector>

#include "infercore/kernels/registry.h"

namespace infercore::cuda {

// Backend names, best first, as `backend=` accepts them (plus "auto").
inline constexpr const char* kAttentionBackends[] = {"fa4", "fa3", "fmha-sm90", "fa2", "reference"};
inline constexpr const char* kGemmBackends[] = {"cutlass-sm90", "reference"};

struct AttentionChoice {
  const kernels::AttentionKernel* kernel = nullptr;  // nullptr: the reference kernel
  std::string backend;                               // "fmha-sm90", "fa2", "reference"
  std::string warning;                               // non-empty: tell the user
};

struct GemmChoice {
  const kernels::GemmKernel* kernel = nullptr;
  std::string backend;
};

// `half` is false for float32; `sm_count` is the device's SM count (0: unknown,
// no shape-based choice). Throws ArgumentError (a ValueError in Python) for a
// request this build cannot serve.
AttentionChoice choose_attention(int cc, bool half, const kernels::AttentionArgs& args,
                                 const std::string& requested, int sm_count = 0);

// Whether the Hopper FMHA's grid for `args` covers fewer CTAs than the GPU has SMs.
bool fmha_underfills(const kernels::AttentionArgs& args, int sm_count);
GemmChoice choose_gemm(int cc, bool half, const kernels::GemmArgs& args,
                       const std::string& requested);

// The linked kernel libraries' tables (generated: kernel_tables.cc).
const std::vector<const kernels::KernelTable*>& kernel_tables();

// "fmha-sm90 bf16 hdim128 causal (sm_90)"-style lines of everything compiled.
std::vector<std::string> attention_inventory();
std::vector<std::string> gemm_inventory();

}  // namespace infercore::cuda
