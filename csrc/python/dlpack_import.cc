#include "dlpack_import.h"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "dlpack.h"
#include "infercore/errors.h"

namespace py = pybind11;

namespace infercore::python {
namespace {

constexpr const char* kLegacyName = "dltensor";
constexpr const char* kVersionedName = "dltensor_versioned";
// The most dimensions an imported tensor may have (NumPy's limit); the ops take
// 2 or 4, and a capsule with more is refused before its shape is read.
constexpr int32_t kMaxNdim = 64;

[[noreturn]] void type_error(const std::string& message) {
  throw ArgumentError(ErrorKind::kTypeError, message);
}

[[noreturn]] void value_error(const std::string& message) {
  throw ArgumentError(ErrorKind::kValueError, message);
}

std::string dl_dtype_name(const DLDataType& t) {
  std::string name;
  switch (t.code) {
    case kDLInt:
      name = "int";
      break;
    case kDLUInt:
      name = "uint";
      break;
    case kDLFloat:
      name = "float";
      break;
    case kDLBfloat:
      name = "bfloat";
      break;
    case kDLComplex:
      name = "complex";
      break;
    case kDLBool:
      return "bool";
    default:
      name = "code" + std::to_string(t.code) + "_";
  }
  name += std::to_string(t.bits);
  if (t.lanes != 1) name += "x" + std::to_string(t.lanes);
  return name;
}

DType to_dtype(const DLDataType& t, const char* name) {
  if (t.lanes == 1) {
    if (t.code == kDLFloat && t.bits == 32) return DType::kFloat32;
    if (t.code == kDLFloat && t.bits == 16) return DType::kFloat16;
    if (t.code == kDLBfloat && t.bits == 16) return DType::kBFloat16;
  }
  type_error(std::string(name) + ": unsupported dtype " + dl_dtype_name(t) +
             "; infercore supports float32 (CPU and CUDA), float16 and bfloat16 (CUDA)");
}

Device to_device(const DLDevice& d, const char* name) {
  switch (d.device_type) {
    case kDLCPU:
    case kDLCUDAHost:
      return Device{DeviceType::kCPU, 0};
    case kDLCUDA:
      return Device{DeviceType::kCUDA, d.device_id};
    default:
      type_error(std::string(name) + ": unsupported device (DLPack device type " +
                 std::to_string(static_cast<int>(d.device_type)) +
                 "); infercore supports CPU and CUDA tensors");
  }
}

}  // namespace

ImportedTensor::ImportedTensor(ImportedTensor&& other) noexcept
    : view_(std::move(other.view_)),
      legacy_(std::exchange(other.legacy_, nullptr)),
      versioned_(std::exchange(other.versioned_, nullptr)) {}

ImportedTensor::~ImportedTensor() {
  if (legacy_ != nullptr && legacy_->deleter != nullptr) legacy_->deleter(legacy_);
  if (versioned_ != nullptr && versioned_->deleter != nullptr) versioned_->deleter(versioned_);
}

namespace {

constexpr const char* kAccepted =
    "infercore accepts DLPack arrays of float32 (CPU and CUDA), float16 and bfloat16 (CUDA)";

// An error the producer raised (in __dlpack__, __dlpack_device__ or the
// exporter; NumPy raises BufferError for dtypes DLPack cannot carry) becomes a
// TypeError naming the argument, chained to the original (its __cause__).
// Interrupts and MemoryError pass through unchanged.
[[noreturn]] void producer_error(py::error_already_set& e, const char* name, const char* call) {
  if (!e.matches(PyExc_Exception) || e.matches(PyExc_MemoryError)) throw;
  std::string what, type = "exception";
  try {
    type = py::str(e.type().attr("__name__"));
    what = py::str(e.value());
  } catch (py::error_already_set&) {  // an exception whose str() raises: named by type only
  }
  e.restore();
  py::raise_from(PyExc_TypeError, (std::string(name) + ": " + call + " failed (" + type +
                                   (what.empty() ? "" : ": " + what) + "); " + kAccepted)
                                      .c_str());
  throw py::error_already_set();
}

// The producer's (device_type, device_id), or nullopt when its __dlpack_device__()
// returns something else (then its __dlpack__ decides what happens).
std::optional<int> device_type(py::handle obj, const char* name) {
  try {
    const py::object device = obj.attr("__dlpack_device__")();
    if (!py::isinstance<py::tuple>(device) || py::len(device) != 2) return std::nullopt;
    const py::object type = py::reinterpret_borrow<py::tuple>(device)[0];
    if (!PyLong_Check(type.ptr())) return std::nullopt;
    const long value = PyLong_AsLong(type.ptr());
    if (value == -1 && PyErr_Occurred()) {
      PyErr_Clear();
      return std::nullopt;
    }
    return static_cast<int>(value);
  } catch (py::error_already_set& e) {
    producer_error(e, name, "__dlpack_device__()");
  }
}

// The producer's capsule through the DLPack protocol.
py::object protocol_capsule(py::handle obj, const char* name, uintptr_t stream) {
  if (!py::hasattr(obj, "__dlpack__") || !py::hasattr(obj, "__dlpack_device__")) {
    type_error(std::string(name) +
               ": expected an object supporting DLPack such as a NumPy array or torch tensor, "
               "got " + Py_TYPE(obj.ptr())->tp_name);
  }
  // The array API's stream argument: CUDA producers order their pending work
  // before `stream` (1 names the legacy default stream, 0 is not allowed);
  // everyone else must get None.
  py::object stream_arg = py::none();
  if (device_type(obj, name) == kDLCUDA) {
    stream_arg = py::int_(stream == 0 ? uintptr_t{1} : stream);
  }
  try {
    try {
      // Versioned capsules carry a read-only flag, which lets e.g. read-only NumPy arrays
      // through.
      return obj.attr("__dlpack__")(py::arg("stream") = stream_arg,
                                    py::arg("max_version") = py::make_tuple(1, 0));
    } catch (py::error_already_set& e) {
      if (!e.matches(PyExc_TypeError)) throw;  // producers predating DLPack 1.0 reject max_version
      return obj.attr("__dlpack__")(py::arg("stream") = stream_arg);
    }
  } catch (py::error_already_set& e) {
    producer_error(e, name, "__dlpack__()");
  }
}

py::object exporter_capsule(py::handle exporter, py::handle obj, const char* name) {
  try {
    return exporter(obj);
  } catch (py::error_already_set& e) {
    producer_error(e, name, "the DLPack export");
  }
}

}  // namespace

ImportedTensor import_tensor(py::handle obj, const char* name, uintptr_t stream,
                             py::handle exporter) {
  const py::object capsule =
      exporter.is_none() ? protocol_capsule(obj, name, stream)
                         : exporter_capsule(exporter, obj, name);

  ImportedTensor result;
  const DLTensor* t = nullptr;
  PyObject* cap = capsule.ptr();
  if (PyCapsule_IsValid(cap, kVersionedName)) {
    auto* managed =
        static_cast<DLManagedTensorVersioned*>(PyCapsule_GetPointer(cap, kVersionedName));
    // Renamed, the capsule's own destructor leaves the tensor to us.
    if (PyCapsule_SetName(cap, "used_dltensor_versioned") != 0) throw py::error_already_set();
    result.versioned_ = managed;
    if (managed->version.major != 1) {
      type_error(std::string(name) + ": DLPack " + std::to_string(managed->version.major) + "." +
                 std::to_string(managed->version.minor) +
                 " is not supported (expected version 1.x)");
    }
    result.view_.read_only = (managed->flags & DLPACK_FLAG_BITMASK_READ_ONLY) != 0;
    t = &managed->dl_tensor;
  } else if (PyCapsule_IsValid(cap, kLegacyName)) {
    auto* managed = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(cap, kLegacyName));
    if (PyCapsule_SetName(cap, "used_dltensor") != 0) throw py::error_already_set();
    result.legacy_ = managed;
    t = &managed->dl_tensor;
  } else {
    type_error(std::string(name) + ": __dlpack__() returned a " + Py_TYPE(cap)->tp_name +
               ", not an unused DLPack capsule");
  }

  TensorView& view = result.view_;
  view.name = name;
  view.device = to_device(t->device, name);
  view.dtype = to_dtype(t->dtype, name);
  // ndim is checked before the shape is read: a wild value must not make us
  // read past the producer's shape array.
  if (t->ndim < 0 || t->ndim > kMaxNdim) {
    value_error(std::string(name) + ": the DLPack tensor has ndim " + std::to_string(t->ndim) +
                "; expected 0 to " + std::to_string(kMaxNdim) + " dimensions");
  }
  if (t->ndim > 0 && t->shape == nullptr) {
    value_error(std::string(name) + ": the DLPack tensor has " + std::to_string(t->ndim) +
                " dimensions but a NULL shape pointer");
  }
  view.shape.assign(t->shape, t->shape + t->ndim);
  if (t->strides != nullptr) view.strides.assign(t->strides, t->strides + t->ndim);
  // An empty tensor's memory is never touched (producers may give it a NULL data
  // pointer, with any offset); the core checks that a non-empty one has memory.
  for (int64_t d : view.shape) {
    if (d == 0) {
      view.data = t->data;
      return result;
    }
  }
  // data + byte_offset in integers: pointer arithmetic that wraps is undefined.
  const auto data = reinterpret_cast<uintptr_t>(t->data);
  if (t->byte_offset != 0 && data == 0) {
    value_error(std::string(name) + ": the DLPack tensor has byte_offset " +
                std::to_string(t->byte_offset) + " from a NULL data pointer");
  }
  if (t->byte_offset > UINTPTR_MAX - data) {
    value_error(std::string(name) + ": the DLPack tensor's byte_offset " +
                std::to_string(t->byte_offset) + " runs past the end of the address space");
  }
  view.data = reinterpret_cast<void*>(data + static_cast<uintptr_t>(t->byte_offset));
  return result;
}

}  // namespace infercore::python
