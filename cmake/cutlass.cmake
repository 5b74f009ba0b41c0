# CUTLASS Hopper (sm_90a) kernels: a warp-specialized GEMM and the Hopper FMHA
# forward of CUTLASS's examples/88_hopper_fmha, as infercore kernel backends
# (csrc/kernels/cutlass_sm90).
#
#   include(cutlass)
#   infercore_add_cutlass_sm90(
#     TARGET             <name>                          # target to create
#     CUTLASS_DIR        <.../cutlass_library/source>    # holds include/, tools/util/include,
#                                                        # examples/88_hopper_fmha (unpatched)
#     [GEMM_DTYPES       bf16 fp16]                      # GEMM instantiations (may be empty)
#     [FMHA_HEADDIMS     64 128 256]                     # FMHA instantiations: head-dim buckets,
#     [FMHA_DTYPES       fp16 bf16]                      #   dtypes and causal variants; give all
#     [FMHA_CAUSAL       ON OFF]                         #   three or none
#     [LIBRARY_TYPE      OBJECT|STATIC]                  # default OBJECT
#     [CUDA_ARCHITECTURES 90a-real])                     # the only accepted value (the default)
#
# Creates <name> with one generated translation unit per instantiation (an
# FMHA TU is one kernel of several thousand lines of templates: minutes and
# gigabytes each, so they must stay separate for ninja to parallelise within
# the RAM budget). PUBLIC usage requirements: csrc/kernels/include (api.h),
# csrc/kernels/cutlass_sm90 (fmha_sm90.h, gemm_sm90.h) and a generated header
# <infercore_cutlass_sm90_kernels.h> listing what was compiled as X-macros:
#   INFERCORE_FMHA_SM90_KERNELS(X)   X(dtype, headdim, causal)   e.g. X(bf16, 128, true)
#   INFERCORE_GEMM_SM90_KERNELS(X)   X(dtype)                    e.g. X(bf16)
# where dtype names infercore::kernels::DType::dtype. The entry points are
# infercore::kernels::fmha_sm90_run<DType, HeadDim, Causal> and gemm_sm90_run<DType>.
# The CUTLASS include dirs are PRIVATE: consumers only see the CUTLASS-free headers.
#
# Architecture: sm_90a SASS only, set on the target (CUDA_ARCHITECTURES 90a-real),
# whatever CMAKE_CUDA_ARCHITECTURES says. wgmma and setmaxnreg exist only on the
# arch-specific target: built for plain sm_90 these kernels compile, but their
# bodies are replaced by a printf and they do nothing at run time; PTX for 90a
# cannot be JIT-compiled for any other GPU, so it is never embedded.
#
# Link needs: the CUDA runtime only (TMA descriptors are encoded through
# cudaGetDriverEntryPointByVersion, so no -lcuda).
#
# Requires CMake >= 3.25, CUDA >= 12.0 and enable_language(CUDA) by the caller.

include_guard(GLOBAL)

set(INFERCORE_CUTLASS_SM90_SRC_DIR "${CMAKE_CURRENT_LIST_DIR}/../csrc/kernels/cutlass_sm90"
    CACHE INTERNAL "infercore's CUTLASS sm_90a kernel sources")
cmake_path(NORMAL_PATH INFERCORE_CUTLASS_SM90_SRC_DIR)
set(INFERCORE_KERNELS_API_INCLUDE_DIR "${CMAKE_CURRENT_LIST_DIR}/../csrc/kernels/include"
    CACHE INTERNAL "infercore kernel API headers (infercore/kernels/api.h)")
cmake_path(NORMAL_PATH INFERCORE_KERNELS_API_INCLUDE_DIR)

function(infercore_add_cutlass_sm90)
  cmake_parse_arguments(PARSE_ARGV 0 CS
    ""
    "TARGET;CUTLASS_DIR;LIBRARY_TYPE"
    "GEMM_DTYPES;FMHA_HEADDIMS;FMHA_DTYPES;FMHA_CAUSAL;CUDA_ARCHITECTURES")

  set(_fn "infercore_add_cutlass_sm90")
  if(CS_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "${_fn}: unknown arguments: ${CS_UNPARSED_ARGUMENTS}")
  endif()
  foreach(_req IN ITEMS TARGET CUTLASS_DIR)
    if(NOT CS_${_req})
      message(FATAL_ERROR "${_fn}: ${_req} is required")
    endif()
  endforeach()
  if(TARGET ${CS_TARGET})
    message(FATAL_ERROR "${_fn}: target '${CS_TARGET}' already exists")
  endif()
  if(NOT CMAKE_CUDA_COMPILER_LOADED)
    message(FATAL_ERROR "${_fn}: enable the CUDA language first (enable_language(CUDA))")
  endif()
  if(CMAKE_CUDA_COMPILER_VERSION VERSION_LESS 12.0)
    message(FATAL_ERROR "${_fn}(${CS_TARGET}): sm_90a (wgmma, TMA) needs CUDA >= 12.0; "
                        "nvcc is ${CMAKE_CUDA_COMPILER_VERSION}. Use a CUDA 12+ toolkit or drop the sm90 kernels.")
  endif()
  if(NOT CS_LIBRARY_TYPE)
    set(CS_LIBRARY_TYPE OBJECT)
  endif()
  if(NOT CS_LIBRARY_TYPE MATCHES "^(OBJECT|STATIC)$")
    message(FATAL_ERROR "${_fn}: LIBRARY_TYPE must be OBJECT or STATIC, got '${CS_LIBRARY_TYPE}'")
  endif()
  if(DEFINED CS_CUDA_ARCHITECTURES AND NOT "${CS_CUDA_ARCHITECTURES}" STREQUAL "90a-real")
    message(FATAL_ERROR
      "${_fn}(${CS_TARGET}): CUDA_ARCHITECTURES '${CS_CUDA_ARCHITECTURES}' is not allowed: these kernels "
      "are compiled for sm_90a SASS only (90a-real). Plain sm_90 builds them without wgmma (they do nothing "
      "at run time), other GPUs cannot run them, and 90a PTX cannot be JIT-compiled elsewhere. "
      "Omit CUDA_ARCHITECTURES or pass 90a-real; other GPUs get the FlashAttention-2 kernels.")
  endif()

  # FMHA lists: all three or none (a partial set silently compiling nothing would hide a typo).
  set(_fmha_given "")
  foreach(_opt IN ITEMS FMHA_HEADDIMS FMHA_DTYPES FMHA_CAUSAL)
    if(NOT "${CS_${_opt}}" STREQUAL "")  # FMHA_CAUSAL OFF is a value: test for emptiness
      list(APPEND _fmha_given ${_opt})
    endif()
  endforeach()
  list(LENGTH _fmha_given _n_fmha_given)
  if(_n_fmha_given GREATER 0 AND _n_fmha_given LESS 3)
    message(FATAL_ERROR "${_fn}(${CS_TARGET}): FMHA_HEADDIMS, FMHA_DTYPES and FMHA_CAUSAL go together; "
                        "got only ${_fmha_given}")
  endif()
  if(_n_fmha_given EQUAL 0 AND "${CS_GEMM_DTYPES}" STREQUAL "")
    message(FATAL_ERROR "${_fn}(${CS_TARGET}): nothing to build: give GEMM_DTYPES and/or "
                        "FMHA_HEADDIMS + FMHA_DTYPES + FMHA_CAUSAL")
  endif()

  cmake_path(ABSOLUTE_PATH CS_CUTLASS_DIR NORMALIZE)
  set(_fmha_dir "${CS_CUTLASS_DIR}/examples/88_hopper_fmha")
  foreach(_probe IN ITEMS
      "${CS_CUTLASS_DIR}/include/cute/tensor.hpp"
      "${CS_CUTLASS_DIR}/include/cutlass/gemm/collective/collective_builder.hpp"
      "${CS_CUTLASS_DIR}/tools/util/include/cutlass/util/packed_stride.hpp"
      "${_fmha_dir}/collective/fmha_collective_tma_warpspecialized.hpp"
      "${_fmha_dir}/kernel/fmha_kernel_tma_warpspecialized.hpp")
    if(NOT EXISTS "${_probe}")
      message(FATAL_ERROR "${_fn}(${CS_TARGET}): CUTLASS_DIR does not look like a CUTLASS >= 3.6 source tree "
                          "with the Hopper FMHA example (the nvidia-cutlass wheel's cutlass_library/source): "
                          "missing ${_probe}")
    endif()
  endforeach()
  foreach(_own IN ITEMS fmha_sm90.h fmha_sm90.cuh fmha_sm90.cu.in gemm_sm90.h gemm_sm90.cuh gemm_sm90.cu.in)
    if(NOT EXISTS "${INFERCORE_CUTLASS_SM90_SRC_DIR}/${_own}")
      message(FATAL_ERROR "${_fn}: missing ${INFERCORE_CUTLASS_SM90_SRC_DIR}/${_own}")
    endif()
  endforeach()

  set(_gen_dir "${CMAKE_CURRENT_BINARY_DIR}/${CS_TARGET}_cutlass_sm90")
  set(_fmha_sources "")
  set(_gemm_sources "")
  set(_x_fmha "")
  set(_x_gemm "")
  set(_summary "")

  # --- GEMM: one TU per dtype.
  set(_seen "")
  foreach(_dtype IN LISTS CS_GEMM_DTYPES)
    if(NOT _dtype MATCHES "^(fp16|bf16)$")
      message(FATAL_ERROR "${_fn}(${CS_TARGET}): GEMM_DTYPES entry '${_dtype}' must be fp16 or bf16")
    endif()
    if(_dtype IN_LIST _seen)
      continue()
    endif()
    list(APPEND _seen ${_dtype})
    set(IC_DTYPE ${_dtype})
    set(_tu "${_gen_dir}/gemm_sm90_${_dtype}.cu")
    configure_file("${INFERCORE_CUTLASS_SM90_SRC_DIR}/gemm_sm90.cu.in" "${_tu}" @ONLY)
    list(APPEND _gemm_sources "${_tu}")
    string(APPEND _x_gemm "  X(${_dtype}) \\\n")
    list(APPEND _summary "gemm_${_dtype}")
  endforeach()

  # --- FMHA: one TU per (head dim, dtype, causal).
  set(_seen "")
  if(_n_fmha_given EQUAL 3)
    foreach(_hdim IN LISTS CS_FMHA_HEADDIMS)
      if(NOT _hdim MATCHES "^(64|128|256)$")
        message(FATAL_ERROR "${_fn}(${CS_TARGET}): FMHA_HEADDIMS entry '${_hdim}' must be 64, 128 or 256 "
                            "(the example's fp16/bf16 tile configurations; each runs head dims up to itself)")
      endif()
      foreach(_dtype IN LISTS CS_FMHA_DTYPES)
        if(NOT _dtype MATCHES "^(fp16|bf16)$")
          message(FATAL_ERROR "${_fn}(${CS_TARGET}): FMHA_DTYPES entry '${_dtype}' must be fp16 or bf16")
        endif()
        foreach(_causal IN LISTS CS_FMHA_CAUSAL)
          string(TOUPPER "${_causal}" _cu)
          if(NOT _cu MATCHES "^(ON|OFF|TRUE|FALSE|1|0|YES|NO)$")
            message(FATAL_ERROR "${_fn}(${CS_TARGET}): FMHA_CAUSAL entry '${_causal}' must be ON or OFF")
          endif()
          if(_causal)
            set(IC_CAUSAL true)
            set(_cname causal)
          else()
            set(IC_CAUSAL false)
            set(_cname noncausal)
          endif()
          set(_name "fmha_sm90_hdim${_hdim}_${_dtype}_${_cname}")
          if(_name IN_LIST _seen)
            continue()
          endif()
          list(APPEND _seen ${_name})
          set(IC_DTYPE ${_dtype})
          set(IC_HEADDIM ${_hdim})
          set(_tu "${_gen_dir}/${_name}.cu")
          configure_file("${INFERCORE_CUTLASS_SM90_SRC_DIR}/fmha_sm90.cu.in" "${_tu}" @ONLY)
          list(APPEND _fmha_sources "${_tu}")
          string(APPEND _x_fmha "  X(${_dtype}, ${_hdim}, ${IC_CAUSAL}) \\\n")
          list(APPEND _summary "${_name}")
        endforeach()
      endforeach()
    endforeach()
  endif()

  # --- Generated list of compiled instantiations (for the core's dispatcher).
  set(_hdr "// Generated by cmake/cutlass.cmake for target ${CS_TARGET}. Do not edit.\n")
  string(APPEND _hdr "#pragma once\n")
  string(APPEND _hdr "#include \"fmha_sm90.h\"\n#include \"gemm_sm90.h\"\n")
  string(APPEND _hdr "// X(dtype, headdim, causal): infercore::kernels::fmha_sm90_run<DType::dtype, headdim, causal>\n")
  string(APPEND _hdr "#define INFERCORE_FMHA_SM90_KERNELS(X) \\\n${_x_fmha}  /* end */\n")
  string(APPEND _hdr "// X(dtype): infercore::kernels::gemm_sm90_run<DType::dtype>\n")
  string(APPEND _hdr "#define INFERCORE_GEMM_SM90_KERNELS(X) \\\n${_x_gemm}  /* end */\n")
  file(CONFIGURE OUTPUT "${_gen_dir}/infercore_cutlass_sm90_kernels.h" CONTENT "${_hdr}" @ONLY)

  add_library(${CS_TARGET} ${CS_LIBRARY_TYPE} ${_gemm_sources} ${_fmha_sources})
  target_compile_features(${CS_TARGET} PUBLIC cxx_std_17 cuda_std_17)
  set_target_properties(${CS_TARGET} PROPERTIES
    CUDA_ARCHITECTURES 90a-real
    POSITION_INDEPENDENT_CODE ON
    # Whole-program device code per TU (no -rdc / device link step), as CUTLASS builds.
    CUDA_SEPARABLE_COMPILATION OFF)

  target_include_directories(${CS_TARGET} PUBLIC
    "${INFERCORE_KERNELS_API_INCLUDE_DIR}"   # <infercore/kernels/api.h>
    "${INFERCORE_CUTLASS_SM90_SRC_DIR}"      # fmha_sm90.h, gemm_sm90.h (+ the .cuh the TUs include)
    "${_gen_dir}")                           # infercore_cutlass_sm90_kernels.h
  # SYSTEM: third-party headers, their warnings are not ours. The FMHA example's
  # headers are included as <collective/...>, <kernel/...> from its own dir.
  target_include_directories(${CS_TARGET} SYSTEM PRIVATE
    "${CS_CUTLASS_DIR}/include"
    "${CS_CUTLASS_DIR}/tools/util/include"
    "${_fmha_dir}")

  set(_nvcc_flags
    # cute calls constexpr host functions from device code (CUTLASS's own flag).
    --expt-relaxed-constexpr
    # Host side; device code is always optimised by ptxas unless -G.
    -O3)
  list(TRANSFORM _nvcc_flags PREPEND "$<$<COMPILE_LANGUAGE:CUDA>:")
  list(TRANSFORM _nvcc_flags APPEND ">")
  target_compile_options(${CS_TARGET} PRIVATE ${_nvcc_flags})
  # CUTLASS's host code assert()s when a TMA descriptor cannot be encoded; the
  # supports() checks keep run() away from those, and run() must never abort the
  # process, so the asserts are compiled out in every build type.
  target_compile_definitions(${CS_TARGET} PRIVATE NDEBUG)
  if(_fmha_sources)
    # The example is built and validated with --use_fast_math (ex2.approx in the softmax).
    set_source_files_properties(${_fmha_sources} TARGET_DIRECTORY ${CS_TARGET}
      PROPERTIES COMPILE_OPTIONS "$<$<COMPILE_LANGUAGE:CUDA>:--use_fast_math>")
  endif()

  list(LENGTH _gemm_sources _n_gemm)
  list(LENGTH _fmha_sources _n_fmha)
  message(STATUS "${_fn}(${CS_TARGET}): ${_n_gemm} GEMM + ${_n_fmha} FMHA TU(s) for sm_90a, "
                 "CUTLASS ${CS_CUTLASS_DIR}")
  set_property(TARGET ${CS_TARGET} PROPERTY INFERCORE_CUTLASS_SM90_KERNELS "${_summary}")
endfunction()
