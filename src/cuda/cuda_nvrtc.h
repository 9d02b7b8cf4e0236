// NVRTC behind a symbol table. The public helper built on it,
// kiln_nvrtc_compile, is declared in kiln_plugin.h.
//
// The library is dlopen'd on first use, once per process: libnvrtc.so.13,
// then libnvrtc.so.12, then libnvrtc.so, each first on the loader's path and
// then under $CUDA_HOME/lib64 and the default toolkit location.

#ifndef KILN_SRC_CUDA_CUDA_NVRTC_H_
#define KILN_SRC_CUDA_CUDA_NVRTC_H_

#include "cuda/cuda_types.h"
#include "kiln/kiln.h"

// NVRTC's functions; see KILN_NVRTC_SYMBOL_LIST for the optional ones.
typedef struct kiln__cuda_nvrtc_t {
#define KILN_NVRTC_TABLE_FIELD_(ret, field, symbol, fallback, optional, \
                                params)                                 \
  ret(*field) params;
  KILN_NVRTC_SYMBOL_LIST(KILN_NVRTC_TABLE_FIELD_)
} kiln__cuda_nvrtc_t;

// Loads NVRTC on the first call (thread-safe, once per process) and returns
// the process-wide read-only table (NULL on failure). UNAVAILABLE names the
// libraries tried, the loader's error and "install the CUDA toolkit's
// NVRTC". A failure is remembered.
kiln_status_t kiln__cuda_nvrtc_get(const kiln__cuda_nvrtc_t** out_nvrtc);

// Returns the status code for an nvrtcResult: OUT_OF_MEMORY and
// PCH_CREATE_HEAP_EXHAUSTED -> RESOURCE_EXHAUSTED; COMPILATION,
// INVALID_OPTION, INVALID_INPUT, INVALID_PROGRAM, PROGRAM_CREATION_FAILURE
// and the name-expression errors -> INVALID_ARGUMENT; others -> INTERNAL.
kiln_status_code_t kiln__nvrtc_result_code(kiln__nvrtc_result_t result);

// Returns the enum name of |result| ("NVRTC_ERROR_COMPILATION") or NULL.
const char* kiln__nvrtc_result_name(kiln__nvrtc_result_t result);

// Makes the status for |result| (NULL for NVRTC_SUCCESS), naming |call|, the
// result (nvrtcGetErrorString from |nvrtc| when given, else kiln's name),
// its value and |file|:|line|. |nvrtc| may be NULL.
kiln_status_t kiln__nvrtc_result_to_status(const kiln__cuda_nvrtc_t* nvrtc,
                                           kiln__nvrtc_result_t result,
                                           const char* call, const char* file,
                                           int line);

#define KILN_NVRTC_STATUS(nvrtc, call_expr)                             \
  kiln__nvrtc_result_to_status((nvrtc), (nvrtc)->call_expr, #call_expr, \
                               __FILE__, __LINE__)

#define KILN_NVRTC_RETURN_IF_ERROR(nvrtc, call_expr)                       \
  do {                                                                     \
    kiln__nvrtc_result_t kiln_nvrtc_result_ = (nvrtc)->call_expr;          \
    if (kiln_nvrtc_result_ != KILN_NVRTC_SUCCESS) {                        \
      return kiln__nvrtc_result_to_status((nvrtc), kiln_nvrtc_result_,     \
                                          #call_expr, __FILE__, __LINE__); \
    }                                                                      \
  } while (0)

#endif  // KILN_SRC_CUDA_CUDA_NVRTC_H_
