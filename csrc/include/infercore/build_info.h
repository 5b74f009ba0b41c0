// What this build of the core contains; filled in by CMake at configure time.
#pragma once

#include <string>
#include <vector>

namespace infercore {

struct BuildInfo {
  std::string version;
  std::string git_sha;
  std::string build_type;
  std::string cxx_compiler;   // "GNU 12.2.0"
  std::string cxx_flags;
  bool cuda_enabled = false;
  std::string cuda_version;   // "13.0.48" or "" for CPU-only builds
  std::string cuda_compiler;  // "NVIDIA 13.0.48"
  std::string cuda_flags;
  std::vector<std::string> cuda_sass_archs;  // {"80", "90"}
  std::vector<std::string> cuda_ptx_archs;   // {"90"}
};

const BuildInfo& build_info();

// Run-time CUDA facts (0 devices in CPU-only builds or without a driver).
int cuda_device_count();
// Compute capability as major*10+minor ("90" for an H200); throws CudaError
// (ArgumentError for an index that is not a visible device).
int cuda_compute_capability(int device_index);

// Run-time CPU facts: the code path the CPU kernels run ("avx2", meaning
// AVX2+FMA, or the portable "baseline"; INFERCORE_CPU_ISA=auto|avx2|baseline
// chooses) and how many threads they use (INFERCORE_NUM_THREADS, else the
// hardware concurrency). Both throw ArgumentError when their variable is malformed.
const char* cpu_isa();
int cpu_num_threads();

}  // namespace infercore
