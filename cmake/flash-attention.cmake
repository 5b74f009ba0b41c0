# FlashAttention-2 forward kernels, built without PyTorch.
#
#   include(flash-attention)
#   infercore_add_flash_attention(
#     TARGET          <name>                       # target to create
#     SOURCE_DIR      <.../csrc/flash_attn/src>    # upstream FA2 kernel sources (unpatched)
#     CUTLASS_INCLUDE <.../include>                # dir holding cute/ and cutlass/
#     HEADDIMS        64 128 ...                   # subset of 32 64 96 128 192 256
#     DTYPES          fp16 bf16
#     CAUSAL          ON OFF                       # which causal variants
#     [SPLIT          ON OFF]                      # OFF (default): run_mha_fwd_ TUs;
#                                                  # ON: run_mha_fwd_splitkv_dispatch TUs
#     [LIBRARY_TYPE   OBJECT|STATIC]               # default OBJECT
#     [NAMESPACE      <c++ namespace>]             # FLASH_NAMESPACE, default "flash"
#     [DISABLE        DROPOUT ALIBI SOFTCAP LOCAL UNEVEN_K]
#     [NVCC_THREADS   <n>])                        # nvcc --threads (per-arch parallelism)
#
# Creates <name> (the upstream translation units, one per listed combination)
# with PUBLIC usage requirements: the torch shim include dir, SOURCE_DIR, the
# CUTLASS include dir, FLASH_NAMESPACE / FLASHATTENTION_DISABLE_* definitions
# and a generated header <infercore_fa2_kernels.h> that lists the compiled
# combinations as X-macros:
#   INFERCORE_FA2_FWD_KERNELS(X)        X(elem_type, dtype_name, hdim, is_causal)
#   INFERCORE_FA2_FWD_SPLIT_KERNELS(X)  same, for the split-KV dispatchers
# so the entry point (csrc/kernels/flash_attn/fa2_forward.cu) dispatches to
# exactly what was compiled. Nothing from PyTorch is used: the three torch
# headers the forward sources include are provided by
# csrc/kernels/flash_attn/shim (see the comments there).
#
# CUDA architectures are NOT set here: the TUs follow CMAKE_CUDA_ARCHITECTURES
# (or the target's CUDA_ARCHITECTURES set by the caller). Upstream compiles these
# kernels for sm_80+ only (the kernels are empty below sm_80); use e.g. 80-real;90-real.
#
# Requires CMake >= 3.25 and enable_language(CUDA) by the caller.

include_guard(GLOBAL)

# Shim headers (c10/cuda/CUDAException.h, ATen/cuda/CUDAGeneratorImpl.h,
# ATen/cuda/detail/UnpackRaw.cuh), relative to this file.
set(INFERCORE_FA2_SHIM_DIR "${CMAKE_CURRENT_LIST_DIR}/../csrc/kernels/flash_attn/shim"
    CACHE INTERNAL "torch-free shim headers for FlashAttention-2")
cmake_path(NORMAL_PATH INFERCORE_FA2_SHIM_DIR)

function(infercore_add_flash_attention)
  cmake_parse_arguments(PARSE_ARGV 0 FA
    ""
    "TARGET;SOURCE_DIR;CUTLASS_INCLUDE;LIBRARY_TYPE;NAMESPACE;NVCC_THREADS"
    "HEADDIMS;DTYPES;CAUSAL;SPLIT;DISABLE")

  set(_fn "infercore_add_flash_attention")
  if(FA_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "${_fn}: unknown arguments: ${FA_UNPARSED_ARGUMENTS}")
  endif()
  foreach(_req IN ITEMS TARGET SOURCE_DIR CUTLASS_INCLUDE HEADDIMS DTYPES CAUSAL)
    if("${FA_${_req}}" STREQUAL "")  # CAUSAL OFF is a valid value, so test for emptiness
      message(FATAL_ERROR "${_fn}: ${_req} is required")
    endif()
  endforeach()
  if(NOT CMAKE_CUDA_COMPILER_LOADED)
    message(FATAL_ERROR "${_fn}: enable the CUDA language first (enable_language(CUDA))")
  endif()
  if(NOT FA_LIBRARY_TYPE)
    set(FA_LIBRARY_TYPE OBJECT)
  endif()
  if(NOT FA_LIBRARY_TYPE MATCHES "^(OBJECT|STATIC)$")
    message(FATAL_ERROR "${_fn}: LIBRARY_TYPE must be OBJECT or STATIC, got '${FA_LIBRARY_TYPE}'")
  endif()
  if(NOT FA_NAMESPACE)
    set(FA_NAMESPACE flash)
  endif()
  if("${FA_SPLIT}" STREQUAL "")
    set(FA_SPLIT OFF)
  endif()

  cmake_path(ABSOLUTE_PATH FA_SOURCE_DIR NORMALIZE)
  cmake_path(ABSOLUTE_PATH FA_CUTLASS_INCLUDE NORMALIZE)
  foreach(_probe IN ITEMS "${FA_SOURCE_DIR}/flash.h" "${FA_SOURCE_DIR}/flash_fwd_launch_template.h")
    if(NOT EXISTS "${_probe}")
      message(FATAL_ERROR "${_fn}: SOURCE_DIR does not look like FA2's csrc/flash_attn/src: missing ${_probe}")
    endif()
  endforeach()
  foreach(_probe IN ITEMS "${FA_CUTLASS_INCLUDE}/cute/tensor.hpp" "${FA_CUTLASS_INCLUDE}/cutlass/cutlass.h")
    if(NOT EXISTS "${_probe}")
      message(FATAL_ERROR "${_fn}: CUTLASS_INCLUDE has no ${_probe}")
    endif()
  endforeach()
  foreach(_shim IN ITEMS c10/cuda/CUDAException.h ATen/cuda/CUDAGeneratorImpl.h ATen/cuda/detail/UnpackRaw.cuh)
    if(NOT EXISTS "${INFERCORE_FA2_SHIM_DIR}/${_shim}")
      message(FATAL_ERROR "${_fn}: shim header missing: ${INFERCORE_FA2_SHIM_DIR}/${_shim}")
    endif()
  endforeach()

  # --- Translation units, one per (split, hdim, dtype, causal), named exactly as
  # upstream's generate_kernels.py names them.
  set(_sources "")
  set(_x_fwd "")
  set(_x_split "")
  set(_summary "")
  foreach(_split IN LISTS FA_SPLIT)
    if(_split)
      set(_prefix "flash_fwd_split_")
    else()
      set(_prefix "flash_fwd_")
    endif()
    foreach(_hdim IN LISTS FA_HEADDIMS)
      if(NOT _hdim MATCHES "^[0-9]+$")
        message(FATAL_ERROR "${_fn}: HEADDIMS entry '${_hdim}' is not a number")
      endif()
      foreach(_dtype IN LISTS FA_DTYPES)
        if(_dtype STREQUAL "fp16")
          set(_elem "cutlass::half_t")
        elseif(_dtype STREQUAL "bf16")
          set(_elem "cutlass::bfloat16_t")
        else()
          message(FATAL_ERROR "${_fn}: DTYPES entry '${_dtype}' must be fp16 or bf16")
        endif()
        foreach(_causal IN LISTS FA_CAUSAL)
          if(_causal)
            set(_csuffix "_causal")
            set(_cbool true)
          else()
            set(_csuffix "")
            set(_cbool false)
          endif()
          set(_tu "${FA_SOURCE_DIR}/${_prefix}hdim${_hdim}_${_dtype}${_csuffix}_sm80.cu")
          if(NOT EXISTS "${_tu}")
            message(FATAL_ERROR
              "${_fn}(${FA_TARGET}): no upstream translation unit for "
              "split=${_split} hdim=${_hdim} dtype=${_dtype} causal=${_causal}: "
              "${_tu} does not exist (FA2 ships hdim 32 64 96 128 192 256, fp16/bf16, causal on/off)")
          endif()
          list(APPEND _sources "${_tu}")
          if(_split)
            string(APPEND _x_split "  X(${_elem}, ${_dtype}, ${_hdim}, ${_cbool}) \\\n")
          else()
            string(APPEND _x_fwd "  X(${_elem}, ${_dtype}, ${_hdim}, ${_cbool}) \\\n")
          endif()
          list(APPEND _summary "${_prefix}hdim${_hdim}_${_dtype}${_csuffix}")
        endforeach()
      endforeach()
    endforeach()
  endforeach()
  list(REMOVE_DUPLICATES _sources)

  # --- Generated list of compiled combinations (consumed by fa2_forward.cu).
  set(_gen_dir "${CMAKE_CURRENT_BINARY_DIR}/${FA_TARGET}_fa2_config")
  set(_hdr "// Generated by cmake/flash-attention.cmake for target ${FA_TARGET}. Do not edit.\n")
  string(APPEND _hdr "#pragma once\n#include <cutlass/numeric_types.h>\n")
  string(APPEND _hdr "// X(elem_type, dtype_name, headdim, is_causal)\n")
  string(APPEND _hdr "#define INFERCORE_FA2_FWD_KERNELS(X) \\\n${_x_fwd}  /* end */\n")
  string(APPEND _hdr "#define INFERCORE_FA2_FWD_SPLIT_KERNELS(X) \\\n${_x_split}  /* end */\n")
  file(CONFIGURE OUTPUT "${_gen_dir}/infercore_fa2_kernels.h" CONTENT "${_hdr}" @ONLY)

  add_library(${FA_TARGET} ${FA_LIBRARY_TYPE} ${_sources})
  # Upstream builds with -std=c++17 (cute/CUTLASS need >= 17).
  target_compile_features(${FA_TARGET} PUBLIC cxx_std_17 cuda_std_17)
  set_target_properties(${FA_TARGET} PROPERTIES
    # Ends up in the Python extension module (a shared object).
    POSITION_INDEPENDENT_CODE ON
    # Whole-program device code per TU, as upstream (no -rdc / device link step).
    CUDA_SEPARABLE_COMPILATION OFF)

  # Include order matters: the shim must win over any real torch headers that a
  # consumer might also have on its path.
  target_include_directories(${FA_TARGET} BEFORE PUBLIC
    "${INFERCORE_FA2_SHIM_DIR}"   # <c10/...>, <ATen/...> (torch-free shims)
    "${FA_SOURCE_DIR}"            # flash.h, static_switch.h, ... (upstream adds this dir)
    "${_gen_dir}")                # infercore_fa2_kernels.h
  # SYSTEM: CUTLASS/cute headers are third-party; keep their warnings out of our builds.
  target_include_directories(${FA_TARGET} SYSTEM PUBLIC "${FA_CUTLASS_INCLUDE}")

  # FLASH_NAMESPACE: upstream's own knob (namespace_config.h). PUBLIC because the
  # entry point must declare run_mha_fwd_ in the same namespace. A unique
  # namespace avoids symbol interposition with a flash_attn_2_cuda.so loaded in
  # the same process.
  target_compile_definitions(${FA_TARGET} PUBLIC "FLASH_NAMESPACE=${FA_NAMESPACE}")
  # Optional upstream compile-time feature switches (static_switch.h): each one
  # halves the kernel instantiations per TU (compile time / binary size).
  foreach(_feat IN LISTS FA_DISABLE)
    if(NOT _feat MATCHES "^(DROPOUT|ALIBI|SOFTCAP|LOCAL|UNEVEN_K)$")
      message(FATAL_ERROR "${_fn}: DISABLE entry '${_feat}' must be one of DROPOUT ALIBI SOFTCAP LOCAL UNEVEN_K")
    endif()
    target_compile_definitions(${FA_TARGET} PUBLIC "FLASHATTENTION_DISABLE_${_feat}")
  endforeach()

  # nvcc flags: FA2 2.8.3 setup.py nvcc_flags, minus what is torch-only
  # (torch's -D__CUDA_NO_HALF*__ defaults, -DTORCH_EXTENSION_NAME,
  # -D_GLIBCXX_USE_CXX11_ABI, -DTORCH_API_INCLUDE_EXTENSION_H, the torch
  # include dirs) and minus -gencode (the caller owns the arch list).
  set(_nvcc_flags
    # Upstream passes -O3 unconditionally (host side; device code is always
    # optimised by ptxas unless -G).
    -O3
    # Upstream -U's the half/bf16 "no operators/conversions" macros that torch's
    # extension builder -D's. Without torch nothing defines them, so these are
    # no-ops kept as a guard: cutlass/cute and FA2 utils.h use the __half /
    # __nv_bfloat16 operators and conversions from cuda_fp16.h / cuda_bf16.h,
    # which those macros would remove if some global flag set them.
    -U__CUDA_NO_HALF_OPERATORS__
    -U__CUDA_NO_HALF_CONVERSIONS__
    -U__CUDA_NO_HALF2_OPERATORS__
    -U__CUDA_NO_BFLOAT16_CONVERSIONS__
    # cute calls constexpr host functions (std::min/max, std::get on the
    # std::tuple returned by philox unpack, ...) from device code.
    --expt-relaxed-constexpr
    # Upstream flag; allows __device__ lambdas (the *_SWITCH macros use host
    # lambdas only in the forward path, kept for parity with upstream builds).
    --expt-extended-lambda
    # Softmax uses exp2f/fast reciprocal: fast-math (ex2.approx, ftz, fast div)
    # is what upstream's kernels are tuned and validated with.
    --use_fast_math)
  if(FA_NVCC_THREADS)
    # Parallel per-arch compilation inside one nvcc (upstream: NVCC_THREADS=4).
    # Peak memory scales with it (~4 GB per arch for one FA2 forward TU).
    list(APPEND _nvcc_flags --threads ${FA_NVCC_THREADS})
  endif()
  list(TRANSFORM _nvcc_flags PREPEND "$<$<COMPILE_LANGUAGE:CUDA>:")
  list(TRANSFORM _nvcc_flags APPEND ">")
  target_compile_options(${FA_TARGET} PRIVATE ${_nvcc_flags})

  list(LENGTH _sources _n)
  message(STATUS "${_fn}(${FA_TARGET}): ${_n} TU(s), namespace ${FA_NAMESPACE}, "
                 "disabled [${FA_DISABLE}], CUTLASS ${FA_CUTLASS_INCLUDE}")
  set_property(TARGET ${FA_TARGET} PROPERTY INFERCORE_FA2_KERNELS "${_summary}")
endfunction()
