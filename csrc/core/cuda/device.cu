#include <string>

#include "cuda/cuda_check.h"
#include "infercore/build_info.h"
#include "infercore/errors.h"

namespace infercore {
namespace cuda {

void check(cudaError_t status, const char* what) {
  if (status == cudaSuccess) return;
  throw CudaError(std::string(what) + " failed: " + cudaGetErrorString(status) + " (" +
                  cudaGetErrorName(status) + ")");
}

DeviceGuard::DeviceGuard(int device) : device_(device) {
  check(cudaGetDevice(&previous_), "cudaGetDevice");
  if (previous_ != device_) check(cudaSetDevice(device_), "cudaSetDevice");
}

DeviceGuard::~DeviceGuard() {
  if (previous_ != device_) cudaSetDevice(previous_);  // a destructor must not throw
}

}  // namespace cuda

int cuda_device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    // No driver or no device: that is 0 devices, not an error. Clear the
    // runtime's last error so the next check does not report it.
    cudaGetLastError();
    return 0;
  }
  return count;
}

int cuda_compute_capability(int device_index) {
  const int count = cuda_device_count();
  if (device_index < 0 || device_index >= count) {
    throw ArgumentError(ErrorKind::kValueError,
                        count == 0 ? "device: no CUDA device is visible, got device index " +
                                         std::to_string(device_index)
                                   : "device: expected a CUDA device index from 0 to " +
                                         std::to_string(count - 1) + " (" +
                                         std::to_string(count) + " visible), got " +
                                         std::to_string(device_index));
  }
  int major = 0, minor = 0;
  cuda::check(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device_index),
              "cudaDeviceGetAttribute(major)");
  cuda::check(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device_index),
              "cudaDeviceGetAttribute(minor)");
  return major * 10 + minor;
}

}  // namespace infercore
