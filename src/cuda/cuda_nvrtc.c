// The NVRTC symbol table, nvrtcResult mapping and the public NVRTC helper
// (kiln_nvrtc_compile, declared in kiln_plugin.h).

#include "cuda/cuda_nvrtc.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "base/bytes.h"
#include "base/cache.h"
#include "base/size.h"
#include "cuda/dylib.h"
#include "kiln/kiln_plugin.h"

//===----------------------------------------------------------------------===//
// Loading
//===----------------------------------------------------------------------===//

#define SYMBOL_ENTRY(ret, field, symbol, fallback, optional, params) \
  {symbol, fallback, optional, offsetof(kiln__cuda_nvrtc_t, field)},
static const kiln__cuda_symbol_t nvrtc_symbols[] = {
    KILN_NVRTC_SYMBOL_LIST(SYMBOL_ENTRY)};
#undef SYMBOL_ENTRY

static const char* const nvrtc_names[] = {"libnvrtc.so.13", "libnvrtc.so.12",
                                          "libnvrtc.so"};

static pthread_once_t nvrtc_once = PTHREAD_ONCE_INIT;
static kiln__cuda_nvrtc_t nvrtc_table;
static kiln_status_code_t nvrtc_error_code = KILN_STATUS_OK;
static char nvrtc_error[1024];

static void load_nvrtc_once(void) {
  void* handle = NULL;
  kiln_status_t status = kiln__cuda_dylib_open(
      "NVRTC", nvrtc_names, KILN_ARRAYSIZE(nvrtc_names), true,
      "install the CUDA toolkit's NVRTC (the cuda-nvrtc package or the "
      "nvidia-cuda-nvrtc wheel) or set CUDA_HOME",
      &handle);
  if (!status) {
    status =
        kiln__cuda_dylib_resolve(handle, "NVRTC", nvrtc_symbols,
                                 KILN_ARRAYSIZE(nvrtc_symbols), &nvrtc_table);
  }
  if (status) {
    memset(&nvrtc_table, 0, sizeof(nvrtc_table));
    nvrtc_error_code = kiln_status_code(status);
    snprintf(nvrtc_error, sizeof(nvrtc_error), "%s",
             kiln_status_message(status));
    kiln_status_free(status);
  }
}

kiln_status_t kiln__cuda_nvrtc_get(const kiln__cuda_nvrtc_t** out_nvrtc) {
  *out_nvrtc = NULL;
  if (pthread_once(&nvrtc_once, load_nvrtc_once) != 0) {
    return kiln_make_status(KILN_STATUS_INTERNAL,
                            "pthread_once failed while loading NVRTC");
  }
  if (nvrtc_error_code != KILN_STATUS_OK) {
    return kiln_make_status(nvrtc_error_code, "%s", nvrtc_error);
  }
  *out_nvrtc = &nvrtc_table;
  return NULL;
}

//===----------------------------------------------------------------------===//
// Error mapping
//===----------------------------------------------------------------------===//

const char* kiln__nvrtc_result_name(kiln__nvrtc_result_t result) {
  switch (result) {
#define NAME_CASE(name, value) \
  case value:                  \
    return #name;
    KILN_NVRTC_RESULT_LIST(NAME_CASE)
#undef NAME_CASE
    default:
      return NULL;
  }
}

kiln_status_code_t kiln__nvrtc_result_code(kiln__nvrtc_result_t result) {
  switch (result) {
    case KILN_NVRTC_SUCCESS:
      return KILN_STATUS_OK;
    case KILN_NVRTC_ERROR_OUT_OF_MEMORY:
    case KILN_NVRTC_ERROR_PCH_CREATE_HEAP_EXHAUSTED:
      return KILN_STATUS_RESOURCE_EXHAUSTED;
    case KILN_NVRTC_ERROR_PROGRAM_CREATION_FAILURE:
    case KILN_NVRTC_ERROR_INVALID_INPUT:
    case KILN_NVRTC_ERROR_INVALID_PROGRAM:
    case KILN_NVRTC_ERROR_INVALID_OPTION:
    case KILN_NVRTC_ERROR_COMPILATION:
    case KILN_NVRTC_ERROR_NO_NAME_EXPRESSIONS_AFTER_COMPILATION:
    case KILN_NVRTC_ERROR_NO_LOWERED_NAMES_BEFORE_COMPILATION:
    case KILN_NVRTC_ERROR_NAME_EXPRESSION_NOT_VALID:
      return KILN_STATUS_INVALID_ARGUMENT;
    default:
      return KILN_STATUS_INTERNAL;
  }
}

kiln_status_t kiln__nvrtc_result_to_status(const kiln__cuda_nvrtc_t* nvrtc,
                                           kiln__nvrtc_result_t result,
                                           const char* call, const char* file,
                                           int line) {
  if (result == KILN_NVRTC_SUCCESS) return NULL;
  const char* name = NULL;
  if (nvrtc && nvrtc->nvrtcGetErrorString) {
    name = nvrtc->nvrtcGetErrorString(result);
  }
  if (!name) name = kiln__nvrtc_result_name(result);
  if (!name) name = "unknown nvrtcResult";
  const char* base = file ? strrchr(file, '/') : NULL;
  return kiln_status_make(kiln__nvrtc_result_code(result), file, line,
                          "%s failed: %s (%d) [%s:%d]",
                          call ? call : "an NVRTC call", name, result,
                          base ? base + 1 : (file ? file : "?"), line);
}

//===----------------------------------------------------------------------===//
// kiln_nvrtc_compile
//===----------------------------------------------------------------------===//

struct kiln_compiled_kernel_s {
  kiln_allocator_t allocator;
  kiln_kernel_image_t* images;  // image_capacity entries; bytes owned
  size_t image_count;
  size_t image_capacity;
  char* log;  // NUL-terminated; may be NULL
  size_t log_size;
};

// The longest NVRTC log put into a status.
#define MAX_LOG_IN_STATUS 65536

void kiln_compiled_kernel_destroy(kiln_compiled_kernel_t* kernel) {
  if (!kernel) return;
  kiln_allocator_t allocator = kernel->allocator;
  if (kernel->images) {
    for (size_t i = 0; i < kernel->image_count; ++i) {
      kiln_allocator_free(allocator, (void*)kernel->images[i].bytes.data);
    }
    kiln_allocator_free(allocator, kernel->images);
  }
  kiln_allocator_free(allocator, kernel->log);
  kiln_allocator_free(allocator, kernel);
}

void kiln_compiled_kernel_aot_release(void* release_data,
                                      kiln_aot_result_t* result) {
  KILN_UNUSED(result);
  kiln_compiled_kernel_destroy((kiln_compiled_kernel_t*)release_data);
}

size_t kiln_compiled_kernel_image_count(const kiln_compiled_kernel_t* kernel) {
  return kernel ? kernel->image_count : 0;
}

const kiln_kernel_image_t* kiln_compiled_kernel_images(
    const kiln_compiled_kernel_t* kernel) {
  return kernel ? kernel->images : NULL;
}

kiln_kernel_image_t kiln_compiled_kernel_image_at(
    const kiln_compiled_kernel_t* kernel, size_t index) {
  kiln_kernel_image_t image;
  memset(&image, 0, sizeof(image));
  if (kernel && index < kernel->image_count) image = kernel->images[index];
  return image;
}

kiln_string_view_t kiln_compiled_kernel_log(
    const kiln_compiled_kernel_t* kernel) {
  if (!kernel || !kernel->log) return kiln_make_string_view(NULL, 0);
  return kiln_make_string_view(kernel->log, kernel->log_size);
}

kiln_status_t kiln_nvrtc_version(int32_t* out_major, int32_t* out_minor) {
  *out_major = 0;
  *out_minor = 0;
  const kiln__cuda_nvrtc_t* nvrtc = NULL;
  KILN_RETURN_IF_ERROR(kiln__cuda_nvrtc_get(&nvrtc));
  int major = 0, minor = 0;
  KILN_NVRTC_RETURN_IF_ERROR(nvrtc, nvrtcVersion(&major, &minor));
  *out_major = major;
  *out_minor = minor;
  return NULL;
}

static kiln_status_t validate_options(kiln_string_view_t source,
                                      const kiln_nvrtc_options_t* options) {
  if (!options) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "kiln_nvrtc_compile needs options (at least the "
                            "SM architectures)");
  }
  if (options->option_count > 4096 || options->header_count > 4096 ||
      options->sm_arch_count > 256) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "too many NVRTC options (%zu), headers (%zu) or "
                            "architectures (%zu)",
                            options->option_count, options->header_count,
                            options->sm_arch_count);
  }
  if (!options->sm_archs || options->sm_arch_count == 0) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "kiln_nvrtc_compile needs at least one SM "
                            "architecture");
  }
  for (size_t i = 0; i < options->sm_arch_count; ++i) {
    if (options->sm_archs[i] < 10 || options->sm_archs[i] > 999) {
      return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                              "SM architecture %u (entry %zu) is outside "
                              "10..999 (90 means sm_90)",
                              options->sm_archs[i], i);
    }
  }
  if (!options->emit_ptx && !options->emit_cubin) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "kiln_nvrtc_compile asked to emit neither PTX nor "
                            "cubin");
  }
  if (options->option_count > 0 && !options->options) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "%zu NVRTC options but no option array",
                            options->option_count);
  }
  for (size_t i = 0; i < options->option_count; ++i) {
    if (!options->options[i]) {
      return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                              "NVRTC option %zu is NULL", i);
    }
  }
  if (options->header_count > 0 &&
      (!options->header_sources || !options->header_names)) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "%zu headers but no header source or name array",
                            options->header_count);
  }
  for (size_t i = 0; i < options->header_count; ++i) {
    if (!options->header_sources[i] || !options->header_names[i]) {
      return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                              "header %zu has a NULL source or name", i);
    }
  }
  if (!source.data || source.size == 0) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "kiln_nvrtc_compile got empty source");
  }
  const void* nul = memchr(source.data, 0, source.size);
  if (nul) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "the CUDA source has a NUL byte at offset %zu",
                            (size_t)((const char*)nul - source.data));
  }
  return NULL;
}

// Refuses architectures this NVRTC does not support, naming those it does.
// NVRTC without nvrtcGetSupportedArchs lets the compile decide.
static kiln_status_t check_supported(const kiln__cuda_nvrtc_t* nvrtc,
                                     const uint32_t* archs, size_t arch_count) {
  int count = 0;
  if (!nvrtc->nvrtcGetNumSupportedArchs || !nvrtc->nvrtcGetSupportedArchs ||
      nvrtc->nvrtcGetNumSupportedArchs(&count) != KILN_NVRTC_SUCCESS ||
      count <= 0 || count > 256) {
    return NULL;
  }
  int supported[256];
  if (nvrtc->nvrtcGetSupportedArchs(supported) != KILN_NVRTC_SUCCESS) {
    return NULL;
  }
  for (size_t i = 0; i < arch_count; ++i) {
    bool found = false;
    for (int k = 0; k < count; ++k) {
      if (supported[k] >= 0 && (uint32_t)supported[k] == archs[i]) found = true;
    }
    if (found) continue;
    char list[1024] = "";
    size_t length = 0;
    for (int k = 0; k < count; ++k) {
      int n = snprintf(list + length, sizeof(list) - length, "%ssm_%d",
                       k ? ", " : "", supported[k]);
      if (n < 0 || (size_t)n >= sizeof(list) - length) break;
      length += (size_t)n;
    }
    int major = 0, minor = 0;
    nvrtc->nvrtcVersion(&major, &minor);
    return kiln_make_status(KILN_STATUS_INCOMPATIBLE,
                            "NVRTC %d.%d cannot compile for sm_%u; it supports "
                            "%s",
                            major, minor, archs[i], list);
  }
  return NULL;
}

// Adds an image of |size| bytes (copied from NVRTC by |fetch|) to |kernel|.
static kiln_status_t add_image(kiln_compiled_kernel_t* kernel,
                               kiln_kernel_image_kind_t kind, uint32_t arch,
                               size_t size, void** out_bytes) {
  *out_bytes = NULL;
  if (kernel->image_count == kernel->image_capacity) {
    return kiln_make_status(KILN_STATUS_INTERNAL, "image table is full");
  }
  void* bytes = NULL;
  KILN_RETURN_IF_ERROR(kiln_allocator_malloc(kernel->allocator, size, &bytes));
  kiln_kernel_image_t* image = &kernel->images[kernel->image_count++];
  image->kind = kind;
  image->sm_arch = arch;
  image->bytes.data = (const uint8_t*)bytes;
  image->bytes.size = size;
  *out_bytes = bytes;
  return NULL;
}

// Reads the program's log into a new NUL-terminated string (NULL when
// empty).
static kiln_status_t read_log(const kiln__cuda_nvrtc_t* nvrtc,
                              kiln__nvrtc_program_t program,
                              kiln_allocator_t allocator, char** out_log,
                              size_t* out_size) {
  *out_log = NULL;
  *out_size = 0;
  size_t size = 0;
  KILN_NVRTC_RETURN_IF_ERROR(nvrtc, nvrtcGetProgramLogSize(program, &size));
  if (size <= 1) return NULL;
  size_t alloc_size;
  if (!kiln_size_checked_add(size, 1, &alloc_size)) {
    return kiln_make_status(KILN_STATUS_OUT_OF_RANGE, "NVRTC log too large");
  }
  void* log = NULL;
  KILN_RETURN_IF_ERROR(kiln_allocator_malloc(allocator, alloc_size, &log));
  kiln_status_t status =
      KILN_NVRTC_STATUS(nvrtc, nvrtcGetProgramLog(program, (char*)log));
  if (status) {
    kiln_allocator_free(allocator, log);
    return status;
  }
  char* text = (char*)log;
  text[size] = '\0';
  size_t length = strlen(text);
  while (length > 0 && (text[length - 1] == '\n' || text[length - 1] == ' ')) {
    text[--length] = '\0';
  }
  *out_log = text;
  *out_size = length;
  return NULL;
}

// Compiles |source| once for |arch_option| and adds the requested images.
static kiln_status_t compile_one(const kiln__cuda_nvrtc_t* nvrtc,
                                 const char* source, const char* program_name,
                                 const kiln_nvrtc_options_t* options,
                                 const char** argv, size_t argc, uint32_t arch,
                                 bool want_ptx, bool want_cubin,
                                 kiln_compiled_kernel_t* kernel) {
  kiln__nvrtc_program_t program = NULL;
  KILN_NVRTC_RETURN_IF_ERROR(
      nvrtc, nvrtcCreateProgram(
                 &program, source, program_name, (int)options->header_count,
                 options->header_sources, options->header_names));
  kiln__nvrtc_result_t compiled =
      nvrtc->nvrtcCompileProgram(program, (int)argc, argv);
  char* log = NULL;
  size_t log_size = 0;
  kiln_status_t status =
      read_log(nvrtc, program, kernel->allocator, &log, &log_size);
  if (!status && compiled != KILN_NVRTC_SUCCESS) {
    kiln_status_t failed = kiln__nvrtc_result_to_status(
        nvrtc, compiled, "nvrtcCompileProgram", __FILE__, __LINE__);
    status = kiln_status_make(
        kiln_status_code(failed), __FILE__, __LINE__,
        "NVRTC cannot compile '%s' for %s: %s; log:\n%.*s%s", program_name,
        argv[argc - 1], kiln_status_message(failed),
        (int)(log_size > MAX_LOG_IN_STATUS ? MAX_LOG_IN_STATUS : log_size),
        log ? log : "(empty)",
        log_size > MAX_LOG_IN_STATUS ? "\n[log truncated]" : "");
    kiln_status_free(failed);
  }
  if (!status && !kernel->log && log) {
    kernel->log = log;
    kernel->log_size = log_size;
    log = NULL;
  }
  kiln_allocator_free(kernel->allocator, log);
  if (!status && want_ptx) {
    size_t size = 0;
    void* bytes = NULL;
    status = KILN_NVRTC_STATUS(nvrtc, nvrtcGetPTXSize(program, &size));
    if (!status && size <= 1) {
      status = kiln_make_status(KILN_STATUS_INTERNAL,
                                "NVRTC produced no PTX for sm_%u", arch);
    }
    if (!status) {
      status = add_image(kernel, KILN_KERNEL_IMAGE_PTX, arch, size, &bytes);
    }
    if (!status) {
      status = KILN_NVRTC_STATUS(nvrtc, nvrtcGetPTX(program, (char*)bytes));
    }
    // NVRTC's size counts the terminating NUL; make sure it is there.
    if (!status) ((char*)bytes)[size - 1] = '\0';
  }
  if (!status && want_cubin) {
    size_t size = 0;
    void* bytes = NULL;
    status = KILN_NVRTC_STATUS(nvrtc, nvrtcGetCUBINSize(program, &size));
    if (!status && size == 0) {
      status = kiln_make_status(KILN_STATUS_INTERNAL,
                                "NVRTC produced no cubin for sm_%u", arch);
    }
    if (!status) {
      status = add_image(kernel, KILN_KERNEL_IMAGE_CUBIN, arch, size, &bytes);
    }
    if (!status) {
      status = KILN_NVRTC_STATUS(nvrtc, nvrtcGetCUBIN(program, (char*)bytes));
    }
  }
  nvrtc->nvrtcDestroyProgram(&program);
  return status;
}

// Sorts |archs| ascending and drops duplicates; returns the new count.
static size_t sort_unique(uint32_t* archs, size_t count) {
  for (size_t i = 1; i < count; ++i) {
    uint32_t v = archs[i];
    size_t j = i;
    while (j > 0 && archs[j - 1] > v) {
      archs[j] = archs[j - 1];
      --j;
    }
    archs[j] = v;
  }
  size_t unique = 0;
  for (size_t i = 0; i < count; ++i) {
    if (unique == 0 || archs[unique - 1] != archs[i])
      archs[unique++] = archs[i];
  }
  return unique;
}

//===----------------------------------------------------------------------===//
// The compile cache (src/base/cache.h)
//===----------------------------------------------------------------------===//

// Appends a length-prefixed string to |w|.
static kiln_status_t key_string(kiln__writer_t* w, const char* text,
                                size_t size) {
  KILN_RETURN_IF_ERROR(kiln__writer_u64(w, size));
  return kiln__writer_append(w, text, size);
}

// The key of one compilation: NVRTC's version and everything that decides
// its output.
static kiln_status_t cache_key(const kiln__cuda_nvrtc_t* nvrtc,
                               kiln_string_view_t source,
                               const char* program_name,
                               const kiln_nvrtc_options_t* options,
                               const uint32_t* archs, size_t arch_count,
                               kiln__writer_t* w) {
  int major = 0, minor = 0;
  nvrtc->nvrtcVersion(&major, &minor);
  static const char kTag[] = "kiln-nvrtc-images-1";
  KILN_RETURN_IF_ERROR(kiln__writer_append(w, kTag, sizeof(kTag)));
  KILN_RETURN_IF_ERROR(kiln__writer_u32(w, (uint32_t)major));
  KILN_RETURN_IF_ERROR(kiln__writer_u32(w, (uint32_t)minor));
  KILN_RETURN_IF_ERROR(kiln__writer_u8(
      w,
      (uint8_t)((options->arch_specific ? 1 : 0) | (options->emit_ptx ? 2 : 0) |
                (options->emit_cubin ? 4 : 0))));
  KILN_RETURN_IF_ERROR(kiln__writer_u64(w, arch_count));
  for (size_t i = 0; i < arch_count; ++i) {
    KILN_RETURN_IF_ERROR(kiln__writer_u32(w, archs[i]));
  }
  KILN_RETURN_IF_ERROR(key_string(w, program_name, strlen(program_name)));
  KILN_RETURN_IF_ERROR(kiln__writer_u64(w, options->option_count));
  for (size_t i = 0; i < options->option_count; ++i) {
    KILN_RETURN_IF_ERROR(
        key_string(w, options->options[i], strlen(options->options[i])));
  }
  KILN_RETURN_IF_ERROR(kiln__writer_u64(w, options->header_count));
  for (size_t i = 0; i < options->header_count; ++i) {
    KILN_RETURN_IF_ERROR(key_string(w, options->header_names[i],
                                    strlen(options->header_names[i])));
    KILN_RETURN_IF_ERROR(key_string(w, options->header_sources[i],
                                    strlen(options->header_sources[i])));
  }
  return key_string(w, source.data, source.size);
}

// Serializes |kernel|'s images and log: u64 count, then per image u32 kind,
// u32 arch, u64 size, bytes; then u64 log size and the log.
static kiln_status_t cache_value(const kiln_compiled_kernel_t* kernel,
                                 kiln__writer_t* w) {
  KILN_RETURN_IF_ERROR(kiln__writer_u64(w, kernel->image_count));
  for (size_t i = 0; i < kernel->image_count; ++i) {
    const kiln_kernel_image_t* image = &kernel->images[i];
    KILN_RETURN_IF_ERROR(kiln__writer_u32(w, (uint32_t)image->kind));
    KILN_RETURN_IF_ERROR(kiln__writer_u32(w, image->sm_arch));
    KILN_RETURN_IF_ERROR(kiln__writer_u64(w, image->bytes.size));
    KILN_RETURN_IF_ERROR(
        kiln__writer_append(w, image->bytes.data, image->bytes.size));
  }
  KILN_RETURN_IF_ERROR(kiln__writer_u64(w, kernel->log ? kernel->log_size : 0));
  if (kernel->log) {
    KILN_RETURN_IF_ERROR(kiln__writer_append(w, kernel->log, kernel->log_size));
  }
  return NULL;
}

// Fills |kernel| (images table allocated, empty) from a cached value; false
// when the value is malformed (then |kernel| may hold partial images, which
// the caller discards).
static bool cache_restore(kiln_compiled_kernel_t* kernel,
                          kiln_const_bytes_t value) {
  kiln__reader_t r;
  kiln__reader_init(&r, value, 0);
  uint64_t count = 0;
  kiln_status_t s = kiln__reader_u64(&r, "image count", &count);
  if (s || count == 0 || count > kernel->image_capacity) {
    kiln_status_free(s);
    return false;
  }
  for (uint64_t i = 0; i < count; ++i) {
    uint32_t kind = 0, arch = 0;
    uint64_t size = 0;
    const uint8_t* bytes = NULL;
    s = kiln__reader_u32(&r, "kind", &kind);
    if (!s) s = kiln__reader_u32(&r, "arch", &arch);
    if (!s) s = kiln__reader_u64(&r, "size", &size);
    if (!s && size > kiln__reader_remaining(&r)) {
      s = kiln_make_status(KILN_STATUS_DATA_LOSS, "image size");
    }
    if (!s) s = kiln__reader_bytes(&r, (size_t)size, "image", &bytes);
    if (s || kind >= KILN_KERNEL_IMAGE_KIND_COUNT || size == 0) {
      kiln_status_free(s);
      return false;
    }
    void* copy = NULL;
    s = add_image(kernel, (kiln_kernel_image_kind_t)kind, arch, (size_t)size,
                  &copy);
    if (s) {
      kiln_status_free(s);
      return false;
    }
    memcpy(copy, bytes, (size_t)size);
  }
  uint64_t log_size = 0;
  s = kiln__reader_u64(&r, "log size", &log_size);
  if (s || log_size > kiln__reader_remaining(&r)) {
    kiln_status_free(s);
    return false;
  }
  if (log_size) {
    const uint8_t* log = NULL;
    s = kiln__reader_bytes(&r, (size_t)log_size, "log", &log);
    if (!s)
      s = kiln__string_dup(
          kernel->allocator,
          kiln_make_string_view((const char*)log, (size_t)log_size),
          &kernel->log);
    if (s) {
      kiln_status_free(s);
      return false;
    }
    kernel->log_size = (size_t)log_size;
  }
  return kiln__reader_remaining(&r) == 0;
}

kiln_status_t kiln_nvrtc_compile(kiln_string_view_t source,
                                 const char* program_name,
                                 const kiln_nvrtc_options_t* options,
                                 kiln_allocator_t allocator,
                                 kiln_compiled_kernel_t** out_kernel) {
  *out_kernel = NULL;
  KILN_RETURN_IF_ERROR(validate_options(source, options));
  if (!program_name) program_name = "kernel.cu";
  const kiln__cuda_nvrtc_t* nvrtc = NULL;
  KILN_RETURN_IF_ERROR(kiln__cuda_nvrtc_get(&nvrtc));

  kiln_compiled_kernel_t* kernel = NULL;
  uint32_t* archs = NULL;
  const char** argv = NULL;
  char* text = NULL;
  size_t arch_count = 0;
  size_t argc = options->option_count + 1;
  void* block = NULL;
  kiln_status_t status =
      kiln_allocator_malloc(allocator, sizeof(*kernel), &block);
  if (!status) {
    kernel = (kiln_compiled_kernel_t*)block;
    kernel->allocator = allocator;
    status = kiln_allocator_malloc(
        allocator, options->sm_arch_count * sizeof(uint32_t), &block);
  }
  if (!status) {
    archs = (uint32_t*)block;
    memcpy(archs, options->sm_archs, options->sm_arch_count * sizeof(*archs));
    arch_count = sort_unique(archs, options->sm_arch_count);
    status = check_supported(nvrtc, archs, arch_count);
  }
  if (!status) {
    kernel->image_capacity = arch_count + 1;
    status = kiln_allocator_malloc(
        allocator, kernel->image_capacity * sizeof(kiln_kernel_image_t),
        &block);
  }
  if (!status) {
    kernel->images = (kiln_kernel_image_t*)block;
    status =
        kiln_allocator_malloc(allocator, argc * sizeof(const char*), &block);
  }
  if (!status) argv = (const char**)block;
  if (!status) status = kiln__string_dup(allocator, source, &text);
  // The compile cache: a hit skips NVRTC entirely.
  char cache_dir[4096];
  bool use_cache =
      !status && kiln__cache_default_dir(cache_dir, sizeof(cache_dir));
  kiln__writer_t key;
  kiln__writer_init(&key, allocator);
  if (use_cache) {
    kiln_status_t s = cache_key(nvrtc, source, program_name, options, archs,
                                arch_count, &key);
    use_cache = !s;
    kiln_status_free(s);
  }
  bool hit = false;
  if (use_cache) {
    uint8_t* value = NULL;
    size_t size = 0;
    kiln_const_bytes_t key_bytes = {key.data, key.size};
    if (kiln__cache_get(cache_dir, key_bytes, allocator, &value, &size)) {
      kiln_const_bytes_t bytes = {value, size};
      hit = cache_restore(kernel, bytes);
      if (!hit) {
        // A malformed entry: drop what was restored and compile again.
        for (size_t i = 0; i < kernel->image_count; ++i) {
          kiln_allocator_free(allocator, (void*)kernel->images[i].bytes.data);
        }
        kernel->image_count = 0;
        kiln_allocator_free(allocator, kernel->log);
        kernel->log = NULL;
        kernel->log_size = 0;
      }
      kiln_allocator_free(allocator, value);
    }
  }
  char arch_option[64];
  for (size_t i = 0; !status && !hit && i < arch_count; ++i) {
    bool want_ptx = options->emit_ptx && i == 0;
    bool want_cubin = options->emit_cubin;
    if (!want_ptx && !want_cubin) break;
    snprintf(arch_option, sizeof(arch_option), "--gpu-architecture=%s_%u%s",
             want_cubin ? "sm" : "compute", archs[i],
             options->arch_specific ? "a" : "");
    for (size_t k = 0; k < options->option_count; ++k) {
      argv[k] = options->options[k];
    }
    argv[argc - 1] = arch_option;
    status = compile_one(nvrtc, text, program_name, options, argv, argc,
                         archs[i], want_ptx, want_cubin, kernel);
  }
  if (!status && use_cache && !hit) {
    kiln__writer_t value;
    kiln__writer_init(&value, allocator);
    kiln_status_t s = cache_value(kernel, &value);
    if (!s) {
      kiln_const_bytes_t key_bytes = {key.data, key.size};
      kiln_const_bytes_t value_bytes = {value.data, value.size};
      kiln__cache_put(cache_dir, key_bytes, value_bytes);
    }
    kiln_status_free(s);
    kiln__writer_deinit(&value);
  }
  kiln__writer_deinit(&key);
  kiln_allocator_free(allocator, text);
  kiln_allocator_free(allocator, (void*)argv);
  kiln_allocator_free(allocator, archs);
  if (status) {
    kiln_compiled_kernel_destroy(kernel);
    return status;
  }
  *out_kernel = kernel;
  return NULL;
}
