// The kernel libraries as they ship, linked whole into one program and walked without a
// GPU (tests/buildsys/test_kernel_libraries.py builds and runs it):
//
//   c++ -std=c++17 -DINFERCORE_TEST_GROUPS="X(sm90) X(sm100)" test_kernel_libraries.cc
//       -Wl,--whole-archive libinfercore_kernels_sm90.a libinfercore_kernels_sm100.a
//       -Wl,--no-whole-archive libcudart_static.a -ldl -lpthread -lrt
//
// --whole-archive links every member, so every undefined symbol of every object -- FA2,
// CUTLASS, each FA4 variant and the CuTe DSL runtime joined with them -- must resolve
// against the CUDA runtime, the C++ runtime and libc alone (no torch, no Python, no
// TVM-FFI), and two groups' libraries must not define the same symbol. Then every table
// entry must have its functions, and each FA4 variant must take exactly the calls it was
// compiled for: its dtype, head dim, causal flag and head ratio (the checks run on the
// host; nothing is launched).
#include <cstdint>
#include <cstdio>
#include <string>

#include "infercore/kernels/registry.h"

#ifndef INFERCORE_TEST_GROUPS
#error "compile with -DINFERCORE_TEST_GROUPS='X(sm90) X(sm100)': the linked groups"
#endif

namespace infercore::kernels {
#define X(group) INFERCORE_DECLARE_KERNEL_TABLE(group);
INFERCORE_TEST_GROUPS
#undef X
}  // namespace infercore::kernels

namespace {

using infercore::kernels::AttentionArgs;
using infercore::kernels::AttentionKernel;
using infercore::kernels::KernelTable;

int failures = 0;

void expect(bool ok, const std::string& what) {
    if (!ok) {
        ++failures;
        std::printf("FAILED: %s\n", what.c_str());
    }
}

// A call the variant was compiled for (pointers: 16-byte aligned stand-ins).
AttentionArgs call_for(const AttentionKernel& k) {
    AttentionArgs a;
    a.q = a.k = a.v = a.out = reinterpret_cast<void*>(uintptr_t{1} << 20);
    a.batch = 2;
    a.seqlen_q = a.seqlen_k = 256;
    a.nheads_kv = 4;
    a.nheads = 4 * k.heads_ratio;
    a.headdim = k.headdim;
    a.dtype = k.dtype;
    a.causal = k.causal;
    a.scale = 0.0883883f;
    return a;
}

void check_fa4(const KernelTable& t, const AttentionKernel& k, const std::string& name) {
    expect(k.heads_ratio > 0, name + ": no head ratio");
    expect(k.cc.min == k.cc.max, name + ": arch-specific code must name one compute capability");
    const AttentionArgs ok = call_for(k);
    expect(k.supports(ok), name + ": refuses the call it was compiled for");
    AttentionArgs other = ok;
    other.nheads = 4 * (k.heads_ratio + 1);
    expect(!k.supports(other), name + ": takes a head ratio it was not compiled for");
    other = ok;
    other.headdim = k.headdim == 128 ? 64 : 128;
    expect(!k.supports(other), name + ": takes another head dim");
    other = ok;
    other.q = reinterpret_cast<const char*>(ok.q) + 8;
    expect(!k.supports(other), name + ": takes a pointer that is not 16-byte aligned");
    std::printf("  %s fa4 %s hdim%d%s q/kv heads %d sm_%d\n", t.group,
                infercore::kernels::dtype_name(k.dtype), k.headdim, k.causal ? " causal" : "",
                k.heads_ratio, k.cc.min);
}

}  // namespace

int main() {
    const KernelTable* tables[] = {
#define X(group) &infercore::kernels::table_##group(),
        INFERCORE_TEST_GROUPS
#undef X
    };
    int fa4 = 0;
    for (const KernelTable* t : tables) {
        std::printf("%s: profile %s, %s, %d attention and %d gemm kernels\n", t->group, t->profile,
                    t->archs, t->n_attention, t->n_gemm);
        for (int i = 0; i < t->n_attention; ++i) {
            const AttentionKernel& k = t->attention[i];
            const std::string name = std::string(t->group) + " attention #" + std::to_string(i);
            expect(k.backend && k.supports && k.run, name + ": incomplete entry");
            if (k.backend && std::string(k.backend) == "fa4") {
                check_fa4(*t, k, name);
                ++fa4;
            }
        }
        for (int i = 0; i < t->n_gemm; ++i) {
            const auto& g = t->gemm[i];
            expect(g.backend && g.supports && g.run, std::string(t->group) + " gemm: incomplete entry");
        }
    }
    std::printf("%d fa4 variant(s), %d failure(s)\n", fa4, failures);
    return failures == 0 && fa4 > 0 ? 0 : 1;
}
