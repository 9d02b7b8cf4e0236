// The verifying engine reader. It trusts nothing in the file: the header is
// checked (magic, version, checksum, size) before its fields are used, the
// section table before any section, every section's bounds, alignment and
// checksum before its bytes, every record count against the bytes that hold
// the records before an array is allocated for them, and finally the whole
// plan's meaning (verify.c) before the plan is handed out. Failures are
// DATA_LOSS naming the file byte at fault, or INCOMPATIBLE for versions.

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "base/hash.h"
#include "base/size.h"
#include "engine/engine.h"
#include "sym/sym.h"

typedef struct section_info_t {
  bool present;
  uint64_t entry_at;  // file offset of its table entry
  uint64_t offset;
  uint64_t size;
  uint32_t count;
} section_info_t;

typedef struct reader_t {
  const uint8_t* data;
  uint64_t size;
  uint16_t minor;
  bool newer_minor;  // the file's minor version is newer than ours
  section_info_t sections[KILN__SECTION_ID_END];
  kiln__engine_origin_t origin;
  kiln__plan_t* plan;
} reader_t;

static const char* const section_names[KILN__SECTION_ID_END] = {
    [KILN__SECTION_INFO] = "INFO",
    [KILN__SECTION_EXPRS] = "EXPRS",
    [KILN__SECTION_TENSORS] = "TENSORS",
    [KILN__SECTION_CONSTANTS] = "CONSTANTS",
    [KILN__SECTION_IMAGES] = "IMAGES",
    [KILN__SECTION_PARAMS] = "PARAMS",
    [KILN__SECTION_KERNELS] = "KERNELS",
    [KILN__SECTION_ARGS] = "ARGS",
    [KILN__SECTION_LAYERS] = "LAYERS",
    [KILN__SECTION_INDICES] = "INDICES",
    [KILN__SECTION_PROFILES] = "PROFILES",
    [KILN__SECTION_BLOB] = "BLOB",
    [KILN__SECTION_SIZE_TENSORS] = "SIZE_TENSORS",
};

// The record size of each record section; 0 for the others.
static const uint32_t record_sizes[KILN__SECTION_ID_END] = {
    [KILN__SECTION_INFO] = KILN__INFO_SIZE,
    [KILN__SECTION_TENSORS] = KILN__TENSOR_SIZE,
    [KILN__SECTION_CONSTANTS] = KILN__CONSTANT_SIZE,
    [KILN__SECTION_IMAGES] = KILN__IMAGE_SIZE,
    [KILN__SECTION_PARAMS] = KILN__PARAM_SIZE,
    [KILN__SECTION_KERNELS] = KILN__KERNEL_SIZE,
    [KILN__SECTION_ARGS] = KILN__ARG_SIZE,
    [KILN__SECTION_LAYERS] = KILN__LAYER_SIZE,
    [KILN__SECTION_INDICES] = KILN__INDEX_SIZE,
    [KILN__SECTION_PROFILES] = KILN__RANGE_SIZE,
    [KILN__SECTION_SIZE_TENSORS] = KILN__SIZE_TENSOR_SIZE,
};

// Returns true when a file of minor version |minor| has section |id|.
static bool section_defined(uint32_t id, uint16_t minor) {
  if (id == 0 || id >= KILN__SECTION_ID_END) return false;
  return id != KILN__SECTION_SIZE_TENSORS ||
         minor >= KILN__ENGINE_FORMAT_MINOR_SIZE_TENSORS;
}

static kiln_status_t corrupt(uint64_t offset, const char* format, ...)
    KILN_PRINTF(2, 3);

static kiln_status_t corrupt(uint64_t offset, const char* format, ...) {
  char message[512];
  va_list args;
  va_start(args, format);
  vsnprintf(message, sizeof(message), format, args);
  va_end(args);
  return kiln_make_status(KILN_STATUS_DATA_LOSS, "engine byte %" PRIu64 ": %s",
                          offset, message);
}

//===----------------------------------------------------------------------===//
// Header and section table
//===----------------------------------------------------------------------===//

// Returns the offset of the first non-zero byte in [begin, end), or end.
static uint64_t first_nonzero(const reader_t* r, uint64_t begin, uint64_t end) {
  for (uint64_t i = begin; i < end; ++i) {
    if (r->data[i] != 0) return i;
  }
  return end;
}

static kiln_status_t check_zero(const reader_t* r, uint64_t begin, uint64_t end,
                                const char* what) {
  uint64_t bad = first_nonzero(r, begin, end);
  if (bad != end) {
    return corrupt(bad, "%s byte is 0x%02x, not 0", what,
                   (unsigned)r->data[bad]);
  }
  return NULL;
}

static kiln_status_t read_header(reader_t* r, uint32_t* out_section_count) {
  const uint8_t* d = r->data;
  uint64_t n = r->size;
  size_t magic_bytes =
      n < KILN__ENGINE_MAGIC_SIZE ? (size_t)n : KILN__ENGINE_MAGIC_SIZE;
  if (n == 0 || memcmp(d, KILN__ENGINE_MAGIC, magic_bytes) != 0) {
    return corrupt(0,
                   "not a kiln engine (the file does not start with the "
                   "kiln engine magic)");
  }
  if (n < KILN__HEADER_OFF_MINOR + 2) {
    return corrupt(n,
                   "the file ends inside its header (%" PRIu64
                   " bytes; the header takes %d)",
                   n, KILN__HEADER_SIZE);
  }
  uint16_t major = kiln__le_u16(d + KILN__HEADER_OFF_MAJOR);
  uint16_t minor = kiln__le_u16(d + KILN__HEADER_OFF_MINOR);
  if (major > KILN__ENGINE_FORMAT_MAJOR) {
    return kiln_make_status(KILN_STATUS_INCOMPATIBLE,
                            "engine format %u.%u is newer than this kiln "
                            "reads (%d.x); rebuild the engine with this "
                            "kiln or load it with a newer one",
                            (unsigned)major, (unsigned)minor,
                            KILN__ENGINE_FORMAT_MAJOR);
  }
  if (major < KILN__ENGINE_FORMAT_MAJOR) {
    return kiln_make_status(KILN_STATUS_INCOMPATIBLE,
                            "engine format %u.%u is older than this kiln "
                            "reads (%d.x); rebuild the engine",
                            (unsigned)major, (unsigned)minor,
                            KILN__ENGINE_FORMAT_MAJOR);
  }
  r->minor = minor;
  r->newer_minor = minor > KILN__ENGINE_FORMAT_MINOR;
  if (n < KILN__HEADER_SIZE) {
    return corrupt(n,
                   "the file ends inside its header (%" PRIu64
                   " bytes; the header takes %d)",
                   n, KILN__HEADER_SIZE);
  }
  uint32_t header_crc = kiln__le_u32(d + KILN__HEADER_OFF_HEADER_CRC);
  uint32_t computed = kiln__crc32c(0, d, KILN__HEADER_OFF_HEADER_CRC);
  if (header_crc != computed) {
    return corrupt(KILN__HEADER_OFF_HEADER_CRC,
                   "header checksum 0x%08" PRIx32
                   " does not match its bytes (0x%08" PRIx32 ")",
                   header_crc, computed);
  }
  uint32_t header_size = kiln__le_u32(d + KILN__HEADER_OFF_HEADER_SIZE);
  if (header_size != KILN__HEADER_SIZE) {
    return corrupt(KILN__HEADER_OFF_HEADER_SIZE,
                   "header size is %" PRIu32 ", not %d", header_size,
                   KILN__HEADER_SIZE);
  }
  uint64_t file_size = kiln__le_u64(d + KILN__HEADER_OFF_FILE_SIZE);
  if (file_size != n) {
    return corrupt(KILN__HEADER_OFF_FILE_SIZE,
                   "the header says the file has %" PRIu64
                   " bytes, but it has %" PRIu64 "%s",
                   file_size, n, file_size > n ? " (truncated?)" : "");
  }
  if (!r->newer_minor) {
    if (kiln__le_u32(d + KILN__HEADER_OFF_FLAGS) != 0) {
      return corrupt(KILN__HEADER_OFF_FLAGS,
                     "header flags 0x%08" PRIx32 " are not 0",
                     kiln__le_u32(d + KILN__HEADER_OFF_FLAGS));
    }
    KILN_RETURN_IF_ERROR(
        check_zero(r, KILN__HEADER_OFF_RESERVED,
                   KILN__HEADER_OFF_RESERVED + KILN__HEADER_RESERVED_SIZE,
                   "reserved header"));
  }
  uint32_t table_offset = kiln__le_u32(d + KILN__HEADER_OFF_TABLE_OFFSET);
  if (table_offset != KILN__HEADER_SIZE) {
    return corrupt(KILN__HEADER_OFF_TABLE_OFFSET,
                   "section table offset is %" PRIu32 ", not %d", table_offset,
                   KILN__HEADER_SIZE);
  }
  uint32_t count = kiln__le_u32(d + KILN__HEADER_OFF_SECTION_COUNT);
  if (count == 0 || count > KILN__ENGINE_MAX_SECTIONS) {
    return corrupt(KILN__HEADER_OFF_SECTION_COUNT,
                   "section count is %" PRIu32 "; it must be 1..%d", count,
                   KILN__ENGINE_MAX_SECTIONS);
  }
  uint64_t table_end =
      KILN__HEADER_SIZE + (uint64_t)count * KILN__SECTION_ENTRY_SIZE;
  if (table_end > n) {
    return corrupt(KILN__HEADER_OFF_SECTION_COUNT,
                   "%" PRIu32 " section table entries need %" PRIu64
                   " bytes, but the file has %" PRIu64,
                   count, table_end, n);
  }
  uint32_t table_crc = kiln__le_u32(d + KILN__HEADER_OFF_TABLE_CRC);
  computed = kiln__crc32c(0, d + KILN__HEADER_SIZE,
                          (size_t)(table_end - KILN__HEADER_SIZE));
  if (table_crc != computed) {
    return corrupt(KILN__HEADER_OFF_TABLE_CRC,
                   "section table checksum 0x%08" PRIx32
                   " does not match its bytes (0x%08" PRIx32 ")",
                   table_crc, computed);
  }
  *out_section_count = count;
  return NULL;
}

static kiln_status_t read_table(reader_t* r, uint32_t count) {
  const uint8_t* d = r->data;
  uint64_t prev_end =
      KILN__HEADER_SIZE + (uint64_t)count * KILN__SECTION_ENTRY_SIZE;
  uint32_t unknown_ids[KILN__ENGINE_MAX_SECTIONS];
  uint32_t unknown_count = 0;
  for (uint32_t i = 0; i < count; ++i) {
    uint64_t at = KILN__HEADER_SIZE + (uint64_t)i * KILN__SECTION_ENTRY_SIZE;
    const uint8_t* e = d + at;
    uint32_t id = kiln__le_u32(e + KILN__SECTION_OFF_ID);
    uint32_t flags = kiln__le_u32(e + KILN__SECTION_OFF_FLAGS);
    uint64_t offset = kiln__le_u64(e + KILN__SECTION_OFF_OFFSET);
    uint64_t size = kiln__le_u64(e + KILN__SECTION_OFF_SIZE);
    uint32_t records = kiln__le_u32(e + KILN__SECTION_OFF_COUNT);
    uint32_t crc = kiln__le_u32(e + KILN__SECTION_OFF_CRC);
    bool known = section_defined(id, r->minor);
    if (offset % KILN__ENGINE_ALIGNMENT != 0) {
      return corrupt(at + KILN__SECTION_OFF_OFFSET,
                     "section %" PRIu32 " (id %" PRIu32 ") offset %" PRIu64
                     " is not a multiple of %d",
                     i, id, offset, KILN__ENGINE_ALIGNMENT);
    }
    if (offset < prev_end) {
      return corrupt(at + KILN__SECTION_OFF_OFFSET,
                     "section %" PRIu32 " (id %" PRIu32 ") starts at %" PRIu64
                     ", before the end (%" PRIu64
                     ") of what precedes it; sections are listed in file "
                     "order and do not overlap",
                     i, id, offset, prev_end);
    }
    if (offset > r->size || size > r->size - offset) {
      return corrupt(at + KILN__SECTION_OFF_SIZE,
                     "section %" PRIu32 " (id %" PRIu32 ") at %" PRIu64
                     " with %" PRIu64
                     " bytes runs past the end of the file (%" PRIu64 " bytes)",
                     i, id, offset, size, r->size);
    }
    KILN_RETURN_IF_ERROR(check_zero(r, prev_end, offset, "padding"));
    uint32_t computed = kiln__crc32c(0, d + offset, (size_t)size);
    if (crc != computed) {
      return corrupt(at + KILN__SECTION_OFF_CRC,
                     "section %" PRIu32 " (id %" PRIu32
                     ") checksum 0x%08" PRIx32
                     " does not match its bytes (0x%08" PRIx32 ")",
                     i, id, crc, computed);
    }
    prev_end = offset + size;
    // The flags of a file this reader fully knows are canonical: only a
    // non-empty SIZE_TENSORS section is MUST_UNDERSTAND.
    uint32_t want_flags =
        known && id == KILN__SECTION_SIZE_TENSORS && records != 0
            ? KILN__SECTION_FLAG_MUST_UNDERSTAND
            : 0;
    if (!r->newer_minor && flags != want_flags) {
      return corrupt(at + KILN__SECTION_OFF_FLAGS,
                     "section %" PRIu32 " (id %" PRIu32 ") flags 0x%08" PRIx32
                     " are not 0x%08" PRIx32,
                     i, id, flags, want_flags);
    }
    if (!known) {
      for (uint32_t k = 0; k < unknown_count; ++k) {
        if (unknown_ids[k] == id) {
          return corrupt(at + KILN__SECTION_OFF_ID,
                         "section %" PRIu32 " repeats section id %" PRIu32, i,
                         id);
        }
      }
      unknown_ids[unknown_count++] = id;
      if (!r->newer_minor) {
        return corrupt(at + KILN__SECTION_OFF_ID,
                       "section %" PRIu32 " has id %" PRIu32
                       ", which engine format %d.%u does not define",
                       i, id, KILN__ENGINE_FORMAT_MAJOR, (unsigned)r->minor);
      }
      if (flags & KILN__SECTION_FLAG_MUST_UNDERSTAND) {
        return kiln_make_status(
            KILN_STATUS_INCOMPATIBLE,
            "engine format %d.%u needs section id %" PRIu32
            ", which this kiln (engine format %d.%d) does not know; load "
            "the engine with a newer kiln",
            KILN__ENGINE_FORMAT_MAJOR, (unsigned)r->minor, id,
            KILN__ENGINE_FORMAT_MAJOR, KILN__ENGINE_FORMAT_MINOR);
      }
      continue;  // a newer minor's optional section: skipped
    }
    section_info_t* s = &r->sections[id];
    if (s->present) {
      return corrupt(at + KILN__SECTION_OFF_ID,
                     "section %" PRIu32 " repeats the %s section", i,
                     section_names[id]);
    }
    s->present = true;
    s->entry_at = at;
    s->offset = offset;
    s->size = size;
    s->count = records;
    r->origin.section_offset[id] = offset;
  }
  KILN_RETURN_IF_ERROR(check_zero(r, prev_end, r->size, "trailing padding"));
  for (uint32_t id = 1; id < KILN__SECTION_ID_END; ++id) {
    const section_info_t* s = &r->sections[id];
    if (!section_defined(id, r->minor)) continue;  // absent, as in 1.0
    if (!s->present) {
      return corrupt(KILN__HEADER_OFF_SECTION_COUNT,
                     "the engine has no %s section (id %" PRIu32 ")",
                     section_names[id], id);
    }
    uint32_t record_size = record_sizes[id];
    if (id == KILN__SECTION_INFO && s->count != 1) {
      return corrupt(s->entry_at + KILN__SECTION_OFF_COUNT,
                     "the INFO section has %" PRIu32 " records, not 1",
                     s->count);
    }
    if (id == KILN__SECTION_BLOB && s->count != 0) {
      return corrupt(s->entry_at + KILN__SECTION_OFF_COUNT,
                     "the BLOB section has a record count (%" PRIu32
                     "); it must be 0",
                     s->count);
    }
    if (record_size && (uint64_t)s->count * record_size != s->size) {
      return corrupt(s->entry_at + KILN__SECTION_OFF_SIZE,
                     "the %s section has %" PRIu64 " bytes, but %" PRIu32
                     " records of %" PRIu32 " bytes take %" PRIu64,
                     section_names[id], s->size, s->count, record_size,
                     (uint64_t)s->count * record_size);
    }
  }
  return NULL;
}

//===----------------------------------------------------------------------===//
// Records
//===----------------------------------------------------------------------===//

// Returns the bytes of record |i| of section |id|.
static const uint8_t* record(const reader_t* r, kiln__section_id_t id,
                             uint32_t i) {
  return r->data + r->sections[id].offset + (uint64_t)i * record_sizes[id];
}

static uint64_t record_at(const reader_t* r, kiln__section_id_t id, uint32_t i,
                          uint64_t field) {
  return r->sections[id].offset + (uint64_t)i * record_sizes[id] + field;
}

// Allocates the plan array for section |id|'s records, whose count the
// section's size bounds.
static kiln_status_t alloc_records(reader_t* r, kiln__section_id_t id,
                                   size_t element_size, void** out) {
  *out = NULL;
  uint32_t count = r->sections[id].count;
  if (count == 0) return NULL;
  size_t bytes;
  KILN_RETURN_IF_ERROR(
      kiln__size_mul(count, element_size, section_names[id], &bytes));
  return kiln__arena_alloc(&r->plan->arena, bytes, 8, out);
}

#define ALLOC_RECORDS(r, id, type, lvalue)                                  \
  do {                                                                      \
    void* memory_ = NULL;                                                   \
    KILN_RETURN_IF_ERROR(alloc_records((r), (id), sizeof(type), &memory_)); \
    (lvalue) = (type*)memory_;                                              \
  } while (0)

static kiln_status_t read_span(const uint8_t* p, uint64_t at, const char* owner,
                               uint32_t index, const char* field,
                               kiln__plan_span_t* out) {
  out->offset = kiln__le_u64(p);
  out->size = kiln__le_u64(p + 8);
  if (out->size == 0 && out->offset != 0) {
    return corrupt(at,
                   "%s %" PRIu32 " %s is empty but has offset %" PRIu64
                   "; an empty span is (0, 0)",
                   owner, index, field, out->offset);
  }
  return NULL;
}

static kiln_status_t read_range(const uint8_t* p, uint64_t at,
                                const char* owner, uint32_t index,
                                const char* field, kiln__plan_range_t* out) {
  out->first = kiln__le_u32(p);
  out->count = kiln__le_u32(p + 4);
  if (out->count == 0 && out->first != 0) {
    return corrupt(at,
                   "%s %" PRIu32 " %s is empty but starts at %" PRIu32
                   "; an empty range is (0, 0)",
                   owner, index, field, out->first);
  }
  return NULL;
}

// A field that does not apply to its record's kind must hold |want|;
// |why| says when it does not apply ("for an input").
static kiln_status_t check_fixed(uint64_t value, uint64_t want, uint64_t at,
                                 const char* owner, uint32_t index,
                                 const char* field, const char* why) {
  if (value != want) {
    return corrupt(at,
                   "%s %" PRIu32 " %s is 0x%" PRIx64
                   ", but it must be 0x%" PRIx64 " %s",
                   owner, index, field, value, want, why);
  }
  return NULL;
}

static kiln_status_t check_reserved(const reader_t* r, uint64_t begin,
                                    uint64_t size) {
  return check_zero(r, begin, begin + size, "reserved");
}

static kiln_status_t read_info(reader_t* r) {
  kiln__plan_t* plan = r->plan;
  const uint8_t* p = record(r, KILN__SECTION_INFO, 0);
  plan->info.kiln_version = kiln__le_u32(p + KILN__INFO_OFF_KILN_VERSION);
  plan->info.timed_sm_arch = kiln__le_u32(p + KILN__INFO_OFF_TIMED_SM_ARCH);
  plan->activation_bytes = kiln__le_u64(p + KILN__INFO_OFF_ACTIVATION_BYTES);
  plan->input_count = kiln__le_u32(p + KILN__INFO_OFF_INPUT_COUNT);
  plan->output_count = kiln__le_u32(p + KILN__INFO_OFF_OUTPUT_COUNT);
  plan->profile_count = kiln__le_u32(p + KILN__INFO_OFF_PROFILE_COUNT);
  plan->info.timed = p[KILN__INFO_OFF_TIMED];
  KILN_RETURN_IF_ERROR(check_reserved(
      r, record_at(r, KILN__SECTION_INFO, 0, KILN__INFO_OFF_RESERVED), 3));
  // The profile ranges: their count is fixed by the counts above and held
  // by the PROFILES section.
  uint64_t expected;
  const section_info_t* s = &r->sections[KILN__SECTION_PROFILES];
  if (plan->profile_count > KILN__ENGINE_MAX_PROFILES) {
    return corrupt(
        record_at(r, KILN__SECTION_INFO, 0, KILN__INFO_OFF_PROFILE_COUNT),
        "%" PRIu32 " profiles, more than the %d allowed", plan->profile_count,
        KILN__ENGINE_MAX_PROFILES);
  }
  if (__builtin_mul_overflow((uint64_t)plan->profile_count * KILN_MAX_RANK,
                             (uint64_t)plan->input_count, &expected) ||
      expected != s->count) {
    return corrupt(
        s->entry_at + KILN__SECTION_OFF_COUNT,
        "the PROFILES section has %" PRIu32 " ranges, but %" PRIu32
        " profiles of %" PRIu32 " inputs need %d per input per profile",
        s->count, plan->profile_count, plan->input_count, KILN_MAX_RANK);
  }
  return NULL;
}

static kiln_status_t read_tensors(reader_t* r) {
  kiln__plan_t* plan = r->plan;
  plan->tensor_count = r->sections[KILN__SECTION_TENSORS].count;
  ALLOC_RECORDS(r, KILN__SECTION_TENSORS, kiln__plan_tensor_t, plan->tensors);
  for (uint32_t i = 0; i < plan->tensor_count; ++i) {
    const uint8_t* p = record(r, KILN__SECTION_TENSORS, i);
    kiln__plan_tensor_t* t = &plan->tensors[i];
#define AT(f) record_at(r, KILN__SECTION_TENSORS, i, KILN__TENSOR_OFF_##f)
    KILN_RETURN_IF_ERROR(read_span(p + KILN__TENSOR_OFF_NAME, AT(NAME),
                                   "tensor", i, "name", &t->name));
    t->kind = p[KILN__TENSOR_OFF_KIND];
    t->is_output = p[KILN__TENSOR_OFF_IS_OUTPUT];
    t->dtype = p[KILN__TENSOR_OFF_DTYPE];
    t->format = p[KILN__TENSOR_OFF_FORMAT];
    uint32_t rank = kiln__le_u32(p + KILN__TENSOR_OFF_RANK);
    if (rank > KILN_MAX_RANK) {
      return corrupt(AT(RANK),
                     "tensor %" PRIu32 " has rank %" PRIu32 "; the most is %d",
                     i, rank, KILN_MAX_RANK);
    }
    t->rank = (int32_t)rank;
    for (uint32_t j = 0; j < KILN_MAX_RANK; ++j) {
      t->dims[j] = kiln__le_u32(p + KILN__TENSOR_OFF_DIMS + 4 * j);
      if (j >= rank) {
        KILN_RETURN_IF_ERROR(check_fixed(t->dims[j], KILN__NONE,
                                         AT(DIMS) + 4 * j, "tensor", i,
                                         "dimension", "past the rank"));
      }
    }
    t->input_ordinal = kiln__le_u32(p + KILN__TENSOR_OFF_INPUT_ORDINAL);
    t->producer = kiln__le_u32(p + KILN__TENSOR_OFF_PRODUCER);
    t->constant = kiln__le_u32(p + KILN__TENSOR_OFF_CONSTANT);
    t->alias_of = kiln__le_u32(p + KILN__TENSOR_OFF_ALIAS_OF);
    t->arena_offset = kiln__le_u64(p + KILN__TENSOR_OFF_ARENA_OFFSET);
    t->max_bytes = kiln__le_u64(p + KILN__TENSOR_OFF_MAX_BYTES);
    if (t->kind < KILN__TENSOR_KIND_COUNT) {
      static const char* const kinds[] = {"for an input", "for a constant",
                                          "for an activation"};
      const char* kind = kinds[t->kind];
      if (t->kind != KILN__TENSOR_INPUT) {
        KILN_RETURN_IF_ERROR(check_fixed(t->input_ordinal, KILN__NONE,
                                         AT(INPUT_ORDINAL), "tensor", i,
                                         "input ordinal", kind));
      }
      if (t->kind != KILN__TENSOR_CONSTANT) {
        KILN_RETURN_IF_ERROR(check_fixed(t->constant, KILN__NONE, AT(CONSTANT),
                                         "tensor", i, "constant", kind));
      }
      if (t->kind != KILN__TENSOR_ACTIVATION) {
        KILN_RETURN_IF_ERROR(check_fixed(t->producer, KILN__NONE, AT(PRODUCER),
                                         "tensor", i, "producer", kind));
        KILN_RETURN_IF_ERROR(check_fixed(t->alias_of, KILN__NONE, AT(ALIAS_OF),
                                         "tensor", i, "alias", kind));
      }
    }
#undef AT
  }
  return NULL;
}

static kiln_status_t read_constants(reader_t* r) {
  kiln__plan_t* plan = r->plan;
  plan->constant_count = r->sections[KILN__SECTION_CONSTANTS].count;
  ALLOC_RECORDS(r, KILN__SECTION_CONSTANTS, kiln__plan_constant_t,
                plan->constants);
  for (uint32_t i = 0; i < plan->constant_count; ++i) {
    const uint8_t* p = record(r, KILN__SECTION_CONSTANTS, i);
    KILN_RETURN_IF_ERROR(read_span(
        p + KILN__CONSTANT_OFF_DATA,
        record_at(r, KILN__SECTION_CONSTANTS, i, KILN__CONSTANT_OFF_DATA),
        "constant", i, "data", &plan->constants[i].data));
  }
  return NULL;
}

static kiln_status_t read_images(reader_t* r) {
  kiln__plan_t* plan = r->plan;
  plan->image_count = r->sections[KILN__SECTION_IMAGES].count;
  ALLOC_RECORDS(r, KILN__SECTION_IMAGES, kiln__plan_image_t, plan->images);
  for (uint32_t i = 0; i < plan->image_count; ++i) {
    const uint8_t* p = record(r, KILN__SECTION_IMAGES, i);
    kiln__plan_image_t* image = &plan->images[i];
    image->kind = p[KILN__IMAGE_OFF_KIND];
    KILN_RETURN_IF_ERROR(check_reserved(
        r, record_at(r, KILN__SECTION_IMAGES, i, KILN__IMAGE_OFF_RESERVED), 3));
    image->sm_arch = kiln__le_u32(p + KILN__IMAGE_OFF_SM_ARCH);
    KILN_RETURN_IF_ERROR(
        read_span(p + KILN__IMAGE_OFF_DATA,
                  record_at(r, KILN__SECTION_IMAGES, i, KILN__IMAGE_OFF_DATA),
                  "image", i, "data", &image->data));
  }
  return NULL;
}

static kiln_status_t read_params(reader_t* r) {
  kiln__plan_t* plan = r->plan;
  plan->param_count = r->sections[KILN__SECTION_PARAMS].count;
  ALLOC_RECORDS(r, KILN__SECTION_PARAMS, kiln__plan_param_t, plan->params);
  for (uint32_t i = 0; i < plan->param_count; ++i) {
    const uint8_t* p = record(r, KILN__SECTION_PARAMS, i);
    kiln__plan_param_t* param = &plan->params[i];
    param->kind = p[KILN__PARAM_OFF_KIND];
    param->size = p[KILN__PARAM_OFF_SIZE];
    param->align = p[KILN__PARAM_OFF_ALIGN];
    param->index = kiln__le_u32(p + KILN__PARAM_OFF_INDEX);
    KILN_RETURN_IF_ERROR(check_reserved(
        r, record_at(r, KILN__SECTION_PARAMS, i, KILN__PARAM_OFF_RESERVED), 1));
    bool indexed = param->kind == KILN__PARAM_INPUT ||
                   param->kind == KILN__PARAM_OUTPUT ||
                   param->kind == KILN__PARAM_ARG;
    if (!indexed && param->kind < KILN__PARAM_KIND_COUNT) {
      KILN_RETURN_IF_ERROR(check_fixed(
          param->index, 0,
          record_at(r, KILN__SECTION_PARAMS, i, KILN__PARAM_OFF_INDEX), "param",
          i, "index", "for a param of its kind"));
    }
  }
  return NULL;
}

static kiln_status_t read_kernels(reader_t* r) {
  kiln__plan_t* plan = r->plan;
  plan->kernel_count = r->sections[KILN__SECTION_KERNELS].count;
  ALLOC_RECORDS(r, KILN__SECTION_KERNELS, kiln__plan_kernel_t, plan->kernels);
  for (uint32_t i = 0; i < plan->kernel_count; ++i) {
    const uint8_t* p = record(r, KILN__SECTION_KERNELS, i);
    kiln__plan_kernel_t* k = &plan->kernels[i];
#define AT(f) record_at(r, KILN__SECTION_KERNELS, i, KILN__KERNEL_OFF_##f)
    KILN_RETURN_IF_ERROR(read_span(p + KILN__KERNEL_OFF_NAME, AT(NAME),
                                   "kernel", i, "name", &k->name));
    KILN_RETURN_IF_ERROR(read_range(p + KILN__KERNEL_OFF_IMAGES, AT(IMAGES),
                                    "kernel", i, "images", &k->images));
    KILN_RETURN_IF_ERROR(read_range(p + KILN__KERNEL_OFF_PARAMS, AT(PARAMS),
                                    "kernel", i, "params", &k->params));
    k->global_scratch_size =
        kiln__le_u64(p + KILN__KERNEL_OFF_GLOBAL_SCRATCH_SIZE);
    k->profile_scratch_size =
        kiln__le_u64(p + KILN__KERNEL_OFF_PROFILE_SCRATCH_SIZE);
    k->global_scratch_align =
        kiln__le_u32(p + KILN__KERNEL_OFF_GLOBAL_SCRATCH_ALIGN);
    k->profile_scratch_align =
        kiln__le_u32(p + KILN__KERNEL_OFF_PROFILE_SCRATCH_ALIGN);
    k->num_ctas = kiln__le_u32(p + KILN__KERNEL_OFF_NUM_CTAS);
    KILN_RETURN_IF_ERROR(check_reserved(r, AT(RESERVED), 4));
    if (k->global_scratch_size == 0) {
      KILN_RETURN_IF_ERROR(check_fixed(
          k->global_scratch_align, 0, AT(GLOBAL_SCRATCH_ALIGN), "kernel", i,
          "global scratch alignment", "without global scratch"));
    }
    if (k->profile_scratch_size == 0) {
      KILN_RETURN_IF_ERROR(check_fixed(
          k->profile_scratch_align, 0, AT(PROFILE_SCRATCH_ALIGN), "kernel", i,
          "profile scratch alignment", "without profile scratch"));
    }
#undef AT
  }
  return NULL;
}

static kiln_status_t read_args(reader_t* r) {
  kiln__plan_t* plan = r->plan;
  plan->arg_count = r->sections[KILN__SECTION_ARGS].count;
  ALLOC_RECORDS(r, KILN__SECTION_ARGS, kiln__plan_arg_t, plan->args);
  for (uint32_t i = 0; i < plan->arg_count; ++i) {
    const uint8_t* p = record(r, KILN__SECTION_ARGS, i);
    kiln__plan_arg_t* a = &plan->args[i];
#define AT(f) record_at(r, KILN__SECTION_ARGS, i, KILN__ARG_OFF_##f)
    a->type = p[KILN__ARG_OFF_TYPE];
    KILN_RETURN_IF_ERROR(check_reserved(r, AT(RESERVED), 3));
    a->expr = kiln__le_u32(p + KILN__ARG_OFF_EXPR);
    uint32_t bits = kiln__le_u32(p + KILN__ARG_OFF_F32);
    memcpy(&a->f32, &bits, sizeof(bits));
    if (a->type == KILN_ARG_TYPE_FLOAT32) {
      KILN_RETURN_IF_ERROR(check_fixed(a->expr, KILN__NONE, AT(EXPR), "arg", i,
                                       "expression", "for a float32 arg"));
    } else if (a->type < KILN_ARG_TYPE_COUNT) {
      KILN_RETURN_IF_ERROR(check_fixed(bits, 0, AT(F32), "arg", i,
                                       "float value", "for an integer arg"));
    }
#undef AT
  }
  return NULL;
}

static kiln_status_t read_layers(reader_t* r) {
  kiln__plan_t* plan = r->plan;
  plan->layer_count = r->sections[KILN__SECTION_LAYERS].count;
  ALLOC_RECORDS(r, KILN__SECTION_LAYERS, kiln__plan_layer_t, plan->layers);
  for (uint32_t i = 0; i < plan->layer_count; ++i) {
    const uint8_t* p = record(r, KILN__SECTION_LAYERS, i);
    kiln__plan_layer_t* l = &plan->layers[i];
#define AT(f) record_at(r, KILN__SECTION_LAYERS, i, KILN__LAYER_OFF_##f)
    KILN_RETURN_IF_ERROR(read_span(p + KILN__LAYER_OFF_PLUGIN_ID, AT(PLUGIN_ID),
                                   "layer", i, "plugin id", &l->plugin_id));
    KILN_RETURN_IF_ERROR(read_span(p + KILN__LAYER_OFF_NAME, AT(NAME), "layer",
                                   i, "name", &l->name));
    KILN_RETURN_IF_ERROR(read_span(p + KILN__LAYER_OFF_HOST_ATTRS,
                                   AT(HOST_ATTRS), "layer", i,
                                   "host attributes", &l->host_attrs));
    l->kind = p[KILN__LAYER_OFF_KIND];
    KILN_RETURN_IF_ERROR(check_reserved(r, AT(RESERVED), 3));
    l->tactic = (int32_t)kiln__le_u32(p + KILN__LAYER_OFF_TACTIC);
    KILN_RETURN_IF_ERROR(read_range(p + KILN__LAYER_OFF_INPUTS, AT(INPUTS),
                                    "layer", i, "inputs", &l->inputs));
    KILN_RETURN_IF_ERROR(read_range(p + KILN__LAYER_OFF_OUTPUTS, AT(OUTPUTS),
                                    "layer", i, "outputs", &l->outputs));
    l->kernel = kiln__le_u32(p + KILN__LAYER_OFF_KERNEL);
    for (int d = 0; d < 3; ++d) {
      l->grid[d] = kiln__le_u32(p + KILN__LAYER_OFF_GRID + 4 * d);
      l->block[d] = kiln__le_u32(p + KILN__LAYER_OFF_BLOCK + 4 * d);
    }
    l->shared_mem = kiln__le_u32(p + KILN__LAYER_OFF_SHARED_MEM);
    KILN_RETURN_IF_ERROR(read_range(p + KILN__LAYER_OFF_ARGS, AT(ARGS), "layer",
                                    i, "args", &l->args));
    if (l->kind == KILN__LAYER_HOST) {
      for (int d = 0; d < 3; ++d) {
        KILN_RETURN_IF_ERROR(check_fixed(l->grid[d], KILN__NONE,
                                         AT(GRID) + 4 * (uint64_t)d, "layer", i,
                                         "grid", "for a host layer"));
        KILN_RETURN_IF_ERROR(check_fixed(l->block[d], KILN__NONE,
                                         AT(BLOCK) + 4 * (uint64_t)d, "layer",
                                         i, "block", "for a host layer"));
      }
      KILN_RETURN_IF_ERROR(check_fixed(l->shared_mem, KILN__NONE,
                                       AT(SHARED_MEM), "layer", i,
                                       "shared memory", "for a host layer"));
      KILN_RETURN_IF_ERROR(check_fixed(l->args.count, 0, AT(ARGS), "layer", i,
                                       "arg count", "for a host layer"));
    } else if (l->kind == KILN__LAYER_AOT) {
      KILN_RETURN_IF_ERROR(
          check_fixed(l->host_attrs.size, 0, AT(HOST_ATTRS) + 8, "layer", i,
                      "host attribute size", "for an AOT layer"));
    }
#undef AT
  }
  return NULL;
}

static kiln_status_t read_indices(reader_t* r) {
  kiln__plan_t* plan = r->plan;
  plan->index_count = r->sections[KILN__SECTION_INDICES].count;
  ALLOC_RECORDS(r, KILN__SECTION_INDICES, uint32_t, plan->indices);
  for (uint32_t i = 0; i < plan->index_count; ++i) {
    plan->indices[i] = kiln__le_u32(record(r, KILN__SECTION_INDICES, i));
  }
  return NULL;
}

static kiln_status_t read_profiles(reader_t* r) {
  kiln__plan_t* plan = r->plan;
  uint32_t count = r->sections[KILN__SECTION_PROFILES].count;
  ALLOC_RECORDS(r, KILN__SECTION_PROFILES, kiln__plan_dim_range_t,
                plan->ranges);
  for (uint32_t i = 0; i < count; ++i) {
    const uint8_t* p = record(r, KILN__SECTION_PROFILES, i);
    plan->ranges[i].min = (int64_t)kiln__le_u64(p + KILN__RANGE_OFF_MIN);
    plan->ranges[i].opt = (int64_t)kiln__le_u64(p + KILN__RANGE_OFF_OPT);
    plan->ranges[i].max = (int64_t)kiln__le_u64(p + KILN__RANGE_OFF_MAX);
  }
  return NULL;
}

// Marks the tensors the SIZE_TENSORS section lists (absent in a 1.0 file:
// none). The list is ascending, so each tensor is listed at most once.
static kiln_status_t read_size_tensors(reader_t* r) {
  kiln__plan_t* plan = r->plan;
  const section_info_t* s = &r->sections[KILN__SECTION_SIZE_TENSORS];
  if (!s->present) return NULL;
  uint32_t previous = 0;
  for (uint32_t i = 0; i < s->count; ++i) {
    uint32_t t = kiln__le_u32(record(r, KILN__SECTION_SIZE_TENSORS, i));
    uint64_t at = record_at(r, KILN__SECTION_SIZE_TENSORS, i, 0);
    if (t >= plan->tensor_count) {
      return corrupt(at,
                     "size tensor %" PRIu32 " is tensor %" PRIu32
                     ", but there are %" PRIu32 " tensors",
                     i, t, plan->tensor_count);
    }
    if (i > 0 && t <= previous) {
      return corrupt(at,
                     "size tensor %" PRIu32 " is tensor %" PRIu32
                     ", not after tensor %" PRIu32
                     " (the list is strictly ascending)",
                     i, t, previous);
    }
    plan->tensors[t].is_size_tensor = 1;
    previous = t;
  }
  return NULL;
}

static kiln_status_t read_exprs(reader_t* r) {
  kiln__plan_t* plan = r->plan;
  const section_info_t* s = &r->sections[KILN__SECTION_EXPRS];
  // Each root takes at least one byte, which bounds the array.
  if (s->count > s->size) {
    return corrupt(s->entry_at + KILN__SECTION_OFF_COUNT,
                   "%" PRIu32 " expressions cannot fit the %" PRIu64
                   " bytes of the EXPRS section",
                   s->count, s->size);
  }
  plan->expr_count = s->count;
  ALLOC_RECORDS(r, KILN__SECTION_EXPRS, kiln_sym_t, plan->exprs);
  kiln_const_bytes_t bytes = {r->data + s->offset, (size_t)s->size};
  size_t roots = 0, consumed = 0;
  kiln_status_t status =
      kiln__sym_deserialize(plan->sym, bytes, (size_t)s->offset, plan->exprs,
                            s->count, &roots, &consumed);
  if (status) {
    kiln_status_code_t code = kiln_status_code(status);
    if (code == KILN_STATUS_RESOURCE_EXHAUSTED) return status;
    if (code == KILN_STATUS_DATA_LOSS) {
      return kiln_status_annotate(status, "engine expressions");
    }
    kiln_status_t data_loss = corrupt(s->offset, "engine expressions: %s",
                                      kiln_status_message(status));
    kiln_status_free(status);
    return data_loss;
  }
  if (roots != s->count) {
    return corrupt(s->entry_at + KILN__SECTION_OFF_COUNT,
                   "the EXPRS section holds %zu expressions, but its table "
                   "entry says %" PRIu32,
                   roots, s->count);
  }
  if (consumed != s->size) {
    return corrupt(s->offset + consumed,
                   "%" PRIu64
                   " bytes follow the expressions in the EXPRS "
                   "section",
                   s->size - consumed);
  }
  return NULL;
}

static kiln_status_t read_plan(reader_t* r, kiln_allocator_t allocator) {
  uint32_t section_count = 0;
  KILN_RETURN_IF_ERROR(read_header(r, &section_count));
  KILN_RETURN_IF_ERROR(read_table(r, section_count));
  KILN_RETURN_IF_ERROR(kiln__plan_create(allocator, &r->plan));
  KILN_RETURN_IF_ERROR(read_info(r));
  KILN_RETURN_IF_ERROR(read_tensors(r));
  KILN_RETURN_IF_ERROR(read_size_tensors(r));
  KILN_RETURN_IF_ERROR(read_constants(r));
  KILN_RETURN_IF_ERROR(read_images(r));
  KILN_RETURN_IF_ERROR(read_params(r));
  KILN_RETURN_IF_ERROR(read_kernels(r));
  KILN_RETURN_IF_ERROR(read_args(r));
  KILN_RETURN_IF_ERROR(read_layers(r));
  KILN_RETURN_IF_ERROR(read_indices(r));
  KILN_RETURN_IF_ERROR(read_profiles(r));
  KILN_RETURN_IF_ERROR(read_exprs(r));
  const section_info_t* blob = &r->sections[KILN__SECTION_BLOB];
  r->plan->blob.data = r->data + blob->offset;
  r->plan->blob.size = (size_t)blob->size;
  return kiln__plan_verify(r->plan, &r->origin, allocator);
}

kiln_status_t kiln__engine_read(kiln_const_bytes_t file,
                                kiln_allocator_t allocator,
                                kiln__plan_t** out_plan) {
  if (!out_plan) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "out_plan must not be NULL");
  }
  *out_plan = NULL;
  if (!file.data && file.size > 0) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "engine bytes are NULL but the size is %zu",
                            file.size);
  }
  reader_t r;
  memset(&r, 0, sizeof(r));
  r.data = file.data;
  r.size = file.data ? file.size : 0;
  kiln_status_t status = read_plan(&r, allocator);
  if (status) {
    kiln__plan_destroy(r.plan);
    return status;
  }
  *out_plan = r.plan;
  return NULL;
}

bool kiln__engine_file_info(kiln_const_bytes_t file,
                            kiln__engine_file_info_t* out_info) {
  memset(out_info, 0, sizeof(*out_info));
  if (!file.data || file.size < KILN__HEADER_SIZE) return false;
  out_info->format_major = kiln__le_u16(file.data + KILN__HEADER_OFF_MAJOR);
  out_info->format_minor = kiln__le_u16(file.data + KILN__HEADER_OFF_MINOR);
  out_info->file_size = kiln__le_u64(file.data + KILN__HEADER_OFF_FILE_SIZE);
  out_info->section_count =
      kiln__le_u32(file.data + KILN__HEADER_OFF_SECTION_COUNT);
  return true;
}
