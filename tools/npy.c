// .npy reading and writing.

#include "npy.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const struct {
  const char* descr;
  kiln_dtype_t dtype;
} kDescrs[] = {
    {"<f4", KILN_DTYPE_FLOAT32}, {"<f2", KILN_DTYPE_FLOAT16},
    {"<i4", KILN_DTYPE_INT32},   {"<i8", KILN_DTYPE_INT64},
    {"|i1", KILN_DTYPE_INT8},    {"|u1", KILN_DTYPE_UINT8},
    {"|b1", KILN_DTYPE_BOOL},
};

static kiln_status_t malformed(size_t offset, const char* what) {
  return kiln_make_status(KILN_STATUS_DATA_LOSS, "npy byte %zu: %s", offset,
                          what);
}

// Finds "'key':" in the header dict and returns the offset just after it.
static const char* find_key(const char* header, size_t length,
                            const char* key) {
  size_t k = strlen(key);
  for (size_t i = 0; i + k + 2 < length; ++i) {
    if ((header[i] == '\'' || header[i] == '"') &&
        memcmp(header + i + 1, key, k) == 0 && header[i + 1 + k] == header[i]) {
      size_t j = i + k + 2;
      while (j < length && header[j] == ' ') ++j;
      if (j < length && header[j] == ':') return header + j + 1;
    }
  }
  return NULL;
}

kiln_status_t kiln_npy_parse(kiln_const_bytes_t bytes, kiln_npy_t* out_npy) {
  memset(out_npy, 0, sizeof(*out_npy));
  static const uint8_t kMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  if (!bytes.data || bytes.size < 10 || memcmp(bytes.data, kMagic, 6) != 0) {
    return malformed(0, "not a .npy file (no \\x93NUMPY magic)");
  }
  uint8_t major = bytes.data[6];
  size_t header_len, header_start;
  if (major == 1) {
    header_len = (size_t)bytes.data[8] | (size_t)bytes.data[9] << 8;
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size < 12) return malformed(8, "truncated header length");
    header_len = (size_t)bytes.data[8] | (size_t)bytes.data[9] << 8 |
                 (size_t)bytes.data[10] << 16 | (size_t)bytes.data[11] << 24;
    header_start = 12;
  } else {
    return kiln_make_status(KILN_STATUS_UNIMPLEMENTED,
                            "npy format version %u.%u is not supported",
                            (unsigned)major, (unsigned)bytes.data[7]);
  }
  if (header_len > bytes.size - header_start || header_len > 65536) {
    return malformed(header_start, "header runs past the end of the file");
  }
  const char* header = (const char*)bytes.data + header_start;
  size_t data_start = header_start + header_len;

  const char* p = find_key(header, header_len, "descr");
  const char* end = header + header_len;
  if (!p) return malformed(header_start, "header has no 'descr'");
  while (p < end && *p == ' ') ++p;
  if (p + 5 > end || (*p != '\'' && *p != '"') || p[4] != *p) {
    return malformed((size_t)(p - (const char*)bytes.data),
                     "'descr' is not a 3-character string");
  }
  bool found = false;
  for (size_t i = 0; i < sizeof(kDescrs) / sizeof(kDescrs[0]); ++i) {
    if (memcmp(p + 1, kDescrs[i].descr, 3) == 0) {
      out_npy->dtype = kDescrs[i].dtype;
      found = true;
    }
  }
  if (!found) {
    return kiln_make_status(KILN_STATUS_UNIMPLEMENTED,
                            "npy dtype '%.3s' is not one kiln reads (<f4, "
                            "<f2, <i4, <i8, |i1, |u1, |b1)",
                            p + 1);
  }
  p = find_key(header, header_len, "fortran_order");
  if (!p) return malformed(header_start, "header has no 'fortran_order'");
  while (p < end && *p == ' ') ++p;
  if (end - p >= 4 && memcmp(p, "True", 4) == 0) {
    return kiln_make_status(KILN_STATUS_UNIMPLEMENTED,
                            "Fortran-ordered npy arrays are not supported");
  }
  if (end - p < 5 || memcmp(p, "False", 5) != 0) {
    return malformed((size_t)(p - (const char*)bytes.data),
                     "'fortran_order' is neither True nor False");
  }
  p = find_key(header, header_len, "shape");
  if (!p) return malformed(header_start, "header has no 'shape'");
  while (p < end && *p == ' ') ++p;
  if (p >= end || *p != '(') {
    return malformed((size_t)(p - (const char*)bytes.data),
                     "'shape' is not a tuple");
  }
  ++p;
  int32_t rank = 0;
  uint64_t count = 1;
  for (;;) {
    while (p < end && (*p == ' ' || *p == ',')) ++p;
    if (p >= end) return malformed(data_start, "unterminated 'shape'");
    if (*p == ')') break;
    if (*p < '0' || *p > '9') {
      return malformed((size_t)(p - (const char*)bytes.data),
                       "'shape' holds something other than integers");
    }
    uint64_t v = 0;
    while (p < end && *p >= '0' && *p <= '9') {
      if (v > (UINT64_C(1) << 50)) {
        return malformed((size_t)(p - (const char*)bytes.data),
                         "a dimension is too large");
      }
      v = v * 10 + (uint64_t)(*p - '0');
      ++p;
    }
    if (rank == KILN_MAX_RANK) {
      return kiln_make_status(KILN_STATUS_UNIMPLEMENTED,
                              "npy arrays of rank above %d are not supported",
                              KILN_MAX_RANK);
    }
    out_npy->dims[rank++] = (int64_t)v;
    if (__builtin_mul_overflow(count, v, &count)) {
      return malformed(header_start, "the element count overflows");
    }
  }
  uint64_t size;
  if (__builtin_mul_overflow(count, (uint64_t)kiln_dtype_size(out_npy->dtype),
                             &size) ||
      size != bytes.size - data_start) {
    return kiln_make_status(KILN_STATUS_DATA_LOSS,
                            "npy data is %zu bytes from byte %zu, its shape "
                            "and dtype need %llu",
                            bytes.size - data_start, data_start,
                            (unsigned long long)size);
  }
  out_npy->rank = rank;
  out_npy->data = bytes.data + data_start;
  out_npy->size = (size_t)size;
  return NULL;
}

kiln_status_t kiln_npy_write(const char* path, kiln_dtype_t dtype, int32_t rank,
                             const int64_t* dims, const void* data,
                             size_t size) {
  const char* descr = NULL;
  for (size_t i = 0; i < sizeof(kDescrs) / sizeof(kDescrs[0]); ++i) {
    if (kDescrs[i].dtype == dtype) descr = kDescrs[i].descr;
  }
  if (!descr) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "%s has no NumPy dtype; cannot write %s",
                            kiln_dtype_name(dtype), path);
  }
  char header[512];
  int n = snprintf(header, sizeof(header),
                   "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
  for (int32_t i = 0; i < rank && n > 0 && (size_t)n < sizeof(header); ++i) {
    n += snprintf(header + n, sizeof(header) - (size_t)n, "%lld,%s",
                  (long long)dims[i], i + 1 < rank ? " " : "");
  }
  if (n > 0 && (size_t)n < sizeof(header)) {
    n += snprintf(header + n, sizeof(header) - (size_t)n, "), }");
  }
  if (n <= 0 || (size_t)n + 12 >= sizeof(header)) {
    return kiln_make_status(KILN_STATUS_INTERNAL, "npy header too long");
  }
  // Pad with spaces so that the data starts at a multiple of 64, then '\n'.
  size_t total = 10 + (size_t)n + 1;
  size_t padded = (total + 63) / 64 * 64;
  while ((size_t)n + 10 + 1 < padded) header[n++] = ' ';
  header[n++] = '\n';
  uint8_t prefix[10] = {0x93,
                        'N',
                        'U',
                        'M',
                        'P',
                        'Y',
                        1,
                        0,
                        (uint8_t)(n & 0xff),
                        (uint8_t)(n >> 8)};
  FILE* f = fopen(path, "wb");
  if (!f) {
    return kiln_make_status(KILN_STATUS_UNAVAILABLE, "cannot write %s: %s",
                            path, strerror(errno));
  }
  bool ok = fwrite(prefix, 1, sizeof(prefix), f) == sizeof(prefix) &&
            fwrite(header, 1, (size_t)n, f) == (size_t)n &&
            (size == 0 || fwrite(data, 1, size, f) == size);
  ok = (fclose(f) == 0) && ok;
  if (!ok) {
    return kiln_make_status(KILN_STATUS_UNAVAILABLE, "writing %s failed: %s",
                            path, strerror(errno));
  }
  return NULL;
}
