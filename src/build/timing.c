// Tactic choice. With a GPU, each candidate tactic of a layer is built into
// an engine of its own (the layer alone, its inputs fixed at the profile's
// opt shapes, the tactic forced), loaded, run on random inputs and timed with
// CUDA events; the fastest median wins. Without a GPU the first is kept.

#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "base/log.h"
#include "build/build.h"
#include "plugin/plugin.h"

// Fills |count| elements of |dtype| with values in [-1, 1] (small integers
// for integer types), never all zero.
static void fill_random(kiln_dtype_t dtype, uint8_t* data, size_t count,
                        uint64_t* state) {
  size_t es = kiln_dtype_size(dtype);
  for (size_t i = 0; i < count; ++i) {
    *state = *state * UINT64_C(6364136223846793005) + 1442695040888963407u;
    uint64_t r = *state >> 33;
    float f = (float)r / 2147483648.0f * 2.0f - 1.0f;
    uint8_t* p = data + i * es;
    uint32_t bits;
    memcpy(&bits, &f, 4);
    switch (dtype) {
      case KILN_DTYPE_FLOAT32:
        memcpy(p, &f, 4);
        break;
      case KILN_DTYPE_FLOAT16: {
        // Values in [-1, 1] as halves: sign, exponent 14 or less, mantissa.
        uint16_t h =
            (uint16_t)((bits >> 16 & 0x8000u) | (0x3800u + (r & 0x3ffu)));
        memcpy(p, &h, 2);
        break;
      }
      case KILN_DTYPE_BFLOAT16: {
        uint16_t h = (uint16_t)(bits >> 16);
        memcpy(p, &h, 2);
        break;
      }
      case KILN_DTYPE_INT32: {
        int32_t v = (int32_t)(r % 17) - 8;
        memcpy(p, &v, 4);
        break;
      }
      case KILN_DTYPE_INT64: {
        int64_t v = (int64_t)(r % 17) - 8;
        memcpy(p, &v, 8);
        break;
      }
      case KILN_DTYPE_BOOL:
        p[0] = (uint8_t)(r & 1);
        break;
      default:
        p[0] = (uint8_t)(r % 17);
        break;
    }
  }
}

typedef struct trial_t {
  kiln_network_t* network;
  kiln_build_config_t* config;
  kiln_blob_t* engine_bytes;
  kiln_engine_t* engine;
  kiln_context_t* context;
  uint64_t addresses[128];
  uint32_t address_count;
} trial_t;

static void trial_free(kiln_device_t* device, trial_t* t) {
  for (uint32_t i = 0; i < t->address_count; ++i) {
    kiln_status_free(kiln_device_free(device, t->addresses[i]));
  }
  kiln_context_destroy(t->context);
  kiln_engine_release(t->engine);
  kiln_blob_destroy(t->engine_bytes);
  kiln_build_config_destroy(t->config);
  kiln_network_destroy(t->network);
}

// Builds, loads and times |layer| with |tactic| on |device|.
static kiln_status_t time_tactic(kiln_device_t* device,
                                 const kiln__net_layer_t* layer,
                                 kiln_sym_table_t* sym,
                                 const kiln_sym_env_t* opt_env,
                                 const kiln_tensor_desc_t* inputs,
                                 int32_t tactic, kiln_allocator_t allocator,
                                 trial_t* t, double* out_median_us) {
  kiln_registry_t* registry = layer->plugin->registry;
  const kiln_plugin_def_t* def = kiln_plugin_definition(layer->plugin);
  KILN_RETURN_IF_ERROR(kiln_network_create(registry, allocator, &t->network));
  uint32_t tensors[64];
  int64_t dims[64][KILN_MAX_RANK];
  for (uint32_t i = 0; i < layer->input_count; ++i) {
    for (int32_t j = 0; j < inputs[i].rank; ++j) {
      KILN_RETURN_IF_ERROR(
          kiln_sym_eval(sym, inputs[i].dims[j], opt_env, &dims[i][j]));
    }
    char name[32];
    snprintf(name, sizeof(name), "in%u", i);
    KILN_RETURN_IF_ERROR(kiln_network_add_input(t->network, name,
                                                inputs[i].dtype, inputs[i].rank,
                                                dims[i], &tensors[i]));
  }
  uint32_t trial_layer = 0;
  KILN_RETURN_IF_ERROR(kiln_network_add_plugin(
      t->network, layer->name, def->id, tensors, layer->input_count,
      layer->attrs, KILN_LAYER_MODE_AOT, &trial_layer));
  for (uint32_t o = 0; o < layer->output_count; ++o) {
    uint32_t tensor = 0;
    char name[32];
    snprintf(name, sizeof(name), "out%u", o);
    KILN_RETURN_IF_ERROR(
        kiln_network_layer_output(t->network, trial_layer, o, &tensor));
    KILN_RETURN_IF_ERROR(kiln_network_mark_output(t->network, tensor, name));
  }
  KILN_RETURN_IF_ERROR(kiln_build_config_create(allocator, &t->config));
  uint32_t arch = kiln_device_sm_arch(device);
  KILN_RETURN_IF_ERROR(kiln_build_config_set_targets(t->config, &arch, 1));
  t->config->timing = false;
  t->config->tactic_forced = true;
  t->config->forced_tactic = tactic;
  KILN_RETURN_IF_ERROR(
      kiln_build(t->network, t->config, allocator, &t->engine_bytes));
  KILN_RETURN_IF_ERROR(kiln_engine_load(
      device, kiln_blob_bytes(t->engine_bytes), NULL, allocator, &t->engine));
  KILN_RETURN_IF_ERROR(kiln_context_create(t->engine, allocator, &t->context));
  uint32_t io_count = kiln_engine_io_count(t->engine);
  uint64_t seed = 0x6b696c6eu;
  for (uint32_t i = 0; i < io_count; ++i) {
    kiln_io_info_t info;
    KILN_RETURN_IF_ERROR(kiln_engine_io_info(t->engine, i, &info));
    int32_t rank = info.rank;
    size_t count = 1;
    size_t bytes = 0;
    if (info.is_input) {
      KILN_RETURN_IF_ERROR(
          kiln_context_set_input_shape(t->context, info.name, rank, info.dims));
      for (int32_t j = 0; j < rank; ++j) count *= (size_t)info.dims[j];
      bytes = count * kiln_dtype_size(info.dtype);
    } else {
      // A data-dependent output gets the memory of its upper bound.
      uint64_t max_bytes = 0;
      KILN_RETURN_IF_ERROR(
          kiln_context_get_max_output_size(t->context, info.name, &max_bytes));
      if (max_bytes > SIZE_MAX) {
        return kiln_make_status(KILN_STATUS_OUT_OF_RANGE,
                                "output '%s' takes %llu bytes", info.name,
                                (unsigned long long)max_bytes);
      }
      bytes = (size_t)max_bytes;
    }
    if (t->address_count == KILN_ARRAYSIZE(t->addresses)) {
      return kiln_make_status(KILN_STATUS_UNIMPLEMENTED,
                              "timing a layer with more than 128 tensors");
    }
    uint64_t address = 0;
    KILN_RETURN_IF_ERROR(
        kiln_device_malloc(device, bytes ? bytes : 1, &address));
    t->addresses[t->address_count++] = address;
    if (info.is_input && bytes) {
      void* host = NULL;
      KILN_RETURN_IF_ERROR(kiln_allocator_malloc(allocator, bytes, &host));
      fill_random(info.dtype, (uint8_t*)host, count, &seed);
      kiln_status_t s =
          kiln_device_copy_to_device(device, address, host, bytes);
      kiln_allocator_free(allocator, host);
      KILN_RETURN_IF_ERROR(s);
    }
    KILN_RETURN_IF_ERROR(
        kiln_context_set_tensor_address(t->context, info.name, address));
  }
  double min_us = 0;
  return kiln_device_time_enqueue(t->context, NULL, 5, 30, out_median_us,
                                  &min_us);
}

kiln_status_t kiln__build_choose_tactic(
    kiln_device_t* device, const kiln_build_config_t* config,
    const kiln__net_layer_t* layer, kiln_sym_table_t* sym,
    const kiln_sym_env_t* opt_env, const kiln_tensor_desc_t* inputs,
    const kiln__build_candidate_t* candidates, size_t count,
    kiln_allocator_t allocator, size_t* out_chosen) {
  *out_chosen = 0;
  if (!device || !config->timing || count < 2) return NULL;
  if (layer->input_count > 64) {
    return kiln_make_status(KILN_STATUS_UNIMPLEMENTED,
                            "timing a layer with more than 64 inputs");
  }
  double best = 0;
  for (size_t c = 0; c < count; ++c) {
    trial_t trial;
    memset(&trial, 0, sizeof(trial));
    double median_us = 0;
    kiln_status_t status =
        time_tactic(device, layer, sym, opt_env, inputs, candidates[c].tactic,
                    allocator, &trial, &median_us);
    trial_free(device, &trial);
    if (status) {
      return kiln_status_annotate(status, "timing tactic %d",
                                  (int)candidates[c].tactic);
    }
    kiln__log(&config->logger, KILN_LOG_LEVEL_INFO,
              "tactic %d: median %.2f us at the opt shapes",
              (int)candidates[c].tactic, median_us);
    if (c == 0 || median_us < best) {
      best = median_us;
      *out_chosen = c;
    }
  }
  return NULL;
}
