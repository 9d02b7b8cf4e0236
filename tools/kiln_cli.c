// The kiln command:
//
//   kiln inspect ENGINE [--json]
//   kiln run ENGINE [--shape NAME=D0xD1...]... [--input NAME=FILE.npy]...
//            [--save-outputs DIR] [--iterations N] [--warmup N] [--seed S]
//            [--profile P] [--force-ptx] [--device N]
//
// Uses the public API only. Errors go to stderr with the status code and
// message; the exit code is 1 for a failed operation and 2 for bad usage.

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kiln/kiln.h"
#include "npy.h"

static const char kUsage[] =
    "usage:\n"
    "  kiln inspect ENGINE [--json]\n"
    "      Verifies ENGINE and prints its layers, kernels, expressions, I/O,\n"
    "      profiles and sizes (no GPU needed).\n"
    "  kiln run ENGINE [options]\n"
    "      Runs ENGINE on the GPU with random or given inputs, prints the\n"
    "      outputs' shapes (data-dependent ones as the run produced them) and\n"
    "      statistics, and the time per run.\n"
    "      --shape NAME=D0xD1...   shape of a dynamic input (e.g. x=1024 or\n"
    "                              x=8x4096); default: the profile's opt\n"
    "      --input NAME=FILE.npy   input data from a .npy file\n"
    "      --save-outputs DIR      write each output to DIR/NAME.npy (a\n"
    "                              data-dependent output at the shape the\n"
    "                              run produced)\n"
    "      --iterations N          timed runs (default 100)\n"
    "      --warmup N              untimed runs first (default 10)\n"
    "      --seed S                random input seed (default 1)\n"
    "      --profile P             optimization profile (default 0)\n"
    "      --force-ptx             JIT the PTX instead of loading cubins\n"
    "      --device N              GPU ordinal (default 0)\n";

static int fail(const char* what, kiln_status_t status) {
  fprintf(stderr, "kiln: %s: %s: %s\n", what,
          kiln_status_code_name(kiln_status_code(status)),
          kiln_status_message(status));
  kiln_status_free(status);
  return 1;
}

static int usage_error(const char* message, const char* detail) {
  fprintf(stderr, "kiln: %s%s%s\n\n%s", message, detail ? ": " : "",
          detail ? detail : "", kUsage);
  return 2;
}

static kiln_status_t read_file(const char* path, uint8_t** out_data,
                               size_t* out_size) {
  *out_data = NULL;
  *out_size = 0;
  FILE* f = fopen(path, "rb");
  if (!f) {
    return kiln_make_status(KILN_STATUS_NOT_FOUND, "cannot open %s: %s", path,
                            strerror(errno));
  }
  struct stat st;
  if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
    fclose(f);
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "%s is not a regular file", path);
  }
  size_t size = (size_t)st.st_size;
  uint8_t* data = (uint8_t*)malloc(size ? size : 1);
  if (!data) {
    fclose(f);
    return kiln_make_status(KILN_STATUS_RESOURCE_EXHAUSTED,
                            "cannot hold %zu bytes of %s", size, path);
  }
  size_t got = size ? fread(data, 1, size, f) : 0;
  fclose(f);
  if (got != size) {
    free(data);
    return kiln_make_status(KILN_STATUS_DATA_LOSS, "short read of %s", path);
  }
  *out_data = data;
  *out_size = size;
  return NULL;
}

static int cmd_inspect(int argc, char** argv) {
  const char* path = NULL;
  bool json = false;
  for (int i = 0; i < argc; ++i) {
    if (strcmp(argv[i], "--json") == 0) {
      json = true;
    } else if (argv[i][0] == '-') {
      return usage_error("unknown option", argv[i]);
    } else if (!path) {
      path = argv[i];
    } else {
      return usage_error("more than one engine given", argv[i]);
    }
  }
  if (!path) return usage_error("inspect needs an ENGINE file", NULL);
  uint8_t* data = NULL;
  size_t size = 0;
  kiln_status_t status = read_file(path, &data, &size);
  if (status) return fail("inspect", status);
  kiln_const_bytes_t bytes = {data, size};
  kiln_blob_t* text = NULL;
  status = kiln_engine_describe(bytes, json, kiln_allocator_system(), &text);
  free(data);
  if (status) {
    return fail("inspect", kiln_status_annotate(status, "%s", path));
  }
  kiln_const_bytes_t out = kiln_blob_bytes(text);
  fwrite(out.data, 1, out.size, stdout);
  if (out.size && out.data[out.size - 1] != '\n') fputc('\n', stdout);
  kiln_blob_destroy(text);
  return 0;
}

//===----------------------------------------------------------------------===//
// kiln run
//===----------------------------------------------------------------------===//

#define MAX_ITEMS 64

typedef struct named_arg_t {
  const char* name;  // points into argv (the part before '=', NUL-split)
  const char* value;
} named_arg_t;

typedef struct run_options_t {
  const char* engine_path;
  named_arg_t shapes[MAX_ITEMS];
  int shape_count;
  named_arg_t inputs[MAX_ITEMS];
  int input_count;
  const char* save_dir;
  uint32_t iterations;
  uint32_t warmup;
  uint64_t seed;
  uint32_t profile;
  bool force_ptx;
  int32_t device;
} run_options_t;

static bool parse_u64(const char* text, uint64_t max, uint64_t* out) {
  if (!text || !*text) return false;
  char* end = NULL;
  errno = 0;
  unsigned long long v = strtoull(text, &end, 10);
  if (errno || *end || text[0] == '-' || v > max) return false;
  *out = v;
  return true;
}

static bool split_named(char* text, named_arg_t* out) {
  char* eq = strchr(text, '=');
  if (!eq || eq == text || !eq[1]) return false;
  *eq = '\0';
  out->name = text;
  out->value = eq + 1;
  return true;
}

// Parses "1024" or "8x4096" into |dims|.
static bool parse_shape(const char* text, int32_t* out_rank, int64_t* dims) {
  int32_t rank = 0;
  const char* p = text;
  while (*p) {
    if (rank == KILN_MAX_RANK) return false;
    char* end = NULL;
    errno = 0;
    long long v = strtoll(p, &end, 10);
    if (errno || end == p || v < 0) return false;
    dims[rank++] = v;
    if (*end == 'x' || *end == ',') {
      p = end + 1;
      if (!*p) return false;
    } else if (*end) {
      return false;
    } else {
      p = end;
    }
  }
  *out_rank = rank;
  return rank > 0;
}

static uint64_t next_random(uint64_t* state) {
  uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
  z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
  return z ^ (z >> 31);
}

// IEEE half <-> float, for fp16 inputs and statistics.
static uint16_t float_to_half(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000u;
  int32_t exp = (int32_t)((x >> 23) & 0xff) - 127 + 15;
  uint32_t mant = x & 0x7fffffu;
  if (((x >> 23) & 0xff) == 0xff)
    return (uint16_t)(sign | 0x7c00u | (mant ? 0x200u : 0));
  if (exp >= 31) return (uint16_t)(sign | 0x7c00u);
  if (exp <= 0) {
    if (exp < -10) return (uint16_t)sign;
    mant |= 0x800000u;
    uint32_t shift = (uint32_t)(14 - exp);
    uint32_t half = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1);
    uint32_t mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1))) ++half;
    return (uint16_t)(sign | half);
  }
  uint32_t half = sign | ((uint32_t)exp << 10) | (mant >> 13);
  uint32_t rem = mant & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (half & 1))) ++half;
  return (uint16_t)half;
}

static float half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ffu;
  uint32_t x;
  if (exp == 0) {
    if (!mant) {
      x = sign;
    } else {
      exp = 127 - 15 + 1;
      while (!(mant & 0x400u)) {
        mant <<= 1;
        --exp;
      }
      mant &= 0x3ffu;
      x = sign | (exp << 23) | (mant << 13);
    }
  } else if (exp == 31) {
    x = sign | 0x7f800000u | (mant << 13);
  } else {
    x = sign | ((exp - 15 + 127) << 23) | (mant << 13);
  }
  float f;
  memcpy(&f, &x, 4);
  return f;
}

static double element_value(kiln_dtype_t dtype, const uint8_t* p) {
  switch (dtype) {
    case KILN_DTYPE_FLOAT32: {
      float f;
      memcpy(&f, p, 4);
      return f;
    }
    case KILN_DTYPE_FLOAT16: {
      uint16_t h;
      memcpy(&h, p, 2);
      return half_to_float(h);
    }
    case KILN_DTYPE_BFLOAT16: {
      uint16_t h;
      memcpy(&h, p, 2);
      uint32_t x = (uint32_t)h << 16;
      float f;
      memcpy(&f, &x, 4);
      return f;
    }
    case KILN_DTYPE_INT8:
      return (int8_t)p[0];
    case KILN_DTYPE_UINT8:
    case KILN_DTYPE_BOOL:
    case KILN_DTYPE_FP8_E4M3:
    case KILN_DTYPE_FP8_E5M2:
      return p[0];
    case KILN_DTYPE_INT32: {
      int32_t v;
      memcpy(&v, p, 4);
      return v;
    }
    case KILN_DTYPE_INT64: {
      int64_t v;
      memcpy(&v, p, 8);
      return (double)v;
    }
    default:
      return 0;
  }
}

static void fill_random(kiln_dtype_t dtype, uint8_t* data, size_t count,
                        uint64_t* state) {
  size_t es = kiln_dtype_size(dtype);
  for (size_t i = 0; i < count; ++i) {
    uint64_t r = next_random(state);
    float f = (float)((double)(r >> 11) / 9007199254740992.0 * 2.0 - 1.0);
    uint8_t* p = data + i * es;
    switch (dtype) {
      case KILN_DTYPE_FLOAT32:
        memcpy(p, &f, 4);
        break;
      case KILN_DTYPE_FLOAT16: {
        uint16_t h = float_to_half(f);
        memcpy(p, &h, 2);
        break;
      }
      case KILN_DTYPE_BFLOAT16: {
        uint32_t x;
        memcpy(&x, &f, 4);
        uint16_t h = (uint16_t)(x >> 16);
        memcpy(p, &h, 2);
        break;
      }
      case KILN_DTYPE_INT32: {
        int32_t v = (int32_t)(r % 201) - 100;
        memcpy(p, &v, 4);
        break;
      }
      case KILN_DTYPE_INT64: {
        int64_t v = (int64_t)(r % 201) - 100;
        memcpy(p, &v, 8);
        break;
      }
      case KILN_DTYPE_BOOL:
        p[0] = (uint8_t)(r & 1);
        break;
      case KILN_DTYPE_INT8:
        p[0] = (uint8_t)(int8_t)((int)(r % 201) - 100);
        break;
      default:
        p[0] = (uint8_t)r;
        break;
    }
  }
}

static const char* find_named(const named_arg_t* items, int count,
                              const char* name) {
  for (int i = 0; i < count; ++i) {
    if (strcmp(items[i].name, name) == 0) return items[i].value;
  }
  return NULL;
}

typedef struct binding_t {
  kiln_io_info_t info;
  int32_t rank;
  int64_t dims[KILN_MAX_RANK];  // outputs: the shape the run produced
  size_t bytes;   // allocated; a data-dependent output's upper bound
  size_t actual;  // the bytes |dims| take
  uint64_t address;
  uint8_t* host;
} binding_t;

static size_t element_count(int32_t rank, const int64_t* dims) {
  size_t n = 1;
  for (int32_t i = 0; i < rank; ++i) {
    if (__builtin_mul_overflow(n, (size_t)dims[i], &n)) return SIZE_MAX;
  }
  return n;
}

static void format_dims(int32_t rank, const int64_t* dims, char* buffer,
                        size_t capacity) {
  size_t used = 0;
  buffer[0] = '\0';
  used += (size_t)snprintf(buffer, capacity, "(");
  for (int32_t i = 0; i < rank && used < capacity; ++i) {
    used += (size_t)snprintf(buffer + used, capacity - used, "%s%lld",
                             i ? ", " : "", (long long)dims[i]);
  }
  if (used < capacity) {
    snprintf(buffer + used, capacity - used, "%s)", rank == 1 ? "," : "");
  }
}

static kiln_status_t run_engine(const run_options_t* opt) {
  uint8_t* file = NULL;
  size_t file_size = 0;
  KILN_RETURN_IF_ERROR(read_file(opt->engine_path, &file, &file_size));
  kiln_allocator_t allocator = kiln_allocator_system();
  kiln_device_t* device = NULL;
  kiln_engine_t* engine = NULL;
  kiln_context_t* context = NULL;
  binding_t* bindings = NULL;
  uint32_t io_count = 0;
  uint8_t* npy_files[MAX_ITEMS] = {0};
  kiln_status_t status = kiln_device_create(opt->device, allocator, &device);
  if (!status) {
    kiln_engine_load_options_t load = {0};
    load.force_ptx = opt->force_ptx;
    load.logger = kiln_logger_stderr();
    kiln_const_bytes_t bytes = {file, file_size};
    status = kiln_engine_load(device, bytes, &load, allocator, &engine);
    if (status) status = kiln_status_annotate(status, "%s", opt->engine_path);
  }
  free(file);
  if (!status) status = kiln_context_create(engine, allocator, &context);
  if (!status && opt->profile) {
    status = kiln_context_set_profile(context, opt->profile);
  }
  if (!status) {
    io_count = kiln_engine_io_count(engine);
    bindings = (binding_t*)calloc(io_count ? io_count : 1, sizeof(binding_t));
    if (!bindings) {
      status = kiln_make_status(KILN_STATUS_RESOURCE_EXHAUSTED, "bindings");
    }
  }
  for (uint32_t i = 0; i < io_count && !status; ++i) {
    status = kiln_engine_io_info(engine, i, &bindings[i].info);
  }
  // Names given on the command line must exist.
  for (int i = 0; i < opt->shape_count + opt->input_count && !status; ++i) {
    const char* name = i < opt->shape_count
                           ? opt->shapes[i].name
                           : opt->inputs[i - opt->shape_count].name;
    bool found = false;
    for (uint32_t k = 0; k < io_count; ++k) {
      found |=
          bindings[k].info.is_input && strcmp(bindings[k].info.name, name) == 0;
    }
    if (!found) {
      status = kiln_make_status(KILN_STATUS_NOT_FOUND,
                                "the engine has no input named '%s'", name);
    }
  }
  // Inputs: shapes and data.
  uint64_t seed = opt->seed;
  int npy_count = 0;
  for (uint32_t i = 0; i < io_count && !status; ++i) {
    binding_t* b = &bindings[i];
    if (!b->info.is_input) continue;
    const char* npy_path =
        find_named(opt->inputs, opt->input_count, b->info.name);
    const char* shape_text =
        find_named(opt->shapes, opt->shape_count, b->info.name);
    kiln_npy_t npy;
    memset(&npy, 0, sizeof(npy));
    if (npy_path) {
      size_t size = 0;
      status = read_file(npy_path, &npy_files[npy_count], &size);
      if (!status) {
        kiln_const_bytes_t bytes = {npy_files[npy_count], size};
        status = kiln_npy_parse(bytes, &npy);
        if (status) status = kiln_status_annotate(status, "%s", npy_path);
      }
      ++npy_count;
      if (!status && npy.dtype != b->info.dtype) {
        status = kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                                  "%s holds %s, input '%s' is %s", npy_path,
                                  kiln_dtype_name(npy.dtype), b->info.name,
                                  kiln_dtype_name(b->info.dtype));
      }
      b->rank = npy.rank;
      memcpy(b->dims, npy.dims, sizeof(b->dims));
    } else if (shape_text) {
      if (!parse_shape(shape_text, &b->rank, b->dims)) {
        status = kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                                  "--shape %s=%s: expected dimensions such as "
                                  "1024 or 8x4096",
                                  b->info.name, shape_text);
      }
    } else {
      b->rank = b->info.rank;
      for (int32_t j = 0; j < b->rank; ++j) {
        if (b->info.dims[j] < 0) {
          status = kiln_make_status(
              KILN_STATUS_INVALID_ARGUMENT,
              "input '%s' has a dynamic dimension %d: give its shape with "
              "--shape %s=... or --input %s=FILE.npy",
              b->info.name, (int)j, b->info.name, b->info.name);
          break;
        }
        b->dims[j] = b->info.dims[j];
      }
    }
    if (!status) {
      status =
          kiln_context_set_input_shape(context, b->info.name, b->rank, b->dims);
    }
    if (status) break;
    size_t count = element_count(b->rank, b->dims);
    if (count == SIZE_MAX ||
        __builtin_mul_overflow(count, kiln_dtype_size(b->info.dtype),
                               &b->bytes)) {
      status = kiln_make_status(KILN_STATUS_OUT_OF_RANGE,
                                "input '%s' is too large", b->info.name);
      break;
    }
    b->host = (uint8_t*)malloc(b->bytes ? b->bytes : 1);
    if (!b->host) {
      status = kiln_make_status(KILN_STATUS_RESOURCE_EXHAUSTED,
                                "host memory for input '%s'", b->info.name);
      break;
    }
    if (npy_path) {
      if (b->bytes) memcpy(b->host, npy.data, b->bytes);
    } else {
      fill_random(b->info.dtype, b->host, count, &seed);
    }
    status = kiln_device_malloc(device, b->bytes ? b->bytes : 1, &b->address);
    if (!status && b->bytes) {
      status =
          kiln_device_copy_to_device(device, b->address, b->host, b->bytes);
    }
    if (!status) {
      status =
          kiln_context_set_tensor_address(context, b->info.name, b->address);
    }
  }
  // Outputs.
  for (uint32_t i = 0; i < io_count && !status; ++i) {
    binding_t* b = &bindings[i];
    if (b->info.is_input) continue;
    // A data-dependent output gets the memory of its upper bound.
    uint64_t max_bytes = 0;
    status =
        kiln_context_get_max_output_size(context, b->info.name, &max_bytes);
    if (status) break;
    if (max_bytes > SIZE_MAX) {
      status = kiln_make_status(KILN_STATUS_OUT_OF_RANGE,
                                "output '%s' is too large", b->info.name);
      break;
    }
    b->bytes = (size_t)max_bytes;
    b->host = (uint8_t*)malloc(b->bytes ? b->bytes : 1);
    if (!b->host) {
      status = kiln_make_status(KILN_STATUS_RESOURCE_EXHAUSTED,
                                "host memory for output '%s'", b->info.name);
      break;
    }
    status = kiln_device_malloc(device, b->bytes ? b->bytes : 1, &b->address);
    // Poison the output so that unwritten elements show up as NaN or -1.
    if (!status)
      status = kiln_device_memset(device, b->address, 0xff, b->bytes);
    if (!status) {
      status =
          kiln_context_set_tensor_address(context, b->info.name, b->address);
    }
  }
  // One run for the results (and the actual shapes of data-dependent
  // outputs), then the timed runs.
  if (!status) status = kiln_context_enqueue(context, NULL);
  if (!status) status = kiln_device_synchronize(device);
  for (uint32_t i = 0; i < io_count && !status; ++i) {
    binding_t* b = &bindings[i];
    if (b->info.is_input) {
      b->actual = b->bytes;
      continue;
    }
    status = kiln_context_read_output_shape(context, b->info.name, NULL,
                                            &b->rank, b->dims);
    if (status) break;
    size_t count = element_count(b->rank, b->dims);
    if (count == SIZE_MAX ||
        __builtin_mul_overflow(count, kiln_dtype_size(b->info.dtype),
                               &b->actual) ||
        b->actual > b->bytes) {
      status = kiln_make_status(KILN_STATUS_INTERNAL,
                                "output '%s' is larger than its memory",
                                b->info.name);
      break;
    }
    if (b->actual) {
      status = kiln_device_copy_to_host(device, b->host, b->address, b->actual);
    }
  }
  double median_us = 0, min_us = 0;
  if (!status && opt->iterations) {
    status = kiln_device_time_enqueue(context, NULL, opt->warmup,
                                      opt->iterations, &median_us, &min_us);
  }
  if (!status) {
    kiln_string_view_t name = kiln_make_cstring_view(kiln_device_name(device));
    printf("device: %.*s (sm_%u)\n", (int)name.size, name.data,
           kiln_device_sm_arch(device));
    for (uint32_t i = 0; i < io_count; ++i) {
      binding_t* b = &bindings[i];
      char dims[160];
      format_dims(b->rank, b->dims, dims, sizeof(dims));
      size_t count = element_count(b->rank, b->dims);
      size_t es = kiln_dtype_size(b->info.dtype);
      double lo = INFINITY, hi = -INFINITY, sum = 0;
      size_t nonfinite = 0;
      for (size_t k = 0; k < count; ++k) {
        double v = element_value(b->info.dtype, b->host + k * es);
        if (!isfinite(v)) {
          ++nonfinite;
          continue;
        }
        if (v < lo) lo = v;
        if (v > hi) hi = v;
        sum += v;
      }
      size_t finite = count - nonfinite;
      printf("%-6s %-12s %-8s %-18s", b->info.is_input ? "input" : "output",
             b->info.name, kiln_dtype_name(b->info.dtype), dims);
      if (finite) {
        printf(" min %.6g max %.6g mean %.6g", lo, hi, sum / (double)finite);
      }
      if (nonfinite) printf(" non-finite %zu", nonfinite);
      if (b->info.data_dependent_dims) {
        printf(" (data-dependent shape; %zu of %zu bytes)", b->actual,
               b->bytes);
      }
      printf("\n");
    }
    if (opt->iterations) {
      printf(
          "time: median %.2f us, min %.2f us per run (%u runs after %u "
          "warm-up)\n",
          median_us, min_us, opt->iterations, opt->warmup);
    }
  }
  if (!status && opt->save_dir) {
    mkdir(opt->save_dir, 0777);
    for (uint32_t i = 0; i < io_count && !status; ++i) {
      binding_t* b = &bindings[i];
      if (b->info.is_input) continue;
      char path[4096];
      snprintf(path, sizeof(path), "%s/%s.npy", opt->save_dir, b->info.name);
      status = kiln_npy_write(path, b->info.dtype, b->rank, b->dims, b->host,
                              b->actual);
      if (!status) printf("saved %s\n", path);
    }
  }
  for (uint32_t i = 0; bindings && i < io_count; ++i) {
    if (bindings[i].address) {
      kiln_status_free(kiln_device_free(device, bindings[i].address));
    }
    free(bindings[i].host);
  }
  for (int i = 0; i < MAX_ITEMS; ++i) free(npy_files[i]);
  free(bindings);
  kiln_context_destroy(context);
  kiln_engine_release(engine);
  kiln_device_release(device);
  return status;
}

static int cmd_run(int argc, char** argv) {
  run_options_t opt;
  memset(&opt, 0, sizeof(opt));
  opt.iterations = 100;
  opt.warmup = 10;
  opt.seed = 1;
  for (int i = 0; i < argc; ++i) {
    const char* a = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : NULL;
    uint64_t v = 0;
    if (strcmp(a, "--shape") == 0 || strcmp(a, "--input") == 0) {
      bool shape = a[2] == 's';
      named_arg_t* items = shape ? opt.shapes : opt.inputs;
      int* count = shape ? &opt.shape_count : &opt.input_count;
      if (!value) return usage_error("missing value after", a);
      if (*count == MAX_ITEMS) return usage_error("too many", a);
      if (!split_named(argv[i + 1], &items[*count])) {
        return usage_error("expected NAME=VALUE after", a);
      }
      ++*count;
      ++i;
    } else if (strcmp(a, "--save-outputs") == 0) {
      if (!value) return usage_error("missing value after", a);
      opt.save_dir = value;
      ++i;
    } else if (strcmp(a, "--iterations") == 0 || strcmp(a, "--warmup") == 0 ||
               strcmp(a, "--seed") == 0 || strcmp(a, "--profile") == 0 ||
               strcmp(a, "--device") == 0) {
      if (!parse_u64(value, strcmp(a, "--seed") == 0 ? UINT64_MAX : 1000000,
                     &v)) {
        return usage_error("expected a non-negative number after", a);
      }
      if (a[2] == 'i') opt.iterations = (uint32_t)v;
      if (a[2] == 'w') opt.warmup = (uint32_t)v;
      if (a[2] == 's') opt.seed = v;
      if (a[2] == 'p') opt.profile = (uint32_t)v;
      if (a[2] == 'd') opt.device = (int32_t)v;
      ++i;
    } else if (strcmp(a, "--force-ptx") == 0) {
      opt.force_ptx = true;
    } else if (a[0] == '-') {
      return usage_error("unknown option", a);
    } else if (!opt.engine_path) {
      opt.engine_path = a;
    } else {
      return usage_error("more than one engine given", a);
    }
  }
  if (!opt.engine_path) return usage_error("run needs an ENGINE file", NULL);
  kiln_status_t status = run_engine(&opt);
  return status ? fail("run", status) : 0;
}

int main(int argc, char** argv) {
  if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
      strcmp(argv[1], "-h") == 0) {
    fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if (strcmp(argv[1], "--version") == 0) {
    printf("kiln %s\n", kiln_version_string());
    return 0;
  }
  if (strcmp(argv[1], "inspect") == 0) return cmd_inspect(argc - 2, argv + 2);
  if (strcmp(argv[1], "run") == 0) return cmd_run(argc - 2, argv + 2);
  return usage_error("unknown command", argv[1]);
}
