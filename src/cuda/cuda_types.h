// kiln's own declarations of the CUDA driver, NVRTC and nvJitLink types,
// enum values and function signatures it uses, so that kiln builds without
// any CUDA header (design decision 3: no link-time CUDA dependency).
//
// Names are kiln's: types are kiln__cu_*_t / kiln__nvrtc_*_t /
// kiln__nvjitlink_*_t, constants are KILN_ followed by the CUDA name
// (KILN_CUDA_ERROR_OUT_OF_MEMORY, KILN_CU_JIT_ERROR_LOG_BUFFER, ...). The
// values are checked against the real headers by tests/cuda_types_test.c,
// which is compiled when CMake finds cuda.h, nvrtc.h and nvJitLink.h
// (cmake/KilnCuda.cmake).
//
// The value lists are X-macros: X(CUDA_NAME, value). Each expands once here
// into KILN_<CUDA_NAME> constants, once in the static-assert test, and once
// into name tables (kiln__cuda_result_name and friends).

#ifndef KILN_SRC_CUDA_CUDA_TYPES_H_
#define KILN_SRC_CUDA_CUDA_TYPES_H_

#include <stddef.h>
#include <stdint.h>

//===----------------------------------------------------------------------===//
// Driver API types
//===----------------------------------------------------------------------===//

// CUresult, CUdevice_attribute, CUfunction_attribute, CUjit_option,
// CUstreamCaptureMode and CUstreamCaptureStatus are C enums in cuda.h; every
// enum there fits in an int and is passed as one.
typedef int kiln__cu_result_t;
typedef int kiln__cu_device_attribute_t;
typedef int kiln__cu_function_attribute_t;
typedef int kiln__cu_jit_option_t;
typedef int kiln__cu_stream_capture_mode_t;
typedef int kiln__cu_stream_capture_status_t;

typedef int kiln__cu_device_t;                        // CUdevice
typedef unsigned long long kiln__cu_deviceptr_t;      // CUdeviceptr (64-bit)
typedef struct kiln__cu_ctx_s* kiln__cu_context_t;    // CUcontext
typedef struct kiln__cu_mod_s* kiln__cu_module_t;     // CUmodule
typedef struct kiln__cu_func_s* kiln__cu_function_t;  // CUfunction
typedef struct kiln__cu_stream_s* kiln__cu_stream_t;  // CUstream
typedef struct kiln__cu_event_s* kiln__cu_event_t;    // CUevent
typedef struct kiln__cu_graph_s* kiln__cu_graph_t;    // CUgraph
typedef struct kiln__cu_graph_node_s* kiln__cu_graph_node_t;  // CUgraphNode
typedef struct kiln__cu_graph_exec_s* kiln__cu_graph_exec_t;  // CUgraphExec
typedef struct kiln__cu_kernel_s* kiln__cu_kernel_t;          // CUkernel

// CUDA_KERNEL_NODE_PARAMS_v2 (cuGraphExecKernelNodeSetParams_v2).
typedef struct kiln__cu_kernel_node_params_t {
  kiln__cu_function_t func;
  unsigned int grid_dim_x;
  unsigned int grid_dim_y;
  unsigned int grid_dim_z;
  unsigned int block_dim_x;
  unsigned int block_dim_y;
  unsigned int block_dim_z;
  unsigned int shared_mem_bytes;
  void** kernel_params;
  void** extra;
  kiln__cu_kernel_t kern;  // used only when func is NULL
  kiln__cu_context_t ctx;  // ignored when func is set
} kiln__cu_kernel_node_params_t;

// CUresult values: every value of CUDA 13.0's cuda.h.
#define KILN_CU_RESULT_LIST(X)                      \
  X(CUDA_SUCCESS, 0)                                \
  X(CUDA_ERROR_INVALID_VALUE, 1)                    \
  X(CUDA_ERROR_OUT_OF_MEMORY, 2)                    \
  X(CUDA_ERROR_NOT_INITIALIZED, 3)                  \
  X(CUDA_ERROR_DEINITIALIZED, 4)                    \
  X(CUDA_ERROR_PROFILER_DISABLED, 5)                \
  X(CUDA_ERROR_PROFILER_NOT_INITIALIZED, 6)         \
  X(CUDA_ERROR_PROFILER_ALREADY_STARTED, 7)         \
  X(CUDA_ERROR_PROFILER_ALREADY_STOPPED, 8)         \
  X(CUDA_ERROR_STUB_LIBRARY, 34)                    \
  X(CUDA_ERROR_CALL_REQUIRES_NEWER_DRIVER, 36)      \
  X(CUDA_ERROR_DEVICE_UNAVAILABLE, 46)              \
  X(CUDA_ERROR_NO_DEVICE, 100)                      \
  X(CUDA_ERROR_INVALID_DEVICE, 101)                 \
  X(CUDA_ERROR_DEVICE_NOT_LICENSED, 102)            \
  X(CUDA_ERROR_INVALID_IMAGE, 200)                  \
  X(CUDA_ERROR_INVALID_CONTEXT, 201)                \
  X(CUDA_ERROR_CONTEXT_ALREADY_CURRENT, 202)        \
  X(CUDA_ERROR_MAP_FAILED, 205)                     \
  X(CUDA_ERROR_UNMAP_FAILED, 206)                   \
  X(CUDA_ERROR_ARRAY_IS_MAPPED, 207)                \
  X(CUDA_ERROR_ALREADY_MAPPED, 208)                 \
  X(CUDA_ERROR_NO_BINARY_FOR_GPU, 209)              \
  X(CUDA_ERROR_ALREADY_ACQUIRED, 210)               \
  X(CUDA_ERROR_NOT_MAPPED, 211)                     \
  X(CUDA_ERROR_NOT_MAPPED_AS_ARRAY, 212)            \
  X(CUDA_ERROR_NOT_MAPPED_AS_POINTER, 213)          \
  X(CUDA_ERROR_ECC_UNCORRECTABLE, 214)              \
  X(CUDA_ERROR_UNSUPPORTED_LIMIT, 215)              \
  X(CUDA_ERROR_CONTEXT_ALREADY_IN_USE, 216)         \
  X(CUDA_ERROR_PEER_ACCESS_UNSUPPORTED, 217)        \
  X(CUDA_ERROR_INVALID_PTX, 218)                    \
  X(CUDA_ERROR_INVALID_GRAPHICS_CONTEXT, 219)       \
  X(CUDA_ERROR_NVLINK_UNCORRECTABLE, 220)           \
  X(CUDA_ERROR_JIT_COMPILER_NOT_FOUND, 221)         \
  X(CUDA_ERROR_UNSUPPORTED_PTX_VERSION, 222)        \
  X(CUDA_ERROR_JIT_COMPILATION_DISABLED, 223)       \
  X(CUDA_ERROR_UNSUPPORTED_EXEC_AFFINITY, 224)      \
  X(CUDA_ERROR_UNSUPPORTED_DEVSIDE_SYNC, 225)       \
  X(CUDA_ERROR_CONTAINED, 226)                      \
  X(CUDA_ERROR_INVALID_SOURCE, 300)                 \
  X(CUDA_ERROR_FILE_NOT_FOUND, 301)                 \
  X(CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND, 302) \
  X(CUDA_ERROR_SHARED_OBJECT_INIT_FAILED, 303)      \
  X(CUDA_ERROR_OPERATING_SYSTEM, 304)               \
  X(CUDA_ERROR_INVALID_HANDLE, 400)                 \
  X(CUDA_ERROR_ILLEGAL_STATE, 401)                  \
  X(CUDA_ERROR_LOSSY_QUERY, 402)                    \
  X(CUDA_ERROR_NOT_FOUND, 500)                      \
  X(CUDA_ERROR_NOT_READY, 600)                      \
  X(CUDA_ERROR_ILLEGAL_ADDRESS, 700)                \
  X(CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES, 701)        \
  X(CUDA_ERROR_LAUNCH_TIMEOUT, 702)                 \
  X(CUDA_ERROR_LAUNCH_INCOMPATIBLE_TEXTURING, 703)  \
  X(CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED, 704)    \
  X(CUDA_ERROR_PEER_ACCESS_NOT_ENABLED, 705)        \
  X(CUDA_ERROR_PRIMARY_CONTEXT_ACTIVE, 708)         \
  X(CUDA_ERROR_CONTEXT_IS_DESTROYED, 709)           \
  X(CUDA_ERROR_ASSERT, 710)                         \
  X(CUDA_ERROR_TOO_MANY_PEERS, 711)                 \
  X(CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED, 712) \
  X(CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED, 713)     \
  X(CUDA_ERROR_HARDWARE_STACK_ERROR, 714)           \
  X(CUDA_ERROR_ILLEGAL_INSTRUCTION, 715)            \
  X(CUDA_ERROR_MISALIGNED_ADDRESS, 716)             \
  X(CUDA_ERROR_INVALID_ADDRESS_SPACE, 717)          \
  X(CUDA_ERROR_INVALID_PC, 718)                     \
  X(CUDA_ERROR_LAUNCH_FAILED, 719)                  \
  X(CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE, 720)   \
  X(CUDA_ERROR_TENSOR_MEMORY_LEAK, 721)             \
  X(CUDA_ERROR_NOT_PERMITTED, 800)                  \
  X(CUDA_ERROR_NOT_SUPPORTED, 801)                  \
  X(CUDA_ERROR_SYSTEM_NOT_READY, 802)               \
  X(CUDA_ERROR_SYSTEM_DRIVER_MISMATCH, 803)         \
  X(CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE, 804) \
  X(CUDA_ERROR_MPS_CONNECTION_FAILED, 805)          \
  X(CUDA_ERROR_MPS_RPC_FAILURE, 806)                \
  X(CUDA_ERROR_MPS_SERVER_NOT_READY, 807)           \
  X(CUDA_ERROR_MPS_MAX_CLIENTS_REACHED, 808)        \
  X(CUDA_ERROR_MPS_MAX_CONNECTIONS_REACHED, 809)    \
  X(CUDA_ERROR_MPS_CLIENT_TERMINATED, 810)          \
  X(CUDA_ERROR_CDP_NOT_SUPPORTED, 811)              \
  X(CUDA_ERROR_CDP_VERSION_MISMATCH, 812)           \
  X(CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, 900)     \
  X(CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, 901)     \
  X(CUDA_ERROR_STREAM_CAPTURE_MERGE, 902)           \
  X(CUDA_ERROR_STREAM_CAPTURE_UNMATCHED, 903)       \
  X(CUDA_ERROR_STREAM_CAPTURE_UNJOINED, 904)        \
  X(CUDA_ERROR_STREAM_CAPTURE_ISOLATION, 905)       \
  X(CUDA_ERROR_STREAM_CAPTURE_IMPLICIT, 906)        \
  X(CUDA_ERROR_CAPTURED_EVENT, 907)                 \
  X(CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD, 908)    \
  X(CUDA_ERROR_TIMEOUT, 909)                        \
  X(CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE, 910)      \
  X(CUDA_ERROR_EXTERNAL_DEVICE, 911)                \
  X(CUDA_ERROR_INVALID_CLUSTER_SIZE, 912)           \
  X(CUDA_ERROR_FUNCTION_NOT_LOADED, 913)            \
  X(CUDA_ERROR_INVALID_RESOURCE_TYPE, 914)          \
  X(CUDA_ERROR_INVALID_RESOURCE_CONFIGURATION, 915) \
  X(CUDA_ERROR_KEY_ROTATION, 916)                   \
  X(CUDA_ERROR_UNKNOWN, 999)

// CUdevice_attribute values kiln queries.
#define KILN_CU_DEVICE_ATTRIBUTE_LIST(X)                          \
  X(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK, 1)                 \
  X(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X, 2)                       \
  X(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y, 3)                       \
  X(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z, 4)                       \
  X(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X, 5)                        \
  X(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y, 6)                        \
  X(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z, 7)                        \
  X(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK, 8)           \
  X(CU_DEVICE_ATTRIBUTE_WARP_SIZE, 10)                            \
  X(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, 16)                 \
  X(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, 75)             \
  X(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, 76)             \
  X(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR, 81) \
  X(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, 97)

// CUfunction_attribute values kiln uses.
#define KILN_CU_FUNCTION_ATTRIBUTE_LIST(X)      \
  X(CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, 0) \
  X(CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, 1)     \
  X(CU_FUNC_ATTRIBUTE_CONST_SIZE_BYTES, 2)      \
  X(CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES, 3)      \
  X(CU_FUNC_ATTRIBUTE_NUM_REGS, 4)              \
  X(CU_FUNC_ATTRIBUTE_PTX_VERSION, 5)           \
  X(CU_FUNC_ATTRIBUTE_BINARY_VERSION, 6)        \
  X(CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, 8)

// CUjit_option values kiln passes to cuModuleLoadDataEx.
#define KILN_CU_JIT_OPTION_LIST(X)         \
  X(CU_JIT_MAX_REGISTERS, 0)               \
  X(CU_JIT_THREADS_PER_BLOCK, 1)           \
  X(CU_JIT_WALL_TIME, 2)                   \
  X(CU_JIT_INFO_LOG_BUFFER, 3)             \
  X(CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES, 4)  \
  X(CU_JIT_ERROR_LOG_BUFFER, 5)            \
  X(CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES, 6) \
  X(CU_JIT_OPTIMIZATION_LEVEL, 7)          \
  X(CU_JIT_TARGET_FROM_CUCONTEXT, 8)       \
  X(CU_JIT_TARGET, 9)                      \
  X(CU_JIT_FALLBACK_STRATEGY, 10)          \
  X(CU_JIT_GENERATE_DEBUG_INFO, 11)        \
  X(CU_JIT_LOG_VERBOSE, 12)                \
  X(CU_JIT_GENERATE_LINE_INFO, 13)         \
  X(CU_JIT_CACHE_MODE, 14)

// Flags and modes: stream and event creation, stream capture, graphs.
#define KILN_CU_FLAG_LIST(X)                            \
  X(CU_STREAM_DEFAULT, 0)                               \
  X(CU_STREAM_NON_BLOCKING, 1)                          \
  X(CU_EVENT_DEFAULT, 0)                                \
  X(CU_EVENT_BLOCKING_SYNC, 1)                          \
  X(CU_EVENT_DISABLE_TIMING, 2)                         \
  X(CU_STREAM_CAPTURE_MODE_GLOBAL, 0)                   \
  X(CU_STREAM_CAPTURE_MODE_THREAD_LOCAL, 1)             \
  X(CU_STREAM_CAPTURE_MODE_RELAXED, 2)                  \
  X(CUDA_GRAPH_INSTANTIATE_FLAG_AUTO_FREE_ON_LAUNCH, 1) \
  X(CUDA_GRAPH_INSTANTIATE_FLAG_UPLOAD, 2)              \
  X(CU_STREAM_CAPTURE_STATUS_NONE, 0)                   \
  X(CU_STREAM_CAPTURE_STATUS_ACTIVE, 1)                 \
  X(CU_STREAM_CAPTURE_STATUS_INVALIDATED, 2)

#define KILN_CUDA_DEFINE_CONSTANT_(name, value) KILN_##name = value,
enum { KILN_CU_RESULT_LIST(KILN_CUDA_DEFINE_CONSTANT_) };
enum { KILN_CU_DEVICE_ATTRIBUTE_LIST(KILN_CUDA_DEFINE_CONSTANT_) };
enum { KILN_CU_FUNCTION_ATTRIBUTE_LIST(KILN_CUDA_DEFINE_CONSTANT_) };
enum { KILN_CU_JIT_OPTION_LIST(KILN_CUDA_DEFINE_CONSTANT_) };
enum { KILN_CU_FLAG_LIST(KILN_CUDA_DEFINE_CONSTANT_) };

//===----------------------------------------------------------------------===//
// NVRTC and nvJitLink types
//===----------------------------------------------------------------------===//

typedef int kiln__nvrtc_result_t;                             // nvrtcResult
typedef struct kiln__nvrtc_program_s* kiln__nvrtc_program_t;  // nvrtcProgram

typedef int kiln__nvjitlink_result_t;      // nvJitLinkResult
typedef int kiln__nvjitlink_input_type_t;  // nvJitLinkInputType
typedef struct kiln__nvjitlink_s* kiln__nvjitlink_handle_t;  // nvJitLinkHandle

// nvrtcResult values (CUDA 13.0).
#define KILN_NVRTC_RESULT_LIST(X)                         \
  X(NVRTC_SUCCESS, 0)                                     \
  X(NVRTC_ERROR_OUT_OF_MEMORY, 1)                         \
  X(NVRTC_ERROR_PROGRAM_CREATION_FAILURE, 2)              \
  X(NVRTC_ERROR_INVALID_INPUT, 3)                         \
  X(NVRTC_ERROR_INVALID_PROGRAM, 4)                       \
  X(NVRTC_ERROR_INVALID_OPTION, 5)                        \
  X(NVRTC_ERROR_COMPILATION, 6)                           \
  X(NVRTC_ERROR_BUILTIN_OPERATION_FAILURE, 7)             \
  X(NVRTC_ERROR_NO_NAME_EXPRESSIONS_AFTER_COMPILATION, 8) \
  X(NVRTC_ERROR_NO_LOWERED_NAMES_BEFORE_COMPILATION, 9)   \
  X(NVRTC_ERROR_NAME_EXPRESSION_NOT_VALID, 10)            \
  X(NVRTC_ERROR_INTERNAL_ERROR, 11)                       \
  X(NVRTC_ERROR_TIME_FILE_WRITE_FAILED, 12)               \
  X(NVRTC_ERROR_NO_PCH_CREATE_ATTEMPTED, 13)              \
  X(NVRTC_ERROR_PCH_CREATE_HEAP_EXHAUSTED, 14)            \
  X(NVRTC_ERROR_PCH_CREATE, 15)                           \
  X(NVRTC_ERROR_CANCELLED, 16)                            \
  X(NVRTC_ERROR_TIME_TRACE_FILE_WRITE_FAILED, 17)

// nvJitLinkResult values (CUDA 13.0).
#define KILN_NVJITLINK_RESULT_LIST(X)         \
  X(NVJITLINK_SUCCESS, 0)                     \
  X(NVJITLINK_ERROR_UNRECOGNIZED_OPTION, 1)   \
  X(NVJITLINK_ERROR_MISSING_ARCH, 2)          \
  X(NVJITLINK_ERROR_INVALID_INPUT, 3)         \
  X(NVJITLINK_ERROR_PTX_COMPILE, 4)           \
  X(NVJITLINK_ERROR_NVVM_COMPILE, 5)          \
  X(NVJITLINK_ERROR_INTERNAL, 6)              \
  X(NVJITLINK_ERROR_THREADPOOL, 7)            \
  X(NVJITLINK_ERROR_UNRECOGNIZED_INPUT, 8)    \
  X(NVJITLINK_ERROR_FINALIZE, 9)              \
  X(NVJITLINK_ERROR_NULL_INPUT, 10)           \
  X(NVJITLINK_ERROR_INCOMPATIBLE_OPTIONS, 11) \
  X(NVJITLINK_ERROR_INCORRECT_INPUT_TYPE, 12) \
  X(NVJITLINK_ERROR_ARCH_MISMATCH, 13)        \
  X(NVJITLINK_ERROR_OUTDATED_LIBRARY, 14)     \
  X(NVJITLINK_ERROR_MISSING_FATBIN, 15)       \
  X(NVJITLINK_ERROR_UNRECOGNIZED_ARCH, 16)    \
  X(NVJITLINK_ERROR_UNSUPPORTED_ARCH, 17)     \
  X(NVJITLINK_ERROR_LTO_NOT_ENABLED, 18)

// nvJitLinkInputType values kiln uses.
#define KILN_NVJITLINK_INPUT_TYPE_LIST(X) \
  X(NVJITLINK_INPUT_NONE, 0)              \
  X(NVJITLINK_INPUT_CUBIN, 1)             \
  X(NVJITLINK_INPUT_PTX, 2)

enum { KILN_NVRTC_RESULT_LIST(KILN_CUDA_DEFINE_CONSTANT_) };
enum { KILN_NVJITLINK_RESULT_LIST(KILN_CUDA_DEFINE_CONSTANT_) };
enum { KILN_NVJITLINK_INPUT_TYPE_LIST(KILN_CUDA_DEFINE_CONSTANT_) };

//===----------------------------------------------------------------------===//
// Function signatures
//===----------------------------------------------------------------------===//
//
// Each list is X(return_type, field, symbol, fallback_symbol, optional,
// parameters). |field| is the API name a caller writes (driver->cuMemAlloc);
// |symbol| is the exported name resolved with dlsym, which for the driver is
// the versioned one that cuda.h's macros select (cuMemAlloc_v2). When
// |symbol| is absent, |fallback_symbol| (a string, or NULL) is tried. A
// required symbol that cannot be resolved fails the load; an optional one
// (|optional| 1) is left NULL and its users must check.

// The driver. Optional: the CUDA-graph group (stream capture, instantiate,
// launch, destroy, exec kernel-node update); a runtime without them runs in
// stream mode. Also optional, used by graph mode when present:
// cuStreamIsCapturing (without it, a caller's stream that is being captured
// is not detected), cuGraphGetNodes and cuGraphKernelNodeGetParams (without
// them, an address change captures again instead of updating nodes).
// cuEventElapsedTime resolves the CUDA 12.8+ _v2 export first.
#define KILN_CUDA_DRIVER_SYMBOL_LIST(X)                                       \
  X(kiln__cu_result_t, cuGetErrorName, "cuGetErrorName", NULL, 0,             \
    (kiln__cu_result_t error, const char** out_string))                       \
  X(kiln__cu_result_t, cuGetErrorString, "cuGetErrorString", NULL, 0,         \
    (kiln__cu_result_t error, const char** out_string))                       \
  X(kiln__cu_result_t, cuInit, "cuInit", NULL, 0, (unsigned int flags))       \
  X(kiln__cu_result_t, cuDriverGetVersion, "cuDriverGetVersion", NULL, 0,     \
    (int* out_version))                                                       \
  X(kiln__cu_result_t, cuDeviceGet, "cuDeviceGet", NULL, 0,                   \
    (kiln__cu_device_t * out_device, int ordinal))                            \
  X(kiln__cu_result_t, cuDeviceGetCount, "cuDeviceGetCount", NULL, 0,         \
    (int* out_count))                                                         \
  X(kiln__cu_result_t, cuDeviceGetName, "cuDeviceGetName", NULL, 0,           \
    (char* name, int length, kiln__cu_device_t device))                       \
  X(kiln__cu_result_t, cuDeviceGetAttribute, "cuDeviceGetAttribute", NULL, 0, \
    (int* out_value, kiln__cu_device_attribute_t attribute,                   \
     kiln__cu_device_t device))                                               \
  X(kiln__cu_result_t, cuDeviceTotalMem, "cuDeviceTotalMem_v2", NULL, 0,      \
    (size_t * out_bytes, kiln__cu_device_t device))                           \
  X(kiln__cu_result_t, cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain",  \
    NULL, 0, (kiln__cu_context_t * out_context, kiln__cu_device_t device))    \
  X(kiln__cu_result_t, cuDevicePrimaryCtxRelease,                             \
    "cuDevicePrimaryCtxRelease_v2", NULL, 0, (kiln__cu_device_t device))      \
  X(kiln__cu_result_t, cuCtxSetCurrent, "cuCtxSetCurrent", NULL, 0,           \
    (kiln__cu_context_t context))                                             \
  X(kiln__cu_result_t, cuCtxGetCurrent, "cuCtxGetCurrent", NULL, 0,           \
    (kiln__cu_context_t * out_context))                                       \
  X(kiln__cu_result_t, cuCtxGetDevice, "cuCtxGetDevice", NULL, 0,             \
    (kiln__cu_device_t * out_device))                                         \
  X(kiln__cu_result_t, cuCtxPushCurrent, "cuCtxPushCurrent_v2", NULL, 0,      \
    (kiln__cu_context_t context))                                             \
  X(kiln__cu_result_t, cuCtxPopCurrent, "cuCtxPopCurrent_v2", NULL, 0,        \
    (kiln__cu_context_t * out_context))                                       \
  X(kiln__cu_result_t, cuCtxSynchronize, "cuCtxSynchronize", NULL, 0, (void)) \
  X(kiln__cu_result_t, cuCtxDestroy, "cuCtxDestroy_v2", NULL, 0,              \
    (kiln__cu_context_t context))                                             \
  X(kiln__cu_result_t, cuModuleLoadDataEx, "cuModuleLoadDataEx", NULL, 0,     \
    (kiln__cu_module_t * out_module, const void* image,                       \
     unsigned int option_count, kiln__cu_jit_option_t* options,               \
     void** option_values))                                                   \
  X(kiln__cu_result_t, cuModuleUnload, "cuModuleUnload", NULL, 0,             \
    (kiln__cu_module_t module))                                               \
  X(kiln__cu_result_t, cuModuleGetFunction, "cuModuleGetFunction", NULL, 0,   \
    (kiln__cu_function_t * out_function, kiln__cu_module_t module,            \
     const char* name))                                                       \
  X(kiln__cu_result_t, cuFuncGetAttribute, "cuFuncGetAttribute", NULL, 0,     \
    (int* out_value, kiln__cu_function_attribute_t attribute,                 \
     kiln__cu_function_t function))                                           \
  X(kiln__cu_result_t, cuFuncSetAttribute, "cuFuncSetAttribute", NULL, 0,     \
    (kiln__cu_function_t function, kiln__cu_function_attribute_t attribute,   \
     int value))                                                              \
  X(kiln__cu_result_t, cuLaunchKernel, "cuLaunchKernel", NULL, 0,             \
    (kiln__cu_function_t function, unsigned int grid_x, unsigned int grid_y,  \
     unsigned int grid_z, unsigned int block_x, unsigned int block_y,         \
     unsigned int block_z, unsigned int shared_mem_bytes,                     \
     kiln__cu_stream_t stream, void** kernel_params, void** extra))           \
  X(kiln__cu_result_t, cuMemAlloc, "cuMemAlloc_v2", NULL, 0,                  \
    (kiln__cu_deviceptr_t * out_ptr, size_t bytes))                           \
  X(kiln__cu_result_t, cuMemFree, "cuMemFree_v2", NULL, 0,                    \
    (kiln__cu_deviceptr_t ptr))                                               \
  X(kiln__cu_result_t, cuMemGetInfo, "cuMemGetInfo_v2", NULL, 0,              \
    (size_t * out_free, size_t * out_total))                                  \
  X(kiln__cu_result_t, cuMemcpyHtoD, "cuMemcpyHtoD_v2", NULL, 0,              \
    (kiln__cu_deviceptr_t dst, const void* src, size_t bytes))                \
  X(kiln__cu_result_t, cuMemcpyDtoH, "cuMemcpyDtoH_v2", NULL, 0,              \
    (void* dst, kiln__cu_deviceptr_t src, size_t bytes))                      \
  X(kiln__cu_result_t, cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2", NULL, 0,    \
    (kiln__cu_deviceptr_t dst, const void* src, size_t bytes,                 \
     kiln__cu_stream_t stream))                                               \
  X(kiln__cu_result_t, cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2", NULL, 0,    \
    (void* dst, kiln__cu_deviceptr_t src, size_t bytes,                       \
     kiln__cu_stream_t stream))                                               \
  X(kiln__cu_result_t, cuMemcpyDtoDAsync, "cuMemcpyDtoDAsync_v2", NULL, 0,    \
    (kiln__cu_deviceptr_t dst, kiln__cu_deviceptr_t src, size_t bytes,        \
     kiln__cu_stream_t stream))                                               \
  X(kiln__cu_result_t, cuMemsetD8, "cuMemsetD8_v2", NULL, 0,                  \
    (kiln__cu_deviceptr_t dst, unsigned char value, size_t count))            \
  X(kiln__cu_result_t, cuMemsetD8Async, "cuMemsetD8Async", NULL, 0,           \
    (kiln__cu_deviceptr_t dst, unsigned char value, size_t count,             \
     kiln__cu_stream_t stream))                                               \
  X(kiln__cu_result_t, cuStreamCreate, "cuStreamCreate", NULL, 0,             \
    (kiln__cu_stream_t * out_stream, unsigned int flags))                     \
  X(kiln__cu_result_t, cuStreamDestroy, "cuStreamDestroy_v2", NULL, 0,        \
    (kiln__cu_stream_t stream))                                               \
  X(kiln__cu_result_t, cuStreamSynchronize, "cuStreamSynchronize", NULL, 0,   \
    (kiln__cu_stream_t stream))                                               \
  X(kiln__cu_result_t, cuStreamQuery, "cuStreamQuery", NULL, 0,               \
    (kiln__cu_stream_t stream))                                               \
  X(kiln__cu_result_t, cuStreamWaitEvent, "cuStreamWaitEvent", NULL, 0,       \
    (kiln__cu_stream_t stream, kiln__cu_event_t event, unsigned int flags))   \
  X(kiln__cu_result_t, cuEventCreate, "cuEventCreate", NULL, 0,               \
    (kiln__cu_event_t * out_event, unsigned int flags))                       \
  X(kiln__cu_result_t, cuEventRecord, "cuEventRecord", NULL, 0,               \
    (kiln__cu_event_t event, kiln__cu_stream_t stream))                       \
  X(kiln__cu_result_t, cuEventSynchronize, "cuEventSynchronize", NULL, 0,     \
    (kiln__cu_event_t event))                                                 \
  X(kiln__cu_result_t, cuEventQuery, "cuEventQuery", NULL, 0,                 \
    (kiln__cu_event_t event))                                                 \
  X(kiln__cu_result_t, cuEventElapsedTime, "cuEventElapsedTime_v2",           \
    "cuEventElapsedTime", 0,                                                  \
    (float* out_milliseconds, kiln__cu_event_t start, kiln__cu_event_t end))  \
  X(kiln__cu_result_t, cuEventDestroy, "cuEventDestroy_v2", NULL, 0,          \
    (kiln__cu_event_t event))                                                 \
  X(kiln__cu_result_t, cuStreamBeginCapture, "cuStreamBeginCapture_v2", NULL, \
    1, (kiln__cu_stream_t stream, kiln__cu_stream_capture_mode_t mode))       \
  X(kiln__cu_result_t, cuStreamEndCapture, "cuStreamEndCapture", NULL, 1,     \
    (kiln__cu_stream_t stream, kiln__cu_graph_t * out_graph))                 \
  X(kiln__cu_result_t, cuGraphInstantiateWithFlags,                           \
    "cuGraphInstantiateWithFlags", NULL, 1,                                   \
    (kiln__cu_graph_exec_t * out_exec, kiln__cu_graph_t graph,                \
     unsigned long long flags))                                               \
  X(kiln__cu_result_t, cuGraphLaunch, "cuGraphLaunch", NULL, 1,               \
    (kiln__cu_graph_exec_t exec, kiln__cu_stream_t stream))                   \
  X(kiln__cu_result_t, cuGraphExecDestroy, "cuGraphExecDestroy", NULL, 1,     \
    (kiln__cu_graph_exec_t exec))                                             \
  X(kiln__cu_result_t, cuGraphDestroy, "cuGraphDestroy", NULL, 1,             \
    (kiln__cu_graph_t graph))                                                 \
  X(kiln__cu_result_t, cuGraphExecKernelNodeSetParams,                        \
    "cuGraphExecKernelNodeSetParams_v2", NULL, 1,                             \
    (kiln__cu_graph_exec_t exec, kiln__cu_graph_node_t node,                  \
     const kiln__cu_kernel_node_params_t* params))                            \
  X(kiln__cu_result_t, cuStreamIsCapturing, "cuStreamIsCapturing", NULL, 1,   \
    (kiln__cu_stream_t stream, kiln__cu_stream_capture_status_t * out))       \
  X(kiln__cu_result_t, cuGraphGetNodes, "cuGraphGetNodes", NULL, 1,           \
    (kiln__cu_graph_t graph, kiln__cu_graph_node_t * nodes,                   \
     size_t * inout_count))                                                   \
  X(kiln__cu_result_t, cuGraphKernelNodeGetParams,                            \
    "cuGraphKernelNodeGetParams_v2", NULL, 1,                                 \
    (kiln__cu_graph_node_t node, kiln__cu_kernel_node_params_t * out_params))

// NVRTC (libnvrtc.so.13 or .12; the same exports in both). Optional:
// nvrtcGetSupportedArchs / nvrtcGetNumSupportedArchs, used only to name the
// supported architectures in an error.
#define KILN_NVRTC_SYMBOL_LIST(X)                                              \
  X(const char*, nvrtcGetErrorString, "nvrtcGetErrorString", NULL, 0,          \
    (kiln__nvrtc_result_t result))                                             \
  X(kiln__nvrtc_result_t, nvrtcVersion, "nvrtcVersion", NULL, 0,               \
    (int* out_major, int* out_minor))                                          \
  X(kiln__nvrtc_result_t, nvrtcCreateProgram, "nvrtcCreateProgram", NULL, 0,   \
    (kiln__nvrtc_program_t * out_program, const char* source,                  \
     const char* name, int header_count, const char* const* headers,           \
     const char* const* include_names))                                        \
  X(kiln__nvrtc_result_t, nvrtcDestroyProgram, "nvrtcDestroyProgram", NULL, 0, \
    (kiln__nvrtc_program_t * program))                                         \
  X(kiln__nvrtc_result_t, nvrtcCompileProgram, "nvrtcCompileProgram", NULL, 0, \
    (kiln__nvrtc_program_t program, int option_count,                          \
     const char* const* options))                                              \
  X(kiln__nvrtc_result_t, nvrtcGetPTXSize, "nvrtcGetPTXSize", NULL, 0,         \
    (kiln__nvrtc_program_t program, size_t * out_size))                        \
  X(kiln__nvrtc_result_t, nvrtcGetPTX, "nvrtcGetPTX", NULL, 0,                 \
    (kiln__nvrtc_program_t program, char* ptx))                                \
  X(kiln__nvrtc_result_t, nvrtcGetCUBINSize, "nvrtcGetCUBINSize", NULL, 0,     \
    (kiln__nvrtc_program_t program, size_t * out_size))                        \
  X(kiln__nvrtc_result_t, nvrtcGetCUBIN, "nvrtcGetCUBIN", NULL, 0,             \
    (kiln__nvrtc_program_t program, char* cubin))                              \
  X(kiln__nvrtc_result_t, nvrtcGetProgramLogSize, "nvrtcGetProgramLogSize",    \
    NULL, 0, (kiln__nvrtc_program_t program, size_t * out_size))               \
  X(kiln__nvrtc_result_t, nvrtcGetProgramLog, "nvrtcGetProgramLog", NULL, 0,   \
    (kiln__nvrtc_program_t program, char* log))                                \
  X(kiln__nvrtc_result_t, nvrtcGetNumSupportedArchs,                           \
    "nvrtcGetNumSupportedArchs", NULL, 1, (int* out_count))                    \
  X(kiln__nvrtc_result_t, nvrtcGetSupportedArchs, "nvrtcGetSupportedArchs",    \
    NULL, 1, (int* out_archs))

// nvJitLink (libnvJitLink.so.13 or .12). The unversioned exports are used:
// both majors export them with these signatures (the header's inline
// wrappers call __nvJitLink*_13_0, which only a 13.x library has).
// Optional: nvJitLinkVersion (12.3+).
#define KILN_NVJITLINK_SYMBOL_LIST(X)                                          \
  X(kiln__nvjitlink_result_t, nvJitLinkCreate, "nvJitLinkCreate", NULL, 0,     \
    (kiln__nvjitlink_handle_t * out_handle, uint32_t option_count,             \
     const char* const* options))                                              \
  X(kiln__nvjitlink_result_t, nvJitLinkDestroy, "nvJitLinkDestroy", NULL, 0,   \
    (kiln__nvjitlink_handle_t * handle))                                       \
  X(kiln__nvjitlink_result_t, nvJitLinkAddData, "nvJitLinkAddData", NULL, 0,   \
    (kiln__nvjitlink_handle_t handle, kiln__nvjitlink_input_type_t type,       \
     const void* data, size_t size, const char* name))                         \
  X(kiln__nvjitlink_result_t, nvJitLinkComplete, "nvJitLinkComplete", NULL, 0, \
    (kiln__nvjitlink_handle_t handle))                                         \
  X(kiln__nvjitlink_result_t, nvJitLinkGetLinkedCubinSize,                     \
    "nvJitLinkGetLinkedCubinSize", NULL, 0,                                    \
    (kiln__nvjitlink_handle_t handle, size_t * out_size))                      \
  X(kiln__nvjitlink_result_t, nvJitLinkGetLinkedCubin,                         \
    "nvJitLinkGetLinkedCubin", NULL, 0,                                        \
    (kiln__nvjitlink_handle_t handle, void* cubin))                            \
  X(kiln__nvjitlink_result_t, nvJitLinkGetErrorLogSize,                        \
    "nvJitLinkGetErrorLogSize", NULL, 0,                                       \
    (kiln__nvjitlink_handle_t handle, size_t * out_size))                      \
  X(kiln__nvjitlink_result_t, nvJitLinkGetErrorLog, "nvJitLinkGetErrorLog",    \
    NULL, 0, (kiln__nvjitlink_handle_t handle, char* log))                     \
  X(kiln__nvjitlink_result_t, nvJitLinkGetInfoLogSize,                         \
    "nvJitLinkGetInfoLogSize", NULL, 0,                                        \
    (kiln__nvjitlink_handle_t handle, size_t * out_size))                      \
  X(kiln__nvjitlink_result_t, nvJitLinkGetInfoLog, "nvJitLinkGetInfoLog",      \
    NULL, 0, (kiln__nvjitlink_handle_t handle, char* log))                     \
  X(kiln__nvjitlink_result_t, nvJitLinkVersion, "nvJitLinkVersion", NULL, 1,   \
    (unsigned int* out_major, unsigned int* out_minor))

#endif  // KILN_SRC_CUDA_CUDA_TYPES_H_
