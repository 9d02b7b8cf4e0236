// Internal API of the runtime (src/runtime/): the device, loaded engine and
// execution context objects behind kiln.h's runtime section, and the seams
// tests use (a device made from a given driver table, counters).
//
// Objects and threads:
//
//   kiln_device_t   reference-counted, thread-safe. Holds the driver table,
//                   the retained primary context and the "lost" flag.
//   kiln_engine_t   reference-counted, immutable after load, shared by
//                   threads. Retains its device. Owns the engine bytes, the
//                   plan read from them, one module per kernel, the
//                   constants in device memory and the host layers' plugins
//                   and attributes. Expression evaluation on the plan's
//                   table is serialized by |eval_mutex|.
//   kiln_context_t  one thread at a time. Retains its engine. Owns input
//                   shapes, tensor addresses, the activation arena, the
//                   Triton scratch buffer and one prepared launch per layer.
//
// A device is "lost" once any call on it, its engines or its contexts sees
// a CUresult that kiln__cuda_result_code maps to DEVICE_LOST (the sticky
// errors of kiln__cuda_result_is_sticky, ECC and NVLink failures). From then
// on every call on the device, its engines and contexts returns DEVICE_LOST
// naming the first such error.

#ifndef KILN_SRC_RUNTIME_RUNTIME_H_
#define KILN_SRC_RUNTIME_RUNTIME_H_

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "cuda/cuda_driver.h"
#include "engine/plan.h"
#include "kiln/kiln.h"
#include "kiln/kiln_plugin.h"
#include "plugin/plugin.h"

//===----------------------------------------------------------------------===//
// Device
//===----------------------------------------------------------------------===//

struct kiln_device_s {
  kiln__ref_header_t header;  // offset 0: count and destroy
  kiln_allocator_t allocator;
  const kiln__cuda_driver_t* driver;  // borrowed; outlives the device
  int32_t ordinal;
  kiln__cu_device_t cu_device;
  kiln__cu_context_t cu_context;  // the primary context, retained
  bool context_retained;
  kiln__cuda_device_info_t info;
  // 0 while the device is usable; else the first CUresult that lost it.
  _Atomic int lost_result;
};

// Opens GPU |ordinal| through |driver| (borrowed: it must outlive the
// device and everything made from it), as kiln_device_create does with the
// process's libcuda table: cuInit, the device count (UNAVAILABLE "no CUDA
// GPU" when 0; INVALID_ARGUMENT naming the count for a bad |ordinal|),
// kiln__cuda_device_query, and the primary context (released when the last
// reference goes). Tests pass a fake table. The caller owns |*out_device|.
kiln_status_t kiln__device_create_with_driver(const kiln__cuda_driver_t* driver,
                                              int32_t ordinal,
                                              kiln_allocator_t allocator,
                                              kiln_device_t** out_device);

// Returns true once the device is lost. Cheap (one relaxed atomic load).
static inline bool kiln__device_is_lost(const kiln_device_t* device) {
  return atomic_load_explicit(&((kiln_device_t*)device)->lost_result,
                              memory_order_relaxed) != 0;
}

// Returns DEVICE_LOST naming the device and the first fatal error when the
// device is lost; NULL otherwise.
kiln_status_t kiln__device_check(const kiln_device_t* device);

// Marks |device| lost by |result| unless it is lost already (the first
// error is kept). Thread-safe.
void kiln__device_mark_lost(kiln_device_t* device, kiln__cu_result_t result);

// Makes the status for a driver call's |result| as kiln__cuda_result_to_status
// does (NULL for success) and marks |device| lost when the result maps to
// DEVICE_LOST.
kiln_status_t kiln__device_result(kiln_device_t* device,
                                  kiln__cu_result_t result, const char* call,
                                  const char* file, int line);

// Calls |device|->driver->|call_expr| and evaluates to its status, marking
// the device lost for a fatal error.
#define KILN__DEVICE_CU(device, call_expr)                               \
  kiln__device_result((device), (device)->driver->call_expr, #call_expr, \
                      __FILE__, __LINE__)

// For statuses made by helpers that call the driver themselves (module
// loading): marks |device| lost when |status| is DEVICE_LOST, naming the
// sticky error the message names. Returns |status|.
kiln_status_t kiln__device_note_status(kiln_device_t* device,
                                       kiln_status_t status);

// Checks that |device| is not lost and makes its primary context current on
// the calling thread (cuCtxSetCurrent).
kiln_status_t kiln__device_enter(kiln_device_t* device);

//===----------------------------------------------------------------------===//
// Engine
//===----------------------------------------------------------------------===//

// A kernel loaded on the device.
typedef struct kiln__runtime_kernel_t {
  kiln__cu_module_t module;
  kiln__cu_function_t function;
  uint32_t image;                    // the plan image that was loaded
  int32_t max_threads_per_block;     // CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK
  int32_t static_shared_bytes;       // CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES
  int32_t max_dynamic_shared_bytes;  // what a launch may ask for
  // Byte offset of each parameter (params.count of them) in the parameter
  // buffer, laid out by size and alignment as the driver reads them.
  uint32_t* param_offsets;
  uint32_t param_bytes;  // the buffer's size
} kiln__runtime_kernel_t;

// A host-implementation layer's plugin and attributes.
typedef struct kiln__runtime_host_layer_t {
  const kiln_plugin_t* plugin;  // borrowed from the engine's registry
  kiln_attrs_t* attrs;          // owned: the deserialized host_attrs
  kiln_attrs_t view;            // what host_impl declared, over |attrs|
} kiln__runtime_host_layer_t;

struct kiln_engine_s {
  kiln__ref_header_t header;  // offset 0: count and destroy
  kiln_allocator_t allocator;
  kiln_device_t* device;      // retained
  kiln_registry_t* registry;  // retained when the engine has host layers
  kiln_logger_t logger;
  kiln__arena_t arena;  // the arrays below
  uint8_t* bytes;       // the engine file; plan spans point into it
  size_t byte_count;
  kiln__plan_t* plan;
  kiln__runtime_kernel_t* kernels;          // plan->kernel_count
  kiln__runtime_host_layer_t* host_layers;  // plan->layer_count (AOT: zero)
  // Bindings: inputs by ordinal, then outputs in tensor order.
  uint32_t io_count;
  uint32_t* io_tensors;
  char** io_names;  // NUL-terminated copies
  // Constants in device memory: one allocation, |constant_offsets| into it.
  kiln__cu_deviceptr_t constant_memory;
  uint64_t* constant_offsets;
  // Serializes kiln_sym_eval on plan->sym (the table keeps scratch state).
  pthread_mutex_t eval_mutex;
  bool eval_mutex_ready;
};

//===----------------------------------------------------------------------===//
// Context
//===----------------------------------------------------------------------===//

// One launch of the prepared enqueue: a kernel launch, or (|function| NULL)
// a host-implementation call for layer |layer|.
typedef struct kiln__runtime_launch_t {
  kiln__cu_function_t function;
  unsigned int grid[3];
  unsigned int block[3];
  unsigned int shared_bytes;
  void** params;
  uint32_t layer;
} kiln__runtime_launch_t;

// Where a tensor's address goes in a parameter buffer.
typedef struct kiln__runtime_patch_t {
  uint8_t* slot;  // 8 bytes in a layer's parameter storage
  uint32_t tensor;
} kiln__runtime_patch_t;

// Per-layer state.
typedef struct kiln__runtime_layer_t {
  uint8_t* storage;  // AOT: the parameter bytes
  void** params;     // AOT: kernelParams, pointing into |storage|
  // AOT: the Triton scratch bytes of the prepared launch.
  uint64_t global_scratch_bytes;
  uint64_t profile_scratch_bytes;
  // HOST: the views passed to host_impl, inputs then outputs.
  kiln_device_tensor_t* host_tensors;
} kiln__runtime_layer_t;

struct kiln_context_s {
  kiln_allocator_t allocator;
  kiln_engine_t* engine;  // retained
  kiln_device_t* device;  // engine->device
  const kiln__plan_t* plan;
  kiln__arena_t arena;  // the fixed-size arrays below
  uint32_t profile;

  kiln_dims_t* input_dims;  // by input ordinal
  bool* input_shape_set;
  bool* is_bound;       // by tensor: the caller set an address
  uint64_t* bound;      // by tensor: the address the caller set
  uint64_t* addresses;  // by tensor: resolved for the launches
  int64_t* values;      // by expression: evaluated
  kiln_dims_t* dims;    // by tensor: evaluated

  kiln__cu_deviceptr_t activations;  // plan->activation_bytes
  kiln__cu_deviceptr_t scratch;      // Triton scratch, grown as needed
  uint64_t scratch_capacity;

  kiln__runtime_layer_t* layers;  // plan->layer_count
  kiln__runtime_patch_t* patches;
  uint32_t patch_count;
  kiln__runtime_launch_t* launches;  // the non-empty launches, in order
  uint32_t launch_count;

  // What the next enqueue must redo. |ready| is false when any is set.
  bool shapes_changed;     // evaluate expressions and launches again
  bool addresses_changed;  // resolve addresses and patch pointers
  bool ready;
  bool values_valid;  // |values| and |dims| hold the current shapes
  uint64_t evaluation_count;
};

// Returns how many times |context| has evaluated its expressions (once per
// shape change that is followed by an enqueue or a kiln_context_get_shape).
uint64_t kiln__context_evaluation_count(const kiln_context_t* context);

// Returns the parameter storage of |layer| (an AOT layer) in |context|:
// |*out_size| bytes at the returned pointer, laid out as the kernel's param
// list says. NULL for a host layer or an index out of range.
const uint8_t* kiln__context_layer_params(const kiln_context_t* context,
                                          uint32_t layer, size_t* out_size);

#endif  // KILN_SRC_RUNTIME_RUNTIME_H_
