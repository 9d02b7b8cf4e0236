// Internal view of networks and build configurations for the builder.
// Private to the library; never installed.

#ifndef KILN_SRC_GRAPH_GRAPH_H_
#define KILN_SRC_GRAPH_GRAPH_H_

#include <stdbool.h>
#include <stdint.h>

#include "base/arena.h"
#include "kiln/kiln.h"
#include "kiln/kiln_plugin.h"

typedef enum kiln__net_tensor_kind_e {
  KILN__NET_TENSOR_INPUT = 0,
  KILN__NET_TENSOR_CONSTANT = 1,
  KILN__NET_TENSOR_LAYER_OUTPUT = 2,
} kiln__net_tensor_kind_t;

typedef struct kiln__net_tensor_t {
  const char* name;  // input/constant name or output name; may be NULL
  kiln__net_tensor_kind_t kind;
  kiln_dtype_t dtype;           // LAYER_OUTPUT: decided by the builder
  int32_t rank;                 // LAYER_OUTPUT: decided by the builder
  int64_t dims[KILN_MAX_RANK];  // INPUT: -1 where dynamic; CONSTANT: static
  uint32_t input_ordinal;       // INPUT
  kiln_const_bytes_t data;      // CONSTANT (owned by the network)
  uint32_t producer;            // LAYER_OUTPUT: layer index
  uint32_t producer_output;     // LAYER_OUTPUT: output index in that layer
  bool is_output;
} kiln__net_tensor_t;

typedef struct kiln__net_layer_t {
  const char* name;  // may be NULL
  const kiln_plugin_t* plugin;
  kiln_layer_mode_t mode;
  const uint32_t* inputs;
  uint32_t input_count;
  uint32_t first_output;  // outputs are tensors first_output..+output_count
  uint32_t output_count;
  kiln_attrs_t* attrs;  // owned copy; NULL when the plugin has no attributes
} kiln__net_layer_t;

struct kiln_network_s {
  kiln_allocator_t allocator;
  kiln_registry_t* registry;  // retained
  kiln__arena_t arena;        // names, constant data, input lists
  kiln__net_tensor_t* tensors;
  uint32_t tensor_count;
  uint32_t tensor_capacity;
  kiln__net_layer_t* layers;
  uint32_t layer_count;
  uint32_t layer_capacity;
  uint32_t input_count;
  uint32_t output_count;
};

// One input's range in one profile.
typedef struct kiln__profile_shape_t {
  const char* input_name;  // owned by the config's arena
  int32_t rank;
  int64_t min[KILN_MAX_RANK];
  int64_t opt[KILN_MAX_RANK];
  int64_t max[KILN_MAX_RANK];
} kiln__profile_shape_t;

typedef struct kiln__profile_t {
  kiln__profile_shape_t* shapes;
  uint32_t shape_count;
  uint32_t shape_capacity;
} kiln__profile_t;

struct kiln_build_config_s {
  kiln_allocator_t allocator;
  kiln__arena_t arena;
  kiln__profile_t* profiles;
  uint32_t profile_count;
  uint32_t profile_capacity;
  uint32_t* targets;  // SM archs for cubins; none: the GPU's, or PTX only
  uint32_t target_count;
  bool targets_set;
  bool timing;
  kiln_logger_t logger;
  // Internal: build every layer with this tactic only (for timing one
  // candidate in an engine of its own).
  bool tactic_forced;
  int32_t forced_tactic;
  // The compile cache directory: set by kiln_build_config_set_cache_dir
  // (empty: off), else the default (see src/base/cache.h).
  const char* cache_dir;
  bool cache_dir_set;
};

// Returns the profile shape for |input_name| in |profile|, or NULL.
const kiln__profile_shape_t* kiln__build_config_find_shape(
    const kiln_build_config_t* config, uint32_t profile,
    const char* input_name);

// Copies the values of |attrs| into a new value set for the same plugin.
kiln_status_t kiln__attrs_clone(const kiln_attrs_t* attrs,
                                kiln_allocator_t allocator,
                                kiln_attrs_t** out_attrs);

#endif  // KILN_SRC_GRAPH_GRAPH_H_
