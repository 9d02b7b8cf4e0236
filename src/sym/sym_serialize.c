// The compact binary form of expression DAGs (the layout is documented in
// sym.h) and its verifying reader. The reader trusts nothing: it checks every
// count against the bytes left before allocating, every reference against the
// nodes read so far, and every limit the builders enforce, and reports
// DATA_LOSS with the byte offset of the fault.

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "base/size.h"
#include "sym/sym.h"
#include "sym/sym_impl.h"

// The fewest bytes one node takes: an op byte and a one-byte constant.
#define MIN_NODE_BYTES 2

//===----------------------------------------------------------------------===//
// Writing
//===----------------------------------------------------------------------===//

// Marks the nodes reachable from |n| with |epoch| and counts them.
static void count_reachable(kiln__sym_memo_t* memo, uint32_t epoch,
                            kiln_sym_t n, size_t* count) {
  if (memo[n->id].epoch == epoch) return;
  memo[n->id].epoch = epoch;
  if (n->a) count_reachable(memo, epoch, n->a, count);
  if (n->b) count_reachable(memo, epoch, n->b, count);
  ++*count;
}

// Writes |n| after its operands unless this pass wrote it already; its
// memo entry then holds its index in the blob.
static kiln_status_t write_node(kiln__writer_t* w, kiln__sym_memo_t* memo,
                                uint32_t epoch, kiln_sym_t n, size_t* next) {
  if (memo[n->id].epoch == epoch) return NULL;
  if (n->a) KILN_RETURN_IF_ERROR(write_node(w, memo, epoch, n->a, next));
  if (n->b) KILN_RETURN_IF_ERROR(write_node(w, memo, epoch, n->b, next));
  KILN_RETURN_IF_ERROR(kiln__writer_u8(w, n->op));
  switch (n->op) {
    case KILN_SYM_OP_CONST:
      KILN_RETURN_IF_ERROR(kiln__writer_svarint(w, n->value));
      break;
    case KILN_SYM_OP_DIM:
      KILN_RETURN_IF_ERROR(kiln__writer_varint(w, n->p0));
      KILN_RETURN_IF_ERROR(kiln__writer_varint(w, n->p1));
      break;
    case KILN_SYM_OP_SIZE_TENSOR:
      KILN_RETURN_IF_ERROR(kiln__writer_varint(w, n->p0));
      KILN_RETURN_IF_ERROR(
          kiln__writer_varint(w, (uint64_t)memo[n->a->id].value));
      KILN_RETURN_IF_ERROR(
          kiln__writer_varint(w, (uint64_t)memo[n->b->id].value));
      break;
    default:
      KILN_RETURN_IF_ERROR(
          kiln__writer_varint(w, (uint64_t)memo[n->a->id].value));
      KILN_RETURN_IF_ERROR(
          kiln__writer_varint(w, (uint64_t)memo[n->b->id].value));
      break;
  }
  memo[n->id].epoch = epoch;
  memo[n->id].value = (int64_t)(*next)++;
  return NULL;
}

static kiln_status_t write_blob(const kiln_sym_t* roots, size_t root_count,
                                kiln__writer_t* writer) {
  if (root_count == 0) {
    KILN_RETURN_IF_ERROR(kiln__writer_varint(writer, 0));
    return kiln__writer_varint(writer, 0);
  }
  kiln_sym_table_t* table = roots[0]->table;
  uint32_t epoch = kiln__sym_next_epoch(table);
  size_t node_count = 0;
  for (size_t i = 0; i < root_count; ++i) {
    count_reachable(table->memo, epoch, roots[i], &node_count);
  }
  KILN_RETURN_IF_ERROR(kiln__writer_varint(writer, node_count));
  epoch = kiln__sym_next_epoch(table);
  size_t next = 0;
  for (size_t i = 0; i < root_count; ++i) {
    KILN_RETURN_IF_ERROR(
        write_node(writer, table->memo, epoch, roots[i], &next));
  }
  if (KILN_NEVER(next != node_count)) {
    return kiln_make_status(KILN_STATUS_INTERNAL,
                            "wrote %zu expression nodes, counted %zu", next,
                            node_count);
  }
  KILN_RETURN_IF_ERROR(kiln__writer_varint(writer, root_count));
  for (size_t i = 0; i < root_count; ++i) {
    KILN_RETURN_IF_ERROR(
        kiln__writer_varint(writer, (uint64_t)table->memo[roots[i]->id].value));
  }
  return NULL;
}

kiln_status_t kiln__sym_serialize(const kiln_sym_t* roots, size_t root_count,
                                  kiln__writer_t* writer) {
  if (!writer || (root_count > 0 && !roots)) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "NULL writer or roots");
  }
  for (size_t i = 0; i < root_count; ++i) {
    if (!roots[i]) {
      return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT, "root %zu is NULL",
                              i);
    }
    if (roots[i]->table != roots[0]->table) {
      return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                              "root %zu belongs to another table than root 0",
                              i);
    }
  }
  size_t start = writer->size;
  kiln_status_t status = write_blob(roots, root_count, writer);
  if (status) writer->size = start;
  return status;
}

//===----------------------------------------------------------------------===//
// Reading
//===----------------------------------------------------------------------===//

// What the reader knows of each node read so far.
typedef struct entry_t {
  kiln_sym_t expr;   // the interned (simplified) node
  uint16_t depth;    // depth as written, before simplification
  bool size_tensor;  // uses a size tensor, as written
} entry_t;

typedef struct deserializer_t {
  kiln_sym_table_t* table;
  kiln__reader_t reader;
  entry_t* entries;
  uint64_t node_count;
} deserializer_t;

static kiln_status_t corrupt(const deserializer_t* d, size_t offset,
                             const char* format, ...) KILN_PRINTF(3, 4);

// DATA_LOSS naming |offset| (within the blob) plus the reader's base.
static kiln_status_t corrupt(const deserializer_t* d, size_t offset,
                             const char* format, ...) {
  char what[192];
  va_list args;
  va_start(args, format);
  vsnprintf(what, sizeof(what), format, args);
  va_end(args);
  return kiln_make_status(KILN_STATUS_DATA_LOSS,
                          "corrupt expression at byte offset %zu: %s",
                          d->reader.base + offset, what);
}

// Reads a reference made by node |index|; it must name an earlier node.
static kiln_status_t read_ref(deserializer_t* d, uint64_t index,
                              const char* what, uint64_t* out_ref) {
  size_t offset = d->reader.offset;
  uint64_t ref;
  KILN_RETURN_IF_ERROR(kiln__reader_varint(&d->reader, what, &ref));
  if (ref == index) {
    return corrupt(d, offset, "%s of node %" PRIu64 " refers to itself", what,
                   index);
  }
  if (ref >= d->node_count) {
    return corrupt(d, offset,
                   "%s of node %" PRIu64 " refers to node %" PRIu64
                   ", past the last node %" PRIu64,
                   what, index, ref, d->node_count - 1);
  }
  if (ref > index) {
    return corrupt(d, offset,
                   "%s of node %" PRIu64 " refers to the later node %" PRIu64
                   " (a forward reference or a cycle)",
                   what, index, ref);
  }
  *out_ref = ref;
  return NULL;
}

// Reads node |index| and interns it into entries[index].
static kiln_status_t read_node(deserializer_t* d, uint64_t index) {
  size_t offset = d->reader.offset;
  entry_t* entry = &d->entries[index];
  uint8_t op;
  KILN_RETURN_IF_ERROR(kiln__reader_u8(&d->reader, "expression op", &op));
  kiln_status_t status = NULL;
  switch (op) {
    case KILN_SYM_OP_CONST: {
      int64_t value;
      KILN_RETURN_IF_ERROR(
          kiln__reader_svarint(&d->reader, "constant", &value));
      entry->depth = 1;
      status = kiln__sym_make_const(d->table, value, &entry->expr);
      break;
    }
    case KILN_SYM_OP_DIM: {
      uint64_t tensor, dim;
      size_t tensor_offset = d->reader.offset;
      KILN_RETURN_IF_ERROR(
          kiln__reader_varint(&d->reader, "tensor index", &tensor));
      size_t dim_offset = d->reader.offset;
      KILN_RETURN_IF_ERROR(kiln__reader_varint(&d->reader, "dimension", &dim));
      if (tensor >= KILN_SYM_MAX_TENSORS) {
        return corrupt(d, tensor_offset,
                       "tensor index %" PRIu64 " is not below %d", tensor,
                       KILN_SYM_MAX_TENSORS);
      }
      if (dim >= KILN_MAX_RANK) {
        return corrupt(d, dim_offset,
                       "dimension %" PRIu64 " of tensor %" PRIu64
                       " is not below %d",
                       dim, tensor, KILN_MAX_RANK);
      }
      entry->depth = 1;
      status = kiln__sym_make_dim(d->table, (uint32_t)tensor, (uint32_t)dim,
                                  &entry->expr);
      break;
    }
    case KILN_SYM_OP_SIZE_TENSOR: {
      uint64_t size_index, opt, upper;
      size_t index_offset = d->reader.offset;
      KILN_RETURN_IF_ERROR(
          kiln__reader_varint(&d->reader, "size tensor index", &size_index));
      if (size_index > UINT32_MAX) {
        return corrupt(d, index_offset,
                       "size tensor index %" PRIu64 " does not fit in 32 bits",
                       size_index);
      }
      KILN_RETURN_IF_ERROR(read_ref(d, index, "opt value", &opt));
      KILN_RETURN_IF_ERROR(read_ref(d, index, "upper bound", &upper));
      if (d->entries[opt].size_tensor || d->entries[upper].size_tensor) {
        return corrupt(
            d, offset, "the %s of size tensor s%" PRIu64 " uses a size tensor",
            d->entries[opt].size_tensor ? "opt value" : "upper bound",
            size_index);
      }
      uint16_t depth = d->entries[opt].depth > d->entries[upper].depth
                           ? d->entries[opt].depth
                           : d->entries[upper].depth;
      entry->depth = (uint16_t)(depth + 1);
      entry->size_tensor = true;
      if (entry->depth > KILN_SYM_MAX_DEPTH) break;
      status = kiln__sym_make_size_tensor(d->table, (uint32_t)size_index,
                                          d->entries[opt].expr,
                                          d->entries[upper].expr, &entry->expr);
      break;
    }
    default: {
      if (op >= KILN_SYM_OP_COUNT) {
        return corrupt(d, offset, "unknown op code %u in node %" PRIu64,
                       (unsigned)op, index);
      }
      uint64_t a, b;
      KILN_RETURN_IF_ERROR(read_ref(d, index, "first operand", &a));
      KILN_RETURN_IF_ERROR(read_ref(d, index, "second operand", &b));
      uint16_t depth = d->entries[a].depth > d->entries[b].depth
                           ? d->entries[a].depth
                           : d->entries[b].depth;
      entry->depth = (uint16_t)(depth + 1);
      entry->size_tensor =
          d->entries[a].size_tensor || d->entries[b].size_tensor;
      if (entry->depth > KILN_SYM_MAX_DEPTH) break;
      status = kiln_sym_make(d->table, (kiln_sym_op_t)op, d->entries[a].expr,
                             d->entries[b].expr, &entry->expr);
      break;
    }
  }
  if (entry->depth > KILN_SYM_MAX_DEPTH) {
    return corrupt(d, offset,
                   "node %" PRIu64
                   " has depth %u, more than "
                   "KILN_SYM_MAX_DEPTH (%d)",
                   index, (unsigned)entry->depth, KILN_SYM_MAX_DEPTH);
  }
  if (status) {
    return kiln_status_annotate(
        status, "reading expression node %" PRIu64 " at byte offset %zu", index,
        d->reader.base + offset);
  }
  return NULL;
}

// Reads the root list; with |out_roots| NULL it only checks it.
static kiln_status_t read_roots(deserializer_t* d, size_t max_roots,
                                kiln_sym_t* out_roots, uint64_t* out_count) {
  size_t offset = d->reader.offset;
  uint64_t count;
  KILN_RETURN_IF_ERROR(kiln__reader_varint(&d->reader, "root count", &count));
  if (count > max_roots) {
    return corrupt(d, offset, "%" PRIu64 " roots, more than the %zu expected",
                   count, max_roots);
  }
  for (uint64_t i = 0; i < count; ++i) {
    size_t root_offset = d->reader.offset;
    uint64_t ref;
    KILN_RETURN_IF_ERROR(kiln__reader_varint(&d->reader, "root", &ref));
    if (ref >= d->node_count) {
      return corrupt(d, root_offset,
                     "root %" PRIu64 " refers to node %" PRIu64
                     " of only %" PRIu64,
                     i, ref, d->node_count);
    }
    if (out_roots) out_roots[i] = d->entries[ref].expr;
  }
  *out_count = count;
  return NULL;
}

static kiln_status_t read_blob(deserializer_t* d, size_t max_roots,
                               kiln_sym_t* out_roots, size_t* out_root_count) {
  size_t count_offset = d->reader.offset;
  KILN_RETURN_IF_ERROR(
      kiln__reader_varint(&d->reader, "node count", &d->node_count));
  if (d->node_count > KILN_SYM_MAX_NODES) {
    return corrupt(d, count_offset,
                   "node count %" PRIu64 " exceeds KILN_SYM_MAX_NODES (%d)",
                   d->node_count, KILN_SYM_MAX_NODES);
  }
  // Each node takes at least MIN_NODE_BYTES, and the root count one more.
  size_t remaining = kiln__reader_remaining(&d->reader);
  if (remaining == 0 || d->node_count > (remaining - 1) / MIN_NODE_BYTES) {
    return corrupt(d, count_offset,
                   "node count %" PRIu64 " needs more than the %zu bytes left",
                   d->node_count, remaining);
  }
  size_t bytes;
  KILN_RETURN_IF_ERROR(kiln__size_mul((size_t)d->node_count + 1,
                                      sizeof(entry_t), "node entries", &bytes));
  void* memory = NULL;
  KILN_RETURN_IF_ERROR(
      kiln_allocator_malloc(d->table->allocator, bytes, &memory));
  d->entries = (entry_t*)memory;
  for (uint64_t i = 0; i < d->node_count; ++i) {
    KILN_RETURN_IF_ERROR(read_node(d, i));
  }
  // Check the roots first so that |out_roots| is written only on success.
  size_t roots_offset = d->reader.offset;
  uint64_t root_count;
  KILN_RETURN_IF_ERROR(read_roots(d, max_roots, NULL, &root_count));
  d->reader.offset = roots_offset;
  KILN_RETURN_IF_ERROR(read_roots(d, max_roots, out_roots, &root_count));
  *out_root_count = (size_t)root_count;
  return NULL;
}

kiln_status_t kiln__sym_deserialize(kiln_sym_table_t* table,
                                    kiln_const_bytes_t bytes,
                                    size_t base_offset, kiln_sym_t* out_roots,
                                    size_t max_roots, size_t* out_root_count,
                                    size_t* out_consumed) {
  if (out_root_count) *out_root_count = 0;
  if (out_consumed) *out_consumed = 0;
  if (out_roots) {
    for (size_t i = 0; i < max_roots; ++i) out_roots[i] = NULL;
  }
  if (!table || !out_root_count || (max_roots > 0 && !out_roots)) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "NULL table, roots or root count");
  }
  deserializer_t d;
  memset(&d, 0, sizeof(d));
  d.table = table;
  kiln__reader_init(&d.reader, bytes, base_offset);
  size_t root_count = 0;
  kiln_status_t status = read_blob(&d, max_roots, out_roots, &root_count);
  kiln_allocator_free(table->allocator, d.entries);
  if (status) {
    if (out_roots) {
      for (size_t i = 0; i < max_roots; ++i) out_roots[i] = NULL;
    }
    return status;
  }
  *out_root_count = root_count;
  if (out_consumed) *out_consumed = d.reader.offset;
  return NULL;
}
