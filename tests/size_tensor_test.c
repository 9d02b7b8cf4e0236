// Tests of size tensors (data-dependent output shapes) through the builder,
// the engine format and the description, without a GPU; and the example
// nonzero plugin on a GPU when there is one.
//
// The C test plugin "test::nonzero" mirrors example::nonzero with a
// hand-written kernel (so that builds need neither NVRTC nor a GPU): x [n]
// -> values [shape given by |dim_kind|], count (a size tensor s with opt
// n // 2 and upper bound n * upper_scale).

#include <stdio.h>
#include <stdlib.h>

#include "base/base.h"
#include "base/hash.h"
#include "engine/engine.h"
#include "example_plugins.h"
#include "test.h"

static const char kNonzeroPtx[] =
    ".version 8.0\n"
    ".target sm_75\n"
    ".address_size 64\n"
    ".visible .entry nonzero(\n"
    "  .param .u64 nonzero_param_0,\n"
    "  .param .u32 nonzero_param_1,\n"
    "  .param .u64 nonzero_param_2,\n"
    "  .param .u64 nonzero_param_3\n"
    ")\n"
    "{\n"
    "  ret;\n"
    "}\n";

typedef enum dim_kind_e {
  DIM_S = 0,              // [s]
  DIM_S_2 = 1,            // [s, 2]
  DIM_CDIV_S_4 = 2,       // [cdiv(s, 4)]
  DIM_N_MINUS_S = 3,      // [n - s]
  DIM_DIV_BY_N_5 = 4,     // [s // (n - 5)]: the divisor's range holds 0
  DIM_OVERFLOW = 5,       // [s * 2^51]: fine at opt, not at the bound
  DIM_LAUNCH_USES_S = 6,  // [s], and the grid is s
  DIM_OPT_ABOVE = 7,      // [s] with opt n + 1, above the upper bound
} dim_kind_t;

typedef struct nonzero_options_t {
  dim_kind_t dim_kind;
  kiln_dtype_t count_dtype;
  int64_t upper_scale;  // 0 means 1
} nonzero_options_t;

static kiln_status_t nonzero_describe(void* user_data,
                                      const kiln_describe_args_t* args,
                                      kiln_tensor_desc_t* outputs) {
  const nonzero_options_t* o = (const nonzero_options_t*)user_data;
  kiln_sym_table_t* t = args->sym;
  kiln_sym_t n = args->inputs[0].dims[0];
  kiln_sym_t upper = kiln_sym_mul(
      t, n, kiln_sym_const(t, o->upper_scale ? o->upper_scale : 1));
  kiln_sym_t opt = o->dim_kind == DIM_OPT_ABOVE
                       ? kiln_sym_add(t, n, kiln_sym_const(t, 1))
                       : kiln_sym_floor_div(t, n, kiln_sym_const(t, 2));
  kiln_sym_t s = kiln_sym_size_tensor(t, 1, opt, upper);
  kiln_sym_t dims[2] = {s, kiln_sym_const(t, 2)};
  int32_t rank = 1;
  switch (o->dim_kind) {
    case DIM_S_2:
      rank = 2;
      break;
    case DIM_CDIV_S_4:
      dims[0] = kiln_sym_ceil_div(t, s, kiln_sym_const(t, 4));
      break;
    case DIM_N_MINUS_S:
      dims[0] = kiln_sym_sub(t, n, s);
      break;
    case DIM_DIV_BY_N_5:
      dims[0] =
          kiln_sym_floor_div(t, s, kiln_sym_sub(t, n, kiln_sym_const(t, 5)));
      break;
    case DIM_OVERFLOW:
      dims[0] = kiln_sym_mul(t, s, kiln_sym_const(t, INT64_C(1) << 51));
      break;
    default:
      break;
  }
  if (!dims[0] || !dims[1]) return kiln_sym_table_take_error(t);
  outputs[0] = kiln_tensor_desc_make(KILN_DTYPE_INT32, rank, dims);
  outputs[1] = kiln_tensor_desc_make(o->count_dtype, 0, NULL);
  outputs[1].is_size_tensor = true;
  return NULL;
}

static kiln_status_t nonzero_aot(void* user_data, const kiln_aot_args_t* args,
                                 kiln_aot_result_t* out) {
  const nonzero_options_t* o = (const nonzero_options_t*)user_data;
  static kiln_extra_arg_t extra[1];
  static kiln_kernel_image_t image;
  extra[0].type = KILN_ARG_TYPE_INT32;
  extra[0].value = args->inputs[0].dims[0];
  image.kind = KILN_KERNEL_IMAGE_PTX;
  image.bytes.data = (const uint8_t*)kNonzeroPtx;
  image.bytes.size = sizeof(kNonzeroPtx);
  out->kernel_name = kiln_make_cstring_view("nonzero");
  out->images = &image;
  out->image_count = 1;
  out->extra_args = extra;
  out->extra_arg_count = 1;
  out->launch.block[0] = kiln_sym_const(args->sym, 1024);
  if (o->dim_kind == DIM_LAUNCH_USES_S) {
    out->launch.grid[0] = args->outputs[0].dims[0];
  }
  return NULL;
}

static kiln_plugin_def_t nonzero_def(const char* id,
                                     nonzero_options_t* options) {
  kiln_plugin_def_t def;
  memset(&def, 0, sizeof(def));
  def.abi_version = KILN_PLUGIN_ABI_VERSION;
  def.id = id;
  def.input_count = 1;
  def.output_count = 2;
  def.user_data = options;
  def.describe = nonzero_describe;
  def.aot_impl = nonzero_aot;
  return def;
}

// test::copy: y = x for any 1-D int32 or float32 tensor (the consumer).
static const char kCopyPtx[] =
    ".version 8.0\n"
    ".target sm_75\n"
    ".address_size 64\n"
    ".visible .entry copy(\n"
    "  .param .u64 copy_param_0,\n"
    "  .param .u64 copy_param_1\n"
    ")\n"
    "{\n"
    "  ret;\n"
    "}\n";

static kiln_status_t copy_describe(void* user_data,
                                   const kiln_describe_args_t* args,
                                   kiln_tensor_desc_t* outputs) {
  (void)user_data;
  outputs[0] = kiln_tensor_desc_like(&args->inputs[0]);
  return NULL;
}

static kiln_status_t copy_aot(void* user_data, const kiln_aot_args_t* args,
                              kiln_aot_result_t* out) {
  (void)user_data;
  (void)args;
  static kiln_kernel_image_t image;
  image.kind = KILN_KERNEL_IMAGE_PTX;
  image.bytes.data = (const uint8_t*)kCopyPtx;
  image.bytes.size = sizeof(kCopyPtx);
  out->kernel_name = kiln_make_cstring_view("copy");
  out->images = &image;
  out->image_count = 1;
  return NULL;
}

static kiln_plugin_def_t copy_def(void) {
  kiln_plugin_def_t def;
  memset(&def, 0, sizeof(def));
  def.abi_version = KILN_PLUGIN_ABI_VERSION;
  def.id = "test::copy";
  def.input_count = 1;
  def.output_count = 1;
  def.describe = copy_describe;
  def.aot_impl = copy_aot;
  return def;
}

// What a test network looks like.
typedef struct network_spec_t {
  const char* plugin_id;  // the nonzero plugin
  bool count_is_output;   // mark "count" as an output
  bool consume_values;    // values -> test::copy -> "copied"
  bool later_internal;    // x -> copy -> t -> copy -> "y" after nonzero
  int64_t min_n, opt_n, max_n;
} network_spec_t;

// Builds the network of |spec| into |*out_engine| (registry with both
// nonzero options and test::copy made by the caller).
static kiln_status_t build_network_with(kiln_registry_t* registry,
                                        const network_spec_t* spec,
                                        kiln_allocator_t a,
                                        kiln_blob_t** out_engine) {
  kiln_network_t* net = NULL;
  kiln_build_config_t* cfg = NULL;
  uint32_t x = 0, layer = 0, values = 0, count = 0;
  int64_t dims[1] = {-1};
  kiln_status_t s = kiln_network_create(registry, a, &net);
  if (!s) s = kiln_network_add_input(net, "x", KILN_DTYPE_FLOAT32, 1, dims, &x);
  if (!s) {
    s = kiln_network_add_plugin(net, "nz", spec->plugin_id, &x, 1, NULL,
                                KILN_LAYER_MODE_AOT, &layer);
  }
  if (!s) s = kiln_network_layer_output(net, layer, 0, &values);
  if (!s) s = kiln_network_layer_output(net, layer, 1, &count);
  if (!s) s = kiln_network_mark_output(net, values, "values");
  if (!s && spec->count_is_output) {
    s = kiln_network_mark_output(net, count, "count");
  }
  if (!s && spec->consume_values) {
    uint32_t copy = 0, copied = 0;
    s = kiln_network_add_plugin(net, "consumer", "test::copy", &values, 1, NULL,
                                KILN_LAYER_MODE_AOT, &copy);
    if (!s) s = kiln_network_layer_output(net, copy, 0, &copied);
    if (!s) s = kiln_network_mark_output(net, copied, "copied");
  }
  if (!s && spec->later_internal) {
    uint32_t l1 = 0, l2 = 0, t = 0, y = 0;
    s = kiln_network_add_plugin(net, "c1", "test::copy", &x, 1, NULL,
                                KILN_LAYER_MODE_AOT, &l1);
    if (!s) s = kiln_network_layer_output(net, l1, 0, &t);
    if (!s) {
      s = kiln_network_add_plugin(net, "c2", "test::copy", &t, 1, NULL,
                                  KILN_LAYER_MODE_AOT, &l2);
    }
    if (!s) s = kiln_network_layer_output(net, l2, 0, &y);
    if (!s) s = kiln_network_mark_output(net, y, "y");
  }
  uint32_t p = 0;
  int64_t lo[1] = {spec->min_n}, opt[1] = {spec->opt_n}, hi[1] = {spec->max_n};
  if (!s) s = kiln_build_config_create(a, &cfg);
  if (!s) s = kiln_build_config_add_profile(cfg, &p);
  if (!s) s = kiln_build_config_set_shape(cfg, p, "x", 1, lo, opt, hi);
  if (!s) s = kiln_build_config_set_targets(cfg, NULL, 0);
  if (!s) s = kiln_build(net, cfg, a, out_engine);
  kiln_build_config_destroy(cfg);
  kiln_network_destroy(net);
  return s;
}

static kiln_status_t build_network(kiln_registry_t* registry,
                                   const network_spec_t* spec,
                                   kiln_blob_t** out_engine) {
  return build_network_with(registry, spec, kiln_allocator_system(),
                            out_engine);
}

static network_spec_t default_spec(const char* plugin_id) {
  network_spec_t spec;
  memset(&spec, 0, sizeof(spec));
  spec.plugin_id = plugin_id;
  spec.count_is_output = true;
  spec.min_n = 1;
  spec.opt_n = 1024;
  spec.max_n = 4096;
  return spec;
}

// A registry with test::copy and test::nonzero made with |options|.
static kiln_status_t make_registry_with(nonzero_options_t* options,
                                        kiln_allocator_t allocator,
                                        kiln_registry_t** out_registry) {
  *out_registry = NULL;
  kiln_registry_t* registry = NULL;
  KILN_RETURN_IF_ERROR(kiln_registry_create(allocator, NULL, &registry));
  kiln_plugin_def_t nz = nonzero_def("test::nonzero", options);
  kiln_plugin_def_t cp = copy_def();
  kiln_status_t s = kiln_registry_register(registry, &nz, NULL);
  if (!s) s = kiln_registry_register(registry, &cp, NULL);
  if (s) {
    kiln_registry_release(registry);
    return s;
  }
  *out_registry = registry;
  return NULL;
}

static kiln_status_t make_registry(nonzero_options_t* options,
                                   kiln_registry_t** out_registry) {
  return make_registry_with(options, kiln_allocator_system(), out_registry);
}

// For runtime_test.c: an engine x [n in 1..4096] -> test::nonzero ->
// values int32 [s], count (|count_dtype|; an output when |count_is_output|,
// else internal), kernel nonzero(x, n, values, count) with PTX for sm_75.
kiln_status_t kiln_test_build_nonzero_engine(bool count_is_output,
                                             kiln_dtype_t count_dtype,
                                             kiln_blob_t** out_engine);
kiln_status_t kiln_test_build_nonzero_engine(bool count_is_output,
                                             kiln_dtype_t count_dtype,
                                             kiln_blob_t** out_engine) {
  nonzero_options_t options = {DIM_S, count_dtype, 1};
  kiln_registry_t* registry = NULL;
  KILN_RETURN_IF_ERROR(make_registry(&options, &registry));
  network_spec_t spec = default_spec("test::nonzero");
  spec.count_is_output = count_is_output;
  kiln_status_t s = build_network(registry, &spec, out_engine);
  kiln_registry_release(registry);
  return s;
}

// Builds |spec| with |options| and reads the plan back.
typedef struct built_t {
  kiln_blob_t* engine;
  kiln__plan_t* plan;
} built_t;

static kiln_status_t build_and_read(nonzero_options_t options,
                                    network_spec_t spec, built_t* out) {
  memset(out, 0, sizeof(*out));
  kiln_registry_t* registry = NULL;
  KILN_RETURN_IF_ERROR(make_registry(&options, &registry));
  kiln_status_t s = build_network(registry, &spec, &out->engine);
  kiln_registry_release(registry);
  if (!s) {
    s = kiln__engine_read(kiln_blob_bytes(out->engine), kiln_allocator_system(),
                          &out->plan);
  }
  return s;
}

static void built_free(built_t* b) {
  kiln__plan_destroy(b->plan);
  kiln_blob_destroy(b->engine);
}

static kiln_status_t describe(const built_t* b, bool json, char** out_text) {
  kiln_blob_t* blob = NULL;
  KILN_RETURN_IF_ERROR(kiln_engine_describe(kiln_blob_bytes(b->engine), json,
                                            kiln_allocator_system(), &blob));
  kiln_const_bytes_t bytes = kiln_blob_bytes(blob);
  *out_text = malloc(bytes.size + 1);
  if (*out_text) memcpy(*out_text, bytes.data, bytes.size + 1);
  kiln_blob_destroy(blob);
  return NULL;
}

//===----------------------------------------------------------------------===//
// Building
//===----------------------------------------------------------------------===//

TEST(size_tensor_build_plans_upper_bound) {
  built_t b;
  nonzero_options_t options = {DIM_S, KILN_DTYPE_INT32, 1};
  ASSERT_OK(build_and_read(options, default_spec("test::nonzero"), &b));
  const kiln__plan_t* plan = b.plan;
  // Tensors: x 0, values 1, count 2.
  ASSERT_EQ_U64(plan->tensor_count, 3);
  ASSERT_EQ_U64(plan->tensors[2].is_size_tensor, 1);
  ASSERT_EQ_U64(plan->tensors[1].is_size_tensor, 0);
  ASSERT_EQ_U64(plan->tensors[2].rank, 0);
  ASSERT_EQ_U64(plan->tensors[2].max_bytes, 4);
  // values [s2]: the placeholder names tensor 2, and memory is planned for
  // the upper bound at the profile's maximum.
  kiln_sym_info_t info =
      kiln_sym_get_info(plan->exprs[plan->tensors[1].dims[0]]);
  ASSERT_EQ_I64(info.op, KILN_SYM_OP_SIZE_TENSOR);
  ASSERT_EQ_U64(info.index, 2);
  ASSERT_EQ_U64(plan->tensors[1].max_bytes, 4096 * 4);
  // The description marks the data-dependent dimension and its bound.
  char* text = NULL;
  ASSERT_OK(describe(&b, false, &text));
  ASSERT_TRUE(text != NULL);
  bool ok =
      strstr(text,
             "\"values\": int32 LINEAR [s2] (tensor 1), "
             "data-dependent: dim 0 <= 4096") &&
      strstr(text,
             "size tensors (1):\n  s2 = \"count\" (tensor 2): "
             "int32, computed by layer 0, an output") &&
      strstr(text, "\"count\": int32 LINEAR [] (tensor 2), size tensor s2");
  if (!ok) {
    printf("%s", text);
    free(text);
    FAIL("the description lacks the size tensor lines");
  }
  free(text);
  ASSERT_OK(describe(&b, true, &text));
  ok = strstr(text,
              "\"dims\": [\"s2\"], \"data_dependent\": [{\"dim\": 0, "
              "\"max\": 4096}]") &&
       strstr(text, "\"size_tensor\": \"s2\"");
  if (!ok) {
    printf("%s", text);
    free(text);
    FAIL("the JSON description lacks the size tensor fields");
  }
  free(text);
  built_free(&b);

  // [s, 2] with an int64 count and an upper bound of 3n.
  options.dim_kind = DIM_S_2;
  options.count_dtype = KILN_DTYPE_INT64;
  options.upper_scale = 3;
  ASSERT_OK(build_and_read(options, default_spec("test::nonzero"), &b));
  ASSERT_EQ_U64(b.plan->tensors[1].max_bytes, 3 * 4096 * 2 * 4);
  ASSERT_EQ_U64(b.plan->tensors[2].max_bytes, 8);
  ASSERT_EQ_U64(b.plan->tensors[2].dtype, KILN_DTYPE_INT64);
  built_free(&b);
}

TEST(size_tensor_build_bound_arithmetic) {
  static const struct {
    dim_kind_t kind;
    uint64_t max_bytes;
  } cases[] = {
      {DIM_CDIV_S_4, 1024 * 4},   // cdiv(s, 4) <= cdiv(4096, 4)
      {DIM_N_MINUS_S, 4096 * 4},  // n - s <= max(n) - 0
  };
  for (size_t i = 0; i < KILN_ARRAYSIZE(cases); ++i) {
    built_t b;
    nonzero_options_t options = {cases[i].kind, KILN_DTYPE_INT32, 1};
    ASSERT_OK(build_and_read(options, default_spec("test::nonzero"), &b));
    uint64_t got = b.plan->tensors[1].max_bytes;
    built_free(&b);
    ASSERT_EQ_U64(got, cases[i].max_bytes);
  }
}

TEST(size_tensor_build_refusals_name_the_culprit) {
  static const struct {
    dim_kind_t kind;
    bool consume;
    kiln_status_code_t code;
    const char* message;
  } cases[] = {
      {DIM_DIV_BY_N_5, false, KILN_STATUS_OUT_OF_RANGE,
       "layer 0 'nz' (plugin 'test::nonzero'): data-dependent tensor 1 "
       "'values' over the min..max shapes of profile 0: dimension 0: cannot "
       "bound s2 // (in0[0] - 5): the divisor in0[0] - 5 ranges over [-4, "
       "4091], which contains 0"},
      {DIM_OVERFLOW, false, KILN_STATUS_OUT_OF_RANGE,
       "prod of operands in [0, 4096] and [2251799813685248, "
       "2251799813685248] overflows int64"},
      {DIM_OPT_ABOVE, false, KILN_STATUS_INVALID_ARGUMENT,
       "layer 0 'nz' (plugin 'test::nonzero'): data-dependent tensor 1 "
       "'values' at the opt shapes of profile 0: tensor 2 'count', a size "
       "tensor, has the opt value 1025, outside [0, 1024] (0 to its upper "
       "bound)"},
      {DIM_LAUNCH_USES_S, false, KILN_STATUS_UNIMPLEMENTED,
       "launch parameter grid_x depends on a size tensor"},
      {DIM_S, true, KILN_STATUS_UNIMPLEMENTED,
       "layer 1 'consumer' (plugin 'test::copy'): input 0 is tensor 1 "
       "'values' (output 0 of layer 0), whose dimension 0 depends on the "
       "value of a size tensor (a data-dependent shape); only network "
       "outputs may have data-dependent shapes in an AOT engine"},
  };
  for (size_t i = 0; i < KILN_ARRAYSIZE(cases); ++i) {
    nonzero_options_t options = {cases[i].kind, KILN_DTYPE_INT32, 1};
    network_spec_t spec = default_spec("test::nonzero");
    spec.consume_values = cases[i].consume;
    built_t b;
    kiln_status_t s = build_and_read(options, spec, &b);
    built_free(&b);
    ASSERT_STATUS(s, cases[i].code, cases[i].message);
  }
}

// An internal size tensor stays allocated to the end of the engine: later
// internal activations do not reuse its memory.
TEST(size_tensor_build_internal_size_tensor_stays_live) {
  built_t b;
  nonzero_options_t options = {DIM_S, KILN_DTYPE_INT32, 1};
  network_spec_t spec = default_spec("test::nonzero");
  spec.count_is_output = false;
  spec.later_internal = true;
  ASSERT_OK(build_and_read(options, spec, &b));
  const kiln__plan_t* plan = b.plan;
  // Tensors: x 0, values 1, count 2, t 3, y 4.
  const kiln__plan_tensor_t* count = &plan->tensors[2];
  const kiln__plan_tensor_t* t = &plan->tensors[3];
  ASSERT_EQ_U64(count->is_size_tensor, 1);
  ASSERT_EQ_U64(count->is_output, 0);
  bool in_arena =
      count->arena_offset != UINT64_MAX && t->arena_offset != UINT64_MAX;
  bool disjoint = count->arena_offset + count->max_bytes <= t->arena_offset ||
                  t->arena_offset + t->max_bytes <= count->arena_offset;
  built_free(&b);
  ASSERT_TRUE(in_arena);
  ASSERT_TRUE(disjoint);
}

// Building, reading and describing an engine with size tensors under
// allocation failure: every failure is RESOURCE_EXHAUSTED and nothing leaks.
TEST(size_tensor_build_and_read_oom_sweep) {
  nonzero_options_t options = {DIM_S_2, KILN_DTYPE_INT64, 1};
  network_spec_t spec = default_spec("test::nonzero");
  spec.count_is_output = false;
  for (size_t fail_at = 0;; ++fail_at) {
    kiln_test_allocator_t ta = kiln_test_allocator_failing_at(fail_at);
    kiln_allocator_t a = kiln_test_allocator_get(&ta);
    kiln_registry_t* registry = NULL;
    kiln_blob_t* engine = NULL;
    kiln__plan_t* plan = NULL;
    kiln_blob_t* text = NULL;
    kiln_status_t s = make_registry_with(&options, a, &registry);
    if (!s) s = build_network_with(registry, &spec, a, &engine);
    if (!s) s = kiln__engine_read(kiln_blob_bytes(engine), a, &plan);
    if (!s) s = kiln_engine_describe(kiln_blob_bytes(engine), true, a, &text);
    kiln_blob_destroy(text);
    kiln__plan_destroy(plan);
    kiln_blob_destroy(engine);
    kiln_registry_release(registry);
    ASSERT_EQ_U64(ta.live, 0);
    if (!s) break;
    if (kiln_status_code(s) != KILN_STATUS_RESOURCE_EXHAUSTED) {
      FAIL("fail_at %zu: expected RESOURCE_EXHAUSTED, got %s: %s", fail_at,
           kiln_status_code_name(kiln_status_code(s)), kiln_status_message(s));
    }
    kiln_status_free(s);
    ASSERT_TRUE(fail_at < 5000);
  }
}

//===----------------------------------------------------------------------===//
// The engine format
//===----------------------------------------------------------------------===//

// Recomputes the section, table and header checksums of an engine file.
static void fix_checksums(uint8_t* d) {
  uint32_t count = kiln__le_u32(d + KILN__HEADER_OFF_SECTION_COUNT);
  for (uint32_t i = 0; i < count; ++i) {
    uint8_t* e = d + KILN__HEADER_SIZE + i * KILN__SECTION_ENTRY_SIZE;
    uint64_t offset = kiln__le_u64(e + KILN__SECTION_OFF_OFFSET);
    uint64_t size = kiln__le_u64(e + KILN__SECTION_OFF_SIZE);
    kiln__le_put_u32(e + KILN__SECTION_OFF_CRC,
                     kiln__crc32c(0, d + offset, (size_t)size));
  }
  kiln__le_put_u32(
      d + KILN__HEADER_OFF_TABLE_CRC,
      kiln__crc32c(0, d + KILN__HEADER_SIZE, count * KILN__SECTION_ENTRY_SIZE));
  kiln__le_put_u32(d + KILN__HEADER_OFF_HEADER_CRC,
                   kiln__crc32c(0, d, KILN__HEADER_OFF_HEADER_CRC));
}

// The table entry of section |id|.
static uint8_t* section_entry(uint8_t* d, uint32_t id) {
  uint32_t count = kiln__le_u32(d + KILN__HEADER_OFF_SECTION_COUNT);
  for (uint32_t i = 0; i < count; ++i) {
    uint8_t* e = d + KILN__HEADER_SIZE + i * KILN__SECTION_ENTRY_SIZE;
    if (kiln__le_u32(e + KILN__SECTION_OFF_ID) == id) return e;
  }
  return NULL;
}

static kiln_status_t read_copy(const uint8_t* d, size_t n) {
  kiln_const_bytes_t bytes = {d, n};
  kiln__plan_t* plan = NULL;
  kiln_status_t s = kiln__engine_read(bytes, kiln_allocator_system(), &plan);
  kiln__plan_destroy(plan);
  return s;
}

TEST(size_tensor_format_round_trip_and_rejections) {
  built_t b;
  nonzero_options_t options = {DIM_S_2, KILN_DTYPE_INT64, 1};
  ASSERT_OK(build_and_read(options, default_spec("test::nonzero"), &b));
  kiln_const_bytes_t file = kiln_blob_bytes(b.engine);
  // Writing the read plan gives the same bytes.
  kiln__writer_t w;
  kiln__writer_init(&w, kiln_allocator_system());
  ASSERT_OK(kiln__engine_write(b.plan, &w));
  bool same = w.size == file.size && memcmp(w.data, file.data, w.size) == 0;
  kiln__writer_deinit(&w);
  ASSERT_TRUE(same);
  // Format 1.1, SIZE_TENSORS = {2}, MUST_UNDERSTAND.
  uint8_t* d = malloc(file.size);
  ASSERT_TRUE(d != NULL);
  memcpy(d, file.data, file.size);
  ASSERT_EQ_U64(kiln__le_u16(d + KILN__HEADER_OFF_MINOR), 1);
  uint8_t* entry = section_entry(d, KILN__SECTION_SIZE_TENSORS);
  ASSERT_TRUE(entry != NULL);
  uint64_t offset = kiln__le_u64(entry + KILN__SECTION_OFF_OFFSET);
  ASSERT_EQ_U64(kiln__le_u32(entry + KILN__SECTION_OFF_COUNT), 1);
  ASSERT_EQ_U64(kiln__le_u32(entry + KILN__SECTION_OFF_FLAGS),
                KILN__SECTION_FLAG_MUST_UNDERSTAND);
  ASSERT_EQ_U64(kiln__le_u32(d + offset), 2);

  // Without MUST_UNDERSTAND: not canonical.
  kiln__le_put_u32(entry + KILN__SECTION_OFF_FLAGS, 0);
  fix_checksums(d);
  kiln_status_t no_flag = read_copy(d, file.size);
  kiln__le_put_u32(entry + KILN__SECTION_OFF_FLAGS,
                   KILN__SECTION_FLAG_MUST_UNDERSTAND);
  // The list names the input x: not a size tensor's kind.
  kiln__le_put_u32(d + offset, 0);
  fix_checksums(d);
  kiln_status_t input = read_copy(d, file.size);
  // ... a tensor past the count.
  kiln__le_put_u32(d + offset, 9);
  fix_checksums(d);
  kiln_status_t past = read_copy(d, file.size);
  // ... values: rank 2.
  kiln__le_put_u32(d + offset, 1);
  fix_checksums(d);
  kiln_status_t rank = read_copy(d, file.size);
  // An empty list: the placeholder s2 names no size tensor of the engine.
  kiln__le_put_u32(d + offset, 0);
  kiln__le_put_u32(entry + KILN__SECTION_OFF_COUNT, 0);
  kiln__le_put_u64(entry + KILN__SECTION_OFF_SIZE, 0);
  kiln__le_put_u32(entry + KILN__SECTION_OFF_FLAGS, 0);
  fix_checksums(d);
  kiln_status_t unlisted = read_copy(d, file.size);
  uint64_t exprs_at = kiln__le_u64(section_entry(d, KILN__SECTION_EXPRS) +
                                   KILN__SECTION_OFF_OFFSET);
  free(d);
  char input_message[128], unlisted_message[96];
  snprintf(input_message, sizeof(input_message),
           "engine byte %" PRIu64
           ": size tensor 0 is an input; size tensors are activations",
           offset);
  snprintf(unlisted_message, sizeof(unlisted_message),
           "engine byte %" PRIu64 ": expression ", exprs_at);
  ASSERT_STATUS(no_flag, KILN_STATUS_DATA_LOSS,
                "flags 0x00000000 are not 0x00000001");
  ASSERT_STATUS(input, KILN_STATUS_DATA_LOSS, input_message);
  ASSERT_STATUS(past, KILN_STATUS_DATA_LOSS,
                "size tensor 0 is tensor 9, but there are 3 tensors");
  ASSERT_STATUS(rank, KILN_STATUS_DATA_LOSS,
                "size tensor 1 has rank 2 and dtype int32; a size tensor is a "
                "rank-0 int32 or int64");
  const char* why = kiln_status_message(unlisted);
  bool named = strstr(why, unlisted_message) &&
               strstr(why,
                      "uses size tensor s2, but tensor 2 is not a size "
                      "tensor of the engine");
  ASSERT_STATUS(unlisted, KILN_STATUS_DATA_LOSS, "");
  if (!named) FAIL("the message does not name the placeholder's byte");
  built_free(&b);
}

//===----------------------------------------------------------------------===//
// example::nonzero on a GPU
//===----------------------------------------------------------------------===//

// x[i] for pattern 0 (all zero), 1 (none zero) and 2 (about a third non-zero,
// with -0.0 counted as zero).
static float pattern_value(int pattern, int64_t i) {
  if (pattern == 0) return 0.0f;
  if (pattern == 1) return (float)(i % 7) + 0.5f;
  uint64_t h = (uint64_t)i * UINT64_C(0x9e3779b97f4a7c15);
  if ((h >> 60) % 3 != 0) return (h >> 59) & 1 ? -0.0f : 0.0f;
  return (float)(int64_t)(h >> 58) - 31.5f;
}

typedef struct gpu_run_t {
  kiln_device_t* device;
  kiln_context_t* context;
  void* stream;
  kiln_dtype_t count_dtype;
} gpu_run_t;

// Runs the context on |n| elements of |pattern| and checks the indices and
// the count against the CPU. Returns the failure as a status.
static kiln_status_t gpu_check(const gpu_run_t* g, int64_t n, int pattern) {
  size_t x_bytes = (size_t)n * 4;
  float* host_x = malloc(x_bytes ? x_bytes : 1);
  int32_t* want = malloc(x_bytes ? x_bytes : 1);
  int32_t* got = malloc(x_bytes ? x_bytes : 1);
  uint64_t x = 0, indices = 0, count = 0;
  kiln_status_t s = NULL;
  if (!host_x || !want || !got) {
    s = kiln_make_status(KILN_STATUS_RESOURCE_EXHAUSTED, "host memory");
  }
  int64_t expected = 0;
  for (int64_t i = 0; !s && i < n; ++i) {
    host_x[i] = pattern_value(pattern, i);
    if (host_x[i] != 0.0f) want[expected++] = (int32_t)i;
  }
  int64_t dims[1] = {n};
  if (!s) s = kiln_context_set_input_shape(g->context, "x", 1, dims);
  int32_t rank = 0;
  int64_t before[KILN_MAX_RANK];
  if (!s) s = kiln_context_get_shape(g->context, "indices", &rank, before);
  if (!s && (rank != 1 || before[0] != -1)) {
    s = kiln_make_status(KILN_STATUS_INTERNAL,
                         "before the run the shape is not (-1,)");
  }
  uint64_t max_bytes = 0;
  if (!s) {
    s = kiln_context_get_max_output_size(g->context, "indices", &max_bytes);
  }
  if (!s && max_bytes != x_bytes) {
    s = kiln_make_status(KILN_STATUS_INTERNAL,
                         "max output size %" PRIu64 " for n %" PRId64,
                         max_bytes, n);
  }
  if (!s) s = kiln_device_malloc(g->device, x_bytes ? x_bytes : 4, &x);
  if (!s) s = kiln_device_malloc(g->device, x_bytes ? x_bytes : 4, &indices);
  if (!s) s = kiln_device_malloc(g->device, 8, &count);
  if (!s && x_bytes) {
    s = kiln_device_copy_to_device(g->device, x, host_x, x_bytes);
  }
  // Poison the outputs: the kernel must write what it reports, no more.
  if (!s)
    s = kiln_device_memset(g->device, indices, 0xab, x_bytes ? x_bytes : 4);
  if (!s) s = kiln_device_memset(g->device, count, 0xab, 8);
  if (!s) s = kiln_context_set_tensor_address(g->context, "x", x);
  if (!s) s = kiln_context_set_tensor_address(g->context, "indices", indices);
  if (!s) s = kiln_context_set_tensor_address(g->context, "count", count);
  int64_t shape[KILN_MAX_RANK];
  for (int run = 0; run < 2 && !s; ++run) {  // the second replays in graphs
    s = kiln_context_enqueue(g->context, g->stream);
    if (!s) {
      s = kiln_context_read_output_shape(g->context, "indices", g->stream,
                                         &rank, shape);
    }
    if (!s && (rank != 1 || shape[0] != expected)) {
      s = kiln_make_status(KILN_STATUS_INTERNAL,
                           "n %" PRId64 " pattern %d: %" PRId64
                           " indices, the CPU finds %" PRId64,
                           n, pattern, shape[0], expected);
    }
  }
  if (!s && expected) {
    s = kiln_device_copy_to_host(g->device, got, indices, (size_t)expected * 4);
  }
  for (int64_t i = 0; !s && i < expected; ++i) {
    if (got[i] != want[i]) {
      s = kiln_make_status(KILN_STATUS_INTERNAL,
                           "n %" PRId64 " pattern %d: index %" PRId64
                           " is %d, the CPU says %d",
                           n, pattern, i, got[i], want[i]);
    }
  }
  uint8_t count_bytes[8];
  if (!s) s = kiln_device_copy_to_host(g->device, count_bytes, count, 8);
  if (!s) {
    int64_t value;
    if (g->count_dtype == KILN_DTYPE_INT32) {
      int32_t v32;
      memcpy(&v32, count_bytes, 4);
      value = v32;
    } else {
      memcpy(&value, count_bytes, 8);
    }
    if (value != expected) {
      s = kiln_make_status(KILN_STATUS_INTERNAL,
                           "n %" PRId64 " pattern %d: count %" PRId64
                           ", the CPU says %" PRId64,
                           n, pattern, value, expected);
    }
  }
  uint64_t addresses[3] = {x, indices, count};
  for (int i = 0; i < 3; ++i) {
    if (addresses[i]) {
      s = kiln_status_join(s, kiln_device_free(g->device, addresses[i]));
    }
  }
  free(host_x);
  free(want);
  free(got);
  return s;
}

// Builds x -> example::nonzero (count_dtype |count_dtype|) for n in
// [0, 8192]; with |sm90|, with a cubin for sm_90 (else for the GPU).
static kiln_status_t build_example_nonzero(kiln_dtype_t count_dtype, bool sm90,
                                           kiln_blob_t** out_engine) {
  kiln_allocator_t a = kiln_allocator_system();
  kiln_registry_t* registry = NULL;
  kiln_network_t* net = NULL;
  kiln_build_config_t* cfg = NULL;
  kiln_attrs_t* attrs = NULL;
  const kiln_plugin_t* plugin = NULL;
  uint32_t x = 0, layer = 0, indices = 0, count = 0, p = 0;
  int64_t dims[1] = {-1}, lo[1] = {0}, opt[1] = {2048}, hi[1] = {8192};
  kiln_status_t s = kiln_registry_create(a, NULL, &registry);
  if (!s) s = kiln_example_plugins_register(registry);
  if (!s) {
    s = kiln_registry_lookup(
        registry, kiln_make_cstring_view("example::nonzero"), &plugin);
  }
  if (!s) s = kiln_attrs_create(plugin, a, &attrs);
  if (!s) {
    s = kiln_attrs_set_string(
        attrs, "count_dtype",
        kiln_make_cstring_view(kiln_dtype_name(count_dtype)));
  }
  if (!s) s = kiln_network_create(registry, a, &net);
  if (!s) s = kiln_network_add_input(net, "x", KILN_DTYPE_FLOAT32, 1, dims, &x);
  if (!s) {
    s = kiln_network_add_plugin(net, "nonzero", "example::nonzero", &x, 1,
                                attrs, KILN_LAYER_MODE_AOT, &layer);
  }
  if (!s) s = kiln_network_layer_output(net, layer, 0, &indices);
  if (!s) s = kiln_network_layer_output(net, layer, 1, &count);
  if (!s) s = kiln_network_mark_output(net, indices, "indices");
  if (!s) s = kiln_network_mark_output(net, count, "count");
  if (!s) s = kiln_build_config_create(a, &cfg);
  if (!s) s = kiln_build_config_add_profile(cfg, &p);
  if (!s) s = kiln_build_config_set_shape(cfg, p, "x", 1, lo, opt, hi);
  const uint32_t targets[1] = {90};
  if (!s && sm90) s = kiln_build_config_set_targets(cfg, targets, 1);
  if (!s) s = kiln_build(net, cfg, a, out_engine);
  kiln_build_config_destroy(cfg);
  kiln_network_destroy(net);
  kiln_attrs_destroy(attrs);
  kiln_registry_release(registry);
  return s;
}

// The example compiles (NVRTC, then nvJitLink for sm_90) and plans its
// indices for n = 8192, without a GPU.
TEST(size_tensor_example_nonzero_builds) {
  for (int k = 0; k < 2; ++k) {
    kiln_dtype_t dtype = k ? KILN_DTYPE_INT64 : KILN_DTYPE_INT32;
    kiln_blob_t* engine = NULL;
    kiln_status_t s = build_example_nonzero(dtype, true, &engine);
    if (kiln_status_code(s) == KILN_STATUS_UNAVAILABLE) {
      char why[512];
      snprintf(why, sizeof(why), "%s", kiln_status_message(s));
      kiln_status_free(s);
      SKIP("NVRTC or nvJitLink missing: %s", why);
    }
    ASSERT_OK(s);
    kiln__plan_t* plan = NULL;
    s = kiln__engine_read(kiln_blob_bytes(engine), kiln_allocator_system(),
                          &plan);
    kiln_blob_destroy(engine);
    ASSERT_OK(s);
    // x 0, indices 1, count 2; one kernel with PTX and an sm_90 cubin.
    bool ok = plan->tensor_count == 3 && plan->tensors[2].is_size_tensor &&
              plan->tensors[2].dtype == dtype &&
              plan->tensors[1].max_bytes == 8192 * 4 &&
              plan->kernel_count == 1 && plan->kernels[0].images.count == 2;
    kiln__plan_destroy(plan);
    ASSERT_TRUE(ok);
  }
}

TEST(size_tensor_gpu_nonzero_matches_cpu) {
  kiln_allocator_t a = kiln_allocator_system();
  kiln_device_t* device = NULL;
  kiln_status_t s = kiln_device_create(0, a, &device);
  if (kiln_status_code(s) == KILN_STATUS_UNAVAILABLE) {
    char why[512];
    snprintf(why, sizeof(why), "%s", kiln_status_message(s));
    kiln_status_free(s);
    SKIP("no GPU: %s", why);
  }
  ASSERT_OK(s);
  void* stream = NULL;
  s = kiln_stream_create(device, &stream);
  static const kiln_dtype_t dtypes[2] = {KILN_DTYPE_INT32, KILN_DTYPE_INT64};
  static const int64_t sizes[] = {0, 1, 5, 1023, 1024, 1025, 3000, 8192};
  bool skipped = false;
  for (int k = 0; k < 2 && !s && !skipped; ++k) {
    kiln_blob_t* bytes = NULL;
    s = build_example_nonzero(dtypes[k], false, &bytes);
    if (kiln_status_code(s) == KILN_STATUS_UNAVAILABLE) {
      skipped = true;
      break;
    }
    kiln_engine_t* engine = NULL;
    kiln_context_t* context = NULL;
    if (!s)
      s = kiln_engine_load(device, kiln_blob_bytes(bytes), NULL, a, &engine);
    if (!s) s = kiln_context_create(engine, a, &context);
    for (int graphs = 0; graphs < 2 && !s; ++graphs) {
      s = kiln_context_set_graphs(context, graphs != 0);
      gpu_run_t g = {device, context, stream, dtypes[k]};
      for (size_t i = 0; i < KILN_ARRAYSIZE(sizes) && !s; ++i) {
        for (int pattern = 0; pattern < 3 && !s; ++pattern) {
          s = gpu_check(&g, sizes[i], pattern);
          if (s) {
            s = kiln_status_annotate(s, "count %s, %s mode",
                                     kiln_dtype_name(dtypes[k]),
                                     graphs ? "graph" : "stream");
          }
        }
      }
    }
    kiln_context_destroy(context);
    kiln_engine_release(engine);
    kiln_blob_destroy(bytes);
  }
  if (stream) s = kiln_status_join(s, kiln_stream_destroy(device, stream));
  kiln_device_release(device);
  if (skipped) {
    char why[512];
    snprintf(why, sizeof(why), "%s", kiln_status_message(s));
    kiln_status_free(s);
    SKIP("NVRTC or nvJitLink missing: %s", why);
  }
  ASSERT_OK(s);
}
