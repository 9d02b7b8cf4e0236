// Tests of src/runtime without a GPU: a fake driver table (the same struct
// that libcuda fills, with the functions below) stands in for the device,
// and engines are plans built by hand and written with the engine writer.
//
// The fake's device memory is host memory, so copies work and the fake
// cuLaunchKernel can record exactly what it was given.

#include "runtime/runtime.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/bytes.h"
#include "engine/engine.h"
#include "plugin/plugin.h"
#include "test.h"

//===----------------------------------------------------------------------===//
// Engines built by hand
//===----------------------------------------------------------------------===//
//
// The default engine: input x (float32, [n], n dynamic in [1, 2^21]),
// output y (float32, [n]), one AOT layer "add_layer" of plugin "test::add"
// launching kernel "add_one" with grid (cdiv(n, 256), 1, 1), block (256, 1,
// 1), no shared memory, params [x][n: int32][y], and two images: PTX for
// sm_80 and a real sm_90 cubin (fuzz/corpus/ptx_parse_fuzz/nvcc_sm90.cubin).
// The knobs below change one thing each.

#define SPEC_MAX_IMAGES 4
#define SPEC_MAX_PARAMS 16
#define SPEC_MAX_ARGS 4

typedef struct kiln_test_engine_spec_t {
  const char* kernel_name;
  const char* plugin_id;
  kiln_kernel_image_t images[SPEC_MAX_IMAGES];
  uint32_t image_count;
  kiln__plan_param_t params[SPEC_MAX_PARAMS];
  uint32_t param_count;
  // Argument i: INT32 is n + arg_offset (n * 2147484648 with
  // int32_overflow), INT64 is n * 2^33, FLOAT32 is f32.
  uint8_t arg_types[SPEC_MAX_ARGS];
  uint32_t arg_count;
  int64_t arg_offset;
  bool int32_overflow;
  float f32;
  // Launch: grid (cdiv(n * grid_scale, block_x), grid_y, 1), block
  // (block_x, 1, 1), shared bytes.
  int64_t block_x, grid_y, grid_scale, shared;
  uint64_t global_scratch_size, profile_scratch_size;
  uint32_t global_scratch_align, profile_scratch_align, num_ctas;
  // The layer runs |plugin_id|'s host_impl with |host_attrs| (tactic 7).
  bool host_layer;
  kiln_const_bytes_t host_attrs;
  // x -> t (in the arena) -> y with two layers sharing the kernel.
  bool two_layers;
  // Every layer also takes constant c = float32 {1, 2, 3, 4} as input 1.
  bool with_constant;
  // y aliases x.
  bool alias_output;
  // Profile 0 allows n in [min_n, max_n]; profile 1 (profile_count 2)
  // allows [8, 64]. static_n > 0 makes n that constant instead.
  int64_t min_n, max_n, static_n;
  uint32_t profile_count;
} kiln_test_engine_spec_t;

static bool read_corpus_file(const char* name, uint8_t** out_data,
                             size_t* out_size) {
  char path[1024];
  snprintf(path, sizeof(path), "%s/fuzz/corpus/ptx_parse_fuzz/%s",
           KILN_SOURCE_DIR, name);
  return kiln_test_read_file(path, out_data, out_size);
}

// A real sm_90 cubin from nvcc 13.0, and the same with its e_flags patched
// to another architecture (CUDA 13 keeps the SM in bits 8-15).
static kiln_kernel_image_t kiln_test_image_cubin(uint32_t sm_arch) {
  static uint8_t* cache[4];
  static uint32_t cache_arch[4];
  static size_t size;
  kiln_kernel_image_t image;
  memset(&image, 0, sizeof(image));
  image.kind = KILN_KERNEL_IMAGE_CUBIN;
  image.sm_arch = sm_arch;
  int slot = -1;
  for (int i = 0; i < 4; ++i) {
    if (cache[i] && cache_arch[i] == sm_arch) slot = i;
  }
  if (slot < 0) {
    for (int i = 0; i < 4 && slot < 0; ++i) {
      if (!cache[i]) slot = i;
    }
    if (slot < 0) return image;
    if (!read_corpus_file("nvcc_sm90.cubin", &cache[slot], &size) ||
        size < 64) {
      return image;
    }
    cache[slot][49] = (uint8_t)sm_arch;
    cache_arch[slot] = sm_arch;
  }
  image.bytes.data = cache[slot];
  image.bytes.size = size;
  return image;
}

// A small PTX module for |target| ("sm_80", "sm_90a") defining add_one.
static kiln_kernel_image_t kiln_test_image_ptx(const char* target) {
  static char texts[8][256];
  static int next;
  char* text = texts[next++ % 8];
  snprintf(text, sizeof(texts[0]),
           "//\n// test PTX\n//\n.version 8.0\n.target %s\n.address_size 64\n"
           "\n.visible .entry add_one(\n\t.param .u64 x,\n\t.param .u32 n,\n"
           "\t.param .u64 y\n)\n{\n\tret;\n}\n",
           target);
  kiln_kernel_image_t image;
  memset(&image, 0, sizeof(image));
  image.kind = KILN_KERNEL_IMAGE_PTX;
  image.bytes.data = (const uint8_t*)text;
  image.bytes.size = strlen(text);
  return image;
}

static void kiln_test_spec_param(kiln_test_engine_spec_t* spec, uint8_t kind,
                                 uint8_t size, uint32_t index) {
  kiln__plan_param_t* p = &spec->params[spec->param_count++];
  memset(p, 0, sizeof(*p));
  p->kind = kind;
  p->size = size;
  p->align = kind == KILN__PARAM_ZERO ? 4 : size;
  p->index = index;
}

static kiln_test_engine_spec_t kiln_test_engine_spec_default(void) {
  kiln_test_engine_spec_t spec;
  memset(&spec, 0, sizeof(spec));
  spec.kernel_name = "add_one";
  spec.plugin_id = "test::add";
  spec.image_count = 2;
  spec.images[0] = kiln_test_image_ptx("sm_80");
  spec.images[1] = kiln_test_image_cubin(90);
  kiln_test_spec_param(&spec, KILN__PARAM_INPUT, 8, 0);
  kiln_test_spec_param(&spec, KILN__PARAM_ARG, 4, 0);
  kiln_test_spec_param(&spec, KILN__PARAM_OUTPUT, 8, 0);
  spec.arg_count = 1;
  spec.arg_types[0] = KILN_ARG_TYPE_INT32;
  spec.block_x = 256;
  spec.grid_y = 1;
  spec.grid_scale = 1;
  spec.num_ctas = 1;
  spec.min_n = 1;
  spec.max_n = INT64_C(1) << 21;
  spec.profile_count = 1;
  return spec;
}

typedef struct plan_builder_t {
  kiln__plan_t* plan;
  kiln__writer_t blob;
  uint32_t expr_capacity;
} plan_builder_t;

static kiln_status_t builder_array(plan_builder_t* b, size_t count, size_t size,
                                   void** out) {
  return kiln__arena_alloc(&b->plan->arena, (count ? count : 1) * size, 16,
                           out);
}

#define BUILDER_ARRAY(b, count, type, lvalue)                                  \
  do {                                                                         \
    void* memory_ = NULL;                                                      \
    KILN_RETURN_IF_ERROR(builder_array((b), (count), sizeof(type), &memory_)); \
    (lvalue) = (type*)memory_;                                                 \
  } while (0)

static kiln_status_t add_expr(plan_builder_t* b, kiln_sym_t e,
                              uint32_t* out_index) {
  kiln__plan_t* plan = b->plan;
  if (!e) return kiln_sym_table_take_error(plan->sym);
  if (plan->expr_count == b->expr_capacity) {
    return kiln_make_status(KILN_STATUS_INTERNAL, "too many expressions");
  }
  plan->exprs[plan->expr_count] = e;
  *out_index = plan->expr_count++;
  return NULL;
}

static kiln_status_t add_name(plan_builder_t* b, const char* text,
                              kiln__plan_span_t* out_span) {
  kiln_const_bytes_t bytes = {(const uint8_t*)text, strlen(text)};
  return kiln__plan_blob_append(&b->blob, bytes, 1, false, out_span);
}

static kiln_status_t fill_plan(const kiln_test_engine_spec_t* spec,
                               plan_builder_t* b) {
  kiln__plan_t* plan = b->plan;
  kiln_sym_table_t* sym = plan->sym;
  b->expr_capacity = 32;
  BUILDER_ARRAY(b, b->expr_capacity, kiln_sym_t, plan->exprs);

  // Expressions.
  kiln_sym_t n = spec->static_n > 0 ? kiln_sym_const(sym, spec->static_n)
                                    : kiln_sym_dim(sym, 0, 0);
  uint32_t e_n, e_grid_x, e_grid_y, e_one, e_block, e_shared, e_four;
  uint32_t e_arg[SPEC_MAX_ARGS] = {0};
  KILN_RETURN_IF_ERROR(add_expr(b, n, &e_n));
  KILN_RETURN_IF_ERROR(add_expr(
      b,
      kiln_sym_ceil_div(
          sym, kiln_sym_mul(sym, n, kiln_sym_const(sym, spec->grid_scale)),
          kiln_sym_const(sym, spec->block_x)),
      &e_grid_x));
  KILN_RETURN_IF_ERROR(
      add_expr(b, kiln_sym_const(sym, spec->grid_y), &e_grid_y));
  KILN_RETURN_IF_ERROR(add_expr(b, kiln_sym_const(sym, 1), &e_one));
  KILN_RETURN_IF_ERROR(
      add_expr(b, kiln_sym_const(sym, spec->block_x), &e_block));
  KILN_RETURN_IF_ERROR(
      add_expr(b, kiln_sym_const(sym, spec->shared), &e_shared));
  KILN_RETURN_IF_ERROR(add_expr(b, kiln_sym_const(sym, 4), &e_four));
  for (uint32_t i = 0; i < spec->arg_count; ++i) {
    kiln_sym_t value;
    if (spec->arg_types[i] == KILN_ARG_TYPE_INT64) {
      value = kiln_sym_mul(sym, n, kiln_sym_const(sym, INT64_C(1) << 33));
    } else if (spec->int32_overflow) {
      value = kiln_sym_mul(sym, n, kiln_sym_const(sym, INT64_C(2147484648)));
    } else {
      value = kiln_sym_add(sym, n, kiln_sym_const(sym, spec->arg_offset));
    }
    if (spec->arg_types[i] != KILN_ARG_TYPE_FLOAT32) {
      KILN_RETURN_IF_ERROR(add_expr(b, value, &e_arg[i]));
    }
  }

  // Names.
  kiln__plan_span_t x_name, y_name, layer_names[2], plugin_id, kernel_name;
  KILN_RETURN_IF_ERROR(add_name(b, "x", &x_name));
  KILN_RETURN_IF_ERROR(add_name(b, "y", &y_name));
  KILN_RETURN_IF_ERROR(add_name(b, "add_layer", &layer_names[0]));
  KILN_RETURN_IF_ERROR(add_name(b, "add_layer2", &layer_names[1]));
  KILN_RETURN_IF_ERROR(add_name(b, spec->plugin_id, &plugin_id));
  KILN_RETURN_IF_ERROR(add_name(b, spec->kernel_name, &kernel_name));

  // Tensors: x, y, then c and t when present.
  uint32_t layer_count = spec->two_layers ? 2 : 1;
  uint32_t tensor_count =
      2 + (spec->with_constant ? 1 : 0) + (spec->two_layers ? 1 : 0);
  const uint32_t x = 0, y = 1;
  uint32_t c = KILN__NONE, t = KILN__NONE, next = 2;
  if (spec->with_constant) c = next++;
  if (spec->two_layers) t = next++;
  plan->tensor_count = tensor_count;
  plan->input_count = 1;
  plan->output_count = 1;
  BUILDER_ARRAY(b, tensor_count, kiln__plan_tensor_t, plan->tensors);
  uint64_t max_bytes = (uint64_t)spec->max_n * 4;
  for (uint32_t i = 0; i < tensor_count; ++i) {
    kiln__plan_tensor_t* tensor = &plan->tensors[i];
    tensor->dtype = KILN_DTYPE_FLOAT32;
    tensor->format = KILN_FORMAT_LINEAR;
    tensor->rank = 1;
    tensor->dims[0] = e_n;
    tensor->input_ordinal = KILN__NONE;
    tensor->producer = KILN__NONE;
    tensor->constant = KILN__NONE;
    tensor->alias_of = KILN__NONE;
    tensor->arena_offset = UINT64_MAX;
    tensor->max_bytes = max_bytes;
  }
  plan->tensors[x].name = x_name;
  plan->tensors[x].kind = KILN__TENSOR_INPUT;
  plan->tensors[x].input_ordinal = 0;
  plan->tensors[y].name = y_name;
  plan->tensors[y].kind = KILN__TENSOR_ACTIVATION;
  plan->tensors[y].is_output = 1;
  plan->tensors[y].producer = layer_count - 1;
  if (spec->alias_output) plan->tensors[y].alias_of = x;
  if (c != KILN__NONE) {
    static const float values[4] = {1, 2, 3, 4};
    plan->constant_count = 1;
    BUILDER_ARRAY(b, 1, kiln__plan_constant_t, plan->constants);
    kiln_const_bytes_t data = {(const uint8_t*)values, sizeof(values)};
    KILN_RETURN_IF_ERROR(kiln__plan_blob_append(&b->blob, data, 64, false,
                                                &plan->constants[0].data));
    plan->tensors[c].kind = KILN__TENSOR_CONSTANT;
    plan->tensors[c].constant = 0;
    plan->tensors[c].dims[0] = e_four;
    plan->tensors[c].max_bytes = sizeof(values);
  }
  if (t != KILN__NONE) {
    plan->tensors[t].kind = KILN__TENSOR_ACTIVATION;
    plan->tensors[t].producer = 0;
    plan->tensors[t].arena_offset = 0;
    plan->activation_bytes = max_bytes;
  }

  // Kernel, images and params.
  if (!spec->host_layer) {
    plan->kernel_count = 1;
    BUILDER_ARRAY(b, 1, kiln__plan_kernel_t, plan->kernels);
    kiln__plan_kernel_t* kernel = &plan->kernels[0];
    kernel->name = kernel_name;
    kernel->images.count = spec->image_count;
    kernel->params.count = spec->param_count;
    kernel->global_scratch_size = spec->global_scratch_size;
    kernel->global_scratch_align = spec->global_scratch_align;
    kernel->profile_scratch_size = spec->profile_scratch_size;
    kernel->profile_scratch_align = spec->profile_scratch_align;
    kernel->num_ctas = spec->num_ctas;
    plan->image_count = spec->image_count;
    BUILDER_ARRAY(b, spec->image_count, kiln__plan_image_t, plan->images);
    for (uint32_t i = 0; i < spec->image_count; ++i) {
      const kiln_kernel_image_t* image = &spec->images[i];
      if (!image->bytes.data) {
        return kiln_make_status(KILN_STATUS_UNAVAILABLE,
                                "test image %u could not be made", i);
      }
      plan->images[i].kind = (uint8_t)image->kind;
      plan->images[i].sm_arch = image->sm_arch;
      kiln_const_bytes_t bytes = image->bytes;
      if (image->kind == KILN_KERNEL_IMAGE_PTX) {
        // The blob holds the text without its NUL, then one NUL.
        const void* nul = memchr(bytes.data, 0, bytes.size);
        if (nul) bytes.size = (size_t)((const uint8_t*)nul - bytes.data);
      }
      KILN_RETURN_IF_ERROR(kiln__plan_blob_append(
          &b->blob, bytes, 64, image->kind == KILN_KERNEL_IMAGE_PTX,
          &plan->images[i].data));
    }
    plan->param_count = spec->param_count;
    BUILDER_ARRAY(b, spec->param_count, kiln__plan_param_t, plan->params);
    memcpy(plan->params, spec->params,
           spec->param_count * sizeof(kiln__plan_param_t));
  }

  // Layers.
  uint32_t inputs_per_layer = spec->with_constant ? 2 : 1;
  plan->layer_count = layer_count;
  BUILDER_ARRAY(b, layer_count, kiln__plan_layer_t, plan->layers);
  plan->index_count = layer_count * (inputs_per_layer + 1);
  BUILDER_ARRAY(b, plan->index_count, uint32_t, plan->indices);
  plan->arg_count = layer_count * spec->arg_count;
  BUILDER_ARRAY(b, plan->arg_count, kiln__plan_arg_t, plan->args);
  uint32_t at = 0;
  for (uint32_t l = 0; l < layer_count; ++l) {
    kiln__plan_layer_t* layer = &plan->layers[l];
    layer->plugin_id = plugin_id;
    layer->name = layer_names[l];
    layer->inputs.first = at;
    layer->inputs.count = inputs_per_layer;
    plan->indices[at++] = l == 0 ? x : t;
    if (c != KILN__NONE) plan->indices[at++] = c;
    layer->outputs.first = at;
    layer->outputs.count = 1;
    plan->indices[at++] = l + 1 == layer_count ? y : t;
    if (spec->host_layer) {
      layer->kind = KILN__LAYER_HOST;
      layer->tactic = 7;
      layer->kernel = KILN__NONE;
      layer->host_attrs = (kiln__plan_span_t){0, 0};
      if (spec->host_attrs.size) {
        KILN_RETURN_IF_ERROR(kiln__plan_blob_append(
            &b->blob, spec->host_attrs, 1, false, &layer->host_attrs));
      }
      for (int d = 0; d < 3; ++d) layer->grid[d] = layer->block[d] = e_one;
      layer->shared_mem = e_shared;
      continue;
    }
    layer->kind = KILN__LAYER_AOT;
    layer->kernel = 0;
    layer->grid[0] = e_grid_x;
    layer->grid[1] = e_grid_y;
    layer->grid[2] = e_one;
    layer->block[0] = e_block;
    layer->block[1] = e_one;
    layer->block[2] = e_one;
    layer->shared_mem = e_shared;
    layer->args.first = l * spec->arg_count;
    layer->args.count = spec->arg_count;
    for (uint32_t i = 0; i < spec->arg_count; ++i) {
      kiln__plan_arg_t* arg = &plan->args[layer->args.first + i];
      arg->type = spec->arg_types[i];
      arg->expr = arg->type == KILN_ARG_TYPE_FLOAT32 ? KILN__NONE : e_arg[i];
      arg->f32 = arg->type == KILN_ARG_TYPE_FLOAT32 ? spec->f32 : 0.0f;
    }
  }
  if (spec->host_layer) plan->arg_count = 0;

  // Profiles.
  plan->profile_count = spec->profile_count;
  BUILDER_ARRAY(b, (size_t)spec->profile_count * KILN_MAX_RANK,
                kiln__plan_dim_range_t, plan->ranges);
  for (uint32_t p = 0; p < spec->profile_count; ++p) {
    kiln__plan_dim_range_t* r = &plan->ranges[p * KILN_MAX_RANK];
    if (spec->static_n > 0) {
      r->min = r->opt = r->max = spec->static_n;
    } else if (p == 0) {
      r->min = spec->min_n;
      r->opt = spec->min_n > 1024 ? spec->min_n : 1024;
      if (r->opt > spec->max_n) r->opt = spec->max_n;
      r->max = spec->max_n;
    } else {
      r->min = 8;
      r->opt = 16;
      r->max = 64;
    }
  }
  plan->info.kiln_version = (uint32_t)KILN_VERSION_NUMBER;
  return NULL;
}

// Builds the engine file of |spec| and appends it to |out|.
static kiln_status_t kiln_test_build_engine(const kiln_test_engine_spec_t* spec,
                                            kiln__writer_t* out) {
  plan_builder_t b;
  memset(&b, 0, sizeof(b));
  kiln__writer_init(&b.blob, kiln_allocator_system());
  kiln_status_t status = kiln__plan_create(kiln_allocator_system(), &b.plan);
  if (!status) status = fill_plan(spec, &b);
  if (!status) {
    b.plan->blob.data = b.blob.data;
    b.plan->blob.size = b.blob.size;
    status = kiln__engine_write(b.plan, out);
  }
  kiln__plan_destroy(b.plan);
  kiln__writer_deinit(&b.blob);
  return status;
}

// For runtime_gpu_test.c: the default engine with |images| (its kernel is
// add_one(const float* x, int n, float* y)), appended to |out|; with
// |two_layers|, x -> t -> y through add_one twice (t in the arena).
kiln_status_t kiln_test_build_add_engine_layers(
    const kiln_kernel_image_t* images, size_t image_count, bool two_layers,
    kiln__writer_t* out);
kiln_status_t kiln_test_build_add_engine(const kiln_kernel_image_t* images,
                                         size_t image_count,
                                         kiln__writer_t* out);
kiln_status_t kiln_test_build_add_engine(const kiln_kernel_image_t* images,
                                         size_t image_count,
                                         kiln__writer_t* out) {
  return kiln_test_build_add_engine_layers(images, image_count, false, out);
}

kiln_status_t kiln_test_build_add_engine_layers(
    const kiln_kernel_image_t* images, size_t image_count, bool two_layers,
    kiln__writer_t* out) {
  kiln_test_engine_spec_t spec = kiln_test_engine_spec_default();
  spec.two_layers = two_layers;
  if (image_count == 0 || image_count > SPEC_MAX_IMAGES) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT, "%zu images",
                            image_count);
  }
  spec.image_count = (uint32_t)image_count;
  for (size_t i = 0; i < image_count; ++i) spec.images[i] = images[i];
  return kiln_test_build_engine(&spec, out);
}

//===----------------------------------------------------------------------===//
// The fake driver
//===----------------------------------------------------------------------===//

#define FAKE_MAX_LAUNCHES 8
#define FAKE_MAX_PARAMS 16

typedef struct fake_launch_t {
  unsigned int grid[3];
  unsigned int block[3];
  unsigned int shared;
  void* stream;
  uint64_t values[FAKE_MAX_PARAMS];  // each param, zero-extended
} fake_launch_t;

static struct {
  uint32_t sm_arch;
  int device_count;
  int func_max_threads;
  int func_static_shared;
  int optin_shared;
  const char* missing_function;
  kiln__cu_result_t launch_result;
  // How to read each kernel parameter for the record.
  uint8_t param_sizes[FAKE_MAX_PARAMS];
  uint32_t param_count;
  // Counters.
  int ptx_loads;
  int cubin_loads;
  int modules_live;
  int ctx_retained;
  int set_dynamic_calls;
  int dynamic_value;
  int launches;
  bool quiet;  // count launches atomically and record nothing (threads)
  int mem_live;
  size_t mem_alloc_calls;
  size_t mem_alloc_fail_at;
  int events_live;
  int streams_live;
  fake_launch_t history[FAKE_MAX_LAUNCHES];
  char last_function[128];
  // CUDA graphs (fake_enable_graphs). |launches| counts kernels run, by
  // cuLaunchKernel or as graph nodes; the counters below count calls.
  int launch_calls;       // cuLaunchKernel outside a capture
  int captured_launches;  // cuLaunchKernel into a capture
  int begin_captures;
  int instantiates;
  int graph_launches;
  int node_updates;
  int graphs_live;
  int execs_live;
  void* capturing;          // the stream being captured
  void* user_capturing;     // a caller's stream that reports being captured
  void* last_graph_stream;  // the stream of the last cuGraphLaunch
  struct fake_graph_t* capture;
  kiln__cu_result_t begin_capture_result;
  kiln__cu_result_t instantiate_result;
  kiln__cu_result_t set_params_result;
  bool reverse_nodes;  // cuGraphGetNodes lists nodes last first
} fake;

static int fake_function_token;

static kiln__cu_result_t fake_init(unsigned int flags) {
  (void)flags;
  return fake.device_count > 0 ? KILN_CUDA_SUCCESS : KILN_CUDA_ERROR_NO_DEVICE;
}

static kiln__cu_result_t fake_device_get_count(int* out_count) {
  *out_count = fake.device_count;
  return KILN_CUDA_SUCCESS;
}

static kiln__cu_result_t fake_device_get(kiln__cu_device_t* out, int ordinal) {
  *out = ordinal;
  return KILN_CUDA_SUCCESS;
}

static kiln__cu_result_t fake_device_get_name(char* name, int length,
                                              kiln__cu_device_t device) {
  (void)device;
  snprintf(name, (size_t)length, "Fake GPU sm_%u", fake.sm_arch);
  return KILN_CUDA_SUCCESS;
}

static kiln__cu_result_t fake_device_get_attribute(int* out, int attribute,
                                                   kiln__cu_device_t device) {
  (void)device;
  switch (attribute) {
    case KILN_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR:
      *out = (int)(fake.sm_arch / 10);
      break;
    case KILN_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR:
      *out = (int)(fake.sm_arch % 10);
      break;
    case KILN_CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT:
      *out = 132;
      break;
    case KILN_CU_DEVICE_ATTRIBUTE_WARP_SIZE:
      *out = 32;
      break;
    case KILN_CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK:
    case KILN_CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X:
    case KILN_CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y:
      *out = 1024;
      break;
    case KILN_CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z:
      *out = 64;
      break;
    case KILN_CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X:
      *out = 2147483647;
      break;
    case KILN_CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y:
    case KILN_CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z:
      *out = 65535;
      break;
    case KILN_CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK:
      *out = 49152;
      break;
    case KILN_CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN:
      *out = fake.optin_shared;
      break;
    default:
      return KILN_CUDA_ERROR_INVALID_VALUE;
  }
  return KILN_CUDA_SUCCESS;
}

static kiln__cu_result_t fake_device_total_mem(size_t* out,
                                               kiln__cu_device_t device) {
  (void)device;
  *out = (size_t)80 << 30;
  return KILN_CUDA_SUCCESS;
}

static kiln__cu_result_t fake_primary_retain(kiln__cu_context_t* out,
                                             kiln__cu_device_t device) {
  (void)device;
  ++fake.ctx_retained;
  *out = (kiln__cu_context_t)&fake;
  return KILN_CUDA_SUCCESS;
}

static kiln__cu_result_t fake_primary_release(kiln__cu_device_t device) {
  (void)device;
  --fake.ctx_retained;
  return KILN_CUDA_SUCCESS;
}

static kiln__cu_result_t fake_ctx_set_current(kiln__cu_context_t context) {
  return context == (kiln__cu_context_t)&fake ? KILN_CUDA_SUCCESS
                                              : KILN_CUDA_ERROR_INVALID_CONTEXT;
}

static kiln__cu_result_t fake_ctx_synchronize(void) {
  return KILN_CUDA_SUCCESS;
}

static kiln__cu_result_t fake_module_load(kiln__cu_module_t* out,
                                          const void* image, unsigned int n,
                                          kiln__cu_jit_option_t* options,
                                          void** values) {
  (void)n;
  (void)options;
  (void)values;
  if (memcmp(image,
             "\x7f"
             "ELF",
             4) == 0) {
    ++fake.cubin_loads;
  } else {
    ++fake.ptx_loads;
  }
  void* module = malloc(1);
  if (!module) return KILN_CUDA_ERROR_OUT_OF_MEMORY;
  ++fake.modules_live;
  *out = (kiln__cu_module_t)module;
  return KILN_CUDA_SUCCESS;
}

static kiln__cu_result_t fake_module_unload(kiln__cu_module_t module) {
  free(module);
  --fake.modules_live;
  return KILN_CUDA_SUCCESS;
}

static kiln__cu_result_t fake_module_get_function(kiln__cu_function_t* out,
                                                  kiln__cu_module_t module,
                                                  const char* name) {
  (void)module;
  snprintf(fake.last_function, sizeof(fake.last_function), "%s", name);
  if (fake.missing_function && strcmp(name, fake.missing_function) == 0) {
    return KILN_CUDA_ERROR_NOT_FOUND;
  }
  *out = (kiln__cu_function_t)&fake_function_token;
  return KILN_CUDA_SUCCESS;
}

static kiln__cu_result_t fake_func_get_attribute(int* out, int attribute,
                                                 kiln__cu_function_t function) {
  (void)function;
  switch (attribute) {
    case KILN_CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK:
      *out = fake.func_max_threads;
      return KILN_CUDA_SUCCESS;
    case KILN_CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES:
      *out = fake.func_static_shared;
      return KILN_CUDA_SUCCESS;
    default:
      return KILN_CUDA_ERROR_INVALID_VALUE;
  }
}

static kiln__cu_result_t fake_func_set_attribute(kiln__cu_function_t function,
                                                 int attribute, int value) {
  (void)function;
  if (attribute != KILN_CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES) {
    return KILN_CUDA_ERROR_INVALID_VALUE;
  }
  ++fake.set_dynamic_calls;
  fake.dynamic_value = value;
  return KILN_CUDA_SUCCESS;
}

// A kernel node: what cuLaunchKernel was given, params copied as the
// driver copies them (each zero-extended to 8 bytes).
#define FAKE_MAX_NODES 8

typedef struct fake_node_t {
  kiln__cu_function_t function;
  unsigned int grid[3];
  unsigned int block[3];
  unsigned int shared;
  uint64_t values[FAKE_MAX_PARAMS];
  void* value_pointers[FAKE_MAX_PARAMS];
  int index;
} fake_node_t;

typedef struct fake_graph_t {
  fake_node_t nodes[FAKE_MAX_NODES];
  int count;
} fake_graph_t;

static void fake_node_set(fake_node_t* node, kiln__cu_function_t function,
                          const unsigned int grid[3],
                          const unsigned int block[3], unsigned int shared,
                          void** params) {
  node->function = function;
  memcpy(node->grid, grid, sizeof(node->grid));
  memcpy(node->block, block, sizeof(node->block));
  node->shared = shared;
  memset(node->values, 0, sizeof(node->values));
  for (uint32_t i = 0; i < fake.param_count && i < FAKE_MAX_PARAMS; ++i) {
    memcpy(&node->values[i], params[i], fake.param_sizes[i]);
  }
  for (int i = 0; i < FAKE_MAX_PARAMS; ++i) {
    node->value_pointers[i] = &node->values[i];
  }
}

static void fake_capture_launch(kiln__cu_function_t function, unsigned int gx,
                                unsigned int gy, unsigned int gz,
                                unsigned int bx, unsigned int by,
                                unsigned int bz, unsigned int shared,
                                void** params) {
  ++fake.captured_launches;
  fake_graph_t* graph = fake.capture;
  if (!graph || graph->count == FAKE_MAX_NODES) return;
  fake_node_t* node = &graph->nodes[graph->count];
  unsigned int grid[3] = {gx, gy, gz}, block[3] = {bx, by, bz};
  fake_node_set(node, function, grid, block, shared, params);
  node->index = graph->count++;
}

static kiln__cu_result_t fake_launch(kiln__cu_function_t function,
                                     unsigned int gx, unsigned int gy,
                                     unsigned int gz, unsigned int bx,
                                     unsigned int by, unsigned int bz,
                                     unsigned int shared,
                                     kiln__cu_stream_t stream, void** params,
                                     void** extra) {
  (void)function;
  (void)extra;
  if (fake.quiet) {
    __atomic_fetch_add(&fake.launches, 1, __ATOMIC_RELAXED);
    return KILN_CUDA_SUCCESS;
  }
  if (fake.launch_result != KILN_CUDA_SUCCESS) return fake.launch_result;
  if (fake.capturing && (void*)stream == fake.capturing) {
    fake_capture_launch(function, gx, gy, gz, bx, by, bz, shared, params);
    return KILN_CUDA_SUCCESS;
  }
  ++fake.launch_calls;
  fake_launch_t* record = &fake.history[fake.launches % FAKE_MAX_LAUNCHES];
  memset(record, 0, sizeof(*record));
  record->grid[0] = gx;
  record->grid[1] = gy;
  record->grid[2] = gz;
  record->block[0] = bx;
  record->block[1] = by;
  record->block[2] = bz;
  record->shared = shared;
  record->stream = stream;
  for (uint32_t i = 0; i < fake.param_count && i < FAKE_MAX_PARAMS; ++i) {
    memcpy(&record->values[i], params[i], fake.param_sizes[i]);
  }
  ++fake.launches;
  return KILN_CUDA_SUCCESS;
}

static kiln__cu_result_t fake_mem_alloc(kiln__cu_deviceptr_t* out,
                                        size_t bytes) {
  if (fake.mem_alloc_calls++ == fake.mem_alloc_fail_at) {
    return KILN_CUDA_ERROR_OUT_OF_MEMORY;
  }
  void* p = calloc(1, bytes);
  if (!p) return KILN_CUDA_ERROR_OUT_OF_MEMORY;
  ++fake.mem_live;
  *out = (kiln__cu_deviceptr_t)(uintptr_t)p;
  return KILN_CUDA_SUCCESS;
}

static kiln__cu_result_t fake_mem_free(kiln__cu_deviceptr_t p) {
  free((void*)(uintptr_t)p);
  --fake.mem_live;
  return KILN_CUDA_SUCCESS;
}

static kiln__cu_result_t fake_htod(kiln__cu_deviceptr_t dst, const void* src,
                                   size_t n) {
  memcpy((void*)(uintptr_t)dst, src, n);
  return KILN_CUDA_SUCCESS;
}

static kiln__cu_result_t fake_dtoh(void* dst, kiln__cu_deviceptr_t src,
                                   size_t n) {
  memcpy(dst, (const void*)(uintptr_t)src, n);
  return KILN_CUDA_SUCCESS;
}

static kiln__cu_result_t fake_memset(kiln__cu_deviceptr_t dst,
                                     unsigned char value, size_t n) {
  memset((void*)(uintptr_t)dst, value, n);
  return KILN_CUDA_SUCCESS;
}

static kiln__cu_result_t fake_stream_create(kiln__cu_stream_t* out,
                                            unsigned int flags) {
  (void)flags;
  ++fake.streams_live;
  *out = (kiln__cu_stream_t)malloc(1);
  return KILN_CUDA_SUCCESS;
}

static kiln__cu_result_t fake_stream_destroy(kiln__cu_stream_t stream) {
  --fake.streams_live;
  free(stream);
  return KILN_CUDA_SUCCESS;
}

static kiln__cu_result_t fake_stream_synchronize(kiln__cu_stream_t stream) {
  (void)stream;
  return KILN_CUDA_SUCCESS;
}

static kiln__cu_result_t fake_event_create(kiln__cu_event_t* out,
                                           unsigned int flags) {
  (void)flags;
  ++fake.events_live;
  // The event holds the launch count when it is recorded.
  *out = (kiln__cu_event_t)calloc(1, sizeof(int));
  return KILN_CUDA_SUCCESS;
}

static kiln__cu_result_t fake_event_record(kiln__cu_event_t event,
                                           kiln__cu_stream_t stream) {
  (void)stream;
  memcpy(event, &fake.launches, sizeof(int));
  return KILN_CUDA_SUCCESS;
}

static kiln__cu_result_t fake_event_synchronize(kiln__cu_event_t event) {
  (void)event;
  return KILN_CUDA_SUCCESS;
}

// Each launch takes 1 ms plus the launch index in microseconds.
static kiln__cu_result_t fake_event_elapsed(float* out, kiln__cu_event_t start,
                                            kiln__cu_event_t end) {
  int a, b;
  memcpy(&a, start, sizeof(int));
  memcpy(&b, end, sizeof(int));
  *out = (float)(b - a) * (1.0f + (float)a * 0.001f);
  return KILN_CUDA_SUCCESS;
}

static kiln__cu_result_t fake_event_destroy(kiln__cu_event_t event) {
  --fake.events_live;
  free(event);
  return KILN_CUDA_SUCCESS;
}

static kiln__cu_result_t fake_begin_capture(kiln__cu_stream_t stream,
                                            int mode) {
  if (mode != KILN_CU_STREAM_CAPTURE_MODE_THREAD_LOCAL) {
    return KILN_CUDA_ERROR_INVALID_VALUE;
  }
  if (fake.begin_capture_result != KILN_CUDA_SUCCESS) {
    return fake.begin_capture_result;
  }
  if (fake.capturing || !stream) return KILN_CUDA_ERROR_ILLEGAL_STATE;
  fake.capture = (fake_graph_t*)calloc(1, sizeof(fake_graph_t));
  if (!fake.capture) return KILN_CUDA_ERROR_OUT_OF_MEMORY;
  ++fake.graphs_live;
  ++fake.begin_captures;
  fake.capturing = stream;
  return KILN_CUDA_SUCCESS;
}

static kiln__cu_result_t fake_end_capture(kiln__cu_stream_t stream,
                                          kiln__cu_graph_t* out_graph) {
  if ((void*)stream != fake.capturing) return KILN_CUDA_ERROR_ILLEGAL_STATE;
  *out_graph = (kiln__cu_graph_t)fake.capture;
  fake.capture = NULL;
  fake.capturing = NULL;
  return KILN_CUDA_SUCCESS;
}

static kiln__cu_result_t fake_instantiate(kiln__cu_graph_exec_t* out_exec,
                                          kiln__cu_graph_t graph,
                                          unsigned long long flags) {
  (void)flags;
  if (fake.instantiate_result != KILN_CUDA_SUCCESS) {
    return fake.instantiate_result;
  }
  fake_graph_t* exec = (fake_graph_t*)malloc(sizeof(fake_graph_t));
  if (!exec) return KILN_CUDA_ERROR_OUT_OF_MEMORY;
  memcpy(exec, graph, sizeof(*exec));
  ++fake.execs_live;
  ++fake.instantiates;
  *out_exec = (kiln__cu_graph_exec_t)exec;
  return KILN_CUDA_SUCCESS;
}

// Runs the exec's nodes: each is recorded as a launch on |stream|.
static kiln__cu_result_t fake_graph_launch(kiln__cu_graph_exec_t exec,
                                           kiln__cu_stream_t stream) {
  const fake_graph_t* graph = (const fake_graph_t*)exec;
  ++fake.graph_launches;
  fake.last_graph_stream = stream;
  for (int i = 0; i < graph->count; ++i) {
    const fake_node_t* node = &graph->nodes[i];
    fake_launch_t* record = &fake.history[fake.launches % FAKE_MAX_LAUNCHES];
    memset(record, 0, sizeof(*record));
    memcpy(record->grid, node->grid, sizeof(record->grid));
    memcpy(record->block, node->block, sizeof(record->block));
    record->shared = node->shared;
    record->stream = stream;
    memcpy(record->values, node->values, sizeof(record->values));
    ++fake.launches;
  }
  return KILN_CUDA_SUCCESS;
}

static kiln__cu_result_t fake_exec_destroy(kiln__cu_graph_exec_t exec) {
  --fake.execs_live;
  free(exec);
  return KILN_CUDA_SUCCESS;
}

static kiln__cu_result_t fake_graph_destroy(kiln__cu_graph_t graph) {
  --fake.graphs_live;
  free(graph);
  return KILN_CUDA_SUCCESS;
}

static kiln__cu_result_t fake_exec_set_params(
    kiln__cu_graph_exec_t exec, kiln__cu_graph_node_t node,
    const kiln__cu_kernel_node_params_t* p) {
  if (fake.set_params_result != KILN_CUDA_SUCCESS) {
    return fake.set_params_result;
  }
  fake_graph_t* graph = (fake_graph_t*)exec;
  const fake_node_t* template_node = (const fake_node_t*)node;
  if (template_node->index < 0 || template_node->index >= graph->count) {
    return KILN_CUDA_ERROR_INVALID_VALUE;
  }
  unsigned int grid[3] = {p->grid_dim_x, p->grid_dim_y, p->grid_dim_z};
  unsigned int block[3] = {p->block_dim_x, p->block_dim_y, p->block_dim_z};
  fake_node_t* target = &graph->nodes[template_node->index];
  fake_node_set(target, p->func, grid, block, p->shared_mem_bytes,
                p->kernel_params);
  ++fake.node_updates;
  return KILN_CUDA_SUCCESS;
}

static kiln__cu_result_t fake_is_capturing(kiln__cu_stream_t stream,
                                           int* out_status) {
  *out_status =
      (fake.capturing && (void*)stream == fake.capturing) ||
              (fake.user_capturing && (void*)stream == fake.user_capturing)
          ? KILN_CU_STREAM_CAPTURE_STATUS_ACTIVE
          : KILN_CU_STREAM_CAPTURE_STATUS_NONE;
  return KILN_CUDA_SUCCESS;
}

static kiln__cu_result_t fake_get_nodes(kiln__cu_graph_t graph,
                                        kiln__cu_graph_node_t* nodes,
                                        size_t* inout_count) {
  fake_graph_t* g = (fake_graph_t*)graph;
  if (!nodes) {
    *inout_count = (size_t)g->count;
    return KILN_CUDA_SUCCESS;
  }
  size_t count =
      *inout_count < (size_t)g->count ? *inout_count : (size_t)g->count;
  for (size_t i = 0; i < count; ++i) {
    size_t k = fake.reverse_nodes ? (size_t)g->count - 1 - i : i;
    nodes[i] = (kiln__cu_graph_node_t)&g->nodes[k];
  }
  *inout_count = count;
  return KILN_CUDA_SUCCESS;
}

static kiln__cu_result_t fake_node_get_params(
    kiln__cu_graph_node_t node, kiln__cu_kernel_node_params_t* out) {
  fake_node_t* n = (fake_node_t*)node;
  memset(out, 0, sizeof(*out));
  out->func = n->function;
  out->grid_dim_x = n->grid[0];
  out->grid_dim_y = n->grid[1];
  out->grid_dim_z = n->grid[2];
  out->block_dim_x = n->block[0];
  out->block_dim_y = n->block[1];
  out->block_dim_z = n->block[2];
  out->shared_mem_bytes = n->shared;
  out->kernel_params = n->value_pointers;
  return KILN_CUDA_SUCCESS;
}

static kiln__cuda_driver_t fake_driver;

// Adds the CUDA-graph functions to the fake's table; |with_nodes| adds the
// optional node queries too.
static void fake_enable_graphs(bool with_nodes) {
  kiln__cuda_driver_t* d = &fake_driver;
  d->cuStreamBeginCapture = fake_begin_capture;
  d->cuStreamEndCapture = fake_end_capture;
  d->cuGraphInstantiateWithFlags = fake_instantiate;
  d->cuGraphLaunch = fake_graph_launch;
  d->cuGraphExecDestroy = fake_exec_destroy;
  d->cuGraphDestroy = fake_graph_destroy;
  d->cuGraphExecKernelNodeSetParams = fake_exec_set_params;
  d->cuStreamIsCapturing = fake_is_capturing;
  d->cuGraphGetNodes = with_nodes ? fake_get_nodes : NULL;
  d->cuGraphKernelNodeGetParams = with_nodes ? fake_node_get_params : NULL;
}

// Resets the fake to a device of |sm_arch| and returns its table.
static const kiln__cuda_driver_t* fake_reset(uint32_t sm_arch) {
  memset(&fake, 0, sizeof(fake));
  fake.sm_arch = sm_arch;
  fake.device_count = 1;
  fake.func_max_threads = 1024;
  fake.optin_shared = 232448;
  fake.mem_alloc_fail_at = SIZE_MAX;
  memset(&fake_driver, 0, sizeof(fake_driver));
  kiln__cuda_driver_t* d = &fake_driver;
  d->cuInit = fake_init;
  d->cuDeviceGetCount = fake_device_get_count;
  d->cuDeviceGet = fake_device_get;
  d->cuDeviceGetName = fake_device_get_name;
  d->cuDeviceGetAttribute = fake_device_get_attribute;
  d->cuDeviceTotalMem = fake_device_total_mem;
  d->cuDevicePrimaryCtxRetain = fake_primary_retain;
  d->cuDevicePrimaryCtxRelease = fake_primary_release;
  d->cuCtxSetCurrent = fake_ctx_set_current;
  d->cuCtxSynchronize = fake_ctx_synchronize;
  d->cuModuleLoadDataEx = fake_module_load;
  d->cuModuleUnload = fake_module_unload;
  d->cuModuleGetFunction = fake_module_get_function;
  d->cuFuncGetAttribute = fake_func_get_attribute;
  d->cuFuncSetAttribute = fake_func_set_attribute;
  d->cuLaunchKernel = fake_launch;
  d->cuMemAlloc = fake_mem_alloc;
  d->cuMemFree = fake_mem_free;
  d->cuMemcpyHtoD = fake_htod;
  d->cuMemcpyDtoH = fake_dtoh;
  d->cuMemsetD8 = fake_memset;
  d->cuStreamCreate = fake_stream_create;
  d->cuStreamDestroy = fake_stream_destroy;
  d->cuStreamSynchronize = fake_stream_synchronize;
  d->cuEventCreate = fake_event_create;
  d->cuEventRecord = fake_event_record;
  d->cuEventSynchronize = fake_event_synchronize;
  d->cuEventElapsedTime = fake_event_elapsed;
  d->cuEventDestroy = fake_event_destroy;
  return d;
}

// The fake records |count| params of |sizes| bytes.
static void fake_record_params(const uint8_t* sizes, uint32_t count) {
  fake.param_count = count;
  memcpy(fake.param_sizes, sizes, count);
}

static kiln_status_t fake_device(uint32_t sm_arch, kiln_device_t** out) {
  return kiln__device_create_with_driver(fake_reset(sm_arch), 0,
                                         kiln_allocator_system(), out);
}

static kiln_status_t load(kiln_device_t* device, const kiln__writer_t* file,
                          const kiln_engine_load_options_t* options,
                          kiln_engine_t** out_engine) {
  kiln_const_bytes_t bytes = {file->data, file->size};
  return kiln_engine_load(device, bytes, options, kiln_allocator_system(),
                          out_engine);
}

// Builds |spec| into |file| (initialized here), failing the test on error.
#define BUILD(spec, file)                                \
  do {                                                   \
    kiln__writer_init(&(file), kiln_allocator_system()); \
    ASSERT_OK(kiln_test_build_engine(&(spec), &(file))); \
  } while (0)

//===----------------------------------------------------------------------===//
// Devices
//===----------------------------------------------------------------------===//

TEST(runtime_device_without_libcuda_is_unavailable) {
  kiln_device_t* device = NULL;
  kiln_status_t status =
      kiln_device_create(0, kiln_allocator_system(), &device);
  if (!status) {
    kiln_device_release(device);
    SKIP(
        "a CUDA driver is installed here; this test is for machines "
        "without one");
  }
  kiln_status_code_t code = kiln_status_code(status);
  if (code != KILN_STATUS_UNAVAILABLE) {
    kiln_test_fail(t_, __FILE__, __LINE__, "expected UNAVAILABLE, got %s: %s",
                   kiln_status_code_name(code), kiln_status_message(status));
    kiln_status_free(status);
    return;
  }
  // Either the library is missing (say what to install) or there is no GPU.
  const char* message = kiln_status_message(status);
  bool explains = strstr(message, "install the NVIDIA driver") ||
                  strstr(message, "no CUDA GPU");
  kiln_status_free(status);
  ASSERT_TRUE(explains);
  ASSERT_EQ_PTR(device, NULL);
}

TEST(runtime_device_with_stub_libcuda_is_unavailable) {
#if defined(KILN_TEST_CUDA_STUB_LIBCUDA)
  kiln__cuda_driver_t driver;
  kiln_status_t status =
      kiln__cuda_driver_load(KILN_TEST_CUDA_STUB_LIBCUDA, &driver);
  kiln_device_t* device = NULL;
  if (!status) {
    status = kiln__device_create_with_driver(&driver, 0,
                                             kiln_allocator_system(), &device);
  }
  if (!status) {
    // The loader gave back the real driver, already loaded by its soname.
    kiln_device_release(device);
    SKIP("the stub library resolved to the real driver");
  }
  ASSERT_STATUS(status, KILN_STATUS_UNAVAILABLE, "CUDA_ERROR_STUB_LIBRARY");
  ASSERT_EQ_PTR(device, NULL);
#else
  SKIP("the CUDA toolkit's stub libcuda.so was not found at configure time");
#endif
}

TEST(runtime_device_fake_create_and_errors) {
  kiln_device_t* device = NULL;
  ASSERT_OK(fake_device(90, &device));
  ASSERT_EQ_U64(kiln_device_sm_arch(device), 90);
  ASSERT_EQ_STR(kiln_device_name(device), "Fake GPU sm_90");
  ASSERT_EQ_I64(fake.ctx_retained, 1);
  kiln_device_retain(device);
  kiln_device_release(device);
  ASSERT_EQ_I64(fake.ctx_retained, 1);
  kiln_device_release(device);
  ASSERT_EQ_I64(fake.ctx_retained, 0);

  const kiln__cuda_driver_t* driver = fake_reset(90);
  ASSERT_STATUS(kiln__device_create_with_driver(
                    driver, 3, kiln_allocator_system(), &device),
                KILN_STATUS_INVALID_ARGUMENT,
                "device ordinal 3 is out of range: there is 1 CUDA GPU");
  fake.device_count = 0;
  ASSERT_STATUS(kiln__device_create_with_driver(
                    driver, 0, kiln_allocator_system(), &device),
                KILN_STATUS_UNAVAILABLE, "no CUDA GPU");
  ASSERT_EQ_PTR(device, NULL);
  ASSERT_EQ_I64(fake.ctx_retained, 0);
  ASSERT_EQ_U64(kiln_device_sm_arch(NULL), 0);
  ASSERT_EQ_STR(kiln_device_name(NULL), "");
}

TEST(runtime_device_memory_and_streams) {
  kiln_device_t* device = NULL;
  ASSERT_OK(fake_device(90, &device));
  uint64_t address = 0;
  kiln_status_t status = kiln_device_malloc(device, 64, &address);
  uint8_t in[64], out[64];
  for (int i = 0; i < 64; ++i) in[i] = (uint8_t)i;
  if (!status) status = kiln_device_copy_to_device(device, address, in, 64);
  if (!status) status = kiln_device_memset(device, address + 8, 0xab, 8);
  if (!status) status = kiln_device_copy_to_host(device, out, address, 64);
  if (!status) status = kiln_device_synchronize(device);
  void* stream = NULL;
  if (!status) status = kiln_stream_create(device, &stream);
  if (!status) status = kiln_stream_synchronize(device, stream);
  if (!status) status = kiln_stream_destroy(device, stream);
  if (!status) status = kiln_device_free(device, address);
  uint64_t zero = 1;
  if (!status) status = kiln_device_malloc(device, 0, &zero);
  if (!status) status = kiln_device_free(device, 0);
  int mem_live = fake.mem_live, streams_live = fake.streams_live;
  kiln_device_release(device);
  ASSERT_OK(status);
  ASSERT_EQ_U64(zero, 0);
  ASSERT_EQ_I64(mem_live, 0);
  ASSERT_EQ_I64(streams_live, 0);
  for (int i = 0; i < 64; ++i) {
    ASSERT_EQ_U64(out[i], (i >= 8 && i < 16) ? 0xab : i);
  }
  // Out of device memory is RESOURCE_EXHAUSTED and does not lose the device.
  ASSERT_OK(fake_device(90, &device));
  fake.mem_alloc_fail_at = 0;
  status = kiln_device_malloc(device, 1 << 20, &address);
  bool lost = kiln__device_is_lost(device);
  kiln_device_release(device);
  ASSERT_STATUS(status, KILN_STATUS_RESOURCE_EXHAUSTED,
                "CUDA_ERROR_OUT_OF_MEMORY");
  ASSERT_FALSE(lost);
}

TEST(runtime_device_allocation_failure_sweep) {
  for (size_t fail_at = 0;; ++fail_at) {
    kiln_test_allocator_t ta = kiln_test_allocator_failing_at(fail_at);
    kiln_device_t* device = NULL;
    kiln_status_t status = kiln__device_create_with_driver(
        fake_reset(90), 0, kiln_test_allocator_get(&ta), &device);
    if (!status) {
      kiln_device_release(device);
      ASSERT_EQ_U64(ta.live, 0);
      ASSERT_EQ_I64(fake.ctx_retained, 0);
      break;
    }
    ASSERT_STATUS(status, KILN_STATUS_RESOURCE_EXHAUSTED, "");
    ASSERT_EQ_U64(ta.live, 0);
  }
}

//===----------------------------------------------------------------------===//
// Loading
//===----------------------------------------------------------------------===//

TEST(runtime_load_incompatible_names_both_archs) {
  kiln_test_engine_spec_t spec = kiln_test_engine_spec_default();
  spec.image_count = 1;
  spec.images[0] = kiln_test_image_cubin(90);
  kiln__writer_t file;
  BUILD(spec, file);
  kiln_device_t* device = NULL;
  kiln_engine_t* engine = NULL;
  kiln_status_t status = fake_device(80, &device);
  if (!status) status = load(device, &file, NULL, &engine);
  kiln__writer_deinit(&file);
  int loads = fake.cubin_loads + fake.ptx_loads;
  kiln_device_release(device);
  ASSERT_STATUS(status, KILN_STATUS_INCOMPATIBLE,
                "kernel 'add_one' has no image this device can run: the "
                "engine has sm_90 cubin, no PTX; the device is sm_80, Fake "
                "GPU sm_80");
  ASSERT_EQ_I64(loads, 0);
  ASSERT_EQ_PTR(engine, NULL);
}

TEST(runtime_load_prefers_exact_cubin) {
  kiln_test_engine_spec_t spec = kiln_test_engine_spec_default();
  kiln__writer_t file;
  BUILD(spec, file);  // sm_80 PTX and an sm_90 cubin
  kiln_device_t* device = NULL;
  kiln_engine_t* engine = NULL;
  kiln_status_t status = fake_device(90, &device);
  if (!status) status = load(device, &file, NULL, &engine);
  kiln__writer_deinit(&file);
  int cubin = fake.cubin_loads, ptx = fake.ptx_loads;
  int live = fake.modules_live;
  uint32_t image = engine ? engine->kernels[0].image : 99;
  kiln_engine_release(engine);
  int live_after = fake.modules_live;
  kiln_device_release(device);
  ASSERT_OK(status);
  ASSERT_EQ_I64(cubin, 1);
  ASSERT_EQ_I64(ptx, 0);
  ASSERT_EQ_I64(live, 1);
  ASSERT_EQ_I64(live_after, 0);
  ASSERT_EQ_U64(image, 1);
  ASSERT_EQ_STR(fake.last_function, "add_one");
  ASSERT_EQ_I64(fake.ctx_retained, 0);
}

TEST(runtime_load_force_ptx_uses_ptx) {
  kiln_test_engine_spec_t spec = kiln_test_engine_spec_default();
  kiln__writer_t file;
  BUILD(spec, file);
  kiln_device_t* device = NULL;
  kiln_engine_t* engine = NULL;
  kiln_engine_load_options_t options;
  memset(&options, 0, sizeof(options));
  options.force_ptx = true;
  kiln_status_t status = fake_device(90, &device);
  if (!status) status = load(device, &file, &options, &engine);
  int cubin = fake.cubin_loads, ptx = fake.ptx_loads;
  kiln_engine_release(engine);
  engine = NULL;
  // Without a PTX image, force_ptx has nothing to load.
  spec.image_count = 1;
  spec.images[0] = kiln_test_image_cubin(90);
  kiln__writer_deinit(&file);
  kiln__writer_init(&file, kiln_allocator_system());
  if (!status) status = kiln_test_build_engine(&spec, &file);
  kiln_status_t cubin_only = NULL;
  if (!status) cubin_only = load(device, &file, &options, &engine);
  kiln__writer_deinit(&file);
  kiln_device_release(device);
  ASSERT_OK(status);
  ASSERT_EQ_I64(cubin, 0);
  ASSERT_EQ_I64(ptx, 1);
  ASSERT_STATUS(cubin_only, KILN_STATUS_INCOMPATIBLE,
                "the engine has sm_90 cubin, no PTX; the device is sm_90, "
                "Fake GPU sm_90 (cubins were ignored: force_ptx is set)");
}

TEST(runtime_load_ptx_fallback_for_other_arch) {
  kiln_test_engine_spec_t spec = kiln_test_engine_spec_default();
  kiln__writer_t file;
  BUILD(spec, file);
  kiln_device_t* device = NULL;
  kiln_engine_t* engine = NULL;
  kiln_status_t status = fake_device(86, &device);
  if (!status) status = load(device, &file, NULL, &engine);
  kiln__writer_deinit(&file);
  int cubin = fake.cubin_loads, ptx = fake.ptx_loads;
  kiln_engine_release(engine);
  kiln_device_release(device);
  ASSERT_OK(status);
  ASSERT_EQ_I64(cubin, 0);
  ASSERT_EQ_I64(ptx, 1);
}

TEST(runtime_load_refuses_arch_specific_ptx_before_the_driver) {
  kiln_test_engine_spec_t spec = kiln_test_engine_spec_default();
  spec.image_count = 2;
  spec.images[0] = kiln_test_image_ptx("sm_90a");
  spec.images[1] = kiln_test_image_ptx("sm_100");
  kiln__writer_t file;
  BUILD(spec, file);
  kiln_device_t* device = NULL;
  kiln_engine_t* engine = NULL;
  kiln_status_t status = fake_device(80, &device);
  if (!status) status = load(device, &file, NULL, &engine);
  kiln__writer_deinit(&file);
  int loads = fake.cubin_loads + fake.ptx_loads;
  kiln_device_release(device);
  ASSERT_STATUS(status, KILN_STATUS_INCOMPATIBLE,
                "the engine has PTX for sm_90a, PTX for sm_100; the device "
                "is sm_80, Fake GPU sm_80; PTX for sm_90a runs only on sm_90 "
                "devices; PTX for sm_100 is newer than the device");
  ASSERT_EQ_I64(loads, 0);
  ASSERT_EQ_I64(fake.ctx_retained, 0);
}

TEST(runtime_load_missing_function_is_not_found) {
  kiln_test_engine_spec_t spec = kiln_test_engine_spec_default();
  kiln__writer_t file;
  BUILD(spec, file);
  kiln_device_t* device = NULL;
  kiln_engine_t* engine = NULL;
  kiln_status_t status = fake_device(90, &device);
  fake.missing_function = "add_one";
  if (!status) status = load(device, &file, NULL, &engine);
  kiln__writer_deinit(&file);
  int live = fake.modules_live;
  kiln_device_release(device);
  ASSERT_STATUS(status, KILN_STATUS_NOT_FOUND,
                "kernel 'add_one' is not in its sm_90 cubin");
  ASSERT_EQ_I64(live, 0);
}

TEST(runtime_load_raises_dynamic_shared_limit) {
  kiln_test_engine_spec_t spec = kiln_test_engine_spec_default();
  kiln__writer_t file;
  BUILD(spec, file);
  kiln_device_t* device = NULL;
  kiln_engine_t* engine = NULL;
  kiln_status_t status = fake_device(90, &device);
  fake.func_static_shared = 1024;
  if (!status) status = load(device, &file, NULL, &engine);
  int calls = fake.set_dynamic_calls, value = fake.dynamic_value;
  int32_t limit = engine ? engine->kernels[0].max_dynamic_shared_bytes : 0;
  kiln_engine_release(engine);
  engine = NULL;
  // A device without opt-in memory keeps the default limit.
  kiln_device_release(device);
  device = NULL;
  fake.optin_shared = 49152;
  if (!status) {
    status = kiln__device_create_with_driver(&fake_driver, 0,
                                             kiln_allocator_system(), &device);
  }
  if (!status) status = load(device, &file, NULL, &engine);
  int calls_after = fake.set_dynamic_calls;
  int32_t default_limit =
      engine ? engine->kernels[0].max_dynamic_shared_bytes : 0;
  kiln_engine_release(engine);
  kiln_device_release(device);
  kiln__writer_deinit(&file);
  ASSERT_OK(status);
  ASSERT_EQ_I64(calls, 1);
  ASSERT_EQ_I64(value, 232448 - 1024);
  ASSERT_EQ_I64(limit, 232448 - 1024);
  ASSERT_EQ_I64(calls_after, 1);
  ASSERT_EQ_I64(default_limit, 49152 - 1024);
}

TEST(runtime_engine_io_info) {
  kiln_test_engine_spec_t spec = kiln_test_engine_spec_default();
  kiln__writer_t file;
  BUILD(spec, file);
  kiln_device_t* device = NULL;
  kiln_engine_t* engine = NULL;
  kiln_status_t status = fake_device(90, &device);
  if (!status) status = load(device, &file, NULL, &engine);
  kiln__writer_deinit(&file);
  kiln_io_info_t x, y, z;
  memset(&x, 0, sizeof(x));
  memset(&y, 0, sizeof(y));
  uint32_t count = kiln_engine_io_count(engine);
  if (!status) status = kiln_engine_io_info(engine, 0, &x);
  if (!status) status = kiln_engine_io_info(engine, 1, &y);
  kiln_status_t bad = status ? NULL : kiln_engine_io_info(engine, 2, &z);
  // Names are borrowed from the engine.
  char x_name[8] = "", y_name[8] = "";
  if (x.name) snprintf(x_name, sizeof(x_name), "%s", x.name);
  if (y.name) snprintf(y_name, sizeof(y_name), "%s", y.name);
  kiln_engine_release(engine);
  kiln_device_release(device);
  ASSERT_OK(status);
  ASSERT_STATUS(bad, KILN_STATUS_OUT_OF_RANGE, "the engine has 2 inputs");
  ASSERT_EQ_U64(count, 2);
  ASSERT_EQ_STR(x_name, "x");
  ASSERT_TRUE(x.is_input);
  ASSERT_EQ_I64(x.dtype, KILN_DTYPE_FLOAT32);
  ASSERT_EQ_I64(x.rank, 1);
  ASSERT_EQ_I64(x.dims[0], -1);
  ASSERT_EQ_STR(y_name, "y");
  ASSERT_FALSE(y.is_input);
  ASSERT_EQ_I64(y.dims[0], -1);
  ASSERT_EQ_U64(kiln_engine_io_count(NULL), 0);
}

//===----------------------------------------------------------------------===//
// Contexts
//===----------------------------------------------------------------------===//

// A device, engine and context for |spec| on a fake device of |sm_arch|.
typedef struct rig_t {
  kiln_device_t* device;
  kiln_engine_t* engine;
  kiln_context_t* context;
  uint64_t x, y;  // fake device memory for the bindings
} rig_t;

// Graph functions in the fake driver for the next rig_open: 0 none, 1 the
// required ones, 2 also the node queries. rig_open resets it to 0.
static int rig_graphs;

static kiln_status_t rig_open(const kiln_test_engine_spec_t* spec,
                              uint32_t sm_arch,
                              const kiln_engine_load_options_t* options,
                              rig_t* rig) {
  memset(rig, 0, sizeof(*rig));
  int graphs = rig_graphs;
  rig_graphs = 0;
  kiln__writer_t file;
  kiln__writer_init(&file, kiln_allocator_system());
  kiln_status_t status = kiln_test_build_engine(spec, &file);
  if (!status) status = fake_device(sm_arch, &rig->device);
  if (!status && graphs) fake_enable_graphs(graphs == 2);
  if (!status) status = load(rig->device, &file, options, &rig->engine);
  kiln__writer_deinit(&file);
  if (!status) {
    status = kiln_context_create(rig->engine, kiln_allocator_system(),
                                 &rig->context);
  }
  if (!status) status = kiln_device_malloc(rig->device, 1 << 16, &rig->x);
  if (!status) status = kiln_device_malloc(rig->device, 1 << 16, &rig->y);
  return status;
}

static void rig_close(rig_t* rig) {
  if (rig->device && !kiln__device_is_lost(rig->device)) {
    kiln_status_free(kiln_device_free(rig->device, rig->x));
    kiln_status_free(kiln_device_free(rig->device, rig->y));
  }
  kiln_context_destroy(rig->context);
  kiln_engine_release(rig->engine);
  kiln_device_release(rig->device);
  memset(rig, 0, sizeof(*rig));
}

// Sets x's shape to [n] and binds x and y.
static kiln_status_t rig_bind(rig_t* rig, int64_t n) {
  kiln_status_t status = kiln_context_set_input_shape(rig->context, "x", 1, &n);
  if (!status) {
    status = kiln_context_set_tensor_address(rig->context, "x", rig->x);
  }
  if (!status) {
    status = kiln_context_set_tensor_address(rig->context, "y", rig->y);
  }
  return status;
}

#define RIG_OPEN(spec, sm_arch, options, rig)                              \
  do {                                                                     \
    kiln_status_t open_ = rig_open(&(spec), (sm_arch), (options), &(rig)); \
    if (open_) rig_close(&(rig));                                          \
    ASSERT_OK(open_);                                                      \
  } while (0)

TEST(runtime_set_input_shape_out_of_profile) {
  kiln_test_engine_spec_t spec = kiln_test_engine_spec_default();
  rig_t rig;
  RIG_OPEN(spec, 90, NULL, rig);
  int64_t big = spec.max_n + 1, zero = 0, ok = 4096;
  kiln_status_t s_big = kiln_context_set_input_shape(rig.context, "x", 1, &big);
  kiln_status_t s_zero =
      kiln_context_set_input_shape(rig.context, "x", 1, &zero);
  kiln_status_t s_rank = kiln_context_set_input_shape(rig.context, "x", 2, &ok);
  kiln_status_t s_name =
      kiln_context_set_input_shape(rig.context, "nope", 1, &ok);
  kiln_status_t s_output =
      kiln_context_set_input_shape(rig.context, "y", 1, &ok);
  kiln_status_t s_profile = kiln_context_set_profile(rig.context, 1);
  kiln_status_t s_ok = kiln_context_set_input_shape(rig.context, "x", 1, &ok);
  rig_close(&rig);
  ASSERT_STATUS(s_big, KILN_STATUS_OUT_OF_RANGE,
                "input 'x' dimension 0 is 2097153, outside the range [1, "
                "2097152] of profile 0");
  ASSERT_STATUS(s_zero, KILN_STATUS_OUT_OF_RANGE,
                "input 'x' dimension 0 is 0, outside the range [1, 2097152]");
  ASSERT_STATUS(s_rank, KILN_STATUS_INVALID_ARGUMENT,
                "input 'x' has rank 1, given 2");
  ASSERT_STATUS(s_name, KILN_STATUS_NOT_FOUND,
                "the engine has no input named 'nope'; its inputs are: x");
  ASSERT_STATUS(s_output, KILN_STATUS_INVALID_ARGUMENT, "'y' is an output");
  ASSERT_STATUS(s_profile, KILN_STATUS_OUT_OF_RANGE,
                "profile 1 is out of range: the engine has 1 profile");
  ASSERT_OK(s_ok);
}

TEST(runtime_static_input_shapes) {
  kiln_test_engine_spec_t spec = kiln_test_engine_spec_default();
  spec.static_n = 1000;
  rig_t rig;
  RIG_OPEN(spec, 90, NULL, rig);
  int64_t wrong = 999, right = 1000;
  int32_t rank = 0;
  int64_t dims[KILN_MAX_RANK];
  // Static inputs have their shape already.
  kiln_status_t s_get = kiln_context_get_shape(rig.context, "y", &rank, dims);
  kiln_status_t s_wrong =
      kiln_context_set_input_shape(rig.context, "x", 1, &wrong);
  kiln_status_t s_right =
      kiln_context_set_input_shape(rig.context, "x", 1, &right);
  rig_close(&rig);
  ASSERT_OK(s_get);
  ASSERT_EQ_I64(rank, 1);
  ASSERT_EQ_I64(dims[0], 1000);
  ASSERT_STATUS(s_wrong, KILN_STATUS_OUT_OF_RANGE,
                "input 'x' dimension 0 is 999, but the engine was built for "
                "exactly 1000");
  ASSERT_OK(s_right);
}

TEST(runtime_get_shape_and_profiles) {
  kiln_test_engine_spec_t spec = kiln_test_engine_spec_default();
  spec.profile_count = 2;
  rig_t rig;
  RIG_OPEN(spec, 90, NULL, rig);
  int32_t rank = 0;
  int64_t dims[KILN_MAX_RANK];
  int64_t n = 300, small = 4;
  kiln_status_t s_unset = kiln_context_get_shape(rig.context, "y", &rank, dims);
  kiln_status_t s_set = kiln_context_set_input_shape(rig.context, "x", 1, &n);
  kiln_status_t s_y = kiln_context_get_shape(rig.context, "y", &rank, dims);
  int64_t y0 = dims[0];
  kiln_status_t s_x = kiln_context_get_shape(rig.context, "x", &rank, dims);
  int64_t x0 = dims[0];
  kiln_status_t s_bad = kiln_context_get_shape(rig.context, "z", &rank, dims);
  // Profile 1 allows [8, 64]: selecting it forgets the shape.
  kiln_status_t s_profile = kiln_context_set_profile(rig.context, 1);
  kiln_status_t s_forgot =
      kiln_context_get_shape(rig.context, "x", &rank, dims);
  kiln_status_t s_small =
      kiln_context_set_input_shape(rig.context, "x", 1, &small);
  rig_close(&rig);
  ASSERT_STATUS(s_unset, KILN_STATUS_FAILED_PRECONDITION,
                "input 'x' has no shape");
  ASSERT_OK(s_set);
  ASSERT_OK(s_y);
  ASSERT_OK(s_x);
  ASSERT_EQ_I64(y0, 300);
  ASSERT_EQ_I64(x0, 300);
  ASSERT_STATUS(s_bad, KILN_STATUS_NOT_FOUND,
                "no input or output named 'z'; its bindings are: x, y");
  ASSERT_OK(s_profile);
  ASSERT_STATUS(s_forgot, KILN_STATUS_FAILED_PRECONDITION, "no shape");
  ASSERT_STATUS(s_small, KILN_STATUS_OUT_OF_RANGE,
                "outside the range [8, 64] of profile 1");
}

TEST(runtime_enqueue_names_what_is_missing) {
  kiln_test_engine_spec_t spec = kiln_test_engine_spec_default();
  rig_t rig;
  RIG_OPEN(spec, 90, NULL, rig);
  int64_t n = 1000;
  kiln_status_t s_shape = kiln_context_enqueue(rig.context, NULL);
  kiln_status_t s_set = kiln_context_set_input_shape(rig.context, "x", 1, &n);
  kiln_status_t s_both = kiln_context_enqueue(rig.context, NULL);
  kiln_status_t s_bind =
      kiln_context_set_tensor_address(rig.context, "x", rig.x);
  kiln_status_t s_y = kiln_context_enqueue(rig.context, NULL);
  kiln_status_t s_unknown =
      kiln_context_set_tensor_address(rig.context, "w", rig.y);
  int launches = fake.launches;
  rig_close(&rig);
  ASSERT_STATUS(s_shape, KILN_STATUS_FAILED_PRECONDITION,
                "input 'x' has no shape (call kiln_context_set_input_shape)");
  ASSERT_OK(s_set);
  ASSERT_STATUS(s_both, KILN_STATUS_FAILED_PRECONDITION,
                "'x', 'y' have no device address");
  ASSERT_OK(s_bind);
  ASSERT_STATUS(s_y, KILN_STATUS_FAILED_PRECONDITION,
                "'y' has no device address");
  ASSERT_STATUS(s_unknown, KILN_STATUS_NOT_FOUND,
                "no input or output named 'w'; its bindings are: x, y");
  ASSERT_EQ_I64(launches, 0);
}

TEST(runtime_set_tensor_addresses_binds_in_one_call) {
  kiln_test_engine_spec_t spec = kiln_test_engine_spec_default();
  rig_t rig;
  RIG_OPEN(spec, 90, NULL, rig);
  static const uint8_t sizes[] = {8, 4, 8};
  fake_record_params(sizes, 3);
  int64_t n = 1000;
  const uint64_t both[2] = {rig.x, rig.y};
  const uint64_t swapped[2] = {rig.y, rig.x};
  kiln_status_t s_null = kiln_context_set_tensor_addresses(NULL, 2, both);
  kiln_status_t s_no_array =
      kiln_context_set_tensor_addresses(rig.context, 2, NULL);
  kiln_status_t s_too_many =
      kiln_context_set_tensor_addresses(rig.context, 3, both);
  kiln_status_t s_none =
      kiln_context_set_tensor_addresses(rig.context, 0, NULL);
  kiln_status_t s_shape = kiln_context_set_input_shape(rig.context, "x", 1, &n);
  // The failures above bound nothing; binding 0 alone leaves 'y' unbound.
  kiln_status_t s_first =
      kiln_context_set_tensor_addresses(rig.context, 1, both);
  kiln_status_t s_missing = kiln_context_enqueue(rig.context, NULL);
  kiln_status_t s_both =
      kiln_context_set_tensor_addresses(rig.context, 2, both);
  kiln_status_t s_run = kiln_context_enqueue(rig.context, NULL);
  fake_launch_t first = fake.history[0];
  kiln_status_t s_swap =
      kiln_context_set_tensor_addresses(rig.context, 2, swapped);
  kiln_status_t s_run2 = kiln_context_enqueue(rig.context, NULL);
  fake_launch_t second = fake.history[1];
  int launches = fake.launches;
  uint64_t x = rig.x, y = rig.y;
  rig_close(&rig);
  ASSERT_STATUS(s_null, KILN_STATUS_INVALID_ARGUMENT, "NULL context");
  ASSERT_STATUS(s_no_array, KILN_STATUS_INVALID_ARGUMENT, "or addresses");
  ASSERT_STATUS(s_too_many, KILN_STATUS_OUT_OF_RANGE,
                "3 addresses for an engine with 2 bindings");
  ASSERT_OK(s_none);
  ASSERT_OK(s_shape);
  ASSERT_OK(s_first);
  ASSERT_STATUS(s_missing, KILN_STATUS_FAILED_PRECONDITION,
                "'y' has no device address");
  ASSERT_OK(s_both);
  ASSERT_OK(s_run);
  ASSERT_OK(s_swap);
  ASSERT_OK(s_run2);
  ASSERT_EQ_I64(launches, 2);
  ASSERT_EQ_U64(first.values[0], x);
  ASSERT_EQ_U64(first.values[1], 1000);
  ASSERT_EQ_U64(first.values[2], y);
  ASSERT_EQ_U64(second.values[0], y);
  ASSERT_EQ_U64(second.values[2], x);
}

TEST(runtime_enqueue_launches_evaluated_recipe) {
  kiln_test_engine_spec_t spec = kiln_test_engine_spec_default();
  rig_t rig;
  RIG_OPEN(spec, 90, NULL, rig);
  static const uint8_t sizes[] = {8, 4, 8};
  fake_record_params(sizes, 3);
  void* stream = (void*)(uintptr_t)0x1234;
  kiln_status_t status = rig_bind(&rig, 1000);
  if (!status) status = kiln_context_enqueue(rig.context, stream);
  fake_launch_t launch = fake.history[0];
  int launches = fake.launches;
  uint64_t x = rig.x, y = rig.y;
  rig_close(&rig);
  ASSERT_OK(status);
  ASSERT_EQ_I64(launches, 1);
  ASSERT_EQ_U64(launch.grid[0], 4);  // cdiv(1000, 256)
  ASSERT_EQ_U64(launch.grid[1], 1);
  ASSERT_EQ_U64(launch.grid[2], 1);
  ASSERT_EQ_U64(launch.block[0], 256);
  ASSERT_EQ_U64(launch.block[1], 1);
  ASSERT_EQ_U64(launch.shared, 0);
  ASSERT_EQ_PTR(launch.stream, stream);
  ASSERT_EQ_U64(launch.values[0], x);
  ASSERT_EQ_U64(launch.values[1], 1000);
  ASSERT_EQ_U64(launch.values[2], y);
}

TEST(runtime_param_buffer_layout) {
  kiln_test_engine_spec_t spec = kiln_test_engine_spec_default();
  // [in][i32 arg][i64 arg][f32 arg][out][zero][global scratch][profile]
  spec.param_count = 0;
  kiln_test_spec_param(&spec, KILN__PARAM_INPUT, 8, 0);
  kiln_test_spec_param(&spec, KILN__PARAM_ARG, 4, 0);
  kiln_test_spec_param(&spec, KILN__PARAM_ARG, 8, 1);
  kiln_test_spec_param(&spec, KILN__PARAM_ARG, 4, 2);
  kiln_test_spec_param(&spec, KILN__PARAM_OUTPUT, 8, 0);
  kiln_test_spec_param(&spec, KILN__PARAM_ZERO, 4, 0);
  kiln_test_spec_param(&spec, KILN__PARAM_GLOBAL_SCRATCH, 8, 0);
  kiln_test_spec_param(&spec, KILN__PARAM_PROFILE_SCRATCH, 8, 0);
  spec.arg_count = 3;
  spec.arg_types[0] = KILN_ARG_TYPE_INT32;  // n - 7
  spec.arg_types[1] = KILN_ARG_TYPE_INT64;  // n * 2^33
  spec.arg_types[2] = KILN_ARG_TYPE_FLOAT32;
  spec.f32 = -2.5f;
  spec.arg_offset = -7;
  spec.global_scratch_size = 128;
  spec.global_scratch_align = 64;
  spec.num_ctas = 2;
  rig_t rig;
  RIG_OPEN(spec, 90, NULL, rig);
  static const uint8_t sizes[] = {8, 4, 8, 4, 8, 4, 8, 8};
  fake_record_params(sizes, 8);
  kiln_status_t status = rig_bind(&rig, 1000);
  // Poison the zero parameter's storage: a prepare must not write it.
  if (!status) status = kiln_context_enqueue(rig.context, NULL);
  fake_launch_t launch = fake.history[0];
  size_t bytes = 0;
  const uint8_t* storage = kiln__context_layer_params(rig.context, 0, &bytes);
  uint8_t copy[64];
  memset(copy, 0xee, sizeof(copy));
  if (storage && bytes <= sizeof(copy)) memcpy(copy, storage, bytes);
  uint64_t x = rig.x, y = rig.y, scratch = rig.context->scratch;
  uint64_t capacity = rig.context->scratch_capacity;
  rig_close(&rig);
  ASSERT_OK(status);
  ASSERT_EQ_U64(bytes, 64);
  float f = -2.5f;
  uint32_t f_bits;
  memcpy(&f_bits, &f, 4);
  // What the kernel receives.
  ASSERT_EQ_U64(launch.values[0], x);
  ASSERT_EQ_U64(launch.values[1], 1000 - 7);
  ASSERT_EQ_U64(launch.values[2], (uint64_t)1000 << 33);
  ASSERT_EQ_U64(launch.values[3], f_bits);
  ASSERT_EQ_U64(launch.values[4], y);
  ASSERT_EQ_U64(launch.values[5], 0);
  uint64_t global = launch.values[6];
  ASSERT_TRUE(global != 0);
  ASSERT_EQ_U64(global % 64, 0);
  // grid 4 * num_ctas 2 * 128 bytes.
  ASSERT_TRUE(global >= scratch && global + 4 * 2 * 128 <= scratch + capacity);
  ASSERT_EQ_U64(launch.values[7], 0);  // no profile scratch: null
  // The buffer itself, byte for byte.
  uint8_t expect[64];
  memset(expect, 0, sizeof(expect));
  int32_t i32 = 1000 - 7;
  int64_t i64 = (int64_t)1000 << 33;
  memcpy(expect + 0, &x, 8);
  memcpy(expect + 8, &i32, 4);
  memcpy(expect + 16, &i64, 8);
  memcpy(expect + 24, &f, 4);
  memcpy(expect + 32, &y, 8);
  memcpy(expect + 48, &global, 8);
  for (size_t i = 0; i < 64; ++i) {
    if (copy[i] != expect[i]) {
      FAIL("parameter byte %zu is 0x%02x, expected 0x%02x", i, copy[i],
           expect[i]);
    }
  }
}

TEST(runtime_triton_scratch_both_regions) {
  kiln_test_engine_spec_t spec = kiln_test_engine_spec_default();
  spec.param_count = 0;
  kiln_test_spec_param(&spec, KILN__PARAM_INPUT, 8, 0);
  kiln_test_spec_param(&spec, KILN__PARAM_ARG, 4, 0);
  kiln_test_spec_param(&spec, KILN__PARAM_OUTPUT, 8, 0);
  kiln_test_spec_param(&spec, KILN__PARAM_GLOBAL_SCRATCH, 8, 0);
  kiln_test_spec_param(&spec, KILN__PARAM_PROFILE_SCRATCH, 8, 0);
  spec.global_scratch_size = 100;
  spec.global_scratch_align = 16;
  spec.profile_scratch_size = 40;
  spec.profile_scratch_align = 512;
  rig_t rig;
  RIG_OPEN(spec, 90, NULL, rig);
  static const uint8_t sizes[] = {8, 4, 8, 8, 8};
  fake_record_params(sizes, 5);
  kiln_status_t status = rig_bind(&rig, 1000);
  if (!status) status = kiln_context_enqueue(rig.context, NULL);
  fake_launch_t first = fake.history[0];
  uint64_t scratch = rig.context->scratch;
  uint64_t capacity = rig.context->scratch_capacity;
  int allocations = fake.mem_live;
  // A larger grid within the capacity reuses the buffer.
  if (!status) status = rig_bind(&rig, 2000);
  if (!status) status = kiln_context_enqueue(rig.context, NULL);
  uint64_t scratch_after = rig.context->scratch;
  rig_close(&rig);
  ASSERT_OK(status);
  uint64_t global = first.values[3], profile = first.values[4];
  ASSERT_EQ_U64(global % 16, 0);
  ASSERT_EQ_U64(profile % 512, 0);
  ASSERT_TRUE(global >= scratch);
  ASSERT_TRUE(profile >= global + 4 * 100);
  ASSERT_TRUE(profile + 4 * 40 <= scratch + capacity);
  ASSERT_EQ_U64(scratch_after, scratch);
  // x, y, the scratch buffer and nothing else (no activation arena).
  ASSERT_EQ_I64(allocations, 3);
}

TEST(runtime_launch_limits_checked_before_launch) {
  static const struct {
    const char* what;
    int64_t block_x, grid_y, grid_scale, shared;
    int func_max_threads;
    bool int32_overflow;
    const char* needle;
  } cases[] = {
      {"grid y", 256, 65536, 1, 0, 1024, false,
       "layer 0 'add_layer' (plugin 'test::add'): grid y is 65536; the "
       "device allows at most 65535"},
      {"grid x", 1, 1, 1 << 22, 0, 1024, false,
       "grid x is 4194304000; the device allows at most 2147483647"},
      {"block", 512, 1, 1, 0, 256, false,
       "block (512, 1, 1) has 512 threads; kernel 'add_one' allows at most "
       "256 per block on this device"},
      {"block dim", 2048, 1, 1, 0, 1024, false,
       "block x is 2048; the device allows 1..1024"},
      {"shared", 256, 1, 1, 300000, 1024, false,
       "300000 bytes of dynamic shared memory; kernel 'add_one' may use "
       "0..232448"},
      {"int32", 256, 1, 1, 0, 1024, true,
       "argument 0 is 2147484648000, which does not fit its int32 "
       "parameter"},
  };
  for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); ++c) {
    kiln_test_engine_spec_t spec = kiln_test_engine_spec_default();
    spec.block_x = cases[c].block_x;
    spec.grid_y = cases[c].grid_y;
    spec.grid_scale = cases[c].grid_scale;
    spec.shared = cases[c].shared;
    spec.int32_overflow = cases[c].int32_overflow;
    rig_t rig;
    kiln__writer_t file;
    kiln__writer_init(&file, kiln_allocator_system());
    kiln_status_t status = kiln_test_build_engine(&spec, &file);
    kiln__writer_deinit(&file);
    if (status) {
      kiln_test_fail(t_, __FILE__, __LINE__, "case %s: %s", cases[c].what,
                     kiln_status_message(status));
      kiln_status_free(status);
      return;
    }
    status = rig_open(&spec, 90, NULL, &rig);
    fake.func_max_threads = cases[c].func_max_threads;
    // The function limit is read at load: reload with the new one.
    kiln_context_destroy(rig.context);
    rig.context = NULL;
    kiln_engine_release(rig.engine);
    rig.engine = NULL;
    kiln__writer_init(&file, kiln_allocator_system());
    if (!status) status = kiln_test_build_engine(&spec, &file);
    if (!status) status = load(rig.device, &file, NULL, &rig.engine);
    kiln__writer_deinit(&file);
    if (!status) {
      status = kiln_context_create(rig.engine, kiln_allocator_system(),
                                   &rig.context);
    }
    if (!status) status = rig_bind(&rig, 1000);
    kiln_status_t enqueue =
        status ? NULL : kiln_context_enqueue(rig.context, NULL);
    int launches = fake.launches;
    rig_close(&rig);
    ASSERT_OK(status);
    if (kiln_status_code(enqueue) != KILN_STATUS_OUT_OF_RANGE ||
        !strstr(kiln_status_message(enqueue), cases[c].needle)) {
      kiln_test_fail(t_, __FILE__, __LINE__,
                     "case %s: expected OUT_OF_RANGE with \"%s\", got %s: %s",
                     cases[c].what, cases[c].needle,
                     kiln_status_code_name(kiln_status_code(enqueue)),
                     kiln_status_message(enqueue));
      kiln_status_free(enqueue);
      return;
    }
    kiln_status_free(enqueue);
    ASSERT_EQ_I64(launches, 0);
  }
}

TEST(runtime_empty_grid_skips_the_launch) {
  kiln_test_engine_spec_t spec = kiln_test_engine_spec_default();
  spec.min_n = 0;
  rig_t rig;
  RIG_OPEN(spec, 90, NULL, rig);
  kiln_status_t status = rig_bind(&rig, 0);
  if (!status) status = kiln_context_enqueue(rig.context, NULL);
  int empty_launches = fake.launches;
  if (!status) status = rig_bind(&rig, 1);
  if (!status) status = kiln_context_enqueue(rig.context, NULL);
  int launches = fake.launches;
  rig_close(&rig);
  ASSERT_OK(status);
  ASSERT_EQ_I64(empty_launches, 0);
  ASSERT_EQ_I64(launches, 1);
}

TEST(runtime_evaluates_once_per_shape_change) {
  kiln_test_engine_spec_t spec = kiln_test_engine_spec_default();
  rig_t rig;
  RIG_OPEN(spec, 90, NULL, rig);
  static const uint8_t sizes[] = {8, 4, 8};
  fake_record_params(sizes, 3);
  uint64_t counts[6];
  kiln_status_t status = rig_bind(&rig, 1000);
  for (int i = 0; !status && i < 3; ++i) {
    status = kiln_context_enqueue(rig.context, NULL);
  }
  counts[0] = kiln__context_evaluation_count(rig.context);
  // The same shape again changes nothing.
  if (!status) status = rig_bind(&rig, 1000);
  if (!status) status = kiln_context_enqueue(rig.context, NULL);
  counts[1] = kiln__context_evaluation_count(rig.context);
  // A new address patches pointers without evaluating.
  if (!status) {
    status = kiln_context_set_tensor_address(rig.context, "y", rig.x);
  }
  if (!status) status = kiln_context_enqueue(rig.context, NULL);
  counts[2] = kiln__context_evaluation_count(rig.context);
  uint64_t out_after_rebind = fake.history[(fake.launches - 1) % 8].values[2];
  // A new shape evaluates once more, however many enqueues follow.
  int64_t n = 5000;
  if (!status) status = kiln_context_set_input_shape(rig.context, "x", 1, &n);
  counts[3] = kiln__context_evaluation_count(rig.context);
  for (int i = 0; !status && i < 4; ++i) {
    status = kiln_context_enqueue(rig.context, NULL);
  }
  counts[4] = kiln__context_evaluation_count(rig.context);
  uint64_t n_arg = fake.history[(fake.launches - 1) % 8].values[1];
  int launches = fake.launches;
  uint64_t x = rig.x;
  rig_close(&rig);
  ASSERT_OK(status);
  ASSERT_EQ_U64(counts[0], 1);
  ASSERT_EQ_U64(counts[1], 1);
  ASSERT_EQ_U64(counts[2], 1);
  ASSERT_EQ_U64(counts[3], 1);
  ASSERT_EQ_U64(counts[4], 2);
  ASSERT_EQ_U64(out_after_rebind, x);
  ASSERT_EQ_U64(n_arg, 5000);
  ASSERT_EQ_I64(launches, 9);
}

TEST(runtime_sticky_error_loses_the_device) {
  kiln_test_engine_spec_t spec = kiln_test_engine_spec_default();
  rig_t rig;
  RIG_OPEN(spec, 90, NULL, rig);
  kiln_status_t status = rig_bind(&rig, 1000);
  if (!status) status = kiln_context_enqueue(rig.context, NULL);
  fake.launch_result = KILN_CUDA_ERROR_ILLEGAL_ADDRESS;
  kiln_status_t first = kiln_context_enqueue(rig.context, NULL);
  fake.launch_result = KILN_CUDA_SUCCESS;
  kiln_status_t again = kiln_context_enqueue(rig.context, NULL);
  int launches = fake.launches;
  uint64_t address = 0;
  kiln_status_t s_malloc = kiln_device_malloc(rig.device, 16, &address);
  int64_t n = 10;
  kiln_status_t s_shape = kiln_context_set_input_shape(rig.context, "x", 1, &n);
  kiln_context_t* second = NULL;
  kiln_status_t s_context =
      kiln_context_create(rig.engine, kiln_allocator_system(), &second);
  kiln__writer_t file;
  kiln__writer_init(&file, kiln_allocator_system());
  kiln_engine_t* engine = NULL;
  kiln_status_t s_load = kiln_test_build_engine(&spec, &file);
  if (!s_load) s_load = load(rig.device, &file, NULL, &engine);
  kiln__writer_deinit(&file);
  // Freeing is possible only on a live device: free the fake memory here.
  fake_mem_free(rig.x);
  fake_mem_free(rig.y);
  rig_close(&rig);
  int mem_live = fake.mem_live;
  ASSERT_OK(status);
  ASSERT_STATUS(first, KILN_STATUS_DEVICE_LOST,
                "cuLaunchKernel failed: CUDA_ERROR_ILLEGAL_ADDRESS");
  ASSERT_STATUS(again, KILN_STATUS_DEVICE_LOST,
                "device 0 (Fake GPU sm_90) is lost: the GPU reported "
                "CUDA_ERROR_ILLEGAL_ADDRESS earlier; the process must "
                "restart to use it again");
  ASSERT_EQ_I64(launches, 1);
  ASSERT_STATUS(s_malloc, KILN_STATUS_DEVICE_LOST, "ILLEGAL_ADDRESS earlier");
  ASSERT_STATUS(s_shape, KILN_STATUS_DEVICE_LOST, "ILLEGAL_ADDRESS earlier");
  ASSERT_STATUS(s_context, KILN_STATUS_DEVICE_LOST, "ILLEGAL_ADDRESS earlier");
  ASSERT_STATUS(s_load, KILN_STATUS_DEVICE_LOST, "ILLEGAL_ADDRESS earlier");
  ASSERT_EQ_I64(mem_live, 0);
}

TEST(runtime_non_sticky_launch_error_keeps_the_device) {
  kiln_test_engine_spec_t spec = kiln_test_engine_spec_default();
  rig_t rig;
  RIG_OPEN(spec, 90, NULL, rig);
  kiln_status_t status = rig_bind(&rig, 1000);
  fake.launch_result = KILN_CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES;
  kiln_status_t failed =
      status ? NULL : kiln_context_enqueue(rig.context, NULL);
  fake.launch_result = KILN_CUDA_SUCCESS;
  if (!status) status = kiln_context_enqueue(rig.context, NULL);
  bool lost = kiln__device_is_lost(rig.device);
  rig_close(&rig);
  ASSERT_OK(status);
  ASSERT_STATUS(failed, KILN_STATUS_RESOURCE_EXHAUSTED,
                "layer 0 'add_layer' (plugin 'test::add'): launching grid (4, "
                "1, 1), block (256, 1, 1)");
  ASSERT_FALSE(lost);
}

TEST(runtime_activation_arena_constants_and_alias) {
  kiln_test_engine_spec_t spec = kiln_test_engine_spec_default();
  spec.two_layers = true;
  spec.with_constant = true;
  spec.param_count = 0;
  kiln_test_spec_param(&spec, KILN__PARAM_INPUT, 8, 0);
  kiln_test_spec_param(&spec, KILN__PARAM_INPUT, 8, 1);
  kiln_test_spec_param(&spec, KILN__PARAM_ARG, 4, 0);
  kiln_test_spec_param(&spec, KILN__PARAM_OUTPUT, 8, 0);
  rig_t rig;
  RIG_OPEN(spec, 90, NULL, rig);
  static const uint8_t sizes[] = {8, 8, 4, 8};
  fake_record_params(sizes, 4);
  kiln_status_t status = rig_bind(&rig, 1000);
  if (!status) status = kiln_context_enqueue(rig.context, NULL);
  fake_launch_t first = fake.history[0], second = fake.history[1];
  uint64_t activations = rig.context->activations;
  uint64_t constants = rig.engine->constant_memory;
  float constant[4] = {0};
  if (constants) memcpy(constant, (const void*)(uintptr_t)constants, 16);
  uint64_t x = rig.x, y = rig.y;
  rig_close(&rig);
  ASSERT_OK(status);
  ASSERT_TRUE(activations != 0);
  ASSERT_TRUE(constants != 0);
  ASSERT_EQ_U64(first.values[0], x);
  ASSERT_EQ_U64(first.values[1], constants);
  ASSERT_EQ_U64(first.values[3], activations);  // t in the arena
  ASSERT_EQ_U64(second.values[0], activations);
  ASSERT_EQ_U64(second.values[1], constants);
  ASSERT_EQ_U64(second.values[3], y);
  ASSERT_TRUE(constant[0] == 1.0f && constant[3] == 4.0f);
  ASSERT_EQ_I64(fake.mem_live, 0);

  // An output aliasing its input needs no address and shares it.
  spec = kiln_test_engine_spec_default();
  spec.alias_output = true;
  RIG_OPEN(spec, 90, NULL, rig);
  static const uint8_t default_sizes[] = {8, 4, 8};
  fake_record_params(default_sizes, 3);
  int64_t n = 1000;
  status = kiln_context_set_input_shape(rig.context, "x", 1, &n);
  if (!status) {
    status = kiln_context_set_tensor_address(rig.context, "x", rig.x);
  }
  if (!status) status = kiln_context_enqueue(rig.context, NULL);
  fake_launch_t aliased = fake.history[0];
  kiln_status_t mismatch = NULL;
  if (!status) {
    status = kiln_context_set_tensor_address(rig.context, "y", rig.y);
  }
  if (!status) mismatch = kiln_context_enqueue(rig.context, NULL);
  x = rig.x;
  rig_close(&rig);
  ASSERT_OK(status);
  ASSERT_EQ_U64(aliased.values[0], x);
  ASSERT_EQ_U64(aliased.values[2], x);
  ASSERT_STATUS(mismatch, KILN_STATUS_INVALID_ARGUMENT,
                "output 'y' aliases input 'x'");
}

TEST(runtime_time_enqueue_with_events) {
  kiln_test_engine_spec_t spec = kiln_test_engine_spec_default();
  rig_t rig;
  RIG_OPEN(spec, 90, NULL, rig);
  double median = 0, min = 0;
  kiln_status_t status = rig_bind(&rig, 1000);
  if (!status) {
    status = kiln_device_time_enqueue(rig.context, NULL, 2, 5, &median, &min);
  }
  int launches = fake.launches, events = fake.events_live;
  double unused_median = 0, unused_min = 0;
  kiln_status_t bad = kiln_device_time_enqueue(rig.context, NULL, 0, 0,
                                               &unused_median, &unused_min);
  rig_close(&rig);
  ASSERT_OK(status);
  ASSERT_STATUS(bad, KILN_STATUS_INVALID_ARGUMENT, "0 iterations");
  ASSERT_EQ_I64(launches, 7);
  ASSERT_EQ_I64(events, 0);
  // Iteration i starts after 2 + i launches: (1 + (2 + i) / 1000) ms.
  ASSERT_TRUE(fabs(min - 1002.0) < 0.01);
  ASSERT_TRUE(fabs(median - 1004.0) < 0.01);
}

typedef struct fake_thread_job_t {
  kiln_engine_t* engine;
  uint64_t x, y;
  int rounds;
  uint64_t evaluations;
  kiln_status_t status;
} fake_thread_job_t;

static void* fake_thread_main(void* arg) {
  fake_thread_job_t* job = (fake_thread_job_t*)arg;
  kiln_context_t* context = NULL;
  kiln_status_t status =
      kiln_context_create(job->engine, kiln_allocator_system(), &context);
  if (!status) status = kiln_context_set_tensor_address(context, "x", job->x);
  if (!status) status = kiln_context_set_tensor_address(context, "y", job->y);
  for (int r = 0; !status && r < job->rounds; ++r) {
    int64_t n = 1 + r;
    status = kiln_context_set_input_shape(context, "x", 1, &n);
    if (!status) status = kiln_context_enqueue(context, NULL);
    if (!status) status = kiln_context_enqueue(context, NULL);
  }
  job->evaluations = kiln__context_evaluation_count(context);
  kiln_context_destroy(context);
  job->status = status;
  return NULL;
}

// Contexts on several threads share one engine; each evaluates on its own
// shape changes (the engine serializes the expression table). Run under
// TSan to check the locking.
TEST(runtime_threads_share_an_engine) {
  kiln_test_engine_spec_t spec = kiln_test_engine_spec_default();
  rig_t rig;
  RIG_OPEN(spec, 90, NULL, rig);
  fake.quiet = true;
  enum { kThreads = 4, kRounds = 200 };
  fake_thread_job_t jobs[kThreads];
  pthread_t threads[kThreads];
  bool started[kThreads];
  for (int i = 0; i < kThreads; ++i) {
    memset(&jobs[i], 0, sizeof(jobs[i]));
    jobs[i].engine = rig.engine;
    jobs[i].x = rig.x;
    jobs[i].y = rig.y;
    jobs[i].rounds = kRounds;
    started[i] =
        pthread_create(&threads[i], NULL, fake_thread_main, &jobs[i]) == 0;
  }
  kiln_status_t status = NULL;
  for (int i = 0; i < kThreads; ++i) {
    if (started[i]) {
      pthread_join(threads[i], NULL);
      status = kiln_status_join(status, jobs[i].status);
    } else {
      status = kiln_status_join(
          status, kiln_make_status(KILN_STATUS_INTERNAL, "no thread %d", i));
    }
  }
  int launches = __atomic_load_n(&fake.launches, __ATOMIC_RELAXED);
  fake.quiet = false;
  rig_close(&rig);
  ASSERT_OK(status);
  ASSERT_EQ_I64(launches, kThreads * kRounds * 2);
  for (int i = 0; i < kThreads; ++i) {
    ASSERT_EQ_U64(jobs[i].evaluations, kRounds);
  }
}

//===----------------------------------------------------------------------===//
// Host layers and attributes
//===----------------------------------------------------------------------===//

static struct {
  int calls;
  kiln_device_tensor_t input;
  kiln_device_tensor_t output;
  int64_t scale;
  bool saw_hidden;
  void* stream;
  int32_t tactic;
} host_record;

static kiln_status_t host_describe(void* user_data,
                                   const kiln_describe_args_t* args,
                                   kiln_tensor_desc_t* outputs) {
  (void)user_data;
  outputs[0] = kiln_tensor_desc_like(&args->inputs[0]);
  return NULL;
}

static kiln_status_t host_impl(void* user_data,
                               const kiln_host_impl_args_t* args) {
  (void)user_data;
  ++host_record.calls;
  host_record.input = args->inputs[0];
  host_record.output = args->outputs[0];
  host_record.stream = args->stream;
  host_record.tactic = args->tactic;
  kiln_status_t status =
      kiln_attrs_get_int64(args->attrs, "scale", &host_record.scale);
  double hidden = 0;
  kiln_status_t hidden_status =
      kiln_attrs_get_float64(args->attrs, "hidden", &hidden);
  host_record.saw_hidden = hidden_status == NULL;
  kiln_status_free(hidden_status);
  return status;
}

static const kiln_attr_field_t host_attrs[] = {
    {"scale", KILN_ATTR_TYPE_INT64},
    {"hidden", KILN_ATTR_TYPE_FLOAT64},
    {"name", KILN_ATTR_TYPE_STRING},
    {"weights", KILN_ATTR_TYPE_ARRAY_INT16},
    {"flags", KILN_ATTR_TYPE_ARRAY_BOOL},
    {"blob", KILN_ATTR_TYPE_BYTES},
    {"on", KILN_ATTR_TYPE_BOOL},
};
static const char* const host_impl_names[] = {"scale"};

static kiln_status_t make_host_registry(kiln_registry_t** out_registry,
                                        const kiln_plugin_t** out_plugin) {
  kiln_plugin_def_t def;
  memset(&def, 0, sizeof(def));
  def.abi_version = KILN_PLUGIN_ABI_VERSION;
  def.id = "test::host_op";
  def.input_count = 1;
  def.output_count = 1;
  def.attrs = host_attrs;
  def.attr_count = sizeof(host_attrs) / sizeof(host_attrs[0]);
  def.describe = host_describe;
  def.host_impl = host_impl;
  def.host_impl_attrs.names = host_impl_names;
  def.host_impl_attrs.count = 1;
  kiln_status_t status =
      kiln_registry_create(kiln_allocator_system(), NULL, out_registry);
  if (!status) status = kiln_registry_register(*out_registry, &def, out_plugin);
  return status;
}

// Sets every attribute of the host plugin and serializes them into |out|.
static kiln_status_t serialize_host_attrs(const kiln_plugin_t* plugin,
                                          kiln__writer_t* out) {
  kiln_attrs_t* attrs = NULL;
  static const int16_t weights[] = {-3, 0, 32767};
  static const uint8_t flags[] = {1, 0, 1, 1};
  kiln_const_bytes_t blob = {(const uint8_t*)"\x00\x01\xff", 3};
  kiln_status_t status =
      kiln_attrs_create(plugin, kiln_allocator_system(), &attrs);
  if (!status) status = kiln_attrs_set_int64(attrs, "scale", -123456789012);
  if (!status) status = kiln_attrs_set_float64(attrs, "hidden", 0.25);
  if (!status) {
    status = kiln_attrs_set_string(attrs, "name",
                                   kiln_make_cstring_view("h\xc3\xa9llo"));
  }
  if (!status) {
    status = kiln_attrs_set_array(attrs, "weights", KILN_ATTR_TYPE_ARRAY_INT16,
                                  weights, 3);
  }
  if (!status) {
    status = kiln_attrs_set_array(attrs, "flags", KILN_ATTR_TYPE_ARRAY_BOOL,
                                  flags, 4);
  }
  if (!status) status = kiln_attrs_set_bytes(attrs, "blob", blob);
  // "on" stays unset.
  if (!status) status = kiln__attrs_serialize(attrs, out);
  kiln_attrs_destroy(attrs);
  return status;
}

TEST(runtime_attrs_serialize_round_trip) {
  kiln_registry_t* registry = NULL;
  const kiln_plugin_t* plugin = NULL;
  kiln__writer_t bytes;
  kiln__writer_init(&bytes, kiln_allocator_system());
  kiln_status_t status = make_host_registry(&registry, &plugin);
  if (!status) status = serialize_host_attrs(plugin, &bytes);
  kiln_attrs_t* attrs = NULL;
  kiln_test_allocator_t ta = kiln_test_allocator_make();
  if (!status) {
    kiln_const_bytes_t span = {bytes.data, bytes.size};
    status = kiln__attrs_deserialize(plugin, span, kiln_test_allocator_get(&ta),
                                     &attrs);
  }
  int64_t scale = 0;
  double hidden = 0;
  kiln_string_view_t name = {NULL, 0};
  const void* weights = NULL;
  size_t weight_count = 0;
  const void* flags = NULL;
  size_t flag_count = 0;
  kiln_const_bytes_t blob = {NULL, 0};
  if (!status) status = kiln_attrs_get_int64(attrs, "scale", &scale);
  if (!status) status = kiln_attrs_get_float64(attrs, "hidden", &hidden);
  if (!status) status = kiln_attrs_get_string(attrs, "name", &name);
  if (!status) {
    status = kiln_attrs_get_array(attrs, "weights", KILN_ATTR_TYPE_ARRAY_INT16,
                                  &weights, &weight_count);
  }
  if (!status) {
    status = kiln_attrs_get_array(attrs, "flags", KILN_ATTR_TYPE_ARRAY_BOOL,
                                  &flags, &flag_count);
  }
  if (!status) status = kiln_attrs_get_bytes(attrs, "blob", &blob);
  bool has_on = attrs && kiln_attrs_has(attrs, "on");
  bool ok = !status && scale == -123456789012 && hidden == 0.25 &&
            name.size == 6 && memcmp(name.data, "h\xc3\xa9llo", 6) == 0 &&
            weight_count == 3 && ((const int16_t*)weights)[0] == -3 &&
            ((const int16_t*)weights)[2] == 32767 && flag_count == 4 &&
            ((const uint8_t*)flags)[1] == 0 && blob.size == 3 &&
            blob.data[2] == 0xff;
  kiln_attrs_destroy(attrs);
  // An empty span is a set with nothing in it.
  kiln_attrs_t* empty = NULL;
  kiln_const_bytes_t none = {NULL, 0};
  if (!status) {
    status =
        kiln__attrs_deserialize(plugin, none, kiln_allocator_system(), &empty);
  }
  bool empty_ok = empty && !kiln_attrs_has(empty, "scale");
  kiln_attrs_destroy(empty);
  kiln__writer_deinit(&bytes);
  kiln_registry_release(registry);
  ASSERT_OK(status);
  ASSERT_TRUE(ok);
  ASSERT_FALSE(has_on);
  ASSERT_TRUE(empty_ok);
  ASSERT_EQ_U64(ta.live, 0);
}

TEST(runtime_attrs_deserialize_rejects_corruption) {
  kiln_registry_t* registry = NULL;
  const kiln_plugin_t* plugin = NULL;
  kiln__writer_t bytes;
  kiln__writer_init(&bytes, kiln_allocator_system());
  kiln_status_t status = make_host_registry(&registry, &plugin);
  if (!status) status = serialize_host_attrs(plugin, &bytes);
  if (status) {
    kiln__writer_deinit(&bytes);
    kiln_registry_release(registry);
    ASSERT_OK(status);
  }
  // Every truncation is DATA_LOSS, never a crash.
  for (size_t size = 1; size < bytes.size; ++size) {
    kiln_const_bytes_t span = {bytes.data, size};
    kiln_attrs_t* attrs = NULL;
    kiln_status_t s =
        kiln__attrs_deserialize(plugin, span, kiln_allocator_system(), &attrs);
    kiln_status_code_t code = kiln_status_code(s);
    kiln_status_free(s);
    kiln_attrs_destroy(attrs);
    if (code != KILN_STATUS_DATA_LOSS) {
      kiln__writer_deinit(&bytes);
      kiln_registry_release(registry);
      FAIL("truncation to %zu bytes gave %s", size,
           kiln_status_code_name(code));
    }
  }
  // Every single-byte change is refused or read as some valid set.
  for (size_t at = 0; at < bytes.size; ++at) {
    for (int bit = 0; bit < 8; ++bit) {
      bytes.data[at] ^= (uint8_t)(1u << bit);
      kiln_const_bytes_t span = {bytes.data, bytes.size};
      kiln_attrs_t* attrs = NULL;
      kiln_status_free(kiln__attrs_deserialize(
          plugin, span, kiln_allocator_system(), &attrs));
      kiln_attrs_destroy(attrs);
      bytes.data[at] ^= (uint8_t)(1u << bit);
    }
  }
  uint8_t trailing[512];
  size_t n = bytes.size < 500 ? bytes.size : 500;
  memcpy(trailing, bytes.data, n);
  trailing[n] = 0;
  kiln_const_bytes_t with_trailing = {trailing, n + 1};
  static const uint8_t bad_version[] = {2, 0};
  static const uint8_t unknown[] = {1, 1, 3, 'f', 'o', 'o', 0, 0};
  static const uint8_t mistyped[] = {1, 1, 5, 's', 'c', 'a', 'l', 'e', 2, 1};
  static const uint8_t twice[] = {1, 2, 2, 'o', 'n', 2, 1, 2, 'o', 'n', 2, 0};
  static const uint8_t bad_bool[] = {1, 1, 2, 'o', 'n', 2, 7};
  static const uint8_t bad_name[] = {1, 1, 2, 'o', '-', 2, 1};
  static const uint8_t huge_count[] = {1,   1,   7,   'w', 'e',  'i',  'g',
                                       'h', 't', 's', 6,   0xff, 0xff, 0x7f};
  kiln_attrs_t* attrs = NULL;
  kiln_allocator_t sys = kiln_allocator_system();
#define SPAN(a) ((kiln_const_bytes_t){(a), sizeof(a)})
  kiln_status_t s_trailing =
      kiln__attrs_deserialize(plugin, with_trailing, sys, &attrs);
  kiln_status_t s_version =
      kiln__attrs_deserialize(plugin, SPAN(bad_version), sys, &attrs);
  kiln_status_t s_unknown =
      kiln__attrs_deserialize(plugin, SPAN(unknown), sys, &attrs);
  kiln_status_t s_mistyped =
      kiln__attrs_deserialize(plugin, SPAN(mistyped), sys, &attrs);
  kiln_status_t s_twice =
      kiln__attrs_deserialize(plugin, SPAN(twice), sys, &attrs);
  kiln_status_t s_bool =
      kiln__attrs_deserialize(plugin, SPAN(bad_bool), sys, &attrs);
  kiln_status_t s_name =
      kiln__attrs_deserialize(plugin, SPAN(bad_name), sys, &attrs);
  kiln_status_t s_count =
      kiln__attrs_deserialize(plugin, SPAN(huge_count), sys, &attrs);
#undef SPAN
  kiln__writer_deinit(&bytes);
  kiln_registry_release(registry);
  ASSERT_EQ_PTR(attrs, NULL);
  ASSERT_STATUS(s_trailing, KILN_STATUS_DATA_LOSS,
                "1 bytes follow the last attribute");
  ASSERT_STATUS(s_version, KILN_STATUS_DATA_LOSS,
                "host attributes byte 0: encoding version 2");
  ASSERT_STATUS(s_unknown, KILN_STATUS_INCOMPATIBLE,
                "host attributes byte 3: the engine sets attribute 'foo', "
                "which plugin 'test::host_op' does not declare");
  ASSERT_STATUS(s_mistyped, KILN_STATUS_INCOMPATIBLE,
                "host attributes byte 8: the engine holds attribute 'scale' "
                "as bool, but plugin 'test::host_op' declares it int64");
  ASSERT_STATUS(s_twice, KILN_STATUS_DATA_LOSS,
                "host attributes byte 7: attribute 'on' appears twice");
  ASSERT_STATUS(s_bool, KILN_STATUS_DATA_LOSS,
                "host attributes byte 6: attribute 'on': bool value is 7");
  ASSERT_STATUS(s_name, KILN_STATUS_DATA_LOSS,
                "host attributes byte 3: attribute 0 name is not an "
                "identifier");
  ASSERT_STATUS(s_count, KILN_STATUS_DATA_LOSS,
                "attribute 'weights' says 2097151 elements of 2 bytes");
}

TEST(runtime_host_layer_calls_host_impl) {
  kiln_registry_t* registry = NULL;
  const kiln_plugin_t* plugin = NULL;
  kiln__writer_t attrs;
  kiln__writer_init(&attrs, kiln_allocator_system());
  kiln_status_t status = make_host_registry(&registry, &plugin);
  if (!status) status = serialize_host_attrs(plugin, &attrs);
  kiln_test_engine_spec_t spec = kiln_test_engine_spec_default();
  spec.host_layer = true;
  spec.host_attrs.data = attrs.data;
  spec.host_attrs.size = attrs.size;
  spec.plugin_id = "test::host_op";
  kiln_engine_load_options_t options;
  memset(&options, 0, sizeof(options));
  options.registry = registry;
  rig_t rig;
  memset(&rig, 0, sizeof(rig));
  memset(&host_record, 0, sizeof(host_record));
  // Without a registry the plugin cannot be found.
  kiln_status_t no_registry = NULL;
  if (!status) {
    no_registry = rig_open(&spec, 90, NULL, &rig);
    rig_close(&rig);
  }
  if (!status) status = rig_open(&spec, 90, &options, &rig);
  void* stream = (void*)(uintptr_t)0x77;
  if (!status) status = rig_bind(&rig, 1000);
  if (!status) status = kiln_context_enqueue(rig.context, stream);
  if (!status) status = kiln_context_enqueue(rig.context, stream);
  uint64_t x = rig.x, y = rig.y;
  int launches = fake.launches;
  rig_close(&rig);
  // The engine kept the registry alive; now it is the last reference.
  kiln_registry_release(registry);
  // A registry without the plugin.
  kiln_registry_t* other = NULL;
  kiln_status_t missing = NULL;
  if (!status)
    status = kiln_registry_create(kiln_allocator_system(), NULL, &other);
  options.registry = other;
  if (!status) {
    missing = rig_open(&spec, 90, &options, &rig);
    rig_close(&rig);
  }
  kiln_registry_release(other);
  kiln__writer_deinit(&attrs);
  ASSERT_OK(status);
  ASSERT_STATUS(no_registry, KILN_STATUS_NOT_FOUND,
                "layer 0 'add_layer' (plugin 'test::host_op') runs plugin "
                "'test::host_op' on the host, but no registry was given");
  ASSERT_STATUS(missing, KILN_STATUS_NOT_FOUND, "test::host_op");
  ASSERT_EQ_I64(host_record.calls, 2);
  ASSERT_EQ_I64(launches, 0);
  ASSERT_EQ_PTR(host_record.input.data, (void*)(uintptr_t)x);
  ASSERT_EQ_PTR(host_record.output.data, (void*)(uintptr_t)y);
  ASSERT_EQ_I64(host_record.input.rank, 1);
  ASSERT_EQ_I64(host_record.input.dims[0], 1000);
  ASSERT_EQ_I64(host_record.input.strides[0], 1);
  ASSERT_EQ_I64(host_record.output.dims[0], 1000);
  ASSERT_EQ_I64(host_record.input.dtype, KILN_DTYPE_FLOAT32);
  ASSERT_EQ_PTR(host_record.stream, stream);
  ASSERT_EQ_I64(host_record.tactic, 7);
  ASSERT_EQ_I64(host_record.scale, -123456789012);
  ASSERT_FALSE(host_record.saw_hidden);  // host_impl declared only "scale"
}

//===----------------------------------------------------------------------===//
// CUDA graphs
//===----------------------------------------------------------------------===//

// Two layers x -> t -> y sharing add_one, params [in][n: int32][out], with
// the graph functions (and the node queries when |nodes|) in the fake.
static kiln_status_t graph_rig_open(rig_t* rig, bool nodes) {
  kiln_test_engine_spec_t spec = kiln_test_engine_spec_default();
  spec.two_layers = true;
  rig_graphs = nodes ? 2 : 1;
  kiln_status_t status = rig_open(&spec, 90, NULL, rig);
  static const uint8_t sizes[] = {8, 4, 8};
  fake_record_params(sizes, 3);
  // These tests count captures from the first enqueue; warm-up has its own.
  if (!status && rig->context) {
    status = kiln_context_set_graph_warmup(rig->context, 0);
  }
  return status;
}

#define GRAPH_RIG_OPEN(rig, nodes)                         \
  do {                                                     \
    kiln_status_t open_ = graph_rig_open(&(rig), (nodes)); \
    if (open_) rig_close(&(rig));                          \
    ASSERT_OK(open_);                                      \
  } while (0)

TEST(runtime_graph_capture_then_replay) {
  rig_t rig;
  GRAPH_RIG_OPEN(rig, true);
  void* stream = (void*)(uintptr_t)0x1234;
  bool active = kiln__context_graphs_active(rig.context);
  kiln_status_t status = rig_bind(&rig, 1000);
  if (!status) status = kiln_context_enqueue(rig.context, stream);
  int captures = fake.begin_captures, captured = fake.captured_launches;
  int graph_launches = fake.graph_launches, calls = fake.launch_calls;
  fake_launch_t first[2] = {fake.history[0], fake.history[1]};
  // The same shapes and addresses: the graph is launched again, on the
  // legacy default stream this time.
  if (!status) status = kiln_context_enqueue(rig.context, NULL);
  if (!status) status = kiln_context_enqueue(rig.context, stream);
  kiln__context_graph_stats_t stats = kiln__context_graph_stats(rig.context);
  int captures2 = fake.begin_captures, graph_launches2 = fake.graph_launches;
  int calls2 = fake.launch_calls, launches = fake.launches;
  int execs = fake.execs_live;
  void* last_stream = fake.last_graph_stream;
  uint64_t x = rig.x, y = rig.y, t = rig.context->activations;
  rig_close(&rig);
  ASSERT_OK(status);
  ASSERT_TRUE(active);
  ASSERT_EQ_I64(captures, 1);
  ASSERT_EQ_I64(captured, 2);
  ASSERT_EQ_I64(graph_launches, 1);
  ASSERT_EQ_I64(calls, 0);
  // What ran: layer 0 x -> t, then layer 1 t -> y, on the caller's stream.
  ASSERT_EQ_U64(first[0].values[0], x);
  ASSERT_EQ_U64(first[0].values[1], 1000);
  ASSERT_EQ_U64(first[0].values[2], t);
  ASSERT_EQ_U64(first[1].values[0], t);
  ASSERT_EQ_U64(first[1].values[2], y);
  ASSERT_EQ_U64(first[0].grid[0], 4);
  ASSERT_EQ_PTR(first[0].stream, stream);
  ASSERT_EQ_I64(captures2, 1);
  ASSERT_EQ_I64(graph_launches2, 3);
  ASSERT_EQ_I64(calls2, 0);
  ASSERT_EQ_I64(launches, 6);
  ASSERT_EQ_PTR(last_stream, stream);
  ASSERT_EQ_U64(stats.captures, 1);
  ASSERT_EQ_U64(stats.launches, 3);
  ASSERT_EQ_U64(stats.node_updates, 0);
  ASSERT_EQ_I64(execs, 1);
  // Destroying the context destroyed the graph and the capture stream.
  ASSERT_EQ_I64(fake.execs_live, 0);
  ASSERT_EQ_I64(fake.graphs_live, 0);
  ASSERT_EQ_I64(fake.streams_live, 0);
}

// Graph warm-up (the default, 1): a set of shapes runs in stream mode the
// first time, is captured the second, and replays after; shapes that
// alternate are each captured on their second use; 2 waits one more.
TEST(runtime_graph_warmup_captures_on_second_use) {
  rig_t rig;
  GRAPH_RIG_OPEN(rig, true);
  kiln_status_t status = kiln_context_set_graph_warmup(rig.context, 1);
  int64_t captures[7], graph_launches[7], kernel_calls[7];
  static const int64_t sizes[7] = {1000, 1000, 1000, 500, 1000, 500, 500};
  for (int k = 0; k < 7 && !status; ++k) {
    int calls = fake.launch_calls;
    status = rig_bind(&rig, sizes[k]);
    if (!status) status = kiln_context_enqueue(rig.context, NULL);
    captures[k] = fake.begin_captures;
    graph_launches[k] = fake.graph_launches;
    kernel_calls[k] = fake.launch_calls - calls;
  }
  kiln__context_graph_stats_t stats = kiln__context_graph_stats(rig.context);
  // Warm-up of 2: shape 700 captures on its third enqueue.
  int64_t before = fake.begin_captures;
  int64_t third[3];
  if (!status) status = kiln_context_set_graph_warmup(rig.context, 2);
  for (int k = 0; k < 3 && !status; ++k) {
    status = rig_bind(&rig, 700);
    if (!status) status = kiln_context_enqueue(rig.context, NULL);
    third[k] = fake.begin_captures - before;
  }
  kiln_status_t null_context = kiln_context_set_graph_warmup(NULL, 1);
  rig_close(&rig);
  ASSERT_OK(status);
  // 1000: stream (2 kernel launches), capture + graph launch, replay.
  ASSERT_EQ_I64(kernel_calls[0], 2);
  ASSERT_EQ_I64(captures[0], 0);
  ASSERT_EQ_I64(graph_launches[0], 0);
  ASSERT_EQ_I64(captures[1], 1);
  ASSERT_EQ_I64(graph_launches[1], 1);
  ASSERT_EQ_I64(captures[2], 1);
  ASSERT_EQ_I64(graph_launches[2], 2);
  ASSERT_EQ_I64(kernel_calls[2], 0);
  // 500 warms up in stream mode; 1000 replays its graph; 500 captures.
  ASSERT_EQ_I64(captures[3], 1);
  ASSERT_EQ_I64(kernel_calls[3], 2);
  ASSERT_EQ_I64(graph_launches[4], 3);
  ASSERT_EQ_I64(captures[4], 1);
  ASSERT_EQ_I64(captures[5], 2);
  ASSERT_EQ_I64(graph_launches[6], 5);
  ASSERT_EQ_U64(stats.warmups, 2);
  ASSERT_EQ_I64(third[0], 0);
  ASSERT_EQ_I64(third[1], 0);
  ASSERT_EQ_I64(third[2], 1);
  ASSERT_STATUS(null_context, KILN_STATUS_INVALID_ARGUMENT, "context is NULL");
}

TEST(runtime_graph_shape_change_recaptures) {
  rig_t rig;
  GRAPH_RIG_OPEN(rig, true);
  kiln_status_t status = rig_bind(&rig, 1000);
  if (!status) status = kiln_context_enqueue(rig.context, NULL);
  int64_t n = 2000;
  if (!status) status = kiln_context_set_input_shape(rig.context, "x", 1, &n);
  if (!status) status = kiln_context_enqueue(rig.context, NULL);
  int captures = fake.begin_captures;
  fake_launch_t second = fake.history[3];
  // Back to 1000: the first graph is still cached.
  n = 1000;
  if (!status) status = kiln_context_set_input_shape(rig.context, "x", 1, &n);
  if (!status) status = kiln_context_enqueue(rig.context, NULL);
  int captures2 = fake.begin_captures, graph_launches = fake.graph_launches;
  fake_launch_t third = fake.history[5];
  int calls = fake.launch_calls;
  rig_close(&rig);
  ASSERT_OK(status);
  ASSERT_EQ_I64(captures, 2);
  ASSERT_EQ_U64(second.grid[0], 8);  // cdiv(2000, 256)
  ASSERT_EQ_U64(second.values[1], 2000);
  ASSERT_EQ_I64(captures2, 2);
  ASSERT_EQ_I64(graph_launches, 3);
  ASSERT_EQ_U64(third.grid[0], 4);
  ASSERT_EQ_U64(third.values[1], 1000);
  ASSERT_EQ_I64(calls, 0);
}

TEST(runtime_graph_address_change_updates_nodes) {
  rig_t rig;
  GRAPH_RIG_OPEN(rig, true);
  uint64_t y2 = 0;
  kiln_status_t status = rig_bind(&rig, 1000);
  if (!status) status = kiln_context_enqueue(rig.context, NULL);
  if (!status) status = kiln_device_malloc(rig.device, 1 << 16, &y2);
  // Only layer 1 reads y: one node is updated, nothing is captured.
  if (!status) status = kiln_context_set_tensor_address(rig.context, "y", y2);
  if (!status) status = kiln_context_enqueue(rig.context, NULL);
  int captures = fake.begin_captures, updates = fake.node_updates;
  fake_launch_t layer1 = fake.history[3];
  // Setting the same address again changes nothing.
  if (!status) status = kiln_context_set_tensor_address(rig.context, "y", y2);
  if (!status) status = kiln_context_enqueue(rig.context, NULL);
  int updates_same = fake.node_updates;
  // Both ends change: both nodes are updated.
  if (!status) {
    status = kiln_context_set_tensor_address(rig.context, "x", rig.y);
  }
  if (!status) {
    status = kiln_context_set_tensor_address(rig.context, "y", rig.x);
  }
  if (!status) status = kiln_context_enqueue(rig.context, NULL);
  int captures2 = fake.begin_captures, updates2 = fake.node_updates;
  fake_launch_t l0 = fake.history[6], l1 = fake.history[7];
  kiln__context_graph_stats_t stats = kiln__context_graph_stats(rig.context);
  int calls = fake.launch_calls;
  uint64_t x = rig.x, y = rig.y;
  if (y2) kiln_status_free(kiln_device_free(rig.device, y2));
  rig_close(&rig);
  ASSERT_OK(status);
  ASSERT_EQ_I64(captures, 1);
  ASSERT_EQ_I64(updates, 1);
  ASSERT_EQ_U64(layer1.values[2], y2);
  ASSERT_EQ_I64(updates_same, 1);
  ASSERT_EQ_I64(captures2, 1);
  ASSERT_EQ_I64(updates2, 3);
  ASSERT_EQ_U64(l0.values[0], y);
  ASSERT_EQ_U64(l1.values[2], x);
  ASSERT_EQ_U64(stats.node_updates, 3);
  ASSERT_EQ_U64(stats.launches, 4);
  ASSERT_EQ_I64(calls, 0);
}

// Without the node queries, or when the nodes cannot be matched to the
// launches (here: the fake records no parameters, so none matches), an
// address change captures again (and still runs right).
TEST(runtime_graph_address_change_without_nodes_recaptures) {
  for (int variant = 0; variant < 2; ++variant) {
    rig_t rig;
    GRAPH_RIG_OPEN(rig, variant == 1);
    static const uint8_t no_sizes[1] = {0};
    if (variant == 1) fake_record_params(no_sizes, 0);
    kiln_status_t status = rig_bind(&rig, 1000);
    if (!status) status = kiln_context_enqueue(rig.context, NULL);
    if (!status) {
      status = kiln_context_set_tensor_address(rig.context, "y", rig.x);
    }
    if (!status) status = kiln_context_enqueue(rig.context, NULL);
    int captures = fake.begin_captures, updates = fake.node_updates;
    int execs = fake.execs_live;
    fake_launch_t layer1 = fake.history[3];
    uint64_t x = rig.x;
    rig_close(&rig);
    ASSERT_OK(status);
    ASSERT_EQ_I64(captures, 2);
    ASSERT_EQ_I64(updates, 0);
    ASSERT_EQ_I64(execs, 1);  // the stale graph was replaced, not kept
    if (variant == 0) ASSERT_EQ_U64(layer1.values[2], x);
  }
}

// Nodes listed in another order than they were captured are matched to
// their launches by their parameters, so updates reach the right node.
TEST(runtime_graph_nodes_in_another_order) {
  rig_t rig;
  GRAPH_RIG_OPEN(rig, true);
  fake.reverse_nodes = true;
  kiln_status_t status = rig_bind(&rig, 1000);
  if (!status) status = kiln_context_enqueue(rig.context, NULL);
  if (!status) {
    status = kiln_context_set_tensor_address(rig.context, "y", rig.x);
  }
  if (!status) status = kiln_context_enqueue(rig.context, NULL);
  int captures = fake.begin_captures, updates = fake.node_updates;
  fake_launch_t l0 = fake.history[2], l1 = fake.history[3];
  uint64_t x = rig.x, t = rig.context->activations;
  rig_close(&rig);
  ASSERT_OK(status);
  ASSERT_EQ_I64(captures, 1);
  ASSERT_EQ_I64(updates, 1);
  ASSERT_EQ_U64(l0.values[0], x);
  ASSERT_EQ_U64(l0.values[2], t);
  ASSERT_EQ_U64(l1.values[0], t);
  ASSERT_EQ_U64(l1.values[2], x);
}

TEST(runtime_graph_cache_is_bounded) {
  rig_t rig;
  GRAPH_RIG_OPEN(rig, true);
  kiln_status_t status = rig_bind(&rig, 1);
  // Shapes 1..10: ten captures; only the 8 most recent graphs stay.
  for (int64_t n = 1; !status && n <= 10; ++n) {
    status = kiln_context_set_input_shape(rig.context, "x", 1, &n);
    if (!status) status = kiln_context_enqueue(rig.context, NULL);
  }
  int captures = fake.begin_captures, execs = fake.execs_live;
  int graphs = fake.graphs_live;
  // 10 and 3 are cached; 1 (the least recently used) was replaced.
  int64_t cached[2] = {10, 3}, evicted = 1;
  for (int i = 0; !status && i < 2; ++i) {
    status = kiln_context_set_input_shape(rig.context, "x", 1, &cached[i]);
    if (!status) status = kiln_context_enqueue(rig.context, NULL);
  }
  int captures_cached = fake.begin_captures;
  if (!status) {
    status = kiln_context_set_input_shape(rig.context, "x", 1, &evicted);
  }
  if (!status) status = kiln_context_enqueue(rig.context, NULL);
  int captures_evicted = fake.begin_captures;
  // Capturing 1 again replaced 4, the least recently used now; 3 stays.
  int64_t three = 3, four = 4;
  if (!status)
    status = kiln_context_set_input_shape(rig.context, "x", 1, &three);
  if (!status) status = kiln_context_enqueue(rig.context, NULL);
  int captures_three = fake.begin_captures;
  if (!status)
    status = kiln_context_set_input_shape(rig.context, "x", 1, &four);
  if (!status) status = kiln_context_enqueue(rig.context, NULL);
  int captures_four = fake.begin_captures;
  kiln__context_graph_stats_t stats = kiln__context_graph_stats(rig.context);
  int execs_end = fake.execs_live;
  rig_close(&rig);
  ASSERT_OK(status);
  ASSERT_EQ_I64(captures, 10);
  ASSERT_EQ_I64(execs, KILN__CONTEXT_GRAPH_CAPACITY);
  ASSERT_EQ_I64(graphs, KILN__CONTEXT_GRAPH_CAPACITY);
  ASSERT_EQ_I64(captures_cached, 10);
  ASSERT_EQ_I64(captures_evicted, 11);
  ASSERT_EQ_I64(captures_three, 11);
  ASSERT_EQ_I64(captures_four, 12);
  ASSERT_EQ_U64(stats.evictions, 4);
  ASSERT_EQ_I64(execs_end, KILN__CONTEXT_GRAPH_CAPACITY);
  ASSERT_EQ_I64(fake.execs_live, 0);
  ASSERT_EQ_I64(fake.graphs_live, 0);
}

TEST(runtime_graph_off_uses_stream_mode) {
  rig_t rig;
  GRAPH_RIG_OPEN(rig, true);
  kiln_status_t status = kiln_context_set_graphs(rig.context, false);
  bool active_off = kiln__context_graphs_active(rig.context);
  if (!status) status = rig_bind(&rig, 1000);
  if (!status) status = kiln_context_enqueue(rig.context, NULL);
  if (!status) status = kiln_context_enqueue(rig.context, NULL);
  int captures = fake.begin_captures, calls = fake.launch_calls;
  // On again: the next enqueue captures.
  if (!status) status = kiln_context_set_graphs(rig.context, true);
  if (!status) status = kiln_context_enqueue(rig.context, NULL);
  int captures_on = fake.begin_captures, execs_on = fake.execs_live;
  int calls_on = fake.launch_calls;
  // Off again: the graphs are destroyed at once.
  if (!status) status = kiln_context_set_graphs(rig.context, false);
  int execs_off = fake.execs_live, streams_off = fake.streams_live;
  if (!status) status = kiln_context_enqueue(rig.context, NULL);
  int calls_off = fake.launch_calls;
  kiln_status_t null_context = kiln_context_set_graphs(NULL, true);
  rig_close(&rig);
  ASSERT_OK(status);
  ASSERT_FALSE(active_off);
  ASSERT_EQ_I64(captures, 0);
  ASSERT_EQ_I64(calls, 4);
  ASSERT_EQ_I64(captures_on, 1);
  ASSERT_EQ_I64(execs_on, 1);
  ASSERT_EQ_I64(calls_on, 4);
  ASSERT_EQ_I64(execs_off, 0);
  ASSERT_EQ_I64(streams_off, 0);
  ASSERT_EQ_I64(calls_off, 6);
  ASSERT_STATUS(null_context, KILN_STATUS_INVALID_ARGUMENT, "NULL");
}

// A driver without the graph functions: stream mode, and turning graphs on
// changes nothing.
TEST(runtime_graph_driver_without_graphs_uses_stream_mode) {
  kiln_test_engine_spec_t spec = kiln_test_engine_spec_default();
  rig_t rig;
  RIG_OPEN(spec, 90, NULL, rig);
  kiln_status_t status = kiln_context_set_graphs(rig.context, true);
  bool active = kiln__context_graphs_active(rig.context);
  if (!status) status = rig_bind(&rig, 1000);
  if (!status) status = kiln_context_enqueue(rig.context, NULL);
  int calls = fake.launch_calls;
  rig_close(&rig);
  ASSERT_OK(status);
  ASSERT_FALSE(active);
  ASSERT_EQ_I64(calls, 1);
}

// A caller's stream that is being captured records kiln's launches itself.
TEST(runtime_graph_capturing_caller_stream_uses_stream_mode) {
  rig_t rig;
  GRAPH_RIG_OPEN(rig, true);
  void* stream = (void*)(uintptr_t)0x5150;
  fake.user_capturing = stream;
  kiln_status_t status = rig_bind(&rig, 1000);
  if (!status) status = kiln_context_enqueue(rig.context, stream);
  int captures = fake.begin_captures, calls = fake.launch_calls;
  fake_launch_t launch = fake.history[0];
  // Another stream still gets the graph.
  if (!status) status = kiln_context_enqueue(rig.context, NULL);
  int captures2 = fake.begin_captures, graph_launches = fake.graph_launches;
  rig_close(&rig);
  ASSERT_OK(status);
  ASSERT_EQ_I64(captures, 0);
  ASSERT_EQ_I64(calls, 2);
  ASSERT_EQ_PTR(launch.stream, stream);
  ASSERT_EQ_I64(captures2, 1);
  ASSERT_EQ_I64(graph_launches, 1);
}

static char graph_log[1024];

static void graph_log_fn(void* user_data, kiln_log_level_t level,
                         const char* message) {
  (void)user_data;
  if (level == KILN_LOG_LEVEL_WARNING) {
    snprintf(graph_log, sizeof(graph_log), "%s", message);
  }
}

// A capture that fails turns graph mode off (logged); the enqueue still
// runs. A lost device is an error.
TEST(runtime_graph_capture_failure_falls_back_to_stream_mode) {
  kiln_test_engine_spec_t spec = kiln_test_engine_spec_default();
  kiln_engine_load_options_t options;
  memset(&options, 0, sizeof(options));
  options.logger.fn = graph_log_fn;
  options.logger.max_level = KILN_LOG_LEVEL_WARNING;
  graph_log[0] = '\0';
  rig_t rig;
  rig_graphs = 2;
  RIG_OPEN(spec, 90, &options, rig);
  fake.begin_capture_result = KILN_CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  kiln_status_t warmup = kiln_context_set_graph_warmup(rig.context, 0);
  if (warmup) rig_close(&rig);
  ASSERT_OK(warmup);
  kiln_status_t status = rig_bind(&rig, 1000);
  if (!status) status = kiln_context_enqueue(rig.context, NULL);
  int calls = fake.launch_calls;
  bool active = kiln__context_graphs_active(rig.context);
  char first_log[1024];
  snprintf(first_log, sizeof(first_log), "%s", graph_log);
  if (!status) status = kiln_context_enqueue(rig.context, NULL);
  int calls2 = fake.launch_calls;
  // Turned on again, it captures.
  fake.begin_capture_result = KILN_CUDA_SUCCESS;
  if (!status) status = kiln_context_set_graphs(rig.context, true);
  if (!status) status = kiln_context_enqueue(rig.context, NULL);
  int captures = fake.begin_captures;
  // Instantiation fails: the capture's graph is destroyed.
  int64_t n = 2000;
  fake.instantiate_result = KILN_CUDA_ERROR_OUT_OF_MEMORY;
  if (!status) status = kiln_context_set_input_shape(rig.context, "x", 1, &n);
  if (!status) status = kiln_context_enqueue(rig.context, NULL);
  int graphs_live = fake.graphs_live, calls3 = fake.launch_calls;
  // A sticky error while capturing loses the device.
  fake.instantiate_result = KILN_CUDA_ERROR_ILLEGAL_ADDRESS;
  kiln_status_t lost = NULL;
  if (!status) status = kiln_context_set_graphs(rig.context, true);
  if (!status) lost = kiln_context_enqueue(rig.context, NULL);
  bool is_lost = kiln__device_is_lost(rig.device);
  if (is_lost) {
    // Freeing is possible only on a live device: free the fake memory here.
    fake_mem_free(rig.x);
    fake_mem_free(rig.y);
  }
  rig_close(&rig);
  ASSERT_OK(status);
  ASSERT_EQ_I64(calls, 1);
  ASSERT_FALSE(active);
  ASSERT_EQ_I64(calls2, 2);
  ASSERT_CONTAINS(first_log, "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED");
  ASSERT_CONTAINS(first_log, "stream mode");
  ASSERT_CONTAINS(graph_log, "CUDA_ERROR_OUT_OF_MEMORY");
  ASSERT_EQ_I64(captures, 1);
  ASSERT_EQ_I64(graphs_live, 0);
  ASSERT_EQ_I64(calls3, 3);
  ASSERT_STATUS(lost, KILN_STATUS_DEVICE_LOST, "CUDA_ERROR_ILLEGAL_ADDRESS");
  ASSERT_TRUE(is_lost);
  ASSERT_EQ_I64(fake.execs_live, 0);
  ASSERT_EQ_I64(fake.graphs_live, 0);
}

// A node update the driver refuses: the graph is captured again.
TEST(runtime_graph_update_failure_recaptures) {
  rig_t rig;
  GRAPH_RIG_OPEN(rig, true);
  kiln_status_t status = rig_bind(&rig, 1000);
  if (!status) status = kiln_context_enqueue(rig.context, NULL);
  fake.set_params_result = KILN_CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE;
  if (!status) {
    status = kiln_context_set_tensor_address(rig.context, "y", rig.x);
  }
  if (!status) status = kiln_context_enqueue(rig.context, NULL);
  int captures = fake.begin_captures, execs = fake.execs_live;
  fake_launch_t layer1 = fake.history[3];
  uint64_t x = rig.x;
  rig_close(&rig);
  ASSERT_OK(status);
  ASSERT_EQ_I64(captures, 2);
  ASSERT_EQ_I64(execs, 1);
  ASSERT_EQ_U64(layer1.values[2], x);
}

TEST(runtime_graph_host_layer_uses_stream_mode) {
  kiln_registry_t* registry = NULL;
  const kiln_plugin_t* plugin = NULL;
  kiln__writer_t attrs, file;
  kiln__writer_init(&attrs, kiln_allocator_system());
  kiln__writer_init(&file, kiln_allocator_system());
  kiln_status_t status = make_host_registry(&registry, &plugin);
  if (!status) status = serialize_host_attrs(plugin, &attrs);
  kiln_test_engine_spec_t spec = kiln_test_engine_spec_default();
  spec.host_layer = true;
  spec.host_attrs.data = attrs.data;
  spec.host_attrs.size = attrs.size;
  spec.plugin_id = "test::host_op";
  kiln_engine_load_options_t options;
  memset(&options, 0, sizeof(options));
  options.registry = registry;
  memset(&host_record, 0, sizeof(host_record));
  rig_t rig;
  memset(&rig, 0, sizeof(rig));
  rig_graphs = 2;
  if (!status) status = rig_open(&spec, 90, &options, &rig);
  bool active = rig.context && kiln__context_graphs_active(rig.context);
  if (!status) status = kiln_context_set_graphs(rig.context, true);
  bool active_on = rig.context && kiln__context_graphs_active(rig.context);
  if (!status) status = rig_bind(&rig, 1000);
  if (!status) status = kiln_context_enqueue(rig.context, NULL);
  if (!status) status = kiln_context_enqueue(rig.context, NULL);
  int captures = fake.begin_captures;
  rig_close(&rig);
  // `kiln inspect` says why.
  kiln_blob_t* text = NULL;
  kiln_blob_t* json = NULL;
  if (!status) status = kiln_test_build_engine(&spec, &file);
  kiln_const_bytes_t bytes = {file.data, file.size};
  if (!status) {
    status = kiln_engine_describe(bytes, false, kiln_allocator_system(), &text);
  }
  if (!status) {
    status = kiln_engine_describe(bytes, true, kiln_allocator_system(), &json);
  }
  char text_copy[8192] = "", json_copy[8192] = "";
  if (text) {
    snprintf(text_copy, sizeof(text_copy), "%.*s",
             (int)kiln_blob_bytes(text).size,
             (const char*)kiln_blob_bytes(text).data);
  }
  if (json) {
    snprintf(json_copy, sizeof(json_copy), "%.*s",
             (int)kiln_blob_bytes(json).size,
             (const char*)kiln_blob_bytes(json).data);
  }
  kiln_blob_destroy(text);
  kiln_blob_destroy(json);
  kiln__writer_deinit(&file);
  kiln__writer_deinit(&attrs);
  kiln_registry_release(registry);
  ASSERT_OK(status);
  ASSERT_FALSE(active);
  ASSERT_FALSE(active_on);
  ASSERT_EQ_I64(captures, 0);
  ASSERT_EQ_I64(host_record.calls, 2);
  ASSERT_CONTAINS(text_copy,
                  "CUDA graphs: no (layer 0 'add_layer' runs a host "
                  "implementation)\n");
  ASSERT_CONTAINS(json_copy,
                  "\"cuda_graphs\": {\"supported\": false, \"host_layer\": 0, "
                  "\"reason\": \"layer 0 'add_layer' runs a host "
                  "implementation\"}");
}

TEST(runtime_graph_describe_says_yes_for_kernels) {
  kiln_test_engine_spec_t spec = kiln_test_engine_spec_default();
  kiln__writer_t file;
  BUILD(spec, file);
  kiln_const_bytes_t bytes = {file.data, file.size};
  kiln_blob_t* text = NULL;
  kiln_blob_t* json = NULL;
  kiln_status_t status =
      kiln_engine_describe(bytes, false, kiln_allocator_system(), &text);
  if (!status) {
    status = kiln_engine_describe(bytes, true, kiln_allocator_system(), &json);
  }
  char text_copy[8192] = "", json_copy[8192] = "";
  if (text) {
    snprintf(text_copy, sizeof(text_copy), "%.*s",
             (int)kiln_blob_bytes(text).size,
             (const char*)kiln_blob_bytes(text).data);
  }
  if (json) {
    snprintf(json_copy, sizeof(json_copy), "%.*s",
             (int)kiln_blob_bytes(json).size,
             (const char*)kiln_blob_bytes(json).data);
  }
  kiln_blob_destroy(text);
  kiln_blob_destroy(json);
  kiln__writer_deinit(&file);
  ASSERT_OK(status);
  ASSERT_CONTAINS(text_copy, "\nCUDA graphs: yes\n");
  ASSERT_CONTAINS(json_copy, "\"cuda_graphs\": {\"supported\": true}");
}

TEST(runtime_graph_context_allocation_failure_sweep) {
  rig_t rig;
  GRAPH_RIG_OPEN(rig, true);
  int base_live = fake.mem_live;
  size_t host_failures = 0;
  for (size_t fail_at = 0;; ++fail_at) {
    kiln_test_allocator_t ta = kiln_test_allocator_failing_at(fail_at);
    kiln_context_t* context = NULL;
    kiln_status_t status =
        kiln_context_create(rig.engine, kiln_test_allocator_get(&ta), &context);
    if (!status) {
      bool active = kiln__context_graphs_active(context);
      status =
          kiln_context_set_input_shape(context, "x", 1, (const int64_t[]){10});
      if (!status) {
        status = kiln_context_set_tensor_address(context, "x", rig.x);
      }
      if (!status) {
        status = kiln_context_set_tensor_address(context, "y", rig.y);
      }
      if (!status) status = kiln_context_enqueue(context, NULL);
      kiln_context_destroy(context);
      int execs = fake.execs_live;
      rig_close(&rig);
      ASSERT_OK(status);
      ASSERT_TRUE(active);
      ASSERT_EQ_I64(execs, 0);
      ASSERT_EQ_U64(ta.live, 0);
      break;
    }
    ++host_failures;
    if (kiln_status_code(status) != KILN_STATUS_RESOURCE_EXHAUSTED ||
        ta.live != 0 || fake.mem_live != base_live) {
      kiln_test_fail(t_, __FILE__, __LINE__, "failing allocation %zu: %s: %s",
                     fail_at, kiln_status_code_name(kiln_status_code(status)),
                     kiln_status_message(status));
      kiln_status_free(status);
      rig_close(&rig);
      return;
    }
    kiln_status_free(status);
  }
  ASSERT_TRUE(host_failures >= 2);
}

//===----------------------------------------------------------------------===//
// Allocation failures
//===----------------------------------------------------------------------===//

TEST(runtime_engine_load_allocation_failure_sweep) {
  kiln_test_engine_spec_t spec = kiln_test_engine_spec_default();
  spec.two_layers = true;
  spec.with_constant = true;
  spec.param_count = 0;
  kiln_test_spec_param(&spec, KILN__PARAM_INPUT, 8, 0);
  kiln_test_spec_param(&spec, KILN__PARAM_INPUT, 8, 1);
  kiln_test_spec_param(&spec, KILN__PARAM_ARG, 4, 0);
  kiln_test_spec_param(&spec, KILN__PARAM_OUTPUT, 8, 0);
  kiln__writer_t file;
  BUILD(spec, file);
  kiln_device_t* device = NULL;
  kiln_status_t status = fake_device(90, &device);
  if (status) kiln__writer_deinit(&file);
  ASSERT_OK(status);
  kiln_const_bytes_t bytes = {file.data, file.size};
  size_t host_failures = 0;
  for (size_t fail_at = 0;; ++fail_at) {
    kiln_test_allocator_t ta = kiln_test_allocator_failing_at(fail_at);
    kiln_engine_t* engine = NULL;
    status = kiln_engine_load(device, bytes, NULL, kiln_test_allocator_get(&ta),
                              &engine);
    if (!status) {
      kiln_engine_release(engine);
      if (ta.live != 0 || fake.modules_live != 0 || fake.mem_live != 0) break;
      break;
    }
    ++host_failures;
    if (kiln_status_code(status) != KILN_STATUS_RESOURCE_EXHAUSTED ||
        ta.live != 0 || fake.modules_live != 0 || fake.mem_live != 0) {
      kiln_test_fail(t_, __FILE__, __LINE__,
                     "failing allocation %zu: %s: %s; %zu blocks, %d modules "
                     "and %d device allocations live",
                     fail_at, kiln_status_code_name(kiln_status_code(status)),
                     kiln_status_message(status), ta.live, fake.modules_live,
                     fake.mem_live);
      kiln_status_free(status);
      kiln_device_release(device);
      kiln__writer_deinit(&file);
      return;
    }
    kiln_status_free(status);
  }
  // Device memory: the constants' allocation fails.
  fake.mem_alloc_calls = 0;
  fake.mem_alloc_fail_at = 0;
  kiln_engine_t* engine = NULL;
  kiln_status_t device_oom =
      kiln_engine_load(device, bytes, NULL, kiln_allocator_system(), &engine);
  int modules = fake.modules_live;
  kiln_device_release(device);
  kiln__writer_deinit(&file);
  ASSERT_TRUE(host_failures > 10);
  ASSERT_STATUS(device_oom, KILN_STATUS_RESOURCE_EXHAUSTED,
                "allocating 256 bytes for constants");
  ASSERT_EQ_I64(modules, 0);
  ASSERT_EQ_I64(fake.mem_live, 0);
  ASSERT_EQ_I64(fake.ctx_retained, 0);
}

TEST(runtime_context_create_allocation_failure_sweep) {
  kiln_test_engine_spec_t spec = kiln_test_engine_spec_default();
  spec.two_layers = true;
  rig_t rig;
  RIG_OPEN(spec, 90, NULL, rig);
  int base_live = fake.mem_live;  // x and y
  size_t host_failures = 0;
  for (size_t fail_at = 0;; ++fail_at) {
    kiln_test_allocator_t ta = kiln_test_allocator_failing_at(fail_at);
    kiln_context_t* context = NULL;
    kiln_status_t status =
        kiln_context_create(rig.engine, kiln_test_allocator_get(&ta), &context);
    if (!status) {
      // A context made with the failing allocator must run too.
      status =
          kiln_context_set_input_shape(context, "x", 1, (const int64_t[]){10});
      if (!status) {
        status = kiln_context_set_tensor_address(context, "x", rig.x);
      }
      if (!status) {
        status = kiln_context_set_tensor_address(context, "y", rig.y);
      }
      if (!status) status = kiln_context_enqueue(context, NULL);
      kiln_context_destroy(context);
      if (status) rig_close(&rig);
      ASSERT_OK(status);
      break;
    }
    ++host_failures;
    if (kiln_status_code(status) != KILN_STATUS_RESOURCE_EXHAUSTED ||
        ta.live != 0 || fake.mem_live != base_live) {
      kiln_test_fail(t_, __FILE__, __LINE__, "failing allocation %zu: %s: %s",
                     fail_at, kiln_status_code_name(kiln_status_code(status)),
                     kiln_status_message(status));
      kiln_status_free(status);
      rig_close(&rig);
      return;
    }
    kiln_status_free(status);
  }
  // The activation arena cannot be allocated on the device.
  fake.mem_alloc_calls = 0;
  fake.mem_alloc_fail_at = 0;
  kiln_context_t* context = NULL;
  kiln_status_t device_oom =
      kiln_context_create(rig.engine, kiln_allocator_system(), &context);
  int live = fake.mem_live;
  fake.mem_alloc_fail_at = SIZE_MAX;
  rig_close(&rig);
  ASSERT_TRUE(host_failures >= 2);
  ASSERT_STATUS(device_oom, KILN_STATUS_RESOURCE_EXHAUSTED,
                "allocating the activation arena of 8388608 bytes");
  ASSERT_EQ_I64(live, base_live);
  ASSERT_EQ_I64(fake.mem_live, 0);
}

//===----------------------------------------------------------------------===//
// Size tensors: data-dependent output shapes
//===----------------------------------------------------------------------===//

// size_tensor_test.c: x [n in 1..4096] -> test::nonzero "nz" -> values int32
// [s2], count (tensor 2; |count_dtype|), upper bound n.
kiln_status_t kiln_test_build_nonzero_engine(bool count_is_output,
                                             kiln_dtype_t count_dtype,
                                             kiln_blob_t** out_engine);

static int fake_dtoh_async_calls;

static kiln__cu_result_t fake_dtoh_async(void* dst, kiln__cu_deviceptr_t src,
                                         size_t n, kiln__cu_stream_t stream) {
  (void)stream;
  ++fake_dtoh_async_calls;
  memcpy(dst, (const void*)(uintptr_t)src, n);
  return KILN_CUDA_SUCCESS;
}

typedef struct dds_rig_t {
  kiln_device_t* device;
  kiln_engine_t* engine;
  kiln_context_t* context;
  uint64_t x, values, count;
  bool count_is_output;
  kiln_dtype_t count_dtype;
} dds_rig_t;

static kiln_status_t dds_open(bool count_is_output, kiln_dtype_t count_dtype,
                              bool graphs, dds_rig_t* r) {
  memset(r, 0, sizeof(*r));
  r->count_is_output = count_is_output;
  r->count_dtype = count_dtype;
  kiln_blob_t* bytes = NULL;
  kiln_status_t s =
      kiln_test_build_nonzero_engine(count_is_output, count_dtype, &bytes);
  if (!s) s = fake_device(90, &r->device);
  if (!s) {
    if (graphs) fake_enable_graphs(true);
    fake_driver.cuMemcpyDtoHAsync = fake_dtoh_async;
    fake_dtoh_async_calls = 0;
    s = kiln_engine_load(r->device, kiln_blob_bytes(bytes), NULL,
                         kiln_allocator_system(), &r->engine);
  }
  kiln_blob_destroy(bytes);
  if (!s) {
    s = kiln_context_create(r->engine, kiln_allocator_system(), &r->context);
  }
  if (!s) s = kiln_device_malloc(r->device, 4096 * 4, &r->x);
  if (!s) s = kiln_device_malloc(r->device, 4096 * 4, &r->values);
  if (!s) s = kiln_device_malloc(r->device, 8, &r->count);
  return s;
}

static void dds_close(dds_rig_t* r) {
  if (r->device) {
    kiln_status_free(kiln_device_free(r->device, r->x));
    kiln_status_free(kiln_device_free(r->device, r->values));
    kiln_status_free(kiln_device_free(r->device, r->count));
  }
  kiln_context_destroy(r->context);
  kiln_engine_release(r->engine);
  kiln_device_release(r->device);
}

// What the kernel would do: writes |value| into the count (where the
// context keeps it when it is internal).
static void dds_write_count(const dds_rig_t* r, int64_t value) {
  uint64_t address = r->count_is_output ? r->count : r->context->addresses[2];
  if (r->count_dtype == KILN_DTYPE_INT32) {
    int32_t v = (int32_t)value;
    memcpy((void*)(uintptr_t)address, &v, sizeof(v));
  } else {
    memcpy((void*)(uintptr_t)address, &value, sizeof(value));
  }
}

TEST(runtime_size_tensor_io_info_and_bounds) {
  dds_rig_t r;
  kiln_status_t s = dds_open(true, KILN_DTYPE_INT64, false, &r);
  kiln_io_info_t values, count;
  memset(&values, 0, sizeof(values));
  memset(&count, 0, sizeof(count));
  if (!s) s = kiln_engine_io_info(r.engine, 1, &values);
  if (!s) s = kiln_engine_io_info(r.engine, 2, &count);
  int64_t n = 100;
  if (!s) s = kiln_context_set_input_shape(r.context, "x", 1, &n);
  int32_t rank = 0;
  int64_t dims[KILN_MAX_RANK] = {0};
  if (!s) s = kiln_context_get_shape(r.context, "values", &rank, dims);
  uint64_t values_bytes = 0, count_bytes = 0;
  if (!s) {
    s = kiln_context_get_max_output_size(r.context, "values", &values_bytes);
  }
  if (!s) {
    s = kiln_context_get_max_output_size(r.context, "count", &count_bytes);
  }
  uint64_t unused = 0;
  kiln_status_t s_input =
      kiln_context_get_max_output_size(r.context, "x", &unused);
  int32_t early_rank = 0;
  int64_t early_dims[KILN_MAX_RANK];
  kiln_status_t s_early = kiln_context_read_output_shape(
      r.context, "values", NULL, &early_rank, early_dims);
  // The names are borrowed from the engine: compare them before closing.
  bool names = !s && strcmp(values.name, "values") == 0 &&
               strcmp(count.name, "count") == 0;
  dds_close(&r);
  ASSERT_OK(s);
  ASSERT_TRUE(names);
  ASSERT_EQ_I64(values.dims[0], -1);
  ASSERT_EQ_U64(values.data_dependent_dims, 1);
  ASSERT_FALSE(values.is_size_tensor);
  ASSERT_TRUE(count.is_size_tensor);
  ASSERT_EQ_U64(count.data_dependent_dims, 0);
  ASSERT_EQ_I64(count.rank, 0);
  // Before the run, the shape is (-1,) and the memory is the upper bound's.
  ASSERT_EQ_I64(rank, 1);
  ASSERT_EQ_I64(dims[0], -1);
  ASSERT_EQ_U64(values_bytes, 400);
  ASSERT_EQ_U64(count_bytes, 8);
  ASSERT_STATUS(s_input, KILN_STATUS_INVALID_ARGUMENT,
                "'x' is an input of the engine, not an output");
  ASSERT_STATUS(s_early, KILN_STATUS_FAILED_PRECONDITION,
                "output 'values' has a data-dependent shape, known only "
                "after an enqueue");
}

TEST(runtime_size_tensor_read_output_shape) {
  static const kiln_dtype_t dtypes[2] = {KILN_DTYPE_INT32, KILN_DTYPE_INT64};
  for (int variant = 0; variant < 8; ++variant) {
    bool count_is_output = variant & 1;
    kiln_dtype_t dtype = dtypes[(variant >> 1) & 1];
    bool graphs = variant & 4;
    dds_rig_t r;
    kiln_status_t s = dds_open(count_is_output, dtype, graphs, &r);
    int64_t n = 100;
    if (!s) s = kiln_context_set_input_shape(r.context, "x", 1, &n);
    if (!s) s = kiln_context_set_tensor_address(r.context, "x", r.x);
    if (!s) {
      s = kiln_context_set_tensor_address(r.context, "values", r.values);
    }
    if (!s && count_is_output) {
      s = kiln_context_set_tensor_address(r.context, "count", r.count);
    }
    int32_t rank = 0;
    int64_t dims[KILN_MAX_RANK] = {0};
    int64_t got[3] = {-2, -2, -2};
    static const int64_t counts[3] = {37, 0, 100};
    for (int k = 0; k < 3 && !s; ++k) {
      s = kiln_context_enqueue(r.context, NULL);
      if (!s) dds_write_count(&r, counts[k]);
      if (!s) {
        s = kiln_context_read_output_shape(r.context, "values", NULL, &rank,
                                           dims);
      }
      got[k] = s ? -2 : dims[0];
    }
    // Above the bound, below 0.
    if (!s) dds_write_count(&r, 101);
    kiln_status_t above = s ? NULL
                            : kiln_context_read_output_shape(
                                  r.context, "values", NULL, &rank, dims);
    if (!s) dds_write_count(&r, -3);
    kiln_status_t below = s ? NULL
                            : kiln_context_read_output_shape(
                                  r.context, "values", NULL, &rank, dims);
    // A shape change asks for another enqueue first.
    n = 50;
    if (!s) s = kiln_context_set_input_shape(r.context, "x", 1, &n);
    kiln_status_t stale = s ? NULL
                            : kiln_context_read_output_shape(
                                  r.context, "values", NULL, &rank, dims);
    if (!s) s = kiln_context_enqueue(r.context, NULL);
    if (!s) dds_write_count(&r, 50);
    if (!s) {
      s = kiln_context_read_output_shape(r.context, "values", NULL, &rank,
                                         dims);
    }
    int64_t after = s ? -2 : dims[0];
    kiln__context_graph_stats_t stats = kiln__context_graph_stats(r.context);
    int copies = fake_dtoh_async_calls;
    dds_close(&r);
    ASSERT_OK(s);
    ASSERT_EQ_I64(got[0], 37);
    ASSERT_EQ_I64(got[1], 0);
    ASSERT_EQ_I64(got[2], 100);
    ASSERT_EQ_I64(after, 50);
    ASSERT_EQ_I64(copies, 6);
    // Graph warm-up: the first enqueue with each shape runs in stream mode.
    ASSERT_EQ_I64(stats.launches, graphs ? 2 : 0);
    char message[256];
    snprintf(message, sizeof(message),
             "layer 0 'nz' (plugin 'test::nonzero') wrote 101 to size "
             "tensor %s, above its upper bound 100 for the current input "
             "shapes; the shape of output 'values' is unknown",
             count_is_output ? "output 'count'" : "tensor 2");
    ASSERT_STATUS(above, KILN_STATUS_OUT_OF_RANGE, message);
    ASSERT_STATUS(below, KILN_STATUS_OUT_OF_RANGE, "wrote -3 to size tensor");
    ASSERT_STATUS(stale, KILN_STATUS_FAILED_PRECONDITION,
                  "call kiln_context_enqueue after the last change");
  }
}

// A driver error while reading the count is reported, naming the tensor.
static kiln__cu_result_t fake_dtoh_async_fails(void* dst,
                                               kiln__cu_deviceptr_t src,
                                               size_t n,
                                               kiln__cu_stream_t stream) {
  (void)dst;
  (void)src;
  (void)n;
  (void)stream;
  return KILN_CUDA_ERROR_INVALID_VALUE;
}

TEST(runtime_size_tensor_read_failure_names_the_tensor) {
  dds_rig_t r;
  kiln_status_t s = dds_open(true, KILN_DTYPE_INT32, false, &r);
  int64_t n = 10;
  if (!s) s = kiln_context_set_input_shape(r.context, "x", 1, &n);
  if (!s) s = kiln_context_set_tensor_address(r.context, "x", r.x);
  if (!s) s = kiln_context_set_tensor_address(r.context, "values", r.values);
  if (!s) s = kiln_context_set_tensor_address(r.context, "count", r.count);
  if (!s) s = kiln_context_enqueue(r.context, NULL);
  fake_driver.cuMemcpyDtoHAsync = fake_dtoh_async_fails;
  int32_t rank = 0;
  int64_t dims[KILN_MAX_RANK];
  kiln_status_t failed = s ? NULL
                           : kiln_context_read_output_shape(r.context, "values",
                                                            NULL, &rank, dims);
  // A static output needs no copy: the count itself.
  kiln_status_t count_shape =
      s ? NULL
        : kiln_context_read_output_shape(r.context, "count", NULL, &rank, dims);
  int32_t count_rank = rank;
  dds_close(&r);
  ASSERT_OK(s);
  ASSERT_STATUS(failed, KILN_STATUS_INVALID_ARGUMENT,
                "reading size tensor output 'count'");
  ASSERT_OK(count_shape);
  ASSERT_EQ_I64(count_rank, 0);
}
