// Tests of networks and the builder (src/graph, src/build), without a GPU.

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/base.h"
#include "engine/engine.h"
#include "example_plugins.h"
#include "npy.h"
#include "test.h"

// A hand-written kernel so that builds need neither NVRTC nor a GPU:
// scale(x, n, y) with y = 2 * x.
static const char kScalePtx[] =
    ".version 8.0\n"
    ".target sm_75\n"
    ".address_size 64\n"
    ".visible .entry scale(\n"
    "  .param .u64 scale_param_0,\n"
    "  .param .u32 scale_param_1,\n"
    "  .param .u64 scale_param_2\n"
    ")\n"
    "{\n"
    "  ret;\n"
    "}\n";

typedef struct scale_options_t {
  int bad_layout;      // 1: declare an int64 argument for the .u32 param
  int overflow_arg;    // 1: the argument is n * 2^40
  int out_dtype_half;  // 1: describe says the output is float16
} scale_options_t;

static kiln_status_t scale_describe(void* user_data,
                                    const kiln_describe_args_t* args,
                                    kiln_tensor_desc_t* outputs) {
  const scale_options_t* o = (const scale_options_t*)user_data;
  outputs[0] = kiln_tensor_desc_like(&args->inputs[0]);
  if (o && o->out_dtype_half) outputs[0].dtype = KILN_DTYPE_FLOAT16;
  return NULL;
}

static kiln_status_t scale_aot(void* user_data, const kiln_aot_args_t* args,
                               kiln_aot_result_t* out) {
  const scale_options_t* o = (const scale_options_t*)user_data;
  static kiln_extra_arg_t extra[1];
  static kiln_kernel_image_t image;
  kiln_sym_t n = kiln_tensor_desc_numel(args->sym, &args->inputs[0]);
  if (o && o->overflow_arg) {
    n = kiln_sym_mul(args->sym, n, kiln_sym_const(args->sym, INT64_C(1) << 40));
  }
  extra[0].type =
      o && o->bad_layout ? KILN_ARG_TYPE_INT64 : KILN_ARG_TYPE_INT32;
  extra[0].value = n;
  image.kind = KILN_KERNEL_IMAGE_PTX;
  image.bytes.data = (const uint8_t*)kScalePtx;
  image.bytes.size = sizeof(kScalePtx);
  out->kernel_name = kiln_make_cstring_view("scale");
  out->images = &image;
  out->image_count = 1;
  out->extra_args = extra;
  out->extra_arg_count = 1;
  out->launch.grid[0] =
      kiln_sym_ceil_div(args->sym, n, kiln_sym_const(args->sym, 256));
  out->launch.block[0] = kiln_sym_const(args->sym, 256);
  if (!out->launch.grid[0]) return kiln_sym_table_take_error(args->sym);
  return NULL;
}

static const kiln_attr_field_t kScaleAttrs[] = {
    {"secret", KILN_ATTR_TYPE_STRING},
    {"magic", KILN_ATTR_TYPE_INT64},
};
static const char* const kNoAttrs[] = {"secret"};

static kiln_plugin_def_t scale_def(const char* id, scale_options_t* options) {
  kiln_plugin_def_t def;
  memset(&def, 0, sizeof(def));
  def.abi_version = KILN_PLUGIN_ABI_VERSION;
  def.id = id;
  def.input_count = 1;
  def.output_count = 1;
  def.attrs = kScaleAttrs;
  def.attr_count = 2;
  def.user_data = options;
  def.describe = scale_describe;
  def.aot_impl = scale_aot;
  // The AOT implementation declares no attribute at all.
  def.aot_impl_attrs.names = kNoAttrs;
  def.aot_impl_attrs.count = 0;
  return def;
}

// Makes x[-1] -> plugin -> y with attributes secret/magic, profile 1..N.
static kiln_status_t make_scale_network(kiln_registry_t* registry,
                                        const char* id,
                                        kiln_allocator_t allocator,
                                        kiln_network_t** out_network) {
  *out_network = NULL;
  kiln_network_t* net = NULL;
  KILN_RETURN_IF_ERROR(kiln_network_create(registry, allocator, &net));
  const kiln_plugin_t* plugin = NULL;
  kiln_attrs_t* attrs = NULL;
  uint32_t x = 0, layer = 0, y = 0;
  int64_t dims[1] = {-1};
  kiln_status_t s =
      kiln_network_add_input(net, "x", KILN_DTYPE_FLOAT32, 1, dims, &x);
  if (!s)
    s = kiln_registry_lookup(registry, kiln_make_cstring_view(id), &plugin);
  if (!s) s = kiln_attrs_create(plugin, allocator, &attrs);
  if (!s) {
    s = kiln_attrs_set_string(attrs, "secret",
                              kiln_make_cstring_view("TOP-SECRET-ATTRIBUTE"));
  }
  if (!s) s = kiln_attrs_set_int64(attrs, "magic", INT64_C(0x5a17c0de5eed1234));
  if (!s) {
    s = kiln_network_add_plugin(net, "scale", id, &x, 1, attrs,
                                KILN_LAYER_MODE_AUTO, &layer);
  }
  kiln_attrs_destroy(attrs);
  if (!s) s = kiln_network_layer_output(net, layer, 0, &y);
  if (!s) s = kiln_network_mark_output(net, y, "y");
  if (s) {
    kiln_network_destroy(net);
    return s;
  }
  *out_network = net;
  return NULL;
}

static kiln_status_t make_config(kiln_allocator_t allocator, int64_t max_n,
                                 kiln_build_config_t** out_config) {
  kiln_build_config_t* cfg = NULL;
  KILN_RETURN_IF_ERROR(kiln_build_config_create(allocator, &cfg));
  uint32_t p = 0;
  int64_t lo[1] = {1}, opt[1] = {1024}, hi[1] = {max_n};
  kiln_status_t s = kiln_build_config_add_profile(cfg, &p);
  if (!s) s = kiln_build_config_set_shape(cfg, p, "x", 1, lo, opt, hi);
  if (!s) s = kiln_build_config_set_targets(cfg, NULL, 0);
  if (s) {
    kiln_build_config_destroy(cfg);
    return s;
  }
  *out_config = cfg;
  return NULL;
}

static bool contains_bytes(kiln_const_bytes_t hay, const void* needle,
                           size_t size) {
  for (size_t i = 0; i + size <= hay.size; ++i) {
    if (memcmp(hay.data + i, needle, size) == 0) return true;
  }
  return false;
}

TEST(build_engine_holds_no_attribute_values) {
  kiln_allocator_t a = kiln_allocator_system();
  kiln_registry_t* registry = NULL;
  ASSERT_OK(kiln_registry_create(a, NULL, &registry));
  kiln_plugin_def_t def = scale_def("test::scale", NULL);
  ASSERT_OK(kiln_registry_register(registry, &def, NULL));
  kiln_network_t* net = NULL;
  ASSERT_OK(make_scale_network(registry, "test::scale", a, &net));
  kiln_build_config_t* cfg = NULL;
  ASSERT_OK(make_config(a, 1 << 20, &cfg));
  kiln_blob_t* engine = NULL;
  ASSERT_OK(kiln_build(net, cfg, a, &engine));
  kiln_const_bytes_t bytes = kiln_blob_bytes(engine);
  ASSERT_TRUE(bytes.size > 0);
  // Neither attribute value appears anywhere in the engine.
  ASSERT_FALSE(contains_bytes(bytes, "TOP-SECRET-ATTRIBUTE", 20));
  int64_t magic = INT64_C(0x5a17c0de5eed1234);
  ASSERT_FALSE(contains_bytes(bytes, &magic, sizeof(magic)));
  // ... but the kernel and the plugin id do.
  ASSERT_TRUE(contains_bytes(bytes, "scale", 5));
  ASSERT_TRUE(contains_bytes(bytes, "test::scale", 11));
  // It verifies and describes without the plugin.
  kiln_blob_destroy(NULL);
  kiln_network_destroy(net);
  kiln_registry_release(registry);
  kiln_blob_t* text = NULL;
  ASSERT_OK(kiln_engine_describe(bytes, false, a, &text));
  const char* t = (const char*)kiln_blob_bytes(text).data;
  ASSERT_CONTAINS(t, "grid = (cdiv(x[0], 256), 1, 1)");
  ASSERT_CONTAINS(t, "arg 0: int32 = x[0]");
  kiln_blob_destroy(text);
  kiln_build_config_destroy(cfg);
  kiln_blob_destroy(engine);
}

TEST(build_network_errors_name_the_culprit) {
  kiln_allocator_t a = kiln_allocator_system();
  kiln_registry_t* registry = NULL;
  ASSERT_OK(kiln_registry_create(a, NULL, &registry));
  kiln_plugin_def_t def = scale_def("test::scale", NULL);
  ASSERT_OK(kiln_registry_register(registry, &def, NULL));
  kiln_network_t* net = NULL;
  ASSERT_OK(kiln_network_create(registry, a, &net));
  uint32_t x = 0, layer = 0;
  int64_t dims[1] = {-1};
  ASSERT_OK(kiln_network_add_input(net, "x", KILN_DTYPE_FLOAT32, 1, dims, &x));
  uint32_t unused = 0;
  ASSERT_STATUS(
      kiln_network_add_input(net, "x", KILN_DTYPE_FLOAT32, 1, dims, &unused),
      KILN_STATUS_INVALID_ARGUMENT, "input 'x': the name is used");
  ASSERT_EQ_U64(unused, UINT32_MAX);
  int64_t bad[1] = {-2};
  ASSERT_STATUS(
      kiln_network_add_input(net, "z", KILN_DTYPE_FLOAT32, 1, bad, &unused),
      KILN_STATUS_INVALID_ARGUMENT, "input 'z': dimension 0 is -2");
  ASSERT_STATUS(kiln_network_add_plugin(net, NULL, "test::scal", &x, 1, NULL,
                                        KILN_LAYER_MODE_AUTO, &layer),
                KILN_STATUS_NOT_FOUND, "closest: 'test::scale'");
  uint32_t two[2] = {0, 0};
  ASSERT_STATUS(kiln_network_add_plugin(net, NULL, "test::scale", two, 2, NULL,
                                        KILN_LAYER_MODE_AUTO, &layer),
                KILN_STATUS_INVALID_ARGUMENT,
                "layer 0 (plugin 'test::scale'): 2 inputs given, the plugin "
                "takes 1");
  uint32_t missing = 7;
  ASSERT_STATUS(kiln_network_add_plugin(net, NULL, "test::scale", &missing, 1,
                                        NULL, KILN_LAYER_MODE_AUTO, &layer),
                KILN_STATUS_INVALID_ARGUMENT, "refers to tensor 7");
  ASSERT_STATUS(kiln_network_add_plugin(net, NULL, "test::scale", &x, 1, NULL,
                                        KILN_LAYER_MODE_AUTO, &layer),
                KILN_STATUS_INVALID_ARGUMENT,
                "none were given (first: 'secret')");
  ASSERT_STATUS(kiln_network_add_plugin(net, NULL, "test::scale", &x, 1, NULL,
                                        KILN_LAYER_MODE_HOST, &layer),
                KILN_STATUS_INVALID_ARGUMENT, "needs a host_impl");
  const kiln_plugin_t* plugin = NULL;
  ASSERT_OK(kiln_registry_lookup(
      registry, kiln_make_cstring_view("test::scale"), &plugin));
  kiln_attrs_t* attrs = NULL;
  ASSERT_OK(kiln_attrs_create(plugin, a, &attrs));
  ASSERT_OK(kiln_attrs_set_int64(attrs, "magic", 1));
  ASSERT_STATUS(kiln_network_add_plugin(net, NULL, "test::scale", &x, 1, attrs,
                                        KILN_LAYER_MODE_AUTO, &layer),
                KILN_STATUS_INVALID_ARGUMENT, "'secret'");
  kiln_attrs_destroy(attrs);
  ASSERT_STATUS(kiln_network_mark_output(net, x, "y"),
                KILN_STATUS_INVALID_ARGUMENT, "is a network input");
  // No outputs: the build says so.
  kiln_build_config_t* cfg = NULL;
  ASSERT_OK(make_config(a, 1 << 20, &cfg));
  kiln_blob_t* engine = NULL;
  ASSERT_STATUS(kiln_build(net, cfg, a, &engine), KILN_STATUS_INVALID_ARGUMENT,
                "no outputs");
  kiln_build_config_destroy(cfg);
  kiln_network_destroy(net);
  kiln_registry_release(registry);
}

TEST(build_errors_name_the_layer) {
  kiln_allocator_t a = kiln_allocator_system();
  kiln_registry_t* registry = NULL;
  ASSERT_OK(kiln_registry_create(a, NULL, &registry));
  scale_options_t bad_layout = {1, 0, 0}, overflow = {0, 1, 0},
                  half = {0, 0, 1};
  kiln_plugin_def_t defs[3] = {scale_def("test::bad_layout", &bad_layout),
                               scale_def("test::overflow", &overflow),
                               scale_def("test::half_out", &half)};
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK(kiln_registry_register(registry, &defs[i], NULL));
  }
  kiln_build_config_t* cfg = NULL;
  ASSERT_OK(make_config(a, 1 << 20, &cfg));
  static const struct {
    const char* id;
    kiln_status_code_t code;
    const char* message;
  } cases[] = {
      {"test::bad_layout", KILN_STATUS_INVALID_ARGUMENT,
       "layer 0 'scale' (plugin 'test::bad_layout'): aot_impl (tactic 0): "
       "kernel 'scale' parameter 1 ('scale_param_1', .u32) does not match "
       "extra argument 0, which is int64"},
      {"test::overflow", KILN_STATUS_OUT_OF_RANGE,
       "layer 0 'scale' (plugin 'test::overflow'): at the minimum shapes of "
       "profile 0: launch parameter grid_x: cdiv(in0[0]*1099511627776, 256) = "
       "4294967296 is outside [0, 2147483647]"},
  };
  for (size_t i = 0; i < KILN_ARRAYSIZE(cases); ++i) {
    kiln_network_t* net = NULL;
    ASSERT_OK(make_scale_network(registry, cases[i].id, a, &net));
    kiln_blob_t* engine = NULL;
    ASSERT_STATUS(kiln_build(net, cfg, a, &engine), cases[i].code,
                  cases[i].message);
    ASSERT_EQ_PTR(engine, NULL);
    kiln_network_destroy(net);
  }
  // Mismatched dtypes: the add plugin supports float32 and float16 only.
  ASSERT_OK(kiln_example_plugins_register(registry));
  kiln_network_t* net = NULL;
  {
    ASSERT_OK(kiln_network_create(registry, a, &net));
    uint32_t x = 0, layer = 0, y = 0;
    int64_t dims[1] = {-1};
    ASSERT_OK(kiln_network_add_input(net, "x", KILN_DTYPE_INT32, 1, dims, &x));
    const kiln_plugin_t* plugin = NULL;
    ASSERT_OK(kiln_registry_lookup(
        registry, kiln_make_cstring_view("my::add_plugin"), &plugin));
    kiln_attrs_t* attrs = NULL;
    ASSERT_OK(kiln_attrs_create(plugin, a, &attrs));
    ASSERT_OK(kiln_attrs_set_int64(attrs, "block_size", 256));
    ASSERT_OK(kiln_network_add_plugin(net, "add", "my::add_plugin", &x, 1,
                                      attrs, KILN_LAYER_MODE_AOT, &layer));
    kiln_attrs_destroy(attrs);
    ASSERT_OK(kiln_network_layer_output(net, layer, 0, &y));
    ASSERT_OK(kiln_network_mark_output(net, y, "y"));
    kiln_blob_t* engine = NULL;
    ASSERT_STATUS(kiln_build(net, cfg, a, &engine),
                  KILN_STATUS_INVALID_ARGUMENT,
                  "layer 0 'add' (plugin 'my::add_plugin'): no supported type "
                  "combination matches the layer's (inputs, outputs) dtypes "
                  "(int32, int32) in LINEAR format; the plugin supports: "
                  "(float32, float32), (float16, float16)");
    kiln_network_destroy(net);
  }
  // A dynamic input without a profile.
  ASSERT_OK(make_scale_network(registry, "test::overflow", a, &net));
  kiln_build_config_t* empty = NULL;
  ASSERT_OK(kiln_build_config_create(a, &empty));
  kiln_blob_t* engine = NULL;
  ASSERT_STATUS(kiln_build(net, empty, a, &engine),
                KILN_STATUS_INVALID_ARGUMENT,
                "input 'x' dimension 0 is dynamic (-1), but the build "
                "configuration has no optimization profile");
  kiln_build_config_destroy(empty);
  kiln_network_destroy(net);
  kiln_build_config_destroy(cfg);
  kiln_registry_release(registry);
}

TEST(build_oom_sweep) {
  for (size_t fail_at = 0;; ++fail_at) {
    kiln_test_allocator_t ta = kiln_test_allocator_failing_at(fail_at);
    kiln_allocator_t a = kiln_test_allocator_get(&ta);
    kiln_registry_t* registry = NULL;
    kiln_network_t* net = NULL;
    kiln_build_config_t* cfg = NULL;
    kiln_blob_t* engine = NULL;
    kiln_plugin_def_t def = scale_def("test::scale", NULL);
    kiln_status_t s = kiln_registry_create(a, NULL, &registry);
    if (!s) s = kiln_registry_register(registry, &def, NULL);
    if (!s) s = make_scale_network(registry, "test::scale", a, &net);
    if (!s) s = make_config(a, 1 << 20, &cfg);
    if (!s) s = kiln_build(net, cfg, a, &engine);
    kiln_blob_destroy(engine);
    kiln_build_config_destroy(cfg);
    kiln_network_destroy(net);
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

TEST(build_example_plugins_for_sm90) {
  kiln_allocator_t a = kiln_allocator_system();
  kiln_registry_t* registry = NULL;
  ASSERT_OK(kiln_registry_create(a, NULL, &registry));
  ASSERT_OK(kiln_example_plugins_register(registry));
  kiln_network_t* net = NULL;
  ASSERT_OK(kiln_network_create(registry, a, &net));
  uint32_t x = 0, l1 = 0, l2 = 0, t1 = 0, y = 0;
  int64_t dims[1] = {-1};
  ASSERT_OK(kiln_network_add_input(net, "x", KILN_DTYPE_FLOAT16, 1, dims, &x));
  const kiln_plugin_t* plugin = NULL;
  ASSERT_OK(kiln_registry_lookup(
      registry, kiln_make_cstring_view("my::add_plugin"), &plugin));
  kiln_attrs_t* attrs = NULL;
  ASSERT_OK(kiln_attrs_create(plugin, a, &attrs));
  ASSERT_OK(kiln_attrs_set_int64(attrs, "block_size", 512));
  // Two chained layers: y = (x + 1) + 1, with an internal activation.
  ASSERT_OK(kiln_network_add_plugin(net, "a", "my::add_plugin", &x, 1, attrs,
                                    KILN_LAYER_MODE_AOT, &l1));
  ASSERT_OK(kiln_network_layer_output(net, l1, 0, &t1));
  ASSERT_OK(kiln_network_add_plugin(net, "b", "my::add_plugin", &t1, 1, attrs,
                                    KILN_LAYER_MODE_AOT, &l2));
  kiln_attrs_destroy(attrs);
  ASSERT_OK(kiln_network_layer_output(net, l2, 0, &y));
  ASSERT_OK(kiln_network_mark_output(net, y, "y"));
  kiln_build_config_t* cfg = NULL;
  ASSERT_OK(kiln_build_config_create(a, &cfg));
  uint32_t p = 0;
  int64_t lo[1] = {1}, opt[1] = {4096}, hi[1] = {1 << 20};
  ASSERT_OK(kiln_build_config_add_profile(cfg, &p));
  ASSERT_OK(kiln_build_config_set_shape(cfg, p, "x", 1, lo, opt, hi));
  const uint32_t targets[1] = {90};
  ASSERT_OK(kiln_build_config_set_targets(cfg, targets, 1));
  kiln_blob_t* engine = NULL;
  kiln_status_t s = kiln_build(net, cfg, a, &engine);
  if (kiln_status_code(s) == KILN_STATUS_UNAVAILABLE) {
    kiln_build_config_destroy(cfg);
    kiln_network_destroy(net);
    kiln_registry_release(registry);
    SKIP("NVRTC or nvJitLink missing: %s", kiln_status_message(s));
  }
  ASSERT_OK(s);
  kiln__plan_t* plan = NULL;
  ASSERT_OK(kiln__engine_read(kiln_blob_bytes(engine), a, &plan));
  ASSERT_EQ_U64(plan->layer_count, 2);
  ASSERT_EQ_U64(plan->kernel_count, 1);  // both layers share one kernel
  ASSERT_EQ_U64(plan->images[plan->kernels[0].images.first].kind,
                KILN_KERNEL_IMAGE_PTX);
  bool has_sm90 = false;
  for (uint32_t i = 0; i < plan->kernels[0].images.count; ++i) {
    const kiln__plan_image_t* im =
        &plan->images[plan->kernels[0].images.first + i];
    has_sm90 |= im->kind == KILN_KERNEL_IMAGE_CUBIN && im->sm_arch == 90;
  }
  ASSERT_TRUE(has_sm90);
  // The internal activation lives in the arena, sized for 2^20 halves.
  ASSERT_EQ_U64(plan->activation_bytes, (uint64_t)(1 << 20) * 2);
  ASSERT_EQ_U64(plan->tensors[t1].arena_offset, 0);
  kiln__plan_destroy(plan);
  kiln_blob_destroy(engine);
  kiln_build_config_destroy(cfg);
  kiln_network_destroy(net);
  kiln_registry_release(registry);
}

TEST(npy_roundtrip_and_errors) {
  char path[] = "/tmp/kiln_npy_test_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_TRUE(fd >= 0);
  close(fd);
  float data[6] = {1, 2, 3, 4, 5, 6};
  int64_t dims[2] = {2, 3};
  ASSERT_OK(
      kiln_npy_write(path, KILN_DTYPE_FLOAT32, 2, dims, data, sizeof(data)));
  uint8_t* bytes = NULL;
  size_t size = 0;
  ASSERT_TRUE(kiln_test_read_file(path, &bytes, &size));
  remove(path);
  ASSERT_EQ_U64((size - sizeof(data)) % 64, 0);
  kiln_npy_t npy;
  kiln_const_bytes_t b = {bytes, size};
  ASSERT_OK(kiln_npy_parse(b, &npy));
  ASSERT_EQ_I64(npy.dtype, KILN_DTYPE_FLOAT32);
  ASSERT_EQ_I64(npy.rank, 2);
  ASSERT_EQ_I64(npy.dims[1], 3);
  ASSERT_TRUE(memcmp(npy.data, data, sizeof(data)) == 0);
  // Every truncation fails cleanly.
  for (size_t n = 0; n < size; ++n) {
    kiln_const_bytes_t t = {bytes, n};
    kiln_status_t s = kiln_npy_parse(t, &npy);
    ASSERT_TRUE(s != NULL);
    kiln_status_free(s);
  }
  kiln_const_bytes_t bad = {(const uint8_t*)"not an npy file", 15};
  ASSERT_STATUS(kiln_npy_parse(bad, &npy), KILN_STATUS_DATA_LOSS, "magic");
  free(bytes);
  ASSERT_STATUS(
      kiln_npy_write("/tmp/x.npy", KILN_DTYPE_BFLOAT16, 2, dims, data, 8),
      KILN_STATUS_INVALID_ARGUMENT, "bfloat16 has no NumPy dtype");
}

//===----------------------------------------------------------------------===//
// The kiln command and plugin libraries
//===----------------------------------------------------------------------===//

// Runs |command|, capturing stdout and stderr into |out|; returns the exit
// status (or -1).
static int run_command(const char* command, char* out, size_t capacity) {
  char full[4096];
  snprintf(full, sizeof(full), "%s 2>&1", command);
  FILE* p = popen(full, "r");
  if (!p) return -1;
  size_t n = fread(out, 1, capacity - 1, p);
  out[n] = '\0';
  int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Builds the scale network into |path|.
static kiln_status_t write_scale_engine(const char* path) {
  kiln_allocator_t a = kiln_allocator_system();
  kiln_registry_t* registry = NULL;
  kiln_network_t* net = NULL;
  kiln_build_config_t* cfg = NULL;
  kiln_blob_t* engine = NULL;
  kiln_plugin_def_t def = scale_def("test::scale", NULL);
  kiln_status_t s = kiln_registry_create(a, NULL, &registry);
  if (!s) s = kiln_registry_register(registry, &def, NULL);
  if (!s) s = make_scale_network(registry, "test::scale", a, &net);
  if (!s) s = make_config(a, 1 << 20, &cfg);
  if (!s) s = kiln_build(net, cfg, a, &engine);
  if (!s) {
    FILE* f = fopen(path, "wb");
    kiln_const_bytes_t b = kiln_blob_bytes(engine);
    if (!f || fwrite(b.data, 1, b.size, f) != b.size) {
      s = kiln_make_status(KILN_STATUS_UNAVAILABLE, "cannot write %s", path);
    }
    if (f) fclose(f);
  }
  kiln_blob_destroy(engine);
  kiln_build_config_destroy(cfg);
  kiln_network_destroy(net);
  kiln_registry_release(registry);
  return s;
}

TEST(cli_inspect_run_and_errors) {
  char path[] = "/tmp/kiln_cli_test_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_TRUE(fd >= 0);
  close(fd);
  ASSERT_OK(write_scale_engine(path));
  static char out[65536];
  char command[4096];
  snprintf(command, sizeof(command), "%s/kiln inspect %s", KILN_BINARY_DIR,
           path);
  int rc = run_command(command, out, sizeof(out));
  ASSERT_EQ_I64(rc, 0);
  ASSERT_CONTAINS(out, "test::scale");
  ASSERT_CONTAINS(out, "grid = (cdiv(x[0], 256), 1, 1)");
  snprintf(command, sizeof(command), "%s/kiln inspect --json %s",
           KILN_BINARY_DIR, path);
  ASSERT_EQ_I64(run_command(command, out, sizeof(out)), 0);
  ASSERT_CONTAINS(out, "\"layers\"");
  // A truncated engine: DATA_LOSS on stderr, exit 1.
  ASSERT_EQ_I64(truncate(path, 100), 0);
  snprintf(command, sizeof(command), "%s/kiln inspect %s", KILN_BINARY_DIR,
           path);
  ASSERT_EQ_I64(run_command(command, out, sizeof(out)), 1);
  ASSERT_CONTAINS(out, "kiln: inspect: DATA_LOSS");
  remove(path);
  snprintf(command, sizeof(command), "%s/kiln inspect %s", KILN_BINARY_DIR,
           path);
  ASSERT_EQ_I64(run_command(command, out, sizeof(out)), 1);
  ASSERT_CONTAINS(out, "NOT_FOUND: cannot open");
  snprintf(command, sizeof(command), "%s/kiln frobnicate", KILN_BINARY_DIR);
  ASSERT_EQ_I64(run_command(command, out, sizeof(out)), 2);
  ASSERT_CONTAINS(out, "unknown command");
  snprintf(command, sizeof(command), "%s/kiln run x.engine --shape x",
           KILN_BINARY_DIR);
  ASSERT_EQ_I64(run_command(command, out, sizeof(out)), 2);
  ASSERT_CONTAINS(out, "expected NAME=VALUE");
}

// Builds the add plugin from a copy of the example plugin library, deletes
// the library, and (with a GPU) loads and runs the engine.
TEST(build_engine_runs_after_plugin_library_deleted) {
  char lib[] = "/tmp/kiln_plugins_XXXXXX";
  int fd = mkstemp(lib);
  ASSERT_TRUE(fd >= 0);
  close(fd);
  char source[1024];
  snprintf(source, sizeof(source), "%s/libkiln_example_plugins.so",
           KILN_TEST_PLUGIN_DIR);
  uint8_t* bytes = NULL;
  size_t size = 0;
  ASSERT_TRUE(kiln_test_read_file(source, &bytes, &size));
  FILE* f = fopen(lib, "wb");
  ASSERT_TRUE(f != NULL);
  ASSERT_EQ_U64(fwrite(bytes, 1, size, f), size);
  fclose(f);
  free(bytes);

  kiln_allocator_t a = kiln_allocator_system();
  kiln_registry_t* registry = NULL;
  ASSERT_OK(kiln_registry_create(a, NULL, &registry));
  ASSERT_OK(kiln_registry_load_library(registry, lib));
  kiln_network_t* net = NULL;
  ASSERT_OK(kiln_network_create(registry, a, &net));
  uint32_t x = 0, layer = 0, y = 0;
  int64_t dims[1] = {-1};
  ASSERT_OK(kiln_network_add_input(net, "x", KILN_DTYPE_FLOAT32, 1, dims, &x));
  const kiln_plugin_t* plugin = NULL;
  ASSERT_OK(kiln_registry_lookup(
      registry, kiln_make_cstring_view("my::add_plugin"), &plugin));
  kiln_attrs_t* attrs = NULL;
  ASSERT_OK(kiln_attrs_create(plugin, a, &attrs));
  ASSERT_OK(kiln_attrs_set_int64(attrs, "block_size", 4096));
  ASSERT_OK(kiln_network_add_plugin(net, NULL, "my::add_plugin", &x, 1, attrs,
                                    KILN_LAYER_MODE_AOT, &layer));
  kiln_attrs_destroy(attrs);
  ASSERT_OK(kiln_network_layer_output(net, layer, 0, &y));
  ASSERT_OK(kiln_network_mark_output(net, y, "y"));
  kiln_build_config_t* cfg = NULL;
  ASSERT_OK(make_config(a, 1 << 20, &cfg));
  const uint32_t targets[1] = {90};
  ASSERT_OK(kiln_build_config_set_targets(cfg, targets, 1));
  kiln_blob_t* engine = NULL;
  kiln_status_t s = kiln_build(net, cfg, a, &engine);
  kiln_build_config_destroy(cfg);
  kiln_network_destroy(net);
  // Drop every plugin and close the library, then delete its file.
  kiln_registry_release(registry);
  remove(lib);
  if (kiln_status_code(s) == KILN_STATUS_UNAVAILABLE) {
    SKIP("NVRTC or nvJitLink missing: %s", kiln_status_message(s));
  }
  ASSERT_OK(s);
  kiln_device_t* device = NULL;
  s = kiln_device_create(0, a, &device);
  if (s) {
    kiln_blob_destroy(engine);
    kiln_status_free(s);
    SKIP("no GPU to run the engine on");
  }
  kiln_engine_t* loaded = NULL;
  ASSERT_OK(
      kiln_engine_load(device, kiln_blob_bytes(engine), NULL, a, &loaded));
  kiln_blob_destroy(engine);
  kiln_context_t* context = NULL;
  ASSERT_OK(kiln_context_create(loaded, a, &context));
  int64_t n = 100003;
  float* host = (float*)malloc((size_t)n * sizeof(float));
  for (int64_t i = 0; i < n; ++i) host[i] = (float)i * 0.5f;
  uint64_t dx = 0, dy = 0;
  ASSERT_OK(kiln_device_malloc(device, (size_t)n * 4, &dx));
  ASSERT_OK(kiln_device_malloc(device, (size_t)n * 4, &dy));
  ASSERT_OK(kiln_device_copy_to_device(device, dx, host, (size_t)n * 4));
  ASSERT_OK(kiln_context_set_input_shape(context, "x", 1, &n));
  ASSERT_OK(kiln_context_set_tensor_address(context, "x", dx));
  ASSERT_OK(kiln_context_set_tensor_address(context, "y", dy));
  ASSERT_OK(kiln_context_enqueue(context, NULL));
  ASSERT_OK(kiln_device_synchronize(device));
  ASSERT_OK(kiln_device_copy_to_host(device, host, dy, (size_t)n * 4));
  int64_t wrong = 0;
  for (int64_t i = 0; i < n; ++i) wrong += host[i] != (float)i * 0.5f + 1.0f;
  free(host);
  ASSERT_OK(kiln_device_free(device, dx));
  ASSERT_OK(kiln_device_free(device, dy));
  kiln_context_destroy(context);
  kiln_engine_release(loaded);
  kiln_device_release(device);
  ASSERT_EQ_I64(wrong, 0);
}
