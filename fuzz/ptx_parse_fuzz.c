// Fuzzes the PTX inspector and the cubin checker with the same bytes: both
// read untrusted input (a plugin's kernel image, an engine's blob section).
// Besides not crashing, what they report must be consistent.

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cuda/cubin.h"
#include "cuda/ptx.h"
#include "kiln/kiln.h"

int ptx_parse_fuzz_entry(const uint8_t* data, size_t size);

// A broken invariant is a kiln bug: crash so that the fuzzer records it.
#define CHECK(cond)                                                        \
  do {                                                                     \
    if (!(cond)) {                                                         \
      fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, \
              #cond);                                                      \
      __builtin_trap();                                                    \
    }                                                                      \
  } while (0)

static void check_entry(const kiln__ptx_entry_t* entry) {
  size_t end = 0;
  for (size_t i = 0; i < entry->param_count; ++i) {
    const kiln__ptx_param_t* p = &entry->params[i];
    CHECK(p->name.size > 0);
    CHECK((unsigned)p->type < KILN__PTX_TYPE_COUNT);
    CHECK(p->element_size == kiln__ptx_type_size(p->type));
    CHECK(p->align > 0 && (p->align & (p->align - 1)) == 0);
    CHECK(p->offset % p->align == 0);
    CHECK(p->offset >= end);
    CHECK(p->size >= p->element_size);
    end = p->offset + p->size;
  }
  CHECK(end == entry->param_bytes);
}

int ptx_parse_fuzz_entry(const uint8_t* data, size_t size) {
  kiln_const_bytes_t bytes = {data, size};
  kiln__ptx_header_t header;
  kiln_status_t status = kiln__ptx_read_header(bytes, &header);
  bool header_ok = status == NULL;
  kiln_status_free(status);

  static const char* const names[] = {"add_kernel", "add_one", "mixed"};
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); ++i) {
    kiln__ptx_entry_t entry;
    status = kiln__ptx_find_entry(bytes, kiln_make_cstring_view(names[i]),
                                  kiln_allocator_system(), &entry);
    kiln_status_code_t code = kiln_status_code(status);
    CHECK(code == KILN_STATUS_OK || code == KILN_STATUS_DATA_LOSS ||
          code == KILN_STATUS_NOT_FOUND || code == KILN_STATUS_OUT_OF_RANGE);
    // The header scan and the entry scan read the text the same way; only
    // the entry scan notices the entry it looks for defined twice.
    if (!header_ok) {
      CHECK(code != KILN_STATUS_OK && code != KILN_STATUS_NOT_FOUND);
    } else if (code == KILN_STATUS_DATA_LOSS) {
      CHECK(strstr(kiln_status_message(status), "is defined twice") != NULL);
    } else {
      CHECK(code == KILN_STATUS_OK || code == KILN_STATUS_NOT_FOUND);
    }
    if (!status) {
      CHECK(
          kiln_string_view_equal(entry.name, kiln_make_cstring_view(names[i])));
      CHECK(memcmp(&entry.header, &header, sizeof(header)) == 0);
      check_entry(&entry);
    }
    kiln__ptx_entry_deinit(&entry);
    kiln_status_free(status);
  }

  kiln__cubin_info_t info;
  status = kiln__cubin_inspect(bytes, &info);
  kiln_status_code_t inspect_code = kiln_status_code(status);
  CHECK(inspect_code == KILN_STATUS_OK ||
        inspect_code == KILN_STATUS_DATA_LOSS);
  kiln_status_free(status);
  kiln__cubin_function_t function;
  status = kiln__cubin_find_function(bytes, kiln_make_cstring_view("add_one"),
                                     &function);
  kiln_status_code_t find_code = kiln_status_code(status);
  CHECK(find_code == KILN_STATUS_OK || find_code == KILN_STATUS_DATA_LOSS ||
        find_code == KILN_STATUS_NOT_FOUND);
  // A cubin the header check refuses is refused by the lookup too.
  CHECK(inspect_code == KILN_STATUS_OK || find_code == KILN_STATUS_DATA_LOSS);
  kiln_status_free(status);
  return 0;
}
