// Hashing for interning and checksums.

#ifndef KILN_SRC_BASE_HASH_H_
#define KILN_SRC_BASE_HASH_H_

#include <stddef.h>
#include <stdint.h>

// 64-bit FNV-1a over |size| bytes, continuing from |seed| (start with
// KILN_HASH_SEED).
#define KILN_HASH_SEED UINT64_C(0xcbf29ce484222325)
uint64_t kiln__hash_bytes(uint64_t seed, const void* data, size_t size);

// Mixes |value| into |seed| (a strong 64-bit mix, order-sensitive).
static inline uint64_t kiln__hash_mix(uint64_t seed, uint64_t value) {
  uint64_t x =
      seed ^ (value + UINT64_C(0x9e3779b97f4a7c15) + (seed << 6) + (seed >> 2));
  x ^= x >> 30;
  x *= UINT64_C(0xbf58476d1ce4e5b9);
  x ^= x >> 27;
  x *= UINT64_C(0x94d049bb133111eb);
  x ^= x >> 31;
  return x;
}

// CRC-32C (Castagnoli) of |size| bytes, continuing from |crc| (start with 0).
uint32_t kiln__crc32c(uint32_t crc, const void* data, size_t size);

#endif  // KILN_SRC_BASE_HASH_H_
