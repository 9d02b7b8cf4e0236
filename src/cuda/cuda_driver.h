// The CUDA driver behind a symbol table (design decision 3; style point 13).
//
// libcuda.so.1 is dlopen'd on first use by kiln__cuda_driver_get, once per
// process, and its functions are resolved into a kiln__cuda_driver_t: one
// function pointer per entry of KILN_CUDA_DRIVER_SYMBOL_LIST (cuda_types.h),
// named after the API (driver->cuMemAlloc) and bound to the versioned export
// (cuMemAlloc_v2). The loaded table is read-only and shared by all threads.
//
// Code that calls the driver takes the table as a parameter, so tests pass a
// fake table (the same struct, filled with their own functions) to inject
// CUresult failures without a GPU:
//
//   kiln__cuda_driver_t fake = {0};
//   fake.cuMemAlloc = fake_mem_alloc_oom;  // returns CUDA_ERROR_OUT_OF_MEMORY
//   fake.cuGetErrorName = fake_get_error_name;  // may stay NULL
//   kiln_status_t s = something_that_allocates(&fake, ...);
//
// Every call goes through KILN_CU_RETURN_IF_ERROR / KILN_CU_STATUS, which turn
// a CUresult into a status carrying the error's name and description, the
// call's text and file:line, with the code chosen by kiln__cuda_result_code.

#ifndef KILN_SRC_CUDA_CUDA_DRIVER_H_
#define KILN_SRC_CUDA_CUDA_DRIVER_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cuda/cuda_types.h"
#include "kiln/kiln.h"
#include "kiln/kiln_plugin.h"

// The driver's functions. Optional entries (the CUDA-graph group) may be
// NULL; see KILN_CUDA_DRIVER_SYMBOL_LIST.
typedef struct kiln__cuda_driver_t {
#define KILN_CUDA_TABLE_FIELD_(ret, field, symbol, fallback, optional, params) \
  ret(*field) params;
  KILN_CUDA_DRIVER_SYMBOL_LIST(KILN_CUDA_TABLE_FIELD_)
} kiln__cuda_driver_t;

// The library the driver table is loaded from.
#define KILN_CUDA_DRIVER_LIBRARY "libcuda.so.1"

// Loads libcuda.so.1 on the first call (thread-safe, once per process) and
// returns the process-wide table in |*out_driver| (NULL on failure). Does not
// call cuInit. Returns UNAVAILABLE naming libcuda.so.1, the loader's error
// and "install the NVIDIA driver" when the library cannot be loaded, or
// naming the missing symbol when the driver is too old. A failure is
// remembered: later calls return the same error without retrying.
kiln_status_t kiln__cuda_driver_get(const kiln__cuda_driver_t** out_driver);

// Loads a driver table from the library at |path| into |*out_driver| (not
// the process-wide table): for tests against a given library, such as the
// toolkit's stub libcuda.so. The library stays loaded. UNAVAILABLE as above.
kiln_status_t kiln__cuda_driver_load(const char* path,
                                     kiln__cuda_driver_t* out_driver);

// Returns true when the optional CUDA-graph functions are all present.
bool kiln__cuda_driver_has_graphs(const kiln__cuda_driver_t* driver);

//===----------------------------------------------------------------------===//
// Error mapping
//===----------------------------------------------------------------------===//

// Returns the status code for a CUresult:
//   CUDA_SUCCESS                                              -> OK
//   OUT_OF_MEMORY, LAUNCH_OUT_OF_RESOURCES, TOO_MANY_PEERS     ->
//   RESOURCE_EXHAUSTED NO_DEVICE, NOT_INITIALIZED, DEINITIALIZED, STUB_LIBRARY,
//   CALL_REQUIRES_NEWER_DRIVER, DEVICE_UNAVAILABLE,
//   DEVICE_NOT_LICENSED, SYSTEM_NOT_READY,
//   SYSTEM_DRIVER_MISMATCH, COMPAT_NOT_SUPPORTED_ON_DEVICE,
//   MPS_* (805-810)                                           -> UNAVAILABLE
//   INVALID_IMAGE, NO_BINARY_FOR_GPU, INVALID_PTX,
//   UNSUPPORTED_PTX_VERSION, JIT_COMPILER_NOT_FOUND,
//   JIT_COMPILATION_DISABLED, UNSUPPORTED_DEVSIDE_SYNC,
//   LAUNCH_INCOMPATIBLE_TEXTURING, CDP_NOT_SUPPORTED,
//   CDP_VERSION_MISMATCH                                      -> INCOMPATIBLE
//   the sticky errors (kiln__cuda_result_is_sticky),
//   ECC_UNCORRECTABLE, NVLINK_UNCORRECTABLE                   -> DEVICE_LOST
//   INVALID_VALUE, INVALID_HANDLE, INVALID_DEVICE,
//   INVALID_CONTEXT, INVALID_SOURCE, INVALID_CLUSTER_SIZE,
//   COOPERATIVE_LAUNCH_TOO_LARGE                              ->
//   INVALID_ARGUMENT NOT_FOUND, FILE_NOT_FOUND, SHARED_OBJECT_SYMBOL_NOT_FOUND
//   -> NOT_FOUND NOT_READY, ILLEGAL_STATE, CONTEXT_IS_DESTROYED, NOT_PERMITTED,
//   STREAM_CAPTURE_* (900-908), GRAPH_EXEC_UPDATE_FAILURE ->
//   FAILED_PRECONDITION NOT_SUPPORTED -> UNIMPLEMENTED anything else ->
//   INTERNAL
kiln_status_code_t kiln__cuda_result_code(kiln__cu_result_t result);

// Returns true for the errors that leave the context unusable until the
// process restarts (cuda.h: "any further CUDA work will return the same
// error"): ILLEGAL_ADDRESS (700), LAUNCH_TIMEOUT (702), ASSERT (710),
// HARDWARE_STACK_ERROR (714), ILLEGAL_INSTRUCTION (715), MISALIGNED_ADDRESS
// (716), INVALID_ADDRESS_SPACE (717), INVALID_PC (718), LAUNCH_FAILED (719),
// TENSOR_MEMORY_LEAK (721), CONTAINED (226) and EXTERNAL_DEVICE (911).
// LAUNCH_OUT_OF_RESOURCES (701) is not sticky.
bool kiln__cuda_result_is_sticky(int result);

// Returns the enum name of |result| ("CUDA_ERROR_OUT_OF_MEMORY") from kiln's
// own table, or NULL for a value CUDA 13.0 does not define. Static string.
const char* kiln__cuda_result_name(kiln__cu_result_t result);

// Makes the status for |result| (NULL for CUDA_SUCCESS). The message holds
// |call| (the call's source text), the error name and description from
// |driver|'s cuGetErrorName / cuGetErrorString (kiln's own name table when
// |driver| or those functions are NULL or fail), the numeric value, and
// |file|:|line|; sticky errors say that the process must restart. |driver|
// may be NULL.
kiln_status_t kiln__cuda_result_to_status(const kiln__cuda_driver_t* driver,
                                          kiln__cu_result_t result,
                                          const char* call, const char* file,
                                          int line);

// Calls |driver|->|call_expr| and evaluates to its status (NULL on success),
// for chaining: `if (!status) status = KILN_CU_STATUS(d, cuInit(0));`.
// |call_expr| is the call without the table, e.g. cuMemAlloc(&p, n).
#define KILN_CU_STATUS(driver, call_expr)                                \
  kiln__cuda_result_to_status((driver), (driver)->call_expr, #call_expr, \
                              __FILE__, __LINE__)

// Calls |driver|->|call_expr| and returns its status from the enclosing
// function when it fails.
#define KILN_CU_RETURN_IF_ERROR(driver, call_expr)                        \
  do {                                                                    \
    kiln__cu_result_t kiln_cu_result_ = (driver)->call_expr;              \
    if (kiln_cu_result_ != KILN_CUDA_SUCCESS) {                           \
      return kiln__cuda_result_to_status((driver), kiln_cu_result_,       \
                                         #call_expr, __FILE__, __LINE__); \
    }                                                                     \
  } while (0)

//===----------------------------------------------------------------------===//
// Modules and devices
//===----------------------------------------------------------------------===//

// Loads one kernel image as a module with cuModuleLoadDataEx, asking for the
// JIT error log (CU_JIT_ERROR_LOG_BUFFER) and appending it to the status when
// the load fails. A PTX image must be NUL-terminated within its span
// (DATA_LOSS otherwise, checked before any driver call); a cubin must pass
// kiln__cubin_inspect (DATA_LOSS). The log buffer comes from |allocator|.
// Driver failures map as kiln__cuda_result_code says (INCOMPATIBLE for
// invalid PTX, an unsupported PTX version or no binary for the GPU). The
// caller unloads |*out_module| with cuModuleUnload. Needs a current context.
kiln_status_t kiln__cuda_module_load(const kiln__cuda_driver_t* driver,
                                     const kiln_kernel_image_t* image,
                                     kiln_allocator_t allocator,
                                     kiln__cu_module_t* out_module);

// What kiln needs to know about a device.
typedef struct kiln__cuda_device_info_t {
  char name[256];
  int32_t cc_major;  // compute capability
  int32_t cc_minor;
  uint32_t sm_arch;  // cc_major * 10 + cc_minor
  int32_t multiprocessor_count;
  int32_t warp_size;
  int32_t max_threads_per_block;
  int32_t max_block_dim[3];
  int32_t max_grid_dim[3];
  int32_t max_shared_memory_per_block;        // without opting in
  int32_t max_shared_memory_per_block_optin;  // with cuFuncSetAttribute
  size_t total_memory;
} kiln__cuda_device_info_t;

// Queries |device|'s name, compute capability, limits and memory.
// |*out_info| is zeroed on entry and filled on success. Driver failures map
// as above; an attribute outside its sane range is INTERNAL naming it.
kiln_status_t kiln__cuda_device_query(const kiln__cuda_driver_t* driver,
                                      kiln__cu_device_t device,
                                      kiln__cuda_device_info_t* out_info);

#endif  // KILN_SRC_CUDA_CUDA_DRIVER_H_
