# Byte-reproducible objects: map the source and build directories out of debug
# info and __FILE__, and seed GCC's random names per file (see
# ../shared/notes on nvcc: -objtemp keeps nvcc's temp names beside the object).
set(_infercore_maps
    "-ffile-prefix-map=${CMAKE_SOURCE_DIR}=/src/infercore"
    "-ffile-prefix-map=${CMAKE_BINARY_DIR}=/build/infercore")
add_compile_options("$<$<COMPILE_LANGUAGE:CXX>:${_infercore_maps}>")
foreach(_map IN LISTS _infercore_maps)
  add_compile_options("$<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=${_map}>")
endforeach()
add_compile_options("$<$<COMPILE_LANGUAGE:CUDA>:-objtemp>")

# -frandom-seed=<path relative to the source tree> for every source of TARGET.
function(infercore_stable_seeds target)
  get_target_property(_sources ${target} SOURCES)
  get_target_property(_dir ${target} SOURCE_DIR)
  foreach(_src IN LISTS _sources)
    cmake_path(ABSOLUTE_PATH _src BASE_DIRECTORY "${_dir}" OUTPUT_VARIABLE _abs)
    cmake_path(RELATIVE_PATH _abs BASE_DIRECTORY "${CMAKE_SOURCE_DIR}" OUTPUT_VARIABLE _rel)
    if(_src MATCHES "\\.cu$")
      set_property(SOURCE ${_src} TARGET_DIRECTORY ${target} APPEND PROPERTY COMPILE_OPTIONS
                   "-Xcompiler=-frandom-seed=${_rel}")
    else()
      set_property(SOURCE ${_src} TARGET_DIRECTORY ${target} APPEND PROPERTY COMPILE_OPTIONS
                   "-frandom-seed=${_rel}")
    endif()
  endforeach()
endfunction()

# Map one more directory (e.g. a pinned upstream source tree outside the source
# directory) to a fixed name in TARGET's objects.
function(infercore_prefix_map target dir name)
  target_compile_options(${target} PRIVATE
      "$<$<COMPILE_LANGUAGE:CXX>:-ffile-prefix-map=${dir}=${name}>"
      "$<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-ffile-prefix-map=${dir}=${name}>")
endfunction()
