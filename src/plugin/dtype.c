// Data types and tensor formats: names, sizes and parsing of kiln's and
// TensorRT's spellings.

#include <stddef.h>

#include "base/base.h"
#include "kiln/kiln_plugin.h"

static const char* const dtype_names[] = {
    "float32", "float16", "bfloat16", "fp8e4m3", "fp8e5m2",
    "int8",    "int32",   "int64",    "uint8",   "bool",
};
_Static_assert(KILN_ARRAYSIZE(dtype_names) == KILN_DTYPE_COUNT,
               "dtype_names must name every kiln_dtype_t");

static const uint8_t dtype_sizes[] = {4, 2, 2, 1, 1, 1, 4, 8, 1, 1};
_Static_assert(KILN_ARRAYSIZE(dtype_sizes) == KILN_DTYPE_COUNT,
               "dtype_sizes must size every kiln_dtype_t");

// TensorRT's spellings (case-insensitive), beyond kiln's own names.
typedef struct dtype_alias_t {
  const char* name;
  kiln_dtype_t dtype;
} dtype_alias_t;

static const dtype_alias_t dtype_aliases[] = {
    {"FP32", KILN_DTYPE_FLOAT32},  {"FLOAT", KILN_DTYPE_FLOAT32},
    {"FP16", KILN_DTYPE_FLOAT16},  {"HALF", KILN_DTYPE_FLOAT16},
    {"BF16", KILN_DTYPE_BFLOAT16}, {"FP8", KILN_DTYPE_FP8_E4M3},
};

static const char* const format_names[] = {"LINEAR"};
_Static_assert(KILN_ARRAYSIZE(format_names) == KILN_FORMAT_COUNT,
               "format_names must name every kiln_format_t");

// Compares |sv| with the NUL-terminated |name|, ignoring ASCII case.
static bool equal_ignoring_case(kiln_string_view_t sv, const char* name) {
  size_t i = 0;
  for (; i < sv.size; ++i) {
    char a = sv.data[i];
    char b = name[i];
    if (b == '\0') return false;
    if (a >= 'A' && a <= 'Z') a = (char)(a - 'A' + 'a');
    if (b >= 'A' && b <= 'Z') b = (char)(b - 'A' + 'a');
    if (a != b) return false;
  }
  return name[i] == '\0';
}

const char* kiln_dtype_name(kiln_dtype_t dtype) {
  if ((unsigned)dtype >= KILN_DTYPE_COUNT) return "unknown";
  return dtype_names[dtype];
}

size_t kiln_dtype_size(kiln_dtype_t dtype) {
  if ((unsigned)dtype >= KILN_DTYPE_COUNT) return 0;
  return dtype_sizes[dtype];
}

kiln_status_t kiln_dtype_parse(kiln_string_view_t name,
                               kiln_dtype_t* out_dtype) {
  if (!out_dtype) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "kiln_dtype_parse: out_dtype is NULL");
  }
  *out_dtype = KILN_DTYPE_FLOAT32;
  if (!name.data) name.size = 0;
  for (size_t i = 0; i < KILN_ARRAYSIZE(dtype_names); ++i) {
    if (equal_ignoring_case(name, dtype_names[i])) {
      *out_dtype = (kiln_dtype_t)i;
      return NULL;
    }
  }
  for (size_t i = 0; i < KILN_ARRAYSIZE(dtype_aliases); ++i) {
    if (equal_ignoring_case(name, dtype_aliases[i].name)) {
      *out_dtype = dtype_aliases[i].dtype;
      return NULL;
    }
  }
  return kiln_make_status(
      KILN_STATUS_INVALID_ARGUMENT,
      "unknown dtype '%.*s'; expected one of float32, float16, bfloat16, "
      "fp8e4m3, fp8e5m2, int8, int32, int64, uint8, bool or TensorRT's FP32, "
      "FLOAT, FP16, HALF, BF16, FP8, INT8, INT32, INT64, UINT8, BOOL "
      "(any case)",
      KILN_SV_ARG(name));
}

const char* kiln_format_name(kiln_format_t format) {
  if ((unsigned)format >= KILN_FORMAT_COUNT) return "unknown";
  return format_names[format];
}

kiln_status_t kiln_format_parse(kiln_string_view_t name,
                                kiln_format_t* out_format) {
  if (!out_format) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "kiln_format_parse: out_format is NULL");
  }
  *out_format = KILN_FORMAT_LINEAR;
  if (!name.data) name.size = 0;
  for (size_t i = 0; i < KILN_ARRAYSIZE(format_names); ++i) {
    if (equal_ignoring_case(name, format_names[i])) {
      *out_format = (kiln_format_t)i;
      return NULL;
    }
  }
  return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                          "unknown format '%.*s'; expected LINEAR (any case)",
                          KILN_SV_ARG(name));
}
