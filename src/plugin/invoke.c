// Calling a plugin's describe and autotune callbacks with the attributes they
// declared, and checking what they return before kiln relies on it.

#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "base/size.h"
#include "plugin/plugin.h"

//===----------------------------------------------------------------------===//
// A set of visited expression nodes, so that shared subexpressions are walked
// once.
//===----------------------------------------------------------------------===//

typedef struct node_set_t {
  kiln_allocator_t allocator;
  const void** slots;
  size_t capacity;  // a power of two, or 0
  size_t count;
} node_set_t;

static size_t node_slot(const void* node, size_t mask) {
  uint64_t x = (uint64_t)(uintptr_t)node;
  x ^= x >> 33;
  x *= UINT64_C(0xff51afd7ed558ccd);
  x ^= x >> 33;
  return (size_t)x & mask;
}

static void node_set_place(const void** slots, size_t capacity,
                           const void* node) {
  size_t at = node_slot(node, capacity - 1);
  while (slots[at]) at = (at + 1) & (capacity - 1);
  slots[at] = node;
}

// Adds |node|; |*out_added| is false when it was there already.
static kiln_status_t node_set_add(node_set_t* set, const void* node,
                                  bool* out_added) {
  *out_added = false;
  if (set->capacity) {
    size_t mask = set->capacity - 1;
    for (size_t at = node_slot(node, mask); set->slots[at];
         at = (at + 1) & mask) {
      if (set->slots[at] == node) return NULL;
    }
  }
  if ((set->count + 1) * 2 > set->capacity) {
    size_t capacity = set->capacity ? set->capacity * 2 : 64;
    size_t bytes = 0;
    KILN_RETURN_IF_ERROR(
        kiln__size_mul(capacity, sizeof(void*), "expression walk", &bytes));
    void* block = NULL;
    KILN_RETURN_IF_ERROR(kiln_allocator_malloc(set->allocator, bytes, &block));
    const void** slots = (const void**)block;
    for (size_t i = 0; i < set->capacity; ++i) {
      if (set->slots[i]) node_set_place(slots, capacity, set->slots[i]);
    }
    kiln_allocator_free(set->allocator, (void*)set->slots);
    set->slots = slots;
    set->capacity = capacity;
  }
  node_set_place(set->slots, set->capacity, node);
  ++set->count;
  *out_added = true;
  return NULL;
}

//===----------------------------------------------------------------------===//
// describe
//===----------------------------------------------------------------------===//

// What the output checks need to know.
typedef struct describe_check_t {
  const kiln_plugin_t* plugin;
  const kiln_tensor_desc_t* outputs;
  size_t output_count;
  node_set_t visited;
} describe_check_t;

// Checks that every size-tensor placeholder in |expr| names an output marked
// as a size tensor. |output| and |dim| locate |expr| for messages.
static kiln_status_t check_size_tensors(describe_check_t* check,
                                        kiln_sym_t expr, size_t output,
                                        int32_t dim, uint32_t depth) {
  if (!expr) return NULL;
  if (depth > KILN_SYM_MAX_DEPTH + 1) {
    return kiln_make_status(KILN_STATUS_INTERNAL,
                            "describe of plugin '%.*s': output %zu dimension "
                            "%d is deeper than %d",
                            KILN_SV_ARG(check->plugin->id), output, (int)dim,
                            KILN_SYM_MAX_DEPTH);
  }
  bool added = false;
  KILN_RETURN_IF_ERROR(node_set_add(&check->visited, expr, &added));
  if (!added) return NULL;
  kiln_sym_info_t info = kiln_sym_get_info(expr);
  if (info.op == KILN_SYM_OP_SIZE_TENSOR) {
    if (info.index >= check->output_count) {
      return kiln_make_status(
          KILN_STATUS_INVALID_ARGUMENT,
          "describe of plugin '%.*s': output %zu dimension %d uses size "
          "tensor %u, but the plugin has %zu outputs",
          KILN_SV_ARG(check->plugin->id), output, (int)dim,
          (unsigned)info.index, check->output_count);
    }
    if (!check->outputs[info.index].is_size_tensor) {
      return kiln_make_status(
          KILN_STATUS_INVALID_ARGUMENT,
          "describe of plugin '%.*s': output %zu dimension %d uses size "
          "tensor %u, but output %u is not marked is_size_tensor",
          KILN_SV_ARG(check->plugin->id), output, (int)dim,
          (unsigned)info.index, (unsigned)info.index);
    }
  }
  KILN_RETURN_IF_ERROR(
      check_size_tensors(check, info.a, output, dim, depth + 1));
  return check_size_tensors(check, info.b, output, dim, depth + 1);
}

// Checks output |i| against the inputs and the other outputs.
static kiln_status_t check_output(describe_check_t* check, size_t i,
                                  const kiln_tensor_desc_t* inputs,
                                  size_t input_count, kiln_sym_table_t* sym) {
  const kiln_plugin_t* plugin = check->plugin;
  const kiln_tensor_desc_t* out = &check->outputs[i];
  char what[48];
  snprintf(what, sizeof(what), "output %zu", i);
  // A NULL dimension usually comes from a failed builder call; its recorded
  // error says why.
  if (out->rank > 0 && out->rank <= KILN_MAX_RANK) {
    for (int32_t d = 0; d < out->rank; ++d) {
      if (out->dims[d]) continue;
      kiln_status_t recorded = kiln_sym_table_take_error(sym);
      if (recorded) {
        return kiln_status_annotate(
            recorded, "describe of plugin '%.*s': output %zu dimension %d",
            KILN_SV_ARG(plugin->id), i, (int)d);
      }
      break;
    }
  }
  kiln_status_t status = kiln_tensor_desc_validate(out, what);
  if (status) {
    return kiln_status_annotate(status, "describe of plugin '%.*s'",
                                KILN_SV_ARG(plugin->id));
  }
  if (out->aliased_input != -1) {
    int32_t a = out->aliased_input;
    if (a < 0 || (size_t)a >= input_count) {
      return kiln_make_status(
          KILN_STATUS_INVALID_ARGUMENT,
          "describe of plugin '%.*s': output %zu aliases input %d, but the "
          "plugin has %zu inputs",
          KILN_SV_ARG(plugin->id), i, (int)a, input_count);
    }
    const kiln_tensor_desc_t* in = &inputs[a];
    if (out->is_size_tensor) {
      return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                              "describe of plugin '%.*s': output %zu is a "
                              "size tensor and cannot alias input %d",
                              KILN_SV_ARG(plugin->id), i, (int)a);
    }
    if (in->dtype != out->dtype) {
      return kiln_make_status(
          KILN_STATUS_INVALID_ARGUMENT,
          "describe of plugin '%.*s': output %zu aliases input %d of dtype "
          "%s but has dtype %s",
          KILN_SV_ARG(plugin->id), i, (int)a, kiln_dtype_name(in->dtype),
          kiln_dtype_name(out->dtype));
    }
    if (in->rank != out->rank) {
      return kiln_make_status(
          KILN_STATUS_INVALID_ARGUMENT,
          "describe of plugin '%.*s': output %zu aliases input %d of rank %d "
          "but has rank %d",
          KILN_SV_ARG(plugin->id), i, (int)a, (int)in->rank, (int)out->rank);
    }
    for (int32_t d = 0; d < out->rank; ++d) {
      if (in->dims[d] != out->dims[d]) {
        return kiln_make_status(
            KILN_STATUS_INVALID_ARGUMENT,
            "describe of plugin '%.*s': output %zu aliases input %d but its "
            "dimension %d is a different expression",
            KILN_SV_ARG(plugin->id), i, (int)a, (int)d);
      }
    }
    for (size_t j = 0; j < i; ++j) {
      if (check->outputs[j].aliased_input == a) {
        return kiln_make_status(
            KILN_STATUS_INVALID_ARGUMENT,
            "describe of plugin '%.*s': outputs %zu and %zu both alias input "
            "%d; an input can be aliased by one output only",
            KILN_SV_ARG(plugin->id), j, i, (int)a);
      }
    }
  }
  for (int32_t d = 0; d < out->rank; ++d) {
    KILN_RETURN_IF_ERROR(check_size_tensors(check, out->dims[d], i, d, 1));
  }
  return NULL;
}

// Checks the call's counts and inputs.
static kiln_status_t check_io(const kiln_plugin_t* plugin, const char* callback,
                              const kiln_tensor_desc_t* inputs,
                              size_t input_count,
                              const kiln_tensor_desc_t* outputs,
                              size_t output_count) {
  if (input_count != plugin->def.input_count) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "%s of plugin '%.*s': the plugin takes %u inputs, "
                            "given %zu",
                            callback, KILN_SV_ARG(plugin->id),
                            (unsigned)plugin->def.input_count, input_count);
  }
  if (output_count != plugin->def.output_count) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "%s of plugin '%.*s': the plugin has %u outputs, "
                            "given room for %zu",
                            callback, KILN_SV_ARG(plugin->id),
                            (unsigned)plugin->def.output_count, output_count);
  }
  if (!inputs || !outputs) {
    return kiln_make_status(
        KILN_STATUS_INVALID_ARGUMENT, "%s of plugin '%.*s': %s is NULL",
        callback, KILN_SV_ARG(plugin->id), inputs ? "outputs" : "inputs");
  }
  for (size_t i = 0; i < input_count; ++i) {
    char what[48];
    snprintf(what, sizeof(what), "input %zu", i);
    kiln_status_t status = kiln_tensor_desc_validate(&inputs[i], what);
    if (status) {
      return kiln_status_annotate(status, "%s of plugin '%.*s'", callback,
                                  KILN_SV_ARG(plugin->id));
    }
  }
  return NULL;
}

kiln_status_t kiln_plugin_describe(
    const kiln_plugin_t* plugin, const kiln_tensor_desc_t* inputs,
    size_t input_count, const kiln_attrs_t* attrs, kiln_sym_table_t* sym,
    kiln_tensor_desc_t* outputs, size_t output_count) {
  if (!plugin) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "kiln_plugin_describe: plugin is NULL");
  }
  const char* callback = kiln__callback_name(KILN__CALLBACK_DESCRIBE);
  KILN_RETURN_IF_ERROR(
      check_io(plugin, callback, inputs, input_count, outputs, output_count));
  if (!sym) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "describe of plugin '%.*s': the sym table is NULL",
                            KILN_SV_ARG(plugin->id));
  }
  kiln_attrs_t view;
  KILN_RETURN_IF_ERROR(
      kiln__plugin_attrs_view(plugin, attrs, KILN__CALLBACK_DESCRIBE, &view));

  // The callback writes into scratch so that |outputs| changes only on
  // success.
  kiln_allocator_t allocator = kiln__plugin_allocator(plugin);
  size_t bytes = 0;
  KILN_RETURN_IF_ERROR(kiln__size_mul(output_count, sizeof(kiln_tensor_desc_t),
                                      "describe outputs", &bytes));
  void* block = NULL;
  KILN_RETURN_IF_ERROR(kiln_allocator_malloc(allocator, bytes, &block));
  kiln_tensor_desc_t* scratch = (kiln_tensor_desc_t*)block;
  for (size_t i = 0; i < output_count; ++i) {
    // An output the callback leaves alone fails validation (no dtype).
    scratch[i] = kiln_tensor_desc_like(NULL);
  }
  kiln_describe_args_t args;
  memset(&args, 0, sizeof(args));
  args.plugin = plugin;
  args.inputs = inputs;
  args.input_count = input_count;
  args.output_count = output_count;
  args.attrs = &view;
  args.sym = sym;
  kiln_status_t status =
      plugin->def.describe(plugin->def.user_data, &args, scratch);
  if (status) {
    status = kiln_status_annotate(status, "describe of plugin '%.*s'",
                                  KILN_SV_ARG(plugin->id));
  }
  describe_check_t check;
  memset(&check, 0, sizeof(check));
  check.plugin = plugin;
  check.outputs = scratch;
  check.output_count = output_count;
  check.visited.allocator = allocator;
  for (size_t i = 0; i < output_count && !status; ++i) {
    status = check_output(&check, i, inputs, input_count, sym);
  }
  if (!status) memcpy(outputs, scratch, bytes);
  kiln_allocator_free(allocator, (void*)check.visited.slots);
  kiln_allocator_free(allocator, scratch);
  return status;
}

//===----------------------------------------------------------------------===//
// autotune
//===----------------------------------------------------------------------===//

// Adds the default combination: the given dtypes, LINEAR, tactic 0.
static kiln_status_t add_default_combination(kiln_autotune_result_t* result,
                                             kiln_allocator_t allocator,
                                             const kiln_tensor_desc_t* inputs,
                                             size_t input_count,
                                             const kiln_tensor_desc_t* outputs,
                                             size_t output_count) {
  size_t io = input_count + output_count;
  size_t bytes = 0;
  KILN_RETURN_IF_ERROR(
      kiln__size_mul(io, sizeof(kiln_dtype_t) + sizeof(kiln_format_t),
                     "default combination", &bytes));
  void* block = NULL;
  KILN_RETURN_IF_ERROR(kiln_allocator_malloc(allocator, bytes, &block));
  kiln_dtype_t* types = (kiln_dtype_t*)block;
  kiln_format_t* formats = (kiln_format_t*)(types + io);
  for (size_t i = 0; i < io; ++i) {
    types[i] =
        i < input_count ? inputs[i].dtype : outputs[i - input_count].dtype;
    formats[i] = KILN_FORMAT_LINEAR;
  }
  kiln_autotune_combination_t combination;
  memset(&combination, 0, sizeof(combination));
  combination.io_types = types;
  combination.io_formats = formats;
  kiln_status_t status = kiln_autotune_result_add(result, &combination);
  kiln_allocator_free(allocator, block);
  return status;
}

kiln_status_t kiln_plugin_autotune(
    const kiln_plugin_t* plugin, const kiln_tensor_desc_t* inputs,
    size_t input_count, const kiln_tensor_desc_t* outputs, size_t output_count,
    const kiln_attrs_t* attrs, kiln_allocator_t allocator,
    kiln_autotune_result_t** out_result) {
  if (!out_result) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "kiln_plugin_autotune: out_result is NULL");
  }
  *out_result = NULL;
  if (!plugin) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "kiln_plugin_autotune: plugin is NULL");
  }
  const char* callback = kiln__callback_name(KILN__CALLBACK_AUTOTUNE);
  KILN_RETURN_IF_ERROR(
      check_io(plugin, callback, inputs, input_count, outputs, output_count));
  for (size_t i = 0; i < output_count; ++i) {
    char what[48];
    snprintf(what, sizeof(what), "output %zu", i);
    kiln_status_t status = kiln_tensor_desc_validate(&outputs[i], what);
    if (status) {
      return kiln_status_annotate(status, "autotune of plugin '%.*s'",
                                  KILN_SV_ARG(plugin->id));
    }
  }
  kiln_attrs_t view;
  KILN_RETURN_IF_ERROR(
      kiln__plugin_attrs_view(plugin, attrs, KILN__CALLBACK_AUTOTUNE, &view));
  kiln_autotune_result_t* result = NULL;
  KILN_RETURN_IF_ERROR(kiln_autotune_result_create(input_count + output_count,
                                                   allocator, &result));
  kiln_status_t status = NULL;
  if (!plugin->def.autotune) {
    status = add_default_combination(result, allocator, inputs, input_count,
                                     outputs, output_count);
  } else {
    kiln_autotune_args_t args;
    memset(&args, 0, sizeof(args));
    args.plugin = plugin;
    args.inputs = inputs;
    args.input_count = input_count;
    args.outputs = outputs;
    args.output_count = output_count;
    args.attrs = &view;
    status = plugin->def.autotune(plugin->def.user_data, &args, result);
    if (!status && kiln_autotune_result_count(result) == 0) {
      status = kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                                "listed no type/format combinations");
    }
  }
  if (status) {
    kiln_autotune_result_destroy(result);
    return kiln_status_annotate(status, "autotune of plugin '%.*s'",
                                KILN_SV_ARG(plugin->id));
  }
  *out_result = result;
  return NULL;
}
