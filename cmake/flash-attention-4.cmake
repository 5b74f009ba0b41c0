# FlashAttention-4 forward variants, exported ahead of time with the CuTe DSL and linked
# as one object into an arch group's kernel library, torch-free.
#
#   include(flash-attention-4)
#   infercore_add_flash_attention_4(
#     TARGET           <name>        # the variants' C++ entries (an OBJECT library) and the
#                                    # partially linked object <name>.o (see below)
#     VARIANTS         P,ARCH,DTYPE,HEADDIM,CAUSAL,HEADS_RATIO,SELECTION_SMS ...
#                                    # one per variant, from scripts/buildsys/kernels/fa4.py
#     EXPORTER         <fa4_export.py>   PYTHON <the CuTe DSL environment's python>
#     SOURCE_DIR       <dir holding flash_attn/cute>
#     FA4_SHA256       <sha256>      ENV_SHA256 <sha256>   # cache-key inputs
#     CACHE_DIR        <export cache>
#     RUNTIME_LIBRARY  <libcuda_dialect_runtime_static.a>
#     [LAUNCHER        <tu_monitor.py;REPORT>]               # records time and peak memory
#     [JOB_POOL        <ninja pool>])
#
# Per variant, one custom command exports PREFIX.o, PREFIX.h and PREFIX.json (the
# export's cache verdict and FA4's choices) into CMakeFiles/<name>.dir/, in JOB_POOL, and
# one generated C++ TU (csrc/kernels/fa4/fa4_variant.cc.in) fills the variant's C ABI.
# Then `ld -r` joins every variant, their C++ entries and the DSL's static runtime into
# <name>.o, and objcopy makes every symbol local but the entries the dispatch table uses
# (fa4supports_PREFIX, fa4run_PREFIX: hidden, extern "C"), so two groups' copies of the
# runtime and the variants' module handles never meet. Sets, in the caller's scope:
#   <name>_OBJECT        the object to add to the group's library
#   <name>_KERNELS_DIR   holds <infercore_fa4_kernels.h>:
#     INFERCORE_FA4_KERNELS(X)  X(prefix, dtype, headdim, is_causal, heads_ratio, cc)
#
# Requires CMake >= 3.25, CUDAToolkit (the entries include the CUDA runtime headers).

include_guard(GLOBAL)

set(INFERCORE_FA4_SRC_DIR "${CMAKE_CURRENT_LIST_DIR}/../csrc/kernels/fa4"
    CACHE INTERNAL "infercore's FlashAttention-4 entry sources")
cmake_path(NORMAL_PATH INFERCORE_FA4_SRC_DIR)

function(infercore_add_flash_attention_4)
  cmake_parse_arguments(PARSE_ARGV 0 FA4
    ""
    "TARGET;EXPORTER;PYTHON;SOURCE_DIR;FA4_SHA256;ENV_SHA256;CACHE_DIR;RUNTIME_LIBRARY;JOB_POOL"
    "VARIANTS;LAUNCHER")
  set(_fn "infercore_add_flash_attention_4")
  if(FA4_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "${_fn}: unknown arguments: ${FA4_UNPARSED_ARGUMENTS}")
  endif()
  foreach(_req IN ITEMS TARGET VARIANTS EXPORTER PYTHON SOURCE_DIR FA4_SHA256 ENV_SHA256 CACHE_DIR
                        RUNTIME_LIBRARY)
    if("${FA4_${_req}}" STREQUAL "")
      message(FATAL_ERROR "${_fn}: ${_req} is required (configure through `nox -s kernels-smXX`)")
    endif()
  endforeach()
  if(NOT EXISTS "${FA4_SOURCE_DIR}/flash_attn/cute/flash_fwd_sm90.py")
    message(FATAL_ERROR "${_fn}(${FA4_TARGET}): SOURCE_DIR does not hold FA4's CuTe DSL sources: "
                        "missing ${FA4_SOURCE_DIR}/flash_attn/cute/flash_fwd_sm90.py")
  endif()
  foreach(_own IN ITEMS fa4_entry.h fa4_entry.cc fa4_variant.cc.in)
    if(NOT EXISTS "${INFERCORE_FA4_SRC_DIR}/${_own}")
      message(FATAL_ERROR "${_fn}: missing ${INFERCORE_FA4_SRC_DIR}/${_own}")
    endif()
  endforeach()

  set(_pool "")
  if(FA4_JOB_POOL)
    set(_pool JOB_POOL "${FA4_JOB_POOL}")
  endif()
  set(_dir "${CMAKE_CURRENT_BINARY_DIR}/CMakeFiles/${FA4_TARGET}.dir")
  set(_gen "${CMAKE_CURRENT_BINARY_DIR}/${FA4_TARGET}_entries")
  set(_objects "")
  set(_headers "")
  set(_entries "")
  set(_x "")
  set(_keep "")
  foreach(_variant IN LISTS FA4_VARIANTS)
    string(REPLACE "," ";" _fields "${_variant}")
    list(LENGTH _fields _n)
    if(NOT _n EQUAL 7)
      message(FATAL_ERROR "${_fn}(${FA4_TARGET}): VARIANTS entry '${_variant}' is not "
                          "PREFIX,ARCH,DTYPE,HEADDIM,CAUSAL,HEADS_RATIO,SELECTION_SMS")
    endif()
    list(GET _fields 0 FA4_PREFIX)
    list(GET _fields 1 _arch)
    list(GET _fields 2 FA4_DTYPE)
    list(GET _fields 3 FA4_HEADDIM)
    list(GET _fields 4 _causal)
    list(GET _fields 5 FA4_HEADS_RATIO)
    list(GET _fields 6 _sms)
    if(NOT _arch MATCHES "^sm_([0-9]+)a$")
      message(FATAL_ERROR "${_fn}(${FA4_TARGET}): arch '${_arch}' is not an arch-specific target (sm_XXa)")
    endif()
    set(_cc "${CMAKE_MATCH_1}")
    if(_causal)
      set(FA4_CAUSAL true)
      set(_causal_flag --causal)
    else()
      set(FA4_CAUSAL false)
      set(_causal_flag "")
    endif()
    set(_out "${_dir}/${FA4_PREFIX}")
    # "Building FA4 object ...": the kernels build shows it as a TU's progress.
    add_custom_command(
      OUTPUT "${_out}.o" "${_out}.h" "${_out}.json"
      COMMAND ${FA4_LAUNCHER} "${FA4_EXPORTER}"
              --python "${FA4_PYTHON}" --source "${FA4_SOURCE_DIR}"
              --fa4-sha256 "${FA4_FA4_SHA256}" --env-sha256 "${FA4_ENV_SHA256}"
              --cache "${FA4_CACHE_DIR}" --arch "${_arch}" --dtype "${FA4_DTYPE}"
              --headdim "${FA4_HEADDIM}" ${_causal_flag} --heads-ratio "${FA4_HEADS_RATIO}"
              --selection-sms "${_sms}" -o "${_out}.o"
      DEPENDS "${FA4_EXPORTER}"
      COMMENT "Building FA4 object ${FA4_TARGET}/${FA4_PREFIX}.o"
      ${_pool}
      VERBATIM)
    configure_file("${INFERCORE_FA4_SRC_DIR}/fa4_variant.cc.in" "${_gen}/${FA4_PREFIX}.cc" @ONLY)
    list(APPEND _objects "${_out}.o")
    list(APPEND _headers "${_out}.h")
    list(APPEND _entries "${_gen}/${FA4_PREFIX}.cc")
    string(APPEND _x "  X(${FA4_PREFIX}, ${FA4_DTYPE}, ${FA4_HEADDIM}, ${FA4_CAUSAL}, ${FA4_HEADS_RATIO}, ${_cc}) \\\n")
    string(APPEND _keep "fa4supports_${FA4_PREFIX}\nfa4run_${FA4_PREFIX}\n")
  endforeach()

  # The entries read the exported headers: listing them as sources orders each entry's
  # compile after its export.
  add_library(${FA4_TARGET} OBJECT "${INFERCORE_FA4_SRC_DIR}/fa4_entry.cc" ${_entries} ${_headers})
  target_compile_features(${FA4_TARGET} PRIVATE cxx_std_17)
  target_include_directories(${FA4_TARGET} PRIVATE
      "${INFERCORE_FA4_SRC_DIR}" "${_dir}" ${CUDAToolkit_INCLUDE_DIRS})
  set_target_properties(${FA4_TARGET} PROPERTIES POSITION_INDEPENDENT_CODE ON)

  set(_hdr "// Generated by cmake/flash-attention-4.cmake for ${FA4_TARGET}. Do not edit.\n")
  string(APPEND _hdr "#pragma once\n// X(prefix, dtype, headdim, is_causal, heads_ratio, cc): the entries\n")
  string(APPEND _hdr "// fa4supports_<prefix> and fa4run_<prefix> of a variant for compute capability cc\n")
  string(APPEND _hdr "#define INFERCORE_FA4_KERNELS(X) \\\n${_x}  /* end */\n")
  file(CONFIGURE OUTPUT "${_gen}/infercore_fa4_kernels.h" CONTENT "${_hdr}" @ONLY)
  file(CONFIGURE OUTPUT "${_dir}/keep-global-symbols.txt" CONTENT "${_keep}" @ONLY)

  set(_joined "${_dir}/${FA4_TARGET}.o")
  add_custom_command(
    OUTPUT "${_joined}"
    COMMAND "${CMAKE_LINKER}" -r -o "${_joined}.partial" "$<TARGET_OBJECTS:${FA4_TARGET}>"
            ${_objects} "${FA4_RUNTIME_LIBRARY}"
    COMMAND "${CMAKE_OBJCOPY}" "--keep-global-symbols=${_dir}/keep-global-symbols.txt"
            "${_joined}.partial" "${_joined}"
    COMMAND "${CMAKE_COMMAND}" -E rm -f "${_joined}.partial"
    DEPENDS "$<TARGET_OBJECTS:${FA4_TARGET}>" ${_objects} "${FA4_RUNTIME_LIBRARY}"
            "${_dir}/keep-global-symbols.txt"
    COMMENT "Linking the FA4 variants of ${FA4_TARGET} with the CuTe DSL runtime"
    COMMAND_EXPAND_LISTS
    VERBATIM)
  list(LENGTH _objects _count)
  message(STATUS "${_fn}(${FA4_TARGET}): ${_count} variant(s), exports cached in ${FA4_CACHE_DIR}")
  set(${FA4_TARGET}_OBJECT "${_joined}" PARENT_SCOPE)
  set(${FA4_TARGET}_KERNELS_DIR "${_gen}" PARENT_SCOPE)
endfunction()
