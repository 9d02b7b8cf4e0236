// Internal API of the symbolic-integer module (src/sym/): status forms of the
// leaf builders, a few queries other modules need, and the compact binary
// encoding of expression DAGs used inside engine files.
//
// Serialized form (all integers LEB128 varints from base/bytes.h; "svarint"
// is zigzag-encoded):
//
//   blob  := node_count:varint node{node_count} root_count:varint
//            root:varint{root_count}
//   node  := op:u8 payload
//     CONST (0)        value:svarint
//     DIM (1)          tensor:varint dim:varint
//     SIZE_TENSOR (2)  index:varint opt:varint upper:varint
//     binary (3..11)   a:varint b:varint
//
// Nodes are numbered from 0 in the order they appear. Every operand (and a
// size tensor's opt and upper) is the number of an earlier node, so the list
// is in topological order and holds no cycle. A root is the number of any
// node. The serializer writes each node reachable from the roots exactly
// once, operands first.

#ifndef KILN_SRC_SYM_SYM_H_
#define KILN_SRC_SYM_SYM_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/bytes.h"
#include "kiln/kiln.h"
#include "kiln/kiln_plugin.h"

// Status forms of kiln_sym_const, kiln_sym_dim and kiln_sym_size_tensor. They
// do not record the failure in |table|. |*out_expr| is NULL on failure.
// INVALID_ARGUMENT for a NULL table or operand, a foreign operand, a tensor
// index or dimension out of range, or a size tensor inside |opt| or |upper|;
// OUT_OF_RANGE when the table is full or the result too deep;
// RESOURCE_EXHAUSTED.
KILN_MUST_USE_RESULT kiln_status_t kiln__sym_make_const(kiln_sym_table_t* table,
                                                        int64_t value,
                                                        kiln_sym_t* out_expr);
KILN_MUST_USE_RESULT kiln_status_t kiln__sym_make_dim(kiln_sym_table_t* table,
                                                      uint32_t tensor,
                                                      uint32_t dim,
                                                      kiln_sym_t* out_expr);
KILN_MUST_USE_RESULT kiln_status_t kiln__sym_make_size_tensor(
    kiln_sym_table_t* table, uint32_t index, kiln_sym_t opt, kiln_sym_t upper,
    kiln_sym_t* out_expr);

// Returns the table |expr| belongs to; NULL for NULL.
kiln_sym_table_t* kiln__sym_table_of(kiln_sym_t expr);

// Returns true when |expr| contains a size-tensor placeholder (its own opt
// and upper bound included). False for NULL.
bool kiln__sym_uses_size_tensor(kiln_sym_t expr);

// Returns the dense id of |expr| in its table (0 for the first node made).
uint32_t kiln__sym_id(kiln_sym_t expr);

// Prints |expr| for an error message: like kiln_sym_print with default
// tensor names, but a text that does not fit ends in "..." instead of
// failing. |capacity| must be at least 4. Never fails.
void kiln__sym_describe(kiln_sym_t expr, char* buffer, size_t capacity);

//===----------------------------------------------------------------------===//
// Size tensors: bounds, rewriting and visiting
//===----------------------------------------------------------------------===//

// A closed interval of int64 values, lo <= hi.
typedef struct kiln__sym_interval_t {
  int64_t lo;
  int64_t hi;
} kiln__sym_interval_t;

// What kiln__sym_bounds ranges over: dimension j of input tensor i takes
// every value in [min[i].d[j], max[i].d[j]] (the two arrays have
// |tensor_count| entries with equal ranks; they may be the same array for
// a point), and a size tensor placeholder every value in [0, max(0, u)]
// where u is the upper end of its upper bound's interval.
typedef struct kiln__sym_bounds_env_t {
  const kiln_dims_t* min;
  const kiln_dims_t* max;
  size_t tensor_count;
} kiln__sym_bounds_env_t;

// Computes an interval that holds every value |expr| can take over |env|,
// by interval arithmetic over the DAG (each shared node once): sums and
// differences add the ends (a - b gives [a.lo - b.hi, a.hi - b.lo]),
// products, floor and ceiling divisions take the extremes of the four
// corners, max/min are taken end by end, and comparisons give [0, 1] unless
// the operands' intervals decide them. The result is sound (it may be
// wider than the exact range when an input appears twice). |table| is the
// table of |expr| (its scratch state is used: one thread at a time).
// Returns OUT_OF_RANGE naming the expression and the node when an end
// overflows int64 or a divisor's interval contains 0; INVALID_ARGUMENT
// naming the tensor and dimension when |env| lacks a range; INVALID_ARGUMENT
// for NULL arguments or an expression of another table.
KILN_MUST_USE_RESULT kiln_status_t kiln__sym_bounds(
    kiln_sym_table_t* table, kiln_sym_t expr, const kiln__sym_bounds_env_t* env,
    kiln__sym_interval_t* out_interval);

// Rebuilds |expr| in |table| with every size tensor placeholder of index k
// replaced by one of index |map|[k] (same opt and upper bound). Shared nodes
// are rebuilt once. INVALID_ARGUMENT naming the index when k >= |map_count|
// or the expression belongs to another table; the builders' errors
// (OUT_OF_RANGE, RESOURCE_EXHAUSTED). Uses |table|'s scratch state.
KILN_MUST_USE_RESULT kiln_status_t kiln__sym_remap_size_tensors(
    kiln_sym_table_t* table, kiln_sym_t expr, const uint32_t* map,
    size_t map_count, kiln_sym_t* out_expr);

// Rebuilds |expr| in |table| with every size tensor placeholder replaced by
// its opt value: the expression's value when each size tensor holds its
// opt. Errors as kiln__sym_remap_size_tensors.
KILN_MUST_USE_RESULT kiln_status_t kiln__sym_size_tensors_at_opt(
    kiln_sym_table_t* table, kiln_sym_t expr, kiln_sym_t* out_expr);

// Called once per distinct size tensor placeholder node.
typedef kiln_status_t (*kiln__sym_visit_fn_t)(void* user_data,
                                              kiln_sym_t placeholder);

// Calls |fn| once for each distinct size tensor placeholder in the DAGs of
// |roots| (|count| roots of |table|, none NULL), in an unspecified order,
// and stops at the first error |fn| returns. |fn| must not evaluate, bound
// or rewrite expressions of |table| (they share its scratch state).
// INVALID_ARGUMENT for a NULL or foreign root.
KILN_MUST_USE_RESULT kiln_status_t kiln__sym_visit_size_tensors(
    kiln_sym_table_t* table, const kiln_sym_t* roots, size_t count,
    kiln__sym_visit_fn_t fn, void* user_data);

// Appends the serialized form of the DAG reachable from |roots| (all from one
// table, none NULL) to |writer|. Uses |roots|' table's scratch state, so the
// table must not be used by another thread meanwhile. On failure |writer| is
// left at its original size. INVALID_ARGUMENT for a NULL or mixed-table
// root; RESOURCE_EXHAUSTED or OUT_OF_RANGE from the writer.
KILN_MUST_USE_RESULT kiln_status_t kiln__sym_serialize(const kiln_sym_t* roots,
                                                       size_t root_count,
                                                       kiln__writer_t* writer);

// Reads one serialized DAG from the start of |bytes| into |table|, verifying
// everything before trusting it, and re-interning each node through the
// builders (so a deserialized expression is == to one built directly).
// Writes at most |max_roots| roots to |out_roots|, their number to
// |*out_root_count| and the bytes read to |*out_consumed| (bytes after the
// blob are not read; |out_consumed| may be NULL). Outputs are zeroed on entry
// and written only on success. DATA_LOSS naming the byte offset (plus
// |base_offset|) for truncation, an unknown op, a reference to the node
// itself, a later node or past the end, a node count over KILN_SYM_MAX_NODES
// or over what the remaining bytes could hold, a chain deeper than
// KILN_SYM_MAX_DEPTH, a tensor index or dimension out of range, a size tensor
// inside a size tensor's opt or upper bound, or more roots than |max_roots|.
// INVALID_ARGUMENT for NULL arguments; RESOURCE_EXHAUSTED; OUT_OF_RANGE when
// |table| is full. On failure nodes already interned stay in |table|.
KILN_MUST_USE_RESULT kiln_status_t kiln__sym_deserialize(
    kiln_sym_table_t* table, kiln_const_bytes_t bytes, size_t base_offset,
    kiln_sym_t* out_roots, size_t max_roots, size_t* out_root_count,
    size_t* out_consumed);

#endif  // KILN_SRC_SYM_SYM_H_
