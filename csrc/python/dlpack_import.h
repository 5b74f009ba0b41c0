// Python objects -> infercore::TensorView through the DLPack protocol.
#pragma once

#include <pybind11/pybind11.h>

#include <cstdint>

#include "infercore/tensor.h"

struct DLManagedTensor;
struct DLManagedTensorVersioned;

namespace infercore::python {

// A view of an imported tensor that owns the producer's managed tensor and
// releases it (calls its deleter) when destroyed; destroy it with the GIL held,
// since producers' deleters touch Python objects.
class ImportedTensor {
 public:
  ImportedTensor() = default;
  ImportedTensor(ImportedTensor&& other) noexcept;
  ImportedTensor(const ImportedTensor&) = delete;
  ImportedTensor& operator=(const ImportedTensor&) = delete;
  ~ImportedTensor();

  const TensorView& view() const { return view_; }

 private:
  friend ImportedTensor import_tensor(pybind11::handle obj, const char* name, uintptr_t stream,
                                      pybind11::handle exporter);

  TensorView view_;
  DLManagedTensor* legacy_ = nullptr;
  DLManagedTensorVersioned* versioned_ = nullptr;
};

// Imports `obj` (called `name` in error messages) via obj.__dlpack_device__()
// and obj.__dlpack__(). `stream` is the cudaStream_t the op will run on (0: the
// legacy default stream); CUDA producers are asked to make their data ready on it.
// With an `exporter` (not None), the capsule is exporter(obj) instead: the caller
// has checked that obj's pending work is already ordered before `stream` (e.g. a
// torch tensor and torch's current stream), so the protocol's stream handshake,
// which costs ~10 us per tensor in torch's Python __dlpack__, is skipped.
ImportedTensor import_tensor(pybind11::handle obj, const char* name, uintptr_t stream,
                             pybind11::handle exporter);

}  // namespace infercore::python
