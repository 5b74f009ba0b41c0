// Argument checks shared by every op. Each check throws infercore::ArgumentError
// whose message names the argument, what it got and what was expected, so the
// bindings only translate the error kind.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <vector>

#include "infercore/tensor.h"

namespace infercore::detail {

struct AttentionShape {
  int64_t batch;
  int64_t seqlen_q;
  int64_t seqlen_k;
  int64_t nheads;
  int64_t nheads_kv;
  int64_t headdim;
};

struct GemmShape {
  int64_t m;
  int64_t n;
  int64_t k;
};

// The CUDA reference attention keeps two float rows of headdim in shared memory;
// this keeps them within the 48 KiB every device grants without opting in.
constexpr int64_t kCudaMaxHeadDim = 4096;

// The largest dimension any tensor may have (int32, the kernels' index type;
// see check_extent in validate.cc), and the most bytes a tensor may span.
constexpr int64_t kMaxDim = INT32_MAX;
constexpr int64_t kMaxBytes = INT64_MAX;

// Element count and byte size, or nullopt when a dimension is negative or the
// product overflows int64.
std::optional<int64_t> checked_numel(const std::vector<int64_t>& shape);
std::optional<int64_t> checked_nbytes(const std::vector<int64_t>& shape, DType dtype);
// The element count of a validated shape; throws ArgumentError on overflow.
int64_t numel(const std::vector<int64_t>& shape);
size_t dtype_size(DType dtype);

AttentionShape check_attention_inputs(const TensorView& q, const TensorView& k,
                                      const TensorView& v);
GemmShape check_gemm_inputs(const TensorView& a, const TensorView& b);

// `out` must have exactly `shape`, the dtype and device of `like`, a contiguous
// writable layout, and share no memory with any of `inputs`.
void check_output(const TensorView& out, const std::vector<int64_t>& shape,
                  const TensorView& like, std::initializer_list<const TensorView*> inputs);

// The softmax scale to use: `scale` if given (it must be finite), else 1/sqrt(headdim).
float check_scale(std::optional<float> scale, int64_t headdim);

}  // namespace infercore::detail
