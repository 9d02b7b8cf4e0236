// Autotune results: the supported type/format combinations of a plugin with
// their tactics, deduplicated as TensorRT does, and the parser of TensorRT's
// AutoTuneCombination grammar ("FP32|FP16, FP32*FP16").

#include <string.h>

#include "base/base.h"
#include "base/hash.h"
#include "base/size.h"
#include "plugin/plugin.h"

// Limits that keep a careless spec from exhausting memory or time.
#define MAX_COMBINATIONS 65536
#define MAX_TACTICS 1024

typedef struct combination_t {
  kiln_dtype_t* types;     // io_count entries; the block also holds formats
  kiln_format_t* formats;  // io_count entries, inside the types block
  int32_t* tactics;        // a separate block, NULL when there is none
  size_t tactic_count;
  size_t tactic_capacity;
} combination_t;

struct kiln_autotune_result_s {
  kiln_allocator_t allocator;
  size_t io_count;
  combination_t* entries;
  size_t count;
  size_t capacity;
  // Open-addressing index over |entries|: entry index + 1, 0 when empty.
  // Its capacity is a power of two at least twice |count|.
  uint32_t* slots;
  size_t slot_capacity;
};

//===----------------------------------------------------------------------===//
// Storage
//===----------------------------------------------------------------------===//

static void combination_free(kiln_allocator_t allocator, combination_t* c) {
  kiln_allocator_free(allocator, c->types);
  kiln_allocator_free(allocator, c->tactics);
  memset(c, 0, sizeof(*c));
}

kiln_status_t kiln_autotune_result_create(size_t io_count,
                                          kiln_allocator_t allocator,
                                          kiln_autotune_result_t** out_result) {
  if (!out_result) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "kiln_autotune_result_create: out_result is NULL");
  }
  *out_result = NULL;
  if (io_count == 0) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "an autotune result needs at least one position");
  }
  // Bound io_count so that every later size computed from it fits.
  size_t row_bytes = 0;
  KILN_RETURN_IF_ERROR(kiln__size_mul(
      io_count, sizeof(kiln_dtype_t) + sizeof(kiln_format_t) + sizeof(int32_t),
      "autotune result positions", &row_bytes));
  void* block = NULL;
  KILN_RETURN_IF_ERROR(
      kiln_allocator_malloc(allocator, sizeof(kiln_autotune_result_t), &block));
  kiln_autotune_result_t* result = (kiln_autotune_result_t*)block;
  result->allocator = allocator;
  result->io_count = io_count;
  *out_result = result;
  return NULL;
}

void kiln_autotune_result_destroy(kiln_autotune_result_t* result) {
  if (!result) return;
  for (size_t i = 0; i < result->count; ++i) {
    combination_free(result->allocator, &result->entries[i]);
  }
  kiln_allocator_free(result->allocator, result->entries);
  kiln_allocator_free(result->allocator, result->slots);
  kiln_allocator_free(result->allocator, result);
}

size_t kiln_autotune_result_count(const kiln_autotune_result_t* result) {
  return result ? result->count : 0;
}

kiln_autotune_combination_t kiln_autotune_result_at(
    const kiln_autotune_result_t* result, size_t index) {
  kiln_autotune_combination_t c;
  memset(&c, 0, sizeof(c));
  if (!result || index >= result->count) return c;
  const combination_t* entry = &result->entries[index];
  c.io_types = entry->types;
  c.io_formats = entry->formats;
  c.tactics = entry->tactic_count ? entry->tactics : NULL;
  c.tactic_count = entry->tactic_count;
  return c;
}

//===----------------------------------------------------------------------===//
// The index
//===----------------------------------------------------------------------===//

static uint64_t combination_hash(size_t io_count, const kiln_dtype_t* types,
                                 const kiln_format_t* formats) {
  uint64_t h = KILN_HASH_SEED;
  for (size_t i = 0; i < io_count; ++i) {
    h = kiln__hash_mix(h, (uint64_t)types[i]);
    h = kiln__hash_mix(h, (uint64_t)formats[i]);
  }
  return h;
}

// Returns the index of the entry equal to (|types|, |formats|), or SIZE_MAX.
static size_t result_find(const kiln_autotune_result_t* result,
                          const kiln_dtype_t* types,
                          const kiln_format_t* formats) {
  if (result->slot_capacity == 0) return SIZE_MAX;
  size_t mask = result->slot_capacity - 1;
  size_t at = (size_t)combination_hash(result->io_count, types, formats) & mask;
  size_t types_size = result->io_count * sizeof(kiln_dtype_t);
  size_t formats_size = result->io_count * sizeof(kiln_format_t);
  for (;; at = (at + 1) & mask) {
    uint32_t slot = result->slots[at];
    if (slot == 0) return SIZE_MAX;
    const combination_t* entry = &result->entries[slot - 1];
    if (memcmp(entry->types, types, types_size) == 0 &&
        memcmp(entry->formats, formats, formats_size) == 0) {
      return slot - 1;
    }
  }
}

static void index_insert(kiln_autotune_result_t* result, size_t index) {
  size_t mask = result->slot_capacity - 1;
  const combination_t* entry = &result->entries[index];
  size_t at =
      (size_t)combination_hash(result->io_count, entry->types, entry->formats) &
      mask;
  while (result->slots[at] != 0) at = (at + 1) & mask;
  result->slots[at] = (uint32_t)(index + 1);
}

// Makes room for |needed| entries in the array and the index.
static kiln_status_t result_reserve(kiln_autotune_result_t* result,
                                    size_t needed) {
  if (needed > result->capacity) {
    size_t capacity = result->capacity ? result->capacity : 4;
    while (capacity < needed) capacity *= 2;
    size_t bytes = 0;
    KILN_RETURN_IF_ERROR(kiln__size_mul(capacity, sizeof(combination_t),
                                        "autotune combinations", &bytes));
    void* data = result->entries;
    KILN_RETURN_IF_ERROR(
        kiln_allocator_realloc(result->allocator, bytes, &data));
    result->entries = (combination_t*)data;
    result->capacity = capacity;
  }
  size_t slots = result->slot_capacity ? result->slot_capacity : 8;
  while (slots < needed * 2) slots *= 2;
  if (slots != result->slot_capacity) {
    void* block = NULL;
    KILN_RETURN_IF_ERROR(kiln_allocator_malloc(
        result->allocator, slots * sizeof(uint32_t), &block));
    kiln_allocator_free(result->allocator, result->slots);
    result->slots = (uint32_t*)block;
    result->slot_capacity = slots;
    for (size_t i = 0; i < result->count; ++i) index_insert(result, i);
  }
  return NULL;
}

//===----------------------------------------------------------------------===//
// Adding combinations
//===----------------------------------------------------------------------===//

static bool has_tactic(const int32_t* tactics, size_t count, int32_t tactic) {
  for (size_t i = 0; i < count; ++i) {
    if (tactics[i] == tactic) return true;
  }
  return false;
}

static kiln_status_t validate_tactics(const int32_t* tactics, size_t count) {
  if (count > 0 && !tactics) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "autotune combination lists %zu tactics but its "
                            "tactics array is NULL",
                            count);
  }
  if (count > MAX_TACTICS) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "autotune combination lists %zu tactics; at most "
                            "%d are allowed",
                            count, MAX_TACTICS);
  }
  for (size_t i = 0; i < count; ++i) {
    if (tactics[i] == 0) {
      return kiln_make_status(
          KILN_STATUS_INVALID_ARGUMENT,
          "autotune tactic at index %zu is 0, which is reserved for the "
          "default tactic",
          i);
    }
    for (size_t j = 0; j < i; ++j) {
      if (tactics[j] == tactics[i]) {
        return kiln_make_status(
            KILN_STATUS_INVALID_ARGUMENT,
            "autotune tactic %d at index %zu repeats the one at index %zu",
            (int)tactics[i], i, j);
      }
    }
  }
  return NULL;
}

// Grows the tactic array of |entry| to hold at least |needed| tactics.
static kiln_status_t reserve_tactics(kiln_allocator_t allocator,
                                     combination_t* entry, size_t needed) {
  if (needed <= entry->tactic_capacity) return NULL;
  void* data = entry->tactics;
  KILN_RETURN_IF_ERROR(
      kiln_allocator_realloc(allocator, needed * sizeof(int32_t), &data));
  entry->tactics = (int32_t*)data;
  entry->tactic_capacity = needed;
  return NULL;
}

// Makes a new combination holding copies of the arrays.
static kiln_status_t combination_make(kiln_allocator_t allocator,
                                      size_t io_count,
                                      const kiln_dtype_t* types,
                                      const kiln_format_t* formats,
                                      const int32_t* tactics,
                                      size_t tactic_count, combination_t* out) {
  memset(out, 0, sizeof(*out));
  size_t types_size = io_count * sizeof(kiln_dtype_t);
  size_t formats_size = io_count * sizeof(kiln_format_t);
  size_t total = 0;
  KILN_RETURN_IF_ERROR(
      kiln__size_add(types_size, formats_size, "autotune combination", &total));
  void* block = NULL;
  KILN_RETURN_IF_ERROR(kiln_allocator_malloc(allocator, total, &block));
  out->types = (kiln_dtype_t*)block;
  out->formats = (kiln_format_t*)((uint8_t*)block + types_size);
  memcpy(out->types, types, types_size);
  memcpy(out->formats, formats, formats_size);
  if (tactic_count) {
    kiln_status_t status = reserve_tactics(allocator, out, tactic_count);
    if (status) {
      combination_free(allocator, out);
      return status;
    }
    memcpy(out->tactics, tactics, tactic_count * sizeof(int32_t));
    out->tactic_count = tactic_count;
  }
  return NULL;
}

// Adds |n| combinations (|types| and |formats| hold io_count entries each,
// one combination after another), all carrying |tactics|, which are valid.
// All or nothing: everything that can fail happens before |result| changes
// visibly (only spare capacity may remain).
static kiln_status_t add_combinations(kiln_autotune_result_t* result,
                                      const kiln_dtype_t* types,
                                      const kiln_format_t* formats, size_t n,
                                      const int32_t* tactics,
                                      size_t tactic_count) {
  size_t io = result->io_count;
  kiln_allocator_t allocator = result->allocator;
  // Pass 1: find what is new, and make room for the unions.
  size_t fresh = 0;
  for (size_t i = 0; i < n; ++i) {
    size_t found = result_find(result, types + i * io, formats + i * io);
    if (found == SIZE_MAX) {
      ++fresh;
      continue;
    }
    combination_t* entry = &result->entries[found];
    size_t union_count = entry->tactic_count;
    for (size_t t = 0; t < tactic_count; ++t) {
      if (!has_tactic(entry->tactics, entry->tactic_count, tactics[t])) {
        ++union_count;
      }
    }
    if (union_count > MAX_TACTICS) {
      return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                              "autotune combination %zu would have %zu "
                              "tactics; at most %d are allowed",
                              found, union_count, MAX_TACTICS);
    }
    KILN_RETURN_IF_ERROR(reserve_tactics(allocator, entry, union_count));
  }
  if (fresh > MAX_COMBINATIONS - result->count) {
    return kiln_make_status(KILN_STATUS_OUT_OF_RANGE,
                            "autotune result would hold more than %d "
                            "combinations",
                            MAX_COMBINATIONS);
  }
  KILN_RETURN_IF_ERROR(result_reserve(result, result->count + fresh));
  // Pass 2: make the new entries aside.
  combination_t* made = NULL;
  size_t made_count = 0;
  kiln_status_t status = NULL;
  if (fresh) {
    void* block = NULL;
    status =
        kiln_allocator_malloc(allocator, fresh * sizeof(combination_t), &block);
    made = (combination_t*)block;
  }
  for (size_t i = 0; i < n && !status && made_count < fresh; ++i) {
    if (result_find(result, types + i * io, formats + i * io) != SIZE_MAX) {
      continue;
    }
    status = combination_make(allocator, io, types + i * io, formats + i * io,
                              tactics, tactic_count, &made[made_count]);
    if (!status) ++made_count;
  }
  if (status) {
    for (size_t k = 0; k < made_count; ++k) {
      combination_free(allocator, &made[k]);
    }
    kiln_allocator_free(allocator, made);
    return status;
  }
  // Pass 3: commit; nothing here can fail.
  size_t old_count = result->count;
  size_t next = 0;
  for (size_t i = 0; i < n; ++i) {
    size_t found = result_find(result, types + i * io, formats + i * io);
    if (found == SIZE_MAX) {
      result->entries[result->count] = made[next++];
      index_insert(result, result->count);
      ++result->count;
    } else if (found < old_count) {
      combination_t* entry = &result->entries[found];
      for (size_t t = 0; t < tactic_count; ++t) {
        if (!has_tactic(entry->tactics, entry->tactic_count, tactics[t])) {
          entry->tactics[entry->tactic_count++] = tactics[t];
        }
      }
    } else {
      // A repeat within this batch: it carries the same tactics already.
      combination_free(allocator, &made[next++]);
    }
  }
  kiln_allocator_free(allocator, made);
  return NULL;
}

kiln_status_t kiln_autotune_result_add(
    kiln_autotune_result_t* result,
    const kiln_autotune_combination_t* combination) {
  if (!result || !combination) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "kiln_autotune_result_add: %s is NULL",
                            result ? "combination" : "result");
  }
  if (!combination->io_types || !combination->io_formats) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "autotune combination has no %s array",
                            combination->io_types ? "format" : "type");
  }
  for (size_t i = 0; i < result->io_count; ++i) {
    if ((unsigned)combination->io_types[i] >= KILN_DTYPE_COUNT) {
      return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                              "autotune combination position %zu has dtype "
                              "%d, which is not a kiln_dtype_t",
                              i, (int)combination->io_types[i]);
    }
    if ((unsigned)combination->io_formats[i] >= KILN_FORMAT_COUNT) {
      return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                              "autotune combination position %zu has format "
                              "%d, which is not a kiln_format_t",
                              i, (int)combination->io_formats[i]);
    }
  }
  KILN_RETURN_IF_ERROR(
      validate_tactics(combination->tactics, combination->tactic_count));
  return add_combinations(result, combination->io_types,
                          combination->io_formats, 1, combination->tactics,
                          combination->tactic_count);
}

//===----------------------------------------------------------------------===//
// The AutoTuneCombination grammar
//===----------------------------------------------------------------------===//

// One comma-separated entry of a spec.
typedef struct spec_entry_t {
  size_t offset;        // of the entry's first non-blank character
  char separator;       // '|' (dependent), '*' (independent) or 0 (single)
  size_t first_choice;  // index into spec_t.choices
  size_t choice_count;
} spec_entry_t;

// A parsed spec: its entries and the enum values of their choices.
typedef struct spec_t {
  const char* what;  // "io_types" or "layouts"
  spec_entry_t* entries;
  size_t entry_count;
  int32_t* choices;
  size_t choice_count;
} spec_t;

static bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
         c == '\v';
}

// Narrows [*begin, *end) of |text| past blanks at both ends.
static void trim(const char* text, size_t* begin, size_t* end) {
  while (*begin < *end && is_blank(text[*begin])) ++*begin;
  while (*end > *begin && is_blank(text[*end - 1])) --*end;
}

static kiln_status_t parse_choice(bool is_layout, kiln_string_view_t name,
                                  int32_t* out_value) {
  if (is_layout) {
    kiln_format_t format = KILN_FORMAT_LINEAR;
    KILN_RETURN_IF_ERROR(kiln_format_parse(name, &format));
    *out_value = (int32_t)format;
  } else {
    kiln_dtype_t dtype = KILN_DTYPE_FLOAT32;
    KILN_RETURN_IF_ERROR(kiln_dtype_parse(name, &dtype));
    *out_value = (int32_t)dtype;
  }
  return NULL;
}

static void spec_free(kiln_allocator_t allocator, spec_t* spec) {
  kiln_allocator_free(allocator, spec->entries);
  kiln_allocator_free(allocator, spec->choices);
  spec->entries = NULL;
  spec->choices = NULL;
}

// Parses one entry at [begin, end) of |text| (already trimmed, non-empty).
static kiln_status_t parse_entry(const char* text, size_t begin, size_t end,
                                 bool is_layout, spec_t* spec) {
  size_t index = spec->entry_count;
  spec_entry_t* entry = &spec->entries[index];
  entry->offset = begin;
  entry->first_choice = spec->choice_count;
  entry->separator = 0;
  for (size_t i = begin; i < end; ++i) {
    char c = text[i];
    if (c != '|' && c != '*') continue;
    if (entry->separator && entry->separator != c) {
      return kiln_make_status(
          KILN_STATUS_INVALID_ARGUMENT,
          "%s entry %zu at offset %zu mixes '|' and '*' ('%.*s'); use one "
          "kind of separator per entry",
          spec->what, index, i, (int)(end - begin), text + begin);
    }
    entry->separator = c;
  }
  size_t choice_begin = begin;
  for (size_t i = begin; i <= end; ++i) {
    if (i < end && text[i] != entry->separator) continue;
    size_t b = choice_begin;
    size_t e = i;
    trim(text, &b, &e);
    if (b == e) {
      return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                              "%s entry %zu at offset %zu has an empty "
                              "choice",
                              spec->what, index, b);
    }
    int32_t value = 0;
    kiln_status_t status =
        parse_choice(is_layout, kiln_make_string_view(text + b, e - b), &value);
    if (status) {
      return kiln_status_annotate(status, "%s entry %zu at offset %zu",
                                  spec->what, index, b);
    }
    spec->choices[spec->choice_count++] = value;
    choice_begin = i + 1;
    if (!entry->separator) break;
  }
  entry->choice_count = spec->choice_count - entry->first_choice;
  if (entry->choice_count == 1) entry->separator = 0;
  ++spec->entry_count;
  return NULL;
}

// Parses |text| into |spec|, whose arrays the caller frees with spec_free.
static kiln_status_t spec_parse(kiln_allocator_t allocator, const char* text,
                                bool is_layout, spec_t* spec) {
  size_t length = strlen(text);
  // Every entry and every choice is delimited by one character at least.
  size_t max_entries = 1;
  size_t max_choices = 1;
  for (size_t i = 0; i < length; ++i) {
    if (text[i] == ',') ++max_entries;
    if (text[i] == ',' || text[i] == '|' || text[i] == '*') ++max_choices;
  }
  size_t entries_size = 0;
  size_t choices_size = 0;
  KILN_RETURN_IF_ERROR(kiln__size_mul(max_entries, sizeof(spec_entry_t),
                                      "autotune spec", &entries_size));
  KILN_RETURN_IF_ERROR(kiln__size_mul(max_choices, sizeof(int32_t),
                                      "autotune spec", &choices_size));
  void* block = NULL;
  KILN_RETURN_IF_ERROR(kiln_allocator_malloc(allocator, entries_size, &block));
  spec->entries = (spec_entry_t*)block;
  KILN_RETURN_IF_ERROR(kiln_allocator_malloc(allocator, choices_size, &block));
  spec->choices = (int32_t*)block;
  size_t entry_begin = 0;
  for (size_t i = 0; i <= length; ++i) {
    if (i < length && text[i] != ',') continue;
    size_t b = entry_begin;
    size_t e = i;
    trim(text, &b, &e);
    if (b == e) {
      return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                              "%s entry %zu at offset %zu is empty", spec->what,
                              spec->entry_count, b);
    }
    KILN_RETURN_IF_ERROR(parse_entry(text, b, e, is_layout, spec));
    entry_begin = i + 1;
  }
  return NULL;
}

// Expands |spec| over |positions| positions (its entries, or its one entry
// broadcast) into rows of enum values, in TensorRT's order: the dependent
// choices first, then each independent position in turn multiplies the rows
// so far. |*out_rows| is freed by the caller.
static kiln_status_t spec_expand(kiln_allocator_t allocator, const spec_t* spec,
                                 size_t positions, int32_t** out_rows,
                                 size_t* out_row_count) {
  *out_rows = NULL;
  *out_row_count = 0;
  const spec_entry_t* first_dependent = NULL;
  size_t first_dependent_index = 0;
  size_t rows = 1;
  for (size_t p = 0; p < positions; ++p) {
    size_t j = spec->entry_count == 1 ? 0 : p;
    const spec_entry_t* entry = &spec->entries[j];
    if (entry->separator == '|') {
      if (!first_dependent) {
        first_dependent = entry;
        first_dependent_index = j;
      } else if (entry->choice_count != first_dependent->choice_count) {
        return kiln_make_status(
            KILN_STATUS_INVALID_ARGUMENT,
            "%s entry %zu at offset %zu has %zu dependent ('|') choices but "
            "entry %zu has %zu; dependent entries must have equal lengths",
            spec->what, j, entry->offset, entry->choice_count,
            first_dependent_index, first_dependent->choice_count);
      }
    }
  }
  if (first_dependent) rows = first_dependent->choice_count;
  for (size_t p = 0; p < positions; ++p) {
    const spec_entry_t* entry = &spec->entries[spec->entry_count == 1 ? 0 : p];
    if (entry->separator != '*') continue;
    if (!kiln_size_checked_mul(rows, entry->choice_count, &rows) ||
        rows > MAX_COMBINATIONS) {
      return kiln_make_status(KILN_STATUS_OUT_OF_RANGE,
                              "%s expands to more than %d combinations",
                              spec->what, MAX_COMBINATIONS);
    }
  }
  size_t cells = 0;
  size_t bytes = 0;
  KILN_RETURN_IF_ERROR(
      kiln__size_mul(rows, positions, "autotune expansion", &cells));
  KILN_RETURN_IF_ERROR(
      kiln__size_mul(cells, sizeof(int32_t), "autotune expansion", &bytes));
  void* block = NULL;
  KILN_RETURN_IF_ERROR(kiln_allocator_malloc(allocator, bytes, &block));
  int32_t* out = (int32_t*)block;
  // The first rows: choice k of every dependent entry in row k, choice 0 of
  // everything else.
  size_t filled = first_dependent ? first_dependent->choice_count : 1;
  for (size_t r = 0; r < filled; ++r) {
    for (size_t p = 0; p < positions; ++p) {
      const spec_entry_t* entry =
          &spec->entries[spec->entry_count == 1 ? 0 : p];
      size_t k = entry->separator == '|' ? r : 0;
      out[r * positions + p] = spec->choices[entry->first_choice + k];
    }
  }
  // Each independent position appends copies of the rows so far with its
  // choice 1, then 2, and so on.
  for (size_t p = 0; p < positions; ++p) {
    const spec_entry_t* entry = &spec->entries[spec->entry_count == 1 ? 0 : p];
    if (entry->separator != '*') continue;
    size_t base = filled;
    for (size_t k = 1; k < entry->choice_count; ++k) {
      for (size_t r = 0; r < base; ++r) {
        int32_t* row = out + (k * base + r) * positions;
        memcpy(row, out + r * positions, positions * sizeof(int32_t));
        row[p] = spec->choices[entry->first_choice + k];
      }
    }
    filled = base * entry->choice_count;
  }
  *out_rows = out;
  *out_row_count = rows;
  return NULL;
}

// Parses and expands both strings, then crosses types with layouts.
static kiln_status_t add_spec(kiln_autotune_result_t* result,
                              const char* io_types, const char* layouts,
                              const int32_t* tactics, size_t tactic_count,
                              spec_t* type_spec, spec_t* layout_spec,
                              int32_t** type_rows, int32_t** layout_rows,
                              void** combos) {
  kiln_allocator_t allocator = result->allocator;
  size_t io = result->io_count;
  KILN_RETURN_IF_ERROR(validate_tactics(tactics, tactic_count));
  KILN_RETURN_IF_ERROR(spec_parse(allocator, io_types, false, type_spec));
  if (type_spec->entry_count != io) {
    return kiln_make_status(
        KILN_STATUS_INVALID_ARGUMENT,
        "io_types has %zu entries; expected %zu (one per input, then one per "
        "output)",
        type_spec->entry_count, io);
  }
  size_t i = 0;
  while (layouts && layouts[i] && is_blank(layouts[i])) ++i;
  if (!layouts || !layouts[i]) layouts = "LINEAR";
  KILN_RETURN_IF_ERROR(spec_parse(allocator, layouts, true, layout_spec));
  if (layout_spec->entry_count != 1 && layout_spec->entry_count != io) {
    return kiln_make_status(
        KILN_STATUS_INVALID_ARGUMENT,
        "layouts has %zu entries; expected 1 (used for every position) or "
        "%zu",
        layout_spec->entry_count, io);
  }
  size_t type_count = 0;
  size_t layout_count = 0;
  KILN_RETURN_IF_ERROR(
      spec_expand(allocator, type_spec, io, type_rows, &type_count));
  KILN_RETURN_IF_ERROR(
      spec_expand(allocator, layout_spec, io, layout_rows, &layout_count));
  size_t total = 0;
  if (!kiln_size_checked_mul(type_count, layout_count, &total) ||
      total > MAX_COMBINATIONS) {
    return kiln_make_status(KILN_STATUS_OUT_OF_RANGE,
                            "io_types and layouts expand to more than %d "
                            "combinations",
                            MAX_COMBINATIONS);
  }
  // Both arrays in one block: every type row crossed with every layout row.
  size_t cells = total * io;
  size_t bytes = 0;
  KILN_RETURN_IF_ERROR(
      kiln__size_mul(cells, sizeof(kiln_dtype_t) + sizeof(kiln_format_t),
                     "autotune spec", &bytes));
  KILN_RETURN_IF_ERROR(kiln_allocator_malloc(allocator, bytes, combos));
  kiln_dtype_t* types = (kiln_dtype_t*)*combos;
  kiln_format_t* formats = (kiln_format_t*)(types + cells);
  size_t row = 0;
  for (size_t t = 0; t < type_count; ++t) {
    for (size_t l = 0; l < layout_count; ++l, ++row) {
      for (size_t p = 0; p < io; ++p) {
        types[row * io + p] = (kiln_dtype_t)(*type_rows)[t * io + p];
        formats[row * io + p] = (kiln_format_t)(*layout_rows)[l * io + p];
      }
    }
  }
  return add_combinations(result, types, formats, total, tactics, tactic_count);
}

kiln_status_t kiln_autotune_result_add_spec(kiln_autotune_result_t* result,
                                            const char* io_types,
                                            const char* layouts,
                                            const int32_t* tactics,
                                            size_t tactic_count) {
  if (!result) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "kiln_autotune_result_add_spec: result is NULL");
  }
  if (!io_types) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "kiln_autotune_result_add_spec: io_types is NULL");
  }
  spec_t type_spec = {"io_types", NULL, 0, NULL, 0};
  spec_t layout_spec = {"layouts", NULL, 0, NULL, 0};
  int32_t* type_rows = NULL;
  int32_t* layout_rows = NULL;
  void* combos = NULL;
  kiln_status_t status =
      add_spec(result, io_types, layouts, tactics, tactic_count, &type_spec,
               &layout_spec, &type_rows, &layout_rows, &combos);
  spec_free(result->allocator, &type_spec);
  spec_free(result->allocator, &layout_spec);
  kiln_allocator_free(result->allocator, type_rows);
  kiln_allocator_free(result->allocator, layout_rows);
  kiln_allocator_free(result->allocator, combos);
  return status;
}
