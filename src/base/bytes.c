// Byte writer and bounds-checked reader.

#include "base/bytes.h"

#include <string.h>

#include "base/base.h"
#include "base/size.h"

void kiln__writer_init(kiln__writer_t* w, kiln_allocator_t allocator) {
  memset(w, 0, sizeof(*w));
  w->allocator = allocator;
}

void kiln__writer_deinit(kiln__writer_t* w) {
  kiln_allocator_free(w->allocator, w->data);
  w->data = NULL;
  w->size = w->capacity = 0;
}

static kiln_status_t writer_reserve(kiln__writer_t* w, size_t extra) {
  size_t needed;
  if (!kiln_size_checked_add(w->size, extra, &needed)) {
    return kiln_make_status(KILN_STATUS_OUT_OF_RANGE,
                            "output buffer size overflows");
  }
  if (needed <= w->capacity) return NULL;
  size_t capacity = w->capacity ? w->capacity : 256;
  while (capacity < needed) {
    if (!kiln_size_checked_mul(capacity, 2, &capacity)) {
      capacity = needed;
      break;
    }
  }
  void* p = w->data;
  KILN_RETURN_IF_ERROR(kiln_allocator_realloc(w->allocator, capacity, &p));
  w->data = (uint8_t*)p;
  w->capacity = capacity;
  return NULL;
}

kiln_status_t kiln__writer_append(kiln__writer_t* w, const void* data,
                                  size_t size) {
  if (size == 0) return NULL;
  KILN_RETURN_IF_ERROR(writer_reserve(w, size));
  memcpy(w->data + w->size, data, size);
  w->size += size;
  return NULL;
}

kiln_status_t kiln__writer_u8(kiln__writer_t* w, uint8_t v) {
  return kiln__writer_append(w, &v, 1);
}

kiln_status_t kiln__writer_u32(kiln__writer_t* w, uint32_t v) {
  uint8_t b[4];
  for (int i = 0; i < 4; ++i) b[i] = (uint8_t)(v >> (8 * i));
  return kiln__writer_append(w, b, sizeof(b));
}

kiln_status_t kiln__writer_u64(kiln__writer_t* w, uint64_t v) {
  uint8_t b[8];
  for (int i = 0; i < 8; ++i) b[i] = (uint8_t)(v >> (8 * i));
  return kiln__writer_append(w, b, sizeof(b));
}

kiln_status_t kiln__writer_varint(kiln__writer_t* w, uint64_t v) {
  uint8_t b[10];
  size_t n = 0;
  do {
    uint8_t byte = (uint8_t)(v & 0x7f);
    v >>= 7;
    if (v) byte |= 0x80;
    b[n++] = byte;
  } while (v);
  return kiln__writer_append(w, b, n);
}

kiln_status_t kiln__writer_svarint(kiln__writer_t* w, int64_t v) {
  uint64_t zigzag = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
  return kiln__writer_varint(w, zigzag);
}

kiln_status_t kiln__writer_align(kiln__writer_t* w, size_t alignment) {
  size_t target;
  if (!kiln_size_checked_align(w->size, alignment, &target)) {
    return kiln_make_status(KILN_STATUS_INTERNAL, "bad alignment %zu",
                            alignment);
  }
  static const uint8_t zeros[64] = {0};
  while (w->size < target) {
    size_t n = target - w->size;
    if (n > sizeof(zeros)) n = sizeof(zeros);
    KILN_RETURN_IF_ERROR(kiln__writer_append(w, zeros, n));
  }
  return NULL;
}

void kiln__reader_init(kiln__reader_t* r, kiln_const_bytes_t bytes,
                       size_t base_offset) {
  r->data = bytes.data;
  r->size = bytes.data ? bytes.size : 0;
  r->offset = 0;
  r->base = base_offset;
}

size_t kiln__reader_remaining(const kiln__reader_t* r) {
  return r->size - r->offset;
}

static kiln_status_t truncated(const kiln__reader_t* r, size_t need,
                               const char* what) {
  return kiln_make_status(KILN_STATUS_DATA_LOSS,
                          "truncated at byte offset %zu: %s needs %zu bytes, "
                          "%zu remain",
                          r->base + r->offset, what, need,
                          kiln__reader_remaining(r));
}

kiln_status_t kiln__reader_bytes(kiln__reader_t* r, size_t size,
                                 const char* what, const uint8_t** out) {
  *out = NULL;
  if (size > kiln__reader_remaining(r)) return truncated(r, size, what);
  *out = r->data + r->offset;
  r->offset += size;
  return NULL;
}

kiln_status_t kiln__reader_u8(kiln__reader_t* r, const char* what,
                              uint8_t* out) {
  *out = 0;
  const uint8_t* p;
  KILN_RETURN_IF_ERROR(kiln__reader_bytes(r, 1, what, &p));
  *out = p[0];
  return NULL;
}

kiln_status_t kiln__reader_u32(kiln__reader_t* r, const char* what,
                               uint32_t* out) {
  *out = 0;
  const uint8_t* p;
  KILN_RETURN_IF_ERROR(kiln__reader_bytes(r, 4, what, &p));
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= (uint32_t)p[i] << (8 * i);
  *out = v;
  return NULL;
}

kiln_status_t kiln__reader_u64(kiln__reader_t* r, const char* what,
                               uint64_t* out) {
  *out = 0;
  const uint8_t* p;
  KILN_RETURN_IF_ERROR(kiln__reader_bytes(r, 8, what, &p));
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= (uint64_t)p[i] << (8 * i);
  *out = v;
  return NULL;
}

kiln_status_t kiln__reader_varint(kiln__reader_t* r, const char* what,
                                  uint64_t* out) {
  *out = 0;
  size_t start = r->offset;
  uint64_t v = 0;
  for (int i = 0; i < 10; ++i) {
    if (r->offset >= r->size) return truncated(r, 1, what);
    uint8_t byte = r->data[r->offset++];
    uint64_t bits = byte & 0x7f;
    if (i == 9 && bits > 1) {
      return kiln_make_status(KILN_STATUS_DATA_LOSS,
                              "at byte offset %zu: %s does not fit in 64 bits",
                              r->base + start, what);
    }
    v |= bits << (7 * i);
    if (!(byte & 0x80)) {
      *out = v;
      return NULL;
    }
  }
  return kiln_make_status(KILN_STATUS_DATA_LOSS,
                          "at byte offset %zu: %s is longer than 10 bytes",
                          r->base + start, what);
}

kiln_status_t kiln__reader_svarint(kiln__reader_t* r, const char* what,
                                   int64_t* out) {
  *out = 0;
  uint64_t zigzag;
  KILN_RETURN_IF_ERROR(kiln__reader_varint(r, what, &zigzag));
  *out = (int64_t)(zigzag >> 1) ^ -(int64_t)(zigzag & 1);
  return NULL;
}
