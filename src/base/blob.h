// Owned byte buffers (kiln_blob_t, declared in kiln.h): serialized engines
// and rendered descriptions handed to the caller.

#ifndef KILN_SRC_BASE_BLOB_H_
#define KILN_SRC_BASE_BLOB_H_

#include <stdbool.h>

#include "base/bytes.h"
#include "kiln/kiln.h"

// Creates a blob holding a copy of |bytes|; with |text| a NUL follows them
// (not counted in the size). The caller owns |*out_blob|. RESOURCE_EXHAUSTED;
// OUT_OF_RANGE.
kiln_status_t kiln__blob_create_copy(kiln_allocator_t allocator,
                                     kiln_const_bytes_t bytes, bool text,
                                     kiln_blob_t** out_blob);

// Creates a blob that takes over the buffer of |writer| (allocated with the
// writer's allocator, which the blob keeps); with |text| a NUL is appended
// first. On success |writer| is left empty; on failure it keeps its bytes
// (a NUL appended for |text| is removed again). The caller owns
// |*out_blob|. RESOURCE_EXHAUSTED.
kiln_status_t kiln__blob_create_from_writer(kiln__writer_t* writer, bool text,
                                            kiln_blob_t** out_blob);

#endif  // KILN_SRC_BASE_BLOB_H_
