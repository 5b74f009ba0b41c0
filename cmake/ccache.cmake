# The compiler launcher. Every buildsys build (each nox session) passes its own: the
# pinned ccache with its generated configuration (scripts/buildsys/ccache,
# docs/CACHE.md), or none with INFERCORE_CCACHE=OFF. A plain `cmake` run that passes
# none uses a ccache from PATH: for C++ always, for CUDA only from 4.12.3 on, since
# older releases mis-handle nvcc's -MD/-MF options (Debian bookworm has 4.7.5).
option(INFERCORE_CCACHE "Use ccache as the compiler launcher when available" ON)
if(INFERCORE_CCACHE AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  find_program(INFERCORE_CCACHE_PROGRAM ccache)
  if(INFERCORE_CCACHE_PROGRAM)
    set(CMAKE_CXX_COMPILER_LAUNCHER "${INFERCORE_CCACHE_PROGRAM}")
    execute_process(COMMAND "${INFERCORE_CCACHE_PROGRAM}" --version
                    OUTPUT_VARIABLE _infercore_ccache_version ERROR_QUIET)
    string(REGEX MATCH "version ([0-9]+\\.[0-9]+(\\.[0-9]+)?)" _ "${_infercore_ccache_version}")
    if(CMAKE_MATCH_1 VERSION_GREATER_EQUAL 4.12.3)
      set(CMAKE_CUDA_COMPILER_LAUNCHER "${INFERCORE_CCACHE_PROGRAM}")
    else()
      message(STATUS "ccache ${CMAKE_MATCH_1} is too old for nvcc (needs 4.12.3): C++ only")
    endif()
  endif()
endif()

# nvcc's system include flag: CMake's NVIDIA module spells it "-isystem=PATH", one
# argument that ccache's base_dir does not rewrite, so the checkout's absolute path
# would enter every CUDA compile's hash and two checkouts would never share an entry.
# nvcc takes the two-argument spelling too, which ccache rewrites. Called once CUDA
# is enabled (enabling it sets the module's spelling again).
macro(infercore_ccache_cuda_flags)
  set(CMAKE_INCLUDE_SYSTEM_FLAG_CUDA "-isystem ")
endmacro()
if(CMAKE_CUDA_COMPILER_LOADED)
  infercore_ccache_cuda_flags()
endif()
