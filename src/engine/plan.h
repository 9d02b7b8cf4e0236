// The engine plan: the in-memory form of an engine. The builder produces it,
// the engine writer serializes it, the verifying reader rebuilds it from
// untrusted bytes, and the runtime and `kiln inspect` consume it.
//
// Everything the runtime needs is here and nothing about plugins beyond their
// ids: AOT layers carry no attribute values. Arrays are owned by the plan's
// arena; strings and byte ranges point into |blob| (for a parsed plan, the
// engine file's bytes, which the owner keeps alive).
//
// Index conventions: tensors, layers, kernels, images, params and args are
// referred to by their index in the plan's arrays; a "range" is (first,
// count) into a pool. Expressions are indices into |exprs|. In an expression,
// kiln_sym_dim(i, j) is dimension j of network input i (inputs in binding
// order, see |input_count|), and a size tensor placeholder
// kiln_sym_size_tensor(t, opt, upper) is the value of tensor t, a tensor
// marked |is_size_tensor| (the index is the engine's tensor index, not the
// output index the plugin used). Placeholders occur only in the dimensions
// of activations produced by the same layer as tensor t (data-dependent
// shapes); launch parameters, arguments and the tensors layers consume never
// depend on them.
//
// The rules a plan must follow to be written (and that the reader checks)
// are in docs/engine-format.md, "Semantic rules"; kiln__plan_verify
// (engine.h) checks them. Fields that do not apply to a record's kind (a
// producer of an input, the launch fields of a host layer, dims past the
// rank) are ignored by the writer, which writes fixed values there.

#ifndef KILN_SRC_ENGINE_PLAN_H_
#define KILN_SRC_ENGINE_PLAN_H_

#include <stdbool.h>
#include <stdint.h>

#include "base/arena.h"
#include "kiln/kiln.h"
#include "kiln/kiln_plugin.h"

#define KILN__NONE UINT32_MAX

// A run of bytes inside the plan's blob.
typedef struct kiln__plan_span_t {
  uint64_t offset;
  uint64_t size;
} kiln__plan_span_t;

// A run of entries in one of the plan's pools.
typedef struct kiln__plan_range_t {
  uint32_t first;
  uint32_t count;
} kiln__plan_range_t;

typedef enum kiln__tensor_kind_e {
  KILN__TENSOR_INPUT = 0,       // bound by the caller (a network input)
  KILN__TENSOR_CONSTANT = 1,    // data baked into the blob
  KILN__TENSOR_ACTIVATION = 2,  // produced by a layer
  KILN__TENSOR_KIND_COUNT = 3,
} kiln__tensor_kind_t;

typedef struct kiln__plan_tensor_t {
  kiln__plan_span_t name;  // UTF-8 in the blob; empty for unnamed internals
  uint8_t kind;            // kiln__tensor_kind_t
  uint8_t is_output;       // bound by the caller as a network output
                           // (ACTIVATION only)
  uint8_t dtype;           // kiln_dtype_t
  uint8_t format;          // kiln_format_t
  int32_t rank;
  // Expression indices, rank entries used. An INPUT's dimension j is a
  // constant or kiln_sym_dim(input_ordinal, j) (dynamic); a CONSTANT's are
  // constants.
  uint32_t dims[KILN_MAX_RANK];
  uint32_t input_ordinal;  // INPUT: its index among network inputs
  uint32_t producer;       // ACTIVATION: the layer; else KILN__NONE
  uint32_t constant;       // CONSTANT: index in |constants|
  // An ACTIVATION that is not an output lives in the context's activation
  // arena at this byte offset (planned for the profile maxima). KILN__NONE
  // as uint64 (UINT64_MAX) for caller-bound tensors.
  uint64_t arena_offset;
  // Size at the profile maxima; for a data-dependent tensor, at the upper
  // bounds of its dimensions over every profile (interval arithmetic with
  // each size tensor in [0, upper]).
  uint64_t max_bytes;
  // An output aliasing an input of its producer shares that tensor's memory:
  // the tensor index, else KILN__NONE.
  uint32_t alias_of;
  // 1 for a size tensor: a rank-0 int32 or int64 ACTIVATION whose value its
  // producer computes and that other outputs of that layer use as a
  // dimension (placeholders kiln_sym_size_tensor(t, opt, upper), where t is
  // this tensor's index).
  uint8_t is_size_tensor;
} kiln__plan_tensor_t;

// Where a constant's bytes are in the blob.
typedef struct kiln__plan_constant_t {
  kiln__plan_span_t data;
} kiln__plan_constant_t;

// One compiled form of a kernel.
typedef struct kiln__plan_image_t {
  uint8_t kind;            // kiln_kernel_image_kind_t
  uint32_t sm_arch;        // cubin: exact arch (90); PTX: 0 or its target
  kiln__plan_span_t data;  // PTX bytes are followed by a NUL in the blob
} kiln__plan_image_t;

typedef enum kiln__param_kind_e {
  KILN__PARAM_INPUT = 0,            // pointer to layer input |index|
  KILN__PARAM_OUTPUT = 1,           // pointer to layer output |index|
  KILN__PARAM_ARG = 2,              // extra scalar argument |index|
  KILN__PARAM_ZERO = 3,             // |size| zero bytes (unknown hidden)
  KILN__PARAM_GLOBAL_SCRATCH = 4,   // Triton global scratch pointer
  KILN__PARAM_PROFILE_SCRATCH = 5,  // Triton profile scratch pointer
  KILN__PARAM_KIND_COUNT = 6,
} kiln__param_kind_t;

// One kernel parameter, in order.
typedef struct kiln__plan_param_t {
  uint8_t kind;   // kiln__param_kind_t
  uint8_t size;   // bytes: 4 or 8 (ZERO: 1..255)
  uint8_t align;  // bytes: 1..16
  uint32_t index;
} kiln__plan_param_t;

typedef struct kiln__plan_kernel_t {
  kiln__plan_span_t name;     // the entry symbol
  kiln__plan_range_t images;  // into |images|
  kiln__plan_range_t params;  // into |params|
  // Triton scratch: bytes per CTA and alignment; size 0 means pass null.
  uint64_t global_scratch_size;
  uint32_t global_scratch_align;
  uint64_t profile_scratch_size;
  uint32_t profile_scratch_align;
  uint32_t num_ctas;  // CTAs per program (Triton), 1 normally
} kiln__plan_kernel_t;

// A scalar kernel argument.
typedef struct kiln__plan_arg_t {
  uint8_t type;   // kiln_arg_type_t
  uint32_t expr;  // INT32/INT64: expression index; FLOAT32: KILN__NONE
  float f32;      // FLOAT32
} kiln__plan_arg_t;

typedef enum kiln__layer_kind_e {
  KILN__LAYER_AOT = 0,   // launches |kernel| with the recipe below
  KILN__LAYER_HOST = 1,  // calls the plugin's host_impl at enqueue
  KILN__LAYER_KIND_COUNT = 2,
} kiln__layer_kind_t;

typedef struct kiln__plan_layer_t {
  kiln__plan_span_t plugin_id;  // "ns::name", for messages and inspect
  kiln__plan_span_t name;       // the layer's name (may be empty)
  uint8_t kind;                 // kiln__layer_kind_t
  int32_t tactic;
  kiln__plan_range_t inputs;   // tensor indices, into |indices|
  kiln__plan_range_t outputs;  // tensor indices, into |indices|
  // AOT only.
  uint32_t kernel;
  uint32_t grid[3];         // expression indices
  uint32_t block[3];        // expression indices
  uint32_t shared_mem;      // expression index
  kiln__plan_range_t args;  // into |args|
  // HOST only: the attributes its host_impl declared, serialized.
  kiln__plan_span_t host_attrs;
} kiln__plan_layer_t;

// The allowed range of one dimension of one input in one profile.
typedef struct kiln__plan_dim_range_t {
  int64_t min;
  int64_t opt;
  int64_t max;
} kiln__plan_dim_range_t;

// Facts about how the engine was built (shown by inspect).
typedef struct kiln__plan_info_t {
  uint32_t kiln_version;   // KILN_VERSION_NUMBER of the builder
  uint8_t timed;           // tactics were timed on a GPU
  uint32_t timed_sm_arch;  // the GPU they were timed on (0: none)
} kiln__plan_info_t;

typedef struct kiln__plan_t {
  kiln__arena_t arena;    // owns every array below
  kiln_sym_table_t* sym;  // owns the expressions
  kiln_sym_t* exprs;
  uint32_t expr_count;

  kiln__plan_tensor_t* tensors;
  uint32_t tensor_count;
  uint32_t input_count;   // tensors of kind INPUT, ordinals 0..n-1
  uint32_t output_count;  // tensors with is_output

  kiln__plan_constant_t* constants;
  uint32_t constant_count;
  kiln__plan_image_t* images;
  uint32_t image_count;
  kiln__plan_param_t* params;
  uint32_t param_count;
  kiln__plan_kernel_t* kernels;
  uint32_t kernel_count;
  kiln__plan_arg_t* args;
  uint32_t arg_count;
  kiln__plan_layer_t* layers;  // in execution order
  uint32_t layer_count;
  uint32_t* indices;  // pool for layer inputs and outputs
  uint32_t index_count;

  // profile_count * input_count * KILN_MAX_RANK ranges: profile p, input i,
  // dim j at [(p * input_count + i) * KILN_MAX_RANK + j]. A dynamic
  // dimension has 0 <= min <= opt <= max; a static one min = opt = max =
  // its value; entries past an input's rank are unused.
  kiln__plan_dim_range_t* ranges;
  uint32_t profile_count;

  uint64_t activation_bytes;  // the activation arena size at the maxima
  kiln__plan_info_t info;

  // The bytes that spans point into.
  kiln_const_bytes_t blob;
} kiln__plan_t;

#endif  // KILN_SRC_ENGINE_PLAN_H_
