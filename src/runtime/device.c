// The device: driver table, primary context, the "lost" flag, and device
// memory, streams and event timing for applications and the kiln command.

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "base/size.h"
#include "runtime/runtime.h"

//===----------------------------------------------------------------------===//
// Lost devices
//===----------------------------------------------------------------------===//

kiln_status_t kiln__device_check(const kiln_device_t* device) {
  int result = atomic_load_explicit(&((kiln_device_t*)device)->lost_result,
                                    memory_order_acquire);
  if (result == 0) return NULL;
  const char* name = kiln__cuda_result_name(result);
  char unknown[32];
  if (!name) {
    snprintf(unknown, sizeof(unknown), "CUresult %d", result);
    name = unknown;
  }
  return kiln_make_status(KILN_STATUS_DEVICE_LOST,
                          "device %d (%s) is lost: the GPU reported %s "
                          "earlier; the process must restart to use it again",
                          device->ordinal, device->info.name, name);
}

void kiln__device_mark_lost(kiln_device_t* device, kiln__cu_result_t result) {
  if (result == 0) result = KILN_CUDA_ERROR_UNKNOWN;
  int expected = 0;
  atomic_compare_exchange_strong_explicit(&device->lost_result, &expected,
                                          result, memory_order_acq_rel,
                                          memory_order_acquire);
}

kiln_status_t kiln__device_result(kiln_device_t* device,
                                  kiln__cu_result_t result, const char* call,
                                  const char* file, int line) {
  if (result == KILN_CUDA_SUCCESS) return NULL;
  if (kiln__cuda_result_code(result) == KILN_STATUS_DEVICE_LOST) {
    kiln__device_mark_lost(device, result);
  }
  return kiln__cuda_result_to_status(device->driver, result, call, file, line);
}

// The results that lose a device, for finding the one a message names.
static const kiln__cu_result_t fatal_results[] = {
    KILN_CUDA_ERROR_ILLEGAL_ADDRESS,
    KILN_CUDA_ERROR_LAUNCH_TIMEOUT,
    KILN_CUDA_ERROR_ASSERT,
    KILN_CUDA_ERROR_HARDWARE_STACK_ERROR,
    KILN_CUDA_ERROR_ILLEGAL_INSTRUCTION,
    KILN_CUDA_ERROR_MISALIGNED_ADDRESS,
    KILN_CUDA_ERROR_INVALID_ADDRESS_SPACE,
    KILN_CUDA_ERROR_INVALID_PC,
    KILN_CUDA_ERROR_LAUNCH_FAILED,
    KILN_CUDA_ERROR_TENSOR_MEMORY_LEAK,
    KILN_CUDA_ERROR_CONTAINED,
    KILN_CUDA_ERROR_EXTERNAL_DEVICE,
    KILN_CUDA_ERROR_ECC_UNCORRECTABLE,
    KILN_CUDA_ERROR_NVLINK_UNCORRECTABLE,
};

kiln_status_t kiln__device_note_status(kiln_device_t* device,
                                       kiln_status_t status) {
  if (kiln_status_code(status) != KILN_STATUS_DEVICE_LOST) return status;
  const char* message = kiln_status_message(status);
  kiln__cu_result_t result = KILN_CUDA_ERROR_UNKNOWN;
  for (size_t i = 0; i < KILN_ARRAYSIZE(fatal_results); ++i) {
    const char* name = kiln__cuda_result_name(fatal_results[i]);
    if (name && strstr(message, name)) {
      result = fatal_results[i];
      break;
    }
  }
  kiln__device_mark_lost(device, result);
  return status;
}

kiln_status_t kiln__device_enter(kiln_device_t* device) {
  if (kiln__device_is_lost(device)) return kiln__device_check(device);
  return KILN__DEVICE_CU(device, cuCtxSetCurrent(device->cu_context));
}

//===----------------------------------------------------------------------===//
// Creation
//===----------------------------------------------------------------------===//

static void device_destroy(void* self) {
  kiln_device_t* device = (kiln_device_t*)self;
  if (device->context_retained) {
    // Nothing useful can be done about a failure here.
    (void)device->driver->cuDevicePrimaryCtxRelease(device->cu_device);
  }
  kiln_allocator_free(device->allocator, device);
}

static const kiln__ref_vtable_t device_vtable = {device_destroy};

KILN__DEFINE_RETAIN_RELEASE(device)

static kiln_status_t device_open(kiln_device_t* device, int32_t ordinal) {
  const kiln__cuda_driver_t* driver = device->driver;
  kiln__cu_result_t result = driver->cuInit(0);
  if (result == KILN_CUDA_ERROR_NO_DEVICE) {
    return kiln_status_annotate(
        kiln__cuda_result_to_status(driver, result, "cuInit(0)", __FILE__,
                                    __LINE__),
        "no CUDA GPU is visible to this process (check the driver with "
        "nvidia-smi and CUDA_VISIBLE_DEVICES)");
  }
  if (result != KILN_CUDA_SUCCESS) {
    return kiln_status_annotate(
        kiln__cuda_result_to_status(driver, result, "cuInit(0)", __FILE__,
                                    __LINE__),
        "cannot initialize the CUDA driver");
  }
  int count = 0;
  KILN_CU_RETURN_IF_ERROR(driver, cuDeviceGetCount(&count));
  if (count <= 0) {
    return kiln_make_status(KILN_STATUS_UNAVAILABLE,
                            "no CUDA GPU: the driver reports 0 devices (check "
                            "nvidia-smi and CUDA_VISIBLE_DEVICES)");
  }
  if (ordinal < 0 || ordinal >= count) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "device ordinal %d is out of range: there %s %d "
                            "CUDA GPU%s (ordinals 0..%d)",
                            ordinal, count == 1 ? "is" : "are", count,
                            count == 1 ? "" : "s", count - 1);
  }
  KILN_CU_RETURN_IF_ERROR(driver, cuDeviceGet(&device->cu_device, ordinal));
  KILN_RETURN_IF_ERROR(
      kiln__cuda_device_query(driver, device->cu_device, &device->info));
  KILN_CU_RETURN_IF_ERROR(
      driver, cuDevicePrimaryCtxRetain(&device->cu_context, device->cu_device));
  device->context_retained = true;
  return NULL;
}

kiln_status_t kiln__device_create_with_driver(const kiln__cuda_driver_t* driver,
                                              int32_t ordinal,
                                              kiln_allocator_t allocator,
                                              kiln_device_t** out_device) {
  if (!out_device) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "kiln_device_create: out_device is NULL");
  }
  *out_device = NULL;
  if (!driver) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "kiln_device_create: no driver table");
  }
  if (ordinal < 0) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "device ordinal %d is negative", ordinal);
  }
  void* memory = NULL;
  KILN_RETURN_IF_ERROR(
      kiln_allocator_malloc(allocator, sizeof(kiln_device_t), &memory));
  kiln_device_t* device = (kiln_device_t*)memory;
  atomic_init(&device->header.count, 1u);
  device->header.vtable = &device_vtable;
  device->allocator = allocator;
  device->driver = driver;
  device->ordinal = ordinal;
  atomic_init(&device->lost_result, 0);
  kiln_status_t status = device_open(device, ordinal);
  if (status) {
    device_destroy(device);
    return kiln_status_annotate(status, "opening CUDA device %d", ordinal);
  }
  *out_device = device;
  return NULL;
}

kiln_status_t kiln_device_create(int32_t ordinal, kiln_allocator_t allocator,
                                 kiln_device_t** out_device) {
  if (!out_device) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "kiln_device_create: out_device is NULL");
  }
  *out_device = NULL;
  const kiln__cuda_driver_t* driver = NULL;
  KILN_RETURN_IF_ERROR(kiln__cuda_driver_get(&driver));
  return kiln__device_create_with_driver(driver, ordinal, allocator,
                                         out_device);
}

uint32_t kiln_device_sm_arch(const kiln_device_t* device) {
  return device ? device->info.sm_arch : 0;
}

const char* kiln_device_name(const kiln_device_t* device) {
  return device ? device->info.name : "";
}

//===----------------------------------------------------------------------===//
// Memory and streams
//===----------------------------------------------------------------------===//

static kiln_status_t null_device(const char* function) {
  return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT, "%s: device is NULL",
                          function);
}

kiln_status_t kiln_device_malloc(kiln_device_t* device, size_t size,
                                 uint64_t* out_address) {
  if (!out_address) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "kiln_device_malloc: out_address is NULL");
  }
  *out_address = 0;
  if (!device) return null_device("kiln_device_malloc");
  KILN_RETURN_IF_ERROR(kiln__device_enter(device));
  if (size == 0) return NULL;
  kiln__cu_deviceptr_t address = 0;
  kiln_status_t status = KILN__DEVICE_CU(device, cuMemAlloc(&address, size));
  if (status) {
    return kiln_status_annotate(status, "allocating %zu bytes on device %d",
                                size, device->ordinal);
  }
  *out_address = address;
  return NULL;
}

kiln_status_t kiln_device_free(kiln_device_t* device, uint64_t address) {
  if (!device) return null_device("kiln_device_free");
  if (address == 0) return NULL;
  KILN_RETURN_IF_ERROR(kiln__device_enter(device));
  return KILN__DEVICE_CU(device, cuMemFree(address));
}

kiln_status_t kiln_device_copy_to_device(kiln_device_t* device, uint64_t dst,
                                         const void* src, size_t size) {
  if (!device) return null_device("kiln_device_copy_to_device");
  if (size == 0) return kiln__device_check(device);
  if (!src) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "kiln_device_copy_to_device: src is NULL");
  }
  KILN_RETURN_IF_ERROR(kiln__device_enter(device));
  return KILN__DEVICE_CU(device, cuMemcpyHtoD(dst, src, size));
}

kiln_status_t kiln_device_copy_to_host(kiln_device_t* device, void* dst,
                                       uint64_t src, size_t size) {
  if (!device) return null_device("kiln_device_copy_to_host");
  if (size == 0) return kiln__device_check(device);
  if (!dst) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "kiln_device_copy_to_host: dst is NULL");
  }
  KILN_RETURN_IF_ERROR(kiln__device_enter(device));
  return KILN__DEVICE_CU(device, cuMemcpyDtoH(dst, src, size));
}

kiln_status_t kiln_device_memset(kiln_device_t* device, uint64_t dst,
                                 uint8_t value, size_t size) {
  if (!device) return null_device("kiln_device_memset");
  if (size == 0) return kiln__device_check(device);
  KILN_RETURN_IF_ERROR(kiln__device_enter(device));
  return KILN__DEVICE_CU(device, cuMemsetD8(dst, value, size));
}

kiln_status_t kiln_device_synchronize(kiln_device_t* device) {
  if (!device) return null_device("kiln_device_synchronize");
  KILN_RETURN_IF_ERROR(kiln__device_enter(device));
  return KILN__DEVICE_CU(device, cuCtxSynchronize());
}

kiln_status_t kiln_stream_create(kiln_device_t* device, void** out_stream) {
  if (!out_stream) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "kiln_stream_create: out_stream is NULL");
  }
  *out_stream = NULL;
  if (!device) return null_device("kiln_stream_create");
  KILN_RETURN_IF_ERROR(kiln__device_enter(device));
  kiln__cu_stream_t stream = NULL;
  KILN_RETURN_IF_ERROR(
      KILN__DEVICE_CU(device, cuStreamCreate(&stream, KILN_CU_STREAM_DEFAULT)));
  *out_stream = stream;
  return NULL;
}

kiln_status_t kiln_stream_destroy(kiln_device_t* device, void* stream) {
  if (!device) return null_device("kiln_stream_destroy");
  if (!stream) return NULL;
  KILN_RETURN_IF_ERROR(kiln__device_enter(device));
  return KILN__DEVICE_CU(device, cuStreamDestroy((kiln__cu_stream_t)stream));
}

kiln_status_t kiln_stream_synchronize(kiln_device_t* device, void* stream) {
  if (!device) return null_device("kiln_stream_synchronize");
  KILN_RETURN_IF_ERROR(kiln__device_enter(device));
  return KILN__DEVICE_CU(device,
                         cuStreamSynchronize((kiln__cu_stream_t)stream));
}

//===----------------------------------------------------------------------===//
// Timing
//===----------------------------------------------------------------------===//

#define MAX_TIMED_ITERATIONS 1000000u

static int compare_floats(const void* pa, const void* pb) {
  float a = *(const float*)pa, b = *(const float*)pb;
  return (a > b) - (a < b);
}

kiln_status_t kiln_device_time_enqueue(kiln_context_t* context, void* stream,
                                       uint32_t warmup, uint32_t iterations,
                                       double* out_median_us,
                                       double* out_min_us) {
  if (!out_median_us || !out_min_us || !context) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "kiln_device_time_enqueue: NULL context or output");
  }
  *out_median_us = 0;
  *out_min_us = 0;
  if (iterations == 0 || iterations > MAX_TIMED_ITERATIONS) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "kiln_device_time_enqueue: %u iterations; give "
                            "1..%u",
                            iterations, MAX_TIMED_ITERATIONS);
  }
  kiln_device_t* device = context->device;
  kiln__cu_stream_t cu_stream = (kiln__cu_stream_t)stream;
  for (uint32_t i = 0; i < warmup; ++i) {
    KILN_RETURN_IF_ERROR(kiln_context_enqueue(context, stream));
  }
  // Two events per iteration, then the times in the same block.
  size_t event_count = (size_t)iterations * 2;
  size_t bytes = event_count * sizeof(kiln__cu_event_t) +
                 (size_t)iterations * sizeof(float);
  void* block = NULL;
  KILN_RETURN_IF_ERROR(
      kiln_allocator_malloc(context->allocator, bytes, &block));
  kiln__cu_event_t* events = (kiln__cu_event_t*)block;
  float* times = (float*)(events + event_count);
  size_t created = 0;
  kiln_status_t status = kiln__device_enter(device);
  for (; !status && created < event_count; ++created) {
    status = KILN__DEVICE_CU(
        device, cuEventCreate(&events[created], KILN_CU_EVENT_DEFAULT));
    if (status) break;
  }
  for (uint32_t i = 0; !status && i < iterations; ++i) {
    status = KILN__DEVICE_CU(device, cuEventRecord(events[2 * i], cu_stream));
    if (!status) status = kiln_context_enqueue(context, stream);
    if (!status) {
      status =
          KILN__DEVICE_CU(device, cuEventRecord(events[2 * i + 1], cu_stream));
    }
  }
  if (!status) {
    status =
        KILN__DEVICE_CU(device, cuEventSynchronize(events[event_count - 1]));
  }
  for (uint32_t i = 0; !status && i < iterations; ++i) {
    status = KILN__DEVICE_CU(
        device,
        cuEventElapsedTime(&times[i], events[2 * i], events[2 * i + 1]));
  }
  if (!status) {
    qsort(times, iterations, sizeof(float), compare_floats);
    double median = iterations % 2 ? times[iterations / 2]
                                   : 0.5 * ((double)times[iterations / 2 - 1] +
                                            (double)times[iterations / 2]);
    *out_median_us = median * 1000.0;
    *out_min_us = (double)times[0] * 1000.0;
  }
  for (size_t i = 0; i < created; ++i) {
    (void)device->driver->cuEventDestroy(events[i]);
  }
  kiln_allocator_free(context->allocator, block);
  return status;
}
