// Build configurations: optimization profiles, target architectures, timing.

#include <string.h>

#include "base/base.h"
#include "base/size.h"
#include "graph/graph.h"
#include "plugin/plugin.h"

kiln_status_t kiln_build_config_create(kiln_allocator_t allocator,
                                       kiln_build_config_t** out_config) {
  if (!out_config) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT, "out_config is NULL");
  }
  *out_config = NULL;
  kiln_build_config_t* config = NULL;
  KILN_RETURN_IF_ERROR(
      kiln_allocator_malloc(allocator, sizeof(*config), (void**)&config));
  config->allocator = allocator;
  kiln__arena_init(&config->arena, allocator);
  config->timing = true;
  *out_config = config;
  return NULL;
}

void kiln_build_config_destroy(kiln_build_config_t* config) {
  if (!config) return;
  for (uint32_t i = 0; i < config->profile_count; ++i) {
    kiln_allocator_free(config->allocator, config->profiles[i].shapes);
  }
  kiln_allocator_free(config->allocator, config->profiles);
  kiln__arena_deinit(&config->arena);
  kiln_allocator_free(config->allocator, config);
}

kiln_status_t kiln_build_config_add_profile(kiln_build_config_t* config,
                                            uint32_t* out_profile) {
  if (out_profile) *out_profile = UINT32_MAX;
  if (!config) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT, "config is NULL");
  }
  if (config->profile_count >= 256) {
    return kiln_make_status(KILN_STATUS_OUT_OF_RANGE,
                            "at most 256 optimization profiles");
  }
  if (config->profile_count == config->profile_capacity) {
    uint32_t next = config->profile_capacity ? config->profile_capacity * 2 : 4;
    void* p = config->profiles;
    KILN_RETURN_IF_ERROR(kiln_allocator_realloc(
        config->allocator, next * sizeof(kiln__profile_t), &p));
    config->profiles = (kiln__profile_t*)p;
    config->profile_capacity = next;
  }
  kiln__profile_t* profile = &config->profiles[config->profile_count];
  memset(profile, 0, sizeof(*profile));
  if (out_profile) *out_profile = config->profile_count;
  config->profile_count++;
  return NULL;
}

const kiln__profile_shape_t* kiln__build_config_find_shape(
    const kiln_build_config_t* config, uint32_t profile,
    const char* input_name) {
  if (!config || profile >= config->profile_count) return NULL;
  const kiln__profile_t* p = &config->profiles[profile];
  for (uint32_t i = 0; i < p->shape_count; ++i) {
    if (strcmp(p->shapes[i].input_name, input_name) == 0) return &p->shapes[i];
  }
  return NULL;
}

kiln_status_t kiln_build_config_set_shape(kiln_build_config_t* config,
                                          uint32_t profile,
                                          const char* input_name, int32_t rank,
                                          const int64_t* min_dims,
                                          const int64_t* opt_dims,
                                          const int64_t* max_dims) {
  if (!config || !input_name) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "config and input_name must not be NULL");
  }
  if (profile >= config->profile_count) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "profile %u does not exist (%u added)", profile,
                            config->profile_count);
  }
  if (rank < 0 || rank > KILN_MAX_RANK) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "input '%s': rank %d is outside 0..%d", input_name,
                            (int)rank, KILN_MAX_RANK);
  }
  if (rank > 0 && (!min_dims || !opt_dims || !max_dims)) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "input '%s': min, opt and max dims are required",
                            input_name);
  }
  for (int32_t i = 0; i < rank; ++i) {
    if (min_dims[i] < 0 || min_dims[i] > opt_dims[i] ||
        opt_dims[i] > max_dims[i]) {
      return kiln_make_status(
          KILN_STATUS_INVALID_ARGUMENT,
          "input '%s' dimension %d: need 0 <= min <= opt <= max, got min %lld, "
          "opt %lld, max %lld",
          input_name, (int)i, (long long)min_dims[i], (long long)opt_dims[i],
          (long long)max_dims[i]);
    }
  }
  kiln__profile_t* p = &config->profiles[profile];
  kiln__profile_shape_t* shape =
      (kiln__profile_shape_t*)kiln__build_config_find_shape(config, profile,
                                                            input_name);
  if (!shape) {
    if (p->shape_count == p->shape_capacity) {
      uint32_t next = p->shape_capacity ? p->shape_capacity * 2 : 4;
      void* mem = p->shapes;
      KILN_RETURN_IF_ERROR(kiln_allocator_realloc(
          config->allocator, next * sizeof(kiln__profile_shape_t), &mem));
      p->shapes = (kiln__profile_shape_t*)mem;
      p->shape_capacity = next;
    }
    size_t n = strlen(input_name);
    char* name = NULL;
    KILN_RETURN_IF_ERROR(
        kiln__arena_alloc(&config->arena, n + 1, 1, (void**)&name));
    memcpy(name, input_name, n + 1);
    shape = &p->shapes[p->shape_count++];
    memset(shape, 0, sizeof(*shape));
    shape->input_name = name;
  }
  shape->rank = rank;
  for (int32_t i = 0; i < rank; ++i) {
    shape->min[i] = min_dims[i];
    shape->opt[i] = opt_dims[i];
    shape->max[i] = max_dims[i];
  }
  return NULL;
}

kiln_status_t kiln_build_config_set_targets(kiln_build_config_t* config,
                                            const uint32_t* sm_archs,
                                            size_t count) {
  if (!config || (count && !sm_archs)) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "config and sm_archs must not be NULL");
  }
  if (count > 16) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "at most 16 target architectures, %zu given",
                            count);
  }
  for (size_t i = 0; i < count; ++i) {
    if (sm_archs[i] < 50 || sm_archs[i] > 200) {
      return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                              "target architecture %u is not an SM version "
                              "such as 90 (sm_90)",
                              sm_archs[i]);
    }
    for (size_t j = 0; j < i; ++j) {
      if (sm_archs[j] == sm_archs[i]) {
        return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                                "target architecture sm_%u is listed twice",
                                sm_archs[i]);
      }
    }
  }
  uint32_t* copy = NULL;
  if (count) {
    KILN_RETURN_IF_ERROR(kiln__arena_alloc(
        &config->arena, count * sizeof(uint32_t), 4, (void**)&copy));
    memcpy(copy, sm_archs, count * sizeof(uint32_t));
  }
  config->targets = copy;
  config->target_count = (uint32_t)count;
  config->targets_set = true;
  return NULL;
}

void kiln_build_config_set_timing(kiln_build_config_t* config, bool enabled) {
  if (config) config->timing = enabled;
}

void kiln_build_config_set_logger(kiln_build_config_t* config,
                                  kiln_logger_t logger) {
  if (config) config->logger = logger;
}

kiln_status_t kiln__attrs_clone(const kiln_attrs_t* attrs,
                                kiln_allocator_t allocator,
                                kiln_attrs_t** out_attrs) {
  *out_attrs = NULL;
  kiln_attrs_t* copy = NULL;
  KILN_RETURN_IF_ERROR(kiln_attrs_create(attrs->plugin, allocator, &copy));
  const kiln_plugin_def_t* def = kiln_plugin_definition(attrs->plugin);
  kiln_status_t status = NULL;
  for (size_t i = 0; i < def->attr_count && !status && attrs->values; ++i) {
    const kiln__attr_value_t* v = &attrs->values[i];
    if (!v->is_set || !(attrs->visible_mask & (UINT64_C(1) << i))) continue;
    const char* name = def->attrs[i].name;
    kiln_attr_type_t type = def->attrs[i].type;
    switch (type) {
      case KILN_ATTR_TYPE_INT64:
        status = kiln_attrs_set_int64(copy, name, v->i64);
        break;
      case KILN_ATTR_TYPE_FLOAT64:
        status = kiln_attrs_set_float64(copy, name, v->f64);
        break;
      case KILN_ATTR_TYPE_BOOL:
        status = kiln_attrs_set_bool(copy, name, v->b);
        break;
      case KILN_ATTR_TYPE_STRING:
        status = kiln_attrs_set_string(
            copy, name, kiln_make_string_view((const char*)v->data, v->size));
        break;
      case KILN_ATTR_TYPE_BYTES: {
        kiln_const_bytes_t bytes = {(const uint8_t*)v->data, v->size};
        status = kiln_attrs_set_bytes(copy, name, bytes);
        break;
      }
      default:
        status = kiln_attrs_set_array(copy, name, type, v->data, v->count);
        break;
    }
  }
  if (status) {
    kiln_attrs_destroy(copy);
    return status;
  }
  *out_attrs = copy;
  return NULL;
}

kiln_status_t kiln_build_config_set_cache_dir(kiln_build_config_t* config,
                                              const char* dir) {
  if (!config) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT, "config is NULL");
  }
  if (!dir) {
    config->cache_dir = NULL;
    config->cache_dir_set = false;
    return NULL;
  }
  size_t n = strlen(dir);
  char* copy = NULL;
  KILN_RETURN_IF_ERROR(
      kiln__arena_alloc(&config->arena, n + 1, 1, (void**)&copy));
  memcpy(copy, dir, n + 1);
  config->cache_dir = copy;
  config->cache_dir_set = true;
  return NULL;
}
