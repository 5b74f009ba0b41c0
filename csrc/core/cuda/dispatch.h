// Choosing the kernel for a CUDA op: by the device's compute capability and by
// what the linked kernel libraries contain (their tables list exactly what the
// kernel profile compiled).
//
// attention, "auto": the compiled kernels that run on the device and take the call, best
// first: fa4 (FlashAttention-4, sm_90a and sm_100a), fa3 (a named slot, not built),
// fmha-sm90 (sm_90), fa2 (sm_80 and newer); on a GPU this build has no fast kernels
// for, the reference kernel, with a warning. Two refinements, both on Hopper, where fa4
// and fmha-sm90 can both run a call: kHopperAttentionRules picks between them per shape;
// and when the Hopper FMHA's grid (one CTA per 128 query rows of each batch and kv head)
// would not fill the GPU's SMs -- decode steps, small batches -- and FA2 has split-KV
// kernels for the combination, fa2 runs: it splits the KV sequence across the idle SMs.
// float32 always runs the reference kernel (the fast kernels are half precision). A
// half-precision request on a GPU the build does have fast kernels for, for a head dim,
// dtype, causal flag (or, for fa4, head ratio) that was not compiled, is an error listing
// what is there. "fa3" stays a named slot: FA3's C++ sources are on no reachable registry.
#pragma once

#include <climits>
#include <iterator>
#include <string>
#include <vector>

#include "infercore/kernels/registry.h"

namespace infercore::cuda {

// Backend names, best first, as `backend=` accepts them (plus "auto").
inline constexpr const char* kAttentionBackends[] = {"fa4", "fa3", "fmha-sm90", "fa2", "reference"};
inline constexpr const char* kGemmBackends[] = {"cutlass-sm90", "reference"};

// Which of fa4 and fmha-sm90 "auto" runs where both have a kernel that takes the call
// (Hopper): the first rule whose shape range holds the call names it; no match, fmha-sm90.
// Data, so that the GPU proof's measurements (tests/gpu/bench_kernels.py, per shape) set it
// by editing rows, not logic. Measured on the H200 (docs/BENCHMARKS.md, "FlashAttention-4
// on the H200", 2026-12-02), head dim 128: fa4 beats fmha-sm90 at every seqlen-4096 prefill
// (bf16 and fp16, causal and not: 1.03-1.06x) and the 512-query causal GQA chunk (95.7 us
// against split-KV fa2's 212 us), but not decode steps (87 us against split-KV fa2's
// 20.4): one query row leaves its 128-row tiles idle, and it has no split-KV. So fa4 takes
// head dim 128 from 512 query rows; shorter calls and the head dims not measured stay
// with fmha-sm90, which hands an underfilled grid to split-KV fa2.
inline constexpr int kAnyCausal = -1;
struct HopperAttentionRule {
  const char* backend;          // "fa4" or "fmha-sm90"
  int causal = kAnyCausal;      // 0 or 1 to match only non-causal or causal calls
  int min_seqlen_q = 0;         // the call's seqlen_q within [min_seqlen_q, max_seqlen_q]
  int max_seqlen_q = INT_MAX;
  int headdim = 0;              // 0: any head dim
};
inline constexpr HopperAttentionRule kHopperAttentionRules[] = {
    {"fa4", kAnyCausal, 512, INT_MAX, 128},
};
struct HopperRules {
  const HopperAttentionRule* rules;
  size_t count;
};
inline constexpr HopperRules kHopperRules{kHopperAttentionRules, std::size(kHopperAttentionRules)};

// The backend the rules give a call ("fmha-sm90" when none matches).
std::string hopper_attention_choice(const kernels::AttentionArgs& args, HopperRules rules);

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
                                 const std::string& requested, int sm_count = 0,
                                 HopperRules hopper = kHopperRules);

// Whether the Hopper FMHA's grid for `args` covers fewer CTAs than the GPU has SMs.
bool fmha_underfills(const kernels::AttentionArgs& args, int sm_count);
GemmChoice choose_gemm(int cc, bool half, const kernels::GemmArgs& args,
                       const std::string& requested);

// The linked kernel libraries' tables (generated: kernel_tables.cc).
const std::vector<const kernels::KernelTable*>& kernel_tables();

// "fmha-sm90 bf16 hdim128 causal (sm_90)"-style lines of everything compiled (fa4's with
// its head ratio: "fa4 bf16 hdim128 causal q/kv heads 4 (sm_90)").
std::vector<std::string> attention_inventory();
std::vector<std::string> gemm_inventory();

}  // namespace infercore::cuda
