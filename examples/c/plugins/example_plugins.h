// kiln's example plugins, written in C with NVRTC:
//
// - "my::add_plugin": the seed's y = x + 1 (attribute block_size: elements
//   per CTA), float32 and float16 through autotune, two tactics (256 and
//   1024 threads per CTA).
// - "example::layernorm": row-wise layer normalization of a [rows, cols]
//   float32 tensor (attribute eps), returning the normalized rows and the
//   row means. A 2-D grid, dynamic shared memory that grows with cols (over
//   48 KB for wide rows), a float32 extra argument and two outputs.
// - "example::nonzero": the positions (int32) of the non-zero elements of a
//   1-D float32 tensor x of n elements, in increasing order, and their
//   count, a size tensor (attribute count_dtype: "int32" or "int64"): the
//   positions' shape is [count], data-dependent, with opt n / 2 and upper
//   bound n. One CTA of 1024 threads and a block-wide prefix sum, so the
//   result is deterministic.
//
// The kernels are compiled to PTX for compute_75 in the AOT implementation;
// the builder turns the PTX into cubins for its targets.

#ifndef KILN_EXAMPLES_C_PLUGINS_EXAMPLE_PLUGINS_H_
#define KILN_EXAMPLES_C_PLUGINS_EXAMPLE_PLUGINS_H_

#include "kiln/kiln_plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KILN_EXAMPLE_ADD_TACTIC_256 1
#define KILN_EXAMPLE_ADD_TACTIC_1024 2
#define KILN_EXAMPLE_LAYERNORM_TACTIC_128 1
#define KILN_EXAMPLE_LAYERNORM_TACTIC_256 2

// The plugin library table with every definition.
const kiln_plugin_library_t* kiln_example_plugins(void);

// Registers every example plugin in |registry|.
kiln_status_t kiln_example_plugins_register(kiln_registry_t* registry);

#ifdef __cplusplus
}
#endif

#endif  // KILN_EXAMPLES_C_PLUGINS_EXAMPLE_PLUGINS_H_
