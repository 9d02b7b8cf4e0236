// Checked size arithmetic. Every size computed from outside data goes through
// these; an overflow becomes OUT_OF_RANGE, never a short allocation.

#ifndef KILN_SRC_BASE_SIZE_H_
#define KILN_SRC_BASE_SIZE_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kiln/kiln.h"

// Each returns true and writes |*out| when the result fits in size_t.
static inline bool kiln_size_checked_add(size_t a, size_t b, size_t* out) {
  return !__builtin_add_overflow(a, b, out);
}

static inline bool kiln_size_checked_mul(size_t a, size_t b, size_t* out) {
  return !__builtin_mul_overflow(a, b, out);
}

// Rounds |a| up to a multiple of |alignment| (a power of two).
static inline bool kiln_size_checked_align(size_t a, size_t alignment,
                                           size_t* out) {
  size_t sum;
  if (alignment == 0 || (alignment & (alignment - 1)) != 0) return false;
  if (__builtin_add_overflow(a, alignment - 1, &sum)) return false;
  *out = sum & ~(alignment - 1);
  return true;
}

// Status forms, naming |what| in the message.
kiln_status_t kiln__size_add(size_t a, size_t b, const char* what, size_t* out);
kiln_status_t kiln__size_mul(size_t a, size_t b, const char* what, size_t* out);

#endif  // KILN_SRC_BASE_SIZE_H_
