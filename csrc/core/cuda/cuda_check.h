// Error checking and device selection for the CUDA sources.
#pragma once

#include <cuda_runtime.h>

namespace infercore::cuda {

// Throws CudaError naming `what` and the runtime's message when status is an error.
void check(cudaError_t status, const char* what);

// Makes `device` current for its lifetime and restores the previous one, so an
// op never changes the caller's current device.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = 0;
  int device_ = 0;
};

}  // namespace infercore::cuda
