// Tensor descriptors: TensorRT's like(), aliased(), numel() and the checks
// every descriptor passes before kiln uses it.

#include <string.h>

#include "base/base.h"
#include "kiln/kiln_plugin.h"

// A descriptor that validation refuses (no dtype) and that aliases nothing.
static kiln_tensor_desc_t empty_desc(void) {
  kiln_tensor_desc_t desc;
  memset(&desc, 0, sizeof(desc));
  desc.dtype = KILN_DTYPE_COUNT;
  desc.format = KILN_FORMAT_LINEAR;
  desc.aliased_input = -1;
  return desc;
}

kiln_tensor_desc_t kiln_tensor_desc_like(const kiln_tensor_desc_t* desc) {
  if (!desc) return empty_desc();
  kiln_tensor_desc_t copy = *desc;
  copy.aliased_input = -1;
  copy.is_size_tensor = false;
  return copy;
}

kiln_tensor_desc_t kiln_tensor_desc_aliased(const kiln_tensor_desc_t* desc,
                                            int32_t input_index) {
  kiln_tensor_desc_t copy = kiln_tensor_desc_like(desc);
  copy.aliased_input = input_index;
  return copy;
}

kiln_tensor_desc_t kiln_tensor_desc_make(kiln_dtype_t dtype, int32_t rank,
                                         const kiln_sym_t* dims) {
  kiln_tensor_desc_t desc = empty_desc();
  desc.dtype = dtype;
  desc.rank = rank;
  if (dims && rank > 0 && rank <= KILN_MAX_RANK) {
    for (int32_t i = 0; i < rank; ++i) desc.dims[i] = dims[i];
  }
  return desc;
}

kiln_sym_t kiln_tensor_desc_numel(kiln_sym_table_t* table,
                                  const kiln_tensor_desc_t* desc) {
  kiln_sym_t product = kiln_sym_const(table, 1);
  if (!desc || desc->rank < 0 || desc->rank > KILN_MAX_RANK) {
    // A NULL operand makes the table record the failure, as documented.
    return kiln_sym_mul(table, product, NULL);
  }
  for (int32_t i = 0; i < desc->rank; ++i) {
    product = kiln_sym_mul(table, product, desc->dims[i]);
  }
  return product;
}

kiln_status_t kiln_tensor_desc_validate(const kiln_tensor_desc_t* desc,
                                        const char* what) {
  if (!what) what = "tensor";
  if (!desc) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "%s: descriptor is NULL", what);
  }
  if ((unsigned)desc->dtype >= KILN_DTYPE_COUNT) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "%s: dtype %d is not a kiln_dtype_t (not set?)",
                            what, (int)desc->dtype);
  }
  if ((unsigned)desc->format >= KILN_FORMAT_COUNT) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "%s: format %d is not a kiln_format_t", what,
                            (int)desc->format);
  }
  if (desc->rank < 0 || desc->rank > KILN_MAX_RANK) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "%s: rank %d is outside 0..%d", what,
                            (int)desc->rank, KILN_MAX_RANK);
  }
  for (int32_t i = 0; i < desc->rank; ++i) {
    if (!desc->dims[i]) {
      return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                              "%s: dimension %d is NULL", what, (int)i);
    }
  }
  if (desc->is_size_tensor) {
    if (desc->rank != 0) {
      return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                              "%s: a size tensor must have rank 0, has rank %d",
                              what, (int)desc->rank);
    }
    if (desc->dtype != KILN_DTYPE_INT32 && desc->dtype != KILN_DTYPE_INT64) {
      return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                              "%s: a size tensor must be int32 or int64, is %s",
                              what, kiln_dtype_name(desc->dtype));
    }
  }
  return NULL;
}
