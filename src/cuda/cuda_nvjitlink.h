// nvJitLink behind a symbol table, and PTX -> cubin without a GPU (design
// decision 7: the builder turns PTX into cubin for the target architectures).
//
// The library is dlopen'd on first use, once per process:
// libnvJitLink.so.13, then libnvJitLink.so.12, then libnvJitLink.so, each
// first on the loader's path and then under $CUDA_HOME/lib64 and the default
// toolkit location.

#ifndef KILN_SRC_CUDA_CUDA_NVJITLINK_H_
#define KILN_SRC_CUDA_CUDA_NVJITLINK_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cuda/cuda_types.h"
#include "kiln/kiln.h"

// nvJitLink's functions; see KILN_NVJITLINK_SYMBOL_LIST for the optional
// ones.
typedef struct kiln__cuda_nvjitlink_t {
#define KILN_NVJITLINK_TABLE_FIELD_(ret, field, symbol, fallback, optional, \
                                    params)                                 \
  ret(*field) params;
  KILN_NVJITLINK_SYMBOL_LIST(KILN_NVJITLINK_TABLE_FIELD_)
} kiln__cuda_nvjitlink_t;

// Loads nvJitLink on the first call (thread-safe, once per process) and
// returns the process-wide read-only table (NULL on failure). UNAVAILABLE
// names the libraries tried, the loader's error and "install the CUDA
// toolkit's nvJitLink". A failure is remembered.
kiln_status_t kiln__cuda_nvjitlink_get(
    const kiln__cuda_nvjitlink_t** out_nvjitlink);

// Returns the status code for an nvJitLinkResult: ARCH_MISMATCH,
// UNRECOGNIZED_ARCH, UNSUPPORTED_ARCH and OUTDATED_LIBRARY -> INCOMPATIBLE;
// the option and input errors and PTX_COMPILE / NVVM_COMPILE ->
// INVALID_ARGUMENT; INTERNAL, THREADPOOL, FINALIZE and others -> INTERNAL.
kiln_status_code_t kiln__nvjitlink_result_code(kiln__nvjitlink_result_t result);

// Returns the enum name of |result| ("NVJITLINK_ERROR_PTX_COMPILE") or NULL.
const char* kiln__nvjitlink_result_name(kiln__nvjitlink_result_t result);

// Makes the status for |result| (NULL for NVJITLINK_SUCCESS), naming |call|,
// the result, its value and |file|:|line|.
kiln_status_t kiln__nvjitlink_result_to_status(kiln__nvjitlink_result_t result,
                                               const char* call,
                                               const char* file, int line);

// Compiles |ptx| into a cubin for sm_|sm_arch| (sm_|sm_arch|a when
// |arch_specific|) with nvJitLink; no GPU is needed. |ptx| need not be
// NUL-terminated (a NUL ends it). The cubin is allocated from |allocator|
// into |*out_cubin| / |*out_size| (the caller frees it with
// kiln_allocator_free) and passes kiln__cubin_inspect with that
// architecture.
//
// Returns INVALID_ARGUMENT for an empty |ptx| or an |sm_arch| outside
// 10..999; INCOMPATIBLE when the PTX cannot be compiled for the architecture:
// its .target is newer, it is arch-specific (sm_90a) for another one, or
// nvJitLink refuses it as such ("cannot be compiled to future architecture",
// an unsupported .version), with nvJitLink's error log; INVALID_ARGUMENT with
// the error log for PTX nvJitLink rejects otherwise; RESOURCE_EXHAUSTED;
// INTERNAL. Thread-safe.
kiln_status_t kiln__cuda_ptx_to_cubin(const kiln__cuda_nvjitlink_t* nvjitlink,
                                      kiln_const_bytes_t ptx, uint32_t sm_arch,
                                      bool arch_specific,
                                      kiln_allocator_t allocator,
                                      uint8_t** out_cubin, size_t* out_size);

#endif  // KILN_SRC_CUDA_CUDA_NVJITLINK_H_
