#include "cuda/dispatch.h"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <string>

#include "infercore/errors.h"

namespace infercore::cuda {
namespace {

using kernels::AttentionKernel;
using kernels::GemmKernel;

int rank(const char* const* names, size_t n, const std::string& backend) {
  for (size_t i = 0; i < n; ++i) {
    if (backend == names[i]) return static_cast<int>(i);
  }
  return -1;
}

int attention_rank(const std::string& backend) {
  return rank(kAttentionBackends, std::size(kAttentionBackends), backend);
}

std::string sm(int cc) { return "sm_" + std::to_string(cc); }

std::string cc_text(const kernels::CcRange& r) {
  if (r.min == r.max) return sm(r.min);
  if (r.max >= 999) return sm(r.min) + "+";
  return sm(r.min) + "-" + sm(r.max);
}

std::string describe(const AttentionKernel& k) {
  const std::string ratio =
      k.heads_ratio > 0 ? " q/kv heads " + std::to_string(k.heads_ratio) : std::string();
  return std::string(k.backend) + " " + kernels::dtype_name(k.dtype) + " hdim" +
         std::to_string(k.headdim) + (k.causal ? " causal" : " non-causal") + ratio + " (" +
         cc_text(k.cc) + ")";
}

bool is(const AttentionKernel* k, const char* backend) { return std::string(k->backend) == backend; }

std::string describe(const GemmKernel& k) {
  return std::string(k.backend) + " " + kernels::dtype_name(k.dtype) + " (" + cc_text(k.cc) + ")";
}

std::string joined(const std::vector<std::string>& items) {
  std::string s;
  for (const std::string& item : items) s += (s.empty() ? "" : "; ") + item;
  return s.empty() ? "none" : s;
}

std::string profiles() {
  std::string s;
  for (const kernels::KernelTable* t : kernel_tables()) {
    s += (s.empty() ? "" : ", ") + std::string(t->group) + " profile " + t->profile;
  }
  return s.empty() ? "no kernel libraries linked" : s;
}

[[noreturn]] void bad_request(const std::string& msg) {
  throw ArgumentError(ErrorKind::kValueError, msg);
}

void check_requested(const std::string& requested, const char* const* names, size_t n) {
  if (requested == "auto" || rank(names, n, requested) >= 0) return;
  std::string known = "auto";
  for (size_t i = 0; i < n; ++i) known += std::string(", ") + names[i];
  bad_request("backend: unknown backend '" + requested + "'; expected one of " + known);
}

}  // namespace

std::vector<std::string> attention_inventory() {
  std::vector<std::string> out;
  for (const kernels::KernelTable* t : kernel_tables()) {
    for (int i = 0; i < t->n_attention; ++i) out.push_back(describe(t->attention[i]));
  }
  return out;
}

std::vector<std::string> gemm_inventory() {
  std::vector<std::string> out;
  for (const kernels::KernelTable* t : kernel_tables()) {
    for (int i = 0; i < t->n_gemm; ++i) out.push_back(describe(t->gemm[i]));
  }
  return out;
}

std::string hopper_attention_choice(const kernels::AttentionArgs& a, HopperRules hopper) {
  for (size_t i = 0; i < hopper.count; ++i) {
    const HopperAttentionRule& r = hopper.rules[i];
    if (r.causal != kAnyCausal && r.causal != int{a.causal}) continue;
    if (a.seqlen_q < r.min_seqlen_q || a.seqlen_q > r.max_seqlen_q) continue;
    if (r.headdim != 0 && r.headdim != a.headdim) continue;
    return r.backend;
  }
  return "fmha-sm90";
}

bool fmha_underfills(const kernels::AttentionArgs& a, int sm_count) {
  // Per launch: ceil(seqlen_q / 128) x batch x kv heads (GQA positions launch in turn).
  const int64_t ctas = int64_t{(a.seqlen_q + 127) / 128} * a.batch * a.nheads_kv;
  return sm_count > 0 && ctas < sm_count;
}

AttentionChoice choose_attention(int cc, bool half, const kernels::AttentionArgs& a,
                                 const std::string& requested, int sm_count, HopperRules hopper) {
  check_requested(requested, kAttentionBackends, std::size(kAttentionBackends));
  if (requested == "reference") return {nullptr, "reference", ""};
  if (!half) {
    if (requested != "auto") {
      bad_request("backend: '" + requested +
                  "' runs float16/bfloat16 only; float32 runs the reference kernel "
                  "(backend='auto' or 'reference')");
    }
    return {nullptr, "reference", ""};
  }
  bool any_for_device = false;  // does this build have fast kernels for this GPU at all?
  std::vector<const AttentionKernel*> matching;
  std::vector<std::string> on_device;
  for (const kernels::KernelTable* t : kernel_tables()) {
    for (int i = 0; i < t->n_attention; ++i) {
      const AttentionKernel& k = t->attention[i];
      if (!k.cc.contains(cc)) continue;
      any_for_device = true;
      on_device.push_back(describe(k));
      if (requested != "auto" && requested != k.backend) continue;
      if (k.dtype == a.dtype && k.headdim == a.headdim && k.causal == a.causal) {
        matching.push_back(&k);
      }
    }
  }
  // Where fa4 and fmha-sm90 both take the call, the Hopper rules say which goes first.
  const auto takes = [&](const char* backend) {
    return std::any_of(matching.begin(), matching.end(),
                       [&](const auto* k) { return is(k, backend) && k->supports(a); });
  };
  const bool fmha_first = requested == "auto" && takes("fa4") && takes("fmha-sm90") &&
                          hopper_attention_choice(a, hopper) == "fmha-sm90";
  const auto order = [&](const AttentionKernel* k) {
    const int r = 2 * attention_rank(k->backend);
    return fmha_first && is(k, "fa4") ? 2 * attention_rank("fmha-sm90") + 1 : r;
  };
  std::stable_sort(matching.begin(), matching.end(),
                   [&](const auto* x, const auto* y) { return order(x) < order(y); });
  for (const AttentionKernel* k : matching) {
    if (!k->supports(a)) continue;
    if (requested == "auto" && std::string(k->backend) == "fmha-sm90" &&
        fmha_underfills(a, sm_count)) {
      const auto split_fa2 = std::find_if(matching.begin(), matching.end(), [&](const auto* f) {
        return f->split_kv && std::string(f->backend) == "fa2" && f->supports(a);
      });
      if (split_fa2 != matching.end()) return {*split_fa2, (*split_fa2)->backend, ""};
    }
    return {k, k->backend, ""};
  }
  const std::string what = std::string(kernels::dtype_name(a.dtype)) + " head dim " +
                           std::to_string(a.headdim) + (a.causal ? " causal" : " non-causal");
  if (!any_for_device && requested == "auto") {
    return {nullptr, "reference",
            "infercore: this build has no fast attention kernels for " + sm(cc) + " (" +
                profiles() + "); " + what +
                " runs on the slow reference kernel. Build the kernels for this GPU "
                "(nox -s kernels-<group>) to get FlashAttention."};
  }
  if (!matching.empty()) {
    std::vector<std::string> compiled;
    for (const AttentionKernel* k : matching) compiled.push_back(describe(*k));
    bad_request("attention: the compiled kernels for " + what + " on " + sm(cc) +
                " cannot take this shape (batch " + std::to_string(a.batch) + ", seqlen_q " +
                std::to_string(a.seqlen_q) + ", seqlen_k " + std::to_string(a.seqlen_k) +
                ", nheads " + std::to_string(a.nheads) + "/" + std::to_string(a.nheads_kv) +
                "; compiled: " + joined(compiled) +
                "); pass backend='reference' for the reference kernel");
  }
  bad_request("attention: no " + (requested == "auto" ? std::string("") : requested + " ") +
              "kernel for " + what + " on " + sm(cc) + " in this build (" + profiles() +
              "). It contains: " + joined(on_device) +
              ". Build a kernel profile that has it (e.g. nox -s kernels-sm90 -- --profile "
              "release) or pass backend='reference' for the slow reference kernel.");
}

GemmChoice choose_gemm(int cc, bool half, const kernels::GemmArgs& a, const std::string& requested) {
  check_requested(requested, kGemmBackends, std::size(kGemmBackends));
  if (requested == "reference") return {nullptr, "reference"};
  for (const kernels::KernelTable* t : kernel_tables()) {
    for (int i = 0; i < t->n_gemm; ++i) {
      const GemmKernel& k = t->gemm[i];
      if (half && k.cc.contains(cc) && k.dtype == a.dtype && k.supports(a)) return {&k, k.backend};
    }
  }
  if (requested != "auto") {
    bad_request("gemm: backend '" + requested + "' has no kernel for this dtype/shape on " + sm(cc) +
                " in this build; it contains: " + joined(gemm_inventory()));
  }
  return {nullptr, "reference"};
}

}  // namespace infercore::cuda
