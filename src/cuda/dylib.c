// dlopen / dlsym for the CUDA libraries.

#include "cuda/dylib.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"

_Static_assert(sizeof(void*) == sizeof(void (*)(void)),
               "kiln stores dlsym results into function pointers");

// Where a toolkit is installed when it is not on the loader's path. Only a
// search hint: $CUDA_HOME comes first.
#define DEFAULT_TOOLKIT_LIB_DIR "/usr/local/cuda/lib64"

static bool try_open(const char* path, void** out_handle, char* first_error,
                     size_t first_error_size) {
  void* handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (handle) {
    *out_handle = handle;
    return true;
  }
  const char* error = dlerror();
  if (first_error[0] == '\0') {
    snprintf(first_error, first_error_size, "%s",
             error ? error : "unknown loader error");
  }
  return false;
}

kiln_status_t kiln__cuda_dylib_open(const char* label, const char* const* names,
                                    size_t name_count, bool search_toolkit,
                                    const char* install_hint,
                                    void** out_handle) {
  *out_handle = NULL;
  char first_error[512] = "";
  for (size_t i = 0; i < name_count; ++i) {
    if (try_open(names[i], out_handle, first_error, sizeof(first_error))) {
      return NULL;
    }
  }
  const char* dirs[2] = {NULL, DEFAULT_TOOLKIT_LIB_DIR};
  char cuda_home_lib[1024] = "";
  const char* cuda_home = getenv("CUDA_HOME");
  if (search_toolkit && cuda_home && cuda_home[0] != '\0') {
    int n =
        snprintf(cuda_home_lib, sizeof(cuda_home_lib), "%s/lib64", cuda_home);
    if (n > 0 && (size_t)n < sizeof(cuda_home_lib)) dirs[0] = cuda_home_lib;
  }
  for (size_t d = 0; search_toolkit && d < KILN_ARRAYSIZE(dirs); ++d) {
    if (!dirs[d]) continue;
    for (size_t i = 0; i < name_count; ++i) {
      char path[1536];
      int n = snprintf(path, sizeof(path), "%s/%s", dirs[d], names[i]);
      if (n <= 0 || (size_t)n >= sizeof(path)) continue;
      if (try_open(path, out_handle, first_error, sizeof(first_error))) {
        return NULL;
      }
    }
  }
  char tried[512] = "";
  size_t length = 0;
  for (size_t i = 0; i < name_count; ++i) {
    int n = snprintf(tried + length, sizeof(tried) - length, "%s%s",
                     i ? ", " : "", names[i]);
    if (n < 0 || (size_t)n >= sizeof(tried) - length) break;
    length += (size_t)n;
  }
  char where[1200] = " on the loader's path";
  if (search_toolkit) {
    snprintf(where, sizeof(where),
             " on the loader's path%s%s%s and in " DEFAULT_TOOLKIT_LIB_DIR,
             dirs[0] ? ", in $CUDA_HOME/lib64 (" : "", dirs[0] ? dirs[0] : "",
             dirs[0] ? ")" : "");
  }
  return kiln_make_status(KILN_STATUS_UNAVAILABLE,
                          "cannot load %s: tried %s%s; the loader said: %s; "
                          "%s",
                          label, tried, where, first_error, install_hint);
}

kiln_status_t kiln__cuda_dylib_resolve(void* handle, const char* library,
                                       const kiln__cuda_symbol_t* symbols,
                                       size_t symbol_count, void* table) {
  for (size_t i = 0; i < symbol_count; ++i) {
    const kiln__cuda_symbol_t* symbol = &symbols[i];
    void* address = dlsym(handle, symbol->name);
    if (!address && symbol->fallback) address = dlsym(handle, symbol->fallback);
    if (!address && !symbol->optional) {
      return kiln_make_status(KILN_STATUS_UNAVAILABLE,
                              "%s has no symbol %s%s%s: the library is older "
                              "than kiln needs; install a newer one",
                              library, symbol->name,
                              symbol->fallback ? " nor " : "",
                              symbol->fallback ? symbol->fallback : "");
    }
    // POSIX guarantees that a void* from dlsym converts to a function
    // pointer; copying the bytes avoids ISO C's object/function cast warning.
    memcpy((char*)table + symbol->offset, &address, sizeof(address));
  }
  return NULL;
}
