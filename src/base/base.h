// Internal base utilities shared by every module: assertions, array sizes,
// string-view helpers. Private to the library; never installed.

#ifndef KILN_SRC_BASE_BASE_H_
#define KILN_SRC_BASE_BASE_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kiln/kiln.h"

#define KILN_ARRAYSIZE(a) (sizeof(a) / sizeof((a)[0]))

// Debug-only check of an invariant of kiln's own code. Never used on data
// that comes from a caller, a file or the driver: those get a status.
#if defined(NDEBUG)
#define KILN_ASSERT(cond) ((void)0)
#else
void kiln__assert_fail(const char* expr, const char* file, int line);
#define KILN_ASSERT(cond) \
  ((cond) ? (void)0 : kiln__assert_fail(#cond, __FILE__, __LINE__))
#endif

// Marks a defensive branch that should be unreachable: true in release
// builds so the branch still runs, a failed assertion in debug builds.
#if defined(NDEBUG)
#define KILN_NEVER(cond) (cond)
#else
#define KILN_NEVER(cond) \
  ((cond) ? (kiln__assert_fail(#cond, __FILE__, __LINE__), 1) : 0)
#endif

#define KILN_UNUSED(x) ((void)(x))

// Makes a status from a string view for printing with "%.*s".
#define KILN_SV_ARG(sv) \
  (int)((sv).size > 0x7fffffff ? 0x7fffffff : (sv).size), (sv).data

// Copies |sv| into a new NUL-terminated string from |allocator|.
kiln_status_t kiln__string_dup(kiln_allocator_t allocator,
                               kiln_string_view_t sv, char** out_string);

// Levenshtein distance between |a| and |b|, capped at |cap| (returns |cap|
// when the distance is at least |cap|). Uses no heap for inputs up to 255
// characters; longer inputs return |cap|.
size_t kiln__edit_distance(kiln_string_view_t a, kiln_string_view_t b,
                           size_t cap);

#endif  // KILN_SRC_BASE_BASE_H_
