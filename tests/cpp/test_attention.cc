// The CPU attention kernel against the double-precision definition, over the
// shapes that exercise its blocking (64 query rows, 256 keys per block), grouped
// query attention, causal masks and rows that see no key.
#include <gtest/gtest.h>

#include <cmath>
#include <tuple>

#include "infercore/ops.h"
#include "tensors.h"

namespace infercore {
namespace {

using testing::attention_reference;
using testing::error_ratio;
using testing::random_tensor;
using testing::Tensor;

struct Case {
  int64_t batch, seqlen_q, seqlen_k, nheads, nheads_kv, headdim;
  bool causal;
};

class AttentionVsReference : public ::testing::TestWithParam<Case> {};

TEST_P(AttentionVsReference, MatchesTheDefinition) {
  const Case c = GetParam();
  Tensor q = random_tensor({c.batch, c.seqlen_q, c.nheads, c.headdim}, 1);
  Tensor k = random_tensor({c.batch, c.seqlen_k, c.nheads_kv, c.headdim}, 2);
  Tensor v = random_tensor({c.batch, c.seqlen_k, c.nheads_kv, c.headdim}, 3);
  Tensor out(q.shape, NAN);
  const double scale = 1.0 / std::sqrt(double(c.headdim));

  const Dispatch used = attention(q.view("q"), k.view("k"), v.view("v"), out.view("out"),
                                  c.causal, std::nullopt);

  EXPECT_EQ(used.backend, "reference");
  EXPECT_TRUE(used.warning.empty());
  EXPECT_LE(error_ratio(out.data, attention_reference(q, k, v, c.causal, scale), 2e-6, 2e-5),
            1.0);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, AttentionVsReference,
    ::testing::Values(Case{1, 1, 1, 1, 1, 1, false},      // the smallest
                      Case{2, 17, 33, 4, 4, 64, false},    // ragged, one block
                      Case{2, 17, 33, 4, 4, 64, true},     // causal, seqlen_q < seqlen_k
                      Case{1, 70, 300, 8, 2, 40, false},   // several q and k blocks, GQA 4:1
                      Case{1, 70, 300, 8, 2, 40, true},    // ... causal
                      Case{1, 40, 24, 2, 1, 16, true},     // seqlen_q > seqlen_k: zero rows
                      Case{3, 129, 257, 2, 2, 33, true},   // odd head dim, block edges
                      Case{1, 8, 512, 6, 3, 128, false}),  // head dim 128, long keys
    [](const ::testing::TestParamInfo<Case>& info) {
      const Case& c = info.param;
      return "b" + std::to_string(c.batch) + "_q" + std::to_string(c.seqlen_q) + "_k" +
             std::to_string(c.seqlen_k) + "_h" + std::to_string(c.nheads) + "x" +
             std::to_string(c.nheads_kv) + "_d" + std::to_string(c.headdim) +
             (c.causal ? "_causal" : "");
    });

TEST(Attention, ExplicitScaleIsUsed) {
  Tensor q = random_tensor({1, 5, 2, 8}, 4);
  Tensor k = random_tensor({1, 9, 2, 8}, 5);
  Tensor v = random_tensor({1, 9, 2, 8}, 6);
  Tensor out(q.shape);
  attention(q.view("q"), k.view("k"), v.view("v"), out.view("out"), false, 0.3f);
  EXPECT_LE(error_ratio(out.data, attention_reference(q, k, v, false, 0.3), 2e-6, 2e-5), 1.0);
}

TEST(Attention, CausalRowsThatSeeNoKeyAreZero) {
  // seqlen_q 6 > seqlen_k 2: the last key aligns with the last query, so rows 0-3 see nothing.
  Tensor q = random_tensor({1, 6, 1, 4}, 7);
  Tensor k = random_tensor({1, 2, 1, 4}, 8);
  Tensor v = random_tensor({1, 2, 1, 4}, 9);
  Tensor out(q.shape, NAN);
  attention(q.view("q"), k.view("k"), v.view("v"), out.view("out"), true, std::nullopt);
  for (int64_t i = 0; i < 4 * 4; ++i) EXPECT_EQ(out.data[i], 0.0f) << "element " << i;
  for (int64_t i = 4 * 4; i < 6 * 4; ++i) EXPECT_NE(out.data[i], 0.0f) << "element " << i;
}

TEST(Attention, OneKeyReturnsItsValue) {
  Tensor q = random_tensor({2, 3, 2, 5}, 10);
  Tensor k = random_tensor({2, 1, 2, 5}, 11);
  Tensor v = random_tensor({2, 1, 2, 5}, 12);
  Tensor out(q.shape);
  attention(q.view("q"), k.view("k"), v.view("v"), out.view("out"), false, std::nullopt);
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t h = 0; h < 2; ++h)
        for (int64_t c = 0; c < 5; ++c)
          EXPECT_FLOAT_EQ(out.data[((b * 3 + i) * 2 + h) * 5 + c], v.data[(b * 2 + h) * 5 + c]);
}

}  // namespace
}  // namespace infercore
