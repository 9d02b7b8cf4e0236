// The execution context: input shapes, tensor addresses, activation and
// scratch memory, and the prepared launches.
//
// Work is split by how often it happens:
//
//   kiln_context_create      every array sized by the plan, the parameter
//                            buffers and their kernelParams arrays, the
//                            activation arena.
//   first enqueue after a    evaluate every expression (under the engine's
//   shape change             mutex), check every launch against the
//                            device's and the kernel's limits, size the
//                            Triton scratch, write scalar arguments.
//   after an address change  resolve tensor addresses, patch the pointer
//                            parameters.
//   every enqueue            one cuCtxSetCurrent and one cuLaunchKernel per
//                            non-empty launch: no allocation, no
//                            evaluation, no string work. In graph mode
//                            (graph.c, on by default where it is safe)
//                            one cuGraphLaunch instead, after a capture
//                            or node update when something changed.

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "base/size.h"
#include "engine/engine.h"
#include "runtime/runtime.h"
#include "sym/sym.h"

#if defined(__GNUC__) || defined(__clang__)
#define NOINLINE __attribute__((noinline))
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define NOINLINE
#define UNLIKELY(x) (x)
#endif

// The scratch buffer grows in steps of at least this many bytes.
#define SCRATCH_GRANULE (UINT64_C(1) << 20)

static kiln_string_view_t span_view(const kiln__plan_t* plan,
                                    kiln__plan_span_t span) {
  return kiln_make_string_view((const char*)plan->blob.data + span.offset,
                               (size_t)span.size);
}

static void format_layer(const kiln__plan_t* plan, uint32_t l, char* buffer,
                         size_t capacity) {
  const kiln__plan_layer_t* layer = &plan->layers[l];
  kiln_string_view_t name = span_view(plan, layer->name);
  kiln_string_view_t id = span_view(plan, layer->plugin_id);
  if (name.size) {
    snprintf(buffer, capacity, "layer %" PRIu32 " '%.*s' (plugin '%.*s')", l,
             KILN_SV_ARG(name), KILN_SV_ARG(id));
  } else {
    snprintf(buffer, capacity, "layer %" PRIu32 " (plugin '%.*s')", l,
             KILN_SV_ARG(id));
  }
}

// A name for tensor |t| in messages: its binding name, else "tensor N".
static void format_tensor(const kiln__plan_t* plan, uint32_t t, char* buffer,
                          size_t capacity) {
  const kiln__plan_tensor_t* tensor = &plan->tensors[t];
  if (tensor->name.size) {
    snprintf(buffer, capacity, "%s '%.*s'",
             tensor->kind == KILN__TENSOR_INPUT ? "input"
             : tensor->is_output                ? "output"
                                                : "tensor",
             KILN_SV_ARG(span_view(plan, tensor->name)));
  } else {
    snprintf(buffer, capacity, "tensor %" PRIu32, t);
  }
}

//===----------------------------------------------------------------------===//
// Bindings by name
//===----------------------------------------------------------------------===//

// Lists the names of bindings [first, end) into |buffer|.
static void list_names(const kiln_engine_t* engine, uint32_t first,
                       uint32_t end, char* buffer, size_t capacity) {
  size_t used = 0;
  buffer[0] = '\0';
  if (first >= end) {
    snprintf(buffer, capacity, "(none)");
    return;
  }
  for (uint32_t i = first; i < end; ++i) {
    const char* name = engine->io_names[i];
    size_t need = strlen(name) + 2;
    if (used + need + 4 >= capacity) {
      snprintf(buffer + used, capacity - used, "%s...", i > first ? ", " : "");
      return;
    }
    used += (size_t)snprintf(buffer + used, capacity - used, "%s%s",
                             i > first ? ", " : "", name);
  }
}

static kiln_status_t find_binding(const kiln_engine_t* engine, const char* name,
                                  bool inputs_only, uint32_t* out_index) {
  *out_index = 0;
  if (!name) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "the tensor name is NULL");
  }
  const kiln__plan_t* plan = engine->plan;
  for (uint32_t i = 0; i < engine->io_count; ++i) {
    if (strcmp(engine->io_names[i], name) != 0) continue;
    if (inputs_only && i >= plan->input_count) {
      return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                              "'%s' is an output of the engine; only inputs "
                              "take a shape",
                              name);
    }
    *out_index = i;
    return NULL;
  }
  char names[512];
  list_names(engine, 0, inputs_only ? plan->input_count : engine->io_count,
             names, sizeof(names));
  return kiln_make_status(KILN_STATUS_NOT_FOUND,
                          "the engine has no %s named '%s'; its %s: %s",
                          inputs_only ? "input" : "input or output", name,
                          inputs_only ? "inputs are" : "bindings are", names);
}

//===----------------------------------------------------------------------===//
// Creation
//===----------------------------------------------------------------------===//

static kiln_status_t arena_array(kiln_context_t* context, size_t count,
                                 size_t size, size_t alignment, void** out) {
  size_t bytes = 0;
  KILN_RETURN_IF_ERROR(kiln__size_mul(count, size, "context array", &bytes));
  return kiln__arena_alloc(&context->arena, bytes ? bytes : 1, alignment, out);
}

#define CONTEXT_ARRAY(context, count, type, lvalue)                   \
  do {                                                                \
    void* memory_ = NULL;                                             \
    KILN_RETURN_IF_ERROR(                                             \
        arena_array((context), (count), sizeof(type), 16, &memory_)); \
    (lvalue) = (type*)memory_;                                        \
  } while (0)

// Sets the shapes of inputs whose dimensions are all static and forgets
// the others.
static void reset_shapes(kiln_context_t* context) {
  const kiln__plan_t* plan = context->plan;
  const kiln_engine_t* engine = context->engine;
  for (uint32_t i = 0; i < plan->input_count; ++i) {
    const kiln__plan_tensor_t* tensor = &plan->tensors[engine->io_tensors[i]];
    kiln_dims_t* dims = &context->input_dims[i];
    memset(dims, 0, sizeof(*dims));
    dims->rank = tensor->rank;
    bool all_static = true;
    for (int32_t j = 0; j < tensor->rank; ++j) {
      int64_t value;
      if (kiln_sym_is_constant(plan->exprs[tensor->dims[j]], &value)) {
        dims->d[j] = value;
      } else {
        all_static = false;
      }
    }
    context->input_shape_set[i] = all_static;
  }
  context->shapes_changed = true;
  context->values_valid = false;
  context->ready = false;
  context->has_run = false;
}

static kiln_status_t context_init(kiln_context_t* context) {
  const kiln_engine_t* engine = context->engine;
  const kiln__plan_t* plan = context->plan;
  CONTEXT_ARRAY(context, plan->input_count, kiln_dims_t, context->input_dims);
  CONTEXT_ARRAY(context, plan->input_count, bool, context->input_shape_set);
  CONTEXT_ARRAY(context, plan->tensor_count, bool, context->is_bound);
  CONTEXT_ARRAY(context, plan->tensor_count, uint64_t, context->bound);
  CONTEXT_ARRAY(context, plan->tensor_count, uint64_t, context->addresses);
  CONTEXT_ARRAY(context, plan->tensor_count, kiln_dims_t, context->dims);
  CONTEXT_ARRAY(context, plan->tensor_count, uint64_t, context->max_bytes);
  CONTEXT_ARRAY(context, plan->tensor_count, int64_t, context->size_values);
  CONTEXT_ARRAY(context, plan->tensor_count, uint64_t, context->size_raw);
  CONTEXT_ARRAY(context, plan->expr_count, int64_t, context->values);
  CONTEXT_ARRAY(context, plan->layer_count, kiln__runtime_layer_t,
                context->layers);
  CONTEXT_ARRAY(context, plan->layer_count, kiln__runtime_launch_t,
                context->launches);
  uint32_t patch_count = 0;
  for (uint32_t l = 0; l < plan->layer_count; ++l) {
    const kiln__plan_layer_t* layer = &plan->layers[l];
    if (layer->kind != KILN__LAYER_AOT) continue;
    const kiln__plan_kernel_t* kernel = &plan->kernels[layer->kernel];
    for (uint32_t j = 0; j < kernel->params.count; ++j) {
      uint8_t kind = plan->params[kernel->params.first + j].kind;
      if (kind == KILN__PARAM_INPUT || kind == KILN__PARAM_OUTPUT) {
        ++patch_count;
      }
    }
  }
  CONTEXT_ARRAY(context, patch_count, kiln__runtime_patch_t, context->patches);
  for (uint32_t l = 0; l < plan->layer_count; ++l) {
    const kiln__plan_layer_t* layer = &plan->layers[l];
    kiln__runtime_layer_t* state = &context->layers[l];
    if (layer->kind == KILN__LAYER_HOST) {
      CONTEXT_ARRAY(context, (size_t)layer->inputs.count + layer->outputs.count,
                    kiln_device_tensor_t, state->host_tensors);
      continue;
    }
    const kiln__plan_kernel_t* kernel = &plan->kernels[layer->kernel];
    const kiln__runtime_kernel_t* rk = &engine->kernels[layer->kernel];
    CONTEXT_ARRAY(context, rk->param_bytes, uint8_t, state->storage);
    CONTEXT_ARRAY(context, kernel->params.count, void*, state->params);
    for (uint32_t j = 0; j < kernel->params.count; ++j) {
      const kiln__plan_param_t* p = &plan->params[kernel->params.first + j];
      uint8_t* slot = state->storage + rk->param_offsets[j];
      state->params[j] = slot;
      if (p->kind == KILN__PARAM_INPUT || p->kind == KILN__PARAM_OUTPUT) {
        const kiln__plan_range_t* list =
            p->kind == KILN__PARAM_INPUT ? &layer->inputs : &layer->outputs;
        kiln__runtime_patch_t* patch =
            &context->patches[context->patch_count++];
        patch->slot = slot;
        patch->tensor = plan->indices[list->first + p->index];
      }
    }
  }
  reset_shapes(context);
  context->addresses_changed = true;
  KILN_RETURN_IF_ERROR(kiln__context_graphs_init(context));
  if (plan->activation_bytes > 0) {
    kiln_device_t* device = context->device;
    KILN_RETURN_IF_ERROR(kiln__device_enter(device));
    if (plan->activation_bytes > SIZE_MAX) {
      return kiln_make_status(KILN_STATUS_OUT_OF_RANGE,
                              "the activation arena of %" PRIu64
                              " bytes does not fit in size_t",
                              plan->activation_bytes);
    }
    kiln_status_t status = KILN__DEVICE_CU(
        device,
        cuMemAlloc(&context->activations, (size_t)plan->activation_bytes));
    if (status) {
      return kiln_status_annotate(
          status, "allocating the activation arena of %" PRIu64 " bytes",
          plan->activation_bytes);
    }
  }
  return NULL;
}

void kiln_context_destroy(kiln_context_t* context) {
  if (!context) return;
  kiln_device_t* device = context->device;
  bool graphs = context->capture_stream != NULL;
  for (uint32_t i = 0; context->graphs && i < KILN__CONTEXT_GRAPH_CAPACITY;
       ++i) {
    graphs |= context->graphs[i].used;
  }
  if (device && (context->activations || context->scratch || graphs)) {
    // Failures cannot be reported here; on a lost device they are expected.
    (void)device->driver->cuCtxSetCurrent(device->cu_context);
    kiln__context_graphs_clear(context);
    if (context->activations) {
      (void)device->driver->cuMemFree(context->activations);
    }
    if (context->scratch) (void)device->driver->cuMemFree(context->scratch);
  }
  kiln__arena_deinit(&context->arena);
  kiln_engine_release(context->engine);
  kiln_allocator_free(context->allocator, context);
}

kiln_status_t kiln_context_create(kiln_engine_t* engine,
                                  kiln_allocator_t allocator,
                                  kiln_context_t** out_context) {
  if (!out_context) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "kiln_context_create: out_context is NULL");
  }
  *out_context = NULL;
  if (!engine) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "kiln_context_create: engine is NULL");
  }
  KILN_RETURN_IF_ERROR(kiln__device_check(engine->device));
  void* memory = NULL;
  KILN_RETURN_IF_ERROR(
      kiln_allocator_malloc(allocator, sizeof(kiln_context_t), &memory));
  kiln_context_t* context = (kiln_context_t*)memory;
  context->allocator = allocator;
  kiln_engine_retain(engine);
  context->engine = engine;
  context->device = engine->device;
  context->plan = engine->plan;
  kiln__arena_init(&context->arena, allocator);
  kiln_status_t status = context_init(context);
  if (status) {
    kiln_context_destroy(context);
    return status;
  }
  *out_context = context;
  return NULL;
}

uint64_t kiln__context_evaluation_count(const kiln_context_t* context) {
  return context ? context->evaluation_count : 0;
}

const uint8_t* kiln__context_layer_params(const kiln_context_t* context,
                                          uint32_t layer, size_t* out_size) {
  if (out_size) *out_size = 0;
  if (!context || layer >= context->plan->layer_count ||
      context->plan->layers[layer].kind != KILN__LAYER_AOT) {
    return NULL;
  }
  const kiln__runtime_kernel_t* rk =
      &context->engine->kernels[context->plan->layers[layer].kernel];
  if (out_size) *out_size = rk->param_bytes;
  return context->layers[layer].storage;
}

//===----------------------------------------------------------------------===//
// Shapes and addresses
//===----------------------------------------------------------------------===//

kiln_status_t kiln_context_set_profile(kiln_context_t* context,
                                       uint32_t profile) {
  if (!context) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "kiln_context_set_profile: context is NULL");
  }
  KILN_RETURN_IF_ERROR(kiln__device_check(context->device));
  uint32_t count = context->plan->profile_count;
  if (profile >= (count ? count : 1)) {
    return kiln_make_status(KILN_STATUS_OUT_OF_RANGE,
                            "profile %" PRIu32
                            " is out of range: the engine "
                            "has %" PRIu32 " profile%s",
                            profile, count, count == 1 ? "" : "s");
  }
  context->profile = profile;
  reset_shapes(context);
  return NULL;
}

kiln_status_t kiln_context_set_input_shape(kiln_context_t* context,
                                           const char* name, int32_t rank,
                                           const int64_t* dims) {
  if (!context || (rank > 0 && !dims)) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "kiln_context_set_input_shape: NULL context or "
                            "dims");
  }
  KILN_RETURN_IF_ERROR(kiln__device_check(context->device));
  const kiln_engine_t* engine = context->engine;
  const kiln__plan_t* plan = context->plan;
  uint32_t input = 0;
  KILN_RETURN_IF_ERROR(find_binding(engine, name, true, &input));
  const kiln__plan_tensor_t* tensor = &plan->tensors[engine->io_tensors[input]];
  if (rank != tensor->rank) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "input '%s' has rank %" PRId32 ", given %" PRId32,
                            name, tensor->rank, rank);
  }
  for (int32_t j = 0; j < rank; ++j) {
    int64_t value;
    if (kiln_sym_is_constant(plan->exprs[tensor->dims[j]], &value)) {
      if (dims[j] != value) {
        return kiln_make_status(
            KILN_STATUS_OUT_OF_RANGE,
            "input '%s' dimension %" PRId32 " is %" PRId64
            ", but the engine was built for exactly %" PRId64,
            name, j, dims[j], value);
      }
      continue;
    }
    kiln__plan_dim_range_t range =
        kiln__plan_dim_range(plan, context->profile, input, (uint32_t)j);
    if (dims[j] < range.min || dims[j] > range.max) {
      return kiln_make_status(
          KILN_STATUS_OUT_OF_RANGE,
          "input '%s' dimension %" PRId32 " is %" PRId64
          ", outside the range [%" PRId64 ", %" PRId64 "] of profile %" PRIu32,
          name, j, dims[j], range.min, range.max, context->profile);
    }
  }
  kiln_dims_t* current = &context->input_dims[input];
  bool same = context->input_shape_set[input];
  for (int32_t j = 0; same && j < rank; ++j) same = current->d[j] == dims[j];
  if (same) return NULL;
  for (int32_t j = 0; j < rank; ++j) current->d[j] = dims[j];
  context->input_shape_set[input] = true;
  context->shapes_changed = true;
  context->values_valid = false;
  context->ready = false;
  return NULL;
}

// Binds binding |index| to |address|; both setters of addresses use it.
static void bind_address(kiln_context_t* context, uint32_t index,
                         uint64_t address) {
  uint32_t t = context->engine->io_tensors[index];
  if (context->is_bound[t] && context->bound[t] == address) return;
  context->is_bound[t] = true;
  context->bound[t] = address;
  context->addresses_changed = true;
  context->ready = false;
}

kiln_status_t kiln_context_set_tensor_address(kiln_context_t* context,
                                              const char* name,
                                              uint64_t address) {
  if (!context) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "kiln_context_set_tensor_address: context is "
                            "NULL");
  }
  KILN_RETURN_IF_ERROR(kiln__device_check(context->device));
  uint32_t index = 0;
  KILN_RETURN_IF_ERROR(find_binding(context->engine, name, false, &index));
  bind_address(context, index, address);
  return NULL;
}

kiln_status_t kiln_context_set_tensor_addresses(kiln_context_t* context,
                                                uint32_t count,
                                                const uint64_t* addresses) {
  if (!context || (count && !addresses)) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "kiln_context_set_tensor_addresses: NULL context "
                            "or addresses");
  }
  KILN_RETURN_IF_ERROR(kiln__device_check(context->device));
  if (count > context->engine->io_count) {
    return kiln_make_status(KILN_STATUS_OUT_OF_RANGE,
                            "kiln_context_set_tensor_addresses: %" PRIu32
                            " addresses for an engine with %" PRIu32
                            " bindings",
                            count, context->engine->io_count);
  }
  for (uint32_t i = 0; i < count; ++i) {
    bind_address(context, i, addresses[i]);
  }
  return NULL;
}

// The bytes of data-dependent tensor |t| at the upper bounds of its
// dimensions for the current input shapes. Called with the engine's
// evaluation mutex held.
static kiln_status_t data_dependent_bytes(kiln_context_t* context, uint32_t t,
                                          uint64_t* out_bytes) {
  const kiln__plan_t* plan = context->plan;
  const kiln__plan_tensor_t* tensor = &plan->tensors[t];
  kiln__sym_bounds_env_t env = {context->input_dims, context->input_dims,
                                plan->input_count};
  uint64_t bytes = kiln_dtype_size((kiln_dtype_t)tensor->dtype);
  for (int32_t j = 0; j < tensor->rank; ++j) {
    kiln__sym_interval_t range;
    KILN_RETURN_IF_ERROR(kiln__sym_bounds(
        plan->sym, plan->exprs[tensor->dims[j]], &env, &range));
    uint64_t hi = range.hi > 0 ? (uint64_t)range.hi : 0;
    if (__builtin_mul_overflow(bytes, hi, &bytes)) {
      return kiln_make_status(KILN_STATUS_OUT_OF_RANGE,
                              "its size at the upper bound of dimension "
                              "%" PRId32 " overflows",
                              j);
    }
  }
  *out_bytes = bytes;
  return NULL;
}

// Evaluates every expression for the current input shapes and the
// dimensions of every tensor, unless that was done already. Expressions
// that use size tensors are left for kiln_context_read_output_shape; the
// dimensions they give are -1 and the tensors' sizes are their upper
// bounds.
static kiln_status_t evaluate(kiln_context_t* context) {
  if (context->values_valid) return NULL;
  kiln_engine_t* engine = context->engine;
  kiln__plan_t* plan = engine->plan;
  for (uint32_t i = 0; i < plan->input_count; ++i) {
    if (!context->input_shape_set[i]) {
      return kiln_make_status(KILN_STATUS_FAILED_PRECONDITION,
                              "input '%s' has no shape (call "
                              "kiln_context_set_input_shape)",
                              engine->io_names[i]);
    }
  }
  kiln_sym_env_t env;
  memset(&env, 0, sizeof(env));
  env.tensors = context->input_dims;
  env.tensor_count = plan->input_count;
  kiln_status_t status = NULL;
  char label[256];
  pthread_mutex_lock(&engine->eval_mutex);
  for (uint32_t e = 0; !status && e < plan->expr_count; ++e) {
    context->values[e] = 0;
    if (kiln__sym_uses_size_tensor(plan->exprs[e])) continue;
    status =
        kiln_sym_eval(plan->sym, plan->exprs[e], &env, &context->values[e]);
  }
  for (uint32_t t = 0; !status && t < plan->tensor_count; ++t) {
    if (!engine->data_dependent[t]) continue;
    status = data_dependent_bytes(context, t, &context->max_bytes[t]);
    if (status) {
      format_tensor(plan, t, label, sizeof(label));
      status = kiln_status_annotate(status, "data-dependent %s", label);
    }
  }
  pthread_mutex_unlock(&engine->eval_mutex);
  ++context->evaluation_count;
  if (status) {
    return kiln_status_annotate(status,
                                "evaluating the engine's expressions for the "
                                "current input shapes");
  }
  for (uint32_t t = 0; t < plan->tensor_count; ++t) {
    const kiln__plan_tensor_t* tensor = &plan->tensors[t];
    kiln_dims_t* dims = &context->dims[t];
    memset(dims, 0, sizeof(*dims));
    dims->rank = tensor->rank;
    bool data_dependent = engine->data_dependent[t] != 0;
    uint64_t numel = 1;
    bool overflow = false;
    for (int32_t j = 0; j < tensor->rank; ++j) {
      if (kiln__sym_uses_size_tensor(plan->exprs[tensor->dims[j]])) {
        dims->d[j] = -1;
        continue;
      }
      int64_t value = context->values[tensor->dims[j]];
      if (value < 0) {
        format_tensor(plan, t, label, sizeof(label));
        return kiln_make_status(KILN_STATUS_OUT_OF_RANGE,
                                "%s dimension %" PRId32 " evaluates to %" PRId64
                                " for the current input shapes",
                                label, j, value);
      }
      dims->d[j] = value;
      overflow |= __builtin_mul_overflow(numel, (uint64_t)value, &numel);
    }
    uint64_t bytes = context->max_bytes[t];
    if (!data_dependent) {
      overflow |= __builtin_mul_overflow(
          numel, (uint64_t)kiln_dtype_size((kiln_dtype_t)tensor->dtype),
          &bytes);
    }
    if (overflow) {
      format_tensor(plan, t, label, sizeof(label));
      return kiln_make_status(KILN_STATUS_OUT_OF_RANGE,
                              "%s size in bytes overflows for the current "
                              "input shapes",
                              label);
    }
    context->max_bytes[t] = bytes;
    if (tensor->arena_offset != UINT64_MAX && bytes > tensor->max_bytes) {
      format_tensor(plan, t, label, sizeof(label));
      return kiln_make_status(KILN_STATUS_OUT_OF_RANGE,
                              "%s takes %s%" PRIu64
                              " bytes for the current input shapes, but the "
                              "engine planned %" PRIu64 " bytes for it",
                              label, data_dependent ? "up to " : "", bytes,
                              tensor->max_bytes);
    }
  }
  context->values_valid = true;
  return NULL;
}

kiln_status_t kiln_context_get_shape(kiln_context_t* context, const char* name,
                                     int32_t* out_rank, int64_t* out_dims) {
  if (!context || !out_rank || !out_dims) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "kiln_context_get_shape: NULL context or output");
  }
  *out_rank = 0;
  KILN_RETURN_IF_ERROR(kiln__device_check(context->device));
  const kiln_engine_t* engine = context->engine;
  uint32_t index = 0;
  KILN_RETURN_IF_ERROR(find_binding(engine, name, false, &index));
  const kiln_dims_t* dims = NULL;
  if (index < context->plan->input_count) {
    if (!context->input_shape_set[index]) {
      return kiln_make_status(KILN_STATUS_FAILED_PRECONDITION,
                              "input '%s' has no shape (call "
                              "kiln_context_set_input_shape)",
                              name);
    }
    dims = &context->input_dims[index];
  } else {
    KILN_RETURN_IF_ERROR(evaluate(context));
    dims = &context->dims[engine->io_tensors[index]];
  }
  *out_rank = dims->rank;
  for (int32_t j = 0; j < dims->rank; ++j) out_dims[j] = dims->d[j];
  return NULL;
}

// Finds output |name| for the calls below: INVALID_ARGUMENT for an input.
static kiln_status_t find_output(const kiln_engine_t* engine, const char* name,
                                 const char* call, uint32_t* out_index) {
  KILN_RETURN_IF_ERROR(find_binding(engine, name, false, out_index));
  if (*out_index < engine->plan->input_count) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "%s: '%s' is an input of the engine, not an "
                            "output",
                            call, name);
  }
  return NULL;
}

kiln_status_t kiln_context_get_max_output_size(kiln_context_t* context,
                                               const char* name,
                                               uint64_t* out_bytes) {
  if (!context || !out_bytes) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "kiln_context_get_max_output_size: NULL context "
                            "or output");
  }
  *out_bytes = 0;
  KILN_RETURN_IF_ERROR(kiln__device_check(context->device));
  uint32_t index = 0;
  KILN_RETURN_IF_ERROR(find_output(context->engine, name,
                                   "kiln_context_get_max_output_size", &index));
  KILN_RETURN_IF_ERROR(evaluate(context));
  *out_bytes = context->max_bytes[context->engine->io_tensors[index]];
  return NULL;
}

// Converts the bytes copied from size tensor |t| to its value.
static int64_t size_tensor_value(const kiln_context_t* context, uint32_t t) {
  const kiln__plan_tensor_t* tensor = &context->plan->tensors[t];
  uint64_t raw = context->size_raw[t];
  if (tensor->dtype == KILN_DTYPE_INT32) {
    int32_t v;
    memcpy(&v, &raw, sizeof(v));  // the 4 bytes copied to the start
    return v;
  }
  int64_t v;
  memcpy(&v, &raw, sizeof(v));
  return v;
}

// Checks the value of size tensor placeholder |p| (in the shape of tensor
// |t|) against 0 and its upper bound for the current input shapes. Called
// with the engine's evaluation mutex held.
static kiln_status_t check_size_value(kiln_context_t* context, uint32_t t,
                                      kiln_sym_t p) {
  const kiln__plan_t* plan = context->plan;
  kiln_sym_info_t info = kiln_sym_get_info(p);
  int64_t value = context->size_values[info.index];
  kiln_sym_env_t env;
  memset(&env, 0, sizeof(env));
  env.tensors = context->input_dims;
  env.tensor_count = plan->input_count;
  int64_t upper = 0;
  KILN_RETURN_IF_ERROR(kiln_sym_eval(plan->sym, info.b, &env, &upper));
  if (value >= 0 && value <= upper) return NULL;
  char layer[256], size_tensor[256], output[256];
  format_layer(plan, plan->tensors[info.index].producer, layer, sizeof(layer));
  format_tensor(plan, info.index, size_tensor, sizeof(size_tensor));
  format_tensor(plan, t, output, sizeof(output));
  return kiln_make_status(
      KILN_STATUS_OUT_OF_RANGE,
      "%s wrote %" PRId64 " to size tensor %s, %s its upper bound %" PRId64
      " for the current input shapes; the shape of %s is unknown (its memory "
      "holds at most the bound's worth of elements)",
      layer, value, size_tensor,
      value < 0 ? "below 0 (the bound is 0 to" : "above", upper, output);
}

kiln_status_t kiln_context_read_output_shape(kiln_context_t* context,
                                             const char* name, void* stream,
                                             int32_t* out_rank,
                                             int64_t* out_dims) {
  if (!context || !out_rank || !out_dims) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "kiln_context_read_output_shape: NULL context or "
                            "output");
  }
  *out_rank = 0;
  kiln_device_t* device = context->device;
  KILN_RETURN_IF_ERROR(kiln__device_check(device));
  kiln_engine_t* engine = context->engine;
  const kiln__plan_t* plan = context->plan;
  uint32_t index = 0;
  KILN_RETURN_IF_ERROR(
      find_output(engine, name, "kiln_context_read_output_shape", &index));
  uint32_t t = engine->io_tensors[index];
  if (!engine->data_dependent[t]) {
    return kiln_context_get_shape(context, name, out_rank, out_dims);
  }
  if (!context->has_run || !context->ready) {
    return kiln_make_status(KILN_STATUS_FAILED_PRECONDITION,
                            "output '%s' has a data-dependent shape, known "
                            "only after an enqueue: call kiln_context_enqueue "
                            "after the last change of input shapes or tensor "
                            "addresses",
                            name);
  }
  // Copy each size tensor once, on the enqueue's stream, then wait.
  const kiln_sym_t* placeholders =
      engine->placeholders + engine->io_placeholder_first[index];
  uint32_t count = engine->io_placeholder_count[index];
  KILN_RETURN_IF_ERROR(kiln__device_enter(device));
  kiln__cu_stream_t cu_stream = (kiln__cu_stream_t)stream;
  for (uint32_t k = 0; k < count; ++k) {
    uint32_t st = kiln_sym_get_info(placeholders[k]).index;
    bool copied = false;
    for (uint32_t m = 0; m < k && !copied; ++m) {
      copied = kiln_sym_get_info(placeholders[m]).index == st;
    }
    if (copied) continue;
    context->size_raw[st] = 0;
    size_t bytes = kiln_dtype_size((kiln_dtype_t)plan->tensors[st].dtype);
    kiln_status_t status = KILN__DEVICE_CU(
        device, cuMemcpyDtoHAsync(&context->size_raw[st],
                                  context->addresses[st], bytes, cu_stream));
    if (status) {
      char label[256];
      format_tensor(plan, st, label, sizeof(label));
      return kiln_status_annotate(status, "reading size tensor %s", label);
    }
  }
  kiln_status_t status =
      KILN__DEVICE_CU(device, cuStreamSynchronize(cu_stream));
  if (status) {
    return kiln_status_annotate(status,
                                "waiting for the enqueue that computes the "
                                "shape of output '%s'",
                                name);
  }
  for (uint32_t k = 0; k < count; ++k) {
    uint32_t st = kiln_sym_get_info(placeholders[k]).index;
    context->size_values[st] = size_tensor_value(context, st);
  }
  // Check the values, then evaluate the shape.
  const kiln__plan_tensor_t* tensor = &plan->tensors[t];
  kiln_sym_env_t env;
  memset(&env, 0, sizeof(env));
  env.tensors = context->input_dims;
  env.tensor_count = plan->input_count;
  env.size_tensor_values = context->size_values;
  env.size_tensor_count = plan->tensor_count;
  kiln_dims_t dims;
  memset(&dims, 0, sizeof(dims));
  dims.rank = tensor->rank;
  pthread_mutex_lock(&engine->eval_mutex);
  for (uint32_t k = 0; !status && k < count; ++k) {
    status = check_size_value(context, t, placeholders[k]);
  }
  for (int32_t j = 0; !status && j < tensor->rank; ++j) {
    status = kiln_sym_eval(plan->sym, plan->exprs[tensor->dims[j]], &env,
                           &dims.d[j]);
  }
  pthread_mutex_unlock(&engine->eval_mutex);
  KILN_RETURN_IF_ERROR(status);
  uint64_t bytes = kiln_dtype_size((kiln_dtype_t)tensor->dtype);
  bool overflow = false;
  for (int32_t j = 0; j < tensor->rank; ++j) {
    if (dims.d[j] < 0) {
      return kiln_make_status(KILN_STATUS_OUT_OF_RANGE,
                              "output '%s' dimension %" PRId32
                              " evaluates to %" PRId64
                              " for the values its size tensors hold",
                              name, j, dims.d[j]);
    }
    overflow |= __builtin_mul_overflow(bytes, (uint64_t)dims.d[j], &bytes);
  }
  if (KILN_NEVER(overflow || bytes > context->max_bytes[t])) {
    return kiln_make_status(KILN_STATUS_INTERNAL,
                            "output '%s' takes more bytes than its upper "
                            "bound (%" PRIu64 ")",
                            name, context->max_bytes[t]);
  }
  *out_rank = dims.rank;
  for (int32_t j = 0; j < dims.rank; ++j) out_dims[j] = dims.d[j];
  return NULL;
}

//===----------------------------------------------------------------------===//
// Preparing launches
//===----------------------------------------------------------------------===//

static uint64_t align_up(uint64_t value, uint64_t alignment) {
  return (value + alignment - 1) / alignment * alignment;
}

// The bytes of one Triton scratch region: grid * num_ctas * per_cta.
static kiln_status_t scratch_bytes(const unsigned int grid[3],
                                   uint32_t num_ctas, uint64_t per_cta,
                                   const char* label, const char* which,
                                   uint64_t* out_bytes) {
  uint64_t bytes = per_cta;
  bool overflow = __builtin_mul_overflow(bytes, (uint64_t)grid[0], &bytes);
  overflow |= __builtin_mul_overflow(bytes, (uint64_t)grid[1], &bytes);
  overflow |= __builtin_mul_overflow(bytes, (uint64_t)grid[2], &bytes);
  overflow |= __builtin_mul_overflow(bytes, (uint64_t)num_ctas, &bytes);
  if (overflow || bytes > (UINT64_C(1) << 62)) {
    return kiln_make_status(KILN_STATUS_OUT_OF_RANGE,
                            "%s: its %s scratch (%" PRIu64
                            " bytes per CTA) overflows for grid (%u, %u, %u)",
                            label, which, per_cta, grid[0], grid[1], grid[2]);
  }
  *out_bytes = bytes;
  return NULL;
}

// Checks and fills the launch of AOT layer |l|. |*out_skip| is set when the
// grid is empty. |*out_scratch| receives the scratch bytes it needs.
static kiln_status_t prepare_layer(kiln_context_t* context, uint32_t l,
                                   kiln__runtime_launch_t* launch,
                                   bool* out_skip, uint64_t* out_scratch) {
  const kiln_engine_t* engine = context->engine;
  const kiln__plan_t* plan = context->plan;
  const kiln__plan_layer_t* layer = &plan->layers[l];
  const kiln__plan_kernel_t* kernel = &plan->kernels[layer->kernel];
  const kiln__runtime_kernel_t* rk = &engine->kernels[layer->kernel];
  const kiln__cuda_device_info_t* info = &context->device->info;
  kiln__runtime_layer_t* state = &context->layers[l];
  const int64_t* values = context->values;
  char label[256];
  *out_skip = false;
  *out_scratch = 0;

  static const char axes[3] = {'x', 'y', 'z'};
  static const int64_t grid_caps[3] = {INT32_MAX, 65535, 65535};
  int64_t grid[3], block[3];
  bool empty = false;
  for (int d = 0; d < 3; ++d) {
    grid[d] = values[layer->grid[d]];
    block[d] = values[layer->block[d]];
    if (grid[d] < 0) {
      format_layer(plan, l, label, sizeof(label));
      return kiln_make_status(KILN_STATUS_OUT_OF_RANGE,
                              "%s: grid %c is %" PRId64, label, axes[d],
                              grid[d]);
    }
    if (grid[d] == 0) empty = true;
  }
  if (empty) {
    *out_skip = true;
    return NULL;
  }
  int64_t threads = 1;
  for (int d = 0; d < 3; ++d) {
    int64_t grid_cap = grid_caps[d] < info->max_grid_dim[d]
                           ? grid_caps[d]
                           : info->max_grid_dim[d];
    if (grid[d] > grid_cap) {
      format_layer(plan, l, label, sizeof(label));
      return kiln_make_status(KILN_STATUS_OUT_OF_RANGE,
                              "%s: grid %c is %" PRId64
                              "; the device allows at most %" PRId64,
                              label, axes[d], grid[d], grid_cap);
    }
    if (block[d] < 1 || block[d] > info->max_block_dim[d]) {
      format_layer(plan, l, label, sizeof(label));
      return kiln_make_status(KILN_STATUS_OUT_OF_RANGE,
                              "%s: block %c is %" PRId64
                              "; the device allows 1..%" PRId32,
                              label, axes[d], block[d], info->max_block_dim[d]);
    }
    threads *= block[d];  // at most 1024^3: no overflow
  }
  int64_t max_threads = rk->max_threads_per_block;
  if (info->max_threads_per_block < max_threads) {
    max_threads = info->max_threads_per_block;
  }
  if (threads > max_threads) {
    format_layer(plan, l, label, sizeof(label));
    return kiln_make_status(
        KILN_STATUS_OUT_OF_RANGE,
        "%s: block (%" PRId64 ", %" PRId64 ", %" PRId64 ") has %" PRId64
        " threads; kernel '%.*s' allows at most %" PRId64
        " per block on this device",
        label, block[0], block[1], block[2], threads,
        KILN_SV_ARG(span_view(plan, kernel->name)), max_threads);
  }
  int64_t shared = values[layer->shared_mem];
  if (shared < 0 || shared > rk->max_dynamic_shared_bytes) {
    format_layer(plan, l, label, sizeof(label));
    return kiln_make_status(
        KILN_STATUS_OUT_OF_RANGE,
        "%s: %" PRId64
        " bytes of dynamic shared memory; kernel '%.*s' may "
        "use 0..%" PRId32 " on this device (it has %" PRId32 " static)",
        label, shared, KILN_SV_ARG(span_view(plan, kernel->name)),
        rk->max_dynamic_shared_bytes, rk->static_shared_bytes);
  }
  for (int d = 0; d < 3; ++d) {
    launch->grid[d] = (unsigned int)grid[d];
    launch->block[d] = (unsigned int)block[d];
  }
  launch->shared_bytes = (unsigned int)shared;
  launch->function = rk->function;
  launch->params = state->params;
  launch->layer = l;

  // Scalar arguments.
  for (uint32_t j = 0; j < kernel->params.count; ++j) {
    const kiln__plan_param_t* p = &plan->params[kernel->params.first + j];
    if (p->kind != KILN__PARAM_ARG) continue;
    const kiln__plan_arg_t* arg = &plan->args[layer->args.first + p->index];
    uint8_t* slot = state->storage + rk->param_offsets[j];
    if (arg->type == KILN_ARG_TYPE_FLOAT32) {
      memcpy(slot, &arg->f32, sizeof(float));
    } else if (arg->type == KILN_ARG_TYPE_INT64) {
      memcpy(slot, &values[arg->expr], sizeof(int64_t));
    } else {
      int64_t value = values[arg->expr];
      if (value < INT32_MIN || value > INT32_MAX) {
        format_layer(plan, l, label, sizeof(label));
        return kiln_make_status(KILN_STATUS_OUT_OF_RANGE,
                                "%s: argument %" PRIu32 " is %" PRId64
                                ", which does not fit its int32 parameter",
                                label, p->index, value);
      }
      int32_t narrow = (int32_t)value;
      memcpy(slot, &narrow, sizeof(narrow));
    }
  }

  // Triton scratch: global then profile, each aligned, from one buffer.
  state->global_scratch_bytes = 0;
  state->profile_scratch_bytes = 0;
  if (kernel->global_scratch_size || kernel->profile_scratch_size) {
    format_layer(plan, l, label, sizeof(label));
    uint64_t need = 0;
    if (kernel->global_scratch_size) {
      KILN_RETURN_IF_ERROR(scratch_bytes(
          launch->grid, kernel->num_ctas, kernel->global_scratch_size, label,
          "global", &state->global_scratch_bytes));
      need += state->global_scratch_bytes + kernel->global_scratch_align;
    }
    if (kernel->profile_scratch_size) {
      KILN_RETURN_IF_ERROR(scratch_bytes(
          launch->grid, kernel->num_ctas, kernel->profile_scratch_size, label,
          "profile", &state->profile_scratch_bytes));
      need += state->profile_scratch_bytes + kernel->profile_scratch_align;
    }
    *out_scratch = need;  // each term is at most 2^62 + 2^32: no overflow
  }
  return NULL;
}

// Writes the scratch pointers of AOT layer |l| for the scratch buffer.
static void place_scratch(kiln_context_t* context, uint32_t l) {
  const kiln__plan_t* plan = context->plan;
  const kiln__plan_layer_t* layer = &plan->layers[l];
  const kiln__plan_kernel_t* kernel = &plan->kernels[layer->kernel];
  const kiln__runtime_kernel_t* rk = &context->engine->kernels[layer->kernel];
  kiln__runtime_layer_t* state = &context->layers[l];
  uint64_t global = 0, profile = 0;
  uint64_t next = context->scratch;
  if (kernel->global_scratch_size) {
    global = align_up(next, kernel->global_scratch_align);
    next = global + state->global_scratch_bytes;
  }
  if (kernel->profile_scratch_size) {
    profile = align_up(next, kernel->profile_scratch_align);
  }
  for (uint32_t j = 0; j < kernel->params.count; ++j) {
    const kiln__plan_param_t* p = &plan->params[kernel->params.first + j];
    uint8_t* slot = state->storage + rk->param_offsets[j];
    if (p->kind == KILN__PARAM_GLOBAL_SCRATCH) {
      memcpy(slot, &global, sizeof(global));
    } else if (p->kind == KILN__PARAM_PROFILE_SCRATCH) {
      memcpy(slot, &profile, sizeof(profile));
    }
  }
}

// Grows the scratch buffer to at least |need| bytes.
static kiln_status_t grow_scratch(kiln_context_t* context, uint64_t need) {
  if (need <= context->scratch_capacity) return NULL;
  kiln_device_t* device = context->device;
  uint64_t capacity = align_up(need, SCRATCH_GRANULE);
  if (capacity > SIZE_MAX) {
    return kiln_make_status(
        KILN_STATUS_OUT_OF_RANGE,
        "Triton scratch of %" PRIu64 " bytes does not fit in size_t", need);
  }
  KILN_RETURN_IF_ERROR(kiln__device_enter(device));
  if (context->scratch) {
    // Earlier enqueues may still use the old buffer.
    KILN_RETURN_IF_ERROR(KILN__DEVICE_CU(device, cuCtxSynchronize()));
    KILN_RETURN_IF_ERROR(KILN__DEVICE_CU(device, cuMemFree(context->scratch)));
    context->scratch = 0;
    context->scratch_capacity = 0;
  }
  kiln__cu_deviceptr_t scratch = 0;
  kiln_status_t status =
      KILN__DEVICE_CU(device, cuMemAlloc(&scratch, (size_t)capacity));
  if (status) {
    return kiln_status_annotate(
        status, "allocating %" PRIu64 " bytes of Triton scratch memory",
        capacity);
  }
  context->scratch = scratch;
  context->scratch_capacity = capacity;
  return NULL;
}

// Fills the host-implementation tensors' shapes of layer |l|.
static kiln_status_t prepare_host_layer(kiln_context_t* context, uint32_t l) {
  const kiln__plan_t* plan = context->plan;
  const kiln__plan_layer_t* layer = &plan->layers[l];
  kiln_device_tensor_t* tensors = context->layers[l].host_tensors;
  uint32_t count = layer->inputs.count + layer->outputs.count;
  for (uint32_t k = 0; k < count; ++k) {
    uint32_t t =
        k < layer->inputs.count
            ? plan->indices[layer->inputs.first + k]
            : plan->indices[layer->outputs.first + k - layer->inputs.count];
    const kiln__plan_tensor_t* tensor = &plan->tensors[t];
    const kiln_dims_t* dims = &context->dims[t];
    kiln_device_tensor_t* view = &tensors[k];
    view->dtype = (kiln_dtype_t)tensor->dtype;
    view->format = (kiln_format_t)tensor->format;
    view->rank = dims->rank;
    int64_t stride = 1;
    for (int32_t j = dims->rank - 1; j >= 0; --j) {
      view->dims[j] = dims->d[j];  // -1 where data-dependent
      view->strides[j] = stride;
      // evaluate() checked that the element count fits.
      stride *= dims->d[j] > 0 ? dims->d[j] : 1;
    }
  }
  return NULL;
}

static kiln_status_t prepare_launches(kiln_context_t* context) {
  const kiln__plan_t* plan = context->plan;
  uint64_t scratch_need = 0;
  uint32_t count = 0;
  for (uint32_t l = 0; l < plan->layer_count; ++l) {
    kiln__runtime_launch_t* launch = &context->launches[count];
    if (plan->layers[l].kind == KILN__LAYER_HOST) {
      KILN_RETURN_IF_ERROR(prepare_host_layer(context, l));
      memset(launch, 0, sizeof(*launch));
      launch->layer = l;
      ++count;
      continue;
    }
    bool skip = false;
    uint64_t need = 0;
    KILN_RETURN_IF_ERROR(prepare_layer(context, l, launch, &skip, &need));
    if (skip) continue;
    if (need > scratch_need) scratch_need = need;
    ++count;
  }
  KILN_RETURN_IF_ERROR(grow_scratch(context, scratch_need));
  for (uint32_t i = 0; i < count; ++i) {
    if (context->launches[i].function) {
      place_scratch(context, context->launches[i].layer);
    }
  }
  context->launch_count = count;
  return NULL;
}

// Names the bindings without an address, or NULL when all have one.
static kiln_status_t check_bound(const kiln_context_t* context) {
  const kiln_engine_t* engine = context->engine;
  const kiln__plan_t* plan = context->plan;
  char missing[512];
  size_t used = 0;
  uint32_t count = 0;
  bool truncated = false;
  missing[0] = '\0';
  for (uint32_t i = 0; i < engine->io_count; ++i) {
    uint32_t t = engine->io_tensors[i];
    const kiln__plan_tensor_t* tensor = &plan->tensors[t];
    if (context->is_bound[t] || tensor->alias_of != KILN__NONE) continue;
    const char* name = engine->io_names[i];
    if (!truncated && used + strlen(name) + 16 < sizeof(missing)) {
      used += (size_t)snprintf(missing + used, sizeof(missing) - used, "%s'%s'",
                               count ? ", " : "", name);
    } else if (!truncated) {
      truncated = true;
      used += (size_t)snprintf(missing + used, sizeof(missing) - used, ", ...");
    }
    ++count;
  }
  if (count == 0) return NULL;
  return kiln_make_status(KILN_STATUS_FAILED_PRECONDITION,
                          "%s %s no device address (call "
                          "kiln_context_set_tensor_address)",
                          missing, count == 1 ? "has" : "have");
}

// Resolves every tensor's address and patches the pointer parameters.
static kiln_status_t refresh_addresses(kiln_context_t* context) {
  KILN_RETURN_IF_ERROR(check_bound(context));
  const kiln_engine_t* engine = context->engine;
  const kiln__plan_t* plan = context->plan;
  uint64_t* addresses = context->addresses;
  for (uint32_t t = 0; t < plan->tensor_count; ++t) {
    const kiln__plan_tensor_t* tensor = &plan->tensors[t];
    if (tensor->kind == KILN__TENSOR_INPUT) {
      addresses[t] = context->bound[t];
    } else if (tensor->kind == KILN__TENSOR_CONSTANT) {
      addresses[t] =
          engine->constant_memory + engine->constant_offsets[tensor->constant];
    }
  }
  // Activations in layer order, so that an alias's input is resolved first.
  for (uint32_t l = 0; l < plan->layer_count; ++l) {
    const kiln__plan_layer_t* layer = &plan->layers[l];
    for (uint32_t k = 0; k < layer->outputs.count; ++k) {
      uint32_t t = plan->indices[layer->outputs.first + k];
      const kiln__plan_tensor_t* tensor = &plan->tensors[t];
      if (tensor->alias_of != KILN__NONE) {
        addresses[t] = addresses[tensor->alias_of];
        if (context->is_bound[t] && context->bound[t] != addresses[t]) {
          char label[256], target[256];
          format_tensor(plan, t, label, sizeof(label));
          format_tensor(plan, tensor->alias_of, target, sizeof(target));
          return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                                  "%s aliases %s, so it lives at 0x%" PRIx64
                                  ", but it was given the address 0x%" PRIx64,
                                  label, target, addresses[t],
                                  context->bound[t]);
        }
      } else if (tensor->is_output) {
        addresses[t] = context->bound[t];
      } else {
        addresses[t] = context->activations + tensor->arena_offset;
      }
    }
  }
  for (uint32_t i = 0; i < context->patch_count; ++i) {
    const kiln__runtime_patch_t* patch = &context->patches[i];
    memcpy(patch->slot, &addresses[patch->tensor], sizeof(uint64_t));
  }
  for (uint32_t l = 0; l < plan->layer_count; ++l) {
    const kiln__plan_layer_t* layer = &plan->layers[l];
    if (layer->kind != KILN__LAYER_HOST) continue;
    kiln_device_tensor_t* tensors = context->layers[l].host_tensors;
    for (uint32_t k = 0; k < layer->inputs.count; ++k) {
      tensors[k].data =
          (void*)(uintptr_t)addresses[plan->indices[layer->inputs.first + k]];
    }
    for (uint32_t k = 0; k < layer->outputs.count; ++k) {
      tensors[layer->inputs.count + k].data =
          (void*)(uintptr_t)addresses[plan->indices[layer->outputs.first + k]];
    }
  }
  return NULL;
}

// The slow path of enqueue: whatever changed since the last one.
static NOINLINE kiln_status_t context_prepare(kiln_context_t* context) {
  context->graph = NULL;     // looked up again for the new state
  context->has_run = false;  // size tensors hold another enqueue's values
  if (context->shapes_changed) {
    KILN_RETURN_IF_ERROR(evaluate(context));
    // Addresses are checked before launches so that a missing one is named
    // even when a launch would not fit.
    KILN_RETURN_IF_ERROR(check_bound(context));
    KILN_RETURN_IF_ERROR(prepare_launches(context));
    context->shapes_changed = false;
    context->addresses_changed = true;
  }
  if (context->addresses_changed) {
    KILN_RETURN_IF_ERROR(refresh_addresses(context));
    context->addresses_changed = false;
  }
  context->ready = true;
  return NULL;
}

//===----------------------------------------------------------------------===//
// Enqueue
//===----------------------------------------------------------------------===//

static NOINLINE kiln_status_t
launch_failed(kiln_context_t* context, const kiln__runtime_launch_t* launch,
              kiln__cu_result_t result) {
  char label[256];
  format_layer(context->plan, launch->layer, label, sizeof(label));
  kiln_status_t status = kiln__device_result(
      context->device, result, "cuLaunchKernel", __FILE__, __LINE__);
  return kiln_status_annotate(
      status,
      "%s: launching grid (%u, %u, %u), block (%u, %u, %u), %u bytes "
      "of dynamic shared memory",
      label, launch->grid[0], launch->grid[1], launch->grid[2],
      launch->block[0], launch->block[1], launch->block[2],
      launch->shared_bytes);
}

static NOINLINE kiln_status_t run_host_layer(kiln_context_t* context,
                                             uint32_t l, void* stream) {
  const kiln__plan_t* plan = context->plan;
  const kiln__plan_layer_t* layer = &plan->layers[l];
  const kiln__runtime_host_layer_t* host = &context->engine->host_layers[l];
  const kiln_plugin_def_t* def = kiln_plugin_definition(host->plugin);
  kiln_host_impl_args_t args;
  memset(&args, 0, sizeof(args));
  args.plugin = host->plugin;
  args.inputs = context->layers[l].host_tensors;
  args.input_count = layer->inputs.count;
  args.outputs = context->layers[l].host_tensors + layer->inputs.count;
  args.output_count = layer->outputs.count;
  args.attrs = &host->view;
  args.stream = stream;
  args.tactic = layer->tactic;
  kiln_status_t status = def->host_impl(def->user_data, &args);
  if (status) {
    char label[256];
    format_layer(plan, l, label, sizeof(label));
    status = kiln_status_annotate(status, "%s: host_impl", label);
    kiln__device_note_status(context->device, status);
    return status;
  }
  // The plugin may have used another context; launches need the device's.
  return KILN__DEVICE_CU(context->device,
                         cuCtxSetCurrent(context->device->cu_context));
}

kiln_status_t kiln_context_enqueue(kiln_context_t* context, void* stream) {
  if (UNLIKELY(!context)) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "kiln_context_enqueue: context is NULL");
  }
  kiln_device_t* device = context->device;
  if (UNLIKELY(kiln__device_is_lost(device))) {
    return kiln__device_check(device);
  }
  if (UNLIKELY(!context->ready)) {
    KILN_RETURN_IF_ERROR(context_prepare(context));
  }
  const kiln__cuda_driver_t* driver = device->driver;
  kiln__cu_result_t result = driver->cuCtxSetCurrent(device->cu_context);
  if (UNLIKELY(result != KILN_CUDA_SUCCESS)) {
    return kiln__device_result(device, result, "cuCtxSetCurrent", __FILE__,
                               __LINE__);
  }
  kiln__cu_stream_t cu_stream = (kiln__cu_stream_t)stream;
  if (context->graphs_on) {
    bool launched = false;
    KILN_RETURN_IF_ERROR(
        kiln__context_graph_enqueue(context, cu_stream, &launched));
    if (launched) {
      context->has_run = true;
      return NULL;
    }
  }
  const kiln__runtime_launch_t* launch = context->launches;
  const kiln__runtime_launch_t* end = launch + context->launch_count;
  for (; launch != end; ++launch) {
    if (UNLIKELY(!launch->function)) {
      KILN_RETURN_IF_ERROR(run_host_layer(context, launch->layer, stream));
      continue;
    }
    result = driver->cuLaunchKernel(
        launch->function, launch->grid[0], launch->grid[1], launch->grid[2],
        launch->block[0], launch->block[1], launch->block[2],
        launch->shared_bytes, cu_stream, launch->params, NULL);
    if (UNLIKELY(result != KILN_CUDA_SUCCESS)) {
      return launch_failed(context, launch, result);
    }
  }
  context->has_run = true;
  return NULL;
}
