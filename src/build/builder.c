// The builder: turns a network of plugin layers into an engine.
//
// For each layer in order: shape inference through the plugin's describe,
// the type/format combinations and tactics from autotune, one aot_impl call
// per candidate (validated: kernel image, entry, parameter layout, launch
// expressions), PTX to cubin for the targets, and the choice of a candidate
// (timed on the GPU when one is present, else the first). Then activation
// memory is planned by liveness for the profile maxima, and the plan is
// verified and serialized.

#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "base/blob.h"
#include "base/bytes.h"
#include "base/cache.h"
#include "base/hash.h"
#include "base/log.h"
#include "base/size.h"
#include "build/build.h"
#include "cuda/cubin.h"
#include "cuda/cuda_nvjitlink.h"
#include "cuda/ptx.h"
#include "engine/engine.h"
#include "graph/graph.h"
#include "plugin/plugin.h"
#include "sym/sym.h"

//===----------------------------------------------------------------------===//
// Growable arrays
//===----------------------------------------------------------------------===//

typedef struct vec_t {
  void* data;
  uint32_t count;
  uint32_t capacity;
} vec_t;

// Appends one zeroed element of |size| bytes and returns it in |*out_slot|.
static kiln_status_t vec_push(kiln_allocator_t allocator, vec_t* v, size_t size,
                              void** out_slot) {
  *out_slot = NULL;
  if (v->count == v->capacity) {
    if (v->capacity >= UINT32_MAX / 4) {
      return kiln_make_status(KILN_STATUS_OUT_OF_RANGE,
                              "engine tables are too large");
    }
    uint32_t next = v->capacity ? v->capacity * 2 : 16;
    size_t bytes;
    KILN_RETURN_IF_ERROR(kiln__size_mul(next, size, "engine table", &bytes));
    void* p = v->data;
    KILN_RETURN_IF_ERROR(kiln_allocator_realloc(allocator, bytes, &p));
    v->data = p;
    v->capacity = next;
  }
  uint8_t* slot = (uint8_t*)v->data + (size_t)v->count * size;
  memset(slot, 0, size);
  v->count++;
  *out_slot = slot;
  return NULL;
}

#define VEC_AT(v, type, i) (((type*)(v).data)[i])

// Copies |v| into |plan|'s arena as an array of |size|-byte elements.
static kiln_status_t vec_to_plan(kiln__plan_t* plan, const vec_t* v,
                                 size_t size, void** out_array,
                                 uint32_t* out_count) {
  *out_array = NULL;
  *out_count = 0;
  if (v->count == 0) return NULL;
  size_t bytes;
  KILN_RETURN_IF_ERROR(kiln__size_mul(v->count, size, "engine table", &bytes));
  void* array = NULL;
  KILN_RETURN_IF_ERROR(kiln__arena_alloc(&plan->arena, bytes, 16, &array));
  memcpy(array, v->data, bytes);
  *out_array = array;
  *out_count = v->count;
  return NULL;
}

//===----------------------------------------------------------------------===//
// Build state
//===----------------------------------------------------------------------===//

typedef struct builder_t {
  const kiln_network_t* network;
  const kiln_build_config_t* config;
  kiln_allocator_t allocator;
  const kiln_logger_t* logger;
  kiln__plan_t* plan;
  kiln_sym_table_t* sym;
  kiln__writer_t blob;
  // Per network tensor (same indices): its symbolic descriptor.
  kiln_tensor_desc_t* descs;
  // Plan arrays under construction.
  vec_t tensors, constants, images, params, kernels, args, layers, indices;
  vec_t exprs;        // kiln_sym_t
  uint32_t* expr_of;  // node id -> expression index + 1 (0: none)
  size_t expr_of_capacity;
  // Kernel dedup: hash of (name, images, params) per kernel.
  vec_t kernel_hashes;  // uint64_t
  // Resolved target architectures for cubins.
  uint32_t targets[16];
  uint32_t target_count;
  const kiln__cuda_nvjitlink_t* nvjitlink;
  // A GPU for timing, when one is present and timing is on.
  kiln_device_t* device;
  // The compile cache directory; empty when the cache is off.
  char cache_dir[4096];
  uint32_t cache_hits;
  uint32_t cache_misses;
} builder_t;

static kiln_status_t layer_error(const builder_t* b, uint32_t layer,
                                 kiln_status_t status) {
  const kiln__net_layer_t* l = &b->network->layers[layer];
  kiln_string_view_t id = kiln_plugin_id(l->plugin);
  if (l->name) {
    return kiln_status_annotate(status, "layer %u '%s' (plugin '%.*s')", layer,
                                l->name, KILN_SV_ARG(id));
  }
  return kiln_status_annotate(status, "layer %u (plugin '%.*s')", layer,
                              KILN_SV_ARG(id));
}

// Returns the index of |expr| in the plan's expression list, adding it.
static kiln_status_t expr_index(builder_t* b, kiln_sym_t expr,
                                uint32_t* out_index) {
  *out_index = KILN__NONE;
  if (!expr || kiln__sym_table_of(expr) != b->sym) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "an expression is NULL or was built in another "
                            "table than the one the callback was given");
  }
  uint32_t id = kiln__sym_id(expr);
  if (id >= b->expr_of_capacity) {
    size_t next = b->expr_of_capacity ? b->expr_of_capacity : 256;
    while (next <= id) next *= 2;
    void* p = b->expr_of;
    KILN_RETURN_IF_ERROR(
        kiln_allocator_realloc(b->allocator, next * sizeof(uint32_t), &p));
    memset((uint32_t*)p + b->expr_of_capacity, 0,
           (next - b->expr_of_capacity) * sizeof(uint32_t));
    b->expr_of = (uint32_t*)p;
    b->expr_of_capacity = next;
  }
  if (b->expr_of[id]) {
    *out_index = b->expr_of[id] - 1;
    return NULL;
  }
  kiln_sym_t* slot = NULL;
  KILN_RETURN_IF_ERROR(
      vec_push(b->allocator, &b->exprs, sizeof(kiln_sym_t), (void**)&slot));
  *slot = expr;
  b->expr_of[id] = b->exprs.count;
  *out_index = b->exprs.count - 1;
  return NULL;
}

static kiln_status_t blob_string(builder_t* b, const char* text,
                                 kiln__plan_span_t* out_span) {
  memset(out_span, 0, sizeof(*out_span));
  if (!text || !text[0]) return NULL;
  kiln_const_bytes_t bytes = {(const uint8_t*)text, strlen(text)};
  return kiln__plan_blob_append(&b->blob, bytes, 1, false, out_span);
}

static kiln_status_t blob_view(builder_t* b, kiln_string_view_t text,
                               kiln__plan_span_t* out_span) {
  memset(out_span, 0, sizeof(*out_span));
  if (!text.size) return NULL;
  kiln_const_bytes_t bytes = {(const uint8_t*)text.data, text.size};
  return kiln__plan_blob_append(&b->blob, bytes, 1, false, out_span);
}

//===----------------------------------------------------------------------===//
// Profiles and inputs
//===----------------------------------------------------------------------===//

static kiln_status_t resolve_profiles(builder_t* b) {
  const kiln_network_t* net = b->network;
  const kiln_build_config_t* cfg = b->config;
  bool any_dynamic = false;
  for (uint32_t t = 0; t < net->tensor_count; ++t) {
    const kiln__net_tensor_t* nt = &net->tensors[t];
    if (nt->kind != KILN__NET_TENSOR_INPUT) continue;
    for (int32_t j = 0; j < nt->rank; ++j) any_dynamic |= nt->dims[j] < 0;
  }
  uint32_t profile_count = cfg->profile_count ? cfg->profile_count : 1;
  if (any_dynamic && cfg->profile_count == 0) {
    for (uint32_t t = 0; t < net->tensor_count; ++t) {
      const kiln__net_tensor_t* nt = &net->tensors[t];
      if (nt->kind != KILN__NET_TENSOR_INPUT) continue;
      for (int32_t j = 0; j < nt->rank; ++j) {
        if (nt->dims[j] < 0) {
          return kiln_make_status(
              KILN_STATUS_INVALID_ARGUMENT,
              "input '%s' dimension %d is dynamic (-1), but the build "
              "configuration has no optimization profile giving its range",
              nt->name, (int)j);
        }
      }
    }
  }
  kiln__plan_t* plan = b->plan;
  size_t n = (size_t)profile_count * (net->input_count ? net->input_count : 1) *
             KILN_MAX_RANK;
  KILN_RETURN_IF_ERROR(kiln__arena_alloc(&plan->arena,
                                         n * sizeof(kiln__plan_dim_range_t), 8,
                                         (void**)&plan->ranges));
  plan->profile_count = profile_count;
  for (uint32_t p = 0; p < profile_count; ++p) {
    for (uint32_t t = 0; t < net->tensor_count; ++t) {
      const kiln__net_tensor_t* nt = &net->tensors[t];
      if (nt->kind != KILN__NET_TENSOR_INPUT) continue;
      const kiln__profile_shape_t* shape =
          cfg->profile_count ? kiln__build_config_find_shape(cfg, p, nt->name)
                             : NULL;
      bool dynamic = false;
      for (int32_t j = 0; j < nt->rank; ++j) dynamic |= nt->dims[j] < 0;
      if (!shape && dynamic) {
        return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                                "optimization profile %u gives no shape for "
                                "dynamic input '%s'",
                                p, nt->name);
      }
      if (shape && shape->rank != nt->rank) {
        return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                                "optimization profile %u gives input '%s' "
                                "rank %d, the input has rank %d",
                                p, nt->name, (int)shape->rank, (int)nt->rank);
      }
      for (int32_t j = 0; j < nt->rank; ++j) {
        kiln__plan_dim_range_t* r =
            &plan->ranges[((size_t)p * net->input_count + nt->input_ordinal) *
                              KILN_MAX_RANK +
                          (size_t)j];
        if (nt->dims[j] >= 0) {
          if (shape &&
              (shape->min[j] != nt->dims[j] || shape->max[j] != nt->dims[j])) {
            return kiln_make_status(
                KILN_STATUS_INVALID_ARGUMENT,
                "optimization profile %u gives input '%s' dimension %d the "
                "range [%lld, %lld], but the dimension is static (%lld)",
                p, nt->name, (int)j, (long long)shape->min[j],
                (long long)shape->max[j], (long long)nt->dims[j]);
          }
          r->min = r->opt = r->max = nt->dims[j];
        } else {
          r->min = shape->min[j];
          r->opt = shape->opt[j];
          r->max = shape->max[j];
        }
      }
    }
  }
  for (uint32_t t = 0; t < net->tensor_count; ++t) {
    // Profile shapes for names that are not inputs are mistakes.
    KILN_UNUSED(t);
  }
  for (uint32_t p = 0; p < cfg->profile_count; ++p) {
    const kiln__profile_t* profile = &cfg->profiles[p];
    for (uint32_t s = 0; s < profile->shape_count; ++s) {
      const char* name = profile->shapes[s].input_name;
      bool found = false;
      for (uint32_t t = 0; t < net->tensor_count && !found; ++t) {
        const kiln__net_tensor_t* nt = &net->tensors[t];
        found = nt->kind == KILN__NET_TENSOR_INPUT && nt->name &&
                strcmp(nt->name, name) == 0;
      }
      if (!found) {
        return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                                "optimization profile %u names '%s', which "
                                "is not a network input",
                                p, name);
      }
    }
  }
  return NULL;
}

static kiln_status_t add_plan_tensor(builder_t* b, uint32_t net_index) {
  const kiln__net_tensor_t* nt = &b->network->tensors[net_index];
  kiln__plan_tensor_t* pt = NULL;
  KILN_RETURN_IF_ERROR(vec_push(b->allocator, &b->tensors,
                                sizeof(kiln__plan_tensor_t), (void**)&pt));
  pt->producer = KILN__NONE;
  pt->constant = KILN__NONE;
  pt->input_ordinal = KILN__NONE;
  pt->alias_of = KILN__NONE;
  pt->arena_offset = UINT64_MAX;
  pt->is_output = nt->is_output;
  KILN_RETURN_IF_ERROR(blob_string(b, nt->name, &pt->name));
  kiln_tensor_desc_t* desc = &b->descs[net_index];
  if (nt->kind == KILN__NET_TENSOR_LAYER_OUTPUT) return NULL;  // filled later
  kiln_sym_t dims[KILN_MAX_RANK] = {0};
  for (int32_t j = 0; j < nt->rank; ++j) {
    dims[j] = nt->kind == KILN__NET_TENSOR_INPUT && nt->dims[j] < 0
                  ? kiln_sym_dim(b->sym, nt->input_ordinal, (uint32_t)j)
                  : kiln_sym_const(b->sym, nt->dims[j]);
    if (!dims[j]) return kiln_sym_table_take_error(b->sym);
  }
  *desc = kiln_tensor_desc_make(nt->dtype, nt->rank, dims);
  pt = &VEC_AT(b->tensors, kiln__plan_tensor_t, b->tensors.count - 1);
  pt->dtype = (uint8_t)nt->dtype;
  pt->format = KILN_FORMAT_LINEAR;
  pt->rank = nt->rank;
  for (int32_t j = 0; j < nt->rank; ++j) {
    KILN_RETURN_IF_ERROR(expr_index(b, dims[j], &pt->dims[j]));
  }
  if (nt->kind == KILN__NET_TENSOR_INPUT) {
    pt->kind = KILN__TENSOR_INPUT;
    pt->input_ordinal = nt->input_ordinal;
  } else {
    pt->kind = KILN__TENSOR_CONSTANT;
    kiln__plan_constant_t* c = NULL;
    KILN_RETURN_IF_ERROR(vec_push(b->allocator, &b->constants,
                                  sizeof(kiln__plan_constant_t), (void**)&c));
    KILN_RETURN_IF_ERROR(
        kiln__plan_blob_append(&b->blob, nt->data, 64, false, &c->data));
    pt = &VEC_AT(b->tensors, kiln__plan_tensor_t, b->tensors.count - 1);
    pt->constant = b->constants.count - 1;
    pt->max_bytes = nt->data.size;
  }
  return NULL;
}

//===----------------------------------------------------------------------===//
// AOT results: validation and kernels
//===----------------------------------------------------------------------===//

static void release_result(kiln_aot_result_t* result) {
  if (result->release) result->release(result->release_data, result);
  memset(result, 0, sizeof(*result));
}

static bool ptx_pointer_type(const kiln__ptx_param_t* p) {
  return p->array_count == 0 && p->size == 8;
}

static const char* arg_type_name(kiln_arg_type_t type) {
  switch (type) {
    case KILN_ARG_TYPE_INT32:
      return "int32";
    case KILN_ARG_TYPE_INT64:
      return "int64";
    case KILN_ARG_TYPE_FLOAT32:
      return "float32";
    default:
      return "unknown";
  }
}

static bool ptx_matches_arg(const kiln__ptx_param_t* p, kiln_arg_type_t type) {
  if (p->array_count != 0) return false;
  switch (type) {
    case KILN_ARG_TYPE_INT32:
      return p->type == KILN__PTX_TYPE_U32 || p->type == KILN__PTX_TYPE_S32 ||
             p->type == KILN__PTX_TYPE_B32;
    case KILN_ARG_TYPE_INT64:
      return p->type == KILN__PTX_TYPE_U64 || p->type == KILN__PTX_TYPE_S64 ||
             p->type == KILN__PTX_TYPE_B64;
    case KILN_ARG_TYPE_FLOAT32:
      return p->type == KILN__PTX_TYPE_F32 || p->type == KILN__PTX_TYPE_B32;
    default:
      return false;
  }
}

static uint8_t arg_size(kiln_arg_type_t type) {
  return type == KILN_ARG_TYPE_INT64 ? 8 : 4;
}

// Writes the parameter layout for |result| into |out| (capacity
// |capacity|), checking it against the PTX entry when there is one.
static kiln_status_t make_params(const kiln_aot_result_t* result,
                                 uint32_t input_count, uint32_t output_count,
                                 const kiln__ptx_entry_t* entry,
                                 kiln__plan_param_t* out, size_t capacity,
                                 size_t* out_count) {
  *out_count = 0;
  size_t abi = (size_t)input_count + result->extra_arg_count + output_count;
  bool triton = result->global_scratch_align || result->profile_scratch_align ||
                result->global_scratch_size || result->profile_scratch_size;
  size_t total = abi;
  if (entry) {
    if (entry->param_count < abi) {
      return kiln_make_status(
          KILN_STATUS_INVALID_ARGUMENT,
          "kernel '%.*s' takes %zu parameters, but the launch ABI "
          "[%u inputs][%zu extra arguments][%u outputs] needs at least %zu",
          KILN_SV_ARG(result->kernel_name), entry->param_count, input_count,
          result->extra_arg_count, output_count, abi);
    }
    total = entry->param_count;
  } else if (triton) {
    total = abi + 2;
  }
  if (total > capacity) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "kernel '%.*s' has %zu parameters; at most %zu "
                            "are supported",
                            KILN_SV_ARG(result->kernel_name), total, capacity);
  }
  for (size_t i = 0; i < total; ++i) {
    kiln__plan_param_t* p = &out[i];
    memset(p, 0, sizeof(*p));
    const kiln__ptx_param_t* pp = entry ? &entry->params[i] : NULL;
    if (i < input_count ||
        (i >= input_count + result->extra_arg_count && i < abi)) {
      bool is_input = i < input_count;
      uint32_t index =
          is_input ? (uint32_t)i
                   : (uint32_t)(i - input_count - result->extra_arg_count);
      if (pp && !ptx_pointer_type(pp)) {
        return kiln_make_status(
            KILN_STATUS_INVALID_ARGUMENT,
            "kernel '%.*s' parameter %zu ('%.*s', %s%s) should be the "
            "pointer to %s %u: a 64-bit scalar",
            KILN_SV_ARG(result->kernel_name), i, KILN_SV_ARG(pp->name),
            kiln__ptx_type_name(pp->type), pp->array_count ? "[]" : "",
            is_input ? "input" : "output", index);
      }
      p->kind = is_input ? KILN__PARAM_INPUT : KILN__PARAM_OUTPUT;
      p->index = index;
      p->size = 8;
      p->align = 8;
    } else if (i < abi) {
      uint32_t index = (uint32_t)(i - input_count);
      kiln_arg_type_t type = result->extra_args[index].type;
      if (pp && !ptx_matches_arg(pp, type)) {
        return kiln_make_status(
            KILN_STATUS_INVALID_ARGUMENT,
            "kernel '%.*s' parameter %zu ('%.*s', %s) does not match extra "
            "argument %u, which is %s",
            KILN_SV_ARG(result->kernel_name), i, KILN_SV_ARG(pp->name),
            kiln__ptx_type_name(pp->type), index, arg_type_name(type));
      }
      p->kind = KILN__PARAM_ARG;
      p->index = index;
      p->size = arg_size(type);
      p->align = p->size;
    } else {
      // Hidden trailing parameters. Triton (>= 3.3) appends exactly two
      // pointers: global scratch, then profile scratch.
      size_t hidden = i - abi;
      size_t hidden_count = total - abi;
      bool scratch = hidden_count == 2 && (!pp || ptx_pointer_type(pp));
      if (scratch) {
        p->kind = hidden == 0 ? KILN__PARAM_GLOBAL_SCRATCH
                              : KILN__PARAM_PROFILE_SCRATCH;
        p->size = 8;
        p->align = 8;
      } else {
        if (!pp || pp->size == 0 || pp->size > 255 || pp->align == 0 ||
            pp->align > 16) {
          return kiln_make_status(
              KILN_STATUS_INVALID_ARGUMENT,
              "kernel '%.*s' hidden parameter %zu has an unsupported size",
              KILN_SV_ARG(result->kernel_name), i);
        }
        p->kind = KILN__PARAM_ZERO;
        p->size = (uint8_t)pp->size;
        p->align = (uint8_t)pp->align;
      }
    }
  }
  *out_count = total;
  return NULL;
}

// Checks the launch expressions and extra arguments of |result|.
static kiln_status_t check_launch(builder_t* b, kiln_aot_result_t* result) {
  kiln_sym_t* fields[7] = {&result->launch.grid[0],   &result->launch.grid[1],
                           &result->launch.grid[2],   &result->launch.block[0],
                           &result->launch.block[1],  &result->launch.block[2],
                           &result->launch.shared_mem};
  static const char* const names[7] = {"grid_x",    "grid_y",  "grid_z",
                                       "block_x",   "block_y", "block_z",
                                       "shared_mem"};
  for (int i = 0; i < 7; ++i) {
    if (!*fields[i]) {
      *fields[i] = kiln_sym_const(b->sym, i == 6 ? 0 : 1);
      if (!*fields[i]) return kiln_sym_table_take_error(b->sym);
    }
    if (kiln__sym_table_of(*fields[i]) != b->sym) {
      return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                              "launch parameter %s was built in another "
                              "expression table",
                              names[i]);
    }
    if (kiln__sym_uses_size_tensor(*fields[i])) {
      return kiln_make_status(KILN_STATUS_UNIMPLEMENTED,
                              "launch parameter %s depends on a size tensor; "
                              "data-dependent launches are not supported",
                              names[i]);
    }
    int64_t value;
    if (kiln_sym_is_constant(*fields[i], &value)) {
      int64_t lo = i == 6 ? 0 : (i < 3 ? 0 : 1);
      int64_t hi = i == 6 ? INT64_C(1) << 31 : (i < 3 ? INT32_MAX : 1024);
      if (value < lo || value > hi) {
        return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                                "launch parameter %s is the constant %lld, "
                                "outside [%lld, %lld]",
                                names[i], (long long)value, (long long)lo,
                                (long long)hi);
      }
    }
  }
  if (result->extra_arg_count && !result->extra_args) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "%zu extra arguments declared but extra_args is "
                            "NULL",
                            result->extra_arg_count);
  }
  for (size_t i = 0; i < result->extra_arg_count; ++i) {
    const kiln_extra_arg_t* a = &result->extra_args[i];
    if ((unsigned)a->type >= KILN_ARG_TYPE_COUNT) {
      return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                              "extra argument %zu has unknown type %d", i,
                              (int)a->type);
    }
    if (a->type == KILN_ARG_TYPE_FLOAT32) continue;
    if (!a->value || kiln__sym_table_of(a->value) != b->sym) {
      return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                              "extra argument %zu (%s) has no expression or "
                              "one from another table",
                              i, arg_type_name(a->type));
    }
    if (kiln__sym_uses_size_tensor(a->value)) {
      return kiln_make_status(KILN_STATUS_UNIMPLEMENTED,
                              "extra argument %zu depends on a size tensor", i);
    }
  }
  return NULL;
}

// Returns the nvJitLink table, loading it on first use.
static kiln_status_t get_nvjitlink(builder_t* b) {
  if (b->nvjitlink) return NULL;
  return kiln__cuda_nvjitlink_get(&b->nvjitlink);
}

// PTX -> cubin through nvJitLink, with the compile cache in front. The key
// is the nvJitLink version, the target and the PTX text; a cached cubin is
// used only if it still passes the cubin checks for that architecture.
static kiln_status_t ptx_to_cubin_cached(builder_t* b, kiln_const_bytes_t ptx,
                                         uint32_t arch, bool specific,
                                         uint8_t** out_cubin,
                                         size_t* out_size) {
  *out_cubin = NULL;
  *out_size = 0;
  kiln__writer_t key;
  kiln__writer_init(&key, b->allocator);
  unsigned int major = 0, minor = 0;
  if (b->nvjitlink->nvJitLinkVersion) {
    b->nvjitlink->nvJitLinkVersion(&major, &minor);
  }
  kiln_const_bytes_t text = {ptx.data, kiln__ptx_text_size(ptx)};
  static const char kTag[] = "kiln-nvjitlink-cubin-1";
  kiln_status_t status = kiln__writer_append(&key, kTag, sizeof(kTag));
  if (!status) status = kiln__writer_u32(&key, major);
  if (!status) status = kiln__writer_u32(&key, minor);
  if (!status) status = kiln__writer_u32(&key, arch);
  if (!status) status = kiln__writer_u8(&key, specific ? 1 : 0);
  if (!status) status = kiln__writer_append(&key, text.data, text.size);
  kiln_const_bytes_t key_bytes = {key.data, key.size};
  if (!status && b->cache_dir[0]) {
    uint8_t* value = NULL;
    size_t size = 0;
    if (kiln__cache_get(b->cache_dir, key_bytes, b->allocator, &value, &size)) {
      kiln__cubin_info_t info;
      kiln_const_bytes_t cubin = {value, size};
      kiln_status_t check = kiln__cubin_inspect(cubin, &info);
      if (!check && info.sm_arch == arch) {
        b->cache_hits++;
        kiln__writer_deinit(&key);
        *out_cubin = value;
        *out_size = size;
        return NULL;
      }
      kiln_status_free(check);
      kiln_allocator_free(b->allocator, value);
    }
  }
  if (!status) {
    status = kiln__cuda_ptx_to_cubin(b->nvjitlink, ptx, arch, specific,
                                     b->allocator, out_cubin, out_size);
  }
  if (!status && b->cache_dir[0]) {
    b->cache_misses++;
    kiln_const_bytes_t value = {*out_cubin, *out_size};
    if (!kiln__cache_put(b->cache_dir, key_bytes, value)) {
      kiln__log(b->logger, KILN_LOG_LEVEL_VERBOSE,
                "compile cache: could not store a cubin in %s", b->cache_dir);
    }
  }
  kiln__writer_deinit(&key);
  return status;
}

// Returns true when kernel |k| of the plan under construction was made from
// exactly |result|'s name, images and |params| (the plugin's own images come
// first in a kernel's image list, in the order given).
static bool same_kernel(const builder_t* b, uint32_t k,
                        const kiln_aot_result_t* result,
                        const kiln__plan_param_t* params, size_t param_count) {
  const kiln__plan_kernel_t* kernel =
      &VEC_AT(b->kernels, kiln__plan_kernel_t, k);
  const uint8_t* blob = b->blob.data;
  if (kernel->name.size != result->kernel_name.size ||
      memcmp(blob + kernel->name.offset, result->kernel_name.data,
             result->kernel_name.size) != 0 ||
      kernel->params.count != param_count ||
      kernel->images.count < result->image_count ||
      kernel->global_scratch_size != result->global_scratch_size ||
      kernel->profile_scratch_size != result->profile_scratch_size) {
    return false;
  }
  for (size_t i = 0; i < param_count; ++i) {
    const kiln__plan_param_t* p =
        &VEC_AT(b->params, kiln__plan_param_t, kernel->params.first + i);
    if (p->kind != params[i].kind || p->index != params[i].index ||
        p->size != params[i].size || p->align != params[i].align) {
      return false;
    }
  }
  for (size_t i = 0; i < result->image_count; ++i) {
    const kiln__plan_image_t* im = &VEC_AT(b->images, kiln__plan_image_t,
                                           kernel->images.first + (uint32_t)i);
    const kiln_kernel_image_t* given = &result->images[i];
    size_t size = given->kind == KILN_KERNEL_IMAGE_PTX
                      ? kiln__ptx_text_size(given->bytes)
                      : given->bytes.size;
    if (im->kind != given->kind || im->data.size != size ||
        memcmp(blob + im->data.offset, given->bytes.data, size) != 0) {
      return false;
    }
  }
  return true;
}

// Appends |result|'s kernel (images, converted cubins, parameters) to the
// plan, reusing an identical kernel already there. Returns its index.
static kiln_status_t add_kernel(builder_t* b, uint32_t input_count,
                                uint32_t output_count,
                                const kiln_aot_result_t* result,
                                uint32_t* out_kernel) {
  *out_kernel = KILN__NONE;
  if (!result->kernel_name.data || result->kernel_name.size == 0 ||
      result->kernel_name.size > 1024) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "aot_impl returned no kernel name");
  }
  if (!result->images || result->image_count == 0) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "aot_impl returned no kernel image for '%.*s'",
                            KILN_SV_ARG(result->kernel_name));
  }
  if (result->image_count > 32) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "aot_impl returned %zu images; at most 32",
                            result->image_count);
  }
  // Check every image and find the PTX (at most one is used for layout).
  const kiln_kernel_image_t* ptx = NULL;
  kiln__ptx_entry_t entry;
  memset(&entry, 0, sizeof(entry));
  bool have_entry = false;
  kiln_status_t status = NULL;
  uint32_t cubin_archs[32];
  size_t cubin_count = 0;
  for (size_t i = 0; i < result->image_count && !status; ++i) {
    const kiln_kernel_image_t* image = &result->images[i];
    if (!image->bytes.data || image->bytes.size == 0) {
      status = kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                                "image %zu of kernel '%.*s' is empty", i,
                                KILN_SV_ARG(result->kernel_name));
    } else if (image->kind == KILN_KERNEL_IMAGE_PTX) {
      if (!ptx) {
        ptx = image;
        status = kiln__ptx_find_entry(image->bytes, result->kernel_name,
                                      b->allocator, &entry);
        have_entry = !status;
        if (status) {
          status = kiln_status_annotate(status, "PTX image %zu", i);
        }
      }
    } else if (image->kind == KILN_KERNEL_IMAGE_CUBIN) {
      kiln__cubin_info_t info;
      status = kiln__cubin_inspect(image->bytes, &info);
      if (!status && info.sm_arch != image->sm_arch) {
        status = kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                                  "cubin image %zu is declared for sm_%u but "
                                  "its header says sm_%u",
                                  i, image->sm_arch, info.sm_arch);
      }
      if (!status) {
        status =
            kiln__cubin_find_function(image->bytes, result->kernel_name, NULL);
      }
      if (status) {
        status = kiln_status_annotate(status, "cubin image %zu", i);
      } else {
        for (size_t k = 0; k < cubin_count && !status; ++k) {
          if (cubin_archs[k] == image->sm_arch) {
            status =
                kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                                 "two cubin images for sm_%u", image->sm_arch);
          }
        }
        cubin_archs[cubin_count++] = image->sm_arch;
      }
    } else {
      status = kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                                "image %zu has unknown kind %d", i,
                                (int)image->kind);
    }
  }
  kiln__plan_param_t params[256];
  size_t param_count = 0;
  if (!status) {
    status = make_params(result, input_count, output_count,
                         have_entry ? &entry : NULL, params, 256, &param_count);
  }
  if (!status && !have_entry) {
    kiln__log(b->logger, KILN_LOG_LEVEL_WARNING,
              "kernel '%.*s' has no PTX image: its parameter layout is "
              "assumed, not checked",
              KILN_SV_ARG(result->kernel_name));
  }
  kiln__ptx_header_t ptx_header;
  memset(&ptx_header, 0, sizeof(ptx_header));
  if (!status && have_entry) ptx_header = entry.header;
  kiln__ptx_entry_deinit(&entry);
  if (status) return status;

  // Hash the kernel's identity for dedup: name, image bytes, params.
  uint64_t h = kiln__hash_bytes(KILN_HASH_SEED, result->kernel_name.data,
                                result->kernel_name.size);
  for (size_t i = 0; i < result->image_count; ++i) {
    h = kiln__hash_mix(
        h, (uint64_t)result->images[i].kind << 32 | result->images[i].sm_arch);
    h = kiln__hash_bytes(h, result->images[i].bytes.data,
                         result->images[i].bytes.size);
  }
  h = kiln__hash_bytes(h, params, param_count * sizeof(params[0]));
  h = kiln__hash_mix(h, result->global_scratch_size);
  h = kiln__hash_mix(h, result->profile_scratch_size);
  for (uint32_t k = 0; k < b->kernel_hashes.count; ++k) {
    if (VEC_AT(b->kernel_hashes, uint64_t, k) == h &&
        same_kernel(b, k, result, params, param_count)) {
      *out_kernel = k;
      return NULL;
    }
  }

  kiln__plan_kernel_t kernel;
  memset(&kernel, 0, sizeof(kernel));
  KILN_RETURN_IF_ERROR(blob_view(b, result->kernel_name, &kernel.name));
  kernel.global_scratch_size = result->global_scratch_size;
  kernel.global_scratch_align =
      result->global_scratch_align ? result->global_scratch_align : 1;
  kernel.profile_scratch_size = result->profile_scratch_size;
  kernel.profile_scratch_align =
      result->profile_scratch_align ? result->profile_scratch_align : 1;
  kernel.num_ctas = result->num_ctas ? result->num_ctas : 1;
  kernel.images.first = b->images.count;
  for (size_t i = 0; i < result->image_count; ++i) {
    const kiln_kernel_image_t* image = &result->images[i];
    kiln__plan_image_t* pi = NULL;
    KILN_RETURN_IF_ERROR(vec_push(b->allocator, &b->images,
                                  sizeof(kiln__plan_image_t), (void**)&pi));
    pi->kind = (uint8_t)image->kind;
    pi->sm_arch = image->sm_arch;
    if (image->kind == KILN_KERNEL_IMAGE_PTX) {
      kiln_const_bytes_t text = {image->bytes.data,
                                 kiln__ptx_text_size(image->bytes)};
      pi->sm_arch = ptx_header.sm_arch;
      KILN_RETURN_IF_ERROR(
          kiln__plan_blob_append(&b->blob, text, 64, true, &pi->data));
    } else {
      KILN_RETURN_IF_ERROR(
          kiln__plan_blob_append(&b->blob, image->bytes, 64, false, &pi->data));
    }
  }
  // Cubins for the targets the plugin did not compile for itself.
  for (uint32_t t = 0; t < b->target_count; ++t) {
    uint32_t arch = b->targets[t];
    bool have = false;
    for (size_t k = 0; k < cubin_count; ++k) have |= cubin_archs[k] == arch;
    if (have) continue;
    if (!ptx) {
      return kiln_make_status(KILN_STATUS_INCOMPATIBLE,
                              "kernel '%.*s' has no cubin for target sm_%u and "
                              "no PTX to compile one from",
                              KILN_SV_ARG(result->kernel_name), arch);
    }
    bool specific = ptx_header.arch_suffix == 'a';
    if (specific && ptx_header.sm_arch != arch) {
      return kiln_make_status(
          KILN_STATUS_INCOMPATIBLE,
          "kernel '%.*s': its PTX targets sm_%ua, which runs only on sm_%u; "
          "it cannot be compiled for target sm_%u",
          KILN_SV_ARG(result->kernel_name), ptx_header.sm_arch,
          ptx_header.sm_arch, arch);
    }
    KILN_RETURN_IF_ERROR(get_nvjitlink(b));
    uint8_t* cubin = NULL;
    size_t cubin_size = 0;
    kiln_status_t s =
        ptx_to_cubin_cached(b, ptx->bytes, arch, specific, &cubin, &cubin_size);
    if (s) {
      return kiln_status_annotate(s, "compiling kernel '%.*s' for sm_%u",
                                  KILN_SV_ARG(result->kernel_name), arch);
    }
    kiln__plan_image_t* pi = NULL;
    kiln_const_bytes_t bytes = {cubin, cubin_size};
    s = vec_push(b->allocator, &b->images, sizeof(kiln__plan_image_t),
                 (void**)&pi);
    if (!s) {
      pi->kind = KILN_KERNEL_IMAGE_CUBIN;
      pi->sm_arch = arch;
      s = kiln__plan_blob_append(&b->blob, bytes, 64, false, &pi->data);
    }
    kiln_allocator_free(b->allocator, cubin);
    KILN_RETURN_IF_ERROR(s);
  }
  kernel.images.count = b->images.count - kernel.images.first;
  kernel.params.first = b->params.count;
  for (size_t i = 0; i < param_count; ++i) {
    kiln__plan_param_t* pp = NULL;
    KILN_RETURN_IF_ERROR(vec_push(b->allocator, &b->params,
                                  sizeof(kiln__plan_param_t), (void**)&pp));
    *pp = params[i];
  }
  kernel.params.count = (uint32_t)param_count;
  kiln__plan_kernel_t* pk = NULL;
  KILN_RETURN_IF_ERROR(vec_push(b->allocator, &b->kernels,
                                sizeof(kiln__plan_kernel_t), (void**)&pk));
  *pk = kernel;
  uint64_t* ph = NULL;
  KILN_RETURN_IF_ERROR(
      vec_push(b->allocator, &b->kernel_hashes, sizeof(uint64_t), (void**)&ph));
  *ph = h;
  *out_kernel = b->kernels.count - 1;
  return NULL;
}

//===----------------------------------------------------------------------===//
// Layers
//===----------------------------------------------------------------------===//

typedef enum bound_e { BOUND_MIN = 0, BOUND_OPT = 1, BOUND_MAX = 2 } bound_t;
static void profile_env(const builder_t* b, uint32_t p, bound_t bound,
                        kiln_dims_t* dims, kiln_sym_env_t* env);

static void format_types(const kiln_dtype_t* types, size_t count, char* buffer,
                         size_t capacity) {
  size_t used = 0;
  buffer[0] = '\0';
  for (size_t i = 0; i < count && used + 1 < capacity; ++i) {
    int n = snprintf(buffer + used, capacity - used, "%s%s", i ? ", " : "",
                     kiln_dtype_name(types[i]));
    if (n < 0) break;
    used += (size_t)n;
  }
}

// Returns the autotune combination matching the layer's dtypes, or an error
// listing what the plugin supports.
static kiln_status_t pick_combination(const kiln_autotune_result_t* combos,
                                      const kiln_tensor_desc_t* inputs,
                                      uint32_t input_count,
                                      const kiln_tensor_desc_t* outputs,
                                      uint32_t output_count,
                                      kiln_autotune_combination_t* out) {
  memset(out, 0, sizeof(*out));
  size_t count = kiln_autotune_result_count(combos);
  uint32_t io = input_count + output_count;
  for (size_t c = 0; c < count; ++c) {
    kiln_autotune_combination_t combo = kiln_autotune_result_at(combos, c);
    bool match = true;
    for (uint32_t i = 0; i < io && match; ++i) {
      kiln_dtype_t want =
          i < input_count ? inputs[i].dtype : outputs[i - input_count].dtype;
      match = combo.io_types[i] == want &&
              combo.io_formats[i] == KILN_FORMAT_LINEAR;
    }
    if (match) {
      *out = combo;
      return NULL;
    }
  }
  kiln_dtype_t actual[2 * 64];
  char have[512], supported[1024];
  size_t n = io < KILN_ARRAYSIZE(actual) ? io : KILN_ARRAYSIZE(actual);
  for (uint32_t i = 0; i < n; ++i) {
    actual[i] =
        i < input_count ? inputs[i].dtype : outputs[i - input_count].dtype;
  }
  format_types(actual, n, have, sizeof(have));
  size_t used = 0;
  supported[0] = '\0';
  for (size_t c = 0; c < count && used + 8 < sizeof(supported); ++c) {
    kiln_autotune_combination_t combo = kiln_autotune_result_at(combos, c);
    char one[256];
    format_types(combo.io_types, io, one, sizeof(one));
    int w = snprintf(supported + used, sizeof(supported) - used, "%s(%s)",
                     c ? ", " : "", one);
    if (w < 0) break;
    used += (size_t)w;
  }
  return kiln_make_status(
      KILN_STATUS_INVALID_ARGUMENT,
      "no supported type combination matches the layer's (inputs, outputs) "
      "dtypes (%s) in LINEAR format; the plugin supports: %s",
      have, count ? supported : "nothing");
}

static kiln_status_t call_aot_impl(builder_t* b, const kiln__net_layer_t* l,
                                   const kiln_tensor_desc_t* inputs,
                                   const kiln_tensor_desc_t* outputs,
                                   int32_t tactic, kiln_aot_result_t* out) {
  memset(out, 0, sizeof(*out));
  const kiln_plugin_def_t* def = kiln_plugin_definition(l->plugin);
  kiln_attrs_t view;
  KILN_RETURN_IF_ERROR(kiln__plugin_attrs_view(l->plugin, l->attrs,
                                               KILN__CALLBACK_AOT_IMPL, &view));
  kiln_aot_args_t args;
  memset(&args, 0, sizeof(args));
  args.plugin = l->plugin;
  args.inputs = inputs;
  args.input_count = l->input_count;
  args.outputs = outputs;
  args.output_count = l->output_count;
  args.attrs = &view;
  args.sym = b->sym;
  args.tactic = tactic;
  kiln_aot_result_t result;
  memset(&result, 0, sizeof(result));
  kiln_status_t status = def->aot_impl(def->user_data, &args, &result);
  if (status) {
    release_result(&result);
    return kiln_status_annotate(status, "aot_impl (tactic %d)", (int)tactic);
  }
  *out = result;
  return NULL;
}

static kiln_status_t add_layer_args(builder_t* b, const kiln_aot_result_t* r,
                                    kiln__plan_layer_t* pl) {
  pl->args.first = b->args.count;
  for (size_t i = 0; i < r->extra_arg_count; ++i) {
    kiln__plan_arg_t* a = NULL;
    KILN_RETURN_IF_ERROR(
        vec_push(b->allocator, &b->args, sizeof(kiln__plan_arg_t), (void**)&a));
    a->type = (uint8_t)r->extra_args[i].type;
    a->f32 = r->extra_args[i].f32;
    a->expr = KILN__NONE;
    if (r->extra_args[i].type != KILN_ARG_TYPE_FLOAT32) {
      uint32_t e = KILN__NONE;
      KILN_RETURN_IF_ERROR(expr_index(b, r->extra_args[i].value, &e));
      a = &VEC_AT(b->args, kiln__plan_arg_t, b->args.count - 1);
      a->expr = e;
    }
  }
  pl->args.count = (uint32_t)r->extra_arg_count;
  return NULL;
}

// A name for network tensor |t| in messages: "tensor 3 'y'" or "tensor 3".
static void format_net_tensor(const builder_t* b, uint32_t t, char* buffer,
                              size_t capacity) {
  const kiln__net_tensor_t* nt = &b->network->tensors[t];
  if (nt->name) {
    snprintf(buffer, capacity, "tensor %u '%s'", t, nt->name);
  } else {
    snprintf(buffer, capacity, "tensor %u", t);
  }
}

// Returns true when a dimension of |desc| depends on a size tensor's value.
static bool desc_is_data_dependent(const kiln_tensor_desc_t* desc) {
  for (int32_t j = 0; j < desc->rank; ++j) {
    if (kiln__sym_uses_size_tensor(desc->dims[j])) return true;
  }
  return false;
}

// Refuses input |i|, network tensor |t|, of the layer being built when its
// shape is data-dependent: the runtime launches every kernel before any
// size tensor's value is known, so only network outputs may have such
// shapes.
static kiln_status_t check_not_data_dependent(const builder_t* b, uint32_t i,
                                              uint32_t t) {
  const kiln_tensor_desc_t* desc = &b->descs[t];
  if (!desc_is_data_dependent(desc)) return NULL;
  char name[256];
  format_net_tensor(b, t, name, sizeof(name));
  int32_t dim = 0;
  while (dim < desc->rank && !kiln__sym_uses_size_tensor(desc->dims[dim])) {
    ++dim;
  }
  const kiln__net_tensor_t* nt = &b->network->tensors[t];
  return kiln_make_status(
      KILN_STATUS_UNIMPLEMENTED,
      "input %u is %s (output %u of layer %u), whose dimension %d depends on "
      "the value of a size tensor (a data-dependent shape); only network "
      "outputs may have data-dependent shapes in an AOT engine",
      i, name, nt->producer_output, nt->producer, (int)dim);
}

static kiln_status_t build_layer(builder_t* b, uint32_t layer_index) {
  const kiln_network_t* net = b->network;
  const kiln__net_layer_t* l = &net->layers[layer_index];
  const kiln_plugin_def_t* def = kiln_plugin_definition(l->plugin);
  kiln_tensor_desc_t inputs[64], outputs[64];
  if (l->input_count > 64 || l->output_count > 64) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "at most 64 inputs and 64 outputs per layer");
  }
  for (uint32_t i = 0; i < l->input_count; ++i) {
    inputs[i] = b->descs[l->inputs[i]];
    KILN_RETURN_IF_ERROR(check_not_data_dependent(b, i, l->inputs[i]));
  }

  // Shapes and dtypes of the outputs.
  KILN_RETURN_IF_ERROR(kiln_plugin_describe(l->plugin, inputs, l->input_count,
                                            l->attrs, b->sym, outputs,
                                            l->output_count));
  // Size tensor placeholders name the plugin's output index; in the engine
  // they name the tensor, so that placeholders of different layers differ.
  uint32_t size_tensor_map[64];
  for (uint32_t o = 0; o < l->output_count; ++o) {
    size_tensor_map[o] = l->first_output + o;
  }
  for (uint32_t o = 0; o < l->output_count; ++o) {
    for (int32_t j = 0; j < outputs[o].rank; ++j) {
      kiln_status_t s = kiln__sym_remap_size_tensors(
          b->sym, outputs[o].dims[j], size_tensor_map, l->output_count,
          &outputs[o].dims[j]);
      if (s) {
        return kiln_status_annotate(s, "output %u dimension %d", o, (int)j);
      }
    }
  }

  // Record the outputs as activations.
  for (uint32_t o = 0; o < l->output_count; ++o) {
    uint32_t t = l->first_output + o;
    b->descs[t] = outputs[o];
    kiln__plan_tensor_t* pt = &VEC_AT(b->tensors, kiln__plan_tensor_t, t);
    pt->kind = KILN__TENSOR_ACTIVATION;
    pt->producer = layer_index;
    pt->dtype = (uint8_t)outputs[o].dtype;
    pt->format = (uint8_t)outputs[o].format;
    pt->rank = outputs[o].rank;
    pt->is_size_tensor = outputs[o].is_size_tensor ? 1 : 0;
    if (outputs[o].aliased_input >= 0) {
      pt->alias_of = l->inputs[outputs[o].aliased_input];
    }
    for (int32_t j = 0; j < outputs[o].rank; ++j) {
      uint32_t e = KILN__NONE;
      KILN_RETURN_IF_ERROR(expr_index(b, outputs[o].dims[j], &e));
      VEC_AT(b->tensors, kiln__plan_tensor_t, t).dims[j] = e;
    }
  }

  kiln__plan_layer_t layer;
  memset(&layer, 0, sizeof(layer));
  layer.kernel = KILN__NONE;
  KILN_RETURN_IF_ERROR(
      blob_view(b, kiln_plugin_id(l->plugin), &layer.plugin_id));
  KILN_RETURN_IF_ERROR(blob_string(b, l->name, &layer.name));
  layer.inputs.first = b->indices.count;
  for (uint32_t i = 0; i < l->input_count; ++i) {
    uint32_t* slot = NULL;
    KILN_RETURN_IF_ERROR(
        vec_push(b->allocator, &b->indices, sizeof(uint32_t), (void**)&slot));
    *slot = l->inputs[i];
  }
  layer.inputs.count = l->input_count;
  layer.outputs.first = b->indices.count;
  for (uint32_t o = 0; o < l->output_count; ++o) {
    uint32_t* slot = NULL;
    KILN_RETURN_IF_ERROR(
        vec_push(b->allocator, &b->indices, sizeof(uint32_t), (void**)&slot));
    *slot = l->first_output + o;
  }
  layer.outputs.count = l->output_count;

  bool aot = l->mode == KILN_LAYER_MODE_AOT ||
             (l->mode == KILN_LAYER_MODE_AUTO && def->aot_impl);
  kiln_autotune_result_t* combos = NULL;
  KILN_RETURN_IF_ERROR(kiln_plugin_autotune(l->plugin, inputs, l->input_count,
                                            outputs, l->output_count, l->attrs,
                                            b->allocator, &combos));
  kiln_autotune_combination_t combo;
  kiln_status_t status = pick_combination(combos, inputs, l->input_count,
                                          outputs, l->output_count, &combo);
  int32_t tactics[64];
  size_t tactic_count = 0;
  if (!status) {
    if (combo.tactic_count == 0) {
      tactics[tactic_count++] = 0;
    } else {
      for (size_t t = 0; t < combo.tactic_count && t < 64; ++t) {
        tactics[tactic_count++] = combo.tactics[t];
      }
    }
  }
  if (!status && b->config->tactic_forced) {
    bool known = false;
    for (size_t t = 0; t < tactic_count; ++t) {
      known |= tactics[t] == b->config->forced_tactic;
    }
    if (!known) {
      status = kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                                "tactic %d is not one the plugin offers",
                                (int)b->config->forced_tactic);
    }
    tactics[0] = b->config->forced_tactic;
    tactic_count = 1;
  }
  kiln_autotune_result_destroy(combos);
  KILN_RETURN_IF_ERROR(status);

  if (!aot) {
    // A host layer: the runtime calls host_impl with the attributes it
    // declared, which the engine stores.
    layer.kind = KILN__LAYER_HOST;
    layer.tactic = tactics[0];
    kiln_attrs_t view;
    KILN_RETURN_IF_ERROR(kiln__plugin_attrs_view(
        l->plugin, l->attrs, KILN__CALLBACK_HOST_IMPL, &view));
    kiln__writer_t w;
    kiln__writer_init(&w, b->allocator);
    status = kiln__attrs_serialize(&view, &w);
    if (!status) {
      kiln_const_bytes_t bytes = {w.data, w.size};
      status =
          kiln__plan_blob_append(&b->blob, bytes, 8, false, &layer.host_attrs);
    }
    kiln__writer_deinit(&w);
    KILN_RETURN_IF_ERROR(status);
    kiln__plan_layer_t* pl = NULL;
    KILN_RETURN_IF_ERROR(vec_push(b->allocator, &b->layers,
                                  sizeof(kiln__plan_layer_t), (void**)&pl));
    *pl = layer;
    return NULL;
  }

  // AOT: one aot_impl call per tactic; keep the chosen one.
  layer.kind = KILN__LAYER_AOT;
  kiln__build_candidate_t candidates[64];
  memset(candidates, 0, sizeof(candidates));
  for (size_t t = 0; t < tactic_count && !status; ++t) {
    candidates[t].tactic = tactics[t];
    status =
        call_aot_impl(b, l, inputs, outputs, tactics[t], &candidates[t].result);
    candidates[t].has_result = !status;
    if (!status) {
      status = check_launch(b, &candidates[t].result);
      if (status) {
        status = kiln_status_annotate(status, "aot_impl (tactic %d)",
                                      (int)tactics[t]);
      }
    }
  }
  size_t chosen = 0;
  if (!status && tactic_count > 1) {
    kiln_dims_t dims[64];
    kiln_sym_env_t env;
    if (b->network->input_count > KILN_ARRAYSIZE(dims)) {
      status = kiln_make_status(KILN_STATUS_UNIMPLEMENTED,
                                "timing tactics of networks with more than "
                                "64 inputs");
    } else {
      profile_env(b, 0, BOUND_OPT, dims, &env);
      status = kiln__build_choose_tactic(b->device, b->config, l, b->sym, &env,
                                         inputs, candidates, tactic_count,
                                         b->allocator, &chosen);
    }
    if (!status) {
      kiln__log(b->logger, KILN_LOG_LEVEL_INFO,
                "layer %u: tactic %d of %zu chosen%s", layer_index,
                (int)candidates[chosen].tactic, tactic_count,
                b->device && b->config->timing ? " (timed)" : " (first)");
    }
  }
  if (!status) {
    const kiln_aot_result_t* r = &candidates[chosen].result;
    layer.tactic = candidates[chosen].tactic;
    status = add_kernel(b, l->input_count, l->output_count, r, &layer.kernel);
    for (int i = 0; i < 3 && !status; ++i) {
      status = expr_index(b, r->launch.grid[i], &layer.grid[i]);
      if (!status) status = expr_index(b, r->launch.block[i], &layer.block[i]);
    }
    if (!status)
      status = expr_index(b, r->launch.shared_mem, &layer.shared_mem);
    if (!status) status = add_layer_args(b, r, &layer);
    if (status) {
      status = kiln_status_annotate(status, "aot_impl (tactic %d)",
                                    (int)layer.tactic);
    }
  }
  for (size_t t = 0; t < tactic_count; ++t) {
    if (candidates[t].has_result) release_result(&candidates[t].result);
  }
  KILN_RETURN_IF_ERROR(status);
  kiln__plan_layer_t* pl = NULL;
  KILN_RETURN_IF_ERROR(vec_push(b->allocator, &b->layers,
                                sizeof(kiln__plan_layer_t), (void**)&pl));
  *pl = layer;
  return NULL;
}

//===----------------------------------------------------------------------===//
// Checks at the profile bounds and the activation memory plan
//===----------------------------------------------------------------------===//

static const char* bound_name(bound_t bound) {
  return bound == BOUND_MIN   ? "minimum"
         : bound == BOUND_OPT ? "opt"
                              : "maximum";
}

// Fills |dims| (one per input ordinal) with profile |p|'s |bound| shapes.
static void profile_env(const builder_t* b, uint32_t p, bound_t bound,
                        kiln_dims_t* dims, kiln_sym_env_t* env) {
  const kiln_network_t* net = b->network;
  for (uint32_t t = 0; t < net->tensor_count; ++t) {
    const kiln__net_tensor_t* nt = &net->tensors[t];
    if (nt->kind != KILN__NET_TENSOR_INPUT) continue;
    kiln_dims_t* d = &dims[nt->input_ordinal];
    d->rank = nt->rank;
    for (int32_t j = 0; j < nt->rank; ++j) {
      kiln__plan_dim_range_t r =
          kiln__plan_dim_range(b->plan, p, nt->input_ordinal, (uint32_t)j);
      d->d[j] = bound == BOUND_MIN ? r.min : bound == BOUND_OPT ? r.opt : r.max;
    }
  }
  env->tensors = dims;
  env->tensor_count = net->input_count;
  env->size_tensor_values = NULL;
  env->size_tensor_count = 0;
}

// Returns true when a dimension of plan tensor |pt| depends on a size
// tensor's value.
static bool plan_tensor_is_data_dependent(const builder_t* b,
                                          const kiln__plan_tensor_t* pt) {
  for (int32_t j = 0; j < pt->rank; ++j) {
    if (kiln__sym_uses_size_tensor(VEC_AT(b->exprs, kiln_sym_t, pt->dims[j]))) {
      return true;
    }
  }
  return false;
}

// The distinct size tensor placeholders of one tensor's shape.
typedef struct placeholder_list_t {
  kiln_sym_t items[64];
  uint32_t count;
} placeholder_list_t;

static kiln_status_t collect_placeholder(void* user_data,
                                         kiln_sym_t placeholder) {
  placeholder_list_t* list = (placeholder_list_t*)user_data;
  if (list->count == KILN_ARRAYSIZE(list->items)) {
    return kiln_make_status(KILN_STATUS_UNIMPLEMENTED,
                            "more than %zu distinct size tensor placeholders "
                            "in one shape",
                            KILN_ARRAYSIZE(list->items));
  }
  list->items[list->count++] = placeholder;
  return NULL;
}

// Checks data-dependent tensor |t| at the opt shapes |env|: each size tensor
// its shape uses has 0 <= opt <= upper bound, and each dimension, with the
// size tensors at their opt values, is at least 0.
static kiln_status_t check_data_dependent_at_opt(builder_t* b, uint32_t t,
                                                 const kiln_sym_env_t* env) {
  const kiln__plan_tensor_t* pt = &VEC_AT(b->tensors, kiln__plan_tensor_t, t);
  kiln_sym_t roots[KILN_MAX_RANK];
  for (int32_t j = 0; j < pt->rank; ++j) {
    roots[j] = VEC_AT(b->exprs, kiln_sym_t, pt->dims[j]);
  }
  placeholder_list_t list;
  list.count = 0;
  KILN_RETURN_IF_ERROR(kiln__sym_visit_size_tensors(
      b->sym, roots, (size_t)pt->rank, collect_placeholder, &list));
  for (uint32_t k = 0; k < list.count; ++k) {
    kiln_sym_info_t info = kiln_sym_get_info(list.items[k]);
    int64_t opt = 0, upper = 0;
    KILN_RETURN_IF_ERROR(kiln_sym_eval(b->sym, info.a, env, &opt));
    KILN_RETURN_IF_ERROR(kiln_sym_eval(b->sym, info.b, env, &upper));
    if (opt < 0 || opt > upper) {
      char name[256];
      format_net_tensor(b, info.index, name, sizeof(name));
      return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                              "%s, a size tensor, has the opt value %lld, "
                              "outside [0, %lld] (0 to its upper bound)",
                              name, (long long)opt, (long long)upper);
    }
  }
  for (int32_t j = 0; j < pt->rank; ++j) {
    if (!kiln__sym_uses_size_tensor(roots[j])) continue;
    kiln_sym_t at_opt = NULL;
    int64_t value = 0;
    kiln_status_t s = kiln__sym_size_tensors_at_opt(b->sym, roots[j], &at_opt);
    if (!s) s = kiln_sym_eval_range(b->sym, at_opt, env, 0, INT64_MAX, &value);
    if (s) {
      return kiln_status_annotate(s,
                                  "dimension %d with its size tensors at "
                                  "their opt values",
                                  (int)j);
    }
  }
  return NULL;
}

// The size in bytes of data-dependent tensor |pt| at the upper bounds of its
// dimensions over |env|.
static kiln_status_t data_dependent_bytes(builder_t* b,
                                          const kiln__plan_tensor_t* pt,
                                          const kiln__sym_bounds_env_t* env,
                                          uint64_t* out_bytes) {
  *out_bytes = 0;
  uint64_t bytes = kiln_dtype_size((kiln_dtype_t)pt->dtype);
  for (int32_t j = 0; j < pt->rank; ++j) {
    kiln__sym_interval_t range;
    kiln_status_t s = kiln__sym_bounds(
        b->sym, VEC_AT(b->exprs, kiln_sym_t, pt->dims[j]), env, &range);
    if (s) return kiln_status_annotate(s, "dimension %d", (int)j);
    uint64_t hi = range.hi > 0 ? (uint64_t)range.hi : 0;
    if (__builtin_mul_overflow(bytes, hi, &bytes)) {
      return kiln_make_status(KILN_STATUS_OUT_OF_RANGE,
                              "dimension %d: its upper bound %lld makes the "
                              "size in bytes overflow",
                              (int)j, (long long)range.hi);
    }
  }
  *out_bytes = bytes;
  return NULL;
}

// Evaluates every layer's launch parameters and arguments, and every
// tensor's size, at each profile's bounds, so that a shape inside a profile
// can never fail at run time for a reason the builder could have seen.
// Records each tensor's largest size in max_bytes: for a data-dependent
// tensor, the size at the upper bounds of its dimensions over the profile's
// ranges (each size tensor in [0, its upper bound]). |dims| and |dims_min|
// hold one kiln_dims_t per input each.
static kiln_status_t check_bounds(builder_t* b, kiln_dims_t* dims,
                                  kiln_dims_t* dims_min) {
  for (uint32_t p = 0; p < b->plan->profile_count; ++p) {
    for (int bound = BOUND_MIN; bound <= BOUND_MAX; ++bound) {
      kiln_sym_env_t env;
      profile_env(b, p, (bound_t)bound, dims, &env);
      for (uint32_t t = 0; t < b->tensors.count; ++t) {
        kiln__plan_tensor_t* pt = &VEC_AT(b->tensors, kiln__plan_tensor_t, t);
        if (plan_tensor_is_data_dependent(b, pt)) {
          kiln_status_t s = NULL;
          if (bound == BOUND_OPT) {
            s = check_data_dependent_at_opt(b, t, &env);
          } else if (bound == BOUND_MAX) {
            kiln_sym_env_t min_env;
            profile_env(b, p, BOUND_MIN, dims_min, &min_env);
            kiln__sym_bounds_env_t ranges = {dims_min, dims,
                                             b->network->input_count};
            uint64_t bytes = 0;
            s = data_dependent_bytes(b, pt, &ranges, &bytes);
            if (!s && bytes > pt->max_bytes) pt->max_bytes = bytes;
          }
          if (s) {
            char name[256];
            format_net_tensor(b, t, name, sizeof(name));
            s = kiln_status_annotate(
                s, "data-dependent %s %s the %s shapes of profile %u", name,
                bound == BOUND_MAX ? "over" : "at",
                bound == BOUND_MAX ? "min..max" : "opt", p);
            return layer_error(b, pt->producer, s);
          }
          continue;
        }
        uint64_t bytes = kiln_dtype_size((kiln_dtype_t)pt->dtype);
        for (int32_t j = 0; j < pt->rank; ++j) {
          int64_t v = 0;
          kiln_status_t s = kiln_sym_eval_range(
              b->sym, VEC_AT(b->exprs, kiln_sym_t, pt->dims[j]), &env, 0,
              INT64_MAX, &v);
          if (!s && __builtin_mul_overflow(bytes, (uint64_t)v, &bytes)) {
            s = kiln_make_status(KILN_STATUS_OUT_OF_RANGE,
                                 "its size in bytes overflows");
          }
          if (s) {
            const kiln__net_tensor_t* nt = &b->network->tensors[t];
            return kiln_status_annotate(
                s,
                "tensor %u%s%s%s dimension %d at the %s shapes of profile %u",
                t, nt->name ? " '" : "", nt->name ? nt->name : "",
                nt->name ? "'" : "", (int)j, bound_name((bound_t)bound), p);
          }
        }
        if (bytes > pt->max_bytes) pt->max_bytes = bytes;
      }
      for (uint32_t li = 0; li < b->layers.count; ++li) {
        const kiln__plan_layer_t* pl =
            &VEC_AT(b->layers, kiln__plan_layer_t, li);
        if (pl->kind != KILN__LAYER_AOT) continue;
        static const char* const names[7] = {"grid_x",    "grid_y",  "grid_z",
                                             "block_x",   "block_y", "block_z",
                                             "shared_mem"};
        const uint32_t exprs[7] = {pl->grid[0],   pl->grid[1],  pl->grid[2],
                                   pl->block[0],  pl->block[1], pl->block[2],
                                   pl->shared_mem};
        static const int64_t lo[7] = {0, 0, 0, 1, 1, 1, 0};
        static const int64_t hi[7] = {INT32_MAX, 65535, 65535,    1024,
                                      1024,      64,    INT32_MAX};
        kiln_status_t s = NULL;
        for (int i = 0; i < 7 && !s; ++i) {
          int64_t v;
          s = kiln_sym_eval_range(b->sym,
                                  VEC_AT(b->exprs, kiln_sym_t, exprs[i]), &env,
                                  lo[i], hi[i], &v);
          if (s) s = kiln_status_annotate(s, "launch parameter %s", names[i]);
        }
        for (uint32_t a = 0; a < pl->args.count && !s; ++a) {
          const kiln__plan_arg_t* arg =
              &VEC_AT(b->args, kiln__plan_arg_t, pl->args.first + a);
          if (arg->type == KILN_ARG_TYPE_FLOAT32) continue;
          int64_t v;
          kiln_sym_t e = VEC_AT(b->exprs, kiln_sym_t, arg->expr);
          s = arg->type == KILN_ARG_TYPE_INT32
                  ? kiln_sym_eval_range(b->sym, e, &env, INT32_MIN, INT32_MAX,
                                        &v)
                  : kiln_sym_eval(b->sym, e, &env, &v);
          if (s) s = kiln_status_annotate(s, "extra argument %u", a);
        }
        if (s) {
          s = kiln_status_annotate(s, "at the %s shapes of profile %u",
                                   bound_name((bound_t)bound), p);
          return layer_error(b, li, s);
        }
      }
    }
  }
  return NULL;
}

typedef struct placement_t {
  uint32_t tensor;
  uint32_t first;  // producing layer
  uint32_t last;   // last consuming layer
  uint64_t size;
  uint64_t offset;
} placement_t;

// Places internal activations in one arena: tensors whose lifetimes
// [producer, last use] overlap get disjoint byte ranges; the largest are
// placed first at the lowest offset that fits.
static kiln_status_t plan_memory(builder_t* b) {
  uint32_t n = b->tensors.count;
  uint32_t* last_use = NULL;
  placement_t* items = NULL;
  kiln_status_t status = kiln_allocator_malloc(
      b->allocator, (size_t)(n ? n : 1) * sizeof(uint32_t), (void**)&last_use);
  if (!status) {
    status = kiln_allocator_malloc(b->allocator,
                                   (size_t)(n ? n : 1) * sizeof(placement_t),
                                   (void**)&items);
  }
  if (status) {
    kiln_allocator_free(b->allocator, last_use);
    return status;
  }
  for (uint32_t t = 0; t < n; ++t) {
    last_use[t] = VEC_AT(b->tensors, kiln__plan_tensor_t, t).producer;
  }
  for (uint32_t li = 0; li < b->layers.count; ++li) {
    const kiln__plan_layer_t* pl = &VEC_AT(b->layers, kiln__plan_layer_t, li);
    for (uint32_t i = 0; i < pl->inputs.count; ++i) {
      uint32_t t = VEC_AT(b->indices, uint32_t, pl->inputs.first + i);
      last_use[t] = li;
    }
  }
  // The runtime reads size tensors after the whole engine ran, to tell the
  // shapes of data-dependent outputs: they stay allocated to the end.
  for (uint32_t t = 0; t < n; ++t) {
    if (VEC_AT(b->tensors, kiln__plan_tensor_t, t).is_size_tensor) {
      last_use[t] = b->layers.count;
    }
  }
  // An in-place output keeps the tensor it aliases alive.
  for (uint32_t t = 0; t < n && !status; ++t) {
    kiln__plan_tensor_t* pt = &VEC_AT(b->tensors, kiln__plan_tensor_t, t);
    if (pt->alias_of == KILN__NONE) continue;
    uint32_t root = pt->alias_of;
    while (VEC_AT(b->tensors, kiln__plan_tensor_t, root).alias_of !=
           KILN__NONE) {
      root = VEC_AT(b->tensors, kiln__plan_tensor_t, root).alias_of;
    }
    const kiln__plan_tensor_t* rt =
        &VEC_AT(b->tensors, kiln__plan_tensor_t, root);
    if (pt->is_output || rt->kind != KILN__TENSOR_ACTIVATION || rt->is_output) {
      status = kiln_make_status(
          KILN_STATUS_UNIMPLEMENTED,
          "tensor %u aliases tensor %u in place; in-place outputs are "
          "supported only between internal activations",
          t, root);
      break;
    }
    if (last_use[t] != KILN__NONE &&
        (last_use[root] == KILN__NONE || last_use[t] > last_use[root])) {
      last_use[root] = last_use[t];
    }
  }
  uint32_t count = 0;
  for (uint32_t t = 0; t < n && !status; ++t) {
    const kiln__plan_tensor_t* pt = &VEC_AT(b->tensors, kiln__plan_tensor_t, t);
    if (pt->kind != KILN__TENSOR_ACTIVATION || pt->is_output ||
        pt->alias_of != KILN__NONE) {
      continue;
    }
    placement_t* it = &items[count++];
    it->tensor = t;
    it->first = pt->producer;
    it->last = last_use[t];
    it->size = pt->max_bytes ? pt->max_bytes : 1;
    it->offset = UINT64_MAX;
  }
  // Largest first (insertion sort: layer counts are small).
  for (uint32_t i = 1; i < count; ++i) {
    placement_t key = items[i];
    uint32_t j = i;
    while (j > 0 && items[j - 1].size < key.size) {
      items[j] = items[j - 1];
      --j;
    }
    items[j] = key;
  }
  uint64_t arena = 0;
  for (uint32_t i = 0; i < count && !status; ++i) {
    uint64_t offset = 0;
    bool moved = true;
    while (moved && !status) {
      moved = false;
      for (uint32_t k = 0; k < i; ++k) {
        const placement_t* other = &items[k];
        bool live_together =
            !(other->last < items[i].first || items[i].last < other->first);
        if (!live_together) continue;
        if (offset < other->offset + other->size &&
            other->offset < offset + items[i].size) {
          uint64_t next = other->offset + other->size;
          if (next > UINT64_MAX - 255) {
            status = kiln_make_status(KILN_STATUS_OUT_OF_RANGE,
                                      "activation memory overflows");
            break;
          }
          offset = (next + 255) & ~(uint64_t)255;
          moved = true;
        }
      }
    }
    items[i].offset = offset;
    if (offset + items[i].size > arena) arena = offset + items[i].size;
    VEC_AT(b->tensors, kiln__plan_tensor_t, items[i].tensor).arena_offset =
        offset;
  }
  b->plan->activation_bytes = (arena + 255) & ~(uint64_t)255;
  kiln_allocator_free(b->allocator, items);
  kiln_allocator_free(b->allocator, last_use);
  return status;
}

//===----------------------------------------------------------------------===//
// kiln_build
//===----------------------------------------------------------------------===//

static kiln_status_t resolve_targets(builder_t* b) {
  const kiln_build_config_t* cfg = b->config;
  if (cfg->targets_set) {
    for (uint32_t i = 0; i < cfg->target_count; ++i) {
      b->targets[i] = cfg->targets[i];
    }
    b->target_count = cfg->target_count;
  }
  // A GPU, when there is one, is the default target and times tactics.
  // With explicit targets and timing off the build needs none, and skips
  // initializing the driver (which costs ~0.1 s of a warm, cached build).
  if (cfg->targets_set && !cfg->timing) {
    if (!b->target_count) {
      kiln__log(b->logger, KILN_LOG_LEVEL_WARNING,
                "no target architecture: the engine holds PTX only");
    }
    return NULL;
  }
  kiln_device_t* device = NULL;
  kiln_status_t status = kiln_device_create(0, b->allocator, &device);
  if (status) {
    kiln_status_code_t code = kiln_status_code(status);
    kiln__log(b->logger, KILN_LOG_LEVEL_INFO, "no GPU for the build (%s): %s",
              kiln_status_code_name(code), kiln_status_message(status));
    kiln_status_free(status);
    if (code != KILN_STATUS_UNAVAILABLE) {
      // A broken GPU setup is worth a warning, not a failed build.
      kiln__log(b->logger, KILN_LOG_LEVEL_WARNING,
                "building without a GPU: tactics are not timed");
    }
  } else {
    b->device = device;
    if (!cfg->targets_set) {
      b->targets[0] = kiln_device_sm_arch(device);
      b->target_count = 1;
    }
  }
  if (!b->target_count) {
    kiln__log(b->logger, KILN_LOG_LEVEL_WARNING,
              "no target architecture and no GPU: the engine holds PTX only");
  }
  return NULL;
}

static kiln_status_t finish_plan(builder_t* b) {
  kiln__plan_t* plan = b->plan;
  KILN_RETURN_IF_ERROR(vec_to_plan(plan, &b->exprs, sizeof(kiln_sym_t),
                                   (void**)&plan->exprs, &plan->expr_count));
  KILN_RETURN_IF_ERROR(
      vec_to_plan(plan, &b->tensors, sizeof(kiln__plan_tensor_t),
                  (void**)&plan->tensors, &plan->tensor_count));
  KILN_RETURN_IF_ERROR(
      vec_to_plan(plan, &b->constants, sizeof(kiln__plan_constant_t),
                  (void**)&plan->constants, &plan->constant_count));
  KILN_RETURN_IF_ERROR(vec_to_plan(plan, &b->images, sizeof(kiln__plan_image_t),
                                   (void**)&plan->images, &plan->image_count));
  KILN_RETURN_IF_ERROR(vec_to_plan(plan, &b->params, sizeof(kiln__plan_param_t),
                                   (void**)&plan->params, &plan->param_count));
  KILN_RETURN_IF_ERROR(
      vec_to_plan(plan, &b->kernels, sizeof(kiln__plan_kernel_t),
                  (void**)&plan->kernels, &plan->kernel_count));
  KILN_RETURN_IF_ERROR(vec_to_plan(plan, &b->args, sizeof(kiln__plan_arg_t),
                                   (void**)&plan->args, &plan->arg_count));
  KILN_RETURN_IF_ERROR(vec_to_plan(plan, &b->layers, sizeof(kiln__plan_layer_t),
                                   (void**)&plan->layers, &plan->layer_count));
  KILN_RETURN_IF_ERROR(vec_to_plan(plan, &b->indices, sizeof(uint32_t),
                                   (void**)&plan->indices, &plan->index_count));
  plan->input_count = b->network->input_count;
  plan->output_count = b->network->output_count;
  plan->info.kiln_version = (uint32_t)KILN_VERSION_NUMBER;
  plan->info.timed = b->device && b->config->timing ? 1 : 0;
  plan->info.timed_sm_arch =
      plan->info.timed ? kiln_device_sm_arch(b->device) : 0;
  plan->blob.data = b->blob.data;
  plan->blob.size = b->blob.size;
  return NULL;
}

static void builder_deinit(builder_t* b) {
  vec_t* vecs[] = {&b->tensors, &b->constants,    &b->images, &b->params,
                   &b->kernels, &b->args,         &b->layers, &b->indices,
                   &b->exprs,   &b->kernel_hashes};
  for (size_t i = 0; i < KILN_ARRAYSIZE(vecs); ++i) {
    kiln_allocator_free(b->allocator, vecs[i]->data);
  }
  kiln_allocator_free(b->allocator, b->expr_of);
  kiln_allocator_free(b->allocator, b->descs);
  kiln__writer_deinit(&b->blob);
  kiln__plan_destroy(b->plan);
  kiln_device_release(b->device);
}

static kiln_status_t build(builder_t* b) {
  const kiln_network_t* net = b->network;
  if (net->output_count == 0) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "the network has no outputs: mark at least one "
                            "with kiln_network_mark_output");
  }
  KILN_RETURN_IF_ERROR(kiln__plan_create(b->allocator, &b->plan));
  b->sym = b->plan->sym;
  KILN_RETURN_IF_ERROR(kiln_allocator_malloc(
      b->allocator,
      (size_t)(net->tensor_count ? net->tensor_count : 1) *
          sizeof(kiln_tensor_desc_t),
      (void**)&b->descs));
  KILN_RETURN_IF_ERROR(resolve_profiles(b));
  KILN_RETURN_IF_ERROR(resolve_targets(b));
  for (uint32_t t = 0; t < net->tensor_count; ++t) {
    KILN_RETURN_IF_ERROR(add_plan_tensor(b, t));
  }
  for (uint32_t l = 0; l < net->layer_count; ++l) {
    kiln_status_t status = build_layer(b, l);
    if (status) return layer_error(b, l, status);
  }
  kiln_dims_t* dims = NULL;
  size_t dims_count = net->input_count ? net->input_count : 1;
  KILN_RETURN_IF_ERROR(kiln_allocator_malloc(
      b->allocator, 2 * dims_count * sizeof(kiln_dims_t), (void**)&dims));
  kiln_status_t status = check_bounds(b, dims, dims + dims_count);
  kiln_allocator_free(b->allocator, dims);
  KILN_RETURN_IF_ERROR(status);
  KILN_RETURN_IF_ERROR(plan_memory(b));
  KILN_RETURN_IF_ERROR(finish_plan(b));
  status = kiln__plan_verify(b->plan, NULL, b->allocator);
  if (status) {
    return kiln_status_annotate(status,
                                "internal error: the built plan does not "
                                "verify");
  }
  return NULL;
}

kiln_status_t kiln_build(const kiln_network_t* network,
                         const kiln_build_config_t* config,
                         kiln_allocator_t allocator, kiln_blob_t** out_engine) {
  if (!out_engine) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT, "out_engine is NULL");
  }
  *out_engine = NULL;
  if (!network || !config) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "kiln_build: network and config must not be NULL");
  }
  builder_t b;
  memset(&b, 0, sizeof(b));
  b.network = network;
  b.config = config;
  b.allocator = allocator;
  b.logger = &config->logger;
  if (config->cache_dir_set) {
    snprintf(b.cache_dir, sizeof(b.cache_dir), "%s", config->cache_dir);
  } else if (!kiln__cache_default_dir(b.cache_dir, sizeof(b.cache_dir))) {
    b.cache_dir[0] = '\0';
  }
  kiln__writer_init(&b.blob, allocator);
  kiln_status_t status = build(&b);
  kiln__writer_t out;
  kiln__writer_init(&out, allocator);
  if (!status) status = kiln__engine_write(b.plan, &out);
  if (!status) status = kiln__blob_create_from_writer(&out, false, out_engine);
  kiln__writer_deinit(&out);
  if (b.cache_hits || b.cache_misses) {
    kiln__log(b.logger, KILN_LOG_LEVEL_INFO,
              "compile cache %s: %u cubins reused, %u compiled", b.cache_dir,
              b.cache_hits, b.cache_misses);
  }
  builder_deinit(&b);
  return status;
}
