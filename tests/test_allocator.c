// A counting allocator that can fail the N-th allocation.

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "test.h"

// Each block carries its size in front so live bytes can be counted.
#define HEADER 16

static void* test_alloc(void* self, void* ptr, size_t size) {
  kiln_test_allocator_t* ta = (kiln_test_allocator_t*)self;
  if (size == 0) {
    if (ptr) {
      uint8_t* base = (uint8_t*)ptr - HEADER;
      size_t old;
      memcpy(&old, base, sizeof(old));
      __atomic_fetch_sub(&ta->live, 1, __ATOMIC_RELAXED);
      __atomic_fetch_sub(&ta->live_bytes, old, __ATOMIC_RELAXED);
      free(base);
    }
    return NULL;
  }
  size_t index = __atomic_fetch_add(&ta->allocations, 1, __ATOMIC_RELAXED);
  if (index == ta->fail_at || (ta->fail_all_after && index > ta->fail_at)) {
    __atomic_fetch_add(&ta->fail_count, 1, __ATOMIC_RELAXED);
    return NULL;
  }
  if (size > SIZE_MAX - HEADER) return NULL;
  if (!ptr) {
    uint8_t* base = (uint8_t*)malloc(size + HEADER);
    if (!base) return NULL;
    memcpy(base, &size, sizeof(size));
    __atomic_fetch_add(&ta->live, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&ta->live_bytes, size, __ATOMIC_RELAXED);
    return base + HEADER;
  }
  uint8_t* old_base = (uint8_t*)ptr - HEADER;
  size_t old;
  memcpy(&old, old_base, sizeof(old));
  uint8_t* base = (uint8_t*)realloc(old_base, size + HEADER);
  if (!base) return NULL;
  memcpy(base, &size, sizeof(size));
  __atomic_fetch_sub(&ta->live_bytes, old, __ATOMIC_RELAXED);
  __atomic_fetch_add(&ta->live_bytes, size, __ATOMIC_RELAXED);
  return base + HEADER;
}

kiln_test_allocator_t kiln_test_allocator_make(void) {
  kiln_test_allocator_t ta;
  memset(&ta, 0, sizeof(ta));
  ta.fail_at = SIZE_MAX;
  return ta;
}

kiln_test_allocator_t kiln_test_allocator_failing_at(size_t fail_at) {
  kiln_test_allocator_t ta = kiln_test_allocator_make();
  ta.fail_at = fail_at;
  return ta;
}

kiln_allocator_t kiln_test_allocator_get(kiln_test_allocator_t* ta) {
  kiln_allocator_t allocator = {ta, test_alloc};
  return allocator;
}

bool kiln_test_read_file(const char* path, uint8_t** out_data,
                         size_t* out_size) {
  *out_data = NULL;
  *out_size = 0;
  FILE* f = fopen(path, "rb");
  if (!f) return false;
  struct stat st;
  if (fstat(fileno(f), &st) != 0 || st.st_size < 0) {
    fclose(f);
    return false;
  }
  size_t size = (size_t)st.st_size;
  uint8_t* data = (uint8_t*)malloc(size ? size : 1);
  if (!data) {
    fclose(f);
    return false;
  }
  size_t got = size ? fread(data, 1, size, f) : 0;
  fclose(f);
  if (got != size) {
    free(data);
    return false;
  }
  *out_data = data;
  *out_size = size;
  return true;
}
