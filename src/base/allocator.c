// The allocator interface and the C-library allocator.

#include <stdlib.h>
#include <string.h>

#include "base/base.h"

static void* system_alloc(void* self, void* ptr, size_t size) {
  KILN_UNUSED(self);
  if (size == 0) {
    free(ptr);
    return NULL;
  }
  return realloc(ptr, size);
}

kiln_allocator_t kiln_allocator_system(void) {
  kiln_allocator_t allocator = {NULL, system_alloc};
  return allocator;
}

kiln_status_t kiln_allocator_malloc(kiln_allocator_t allocator, size_t size,
                                    void** out_ptr) {
  *out_ptr = NULL;
  size_t n = size ? size : 1;
  void* p = allocator.fn ? allocator.fn(allocator.self, NULL, n) : NULL;
  if (!p) {
    return kiln_make_status(KILN_STATUS_RESOURCE_EXHAUSTED,
                            "host allocation of %zu bytes failed", n);
  }
  memset(p, 0, n);
  *out_ptr = p;
  return NULL;
}

kiln_status_t kiln_allocator_realloc(kiln_allocator_t allocator, size_t size,
                                     void** inout_ptr) {
  size_t n = size ? size : 1;
  void* p = allocator.fn ? allocator.fn(allocator.self, *inout_ptr, n) : NULL;
  if (!p) {
    return kiln_make_status(KILN_STATUS_RESOURCE_EXHAUSTED,
                            "host reallocation to %zu bytes failed", n);
  }
  *inout_ptr = p;
  return NULL;
}

void kiln_allocator_free(kiln_allocator_t allocator, void* ptr) {
  if (ptr && allocator.fn) allocator.fn(allocator.self, ptr, 0);
}
