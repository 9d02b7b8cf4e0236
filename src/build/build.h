// Internal interfaces of the builder.

#ifndef KILN_SRC_BUILD_BUILD_H_
#define KILN_SRC_BUILD_BUILD_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "graph/graph.h"
#include "kiln/kiln.h"
#include "kiln/kiln_plugin.h"

// One (tactic, AOT result) of a layer's chosen type combination.
typedef struct kiln__build_candidate_t {
  int32_t tactic;
  kiln_aot_result_t result;
  bool has_result;
} kiln__build_candidate_t;

// Chooses among |count| candidates of |layer| (input descriptors |inputs|,
// expressions in |sym|). With a |device| and timing on in |config|, each
// candidate is built into an engine of its own for the input shapes |opt_env|
// gives (the profile's opt), run with random inputs (warm-up, then the
// median of timed runs) and the fastest is kept; otherwise the first.
// |*out_chosen| receives the index.
kiln_status_t kiln__build_choose_tactic(
    kiln_device_t* device, const kiln_build_config_t* config,
    const kiln__net_layer_t* layer, kiln_sym_table_t* sym,
    const kiln_sym_env_t* opt_env, const kiln_tensor_desc_t* inputs,
    const kiln__build_candidate_t* candidates, size_t count,
    kiln_allocator_t allocator, size_t* out_chosen);

#endif  // KILN_SRC_BUILD_BUILD_H_
