// Errors the core raises for bad input. The Python bindings map kTypeError to
// TypeError and kValueError to ValueError, so callers see Python's usual types.
#pragma once

#include <stdexcept>
#include <string>

namespace infercore {

enum class ErrorKind { kTypeError, kValueError };

class ArgumentError : public std::invalid_argument {
 public:
  ArgumentError(ErrorKind kind, const std::string& message)
      : std::invalid_argument(message), kind_(kind) {}
  ErrorKind kind() const noexcept { return kind_; }

 private:
  ErrorKind kind_;
};

// A CUDA runtime failure (launch error, out of memory...). Maps to RuntimeError.
class CudaError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace infercore
