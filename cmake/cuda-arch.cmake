# Turns INFERCORE_CUDA_ARCHS / INFERCORE_CUDA_PTX_ARCHS (resolved and checked by
# scripts/buildsys against build-matrix.toml) into CMAKE_CUDA_ARCHITECTURES and
# enables CUDA. An empty arch list means a CPU-only core.
set(INFERCORE_WITH_CUDA OFF)
if(INFERCORE_CUDA_ARCHS STREQUAL "native")
  # Developer builds (CMakePresets.json): the GPUs in this machine.
  set(_archs native)
elseif(INFERCORE_CUDA_ARCHS)
  set(_archs "")
  foreach(_arch IN LISTS INFERCORE_CUDA_ARCHS)
    list(APPEND _archs "${_arch}-real")
  endforeach()
  foreach(_arch IN LISTS INFERCORE_CUDA_PTX_ARCHS)
    list(APPEND _archs "${_arch}-virtual")
  endforeach()
endif()
if(INFERCORE_CUDA_ARCHS)
  set(CMAKE_CUDA_ARCHITECTURES "${_archs}")
  set(CMAKE_CUDA_STANDARD 17)
  set(CMAKE_CUDA_STANDARD_REQUIRED ON)
  # Static CUDA runtime: the wheel needs only the driver (libcuda) at run time,
  # which cudart loads itself, so no CUDA library is bundled or required.
  set(CMAKE_CUDA_RUNTIME_LIBRARY Static)
  enable_language(CUDA)
  infercore_ccache_cuda_flags()  # cmake/ccache.cmake
  find_package(CUDAToolkit REQUIRED)
  set(INFERCORE_WITH_CUDA ON)
  message(STATUS "infercore: CUDA ${CMAKE_CUDA_COMPILER_VERSION}, archs ${CMAKE_CUDA_ARCHITECTURES}")
else()
  message(STATUS "infercore: CPU-only core (no CUDA archs requested)")
endif()
