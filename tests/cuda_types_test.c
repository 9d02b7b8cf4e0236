// Checks kiln's own CUDA declarations (src/cuda/cuda_types.h) against the
// toolkit's cuda.h, nvrtc.h and nvJitLink.h when CMake found them
// (cmake/KilnCuda.cmake defines KILN_HAVE_CUDA_HEADERS): every enum value at
// compile time, the sizes and layouts of the types kiln passes, and, at run
// time, that each versioned symbol kiln resolves is the one cuda.h's macros
// select (cuMemAlloc -> cuMemAlloc_v2).

#include "cuda/cuda_types.h"

#include <stddef.h>

#include "test.h"

#if defined(KILN_HAVE_CUDA_HEADERS)

#include <cuda.h>
#include <nvJitLink.h>
#include <nvrtc.h>

#if CUDA_VERSION < 13000
#error "kiln's CUDA declarations are checked against CUDA 13.0 headers or newer"
#endif

// Compared as long long: the two sides are different enum types.
#define CHECK_VALUE(name, value)                                \
  _Static_assert((long long)KILN_##name == (long long)(name) && \
                     (long long)(value) == (long long)(name),   \
                 #name " differs from the toolkit's header");
KILN_CU_RESULT_LIST(CHECK_VALUE)
KILN_CU_DEVICE_ATTRIBUTE_LIST(CHECK_VALUE)
KILN_CU_FUNCTION_ATTRIBUTE_LIST(CHECK_VALUE)
KILN_CU_JIT_OPTION_LIST(CHECK_VALUE)
KILN_CU_FLAG_LIST(CHECK_VALUE)
KILN_NVRTC_RESULT_LIST(CHECK_VALUE)
KILN_NVJITLINK_RESULT_LIST(CHECK_VALUE)
KILN_NVJITLINK_INPUT_TYPE_LIST(CHECK_VALUE)
#undef CHECK_VALUE

#define CHECK_SIZE(ours, theirs) \
  _Static_assert(sizeof(ours) == sizeof(theirs), #ours " != " #theirs);
CHECK_SIZE(kiln__cu_result_t, CUresult)
CHECK_SIZE(kiln__cu_device_attribute_t, CUdevice_attribute)
CHECK_SIZE(kiln__cu_function_attribute_t, CUfunction_attribute)
CHECK_SIZE(kiln__cu_jit_option_t, CUjit_option)
CHECK_SIZE(kiln__cu_stream_capture_mode_t, CUstreamCaptureMode)
CHECK_SIZE(kiln__cu_device_t, CUdevice)
CHECK_SIZE(kiln__cu_deviceptr_t, CUdeviceptr)
CHECK_SIZE(kiln__cu_context_t, CUcontext)
CHECK_SIZE(kiln__cu_module_t, CUmodule)
CHECK_SIZE(kiln__cu_function_t, CUfunction)
CHECK_SIZE(kiln__cu_stream_t, CUstream)
CHECK_SIZE(kiln__cu_event_t, CUevent)
CHECK_SIZE(kiln__cu_graph_t, CUgraph)
CHECK_SIZE(kiln__cu_graph_node_t, CUgraphNode)
CHECK_SIZE(kiln__cu_graph_exec_t, CUgraphExec)
CHECK_SIZE(kiln__cu_kernel_node_params_t, CUDA_KERNEL_NODE_PARAMS_v2)
CHECK_SIZE(kiln__nvrtc_result_t, nvrtcResult)
CHECK_SIZE(kiln__nvrtc_program_t, nvrtcProgram)
CHECK_SIZE(kiln__nvjitlink_result_t, nvJitLinkResult)
CHECK_SIZE(kiln__nvjitlink_input_type_t, nvJitLinkInputType)
CHECK_SIZE(kiln__nvjitlink_handle_t, nvJitLinkHandle)
#undef CHECK_SIZE

#define CHECK_FIELD(ours, theirs)                                  \
  _Static_assert(offsetof(kiln__cu_kernel_node_params_t, ours) ==  \
                     offsetof(CUDA_KERNEL_NODE_PARAMS_v2, theirs), \
                 "CUDA_KERNEL_NODE_PARAMS_v2." #theirs " moved");
CHECK_FIELD(func, func)
CHECK_FIELD(grid_dim_x, gridDimX)
CHECK_FIELD(grid_dim_y, gridDimY)
CHECK_FIELD(grid_dim_z, gridDimZ)
CHECK_FIELD(block_dim_x, blockDimX)
CHECK_FIELD(block_dim_y, blockDimY)
CHECK_FIELD(block_dim_z, blockDimZ)
CHECK_FIELD(shared_mem_bytes, sharedMemBytes)
CHECK_FIELD(kernel_params, kernelParams)
CHECK_FIELD(extra, extra)
CHECK_FIELD(kern, kern)
CHECK_FIELD(ctx, ctx)
#undef CHECK_FIELD

// The name each API resolves to after cuda.h's macros (cuMemAlloc ->
// cuMemAlloc_v2), as a string.
#define EXPANDED_NAME(api) EXPANDED_NAME_(api)
#define EXPANDED_NAME_(api) #api

typedef struct symbol_pair_t {
  const char* ours;
  const char* headers;
} symbol_pair_t;

#define SYMBOL_PAIR(ret, field, symbol, fallback, optional, params) \
  {symbol, EXPANDED_NAME(field)},
static const symbol_pair_t symbol_pairs[] = {
    KILN_CUDA_DRIVER_SYMBOL_LIST(SYMBOL_PAIR)
        KILN_NVRTC_SYMBOL_LIST(SYMBOL_PAIR)
            KILN_NVJITLINK_SYMBOL_LIST(SYMBOL_PAIR)};
#undef SYMBOL_PAIR

TEST(cuda_types_match_headers) {
  for (size_t i = 0; i < sizeof(symbol_pairs) / sizeof(symbol_pairs[0]); ++i) {
    ASSERT_EQ_STR(symbol_pairs[i].ours, symbol_pairs[i].headers);
  }
}

#else  // !KILN_HAVE_CUDA_HEADERS

TEST(cuda_types_match_headers) {
  SKIP(
      "cuda.h, nvrtc.h and nvJitLink.h were not found at configure time "
      "(set CUDA_HOME to check kiln's CUDA declarations against them)");
}

#endif  // KILN_HAVE_CUDA_HEADERS
