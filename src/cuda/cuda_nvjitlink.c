// The nvJitLink symbol table and PTX -> cubin.

#include "cuda/cuda_nvjitlink.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "cuda/cubin.h"
#include "cuda/dylib.h"
#include "cuda/ptx.h"

//===----------------------------------------------------------------------===//
// Loading
//===----------------------------------------------------------------------===//

#define SYMBOL_ENTRY(ret, field, symbol, fallback, optional, params) \
  {symbol, fallback, optional, offsetof(kiln__cuda_nvjitlink_t, field)},
static const kiln__cuda_symbol_t nvjitlink_symbols[] = {
    KILN_NVJITLINK_SYMBOL_LIST(SYMBOL_ENTRY)};
#undef SYMBOL_ENTRY

static const char* const nvjitlink_names[] = {
    "libnvJitLink.so.13", "libnvJitLink.so.12", "libnvJitLink.so"};

static pthread_once_t nvjitlink_once = PTHREAD_ONCE_INIT;
static kiln__cuda_nvjitlink_t nvjitlink_table;
static kiln_status_code_t nvjitlink_error_code = KILN_STATUS_OK;
static char nvjitlink_error[1024];

static void load_nvjitlink_once(void) {
  void* handle = NULL;
  kiln_status_t status = kiln__cuda_dylib_open(
      "nvJitLink", nvjitlink_names, KILN_ARRAYSIZE(nvjitlink_names), true,
      "install the CUDA toolkit's nvJitLink (the cuda-nvjitlink package or "
      "the nvidia-nvjitlink wheel) or set CUDA_HOME",
      &handle);
  if (!status) {
    status = kiln__cuda_dylib_resolve(handle, "nvJitLink", nvjitlink_symbols,
                                      KILN_ARRAYSIZE(nvjitlink_symbols),
                                      &nvjitlink_table);
  }
  if (status) {
    memset(&nvjitlink_table, 0, sizeof(nvjitlink_table));
    nvjitlink_error_code = kiln_status_code(status);
    snprintf(nvjitlink_error, sizeof(nvjitlink_error), "%s",
             kiln_status_message(status));
    kiln_status_free(status);
  }
}

kiln_status_t kiln__cuda_nvjitlink_get(
    const kiln__cuda_nvjitlink_t** out_nvjitlink) {
  *out_nvjitlink = NULL;
  if (pthread_once(&nvjitlink_once, load_nvjitlink_once) != 0) {
    return kiln_make_status(KILN_STATUS_INTERNAL,
                            "pthread_once failed while loading nvJitLink");
  }
  if (nvjitlink_error_code != KILN_STATUS_OK) {
    return kiln_make_status(nvjitlink_error_code, "%s", nvjitlink_error);
  }
  *out_nvjitlink = &nvjitlink_table;
  return NULL;
}

//===----------------------------------------------------------------------===//
// Error mapping
//===----------------------------------------------------------------------===//

const char* kiln__nvjitlink_result_name(kiln__nvjitlink_result_t result) {
  switch (result) {
#define NAME_CASE(name, value) \
  case value:                  \
    return #name;
    KILN_NVJITLINK_RESULT_LIST(NAME_CASE)
#undef NAME_CASE
    default:
      return NULL;
  }
}

kiln_status_code_t kiln__nvjitlink_result_code(
    kiln__nvjitlink_result_t result) {
  switch (result) {
    case KILN_NVJITLINK_SUCCESS:
      return KILN_STATUS_OK;
    case KILN_NVJITLINK_ERROR_ARCH_MISMATCH:
    case KILN_NVJITLINK_ERROR_UNRECOGNIZED_ARCH:
    case KILN_NVJITLINK_ERROR_UNSUPPORTED_ARCH:
    case KILN_NVJITLINK_ERROR_OUTDATED_LIBRARY:
      return KILN_STATUS_INCOMPATIBLE;
    case KILN_NVJITLINK_ERROR_UNRECOGNIZED_OPTION:
    case KILN_NVJITLINK_ERROR_MISSING_ARCH:
    case KILN_NVJITLINK_ERROR_INVALID_INPUT:
    case KILN_NVJITLINK_ERROR_PTX_COMPILE:
    case KILN_NVJITLINK_ERROR_NVVM_COMPILE:
    case KILN_NVJITLINK_ERROR_UNRECOGNIZED_INPUT:
    case KILN_NVJITLINK_ERROR_NULL_INPUT:
    case KILN_NVJITLINK_ERROR_INCOMPATIBLE_OPTIONS:
    case KILN_NVJITLINK_ERROR_INCORRECT_INPUT_TYPE:
    case KILN_NVJITLINK_ERROR_MISSING_FATBIN:
    case KILN_NVJITLINK_ERROR_LTO_NOT_ENABLED:
      return KILN_STATUS_INVALID_ARGUMENT;
    default:
      return KILN_STATUS_INTERNAL;
  }
}

kiln_status_t kiln__nvjitlink_result_to_status(kiln__nvjitlink_result_t result,
                                               const char* call,
                                               const char* file, int line) {
  if (result == KILN_NVJITLINK_SUCCESS) return NULL;
  const char* name = kiln__nvjitlink_result_name(result);
  const char* base = file ? strrchr(file, '/') : NULL;
  return kiln_status_make(kiln__nvjitlink_result_code(result), file, line,
                          "%s failed: %s (%d) [%s:%d]",
                          call ? call : "an nvJitLink call",
                          name ? name : "unknown nvJitLinkResult", result,
                          base ? base + 1 : (file ? file : "?"), line);
}

//===----------------------------------------------------------------------===//
// PTX -> cubin
//===----------------------------------------------------------------------===//

// The longest error log put into a status.
#define MAX_LOG_IN_STATUS 65536

// Phrases of ptxas (inside nvJitLink) that mean "this PTX is for another
// architecture or a newer toolkit", not "this PTX is wrong".
static const char* const incompatible_phrases[] = {
    "cannot be compiled",              // sm_90a PTX for sm_90 / sm_100a
    "higher than default SM version",  // .target newer than -arch
    "Unsupported .version",            // PTX newer than this nvJitLink
    "Unsupported .target",
    "is not supported on .target",
};

static kiln_status_t failure(const kiln__cuda_nvjitlink_t* nvjitlink,
                             kiln__nvjitlink_handle_t handle,
                             kiln__nvjitlink_result_t result, const char* call,
                             const char* arch, kiln_allocator_t allocator,
                             int line) {
  kiln_status_t status =
      kiln__nvjitlink_result_to_status(result, call, __FILE__, line);
  size_t size = 0;
  void* log = NULL;
  if (handle &&
      nvjitlink->nvJitLinkGetErrorLogSize(handle, &size) ==
          KILN_NVJITLINK_SUCCESS &&
      size > 1 && size < ((size_t)1 << 30)) {
    kiln_status_t alloc = kiln_allocator_malloc(allocator, size + 1, &log);
    if (alloc) {
      kiln_status_free(alloc);
      log = NULL;
    } else if (nvjitlink->nvJitLinkGetErrorLog(handle, (char*)log) !=
               KILN_NVJITLINK_SUCCESS) {
      kiln_allocator_free(allocator, log);
      log = NULL;
    }
  }
  if (!log) {
    return kiln_status_annotate(status, "nvJitLink compiling PTX for %s", arch);
  }
  char* text = (char*)log;
  text[size] = '\0';
  size_t length = strlen(text);
  while (length > 0 && (text[length - 1] == '\n' || text[length - 1] == ' ')) {
    text[--length] = '\0';
  }
  bool incompatible = false;
  for (size_t i = 0; i < KILN_ARRAYSIZE(incompatible_phrases); ++i) {
    if (strstr(text, incompatible_phrases[i])) incompatible = true;
  }
  kiln_status_code_t code =
      incompatible ? KILN_STATUS_INCOMPATIBLE : kiln_status_code(status);
  kiln_status_t with_log = kiln_status_make(
      code, __FILE__, line,
      "nvJitLink cannot compile PTX for %s: %s; log: %.*s%s", arch,
      kiln_status_message(status),
      (int)(length > MAX_LOG_IN_STATUS ? MAX_LOG_IN_STATUS : length), text,
      length > MAX_LOG_IN_STATUS ? " [log truncated]" : "");
  kiln_allocator_free(allocator, log);
  kiln_status_free(status);
  return with_log;
}

// Refuses, before calling nvJitLink, PTX whose header says it cannot be
// compiled for the architecture. PTX kiln cannot read is left to nvJitLink.
static kiln_status_t precheck(kiln_const_bytes_t ptx, uint32_t sm_arch,
                              bool arch_specific, const char* arch) {
  kiln__ptx_header_t header;
  kiln_status_t status = kiln__ptx_read_header(ptx, &header);
  if (status) {
    kiln_status_free(status);
    return NULL;
  }
  char suffix[2] = {header.arch_suffix, '\0'};
  if (header.sm_arch > sm_arch) {
    return kiln_make_status(KILN_STATUS_INCOMPATIBLE,
                            "PTX with .target sm_%u%s cannot be compiled for "
                            "the older %s",
                            header.sm_arch, suffix, arch);
  }
  if (header.arch_suffix == 'a' &&
      (header.sm_arch != sm_arch || !arch_specific)) {
    return kiln_make_status(KILN_STATUS_INCOMPATIBLE,
                            "PTX with .target sm_%ua is tied to that "
                            "architecture and cannot be compiled for %s",
                            header.sm_arch, arch);
  }
  return NULL;
}

kiln_status_t kiln__cuda_ptx_to_cubin(const kiln__cuda_nvjitlink_t* nvjitlink,
                                      kiln_const_bytes_t ptx, uint32_t sm_arch,
                                      bool arch_specific,
                                      kiln_allocator_t allocator,
                                      uint8_t** out_cubin, size_t* out_size) {
  *out_cubin = NULL;
  *out_size = 0;
  size_t text_size = kiln__ptx_text_size(ptx);
  if (text_size == 0) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "no PTX text to compile (%zu bytes given)",
                            ptx.data ? ptx.size : (size_t)0);
  }
  if (sm_arch < 10 || sm_arch > 999) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "SM architecture %u is outside 10..999 (90 means "
                            "sm_90)",
                            sm_arch);
  }
  char arch[32];
  snprintf(arch, sizeof(arch), "sm_%u%s", sm_arch, arch_specific ? "a" : "");
  KILN_RETURN_IF_ERROR(precheck(ptx, sm_arch, arch_specific, arch));
  char arch_option[40];
  snprintf(arch_option, sizeof(arch_option), "-arch=%s", arch);
  const char* options[] = {arch_option};

  kiln__nvjitlink_handle_t handle = NULL;
  kiln__nvjitlink_result_t result =
      nvjitlink->nvJitLinkCreate(&handle, 1, options);
  if (result != KILN_NVJITLINK_SUCCESS) {
    kiln_status_t status = failure(nvjitlink, handle, result, "nvJitLinkCreate",
                                   arch, allocator, __LINE__);
    if (handle) nvjitlink->nvJitLinkDestroy(&handle);
    return status;
  }
  // nvJitLink 13.0 needs the NUL (measured): PTX whose span does not end
  // with one is refused ("bad input: does not match type
  // NVJITLINK_INPUT_PTX") unless a NUL happens to follow the buffer, which
  // means it reads past the size it is given. So it gets a terminated copy,
  // the NUL counted in the size.
  char* text = NULL;
  kiln_status_t status =
      kiln__ptx_copy_terminated(ptx, allocator, &text, &text_size);
  if (!status) {
    result = nvjitlink->nvJitLinkAddData(handle, KILN_NVJITLINK_INPUT_PTX, text,
                                         text_size + 1, "kiln.ptx");
    if (result != KILN_NVJITLINK_SUCCESS) {
      status = failure(nvjitlink, handle, result, "nvJitLinkAddData(PTX)", arch,
                       allocator, __LINE__);
    }
  }
  kiln_allocator_free(allocator, text);
  if (!status) {
    result = nvjitlink->nvJitLinkComplete(handle);
    if (result != KILN_NVJITLINK_SUCCESS) {
      status = failure(nvjitlink, handle, result, "nvJitLinkComplete", arch,
                       allocator, __LINE__);
    }
  }
  size_t size = 0;
  if (!status) {
    result = nvjitlink->nvJitLinkGetLinkedCubinSize(handle, &size);
    if (result != KILN_NVJITLINK_SUCCESS) {
      status = failure(nvjitlink, handle, result, "nvJitLinkGetLinkedCubinSize",
                       arch, allocator, __LINE__);
    } else if (size == 0) {
      status =
          kiln_make_status(KILN_STATUS_INTERNAL,
                           "nvJitLink produced an empty cubin for %s", arch);
    }
  }
  void* cubin = NULL;
  if (!status) status = kiln_allocator_malloc(allocator, size, &cubin);
  if (!status) {
    result = nvjitlink->nvJitLinkGetLinkedCubin(handle, cubin);
    if (result != KILN_NVJITLINK_SUCCESS) {
      status = failure(nvjitlink, handle, result, "nvJitLinkGetLinkedCubin",
                       arch, allocator, __LINE__);
    }
  }
  nvjitlink->nvJitLinkDestroy(&handle);
  if (!status) {
    kiln__cubin_info_t info;
    kiln_const_bytes_t bytes = {(const uint8_t*)cubin, size};
    status = kiln__cubin_inspect(bytes, &info);
    if (!status && info.sm_arch != sm_arch) {
      status = kiln_make_status(KILN_STATUS_INTERNAL,
                                "nvJitLink produced a cubin for sm_%u when "
                                "asked for %s",
                                info.sm_arch, arch);
    }
    if (status) {
      status = kiln_status_annotate(status, "checking nvJitLink's cubin");
    }
  }
  if (status) {
    kiln_allocator_free(allocator, cubin);
    return status;
  }
  *out_cubin = (uint8_t*)cubin;
  *out_size = size;
  return NULL;
}
