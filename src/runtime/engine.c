// Loading an engine: the verified plan, the kernel image chosen for the
// device, modules and functions, constants in device memory, and the
// plugins and attributes of host-implementation layers.

#include "engine/engine.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "base/log.h"
#include "base/size.h"
#include "cuda/cubin.h"
#include "cuda/ptx.h"
#include "runtime/runtime.h"
#include "sym/sym.h"

// Constants are placed at multiples of this in their device allocation.
#define CONSTANT_ALIGNMENT 256

static kiln_string_view_t span_view(const kiln__plan_t* plan,
                                    kiln__plan_span_t span) {
  return kiln_make_string_view((const char*)plan->blob.data + span.offset,
                               (size_t)span.size);
}

static kiln_const_bytes_t span_bytes(const kiln__plan_t* plan,
                                     kiln__plan_span_t span) {
  kiln_const_bytes_t bytes = {plan->blob.data + span.offset, (size_t)span.size};
  return bytes;
}

static kiln_status_t arena_array(kiln_engine_t* engine, size_t count,
                                 size_t size, void** out) {
  size_t bytes = 0;
  KILN_RETURN_IF_ERROR(kiln__size_mul(count, size, "engine array", &bytes));
  return kiln__arena_alloc(&engine->arena, bytes ? bytes : 1, 8, out);
}

//===----------------------------------------------------------------------===//
// Lifetime
//===----------------------------------------------------------------------===//

static void engine_destroy(void* self) {
  kiln_engine_t* engine = (kiln_engine_t*)self;
  kiln_device_t* device = engine->device;
  const kiln__plan_t* plan = engine->plan;
  bool has_device_state = engine->constant_memory != 0;
  for (uint32_t k = 0; plan && engine->kernels && k < plan->kernel_count; ++k) {
    if (engine->kernels[k].module) has_device_state = true;
  }
  if (device && has_device_state) {
    // Failures cannot be reported here; on a lost device they are expected.
    (void)device->driver->cuCtxSetCurrent(device->cu_context);
    for (uint32_t k = 0; engine->kernels && k < plan->kernel_count; ++k) {
      if (engine->kernels[k].module) {
        (void)device->driver->cuModuleUnload(engine->kernels[k].module);
      }
    }
    if (engine->constant_memory) {
      (void)device->driver->cuMemFree(engine->constant_memory);
    }
  }
  if (plan && engine->host_layers) {
    for (uint32_t l = 0; l < plan->layer_count; ++l) {
      kiln_attrs_destroy(engine->host_layers[l].attrs);
    }
  }
  kiln__plan_destroy(engine->plan);
  kiln_allocator_free(engine->allocator, engine->bytes);
  kiln__arena_deinit(&engine->arena);
  if (engine->eval_mutex_ready) pthread_mutex_destroy(&engine->eval_mutex);
  kiln_registry_release(engine->registry);
  kiln_device_release(engine->device);
  kiln_allocator_free(engine->allocator, engine);
}

static const kiln__ref_vtable_t engine_vtable = {engine_destroy};

KILN__DEFINE_RETAIN_RELEASE(engine)

//===----------------------------------------------------------------------===//
// Bindings
//===----------------------------------------------------------------------===//

static kiln_status_t build_bindings(kiln_engine_t* engine) {
  const kiln__plan_t* plan = engine->plan;
  engine->io_count = plan->input_count + plan->output_count;
  void* memory = NULL;
  KILN_RETURN_IF_ERROR(
      arena_array(engine, engine->io_count, sizeof(uint32_t), &memory));
  engine->io_tensors = (uint32_t*)memory;
  KILN_RETURN_IF_ERROR(
      arena_array(engine, engine->io_count, sizeof(char*), &memory));
  engine->io_names = (char**)memory;
  uint32_t outputs = 0;
  for (uint32_t t = 0; t < plan->tensor_count; ++t) {
    const kiln__plan_tensor_t* tensor = &plan->tensors[t];
    uint32_t io;
    if (tensor->kind == KILN__TENSOR_INPUT) {
      io = tensor->input_ordinal;
    } else if (tensor->is_output) {
      io = plan->input_count + outputs++;
    } else {
      continue;
    }
    if (KILN_NEVER(io >= engine->io_count)) {
      return kiln_make_status(KILN_STATUS_INTERNAL,
                              "binding %" PRIu32 " out of range", io);
    }
    engine->io_tensors[io] = t;
    KILN_RETURN_IF_ERROR(kiln__arena_alloc(
        &engine->arena, (size_t)tensor->name.size + 1, 1, &memory));
    memcpy(memory, plan->blob.data + tensor->name.offset,
           (size_t)tensor->name.size);
    engine->io_names[io] = (char*)memory;
  }
  return NULL;
}

// Counts size tensor placeholders, or stores them when |items| is set.
typedef struct placeholder_sink_t {
  kiln_sym_t* items;
  uint32_t count;
} placeholder_sink_t;

static kiln_status_t sink_placeholder(void* user_data, kiln_sym_t placeholder) {
  placeholder_sink_t* sink = (placeholder_sink_t*)user_data;
  if (sink->items) sink->items[sink->count] = placeholder;
  ++sink->count;
  return NULL;
}

// Visits the placeholders in the shape of tensor |t| with |sink|.
static kiln_status_t visit_shape(const kiln__plan_t* plan, uint32_t t,
                                 placeholder_sink_t* sink) {
  const kiln__plan_tensor_t* tensor = &plan->tensors[t];
  kiln_sym_t roots[KILN_MAX_RANK];
  for (int32_t j = 0; j < tensor->rank; ++j) {
    roots[j] = plan->exprs[tensor->dims[j]];
  }
  return kiln__sym_visit_size_tensors(plan->sym, roots, (size_t)tensor->rank,
                                      sink_placeholder, sink);
}

// Finds the data-dependent tensors and, for each output binding, the
// distinct size tensor placeholders its shape uses (what
// kiln_context_read_output_shape reads and checks).
static kiln_status_t build_data_dependent(kiln_engine_t* engine) {
  const kiln__plan_t* plan = engine->plan;
  void* memory = NULL;
  KILN_RETURN_IF_ERROR(
      arena_array(engine, plan->tensor_count, sizeof(uint8_t), &memory));
  engine->data_dependent = (uint8_t*)memory;
  memset(engine->data_dependent, 0,
         plan->tensor_count ? plan->tensor_count : 1);
  KILN_RETURN_IF_ERROR(
      arena_array(engine, engine->io_count, sizeof(uint32_t), &memory));
  engine->io_placeholder_first = (uint32_t*)memory;
  KILN_RETURN_IF_ERROR(
      arena_array(engine, engine->io_count, sizeof(uint32_t), &memory));
  engine->io_placeholder_count = (uint32_t*)memory;
  for (uint32_t t = 0; t < plan->tensor_count; ++t) {
    const kiln__plan_tensor_t* tensor = &plan->tensors[t];
    for (int32_t j = 0; j < tensor->rank; ++j) {
      if (kiln__sym_uses_size_tensor(plan->exprs[tensor->dims[j]])) {
        engine->data_dependent[t] = 1;
      }
    }
  }
  uint64_t total = 0;
  for (uint32_t i = 0; i < engine->io_count; ++i) {
    engine->io_placeholder_first[i] = 0;
    engine->io_placeholder_count[i] = 0;
    uint32_t t = engine->io_tensors[i];
    if (!engine->data_dependent[t]) continue;
    placeholder_sink_t sink = {NULL, 0};
    KILN_RETURN_IF_ERROR(visit_shape(plan, t, &sink));
    engine->io_placeholder_first[i] = (uint32_t)total;
    engine->io_placeholder_count[i] = sink.count;
    total += sink.count;
    if (total > UINT32_MAX) {
      return kiln_make_status(KILN_STATUS_OUT_OF_RANGE,
                              "the engine's output shapes use too many size "
                              "tensor placeholders");
    }
  }
  KILN_RETURN_IF_ERROR(
      arena_array(engine, (size_t)total, sizeof(kiln_sym_t), &memory));
  engine->placeholders = (kiln_sym_t*)memory;
  for (uint32_t i = 0; i < engine->io_count; ++i) {
    if (!engine->io_placeholder_count[i]) continue;
    placeholder_sink_t sink = {
        engine->placeholders + engine->io_placeholder_first[i], 0};
    KILN_RETURN_IF_ERROR(visit_shape(plan, engine->io_tensors[i], &sink));
  }
  return NULL;
}

uint32_t kiln_engine_io_count(const kiln_engine_t* engine) {
  return engine ? engine->io_count : 0;
}

kiln_status_t kiln_engine_io_info(const kiln_engine_t* engine, uint32_t index,
                                  kiln_io_info_t* out_info) {
  if (!engine || !out_info) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "kiln_engine_io_info: NULL engine or out_info");
  }
  memset(out_info, 0, sizeof(*out_info));
  if (index >= engine->io_count) {
    return kiln_make_status(KILN_STATUS_OUT_OF_RANGE,
                            "binding index %" PRIu32
                            " is out of range: the "
                            "engine has %" PRIu32 " inputs and outputs",
                            index, engine->io_count);
  }
  const kiln__plan_t* plan = engine->plan;
  const kiln__plan_tensor_t* tensor = &plan->tensors[engine->io_tensors[index]];
  out_info->name = engine->io_names[index];
  out_info->is_input = tensor->kind == KILN__TENSOR_INPUT;
  out_info->dtype = (kiln_dtype_t)tensor->dtype;
  out_info->rank = tensor->rank;
  out_info->is_size_tensor = tensor->is_size_tensor != 0;
  for (int32_t j = 0; j < tensor->rank; ++j) {
    int64_t value;
    kiln_sym_t e = plan->exprs[tensor->dims[j]];
    out_info->dims[j] = kiln_sym_is_constant(e, &value) ? value : -1;
    if (kiln__sym_uses_size_tensor(e)) {
      out_info->data_dependent_dims |= UINT32_C(1) << j;
    }
  }
  return NULL;
}

//===----------------------------------------------------------------------===//
// Host layers
//===----------------------------------------------------------------------===//

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

static kiln_status_t load_host_layer(kiln_engine_t* engine,
                                     const kiln_engine_load_options_t* options,
                                     uint32_t l) {
  const kiln__plan_t* plan = engine->plan;
  const kiln__plan_layer_t* layer = &plan->layers[l];
  kiln_string_view_t id = span_view(plan, layer->plugin_id);
  char label[256];
  format_layer(plan, l, label, sizeof(label));
  if (!options || !options->registry) {
    return kiln_make_status(
        KILN_STATUS_NOT_FOUND,
        "%s runs plugin '%.*s' on the host, but no registry was given to "
        "kiln_engine_load (set kiln_engine_load_options_t.registry to one "
        "that holds the plugin)",
        label, KILN_SV_ARG(id));
  }
  const kiln_plugin_t* plugin = NULL;
  kiln_status_t status = kiln_registry_lookup(options->registry, id, &plugin);
  if (status) {
    return kiln_status_annotate(status, "%s runs plugin '%.*s' on the host",
                                label, KILN_SV_ARG(id));
  }
  const kiln_plugin_def_t* def = kiln_plugin_definition(plugin);
  if (!def->host_impl) {
    return kiln_make_status(KILN_STATUS_NOT_FOUND,
                            "%s runs plugin '%.*s' on the host, but the "
                            "registered plugin has no host_impl",
                            label, KILN_SV_ARG(id));
  }
  if (def->input_count != layer->inputs.count ||
      def->output_count != layer->outputs.count) {
    return kiln_make_status(
        KILN_STATUS_INCOMPATIBLE,
        "%s has %" PRIu32 " inputs and %" PRIu32
        " outputs, but the registered plugin '%.*s' has %" PRIu32
        " and %" PRIu32,
        label, layer->inputs.count, layer->outputs.count, KILN_SV_ARG(id),
        def->input_count, def->output_count);
  }
  kiln__runtime_host_layer_t* host = &engine->host_layers[l];
  host->plugin = plugin;
  status = kiln__attrs_deserialize(plugin, span_bytes(plan, layer->host_attrs),
                                   engine->allocator, &host->attrs);
  if (!status) {
    status = kiln__plugin_attrs_view(plugin, host->attrs,
                                     KILN__CALLBACK_HOST_IMPL, &host->view);
  }
  if (status) {
    return kiln_status_annotate(status, "%s: reading its attributes", label);
  }
  return NULL;
}

static kiln_status_t load_host_layers(
    kiln_engine_t* engine, const kiln_engine_load_options_t* options) {
  const kiln__plan_t* plan = engine->plan;
  bool any = false;
  for (uint32_t l = 0; l < plan->layer_count; ++l) {
    if (plan->layers[l].kind == KILN__LAYER_HOST) any = true;
  }
  if (!any) return NULL;
  void* memory = NULL;
  KILN_RETURN_IF_ERROR(arena_array(
      engine, plan->layer_count, sizeof(kiln__runtime_host_layer_t), &memory));
  engine->host_layers = (kiln__runtime_host_layer_t*)memory;
  for (uint32_t l = 0; l < plan->layer_count; ++l) {
    if (plan->layers[l].kind != KILN__LAYER_HOST) continue;
    KILN_RETURN_IF_ERROR(load_host_layer(engine, options, l));
  }
  kiln_registry_retain(options->registry);
  engine->registry = options->registry;
  return NULL;
}

//===----------------------------------------------------------------------===//
// Kernel images
//===----------------------------------------------------------------------===//

// Appends printf-style text to |buffer| (truncating).
static void append(char* buffer, size_t capacity, const char* format, ...)
    KILN_PRINTF(3, 4);

static void append(char* buffer, size_t capacity, const char* format, ...) {
  size_t used = strlen(buffer);
  if (used + 1 >= capacity) return;
  va_list args;
  va_start(args, format);
  vsnprintf(buffer + used, capacity - used, format, args);
  va_end(args);
}

// Whether PTX with |header| can be JIT-compiled for |device_arch|, and if
// not, why (into |why|).
static bool ptx_fits(const kiln__ptx_header_t* header, uint32_t device_arch,
                     char* why, size_t why_capacity) {
  uint32_t target = header->sm_arch;
  if (header->arch_suffix == 'a') {
    if (target == device_arch) return true;
    snprintf(why, why_capacity, "PTX for sm_%ua runs only on sm_%u devices",
             target, target);
    return false;
  }
  if (header->arch_suffix == 'f') {
    if (target / 10 == device_arch / 10 && target <= device_arch) return true;
    snprintf(why, why_capacity,
             "PTX for sm_%uf runs only on the sm_%u family from sm_%u on",
             target, target / 10, target);
    return false;
  }
  if (target <= device_arch) return true;
  snprintf(why, why_capacity, "PTX for sm_%u is newer than the device", target);
  return false;
}

// Picks the image of kernel |k| for the device: the exact-arch cubin unless
// |force_ptx|, else the newest PTX the device can JIT, else INCOMPATIBLE.
static kiln_status_t choose_image(kiln_engine_t* engine, uint32_t k,
                                  bool force_ptx, uint32_t* out_image,
                                  kiln__ptx_header_t* out_header) {
  const kiln__plan_t* plan = engine->plan;
  const kiln__plan_kernel_t* kernel = &plan->kernels[k];
  const kiln__cuda_device_info_t* info = &engine->device->info;
  kiln_string_view_t name = span_view(plan, kernel->name);
  *out_image = KILN__NONE;
  memset(out_header, 0, sizeof(*out_header));
  if (!force_ptx) {
    for (uint32_t i = 0; i < kernel->images.count; ++i) {
      uint32_t index = kernel->images.first + i;
      const kiln__plan_image_t* image = &plan->images[index];
      if (image->kind == KILN_KERNEL_IMAGE_CUBIN &&
          image->sm_arch == info->sm_arch) {
        *out_image = index;
        return NULL;
      }
    }
  }
  char have[512] = "";
  char why[512] = "";
  bool any_ptx = false;
  uint32_t best = KILN__NONE;
  for (uint32_t i = 0; i < kernel->images.count; ++i) {
    uint32_t index = kernel->images.first + i;
    const kiln__plan_image_t* image = &plan->images[index];
    if (image->kind == KILN_KERNEL_IMAGE_CUBIN) {
      append(have, sizeof(have), "%ssm_%" PRIu32 " cubin", have[0] ? ", " : "",
             image->sm_arch);
      continue;
    }
    any_ptx = true;
    kiln__ptx_header_t header;
    kiln_status_t status =
        kiln__ptx_read_header(span_bytes(plan, image->data), &header);
    if (status) {
      return kiln_status_annotate(status, "kernel '%.*s': reading its PTX",
                                  KILN_SV_ARG(name));
    }
    append(have, sizeof(have), "%sPTX for sm_%" PRIu32 "%s",
           have[0] ? ", " : "", header.sm_arch,
           header.arch_suffix == 'a'   ? "a"
           : header.arch_suffix == 'f' ? "f"
                                       : "");
    char reason[160];
    if (ptx_fits(&header, info->sm_arch, reason, sizeof(reason))) {
      if (best == KILN__NONE || header.sm_arch > out_header->sm_arch) {
        best = index;
        *out_header = header;
      }
    } else {
      append(why, sizeof(why), "; %s", reason);
    }
  }
  if (best != KILN__NONE) {
    *out_image = best;
    return NULL;
  }
  if (!any_ptx) append(have, sizeof(have), "%sno PTX", have[0] ? ", " : "");
  return kiln_make_status(
      KILN_STATUS_INCOMPATIBLE,
      "kernel '%.*s' has no image this device can run: the engine has %s; "
      "the device is sm_%" PRIu32 ", %s%s%s",
      KILN_SV_ARG(name), have, info->sm_arch, info->name, why,
      force_ptx ? " (cubins were ignored: force_ptx is set)" : "");
}

static kiln_status_t get_function_attribute(kiln_engine_t* engine,
                                            kiln__cu_function_t function,
                                            kiln__cu_function_attribute_t attr,
                                            const char* attr_name,
                                            int32_t min_value,
                                            int32_t* out_value) {
  int value = 0;
  KILN_RETURN_IF_ERROR(KILN__DEVICE_CU(
      engine->device, cuFuncGetAttribute(&value, attr, function)));
  if (value < min_value) {
    return kiln_make_status(KILN_STATUS_INTERNAL, "the driver reports %s = %d",
                            attr_name, value);
  }
  *out_value = value;
  return NULL;
}

static kiln_status_t load_kernel(kiln_engine_t* engine,
                                 const kiln_engine_load_options_t* options,
                                 uint32_t k) {
  const kiln__plan_t* plan = engine->plan;
  const kiln__plan_kernel_t* kernel = &plan->kernels[k];
  kiln__runtime_kernel_t* rk = &engine->kernels[k];
  kiln_device_t* device = engine->device;
  const kiln__cuda_device_info_t* info = &device->info;
  kiln_string_view_t name = span_view(plan, kernel->name);
  bool force_ptx = options && options->force_ptx;

  kiln__ptx_header_t header;
  KILN_RETURN_IF_ERROR(choose_image(engine, k, force_ptx, &rk->image, &header));
  const kiln__plan_image_t* image = &plan->images[rk->image];
  kiln_kernel_image_t load;
  load.kind = (kiln_kernel_image_kind_t)image->kind;
  load.sm_arch = image->sm_arch;
  load.bytes = span_bytes(plan, image->data);
  char what[64];
  if (image->kind == KILN_KERNEL_IMAGE_PTX) {
    // The reader checked that a NUL follows the PTX in the blob; the driver
    // reads up to it.
    load.bytes.size += 1;
    snprintf(what, sizeof(what), "PTX for sm_%" PRIu32 "%s", header.sm_arch,
             header.arch_suffix == 'a'   ? "a"
             : header.arch_suffix == 'f' ? "f"
                                         : "");
    kiln__log(&engine->logger, KILN_LOG_LEVEL_INFO,
              "kernel '%.*s': %s; JIT-compiling the %s for sm_%" PRIu32,
              KILN_SV_ARG(name),
              force_ptx ? "force_ptx is set" : "no cubin for this device", what,
              info->sm_arch);
  } else {
    snprintf(what, sizeof(what), "sm_%" PRIu32 " cubin", image->sm_arch);
    kiln__cubin_info_t cubin;
    kiln_status_t status = kiln__cubin_inspect(load.bytes, &cubin);
    if (status) {
      return kiln_status_annotate(status, "kernel '%.*s': its %s",
                                  KILN_SV_ARG(name), what);
    }
    if (cubin.sm_arch != 0 && cubin.sm_arch != image->sm_arch) {
      return kiln_make_status(KILN_STATUS_INCOMPATIBLE,
                              "kernel '%.*s': the engine labels an image "
                              "sm_%" PRIu32
                              " cubin, but it was built for "
                              "sm_%" PRIu32,
                              KILN_SV_ARG(name), image->sm_arch, cubin.sm_arch);
    }
    kiln__log(&engine->logger, KILN_LOG_LEVEL_INFO, "kernel '%.*s': %s",
              KILN_SV_ARG(name), what);
  }
  kiln_status_t status = kiln__device_note_status(
      device, kiln__cuda_module_load(device->driver, &load, engine->allocator,
                                     &rk->module));
  if (status) {
    return kiln_status_annotate(status, "kernel '%.*s': loading its %s",
                                KILN_SV_ARG(name), what);
  }
  char* entry = NULL;
  KILN_RETURN_IF_ERROR(kiln__string_dup(engine->allocator, name, &entry));
  status = KILN__DEVICE_CU(
      device, cuModuleGetFunction(&rk->function, rk->module, entry));
  kiln_allocator_free(engine->allocator, entry);
  if (status) {
    return kiln_status_annotate(status, "kernel '%.*s' is not in its %s",
                                KILN_SV_ARG(name), what);
  }
  status = get_function_attribute(
      engine, rk->function, KILN_CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK,
      "CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK", 1, &rk->max_threads_per_block);
  if (!status) {
    status = get_function_attribute(
        engine, rk->function, KILN_CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES,
        "CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES", 0, &rk->static_shared_bytes);
  }
  if (!status) {
    // Dynamic shared memory beyond the default per-block limit (48 KiB) must
    // be opted into per function, up to the device's opt-in limit.
    int32_t per_block = info->max_shared_memory_per_block;
    int32_t optin = info->max_shared_memory_per_block_optin;
    int32_t dynamic = per_block - rk->static_shared_bytes;
    if (optin > per_block && optin - rk->static_shared_bytes > dynamic) {
      dynamic = optin - rk->static_shared_bytes;
      status = KILN__DEVICE_CU(
          device,
          cuFuncSetAttribute(
              rk->function,
              KILN_CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, dynamic));
    }
    rk->max_dynamic_shared_bytes = dynamic < 0 ? 0 : dynamic;
  }
  if (status) {
    return kiln_status_annotate(status, "kernel '%.*s'", KILN_SV_ARG(name));
  }
  // The parameter buffer layout.
  void* memory = NULL;
  KILN_RETURN_IF_ERROR(
      arena_array(engine, kernel->params.count, sizeof(uint32_t), &memory));
  rk->param_offsets = (uint32_t*)memory;
  uint32_t bytes = 0;
  for (uint32_t j = 0; j < kernel->params.count; ++j) {
    const kiln__plan_param_t* p = &plan->params[kernel->params.first + j];
    uint32_t offset = (bytes + p->align - 1u) / p->align * p->align;
    rk->param_offsets[j] = offset;
    bytes = offset + p->size;
  }
  rk->param_bytes = bytes;
  return NULL;
}

//===----------------------------------------------------------------------===//
// Constants
//===----------------------------------------------------------------------===//

static kiln_status_t upload_constants(kiln_engine_t* engine) {
  const kiln__plan_t* plan = engine->plan;
  if (plan->constant_count == 0) return NULL;
  void* memory = NULL;
  KILN_RETURN_IF_ERROR(
      arena_array(engine, plan->constant_count, sizeof(uint64_t), &memory));
  engine->constant_offsets = (uint64_t*)memory;
  size_t total = 0;
  for (uint32_t c = 0; c < plan->constant_count; ++c) {
    engine->constant_offsets[c] = total;
    size_t end = 0;
    if (!kiln_size_checked_add(total, (size_t)plan->constants[c].data.size,
                               &end) ||
        !kiln_size_checked_align(end, CONSTANT_ALIGNMENT, &total)) {
      return kiln_make_status(KILN_STATUS_OUT_OF_RANGE,
                              "the engine's constants overflow a size");
    }
  }
  if (total == 0) return NULL;
  kiln_device_t* device = engine->device;
  kiln_status_t status =
      KILN__DEVICE_CU(device, cuMemAlloc(&engine->constant_memory, total));
  if (status) {
    return kiln_status_annotate(status, "allocating %zu bytes for constants",
                                total);
  }
  for (uint32_t c = 0; c < plan->constant_count; ++c) {
    kiln_const_bytes_t data = span_bytes(plan, plan->constants[c].data);
    if (data.size == 0) continue;
    KILN_RETURN_IF_ERROR(KILN__DEVICE_CU(
        device,
        cuMemcpyHtoD(engine->constant_memory + engine->constant_offsets[c],
                     data.data, data.size)));
  }
  return NULL;
}

//===----------------------------------------------------------------------===//
// Load
//===----------------------------------------------------------------------===//

static kiln_status_t engine_load(kiln_engine_t* engine, kiln_const_bytes_t data,
                                 const kiln_engine_load_options_t* options) {
  void* memory = NULL;
  KILN_RETURN_IF_ERROR(
      kiln_allocator_malloc(engine->allocator, data.size, &memory));
  engine->bytes = (uint8_t*)memory;
  engine->byte_count = data.size;
  memcpy(engine->bytes, data.data, data.size);
  kiln_const_bytes_t copy = {engine->bytes, engine->byte_count};
  KILN_RETURN_IF_ERROR(
      kiln__engine_read(copy, engine->allocator, &engine->plan));
  KILN_RETURN_IF_ERROR(build_bindings(engine));
  KILN_RETURN_IF_ERROR(build_data_dependent(engine));
  // Plugins first: a missing one is found before any driver work.
  KILN_RETURN_IF_ERROR(load_host_layers(engine, options));
  const kiln__plan_t* plan = engine->plan;
  KILN_RETURN_IF_ERROR(arena_array(engine, plan->kernel_count,
                                   sizeof(kiln__runtime_kernel_t), &memory));
  engine->kernels = (kiln__runtime_kernel_t*)memory;
  KILN_RETURN_IF_ERROR(kiln__device_enter(engine->device));
  for (uint32_t k = 0; k < plan->kernel_count; ++k) {
    KILN_RETURN_IF_ERROR(load_kernel(engine, options, k));
  }
  return upload_constants(engine);
}

kiln_status_t kiln_engine_load(kiln_device_t* device, kiln_const_bytes_t data,
                               const kiln_engine_load_options_t* options,
                               kiln_allocator_t allocator,
                               kiln_engine_t** out_engine) {
  if (!out_engine) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "kiln_engine_load: out_engine is NULL");
  }
  *out_engine = NULL;
  if (!device) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "kiln_engine_load: device is NULL");
  }
  if (!data.data || data.size == 0) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "kiln_engine_load: the engine bytes are empty");
  }
  KILN_RETURN_IF_ERROR(kiln__device_check(device));
  void* memory = NULL;
  KILN_RETURN_IF_ERROR(
      kiln_allocator_malloc(allocator, sizeof(kiln_engine_t), &memory));
  kiln_engine_t* engine = (kiln_engine_t*)memory;
  atomic_init(&engine->header.count, 1u);
  engine->header.vtable = &engine_vtable;
  engine->allocator = allocator;
  kiln__arena_init(&engine->arena, allocator);
  kiln_device_retain(device);
  engine->device = device;
  if (options) engine->logger = options->logger;
  kiln_status_t status = NULL;
  if (pthread_mutex_init(&engine->eval_mutex, NULL) != 0) {
    status = kiln_make_status(KILN_STATUS_RESOURCE_EXHAUSTED,
                              "cannot create the engine's mutex");
  } else {
    engine->eval_mutex_ready = true;
  }
  if (!status) status = engine_load(engine, data, options);
  if (status) {
    engine_destroy(engine);
    return status;
  }
  *out_engine = engine;
  return NULL;
}
