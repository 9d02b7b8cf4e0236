// A bump arena for objects that live and die together (expression nodes,
// builder IR). Blocks come from the injected allocator; everything is freed
// in one call.

#ifndef KILN_SRC_BASE_ARENA_H_
#define KILN_SRC_BASE_ARENA_H_

#include <stddef.h>

#include "kiln/kiln.h"

typedef struct kiln__arena_block_t kiln__arena_block_t;

typedef struct kiln__arena_t {
  kiln_allocator_t allocator;
  kiln__arena_block_t* head;  // the block being filled; older ones behind
  size_t block_size;          // size of the next ordinary block
  size_t bytes_allocated;     // total held from the allocator
} kiln__arena_t;

// Initializes an empty arena; allocates nothing.
void kiln__arena_init(kiln__arena_t* arena, kiln_allocator_t allocator);

// Frees every block. The arena may be reused afterwards.
void kiln__arena_deinit(kiln__arena_t* arena);

// Allocates |size| zeroed bytes aligned to |alignment| (a power of two, at
// most 64). RESOURCE_EXHAUSTED or OUT_OF_RANGE on failure.
kiln_status_t kiln__arena_alloc(kiln__arena_t* arena, size_t size,
                                size_t alignment, void** out_ptr);

#endif  // KILN_SRC_BASE_ARENA_H_
