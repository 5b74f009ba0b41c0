// The CUDA kernel dispatcher (csrc/core/cuda/dispatch.cc) decides which kernel an
// op runs from the device's compute capability and the linked kernel libraries'
// tables. It is plain C++: this test compiles it against tables of its own (stub
// kernels that never launch), so every decision is checked without a GPU.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cuda/dispatch.h"
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
};
const GemmKernel kGemmSm90[] = {{"cutlass-sm90", DType::bf16, {90, 90}, &gemm_always, &gemm_launch}};
const kernels::KernelTable kTableSm80{"sm80", "test", "fa2=80-real", kSm80, 2, nullptr, 0};
const kernels::KernelTable kTableSm90{"sm90", "test", "fa2=90-real", kSm90, 5, kGemmSm90, 1};
constexpr int kH200Sms = 132;

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
  const AttentionChoice c = choose_attention(90, true, args(DType::bf16, 128, false, 60), "auto");
  EXPECT_EQ(c.backend, "fa2");
  EXPECT_EQ(c.kernel, &kSm90[0]);
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
  ASSERT_EQ(inv.size(), 7u);
  EXPECT_EQ(inv[0], "fa2 bf16 hdim128 non-causal (sm_80-sm_89)");
  EXPECT_EQ(inv[4], "fmha-sm90 bf16 hdim128 causal (sm_90)");
  EXPECT_EQ(gemm_inventory(), std::vector<std::string>{"cutlass-sm90 bf16 (sm_90)"});
}

}  // namespace

// The "linked kernel libraries" of this test binary (the core generates this function).
const std::vector<const kernels::KernelTable*>& kernel_tables() {
  static const std::vector<const kernels::KernelTable*> tables{&kTableSm80, &kTableSm90};
  return tables;
}

}  // namespace infercore::cuda
