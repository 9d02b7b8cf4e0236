// Graph mode of the execution context: a bounded cache of CUDA graphs, one
// per set of input shapes, captured from the prepared launches, replayed
// with cuGraphLaunch and kept in step with address changes by updating
// kernel nodes. runtime.h describes the behavior; this file holds the
// mechanics:
//
//   first enqueues with new    stream mode, counting the enqueues of the
//   shapes (warm-up)           shapes in a small table of hashes.
//   the enqueue after warm-up  capture the launches on the context's own
//                              stream, instantiate, find each launch's
//                              kernel node, remember the parameter bytes.
//   enqueue after a change     find the shapes' graph (else capture one,
//                              replacing the least recently used), and
//                              update the nodes whose parameter bytes
//                              changed (addresses, scratch).
//   every other enqueue        one cuStreamIsCapturing (when the driver has
//                              it) and one cuGraphLaunch.

#include <inttypes.h>
#include <string.h>

#include "base/base.h"
#include "base/log.h"
#include "base/size.h"
#include "runtime/runtime.h"

#if defined(__GNUC__) || defined(__clang__)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define UNLIKELY(x) (x)
#endif

//===----------------------------------------------------------------------===//
// Setup and teardown
//===----------------------------------------------------------------------===//

static kiln_status_t graph_array(kiln_context_t* context, size_t count,
                                 size_t size, void** out) {
  size_t bytes = 0;
  KILN_RETURN_IF_ERROR(kiln__size_mul(count, size, "graph cache", &bytes));
  return kiln__arena_alloc(&context->arena, bytes ? bytes : 1, 16, out);
}

kiln_status_t kiln__context_graphs_init(kiln_context_t* context) {
  const kiln__plan_t* plan = context->plan;
  const kiln_engine_t* engine = context->engine;
  context->graphs_enabled = true;
  context->graph_warmup = 1;
  bool supported = kiln__cuda_driver_has_graphs(context->device->driver);
  bool any_kernel = false;
  for (uint32_t l = 0; l < plan->layer_count; ++l) {
    if (plan->layers[l].kind == KILN__LAYER_HOST) supported = false;
    if (plan->layers[l].kind == KILN__LAYER_AOT) any_kernel = true;
  }
  context->graphs_supported = supported && any_kernel;
  context->graphs_on = context->graphs_supported;
  if (!context->graphs_supported) return NULL;

  void* memory = NULL;
  KILN_RETURN_IF_ERROR(
      graph_array(context, plan->layer_count, sizeof(uint32_t), &memory));
  context->graph_param_offsets = (uint32_t*)memory;
  size_t total = 0;
  for (uint32_t l = 0; l < plan->layer_count; ++l) {
    context->graph_param_offsets[l] = (uint32_t)total;
    if (plan->layers[l].kind != KILN__LAYER_AOT) continue;
    const kiln__runtime_kernel_t* rk = &engine->kernels[plan->layers[l].kernel];
    KILN_RETURN_IF_ERROR(
        kiln__size_add(total, rk->param_bytes, "graph parameters", &total));
    if (total > UINT32_MAX) {
      return kiln_make_status(KILN_STATUS_OUT_OF_RANGE,
                              "the layers' parameters take more than 4 GiB");
    }
  }
  context->graph_param_bytes = total;
  KILN_RETURN_IF_ERROR(graph_array(context, KILN__CONTEXT_GRAPH_CAPACITY,
                                   sizeof(kiln__runtime_graph_t), &memory));
  context->graphs = (kiln__runtime_graph_t*)memory;
  memset(context->graphs, 0,
         KILN__CONTEXT_GRAPH_CAPACITY * sizeof(kiln__runtime_graph_t));
  for (uint32_t i = 0; i < KILN__CONTEXT_GRAPH_CAPACITY; ++i) {
    kiln__runtime_graph_t* g = &context->graphs[i];
    KILN_RETURN_IF_ERROR(
        graph_array(context, plan->input_count, sizeof(kiln_dims_t), &memory));
    g->input_dims = (kiln_dims_t*)memory;
    KILN_RETURN_IF_ERROR(graph_array(context, plan->layer_count,
                                     sizeof(kiln__cu_graph_node_t), &memory));
    g->nodes = (kiln__cu_graph_node_t*)memory;
    KILN_RETURN_IF_ERROR(graph_array(context, total, 1, &memory));
    g->params = (uint8_t*)memory;
  }
  return NULL;
}

// Destroys |g|'s graph; failures are ignored (see kiln__context_graphs_clear).
static void graph_destroy(kiln_context_t* context, kiln__runtime_graph_t* g) {
  const kiln__cuda_driver_t* driver = context->device->driver;
  if (g->exec) (void)driver->cuGraphExecDestroy(g->exec);
  if (g->graph) (void)driver->cuGraphDestroy(g->graph);
  g->exec = NULL;
  g->graph = NULL;
  g->used = false;
  g->updatable = false;
  g->node_count = 0;
  if (context->graph == g) context->graph = NULL;
}

void kiln__context_graphs_clear(kiln_context_t* context) {
  context->graph = NULL;
  if (!context->graphs) return;
  const kiln__cuda_driver_t* driver = context->device->driver;
  for (uint32_t i = 0; i < KILN__CONTEXT_GRAPH_CAPACITY; ++i) {
    if (context->graphs[i].used) graph_destroy(context, &context->graphs[i]);
  }
  if (context->capture_stream) {
    (void)driver->cuStreamDestroy(context->capture_stream);
    context->capture_stream = NULL;
  }
}

kiln__context_graph_stats_t kiln__context_graph_stats(
    const kiln_context_t* context) {
  kiln__context_graph_stats_t zero;
  memset(&zero, 0, sizeof(zero));
  return context ? context->graph_stats : zero;
}

bool kiln__context_graphs_active(const kiln_context_t* context) {
  return context && context->graphs_on;
}

kiln_status_t kiln_context_set_graphs(kiln_context_t* context, bool enabled) {
  if (!context) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "kiln_context_set_graphs: context is NULL");
  }
  KILN_RETURN_IF_ERROR(kiln__device_check(context->device));
  context->graphs_enabled = enabled;
  context->graphs_on = enabled && context->graphs_supported;
  if (!enabled && context->graphs) {
    KILN_RETURN_IF_ERROR(kiln__device_enter(context->device));
    kiln__context_graphs_clear(context);
  }
  context->graph = NULL;
  return NULL;
}

kiln_status_t kiln_context_set_graph_warmup(kiln_context_t* context,
                                            uint32_t enqueues) {
  if (!context) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "kiln_context_set_graph_warmup: context is NULL");
  }
  context->graph_warmup = enqueues;
  memset(context->graph_seen, 0, sizeof(context->graph_seen));
  context->graph_seen_next = 0;
  return NULL;
}

//===----------------------------------------------------------------------===//
// Capture
//===----------------------------------------------------------------------===//

static kiln_status_t graph_result(kiln_context_t* context,
                                  kiln__cu_result_t result, const char* call,
                                  int line) {
  return kiln__device_result(context->device, result, call, __FILE__, line);
}

#define GRAPH_CU(context, call_expr)                                        \
  graph_result((context), (context)->device->driver->call_expr, #call_expr, \
               __LINE__)

// The kernel node parameters of |launch|.
static kiln__cu_kernel_node_params_t node_params(
    const kiln__runtime_launch_t* launch) {
  kiln__cu_kernel_node_params_t p;
  memset(&p, 0, sizeof(p));
  p.func = launch->function;
  p.grid_dim_x = launch->grid[0];
  p.grid_dim_y = launch->grid[1];
  p.grid_dim_z = launch->grid[2];
  p.block_dim_x = launch->block[0];
  p.block_dim_y = launch->block[1];
  p.block_dim_z = launch->block[2];
  p.shared_mem_bytes = launch->shared_bytes;
  p.kernel_params = launch->params;
  return p;
}

// Returns true when the kernel node |node| holds exactly |launch|: function,
// dimensions and every parameter's bytes.
static bool node_matches(const kiln_context_t* context,
                         kiln__cu_graph_node_t node,
                         const kiln__runtime_launch_t* launch) {
  const kiln__cuda_driver_t* driver = context->device->driver;
  kiln__cu_kernel_node_params_t p;
  memset(&p, 0, sizeof(p));
  if (driver->cuGraphKernelNodeGetParams(node, &p) != KILN_CUDA_SUCCESS) {
    return false;
  }
  if (p.func != launch->function || p.grid_dim_x != launch->grid[0] ||
      p.grid_dim_y != launch->grid[1] || p.grid_dim_z != launch->grid[2] ||
      p.block_dim_x != launch->block[0] || p.block_dim_y != launch->block[1] ||
      p.block_dim_z != launch->block[2] ||
      p.shared_mem_bytes != launch->shared_bytes) {
    return false;
  }
  const kiln__plan_t* plan = context->plan;
  const kiln__plan_kernel_t* kernel =
      &plan->kernels[plan->layers[launch->layer].kernel];
  if (kernel->params.count && !p.kernel_params) return false;
  for (uint32_t j = 0; j < kernel->params.count; ++j) {
    const kiln__plan_param_t* param = &plan->params[kernel->params.first + j];
    if (!p.kernel_params[j] ||
        memcmp(p.kernel_params[j], launch->params[j], param->size) != 0) {
      return false;
    }
  }
  return true;
}

// Finds the kernel node of each launch in |g|'s graph (by function,
// dimensions and parameter bytes) and sets |g->updatable| when every one is
// found and no two launches are indistinguishable. Without the optional driver
// functions, or when anything does not match, |g| is left not updatable: an
// address change then captures again, which is always correct.
static void graph_find_nodes(kiln_context_t* context,
                             kiln__runtime_graph_t* g) {
  const kiln__cuda_driver_t* driver = context->device->driver;
  uint32_t count = context->launch_count;
  g->updatable = false;
  g->node_count = 0;
  if (!driver->cuGraphGetNodes || !driver->cuGraphKernelNodeGetParams) return;
  size_t found = 0;
  if (driver->cuGraphGetNodes(g->graph, NULL, &found) != KILN_CUDA_SUCCESS ||
      found != count) {
    return;
  }
  found = count;
  if (driver->cuGraphGetNodes(g->graph, g->nodes, &found) !=
          KILN_CUDA_SUCCESS ||
      found != count) {
    return;
  }
  // The driver lists nodes in the order they were added in practice, so
  // node i is tried first for launch i; any other order is matched too.
  const kiln__runtime_launch_t* launches = context->launches;
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t k = i;
    while (k < count && !node_matches(context, g->nodes[k], &launches[i])) {
      ++k;
    }
    if (k == count) return;
    kiln__cu_graph_node_t node = g->nodes[k];
    g->nodes[k] = g->nodes[i];
    g->nodes[i] = node;
  }
  // Two launches with the same function, dimensions and parameters could
  // sit in either node; after an address change they may differ.
  const kiln_engine_t* engine = context->engine;
  const kiln__plan_t* plan = context->plan;
  for (uint32_t i = 0; i < count; ++i) {
    for (uint32_t j = i + 1; j < count; ++j) {
      const kiln__runtime_launch_t* a = &launches[i];
      const kiln__runtime_launch_t* b = &launches[j];
      if (a->function != b->function || a->shared_bytes != b->shared_bytes ||
          memcmp(a->grid, b->grid, sizeof(a->grid)) != 0 ||
          memcmp(a->block, b->block, sizeof(a->block)) != 0) {
        continue;
      }
      const kiln__plan_layer_t* la = &plan->layers[a->layer];
      const kiln__plan_layer_t* lb = &plan->layers[b->layer];
      uint32_t bytes = engine->kernels[la->kernel].param_bytes;
      if (la->kernel == lb->kernel &&
          memcmp(context->layers[a->layer].storage,
                 context->layers[b->layer].storage, bytes) == 0) {
        return;
      }
    }
  }
  g->node_count = count;
  g->updatable = true;
}

// Copies the current parameter bytes of every launch into |g|.
static void graph_snapshot(kiln_context_t* context, kiln__runtime_graph_t* g) {
  const kiln__plan_t* plan = context->plan;
  for (uint32_t i = 0; i < context->launch_count; ++i) {
    uint32_t l = context->launches[i].layer;
    uint32_t bytes =
        context->engine->kernels[plan->layers[l].kernel].param_bytes;
    memcpy(g->params + context->graph_param_offsets[l],
           context->layers[l].storage, bytes);
  }
}

static bool graph_key_matches(const kiln_context_t* context,
                              const kiln__runtime_graph_t* g) {
  if (!g->used || g->profile != context->profile) return false;
  for (uint32_t i = 0; i < context->plan->input_count; ++i) {
    const kiln_dims_t* a = &g->input_dims[i];
    const kiln_dims_t* b = &context->input_dims[i];
    if (a->rank != b->rank) return false;
    for (int32_t j = 0; j < a->rank; ++j) {
      if (a->d[j] != b->d[j]) return false;
    }
  }
  return true;
}

// Captures the prepared launches into |g| (unused on entry). On failure |g|
// stays unused and the status says which call failed.
static kiln_status_t graph_capture(kiln_context_t* context,
                                   kiln__runtime_graph_t* g) {
  const kiln__cuda_driver_t* driver = context->device->driver;
  if (!context->capture_stream) {
    kiln__cu_stream_t stream = NULL;
    KILN_RETURN_IF_ERROR(GRAPH_CU(
        context, cuStreamCreate(&stream, KILN_CU_STREAM_NON_BLOCKING)));
    context->capture_stream = stream;
  }
  kiln__cu_stream_t stream = context->capture_stream;
  KILN_RETURN_IF_ERROR(GRAPH_CU(
      context,
      cuStreamBeginCapture(stream, KILN_CU_STREAM_CAPTURE_MODE_THREAD_LOCAL)));
  kiln__cu_result_t launch_result = KILN_CUDA_SUCCESS;
  uint32_t failed = 0;
  for (uint32_t i = 0; i < context->launch_count; ++i) {
    const kiln__runtime_launch_t* launch = &context->launches[i];
    launch_result = driver->cuLaunchKernel(
        launch->function, launch->grid[0], launch->grid[1], launch->grid[2],
        launch->block[0], launch->block[1], launch->block[2],
        launch->shared_bytes, stream, launch->params, NULL);
    if (launch_result != KILN_CUDA_SUCCESS) {
      failed = launch->layer;
      break;
    }
  }
  // The capture always ends, so that the stream is usable again.
  kiln__cu_graph_t graph = NULL;
  kiln_status_t status = GRAPH_CU(context, cuStreamEndCapture(stream, &graph));
  if (launch_result != KILN_CUDA_SUCCESS) {
    kiln_status_t launch_status = kiln_status_annotate(
        graph_result(context, launch_result, "cuLaunchKernel", __LINE__),
        "capturing layer %" PRIu32, failed);
    status = kiln_status_join(launch_status, status);
  }
  kiln__cu_graph_exec_t exec = NULL;
  if (!status) {
    status = GRAPH_CU(context, cuGraphInstantiateWithFlags(&exec, graph, 0));
  }
  if (status) {
    if (graph) (void)driver->cuGraphDestroy(graph);
    return status;
  }
  g->graph = graph;
  g->exec = exec;
  g->used = true;
  g->profile = context->profile;
  memcpy(g->input_dims, context->input_dims,
         context->plan->input_count * sizeof(kiln_dims_t));
  graph_snapshot(context, g);
  graph_find_nodes(context, g);
  ++context->graph_stats.captures;
  return NULL;
}

// Brings |g| in step with the current parameters by updating the nodes
// whose bytes changed. Sets |*out_ok| false (returning NULL) when |g| must
// be captured again instead; returns an error only for a lost device.
static kiln_status_t graph_sync(kiln_context_t* context,
                                kiln__runtime_graph_t* g, bool* out_ok) {
  *out_ok = true;
  const kiln__plan_t* plan = context->plan;
  for (uint32_t i = 0; i < context->launch_count; ++i) {
    const kiln__runtime_launch_t* launch = &context->launches[i];
    uint32_t l = launch->layer;
    uint32_t bytes =
        context->engine->kernels[plan->layers[l].kernel].param_bytes;
    uint8_t* held = g->params + context->graph_param_offsets[l];
    const uint8_t* current = context->layers[l].storage;
    if (memcmp(held, current, bytes) == 0) continue;
    if (!g->updatable || i >= g->node_count) {
      *out_ok = false;
      return NULL;
    }
    kiln__cu_kernel_node_params_t p = node_params(launch);
    kiln_status_t status = GRAPH_CU(
        context, cuGraphExecKernelNodeSetParams(g->exec, g->nodes[i], &p));
    if (status) {
      if (kiln_status_code(status) == KILN_STATUS_DEVICE_LOST) return status;
      kiln_status_free(status);
      *out_ok = false;
      return NULL;
    }
    memcpy(held, current, bytes);
    ++context->graph_stats.node_updates;
  }
  return NULL;
}

// Turns graph mode off for |context| after |status| (consumed), logging
// why. Returns the status to report: only a lost device is an error.
static kiln_status_t graphs_fail(kiln_context_t* context,
                                 kiln_status_t status) {
  if (kiln_status_code(status) == KILN_STATUS_DEVICE_LOST) return status;
  kiln__log(&context->engine->logger, KILN_LOG_LEVEL_WARNING,
            "capturing a CUDA graph failed; the context runs in stream mode "
            "until kiln_context_set_graphs is called: %s",
            kiln_status_message(status));
  kiln_status_free(status);
  kiln__context_graphs_clear(context);
  context->graphs_on = false;
  return NULL;
}

// FNV-1a over the profile and the input shapes.
static uint64_t graph_shapes_hash(const kiln_context_t* context) {
  uint64_t h = 1469598103934665603ull;
#define MIX(v)             \
  do {                     \
    h ^= (uint64_t)(v);    \
    h *= 1099511628211ull; \
  } while (0)
  MIX(context->profile);
  for (uint32_t i = 0; i < context->plan->input_count; ++i) {
    const kiln_dims_t* d = &context->input_dims[i];
    MIX(d->rank);
    for (int32_t j = 0; j < d->rank; ++j) MIX(d->d[j]);
  }
#undef MIX
  return h;
}

// Counts an enqueue of the current shapes, which have no graph; returns
// true when they have warmed up and are to be captured now.
static bool graph_warmed_up(kiln_context_t* context) {
  if (context->graph_warmup == 0) return true;
  uint64_t h = graph_shapes_hash(context);
  for (uint32_t i = 0; i < KILN__CONTEXT_GRAPH_SEEN; ++i) {
    kiln__runtime_graph_seen_t* seen = &context->graph_seen[i];
    if (seen->count == 0 || seen->hash != h) continue;
    if (seen->count >= context->graph_warmup) {
      seen->count = 0;  // captured now: the slot is free again
      return true;
    }
    ++seen->count;
    return false;
  }
  kiln__runtime_graph_seen_t* slot = NULL;
  for (uint32_t i = 0; i < KILN__CONTEXT_GRAPH_SEEN && !slot; ++i) {
    if (context->graph_seen[i].count == 0) slot = &context->graph_seen[i];
  }
  if (!slot) {
    slot = &context->graph_seen[context->graph_seen_next];
    context->graph_seen_next =
        (context->graph_seen_next + 1) % KILN__CONTEXT_GRAPH_SEEN;
  }
  slot->hash = h;
  slot->count = 1;
  return false;
}

// Finds or makes the graph of the current shapes, in step with the current
// parameters. |*out_graph| stays NULL when the enqueue must use stream mode
// (shapes still warming up).
static kiln_status_t graph_select(kiln_context_t* context,
                                  kiln__runtime_graph_t** out_graph) {
  *out_graph = NULL;
  if (context->launch_count == 0) return NULL;  // nothing to launch
  kiln__runtime_graph_t* g = NULL;
  for (uint32_t i = 0; i < KILN__CONTEXT_GRAPH_CAPACITY && !g; ++i) {
    if (graph_key_matches(context, &context->graphs[i])) {
      g = &context->graphs[i];
    }
  }
  if (g) {
    bool ok = false;
    KILN_RETURN_IF_ERROR(graph_sync(context, g, &ok));
    if (!ok) graph_destroy(context, g);  // captured again below, in place
  } else {
    if (!graph_warmed_up(context)) {
      ++context->graph_stats.warmups;
      return NULL;
    }
    // An unused slot, else the least recently used one.
    for (uint32_t i = 0; i < KILN__CONTEXT_GRAPH_CAPACITY; ++i) {
      kiln__runtime_graph_t* candidate = &context->graphs[i];
      if (!candidate->used) {
        g = candidate;
        break;
      }
      if (!g || candidate->last_use < g->last_use) g = candidate;
    }
    if (g->used) {
      graph_destroy(context, g);
      ++context->graph_stats.evictions;
    }
  }
  if (!g->used) {
    kiln_status_t status = graph_capture(context, g);
    if (status) return graphs_fail(context, status);
  }
  g->last_use = ++context->graph_clock;
  context->graph = g;
  *out_graph = g;
  return NULL;
}

//===----------------------------------------------------------------------===//
// Enqueue
//===----------------------------------------------------------------------===//

kiln_status_t kiln__context_graph_enqueue(kiln_context_t* context,
                                          kiln__cu_stream_t stream,
                                          bool* out_launched) {
  *out_launched = false;
  const kiln__cuda_driver_t* driver = context->device->driver;
  if (driver->cuStreamIsCapturing) {
    // A stream the caller is capturing records kiln's launches itself.
    kiln__cu_stream_capture_status_t capturing =
        KILN_CU_STREAM_CAPTURE_STATUS_NONE;
    kiln__cu_result_t result = driver->cuStreamIsCapturing(stream, &capturing);
    if (UNLIKELY(result != KILN_CUDA_SUCCESS ||
                 capturing != KILN_CU_STREAM_CAPTURE_STATUS_NONE)) {
      return NULL;
    }
  }
  kiln__runtime_graph_t* g = context->graph;
  if (UNLIKELY(!g)) {
    KILN_RETURN_IF_ERROR(graph_select(context, &g));
    if (!g) return NULL;
  }
  kiln__cu_result_t result = driver->cuGraphLaunch(g->exec, stream);
  if (UNLIKELY(result != KILN_CUDA_SUCCESS)) {
    return kiln_status_annotate(
        graph_result(context, result, "cuGraphLaunch", __LINE__),
        "launching the CUDA graph of %" PRIu32 " kernel launches",
        context->launch_count);
  }
  ++context->graph_stats.launches;
  *out_launched = true;
  return NULL;
}
