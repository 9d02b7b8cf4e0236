// Fuzz target for the verifying engine reader: arbitrary bytes must give a
// plan or DATA_LOSS / INCOMPATIBLE, never a crash, a leak or undefined
// behavior. An accepted engine must also describe (text and JSON) and write
// again, and writing is a fixed point: reading and writing what was written
// gives the same bytes.
//
// Built as a libFuzzer target it also has a custom mutator: after
// libFuzzer's mutation it recomputes the file size and every checksum of
// half of the inputs that look like engines, so that mutations reach the
// checks of meaning instead of stopping at a checksum.

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/bytes.h"
#include "base/hash.h"
#include "engine/engine.h"
#include "engine/format.h"

int engine_load_fuzz_entry(const uint8_t* data, size_t size);

static void die(const char* what, kiln_status_t status) {
  fprintf(stderr, "engine_load_fuzz: %s: %s: %s\n", what,
          kiln_status_code_name(kiln_status_code(status)),
          kiln_status_message(status));
  abort();
}

// Reads |bytes| and writes the plan again into |out|. Returns false when
// the bytes are refused (with an allowed code).
static bool read_and_write(kiln_const_bytes_t bytes, kiln__writer_t* out,
                           bool describe) {
  kiln_allocator_t allocator = kiln_allocator_system();
  kiln__plan_t* plan = NULL;
  kiln_status_t status = kiln__engine_read(bytes, allocator, &plan);
  if (status) {
    kiln_status_code_t code = kiln_status_code(status);
    if (code != KILN_STATUS_DATA_LOSS && code != KILN_STATUS_INCOMPATIBLE) {
      die("read failed with an unexpected code", status);
    }
    kiln_status_free(status);
    return false;
  }
  if (describe) {
    for (int json = 0; json < 2; ++json) {
      kiln_blob_t* text = NULL;
      status = kiln_engine_describe(bytes, json != 0, allocator, &text);
      if (status) die("describing an accepted engine failed", status);
      kiln_const_bytes_t t = kiln_blob_bytes(text);
      if (t.data[t.size] != '\0' || strlen((const char*)t.data) != t.size) {
        fprintf(stderr, "engine_load_fuzz: description holds a NUL\n");
        abort();
      }
      kiln_blob_destroy(text);
    }
  }
  status = kiln__engine_write(plan, out);
  kiln__plan_destroy(plan);
  if (status) die("writing an accepted engine failed", status);
  return true;
}

int engine_load_fuzz_entry(const uint8_t* data, size_t size) {
  kiln_const_bytes_t bytes = {data, size};
  kiln__writer_t first, second;
  kiln__writer_init(&first, kiln_allocator_system());
  kiln__writer_init(&second, kiln_allocator_system());
  if (read_and_write(bytes, &first, true)) {
    kiln_const_bytes_t written = {first.data, first.size};
    if (!read_and_write(written, &second, false)) {
      fprintf(stderr, "engine_load_fuzz: a written engine is refused\n");
      abort();
    }
    if (first.size != second.size ||
        memcmp(first.data, second.data, first.size) != 0) {
      fprintf(stderr, "engine_load_fuzz: writing is not a fixed point\n");
      abort();
    }
  }
  kiln__writer_deinit(&first);
  kiln__writer_deinit(&second);
  return 0;
}

#if defined(KILN_FUZZ_ENTRY)

size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size,
                               unsigned int seed);

// Makes the header and table checksums, the section checksums and the file
// size match the bytes, where the header and table are in bounds.
static void fix_checksums(uint8_t* d, size_t n) {
  if (n < KILN__HEADER_SIZE ||
      memcmp(d, KILN__ENGINE_MAGIC, KILN__ENGINE_MAGIC_SIZE) != 0) {
    return;
  }
  kiln__le_put_u64(d + KILN__HEADER_OFF_FILE_SIZE, n);
  uint32_t count = kiln__le_u32(d + KILN__HEADER_OFF_SECTION_COUNT);
  if (count > KILN__ENGINE_MAX_SECTIONS ||
      KILN__HEADER_SIZE + (size_t)count * KILN__SECTION_ENTRY_SIZE > n) {
    return;
  }
  for (uint32_t i = 0; i < count; ++i) {
    uint8_t* e = d + KILN__HEADER_SIZE + (size_t)i * KILN__SECTION_ENTRY_SIZE;
    uint64_t offset = kiln__le_u64(e + KILN__SECTION_OFF_OFFSET);
    uint64_t bytes = kiln__le_u64(e + KILN__SECTION_OFF_SIZE);
    if (offset <= n && bytes <= n - offset) {
      kiln__le_put_u32(e + KILN__SECTION_OFF_CRC,
                       kiln__crc32c(0, d + offset, (size_t)bytes));
    }
  }
  kiln__le_put_u32(d + KILN__HEADER_OFF_TABLE_CRC,
                   kiln__crc32c(0, d + KILN__HEADER_SIZE,
                                (size_t)count * KILN__SECTION_ENTRY_SIZE));
  kiln__le_put_u32(d + KILN__HEADER_OFF_HEADER_CRC,
                   kiln__crc32c(0, d, KILN__HEADER_OFF_HEADER_CRC));
}

size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size,
                               unsigned int seed) {
  size = LLVMFuzzerMutate(data, size, max_size);
  if (seed % 2 == 0) fix_checksums(data, size);
  return size;
}

#endif  // KILN_FUZZ_ENTRY
