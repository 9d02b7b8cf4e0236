// Engine descriptions: readable text and JSON with the same facts, for
// `kiln inspect`. Only verified plans are described, so every index and span
// used here has been checked; strings are escaped in both forms (names may
// hold any UTF-8, including control characters).

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "base/blob.h"
#include "base/size.h"
#include "engine/engine.h"
#include "sym/sym.h"

// Printed expressions longer than this end in "...".
#define EXPR_TEXT_CAPACITY 512

typedef struct describer_t {
  const kiln__plan_t* plan;
  const kiln__engine_file_info_t* file;
  kiln__writer_t* out;
  bool json;
  kiln__arena_t scratch;
  const char** input_names;  // by ordinal, NUL-terminated
  uint32_t* input_tensor;    // ordinal -> tensor
  kiln_dims_t* dims_min;     // by ordinal: scratch for bounds
  kiln_dims_t* dims_max;
  char expr_text[EXPR_TEXT_CAPACITY];
} describer_t;

static kiln_status_t appendf(describer_t* d, const char* format, ...)
    KILN_PRINTF(2, 3);

static kiln_status_t appendf(describer_t* d, const char* format, ...) {
  char small[256];
  va_list args;
  va_start(args, format);
  int n = vsnprintf(small, sizeof(small), format, args);
  va_end(args);
  if (n < 0) {
    return kiln_make_status(KILN_STATUS_INTERNAL, "bad format \"%s\"", format);
  }
  if ((size_t)n < sizeof(small)) {
    return kiln__writer_append(d->out, small, (size_t)n);
  }
  // Longer texts are formatted in place at the end of the writer.
  size_t start = d->out->size;
  static const char room[64] = {0};
  size_t grown = 0;
  kiln_status_t status = NULL;
  while (!status && grown < (size_t)n + 1) {
    size_t step = (size_t)n + 1 - grown;
    if (step > sizeof(room)) step = sizeof(room);
    status = kiln__writer_append(d->out, room, step);
    grown += step;
  }
  if (status) {
    d->out->size = start;
    return status;
  }
  va_start(args, format);
  vsnprintf((char*)d->out->data + start, (size_t)n + 1, format, args);
  va_end(args);
  d->out->size = start + (size_t)n;
  return NULL;
}

#define OUT(...) KILN_RETURN_IF_ERROR(appendf(d, __VA_ARGS__))

// Appends |size| bytes of UTF-8 escaped by JSON's rules (which also read
// well as text), between quotes when |quoted|.
static kiln_status_t append_escaped(describer_t* d, const char* s, size_t size,
                                    bool quoted) {
  if (quoted) KILN_RETURN_IF_ERROR(kiln__writer_u8(d->out, '"'));
  size_t run = 0;  // bytes copied as they are, pending
  for (size_t i = 0; i < size; ++i) {
    unsigned char c = (unsigned char)s[i];
    const char* escape = NULL;
    char hex[8];
    switch (c) {
      case '"':
        escape = "\\\"";
        break;
      case '\\':
        escape = "\\\\";
        break;
      case '\n':
        escape = "\\n";
        break;
      case '\r':
        escape = "\\r";
        break;
      case '\t':
        escape = "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          snprintf(hex, sizeof(hex), "\\u%04x", (unsigned)c);
          escape = hex;
        }
        break;
    }
    if (!escape) {
      ++run;
      continue;
    }
    KILN_RETURN_IF_ERROR(kiln__writer_append(d->out, s + i - run, run));
    run = 0;
    KILN_RETURN_IF_ERROR(kiln__writer_append(d->out, escape, strlen(escape)));
  }
  KILN_RETURN_IF_ERROR(kiln__writer_append(d->out, s + size - run, run));
  return quoted ? kiln__writer_u8(d->out, '"') : NULL;
}

static kiln_status_t append_quoted(describer_t* d, const char* s, size_t size) {
  return append_escaped(d, s, size, true);
}

static kiln_string_view_t blob_string(const describer_t* d,
                                      kiln__plan_span_t span) {
  return kiln_make_string_view((const char*)d->plan->blob.data + span.offset,
                               (size_t)span.size);
}

static kiln_status_t append_span_string(describer_t* d,
                                        kiln__plan_span_t span) {
  kiln_string_view_t s = blob_string(d, span);
  return append_quoted(d, s.data, s.size);
}

// Prints expression |index| with the inputs' names into d->expr_text.
static const char* expr_text(describer_t* d, uint32_t index) {
  size_t length = 0;
  kiln_status_t status = kiln_sym_print(d->plan->exprs[index], d->input_names,
                                        d->plan->input_count, d->expr_text,
                                        sizeof(d->expr_text), &length);
  if (status) {
    kiln_status_free(status);
    memcpy(d->expr_text + sizeof(d->expr_text) - 4, "...", 4);
  }
  return d->expr_text;
}

static kiln_status_t append_expr(describer_t* d, uint32_t index) {
  const char* text = expr_text(d, index);
  if (d->json) return append_quoted(d, text, strlen(text));
  return kiln__writer_append(d->out, text, strlen(text));
}

static kiln_status_t append_dims(describer_t* d,
                                 const kiln__plan_tensor_t* tensor) {
  OUT("[");
  for (int32_t j = 0; j < tensor->rank; ++j) {
    if (j) OUT(", ");
    KILN_RETURN_IF_ERROR(append_expr(d, tensor->dims[j]));
  }
  OUT("]");
  return NULL;
}

// Returns true when a dimension of tensor |t| depends on a size tensor.
static bool is_data_dependent(const describer_t* d, uint32_t t) {
  const kiln__plan_tensor_t* tensor = &d->plan->tensors[t];
  for (int32_t j = 0; j < tensor->rank; ++j) {
    if (kiln__sym_uses_size_tensor(d->plan->exprs[tensor->dims[j]])) {
      return true;
    }
  }
  return false;
}

// The upper bound of expression |index| over every profile's ranges (each
// size tensor between 0 and its upper bound). False when the expression
// has none (an interval end overflows, a divisor's range holds 0).
static bool expr_upper_bound(describer_t* d, uint32_t index,
                             int64_t* out_bound) {
  const kiln__plan_t* plan = d->plan;
  uint32_t profiles = plan->profile_count ? plan->profile_count : 1;
  bool any = false;
  for (uint32_t p = 0; p < profiles; ++p) {
    for (uint32_t i = 0; i < plan->input_count; ++i) {
      const kiln__plan_tensor_t* tensor = &plan->tensors[d->input_tensor[i]];
      d->dims_min[i].rank = d->dims_max[i].rank = tensor->rank;
      for (int32_t j = 0; j < tensor->rank; ++j) {
        int64_t lo = 0, hi = 0;
        if (plan->profile_count) {
          kiln__plan_dim_range_t r =
              kiln__plan_dim_range(plan, p, i, (uint32_t)j);
          lo = r.min;
          hi = r.max;
        } else if (kiln_sym_is_constant(plan->exprs[tensor->dims[j]], &lo)) {
          hi = lo;
        }
        d->dims_min[i].d[j] = lo;
        d->dims_max[i].d[j] = hi;
      }
    }
    kiln__sym_bounds_env_t env = {d->dims_min, d->dims_max, plan->input_count};
    kiln__sym_interval_t range;
    kiln_status_t status =
        kiln__sym_bounds(plan->sym, plan->exprs[index], &env, &range);
    if (status) {
      kiln_status_free(status);
      return false;
    }
    if (!any || range.hi > *out_bound) *out_bound = range.hi;
    any = true;
  }
  return any;
}

// For a data-dependent tensor, appends its data-dependent dimensions and
// their upper bounds: text ", data-dependent: dim 0 <= 4096", JSON
// ", \"data_dependent\": [{\"dim\": 0, \"max\": 4096}]" (null when unbounded).
static kiln_status_t append_data_dependent(describer_t* d, uint32_t t) {
  if (!is_data_dependent(d, t)) return NULL;
  const kiln__plan_tensor_t* tensor = &d->plan->tensors[t];
  OUT(d->json ? ", \"data_dependent\": [" : ", data-dependent:");
  bool first = true;
  for (int32_t j = 0; j < tensor->rank; ++j) {
    if (!kiln__sym_uses_size_tensor(d->plan->exprs[tensor->dims[j]])) continue;
    int64_t bound = 0;
    bool bounded = expr_upper_bound(d, tensor->dims[j], &bound);
    if (d->json) {
      OUT("%s{\"dim\": %" PRId32 ", \"max\": ", first ? "" : ", ", j);
      if (bounded) {
        OUT("%" PRId64 "}", bound);
      } else {
        OUT("null}");
      }
    } else {
      OUT("%s dim %" PRId32, first ? "" : ",", j);
      if (bounded) {
        OUT(" <= %" PRId64, bound);
      } else {
        OUT(" (unbounded)");
      }
    }
    first = false;
  }
  if (d->json) OUT("]");
  return NULL;
}

static const char* tensor_kind_name(uint8_t kind) {
  static const char* const names[] = {"input", "constant", "activation"};
  return kind < KILN__TENSOR_KIND_COUNT ? names[kind] : "unknown";
}

static const char* param_kind_name(uint8_t kind) {
  static const char* const names[] = {
      "input", "output", "arg", "zero", "global_scratch", "profile_scratch"};
  return kind < KILN__PARAM_KIND_COUNT ? names[kind] : "unknown";
}

static const char* arg_type_name(uint8_t type) {
  static const char* const names[] = {"int32", "int64", "float32"};
  return type < KILN_ARG_TYPE_COUNT ? names[type] : "unknown";
}

static const char* image_kind_name(uint8_t kind) {
  return kind == KILN_KERNEL_IMAGE_PTX     ? "ptx"
         : kind == KILN_KERNEL_IMAGE_CUBIN ? "cubin"
                                           : "unknown";
}

static void version_parts(uint32_t version, unsigned parts[3]) {
  parts[0] = version / 10000;
  parts[1] = version / 100 % 100;
  parts[2] = version % 100;
}

// Appends a tensor reference for text: "x (tensor 0)" or "tensor 2".
static kiln_status_t append_tensor_ref(describer_t* d, uint32_t t) {
  const kiln__plan_tensor_t* tensor = &d->plan->tensors[t];
  if (tensor->name.size) {
    KILN_RETURN_IF_ERROR(append_span_string(d, tensor->name));
    OUT(" (tensor %" PRIu32 ")", t);
  } else {
    OUT("tensor %" PRIu32, t);
  }
  return NULL;
}

static kiln_status_t append_f32(describer_t* d, float value) {
  if (isfinite(value)) {
    OUT("%.9g", (double)value);
  } else if (d->json) {
    OUT("\"%s\"", isnan(value) ? "nan" : value > 0 ? "inf" : "-inf");
  } else {
    OUT("%s", isnan(value) ? "nan" : value > 0 ? "inf" : "-inf");
  }
  return NULL;
}

//===----------------------------------------------------------------------===//
// Text
//===----------------------------------------------------------------------===//

static kiln_status_t text_io_line(describer_t* d, uint32_t t) {
  const kiln__plan_tensor_t* tensor = &d->plan->tensors[t];
  OUT("  ");
  KILN_RETURN_IF_ERROR(append_span_string(d, tensor->name));
  OUT(": %s %s ", kiln_dtype_name((kiln_dtype_t)tensor->dtype),
      kiln_format_name((kiln_format_t)tensor->format));
  KILN_RETURN_IF_ERROR(append_dims(d, tensor));
  OUT(" (tensor %" PRIu32 ")", t);
  if (tensor->is_size_tensor) OUT(", size tensor s%" PRIu32, t);
  KILN_RETURN_IF_ERROR(append_data_dependent(d, t));
  OUT("\n");
  return NULL;
}

// "size tensors (1):" and one line per size tensor: the placeholder name
// expressions use (s<tensor>), the tensor, and the layer that computes it.
static kiln_status_t text_size_tensors(describer_t* d) {
  const kiln__plan_t* plan = d->plan;
  uint32_t count = 0;
  for (uint32_t t = 0; t < plan->tensor_count; ++t) {
    count += plan->tensors[t].is_size_tensor;
  }
  if (!count) return NULL;
  OUT("size tensors (%" PRIu32 "):\n", count);
  for (uint32_t t = 0; t < plan->tensor_count; ++t) {
    const kiln__plan_tensor_t* tensor = &plan->tensors[t];
    if (!tensor->is_size_tensor) continue;
    OUT("  s%" PRIu32 " = ", t);
    KILN_RETURN_IF_ERROR(append_tensor_ref(d, t));
    OUT(": %s, computed by layer %" PRIu32 "%s\n",
        kiln_dtype_name((kiln_dtype_t)tensor->dtype), tensor->producer,
        tensor->is_output ? ", an output" : "");
  }
  return NULL;
}

static kiln_status_t text_io(describer_t* d) {
  const kiln__plan_t* plan = d->plan;
  OUT("inputs (%" PRIu32 "):\n", plan->input_count);
  for (uint32_t i = 0; i < plan->input_count; ++i) {
    KILN_RETURN_IF_ERROR(text_io_line(d, d->input_tensor[i]));
  }
  OUT("outputs (%" PRIu32 "):\n", plan->output_count);
  for (uint32_t t = 0; t < plan->tensor_count; ++t) {
    if (plan->tensors[t].is_output) {
      KILN_RETURN_IF_ERROR(text_io_line(d, t));
    }
  }
  return NULL;
}

static kiln_status_t text_profiles(describer_t* d) {
  const kiln__plan_t* plan = d->plan;
  OUT("profiles (%" PRIu32 "):\n", plan->profile_count);
  for (uint32_t p = 0; p < plan->profile_count; ++p) {
    OUT("  profile %" PRIu32 ":\n", p);
    for (uint32_t i = 0; i < plan->input_count; ++i) {
      const kiln__plan_tensor_t* tensor = &plan->tensors[d->input_tensor[i]];
      OUT("    ");
      KILN_RETURN_IF_ERROR(append_span_string(d, tensor->name));
      OUT(": [");
      for (int32_t j = 0; j < tensor->rank; ++j) {
        kiln__plan_dim_range_t r =
            kiln__plan_dim_range(plan, p, i, (uint32_t)j);
        if (j) OUT(", ");
        if (r.min == r.max) {
          OUT("%" PRId64, r.min);
        } else {
          OUT("%" PRId64 "..%" PRId64 "..%" PRId64, r.min, r.opt, r.max);
        }
      }
      OUT("] (min..opt..max)\n");
    }
  }
  return NULL;
}

static kiln_status_t text_tensors(describer_t* d) {
  const kiln__plan_t* plan = d->plan;
  OUT("constants (%" PRIu32 "):\n", plan->constant_count);
  for (uint32_t t = 0; t < plan->tensor_count; ++t) {
    const kiln__plan_tensor_t* tensor = &plan->tensors[t];
    if (tensor->kind != KILN__TENSOR_CONSTANT) continue;
    const kiln__plan_constant_t* c = &plan->constants[tensor->constant];
    OUT("  constant %" PRIu32 ": ", tensor->constant);
    KILN_RETURN_IF_ERROR(append_tensor_ref(d, t));
    OUT(", %s ", kiln_dtype_name((kiln_dtype_t)tensor->dtype));
    KILN_RETURN_IF_ERROR(append_dims(d, tensor));
    OUT(", %" PRIu64 " bytes at blob offset %" PRIu64 "\n", c->data.size,
        c->data.offset);
  }
  OUT("tensors (%" PRIu32 "):\n", plan->tensor_count);
  for (uint32_t t = 0; t < plan->tensor_count; ++t) {
    const kiln__plan_tensor_t* tensor = &plan->tensors[t];
    OUT("  tensor %" PRIu32 " ", t);
    KILN_RETURN_IF_ERROR(append_span_string(d, tensor->name));
    OUT(": ");
    switch (tensor->kind) {
      case KILN__TENSOR_INPUT:
        OUT("input %" PRIu32, tensor->input_ordinal);
        break;
      case KILN__TENSOR_CONSTANT:
        OUT("constant %" PRIu32, tensor->constant);
        break;
      default:
        OUT("%s of layer %" PRIu32, tensor->is_output ? "output" : "activation",
            tensor->producer);
        break;
    }
    OUT(", %s %s ", kiln_dtype_name((kiln_dtype_t)tensor->dtype),
        kiln_format_name((kiln_format_t)tensor->format));
    KILN_RETURN_IF_ERROR(append_dims(d, tensor));
    OUT(", at most %" PRIu64 " bytes", tensor->max_bytes);
    if (tensor->is_size_tensor) OUT(", size tensor s%" PRIu32, t);
    KILN_RETURN_IF_ERROR(append_data_dependent(d, t));
    if (tensor->alias_of != KILN__NONE) {
      OUT(", aliases tensor %" PRIu32, tensor->alias_of);
    }
    if (tensor->arena_offset != UINT64_MAX) {
      OUT(", arena offset %" PRIu64, tensor->arena_offset);
    }
    OUT("\n");
  }
  return NULL;
}

static kiln_status_t text_kernels(describer_t* d) {
  const kiln__plan_t* plan = d->plan;
  OUT("kernels (%" PRIu32 "):\n", plan->kernel_count);
  for (uint32_t i = 0; i < plan->kernel_count; ++i) {
    const kiln__plan_kernel_t* k = &plan->kernels[i];
    // Entry symbols are printable ASCII (verified).
    OUT("  kernel %" PRIu32 " %.*s: %" PRIu32 " CTA%s per program\n", i,
        KILN_SV_ARG(blob_string(d, k->name)), k->num_ctas,
        k->num_ctas == 1 ? "" : "s");
    for (uint32_t j = 0; j < k->images.count; ++j) {
      const kiln__plan_image_t* image = &plan->images[k->images.first + j];
      OUT("    image %" PRIu32 ": ", k->images.first + j);
      if (image->kind == KILN_KERNEL_IMAGE_PTX) {
        if (image->sm_arch) {
          OUT("PTX for sm_%" PRIu32, image->sm_arch);
        } else {
          OUT("PTX (any arch)");
        }
      } else {
        OUT("cubin for sm_%" PRIu32, image->sm_arch);
      }
      OUT(", %" PRIu64 " bytes\n", image->data.size);
    }
    uint64_t offset = 0;
    OUT("    params (%" PRIu32 "):\n", k->params.count);
    for (uint32_t j = 0; j < k->params.count; ++j) {
      const kiln__plan_param_t* p = &plan->params[k->params.first + j];
      offset = (offset + p->align - 1) / p->align * p->align;
      OUT("      @%" PRIu64 " %s", offset, param_kind_name(p->kind));
      if (p->kind == KILN__PARAM_INPUT || p->kind == KILN__PARAM_OUTPUT ||
          p->kind == KILN__PARAM_ARG) {
        OUT(" %" PRIu32, p->index);
      }
      OUT(": %u bytes, align %u\n", (unsigned)p->size, (unsigned)p->align);
      offset += p->size;
    }
    OUT("    parameter bytes: %" PRIu64 "\n", offset);
    if (k->global_scratch_size) {
      OUT("    global scratch: %" PRIu64 " bytes per CTA, align %" PRIu32 "\n",
          k->global_scratch_size, k->global_scratch_align);
    }
    if (k->profile_scratch_size) {
      OUT("    profile scratch: %" PRIu64 " bytes per CTA, align %" PRIu32 "\n",
          k->profile_scratch_size, k->profile_scratch_align);
    }
  }
  return NULL;
}

static kiln_status_t text_layers(describer_t* d) {
  const kiln__plan_t* plan = d->plan;
  OUT("layers (%" PRIu32 "):\n", plan->layer_count);
  for (uint32_t i = 0; i < plan->layer_count; ++i) {
    const kiln__plan_layer_t* l = &plan->layers[i];
    OUT("  layer %" PRIu32 " ", i);
    KILN_RETURN_IF_ERROR(append_span_string(d, l->name));
    OUT(": ");
    kiln_string_view_t id = blob_string(d, l->plugin_id);
    KILN_RETURN_IF_ERROR(append_escaped(d, id.data, id.size, false));
    OUT(", %s, tactic %" PRId32 "\n",
        l->kind == KILN__LAYER_AOT ? "AOT" : "host", l->tactic);
    for (int side = 0; side < 2; ++side) {
      const kiln__plan_range_t* r = side ? &l->outputs : &l->inputs;
      OUT("    %s: ", side ? "outputs" : "inputs");
      for (uint32_t k = 0; k < r->count; ++k) {
        if (k) OUT(", ");
        KILN_RETURN_IF_ERROR(append_tensor_ref(d, plan->indices[r->first + k]));
      }
      OUT("%s\n", r->count ? "" : "none");
    }
    if (l->kind != KILN__LAYER_AOT) {
      OUT("    host implementation, %" PRIu64 " bytes of attributes\n",
          l->host_attrs.size);
      continue;
    }
    OUT("    kernel %" PRIu32 " %.*s\n", l->kernel,
        KILN_SV_ARG(blob_string(d, plan->kernels[l->kernel].name)));
    static const char* const names[2] = {"grid", "block"};
    for (int which = 0; which < 2; ++which) {
      const uint32_t* e = which ? l->block : l->grid;
      OUT("    %s = (", names[which]);
      for (int k = 0; k < 3; ++k) {
        if (k) OUT(", ");
        KILN_RETURN_IF_ERROR(append_expr(d, e[k]));
      }
      OUT(")\n");
    }
    OUT("    shared_mem = ");
    KILN_RETURN_IF_ERROR(append_expr(d, l->shared_mem));
    OUT("\n");
    OUT("    args (%" PRIu32 "):\n", l->args.count);
    for (uint32_t k = 0; k < l->args.count; ++k) {
      const kiln__plan_arg_t* a = &plan->args[l->args.first + k];
      OUT("      arg %" PRIu32 ": %s = ", k, arg_type_name(a->type));
      if (a->type == KILN_ARG_TYPE_FLOAT32) {
        KILN_RETURN_IF_ERROR(append_f32(d, a->f32));
      } else {
        KILN_RETURN_IF_ERROR(append_expr(d, a->expr));
      }
      OUT("\n");
    }
  }
  return NULL;
}

// The first layer that runs a host implementation, or KILN__NONE. A
// context of an engine with one cannot capture its enqueue into a CUDA
// graph (kiln_context_set_graphs), so it runs in stream mode.
static uint32_t first_host_layer(const kiln__plan_t* plan) {
  for (uint32_t i = 0; i < plan->layer_count; ++i) {
    if (plan->layers[i].kind == KILN__LAYER_HOST) return i;
  }
  return KILN__NONE;
}

// Appends "layer 2 'x' runs a host implementation" for layer |host|, the
// name escaped as in JSON strings (so it fits in one).
static kiln_status_t append_host_reason(describer_t* d, uint32_t host) {
  OUT("layer %" PRIu32, host);
  kiln_string_view_t name = blob_string(d, d->plan->layers[host].name);
  if (name.size) {
    OUT(" '");
    KILN_RETURN_IF_ERROR(append_escaped(d, name.data, name.size, false));
    OUT("'");
  }
  OUT(" runs a host implementation");
  return NULL;
}

// "CUDA graphs: yes" or "no (layer 2 'x' runs a host implementation)".
static kiln_status_t text_graphs(describer_t* d) {
  const kiln__plan_t* plan = d->plan;
  uint32_t host = first_host_layer(plan);
  if (host == KILN__NONE) {
    OUT("CUDA graphs: %s\n",
        plan->kernel_count ? "yes" : "no (the engine launches no kernels)");
    return NULL;
  }
  OUT("CUDA graphs: no (");
  KILN_RETURN_IF_ERROR(append_host_reason(d, host));
  OUT(")\n");
  return NULL;
}

static kiln_status_t describe_text(describer_t* d) {
  const kiln__plan_t* plan = d->plan;
  unsigned v[3];
  version_parts(plan->info.kiln_version, v);
  OUT("kiln engine");
  if (d->file) {
    OUT(": format %u.%u, %" PRIu64 " bytes, %" PRIu32 " sections",
        (unsigned)d->file->format_major, (unsigned)d->file->format_minor,
        d->file->file_size, d->file->section_count);
  }
  OUT("\nbuilt by kiln %u.%u.%u; ", v[0], v[1], v[2]);
  if (plan->info.timed) {
    OUT("tactics timed on sm_%" PRIu32 "\n", plan->info.timed_sm_arch);
  } else {
    OUT("tactics not timed\n");
  }
  OUT("activation arena: %" PRIu64 " bytes; blob: %zu bytes; %" PRIu32
      " expressions\n",
      plan->activation_bytes, plan->blob.size, plan->expr_count);
  OUT("%" PRIu32 " layers, %" PRIu32 " kernels, %" PRIu32 " images, %" PRIu32
      " tensors\n",
      plan->layer_count, plan->kernel_count, plan->image_count,
      plan->tensor_count);
  KILN_RETURN_IF_ERROR(text_graphs(d));
  OUT("\n");
  KILN_RETURN_IF_ERROR(text_io(d));
  KILN_RETURN_IF_ERROR(text_size_tensors(d));
  KILN_RETURN_IF_ERROR(text_profiles(d));
  KILN_RETURN_IF_ERROR(text_tensors(d));
  KILN_RETURN_IF_ERROR(text_kernels(d));
  return text_layers(d);
}

//===----------------------------------------------------------------------===//
// JSON
//===----------------------------------------------------------------------===//

static kiln_status_t json_tensor_core(describer_t* d, uint32_t t) {
  const kiln__plan_tensor_t* tensor = &d->plan->tensors[t];
  OUT("\"tensor\": %" PRIu32 ", \"name\": ", t);
  KILN_RETURN_IF_ERROR(append_span_string(d, tensor->name));
  OUT(", \"dtype\": \"%s\", \"format\": \"%s\", \"dims\": ",
      kiln_dtype_name((kiln_dtype_t)tensor->dtype),
      kiln_format_name((kiln_format_t)tensor->format));
  KILN_RETURN_IF_ERROR(append_dims(d, tensor));
  if (tensor->is_size_tensor) OUT(", \"size_tensor\": \"s%" PRIu32 "\"", t);
  return append_data_dependent(d, t);
}

static kiln_status_t json_io(describer_t* d) {
  const kiln__plan_t* plan = d->plan;
  OUT("  \"inputs\": [");
  for (uint32_t i = 0; i < plan->input_count; ++i) {
    OUT("%s\n    {", i ? "," : "");
    KILN_RETURN_IF_ERROR(json_tensor_core(d, d->input_tensor[i]));
    OUT("}");
  }
  OUT("%s],\n  \"outputs\": [", plan->input_count ? "\n  " : "");
  bool first = true;
  for (uint32_t t = 0; t < plan->tensor_count; ++t) {
    if (!plan->tensors[t].is_output) continue;
    OUT("%s\n    {", first ? "" : ",");
    first = false;
    KILN_RETURN_IF_ERROR(json_tensor_core(d, t));
    OUT("}");
  }
  OUT("%s],\n", first ? "" : "\n  ");
  return NULL;
}

static kiln_status_t json_profiles(describer_t* d) {
  const kiln__plan_t* plan = d->plan;
  OUT("  \"profiles\": [");
  for (uint32_t p = 0; p < plan->profile_count; ++p) {
    OUT("%s\n    [", p ? "," : "");
    for (uint32_t i = 0; i < plan->input_count; ++i) {
      const kiln__plan_tensor_t* tensor = &plan->tensors[d->input_tensor[i]];
      OUT("%s{\"input\": ", i ? ", " : "");
      KILN_RETURN_IF_ERROR(append_span_string(d, tensor->name));
      OUT(", \"dims\": [");
      for (int32_t j = 0; j < tensor->rank; ++j) {
        kiln__plan_dim_range_t r =
            kiln__plan_dim_range(plan, p, i, (uint32_t)j);
        OUT("%s{\"min\": %" PRId64 ", \"opt\": %" PRId64 ", \"max\": %" PRId64
            "}",
            j ? ", " : "", r.min, r.opt, r.max);
      }
      OUT("]}");
    }
    OUT("]");
  }
  OUT("%s],\n", plan->profile_count ? "\n  " : "");
  return NULL;
}

static kiln_status_t json_tensors(describer_t* d) {
  const kiln__plan_t* plan = d->plan;
  OUT("  \"constants\": [");
  bool first = true;
  for (uint32_t t = 0; t < plan->tensor_count; ++t) {
    const kiln__plan_tensor_t* tensor = &plan->tensors[t];
    if (tensor->kind != KILN__TENSOR_CONSTANT) continue;
    const kiln__plan_constant_t* c = &plan->constants[tensor->constant];
    OUT("%s\n    {\"constant\": %" PRIu32 ", ", first ? "" : ",",
        tensor->constant);
    first = false;
    KILN_RETURN_IF_ERROR(json_tensor_core(d, t));
    OUT(", \"bytes\": %" PRIu64 ", \"blob_offset\": %" PRIu64 "}", c->data.size,
        c->data.offset);
  }
  OUT("%s],\n  \"tensors\": [", first ? "" : "\n  ");
  for (uint32_t t = 0; t < plan->tensor_count; ++t) {
    const kiln__plan_tensor_t* tensor = &plan->tensors[t];
    OUT("%s\n    {", t ? "," : "");
    KILN_RETURN_IF_ERROR(json_tensor_core(d, t));
    OUT(", \"kind\": \"%s\", \"is_output\": %s, \"max_bytes\": %" PRIu64,
        tensor_kind_name(tensor->kind), tensor->is_output ? "true" : "false",
        tensor->max_bytes);
    switch (tensor->kind) {
      case KILN__TENSOR_INPUT:
        OUT(", \"input_ordinal\": %" PRIu32, tensor->input_ordinal);
        break;
      case KILN__TENSOR_CONSTANT:
        OUT(", \"constant\": %" PRIu32, tensor->constant);
        break;
      default:
        OUT(", \"producer\": %" PRIu32, tensor->producer);
        break;
    }
    if (tensor->alias_of != KILN__NONE) {
      OUT(", \"alias_of\": %" PRIu32, tensor->alias_of);
    } else {
      OUT(", \"alias_of\": null");
    }
    if (tensor->arena_offset != UINT64_MAX) {
      OUT(", \"arena_offset\": %" PRIu64 "}", tensor->arena_offset);
    } else {
      OUT(", \"arena_offset\": null}");
    }
  }
  OUT("%s],\n", plan->tensor_count ? "\n  " : "");
  return NULL;
}

static kiln_status_t json_kernels(describer_t* d) {
  const kiln__plan_t* plan = d->plan;
  OUT("  \"kernels\": [");
  for (uint32_t i = 0; i < plan->kernel_count; ++i) {
    const kiln__plan_kernel_t* k = &plan->kernels[i];
    OUT("%s\n    {\"index\": %" PRIu32 ", \"name\": ", i ? "," : "", i);
    KILN_RETURN_IF_ERROR(append_span_string(d, k->name));
    OUT(", \"num_ctas\": %" PRIu32 ",\n     \"images\": [", k->num_ctas);
    for (uint32_t j = 0; j < k->images.count; ++j) {
      const kiln__plan_image_t* image = &plan->images[k->images.first + j];
      OUT("%s{\"index\": %" PRIu32 ", \"kind\": \"%s\", \"sm_arch\": %" PRIu32
          ", \"bytes\": %" PRIu64 "}",
          j ? ", " : "", k->images.first + j, image_kind_name(image->kind),
          image->sm_arch, image->data.size);
    }
    OUT("],\n     \"params\": [");
    uint64_t offset = 0;
    for (uint32_t j = 0; j < k->params.count; ++j) {
      const kiln__plan_param_t* p = &plan->params[k->params.first + j];
      offset = (offset + p->align - 1) / p->align * p->align;
      OUT("%s{\"kind\": \"%s\", ", j ? ", " : "", param_kind_name(p->kind));
      if (p->kind == KILN__PARAM_INPUT || p->kind == KILN__PARAM_OUTPUT ||
          p->kind == KILN__PARAM_ARG) {
        OUT("\"index\": %" PRIu32 ", ", p->index);
      }
      OUT("\"offset\": %" PRIu64 ", \"size\": %u, \"align\": %u}", offset,
          (unsigned)p->size, (unsigned)p->align);
      offset += p->size;
    }
    OUT("],\n     \"param_bytes\": %" PRIu64
        ", \"global_scratch\": {\"size\": %" PRIu64 ", \"align\": %" PRIu32
        "}, \"profile_scratch\": {\"size\": %" PRIu64 ", \"align\": %" PRIu32
        "}}",
        offset, k->global_scratch_size, k->global_scratch_align,
        k->profile_scratch_size, k->profile_scratch_align);
  }
  OUT("%s],\n", plan->kernel_count ? "\n  " : "");
  return NULL;
}

static kiln_status_t json_layers(describer_t* d) {
  const kiln__plan_t* plan = d->plan;
  OUT("  \"layers\": [");
  for (uint32_t i = 0; i < plan->layer_count; ++i) {
    const kiln__plan_layer_t* l = &plan->layers[i];
    OUT("%s\n    {\"index\": %" PRIu32 ", \"name\": ", i ? "," : "", i);
    KILN_RETURN_IF_ERROR(append_span_string(d, l->name));
    OUT(", \"plugin_id\": ");
    KILN_RETURN_IF_ERROR(append_span_string(d, l->plugin_id));
    OUT(", \"kind\": \"%s\", \"tactic\": %" PRId32,
        l->kind == KILN__LAYER_AOT ? "aot" : "host", l->tactic);
    for (int side = 0; side < 2; ++side) {
      const kiln__plan_range_t* r = side ? &l->outputs : &l->inputs;
      OUT(", \"%s\": [", side ? "outputs" : "inputs");
      for (uint32_t k = 0; k < r->count; ++k) {
        OUT("%s%" PRIu32, k ? ", " : "", plan->indices[r->first + k]);
      }
      OUT("]");
    }
    if (l->kind != KILN__LAYER_AOT) {
      OUT(", \"host_attr_bytes\": %" PRIu64 "}", l->host_attrs.size);
      continue;
    }
    OUT(",\n     \"kernel\": %" PRIu32, l->kernel);
    static const char* const names[2] = {"grid", "block"};
    for (int which = 0; which < 2; ++which) {
      const uint32_t* e = which ? l->block : l->grid;
      OUT(",\n     \"%s\": [", names[which]);
      for (int k = 0; k < 3; ++k) {
        if (k) OUT(", ");
        KILN_RETURN_IF_ERROR(append_expr(d, e[k]));
      }
      OUT("]");
    }
    OUT(", \"shared_mem\": ");
    KILN_RETURN_IF_ERROR(append_expr(d, l->shared_mem));
    OUT(",\n     \"args\": [");
    for (uint32_t k = 0; k < l->args.count; ++k) {
      const kiln__plan_arg_t* a = &plan->args[l->args.first + k];
      OUT("%s{\"type\": \"%s\", \"value\": ", k ? ", " : "",
          arg_type_name(a->type));
      if (a->type == KILN_ARG_TYPE_FLOAT32) {
        KILN_RETURN_IF_ERROR(append_f32(d, a->f32));
      } else {
        KILN_RETURN_IF_ERROR(append_expr(d, a->expr));
      }
      OUT("}");
    }
    OUT("]}");
  }
  OUT("%s]\n", plan->layer_count ? "\n  " : "");
  return NULL;
}

static kiln_status_t describe_json(describer_t* d) {
  const kiln__plan_t* plan = d->plan;
  unsigned v[3];
  version_parts(plan->info.kiln_version, v);
  OUT("{\n");
  if (d->file) {
    OUT("  \"format\": {\"major\": %u, \"minor\": %u}, \"file_bytes\": "
        "%" PRIu64 ", \"sections\": %" PRIu32 ",\n",
        (unsigned)d->file->format_major, (unsigned)d->file->format_minor,
        d->file->file_size, d->file->section_count);
  }
  OUT("  \"build\": {\"kiln_version\": \"%u.%u.%u\", \"timed\": %s, "
      "\"timed_sm_arch\": %" PRIu32 "},\n",
      v[0], v[1], v[2], plan->info.timed ? "true" : "false",
      plan->info.timed_sm_arch);
  OUT("  \"activation_bytes\": %" PRIu64
      ", \"blob_bytes\": %zu, "
      "\"expressions\": %" PRIu32 ",\n",
      plan->activation_bytes, plan->blob.size, plan->expr_count);
  uint32_t host = first_host_layer(plan);
  if (host != KILN__NONE) {
    OUT("  \"cuda_graphs\": {\"supported\": false, \"host_layer\": %" PRIu32
        ", \"reason\": \"",
        host);
    KILN_RETURN_IF_ERROR(append_host_reason(d, host));
    OUT("\"},\n");
  } else {
    OUT("  \"cuda_graphs\": {\"supported\": %s},\n",
        plan->kernel_count ? "true" : "false");
  }
  KILN_RETURN_IF_ERROR(json_io(d));
  KILN_RETURN_IF_ERROR(json_profiles(d));
  KILN_RETURN_IF_ERROR(json_tensors(d));
  KILN_RETURN_IF_ERROR(json_kernels(d));
  KILN_RETURN_IF_ERROR(json_layers(d));
  OUT("}\n");
  return NULL;
}

//===----------------------------------------------------------------------===//
// Entry points
//===----------------------------------------------------------------------===//

static kiln_status_t describe(describer_t* d) {
  const kiln__plan_t* plan = d->plan;
  void* names = NULL;
  void* tensors = NULL;
  KILN_RETURN_IF_ERROR(kiln__arena_alloc(
      &d->scratch, (size_t)plan->input_count * sizeof(char*), 8, &names));
  KILN_RETURN_IF_ERROR(kiln__arena_alloc(
      &d->scratch, (size_t)plan->input_count * sizeof(uint32_t), 8, &tensors));
  d->input_names = (const char**)names;
  d->input_tensor = (uint32_t*)tensors;
  void* bounds = NULL;
  KILN_RETURN_IF_ERROR(kiln__arena_alloc(
      &d->scratch, 2 * (size_t)plan->input_count * sizeof(kiln_dims_t), 8,
      &bounds));
  d->dims_min = (kiln_dims_t*)bounds;
  d->dims_max = d->dims_min + plan->input_count;
  for (uint32_t t = 0; t < plan->tensor_count; ++t) {
    const kiln__plan_tensor_t* tensor = &plan->tensors[t];
    if (tensor->kind != KILN__TENSOR_INPUT) continue;
    void* memory = NULL;
    KILN_RETURN_IF_ERROR(kiln__arena_alloc(
        &d->scratch, (size_t)tensor->name.size + 1, 1, &memory));
    char* name = (char*)memory;
    memcpy(name, plan->blob.data + tensor->name.offset,
           (size_t)tensor->name.size);
    d->input_names[tensor->input_ordinal] = name;
    d->input_tensor[tensor->input_ordinal] = t;
  }
  return d->json ? describe_json(d) : describe_text(d);
}

kiln_status_t kiln__plan_describe(const kiln__plan_t* plan,
                                  const kiln__engine_file_info_t* file,
                                  bool json, kiln__writer_t* out) {
  if (!plan || !out) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "NULL plan or writer");
  }
  void* memory = NULL;
  KILN_RETURN_IF_ERROR(
      kiln_allocator_malloc(out->allocator, sizeof(describer_t), &memory));
  describer_t* d = (describer_t*)memory;
  d->plan = plan;
  d->file = file;
  d->out = out;
  d->json = json;
  kiln__arena_init(&d->scratch, out->allocator);
  size_t start = out->size;
  kiln_status_t status = describe(d);
  kiln__arena_deinit(&d->scratch);
  kiln_allocator_free(out->allocator, d);
  if (status) out->size = start;
  return status;
}

kiln_status_t kiln_engine_describe(kiln_const_bytes_t data, bool json,
                                   kiln_allocator_t allocator,
                                   kiln_blob_t** out_text) {
  if (!out_text) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "out_text must not be NULL");
  }
  *out_text = NULL;
  kiln__plan_t* plan = NULL;
  KILN_RETURN_IF_ERROR(kiln__engine_read(data, allocator, &plan));
  kiln__engine_file_info_t file;
  kiln__engine_file_info(data, &file);
  kiln__writer_t writer;
  kiln__writer_init(&writer, allocator);
  kiln_status_t status = kiln__plan_describe(plan, &file, json, &writer);
  if (!status) status = kiln__blob_create_from_writer(&writer, true, out_text);
  kiln__writer_deinit(&writer);
  kiln__plan_destroy(plan);
  return status;
}
