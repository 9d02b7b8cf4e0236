// Network definitions: inputs, constants, plugin layers, marked outputs.
// Everything that can be checked without running plugin code is checked as
// the network is made, with messages naming the tensor or layer.

#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "base/size.h"
#include "graph/graph.h"
#include "plugin/plugin.h"

static const char* tensor_label(const kiln_network_t* network, uint32_t tensor,
                                char* buffer, size_t capacity) {
  const kiln__net_tensor_t* t = &network->tensors[tensor];
  if (t->name) {
    snprintf(buffer, capacity, "tensor %u '%s'", tensor, t->name);
  } else {
    snprintf(buffer, capacity, "tensor %u", tensor);
  }
  return buffer;
}

kiln_status_t kiln_network_create(kiln_registry_t* registry,
                                  kiln_allocator_t allocator,
                                  kiln_network_t** out_network) {
  if (!out_network) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "kiln_network_create: out_network is NULL");
  }
  *out_network = NULL;
  if (!registry) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "kiln_network_create: registry is NULL");
  }
  kiln_network_t* network = NULL;
  KILN_RETURN_IF_ERROR(
      kiln_allocator_malloc(allocator, sizeof(*network), (void**)&network));
  network->allocator = allocator;
  kiln__arena_init(&network->arena, allocator);
  kiln_registry_retain(registry);
  network->registry = registry;
  *out_network = network;
  return NULL;
}

void kiln_network_destroy(kiln_network_t* network) {
  if (!network) return;
  for (uint32_t i = 0; i < network->layer_count; ++i) {
    kiln_attrs_destroy(network->layers[i].attrs);
  }
  kiln_allocator_free(network->allocator, network->layers);
  kiln_allocator_free(network->allocator, network->tensors);
  kiln__arena_deinit(&network->arena);
  kiln_registry_release(network->registry);
  kiln_allocator_free(network->allocator, network);
}

// Grows |*items| (of |item_size| bytes each) to hold at least |needed|.
static kiln_status_t grow(kiln_allocator_t allocator, void** items,
                          uint32_t* capacity, uint32_t needed,
                          size_t item_size) {
  if (needed <= *capacity) return NULL;
  if (needed > UINT32_MAX / 2) {
    return kiln_make_status(KILN_STATUS_OUT_OF_RANGE,
                            "network has too many tensors or layers");
  }
  uint32_t next = *capacity ? *capacity * 2 : 16;
  if (next < needed) next = needed;
  size_t bytes;
  KILN_RETURN_IF_ERROR(
      kiln__size_mul(next, item_size, "network table", &bytes));
  void* p = *items;
  KILN_RETURN_IF_ERROR(kiln_allocator_realloc(allocator, bytes, &p));
  memset((uint8_t*)p + (size_t)*capacity * item_size, 0,
         (size_t)(next - *capacity) * item_size);
  *items = p;
  *capacity = next;
  return NULL;
}

static kiln_status_t arena_strdup(kiln__arena_t* arena, const char* text,
                                  const char** out) {
  *out = NULL;
  size_t n = strlen(text);
  char* copy = NULL;
  KILN_RETURN_IF_ERROR(kiln__arena_alloc(arena, n + 1, 1, (void**)&copy));
  memcpy(copy, text, n + 1);
  *out = copy;
  return NULL;
}

// True when |name| is used by an input, a constant or an output already.
static bool name_taken(const kiln_network_t* network, const char* name) {
  for (uint32_t i = 0; i < network->tensor_count; ++i) {
    const kiln__net_tensor_t* t = &network->tensors[i];
    if (t->name && strcmp(t->name, name) == 0) return true;
  }
  return false;
}

static kiln_status_t check_name(const kiln_network_t* network, const char* what,
                                const char* name) {
  if (!name || !name[0]) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "%s needs a non-empty name", what);
  }
  if (strlen(name) > 1024) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "%s name is longer than 1024 bytes", what);
  }
  if (name_taken(network, name)) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "%s '%s': the name is used by another tensor", what,
                            name);
  }
  return NULL;
}

static kiln_status_t check_shape(const char* what, const char* name,
                                 kiln_dtype_t dtype, int32_t rank,
                                 const int64_t* dims, bool allow_dynamic) {
  if ((unsigned)dtype >= KILN_DTYPE_COUNT) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "%s '%s': unknown dtype %d", what, name,
                            (int)dtype);
  }
  if (rank < 0 || rank > KILN_MAX_RANK) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "%s '%s': rank %d is outside 0..%d", what, name,
                            (int)rank, KILN_MAX_RANK);
  }
  if (rank > 0 && !dims) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "%s '%s': dims is NULL for rank %d", what, name,
                            (int)rank);
  }
  for (int32_t i = 0; i < rank; ++i) {
    if (dims[i] == -1 && allow_dynamic) continue;
    if (dims[i] < 0) {
      return kiln_make_status(
          KILN_STATUS_INVALID_ARGUMENT,
          "%s '%s': dimension %d is %lld; it must be >= 0%s", what, name,
          (int)i, (long long)dims[i], allow_dynamic ? " or -1 (dynamic)" : "");
    }
  }
  return NULL;
}

static kiln_status_t add_tensor(kiln_network_t* network,
                                kiln__net_tensor_t** out_tensor,
                                uint32_t* out_index) {
  KILN_RETURN_IF_ERROR(grow(
      network->allocator, (void**)&network->tensors, &network->tensor_capacity,
      network->tensor_count + 1, sizeof(kiln__net_tensor_t)));
  uint32_t index = network->tensor_count++;
  kiln__net_tensor_t* t = &network->tensors[index];
  memset(t, 0, sizeof(*t));
  t->producer = UINT32_MAX;
  t->input_ordinal = UINT32_MAX;
  *out_tensor = t;
  *out_index = index;
  return NULL;
}

kiln_status_t kiln_network_add_input(kiln_network_t* network, const char* name,
                                     kiln_dtype_t dtype, int32_t rank,
                                     const int64_t* dims,
                                     uint32_t* out_tensor) {
  if (out_tensor) *out_tensor = UINT32_MAX;
  if (!network) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT, "network is NULL");
  }
  KILN_RETURN_IF_ERROR(check_name(network, "input", name));
  KILN_RETURN_IF_ERROR(check_shape("input", name, dtype, rank, dims, true));
  const char* copy = NULL;
  KILN_RETURN_IF_ERROR(arena_strdup(&network->arena, name, &copy));
  kiln__net_tensor_t* t = NULL;
  uint32_t index = 0;
  KILN_RETURN_IF_ERROR(add_tensor(network, &t, &index));
  t->name = copy;
  t->kind = KILN__NET_TENSOR_INPUT;
  t->dtype = dtype;
  t->rank = rank;
  for (int32_t i = 0; i < rank; ++i) t->dims[i] = dims[i];
  t->input_ordinal = network->input_count++;
  if (out_tensor) *out_tensor = index;
  return NULL;
}

kiln_status_t kiln_network_add_constant(kiln_network_t* network,
                                        const char* name, kiln_dtype_t dtype,
                                        int32_t rank, const int64_t* dims,
                                        kiln_const_bytes_t data,
                                        uint32_t* out_tensor) {
  if (out_tensor) *out_tensor = UINT32_MAX;
  if (!network) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT, "network is NULL");
  }
  KILN_RETURN_IF_ERROR(check_name(network, "constant", name));
  KILN_RETURN_IF_ERROR(check_shape("constant", name, dtype, rank, dims, false));
  size_t bytes = kiln_dtype_size(dtype);
  for (int32_t i = 0; i < rank; ++i) {
    if (!kiln_size_checked_mul(bytes, (size_t)dims[i], &bytes)) {
      return kiln_make_status(KILN_STATUS_OUT_OF_RANGE,
                              "constant '%s': its size overflows", name);
    }
  }
  if (data.size != bytes || (bytes && !data.data)) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "constant '%s': %zu bytes of data given, its shape "
                            "and dtype need %zu",
                            name, data.size, bytes);
  }
  const char* copy = NULL;
  KILN_RETURN_IF_ERROR(arena_strdup(&network->arena, name, &copy));
  uint8_t* stored = NULL;
  KILN_RETURN_IF_ERROR(
      kiln__arena_alloc(&network->arena, bytes, 64, (void**)&stored));
  if (bytes) memcpy(stored, data.data, bytes);
  kiln__net_tensor_t* t = NULL;
  uint32_t index = 0;
  KILN_RETURN_IF_ERROR(add_tensor(network, &t, &index));
  t->name = copy;
  t->kind = KILN__NET_TENSOR_CONSTANT;
  t->dtype = dtype;
  t->rank = rank;
  for (int32_t i = 0; i < rank; ++i) t->dims[i] = dims[i];
  t->data.data = stored;
  t->data.size = bytes;
  if (out_tensor) *out_tensor = index;
  return NULL;
}

static const char* mode_name(kiln_layer_mode_t mode) {
  switch (mode) {
    case KILN_LAYER_MODE_AUTO:
      return "auto";
    case KILN_LAYER_MODE_AOT:
      return "aot";
    case KILN_LAYER_MODE_HOST:
      return "host";
    default:
      return "unknown";
  }
}

kiln_status_t kiln_network_add_plugin(
    kiln_network_t* network, const char* name, const char* plugin_id,
    const uint32_t* inputs, size_t input_count, const kiln_attrs_t* attrs,
    kiln_layer_mode_t mode, uint32_t* out_layer) {
  if (out_layer) *out_layer = UINT32_MAX;
  if (!network || !plugin_id) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "kiln_network_add_plugin: network and plugin_id "
                            "must not be NULL");
  }
  uint32_t layer_index = network->layer_count;
  const kiln_plugin_t* plugin = NULL;
  kiln_status_t status = kiln_registry_lookup(
      network->registry, kiln_make_cstring_view(plugin_id), &plugin);
  if (status) {
    return kiln_status_annotate(status, "layer %u", layer_index);
  }
  const kiln_plugin_def_t* def = kiln_plugin_definition(plugin);
  if (input_count != def->input_count) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "layer %u (plugin '%s'): %zu inputs given, the "
                            "plugin takes %u",
                            layer_index, def->id, input_count,
                            def->input_count);
  }
  if (input_count && !inputs) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "layer %u (plugin '%s'): inputs is NULL",
                            layer_index, def->id);
  }
  for (size_t i = 0; i < input_count; ++i) {
    if (inputs[i] >= network->tensor_count) {
      return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                              "layer %u (plugin '%s'): input %zu refers to "
                              "tensor %u, but the network has %u tensors",
                              layer_index, def->id, i, inputs[i],
                              network->tensor_count);
    }
  }
  if ((unsigned)mode >= KILN_LAYER_MODE_COUNT) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "layer %u (plugin '%s'): unknown layer mode %d",
                            layer_index, def->id, (int)mode);
  }
  if ((mode == KILN_LAYER_MODE_AOT && !def->aot_impl) ||
      (mode == KILN_LAYER_MODE_HOST && !def->host_impl) ||
      (mode == KILN_LAYER_MODE_AUTO && !def->aot_impl && !def->host_impl)) {
    return kiln_make_status(
        KILN_STATUS_INVALID_ARGUMENT,
        "layer %u (plugin '%s'): mode '%s' needs %s, which the plugin does "
        "not define",
        layer_index, def->id, mode_name(mode),
        mode == KILN_LAYER_MODE_AOT    ? "an aot_impl"
        : mode == KILN_LAYER_MODE_HOST ? "a host_impl"
                                       : "an aot_impl or a host_impl");
  }
  if (attrs && attrs->plugin != plugin) {
    kiln_string_view_t other = kiln_plugin_id(attrs->plugin);
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "layer %u (plugin '%s'): the attributes given were "
                            "made for plugin '%.*s'",
                            layer_index, def->id, KILN_SV_ARG(other));
  }
  if (!attrs && def->attr_count > 0) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "layer %u (plugin '%s'): the plugin declares %zu "
                            "attributes, but none were given (first: '%s')",
                            layer_index, def->id, def->attr_count,
                            def->attrs[0].name);
  }
  if (attrs) {
    status = kiln_attrs_check_complete(attrs);
    if (status) return kiln_status_annotate(status, "layer %u", layer_index);
  }

  // Everything checked: copy what the layer keeps.
  const char* name_copy = NULL;
  if (name)
    KILN_RETURN_IF_ERROR(arena_strdup(&network->arena, name, &name_copy));
  uint32_t* input_copy = NULL;
  KILN_RETURN_IF_ERROR(kiln__arena_alloc(
      &network->arena, (input_count ? input_count : 1) * sizeof(uint32_t),
      sizeof(uint32_t), (void**)&input_copy));
  if (input_count) memcpy(input_copy, inputs, input_count * sizeof(uint32_t));
  kiln_attrs_t* attrs_copy = NULL;
  if (attrs) {
    KILN_RETURN_IF_ERROR(
        kiln__attrs_clone(attrs, network->allocator, &attrs_copy));
  }
  status = grow(network->allocator, (void**)&network->layers,
                &network->layer_capacity, network->layer_count + 1,
                sizeof(kiln__net_layer_t));
  if (!status) {
    status = grow(network->allocator, (void**)&network->tensors,
                  &network->tensor_capacity,
                  network->tensor_count + def->output_count,
                  sizeof(kiln__net_tensor_t));
  }
  if (status) {
    kiln_attrs_destroy(attrs_copy);
    return status;
  }
  kiln__net_layer_t* layer = &network->layers[network->layer_count++];
  layer->name = name_copy;
  layer->plugin = plugin;
  layer->mode = mode;
  layer->inputs = input_copy;
  layer->input_count = (uint32_t)input_count;
  layer->first_output = network->tensor_count;
  layer->output_count = def->output_count;
  layer->attrs = attrs_copy;
  for (uint32_t i = 0; i < def->output_count; ++i) {
    kiln__net_tensor_t* t = &network->tensors[network->tensor_count++];
    memset(t, 0, sizeof(*t));
    t->kind = KILN__NET_TENSOR_LAYER_OUTPUT;
    t->producer = layer_index;
    t->producer_output = i;
    t->input_ordinal = UINT32_MAX;
  }
  if (out_layer) *out_layer = layer_index;
  return NULL;
}

kiln_status_t kiln_network_layer_output(const kiln_network_t* network,
                                        uint32_t layer, uint32_t index,
                                        uint32_t* out_tensor) {
  if (!out_tensor) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT, "out_tensor is NULL");
  }
  *out_tensor = UINT32_MAX;
  if (!network || layer >= network->layer_count) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "layer %u does not exist (the network has %u)",
                            layer, network ? network->layer_count : 0);
  }
  const kiln__net_layer_t* l = &network->layers[layer];
  if (index >= l->output_count) {
    kiln_string_view_t id = kiln_plugin_id(l->plugin);
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "layer %u (plugin '%.*s') has %u outputs; output "
                            "%u asked for",
                            layer, KILN_SV_ARG(id), l->output_count, index);
  }
  *out_tensor = l->first_output + index;
  return NULL;
}

kiln_status_t kiln_network_mark_output(kiln_network_t* network, uint32_t tensor,
                                       const char* name) {
  if (!network) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT, "network is NULL");
  }
  if (tensor >= network->tensor_count) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "output '%s': tensor %u does not exist (the "
                            "network has %u tensors)",
                            name ? name : "", tensor, network->tensor_count);
  }
  kiln__net_tensor_t* t = &network->tensors[tensor];
  char label[1100];
  if (t->kind != KILN__NET_TENSOR_LAYER_OUTPUT) {
    return kiln_make_status(
        KILN_STATUS_INVALID_ARGUMENT,
        "%s is a network %s; only layer outputs can be "
        "marked as outputs",
        tensor_label(network, tensor, label, sizeof(label)),
        t->kind == KILN__NET_TENSOR_INPUT ? "input" : "constant");
  }
  if (t->is_output) {
    return kiln_make_status(
        KILN_STATUS_ALREADY_EXISTS, "%s is already marked as an output",
        tensor_label(network, tensor, label, sizeof(label)));
  }
  KILN_RETURN_IF_ERROR(check_name(network, "output", name));
  const char* copy = NULL;
  KILN_RETURN_IF_ERROR(arena_strdup(&network->arena, name, &copy));
  t->name = copy;
  t->is_output = true;
  network->output_count++;
  return NULL;
}
