# The Hopper first pass on CUTLASS 3 (included from CMakeLists.txt when CUDA is built).
#
# CUTLASS's C++ headers come from the pinned nvidia-cutlass wheel on PyPI (a header-only library:
# nothing of it is linked or loaded at run time). The wheel is downloaded once with pip into the
# build folder (or taken from CHORUS_CUTLASS_WHEEL), its SHA-256 checked, and only its include
# folders extracted. The kernels (kernels/cutlass_*.cu) build for sm_90a, the architecture whose
# wgmma/TMA instructions they use, into libchorus_cuda.so with CHORUS_HAVE_CUTLASS=1.
set(CHORUS_CUTLASS_VERSION 4.2.0.0)
set(CHORUS_CUTLASS_SHA256 f9599ada45c7bcb6bf53f7d3f0a7d154183e53451c01bfa59eecd37dd4a693f6)
set(_cutlass_name nvidia_cutlass-${CHORUS_CUTLASS_VERSION}-py3-none-any.whl)
set(_cutlass_dir ${CMAKE_BINARY_DIR}/_deps/cutlass-${CHORUS_CUTLASS_VERSION})
set(CHORUS_HAVE_CUTLASS OFF)

# Why the CUTLASS kernels are not built: a message under AUTO, an error under ON.
function(_chorus_no_cutlass why)
  if(CHORUS_CUTLASS STREQUAL "ON")
    message(FATAL_ERROR "CHORUS_CUTLASS=ON: ${why}")
  endif()
  message(STATUS "chorus: CUTLASS kernels not built: ${why}")
endfunction()

if(NOT CHORUS_CUTLASS STREQUAL "OFF")
  set(_include ${_cutlass_dir}/cutlass_library/source/include)
  if(NOT EXISTS ${_include}/cutlass/version.h)
    set(_wheel ${CHORUS_CUTLASS_WHEEL})
    if(NOT _wheel)
      set(_wheel ${_cutlass_dir}/${_cutlass_name})
      if(NOT EXISTS ${_wheel})
        find_program(CHORUS_PYTHON3 NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
        message(STATUS "chorus: downloading nvidia-cutlass ${CHORUS_CUTLASS_VERSION} (headers)")
        execute_process(
          COMMAND ${CHORUS_PYTHON3} -m pip download --disable-pip-version-check --no-deps
                  --only-binary=:all: nvidia-cutlass==${CHORUS_CUTLASS_VERSION} -d ${_cutlass_dir}
          RESULT_VARIABLE _rc OUTPUT_QUIET ERROR_VARIABLE _err TIMEOUT 300)
        if(NOT _rc EQUAL 0)
          string(STRIP "${_err}" _err)
          _chorus_no_cutlass("pip could not download nvidia-cutlass==${CHORUS_CUTLASS_VERSION} "
                             "(${_err}); set CHORUS_CUTLASS_WHEEL to a copy of ${_cutlass_name}")
        endif()
      endif()
    endif()
    if(EXISTS ${_wheel})
      file(SHA256 ${_wheel} _sha)
      if(NOT _sha STREQUAL CHORUS_CUTLASS_SHA256)
        file(REMOVE_RECURSE ${_cutlass_dir})
        message(FATAL_ERROR "${_wheel}: SHA-256 ${_sha}, expected ${CHORUS_CUTLASS_SHA256} "
                            "(nvidia-cutlass ${CHORUS_CUTLASS_VERSION}); not used")
      endif()
      file(ARCHIVE_EXTRACT INPUT ${_wheel} DESTINATION ${_cutlass_dir}
           PATTERNS cutlass_library/source/include/* cutlass_library/source/tools/util/include/*)
    endif()
  endif()
  if(EXISTS ${_include}/cutlass/version.h)
    set(CHORUS_HAVE_CUTLASS ON)
  endif()
endif()

file(GLOB CHORUS_CUTLASS_SOURCES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/kernels/cutlass_*.cu)
if(CHORUS_HAVE_CUTLASS AND CHORUS_CUTLASS_SOURCES)
  # objects, not an archive: all of them go into libchorus_cuda.so (the benchmarks call the
  # launchers through it too)
  add_library(chorus_cutlass OBJECT ${CHORUS_CUTLASS_SOURCES})
  # sm_90a only (wgmma, TMA, setmaxnreg): the architecture flags are set here, not by CMake
  set_target_properties(chorus_cutlass PROPERTIES CUDA_ARCHITECTURES OFF
                                                  POSITION_INDEPENDENT_CODE ON)
  target_compile_options(chorus_cutlass PRIVATE
    $<$<COMPILE_LANGUAGE:CUDA>:-gencode=arch=compute_90a,code=sm_90a --expt-relaxed-constexpr>
    $<$<AND:$<COMPILE_LANGUAGE:CUDA>,$<NOT:$<CONFIG:Debug>>>:-Xptxas=-warn-spills,-warn-lmem-usage,-Werror>)
  target_include_directories(chorus_cutlass SYSTEM PRIVATE
    ${_cutlass_dir}/cutlass_library/source/include
    ${_cutlass_dir}/cutlass_library/source/tools/util/include ${CUDAToolkit_INCLUDE_DIRS})
  target_include_directories(chorus_cutlass PRIVATE ${PROJECT_SOURCE_DIR}/kernels
                                                    ${PROJECT_SOURCE_DIR}/host/include)
  target_compile_definitions(chorus_cutlass PRIVATE CHORUS_HAVE_CUTLASS=1)
  target_sources(chorus_cuda PRIVATE $<TARGET_OBJECTS:chorus_cutlass>)
  target_compile_definitions(chorus_cuda PRIVATE CHORUS_HAVE_CUTLASS=1)
  set(CHORUS_CUTLASS_INCLUDE ${_cutlass_dir}/cutlass_library/source/include)
  message(STATUS "chorus: CUTLASS ${CHORUS_CUTLASS_VERSION} kernels for sm_90a")
elseif(CHORUS_HAVE_CUTLASS)
  set(CHORUS_HAVE_CUTLASS OFF)
  message(STATUS "chorus: CUTLASS headers found, no kernels/cutlass_*.cu to build")
endif()
