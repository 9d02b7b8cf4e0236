// A PTX inspector for untrusted text: the module header (.version, .target,
// .address_size) and, for a named kernel (.entry), its parameter list and
// launch-bound directives (.reqntid, .maxntid, ...).
//
// The text is a byte span that need not be NUL-terminated. A NUL byte ends
// the text, as it does for the driver (cuModuleLoadData takes no length).
// Nothing is read past the span. Comments (// and /* */) and string literals
// are skipped; kernel bodies are skipped by brace depth.
//
// Errors: malformed text is DATA_LOSS naming the byte offset and what was
// expected; a missing entry is NOT_FOUND naming it and listing the entries
// present; memory is RESOURCE_EXHAUSTED; sizes that overflow are OUT_OF_RANGE.

#ifndef KILN_SRC_CUDA_PTX_H_
#define KILN_SRC_CUDA_PTX_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kiln/kiln.h"

// The scalar type of a kernel parameter.
typedef enum kiln__ptx_type_e {
  KILN__PTX_TYPE_B8 = 0,
  KILN__PTX_TYPE_B16,
  KILN__PTX_TYPE_B32,
  KILN__PTX_TYPE_B64,
  KILN__PTX_TYPE_B128,
  KILN__PTX_TYPE_U8,
  KILN__PTX_TYPE_U16,
  KILN__PTX_TYPE_U32,
  KILN__PTX_TYPE_U64,
  KILN__PTX_TYPE_S8,
  KILN__PTX_TYPE_S16,
  KILN__PTX_TYPE_S32,
  KILN__PTX_TYPE_S64,
  KILN__PTX_TYPE_F16,
  KILN__PTX_TYPE_F16X2,
  KILN__PTX_TYPE_BF16,
  KILN__PTX_TYPE_BF16X2,
  KILN__PTX_TYPE_F32,
  KILN__PTX_TYPE_F64,
  KILN__PTX_TYPE_COUNT,
} kiln__ptx_type_t;

// The state space named after .ptr; GENERIC when none is named.
typedef enum kiln__ptx_space_e {
  KILN__PTX_SPACE_GENERIC = 0,
  KILN__PTX_SPACE_GLOBAL,
  KILN__PTX_SPACE_CONST,
  KILN__PTX_SPACE_LOCAL,
  KILN__PTX_SPACE_SHARED,
  KILN__PTX_SPACE_COUNT,
} kiln__ptx_space_t;

// Returns the PTX spelling of |type| (".u64") or "unknown". Static string.
const char* kiln__ptx_type_name(kiln__ptx_type_t type);

// Returns the size in bytes of one element of |type|; 0 outside the enum.
uint32_t kiln__ptx_type_size(kiln__ptx_type_t type);

// Returns the PTX spelling of |space| (".global"; "" for GENERIC).
const char* kiln__ptx_space_name(kiln__ptx_space_t space);

// The module header.
typedef struct kiln__ptx_header_t {
  uint32_t version_major;  // .version 8.7 -> 8
  uint32_t version_minor;  // .version 8.7 -> 7
  uint32_t sm_arch;        // .target sm_90a -> 90
  char arch_suffix;        // 'a' (sm_90a), 'f' (sm_100f) or '\0'
  uint32_t address_size;   // .address_size; 0 when absent
} kiln__ptx_header_t;

// One kernel parameter, e.g. ".param .u64 .ptr .global .align 1 x" or
// ".param .align 8 .b8 s[24]".
typedef struct kiln__ptx_param_t {
  kiln_string_view_t name;  // borrowed from the PTX text
  kiln__ptx_type_t type;
  uint32_t element_size;  // bytes of one |type| element
  uint32_t array_count;   // N of "name[N]" (product for name[N][M]); 0: scalar
  size_t size;            // element_size * max(array_count, 1)
  size_t align;           // the .align before the type, else element_size
  size_t offset;          // offset in the parameter buffer (aligned)
  bool is_ptr;            // has the .ptr attribute
  kiln__ptx_space_t ptr_space;  // the space named after .ptr
  uint32_t ptr_align;  // the .align after .ptr (of the pointee); 0: none
} kiln__ptx_param_t;

// A kernel entry found by kiln__ptx_find_entry. Owns |params|.
typedef struct kiln__ptx_entry_t {
  kiln_allocator_t allocator;
  kiln__ptx_header_t header;
  kiln_string_view_t name;  // borrowed from the PTX text
  kiln__ptx_param_t* params;
  size_t param_count;
  size_t param_bytes;  // size of the parameter buffer (end of the last one)
  bool has_reqntid;
  uint32_t reqntid[3];  // .reqntid x[, y[, z]]; missing dimensions are 1
  bool has_maxntid;
  uint32_t maxntid[3];  // .maxntid x[, y[, z]]; missing dimensions are 1
  bool has_reqnctapercluster;
  uint32_t reqnctapercluster[3];
  uint32_t maxnreg;       // .maxnreg; 0 when absent
  uint32_t minnctapersm;  // .minnctapersm; 0 when absent
} kiln__ptx_entry_t;

// Returns how many bytes of |ptx| the driver would read: up to the first NUL
// byte, or the whole span when it has none.
size_t kiln__ptx_text_size(kiln_const_bytes_t ptx);

// Checks that |ptx| holds a NUL byte within its span, so that it can be
// passed to the driver, which takes no length. DATA_LOSS naming the span's
// size otherwise (also for an empty span).
kiln_status_t kiln__ptx_check_terminated(kiln_const_bytes_t ptx);

// Copies the text of |ptx| (up to its first NUL) into a new NUL-terminated
// string from |allocator|. The caller frees |*out_text| with
// kiln_allocator_free. |out_length| (may be NULL) receives the length without
// the NUL. RESOURCE_EXHAUSTED, OUT_OF_RANGE.
kiln_status_t kiln__ptx_copy_terminated(kiln_const_bytes_t ptx,
                                        kiln_allocator_t allocator,
                                        char** out_text, size_t* out_length);

// Scans all of |ptx| and returns its header. DATA_LOSS for malformed text,
// including a missing .version or .target and unbalanced braces. Allocates
// nothing. Thread-safe.
kiln_status_t kiln__ptx_read_header(kiln_const_bytes_t ptx,
                                    kiln__ptx_header_t* out_header);

// Scans all of |ptx| and describes the kernel defined as ".entry
// |entry_name|" (with or without .visible). |out_entry| is zeroed on entry and
// filled only on success; release it with kiln__ptx_entry_deinit. Its name
// and parameter names borrow from |ptx|. NOT_FOUND names |entry_name| and
// lists the entries defined; DATA_LOSS for malformed text; INVALID_ARGUMENT
// for an empty |entry_name|; RESOURCE_EXHAUSTED; OUT_OF_RANGE when the
// parameter sizes overflow. Thread-safe.
kiln_status_t kiln__ptx_find_entry(kiln_const_bytes_t ptx,
                                   kiln_string_view_t entry_name,
                                   kiln_allocator_t allocator,
                                   kiln__ptx_entry_t* out_entry);

// Frees what |entry| owns and zeroes it. NULL and a zeroed entry are no-ops.
void kiln__ptx_entry_deinit(kiln__ptx_entry_t* entry);

#endif  // KILN_SRC_CUDA_PTX_H_
