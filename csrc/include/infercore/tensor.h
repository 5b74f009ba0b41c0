// Tensor views that cross from the bindings (DLPack) into the engine core.
// The core never owns memory: callers hand it views of their own buffers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace infercore {

enum class DType { kFloat32, kFloat16, kBFloat16 };
enum class DeviceType { kCPU, kCUDA };

struct Device {
  DeviceType type = DeviceType::kCPU;
  int index = 0;
  bool operator==(const Device& other) const { return type == other.type && index == other.index; }
  bool operator!=(const Device& other) const { return !(*this == other); }
};

// A non-owning, strided view. Strides are in elements (DLPack's convention).
struct TensorView {
  void* data = nullptr;
  DType dtype = DType::kFloat32;
  Device device;
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;
  std::string name;  // the argument's name ("q", "out", ...), used in error messages
  bool read_only = false;  // the producer marked the memory read-only (DLPack flag)
};

const char* dtype_name(DType dtype);           // "float32", "float16", "bfloat16"
std::string device_name(const Device& device);  // "cpu", "cuda:0"
std::string shape_string(const std::vector<int64_t>& shape);  // "(2, 128, 8, 64)"

}  // namespace infercore
