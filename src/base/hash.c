// FNV-1a and CRC-32C.

#include "base/hash.h"

#include <pthread.h>

uint64_t kiln__hash_bytes(uint64_t seed, const void* data, size_t size) {
  const uint8_t* p = (const uint8_t*)data;
  uint64_t h = seed;
  for (size_t i = 0; i < size; ++i) {
    h ^= p[i];
    h *= UINT64_C(0x100000001b3);
  }
  return h;
}

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void) {
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0x82f63b78u ^ (c >> 1) : c >> 1;
    crc_table[i] = c;
  }
}

uint32_t kiln__crc32c(uint32_t crc, const void* data, size_t size) {
  pthread_once(&crc_once, crc_init);
  const uint8_t* p = (const uint8_t*)data;
  crc = ~crc;
  for (size_t i = 0; i < size; ++i)
    crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}
