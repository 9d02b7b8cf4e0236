// Reading and writing NumPy .npy files (format versions 1.0, 2.0, 3.0) for
// the kiln command. The reader treats the file as untrusted: every failure is
// a status naming the file offset and the fault.

#ifndef KILN_TOOLS_NPY_H_
#define KILN_TOOLS_NPY_H_

#include <stddef.h>
#include <stdint.h>

#include "kiln/kiln.h"

typedef struct kiln_npy_t {
  kiln_dtype_t dtype;
  int32_t rank;
  int64_t dims[KILN_MAX_RANK];
  const uint8_t* data;  // borrowed from the bytes parsed
  size_t size;          // bytes of data
} kiln_npy_t;

// Parses |bytes| as a C-ordered, little-endian .npy file whose dtype is one
// kiln knows ('<f4', '<f2', '<i4', '<i8', '|i1', '|u1', '|b1'; bfloat16 and
// fp8 have no NumPy dtype). DATA_LOSS names the byte offset for malformed
// files, UNIMPLEMENTED names a dtype or layout kiln does not read (Fortran
// order, big-endian, float64, rank > 8).
kiln_status_t kiln_npy_parse(kiln_const_bytes_t bytes, kiln_npy_t* out_npy);

// Writes |data| (|size| bytes) with |dtype| and shape |dims| as a version
// 1.0 .npy file at |path|. INVALID_ARGUMENT for a dtype NumPy lacks;
// UNAVAILABLE naming the path when it cannot be written.
kiln_status_t kiln_npy_write(const char* path, kiln_dtype_t dtype, int32_t rank,
                             const int64_t* dims, const void* data,
                             size_t size);

#endif  // KILN_TOOLS_NPY_H_
