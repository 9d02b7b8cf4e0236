// See bench_network.h.

#include "bench_network.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln/kiln_plugin.h"

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

static void plugin_id(char* buffer, size_t size, int i) {
  snprintf(buffer, size, "bench::add_%d", i);
}

kiln_status_t bench_network_build(const bench_network_options_t* options,
                                  kiln_blob_t** out_engine) {
  *out_engine = NULL;
  if (options->layers < 1 || options->layers > 1000 ||
      options->target_count == 0 || !options->targets) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "bench network: %d layers, %zu targets "
                            "(want 1..1000 layers and at least one target)",
                            options->layers, options->target_count);
  }
  const int layers = options->layers;
  kiln_allocator_t a = kiln_allocator_system();
  layer_plugin_t* plugins =
      (layer_plugin_t*)calloc((size_t)layers, sizeof(layer_plugin_t));
  if (!plugins) {
    return kiln_make_status(KILN_STATUS_RESOURCE_EXHAUSTED, "%d plugins",
                            layers);
  }
  for (int i = 0; i < layers; ++i) plugins[i].k = i + 1;
  kiln_registry_t* registry = NULL;
  kiln_network_t* net = NULL;
  kiln_build_config_t* cfg = NULL;
  char id[64];
  kiln_status_t status = kiln_registry_create(a, NULL, &registry);
  for (int i = 0; i < layers && !status; ++i) {
    plugin_id(id, sizeof(id), i);
    kiln_plugin_def_t def;
    memset(&def, 0, sizeof(def));
    def.abi_version = KILN_PLUGIN_ABI_VERSION;
    def.id = id;
    def.input_count = 1;
    def.output_count = 1;
    def.user_data = &plugins[i];
    def.describe = describe;
    def.aot_impl = aot_impl;
    status = kiln_registry_register(registry, &def, NULL);
  }
  if (!status) status = kiln_network_create(registry, a, &net);
  uint32_t t = 0;
  int64_t dims[1] = {-1};
  if (!status) {
    status = kiln_network_add_input(net, "x", KILN_DTYPE_FLOAT32, 1, dims, &t);
  }
  for (int i = 0; i < layers && !status; ++i) {
    plugin_id(id, sizeof(id), i);
    uint32_t layer = 0;
    status = kiln_network_add_plugin(net, NULL, id, &t, 1, NULL,
                                     KILN_LAYER_MODE_AOT, &layer);
    if (!status) status = kiln_network_layer_output(net, layer, 0, &t);
  }
  if (!status) status = kiln_network_mark_output(net, t, "y");
  if (!status) status = kiln_build_config_create(a, &cfg);
  uint32_t p = 0;
  int64_t lo[1] = {options->min_n}, opt[1] = {options->opt_n},
          hi[1] = {options->max_n};
  if (!status) status = kiln_build_config_add_profile(cfg, &p);
  if (!status) {
    status = kiln_build_config_set_shape(cfg, p, "x", 1, lo, opt, hi);
  }
  if (!status) {
    status = kiln_build_config_set_targets(cfg, options->targets,
                                           options->target_count);
  }
  if (!status) {
    kiln_build_config_set_timing(cfg, options->timing);
    status = kiln_build(net, cfg, a, out_engine);
  }
  kiln_build_config_destroy(cfg);
  kiln_network_destroy(net);
  kiln_registry_release(registry);
  // The builder releases each AOT result; this covers a failed build.
  for (int i = 0; i < layers; ++i)
    kiln_compiled_kernel_destroy(plugins[i].kernel);
  free(plugins);
  return status;
}

float bench_network_expected(int layers, float x) {
  return x + (float)(layers * (layers + 1) / 2);
}
