// Tests of src/base: status, allocator, size math, arena, bytes, hashing.

#include "base/base.h"

#include <stdio.h>
#include <stdlib.h>

#include "base/arena.h"
#include "base/bytes.h"
#include "base/hash.h"
#include "base/log.h"
#include "base/size.h"
#include "test.h"

TEST(version_matches_header) {
  ASSERT_EQ_I64(kiln_version(), KILN_VERSION_NUMBER);
  char expected[32];
  snprintf(expected, sizeof(expected), "%d.%d.%d", KILN_VERSION_MAJOR,
           KILN_VERSION_MINOR, KILN_VERSION_PATCH);
  ASSERT_EQ_STR(kiln_version_string(), expected);
}

TEST(status_ok_is_null) {
  ASSERT_EQ_I64(kiln_status_code(NULL), KILN_STATUS_OK);
  ASSERT_EQ_STR(kiln_status_message(NULL), "");
  ASSERT_EQ_PTR(kiln_make_status(KILN_STATUS_OK, "ignored"), NULL);
  ASSERT_EQ_PTR(kiln_status_annotate(NULL, "ctx"), NULL);
  kiln_status_free(NULL);
}

TEST(status_make_and_annotate) {
  kiln_status_t s =
      kiln_make_status(KILN_STATUS_NOT_FOUND, "plugin '%s' missing", "a::b");
  ASSERT_EQ_I64(kiln_status_code(s), KILN_STATUS_NOT_FOUND);
  ASSERT_EQ_STR(kiln_status_message(s), "plugin 'a::b' missing");
  ASSERT_CONTAINS(kiln_status_location(s), "base_test.c:");
  s = kiln_status_annotate(s, "loading layer %d", 3);
  ASSERT_EQ_STR(kiln_status_message(s),
                "loading layer 3: plugin 'a::b' missing");
  ASSERT_EQ_I64(kiln_status_code(s), KILN_STATUS_NOT_FOUND);
  kiln_status_free(s);
  // An out-of-enum code becomes INTERNAL rather than an unnamed value.
  s = kiln_make_status((kiln_status_code_t)99, "x");
  ASSERT_EQ_I64(kiln_status_code(s), KILN_STATUS_INTERNAL);
  kiln_status_free(s);
}

TEST(status_code_names) {
  ASSERT_EQ_STR(kiln_status_code_name(KILN_STATUS_OK), "OK");
  ASSERT_EQ_STR(kiln_status_code_name(KILN_STATUS_INVALID_ARGUMENT),
                "INVALID_ARGUMENT");
  ASSERT_EQ_STR(kiln_status_code_name(KILN_STATUS_DATA_LOSS), "DATA_LOSS");
  ASSERT_EQ_STR(kiln_status_code_name(KILN_STATUS_DEVICE_LOST), "DEVICE_LOST");
  ASSERT_EQ_STR(kiln_status_code_name(KILN_STATUS_INTERNAL), "INTERNAL");
  ASSERT_EQ_STR(kiln_status_code_name(KILN_STATUS_CODE_COUNT), "UNKNOWN");
  ASSERT_EQ_STR(kiln_status_code_name((kiln_status_code_t)-1), "UNKNOWN");
}

TEST(status_join_keeps_first) {
  kiln_status_t a = kiln_make_status(KILN_STATUS_DATA_LOSS, "first");
  kiln_status_t b = kiln_make_status(KILN_STATUS_INTERNAL, "second");
  kiln_status_t j = kiln_status_join(a, b);
  ASSERT_EQ_STR(kiln_status_message(j), "first");
  kiln_status_free(j);
  j = kiln_status_join(NULL, kiln_make_status(KILN_STATUS_INTERNAL, "only"));
  ASSERT_EQ_STR(kiln_status_message(j), "only");
  kiln_status_free(j);
  ASSERT_EQ_PTR(kiln_status_join(NULL, NULL), NULL);
}

TEST(allocator_system_roundtrip) {
  kiln_allocator_t a = kiln_allocator_system();
  void* p = NULL;
  ASSERT_OK(kiln_allocator_malloc(a, 64, &p));
  ASSERT_TRUE(p != NULL);
  for (int i = 0; i < 64; ++i) ASSERT_EQ_I64(((uint8_t*)p)[i], 0);
  ASSERT_OK(kiln_allocator_realloc(a, 4096, &p));
  kiln_allocator_free(a, p);
  kiln_allocator_free(a, NULL);
}

TEST(allocator_failure_is_status) {
  kiln_test_allocator_t ta = kiln_test_allocator_failing_at(1);
  kiln_allocator_t a = kiln_test_allocator_get(&ta);
  void* p = NULL;
  ASSERT_OK(kiln_allocator_malloc(a, 16, &p));
  void* q = (void*)&q;
  ASSERT_STATUS(kiln_allocator_malloc(a, 32, &q),
                KILN_STATUS_RESOURCE_EXHAUSTED, "32 bytes");
  ASSERT_EQ_PTR(q, NULL);
  // A failed realloc leaves the block as it was.
  ta.fail_at = ta.allocations;
  void* keep = p;
  ASSERT_STATUS(kiln_allocator_realloc(a, 1024, &p),
                KILN_STATUS_RESOURCE_EXHAUSTED, "1024 bytes");
  ASSERT_EQ_PTR(p, keep);
  kiln_allocator_free(a, p);
  ASSERT_EQ_U64(ta.live, 0);
  ASSERT_EQ_U64(ta.live_bytes, 0);
}

TEST(size_checked_math) {
  size_t out = 0;
  ASSERT_TRUE(kiln_size_checked_add(1, 2, &out));
  ASSERT_EQ_U64(out, 3);
  ASSERT_FALSE(kiln_size_checked_add(SIZE_MAX, 1, &out));
  ASSERT_TRUE(kiln_size_checked_mul(SIZE_MAX / 2, 2, &out));
  ASSERT_FALSE(kiln_size_checked_mul(SIZE_MAX / 2 + 1, 2, &out));
  ASSERT_TRUE(kiln_size_checked_align(13, 8, &out));
  ASSERT_EQ_U64(out, 16);
  ASSERT_TRUE(kiln_size_checked_align(16, 8, &out));
  ASSERT_EQ_U64(out, 16);
  ASSERT_FALSE(kiln_size_checked_align(SIZE_MAX - 2, 8, &out));
  ASSERT_FALSE(kiln_size_checked_align(5, 3, &out));
  ASSERT_STATUS(kiln__size_mul(SIZE_MAX, 3, "tensor bytes", &out),
                KILN_STATUS_OUT_OF_RANGE, "tensor bytes overflows");
  ASSERT_STATUS(kiln__size_add(SIZE_MAX, 3, "blob end", &out),
                KILN_STATUS_OUT_OF_RANGE, "blob end overflows");
}

TEST(arena_alloc_and_alignment) {
  kiln_test_allocator_t ta = kiln_test_allocator_make();
  kiln__arena_t arena;
  kiln__arena_init(&arena, kiln_test_allocator_get(&ta));
  for (size_t i = 0; i < 2000; ++i) {
    void* p = NULL;
    size_t align = (size_t)1 << (i % 7);
    ASSERT_OK(kiln__arena_alloc(&arena, 1 + i % 97, align, &p));
    ASSERT_EQ_U64((uintptr_t)p % align, 0);
    ASSERT_EQ_I64(((uint8_t*)p)[0], 0);
    memset(p, 0xab, 1 + i % 97);
  }
  void* big = NULL;
  ASSERT_OK(kiln__arena_alloc(&arena, 3u << 20, 16, &big));
  memset(big, 1, 3u << 20);
  void* after = NULL;
  ASSERT_OK(kiln__arena_alloc(&arena, 8, 8, &after));
  ASSERT_STATUS(kiln__arena_alloc(&arena, 8, 3, &after), KILN_STATUS_INTERNAL,
                "alignment");
  ASSERT_STATUS(kiln__arena_alloc(&arena, SIZE_MAX - 8, 8, &after),
                KILN_STATUS_OUT_OF_RANGE, "overflows");
  kiln__arena_deinit(&arena);
  ASSERT_EQ_U64(ta.live, 0);
}

TEST(arena_oom_sweep) {
  for (size_t fail_at = 0;; ++fail_at) {
    kiln_test_allocator_t ta = kiln_test_allocator_failing_at(fail_at);
    kiln__arena_t arena;
    kiln__arena_init(&arena, kiln_test_allocator_get(&ta));
    kiln_status_t status = NULL;
    for (int i = 0; i < 3000 && !status; ++i) {
      void* p = NULL;
      status = kiln__arena_alloc(&arena, 24, 8, &p);
    }
    kiln__arena_deinit(&arena);
    ASSERT_EQ_U64(ta.live, 0);
    if (!status) break;
    ASSERT_EQ_I64(kiln_status_code(status), KILN_STATUS_RESOURCE_EXHAUSTED);
    kiln_status_free(status);
    ASSERT_TRUE(fail_at < 100);
  }
}

TEST(bytes_varint_roundtrip) {
  kiln_test_allocator_t ta = kiln_test_allocator_make();
  kiln__writer_t w;
  kiln__writer_init(&w, kiln_test_allocator_get(&ta));
  static const int64_t values[] = {
      0,   1,   -1,        63,        -64,       64,       127,
      128, 300, INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN};
  for (size_t i = 0; i < KILN_ARRAYSIZE(values); ++i) {
    ASSERT_OK(kiln__writer_svarint(&w, values[i]));
    ASSERT_OK(kiln__writer_varint(&w, (uint64_t)values[i]));
  }
  ASSERT_OK(kiln__writer_u32(&w, 0xdeadbeefu));
  ASSERT_OK(kiln__writer_u64(&w, UINT64_C(0x0123456789abcdef)));
  ASSERT_OK(kiln__writer_align(&w, 64));
  ASSERT_EQ_U64(w.size % 64, 0);
  kiln__reader_t r;
  kiln_const_bytes_t bytes = {w.data, w.size};
  kiln__reader_init(&r, bytes, 0);
  for (size_t i = 0; i < KILN_ARRAYSIZE(values); ++i) {
    int64_t s;
    uint64_t u;
    ASSERT_OK(kiln__reader_svarint(&r, "value", &s));
    ASSERT_EQ_I64(s, values[i]);
    ASSERT_OK(kiln__reader_varint(&r, "value", &u));
    ASSERT_EQ_U64(u, (uint64_t)values[i]);
  }
  uint32_t v32;
  uint64_t v64;
  ASSERT_OK(kiln__reader_u32(&r, "u32", &v32));
  ASSERT_EQ_U64(v32, 0xdeadbeefu);
  ASSERT_OK(kiln__reader_u64(&r, "u64", &v64));
  ASSERT_EQ_U64(v64, UINT64_C(0x0123456789abcdef));
  kiln__writer_deinit(&w);
  ASSERT_EQ_U64(ta.live, 0);
}

TEST(bytes_reader_rejects_truncation) {
  static const uint8_t long_varint[11] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                          0x80, 0x80, 0x80, 0x80, 0x01};
  static const uint8_t wide_varint[10] = {0xff, 0xff, 0xff, 0xff, 0xff,
                                          0xff, 0xff, 0xff, 0xff, 0x02};
  static const uint8_t three[3] = {1, 2, 0x80};
  kiln__reader_t r;
  uint64_t u;
  uint32_t v;
  kiln_const_bytes_t b1 = {long_varint, sizeof(long_varint)};
  kiln__reader_init(&r, b1, 100);
  ASSERT_STATUS(kiln__reader_varint(&r, "node count", &u),
                KILN_STATUS_DATA_LOSS, "byte offset 100: node count is longer");
  kiln_const_bytes_t b2 = {wide_varint, sizeof(wide_varint)};
  kiln__reader_init(&r, b2, 0);
  ASSERT_STATUS(kiln__reader_varint(&r, "constant", &u), KILN_STATUS_DATA_LOSS,
                "does not fit in 64 bits");
  kiln_const_bytes_t b3 = {three, sizeof(three)};
  kiln__reader_init(&r, b3, 8);
  ASSERT_STATUS(
      kiln__reader_u32(&r, "section size", &v), KILN_STATUS_DATA_LOSS,
      "truncated at byte offset 8: section size needs 4 bytes, 3 remain");
  kiln__reader_init(&r, b3, 0);
  uint8_t byte;
  ASSERT_OK(kiln__reader_u8(&r, "a", &byte));
  ASSERT_OK(kiln__reader_u8(&r, "b", &byte));
  ASSERT_STATUS(kiln__reader_varint(&r, "tail", &u), KILN_STATUS_DATA_LOSS,
                "truncated at byte offset 3");
}

TEST(edit_distance) {
  kiln_string_view_t a = kiln_make_cstring_view("my::add_plugin");
  kiln_string_view_t b = kiln_make_cstring_view("my::ad_plugin");
  ASSERT_EQ_U64(kiln__edit_distance(a, b, 100), 1);
  ASSERT_EQ_U64(kiln__edit_distance(a, a, 100), 0);
  ASSERT_EQ_U64(kiln__edit_distance(kiln_make_cstring_view("kitten"),
                                    kiln_make_cstring_view("sitting"), 100),
                3);
  ASSERT_EQ_U64(kiln__edit_distance(kiln_make_cstring_view("abc"),
                                    kiln_make_cstring_view("xyzw"), 2),
                2);
  ASSERT_EQ_U64(kiln__edit_distance(kiln_make_cstring_view(""),
                                    kiln_make_cstring_view("abc"), 100),
                3);
}

TEST(crc32c_known_vector) {
  ASSERT_EQ_U64(kiln__crc32c(0, "123456789", 9), 0xe3069283u);
  uint32_t part = kiln__crc32c(0, "1234", 4);
  ASSERT_EQ_U64(kiln__crc32c(part, "56789", 5), 0xe3069283u);
  ASSERT_TRUE(kiln__hash_bytes(KILN_HASH_SEED, "a", 1) !=
              kiln__hash_bytes(KILN_HASH_SEED, "b", 1));
}

typedef struct log_capture_t {
  int count;
  kiln_log_level_t last_level;
  char last[128];
} log_capture_t;

static void capture_log(void* user_data, kiln_log_level_t level,
                        const char* message) {
  log_capture_t* c = (log_capture_t*)user_data;
  c->count++;
  c->last_level = level;
  snprintf(c->last, sizeof(c->last), "%s", message);
}

TEST(logger_levels) {
  log_capture_t c;
  memset(&c, 0, sizeof(c));
  kiln_logger_t logger = {capture_log, &c, KILN_LOG_LEVEL_INFO};
  kiln__log(&logger, KILN_LOG_LEVEL_VERBOSE, "dropped %d", 1);
  ASSERT_EQ_I64(c.count, 0);
  kiln__log(&logger, KILN_LOG_LEVEL_WARNING, "kept %d", 2);
  ASSERT_EQ_I64(c.count, 1);
  ASSERT_EQ_STR(c.last, "kept 2");
  ASSERT_EQ_I64(c.last_level, KILN_LOG_LEVEL_WARNING);
  kiln__log(NULL, KILN_LOG_LEVEL_ERROR, "no logger");
  ASSERT_EQ_STR(kiln_log_level_name(KILN_LOG_LEVEL_INFO), "INFO");
  kiln_logger_t err = kiln_logger_stderr();
  ASSERT_EQ_I64(err.max_level, KILN_LOG_LEVEL_WARNING);
}
