// Owned byte buffers.

#include "base/blob.h"

#include <string.h>

#include "base/base.h"
#include "base/size.h"

struct kiln_blob_s {
  kiln_allocator_t allocator;
  uint8_t* data;  // NULL only when size is 0 and the blob is not text
  size_t size;    // without the trailing NUL of a text blob
};

static kiln_status_t blob_alloc(kiln_allocator_t allocator,
                                kiln_blob_t** out_blob) {
  void* memory = NULL;
  KILN_RETURN_IF_ERROR(
      kiln_allocator_malloc(allocator, sizeof(kiln_blob_t), &memory));
  kiln_blob_t* blob = (kiln_blob_t*)memory;
  blob->allocator = allocator;
  *out_blob = blob;
  return NULL;
}

kiln_status_t kiln__blob_create_copy(kiln_allocator_t allocator,
                                     kiln_const_bytes_t bytes, bool text,
                                     kiln_blob_t** out_blob) {
  if (!out_blob || (bytes.size > 0 && !bytes.data)) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "NULL blob output or bytes");
  }
  *out_blob = NULL;
  size_t capacity;
  KILN_RETURN_IF_ERROR(
      kiln__size_add(bytes.size, text ? 1 : 0, "blob size", &capacity));
  kiln_blob_t* blob = NULL;
  KILN_RETURN_IF_ERROR(blob_alloc(allocator, &blob));
  if (capacity > 0) {
    void* data = NULL;
    kiln_status_t status = kiln_allocator_malloc(allocator, capacity, &data);
    if (status) {
      kiln_blob_destroy(blob);
      return status;
    }
    blob->data = (uint8_t*)data;
    if (bytes.size) memcpy(blob->data, bytes.data, bytes.size);
    if (text) blob->data[bytes.size] = '\0';
  }
  blob->size = bytes.size;
  *out_blob = blob;
  return NULL;
}

kiln_status_t kiln__blob_create_from_writer(kiln__writer_t* writer, bool text,
                                            kiln_blob_t** out_blob) {
  if (!out_blob || !writer) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "NULL writer or blob output");
  }
  *out_blob = NULL;
  size_t size = writer->size;
  if (text) KILN_RETURN_IF_ERROR(kiln__writer_u8(writer, 0));
  kiln_blob_t* blob = NULL;
  kiln_status_t status = blob_alloc(writer->allocator, &blob);
  if (status) {
    writer->size = size;
    return status;
  }
  blob->data = writer->data;
  blob->size = size;
  writer->data = NULL;
  writer->size = writer->capacity = 0;
  *out_blob = blob;
  return NULL;
}

kiln_const_bytes_t kiln_blob_bytes(const kiln_blob_t* blob) {
  kiln_const_bytes_t bytes = {NULL, 0};
  if (!blob) return bytes;
  static const uint8_t empty[1] = {0};
  bytes.data = blob->data ? blob->data : empty;
  bytes.size = blob->size;
  return bytes;
}

void kiln_blob_destroy(kiln_blob_t* blob) {
  if (!blob) return;
  kiln_allocator_free(blob->allocator, blob->data);
  kiln_allocator_free(blob->allocator, blob);
}
