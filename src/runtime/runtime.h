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
//                   Triton scratch buffer, one prepared launch per layer
//                   and a cache of CUDA graphs by input shapes.
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
  // Data-dependent outputs: binding i's shape uses the distinct size tensor
  // placeholders placeholders[io_placeholder_first[i] ..
  // + io_placeholder_count[i]] (none for the other bindings).
  uint32_t* io_placeholder_first;
  uint32_t* io_placeholder_count;
  kiln_sym_t* placeholders;
  // Per tensor: 1 when a dimension depends on a size tensor's value.
  uint8_t* data_dependent;
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

// How many graphs a context keeps, one per set of input shapes (and
// profile); the least recently used one is replaced.
#define KILN__CONTEXT_GRAPH_CAPACITY 8

// How many sets of input shapes a context remembers as seen but not yet
// captured (graph warm-up); the oldest is forgotten first.
#define KILN__CONTEXT_GRAPH_SEEN 16

// A set of input shapes enqueued in stream mode while it warms up: a hash
// of (profile, input shapes) and how many times it was enqueued. A hash
// collision only makes a capture come early.
typedef struct kiln__runtime_graph_seen_t {
  uint64_t hash;
  uint32_t count;  // 0: the slot is free
} kiln__runtime_graph_seen_t;

// A captured enqueue for one set of input shapes (graph.c).
typedef struct kiln__runtime_graph_t {
  bool used;
  // |nodes[i]| is the kernel node of launches[i], so an address change
  // updates nodes; otherwise it captures again.
  bool updatable;
  uint32_t profile;
  kiln_dims_t* input_dims;  // the key: plan->input_count shapes
  uint64_t last_use;        // for replacing the least recently used
  kiln__cu_graph_t graph;   // kept: the nodes belong to it
  kiln__cu_graph_exec_t exec;
  kiln__cu_graph_node_t* nodes;  // plan->layer_count slots
  uint32_t node_count;
  // Every AOT layer's parameter bytes as the graph's nodes hold them, at
  // the context's |graph_param_offsets|.
  uint8_t* params;
} kiln__runtime_graph_t;

// Counters of graph mode, for tests and benchmarks.
typedef struct kiln__context_graph_stats_t {
  uint64_t captures;      // graphs captured and instantiated
  uint64_t node_updates;  // cuGraphExecKernelNodeSetParams calls
  uint64_t launches;      // cuGraphLaunch calls
  uint64_t evictions;     // graphs replaced because the cache was full
  uint64_t warmups;       // stream-mode enqueues of shapes not yet captured
} kiln__context_graph_stats_t;

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
  int64_t* values;      // by expression: evaluated (0 for those that use
                        // size tensors)
  kiln_dims_t* dims;    // by tensor: evaluated; -1 for data-dependent dims
  // By tensor: the bytes it takes for the current input shapes; for a
  // data-dependent tensor, at the upper bounds of its dimensions.
  uint64_t* max_bytes;
  // By tensor: size tensor values read by kiln_context_read_output_shape
  // (|size_raw| holds the bytes copied from the device).
  int64_t* size_values;
  uint64_t* size_raw;

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
  // An enqueue succeeded since the last change of shapes or addresses: the
  // size tensors hold what that enqueue computed.
  bool has_run;
  uint64_t evaluation_count;

  // CUDA graphs (graph.c). |graphs_on| is |graphs_enabled| and
  // |graphs_supported|: the driver has the graph functions and no layer
  // runs on the host.
  bool graphs_enabled;    // kiln_context_set_graphs; true by default
  bool graphs_supported;  // fixed at creation
  bool graphs_on;
  kiln__runtime_graph_t* graphs;  // KILN__CONTEXT_GRAPH_CAPACITY, or NULL
  // The graph of the current shapes, in step with the parameters; NULL
  // after any change until the next enqueue looks it up.
  kiln__runtime_graph_t* graph;
  kiln__cu_stream_t capture_stream;  // created at the first capture
  uint32_t* graph_param_offsets;     // by layer, into a graph's |params|
  size_t graph_param_bytes;
  uint64_t graph_clock;
  // Graph warm-up: shapes are captured on their (graph_warmup + 1)-th
  // enqueue; until then they run in stream mode
  // (kiln_context_set_graph_warmup).
  uint32_t graph_warmup;
  uint32_t graph_seen_next;  // the slot to replace next
  kiln__runtime_graph_seen_t graph_seen[KILN__CONTEXT_GRAPH_SEEN];
  kiln__context_graph_stats_t graph_stats;
};

//===----------------------------------------------------------------------===//
// Graph mode (graph.c)
//===----------------------------------------------------------------------===//
//
// A context in graph mode captures its launches for each set of input
// shapes into a CUDA graph once it has been enqueued with them
// |graph_warmup| times in stream mode (default 1: captured on the second
// enqueue, so shapes used once never pay for a capture), and later launches
// that graph with one cuGraphLaunch. The capture happens on
// a private non-blocking stream of the context: capturing only records, so
// nothing runs there, and the graph is then launched on the caller's
// stream. That keeps the caller's ordering exactly, the legacy default
// stream (NULL) included, with no events. When only tensor addresses (or
// the scratch buffer) changed, the nodes whose parameters differ are
// updated with cuGraphExecKernelNodeSetParams instead of a new capture.
//
// Stream mode is used instead when graphs are turned off, when the driver
// lacks the graph functions, when a layer runs a host implementation, when
// the caller's stream is itself being captured (its capture then records
// kiln's launches), and for the rest of the context's life after a capture
// fails for a reason other than a lost device (logged as a warning).

// Sets up graph mode for a new |context| whose layers are prepared:
// decides whether graphs are supported and allocates the cache from the
// context's arena. No driver calls.
kiln_status_t kiln__context_graphs_init(kiln_context_t* context);

// Destroys every cached graph and the capture stream. Errors are ignored
// (they cannot be reported from destroy; on a lost device they are
// expected). The context stays usable.
void kiln__context_graphs_clear(kiln_context_t* context);

// Launches the prepared enqueue of |context| on |stream| as a graph,
// capturing or updating it first when needed, and sets |*out_launched|.
// When it returns NULL with |*out_launched| false, the caller launches in
// stream mode. The device's context must be current.
kiln_status_t kiln__context_graph_enqueue(kiln_context_t* context,
                                          kiln__cu_stream_t stream,
                                          bool* out_launched);

// Returns the graph counters of |context| (zeros for NULL).
kiln__context_graph_stats_t kiln__context_graph_stats(
    const kiln_context_t* context);

// Returns true when |context| would enqueue in graph mode now.
bool kiln__context_graphs_active(const kiln_context_t* context);

// Returns how many times |context| has evaluated its expressions (once per
// shape change that is followed by an enqueue or a kiln_context_get_shape).
uint64_t kiln__context_evaluation_count(const kiln_context_t* context);

// Returns the parameter storage of |layer| (an AOT layer) in |context|:
// |*out_size| bytes at the returned pointer, laid out as the kernel's param
// list says. NULL for a host layer or an index out of range.
const uint8_t* kiln__context_layer_params(const kiln_context_t* context,
                                          uint32_t layer, size_t* out_size);

#endif  // KILN_SRC_RUNTIME_RUNTIME_H_
