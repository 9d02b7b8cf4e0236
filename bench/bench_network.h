// The benches' generated network: |layers| distinct plugins chained
// x -> add_1 -> add_2 -> ... -> y, each with its own CUDA C kernel
// (y = x + k for layer k = 1..layers) compiled by NVRTC to compute_75 PTX and
// by the builder (nvJitLink) to cubins for the requested architectures. The
// engine holds each kernel's PTX and its cubins, so it can be loaded either
// way (kiln_engine_load_options_t.force_ptx). For a float input x the output
// is x + layers * (layers + 1) / 2.
//
// Used by kiln_build_bench (build time) and kiln_coldstart (load time).
// Public headers only.

#ifndef KILN_BENCH_BENCH_NETWORK_H_
#define KILN_BENCH_BENCH_NETWORK_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kiln/kiln.h"

typedef struct bench_network_options_t {
  int layers;                   // 1..1000
  const uint32_t* targets;      // cubin architectures (90 for an H100)
  size_t target_count;          // at least 1
  bool timing;                  // tactic timing on a GPU (off: no GPU needed)
  int64_t min_n, opt_n, max_n;  // the profile of the 1-D input "x"
} bench_network_options_t;

// Builds the network described above into engine bytes. The caller owns
// |*out_engine| (kiln_blob_destroy). Returns the builder's and NVRTC's
// errors; INVALID_ARGUMENT for |layers| outside 1..1000 or no targets.
kiln_status_t bench_network_build(const bench_network_options_t* options,
                                  kiln_blob_t** out_engine);

// The value every output element has for the input value |x|.
float bench_network_expected(int layers, float x);

#endif  // KILN_BENCH_BENCH_NETWORK_H_
