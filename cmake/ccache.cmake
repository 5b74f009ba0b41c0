# ccache as the compiler launcher for C++ and CUDA when it is installed.
# INFERCORE_CCACHE=OFF turns it off (e.g. to time a truly cold compile).
option(INFERCORE_CCACHE "Use ccache as the compiler launcher when available" ON)
if(INFERCORE_CCACHE AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  find_program(INFERCORE_CCACHE_PROGRAM ccache)
  if(INFERCORE_CCACHE_PROGRAM)
    set(CMAKE_CXX_COMPILER_LAUNCHER "${INFERCORE_CCACHE_PROGRAM}")
    set(CMAKE_CUDA_COMPILER_LAUNCHER "${INFERCORE_CCACHE_PROGRAM}")
  endif()
endif()
