// Symbolic integers: the table, interning, simplification and the builders.
//
// Nodes live in the table's arena and are found again through an
// open-addressing hash set keyed by (op, payload, operand pointers), so that
// structurally equal expressions are one pointer. Operands of commutative
// operations are put in a canonical order that depends only on structure
// (never on addresses or creation order), so the same expression built in two
// tables has the same shape in both.

#include "sym/sym.h"

#include <string.h>

#include "base/base.h"
#include "base/hash.h"
#include "base/size.h"
#include "sym/sym_impl.h"

typedef struct kiln_sym_node_s node_t;

#define SLOTS_INITIAL 64
#define MEMO_INITIAL 64

static const char* const op_names[] = {
    "const",     "dim",      "size_tensor", "sum", "sub",   "prod",
    "floor_div", "ceil_div", "max",         "min", "equal", "less",
};
_Static_assert(KILN_ARRAYSIZE(op_names) == KILN_SYM_OP_COUNT,
               "op_names must name every kiln_sym_op_t");

const char* kiln_sym_op_name(kiln_sym_op_t op) {
  if ((unsigned)op >= KILN_SYM_OP_COUNT) return "unknown";
  return op_names[op];
}

//===----------------------------------------------------------------------===//
// Table
//===----------------------------------------------------------------------===//

kiln_status_t kiln_sym_table_create(kiln_allocator_t allocator,
                                    kiln_sym_table_t** out_table) {
  if (!out_table) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "out_table must not be NULL");
  }
  *out_table = NULL;
  void* memory = NULL;
  KILN_RETURN_IF_ERROR(
      kiln_allocator_malloc(allocator, sizeof(kiln_sym_table_t), &memory));
  kiln_sym_table_t* table = (kiln_sym_table_t*)memory;
  table->allocator = allocator;
  kiln__arena_init(&table->arena, allocator);
  table->epoch = 1;
  *out_table = table;
  return NULL;
}

void kiln_sym_table_destroy(kiln_sym_table_t* table) {
  if (!table) return;
  kiln__arena_deinit(&table->arena);
  kiln_allocator_free(table->allocator, table->slots);
  kiln_allocator_free(table->allocator, table->memo);
  kiln_status_free(table->error);
  kiln_allocator_free(table->allocator, table);
}

size_t kiln_sym_table_node_count(const kiln_sym_table_t* table) {
  return table ? table->node_count : 0;
}

kiln_status_t kiln_sym_table_take_error(kiln_sym_table_t* table) {
  if (!table) return NULL;
  kiln_status_t error = table->error;
  table->error = NULL;
  return error;
}

uint32_t kiln__sym_next_epoch(kiln_sym_table_t* table) {
  if (++table->epoch == 0) {
    // The counter wrapped: forget every stamp so none matches by accident.
    for (size_t i = 0; i < table->memo_capacity; ++i) table->memo[i].epoch = 0;
    table->epoch = 1;
  }
  return table->epoch;
}

kiln_sym_table_t* kiln__sym_table_of(kiln_sym_t expr) {
  return expr ? expr->table : NULL;
}

bool kiln__sym_uses_size_tensor(kiln_sym_t expr) {
  return expr && (expr->flags & KILN__SYM_FLAG_SIZE_TENSOR);
}

uint32_t kiln__sym_id(kiln_sym_t expr) {
  return expr ? expr->id : 0;
}

//===----------------------------------------------------------------------===//
// Interning
//===----------------------------------------------------------------------===//

static uint64_t node_hash(const node_t* key) {
  uint64_t h = kiln__hash_mix(KILN_HASH_SEED, key->op);
  h = kiln__hash_mix(h, (uint64_t)key->value);
  h = kiln__hash_mix(h, ((uint64_t)key->p0 << 32) | key->p1);
  h = kiln__hash_mix(h, key->a ? key->a->hash : 0);
  h = kiln__hash_mix(h, key->b ? key->b->hash : 0);
  return h;
}

static bool same_key(const node_t* n, const node_t* key) {
  return n->op == key->op && n->value == key->value && n->p0 == key->p0 &&
         n->p1 == key->p1 && n->a == key->a && n->b == key->b;
}

// Returns the slot where |hash| with |key| is or would go.
static size_t probe(const kiln_sym_table_t* table, uint64_t hash,
                    const node_t* key) {
  size_t mask = table->slot_capacity - 1;
  size_t i = (size_t)hash & mask;
  for (;;) {
    const node_t* n = table->slots[i];
    if (!n || (n->hash == hash && key && same_key(n, key))) return i;
    i = (i + 1) & mask;
  }
}

// Makes room in the intern set for one more node (load factor at most 1/2).
static kiln_status_t reserve_slots(kiln_sym_table_t* table) {
  size_t needed;
  if (!kiln_size_checked_mul(table->node_count + 1, 2, &needed)) {
    return kiln_make_status(KILN_STATUS_OUT_OF_RANGE,
                            "symbol table size overflows");
  }
  if (needed <= table->slot_capacity) return NULL;
  size_t capacity = table->slot_capacity ? table->slot_capacity : SLOTS_INITIAL;
  while (capacity < needed) capacity *= 2;
  size_t bytes;
  KILN_RETURN_IF_ERROR(
      kiln__size_mul(capacity, sizeof(node_t*), "symbol table slots", &bytes));
  void* memory = NULL;
  KILN_RETURN_IF_ERROR(kiln_allocator_malloc(table->allocator, bytes, &memory));
  node_t** old = table->slots;
  size_t old_capacity = table->slot_capacity;
  table->slots = (node_t**)memory;
  table->slot_capacity = capacity;
  for (size_t i = 0; i < old_capacity; ++i) {
    if (old[i]) table->slots[probe(table, old[i]->hash, NULL)] = old[i];
  }
  kiln_allocator_free(table->allocator, old);
  return NULL;
}

// Makes the memo hold an entry for every node id up to node_count.
static kiln_status_t reserve_memo(kiln_sym_table_t* table) {
  if (table->node_count < table->memo_capacity) return NULL;
  size_t capacity = table->memo_capacity ? table->memo_capacity : MEMO_INITIAL;
  while (capacity <= table->node_count) capacity *= 2;
  size_t bytes;
  KILN_RETURN_IF_ERROR(kiln__size_mul(capacity, sizeof(kiln__sym_memo_t),
                                      "symbol memo", &bytes));
  void* memory = table->memo;
  KILN_RETURN_IF_ERROR(
      kiln_allocator_realloc(table->allocator, bytes, &memory));
  table->memo = (kiln__sym_memo_t*)memory;
  memset(table->memo + table->memo_capacity, 0,
         (capacity - table->memo_capacity) * sizeof(kiln__sym_memo_t));
  table->memo_capacity = capacity;
  return NULL;
}

// Returns the node equal to |key| (op, payload and operands set; operands
// already checked to belong to |table|), making it when it is new.
static kiln_status_t intern(kiln_sym_table_t* table, node_t* key,
                            kiln_sym_t* out_expr) {
  *out_expr = NULL;
  uint32_t depth = 1;
  uint8_t flags = key->op == KILN_SYM_OP_SIZE_TENSOR
                      ? (uint8_t)KILN__SYM_FLAG_SIZE_TENSOR
                      : (uint8_t)0;
  if (key->a) {
    if (key->a->depth + 1u > depth) depth = key->a->depth + 1u;
    flags |= key->a->flags;
  }
  if (key->b) {
    if (key->b->depth + 1u > depth) depth = key->b->depth + 1u;
    flags |= key->b->flags;
  }
  key->hash = node_hash(key);
  if (table->slot_capacity) {
    const node_t* found = table->slots[probe(table, key->hash, key)];
    if (found) {
      *out_expr = found;
      return NULL;
    }
  }
  if (depth > KILN_SYM_MAX_DEPTH) {
    return kiln_make_status(KILN_STATUS_OUT_OF_RANGE,
                            "%s expression would have depth %u, more than "
                            "KILN_SYM_MAX_DEPTH (%d)",
                            kiln_sym_op_name((kiln_sym_op_t)key->op), depth,
                            KILN_SYM_MAX_DEPTH);
  }
  if (table->node_count >= KILN_SYM_MAX_NODES) {
    return kiln_make_status(KILN_STATUS_OUT_OF_RANGE,
                            "symbol table is full (KILN_SYM_MAX_NODES = %d)",
                            KILN_SYM_MAX_NODES);
  }
  KILN_RETURN_IF_ERROR(reserve_slots(table));
  KILN_RETURN_IF_ERROR(reserve_memo(table));
  void* memory = NULL;
  KILN_RETURN_IF_ERROR(kiln__arena_alloc(&table->arena, sizeof(node_t),
                                         _Alignof(node_t), &memory));
  node_t* n = (node_t*)memory;
  *n = *key;
  n->table = table;
  n->id = (uint32_t)table->node_count;
  n->depth = (uint16_t)depth;
  n->flags = flags;
  table->slots[probe(table, n->hash, n)] = n;
  ++table->node_count;
  *out_expr = n;
  return NULL;
}

static node_t make_key(kiln_sym_op_t op) {
  node_t key;
  memset(&key, 0, sizeof(key));
  key.op = (uint8_t)op;
  return key;
}

//===----------------------------------------------------------------------===//
// Canonical order and constant folding
//===----------------------------------------------------------------------===//

// Orders compound expressions first, then dimensions, size tensors and
// constants, so that canonical forms read naturally and left-built chains
// need no parentheses: "x[0]*x[1]*x[2]", "x[0]*x[1] + 1".
static int order_class(kiln_sym_op_t op) {
  switch (op) {
    case KILN_SYM_OP_DIM:
      return 1;
    case KILN_SYM_OP_SIZE_TENSOR:
      return 2;
    case KILN_SYM_OP_CONST:
      return 3;
    default:
      return 0;
  }
}

#define COMPARE(x, y)                          \
  do {                                         \
    if ((x) != (y)) return (x) < (y) ? -1 : 1; \
  } while (0)

// A total order on the nodes of a table that depends only on structure. The
// structural hash decides almost always; the recursion (bounded by the depth)
// breaks hash ties.
static int structural_order(kiln_sym_t x, kiln_sym_t y) {
  if (x == y) return 0;
  int cx = order_class((kiln_sym_op_t)x->op);
  int cy = order_class((kiln_sym_op_t)y->op);
  COMPARE(cx, cy);
  switch (x->op) {
    case KILN_SYM_OP_CONST:
      COMPARE(x->value, y->value);
      return 0;
    case KILN_SYM_OP_DIM:
      COMPARE(x->p0, y->p0);
      COMPARE(x->p1, y->p1);
      return 0;
    case KILN_SYM_OP_SIZE_TENSOR:
      COMPARE(x->p0, y->p0);
      break;
    default:
      COMPARE(x->op, y->op);
      COMPARE(x->hash, y->hash);
      break;
  }
  int c = structural_order(x->a, y->a);
  return c ? c : structural_order(x->b, y->b);
}

#undef COMPARE

static bool is_commutative(kiln_sym_op_t op) {
  return op == KILN_SYM_OP_SUM || op == KILN_SYM_OP_PROD ||
         op == KILN_SYM_OP_MAX || op == KILN_SYM_OP_MIN ||
         op == KILN_SYM_OP_EQUAL;
}

static bool is_binary(kiln_sym_op_t op) {
  return op >= KILN_SYM_OP_SUM && op < KILN_SYM_OP_COUNT;
}

static bool const_value(kiln_sym_t x, int64_t* out_value) {
  if (x->op != KILN_SYM_OP_CONST) return false;
  *out_value = x->value;
  return true;
}

// Computes |op|(a, b) exactly. Returns false when the result does not fit in
// int64 or |b| is zero for a division.
static bool fold(kiln_sym_op_t op, int64_t a, int64_t b, int64_t* out) {
  switch (op) {
    case KILN_SYM_OP_SUM:
      return !__builtin_add_overflow(a, b, out);
    case KILN_SYM_OP_SUB:
      return !__builtin_sub_overflow(a, b, out);
    case KILN_SYM_OP_PROD:
      return !__builtin_mul_overflow(a, b, out);
    case KILN_SYM_OP_FLOOR_DIV:
    case KILN_SYM_OP_CEIL_DIV: {
      if (b == 0 || (a == INT64_MIN && b == -1)) return false;
      int64_t q = a / b, r = a % b;
      if (r != 0) {
        bool negative = (r < 0) != (b < 0);
        // Truncation rounded toward zero; move to the floor or the ceiling.
        // Neither step can overflow because |q| < |a| when r != 0.
        if (op == KILN_SYM_OP_FLOOR_DIV && negative) q -= 1;
        if (op == KILN_SYM_OP_CEIL_DIV && !negative) q += 1;
      }
      *out = q;
      return true;
    }
    case KILN_SYM_OP_MAX:
      *out = a > b ? a : b;
      return true;
    case KILN_SYM_OP_MIN:
      *out = a < b ? a : b;
      return true;
    case KILN_SYM_OP_EQUAL:
      *out = a == b;
      return true;
    case KILN_SYM_OP_LESS:
      *out = a < b;
      return true;
    default:
      return false;
  }
}

bool kiln__sym_fold(kiln_sym_op_t op, int64_t a, int64_t b, int64_t* out) {
  return fold(op, a, b, out);
}

//===----------------------------------------------------------------------===//
// Builders (status forms)
//===----------------------------------------------------------------------===//

static kiln_status_t check_operand(const kiln_sym_table_t* table, kiln_sym_t x,
                                   const char* which, kiln_sym_op_t op) {
  if (!x) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "%s operand of %s is NULL", which,
                            kiln_sym_op_name(op));
  }
  if (x->table != table) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "%s operand of %s belongs to another table", which,
                            kiln_sym_op_name(op));
  }
  return NULL;
}

// Returns an existing node as the result of a builder.
static kiln_status_t existing(kiln_sym_t x, kiln_sym_t* out_expr) {
  *out_expr = x;
  return NULL;
}

static kiln_status_t check_table(const kiln_sym_table_t* table) {
  if (!table) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "symbol table is NULL");
  }
  return NULL;
}

kiln_status_t kiln__sym_make_const(kiln_sym_table_t* table, int64_t value,
                                   kiln_sym_t* out_expr) {
  *out_expr = NULL;
  KILN_RETURN_IF_ERROR(check_table(table));
  node_t key = make_key(KILN_SYM_OP_CONST);
  key.value = value;
  return intern(table, &key, out_expr);
}

kiln_status_t kiln__sym_make_dim(kiln_sym_table_t* table, uint32_t tensor,
                                 uint32_t dim, kiln_sym_t* out_expr) {
  *out_expr = NULL;
  KILN_RETURN_IF_ERROR(check_table(table));
  if (tensor >= KILN_SYM_MAX_TENSORS) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "tensor index %u is out of range (at most %d "
                            "tensors)",
                            tensor, KILN_SYM_MAX_TENSORS);
  }
  if (dim >= KILN_MAX_RANK) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "dimension %u of tensor %u is out of range "
                            "(KILN_MAX_RANK is %d)",
                            dim, tensor, KILN_MAX_RANK);
  }
  node_t key = make_key(KILN_SYM_OP_DIM);
  key.p0 = tensor;
  key.p1 = dim;
  return intern(table, &key, out_expr);
}

kiln_status_t kiln__sym_make_size_tensor(kiln_sym_table_t* table,
                                         uint32_t index, kiln_sym_t opt,
                                         kiln_sym_t upper,
                                         kiln_sym_t* out_expr) {
  *out_expr = NULL;
  KILN_RETURN_IF_ERROR(check_table(table));
  KILN_RETURN_IF_ERROR(
      check_operand(table, opt, "opt", KILN_SYM_OP_SIZE_TENSOR));
  KILN_RETURN_IF_ERROR(
      check_operand(table, upper, "upper bound", KILN_SYM_OP_SIZE_TENSOR));
  if ((opt->flags | upper->flags) & KILN__SYM_FLAG_SIZE_TENSOR) {
    return kiln_make_status(
        KILN_STATUS_INVALID_ARGUMENT,
        "the %s of size tensor s%u uses a size tensor",
        (opt->flags & KILN__SYM_FLAG_SIZE_TENSOR) ? "opt value" : "upper bound",
        index);
  }
  node_t key = make_key(KILN_SYM_OP_SIZE_TENSOR);
  key.p0 = index;
  key.a = opt;
  key.b = upper;
  return intern(table, &key, out_expr);
}

kiln_status_t kiln_sym_make(kiln_sym_table_t* table, kiln_sym_op_t op,
                            kiln_sym_t a, kiln_sym_t b, kiln_sym_t* out_expr) {
  if (!out_expr) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "out_expr must not be NULL");
  }
  *out_expr = NULL;
  KILN_RETURN_IF_ERROR(check_table(table));
  if (!is_binary(op)) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "%s (%d) is not a binary operation",
                            kiln_sym_op_name(op), (int)op);
  }
  KILN_RETURN_IF_ERROR(check_operand(table, a, "first", op));
  KILN_RETURN_IF_ERROR(check_operand(table, b, "second", op));
  if (is_commutative(op) && structural_order(a, b) > 0) {
    kiln_sym_t t = a;
    a = b;
    b = t;
  }
  int64_t ca = 0, cb = 0;
  bool ka = const_value(a, &ca), kb = const_value(b, &cb);
  int64_t folded;
  if (ka && kb && fold(op, ca, cb, &folded)) {
    return kiln__sym_make_const(table, folded, out_expr);
  }
  switch (op) {
    case KILN_SYM_OP_SUM:
      if (kb && cb == 0) return existing(a, out_expr);
      if (ka && ca == 0) return existing(b, out_expr);
      break;
    case KILN_SYM_OP_SUB:
      if (kb && cb == 0) return existing(a, out_expr);
      if (a == b) return kiln__sym_make_const(table, 0, out_expr);
      break;
    case KILN_SYM_OP_PROD:
      if ((ka && ca == 0) || (kb && cb == 0)) {
        return kiln__sym_make_const(table, 0, out_expr);
      }
      if (kb && cb == 1) return existing(a, out_expr);
      if (ka && ca == 1) return existing(b, out_expr);
      break;
    case KILN_SYM_OP_FLOOR_DIV:
    case KILN_SYM_OP_CEIL_DIV:
      if (kb && cb == 1) return existing(a, out_expr);
      break;
    case KILN_SYM_OP_MAX:
    case KILN_SYM_OP_MIN:
      if (a == b) return existing(a, out_expr);
      break;
    case KILN_SYM_OP_EQUAL:
      if (a == b) return kiln__sym_make_const(table, 1, out_expr);
      break;
    case KILN_SYM_OP_LESS:
      if (a == b) return kiln__sym_make_const(table, 0, out_expr);
      break;
    default:
      break;
  }
  node_t key = make_key(op);
  key.a = a;
  key.b = b;
  return intern(table, &key, out_expr);
}

//===----------------------------------------------------------------------===//
// Builders (NULL-returning forms)
//===----------------------------------------------------------------------===//

// Keeps the first failure in |table| and returns |*result| (NULL on
// failure). The result is passed by address so that it is read only after
// the builder producing |status| has run.
static kiln_sym_t record(kiln_sym_table_t* table, kiln_status_t status,
                         const kiln_sym_t* result) {
  if (!status) return *result;
  if (!table || table->error) {
    kiln_status_free(status);
  } else {
    table->error = status;
  }
  return NULL;
}

kiln_sym_t kiln_sym_const(kiln_sym_table_t* table, int64_t value) {
  kiln_sym_t out = NULL;
  return record(table, kiln__sym_make_const(table, value, &out), &out);
}

kiln_sym_t kiln_sym_dim(kiln_sym_table_t* table, uint32_t tensor,
                        uint32_t dim) {
  kiln_sym_t out = NULL;
  return record(table, kiln__sym_make_dim(table, tensor, dim, &out), &out);
}

kiln_sym_t kiln_sym_size_tensor(kiln_sym_table_t* table, uint32_t index,
                                kiln_sym_t opt, kiln_sym_t upper_bound) {
  kiln_sym_t out = NULL;
  return record(
      table, kiln__sym_make_size_tensor(table, index, opt, upper_bound, &out),
      &out);
}

kiln_sym_t kiln_sym_binary(kiln_sym_table_t* table, kiln_sym_op_t op,
                           kiln_sym_t a, kiln_sym_t b) {
  kiln_sym_t out = NULL;
  return record(table, kiln_sym_make(table, op, a, b, &out), &out);
}

kiln_sym_t kiln_sym_add(kiln_sym_table_t* table, kiln_sym_t a, kiln_sym_t b) {
  return kiln_sym_binary(table, KILN_SYM_OP_SUM, a, b);
}

kiln_sym_t kiln_sym_sub(kiln_sym_table_t* table, kiln_sym_t a, kiln_sym_t b) {
  return kiln_sym_binary(table, KILN_SYM_OP_SUB, a, b);
}

kiln_sym_t kiln_sym_mul(kiln_sym_table_t* table, kiln_sym_t a, kiln_sym_t b) {
  return kiln_sym_binary(table, KILN_SYM_OP_PROD, a, b);
}

kiln_sym_t kiln_sym_floor_div(kiln_sym_table_t* table, kiln_sym_t a,
                              kiln_sym_t b) {
  return kiln_sym_binary(table, KILN_SYM_OP_FLOOR_DIV, a, b);
}

kiln_sym_t kiln_sym_ceil_div(kiln_sym_table_t* table, kiln_sym_t a,
                             kiln_sym_t b) {
  return kiln_sym_binary(table, KILN_SYM_OP_CEIL_DIV, a, b);
}

kiln_sym_t kiln_sym_max(kiln_sym_table_t* table, kiln_sym_t a, kiln_sym_t b) {
  return kiln_sym_binary(table, KILN_SYM_OP_MAX, a, b);
}

kiln_sym_t kiln_sym_min(kiln_sym_table_t* table, kiln_sym_t a, kiln_sym_t b) {
  return kiln_sym_binary(table, KILN_SYM_OP_MIN, a, b);
}

kiln_sym_t kiln_sym_eq(kiln_sym_table_t* table, kiln_sym_t a, kiln_sym_t b) {
  return kiln_sym_binary(table, KILN_SYM_OP_EQUAL, a, b);
}

kiln_sym_t kiln_sym_lt(kiln_sym_table_t* table, kiln_sym_t a, kiln_sym_t b) {
  return kiln_sym_binary(table, KILN_SYM_OP_LESS, a, b);
}

//===----------------------------------------------------------------------===//
// Queries
//===----------------------------------------------------------------------===//

kiln_sym_info_t kiln_sym_get_info(kiln_sym_t expr) {
  kiln_sym_info_t info;
  memset(&info, 0, sizeof(info));
  if (!expr) {
    info.op = KILN_SYM_OP_COUNT;
    return info;
  }
  info.op = (kiln_sym_op_t)expr->op;
  info.depth = expr->depth;
  info.a = expr->a;
  info.b = expr->b;
  switch (expr->op) {
    case KILN_SYM_OP_CONST:
      info.value = expr->value;
      break;
    case KILN_SYM_OP_DIM:
      info.tensor = expr->p0;
      info.dim = expr->p1;
      break;
    case KILN_SYM_OP_SIZE_TENSOR:
      info.index = expr->p0;
      break;
    default:
      break;
  }
  return info;
}

bool kiln_sym_is_constant(kiln_sym_t expr, int64_t* out_value) {
  if (!expr || expr->op != KILN_SYM_OP_CONST) return false;
  if (out_value) *out_value = expr->value;
  return true;
}
