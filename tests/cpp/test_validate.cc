// Shape, dtype, layout and device validation: every bad argument is an
// ArgumentError of the right kind (TypeError / ValueError in Python) whose
// message names the argument, what it got and what is expected.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>

#include "infercore/build_info.h"
#include "infercore/errors.h"
#include "infercore/ops.h"
#include "tensors.h"
#include "validate.h"

namespace infercore {
namespace {

using testing::Tensor;

// Runs fn, which must throw ArgumentError of `kind` with every one of `parts` in its message.
void expect_error(const std::function<void()>& fn, ErrorKind kind,
                  std::initializer_list<const char*> parts) {
  try {
    fn();
  } catch (const ArgumentError& err) {
    EXPECT_EQ(err.kind(), kind) << err.what();
    for (const char* part : parts) EXPECT_NE(std::string(err.what()).find(part), std::string::npos)
        << "'" << part << "' not in: " << err.what();
    return;
  }
  ADD_FAILURE() << "no ArgumentError thrown";
}

struct AttentionArgs {
  Tensor q{{2, 8, 4, 16}}, k{{2, 12, 2, 16}}, v{{2, 12, 2, 16}}, out{{2, 8, 4, 16}};
  TensorView qv = q.view("q"), kv = k.view("k"), vv = v.view("v"), ov = out.view("out");
  void run(std::optional<float> scale = std::nullopt) {
    attention(qv, kv, vv, ov, false, scale);
  }
};

TEST(ValidateAttention, ValidArgumentsPass) {
  AttentionArgs a;
  EXPECT_NO_THROW(a.run());
  EXPECT_EQ(attention_output_shape(a.qv, a.kv, a.vv), a.q.shape);
}

TEST(ValidateAttention, WrongRank) {
  AttentionArgs a;
  a.qv.shape = {8, 4, 16};
  expect_error([&] { a.run(); }, ErrorKind::kValueError,
               {"q: expected 4 dimensions (batch, seqlen_q, nheads, headdim)", "(8, 4, 16)"});
}

TEST(ValidateAttention, MismatchedBatchAndHeadDim) {
  AttentionArgs a;
  a.kv.shape = {3, 12, 2, 16};
  expect_error([&] { a.run(); }, ErrorKind::kValueError, {"k: expected batch 2 like q"});
  AttentionArgs b;
  b.kv.shape = {2, 6, 2, 32};
  expect_error([&] { b.run(); }, ErrorKind::kValueError, {"k: expected headdim 16 like q"});
}

TEST(ValidateAttention, HeadsMustDivide) {
  AttentionArgs a;
  a.kv.shape = a.vv.shape = {2, 4, 3, 16};
  expect_error([&] { a.run(); }, ErrorKind::kValueError, {"divide nheads = 4"});
}

TEST(ValidateAttention, VMustMatchK) {
  AttentionArgs a;
  a.vv.shape = {2, 11, 2, 16};
  expect_error([&] { a.run(); }, ErrorKind::kValueError, {"v: expected the shape of k"});
}

TEST(ValidateAttention, NoKeys) {
  AttentionArgs a;
  a.kv.shape = a.vv.shape = {2, 0, 2, 16};
  expect_error([&] { a.run(); }, ErrorKind::kValueError, {"seqlen_k must be at least 1"});
}

TEST(ValidateAttention, CpuRunsFloat32Only) {
  AttentionArgs a;
  a.qv.dtype = a.kv.dtype = a.vv.dtype = a.ov.dtype = DType::kFloat16;
  expect_error([&] { a.run(); }, ErrorKind::kTypeError,
               {"q: the CPU implementation supports float32 only, got float16"});
}

TEST(ValidateAttention, MixedDtypes) {
  AttentionArgs a;
  a.vv.dtype = DType::kBFloat16;
  expect_error([&] { a.run(); }, ErrorKind::kTypeError,
               {"v: expected dtype float32 like q, got bfloat16"});
}

TEST(ValidateAttention, NonContiguousInput) {
  AttentionArgs a;
  a.kv.strides = {12 * 2 * 16, 2 * 16, 1, 2};  // last dimension strided
  expect_error([&] { a.run(); }, ErrorKind::kValueError,
               {"k: expected a contiguous (row-major) tensor", ".contiguous()"});
}

TEST(ValidateAttention, OutputProblems) {
  AttentionArgs shape;
  shape.ov.shape = {2, 8, 4, 8};
  expect_error([&] { shape.run(); }, ErrorKind::kValueError,
               {"out: expected shape (2, 8, 4, 16), got (2, 8, 4, 8)"});
  AttentionArgs ro;
  ro.ov.read_only = true;
  expect_error([&] { ro.run(); }, ErrorKind::kValueError, {"out: is read-only"});
  AttentionArgs alias;
  alias.ov.data = alias.q.data.data();
  expect_error([&] { alias.run(); }, ErrorKind::kValueError, {"out: shares memory with q"});
}

TEST(ValidateAttention, ScaleMustBeFinite) {
  AttentionArgs a;
  expect_error([&] { a.run(std::numeric_limits<float>::infinity()); }, ErrorKind::kValueError,
               {"scale: expected a finite number, got inf"});
}

TEST(ValidateAttention, CudaTensorNeedsACudaBuildAndDevice) {
  AttentionArgs a;
  a.qv.device = a.kv.device = a.vv.device = a.ov.device = {DeviceType::kCUDA, 0};
  if (build_info().cuda_enabled) {
    if (cuda_device_count() > 0) GTEST_SKIP() << "a CUDA device is visible";
    expect_error([&] { a.run(); }, ErrorKind::kValueError, {"q: is on cuda:0, but no CUDA"});
  } else {
    expect_error([&] { a.run(); }, ErrorKind::kTypeError,
                 {"q: is a CUDA tensor (cuda:0), but this build of infercore is CPU-only"});
  }
}

TEST(ValidateAttention, MixedDevices) {
  if (!build_info().cuda_enabled || cuda_device_count() == 0) {
    GTEST_SKIP() << "needs a visible CUDA device";
  }
  AttentionArgs a;
  a.kv.device = {DeviceType::kCUDA, 0};
  expect_error([&] { a.run(); }, ErrorKind::kTypeError, {"k: expected a tensor on cpu like q"});
}

TEST(ValidateGemm, InnerDimensionsMustMatch) {
  Tensor a({4, 7}), b({6, 9}), out({4, 9});
  expect_error([&] { gemm(a.view("a"), b.view("b"), out.view("out")); }, ErrorKind::kValueError,
               {"b: expected 7 rows to match a of shape (4, 7)", "got shape (6, 9)"});
}

TEST(ValidateGemm, RankAndNegativeDimensions) {
  Tensor a({4, 7}), b({7, 9}), out({4, 9});
  TensorView av = a.view("a");
  av.shape = {4, 7, 1};
  expect_error([&] { gemm(av, b.view("b"), out.view("out")); }, ErrorKind::kValueError,
               {"a: expected 2 dimensions (M, K)"});
  TensorView bv = b.view("b");
  bv.shape = {7, -9};
  expect_error([&] { gemm(a.view("a"), bv, out.view("out")); }, ErrorKind::kValueError,
               {"b: has a negative dimension"});
}


TEST(ValidateExtent, ElementCountOverflow) {
  // Every dimension within int32, but the product overflows int64: it must not wrap.
  AttentionArgs a;
  a.qv.shape = {2147483647, 2147483647, 2147483647, 4};
  expect_error([&] { a.run(); }, ErrorKind::kValueError,
               {"q: shape (2147483647, 2147483647, 2147483647, 4) of float32 elements holds "
                "more than 9223372036854775807 bytes"});
  // The element count fits, the byte size does not.
  Tensor x({4, 7}), b({7, 9}), out({4, 9});
  TensorView av = x.view("a");
  av.shape = {2147483647, 2147483647};
  expect_error([&] { gemm(av, b.view("b"), out.view("out")); }, ErrorKind::kValueError,
               {"a: shape (2147483647, 2147483647)"});
  EXPECT_FALSE(detail::checked_nbytes({int64_t{1} << 31, int64_t{1} << 31, 2}, DType::kFloat32));
  EXPECT_FALSE(detail::checked_numel({int64_t{1} << 32, int64_t{1} << 32}));
  EXPECT_EQ(detail::checked_numel({int64_t{1} << 40, int64_t{1} << 40, 0}), 0);
  EXPECT_EQ(detail::checked_nbytes({3, 5}, DType::kBFloat16), 30);
  EXPECT_FALSE(detail::checked_numel({0, -1}));
  EXPECT_FALSE(detail::checked_numel({int64_t{1} << 62, 4, -1}));
  EXPECT_EQ(detail::checked_numel({}), 1);
}

TEST(ValidateExtent, DimensionsFitInt32) {
  AttentionArgs a;
  a.qv.shape = {2, 8, int64_t{1} << 62, 16};  // a head count near 2^62
  expect_error([&] { a.run(); }, ErrorKind::kValueError,
               {"q: dimension 2 of shape (2, 8, 4611686018427387904, 16) is 4611686018427387904",
                "at most 2147483647 (int32)"});
  AttentionArgs k;
  k.kv.shape = {2, int64_t{1} << 31, 2, 16};
  expect_error([&] { k.run(); }, ErrorKind::kValueError, {"k: dimension 1", "(int32)"});
  // Even an empty tensor may not have an out-of-range dimension.
  Tensor b({7, 9}), out({0, 9});
  TensorView av = b.view("a");
  av.shape = {0, int64_t{1} << 40};
  expect_error([&] { gemm(av, b.view("b"), out.view("out")); }, ErrorKind::kValueError,
               {"a: dimension 1 of shape (0, 1099511627776)"});
  expect_error(
      [&] { attention_backend(0, DType::kBFloat16, 128, false, 1, 1, int64_t{1} << 62, 1, 1); },
      ErrorKind::kValueError, {"nheads: expected 1 to 2147483647 (int32), got 4611686018427387904"});
  expect_error([&] { attention_backend(0, DType::kBFloat16, 128, false, 1, 1, 32, 3, 1); },
               ErrorKind::kValueError, {"nheads_kv: expected a divisor of nheads = 32, got 3"});
  expect_error([&] { attention_backend(0, DType::kBFloat16, 128, false, 1, -1, 32, 8, 1); },
               ErrorKind::kValueError, {"seqlen_k: expected 0 to 2147483647 (int32), got -1"});
}

TEST(ValidateExtent, NullDataPointer) {
  AttentionArgs a;
  a.vv.data = nullptr;
  expect_error([&] { a.run(); }, ErrorKind::kValueError,
               {"v: its data pointer is NULL, but its shape (2, 12, 2, 16) is not empty"});
  AttentionArgs o;
  o.ov.data = nullptr;
  expect_error([&] { o.run(); }, ErrorKind::kValueError, {"out: its data pointer is NULL"});
  // An empty tensor needs no memory.
  Tensor b({0, 9}), out({0, 9});
  TensorView av = b.view("a"), bv = b.view("b"), ov = out.view("out");
  av.shape = {0, 0};
  bv.shape = {0, 9};
  av.data = bv.data = ov.data = nullptr;
  EXPECT_NO_THROW(gemm(av, bv, ov));
}

TEST(ValidateExtent, AddressRangeMustNotWrap) {
  AttentionArgs a;
  a.qv.data = reinterpret_cast<void*>(UINTPTR_MAX - 63);  // aligned, but 4 KiB do not fit above
  expect_error([&] { a.run(); }, ErrorKind::kValueError,
               {"q: its 4096 bytes would run past the end of the address space"});
}

TEST(ValidateExtent, StridesOfSizeOneDimensionsAreIgnored) {
  // Any stride of a size-1 dimension is accepted; the kernels never use it.
  Tensor a({1, 8}), b({8, 3}), out({1, 3});
  TensorView av = a.view("a");
  av.strides = {std::numeric_limits<int64_t>::min(), 1};
  EXPECT_NO_THROW(gemm(av, b.view("b"), out.view("out")));
  TensorView bv = b.view("b");
  bv.strides = {3, -1};
  expect_error([&] { gemm(a.view("a"), bv, out.view("out")); }, ErrorKind::kValueError,
               {"b: expected a contiguous (row-major) tensor, got strides (3, -1)"});
}

}  // namespace
}  // namespace infercore
