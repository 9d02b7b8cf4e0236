// kiln plugin-author API: symbolic integers, tensor descriptors, typed
// attributes and the plugin definition ABI.
//
// A plugin is a custom GPU op "ns::name". Its author fills a kiln_plugin_def_t
// with the op's inputs, outputs, attribute schema and callbacks, and registers
// it (kiln_registry_register) or exports it from a shared library through
// kiln_plugin_init.
//
//   static kiln_status_t add_describe(void* user_data,
//                                     const kiln_describe_args_t* args,
//                                     kiln_tensor_desc_t* outputs) {
//     outputs[0] = kiln_tensor_desc_like(&args->inputs[0]);   // y has x's
//     shape return NULL;
//   }
//   static const kiln_attr_field_t add_attrs[] = {
//       {"block_size", KILN_ATTR_TYPE_INT64}};
//   static const kiln_plugin_def_t add_def = {
//       .abi_version = KILN_PLUGIN_ABI_VERSION,
//       .id = "my::add_plugin",
//       .input_count = 1, .output_count = 1,
//       .attrs = add_attrs, .attr_count = 1,
//       .describe = add_describe,
//   };
//
// Shapes are symbolic: a dimension is a kiln_sym_t, an interned expression
// over the input dimensions (kiln_sym_dim), constants and TensorRT's operation
// set. Launch parameters and scalar kernel arguments are expressions too; the
// runtime evaluates them for the real shapes.
//
// The conventions of kiln.h (status values, out_ parameters, ownership,
// allocators) hold here too.

#ifndef KILN_KILN_PLUGIN_H_
#define KILN_KILN_PLUGIN_H_

#include "kiln/kiln.h"

#ifdef __cplusplus
extern "C" {
#endif

// The version of the plugin ABI below. A definition or library built against
// another version is refused with INCOMPATIBLE.
#define KILN_PLUGIN_ABI_VERSION 1u

//===----------------------------------------------------------------------===//
// Symbolic integers
//===----------------------------------------------------------------------===//

// A table of interned expression nodes. Structurally equal expressions are one
// node, so two kiln_sym_t compare equal with == exactly when they are the same
// expression after simplification. Nodes live as long as the table.
//
// Thread safety: a table and its expressions are used by one thread at a
// time (evaluation keeps scratch state in the table).
typedef struct kiln_sym_table_s kiln_sym_table_t;

// An expression: a borrowed pointer into its table. NULL is "no expression";
// every operation given a NULL operand returns NULL.
typedef const struct kiln_sym_node_s* kiln_sym_t;

typedef enum kiln_sym_op_e {
  KILN_SYM_OP_CONST = 0,        // an int64 constant
  KILN_SYM_OP_DIM = 1,          // dimension |dim| of input tensor |tensor|
  KILN_SYM_OP_SIZE_TENSOR = 2,  // the value of a data-dependent size tensor
  KILN_SYM_OP_SUM = 3,          // a + b
  KILN_SYM_OP_SUB = 4,          // a - b
  KILN_SYM_OP_PROD = 5,         // a * b
  KILN_SYM_OP_FLOOR_DIV = 6,    // floor(a / b)
  KILN_SYM_OP_CEIL_DIV = 7,     // ceil(a / b)
  KILN_SYM_OP_MAX = 8,          // max(a, b)
  KILN_SYM_OP_MIN = 9,          // min(a, b)
  KILN_SYM_OP_EQUAL = 10,       // a == b ? 1 : 0
  KILN_SYM_OP_LESS = 11,        // a < b ? 1 : 0
  KILN_SYM_OP_COUNT = 12,
} kiln_sym_op_t;

// Limits on expressions, enforced when building and when deserializing.
#define KILN_SYM_MAX_DEPTH 128      // longest operand chain
#define KILN_SYM_MAX_TENSORS 4096   // tensor index in kiln_sym_dim
#define KILN_SYM_MAX_NODES 1048576  // nodes in one table

// Returns the name of |op| ("const", "dim", "size_tensor", "sum", "sub",
// "prod", "floor_div", "ceil_div", "max", "min", "equal", "less"); "unknown"
// outside the enum. Static string.
KILN_API const char* kiln_sym_op_name(kiln_sym_op_t op);

// Creates an empty table that allocates with |allocator|. The caller owns
// |*out_table|. Returns RESOURCE_EXHAUSTED when memory runs out.
KILN_API KILN_MUST_USE_RESULT kiln_status_t
kiln_sym_table_create(kiln_allocator_t allocator, kiln_sym_table_t** out_table);

// Frees |table| and every expression in it. NULL is a no-op.
KILN_API void kiln_sym_table_destroy(kiln_sym_table_t* table);

// Returns how many distinct nodes |table| holds.
KILN_API size_t kiln_sym_table_node_count(const kiln_sym_table_t* table);

// The builders below return the interned, simplified expression, or NULL on
// failure: a NULL operand, an operand from another table, an argument out of
// range, a result deeper than KILN_SYM_MAX_DEPTH, or memory exhausted. The
// first such failure is recorded in the table and can be taken with
// kiln_sym_table_take_error, so a chain of calls needs one check at the end
// (like a NaN, NULL propagates). kiln_sym_make reports the same failures as a
// status directly.
//
// Simplification folds constants (an operation whose exact result does not fit
// in int64, or that divides by zero, is left unfolded for evaluation to
// report), orders the operands of commutative operations, and applies x+0,
// x-0, x-x, x*1, x*0, x//1, cdiv(x,1), max(x,x), min(x,x), x==x, x<x.
KILN_API kiln_sym_t kiln_sym_const(kiln_sym_table_t* table, int64_t value);
KILN_API kiln_sym_t kiln_sym_dim(kiln_sym_table_t* table, uint32_t tensor,
                                 uint32_t dim);
// A placeholder for the value of size tensor |index| (the output index of the
// size tensor in its plugin) with an |opt| value used for tuning and an
// |upper_bound| used for memory planning. Neither may itself use a size
// tensor.
//
// A describe callback uses it in the dimensions of the plugin's other
// outputs (data-dependent shapes) and marks output |index| is_size_tensor
// (rank 0, int32 or int64); the kernel writes the data and the count, which
// must lie in [0, |upper_bound|]. The builder plans such outputs at the
// upper bound of their dimensions; launch parameters, extra arguments and
// the inputs of later layers may not depend on a size tensor (UNIMPLEMENTED;
// see kiln_context_read_output_shape in kiln.h for the runtime side). In the
// output descriptors the later callbacks (autotune, aot_impl) receive, the
// builder has renamed each placeholder to name the engine's tensor instead
// of the output index; treat them as opaque dimensions.
//
// Example (the positions of the non-zero elements of x [n]):
//
//   kiln_sym_t n = args->inputs[0].dims[0];
//   kiln_sym_t half = kiln_sym_floor_div(sym, n, kiln_sym_const(sym, 2));
//   kiln_sym_t count = kiln_sym_size_tensor(sym, 1, half, n);
//   outputs[0] = kiln_tensor_desc_make(KILN_DTYPE_INT32, 1, &count);
//   outputs[1] = kiln_tensor_desc_make(KILN_DTYPE_INT32, 0, NULL);
//   outputs[1].is_size_tensor = true;
KILN_API kiln_sym_t kiln_sym_size_tensor(kiln_sym_table_t* table,
                                         uint32_t index, kiln_sym_t opt,
                                         kiln_sym_t upper_bound);
KILN_API kiln_sym_t kiln_sym_binary(kiln_sym_table_t* table, kiln_sym_op_t op,
                                    kiln_sym_t a, kiln_sym_t b);
KILN_API kiln_sym_t kiln_sym_add(kiln_sym_table_t* table, kiln_sym_t a,
                                 kiln_sym_t b);
KILN_API kiln_sym_t kiln_sym_sub(kiln_sym_table_t* table, kiln_sym_t a,
                                 kiln_sym_t b);
KILN_API kiln_sym_t kiln_sym_mul(kiln_sym_table_t* table, kiln_sym_t a,
                                 kiln_sym_t b);
KILN_API kiln_sym_t kiln_sym_floor_div(kiln_sym_table_t* table, kiln_sym_t a,
                                       kiln_sym_t b);
KILN_API kiln_sym_t kiln_sym_ceil_div(kiln_sym_table_t* table, kiln_sym_t a,
                                      kiln_sym_t b);
KILN_API kiln_sym_t kiln_sym_max(kiln_sym_table_t* table, kiln_sym_t a,
                                 kiln_sym_t b);
KILN_API kiln_sym_t kiln_sym_min(kiln_sym_table_t* table, kiln_sym_t a,
                                 kiln_sym_t b);
KILN_API kiln_sym_t kiln_sym_eq(kiln_sym_table_t* table, kiln_sym_t a,
                                kiln_sym_t b);
KILN_API kiln_sym_t kiln_sym_lt(kiln_sym_table_t* table, kiln_sym_t a,
                                kiln_sym_t b);

// The status form of the binary builders: INVALID_ARGUMENT for a NULL or
// foreign operand or a bad |op|, OUT_OF_RANGE when the result would be deeper
// than KILN_SYM_MAX_DEPTH or the table is full, RESOURCE_EXHAUSTED.
KILN_API KILN_MUST_USE_RESULT kiln_status_t
kiln_sym_make(kiln_sym_table_t* table, kiln_sym_op_t op, kiln_sym_t a,
              kiln_sym_t b, kiln_sym_t* out_expr);

// Returns the first failure recorded by the NULL-returning builders since the
// last call, and clears it (the caller owns the status). NULL when none.
KILN_API KILN_MUST_USE_RESULT kiln_status_t
kiln_sym_table_take_error(kiln_sym_table_t* table);

// What a node is. Fields that do not apply to its op are zero/NULL.
typedef struct kiln_sym_info_t {
  kiln_sym_op_t op;
  int64_t value;    // KILN_SYM_OP_CONST
  uint32_t tensor;  // KILN_SYM_OP_DIM
  uint32_t dim;     // KILN_SYM_OP_DIM
  uint32_t index;   // KILN_SYM_OP_SIZE_TENSOR
  kiln_sym_t a;     // first operand; opt for a size tensor
  kiln_sym_t b;     // second operand; upper bound for a size tensor
  uint32_t depth;   // 1 for a leaf
} kiln_sym_info_t;

// Describes |expr|. Never fails (a NULL |expr| gives a zeroed info with op
// KILN_SYM_OP_COUNT).
KILN_API kiln_sym_info_t kiln_sym_get_info(kiln_sym_t expr);

// Returns true when |expr| is a constant (and then |*out_value| holds it).
KILN_API bool kiln_sym_is_constant(kiln_sym_t expr, int64_t* out_value);

// Concrete dimensions of one tensor.
typedef struct kiln_dims_t {
  int32_t rank;
  int64_t d[KILN_MAX_RANK];
} kiln_dims_t;

// What expressions are evaluated against: the shapes of the input tensors
// (indexed as in kiln_sym_dim) and the values of size tensors.
typedef struct kiln_sym_env_t {
  const kiln_dims_t* tensors;
  size_t tensor_count;
  const int64_t* size_tensor_values;
  size_t size_tensor_count;
} kiln_sym_env_t;

// Evaluates |expr| in exact int64 arithmetic. |table| is the table |expr|
// belongs to. Returns OUT_OF_RANGE naming the expression (printed) when an
// operation overflows int64 or divides by zero, and INVALID_ARGUMENT naming
// the tensor and dimension when |env| lacks a value the expression needs.
// Shared subexpressions are evaluated once. Not thread-safe on one table.
KILN_API KILN_MUST_USE_RESULT kiln_status_t
kiln_sym_eval(kiln_sym_table_t* table, kiln_sym_t expr,
              const kiln_sym_env_t* env, int64_t* out_value);

// Evaluates and checks that the value lies in [|min_value|, |max_value|]:
// OUT_OF_RANGE naming the expression, the value and the range otherwise.
KILN_API KILN_MUST_USE_RESULT kiln_status_t kiln_sym_eval_range(
    kiln_sym_table_t* table, kiln_sym_t expr, const kiln_sym_env_t* env,
    int64_t min_value, int64_t max_value, int64_t* out_value);

// Evaluates and narrows to an int32 kernel argument (OUT_OF_RANGE outside
// [-2^31, 2^31-1]).
KILN_API KILN_MUST_USE_RESULT kiln_status_t
kiln_sym_eval_i32(kiln_sym_table_t* table, kiln_sym_t expr,
                  const kiln_sym_env_t* env, int32_t* out_value);

// Writes |expr| readably into |buffer| (NUL-terminated, at most |capacity|
// bytes with the NUL), e.g. "cdiv(x[0]*x[1], 256)". Input tensor i is named
// |tensor_names|[i] when given and i < |name_count|, else "in<i>"; size tensors
// print as "s<index>". |*out_length| receives the length written (without
// the NUL). Returns OUT_OF_RANGE when the text does not fit (the buffer then
// holds a truncated, NUL-terminated prefix), INVALID_ARGUMENT for a NULL
// |expr| or a zero |capacity|. Thread-safe.
KILN_API KILN_MUST_USE_RESULT kiln_status_t kiln_sym_print(
    kiln_sym_t expr, const char* const* tensor_names, size_t name_count,
    char* buffer, size_t capacity, size_t* out_length);

//===----------------------------------------------------------------------===//
// Tensor descriptors
//===----------------------------------------------------------------------===//

// Describes a tensor: element type, layout and symbolic shape. Holds no data.
// A plain struct: copy it freely; its expressions belong to a kiln_sym_table_t.
typedef struct kiln_tensor_desc_t {
  kiln_dtype_t dtype;
  kiln_format_t format;
  int32_t rank;                    // 0..KILN_MAX_RANK
  kiln_sym_t dims[KILN_MAX_RANK];  // dims[0..rank-1]; never NULL when valid
  // For an output: the input it aliases (writes in place), or -1.
  int32_t aliased_input;
  // True for a size tensor: a rank-0 int32 or int64 output holding the value
  // of a data-dependent dimension (see kiln_sym_size_tensor).
  bool is_size_tensor;
} kiln_tensor_desc_t;

// Returns a copy of |desc| that aliases nothing: TensorRT's like(). Never
// fails.
KILN_API kiln_tensor_desc_t
kiln_tensor_desc_like(const kiln_tensor_desc_t* desc);

// Returns a copy of |desc| marked as aliasing input |input_index|: TensorRT's
// aliased(). Never fails.
KILN_API kiln_tensor_desc_t
kiln_tensor_desc_aliased(const kiln_tensor_desc_t* desc, int32_t input_index);

// Returns a descriptor with |dtype|, LINEAR format and |rank| dimensions taken
// from |dims|. Never fails (a |rank| outside 0..KILN_MAX_RANK is kept as given
// and refused later by validation).
KILN_API kiln_tensor_desc_t kiln_tensor_desc_make(kiln_dtype_t dtype,
                                                  int32_t rank,
                                                  const kiln_sym_t* dims);

// Returns the element count of |desc| as an expression (the product of its
// dimensions; 1 for rank 0), or NULL on failure (recorded in |table|).
KILN_API kiln_sym_t kiln_tensor_desc_numel(kiln_sym_table_t* table,
                                           const kiln_tensor_desc_t* desc);

// Checks that |desc| is well formed: a known dtype and format, a rank in
// 0..KILN_MAX_RANK, no NULL dimension, a size tensor of rank 0 and dtype
// int32 or int64. INVALID_ARGUMENT names |what| (e.g. "output 1") and the
// fault.
KILN_API KILN_MUST_USE_RESULT kiln_status_t
kiln_tensor_desc_validate(const kiln_tensor_desc_t* desc, const char* what);

//===----------------------------------------------------------------------===//
// Plugin callbacks
//===----------------------------------------------------------------------===//

// Which attributes a callback receives. |names| NULL means all of them (the
// default for a zero-initialized subset); otherwise exactly the |count| names
// listed, each of which must be in the schema.
typedef struct kiln_attr_subset_t {
  const char* const* names;
  size_t count;
} kiln_attr_subset_t;

// Arguments of the describe callback.
typedef struct kiln_describe_args_t {
  const kiln_plugin_t* plugin;
  const kiln_tensor_desc_t* inputs;  // input_count descriptors
  size_t input_count;
  size_t output_count;
  const kiln_attrs_t* attrs;  // the declared subset, borrowed for the call
  kiln_sym_table_t* sym;      // where output expressions are built
} kiln_describe_args_t;

// Fills outputs[0..output_count-1] with the output descriptors: dtype, rank,
// symbolic dimensions, aliasing and size-tensor marks. Must be pure: kiln may
// call it more than once. Returns NULL or an error of the plugin's choosing.
typedef kiln_status_t (*kiln_plugin_describe_fn_t)(
    void* user_data, const kiln_describe_args_t* args,
    kiln_tensor_desc_t* outputs);

// One supported type/format combination for all inputs then all outputs, and
// the custom tactics valid for it (non-zero, unique; none means tactic 0, the
// default).
typedef struct kiln_autotune_combination_t {
  const kiln_dtype_t* io_types;     // input_count + output_count entries
  const kiln_format_t* io_formats;  // input_count + output_count entries
  const int32_t* tactics;
  size_t tactic_count;
} kiln_autotune_combination_t;

// Where autotune writes its combinations. Owned by kiln.
typedef struct kiln_autotune_result_s kiln_autotune_result_t;

// Adds one combination (copied). Returns INVALID_ARGUMENT naming the position
// of a bad dtype or format, a tactic 0 or a repeated tactic. Adding a
// combination already present unions the tactic sets, as TensorRT does.
KILN_API KILN_MUST_USE_RESULT kiln_status_t
kiln_autotune_result_add(kiln_autotune_result_t* result,
                         const kiln_autotune_combination_t* combination);

// Adds the combinations described by TensorRT's AutoTuneCombination grammar:
// |io_types| is a comma-separated list with one entry per input then output;
// an entry "A|B|C" is dependent (the k-th choices of all '|' entries go
// together; all '|' entries must have the same length), "A*B" is independent
// (crossed with everything else). |layouts| is a format list in the same
// grammar, or a single entry broadcast to every position; NULL or empty
// means "LINEAR". Types are parsed as by kiln_dtype_parse. INVALID_ARGUMENT
// names the entry and the character offset at fault.
KILN_API KILN_MUST_USE_RESULT kiln_status_t kiln_autotune_result_add_spec(
    kiln_autotune_result_t* result, const char* io_types, const char* layouts,
    const int32_t* tactics, size_t tactic_count);

// Arguments of the autotune callback.
typedef struct kiln_autotune_args_t {
  const kiln_plugin_t* plugin;
  const kiln_tensor_desc_t* inputs;
  size_t input_count;
  const kiln_tensor_desc_t* outputs;
  size_t output_count;
  const kiln_attrs_t* attrs;
} kiln_autotune_args_t;

// Lists the plugin's supported combinations into |result|.
typedef kiln_status_t (*kiln_plugin_autotune_fn_t)(
    void* user_data, const kiln_autotune_args_t* args,
    kiln_autotune_result_t* result);

// The kind of a compiled kernel image.
typedef enum kiln_kernel_image_kind_e {
  KILN_KERNEL_IMAGE_PTX = 0,    // PTX text (need not be NUL-terminated)
  KILN_KERNEL_IMAGE_CUBIN = 1,  // an ELF cubin for one SM architecture
  KILN_KERNEL_IMAGE_KIND_COUNT = 2,
} kiln_kernel_image_kind_t;

// One compiled form of a kernel.
typedef struct kiln_kernel_image_t {
  kiln_kernel_image_kind_t kind;
  // For a cubin: the SM architecture as major*10+minor (90 for sm_90). For
  // PTX: 0, or the target it was generated for.
  uint32_t sm_arch;
  kiln_const_bytes_t bytes;
} kiln_kernel_image_t;

// The type of a scalar kernel argument.
typedef enum kiln_arg_type_e {
  KILN_ARG_TYPE_INT32 = 0,  // the TensorRT default
  KILN_ARG_TYPE_INT64 = 1,
  KILN_ARG_TYPE_FLOAT32 = 2,
  KILN_ARG_TYPE_COUNT = 3,
} kiln_arg_type_t;

// A scalar argument passed after the input pointers and before the output
// pointers. Integer arguments are expressions; a float32 argument is the
// constant |f32|.
typedef struct kiln_extra_arg_t {
  kiln_arg_type_t type;
  kiln_sym_t value;  // INT32, INT64
  float f32;         // FLOAT32
} kiln_extra_arg_t;

// Launch parameters as expressions: grid and block sizes and the dynamic
// shared memory per block in bytes. A NULL entry means 1 (0 for shared_mem).
typedef struct kiln_launch_params_t {
  kiln_sym_t grid[3];
  kiln_sym_t block[3];
  kiln_sym_t shared_mem;
} kiln_launch_params_t;

// Arguments of the AOT implementation callback. |inputs| and |outputs| carry
// the chosen dtypes and formats of the combination being built.
typedef struct kiln_aot_args_t {
  const kiln_plugin_t* plugin;
  const kiln_tensor_desc_t* inputs;
  size_t input_count;
  const kiln_tensor_desc_t* outputs;
  size_t output_count;
  const kiln_attrs_t* attrs;  // the declared subset
  kiln_sym_table_t* sym;      // where launch and argument expressions are built
  int32_t tactic;             // 0 is the default tactic
} kiln_aot_args_t;

// What an AOT implementation returns. The memory it points to must stay valid
// until kiln calls |release| (or, when |release| is NULL, for as long as the
// plugin is registered).
typedef struct kiln_aot_result_t {
  kiln_string_view_t kernel_name;  // the entry symbol in the images
  const kiln_kernel_image_t* images;
  size_t image_count;
  kiln_launch_params_t launch;
  const kiln_extra_arg_t* extra_args;
  size_t extra_arg_count;
  // Triton (>= 3.3) kernels take two hidden trailing pointers, global and
  // profile scratch. Their sizes per CTA and alignments come from the
  // compiled kernel's metadata (global_scratch_size, global_scratch_align,
  // profile_scratch_size, profile_scratch_align). A size of 0 gets a null
  // pointer; otherwise the runtime allocates grid * num_ctas * size bytes.
  // Zero-initialized for kernels without such parameters.
  uint64_t global_scratch_size;
  uint32_t global_scratch_align;
  uint64_t profile_scratch_size;
  uint32_t profile_scratch_align;
  // CTAs per program (Triton's num_ctas); 0 means 1.
  uint32_t num_ctas;
  // (optional) Called once kiln has copied what it needs. NULL means nothing
  // needs releasing.
  void (*release)(void* release_data, struct kiln_aot_result_t* result);
  void* release_data;
} kiln_aot_result_t;

// Compiles (or returns precompiled) code for one combination and tactic.
typedef kiln_status_t (*kiln_plugin_aot_impl_fn_t)(
    void* user_data, const kiln_aot_args_t* args,
    kiln_aot_result_t* out_result);

// A concrete tensor on the device, as a host implementation sees it.
typedef struct kiln_device_tensor_t {
  void* data;  // device address
  kiln_dtype_t dtype;
  kiln_format_t format;
  int32_t rank;
  int64_t dims[KILN_MAX_RANK];
  int64_t strides[KILN_MAX_RANK];  // in elements
} kiln_device_tensor_t;

// Arguments of the host implementation, called at enqueue time.
typedef struct kiln_host_impl_args_t {
  const kiln_plugin_t* plugin;
  const kiln_device_tensor_t* inputs;
  size_t input_count;
  const kiln_device_tensor_t* outputs;
  size_t output_count;
  const kiln_attrs_t* attrs;  // the declared subset
  void* stream;               // a CUstream
  int32_t tactic;
} kiln_host_impl_args_t;

// Runs the op on |stream| (TensorRT's JIT impl).
typedef kiln_status_t (*kiln_plugin_host_impl_fn_t)(
    void* user_data, const kiln_host_impl_args_t* args);

//===----------------------------------------------------------------------===//
// Plugin definitions and registration
//===----------------------------------------------------------------------===//

// A plugin definition. Registration copies it (strings, schema, subsets), so
// it may be a temporary. Slots are only ever appended.
typedef struct kiln_plugin_def_t {
  uint32_t abi_version;  // = KILN_PLUGIN_ABI_VERSION
  // "ns::name": exactly one "::", neither part empty nor containing '.' or
  // ':', and the namespace not "trt", "tensorrt" or "std".
  const char* id;
  // (optional) NULL means "1".
  const char* version;
  uint32_t input_count;            // at least 1
  uint32_t output_count;           // at least 1
  const kiln_attr_field_t* attrs;  // attr_count fields, unique names
  size_t attr_count;               // at most KILN_MAX_ATTRS
  // Passed to every callback.
  void* user_data;
  // (optional) Called when the registry drops the plugin. NULL means the
  // user data needs no release.
  void (*user_data_release)(void* user_data);

  kiln_plugin_describe_fn_t describe;  // required
  kiln_attr_subset_t describe_attrs;
  // (optional) NULL means the one default combination: the input types given
  // by the network, the output types from describe, LINEAR everywhere, and
  // tactic 0.
  kiln_plugin_autotune_fn_t autotune;
  kiln_attr_subset_t autotune_attrs;
  // (optional) NULL means the plugin cannot be built ahead of time.
  kiln_plugin_aot_impl_fn_t aot_impl;
  kiln_attr_subset_t aot_impl_attrs;
  // (optional) NULL means the plugin has no host implementation.
  kiln_plugin_host_impl_fn_t host_impl;
  kiln_attr_subset_t host_impl_attrs;
} kiln_plugin_def_t;

// Registers a copy of |def| in |registry|. |out_plugin| may be NULL; otherwise
// it receives the registered plugin (borrowed from the registry). Returns
// INCOMPATIBLE naming both ABI versions when |def->abi_version| differs,
// INVALID_ARGUMENT naming the id and the fault for a malformed id, a
// reserved namespace, a missing describe, zero inputs or outputs, a bad or
// duplicate attribute name or type, or a subset naming an undeclared
// attribute; ALREADY_EXISTS naming the id when it is registered already;
// RESOURCE_EXHAUSTED. Thread-safe.
KILN_API KILN_MUST_USE_RESULT kiln_status_t
kiln_registry_register(kiln_registry_t* registry, const kiln_plugin_def_t* def,
                       const kiln_plugin_t** out_plugin);

// Checks a plugin id as registration does, without registering.
KILN_API KILN_MUST_USE_RESULT kiln_status_t
kiln_plugin_id_validate(kiln_string_view_t plugin_id);

// Returns the registry's copy of the plugin's definition (borrowed; its
// strings and arrays live as long as the registry). Never fails.
KILN_API const kiln_plugin_def_t* kiln_plugin_definition(
    const kiln_plugin_t* plugin);

// Returns the plugin's id, namespace and name (borrowed). Never fail.
KILN_API kiln_string_view_t kiln_plugin_id(const kiln_plugin_t* plugin);
KILN_API kiln_string_view_t kiln_plugin_namespace(const kiln_plugin_t* plugin);
KILN_API kiln_string_view_t kiln_plugin_name(const kiln_plugin_t* plugin);

// Calls |plugin|'s describe with |attrs| narrowed to the subset it declared,
// then validates the result: |input_count| must equal the plugin's input
// count, |output_count| its output count, every output must pass
// kiln_tensor_desc_validate, an aliased output must name an existing input of
// the same dtype and shape, and every size-tensor placeholder used must refer
// to an output marked as a size tensor. Errors name the plugin, the callback
// and the output at fault. |outputs| is written only on success.
KILN_API KILN_MUST_USE_RESULT kiln_status_t kiln_plugin_describe(
    const kiln_plugin_t* plugin, const kiln_tensor_desc_t* inputs,
    size_t input_count, const kiln_attrs_t* attrs, kiln_sym_table_t* sym,
    kiln_tensor_desc_t* outputs, size_t output_count);

// Runs |plugin|'s autotune (or, when it has none, makes the default
// combination: the dtypes of |inputs| and |outputs|, LINEAR, no tactics) with
// |attrs| narrowed to the declared subset. The combinations must have as many
// types and formats as the plugin has inputs plus outputs. The caller owns
// |*out_result|. Errors name the plugin and the callback.
KILN_API KILN_MUST_USE_RESULT kiln_status_t kiln_plugin_autotune(
    const kiln_plugin_t* plugin, const kiln_tensor_desc_t* inputs,
    size_t input_count, const kiln_tensor_desc_t* outputs, size_t output_count,
    const kiln_attrs_t* attrs, kiln_allocator_t allocator,
    kiln_autotune_result_t** out_result);

// Creates an empty result for |io_count| positions (inputs then outputs).
// The caller owns |*out_result|.
KILN_API KILN_MUST_USE_RESULT kiln_status_t
kiln_autotune_result_create(size_t io_count, kiln_allocator_t allocator,
                            kiln_autotune_result_t** out_result);

// Frees |result|. NULL is a no-op.
KILN_API void kiln_autotune_result_destroy(kiln_autotune_result_t* result);

// Returns how many distinct combinations |result| holds.
KILN_API size_t
kiln_autotune_result_count(const kiln_autotune_result_t* result);

// Returns combination |index| in insertion order; its arrays are borrowed from
// |result|. An |index| out of range gives a zeroed combination.
KILN_API kiln_autotune_combination_t
kiln_autotune_result_at(const kiln_autotune_result_t* result, size_t index);

// A plugin library's table of definitions.
typedef struct kiln_plugin_library_t {
  uint32_t abi_version;  // = KILN_PLUGIN_ABI_VERSION the library was built with
  const kiln_plugin_def_t* plugins;
  size_t plugin_count;
} kiln_plugin_library_t;

// The one symbol a plugin library exports, named "kiln_plugin_init":
//
//   KILN_PLUGIN_EXPORT kiln_status_t kiln_plugin_init(
//       uint32_t host_abi_version, const kiln_plugin_library_t** out_library);
//
// It receives the host's KILN_PLUGIN_ABI_VERSION and returns a table that
// stays valid while the library is loaded.
typedef kiln_status_t (*kiln_plugin_init_fn_t)(
    uint32_t host_abi_version, const kiln_plugin_library_t** out_library);

#define KILN_PLUGIN_INIT_SYMBOL "kiln_plugin_init"

#ifdef __cplusplus
#define KILN_PLUGIN_EXPORT extern "C" KILN_API_EXPORT
#else
#define KILN_PLUGIN_EXPORT KILN_API_EXPORT
#endif

//===----------------------------------------------------------------------===//
// NVRTC helper
//===----------------------------------------------------------------------===//
//
// For plugin authors who write kernels in CUDA C++ and compile them at build
// time, as TensorRT's C++ AOT examples do with NVRTC. kiln loads NVRTC
// (libnvrtc.so.13, .12 or .so, from the loader's path, $CUDA_HOME/lib64 or
// the default toolkit location) on first use; nothing links against it.
//
// Example, inside an AOT implementation:
//
//   static const char kSource[] =
//       "extern \"C\" __global__ void add_one(const float* x, int n,\n"
//       "                                    float* y) {\n"
//       "  int i = blockIdx.x * blockDim.x + threadIdx.x;\n"
//       "  if (i < n) y[i] = x[i] + 1.0f;\n"
//       "}\n";
//   static const uint32_t kArchs[] = {80, 90};
//   kiln_nvrtc_options_t options = {0};
//   options.sm_archs = kArchs;
//   options.sm_arch_count = 2;
//   options.emit_ptx = true;    // PTX for compute_80: runs on newer GPUs too
//   options.emit_cubin = true;  // cubins for sm_80 and sm_90
//   kiln_compiled_kernel_t* kernel = NULL;
//   kiln_status_t status = kiln_nvrtc_compile(
//       kiln_make_string_view(kSource, sizeof(kSource) - 1), "add_one.cu",
//       &options, kiln_allocator_system(), &kernel);
//   if (status) return status;  // the message holds NVRTC's log
//   out_result->kernel_name = kiln_make_cstring_view("add_one");
//   out_result->images = kiln_compiled_kernel_images(kernel);
//   out_result->image_count = kiln_compiled_kernel_image_count(kernel);
//   out_result->release = kiln_compiled_kernel_aot_release;
//   out_result->release_data = kernel;

// Options for kiln_nvrtc_compile. Zero-initialize, then set |sm_archs| and at
// least one of |emit_ptx| and |emit_cubin|.
typedef struct kiln_nvrtc_options_t {
  // Extra NVRTC options passed to every compilation as given, e.g.
  // "-default-device", "--use_fast_math", "-lineinfo", "-I...". kiln adds
  // "--gpu-architecture=..." itself; do not pass one. Whether kernels are
  // extern "C" (so that their names are not mangled) is the author's choice.
  const char* const* options;
  size_t option_count;
  // The SM architectures as major*10+minor (80, 90, 100...). At least one;
  // duplicates are ignored.
  const uint32_t* sm_archs;
  size_t sm_arch_count;
  // Compile for the arch-specific variants (sm_90a, compute_90a): code that
  // uses wgmma or setmaxnreg needs them, and runs only on that exact
  // architecture.
  bool arch_specific;
  // Emit PTX for the lowest architecture in |sm_archs| (compute_XX). The
  // driver can JIT it for that architecture and newer ones.
  bool emit_ptx;
  // Emit one cubin per architecture in |sm_archs| (sm_XX).
  bool emit_cubin;
  // (optional) In-memory headers the source may #include: |header_count|
  // sources, each included under the matching |header_names| entry. NULL
  // means none.
  const char* const* header_sources;
  const char* const* header_names;
  size_t header_count;
} kiln_nvrtc_options_t;

// The result of kiln_nvrtc_compile: a set of kernel images and NVRTC's log.
// Immutable once made; may be read from several threads at once.
typedef struct kiln_compiled_kernel_s kiln_compiled_kernel_t;

// Compiles the CUDA C++ |source| with NVRTC into kernel images: when
// |options->emit_ptx|, one PTX image (NUL-terminated; its sm_arch is the
// lowest requested architecture), then, when |options->emit_cubin|, one
// cubin per requested architecture in ascending order. |program_name| names
// the source in diagnostics (NULL means "kernel.cu"). The images can be
// returned directly as a kiln_aot_result_t's images (see the example above).
// The caller owns |*out_kernel| and frees it with
// kiln_compiled_kernel_destroy. Thread-safe: compilations may run on
// several threads at once.
//
// Returns INVALID_ARGUMENT for NULL |options|, no architectures, an
// architecture outside 10..999, nothing to emit, NULL option or header
// arrays with a non-zero count, a source containing a NUL byte, and for
// source that does not compile or an option NVRTC rejects: the message then
// holds NVRTC's full log. Returns INCOMPATIBLE naming the architectures this
// NVRTC supports when it does not support a requested one; UNAVAILABLE when
// NVRTC cannot be loaded (the message says what to install);
// RESOURCE_EXHAUSTED; INTERNAL for an unexpected NVRTC failure.
KILN_API KILN_MUST_USE_RESULT kiln_status_t kiln_nvrtc_compile(
    kiln_string_view_t source, const char* program_name,
    const kiln_nvrtc_options_t* options, kiln_allocator_t allocator,
    kiln_compiled_kernel_t** out_kernel);

// Reports the version of the NVRTC library kiln loads, loading it if needed.
// Returns UNAVAILABLE (saying what to install) when it cannot be loaded.
// Thread-safe.
KILN_API KILN_MUST_USE_RESULT kiln_status_t
kiln_nvrtc_version(int32_t* out_major, int32_t* out_minor);

// Returns how many images |kernel| holds (0 for NULL). Never fails.
KILN_API size_t
kiln_compiled_kernel_image_count(const kiln_compiled_kernel_t* kernel);

// Returns |kernel|'s images as one array of kiln_compiled_kernel_image_count
// entries, borrowed for the life of |kernel| (NULL for NULL). Never fails.
KILN_API const kiln_kernel_image_t* kiln_compiled_kernel_images(
    const kiln_compiled_kernel_t* kernel);

// Returns image |index| of |kernel| (borrowed bytes); a zeroed image when
// |index| is out of range or |kernel| is NULL. Never fails.
KILN_API kiln_kernel_image_t kiln_compiled_kernel_image_at(
    const kiln_compiled_kernel_t* kernel, size_t index);

// Returns NVRTC's log of the first compilation (warnings; often empty),
// borrowed for the life of |kernel|; empty for NULL. Never fails.
KILN_API kiln_string_view_t
kiln_compiled_kernel_log(const kiln_compiled_kernel_t* kernel);

// Frees |kernel| and its images. NULL is a no-op.
KILN_API void kiln_compiled_kernel_destroy(kiln_compiled_kernel_t* kernel);

// A kiln_aot_result_t release function that destroys the compiled kernel
// passed as |release_data| (see the example above). |result| is not used.
KILN_API void kiln_compiled_kernel_aot_release(void* release_data,
                                               kiln_aot_result_t* result);

#ifdef __cplusplus
}  // extern "C"
#endif

#endif  // KILN_KILN_PLUGIN_H_
