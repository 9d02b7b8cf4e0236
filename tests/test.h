// The plain-C test framework: TEST() functions listed in X-macro tables,
// assertions that print both operands and return, SKIP with a reason.

#ifndef KILN_TESTS_TEST_H_
#define KILN_TESTS_TEST_H_

#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kiln/kiln.h"
#include "kiln/kiln_plugin.h"

typedef struct kiln_test_t {
  const char* name;
  int failed;
  int skipped;
  char message[1024];
} kiln_test_t;

void kiln_test_fail(kiln_test_t* t, const char* file, int line,
                    const char* format, ...) KILN_PRINTF(4, 5);
void kiln_test_skip(kiln_test_t* t, const char* format, ...) KILN_PRINTF(2, 3);

#define TEST(name) void test_##name(kiln_test_t* t_)

#define FAIL(...)                                        \
  do {                                                   \
    kiln_test_fail(t_, __FILE__, __LINE__, __VA_ARGS__); \
    return;                                              \
  } while (0)

#define SKIP(...)                    \
  do {                               \
    kiln_test_skip(t_, __VA_ARGS__); \
    return;                          \
  } while (0)

#define ASSERT_TRUE(cond)                          \
  do {                                             \
    if (!(cond)) FAIL("expected true: %s", #cond); \
  } while (0)

#define ASSERT_FALSE(cond)                       \
  do {                                           \
    if (cond) FAIL("expected false: %s", #cond); \
  } while (0)

#define ASSERT_EQ_I64(a, b)                                          \
  do {                                                               \
    int64_t a_ = (int64_t)(a), b_ = (int64_t)(b);                    \
    if (a_ != b_)                                                    \
      FAIL("%s == %s (%" PRId64 " vs %" PRId64 ")", #a, #b, a_, b_); \
  } while (0)

#define ASSERT_EQ_U64(a, b)                                          \
  do {                                                               \
    uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b);                 \
    if (a_ != b_)                                                    \
      FAIL("%s == %s (%" PRIu64 " vs %" PRIu64 ")", #a, #b, a_, b_); \
  } while (0)

#define ASSERT_EQ_PTR(a, b)                                    \
  do {                                                         \
    const void* a_ = (const void*)(a);                         \
    const void* b_ = (const void*)(b);                         \
    if (a_ != b_) FAIL("%s == %s (%p vs %p)", #a, #b, a_, b_); \
  } while (0)

#define ASSERT_EQ_STR(a, b)                                           \
  do {                                                                \
    const char* a_ = (a);                                             \
    const char* b_ = (b);                                             \
    if (!a_ || !b_ || strcmp(a_, b_) != 0)                            \
      FAIL("%s == %s (\"%s\" vs \"%s\")", #a, #b, a_ ? a_ : "(null)", \
           b_ ? b_ : "(null)");                                       \
  } while (0)

#define ASSERT_CONTAINS(haystack, needle)                           \
  do {                                                              \
    const char* h_ = (haystack);                                    \
    const char* n_ = (needle);                                      \
    if (!h_ || !strstr(h_, n_))                                     \
      FAIL("\"%s\" should contain \"%s\"", h_ ? h_ : "(null)", n_); \
  } while (0)

// Asserts that |expr| returns OK; otherwise prints the status and frees it.
#define ASSERT_OK(expr)                                                       \
  do {                                                                        \
    kiln_status_t s_ = (expr);                                                \
    if (s_) {                                                                 \
      kiln_test_fail(t_, __FILE__, __LINE__, "%s failed: %s: %s (%s)", #expr, \
                     kiln_status_code_name(kiln_status_code(s_)),             \
                     kiln_status_message(s_), kiln_status_location(s_));      \
      kiln_status_free(s_);                                                   \
      return;                                                                 \
    }                                                                         \
  } while (0)

// Asserts that |expr| fails with |code| and a message containing |needle|
// ("" matches any message), then frees the status.
#define ASSERT_STATUS(expr, code, needle)                                   \
  do {                                                                      \
    kiln_status_t s_ = (expr);                                              \
    kiln_status_code_t want_ = (code);                                      \
    if (kiln_status_code(s_) != want_) {                                    \
      kiln_test_fail(t_, __FILE__, __LINE__, "%s: expected %s, got %s: %s", \
                     #expr, kiln_status_code_name(want_),                   \
                     kiln_status_code_name(kiln_status_code(s_)),           \
                     kiln_status_message(s_));                              \
      kiln_status_free(s_);                                                 \
      return;                                                               \
    }                                                                       \
    if (!strstr(kiln_status_message(s_), (needle))) {                       \
      kiln_test_fail(t_, __FILE__, __LINE__,                                \
                     "%s: message \"%s\" should contain \"%s\"", #expr,     \
                     kiln_status_message(s_), (needle));                    \
      kiln_status_free(s_);                                                 \
      return;                                                               \
    }                                                                       \
    kiln_status_free(s_);                                                   \
  } while (0)

//===----------------------------------------------------------------------===//
// Test allocator: counts live blocks and fails the N-th allocation.
//===----------------------------------------------------------------------===//

typedef struct kiln_test_allocator_t {
  size_t fail_at;      // index of the allocation to fail; SIZE_MAX: never
  size_t fail_count;   // how many failures were injected
  size_t allocations;  // allocations (and growing reallocations) attempted
  size_t live;         // blocks currently allocated
  size_t live_bytes;
  bool fail_all_after;  // fail every allocation from fail_at on
} kiln_test_allocator_t;

// Returns a test allocator that never fails.
kiln_test_allocator_t kiln_test_allocator_make(void);
// Returns a test allocator that fails allocation number |fail_at| (0-based).
kiln_test_allocator_t kiln_test_allocator_failing_at(size_t fail_at);
// The kiln_allocator_t view. Thread-safe.
kiln_allocator_t kiln_test_allocator_get(kiln_test_allocator_t* ta);

// Reads the contents of |path| into a malloc'd buffer. Returns false when the
// file cannot be read.
bool kiln_test_read_file(const char* path, uint8_t** out_data,
                         size_t* out_size);

#endif  // KILN_TESTS_TEST_H_
