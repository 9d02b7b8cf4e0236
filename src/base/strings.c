// String views, version, small string helpers.

#include <string.h>

#include "base/base.h"
#include "base/size.h"

#define KILN_STR2(x) #x
#define KILN_STR(x) KILN_STR2(x)

int32_t kiln_version(void) {
  return KILN_VERSION_NUMBER;
}

const char* kiln_version_string(void) {
  return KILN_STR(KILN_VERSION_MAJOR) "." KILN_STR(
      KILN_VERSION_MINOR) "." KILN_STR(KILN_VERSION_PATCH);
}

kiln_string_view_t kiln_make_cstring_view(const char* cstring) {
  kiln_string_view_t sv = {cstring ? cstring : "",
                           cstring ? strlen(cstring) : 0};
  return sv;
}

kiln_string_view_t kiln_make_string_view(const char* data, size_t size) {
  kiln_string_view_t sv = {data ? data : "", data ? size : 0};
  return sv;
}

bool kiln_string_view_equal(kiln_string_view_t a, kiln_string_view_t b) {
  if (a.size != b.size) return false;
  return a.size == 0 || memcmp(a.data, b.data, a.size) == 0;
}

kiln_status_t kiln__string_dup(kiln_allocator_t allocator,
                               kiln_string_view_t sv, char** out_string) {
  *out_string = NULL;
  size_t n;
  if (!kiln_size_checked_add(sv.size, 1, &n)) {
    return kiln_make_status(KILN_STATUS_OUT_OF_RANGE,
                            "string of %zu bytes is too long", sv.size);
  }
  void* p = NULL;
  KILN_RETURN_IF_ERROR(kiln_allocator_malloc(allocator, n, &p));
  if (sv.size) memcpy(p, sv.data, sv.size);
  ((char*)p)[sv.size] = '\0';
  *out_string = (char*)p;
  return NULL;
}

size_t kiln__edit_distance(kiln_string_view_t a, kiln_string_view_t b,
                           size_t cap) {
  if (a.size > 255 || b.size > 255) return cap;
  size_t row[256];
  for (size_t j = 0; j <= b.size; ++j) row[j] = j;
  for (size_t i = 1; i <= a.size; ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    size_t row_min = row[0];
    for (size_t j = 1; j <= b.size; ++j) {
      size_t above = row[j];
      size_t cost = a.data[i - 1] == b.data[j - 1] ? 0 : 1;
      size_t best = diagonal + cost;
      if (above + 1 < best) best = above + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      row[j] = best;
      diagonal = above;
      if (best < row_min) row_min = best;
    }
    if (row_min >= cap) return cap;
  }
  return row[b.size] < cap ? row[b.size] : cap;
}

kiln_status_t kiln__size_add(size_t a, size_t b, const char* what,
                             size_t* out) {
  if (!kiln_size_checked_add(a, b, out)) {
    return kiln_make_status(KILN_STATUS_OUT_OF_RANGE, "%s overflows: %zu + %zu",
                            what, a, b);
  }
  return NULL;
}

kiln_status_t kiln__size_mul(size_t a, size_t b, const char* what,
                             size_t* out) {
  if (!kiln_size_checked_mul(a, b, out)) {
    return kiln_make_status(KILN_STATUS_OUT_OF_RANGE, "%s overflows: %zu * %zu",
                            what, a, b);
  }
  return NULL;
}
