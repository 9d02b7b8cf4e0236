// Little-endian byte writer (growable, allocator-backed) and a bounds-checked
// reader for parsing untrusted bytes. The reader never reads past its span;
// every failure is DATA_LOSS naming the byte offset and what was being read.

#ifndef KILN_SRC_BASE_BYTES_H_
#define KILN_SRC_BASE_BYTES_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kiln/kiln.h"

typedef struct kiln__writer_t {
  kiln_allocator_t allocator;
  uint8_t* data;
  size_t size;
  size_t capacity;
} kiln__writer_t;

void kiln__writer_init(kiln__writer_t* w, kiln_allocator_t allocator);
void kiln__writer_deinit(kiln__writer_t* w);
kiln_status_t kiln__writer_append(kiln__writer_t* w, const void* data,
                                  size_t size);
kiln_status_t kiln__writer_u8(kiln__writer_t* w, uint8_t v);
kiln_status_t kiln__writer_u32(kiln__writer_t* w, uint32_t v);
kiln_status_t kiln__writer_u64(kiln__writer_t* w, uint64_t v);
// Unsigned LEB128.
kiln_status_t kiln__writer_varint(kiln__writer_t* w, uint64_t v);
// Zigzag-encoded signed LEB128.
kiln_status_t kiln__writer_svarint(kiln__writer_t* w, int64_t v);
// Appends zero bytes until size is a multiple of |alignment|.
kiln_status_t kiln__writer_align(kiln__writer_t* w, size_t alignment);

typedef struct kiln__reader_t {
  const uint8_t* data;
  size_t size;
  size_t offset;  // next byte to read
  size_t base;    // added to offsets in messages (position in a larger file)
} kiln__reader_t;

void kiln__reader_init(kiln__reader_t* r, kiln_const_bytes_t bytes,
                       size_t base_offset);
size_t kiln__reader_remaining(const kiln__reader_t* r);
// Each reads one value of the named kind; |what| names it in the message.
kiln_status_t kiln__reader_u8(kiln__reader_t* r, const char* what,
                              uint8_t* out);
kiln_status_t kiln__reader_u32(kiln__reader_t* r, const char* what,
                               uint32_t* out);
kiln_status_t kiln__reader_u64(kiln__reader_t* r, const char* what,
                               uint64_t* out);
// LEB128 of at most 10 bytes whose value fits in 64 bits.
kiln_status_t kiln__reader_varint(kiln__reader_t* r, const char* what,
                                  uint64_t* out);
kiln_status_t kiln__reader_svarint(kiln__reader_t* r, const char* what,
                                   int64_t* out);
// Borrows |size| bytes.
kiln_status_t kiln__reader_bytes(kiln__reader_t* r, size_t size,
                                 const char* what, const uint8_t** out);

#endif  // KILN_SRC_BASE_BYTES_H_
