// Dispatch on the CPU: which code path and backend the ops take, and the
// run-time settings that choose them (INFERCORE_CPU_ISA, INFERCORE_NUM_THREADS;
// ctest runs this binary under several of them).
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <thread>

#include "infercore/build_info.h"
#include "infercore/errors.h"
#include "infercore/ops.h"
#include "tensors.h"

namespace infercore {
namespace {

using testing::Tensor;

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

TEST(CpuDispatch, AutoAndReferenceRunTheReferenceKernels) {
  Tensor q({1, 4, 2, 8}, 0.5f), k({1, 4, 2, 8}, 0.25f), v({1, 4, 2, 8}, 1.0f), out({1, 4, 2, 8});
  for (const char* backend : {"auto", "reference"}) {
    const Dispatch d = attention(q.view("q"), k.view("k"), v.view("v"), out.view("out"), false,
                                 std::nullopt, nullptr, backend);
    EXPECT_EQ(d.backend, "reference") << backend;
    EXPECT_EQ(d.warning, "") << backend;
  }
  Tensor a({3, 4}, 1.0f), b({4, 5}, 1.0f), c({3, 5});
  EXPECT_EQ(gemm(a.view("a"), b.view("b"), c.view("out"), nullptr, "reference").backend,
            "reference");
}

TEST(CpuDispatch, GpuBackendsAreRefusedForCpuTensors) {
  Tensor q({1, 4, 2, 8}), k({1, 4, 2, 8}), v({1, 4, 2, 8}), out({1, 4, 2, 8});
  try {
    attention(q.view("q"), k.view("k"), v.view("v"), out.view("out"), false, std::nullopt,
              nullptr, "fa2");
    ADD_FAILURE() << "backend 'fa2' was accepted for CPU tensors";
  } catch (const ArgumentError& err) {
    EXPECT_EQ(err.kind(), ErrorKind::kValueError);
    EXPECT_NE(std::string(err.what()).find("got backend 'fa2', expected 'auto' or 'reference'"),
              std::string::npos)
        << err.what();
  }
}

TEST(CpuDispatch, InstructionSetFollowsInfercoreCpuIsa) {
  __builtin_cpu_init();
  const bool has_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const std::string want = env("INFERCORE_CPU_ISA");
  if (want == "baseline") {
    EXPECT_STREQ(cpu_isa(), "baseline");
  } else if (want == "avx2") {
    EXPECT_STREQ(cpu_isa(), "avx2");
  } else {
    EXPECT_STREQ(cpu_isa(), has_avx2 ? "avx2" : "baseline") << "INFERCORE_CPU_ISA='" << want << "'";
  }
}

TEST(CpuDispatch, ThreadsFollowInfercoreNumThreads) {
  const std::string want = env("INFERCORE_NUM_THREADS");
  if (want.empty()) {
    EXPECT_EQ(cpu_num_threads(), static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  } else {
    EXPECT_EQ(cpu_num_threads(), std::stoi(want));
  }
}

TEST(CpuDispatch, BuildInfoMatchesTheBuild) {
  const BuildInfo& info = build_info();
  EXPECT_FALSE(info.version.empty());
  if (!info.cuda_enabled) {
    EXPECT_TRUE(info.cuda_sass_archs.empty());
    EXPECT_TRUE(attention_kernels().empty());
    EXPECT_TRUE(kernel_libraries().empty());
    EXPECT_EQ(cuda_device_count(), 0);
    EXPECT_THROW(attention_backend(0, DType::kBFloat16, 128, false, 1, 1, 1, 1), CudaError);
  } else {
    EXPECT_FALSE(info.cuda_sass_archs.empty());
  }
}

}  // namespace
}  // namespace infercore
