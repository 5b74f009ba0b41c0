#include "validate.h"

#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>

#include "infercore/build_info.h"
#include "infercore/errors.h"

namespace infercore::detail {
namespace {

[[noreturn]] void type_error(const std::string& message) {
  throw ArgumentError(ErrorKind::kTypeError, message);
}

[[noreturn]] void value_error(const std::string& message) {
  throw ArgumentError(ErrorKind::kValueError, message);
}

std::string pointer_string(const void* p) {
  std::ostringstream s;
  s << p;
  return s.str();
}

// Size limits, checked before anything is allocated or launched:
//  - every dimension fits in int32 (kMaxDim). FlashAttention-2's params (batch,
//    seqlen, heads, headdim) and the CUDA kernels' grid arithmetic are `int`.
//    The CPU kernels (csrc/core/cpu) index with int64 throughout and would only
//    need the byte size to fit; the same rule applies to them anyway, so whether
//    a shape is valid never depends on the device, and products of a few
//    dimensions in the kernels' index arithmetic stay far from int64's range.
//  - the element count and the byte size fit in int64 (overflow-checked: a
//    wrapped count would let a huge shape pass as a small one);
//  - a non-empty tensor has a data pointer, and its bytes do not run past the
//    end of the address space. (Whether the producer really owns them cannot be
//    checked: a DLPack capsule is trusted to describe memory it owns.)
// Strides never widen the accessed range: only contiguous layouts are accepted
// (check_contiguous), where the kernels address element i at data + i, and the
// strides of size-1 dimensions, which are ignored, never enter an address.
void check_extent(const TensorView& t) {
  for (size_t i = 0; i < t.shape.size(); ++i) {
    if (t.shape[i] > kMaxDim) {
      value_error(t.name + ": dimension " + std::to_string(i) + " of shape " +
                  shape_string(t.shape) + " is " + std::to_string(t.shape[i]) +
                  "; each dimension may be at most " + std::to_string(kMaxDim) + " (int32)");
    }
  }
  const std::optional<int64_t> bytes = checked_nbytes(t.shape, t.dtype);
  if (!bytes) {
    value_error(t.name + ": shape " + shape_string(t.shape) + " of " + dtype_name(t.dtype) +
                " elements holds more than " + std::to_string(kMaxBytes) +
                " bytes (the element count or byte size overflows int64)");
  }
  if (*bytes == 0) return;
  if (t.data == nullptr) {
    value_error(t.name + ": its data pointer is NULL, but its shape " + shape_string(t.shape) +
                " is not empty; a non-empty tensor needs memory");
  }
  if (reinterpret_cast<uintptr_t>(t.data) > UINTPTR_MAX - static_cast<uintptr_t>(*bytes)) {
    value_error(t.name + ": its " + std::to_string(*bytes) +
                " bytes would run past the end of the address space from data pointer " +
                pointer_string(t.data));
  }
}

void check_rank(const TensorView& t, size_t rank, const char* dims) {
  if (t.shape.size() != rank) {
    value_error(t.name + ": expected " + std::to_string(rank) + " dimensions " + dims + ", got " +
                std::to_string(t.shape.size()) + " with shape " + shape_string(t.shape));
  }
  for (int64_t d : t.shape) {
    if (d < 0) value_error(t.name + ": has a negative dimension in shape " + shape_string(t.shape));
  }
  check_extent(t);
}

// A device this build and machine can run on: CPU, or a visible CUDA device of a CUDA build.
void check_device_usable(const TensorView& t) {
  if (t.device.type != DeviceType::kCUDA) return;
  if (!build_info().cuda_enabled) {
    type_error(t.name + ": is a CUDA tensor (" + device_name(t.device) +
               "), but this build of infercore is CPU-only; pass CPU tensors or install a "
               "CUDA-enabled build");
  }
  const int count = cuda_device_count();
  if (t.device.index < 0 || t.device.index >= count) {
    value_error(t.name + ": is on " + device_name(t.device) + ", but " +
                (count == 0 ? std::string("no CUDA device is visible")
                            : "only " + std::to_string(count) + " CUDA device" +
                                  (count == 1 ? " is" : "s are") + " visible"));
  }
}

void check_same_device(const TensorView& t, const TensorView& like) {
  if (t.device.type != like.device.type) {
    type_error(t.name + ": expected a tensor on " + device_name(like.device) + " like " +
               like.name + ", got one on " + device_name(t.device));
  }
  if (t.device.index != like.device.index) {
    value_error(t.name + ": expected a tensor on " + device_name(like.device) + " like " +
                like.name + ", got one on " + device_name(t.device));
  }
}

void check_dtype_supported(const TensorView& t) {
  if (t.device.type == DeviceType::kCPU && t.dtype != DType::kFloat32) {
    type_error(t.name + ": the CPU implementation supports float32 only, got " +
               dtype_name(t.dtype) +
               "; convert with .float() (torch) or .astype(numpy.float32) (NumPy), or pass CUDA "
               "tensors");
  }
}

void check_same_dtype(const TensorView& t, const TensorView& like) {
  if (t.dtype != like.dtype) {
    type_error(t.name + ": expected dtype " + dtype_name(like.dtype) + " like " + like.name +
               ", got " + dtype_name(t.dtype));
  }
}

// Row-major and dense; strides of size-1 dimensions are irrelevant (producers
// disagree on what to put there), and so are all strides of an empty tensor.
void check_contiguous(const TensorView& t, bool is_output) {
  if (!t.strides.empty() && t.strides.size() != t.shape.size()) {
    value_error(t.name + ": has " + std::to_string(t.strides.size()) + " strides for shape " +
                shape_string(t.shape));
  }
  if (numel(t.shape) == 0) return;
  if (!t.strides.empty()) {
    int64_t expected = 1;
    for (size_t i = t.shape.size(); i-- > 0;) {
      if (t.shape[i] != 1 && t.strides[i] != expected) {
        value_error(t.name + ": expected a contiguous (row-major) tensor, got strides " +
                    shape_string(t.strides) + " (in elements) for shape " +
                    shape_string(t.shape) +
                    (is_output ? "; pass a contiguous output buffer"
                               : "; make it contiguous first with .contiguous() (torch) or "
                                 "numpy.ascontiguousarray() (NumPy)"));
      }
      expected *= t.shape[i];
    }
  }
  if (reinterpret_cast<uintptr_t>(t.data) % dtype_size(t.dtype) != 0) {
    value_error(t.name + ": its data pointer is not aligned to its " +
                std::to_string(dtype_size(t.dtype)) + "-byte " + dtype_name(t.dtype) +
                " elements; pass an aligned array (fresh ones are: .clone() in torch, "
                "numpy.array(x) in NumPy)");
  }
}

// Checks every tensor of an op's inputs: type errors (device, dtype) before
// layout problems, the first argument setting the device and dtype for the rest.
void check_inputs(std::initializer_list<const TensorView*> tensors) {
  const TensorView& first = **tensors.begin();
  check_device_usable(first);
  for (const TensorView* t : tensors) check_same_device(*t, first);
  check_dtype_supported(first);
  for (const TensorView* t : tensors) check_same_dtype(*t, first);
  for (const TensorView* t : tensors) check_contiguous(*t, /*is_output=*/false);
}

bool overlaps(const TensorView& a, const TensorView& b) {
  if (a.device != b.device) return false;
  const int64_t na = numel(a.shape), nb = numel(b.shape);
  if (na == 0 || nb == 0) return false;
  const auto a0 = reinterpret_cast<uintptr_t>(a.data);
  const auto b0 = reinterpret_cast<uintptr_t>(b.data);
  const uintptr_t a1 = a0 + static_cast<uintptr_t>(na) * dtype_size(a.dtype);
  const uintptr_t b1 = b0 + static_cast<uintptr_t>(nb) * dtype_size(b.dtype);
  return a0 < b1 && b0 < a1;
}

}  // namespace

std::optional<int64_t> checked_numel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  bool overflow = false, empty = false;
  for (int64_t d : shape) {
    if (d < 0) return std::nullopt;
    if (d == 0) {
      empty = true;  // empty, however large the other dimensions are
    } else if (!overflow) {
      overflow = __builtin_mul_overflow(n, d, &n);
    }
  }
  if (empty) return 0;
  if (overflow) return std::nullopt;
  return n;
}

std::optional<int64_t> checked_nbytes(const std::vector<int64_t>& shape, DType dtype) {
  const std::optional<int64_t> n = checked_numel(shape);
  int64_t bytes = 0;
  if (!n || __builtin_mul_overflow(*n, static_cast<int64_t>(dtype_size(dtype)), &bytes)) {
    return std::nullopt;
  }
  return bytes;
}

int64_t numel(const std::vector<int64_t>& shape) {
  const std::optional<int64_t> n = checked_numel(shape);
  if (!n) {
    value_error("shape " + shape_string(shape) + ": the element count overflows int64 or a "
                "dimension is negative");
  }
  return *n;
}

size_t dtype_size(DType dtype) { return dtype == DType::kFloat32 ? 4 : 2; }

AttentionShape check_attention_inputs(const TensorView& q, const TensorView& k,
                                      const TensorView& v) {
  check_rank(q, 4, "(batch, seqlen_q, nheads, headdim)");
  check_rank(k, 4, "(batch, seqlen_k, nheads_kv, headdim)");
  check_rank(v, 4, "(batch, seqlen_k, nheads_kv, headdim)");
  check_inputs({&q, &k, &v});

  const AttentionShape s{q.shape[0], q.shape[1], k.shape[1], q.shape[2], k.shape[2], q.shape[3]};
  if (s.nheads == 0) {
    value_error("q: nheads must be at least 1, got shape " + shape_string(q.shape));
  }
  if (s.headdim == 0) {
    value_error("q: headdim must be at least 1, got shape " + shape_string(q.shape));
  }
  if (k.shape[0] != s.batch) {
    value_error("k: expected batch " + std::to_string(s.batch) + " like q, got shape " +
                shape_string(k.shape) + " (q has shape " + shape_string(q.shape) + ")");
  }
  if (k.shape[3] != s.headdim) {
    value_error("k: expected headdim " + std::to_string(s.headdim) + " like q, got shape " +
                shape_string(k.shape) + " (q has shape " + shape_string(q.shape) + ")");
  }
  if (s.nheads_kv == 0 || s.nheads % s.nheads_kv != 0) {
    value_error("k: nheads_kv must be at least 1 and divide nheads = " +
                std::to_string(s.nheads) + " of q, got shape " + shape_string(k.shape));
  }
  if (s.seqlen_k == 0) {
    value_error("k: seqlen_k must be at least 1 (there is nothing to attend to), got shape " +
                shape_string(k.shape));
  }
  if (v.shape != k.shape) {
    value_error("v: expected the shape of k " + shape_string(k.shape) + ", got " +
                shape_string(v.shape));
  }
  if (q.device.type == DeviceType::kCUDA && s.headdim > kCudaMaxHeadDim) {
    value_error("q: headdim " + std::to_string(s.headdim) + " exceeds the CUDA kernel's limit of " +
                std::to_string(kCudaMaxHeadDim));
  }
  return s;
}

GemmShape check_gemm_inputs(const TensorView& a, const TensorView& b) {
  check_rank(a, 2, "(M, K)");
  check_rank(b, 2, "(K, N)");
  check_inputs({&a, &b});
  if (b.shape[0] != a.shape[1]) {
    value_error("b: expected " + std::to_string(a.shape[1]) + " rows to match a of shape " +
                shape_string(a.shape) + " (M, K), got shape " + shape_string(b.shape));
  }
  return GemmShape{a.shape[0], b.shape[1], a.shape[1]};
}

void check_output(const TensorView& out, const std::vector<int64_t>& shape,
                  const TensorView& like, std::initializer_list<const TensorView*> inputs) {
  check_same_device(out, like);
  check_same_dtype(out, like);
  if (out.shape != shape) {
    value_error(out.name + ": expected shape " + shape_string(shape) + ", got " +
                shape_string(out.shape));
  }
  check_extent(out);
  check_contiguous(out, /*is_output=*/true);
  if (out.read_only) {
    value_error(out.name + ": is read-only; pass a writable output buffer");
  }
  for (const TensorView* t : inputs) {
    if (overlaps(out, *t)) {
      value_error(out.name + ": shares memory with " + t->name +
                  "; pass a separate output buffer");
    }
  }
}

float check_scale(std::optional<float> scale, int64_t headdim) {
  if (!scale) return static_cast<float>(1.0 / std::sqrt(static_cast<double>(headdim)));
  if (!std::isfinite(*scale)) {
    std::ostringstream got;
    got << *scale;
    value_error("scale: expected a finite number, got " + got.str());
  }
  return *scale;
}

}  // namespace infercore::detail
