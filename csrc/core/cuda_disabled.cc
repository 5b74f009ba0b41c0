// CPU-only builds: no CUDA device is ever visible. Validation rejects CUDA
// tensors before any op gets here; the throwing definitions keep that a clear
// error rather than a link failure should a caller bypass it.
#include "cuda/cuda_ops.h"
#include "infercore/build_info.h"
#include "infercore/errors.h"

namespace infercore {
namespace {

[[noreturn]] void no_cuda(const char* what) {
  throw CudaError(std::string(what) + ": this build of infercore is CPU-only (built without CUDA)");
}

}  // namespace

int cuda_device_count() { return 0; }

int cuda_compute_capability(int /*device_index*/) { no_cuda("cuda_compute_capability"); }

namespace cuda {

void attention_ref(const detail::AttentionShape&, DType, int, const void*, const void*,
                   const void*, void*, bool, float, void*) {
  no_cuda("attention");
}

void gemm_ref(const detail::GemmShape&, DType, int, const void*, const void*, void*, void*) {
  no_cuda("gemm");
}

Dispatch attention(const detail::AttentionShape&, DType, int, const void*, const void*,
                   const void*, void*, bool, float, void*, const std::string&) {
  no_cuda("attention");
}

Dispatch gemm(const detail::GemmShape&, DType, int, const void*, const void*, void*, void*,
              const std::string&) {
  no_cuda("gemm");
}

std::string attention_backend(const detail::AttentionShape&, DType, int, bool) {
  no_cuda("attention_backend");
}

std::vector<KernelInfo> attention_kernels() { return {}; }
std::vector<KernelInfo> gemm_kernels() { return {}; }
std::vector<std::string> kernel_libraries() { return {}; }
std::vector<HopperAttentionRuleInfo> hopper_attention_rules() { return {}; }

}  // namespace cuda
}  // namespace infercore
