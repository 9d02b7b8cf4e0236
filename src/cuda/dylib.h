// Loading the CUDA libraries with dlopen and resolving a symbol list into a
// table of function pointers. Shared by the driver, NVRTC and nvJitLink
// tables; see cuda_driver.h, cuda_nvrtc.h and cuda_nvjitlink.h.

#ifndef KILN_SRC_CUDA_DYLIB_H_
#define KILN_SRC_CUDA_DYLIB_H_

#include <stdbool.h>
#include <stddef.h>

#include "kiln/kiln.h"

// One entry of a symbol list: where in the table its pointer goes.
typedef struct kiln__cuda_symbol_t {
  const char* name;      // the exported name, e.g. "cuMemAlloc_v2"
  const char* fallback;  // tried when |name| is absent; may be NULL
  bool optional;         // absent -> NULL in the table instead of an error
  size_t offset;         // offsetof(table type, field)
} kiln__cuda_symbol_t;

// Opens the first of |names| that loads (RTLD_NOW | RTLD_LOCAL). Each name
// is tried as given (the loader's search path) and, when |search_toolkit|,
// then again under $CUDA_HOME/lib64 and the default toolkit location. The
// handle is never closed: the tables live for the process. UNAVAILABLE names
// |label|, every name tried, the loader's first error and |install_hint|.
// Thread-safe.
kiln_status_t kiln__cuda_dylib_open(const char* label, const char* const* names,
                                    size_t name_count, bool search_toolkit,
                                    const char* install_hint,
                                    void** out_handle);

// Resolves |symbols| from |handle| into |table| (a struct of function
// pointers). UNAVAILABLE naming |library| and the first required symbol
// that is missing (an older library than kiln needs); |table| is then
// partly written. Thread-safe.
kiln_status_t kiln__cuda_dylib_resolve(void* handle, const char* library,
                                       const kiln__cuda_symbol_t* symbols,
                                       size_t symbol_count, void* table);

#endif  // KILN_SRC_CUDA_DYLIB_H_
