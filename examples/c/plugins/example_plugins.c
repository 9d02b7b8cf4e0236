// The example plugins: definitions, describe, autotune and AOT
// implementations compiling CUDA C with NVRTC.

#include "example_plugins.h"

#include <stdio.h>

//===----------------------------------------------------------------------===//
// my::add_plugin: y = x + 1
//===----------------------------------------------------------------------===//

// The kernel ABI is [inputs][extra scalars][outputs]: x, n, block_size, y.
// Each CTA covers block_size consecutive elements with blockDim.x threads.
static const char kAddSource[] =
    "extern \"C\" __global__ void add_one_f32(const float* __restrict__ x,\n"
    "    int n, int block_size, float* __restrict__ y) {\n"
    "  long long start = (long long)blockIdx.x * block_size;\n"
    "  long long end = start + block_size < n ? start + block_size : n;\n"
    "  for (long long i = start + threadIdx.x; i < end; i += blockDim.x)\n"
    "    y[i] = x[i] + 1.0f;\n"
    "}\n"
    "extern \"C\" __global__ void add_one_f16(const unsigned short* "
    "__restrict__ x,\n"
    "    int n, int block_size, unsigned short* __restrict__ y) {\n"
    "  long long start = (long long)blockIdx.x * block_size;\n"
    "  long long end = start + block_size < n ? start + block_size : n;\n"
    "  for (long long i = start + threadIdx.x; i < end; i += blockDim.x) {\n"
    "    unsigned short h = x[i];\n"
    "    float f;\n"
    "    asm(\"cvt.f32.f16 %0, %1;\" : \"=f\"(f) : \"h\"(h));\n"
    "    f += 1.0f;\n"
    "    asm(\"cvt.rn.f16.f32 %0, %1;\" : \"=h\"(h) : \"f\"(f));\n"
    "    y[i] = h;\n"
    "  }\n"
    "}\n";

static const uint32_t kPtxArchs[] = {75};

// What an AOT result points to until kiln releases it: the compiled kernel
// and the extra-argument array.
typedef struct aot_holder_t {
  kiln_compiled_kernel_t* kernel;
  kiln_extra_arg_t args[4];
} aot_holder_t;

static void holder_release(void* release_data, kiln_aot_result_t* result) {
  (void)result;
  aot_holder_t* holder = (aot_holder_t*)release_data;
  kiln_compiled_kernel_destroy(holder->kernel);
  kiln_allocator_free(kiln_allocator_system(), holder);
}

// Compiles |source| to PTX for compute_75 and fills |result|'s images and
// release hook. |holder| (with its args already set) is taken over: it is
// freed here on failure and by kiln through the release hook on success.
static kiln_status_t finish_with_ptx(const char* source, size_t size,
                                     const char* program, aot_holder_t* holder,
                                     kiln_aot_result_t* result) {
  kiln_nvrtc_options_t options = {0};
  options.sm_archs = kPtxArchs;
  options.sm_arch_count = 1;
  options.emit_ptx = true;
  kiln_status_t status =
      kiln_nvrtc_compile(kiln_make_string_view(source, size), program, &options,
                         kiln_allocator_system(), &holder->kernel);
  if (status) {
    kiln_allocator_free(kiln_allocator_system(), holder);
    return status;
  }
  result->images = kiln_compiled_kernel_images(holder->kernel);
  result->image_count = kiln_compiled_kernel_image_count(holder->kernel);
  result->extra_args = holder->args;
  result->release = holder_release;
  result->release_data = holder;
  return NULL;
}

static kiln_status_t add_describe(void* user_data,
                                  const kiln_describe_args_t* args,
                                  kiln_tensor_desc_t* outputs) {
  (void)user_data;
  outputs[0] = kiln_tensor_desc_like(&args->inputs[0]);
  return NULL;
}

static const int32_t kAddTactics[] = {KILN_EXAMPLE_ADD_TACTIC_256,
                                      KILN_EXAMPLE_ADD_TACTIC_1024};

static kiln_status_t add_autotune(void* user_data,
                                  const kiln_autotune_args_t* args,
                                  kiln_autotune_result_t* result) {
  (void)user_data;
  (void)args;
  return kiln_autotune_result_add_spec(result, "FP32|FP16, FP32|FP16", NULL,
                                       kAddTactics, 2);
}

static kiln_status_t add_aot_impl(void* user_data, const kiln_aot_args_t* args,
                                  kiln_aot_result_t* out_result) {
  (void)user_data;
  int64_t block_size = 0;
  KILN_RETURN_IF_ERROR(
      kiln_attrs_get_int64(args->attrs, "block_size", &block_size));
  if (block_size <= 0 || block_size > (INT64_C(1) << 30)) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "my::add_plugin: block_size %lld must be in "
                            "1..2^30",
                            (long long)block_size);
  }
  int64_t threads = args->tactic == KILN_EXAMPLE_ADD_TACTIC_1024 ? 1024 : 256;
  bool half = args->inputs[0].dtype == KILN_DTYPE_FLOAT16;

  // N = x.numel(); grid = cdiv(N, block_size); extra args (N, block_size).
  kiln_sym_table_t* sym = args->sym;
  kiln_sym_t n = kiln_tensor_desc_numel(sym, &args->inputs[0]);
  kiln_sym_t block = kiln_sym_const(sym, block_size);
  kiln_sym_t grid = kiln_sym_ceil_div(sym, n, block);
  kiln_sym_t threads_expr = kiln_sym_const(sym, threads);
  if (!grid || !threads_expr) return kiln_sym_table_take_error(sym);
  out_result->launch.grid[0] = grid;
  out_result->launch.block[0] = threads_expr;
  out_result->kernel_name =
      kiln_make_cstring_view(half ? "add_one_f16" : "add_one_f32");

  aot_holder_t* holder = NULL;
  KILN_RETURN_IF_ERROR(kiln_allocator_malloc(kiln_allocator_system(),
                                             sizeof(*holder), (void**)&holder));
  holder->args[0].type = KILN_ARG_TYPE_INT32;
  holder->args[0].value = n;
  holder->args[1].type = KILN_ARG_TYPE_INT32;
  holder->args[1].value = block;
  out_result->extra_arg_count = 2;
  return finish_with_ptx(kAddSource, sizeof(kAddSource) - 1, "add_one.cu",
                         holder, out_result);
}

static const kiln_attr_field_t kAddAttrs[] = {
    {"block_size", KILN_ATTR_TYPE_INT64}};
static const char* const kAddAotAttrs[] = {"block_size"};

//===----------------------------------------------------------------------===//
// example::layernorm: y = (x - mean) / sqrt(var + eps), and the row means
//===----------------------------------------------------------------------===//

// One CTA per row; the row is cached in dynamic shared memory (cols floats)
// followed by blockDim.x floats for the reductions. blockDim.x is a power of
// two. Rows are spread over a 2-D grid: row = blockIdx.y * gridDim.x +
// blockIdx.x.
static const char kLayernormSource[] =
    "extern \"C\" __global__ void layernorm_f32(const float* __restrict__ x,\n"
    "    int rows, int cols, float eps, float* __restrict__ y,\n"
    "    float* __restrict__ mean_out) {\n"
    "  extern __shared__ float smem[];\n"
    "  float* cache = smem;\n"
    "  float* partial = smem + cols;\n"
    "  long long row = (long long)blockIdx.y * gridDim.x + blockIdx.x;\n"
    "  if (row >= rows) return;\n"
    "  const float* xr = x + row * cols;\n"
    "  float s = 0.0f;\n"
    "  for (int c = threadIdx.x; c < cols; c += blockDim.x) {\n"
    "    float v = xr[c];\n"
    "    cache[c] = v;\n"
    "    s += v;\n"
    "  }\n"
    "  partial[threadIdx.x] = s;\n"
    "  __syncthreads();\n"
    "  for (int k = blockDim.x / 2; k > 0; k >>= 1) {\n"
    "    if (threadIdx.x < k) partial[threadIdx.x] += partial[threadIdx.x + "
    "k];\n"
    "    __syncthreads();\n"
    "  }\n"
    "  float mean = partial[0] / (float)cols;\n"
    "  __syncthreads();\n"
    "  float q = 0.0f;\n"
    "  for (int c = threadIdx.x; c < cols; c += blockDim.x) {\n"
    "    float d = cache[c] - mean;\n"
    "    q += d * d;\n"
    "  }\n"
    "  partial[threadIdx.x] = q;\n"
    "  __syncthreads();\n"
    "  for (int k = blockDim.x / 2; k > 0; k >>= 1) {\n"
    "    if (threadIdx.x < k) partial[threadIdx.x] += partial[threadIdx.x + "
    "k];\n"
    "    __syncthreads();\n"
    "  }\n"
    "  float rstd = rsqrtf(partial[0] / (float)cols + eps);\n"
    "  float* yr = y + row * cols;\n"
    "  for (int c = threadIdx.x; c < cols; c += blockDim.x)\n"
    "    yr[c] = (cache[c] - mean) * rstd;\n"
    "  if (threadIdx.x == 0) mean_out[row] = mean;\n"
    "}\n";

static kiln_status_t layernorm_describe(void* user_data,
                                        const kiln_describe_args_t* args,
                                        kiln_tensor_desc_t* outputs) {
  (void)user_data;
  const kiln_tensor_desc_t* x = &args->inputs[0];
  if (x->rank != 2) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "example::layernorm: input must be [rows, cols], "
                            "got rank %d",
                            (int)x->rank);
  }
  outputs[0] = kiln_tensor_desc_like(x);
  outputs[1] = kiln_tensor_desc_make(x->dtype, 1, &x->dims[0]);
  return NULL;
}

static const int32_t kLayernormTactics[] = {KILN_EXAMPLE_LAYERNORM_TACTIC_128,
                                            KILN_EXAMPLE_LAYERNORM_TACTIC_256};

static kiln_status_t layernorm_autotune(void* user_data,
                                        const kiln_autotune_args_t* args,
                                        kiln_autotune_result_t* result) {
  (void)user_data;
  (void)args;
  return kiln_autotune_result_add_spec(result, "FP32, FP32, FP32", NULL,
                                       kLayernormTactics, 2);
}

static kiln_status_t layernorm_aot_impl(void* user_data,
                                        const kiln_aot_args_t* args,
                                        kiln_aot_result_t* out_result) {
  (void)user_data;
  double eps = 0.0;
  KILN_RETURN_IF_ERROR(kiln_attrs_get_float64(args->attrs, "eps", &eps));
  if (!(eps > 0.0) || eps > 1.0) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "example::layernorm: eps %g must be in (0, 1]",
                            eps);
  }
  int64_t threads =
      args->tactic == KILN_EXAMPLE_LAYERNORM_TACTIC_256 ? 256 : 128;
  kiln_sym_table_t* sym = args->sym;
  kiln_sym_t rows = args->inputs[0].dims[0];
  kiln_sym_t cols = args->inputs[0].dims[1];
  kiln_sym_t per_x = kiln_sym_const(sym, 1024);
  // grid = (min(rows, 1024), cdiv(rows, 1024)); smem = (cols + threads) * 4.
  kiln_sym_t grid_x = kiln_sym_min(sym, rows, per_x);
  kiln_sym_t grid_y = kiln_sym_ceil_div(sym, rows, per_x);
  kiln_sym_t smem =
      kiln_sym_mul(sym, kiln_sym_add(sym, cols, kiln_sym_const(sym, threads)),
                   kiln_sym_const(sym, 4));
  kiln_sym_t block = kiln_sym_const(sym, threads);
  if (!grid_x || !grid_y || !smem || !block) {
    return kiln_sym_table_take_error(sym);
  }
  out_result->launch.grid[0] = grid_x;
  out_result->launch.grid[1] = grid_y;
  out_result->launch.block[0] = block;
  out_result->launch.shared_mem = smem;
  out_result->kernel_name = kiln_make_cstring_view("layernorm_f32");

  aot_holder_t* holder = NULL;
  KILN_RETURN_IF_ERROR(kiln_allocator_malloc(kiln_allocator_system(),
                                             sizeof(*holder), (void**)&holder));
  holder->args[0].type = KILN_ARG_TYPE_INT32;
  holder->args[0].value = rows;
  holder->args[1].type = KILN_ARG_TYPE_INT32;
  holder->args[1].value = cols;
  holder->args[2].type = KILN_ARG_TYPE_FLOAT32;
  holder->args[2].f32 = (float)eps;
  out_result->extra_arg_count = 3;
  return finish_with_ptx(kLayernormSource, sizeof(kLayernormSource) - 1,
                         "layernorm.cu", holder, out_result);
}

static const kiln_attr_field_t kLayernormAttrs[] = {
    {"eps", KILN_ATTR_TYPE_FLOAT64}};

//===----------------------------------------------------------------------===//
// example::nonzero: the positions of the non-zero elements (a size tensor)
//===----------------------------------------------------------------------===//

// One CTA of 1024 threads walks x in chunks of 1024 elements. Each chunk's
// non-zero flags go through a block-wide inclusive prefix sum
// (Hillis-Steele, in shared memory), which gives every non-zero element its
// slot after the ones before it: the indices come out in increasing order,
// every run writes the same bytes, and no output needs zeroing first. The
// last thread carries the running count to the next chunk (the loop leaves
// after the last chunk, so |start| never overflows); thread 0 writes the
// count (the size tensor) at the end. Kernel ABI: x, n, indices, count.
#define KILN_NONZERO_KERNEL(name, count_type)                 \
  "extern \"C\" __global__ void " name                        \
  "(const float* __restrict__ x,\n"                           \
  "    int n, int* __restrict__ indices, " count_type         \
  "* __restrict__ count) "                                    \
  "{\n"                                                       \
  "  __shared__ int scan[1024];\n"                            \
  "  __shared__ int base;\n"                                  \
  "  int tid = threadIdx.x;\n"                                \
  "  if (tid == 0) base = 0;\n"                               \
  "  __syncthreads();\n"                                      \
  "  for (int start = 0; start < n; start += 1024) {\n"       \
  "    int i = start + tid;\n"                                \
  "    int flag = i < n && x[i] != 0.0f;\n"                   \
  "    scan[tid] = flag;\n"                                   \
  "    __syncthreads();\n"                                    \
  "    for (int offset = 1; offset < 1024; offset <<= 1) {\n" \
  "      int v = tid >= offset ? scan[tid - offset] : 0;\n"   \
  "      __syncthreads();\n"                                  \
  "      scan[tid] += v;\n"                                   \
  "      __syncthreads();\n"                                  \
  "    }\n"                                                   \
  "    if (flag) indices[base + scan[tid] - 1] = i;\n"        \
  "    __syncthreads();\n"                                    \
  "    if (tid == 1023) base += scan[1023];\n"                \
  "    __syncthreads();\n"                                    \
  "    if (n - start <= 1024) break;\n"                       \
  "  }\n"                                                     \
  "  if (tid == 0) *count = (" count_type                     \
  ")base;\n"                                                  \
  "}\n"

static const char kNonzeroSource[] =
    KILN_NONZERO_KERNEL("nonzero_f32_i32", "int")
        KILN_NONZERO_KERNEL("nonzero_f32_i64", "long long");

// The dtype of the count: attribute count_dtype ("int32" or "int64").
static kiln_status_t nonzero_count_dtype(const kiln_attrs_t* attrs,
                                         kiln_dtype_t* out_dtype) {
  kiln_string_view_t text = {0};
  KILN_RETURN_IF_ERROR(kiln_attrs_get_string(attrs, "count_dtype", &text));
  kiln_status_t status = kiln_dtype_parse(text, out_dtype);
  if (!status && *out_dtype != KILN_DTYPE_INT32 &&
      *out_dtype != KILN_DTYPE_INT64) {
    status = kiln_make_status(KILN_STATUS_INVALID_ARGUMENT, "it is %s",
                              kiln_dtype_name(*out_dtype));
  }
  if (status) {
    return kiln_status_annotate(status,
                                "example::nonzero: count_dtype '%.*s' must be "
                                "int32 or int64",
                                (int)text.size, text.data);
  }
  return NULL;
}

// x [n] -> indices int32 [count], count (a size tensor: opt n // 2, upper
// bound n).
static kiln_status_t nonzero_describe(void* user_data,
                                      const kiln_describe_args_t* args,
                                      kiln_tensor_desc_t* outputs) {
  (void)user_data;
  const kiln_tensor_desc_t* x = &args->inputs[0];
  if (x->rank != 1 || x->dtype != KILN_DTYPE_FLOAT32) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "example::nonzero: input must be a 1-D float32 "
                            "tensor, got rank %d %s",
                            (int)x->rank, kiln_dtype_name(x->dtype));
  }
  kiln_dtype_t count_dtype = KILN_DTYPE_INT32;
  KILN_RETURN_IF_ERROR(nonzero_count_dtype(args->attrs, &count_dtype));
  kiln_sym_table_t* sym = args->sym;
  kiln_sym_t n = x->dims[0];
  kiln_sym_t opt = kiln_sym_floor_div(sym, n, kiln_sym_const(sym, 2));
  kiln_sym_t count = kiln_sym_size_tensor(sym, 1, opt, n);
  if (!count) return kiln_sym_table_take_error(sym);
  outputs[0] = kiln_tensor_desc_make(KILN_DTYPE_INT32, 1, &count);
  outputs[1] = kiln_tensor_desc_make(count_dtype, 0, NULL);
  outputs[1].is_size_tensor = true;
  return NULL;
}

static kiln_status_t nonzero_aot_impl(void* user_data,
                                      const kiln_aot_args_t* args,
                                      kiln_aot_result_t* out_result) {
  (void)user_data;
  kiln_sym_table_t* sym = args->sym;
  kiln_sym_t n = args->inputs[0].dims[0];
  kiln_sym_t block = kiln_sym_const(sym, 1024);
  if (!block) return kiln_sym_table_take_error(sym);
  out_result->launch.block[0] = block;  // grid: one CTA (NULL means 1)
  out_result->kernel_name = kiln_make_cstring_view(
      args->outputs[1].dtype == KILN_DTYPE_INT64 ? "nonzero_f32_i64"
                                                 : "nonzero_f32_i32");
  aot_holder_t* holder = NULL;
  KILN_RETURN_IF_ERROR(kiln_allocator_malloc(kiln_allocator_system(),
                                             sizeof(*holder), (void**)&holder));
  holder->args[0].type = KILN_ARG_TYPE_INT32;
  holder->args[0].value = n;
  out_result->extra_arg_count = 1;
  return finish_with_ptx(kNonzeroSource, sizeof(kNonzeroSource) - 1,
                         "nonzero.cu", holder, out_result);
}

static const kiln_attr_field_t kNonzeroAttrs[] = {
    {"count_dtype", KILN_ATTR_TYPE_STRING}};
static const char* const kNonzeroDescribeAttrs[] = {"count_dtype"};

//===----------------------------------------------------------------------===//
// The library table
//===----------------------------------------------------------------------===//

static const kiln_plugin_def_t kDefs[] = {
    {
        .abi_version = KILN_PLUGIN_ABI_VERSION,
        .id = "my::add_plugin",
        .input_count = 1,
        .output_count = 1,
        .attrs = kAddAttrs,
        .attr_count = 1,
        .describe = add_describe,
        .describe_attrs = {kAddAotAttrs, 0},
        .autotune = add_autotune,
        .autotune_attrs = {kAddAotAttrs, 0},
        .aot_impl = add_aot_impl,
        .aot_impl_attrs = {kAddAotAttrs, 1},
    },
    {
        .abi_version = KILN_PLUGIN_ABI_VERSION,
        .id = "example::layernorm",
        .input_count = 1,
        .output_count = 2,
        .attrs = kLayernormAttrs,
        .attr_count = 1,
        .describe = layernorm_describe,
        .autotune = layernorm_autotune,
        .aot_impl = layernorm_aot_impl,
    },
    {
        .abi_version = KILN_PLUGIN_ABI_VERSION,
        .id = "example::nonzero",
        .input_count = 1,
        .output_count = 2,
        .attrs = kNonzeroAttrs,
        .attr_count = 1,
        .describe = nonzero_describe,
        .describe_attrs = {kNonzeroDescribeAttrs, 1},
        .aot_impl = nonzero_aot_impl,
        .aot_impl_attrs = {kNonzeroDescribeAttrs, 0},
    },
};

static const kiln_plugin_library_t kLibrary = {
    KILN_PLUGIN_ABI_VERSION, kDefs, sizeof(kDefs) / sizeof(kDefs[0])};

const kiln_plugin_library_t* kiln_example_plugins(void) {
  return &kLibrary;
}

kiln_status_t kiln_example_plugins_register(kiln_registry_t* registry) {
  for (size_t i = 0; i < kLibrary.plugin_count; ++i) {
    KILN_RETURN_IF_ERROR(
        kiln_registry_register(registry, &kLibrary.plugins[i], NULL));
  }
  return NULL;
}
