# Optional CUDA toolkit pieces for the tests. kiln itself never needs a CUDA
# header or library at build time (it dlopens libcuda, NVRTC and nvJitLink);
# the tests use the toolkit when it is there:
#
# - cuda.h, nvrtc.h and nvJitLink.h: tests/cuda_types_test.c checks that
#   kiln's own declarations (src/cuda/cuda_types.h) match them
#   (KILN_HAVE_CUDA_HEADERS).
# - the driver stub libcuda.so: a test resolves kiln's whole driver symbol
#   list against it (KILN_TEST_CUDA_STUB_LIBCUDA).
#
# The toolkit is looked for under $CUDA_HOME, $CUDA_PATH, CUDAToolkit_ROOT and
# the default install location.

set(KILN_CUDA_HINTS)
foreach(root $ENV{CUDA_HOME} $ENV{CUDA_PATH} ${CUDAToolkit_ROOT}
             /usr/local/cuda)
  if(root)
    list(APPEND KILN_CUDA_HINTS ${root})
  endif()
endforeach()

find_path(KILN_CUDA_DRIVER_INCLUDE_DIR cuda.h
  HINTS ${KILN_CUDA_HINTS} PATH_SUFFIXES include targets/x86_64-linux/include)
find_path(KILN_CUDA_NVRTC_INCLUDE_DIR nvrtc.h
  HINTS ${KILN_CUDA_HINTS} PATH_SUFFIXES include targets/x86_64-linux/include)
find_path(KILN_CUDA_NVJITLINK_INCLUDE_DIR nvJitLink.h
  HINTS ${KILN_CUDA_HINTS} PATH_SUFFIXES include targets/x86_64-linux/include)
find_library(KILN_CUDA_STUB_LIBCUDA NAMES cuda
  HINTS ${KILN_CUDA_HINTS}
  PATH_SUFFIXES lib64/stubs lib/stubs targets/x86_64-linux/lib/stubs
  NO_DEFAULT_PATH)
mark_as_advanced(KILN_CUDA_DRIVER_INCLUDE_DIR KILN_CUDA_NVRTC_INCLUDE_DIR
                 KILN_CUDA_NVJITLINK_INCLUDE_DIR KILN_CUDA_STUB_LIBCUDA)

if(TARGET kiln_tests)
  if(KILN_CUDA_DRIVER_INCLUDE_DIR AND KILN_CUDA_NVRTC_INCLUDE_DIR AND
     KILN_CUDA_NVJITLINK_INCLUDE_DIR)
    message(STATUS "kiln: CUDA headers found; checking kiln's CUDA "
                   "declarations against them")
    target_compile_definitions(kiln_tests PRIVATE KILN_HAVE_CUDA_HEADERS=1)
    # SYSTEM: the toolkit's headers are not held to kiln's warning flags.
    target_include_directories(kiln_tests SYSTEM PRIVATE
      ${KILN_CUDA_DRIVER_INCLUDE_DIR} ${KILN_CUDA_NVRTC_INCLUDE_DIR}
      ${KILN_CUDA_NVJITLINK_INCLUDE_DIR})
  else()
    message(STATUS "kiln: CUDA headers not found; the CUDA declaration "
                   "check is skipped")
  endif()
  if(KILN_CUDA_STUB_LIBCUDA)
    target_compile_definitions(kiln_tests PRIVATE
      KILN_TEST_CUDA_STUB_LIBCUDA="${KILN_CUDA_STUB_LIBCUDA}")
  endif()
endif()
