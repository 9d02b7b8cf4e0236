// The test runner: runs every test in KILN_TEST_LIST (or those named on the
// command line), prints TAP-like lines and closes with
// "N passed, N failed, N skipped".

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"
#include "test_list.h"

#define DECLARE_TEST(name) void test_##name(kiln_test_t* t_);
KILN_TEST_LIST(DECLARE_TEST)

typedef struct test_entry_t {
  const char* name;
  void (*fn)(kiln_test_t*);
} test_entry_t;

#define TEST_ENTRY(name) {#name, test_##name},
static const test_entry_t tests[] = {KILN_TEST_LIST(TEST_ENTRY)};

void kiln_test_fail(kiln_test_t* t, const char* file, int line,
                    const char* format, ...) {
  const char* base = strrchr(file, '/');
  int n = snprintf(t->message, sizeof(t->message),
                   "%s:%d: ", base ? base + 1 : file, line);
  if (n < 0) n = 0;
  if ((size_t)n < sizeof(t->message)) {
    va_list args;
    va_start(args, format);
    vsnprintf(t->message + n, sizeof(t->message) - (size_t)n, format, args);
    va_end(args);
  }
  t->failed = 1;
}

void kiln_test_skip(kiln_test_t* t, const char* format, ...) {
  va_list args;
  va_start(args, format);
  vsnprintf(t->message, sizeof(t->message), format, args);
  va_end(args);
  t->skipped = 1;
}

static int selected(const char* name, int argc, char** argv) {
  if (argc <= 1) return 1;
  for (int i = 1; i < argc; ++i) {
    size_t n = strlen(argv[i]);
    if (n > 0 && argv[i][n - 1] == '*') {
      if (strncmp(name, argv[i], n - 1) == 0) return 1;
    } else if (strcmp(name, argv[i]) == 0) {
      return 1;
    }
  }
  return 0;
}

// Removes the flat directory |dir| and its files.
static void remove_flat_dir(const char* dir) {
  DIR* d = opendir(dir);
  if (d) {
    struct dirent* e;
    while ((e = readdir(d)) != NULL) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
      char path[4096];
      snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
      unlink(path);
    }
    closedir(d);
  }
  rmdir(dir);
}

int main(int argc, char** argv) {
  // Tests get a compile cache of their own unless one is given.
  char cache_dir[] = "/tmp/kiln-tests-cache-XXXXXX";
  bool own_cache = !getenv("KILN_CACHE_DIR") && mkdtemp(cache_dir) != NULL;
  if (own_cache) setenv("KILN_CACHE_DIR", cache_dir, 1);
  if (argc == 2 && strcmp(argv[1], "--list") == 0) {
    for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); ++i) {
      printf("%s\n", tests[i].name);
    }
    return 0;
  }
  int passed = 0, failed = 0, skipped = 0, index = 0;
  for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); ++i) {
    if (!selected(tests[i].name, argc, argv)) continue;
    kiln_test_t t;
    memset(&t, 0, sizeof(t));
    t.name = tests[i].name;
    tests[i].fn(&t);
    ++index;
    if (t.failed) {
      ++failed;
      printf("not ok %d - %s\n#   %s\n", index, t.name, t.message);
    } else if (t.skipped) {
      ++skipped;
      printf("ok %d - %s # SKIP %s\n", index, t.name, t.message);
    } else {
      ++passed;
      printf("ok %d - %s\n", index, t.name);
    }
    fflush(stdout);
  }
  if (index == 0) {
    if (own_cache) remove_flat_dir(cache_dir);
    fprintf(stderr, "no test matches the names given\n");
    printf("0 passed, 0 failed, 0 skipped\n");
    return 2;
  }
  if (own_cache) remove_flat_dir(cache_dir);
  printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
  return failed ? 1 : 0;
}
