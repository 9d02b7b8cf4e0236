// Tests of the on-disk compile cache (src/base/cache.c) and of its use by
// kiln_nvrtc_compile and the builder.

#include "base/cache.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "test.h"

static bool make_temp_dir(char* dir) {
  return mkdtemp(dir) != NULL;
}

// Returns the path of the one cache entry in |dir| (false if not exactly
// one).
static bool only_entry(const char* dir, char* path, size_t capacity) {
  char command[512];
  snprintf(command, sizeof(command), "ls %s/*.kc 2>/dev/null", dir);
  FILE* p = popen(command, "r");
  if (!p) return false;
  int count = 0;
  char line[1024];
  while (fgets(line, sizeof(line), p)) {
    line[strcspn(line, "\n")] = '\0';
    snprintf(path, capacity, "%s", line);
    ++count;
  }
  pclose(p);
  return count == 1;
}

TEST(cache_put_get_and_corruption) {
  char dir[] = "/tmp/kiln-cache-test-XXXXXX";
  ASSERT_TRUE(make_temp_dir(dir));
  char sub[600];
  snprintf(sub, sizeof(sub), "%s/a/b", dir);  // made on first store
  kiln_allocator_t a = kiln_allocator_system();
  kiln_const_bytes_t key = {(const uint8_t*)"key one", 7};
  kiln_const_bytes_t other = {(const uint8_t*)"key two", 7};
  kiln_const_bytes_t value = {(const uint8_t*)"compiled bytes", 14};
  uint8_t* got = NULL;
  size_t size = 0;
  ASSERT_FALSE(kiln__cache_get(sub, key, a, &got, &size));
  ASSERT_TRUE(kiln__cache_put(sub, key, value));
  ASSERT_TRUE(kiln__cache_get(sub, key, a, &got, &size));
  ASSERT_EQ_U64(size, 14);
  ASSERT_TRUE(memcmp(got, "compiled bytes", 14) == 0);
  kiln_allocator_free(a, got);
  ASSERT_FALSE(kiln__cache_get(sub, other, a, &got, &size));
  // Flip one byte of the stored value: a miss, not a wrong value.
  char path[1024];
  ASSERT_TRUE(only_entry(sub, path, sizeof(path)));
  FILE* f = fopen(path, "r+b");
  ASSERT_TRUE(f != NULL);
  fseek(f, -3, SEEK_END);
  fputc('X', f);
  fclose(f);
  ASSERT_FALSE(kiln__cache_get(sub, key, a, &got, &size));
  // Truncated: a miss. Stored again: a hit.
  ASSERT_EQ_I64(truncate(path, 20), 0);
  ASSERT_FALSE(kiln__cache_get(sub, key, a, &got, &size));
  ASSERT_TRUE(kiln__cache_put(sub, key, value));
  ASSERT_TRUE(kiln__cache_get(sub, key, a, &got, &size));
  kiln_allocator_free(a, got);
  // An off cache neither stores nor finds.
  ASSERT_FALSE(kiln__cache_put("", key, value));
  ASSERT_FALSE(kiln__cache_get("", key, a, &got, &size));
  char command[700];
  snprintf(command, sizeof(command), "rm -rf %s", dir);
  ASSERT_EQ_I64(system(command), 0);
}

typedef struct race_t {
  const char* dir;
  int id;
  int wrong;
} race_t;

static void* race_main(void* arg) {
  race_t* r = (race_t*)arg;
  kiln_const_bytes_t key = {(const uint8_t*)"shared key", 10};
  uint8_t value_bytes[4096];
  memset(value_bytes, 0x5a, sizeof(value_bytes));
  kiln_const_bytes_t value = {value_bytes, sizeof(value_bytes)};
  for (int i = 0; i < 100; ++i) {
    kiln__cache_put(r->dir, key, value);
    uint8_t* got = NULL;
    size_t size = 0;
    if (kiln__cache_get(r->dir, key, kiln_allocator_system(), &got, &size)) {
      if (size != sizeof(value_bytes) ||
          memcmp(got, value_bytes, sizeof(value_bytes)) != 0) {
        r->wrong++;
      }
      kiln_allocator_free(kiln_allocator_system(), got);
    }
  }
  return NULL;
}

TEST(cache_concurrent_writers_and_readers) {
  char dir[] = "/tmp/kiln-cache-race-XXXXXX";
  ASSERT_TRUE(make_temp_dir(dir));
  pthread_t threads[4];
  race_t races[4];
  for (int i = 0; i < 4; ++i) {
    races[i].dir = dir;
    races[i].id = i;
    races[i].wrong = 0;
    ASSERT_EQ_I64(pthread_create(&threads[i], NULL, race_main, &races[i]), 0);
  }
  int wrong = 0;
  for (int i = 0; i < 4; ++i) {
    pthread_join(threads[i], NULL);
    wrong += races[i].wrong;
  }
  char path[1024];
  ASSERT_TRUE(only_entry(dir, path, sizeof(path)));  // no temporaries left
  char command[700];
  snprintf(command, sizeof(command), "rm -rf %s", dir);
  ASSERT_EQ_I64(system(command), 0);
  ASSERT_EQ_I64(wrong, 0);
}

TEST(cache_nvrtc_compile_reuses_results) {
  static const char kSource[] =
      "extern \"C\" __global__ void k(float* y) { y[0] = 3.0f; }\n";
  static const uint32_t kArchs[] = {90};
  kiln_nvrtc_options_t options;
  memset(&options, 0, sizeof(options));
  options.sm_archs = kArchs;
  options.sm_arch_count = 1;
  options.emit_ptx = true;
  options.emit_cubin = true;
  kiln_string_view_t source =
      kiln_make_string_view(kSource, sizeof(kSource) - 1);
  const char* dir = getenv("KILN_CACHE_DIR");
  if (!dir || !dir[0]) SKIP("KILN_CACHE_DIR is not set");
  kiln_compiled_kernel_t* first = NULL;
  kiln_status_t s = kiln_nvrtc_compile(source, "cache_test.cu", &options,
                                       kiln_allocator_system(), &first);
  if (kiln_status_code(s) == KILN_STATUS_UNAVAILABLE) {
    SKIP("NVRTC missing: %s", kiln_status_message(s));
  }
  ASSERT_OK(s);
  kiln_compiled_kernel_t* second = NULL;
  ASSERT_OK(kiln_nvrtc_compile(source, "cache_test.cu", &options,
                               kiln_allocator_system(), &second));
  ASSERT_EQ_U64(kiln_compiled_kernel_image_count(first),
                kiln_compiled_kernel_image_count(second));
  for (size_t i = 0; i < kiln_compiled_kernel_image_count(first); ++i) {
    kiln_kernel_image_t x = kiln_compiled_kernel_image_at(first, i);
    kiln_kernel_image_t y = kiln_compiled_kernel_image_at(second, i);
    ASSERT_EQ_U64(x.kind, y.kind);
    ASSERT_EQ_U64(x.sm_arch, y.sm_arch);
    ASSERT_EQ_U64(x.bytes.size, y.bytes.size);
    ASSERT_TRUE(memcmp(x.bytes.data, y.bytes.data, x.bytes.size) == 0);
  }
  kiln_compiled_kernel_destroy(second);
  kiln_compiled_kernel_destroy(first);
}
