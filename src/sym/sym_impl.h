// Private to src/sym/: the layouts of nodes and tables shared by the files of
// the symbolic-integer module. Other modules use sym.h and the public API.

#ifndef KILN_SRC_SYM_SYM_IMPL_H_
#define KILN_SRC_SYM_SYM_IMPL_H_

#include <stdbool.h>
#include <stdint.h>

#include "base/arena.h"
#include "kiln/kiln_plugin.h"

// The node contains a size-tensor placeholder (itself or below).
#define KILN__SYM_FLAG_SIZE_TENSOR 1u

// One interned expression node. Immutable once interned.
struct kiln_sym_node_s {
  kiln_sym_table_t* table;  // the owner; operands of other tables are refused
  kiln_sym_t a;             // first operand; opt for a size tensor
  kiln_sym_t b;             // second operand; upper bound for a size tensor
  uint64_t hash;            // structural: independent of addresses and table
  int64_t value;            // CONST
  uint32_t p0;              // tensor (DIM) or index (SIZE_TENSOR)
  uint32_t p1;              // dim (DIM)
  uint32_t id;              // dense, in creation order
  uint16_t depth;           // 1 for a leaf
  uint8_t op;               // a kiln_sym_op_t
  uint8_t flags;            // KILN__SYM_FLAG_*
};

// Per-node scratch for evaluation, bounds, rewriting and serialization:
// |value| (and |value2|, the upper end of an interval) are valid in the pass
// whose epoch equals |epoch|.
typedef struct kiln__sym_memo_t {
  uint32_t epoch;
  int64_t value;
  int64_t value2;
} kiln__sym_memo_t;

struct kiln_sym_table_s {
  kiln_allocator_t allocator;
  kiln__arena_t arena;             // the nodes
  struct kiln_sym_node_s** slots;  // open-addressing intern set
  size_t slot_capacity;            // a power of two, or 0
  size_t node_count;
  kiln__sym_memo_t* memo;  // memo[id]; memo_capacity entries
  size_t memo_capacity;    // at least node_count
  uint32_t epoch;          // of the current pass; never 0
  kiln_status_t error;     // first failure of the builders
};

// Starts a new scratch pass over |table| and returns its epoch. Never fails.
uint32_t kiln__sym_next_epoch(kiln_sym_table_t* table);

// Computes binary |op| on |a| and |b| exactly, with floor and ceiling
// division rounding toward -inf and +inf. Returns false (and leaves |*out|
// unspecified) when the result does not fit in int64 or a divisor is zero.
bool kiln__sym_fold(kiln_sym_op_t op, int64_t a, int64_t b, int64_t* out);

#endif  // KILN_SRC_SYM_SYM_IMPL_H_
