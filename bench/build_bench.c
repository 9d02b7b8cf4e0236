// kiln_build_bench: build time of a 50-plugin network, cold (empty compile
// cache) and warm (the same build again), on the machine it runs on; no GPU
// needed. Each layer is its own plugin with its own CUDA C kernel (y = x +
// k), compiled by NVRTC to PTX and by nvJitLink to an sm_90 cubin.
//
// Usage: kiln_build_bench [LAYERS]   (default 50)

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kiln/kiln.h"
#include "kiln/kiln_plugin.h"

static void check(kiln_status_t status, const char* what) {
  if (!status) return;
  fprintf(stderr, "kiln_build_bench: %s: %s: %s\n", what,
          kiln_status_code_name(kiln_status_code(status)),
          kiln_status_message(status));
  exit(1);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct layer_plugin_t {
  int k;
  kiln_compiled_kernel_t* kernel;
  kiln_extra_arg_t args[1];
} layer_plugin_t;

static kiln_status_t describe(void* user_data, const kiln_describe_args_t* args,
                              kiln_tensor_desc_t* outputs) {
  (void)user_data;
  outputs[0] = kiln_tensor_desc_like(&args->inputs[0]);
  return NULL;
}

static void release(void* data, kiln_aot_result_t* result) {
  (void)result;
  layer_plugin_t* p = (layer_plugin_t*)data;
  kiln_compiled_kernel_destroy(p->kernel);
  p->kernel = NULL;
}

static kiln_status_t aot_impl(void* user_data, const kiln_aot_args_t* args,
                              kiln_aot_result_t* out) {
  layer_plugin_t* p = (layer_plugin_t*)user_data;
  char source[512];
  snprintf(source, sizeof(source),
           "extern \"C\" __global__ void add_k(const float* x, int n, "
           "float* y) {\n"
           "  int i = blockIdx.x * blockDim.x + threadIdx.x;\n"
           "  if (i < n) y[i] = x[i] + %d.0f;\n"
           "}\n",
           p->k);
  static const uint32_t kArchs[] = {75};
  kiln_nvrtc_options_t options;
  memset(&options, 0, sizeof(options));
  options.sm_archs = kArchs;
  options.sm_arch_count = 1;
  options.emit_ptx = true;
  KILN_RETURN_IF_ERROR(kiln_nvrtc_compile(kiln_make_cstring_view(source),
                                          "add_k.cu", &options,
                                          kiln_allocator_system(), &p->kernel));
  kiln_sym_t n = kiln_tensor_desc_numel(args->sym, &args->inputs[0]);
  out->launch.grid[0] =
      kiln_sym_ceil_div(args->sym, n, kiln_sym_const(args->sym, 256));
  out->launch.block[0] = kiln_sym_const(args->sym, 256);
  p->args[0].type = KILN_ARG_TYPE_INT32;
  p->args[0].value = n;
  out->extra_args = p->args;
  out->extra_arg_count = 1;
  out->kernel_name = kiln_make_cstring_view("add_k");
  out->images = kiln_compiled_kernel_images(p->kernel);
  out->image_count = kiln_compiled_kernel_image_count(p->kernel);
  out->release = release;
  out->release_data = p;
  return NULL;
}

static double build_once(int layers, layer_plugin_t* plugins) {
  kiln_allocator_t a = kiln_allocator_system();
  double t0 = now_s();
  kiln_registry_t* registry = NULL;
  check(kiln_registry_create(a, NULL, &registry), "registry");
  for (int i = 0; i < layers; ++i) {
    char id[64];
    snprintf(id, sizeof(id), "bench::add_%d", i);
    kiln_plugin_def_t def;
    memset(&def, 0, sizeof(def));
    def.abi_version = KILN_PLUGIN_ABI_VERSION;
    def.id = id;
    def.input_count = 1;
    def.output_count = 1;
    def.user_data = &plugins[i];
    def.describe = describe;
    def.aot_impl = aot_impl;
    check(kiln_registry_register(registry, &def, NULL), "register");
  }
  kiln_network_t* net = NULL;
  check(kiln_network_create(registry, a, &net), "network");
  uint32_t t = 0;
  int64_t dims[1] = {-1};
  check(kiln_network_add_input(net, "x", KILN_DTYPE_FLOAT32, 1, dims, &t),
        "input");
  for (int i = 0; i < layers; ++i) {
    char id[64];
    snprintf(id, sizeof(id), "bench::add_%d", i);
    uint32_t layer = 0;
    check(kiln_network_add_plugin(net, NULL, id, &t, 1, NULL,
                                  KILN_LAYER_MODE_AOT, &layer),
          "layer");
    check(kiln_network_layer_output(net, layer, 0, &t), "output");
  }
  check(kiln_network_mark_output(net, t, "y"), "mark");
  kiln_build_config_t* cfg = NULL;
  check(kiln_build_config_create(a, &cfg), "config");
  uint32_t p = 0;
  int64_t lo[1] = {1}, opt[1] = {4096}, hi[1] = {1 << 20};
  check(kiln_build_config_add_profile(cfg, &p), "profile");
  check(kiln_build_config_set_shape(cfg, p, "x", 1, lo, opt, hi), "shape");
  const uint32_t targets[1] = {90};
  check(kiln_build_config_set_targets(cfg, targets, 1), "targets");
  kiln_build_config_set_timing(cfg, false);
  kiln_blob_t* engine = NULL;
  check(kiln_build(net, cfg, a, &engine), "build");
  double t1 = now_s();
  kiln_blob_destroy(engine);
  kiln_build_config_destroy(cfg);
  kiln_network_destroy(net);
  kiln_registry_release(registry);
  return t1 - t0;
}

int main(int argc, char** argv) {
  int layers = argc > 1 ? atoi(argv[1]) : 50;
  if (layers < 1 || layers > 1000) layers = 50;
  char dir[] = "/tmp/kiln-build-bench-XXXXXX";
  if (!mkdtemp(dir)) return 1;
  setenv("KILN_CACHE_DIR", dir, 1);
  layer_plugin_t* plugins =
      (layer_plugin_t*)calloc((size_t)layers, sizeof(layer_plugin_t));
  for (int i = 0; i < layers; ++i) plugins[i].k = i + 1;
  double cold = build_once(layers, plugins);
  double warm1 = build_once(layers, plugins);
  double warm2 = build_once(layers, plugins);
  printf(
      "build of a %d-plugin network (%d distinct NVRTC kernels, sm_90 "
      "cubins, no GPU):\n  cold %.3f s, warm %.3f s / %.3f s (%.1fx)\n",
      layers, layers, cold, warm1, warm2, cold / warm2);
  char command[600];
  snprintf(command, sizeof(command), "rm -rf %s", dir);
  int rc = system(command);
  free(plugins);
  return rc == 0 ? 0 : 1;
}
