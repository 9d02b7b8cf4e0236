// The on-disk compile cache.

#include "base/cache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base.h"
#include "base/hash.h"

// Entry layout (little-endian):
//   0  magic "KILNCCH1" (8 bytes)
//   8  u64 key size
//  16  u64 value size
//  24  u32 CRC-32C of key and value
//  28  u32 reserved (0)
//  32  key bytes, then value bytes
#define ENTRY_HEADER 32
#define MAX_ENTRY (UINT64_C(1) << 30)
static const char kMagic[8] = {'K', 'I', 'L', 'N', 'C', 'C', 'H', '1'};

bool kiln__cache_default_dir(char* buffer, size_t capacity) {
  const char* dir = getenv("KILN_CACHE_DIR");
  if (dir) {
    if (!dir[0] || strcmp(dir, "off") == 0) return false;
    return (size_t)snprintf(buffer, capacity, "%s", dir) < capacity;
  }
  const char* xdg = getenv("XDG_CACHE_HOME");
  if (xdg && xdg[0] == '/') {
    return (size_t)snprintf(buffer, capacity, "%s/kiln", xdg) < capacity;
  }
  const char* home = getenv("HOME");
  if (home && home[0] == '/') {
    return (size_t)snprintf(buffer, capacity, "%s/.cache/kiln", home) <
           capacity;
  }
  return false;
}

static void entry_path(const char* dir, kiln_const_bytes_t key, char* path,
                       size_t capacity) {
  uint64_t h = kiln__hash_bytes(KILN_HASH_SEED, key.data, key.size);
  uint32_t c = kiln__crc32c(0, key.data, key.size);
  snprintf(path, capacity, "%s/%016llx%08x.kc", dir, (unsigned long long)h,
           (unsigned)c);
}

static uint64_t rd64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= (uint64_t)p[i] << (8 * i);
  return v;
}

static uint32_t rd32(const uint8_t* p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

static void wr64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = (uint8_t)(v >> (8 * i));
}

static void wr32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = (uint8_t)(v >> (8 * i));
}

static bool read_exact(int fd, uint8_t* data, size_t size) {
  while (size) {
    ssize_t n = read(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= (size_t)n;
  }
  return true;
}

static bool write_exact(int fd, const uint8_t* data, size_t size) {
  while (size) {
    ssize_t n = write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= (size_t)n;
  }
  return true;
}

bool kiln__cache_get(const char* dir, kiln_const_bytes_t key,
                     kiln_allocator_t allocator, uint8_t** out_value,
                     size_t* out_size) {
  *out_value = NULL;
  *out_size = 0;
  if (!dir || !dir[0]) return false;
  char path[4096];
  entry_path(dir, key, path, sizeof(path));
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool hit = false;
  uint8_t header[ENTRY_HEADER];
  uint8_t* stored_key = NULL;
  uint8_t* value = NULL;
  struct stat st;
  if (fstat(fd, &st) == 0 && read_exact(fd, header, sizeof(header)) &&
      memcmp(header, kMagic, 8) == 0) {
    uint64_t key_size = rd64(header + 8);
    uint64_t value_size = rd64(header + 16);
    uint32_t crc = rd32(header + 24);
    // Sizes are checked against the file before anything is allocated.
    if (key_size == key.size && value_size <= MAX_ENTRY &&
        (uint64_t)st.st_size == ENTRY_HEADER + key_size + value_size) {
      kiln_status_t s =
          kiln_allocator_malloc(allocator, key_size, (void**)&stored_key);
      if (!s) {
        s = kiln_allocator_malloc(allocator, value_size, (void**)&value);
      }
      kiln_status_free(s);
      if (stored_key && value && read_exact(fd, stored_key, key_size) &&
          read_exact(fd, value, value_size) &&
          memcmp(stored_key, key.data, key.size) == 0) {
        uint32_t c = kiln__crc32c(0, stored_key, key_size);
        c = kiln__crc32c(c, value, value_size);
        hit = c == crc;
        *out_size = (size_t)value_size;
      }
    }
  }
  close(fd);
  kiln_allocator_free(allocator, stored_key);
  if (!hit) {
    kiln_allocator_free(allocator, value);
    *out_size = 0;
    return false;
  }
  *out_value = value;
  return true;
}

// Creates |dir| and its parents (mkdir -p); true when it exists afterwards.
static bool make_dirs(const char* dir) {
  char path[4096];
  if ((size_t)snprintf(path, sizeof(path), "%s", dir) >= sizeof(path)) {
    return false;
  }
  for (char* p = path + 1; *p; ++p) {
    if (*p != '/') continue;
    *p = '\0';
    mkdir(path, 0777);
    *p = '/';
  }
  mkdir(path, 0777);
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool kiln__cache_put(const char* dir, kiln_const_bytes_t key,
                     kiln_const_bytes_t value) {
  if (!dir || !dir[0] || value.size > MAX_ENTRY) return false;
  if (!make_dirs(dir)) return false;
  char path[4096], temp[4200];
  entry_path(dir, key, path, sizeof(path));
  static _Atomic unsigned counter;
  unsigned n = ++counter;
  snprintf(temp, sizeof(temp), "%s.%ld.%u.tmp", path, (long)getpid(), n);
  int fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  uint8_t header[ENTRY_HEADER] = {0};
  memcpy(header, kMagic, 8);
  wr64(header + 8, key.size);
  wr64(header + 16, value.size);
  uint32_t c = kiln__crc32c(0, key.data, key.size);
  wr32(header + 24, kiln__crc32c(c, value.data, value.size));
  bool ok = write_exact(fd, header, sizeof(header)) &&
            write_exact(fd, key.data, key.size) &&
            write_exact(fd, value.data, value.size);
  ok = close(fd) == 0 && ok;
  // rename() replaces an existing entry atomically: readers see the old or
  // the new file, never a mix.
  if (!ok || rename(temp, path) != 0) {
    unlink(temp);
    return false;
  }
  return true;
}
