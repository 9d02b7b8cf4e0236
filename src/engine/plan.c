// Plan lifetime and the builder's blob helper.

#include <string.h>

#include "base/base.h"
#include "base/size.h"
#include "engine/engine.h"

kiln_status_t kiln__plan_create(kiln_allocator_t allocator,
                                kiln__plan_t** out_plan) {
  if (!out_plan) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "out_plan must not be NULL");
  }
  *out_plan = NULL;
  void* memory = NULL;
  KILN_RETURN_IF_ERROR(
      kiln_allocator_malloc(allocator, sizeof(kiln__plan_t), &memory));
  kiln__plan_t* plan = (kiln__plan_t*)memory;
  kiln__arena_init(&plan->arena, allocator);
  kiln_status_t status = kiln_sym_table_create(allocator, &plan->sym);
  if (status) {
    kiln__plan_destroy(plan);
    return status;
  }
  *out_plan = plan;
  return NULL;
}

void kiln__plan_destroy(kiln__plan_t* plan) {
  if (!plan) return;
  kiln_allocator_t allocator = plan->arena.allocator;
  kiln_sym_table_destroy(plan->sym);
  kiln__arena_deinit(&plan->arena);
  kiln_allocator_free(allocator, plan);
}

kiln_status_t kiln__plan_blob_append(kiln__writer_t* blob,
                                     kiln_const_bytes_t bytes, size_t alignment,
                                     bool nul_terminate,
                                     kiln__plan_span_t* out_span) {
  if (!blob || !out_span || (bytes.size > 0 && !bytes.data)) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "NULL blob, span or bytes");
  }
  memset(out_span, 0, sizeof(*out_span));
  if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "blob alignment %zu is not a power of two",
                            alignment);
  }
  if (bytes.size == 0 && !nul_terminate) return NULL;
  size_t start = blob->size, at;
  if (!kiln_size_checked_align(start, alignment, &at)) {
    return kiln_make_status(KILN_STATUS_OUT_OF_RANGE,
                            "blob offset %zu overflows when aligned", start);
  }
  static const uint8_t zeros[64] = {0};
  kiln_status_t status = NULL;
  while (!status && blob->size < at) {
    size_t n = at - blob->size;
    if (n > sizeof(zeros)) n = sizeof(zeros);
    status = kiln__writer_append(blob, zeros, n);
  }
  if (!status) status = kiln__writer_append(blob, bytes.data, bytes.size);
  if (!status && nul_terminate) status = kiln__writer_u8(blob, 0);
  if (status) {
    blob->size = start;
    return status;
  }
  out_span->offset = at;
  out_span->size = bytes.size;
  return NULL;
}
