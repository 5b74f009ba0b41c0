// The CUDA kernel dispatcher (csrc/core/cuda/dispatch.cc) decides which kernel an
// op runs from the device's compute capability and the linked kernel libraries'
// tables. It is plain C++: this test compiles it against tables of its own (stub
// kernels that never launch), so every decision is checked without a GPU. The fa4
// stubs answer with the real checks of FA4's entries (csrc/kernels/fa4/fa4_entry.cc).
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "cuda/dispatch.h"
#include "fa4_entry.h"
#include "infercore/errors.h"

namespace infercore::cuda {
namespace {

using kernels::AttentionArgs;
using kernels::AttentionKernel;
using kernels::DType;
using kernels::GemmArgs;
using kernels::GemmKernel;

bool always(const AttentionArgs&) { return true; }
// The stub "fmha-sm90" takes only sequence lengths that are multiples of 8.
bool multiple_of_8(const AttentionArgs& a) { return a.seqlen_k % 8 == 0; }
cudaError_t launch(const AttentionArgs&) { return cudaSuccess; }
bool gemm_always(const GemmArgs&) { return true; }
cudaError_t gemm_launch(const GemmArgs&) { return cudaSuccess; }

using kernels::Fa4Variant;
constexpr Fa4Variant kFa4Bf16{DType::bf16, 128, false, 1};
constexpr Fa4Variant kFa4Bf16Causal{DType::bf16, 128, true, 1};
constexpr Fa4Variant kFa4Bf16Gqa4{DType::bf16, 128, false, 4};
bool fa4_bf16(const AttentionArgs& a) { return kernels::fa4_supports(a, kFa4Bf16); }
bool fa4_bf16_causal(const AttentionArgs& a) { return kernels::fa4_supports(a, kFa4Bf16Causal); }
bool fa4_bf16_gqa4(const AttentionArgs& a) { return kernels::fa4_supports(a, kFa4Bf16Gqa4); }

const AttentionKernel kSm80[] = {
    {"fa2", DType::bf16, 128, false, {80, 89}, &always, &launch},
    {"fa2", DType::bf16, 128, true, {80, 89}, &always, &launch},
};
const AttentionKernel kSm90[] = {
    {"fa2", DType::bf16, 128, false, {90, 90}, &always, &launch},
    {"fmha-sm90", DType::bf16, 128, false, {90, 90}, &multiple_of_8, &launch},
    {"fmha-sm90", DType::bf16, 128, true, {90, 90}, &multiple_of_8, &launch},
    // fp16: FA2 with split-KV kernels beside the Hopper FMHA.
    {"fa2", DType::fp16, 128, false, {90, 90}, &always, &launch, /*split_kv=*/true},
    {"fmha-sm90", DType::fp16, 128, false, {90, 90}, &always, &launch},
    // FA4 for Hopper: multi-head and one grouped-query ratio, non-causal; causal too.
    {"fa4", DType::bf16, 128, false, {90, 90}, &fa4_bf16, &launch, false, 1},
    {"fa4", DType::bf16, 128, false, {90, 90}, &fa4_bf16_gqa4, &launch, false, 4},
    {"fa4", DType::bf16, 128, true, {90, 90}, &fa4_bf16_causal, &launch, false, 1},
};
// Blackwell: FA4 (sm_100a, arch-specific) beside FA2 (sm_100 SASS and PTX).
const AttentionKernel kSm100[] = {
    {"fa2", DType::bf16, 128, false, {100, 999}, &always, &launch, /*split_kv=*/true},
    {"fa4", DType::bf16, 128, false, {100, 100}, &fa4_bf16, &launch, false, 1},
    {"fa4", DType::bf16, 128, true, {100, 100}, &fa4_bf16_causal, &launch, false, 1},
};
const GemmKernel kGemmSm90[] = {{"cutlass-sm90", DType::bf16, {90, 90}, &gemm_always, &gemm_launch}};
const kernels::KernelTable kTableSm80{"sm80", "test", "fa2=80-real", kSm80, 2, nullptr, 0};
const kernels::KernelTable kTableSm90{"sm90", "test", "fa2=90-real", kSm90, 8, kGemmSm90, 1};
const kernels::KernelTable kTableSm100{"sm100", "test", "fa4=100a-real", kSm100, 3, nullptr, 0};
constexpr int kH200Sms = 132;
// 16-byte aligned stand-ins for device pointers: nothing is launched.
void* const kAligned = reinterpret_cast<void*>(uintptr_t{4096});

AttentionArgs args(DType dtype, int headdim, bool causal, int seqlen_k = 64) {
  AttentionArgs a;
  a.batch = 1;
  a.seqlen_q = 64;
  a.seqlen_k = seqlen_k;
  a.nheads = 8;
  a.nheads_kv = 8;
  a.headdim = headdim;
  a.dtype = dtype;
  a.causal = causal;
  a.q = a.k = a.v = a.out = kAligned;
  a.scale = 0.088f;
  return a;
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const ArgumentError& err) {
    EXPECT_EQ(err.kind(), ErrorKind::kValueError);
    return err.what();
  }
  ADD_FAILURE() << "no ArgumentError";
  return "";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(KernelDispatch, HopperPrefersTheHopperKernel) {
  const AttentionChoice c = choose_attention(90, true, args(DType::bf16, 128, true), "auto");
  EXPECT_EQ(c.backend, "fmha-sm90");
  EXPECT_EQ(c.kernel, &kSm90[2]);
  EXPECT_TRUE(c.warning.empty());
}

TEST(KernelDispatch, AShapeTheBestKernelRefusesFallsToTheNext) {
  // The Hopper FMHA refuses seqlen_k 60 (the stub's rule): fa4, the next one, runs it.
  const AttentionChoice c = choose_attention(90, true, args(DType::bf16, 128, false, 60), "auto");
  EXPECT_EQ(c.backend, "fa4");
  EXPECT_EQ(c.kernel, &kSm90[5]);
  // With a head ratio fa4 was not compiled for (8/4), fa2.
  AttentionArgs ratio2 = args(DType::bf16, 128, false, 60);
  ratio2.nheads_kv = 4;
  const AttentionChoice next = choose_attention(90, true, ratio2, "auto");
  EXPECT_EQ(next.backend, "fa2");
  EXPECT_EQ(next.kernel, &kSm90[0]);
}

AttentionArgs shape(DType dtype, int batch, int seqlen_q, int seqlen_k, int nheads, int nheads_kv) {
  AttentionArgs a = args(dtype, 128, false, seqlen_k);
  a.batch = batch;
  a.seqlen_q = seqlen_q;
  a.nheads = nheads;
  a.nheads_kv = nheads_kv;
  return a;
}

TEST(KernelDispatch, FmhaUnderfillsWhenItsGridIsUnderOneCtaPerSm) {
  // ceil(seqlen_q / 128) * batch * nheads_kv CTAs per launch.
  EXPECT_TRUE(fmha_underfills(shape(DType::fp16, 1, 1, 8192, 32, 8), kH200Sms));       // 8
  EXPECT_TRUE(fmha_underfills(shape(DType::fp16, 131, 1, 64, 8, 1), kH200Sms));        // 131
  EXPECT_FALSE(fmha_underfills(shape(DType::fp16, 132, 1, 64, 8, 1), kH200Sms));       // 132
  EXPECT_FALSE(fmha_underfills(shape(DType::fp16, 1, 4096, 4096, 32, 32), kH200Sms));  // 1024
  EXPECT_FALSE(fmha_underfills(shape(DType::fp16, 1, 1, 8192, 32, 8), 0));  // SMs unknown
}

TEST(KernelDispatch, DecodeOnHopperRunsSplitKvFlashAttention) {
  const AttentionArgs decode = shape(DType::fp16, 1, 1, 8192, 32, 8);
  const AttentionChoice c = choose_attention(90, true, decode, "auto", kH200Sms);
  EXPECT_EQ(c.backend, "fa2");
  EXPECT_EQ(c.kernel, &kSm90[3]);
  // A prefill that fills the GPU keeps the Hopper FMHA.
  const AttentionArgs prefill = shape(DType::fp16, 1, 4096, 4096, 32, 32);
  EXPECT_EQ(choose_attention(90, true, prefill, "auto", kH200Sms).backend, "fmha-sm90");
  // Without split-KV kernels (bf16 here), or without the SM count, nothing changes.
  EXPECT_EQ(choose_attention(90, true, shape(DType::bf16, 1, 1, 8192, 32, 8), "auto", kH200Sms)
                .backend,
            "fmha-sm90");
  EXPECT_EQ(choose_attention(90, true, decode, "auto").backend, "fmha-sm90");
  // A named backend is never second-guessed.
  EXPECT_EQ(choose_attention(90, true, decode, "fmha-sm90", kH200Sms).backend, "fmha-sm90");
}

TEST(KernelDispatch, AnExplicitBackendIsHonoured) {
  EXPECT_EQ(choose_attention(90, true, args(DType::bf16, 128, false), "fa2").backend, "fa2");
  const AttentionChoice ref = choose_attention(90, true, args(DType::bf16, 128, false), "reference");
  EXPECT_EQ(ref.backend, "reference");
  EXPECT_EQ(ref.kernel, nullptr);
}

TEST(KernelDispatch, AmpereGetsFlashAttention2) {
  const AttentionChoice c = choose_attention(86, true, args(DType::bf16, 128, true), "auto");
  EXPECT_EQ(c.backend, "fa2");
  EXPECT_EQ(c.kernel, &kSm80[1]);
}

TEST(KernelDispatch, AGpuWithoutFastKernelsFallsBackWithAWarning) {
  const AttentionChoice c = choose_attention(75, true, args(DType::bf16, 128, false), "auto");
  EXPECT_EQ(c.backend, "reference");
  EXPECT_EQ(c.kernel, nullptr);
  EXPECT_TRUE(contains(c.warning, "no fast attention kernels for sm_75")) << c.warning;
  EXPECT_TRUE(contains(c.warning, "nox -s kernels-")) << c.warning;
}

TEST(KernelDispatch, Float32RunsTheReferenceKernel) {
  const AttentionChoice c = choose_attention(90, false, args(DType::bf16, 128, false), "auto");
  EXPECT_EQ(c.backend, "reference");
  EXPECT_TRUE(c.warning.empty());
  EXPECT_TRUE(contains(
      error_of([] { choose_attention(90, false, args(DType::bf16, 128, false), "fa2"); }),
      "runs float16/bfloat16 only"));
}

TEST(KernelDispatch, AnUncompiledCombinationIsAnErrorListingTheBuild) {
  const std::string msg =
      error_of([] { choose_attention(90, true, args(DType::fp16, 64, false), "auto"); });
  EXPECT_TRUE(contains(msg, "no kernel for fp16 head dim 64 non-causal on sm_90")) << msg;
  EXPECT_TRUE(contains(msg, "fmha-sm90 bf16 hdim128 causal (sm_90)")) << msg;
  EXPECT_TRUE(contains(msg, "sm80 profile test, sm90 profile test")) << msg;
}

TEST(KernelDispatch, UnknownBackendNamesTheKnownOnes) {
  const std::string msg =
      error_of([] { choose_attention(90, true, args(DType::bf16, 128, false), "fa5"); });
  EXPECT_TRUE(contains(msg, "unknown backend 'fa5'")) << msg;
  EXPECT_TRUE(contains(msg, "fmha-sm90, fa2, reference")) << msg;
}

TEST(KernelDispatch, Gemm) {
  GemmArgs g;
  g.m = g.n = g.k = 128;
  g.dtype = DType::bf16;
  EXPECT_EQ(choose_gemm(90, true, g, "auto").backend, "cutlass-sm90");
  EXPECT_EQ(choose_gemm(80, true, g, "auto").backend, "reference");
  EXPECT_EQ(choose_gemm(90, false, g, "auto").backend, "reference");
  EXPECT_TRUE(contains(error_of([&] { choose_gemm(80, true, g, "cutlass-sm90"); }),
                       "has no kernel for this dtype/shape on sm_80"));
}

TEST(KernelDispatch, InventoryListsEveryCompiledKernel) {
  const std::vector<std::string> inv = attention_inventory();
  ASSERT_EQ(inv.size(), 13u);
  EXPECT_EQ(inv[0], "fa2 bf16 hdim128 non-causal (sm_80-sm_89)");
  EXPECT_EQ(inv[4], "fmha-sm90 bf16 hdim128 causal (sm_90)");
  EXPECT_EQ(inv[8], "fa4 bf16 hdim128 non-causal q/kv heads 4 (sm_90)");
  EXPECT_EQ(inv[12], "fa4 bf16 hdim128 causal q/kv heads 1 (sm_100)");
  EXPECT_EQ(gemm_inventory(), std::vector<std::string>{"cutlass-sm90 bf16 (sm_90)"});
}

// -- FlashAttention-4 -----------------------------------------------------------------

TEST(KernelDispatch, BlackwellRunsFa4ThenFa2) {
  const AttentionChoice c = choose_attention(100, true, args(DType::bf16, 128, true), "auto");
  EXPECT_EQ(c.backend, "fa4");
  EXPECT_EQ(c.kernel, &kSm100[2]);
  // A head ratio no fa4 variant was compiled for: the next backend, fa2.
  AttentionArgs gqa = args(DType::bf16, 128, false);
  gqa.nheads_kv = 2;
  EXPECT_EQ(choose_attention(100, true, gqa, "auto").backend, "fa2");
  // sm_100a code runs on sm_100 only: a later Blackwell gets FA2's PTX.
  EXPECT_EQ(choose_attention(103, true, args(DType::bf16, 128, false), "auto").backend, "fa2");
}

TEST(KernelDispatch, Fa4PicksTheVariantOfTheCallsHeadRatio) {
  AttentionArgs gqa = args(DType::bf16, 128, false);
  gqa.nheads = 32;
  gqa.nheads_kv = 8;
  const AttentionChoice c = choose_attention(90, true, gqa, "fa4");
  EXPECT_EQ(c.backend, "fa4");
  EXPECT_EQ(c.kernel, &kSm90[6]);
  EXPECT_EQ(choose_attention(90, true, args(DType::bf16, 128, false), "fa4").kernel, &kSm90[5]);
}

TEST(KernelDispatch, AForcedFa4ThatCannotTakeTheShapeSaysWhatIsCompiled) {
  AttentionArgs gqa = args(DType::bf16, 128, false);
  gqa.nheads_kv = 4;  // ratio 2: not compiled
  const std::string msg = error_of([&] { choose_attention(90, true, gqa, "fa4"); });
  EXPECT_TRUE(contains(msg, "cannot take this shape")) << msg;
  EXPECT_TRUE(contains(msg, "nheads 8/4")) << msg;
  EXPECT_TRUE(contains(msg, "fa4 bf16 hdim128 non-causal q/kv heads 4 (sm_90)")) << msg;
  EXPECT_TRUE(contains(msg, "backend='reference'")) << msg;
  // No fa4 kernel for the dtype at all: the usual "no kernel" error.
  EXPECT_TRUE(contains(error_of([] { choose_attention(90, true, args(DType::fp16, 128, false), "fa4"); }),
                       "no fa4 kernel for fp16 head dim 128 non-causal on sm_90"));
}

TEST(KernelDispatch, HopperRulesChooseBetweenFa4AndTheHopperFmha) {
  const AttentionArgs prefill = shape(DType::bf16, 1, 4096, 4096, 32, 32);
  // The built-in rules (the H200's figures): fa4 takes head dim 128 from 512 query rows;
  // decode steps and the other head dims stay with the FMHA (or its split-KV fa2 handoff).
  EXPECT_EQ(choose_attention(90, true, prefill, "auto", kH200Sms).backend, "fa4");
  EXPECT_EQ(hopper_attention_choice(prefill, kHopperRules), "fa4");
  EXPECT_EQ(hopper_attention_choice(shape(DType::bf16, 1, 512, 8192, 32, 8), kHopperRules), "fa4");
  EXPECT_EQ(hopper_attention_choice(shape(DType::bf16, 1, 1, 8192, 32, 8), kHopperRules),
            "fmha-sm90");
  AttentionArgs d64 = prefill;
  d64.headdim = 64;
  EXPECT_EQ(hopper_attention_choice(d64, kHopperRules), "fmha-sm90");
  // Rules that give fa4 the prefills of 1024 rows and more.
  const HopperAttentionRule fa4_prefill[] = {{"fa4", kAnyCausal, 1024}};
  const HopperRules rules{fa4_prefill, 1};
  const AttentionChoice c = choose_attention(90, true, prefill, "auto", kH200Sms, rules);
  EXPECT_EQ(c.backend, "fa4");
  EXPECT_EQ(c.kernel, &kSm90[5]);
  // A short chunk stays with the FMHA (no rule matches)...
  const AttentionArgs chunk = shape(DType::bf16, 8, 512, 4096, 32, 32);
  EXPECT_EQ(choose_attention(90, true, chunk, "auto", kH200Sms, rules).backend, "fmha-sm90");
  // ...and a call fa4 cannot take (its head ratio) goes to the FMHA whatever the rules say.
  AttentionArgs ratio2 = prefill;
  ratio2.nheads_kv = 16;
  EXPECT_EQ(choose_attention(90, true, ratio2, "auto", kH200Sms, rules).backend, "fmha-sm90");
  // Rules by causal flag and head dim.
  const HopperAttentionRule causal_only[] = {{"fa4", 1, 0, INT_MAX, 128}};
  const HopperRules by_causal{causal_only, 1};
  AttentionArgs causal = prefill;
  causal.causal = true;
  EXPECT_EQ(hopper_attention_choice(causal, by_causal), "fa4");
  EXPECT_EQ(hopper_attention_choice(prefill, by_causal), "fmha-sm90");
  // A named backend is never second-guessed.
  EXPECT_EQ(choose_attention(90, true, prefill, "fa4", kH200Sms).backend, "fa4");
}

// The checks of FA4's entries (fa4_supports): what the exported code assumes and does
// not check itself.
TEST(Fa4Entry, TakesOnlyWhatTheVariantWasCompiledFor) {
  const AttentionArgs ok = args(DType::bf16, 128, false);
  EXPECT_TRUE(kernels::fa4_supports(ok, kFa4Bf16));
  AttentionArgs a = ok;
  a.dtype = DType::fp16;
  EXPECT_FALSE(kernels::fa4_supports(a, kFa4Bf16));
  a = ok;
  a.headdim = 64;
  EXPECT_FALSE(kernels::fa4_supports(a, kFa4Bf16));
  a = ok;
  a.causal = true;
  EXPECT_FALSE(kernels::fa4_supports(a, kFa4Bf16));
  EXPECT_TRUE(kernels::fa4_supports(a, kFa4Bf16Causal));
  // The head ratio is compiled in: 8/2 = 4 runs the ratio-4 variant only.
  a = ok;
  a.nheads_kv = 2;
  EXPECT_FALSE(kernels::fa4_supports(a, kFa4Bf16));
  EXPECT_TRUE(kernels::fa4_supports(a, kFa4Bf16Gqa4));
  a.nheads_kv = 3;  // 8 % 3 != 0
  EXPECT_FALSE(kernels::fa4_supports(a, kFa4Bf16Gqa4));
}

TEST(Fa4Entry, RefusesMisalignedPointersAndOddStrides) {
  for (int which = 0; which < 4; ++which) {
    AttentionArgs a = args(DType::bf16, 128, false);
    const void** ptr[] = {&a.q, &a.k, &a.v, const_cast<const void**>(&a.out)};
    *ptr[which] = reinterpret_cast<void*>(uintptr_t{4096 + 8});  // 8-byte aligned only
    EXPECT_FALSE(kernels::fa4_supports(a, kFa4Bf16)) << which;
    *ptr[which] = nullptr;
    EXPECT_FALSE(kernels::fa4_supports(a, kFa4Bf16)) << which;
  }
  // A head dim that is not a multiple of 8 makes strides that are not either.
  const Fa4Variant odd{DType::bf16, 100, false, 1};
  AttentionArgs a = args(DType::bf16, 100, false);
  EXPECT_FALSE(kernels::fa4_supports(a, odd));
}

TEST(Fa4Entry, RefusesEmptyOversizedAndBadlyScaledCalls) {
  const auto refused = [](auto change) {
    AttentionArgs a = args(DType::bf16, 128, false);
    change(a);
    return !kernels::fa4_supports(a, kFa4Bf16);
  };
  EXPECT_TRUE(refused([](AttentionArgs& a) { a.seqlen_k = 0; }));
  EXPECT_TRUE(refused([](AttentionArgs& a) { a.seqlen_q = 0; }));
  EXPECT_TRUE(refused([](AttentionArgs& a) { a.batch = 65536; }));
  EXPECT_TRUE(refused([](AttentionArgs& a) { a.nheads = a.nheads_kv = 65536; }));
  EXPECT_TRUE(refused([](AttentionArgs& a) { a.scale = 0.f; }));
  EXPECT_TRUE(refused([](AttentionArgs& a) { a.scale = -1.f; }));
  EXPECT_TRUE(refused([](AttentionArgs& a) { a.scale = 1.0f / 0.0f; }));
  EXPECT_FALSE(refused([](AttentionArgs& a) { a.batch = 65535; }));
}

}  // namespace

// The "linked kernel libraries" of this test binary (the core generates this function).
const std::vector<const kernels::KernelTable*>& kernel_tables() {
  static const std::vector<const kernels::KernelTable*> tables{&kTableSm80, &kTableSm90,
                                                               &kTableSm100};
  return tables;
}

}  // namespace infercore::cuda
