// Semantic verification of an engine plan: the rules of
// docs/engine-format.md that concern meaning rather than bytes. The reader
// runs it on every plan it parses (failures name the file byte of the field
// at fault); the writer runs it on the builder's plan before writing.
//
// Nothing here trusts a value before checking it: every index is compared
// with its array's count before it is used, every range with checked
// arithmetic, every span against the blob. The work is bounded by the size
// of the plan (see the limits on shared ranges in the spec), and no
// recursion depends on the data except the expression walk, whose depth the
// expression table bounds (KILN_SYM_MAX_DEPTH).

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "base/size.h"
#include "cuda/cubin.h"
#include "engine/engine.h"
#include "sym/sym.h"

// The most kernel parameters checked over all AOT layers (a layer checks
// its kernel's parameters; kernels may be shared by layers).
#define MAX_LAYER_PARAMS (UINT64_C(1) << 24)

typedef struct verifier_t {
  const kiln__plan_t* plan;
  const kiln__engine_origin_t* origin;  // NULL for an in-memory plan
  kiln__arena_t scratch;
  uint32_t* input_tensor;  // input ordinal -> tensor index
  uint32_t* output_seen;   // tensor -> times listed as a layer output
  uint32_t* input_stamp;   // tensor -> 1 + the last layer listing it as input
  // Per kernel: 1 + the largest INPUT, OUTPUT and ARG parameter index.
  uint64_t* kernel_need;  // 3 entries per kernel
  // Per expression node: which layer produces the size tensors it uses
  // (NODE_* below, or NODE_LAYER + the layer).
  uint32_t* node_layer;
  // Per tensor: 1 when a dimension depends on a size tensor.
  uint8_t* data_dependent;
} verifier_t;

// Values of verifier_t.node_layer.
#define NODE_UNVISITED 0u
#define NODE_NO_SIZE_TENSOR 1u
#define NODE_MIXED 2u
#define NODE_LAYER 3u

static kiln_status_t fail(const verifier_t* v, uint64_t offset,
                          const char* format, ...) KILN_PRINTF(3, 4);

static kiln_status_t fail(const verifier_t* v, uint64_t offset,
                          const char* format, ...) {
  char message[512];
  va_list args;
  va_start(args, format);
  vsnprintf(message, sizeof(message), format, args);
  va_end(args);
  if (v->origin) {
    return kiln_make_status(KILN_STATUS_DATA_LOSS,
                            "engine byte %" PRIu64 ": %s", offset, message);
  }
  return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT, "engine plan: %s",
                          message);
}

// The file offset of field |field| of record |record| of |section|; 0 for
// an in-memory plan.
static uint64_t at(const verifier_t* v, kiln__section_id_t section,
                   uint64_t record, uint64_t record_size, uint64_t field) {
  if (!v->origin) return 0;
  return v->origin->section_offset[section] + record * record_size + field;
}

#define TENSOR_AT(i, f) \
  at(v, KILN__SECTION_TENSORS, (i), KILN__TENSOR_SIZE, KILN__TENSOR_OFF_##f)
#define LAYER_AT(i, f) \
  at(v, KILN__SECTION_LAYERS, (i), KILN__LAYER_SIZE, KILN__LAYER_OFF_##f)
#define KERNEL_AT(i, f) \
  at(v, KILN__SECTION_KERNELS, (i), KILN__KERNEL_SIZE, KILN__KERNEL_OFF_##f)
#define IMAGE_AT(i, f) \
  at(v, KILN__SECTION_IMAGES, (i), KILN__IMAGE_SIZE, KILN__IMAGE_OFF_##f)
#define PARAM_AT(i, f) \
  at(v, KILN__SECTION_PARAMS, (i), KILN__PARAM_SIZE, KILN__PARAM_OFF_##f)
#define ARG_AT(i, f) \
  at(v, KILN__SECTION_ARGS, (i), KILN__ARG_SIZE, KILN__ARG_OFF_##f)
#define CONSTANT_AT(i, f)                                  \
  at(v, KILN__SECTION_CONSTANTS, (i), KILN__CONSTANT_SIZE, \
     KILN__CONSTANT_OFF_##f)
#define INFO_AT(f) \
  at(v, KILN__SECTION_INFO, 0, KILN__INFO_SIZE, KILN__INFO_OFF_##f)
#define INDEX_AT(i) at(v, KILN__SECTION_INDICES, (i), KILN__INDEX_SIZE, 0)
#define RANGE_AT(i, f) \
  at(v, KILN__SECTION_PROFILES, (i), KILN__RANGE_SIZE, KILN__RANGE_OFF_##f)
#define BLOB_AT(o) at(v, KILN__SECTION_BLOB, 0, 0, (o))
#define SIZE_TENSOR_AT(k) \
  at(v, KILN__SECTION_SIZE_TENSORS, (k), KILN__SIZE_TENSOR_SIZE, 0)
#define EXPRS_AT() at(v, KILN__SECTION_EXPRS, 0, 0, 0)

// Allocates |count| zeroed entries of |size| bytes from the scratch arena.
static kiln_status_t scratch_alloc(verifier_t* v, size_t count, size_t size,
                                   void** out) {
  size_t bytes;
  KILN_RETURN_IF_ERROR(kiln__size_mul(count, size, "verifier scratch", &bytes));
  return kiln__arena_alloc(&v->scratch, bytes, 8, out);
}

#define SCRATCH_ALLOC(v, count, type, lvalue)                                  \
  do {                                                                         \
    void* memory_ = NULL;                                                      \
    KILN_RETURN_IF_ERROR(scratch_alloc((v), (count), sizeof(type), &memory_)); \
    (lvalue) = (type*)memory_;                                                 \
  } while (0)

//===----------------------------------------------------------------------===//
// Strings and spans
//===----------------------------------------------------------------------===//

// Returns the index of the first byte of |s| that is not part of well-formed
// UTF-8 (no overlong forms, surrogates or code points past U+10FFFF) or is
// NUL, or SIZE_MAX when there is none.
static size_t bad_utf8_at(const uint8_t* s, size_t size) {
  size_t i = 0;
  while (i < size) {
    uint8_t c = s[i];
    if (c == 0) return i;
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n;
    uint32_t min, cp;
    if ((c & 0xe0) == 0xc0) {
      n = 2, min = 0x80, cp = c & 0x1fu;
    } else if ((c & 0xf0) == 0xe0) {
      n = 3, min = 0x800, cp = c & 0x0fu;
    } else if ((c & 0xf8) == 0xf0) {
      n = 4, min = 0x10000, cp = c & 0x07u;
    } else {
      return i;
    }
    if (n > size - i) return i;
    for (size_t k = 1; k < n; ++k) {
      if ((s[i + k] & 0xc0) != 0x80) return i;
      cp = (cp << 6) | (s[i + k] & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += n;
  }
  return SIZE_MAX;
}

// Checks that |span| (read from the field at |field_at|) lies in the blob.
static kiln_status_t check_span(const verifier_t* v, kiln__plan_span_t span,
                                uint64_t field_at, const char* owner,
                                uint64_t index, const char* field) {
  uint64_t blob_size = v->plan->blob.size;
  if (span.size > blob_size || span.offset > blob_size - span.size) {
    return fail(v, field_at,
                "%s %" PRIu64 " %s (offset %" PRIu64 ", size %" PRIu64
                ") is outside the blob of %" PRIu64 " bytes",
                owner, index, field, span.offset, span.size, blob_size);
  }
  return NULL;
}

static const uint8_t* span_data(const verifier_t* v, kiln__plan_span_t span) {
  return v->plan->blob.data + span.offset;
}

// Checks a name: inside the blob, UTF-8 without NUL, non-empty unless
// |allow_empty|.
static kiln_status_t check_name(const verifier_t* v, kiln__plan_span_t span,
                                uint64_t field_at, const char* owner,
                                uint64_t index, const char* field,
                                bool allow_empty) {
  KILN_RETURN_IF_ERROR(check_span(v, span, field_at, owner, index, field));
  if (span.size == 0) {
    if (allow_empty) return NULL;
    return fail(v, field_at, "%s %" PRIu64 " %s is empty", owner, index, field);
  }
  size_t bad = bad_utf8_at(span_data(v, span), (size_t)span.size);
  if (bad != SIZE_MAX) {
    return fail(v, BLOB_AT(span.offset + bad),
                "%s %" PRIu64 " %s has %s at its byte %zu", owner, index, field,
                span_data(v, span)[bad] == 0 ? "a NUL" : "invalid UTF-8", bad);
  }
  return NULL;
}

static bool is_power_of_two(uint64_t x) {
  return x != 0 && (x & (x - 1)) == 0;
}

// Checks that the range |r| lies in a pool of |pool_count| entries.
static kiln_status_t check_range(const verifier_t* v, kiln__plan_range_t r,
                                 uint32_t pool_count, uint64_t field_at,
                                 const char* owner, uint64_t index,
                                 const char* field, const char* pool) {
  if ((uint64_t)r.first + r.count > pool_count) {
    return fail(v, field_at,
                "%s %" PRIu64 " %s (first %" PRIu32 ", count %" PRIu32
                ") runs past the %" PRIu32 " %s",
                owner, index, field, r.first, r.count, pool_count, pool);
  }
  return NULL;
}

static kiln_status_t check_expr_index(const verifier_t* v, uint32_t expr,
                                      uint64_t field_at, const char* owner,
                                      uint64_t index, const char* field) {
  if (expr >= v->plan->expr_count) {
    return fail(v, field_at,
                "%s %" PRIu64 " %s refers to expression %" PRIu32
                ", but there are %" PRIu32 " expressions",
                owner, index, field, expr, v->plan->expr_count);
  }
  return NULL;
}

//===----------------------------------------------------------------------===//
// Images, params, kernels, args
//===----------------------------------------------------------------------===//

static kiln_status_t verify_images(const verifier_t* v) {
  const kiln__plan_t* plan = v->plan;
  for (uint32_t i = 0; i < plan->image_count; ++i) {
    const kiln__plan_image_t* image = &plan->images[i];
    if (image->kind >= KILN_KERNEL_IMAGE_KIND_COUNT) {
      return fail(v, IMAGE_AT(i, KIND),
                  "image %" PRIu32
                  " has kind %u; known kinds are 0 (PTX) "
                  "and 1 (cubin)",
                  i, (unsigned)image->kind);
    }
    KILN_RETURN_IF_ERROR(
        check_span(v, image->data, IMAGE_AT(i, DATA), "image", i, "data"));
    if (image->data.offset % KILN__ENGINE_ALIGNMENT != 0) {
      return fail(v, IMAGE_AT(i, DATA),
                  "image %" PRIu32 " data offset %" PRIu64
                  " is not a multiple of %d",
                  i, image->data.offset, KILN__ENGINE_ALIGNMENT);
    }
    const uint8_t* data = span_data(v, image->data);
    size_t size = (size_t)image->data.size;
    if (image->kind == KILN_KERNEL_IMAGE_PTX) {
      if (size == 0) {
        return fail(v, IMAGE_AT(i, DATA), "image %" PRIu32 " (PTX) is empty",
                    i);
      }
      const uint8_t* nul = memchr(data, 0, size);
      if (nul) {
        return fail(v, BLOB_AT(image->data.offset + (uint64_t)(nul - data)),
                    "image %" PRIu32
                    " (PTX) has a NUL at its byte %zu, "
                    "before its end (%zu bytes)",
                    i, (size_t)(nul - data), size);
      }
      uint64_t end = image->data.offset + image->data.size;
      if (end >= plan->blob.size || plan->blob.data[end] != 0) {
        return fail(v, BLOB_AT(end),
                    "image %" PRIu32
                    " (PTX, %zu bytes) is not followed by a "
                    "NUL in the blob",
                    i, size);
      }
    } else {
      // The cubin's ELF structure, checked by src/cuda/ (which also
      // checks its symbols before the driver sees it at load time).
      if (image->sm_arch == 0) {
        return fail(v, IMAGE_AT(i, SM_ARCH),
                    "image %" PRIu32 " (cubin) has SM architecture 0", i);
      }
      kiln__cubin_info_t info;
      kiln_const_bytes_t cubin = {data, size};
      kiln_status_t status = kiln__cubin_inspect(cubin, &info);
      if (status) {
        kiln_status_t wrapped = fail(v, BLOB_AT(image->data.offset),
                                     "image %" PRIu32 " (cubin): %s", i,
                                     kiln_status_message(status));
        kiln_status_free(status);
        return wrapped;
      }
      // An ELF ABI version kiln does not know gives 0: the loader decides.
      if (info.sm_arch != 0 && info.sm_arch != image->sm_arch) {
        return fail(v, IMAGE_AT(i, SM_ARCH),
                    "image %" PRIu32 " (cubin) is for sm_%" PRIu32
                    " by its ELF header, but the engine says sm_%" PRIu32,
                    i, info.sm_arch, image->sm_arch);
      }
    }
  }
  return NULL;
}

static const char* const param_kind_names[KILN__PARAM_KIND_COUNT] = {
    "input", "output", "arg", "zero", "global scratch", "profile scratch"};

static kiln_status_t verify_params(const verifier_t* v) {
  const kiln__plan_t* plan = v->plan;
  for (uint32_t i = 0; i < plan->param_count; ++i) {
    const kiln__plan_param_t* p = &plan->params[i];
    if (p->kind >= KILN__PARAM_KIND_COUNT) {
      return fail(v, PARAM_AT(i, KIND),
                  "param %" PRIu32 " has kind %u; known kinds are 0..%d", i,
                  (unsigned)p->kind, KILN__PARAM_KIND_COUNT - 1);
    }
    if (p->align == 0 || p->align > 16 || !is_power_of_two(p->align)) {
      return fail(v, PARAM_AT(i, ALIGN),
                  "param %" PRIu32
                  " (%s) has alignment %u; it must be a "
                  "power of two up to 16",
                  i, param_kind_names[p->kind], (unsigned)p->align);
    }
    switch (p->kind) {
      case KILN__PARAM_ARG:
        if (p->size != 4 && p->size != 8) {
          return fail(v, PARAM_AT(i, SIZE),
                      "param %" PRIu32 " (arg) has size %u; it must be 4 or 8",
                      i, (unsigned)p->size);
        }
        if (p->align != p->size) {
          return fail(v, PARAM_AT(i, ALIGN),
                      "param %" PRIu32 " (arg) has alignment %u for size %u", i,
                      (unsigned)p->align, (unsigned)p->size);
        }
        break;
      case KILN__PARAM_ZERO:
        if (p->size == 0) {
          return fail(v, PARAM_AT(i, SIZE),
                      "param %" PRIu32 " (zero) has size 0", i);
        }
        break;
      default:  // pointers
        if (p->size != 8 || p->align != 8) {
          return fail(v, PARAM_AT(i, SIZE),
                      "param %" PRIu32
                      " (%s pointer) has size %u and "
                      "alignment %u; a pointer takes 8 and 8",
                      i, param_kind_names[p->kind], (unsigned)p->size,
                      (unsigned)p->align);
        }
        break;
    }
  }
  return NULL;
}

// Checks a Triton scratch description: no alignment without a size, a
// power-of-two alignment with one.
static kiln_status_t check_scratch(const verifier_t* v, uint32_t k,
                                   uint64_t size, uint32_t align,
                                   uint64_t align_at, const char* which) {
  if (size == 0) return NULL;
  if (!is_power_of_two(align)) {
    return fail(v, align_at,
                "kernel %" PRIu32 " %s scratch alignment %" PRIu32
                " is not a power of two",
                k, which, align);
  }
  return NULL;
}

static kiln_status_t verify_kernels(verifier_t* v) {
  const kiln__plan_t* plan = v->plan;
  SCRATCH_ALLOC(v, (size_t)plan->kernel_count * 3, uint64_t, v->kernel_need);
  uint64_t image_total = 0, param_total = 0;
  for (uint32_t k = 0; k < plan->kernel_count; ++k) {
    const kiln__plan_kernel_t* kernel = &plan->kernels[k];
    KILN_RETURN_IF_ERROR(
        check_span(v, kernel->name, KERNEL_AT(k, NAME), "kernel", k, "name"));
    if (kernel->name.size == 0) {
      return fail(v, KERNEL_AT(k, NAME), "kernel %" PRIu32 " name is empty", k);
    }
    const uint8_t* name = span_data(v, kernel->name);
    for (uint64_t c = 0; c < kernel->name.size; ++c) {
      if (name[c] <= 0x20 || name[c] >= 0x7f) {
        return fail(v, BLOB_AT(kernel->name.offset + c),
                    "kernel %" PRIu32 " name has byte 0x%02x at %" PRIu64
                    "; an entry symbol is printable ASCII without spaces",
                    k, (unsigned)name[c], c);
      }
    }
    KILN_RETURN_IF_ERROR(check_range(v, kernel->images, plan->image_count,
                                     KERNEL_AT(k, IMAGES), "kernel", k,
                                     "images", "images"));
    if (kernel->images.count == 0) {
      return fail(v, KERNEL_AT(k, IMAGES), "kernel %" PRIu32 " has no image",
                  k);
    }
    KILN_RETURN_IF_ERROR(check_range(v, kernel->params, plan->param_count,
                                     KERNEL_AT(k, PARAMS), "kernel", k,
                                     "params", "params"));
    image_total += kernel->images.count;
    param_total += kernel->params.count;
    if (image_total > plan->image_count) {
      return fail(v, KERNEL_AT(k, IMAGES),
                  "kernels 0..%" PRIu32 " list %" PRIu64
                  " images, more than the %" PRIu32
                  " there are (kernels do not share images)",
                  k, image_total, plan->image_count);
    }
    if (param_total > plan->param_count) {
      return fail(v, KERNEL_AT(k, PARAMS),
                  "kernels 0..%" PRIu32 " list %" PRIu64
                  " params, more than the %" PRIu32
                  " there are (kernels do not share params)",
                  k, param_total, plan->param_count);
    }
    KILN_RETURN_IF_ERROR(check_scratch(
        v, k, kernel->global_scratch_size, kernel->global_scratch_align,
        KERNEL_AT(k, GLOBAL_SCRATCH_ALIGN), "global"));
    KILN_RETURN_IF_ERROR(check_scratch(
        v, k, kernel->profile_scratch_size, kernel->profile_scratch_align,
        KERNEL_AT(k, PROFILE_SCRATCH_ALIGN), "profile"));
    if (kernel->num_ctas == 0) {
      return fail(v, KERNEL_AT(k, NUM_CTAS), "kernel %" PRIu32 " has 0 CTAs",
                  k);
    }
    // The parameter layout: at most one of each scratch pointer, and a
    // buffer that fits a launch.
    uint64_t* need = &v->kernel_need[3 * (size_t)k];
    uint64_t bytes = 0;
    bool global = false, profile = false;
    for (uint32_t j = 0; j < kernel->params.count; ++j) {
      uint32_t pi = kernel->params.first + j;
      const kiln__plan_param_t* p = &plan->params[pi];
      bytes = (bytes + p->align - 1) / p->align * p->align + p->size;
      if (bytes > KILN__ENGINE_MAX_PARAM_BYTES) {
        return fail(v, KERNEL_AT(k, PARAMS),
                    "kernel %" PRIu32 " parameters take more than %d bytes", k,
                    KILN__ENGINE_MAX_PARAM_BYTES);
      }
      bool* seen = p->kind == KILN__PARAM_GLOBAL_SCRATCH    ? &global
                   : p->kind == KILN__PARAM_PROFILE_SCRATCH ? &profile
                                                            : NULL;
      if (seen) {
        if (*seen) {
          return fail(v, PARAM_AT(pi, KIND),
                      "kernel %" PRIu32 " param %" PRIu32
                      " is a second %s pointer",
                      k, j, param_kind_names[p->kind]);
        }
        *seen = true;
      }
      int slot = p->kind == KILN__PARAM_INPUT    ? 0
                 : p->kind == KILN__PARAM_OUTPUT ? 1
                 : p->kind == KILN__PARAM_ARG    ? 2
                                                 : -1;
      if (slot >= 0 && (uint64_t)p->index + 1 > need[slot]) {
        need[slot] = (uint64_t)p->index + 1;
      }
    }
  }
  return NULL;
}

static const char* const arg_type_names[KILN_ARG_TYPE_COUNT] = {
    "int32", "int64", "float32"};

static kiln_status_t verify_args(const verifier_t* v) {
  const kiln__plan_t* plan = v->plan;
  for (uint32_t i = 0; i < plan->arg_count; ++i) {
    const kiln__plan_arg_t* arg = &plan->args[i];
    if (arg->type >= KILN_ARG_TYPE_COUNT) {
      return fail(v, ARG_AT(i, TYPE),
                  "arg %" PRIu32 " has type %u; known types are 0..%d", i,
                  (unsigned)arg->type, KILN_ARG_TYPE_COUNT - 1);
    }
    if (arg->type != KILN_ARG_TYPE_FLOAT32) {
      KILN_RETURN_IF_ERROR(
          check_expr_index(v, arg->expr, ARG_AT(i, EXPR), "arg", i, "value"));
      if (kiln__sym_uses_size_tensor(plan->exprs[arg->expr])) {
        return fail(v, ARG_AT(i, EXPR),
                    "arg %" PRIu32 " is expression %" PRIu32
                    ", which uses a size tensor; kernel arguments cannot "
                    "depend on values the engine computes",
                    i, arg->expr);
      }
    }
  }
  return NULL;
}

//===----------------------------------------------------------------------===//
// Tensors and expressions
//===----------------------------------------------------------------------===//

static const char* const tensor_kind_names[KILN__TENSOR_KIND_COUNT] = {
    "input", "constant", "activation"};
static const char* const tensor_kind_articles[KILN__TENSOR_KIND_COUNT] = {
    "an", "a", "an"};

// The checks of one tensor that need no other tensor or layer.
static kiln_status_t verify_tensor_fields(verifier_t* v, uint32_t t,
                                          uint32_t* input_count,
                                          uint32_t* output_count,
                                          uint32_t* size_tensor_count) {
  const kiln__plan_t* plan = v->plan;
  const kiln__plan_tensor_t* tensor = &plan->tensors[t];
  if (tensor->kind >= KILN__TENSOR_KIND_COUNT) {
    return fail(v, TENSOR_AT(t, KIND),
                "tensor %" PRIu32 " has kind %u; known kinds are 0..%d", t,
                (unsigned)tensor->kind, KILN__TENSOR_KIND_COUNT - 1);
  }
  if (tensor->dtype >= KILN_DTYPE_COUNT) {
    return fail(v, TENSOR_AT(t, DTYPE),
                "tensor %" PRIu32 " has dtype %u; known dtypes are 0..%d", t,
                (unsigned)tensor->dtype, KILN_DTYPE_COUNT - 1);
  }
  if (tensor->format >= KILN_FORMAT_COUNT) {
    return fail(v, TENSOR_AT(t, FORMAT),
                "tensor %" PRIu32 " has format %u; known formats are 0..%d", t,
                (unsigned)tensor->format, KILN_FORMAT_COUNT - 1);
  }
  if (tensor->rank < 0 || tensor->rank > KILN_MAX_RANK) {
    return fail(v, TENSOR_AT(t, RANK),
                "tensor %" PRIu32 " has rank %" PRId32 "; the most is %d", t,
                tensor->rank, KILN_MAX_RANK);
  }
  for (int32_t j = 0; j < tensor->rank; ++j) {
    if (tensor->dims[j] >= plan->expr_count) {
      return fail(v, TENSOR_AT(t, DIMS) + 4 * (uint64_t)j,
                  "tensor %" PRIu32 " dimension %" PRId32
                  " refers to expression %" PRIu32 ", but there are %" PRIu32
                  " expressions",
                  t, j, tensor->dims[j], plan->expr_count);
    }
  }
  if (tensor->is_output > 1) {
    return fail(v, TENSOR_AT(t, IS_OUTPUT),
                "tensor %" PRIu32 " output flag is %u, not 0 or 1", t,
                (unsigned)tensor->is_output);
  }
  if (tensor->is_size_tensor > 1) {
    return fail(v, TENSOR_AT(t, KIND),
                "tensor %" PRIu32 " size tensor flag is %u, not 0 or 1", t,
                (unsigned)tensor->is_size_tensor);
  }
  if (tensor->is_size_tensor) {
    uint64_t listed_at = SIZE_TENSOR_AT(*size_tensor_count);
    ++*size_tensor_count;
    if (tensor->kind != KILN__TENSOR_ACTIVATION) {
      return fail(v, listed_at,
                  "size tensor %" PRIu32
                  " is %s %s; size tensors are "
                  "activations",
                  t, tensor_kind_articles[tensor->kind],
                  tensor_kind_names[tensor->kind]);
    }
    if (tensor->rank != 0 || (tensor->dtype != KILN_DTYPE_INT32 &&
                              tensor->dtype != KILN_DTYPE_INT64)) {
      return fail(v, listed_at,
                  "size tensor %" PRIu32 " has rank %" PRId32
                  " and dtype %s; a size tensor is a rank-0 int32 or int64",
                  t, tensor->rank,
                  kiln_dtype_name((kiln_dtype_t)tensor->dtype));
    }
    if (tensor->alias_of != KILN__NONE) {
      return fail(v, listed_at,
                  "size tensor %" PRIu32 " aliases tensor %" PRIu32
                  "; size tensors alias nothing",
                  t, tensor->alias_of);
    }
  }
  bool bound = tensor->kind == KILN__TENSOR_INPUT || tensor->is_output;
  KILN_RETURN_IF_ERROR(check_name(v, tensor->name, TENSOR_AT(t, NAME), "tensor",
                                  t, "name", !bound));
  if (tensor->is_output) {
    if (tensor->kind != KILN__TENSOR_ACTIVATION) {
      return fail(v, TENSOR_AT(t, IS_OUTPUT),
                  "tensor %" PRIu32
                  " is an output but is %s %s; outputs are "
                  "activations",
                  t, tensor_kind_articles[tensor->kind],
                  tensor_kind_names[tensor->kind]);
    }
    ++*output_count;
  }
  switch (tensor->kind) {
    case KILN__TENSOR_INPUT:
      if (tensor->input_ordinal >= plan->input_count) {
        return fail(v, TENSOR_AT(t, INPUT_ORDINAL),
                    "tensor %" PRIu32 " has input ordinal %" PRIu32
                    ", but there are %" PRIu32 " inputs",
                    t, tensor->input_ordinal, plan->input_count);
      }
      if (v->input_tensor[tensor->input_ordinal] != KILN__NONE) {
        return fail(v, TENSOR_AT(t, INPUT_ORDINAL),
                    "tensor %" PRIu32 " has input ordinal %" PRIu32
                    ", which tensor %" PRIu32 " has too",
                    t, tensor->input_ordinal,
                    v->input_tensor[tensor->input_ordinal]);
      }
      v->input_tensor[tensor->input_ordinal] = t;
      ++*input_count;
      break;
    case KILN__TENSOR_CONSTANT:
      if (tensor->constant >= plan->constant_count) {
        return fail(v, TENSOR_AT(t, CONSTANT),
                    "tensor %" PRIu32 " refers to constant %" PRIu32
                    ", but there are %" PRIu32 " constants",
                    t, tensor->constant, plan->constant_count);
      }
      break;
    default:  // KILN__TENSOR_ACTIVATION
      if (tensor->producer >= plan->layer_count) {
        return fail(v, TENSOR_AT(t, PRODUCER),
                    "tensor %" PRIu32 " is produced by layer %" PRIu32
                    ", but there are %" PRIu32 " layers",
                    t, tensor->producer, plan->layer_count);
      }
      if (tensor->alias_of != KILN__NONE &&
          tensor->alias_of >= plan->tensor_count) {
        return fail(v, TENSOR_AT(t, ALIAS_OF),
                    "tensor %" PRIu32 " aliases tensor %" PRIu32
                    ", but there are %" PRIu32 " tensors",
                    t, tensor->alias_of, plan->tensor_count);
      }
      break;
  }
  return NULL;
}

// Walks the expression DAG under |e|: every dimension is one of an existing
// input, and every size tensor placeholder names a size tensor of the
// engine. Records in v->node_layer which layer produces the size tensors
// each node uses, and returns that for |e| in |*out_layer|.
static kiln_status_t walk_expr(verifier_t* v, uint32_t index, kiln_sym_t e,
                               size_t node_count, uint32_t* out_layer) {
  *out_layer = NODE_NO_SIZE_TENSOR;
  uint32_t id = kiln__sym_id(e);
  if (id >= node_count) return NULL;
  if (v->node_layer[id] != NODE_UNVISITED) {
    *out_layer = v->node_layer[id];
    return NULL;
  }
  kiln_sym_info_t info = kiln_sym_get_info(e);
  const kiln__plan_t* plan = v->plan;
  uint32_t layer = NODE_NO_SIZE_TENSOR;
  switch (info.op) {
    case KILN_SYM_OP_CONST:
      break;
    case KILN_SYM_OP_DIM: {
      if (info.tensor >= plan->input_count) {
        return fail(v, EXPRS_AT(),
                    "expression %" PRIu32 " uses a dimension of input %" PRIu32
                    ", but there are %" PRIu32 " inputs",
                    index, info.tensor, plan->input_count);
      }
      uint32_t t = v->input_tensor[info.tensor];
      if ((int32_t)info.dim >= plan->tensors[t].rank) {
        return fail(v, EXPRS_AT(),
                    "expression %" PRIu32 " uses dimension %" PRIu32
                    " of input %" PRIu32 ", which has rank %" PRId32,
                    index, info.dim, info.tensor, plan->tensors[t].rank);
      }
      break;
    }
    case KILN_SYM_OP_SIZE_TENSOR: {
      if (info.index >= plan->tensor_count) {
        return fail(v, EXPRS_AT(),
                    "expression %" PRIu32 " uses size tensor s%" PRIu32
                    ", but there are %" PRIu32 " tensors",
                    index, info.index, plan->tensor_count);
      }
      const kiln__plan_tensor_t* st = &plan->tensors[info.index];
      if (!st->is_size_tensor) {
        return fail(v, EXPRS_AT(),
                    "expression %" PRIu32 " uses size tensor s%" PRIu32
                    ", but tensor %" PRIu32
                    " is not a size tensor of the engine (the SIZE_TENSORS "
                    "section does not list it)",
                    index, info.index, info.index);
      }
      // The opt value and the upper bound use no size tensor (the
      // expression table refuses that); their dimensions are checked.
      uint32_t unused;
      if (!info.a || !info.b) {
        return fail(v, EXPRS_AT(), "expression %" PRIu32 " lacks an operand",
                    index);
      }
      KILN_RETURN_IF_ERROR(walk_expr(v, index, info.a, node_count, &unused));
      KILN_RETURN_IF_ERROR(walk_expr(v, index, info.b, node_count, &unused));
      layer = NODE_LAYER + st->producer;  // an activation: producer checked
      break;
    }
    default: {
      if (!info.a || !info.b) {
        return fail(v, EXPRS_AT(), "expression %" PRIu32 " lacks an operand",
                    index);
      }
      uint32_t la, lb;
      KILN_RETURN_IF_ERROR(walk_expr(v, index, info.a, node_count, &la));
      KILN_RETURN_IF_ERROR(walk_expr(v, index, info.b, node_count, &lb));
      layer = la == NODE_NO_SIZE_TENSOR   ? lb
              : lb == NODE_NO_SIZE_TENSOR ? la
              : la == lb                  ? la
                                          : NODE_MIXED;
      break;
    }
  }
  v->node_layer[id] = layer;
  *out_layer = layer;
  return NULL;
}

static kiln_status_t verify_exprs(verifier_t* v) {
  const kiln__plan_t* plan = v->plan;
  size_t node_count = kiln_sym_table_node_count(plan->sym);
  SCRATCH_ALLOC(v, node_count, uint32_t, v->node_layer);
  for (uint32_t i = 0; i < plan->expr_count; ++i) {
    kiln_sym_t e = plan->exprs[i];
    if (!e || kiln__sym_table_of(e) != plan->sym) {
      return fail(v, EXPRS_AT(), "expression %" PRIu32 " is %s", i,
                  e ? "not in the plan's table" : "NULL");
    }
    uint32_t unused;
    KILN_RETURN_IF_ERROR(walk_expr(v, i, e, node_count, &unused));
  }
  return NULL;
}

// Marks the data-dependent tensors: activations with a dimension that uses
// size tensors, all of which the tensor's own producer must produce (a
// plugin's size tensors give the shapes of that plugin's other outputs).
static kiln_status_t verify_data_dependent(verifier_t* v) {
  const kiln__plan_t* plan = v->plan;
  SCRATCH_ALLOC(v, plan->tensor_count, uint8_t, v->data_dependent);
  size_t node_count = kiln_sym_table_node_count(plan->sym);
  for (uint32_t t = 0; t < plan->tensor_count; ++t) {
    const kiln__plan_tensor_t* tensor = &plan->tensors[t];
    for (int32_t j = 0; j < tensor->rank; ++j) {
      kiln_sym_t e = plan->exprs[tensor->dims[j]];
      if (!kiln__sym_uses_size_tensor(e)) continue;
      uint32_t id = kiln__sym_id(e);
      uint32_t layer = id < node_count ? v->node_layer[id] : NODE_MIXED;
      uint64_t dim_at = TENSOR_AT(t, DIMS) + 4 * (uint64_t)j;
      if (tensor->kind != KILN__TENSOR_ACTIVATION) {
        return fail(v, dim_at,
                    "tensor %" PRIu32 " (%s) dimension %" PRId32
                    " uses a size tensor; only activations have "
                    "data-dependent shapes",
                    t, tensor_kind_names[tensor->kind], j);
      }
      if (layer != NODE_LAYER + tensor->producer) {
        if (layer == NODE_MIXED) {
          return fail(v, dim_at,
                      "tensor %" PRIu32 " dimension %" PRId32
                      " uses size tensors of several layers; a shape may use "
                      "only the size tensors of the layer producing it "
                      "(layer %" PRIu32 ")",
                      t, j, tensor->producer);
        }
        return fail(v, dim_at,
                    "tensor %" PRIu32 " dimension %" PRId32
                    " uses a size tensor of layer %" PRIu32
                    ", but layer %" PRIu32
                    " produces the tensor; a shape may use only the size "
                    "tensors of the layer producing it",
                    t, j, layer - NODE_LAYER, tensor->producer);
      }
      v->data_dependent[t] = 1;
    }
  }
  return NULL;
}

// Checks the dimensions of inputs and constants, which the format fixes:
// an input's dimension j is a constant >= 0 or dimension j of itself; a
// constant's are constants >= 0 whose product times the dtype size is its
// data size.
static kiln_status_t verify_static_dims(const verifier_t* v, uint32_t t) {
  const kiln__plan_t* plan = v->plan;
  const kiln__plan_tensor_t* tensor = &plan->tensors[t];
  if (tensor->kind == KILN__TENSOR_ACTIVATION) return NULL;
  uint64_t numel = 1;
  bool overflow = false;
  for (int32_t j = 0; j < tensor->rank; ++j) {
    kiln_sym_t e = plan->exprs[tensor->dims[j]];
    uint64_t dim_at = TENSOR_AT(t, DIMS) + 4 * (uint64_t)j;
    int64_t value;
    if (kiln_sym_is_constant(e, &value)) {
      if (value < 0) {
        return fail(v, dim_at,
                    "tensor %" PRIu32 " dimension %" PRId32 " is %" PRId64, t,
                    j, value);
      }
      if (__builtin_mul_overflow(numel, (uint64_t)value, &numel)) {
        overflow = true;
      }
      continue;
    }
    kiln_sym_info_t info = kiln_sym_get_info(e);
    if (tensor->kind == KILN__TENSOR_CONSTANT) {
      return fail(v, dim_at,
                  "tensor %" PRIu32 " (constant) dimension %" PRId32
                  " is not a constant",
                  t, j);
    }
    if (info.op != KILN_SYM_OP_DIM || info.tensor != tensor->input_ordinal ||
        info.dim != (uint32_t)j) {
      return fail(v, dim_at,
                  "tensor %" PRIu32 " (input %" PRIu32 ") dimension %" PRId32
                  " is neither a constant nor its own dimension",
                  t, tensor->input_ordinal, j);
    }
  }
  if (tensor->kind == KILN__TENSOR_CONSTANT) {
    const kiln__plan_constant_t* constant = &plan->constants[tensor->constant];
    uint64_t bytes;
    if (overflow ||
        __builtin_mul_overflow(numel, (uint64_t)kiln_dtype_size(tensor->dtype),
                               &bytes)) {
      return fail(v, TENSOR_AT(t, DIMS),
                  "tensor %" PRIu32 " (constant) byte size overflows", t);
    }
    if (bytes != constant->data.size) {
      return fail(v, CONSTANT_AT(tensor->constant, DATA),
                  "constant %" PRIu32 " (tensor %" PRIu32 ") holds %" PRIu64
                  " bytes, but %" PRIu64 " elements of %s take %" PRIu64,
                  tensor->constant, t, constant->data.size, numel,
                  kiln_dtype_name((kiln_dtype_t)tensor->dtype), bytes);
    }
  }
  return NULL;
}

// Checks where an activation lives: a non-output, non-aliasing activation
// in the arena within activation_bytes; the others bound by the caller or
// sharing their alias's memory.
static kiln_status_t verify_placement(const verifier_t* v, uint32_t t) {
  const kiln__plan_t* plan = v->plan;
  const kiln__plan_tensor_t* tensor = &plan->tensors[t];
  if (tensor->kind != KILN__TENSOR_ACTIVATION) {
    if (tensor->arena_offset != UINT64_MAX) {
      return fail(v, TENSOR_AT(t, ARENA_OFFSET),
                  "tensor %" PRIu32 " (%s) has an arena offset", t,
                  tensor_kind_names[tensor->kind]);
    }
    return NULL;
  }
  bool in_arena = !tensor->is_output && tensor->alias_of == KILN__NONE;
  if (!in_arena) {
    if (tensor->arena_offset != UINT64_MAX) {
      return fail(v, TENSOR_AT(t, ARENA_OFFSET),
                  "tensor %" PRIu32 " is %s but has an arena offset", t,
                  tensor->is_output ? "an output" : "an alias");
    }
    return NULL;
  }
  uint64_t end;
  if (tensor->arena_offset == UINT64_MAX ||
      __builtin_add_overflow(tensor->arena_offset, tensor->max_bytes, &end) ||
      end > plan->activation_bytes) {
    return fail(v, TENSOR_AT(t, ARENA_OFFSET),
                "tensor %" PRIu32 " at arena offset %" PRIu64 " with %" PRIu64
                " bytes does not fit the activation arena of %" PRIu64 " bytes",
                t, tensor->arena_offset, tensor->max_bytes,
                plan->activation_bytes);
  }
  return NULL;
}

typedef struct name_ref_t {
  const uint8_t* data;
  uint64_t size;
  uint32_t tensor;
} name_ref_t;

static int compare_names(const void* pa, const void* pb) {
  const name_ref_t* a = (const name_ref_t*)pa;
  const name_ref_t* b = (const name_ref_t*)pb;
  uint64_t n = a->size < b->size ? a->size : b->size;
  int c = n ? memcmp(a->data, b->data, (size_t)n) : 0;
  if (c) return c;
  if (a->size != b->size) return a->size < b->size ? -1 : 1;
  return a->tensor < b->tensor ? -1 : a->tensor > b->tensor;
}

// Inputs and outputs have unique names.
static kiln_status_t verify_unique_names(verifier_t* v) {
  const kiln__plan_t* plan = v->plan;
  size_t count = (size_t)plan->input_count + plan->output_count;
  name_ref_t* names = NULL;
  SCRATCH_ALLOC(v, count, name_ref_t, names);
  size_t n = 0;
  for (uint32_t t = 0; t < plan->tensor_count && n < count; ++t) {
    const kiln__plan_tensor_t* tensor = &plan->tensors[t];
    if (tensor->kind != KILN__TENSOR_INPUT && !tensor->is_output) continue;
    names[n].data = span_data(v, tensor->name);
    names[n].size = tensor->name.size;
    names[n].tensor = t;
    ++n;
  }
  if (n < 2) return NULL;
  qsort(names, n, sizeof(name_ref_t), compare_names);
  for (size_t i = 1; i < n; ++i) {
    if (names[i].size == names[i - 1].size &&
        memcmp(names[i].data, names[i - 1].data, (size_t)names[i].size) == 0) {
      return fail(v, TENSOR_AT(names[i].tensor, NAME),
                  "tensor %" PRIu32 " has the name \"%.*s\" of tensor %" PRIu32
                  "; input and output names are unique",
                  names[i].tensor,
                  (int)(names[i].size > 200 ? 200 : names[i].size),
                  (const char*)names[i].data, names[i - 1].tensor);
    }
  }
  return NULL;
}

//===----------------------------------------------------------------------===//
// Layers
//===----------------------------------------------------------------------===//

static kiln_status_t verify_layer_launch(verifier_t* v, uint32_t l,
                                         uint64_t* param_work) {
  const kiln__plan_t* plan = v->plan;
  const kiln__plan_layer_t* layer = &plan->layers[l];
  if (layer->kernel >= plan->kernel_count) {
    return fail(v, LAYER_AT(l, KERNEL),
                "layer %" PRIu32 " refers to kernel %" PRIu32
                ", but there are %" PRIu32 " kernels",
                l, layer->kernel, plan->kernel_count);
  }
  for (int d = 0; d < 3; ++d) {
    KILN_RETURN_IF_ERROR(check_expr_index(v, layer->grid[d],
                                          LAYER_AT(l, GRID) + 4 * (uint64_t)d,
                                          "layer", l, "grid"));
    KILN_RETURN_IF_ERROR(check_expr_index(v, layer->block[d],
                                          LAYER_AT(l, BLOCK) + 4 * (uint64_t)d,
                                          "layer", l, "block"));
  }
  KILN_RETURN_IF_ERROR(check_expr_index(v, layer->shared_mem,
                                        LAYER_AT(l, SHARED_MEM), "layer", l,
                                        "shared memory"));
  static const char* const launch_names[7] = {
      "grid x",  "grid y",  "grid z",       "block x",
      "block y", "block z", "shared memory"};
  const uint32_t launch_exprs[7] = {
      layer->grid[0],  layer->grid[1],  layer->grid[2],   layer->block[0],
      layer->block[1], layer->block[2], layer->shared_mem};
  const uint64_t launch_at[7] = {LAYER_AT(l, GRID),      LAYER_AT(l, GRID) + 4,
                                 LAYER_AT(l, GRID) + 8,  LAYER_AT(l, BLOCK),
                                 LAYER_AT(l, BLOCK) + 4, LAYER_AT(l, BLOCK) + 8,
                                 LAYER_AT(l, SHARED_MEM)};
  for (int k = 0; k < 7; ++k) {
    if (kiln__sym_uses_size_tensor(plan->exprs[launch_exprs[k]])) {
      return fail(v, launch_at[k],
                  "layer %" PRIu32 " %s is expression %" PRIu32
                  ", which uses a size tensor; launches cannot depend on "
                  "values the engine computes",
                  l, launch_names[k], launch_exprs[k]);
    }
  }
  KILN_RETURN_IF_ERROR(check_range(v, layer->args, plan->arg_count,
                                   LAYER_AT(l, ARGS), "layer", l, "args",
                                   "args"));
  const kiln__plan_kernel_t* kernel = &plan->kernels[layer->kernel];
  const uint64_t* need = &v->kernel_need[3 * (size_t)layer->kernel];
  static const char* const what[3] = {"input", "output", "arg"};
  const uint32_t have[3] = {layer->inputs.count, layer->outputs.count,
                            layer->args.count};
  for (int s = 0; s < 3; ++s) {
    if (need[s] > have[s]) {
      return fail(v, LAYER_AT(l, KERNEL),
                  "layer %" PRIu32 " has %" PRIu32
                  " %s(s), but its kernel %" PRIu32
                  " has a parameter for %s %" PRIu64,
                  l, have[s], what[s], layer->kernel, what[s], need[s] - 1);
    }
  }
  *param_work += kernel->params.count;
  if (*param_work > MAX_LAYER_PARAMS) {
    return fail(v, LAYER_AT(l, KERNEL),
                "layers 0..%" PRIu32 " take more than %" PRIu64
                " kernel parameters in all",
                l, MAX_LAYER_PARAMS);
  }
  for (uint32_t j = 0; j < kernel->params.count; ++j) {
    uint32_t pi = kernel->params.first + j;
    const kiln__plan_param_t* p = &plan->params[pi];
    if (p->kind != KILN__PARAM_ARG) continue;
    const kiln__plan_arg_t* arg = &plan->args[layer->args.first + p->index];
    unsigned size = arg->type == KILN_ARG_TYPE_INT64 ? 8 : 4;
    if (p->size != size) {
      return fail(v, PARAM_AT(pi, SIZE),
                  "layer %" PRIu32 " kernel %" PRIu32 " param %" PRIu32
                  " takes %u bytes for arg %" PRIu32 ", which is %s",
                  l, layer->kernel, j, (unsigned)p->size, p->index,
                  arg_type_names[arg->type]);
    }
  }
  return NULL;
}

static kiln_status_t verify_layers(verifier_t* v) {
  const kiln__plan_t* plan = v->plan;
  uint64_t index_work = 0, param_work = 0;
  for (uint32_t l = 0; l < plan->layer_count; ++l) {
    const kiln__plan_layer_t* layer = &plan->layers[l];
    if (layer->kind >= KILN__LAYER_KIND_COUNT) {
      return fail(v, LAYER_AT(l, KIND),
                  "layer %" PRIu32
                  " has kind %u; known kinds are 0 (AOT) "
                  "and 1 (host)",
                  l, (unsigned)layer->kind);
    }
    KILN_RETURN_IF_ERROR(check_name(v, layer->plugin_id, LAYER_AT(l, PLUGIN_ID),
                                    "layer", l, "plugin id", false));
    kiln_string_view_t id =
        kiln_make_string_view((const char*)span_data(v, layer->plugin_id),
                              (size_t)layer->plugin_id.size);
    kiln_status_t id_status = kiln_plugin_id_validate(id);
    if (id_status) {
      kiln_status_t status =
          fail(v, LAYER_AT(l, PLUGIN_ID), "layer %" PRIu32 ": %s", l,
               kiln_status_message(id_status));
      kiln_status_free(id_status);
      return status;
    }
    KILN_RETURN_IF_ERROR(check_name(v, layer->name, LAYER_AT(l, NAME), "layer",
                                    l, "name", true));
    KILN_RETURN_IF_ERROR(check_range(v, layer->inputs, plan->index_count,
                                     LAYER_AT(l, INPUTS), "layer", l, "inputs",
                                     "indices"));
    KILN_RETURN_IF_ERROR(check_range(v, layer->outputs, plan->index_count,
                                     LAYER_AT(l, OUTPUTS), "layer", l,
                                     "outputs", "indices"));
    if (layer->outputs.count == 0) {
      return fail(v, LAYER_AT(l, OUTPUTS), "layer %" PRIu32 " has no output",
                  l);
    }
    index_work += (uint64_t)layer->inputs.count + layer->outputs.count;
    if (index_work > plan->index_count) {
      return fail(v, LAYER_AT(l, INPUTS),
                  "layers 0..%" PRIu32 " list %" PRIu64
                  " inputs and outputs, more than the %" PRIu32
                  " indices (layers do not share indices)",
                  l, index_work, plan->index_count);
    }
    for (uint32_t k = 0; k < layer->inputs.count; ++k) {
      uint32_t at_index = layer->inputs.first + k;
      uint32_t t = plan->indices[at_index];
      if (t >= plan->tensor_count) {
        return fail(v, INDEX_AT(at_index),
                    "layer %" PRIu32 " input %" PRIu32
                    " refers to tensor %" PRIu32 ", but there are %" PRIu32
                    " tensors",
                    l, k, t, plan->tensor_count);
      }
      const kiln__plan_tensor_t* tensor = &plan->tensors[t];
      if (v->data_dependent[t]) {
        return fail(v, INDEX_AT(at_index),
                    "layer %" PRIu32 " input %" PRIu32 " is tensor %" PRIu32
                    ", whose shape is data-dependent; only outputs may have "
                    "data-dependent shapes",
                    l, k, t);
      }
      if (tensor->kind == KILN__TENSOR_ACTIVATION && tensor->producer >= l) {
        return fail(v, INDEX_AT(at_index),
                    "layer %" PRIu32 " input %" PRIu32 " is tensor %" PRIu32
                    ", which layer %" PRIu32
                    " produces; a layer may only use tensors produced by "
                    "earlier layers",
                    l, k, t, tensor->producer);
      }
      v->input_stamp[t] = l + 1;
    }
    for (uint32_t k = 0; k < layer->outputs.count; ++k) {
      uint32_t at_index = layer->outputs.first + k;
      uint32_t t = plan->indices[at_index];
      if (t >= plan->tensor_count) {
        return fail(v, INDEX_AT(at_index),
                    "layer %" PRIu32 " output %" PRIu32
                    " refers to tensor %" PRIu32 ", but there are %" PRIu32
                    " tensors",
                    l, k, t, plan->tensor_count);
      }
      const kiln__plan_tensor_t* tensor = &plan->tensors[t];
      if (tensor->kind != KILN__TENSOR_ACTIVATION || tensor->producer != l) {
        return fail(v, INDEX_AT(at_index),
                    "layer %" PRIu32 " output %" PRIu32 " is tensor %" PRIu32
                    ", which is not an activation produced by layer %" PRIu32,
                    l, k, t, l);
      }
      if (v->output_seen[t]++ != 0) {
        return fail(v, INDEX_AT(at_index),
                    "layer %" PRIu32 " lists tensor %" PRIu32
                    " as an output twice",
                    l, t);
      }
      if (tensor->alias_of != KILN__NONE) {
        const kiln__plan_tensor_t* target = &plan->tensors[tensor->alias_of];
        bool same = v->input_stamp[tensor->alias_of] == l + 1 &&
                    target->dtype == tensor->dtype &&
                    target->rank == tensor->rank;
        for (int32_t j = 0; same && j < tensor->rank; ++j) {
          same = plan->exprs[target->dims[j]] == plan->exprs[tensor->dims[j]];
        }
        if (!same) {
          return fail(v, TENSOR_AT(t, ALIAS_OF),
                      "tensor %" PRIu32 " aliases tensor %" PRIu32
                      ", which is not an input of its producer (layer %" PRIu32
                      ") with the same dtype and shape",
                      t, tensor->alias_of, l);
        }
      }
    }
    if (layer->kind == KILN__LAYER_AOT) {
      KILN_RETURN_IF_ERROR(verify_layer_launch(v, l, &param_work));
    } else {
      if (layer->kernel != KILN__NONE) {
        return fail(v, LAYER_AT(l, KERNEL),
                    "layer %" PRIu32
                    " runs on the host but refers to kernel "
                    "%" PRIu32,
                    l, layer->kernel);
      }
      KILN_RETURN_IF_ERROR(check_span(v, layer->host_attrs,
                                      LAYER_AT(l, HOST_ATTRS), "layer", l,
                                      "host attributes"));
    }
  }
  for (uint32_t t = 0; t < plan->tensor_count; ++t) {
    if (plan->tensors[t].kind == KILN__TENSOR_ACTIVATION &&
        v->output_seen[t] != 1) {
      return fail(v, TENSOR_AT(t, PRODUCER),
                  "tensor %" PRIu32 " is produced by layer %" PRIu32
                  ", which does not list it as an output",
                  t, plan->tensors[t].producer);
    }
  }
  return NULL;
}

//===----------------------------------------------------------------------===//
// Profiles
//===----------------------------------------------------------------------===//

static kiln_status_t verify_profiles(const verifier_t* v) {
  const kiln__plan_t* plan = v->plan;
  bool dynamic = false;
  for (uint32_t i = 0; i < plan->input_count; ++i) {
    const kiln__plan_tensor_t* tensor = &plan->tensors[v->input_tensor[i]];
    for (int32_t j = 0; j < tensor->rank; ++j) {
      if (!kiln_sym_is_constant(plan->exprs[tensor->dims[j]], NULL)) {
        dynamic = true;
      }
    }
  }
  if (dynamic && plan->profile_count == 0) {
    return fail(v, INFO_AT(PROFILE_COUNT),
                "the engine has dynamic input dimensions but no profile");
  }
  for (uint32_t p = 0; p < plan->profile_count; ++p) {
    for (uint32_t i = 0; i < plan->input_count; ++i) {
      uint32_t t = v->input_tensor[i];
      const kiln__plan_tensor_t* tensor = &plan->tensors[t];
      for (int32_t j = 0; j < KILN_MAX_RANK; ++j) {
        uint64_t r =
            ((uint64_t)p * plan->input_count + i) * KILN_MAX_RANK + (uint64_t)j;
        kiln__plan_dim_range_t range =
            kiln__plan_dim_range(plan, p, i, (uint32_t)j);
        if (j >= tensor->rank) {
          // Only a file has a fixed form here; a builder's plan may leave
          // anything (the writer writes zeros).
          if (v->origin && (range.min || range.opt || range.max)) {
            return fail(v, RANGE_AT(r, MIN),
                        "profile %" PRIu32 " input %" PRIu32
                        " dimension %" PRId32 " is past its rank %" PRId32
                        " but its range is not 0",
                        p, i, j, tensor->rank);
          }
          continue;
        }
        int64_t value;
        if (kiln_sym_is_constant(plan->exprs[tensor->dims[j]], &value)) {
          if (range.min != value || range.opt != value || range.max != value) {
            return fail(v, RANGE_AT(r, MIN),
                        "profile %" PRIu32 " input %" PRIu32
                        " dimension %" PRId32 " is static (%" PRId64
                        ") but its range is %" PRId64 "..%" PRId64 "..%" PRId64,
                        p, i, j, value, range.min, range.opt, range.max);
          }
          continue;
        }
        if (range.min < 0 || range.min > range.opt || range.opt > range.max) {
          return fail(v, RANGE_AT(r, MIN),
                      "profile %" PRIu32 " input %" PRIu32 " dimension %" PRId32
                      " has min %" PRId64 ", opt %" PRId64 ", max %" PRId64
                      "; it needs 0 <= min <= opt <= max",
                      p, i, j, range.min, range.opt, range.max);
        }
      }
    }
  }
  return NULL;
}

//===----------------------------------------------------------------------===//
// Entry
//===----------------------------------------------------------------------===//

static kiln_status_t verify(verifier_t* v) {
  const kiln__plan_t* plan = v->plan;
  if (plan->profile_count > KILN__ENGINE_MAX_PROFILES) {
    return fail(v, INFO_AT(PROFILE_COUNT),
                "%" PRIu32 " profiles, more than the %d allowed",
                plan->profile_count, KILN__ENGINE_MAX_PROFILES);
  }
  if (plan->info.timed > 1) {
    return fail(v, INFO_AT(TIMED), "the timed flag is %u, not 0 or 1",
                (unsigned)plan->info.timed);
  }
  if (plan->input_count > plan->tensor_count) {
    return fail(v, INFO_AT(INPUT_COUNT),
                "%" PRIu32 " inputs, but there are %" PRIu32 " tensors",
                plan->input_count, plan->tensor_count);
  }
  KILN_RETURN_IF_ERROR(verify_images(v));
  KILN_RETURN_IF_ERROR(verify_params(v));
  KILN_RETURN_IF_ERROR(verify_kernels(v));
  KILN_RETURN_IF_ERROR(verify_args(v));
  for (uint32_t i = 0; i < plan->constant_count; ++i) {
    const kiln__plan_constant_t* constant = &plan->constants[i];
    KILN_RETURN_IF_ERROR(check_span(v, constant->data, CONSTANT_AT(i, DATA),
                                    "constant", i, "data"));
    if (constant->data.offset % KILN__ENGINE_ALIGNMENT != 0) {
      return fail(v, CONSTANT_AT(i, DATA),
                  "constant %" PRIu32 " data offset %" PRIu64
                  " is not a multiple of %d",
                  i, constant->data.offset, KILN__ENGINE_ALIGNMENT);
    }
  }

  SCRATCH_ALLOC(v, plan->input_count, uint32_t, v->input_tensor);
  for (uint32_t i = 0; i < plan->input_count; ++i) {
    v->input_tensor[i] = KILN__NONE;
  }
  uint32_t inputs = 0, outputs = 0, size_tensors = 0;
  for (uint32_t t = 0; t < plan->tensor_count; ++t) {
    KILN_RETURN_IF_ERROR(
        verify_tensor_fields(v, t, &inputs, &outputs, &size_tensors));
  }
  if (inputs != plan->input_count) {
    return fail(v, INFO_AT(INPUT_COUNT),
                "the engine says %" PRIu32 " inputs, but %" PRIu32
                " tensors are inputs",
                plan->input_count, inputs);
  }
  if (outputs != plan->output_count) {
    return fail(v, INFO_AT(OUTPUT_COUNT),
                "the engine says %" PRIu32 " outputs, but %" PRIu32
                " tensors are outputs",
                plan->output_count, outputs);
  }
  // Every ordinal 0..n-1 is taken once: n tensors took distinct ordinals
  // below n.
  KILN_RETURN_IF_ERROR(verify_exprs(v));
  KILN_RETURN_IF_ERROR(verify_data_dependent(v));
  for (uint32_t t = 0; t < plan->tensor_count; ++t) {
    KILN_RETURN_IF_ERROR(verify_static_dims(v, t));
    KILN_RETURN_IF_ERROR(verify_placement(v, t));
  }
  KILN_RETURN_IF_ERROR(verify_unique_names(v));
  SCRATCH_ALLOC(v, plan->tensor_count, uint32_t, v->output_seen);
  SCRATCH_ALLOC(v, plan->tensor_count, uint32_t, v->input_stamp);
  KILN_RETURN_IF_ERROR(verify_layers(v));
  return verify_profiles(v);
}

kiln_status_t kiln__plan_verify(const kiln__plan_t* plan,
                                const kiln__engine_origin_t* origin,
                                kiln_allocator_t allocator) {
  if (!plan) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT, "NULL plan");
  }
  if (plan->blob.size > 0 && !plan->blob.data) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "the plan's blob has %zu bytes but no data",
                            plan->blob.size);
  }
  // A builder's plan: every array its count says is there.
  const struct {
    const void* array;
    uint64_t count;
    const char* name;
  } arrays[] = {
      {plan->exprs, plan->expr_count, "expressions"},
      {plan->tensors, plan->tensor_count, "tensors"},
      {plan->constants, plan->constant_count, "constants"},
      {plan->images, plan->image_count, "images"},
      {plan->params, plan->param_count, "params"},
      {plan->kernels, plan->kernel_count, "kernels"},
      {plan->args, plan->arg_count, "args"},
      {plan->layers, plan->layer_count, "layers"},
      {plan->indices, plan->index_count, "indices"},
      {plan->ranges, (uint64_t)plan->profile_count * plan->input_count,
       "profile ranges"},
  };
  for (size_t i = 0; i < KILN_ARRAYSIZE(arrays); ++i) {
    if (arrays[i].count > 0 && !arrays[i].array) {
      return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                              "engine plan: %" PRIu64 " %s but no array",
                              arrays[i].count, arrays[i].name);
    }
  }
  if (plan->expr_count > 0 && !plan->sym) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "engine plan: expressions but no table");
  }
  verifier_t v;
  memset(&v, 0, sizeof(v));
  v.plan = plan;
  v.origin = origin;
  kiln__arena_init(&v.scratch, allocator);
  kiln_status_t status = verify(&v);
  kiln__arena_deinit(&v.scratch);
  return status;
}
