// The engine writer: a verified plan in, the bytes of docs/engine-format.md
// out. The output depends only on the plan's meaning: sections in id order,
// zero padding, and fields that do not apply written as their fixed values.

#include <string.h>

#include "base/base.h"
#include "base/hash.h"
#include "base/size.h"
#include "engine/engine.h"
#include "sym/sym.h"

typedef struct section_t {
  uint32_t id;
  uint32_t flags;
  uint32_t count;
  size_t start;  // in the writer
  size_t size;
} section_t;

typedef struct engine_writer_t {
  const kiln__plan_t* plan;
  kiln__writer_t* out;
  size_t base;  // where the file starts in |out|
  section_t sections[KILN__SECTION_ID_END - 1];
  uint32_t* input_rank;  // input ordinal -> rank
} engine_writer_t;

static kiln_status_t pad_to(engine_writer_t* w, size_t alignment) {
  static const uint8_t zeros[64] = {0};
  size_t length = w->out->size - w->base;
  size_t target;
  if (!kiln_size_checked_align(length, alignment, &target)) {
    return kiln_make_status(KILN_STATUS_OUT_OF_RANGE, "engine size overflows");
  }
  return kiln__writer_append(w->out, zeros, target - length);
}

static void put_span(uint8_t* p, kiln__plan_span_t span) {
  kiln__le_put_u64(p, span.size ? span.offset : 0);
  kiln__le_put_u64(p + 8, span.size);
}

static void put_range(uint8_t* p, kiln__plan_range_t range) {
  kiln__le_put_u32(p, range.count ? range.first : 0);
  kiln__le_put_u32(p + 4, range.count);
}

static kiln_status_t write_info(engine_writer_t* w, section_t* s) {
  const kiln__plan_t* plan = w->plan;
  uint8_t r[KILN__INFO_SIZE] = {0};
  kiln__le_put_u32(r + KILN__INFO_OFF_KILN_VERSION, plan->info.kiln_version);
  kiln__le_put_u32(r + KILN__INFO_OFF_TIMED_SM_ARCH, plan->info.timed_sm_arch);
  kiln__le_put_u64(r + KILN__INFO_OFF_ACTIVATION_BYTES, plan->activation_bytes);
  kiln__le_put_u32(r + KILN__INFO_OFF_INPUT_COUNT, plan->input_count);
  kiln__le_put_u32(r + KILN__INFO_OFF_OUTPUT_COUNT, plan->output_count);
  kiln__le_put_u32(r + KILN__INFO_OFF_PROFILE_COUNT, plan->profile_count);
  r[KILN__INFO_OFF_TIMED] = plan->info.timed;
  s->count = 1;
  return kiln__writer_append(w->out, r, sizeof(r));
}

static kiln_status_t write_tensors(engine_writer_t* w, section_t* s) {
  const kiln__plan_t* plan = w->plan;
  for (uint32_t i = 0; i < plan->tensor_count; ++i) {
    const kiln__plan_tensor_t* t = &plan->tensors[i];
    uint8_t r[KILN__TENSOR_SIZE] = {0};
    put_span(r + KILN__TENSOR_OFF_NAME, t->name);
    r[KILN__TENSOR_OFF_KIND] = t->kind;
    r[KILN__TENSOR_OFF_IS_OUTPUT] = t->is_output;
    r[KILN__TENSOR_OFF_DTYPE] = t->dtype;
    r[KILN__TENSOR_OFF_FORMAT] = t->format;
    kiln__le_put_u32(r + KILN__TENSOR_OFF_RANK, (uint32_t)t->rank);
    for (int32_t j = 0; j < KILN_MAX_RANK; ++j) {
      kiln__le_put_u32(r + KILN__TENSOR_OFF_DIMS + 4 * j,
                       j < t->rank ? t->dims[j] : KILN__NONE);
    }
    bool input = t->kind == KILN__TENSOR_INPUT;
    bool constant = t->kind == KILN__TENSOR_CONSTANT;
    bool activation = t->kind == KILN__TENSOR_ACTIVATION;
    kiln__le_put_u32(r + KILN__TENSOR_OFF_INPUT_ORDINAL,
                     input ? t->input_ordinal : KILN__NONE);
    kiln__le_put_u32(r + KILN__TENSOR_OFF_PRODUCER,
                     activation ? t->producer : KILN__NONE);
    kiln__le_put_u32(r + KILN__TENSOR_OFF_CONSTANT,
                     constant ? t->constant : KILN__NONE);
    kiln__le_put_u32(r + KILN__TENSOR_OFF_ALIAS_OF,
                     activation ? t->alias_of : KILN__NONE);
    kiln__le_put_u64(r + KILN__TENSOR_OFF_ARENA_OFFSET,
                     activation ? t->arena_offset : UINT64_MAX);
    kiln__le_put_u64(r + KILN__TENSOR_OFF_MAX_BYTES, t->max_bytes);
    KILN_RETURN_IF_ERROR(kiln__writer_append(w->out, r, sizeof(r)));
  }
  s->count = plan->tensor_count;
  return NULL;
}

static kiln_status_t write_constants(engine_writer_t* w, section_t* s) {
  const kiln__plan_t* plan = w->plan;
  for (uint32_t i = 0; i < plan->constant_count; ++i) {
    uint8_t r[KILN__CONSTANT_SIZE] = {0};
    put_span(r + KILN__CONSTANT_OFF_DATA, plan->constants[i].data);
    KILN_RETURN_IF_ERROR(kiln__writer_append(w->out, r, sizeof(r)));
  }
  s->count = plan->constant_count;
  return NULL;
}

static kiln_status_t write_images(engine_writer_t* w, section_t* s) {
  const kiln__plan_t* plan = w->plan;
  for (uint32_t i = 0; i < plan->image_count; ++i) {
    const kiln__plan_image_t* image = &plan->images[i];
    uint8_t r[KILN__IMAGE_SIZE] = {0};
    r[KILN__IMAGE_OFF_KIND] = image->kind;
    kiln__le_put_u32(r + KILN__IMAGE_OFF_SM_ARCH, image->sm_arch);
    put_span(r + KILN__IMAGE_OFF_DATA, image->data);
    KILN_RETURN_IF_ERROR(kiln__writer_append(w->out, r, sizeof(r)));
  }
  s->count = plan->image_count;
  return NULL;
}

static kiln_status_t write_params(engine_writer_t* w, section_t* s) {
  const kiln__plan_t* plan = w->plan;
  for (uint32_t i = 0; i < plan->param_count; ++i) {
    const kiln__plan_param_t* p = &plan->params[i];
    uint8_t r[KILN__PARAM_SIZE] = {0};
    r[KILN__PARAM_OFF_KIND] = p->kind;
    r[KILN__PARAM_OFF_SIZE] = p->size;
    r[KILN__PARAM_OFF_ALIGN] = p->align;
    bool indexed = p->kind == KILN__PARAM_INPUT ||
                   p->kind == KILN__PARAM_OUTPUT || p->kind == KILN__PARAM_ARG;
    kiln__le_put_u32(r + KILN__PARAM_OFF_INDEX, indexed ? p->index : 0);
    KILN_RETURN_IF_ERROR(kiln__writer_append(w->out, r, sizeof(r)));
  }
  s->count = plan->param_count;
  return NULL;
}

static kiln_status_t write_kernels(engine_writer_t* w, section_t* s) {
  const kiln__plan_t* plan = w->plan;
  for (uint32_t i = 0; i < plan->kernel_count; ++i) {
    const kiln__plan_kernel_t* k = &plan->kernels[i];
    uint8_t r[KILN__KERNEL_SIZE] = {0};
    put_span(r + KILN__KERNEL_OFF_NAME, k->name);
    put_range(r + KILN__KERNEL_OFF_IMAGES, k->images);
    put_range(r + KILN__KERNEL_OFF_PARAMS, k->params);
    kiln__le_put_u64(r + KILN__KERNEL_OFF_GLOBAL_SCRATCH_SIZE,
                     k->global_scratch_size);
    kiln__le_put_u64(r + KILN__KERNEL_OFF_PROFILE_SCRATCH_SIZE,
                     k->profile_scratch_size);
    kiln__le_put_u32(r + KILN__KERNEL_OFF_GLOBAL_SCRATCH_ALIGN,
                     k->global_scratch_size ? k->global_scratch_align : 0);
    kiln__le_put_u32(r + KILN__KERNEL_OFF_PROFILE_SCRATCH_ALIGN,
                     k->profile_scratch_size ? k->profile_scratch_align : 0);
    kiln__le_put_u32(r + KILN__KERNEL_OFF_NUM_CTAS, k->num_ctas);
    KILN_RETURN_IF_ERROR(kiln__writer_append(w->out, r, sizeof(r)));
  }
  s->count = plan->kernel_count;
  return NULL;
}

static kiln_status_t write_args(engine_writer_t* w, section_t* s) {
  const kiln__plan_t* plan = w->plan;
  for (uint32_t i = 0; i < plan->arg_count; ++i) {
    const kiln__plan_arg_t* a = &plan->args[i];
    uint8_t r[KILN__ARG_SIZE] = {0};
    bool f32 = a->type == KILN_ARG_TYPE_FLOAT32;
    r[KILN__ARG_OFF_TYPE] = a->type;
    kiln__le_put_u32(r + KILN__ARG_OFF_EXPR, f32 ? KILN__NONE : a->expr);
    uint32_t bits = 0;
    if (f32) memcpy(&bits, &a->f32, sizeof(bits));
    kiln__le_put_u32(r + KILN__ARG_OFF_F32, bits);
    KILN_RETURN_IF_ERROR(kiln__writer_append(w->out, r, sizeof(r)));
  }
  s->count = plan->arg_count;
  return NULL;
}

static kiln_status_t write_layers(engine_writer_t* w, section_t* s) {
  const kiln__plan_t* plan = w->plan;
  static const kiln__plan_span_t no_span = {0, 0};
  static const kiln__plan_range_t no_range = {0, 0};
  for (uint32_t i = 0; i < plan->layer_count; ++i) {
    const kiln__plan_layer_t* l = &plan->layers[i];
    bool aot = l->kind == KILN__LAYER_AOT;
    uint8_t r[KILN__LAYER_SIZE] = {0};
    put_span(r + KILN__LAYER_OFF_PLUGIN_ID, l->plugin_id);
    put_span(r + KILN__LAYER_OFF_NAME, l->name);
    put_span(r + KILN__LAYER_OFF_HOST_ATTRS, aot ? no_span : l->host_attrs);
    r[KILN__LAYER_OFF_KIND] = l->kind;
    kiln__le_put_u32(r + KILN__LAYER_OFF_TACTIC, (uint32_t)l->tactic);
    put_range(r + KILN__LAYER_OFF_INPUTS, l->inputs);
    put_range(r + KILN__LAYER_OFF_OUTPUTS, l->outputs);
    kiln__le_put_u32(r + KILN__LAYER_OFF_KERNEL, aot ? l->kernel : KILN__NONE);
    for (int d = 0; d < 3; ++d) {
      kiln__le_put_u32(r + KILN__LAYER_OFF_GRID + 4 * d,
                       aot ? l->grid[d] : KILN__NONE);
      kiln__le_put_u32(r + KILN__LAYER_OFF_BLOCK + 4 * d,
                       aot ? l->block[d] : KILN__NONE);
    }
    kiln__le_put_u32(r + KILN__LAYER_OFF_SHARED_MEM,
                     aot ? l->shared_mem : KILN__NONE);
    put_range(r + KILN__LAYER_OFF_ARGS, aot ? l->args : no_range);
    KILN_RETURN_IF_ERROR(kiln__writer_append(w->out, r, sizeof(r)));
  }
  s->count = plan->layer_count;
  return NULL;
}

static kiln_status_t write_indices(engine_writer_t* w, section_t* s) {
  const kiln__plan_t* plan = w->plan;
  for (uint32_t i = 0; i < plan->index_count; ++i) {
    KILN_RETURN_IF_ERROR(kiln__writer_u32(w->out, plan->indices[i]));
  }
  s->count = plan->index_count;
  return NULL;
}

static kiln_status_t write_profiles(engine_writer_t* w, section_t* s) {
  const kiln__plan_t* plan = w->plan;
  size_t count;
  KILN_RETURN_IF_ERROR(kiln__size_mul(plan->profile_count, plan->input_count,
                                      "profile ranges", &count));
  KILN_RETURN_IF_ERROR(
      kiln__size_mul(count, KILN_MAX_RANK, "profile ranges", &count));
  if (count > UINT32_MAX) {
    return kiln_make_status(KILN_STATUS_OUT_OF_RANGE,
                            "%zu profile ranges do not fit the format", count);
  }
  for (uint32_t p = 0; p < plan->profile_count; ++p) {
    for (uint32_t i = 0; i < plan->input_count; ++i) {
      for (uint32_t j = 0; j < KILN_MAX_RANK; ++j) {
        uint8_t r[KILN__RANGE_SIZE] = {0};
        if (j < w->input_rank[i]) {
          kiln__plan_dim_range_t range = kiln__plan_dim_range(plan, p, i, j);
          kiln__le_put_u64(r + KILN__RANGE_OFF_MIN, (uint64_t)range.min);
          kiln__le_put_u64(r + KILN__RANGE_OFF_OPT, (uint64_t)range.opt);
          kiln__le_put_u64(r + KILN__RANGE_OFF_MAX, (uint64_t)range.max);
        }
        KILN_RETURN_IF_ERROR(kiln__writer_append(w->out, r, sizeof(r)));
      }
    }
  }
  s->count = (uint32_t)count;
  return NULL;
}

// The size tensors, ascending. A reader that does not know them cannot run
// the engine: the section is MUST_UNDERSTAND when it lists any.
static kiln_status_t write_size_tensors(engine_writer_t* w, section_t* s) {
  const kiln__plan_t* plan = w->plan;
  uint32_t count = 0;
  for (uint32_t t = 0; t < plan->tensor_count; ++t) {
    if (!plan->tensors[t].is_size_tensor) continue;
    KILN_RETURN_IF_ERROR(kiln__writer_u32(w->out, t));
    ++count;
  }
  s->count = count;
  s->flags = count ? KILN__SECTION_FLAG_MUST_UNDERSTAND : 0;
  return NULL;
}

static kiln_status_t write_exprs(engine_writer_t* w, section_t* s) {
  s->count = w->plan->expr_count;
  return kiln__sym_serialize(w->plan->exprs, w->plan->expr_count, w->out);
}

static kiln_status_t write_blob(engine_writer_t* w, section_t* s) {
  s->count = 0;
  return kiln__writer_append(w->out, w->plan->blob.data, w->plan->blob.size);
}

typedef kiln_status_t (*section_fn_t)(engine_writer_t* w, section_t* s);

static const section_fn_t section_writers[KILN__SECTION_ID_END] = {
    [KILN__SECTION_INFO] = write_info,
    [KILN__SECTION_EXPRS] = write_exprs,
    [KILN__SECTION_TENSORS] = write_tensors,
    [KILN__SECTION_CONSTANTS] = write_constants,
    [KILN__SECTION_IMAGES] = write_images,
    [KILN__SECTION_PARAMS] = write_params,
    [KILN__SECTION_KERNELS] = write_kernels,
    [KILN__SECTION_ARGS] = write_args,
    [KILN__SECTION_LAYERS] = write_layers,
    [KILN__SECTION_INDICES] = write_indices,
    [KILN__SECTION_PROFILES] = write_profiles,
    [KILN__SECTION_BLOB] = write_blob,
    [KILN__SECTION_SIZE_TENSORS] = write_size_tensors,
};

static kiln_status_t write_file(engine_writer_t* w) {
  const size_t section_count = KILN__SECTION_ID_END - 1;
  const size_t table_size = section_count * KILN__SECTION_ENTRY_SIZE;
  static const uint8_t zeros[KILN__HEADER_SIZE + (KILN__SECTION_ID_END - 1) *
                                                     KILN__SECTION_ENTRY_SIZE] =
      {0};
  KILN_RETURN_IF_ERROR(kiln__writer_append(w->out, zeros, sizeof(zeros)));
  for (uint32_t id = 1; id < KILN__SECTION_ID_END; ++id) {
    section_t* s = &w->sections[id - 1];
    s->id = id;
    KILN_RETURN_IF_ERROR(pad_to(w, KILN__ENGINE_ALIGNMENT));
    s->start = w->out->size;
    KILN_RETURN_IF_ERROR(section_writers[id](w, s));
    s->size = w->out->size - s->start;
  }
  KILN_RETURN_IF_ERROR(pad_to(w, KILN__ENGINE_ALIGNMENT));

  // The table, then the header, which covers the table's checksum.
  uint8_t* file = w->out->data + w->base;
  size_t file_size = w->out->size - w->base;
  uint8_t* table = file + KILN__HEADER_SIZE;
  for (size_t i = 0; i < section_count; ++i) {
    const section_t* s = &w->sections[i];
    uint8_t* e = table + i * KILN__SECTION_ENTRY_SIZE;
    kiln__le_put_u32(e + KILN__SECTION_OFF_ID, s->id);
    kiln__le_put_u32(e + KILN__SECTION_OFF_FLAGS, s->flags);
    kiln__le_put_u64(e + KILN__SECTION_OFF_OFFSET, s->start - w->base);
    kiln__le_put_u64(e + KILN__SECTION_OFF_SIZE, s->size);
    kiln__le_put_u32(e + KILN__SECTION_OFF_COUNT, s->count);
    kiln__le_put_u32(e + KILN__SECTION_OFF_CRC,
                     kiln__crc32c(0, w->out->data + s->start, s->size));
  }
  memcpy(file + KILN__HEADER_OFF_MAGIC, KILN__ENGINE_MAGIC,
         KILN__ENGINE_MAGIC_SIZE);
  kiln__le_put_u16(file + KILN__HEADER_OFF_MAJOR, KILN__ENGINE_FORMAT_MAJOR);
  kiln__le_put_u16(file + KILN__HEADER_OFF_MINOR, KILN__ENGINE_FORMAT_MINOR);
  kiln__le_put_u32(file + KILN__HEADER_OFF_HEADER_SIZE, KILN__HEADER_SIZE);
  kiln__le_put_u64(file + KILN__HEADER_OFF_FILE_SIZE, file_size);
  kiln__le_put_u32(file + KILN__HEADER_OFF_SECTION_COUNT,
                   (uint32_t)section_count);
  kiln__le_put_u32(file + KILN__HEADER_OFF_TABLE_OFFSET, KILN__HEADER_SIZE);
  kiln__le_put_u32(file + KILN__HEADER_OFF_TABLE_CRC,
                   kiln__crc32c(0, table, table_size));
  kiln__le_put_u32(file + KILN__HEADER_OFF_HEADER_CRC,
                   kiln__crc32c(0, file, KILN__HEADER_OFF_HEADER_CRC));
  return NULL;
}

kiln_status_t kiln__engine_write(const kiln__plan_t* plan,
                                 kiln__writer_t* out) {
  if (!plan || !out) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "NULL plan or writer");
  }
  KILN_RETURN_IF_ERROR(kiln__plan_verify(plan, NULL, out->allocator));
  engine_writer_t w;
  memset(&w, 0, sizeof(w));
  w.plan = plan;
  w.out = out;
  w.base = out->size;
  void* ranks = NULL;
  size_t rank_bytes;
  KILN_RETURN_IF_ERROR(kiln__size_mul(plan->input_count, sizeof(uint32_t),
                                      "input ranks", &rank_bytes));
  KILN_RETURN_IF_ERROR(
      kiln_allocator_malloc(out->allocator, rank_bytes, &ranks));
  w.input_rank = (uint32_t*)ranks;
  for (uint32_t t = 0; t < plan->tensor_count; ++t) {
    const kiln__plan_tensor_t* tensor = &plan->tensors[t];
    if (tensor->kind == KILN__TENSOR_INPUT) {
      w.input_rank[tensor->input_ordinal] = (uint32_t)tensor->rank;
    }
  }
  kiln_status_t status = write_file(&w);
  kiln_allocator_free(out->allocator, ranks);
  if (status) out->size = w.base;
  return status;
}
