// The CPU GEMM kernel against the double-precision product, over shapes that hit
// its micro-kernel edges (rows of 3/6, panels of 16 columns), its k blocking (256)
// and its parallel tiles (96 x 256).
#include <gtest/gtest.h>

#include <cmath>

#include "infercore/ops.h"
#include "tensors.h"

namespace infercore {
namespace {

using testing::error_ratio;
using testing::gemm_reference;
using testing::random_tensor;
using testing::Tensor;

struct Case {
  int64_t m, k, n;
};

class GemmVsReference : public ::testing::TestWithParam<Case> {};

TEST_P(GemmVsReference, MatchesTheProduct) {
  const Case c = GetParam();
  Tensor a = random_tensor({c.m, c.k}, 21);
  Tensor b = random_tensor({c.k, c.n}, 22);
  Tensor out({c.m, c.n}, NAN);
  const Dispatch used = gemm(a.view("a"), b.view("b"), out.view("out"));
  EXPECT_EQ(used.backend, "reference");
  // Summing k products of values in [-1, 1] in float: error grows like sqrt(k) ulps.
  const double atol = 1e-6 * std::sqrt(double(c.k) + 1.0);
  EXPECT_LE(error_ratio(out.data, gemm_reference(a, b), atol, 1e-5), 1.0);
}

INSTANTIATE_TEST_SUITE_P(Shapes, GemmVsReference,
                         ::testing::Values(Case{1, 1, 1}, Case{7, 13, 5}, Case{6, 16, 16},
                                           Case{3, 300, 17}, Case{65, 33, 300},
                                           Case{97, 257, 129}, Case{200, 64, 520}),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return "m" + std::to_string(info.param.m) + "_k" +
                                  std::to_string(info.param.k) + "_n" +
                                  std::to_string(info.param.n);
                         });

TEST(Gemm, EmptyInnerDimensionGivesZeros) {
  Tensor a({4, 0});
  Tensor b({0, 3});
  Tensor out({4, 3}, NAN);
  gemm(a.view("a"), b.view("b"), out.view("out"));
  for (float x : out.data) EXPECT_EQ(x, 0.0f);
}

TEST(Gemm, EmptyOutputIsANoOp) {
  Tensor a({0, 5});
  Tensor b({5, 3});
  Tensor out({0, 3});
  EXPECT_EQ(gemm(a.view("a"), b.view("b"), out.view("out")).backend, "reference");
}

TEST(Gemm, OutputShapeFollowsTheInputs) {
  Tensor a({4, 7});
  Tensor b({7, 9});
  EXPECT_EQ(gemm_output_shape(a.view("a"), b.view("b")), (std::vector<int64_t>{4, 9}));
}

}  // namespace
}  // namespace infercore
