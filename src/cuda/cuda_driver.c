// The driver symbol table, CUresult mapping, module loading and device
// queries.

#include "cuda/cuda_driver.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "cuda/cubin.h"
#include "cuda/dylib.h"
#include "cuda/ptx.h"

//===----------------------------------------------------------------------===//
// Loading
//===----------------------------------------------------------------------===//

#define SYMBOL_ENTRY(ret, field, symbol, fallback, optional, params) \
  {symbol, fallback, optional, offsetof(kiln__cuda_driver_t, field)},
static const kiln__cuda_symbol_t driver_symbols[] = {
    KILN_CUDA_DRIVER_SYMBOL_LIST(SYMBOL_ENTRY)};
#undef SYMBOL_ENTRY

kiln_status_t kiln__cuda_driver_load(const char* path,
                                     kiln__cuda_driver_t* out_driver) {
  memset(out_driver, 0, sizeof(*out_driver));
  void* handle = NULL;
  const char* names[] = {path};
  KILN_RETURN_IF_ERROR(kiln__cuda_dylib_open(
      "the CUDA driver", names, 1, false,
      "install the NVIDIA driver (kiln needs its libcuda.so.1 at run time; "
      "the CUDA toolkit's stub library cannot run kernels)",
      &handle));
  kiln__cuda_driver_t table;
  memset(&table, 0, sizeof(table));
  KILN_RETURN_IF_ERROR(kiln__cuda_dylib_resolve(
      handle, path, driver_symbols, KILN_ARRAYSIZE(driver_symbols), &table));
  *out_driver = table;
  return NULL;
}

static pthread_once_t driver_once = PTHREAD_ONCE_INIT;
static kiln__cuda_driver_t driver_table;
static kiln_status_code_t driver_error_code = KILN_STATUS_OK;
static char driver_error[1024];

static void load_driver_once(void) {
  kiln_status_t status =
      kiln__cuda_driver_load(KILN_CUDA_DRIVER_LIBRARY, &driver_table);
  if (status) {
    driver_error_code = kiln_status_code(status);
    snprintf(driver_error, sizeof(driver_error), "%s",
             kiln_status_message(status));
    kiln_status_free(status);
  }
}

kiln_status_t kiln__cuda_driver_get(const kiln__cuda_driver_t** out_driver) {
  *out_driver = NULL;
  if (pthread_once(&driver_once, load_driver_once) != 0) {
    return kiln_make_status(KILN_STATUS_INTERNAL,
                            "pthread_once failed while loading %s",
                            KILN_CUDA_DRIVER_LIBRARY);
  }
  if (driver_error_code != KILN_STATUS_OK) {
    return kiln_make_status(driver_error_code, "%s", driver_error);
  }
  *out_driver = &driver_table;
  return NULL;
}

bool kiln__cuda_driver_has_graphs(const kiln__cuda_driver_t* driver) {
  return driver && driver->cuStreamBeginCapture && driver->cuStreamEndCapture &&
         driver->cuGraphInstantiateWithFlags && driver->cuGraphLaunch &&
         driver->cuGraphExecDestroy && driver->cuGraphDestroy &&
         driver->cuGraphExecKernelNodeSetParams;
}

//===----------------------------------------------------------------------===//
// Error mapping
//===----------------------------------------------------------------------===//

const char* kiln__cuda_result_name(kiln__cu_result_t result) {
  switch (result) {
#define NAME_CASE(name, value) \
  case value:                  \
    return #name;
    KILN_CU_RESULT_LIST(NAME_CASE)
#undef NAME_CASE
    default:
      return NULL;
  }
}

bool kiln__cuda_result_is_sticky(int result) {
  switch (result) {
    case KILN_CUDA_ERROR_ILLEGAL_ADDRESS:
    case KILN_CUDA_ERROR_LAUNCH_TIMEOUT:
    case KILN_CUDA_ERROR_ASSERT:
    case KILN_CUDA_ERROR_HARDWARE_STACK_ERROR:
    case KILN_CUDA_ERROR_ILLEGAL_INSTRUCTION:
    case KILN_CUDA_ERROR_MISALIGNED_ADDRESS:
    case KILN_CUDA_ERROR_INVALID_ADDRESS_SPACE:
    case KILN_CUDA_ERROR_INVALID_PC:
    case KILN_CUDA_ERROR_LAUNCH_FAILED:
    case KILN_CUDA_ERROR_TENSOR_MEMORY_LEAK:
    case KILN_CUDA_ERROR_CONTAINED:
    case KILN_CUDA_ERROR_EXTERNAL_DEVICE:
      return true;
    default:
      return false;
  }
}

kiln_status_code_t kiln__cuda_result_code(kiln__cu_result_t result) {
  if (kiln__cuda_result_is_sticky(result)) return KILN_STATUS_DEVICE_LOST;
  switch (result) {
    case KILN_CUDA_SUCCESS:
      return KILN_STATUS_OK;
    case KILN_CUDA_ERROR_OUT_OF_MEMORY:
    case KILN_CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES:
    case KILN_CUDA_ERROR_TOO_MANY_PEERS:
      return KILN_STATUS_RESOURCE_EXHAUSTED;
    case KILN_CUDA_ERROR_NO_DEVICE:
    case KILN_CUDA_ERROR_NOT_INITIALIZED:
    case KILN_CUDA_ERROR_DEINITIALIZED:
    case KILN_CUDA_ERROR_STUB_LIBRARY:
    case KILN_CUDA_ERROR_CALL_REQUIRES_NEWER_DRIVER:
    case KILN_CUDA_ERROR_DEVICE_UNAVAILABLE:
    case KILN_CUDA_ERROR_DEVICE_NOT_LICENSED:
    case KILN_CUDA_ERROR_SYSTEM_NOT_READY:
    case KILN_CUDA_ERROR_SYSTEM_DRIVER_MISMATCH:
    case KILN_CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE:
    case KILN_CUDA_ERROR_MPS_CONNECTION_FAILED:
    case KILN_CUDA_ERROR_MPS_RPC_FAILURE:
    case KILN_CUDA_ERROR_MPS_SERVER_NOT_READY:
    case KILN_CUDA_ERROR_MPS_MAX_CLIENTS_REACHED:
    case KILN_CUDA_ERROR_MPS_MAX_CONNECTIONS_REACHED:
    case KILN_CUDA_ERROR_MPS_CLIENT_TERMINATED:
      return KILN_STATUS_UNAVAILABLE;
    case KILN_CUDA_ERROR_INVALID_IMAGE:
    case KILN_CUDA_ERROR_NO_BINARY_FOR_GPU:
    case KILN_CUDA_ERROR_INVALID_PTX:
    case KILN_CUDA_ERROR_UNSUPPORTED_PTX_VERSION:
    case KILN_CUDA_ERROR_JIT_COMPILER_NOT_FOUND:
    case KILN_CUDA_ERROR_JIT_COMPILATION_DISABLED:
    case KILN_CUDA_ERROR_UNSUPPORTED_DEVSIDE_SYNC:
    case KILN_CUDA_ERROR_LAUNCH_INCOMPATIBLE_TEXTURING:
    case KILN_CUDA_ERROR_CDP_NOT_SUPPORTED:
    case KILN_CUDA_ERROR_CDP_VERSION_MISMATCH:
      return KILN_STATUS_INCOMPATIBLE;
    case KILN_CUDA_ERROR_ECC_UNCORRECTABLE:
    case KILN_CUDA_ERROR_NVLINK_UNCORRECTABLE:
      return KILN_STATUS_DEVICE_LOST;
    case KILN_CUDA_ERROR_INVALID_VALUE:
    case KILN_CUDA_ERROR_INVALID_HANDLE:
    case KILN_CUDA_ERROR_INVALID_DEVICE:
    case KILN_CUDA_ERROR_INVALID_CONTEXT:
    case KILN_CUDA_ERROR_INVALID_SOURCE:
    case KILN_CUDA_ERROR_INVALID_CLUSTER_SIZE:
    case KILN_CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE:
      return KILN_STATUS_INVALID_ARGUMENT;
    case KILN_CUDA_ERROR_NOT_FOUND:
    case KILN_CUDA_ERROR_FILE_NOT_FOUND:
    case KILN_CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND:
      return KILN_STATUS_NOT_FOUND;
    case KILN_CUDA_ERROR_NOT_READY:
    case KILN_CUDA_ERROR_ILLEGAL_STATE:
    case KILN_CUDA_ERROR_CONTEXT_IS_DESTROYED:
    case KILN_CUDA_ERROR_NOT_PERMITTED:
    case KILN_CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED:
    case KILN_CUDA_ERROR_STREAM_CAPTURE_INVALIDATED:
    case KILN_CUDA_ERROR_STREAM_CAPTURE_MERGE:
    case KILN_CUDA_ERROR_STREAM_CAPTURE_UNMATCHED:
    case KILN_CUDA_ERROR_STREAM_CAPTURE_UNJOINED:
    case KILN_CUDA_ERROR_STREAM_CAPTURE_ISOLATION:
    case KILN_CUDA_ERROR_STREAM_CAPTURE_IMPLICIT:
    case KILN_CUDA_ERROR_CAPTURED_EVENT:
    case KILN_CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD:
    case KILN_CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE:
      return KILN_STATUS_FAILED_PRECONDITION;
    case KILN_CUDA_ERROR_NOT_SUPPORTED:
      return KILN_STATUS_UNIMPLEMENTED;
    default:
      return KILN_STATUS_INTERNAL;
  }
}

kiln_status_t kiln__cuda_result_to_status(const kiln__cuda_driver_t* driver,
                                          kiln__cu_result_t result,
                                          const char* call, const char* file,
                                          int line) {
  if (result == KILN_CUDA_SUCCESS) return NULL;
  const char* name = NULL;
  const char* description = NULL;
  if (driver && driver->cuGetErrorName &&
      driver->cuGetErrorName(result, &name) != KILN_CUDA_SUCCESS) {
    name = NULL;
  }
  if (driver && driver->cuGetErrorString &&
      driver->cuGetErrorString(result, &description) != KILN_CUDA_SUCCESS) {
    description = NULL;
  }
  if (!name) name = kiln__cuda_result_name(result);
  char unknown[32];
  if (!name) {
    snprintf(unknown, sizeof(unknown), "CUresult %d", result);
    name = unknown;
  }
  if (!description) description = "no description from the driver";
  const char* base = file ? strrchr(file, '/') : NULL;
  bool sticky = kiln__cuda_result_is_sticky(result);
  return kiln_status_make(
      kiln__cuda_result_code(result), file, line,
      "%s failed: %s (%d): %s [%s:%d]%s", call ? call : "a CUDA driver call",
      name, result, description, base ? base + 1 : (file ? file : "?"), line,
      sticky ? "; this error is sticky: the CUDA context is unusable and the "
               "process must restart to use the GPU again"
             : "");
}

//===----------------------------------------------------------------------===//
// Modules
//===----------------------------------------------------------------------===//

#define JIT_LOG_SIZE 16384

kiln_status_t kiln__cuda_module_load(const kiln__cuda_driver_t* driver,
                                     const kiln_kernel_image_t* image,
                                     kiln_allocator_t allocator,
                                     kiln__cu_module_t* out_module) {
  *out_module = NULL;
  if (image->kind == KILN_KERNEL_IMAGE_PTX) {
    KILN_RETURN_IF_ERROR(kiln__ptx_check_terminated(image->bytes));
  } else if (image->kind == KILN_KERNEL_IMAGE_CUBIN) {
    kiln__cubin_info_t info;
    KILN_RETURN_IF_ERROR(kiln__cubin_inspect(image->bytes, &info));
  } else {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "unknown kernel image kind %d", (int)image->kind);
  }
  void* log = NULL;
  KILN_RETURN_IF_ERROR(kiln_allocator_malloc(allocator, JIT_LOG_SIZE, &log));
  kiln__cu_jit_option_t options[2] = {KILN_CU_JIT_ERROR_LOG_BUFFER,
                                      KILN_CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
  void* values[2] = {log, (void*)(uintptr_t)JIT_LOG_SIZE};
  kiln__cu_module_t module = NULL;
  kiln__cu_result_t result = driver->cuModuleLoadDataEx(
      &module, image->bytes.data, 2, options, values);
  kiln_status_t status = NULL;
  if (result != KILN_CUDA_SUCCESS) {
    status = kiln__cuda_result_to_status(driver, result,
                                         image->kind == KILN_KERNEL_IMAGE_PTX
                                             ? "cuModuleLoadDataEx(PTX)"
                                             : "cuModuleLoadDataEx(cubin)",
                                         __FILE__, __LINE__);
    char* text = (char*)log;
    text[JIT_LOG_SIZE - 1] = '\0';
    // The driver reports how much it wrote through the size option.
    size_t written = (size_t)(uintptr_t)values[1];
    if (written < JIT_LOG_SIZE) text[written] = '\0';
    size_t length = strlen(text);
    while (length > 0 &&
           (text[length - 1] == '\n' || text[length - 1] == ' ')) {
      text[--length] = '\0';
    }
    kiln_status_t failed = status;
    status = kiln_status_make(
        kiln_status_code(failed), __FILE__, __LINE__,
        "loading a %s image for sm_%u (%zu bytes): %s%s%s",
        image->kind == KILN_KERNEL_IMAGE_PTX ? "PTX" : "cubin", image->sm_arch,
        image->bytes.size, kiln_status_message(failed),
        length ? "; JIT log: " : "", length ? text : "");
    kiln_status_free(failed);
  } else {
    *out_module = module;
  }
  kiln_allocator_free(allocator, log);
  return status;
}

//===----------------------------------------------------------------------===//
// Devices
//===----------------------------------------------------------------------===//

typedef struct attribute_query_t {
  kiln__cu_device_attribute_t attribute;
  const char* name;
  size_t offset;  // of an int32_t in kiln__cuda_device_info_t
  int32_t min_value;
} attribute_query_t;

#define QUERY(attr, field, min) \
  { KILN_##attr, #attr, offsetof(kiln__cuda_device_info_t, field), min }
static const attribute_query_t attribute_queries[] = {
    QUERY(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, cc_major, 1),
    QUERY(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, cc_minor, 0),
    QUERY(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, multiprocessor_count, 1),
    QUERY(CU_DEVICE_ATTRIBUTE_WARP_SIZE, warp_size, 1),
    QUERY(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK, max_threads_per_block, 1),
    QUERY(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X, max_block_dim[0], 1),
    QUERY(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y, max_block_dim[1], 1),
    QUERY(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z, max_block_dim[2], 1),
    QUERY(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X, max_grid_dim[0], 1),
    QUERY(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y, max_grid_dim[1], 1),
    QUERY(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z, max_grid_dim[2], 1),
    QUERY(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK,
          max_shared_memory_per_block, 0),
    QUERY(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN,
          max_shared_memory_per_block_optin, 0),
};
#undef QUERY

kiln_status_t kiln__cuda_device_query(const kiln__cuda_driver_t* driver,
                                      kiln__cu_device_t device,
                                      kiln__cuda_device_info_t* out_info) {
  memset(out_info, 0, sizeof(*out_info));
  kiln__cuda_device_info_t info;
  memset(&info, 0, sizeof(info));
  KILN_CU_RETURN_IF_ERROR(
      driver, cuDeviceGetName(info.name, (int)sizeof(info.name), device));
  info.name[sizeof(info.name) - 1] = '\0';
  for (size_t i = 0; i < KILN_ARRAYSIZE(attribute_queries); ++i) {
    const attribute_query_t* q = &attribute_queries[i];
    int value = 0;
    KILN_CU_RETURN_IF_ERROR(driver,
                            cuDeviceGetAttribute(&value, q->attribute, device));
    if (value < q->min_value) {
      return kiln_make_status(KILN_STATUS_INTERNAL,
                              "the driver reports %s = %d for device %d (%s), "
                              "below %d",
                              q->name, value, device, info.name, q->min_value);
    }
    int32_t v = value;
    memcpy((char*)&info + q->offset, &v, sizeof(v));
  }
  if (info.cc_minor > 9) {
    return kiln_make_status(KILN_STATUS_INTERNAL,
                            "the driver reports compute capability %d.%d for "
                            "device %d (%s)",
                            info.cc_major, info.cc_minor, device, info.name);
  }
  info.sm_arch = (uint32_t)info.cc_major * 10u + (uint32_t)info.cc_minor;
  KILN_CU_RETURN_IF_ERROR(driver, cuDeviceTotalMem(&info.total_memory, device));
  *out_info = info;
  return NULL;
}
