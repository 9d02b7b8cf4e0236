// Bump arena.

#include "base/arena.h"

#include <string.h>

#include "base/base.h"
#include "base/size.h"

struct kiln__arena_block_t {
  kiln__arena_block_t* next;
  size_t capacity;  // bytes usable after the header
  size_t used;
  // Payload follows, aligned to 64.
};

#define ARENA_HEADER_SIZE 64
#define ARENA_FIRST_BLOCK 4096
#define ARENA_MAX_BLOCK (1u << 20)

_Static_assert(sizeof(kiln__arena_block_t) <= ARENA_HEADER_SIZE,
               "arena block header must fit its reserved space");

void kiln__arena_init(kiln__arena_t* arena, kiln_allocator_t allocator) {
  memset(arena, 0, sizeof(*arena));
  arena->allocator = allocator;
  arena->block_size = ARENA_FIRST_BLOCK;
}

void kiln__arena_deinit(kiln__arena_t* arena) {
  kiln__arena_block_t* block = arena->head;
  while (block) {
    kiln__arena_block_t* next = block->next;
    kiln_allocator_free(arena->allocator, block);
    block = next;
  }
  arena->head = NULL;
  arena->bytes_allocated = 0;
  arena->block_size = ARENA_FIRST_BLOCK;
}

// Returns the offset in |block|'s payload where |size| bytes aligned to
// |alignment| fit, or SIZE_MAX when they do not.
static size_t block_fit(const kiln__arena_block_t* block, size_t size,
                        size_t alignment) {
  uintptr_t payload = (uintptr_t)block + ARENA_HEADER_SIZE;
  uintptr_t at = payload + block->used;
  uintptr_t aligned = (at + (alignment - 1)) & ~(uintptr_t)(alignment - 1);
  size_t start = (size_t)(aligned - payload);
  if (start > block->capacity || size > block->capacity - start) {
    return SIZE_MAX;
  }
  return start;
}

kiln_status_t kiln__arena_alloc(kiln__arena_t* arena, size_t size,
                                size_t alignment, void** out_ptr) {
  *out_ptr = NULL;
  if (alignment == 0 || alignment > 64 || (alignment & (alignment - 1))) {
    return kiln_make_status(KILN_STATUS_INTERNAL, "bad arena alignment %zu",
                            alignment);
  }
  kiln__arena_block_t* block = arena->head;
  size_t start = block ? block_fit(block, size, alignment) : SIZE_MAX;
  if (start == SIZE_MAX) {
    // A new block: large requests get one of their own size. The slack of
    // |alignment| bytes makes room to align inside it.
    size_t capacity = arena->block_size, total;
    if (size > capacity) capacity = size;
    if (!kiln_size_checked_add(capacity, alignment, &capacity) ||
        !kiln_size_checked_add(capacity, ARENA_HEADER_SIZE, &total)) {
      return kiln_make_status(KILN_STATUS_OUT_OF_RANGE,
                              "arena allocation of %zu bytes overflows", size);
    }
    void* memory = NULL;
    KILN_RETURN_IF_ERROR(
        kiln_allocator_malloc(arena->allocator, total, &memory));
    kiln__arena_block_t* fresh = (kiln__arena_block_t*)memory;
    fresh->capacity = capacity;
    fresh->used = 0;
    // Keep filling the current block when the new one is a large one-off.
    if (block && size > arena->block_size) {
      fresh->next = block->next;
      block->next = fresh;
    } else {
      fresh->next = block;
      arena->head = fresh;
      if (arena->block_size < ARENA_MAX_BLOCK) arena->block_size *= 2;
    }
    arena->bytes_allocated += total;
    block = fresh;
    start = block_fit(block, size, alignment);
    if (KILN_NEVER(start == SIZE_MAX)) {
      return kiln_make_status(KILN_STATUS_INTERNAL, "arena block too small");
    }
  }
  uint8_t* payload = (uint8_t*)block + ARENA_HEADER_SIZE;
  block->used = start + size;
  memset(payload + start, 0, size);
  *out_ptr = payload + start;
  return NULL;
}
