// kiln's main job on its built-in examples, in C:
//
// 1. the core: the seed's add plugin (y = x + 1) registered, its describe
//    result for an input of shape (-1,), its launch expression evaluated for
//    a few sizes, and the errors kiln gives for the usual mistakes;
// 2. the builder: the add plugin and a row-wise layernorm built into engine
//    files (cubins for sm_90 plus PTX, no GPU needed), then inspected;
// 3. the runtime: with a GPU, both engines loaded and run on random inputs
//    and checked against a CPU reference; without one, a plain note.
//
// Uses the public headers, the shared library and the example plugins only.
// Usage: add_plugin_demo [OUTPUT_DIR]   (engines are written there; default
// the current directory)

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "example_plugins.h"
#include "kiln/kiln.h"
#include "kiln/kiln_plugin.h"

// Prints a failed status and exits.
static void check(kiln_status_t status, const char* what) {
  if (!status) return;
  fprintf(stderr, "add_plugin_demo: %s: %s: %s\n", what,
          kiln_status_code_name(kiln_status_code(status)),
          kiln_status_message(status));
  kiln_status_free(status);
  exit(1);
}

// Prints an expected error: its code and message.
static void show_error(const char* what, kiln_status_t status) {
  if (!status) {
    printf("  %-28s unexpectedly succeeded\n", what);
    exit(1);
  }
  printf("  %-28s %s: %s\n", what,
         kiln_status_code_name(kiln_status_code(status)),
         kiln_status_message(status));
  kiln_status_free(status);
}

// @trtp.register("my::add_plugin"): the output is like the input.
static kiln_status_t add_describe(void* user_data,
                                  const kiln_describe_args_t* args,
                                  kiln_tensor_desc_t* outputs) {
  (void)user_data;
  outputs[0] = kiln_tensor_desc_like(&args->inputs[0]);
  return NULL;
}

// The launch recipe of the seed's aot_impl: N = inp0.shape_expr.numel(),
// grid_x = cdiv(N, block_size), and N as the one int32 extra argument.
static kiln_status_t add_launch_exprs(kiln_sym_table_t* sym,
                                      const kiln_tensor_desc_t* input,
                                      int64_t block_size, kiln_sym_t* out_grid,
                                      kiln_sym_t* out_n) {
  kiln_sym_t n = kiln_tensor_desc_numel(sym, input);
  kiln_sym_t grid = kiln_sym_ceil_div(sym, n, kiln_sym_const(sym, block_size));
  if (!grid) return kiln_sym_table_take_error(sym);
  *out_grid = grid;
  *out_n = n;
  return NULL;
}

static void print_desc(const char* label, const kiln_tensor_desc_t* desc) {
  static const char* const names[] = {"x"};
  printf("  %s: %s [", label, kiln_dtype_name(desc->dtype));
  for (int32_t i = 0; i < desc->rank; ++i) {
    char text[128];
    size_t length = 0;
    check(kiln_sym_print(desc->dims[i], names, 1, text, sizeof(text), &length),
          "print dimension");
    printf("%s%s", i ? ", " : "", text);
  }
  printf("] %s\n", kiln_format_name(desc->format));
}

static int run_core_demo(void) {
  printf("kiln %s: the core at work on the seed's add plugin\n\n",
         kiln_version_string());

  kiln_allocator_t allocator = kiln_allocator_system();
  kiln_registry_t* registry = NULL;
  check(kiln_registry_create(allocator, NULL, &registry), "create registry");

  // Register "my::add_plugin" with one int attribute, block_size.
  static const kiln_attr_field_t add_attrs[] = {
      {"block_size", KILN_ATTR_TYPE_INT64}};
  kiln_plugin_def_t def = {0};
  def.abi_version = KILN_PLUGIN_ABI_VERSION;
  def.id = "my::add_plugin";
  def.input_count = 1;
  def.output_count = 1;
  def.attrs = add_attrs;
  def.attr_count = 1;
  def.describe = add_describe;
  const kiln_plugin_t* plugin = NULL;
  check(kiln_registry_register(registry, &def, &plugin), "register");
  kiln_string_view_t id = kiln_plugin_id(plugin);
  printf("registered '%.*s' (namespace '%.*s', attribute block_size: %s)\n\n",
         (int)id.size, id.data, (int)kiln_plugin_namespace(plugin).size,
         kiln_plugin_namespace(plugin).data,
         kiln_attr_type_name(KILN_ATTR_TYPE_INT64));

  kiln_attrs_t* attrs = NULL;
  check(kiln_attrs_create(plugin, allocator, &attrs), "create attributes");
  check(kiln_attrs_set_int64(attrs, "block_size", 256), "set block_size");
  check(kiln_attrs_check_complete(attrs), "attributes");

  // The input x: float32 of shape (-1,), so its one dimension is symbolic.
  kiln_sym_table_t* sym = NULL;
  check(kiln_sym_table_create(allocator, &sym), "create symbol table");
  kiln_sym_t x0 = kiln_sym_dim(sym, 0, 0);
  kiln_tensor_desc_t x = kiln_tensor_desc_make(KILN_DTYPE_FLOAT32, 1, &x0);
  kiln_tensor_desc_t y;
  check(kiln_plugin_describe(plugin, &x, 1, attrs, sym, &y, 1), "describe");
  printf("describe for an input of shape (-1,):\n");
  print_desc("input  x", &x);
  print_desc("output 0", &y);

  int64_t block_size = 0;
  check(kiln_attrs_get_int64(attrs, "block_size", &block_size), "block_size");
  kiln_sym_t grid = NULL, n = NULL;
  check(add_launch_exprs(sym, &x, block_size, &grid, &n), "launch");
  static const char* const names[] = {"x"};
  char text[256];
  size_t length = 0;
  check(kiln_sym_print(grid, names, 1, text, sizeof(text), &length), "print");
  printf(
      "\nlaunch: grid_x = %s   (cdiv(x[0], block_size), block_size = %" PRId64
      ")\n",
      text, block_size);
  check(kiln_sym_print(n, names, 1, text, sizeof(text), &length), "print");
  printf("        extra argument 0 (int32) = %s\n\n", text);

  printf("  %12s  %12s  %12s\n", "x[0]", "grid_x", "n (int32)");
  static const int64_t sizes[] = {1, 1000, (INT64_C(1) << 20) + 3,
                                  INT64_C(2147483647)};
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); ++i) {
    kiln_dims_t dims = {1, {sizes[i]}};
    kiln_sym_env_t env = {&dims, 1, NULL, 0};
    int64_t grid_x = 0;
    int32_t n32 = 0;
    check(kiln_sym_eval(sym, grid, &env, &grid_x), "evaluate grid_x");
    check(kiln_sym_eval_i32(sym, n, &env, &n32), "evaluate n");
    printf("  %12" PRId64 "  %12" PRId64 "  %12" PRId32 "\n", sizes[i], grid_x,
           n32);
  }

  printf("\nerrors, each with its code and the culprit named:\n");
  kiln_plugin_def_t bad = def;
  bad.id = "my.ns::add_plugin";
  show_error("invalid id:", kiln_registry_register(registry, &bad, NULL));
  bad.id = "trt::add_plugin";
  show_error("reserved namespace:",
             kiln_registry_register(registry, &bad, NULL));
  show_error("duplicate registration:",
             kiln_registry_register(registry, &def, NULL));
  const kiln_plugin_t* found = NULL;
  show_error("unknown id:",
             kiln_registry_lookup(
                 registry, kiln_make_cstring_view("my::add_plugn"), &found));
  show_error("mistyped attribute:",
             kiln_attrs_set_float64(attrs, "block_size", 256.0));
  show_error("unknown attribute:",
             kiln_attrs_set_int64(attrs, "blocksize", 256));
  {
    kiln_dims_t dims = {1, {INT64_C(1) << 31}};
    kiln_sym_env_t env = {&dims, 1, NULL, 0};
    int32_t n32 = 0;
    show_error("int32 argument too large:",
               kiln_sym_eval_i32(sym, n, &env, &n32));
    kiln_sym_t square = kiln_sym_mul(sym, x0, x0);
    kiln_dims_t big = {1, {INT64_C(1) << 32}};
    kiln_sym_env_t big_env = {&big, 1, NULL, 0};
    int64_t value = 0;
    show_error("overflowing expression:",
               kiln_sym_eval(sym, square, &big_env, &value));
  }

  kiln_sym_table_destroy(sym);
  kiln_attrs_destroy(attrs);
  kiln_registry_release(registry);
  return 0;
}

//===----------------------------------------------------------------------===//
// Building engines
//===----------------------------------------------------------------------===//

static void write_file(const char* path, kiln_const_bytes_t bytes) {
  FILE* f = fopen(path, "wb");
  if (!f || fwrite(bytes.data, 1, bytes.size, f) != bytes.size) {
    fprintf(stderr, "add_plugin_demo: cannot write %s\n", path);
    exit(1);
  }
  fclose(f);
}

static const uint32_t kTargets[] = {90};

// x: float32 [-1] in 1..2^22 (opt 2^20) -> my::add_plugin(block_size 1024).
static kiln_blob_t* build_add_engine(kiln_registry_t* registry) {
  kiln_allocator_t allocator = kiln_allocator_system();
  kiln_network_t* network = NULL;
  check(kiln_network_create(registry, allocator, &network), "network");
  uint32_t x = 0, layer = 0, y = 0;
  const int64_t dims[1] = {-1};
  check(kiln_network_add_input(network, "x", KILN_DTYPE_FLOAT32, 1, dims, &x),
        "add input");
  const kiln_plugin_t* plugin = NULL;
  check(kiln_registry_lookup(registry, kiln_make_cstring_view("my::add_plugin"),
                             &plugin),
        "lookup");
  kiln_attrs_t* attrs = NULL;
  check(kiln_attrs_create(plugin, allocator, &attrs), "attributes");
  check(kiln_attrs_set_int64(attrs, "block_size", 1024), "block_size");
  check(kiln_network_add_plugin(network, "add", "my::add_plugin", &x, 1, attrs,
                                KILN_LAYER_MODE_AOT, &layer),
        "add layer");
  kiln_attrs_destroy(attrs);
  check(kiln_network_layer_output(network, layer, 0, &y), "layer output");
  check(kiln_network_mark_output(network, y, "y"), "mark output");
  kiln_build_config_t* config = NULL;
  check(kiln_build_config_create(allocator, &config), "config");
  uint32_t profile = 0;
  check(kiln_build_config_add_profile(config, &profile), "profile");
  const int64_t lo[1] = {1}, opt[1] = {1 << 20}, hi[1] = {1 << 28};
  check(kiln_build_config_set_shape(config, profile, "x", 1, lo, opt, hi),
        "profile shape");
  check(kiln_build_config_set_targets(config, kTargets, 1), "targets");
  kiln_blob_t* engine = NULL;
  check(kiln_build(network, config, allocator, &engine), "build add engine");
  kiln_build_config_destroy(config);
  kiln_network_destroy(network);
  return engine;
}

// x: float32 [-1, -1] (rows 1..65536, cols 1..16384) -> example::layernorm.
static kiln_blob_t* build_layernorm_engine(kiln_registry_t* registry) {
  kiln_allocator_t allocator = kiln_allocator_system();
  kiln_network_t* network = NULL;
  check(kiln_network_create(registry, allocator, &network), "network");
  uint32_t x = 0, layer = 0, y = 0, mean = 0;
  const int64_t dims[2] = {-1, -1};
  check(kiln_network_add_input(network, "x", KILN_DTYPE_FLOAT32, 2, dims, &x),
        "add input");
  const kiln_plugin_t* plugin = NULL;
  check(kiln_registry_lookup(
            registry, kiln_make_cstring_view("example::layernorm"), &plugin),
        "lookup");
  kiln_attrs_t* attrs = NULL;
  check(kiln_attrs_create(plugin, allocator, &attrs), "attributes");
  check(kiln_attrs_set_float64(attrs, "eps", 1e-5), "eps");
  check(kiln_network_add_plugin(network, "norm", "example::layernorm", &x, 1,
                                attrs, KILN_LAYER_MODE_AOT, &layer),
        "layernorm layer");
  kiln_attrs_destroy(attrs);
  check(kiln_network_layer_output(network, layer, 0, &y), "output 0");
  check(kiln_network_layer_output(network, layer, 1, &mean), "output 1");
  check(kiln_network_mark_output(network, y, "y"), "mark y");
  check(kiln_network_mark_output(network, mean, "mean"), "mark mean");
  kiln_build_config_t* config = NULL;
  check(kiln_build_config_create(allocator, &config), "config");
  uint32_t profile = 0;
  check(kiln_build_config_add_profile(config, &profile), "profile");
  const int64_t lo[2] = {1, 1}, opt[2] = {4096, 1024}, hi[2] = {65536, 16384};
  check(kiln_build_config_set_shape(config, profile, "x", 2, lo, opt, hi),
        "profile shape");
  check(kiln_build_config_set_targets(config, kTargets, 1), "targets");
  kiln_blob_t* engine = NULL;
  check(kiln_build(network, config, allocator, &engine),
        "build layernorm engine");
  kiln_build_config_destroy(config);
  kiln_network_destroy(network);
  return engine;
}

//===----------------------------------------------------------------------===//
// Running engines
//===----------------------------------------------------------------------===//

static float random_float(uint64_t* state) {
  *state = *state * 6364136223846793005ull + 1442695040888963407ull;
  return (float)((double)(*state >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

// Runs the add engine for n elements; returns the largest error.
static double run_add(kiln_device_t* device, kiln_engine_t* engine, int64_t n) {
  kiln_context_t* context = NULL;
  check(kiln_context_create(engine, kiln_allocator_system(), &context),
        "context");
  size_t bytes = (size_t)n * sizeof(float);
  float* x = (float*)malloc(bytes);
  float* y = (float*)malloc(bytes);
  uint64_t seed = (uint64_t)n;
  for (int64_t i = 0; i < n; ++i) x[i] = random_float(&seed);
  uint64_t dx = 0, dy = 0;
  check(kiln_device_malloc(device, bytes, &dx), "malloc x");
  check(kiln_device_malloc(device, bytes, &dy), "malloc y");
  check(kiln_device_copy_to_device(device, dx, x, bytes), "copy x");
  check(kiln_device_memset(device, dy, 0xff, bytes), "poison y");
  check(kiln_context_set_input_shape(context, "x", 1, &n), "shape");
  check(kiln_context_set_tensor_address(context, "x", dx), "address x");
  check(kiln_context_set_tensor_address(context, "y", dy), "address y");
  check(kiln_context_enqueue(context, NULL), "enqueue");
  check(kiln_device_synchronize(device), "synchronize");
  check(kiln_device_copy_to_host(device, y, dy, bytes), "copy y");
  double worst = 0;
  for (int64_t i = 0; i < n; ++i) {
    // The kernel adds in float32, so the reference is the float32 sum.
    float want = x[i] + 1.0f;
    double e = fabs((double)y[i] - (double)want);
    if (!(e <= worst)) worst = e;  // NaN (unwritten) sticks
  }
  check(kiln_device_free(device, dx), "free");
  check(kiln_device_free(device, dy), "free");
  free(x);
  free(y);
  kiln_context_destroy(context);
  return worst;
}

// Runs the layernorm engine on rows x cols; returns the largest error.
static double run_layernorm(kiln_device_t* device, kiln_engine_t* engine,
                            int64_t rows, int64_t cols) {
  kiln_context_t* context = NULL;
  check(kiln_context_create(engine, kiln_allocator_system(), &context),
        "context");
  size_t n = (size_t)(rows * cols);
  float* x = (float*)malloc(n * sizeof(float));
  float* y = (float*)malloc(n * sizeof(float));
  float* mean = (float*)malloc((size_t)rows * sizeof(float));
  uint64_t seed = (uint64_t)(rows * 31 + cols);
  for (size_t i = 0; i < n; ++i) x[i] = random_float(&seed) * 3.0f + 0.5f;
  uint64_t dx = 0, dy = 0, dm = 0;
  check(kiln_device_malloc(device, n * sizeof(float), &dx), "malloc");
  check(kiln_device_malloc(device, n * sizeof(float), &dy), "malloc");
  check(kiln_device_malloc(device, (size_t)rows * sizeof(float), &dm),
        "malloc");
  check(kiln_device_copy_to_device(device, dx, x, n * sizeof(float)), "copy");
  int64_t shape[2] = {rows, cols};
  check(kiln_context_set_input_shape(context, "x", 2, shape), "shape");
  check(kiln_context_set_tensor_address(context, "x", dx), "address");
  check(kiln_context_set_tensor_address(context, "y", dy), "address");
  check(kiln_context_set_tensor_address(context, "mean", dm), "address");
  check(kiln_context_enqueue(context, NULL), "enqueue");
  check(kiln_device_synchronize(device), "synchronize");
  check(kiln_device_copy_to_host(device, y, dy, n * sizeof(float)), "copy");
  check(
      kiln_device_copy_to_host(device, mean, dm, (size_t)rows * sizeof(float)),
      "copy");
  double worst = 0;
  for (int64_t r = 0; r < rows; ++r) {
    double s = 0, q = 0;
    for (int64_t c = 0; c < cols; ++c) s += x[r * cols + c];
    double m = s / (double)cols;
    for (int64_t c = 0; c < cols; ++c) {
      double d = x[r * cols + c] - m;
      q += d * d;
    }
    double rstd = 1.0 / sqrt(q / (double)cols + 1e-5);
    double e = fabs(mean[r] - m);
    if (!(e <= worst)) worst = e;
    for (int64_t c = 0; c < cols; ++c) {
      e = fabs(y[r * cols + c] - (x[r * cols + c] - m) * rstd);
      if (!(e <= worst)) worst = e;
    }
  }
  check(kiln_device_free(device, dx), "free");
  check(kiln_device_free(device, dy), "free");
  check(kiln_device_free(device, dm), "free");
  free(x);
  free(y);
  free(mean);
  kiln_context_destroy(context);
  return worst;
}

int main(int argc, char** argv) {
  const char* dir = argc > 1 ? argv[1] : ".";
  if (run_core_demo()) return 1;

  printf("\n== building engines (targets: sm_90 cubin + PTX) ==\n");
  kiln_registry_t* registry = NULL;
  check(kiln_registry_create(kiln_allocator_system(), NULL, &registry),
        "registry");
  check(kiln_example_plugins_register(registry), "example plugins");
  kiln_blob_t* engines[2] = {build_add_engine(registry),
                             build_layernorm_engine(registry)};
  static const char* const names[2] = {"add_plugin.engine", "layernorm.engine"};
  char paths[2][4096];
  for (int i = 0; i < 2; ++i) {
    snprintf(paths[i], sizeof(paths[i]), "%s/%s", dir, names[i]);
    write_file(paths[i], kiln_blob_bytes(engines[i]));
    printf("wrote %s (%zu bytes)\n", paths[i],
           kiln_blob_bytes(engines[i]).size);
  }
  // The registry (and with it every plugin callback) is gone from here on:
  // engines need no plugin code.
  kiln_registry_release(registry);

  for (int i = 0; i < 2; ++i) {
    printf("\n== kiln inspect %s ==\n", paths[i]);
    kiln_blob_t* text = NULL;
    check(kiln_engine_describe(kiln_blob_bytes(engines[i]), false,
                               kiln_allocator_system(), &text),
          "describe");
    kiln_const_bytes_t t = kiln_blob_bytes(text);
    fwrite(t.data, 1, t.size, stdout);
    kiln_blob_destroy(text);
  }

  printf("\n== running ==\n");
  kiln_device_t* device = NULL;
  kiln_status_t status =
      kiln_device_create(0, kiln_allocator_system(), &device);
  if (status) {
    printf(
        "No GPU here (%s: %s).\nRunning the engines needs an NVIDIA GPU "
        "and its driver; copy %s and %s to such a machine and run e.g.\n"
        "  kiln run %s --shape x=1000\n",
        kiln_status_code_name(kiln_status_code(status)),
        kiln_status_message(status), paths[0], paths[1], paths[0]);
    kiln_status_free(status);
    for (int i = 0; i < 2; ++i) kiln_blob_destroy(engines[i]);
    return 0;
  }
  printf("device: %s (sm_%u)\n", kiln_device_name(device),
         kiln_device_sm_arch(device));
  kiln_engine_t* add = NULL;
  kiln_engine_t* norm = NULL;
  check(kiln_engine_load(device, kiln_blob_bytes(engines[0]), NULL,
                         kiln_allocator_system(), &add),
        "load add engine");
  check(kiln_engine_load(device, kiln_blob_bytes(engines[1]), NULL,
                         kiln_allocator_system(), &norm),
        "load layernorm engine");
  bool ok = true;
  static const int64_t sizes[] = {1, 1000, (INT64_C(1) << 20) + 3};
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); ++i) {
    double e = run_add(device, add, sizes[i]);
    bool pass = e == 0.0;
    ok &= pass;
    printf("  add       n=%-10" PRId64 " max error %.3g  %s\n", sizes[i], e,
           pass ? "ok" : "WRONG");
  }
  static const int64_t shapes[][2] = {{1, 1}, {7, 1000}, {300, 16384}};
  for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); ++i) {
    double e = run_layernorm(device, norm, shapes[i][0], shapes[i][1]);
    bool pass = e < 1e-3;
    ok &= pass;
    printf("  layernorm %" PRId64 "x%-8" PRId64 " max error %.3g  %s\n",
           shapes[i][0], shapes[i][1], e, pass ? "ok" : "WRONG");
  }
  kiln_engine_release(add);
  kiln_engine_release(norm);
  kiln_device_release(device);
  for (int i = 0; i < 2; ++i) kiln_blob_destroy(engines[i]);
  printf("%s\n", ok ? "all results match the CPU reference" : "MISMATCH");
  return ok ? 0 : 1;
}
