// Tests of src/sym: interning, simplification, builder failures, evaluation
// (boundaries, messages, shared subexpressions) and printing.

#include "sym/sym.h"

#include <stdio.h>
#include <stdlib.h>

#include "base/base.h"
#include "sym/sym_impl.h"
#include "test.h"

#define TWO_POW_31 (INT64_C(1) << 31)
#define TWO_POW_62 (INT64_C(1) << 62)

// Creates a table with the system allocator or fails the test.
#define NEW_TABLE(table)          \
  kiln_sym_table_t* table = NULL; \
  ASSERT_OK(kiln_sym_table_create(kiln_allocator_system(), &table))

// Asserts that the table has recorded no failure.
#define ASSERT_NO_TABLE_ERROR(table) ASSERT_OK(kiln_sym_table_take_error(table))

static char show_text[1024];

// Prints |expr| into a static buffer ("<error>" on failure).
static const char* show(kiln_sym_t expr, const char* const* names,
                        size_t name_count) {
  kiln_status_t status = kiln_sym_print(expr, names, name_count, show_text,
                                        sizeof(show_text), NULL);
  if (status) {
    kiln_status_free(status);
    return "<error>";
  }
  return show_text;
}

static const char* const xyz_names[] = {"x", "y", "z"};

// Prints with tensor 0 named "x", 1 "y" and 2 "z".
static const char* show_xyz(kiln_sym_t expr) {
  return show(expr, xyz_names, 3);
}

// An environment: tensor 0 of rank 3 (x0, x1, 7), tensor 1 of rank 1 (5),
// and size tensors s0 = 11, s1 = -4.
typedef struct env_holder_t {
  kiln_dims_t dims[2];
  int64_t sizes[2];
  kiln_sym_env_t env;
} env_holder_t;

static void env_init(env_holder_t* h, int64_t x0, int64_t x1) {
  memset(h, 0, sizeof(*h));
  h->dims[0].rank = 3;
  h->dims[0].d[0] = x0;
  h->dims[0].d[1] = x1;
  h->dims[0].d[2] = 7;
  h->dims[1].rank = 1;
  h->dims[1].d[0] = 5;
  h->sizes[0] = 11;
  h->sizes[1] = -4;
  h->env.tensors = h->dims;
  h->env.tensor_count = 2;
  h->env.size_tensor_values = h->sizes;
  h->env.size_tensor_count = 2;
}

//===----------------------------------------------------------------------===//
// Building
//===----------------------------------------------------------------------===//

TEST(sym_op_names) {
  ASSERT_EQ_STR(kiln_sym_op_name(KILN_SYM_OP_CONST), "const");
  ASSERT_EQ_STR(kiln_sym_op_name(KILN_SYM_OP_DIM), "dim");
  ASSERT_EQ_STR(kiln_sym_op_name(KILN_SYM_OP_SIZE_TENSOR), "size_tensor");
  ASSERT_EQ_STR(kiln_sym_op_name(KILN_SYM_OP_SUM), "sum");
  ASSERT_EQ_STR(kiln_sym_op_name(KILN_SYM_OP_FLOOR_DIV), "floor_div");
  ASSERT_EQ_STR(kiln_sym_op_name(KILN_SYM_OP_CEIL_DIV), "ceil_div");
  ASSERT_EQ_STR(kiln_sym_op_name(KILN_SYM_OP_EQUAL), "equal");
  ASSERT_EQ_STR(kiln_sym_op_name(KILN_SYM_OP_LESS), "less");
  ASSERT_EQ_STR(kiln_sym_op_name(KILN_SYM_OP_COUNT), "unknown");
  ASSERT_EQ_STR(kiln_sym_op_name((kiln_sym_op_t)-1), "unknown");
}

TEST(sym_table_lifecycle) {
  kiln_test_allocator_t ta = kiln_test_allocator_make();
  kiln_sym_table_t* t = NULL;
  ASSERT_OK(kiln_sym_table_create(kiln_test_allocator_get(&ta), &t));
  ASSERT_EQ_U64(kiln_sym_table_node_count(t), 0);
  ASSERT_EQ_U64(kiln_sym_table_node_count(NULL), 0);
  ASSERT_EQ_PTR(kiln_sym_table_take_error(t), NULL);
  ASSERT_EQ_PTR(kiln_sym_table_take_error(NULL), NULL);
  // Enough nodes to grow the intern set, the memo and the arena many times.
  for (int64_t i = 0; i < 5000; ++i) ASSERT_TRUE(kiln_sym_const(t, i) != NULL);
  ASSERT_EQ_U64(kiln_sym_table_node_count(t), 5000);
  for (int64_t i = 0; i < 5000; ++i) {
    int64_t v = -1;
    ASSERT_TRUE(kiln_sym_is_constant(kiln_sym_const(t, i), &v));
    ASSERT_EQ_I64(v, i);
  }
  ASSERT_EQ_U64(kiln_sym_table_node_count(t), 5000);
  ASSERT_NO_TABLE_ERROR(t);
  kiln_sym_table_destroy(t);
  kiln_sym_table_destroy(NULL);
  ASSERT_EQ_U64(ta.live, 0);
  ASSERT_STATUS(kiln_sym_table_create(kiln_allocator_system(), NULL),
                KILN_STATUS_INVALID_ARGUMENT, "out_table");
}

TEST(sym_interning) {
  NEW_TABLE(t);
  kiln_sym_t x0 = kiln_sym_dim(t, 0, 0), x1 = kiln_sym_dim(t, 0, 1);
  ASSERT_EQ_PTR(x0, kiln_sym_dim(t, 0, 0));
  ASSERT_TRUE(x0 != x1);
  ASSERT_TRUE(x0 != kiln_sym_dim(t, 1, 0));
  ASSERT_EQ_PTR(kiln_sym_const(t, 42), kiln_sym_const(t, 42));
  ASSERT_TRUE(kiln_sym_const(t, 42) != kiln_sym_const(t, -42));
  ASSERT_EQ_PTR(kiln_sym_const(t, INT64_MIN), kiln_sym_const(t, INT64_MIN));
  kiln_sym_t e1 =
      kiln_sym_ceil_div(t, kiln_sym_mul(t, x0, x1), kiln_sym_const(t, 256));
  size_t count = kiln_sym_table_node_count(t);
  kiln_sym_t e2 =
      kiln_sym_ceil_div(t, kiln_sym_mul(t, x0, x1), kiln_sym_const(t, 256));
  ASSERT_EQ_PTR(e1, e2);
  ASSERT_EQ_U64(kiln_sym_table_node_count(t), count);
  // Non-commutative operations keep their order.
  ASSERT_TRUE(kiln_sym_sub(t, x0, x1) != kiln_sym_sub(t, x1, x0));
  ASSERT_TRUE(kiln_sym_lt(t, x0, x1) != kiln_sym_lt(t, x1, x0));
  ASSERT_TRUE(kiln_sym_floor_div(t, x0, x1) != kiln_sym_floor_div(t, x1, x0));
  ASSERT_TRUE(kiln_sym_ceil_div(t, x0, x1) != kiln_sym_ceil_div(t, x1, x0));
  // Distinct operations on the same operands are distinct nodes.
  ASSERT_TRUE(kiln_sym_floor_div(t, x0, x1) != kiln_sym_ceil_div(t, x0, x1));
  ASSERT_TRUE(kiln_sym_max(t, x0, x1) != kiln_sym_min(t, x0, x1));
  ASSERT_TRUE(kiln_sym_add(t, x0, x1) != kiln_sym_mul(t, x0, x1));
  // Size tensors intern by index, opt and upper bound.
  kiln_sym_t c4 = kiln_sym_const(t, 4), c9 = kiln_sym_const(t, 9);
  kiln_sym_t s0 = kiln_sym_size_tensor(t, 0, c4, c9);
  ASSERT_EQ_PTR(s0, kiln_sym_size_tensor(t, 0, c4, c9));
  ASSERT_TRUE(s0 != kiln_sym_size_tensor(t, 1, c4, c9));
  ASSERT_TRUE(s0 != kiln_sym_size_tensor(t, 0, c9, c9));
  ASSERT_TRUE(kiln__sym_uses_size_tensor(s0));
  ASSERT_TRUE(kiln__sym_uses_size_tensor(kiln_sym_add(t, x0, s0)));
  ASSERT_FALSE(kiln__sym_uses_size_tensor(e1));
  ASSERT_FALSE(kiln__sym_uses_size_tensor(NULL));
  ASSERT_EQ_PTR(kiln__sym_table_of(e1), t);
  ASSERT_EQ_PTR(kiln__sym_table_of(NULL), NULL);
  ASSERT_EQ_U64(kiln__sym_id(x0), 0);
  ASSERT_EQ_U64(kiln__sym_id(x1), 1);
  ASSERT_NO_TABLE_ERROR(t);
  kiln_sym_table_destroy(t);
}

TEST(sym_simplify_identities) {
  NEW_TABLE(t);
  kiln_sym_t x = kiln_sym_dim(t, 0, 0), y = kiln_sym_dim(t, 0, 1);
  kiln_sym_t c0 = kiln_sym_const(t, 0), c1 = kiln_sym_const(t, 1);
  kiln_sym_t operands[] = {x, kiln_sym_mul(t, x, y),
                           kiln_sym_size_tensor(t, 0, c1, c1)};
  for (size_t i = 0; i < KILN_ARRAYSIZE(operands); ++i) {
    kiln_sym_t v = operands[i];
    ASSERT_EQ_PTR(kiln_sym_add(t, v, c0), v);
    ASSERT_EQ_PTR(kiln_sym_add(t, c0, v), v);
    ASSERT_EQ_PTR(kiln_sym_sub(t, v, c0), v);
    ASSERT_EQ_PTR(kiln_sym_sub(t, v, v), c0);
    ASSERT_EQ_PTR(kiln_sym_mul(t, v, c1), v);
    ASSERT_EQ_PTR(kiln_sym_mul(t, c1, v), v);
    ASSERT_EQ_PTR(kiln_sym_mul(t, v, c0), c0);
    ASSERT_EQ_PTR(kiln_sym_mul(t, c0, v), c0);
    ASSERT_EQ_PTR(kiln_sym_floor_div(t, v, c1), v);
    ASSERT_EQ_PTR(kiln_sym_ceil_div(t, v, c1), v);
    ASSERT_EQ_PTR(kiln_sym_max(t, v, v), v);
    ASSERT_EQ_PTR(kiln_sym_min(t, v, v), v);
    ASSERT_EQ_PTR(kiln_sym_eq(t, v, v), c1);
    ASSERT_EQ_PTR(kiln_sym_lt(t, v, v), c0);
  }
  // Rewrites that do not hold for every value are not applied.
  ASSERT_TRUE(kiln_sym_sub(t, c0, x) != x);
  ASSERT_TRUE(kiln_sym_floor_div(t, c1, x) != x);
  ASSERT_TRUE(kiln_sym_floor_div(t, x, x) != c1);   // x may be 0
  ASSERT_TRUE(kiln_sym_floor_div(t, c0, x) != c0);  // x may be 0
  ASSERT_TRUE(kiln_sym_eq(t, x, y) != c0);
  ASSERT_EQ_I64(kiln_sym_get_info(kiln_sym_add(t, x, x)).op, KILN_SYM_OP_SUM);
  ASSERT_NO_TABLE_ERROR(t);
  kiln_sym_table_destroy(t);
}

// Folds |op|(a, b) and checks that the result is the constant |want|.
#define ASSERT_FOLDS(opc, a, b, want)                                 \
  do {                                                                \
    int64_t v_ = 0;                                                   \
    kiln_sym_t r_ = kiln_sym_binary(t, (opc), kiln_sym_const(t, (a)), \
                                    kiln_sym_const(t, (b)));          \
    if (!kiln_sym_is_constant(r_, &v_))                               \
      FAIL("%s(%s, %s) did not fold", #opc, #a, #b);                  \
    ASSERT_EQ_I64(v_, (want));                                        \
  } while (0)

// Checks that |op|(a, b) is left unfolded and that evaluating it fails.
#define ASSERT_STAYS(opc, a, b, needle)                                      \
  do {                                                                       \
    kiln_sym_t r_ = kiln_sym_binary(t, (opc), kiln_sym_const(t, (a)),        \
                                    kiln_sym_const(t, (b)));                 \
    ASSERT_TRUE(r_ != NULL);                                                 \
    ASSERT_FALSE(kiln_sym_is_constant(r_, NULL));                            \
    ASSERT_EQ_I64(kiln_sym_get_info(r_).op, (opc));                          \
    int64_t v_ = 0;                                                          \
    ASSERT_STATUS(kiln_sym_eval(t, r_, NULL, &v_), KILN_STATUS_OUT_OF_RANGE, \
                  (needle));                                                 \
  } while (0)

TEST(sym_constant_folding) {
  NEW_TABLE(t);
  ASSERT_FOLDS(KILN_SYM_OP_SUM, 2, 3, 5);
  ASSERT_FOLDS(KILN_SYM_OP_SUM, INT64_MAX, INT64_MIN, -1);
  ASSERT_FOLDS(KILN_SYM_OP_SUB, 2, 3, -1);
  ASSERT_FOLDS(KILN_SYM_OP_SUB, -1, INT64_MAX, INT64_MIN);
  ASSERT_FOLDS(KILN_SYM_OP_PROD, -4, 5, -20);
  ASSERT_FOLDS(KILN_SYM_OP_PROD, TWO_POW_62, -2, INT64_MIN);
  ASSERT_FOLDS(KILN_SYM_OP_FLOOR_DIV, 7, 2, 3);
  ASSERT_FOLDS(KILN_SYM_OP_FLOOR_DIV, -7, 2, -4);
  ASSERT_FOLDS(KILN_SYM_OP_FLOOR_DIV, 7, -2, -4);
  ASSERT_FOLDS(KILN_SYM_OP_FLOOR_DIV, -7, -2, 3);
  ASSERT_FOLDS(KILN_SYM_OP_FLOOR_DIV, INT64_MIN, 1, INT64_MIN);
  ASSERT_FOLDS(KILN_SYM_OP_CEIL_DIV, 7, 2, 4);
  ASSERT_FOLDS(KILN_SYM_OP_CEIL_DIV, -7, 2, -3);
  ASSERT_FOLDS(KILN_SYM_OP_CEIL_DIV, 7, -2, -3);
  ASSERT_FOLDS(KILN_SYM_OP_CEIL_DIV, -7, -2, 4);
  ASSERT_FOLDS(KILN_SYM_OP_CEIL_DIV, INT64_MAX, 2, TWO_POW_62);
  ASSERT_FOLDS(KILN_SYM_OP_MAX, -3, 2, 2);
  ASSERT_FOLDS(KILN_SYM_OP_MIN, -3, 2, -3);
  ASSERT_FOLDS(KILN_SYM_OP_EQUAL, 3, 3, 1);
  ASSERT_FOLDS(KILN_SYM_OP_EQUAL, 3, 4, 0);
  ASSERT_FOLDS(KILN_SYM_OP_LESS, 3, 4, 1);
  ASSERT_FOLDS(KILN_SYM_OP_LESS, 4, 3, 0);
  ASSERT_FOLDS(KILN_SYM_OP_LESS, INT64_MIN, INT64_MAX, 1);
  // Results that do not fit, and divisions by zero, stay for evaluation.
  ASSERT_STAYS(KILN_SYM_OP_SUM, INT64_MAX, 1,
               "integer overflow in 1 + 9223372036854775807 "
               "(1 + 9223372036854775807)");
  ASSERT_STAYS(KILN_SYM_OP_SUB, INT64_MIN, 1, "integer overflow");
  ASSERT_STAYS(KILN_SYM_OP_PROD, TWO_POW_62, 2, "(2 * 4611686018427387904)");
  ASSERT_STAYS(KILN_SYM_OP_PROD, INT64_MIN, -1, "integer overflow");
  ASSERT_STAYS(KILN_SYM_OP_FLOOR_DIV, INT64_MIN, -1,
               "integer overflow in (-9223372036854775808) // (-1) "
               "(-9223372036854775808 // -1)");
  ASSERT_STAYS(KILN_SYM_OP_CEIL_DIV, INT64_MIN, -1, "integer overflow");
  ASSERT_STAYS(KILN_SYM_OP_FLOOR_DIV, 5, 0, "division by zero in 5 // 0");
  ASSERT_STAYS(KILN_SYM_OP_CEIL_DIV, 5, 0,
               "division by zero in cdiv(5, 0) (cdiv(5, 0))");
  ASSERT_NO_TABLE_ERROR(t);
  kiln_sym_table_destroy(t);
}

TEST(sym_canonical_order) {
  NEW_TABLE(t);
  kiln_sym_t x = kiln_sym_dim(t, 0, 0), y = kiln_sym_dim(t, 0, 1);
  kiln_sym_t c = kiln_sym_const(t, 3);
  kiln_sym_t e = kiln_sym_sub(t, x, y);
  kiln_sym_t s = kiln_sym_size_tensor(t, 1, c, c);
  kiln_sym_t all[] = {x, y, c, e, s};
  static const kiln_sym_op_t ops[] = {KILN_SYM_OP_SUM, KILN_SYM_OP_PROD,
                                      KILN_SYM_OP_MAX, KILN_SYM_OP_MIN,
                                      KILN_SYM_OP_EQUAL};
  for (size_t k = 0; k < KILN_ARRAYSIZE(ops); ++k) {
    for (size_t i = 0; i < KILN_ARRAYSIZE(all); ++i) {
      for (size_t j = 0; j < KILN_ARRAYSIZE(all); ++j) {
        ASSERT_EQ_PTR(kiln_sym_binary(t, ops[k], all[i], all[j]),
                      kiln_sym_binary(t, ops[k], all[j], all[i]));
      }
    }
  }
  // Compound terms come first, then dimensions, size tensors and constants.
  ASSERT_EQ_STR(show_xyz(kiln_sym_add(t, c, y)), "x[1] + 3");
  ASSERT_EQ_STR(show_xyz(kiln_sym_mul(t, y, x)), "x[0]*x[1]");
  ASSERT_EQ_STR(show_xyz(kiln_sym_add(t, x, e)), "x[0] - x[1] + x[0]");
  ASSERT_EQ_STR(show_xyz(kiln_sym_max(t, c, s)), "max(s1, 3)");
  // The order depends on structure only, not on creation order: the same
  // expression built in another order in another table prints the same.
  NEW_TABLE(u);
  kiln_sym_t uc = kiln_sym_const(u, 3);
  kiln_sym_t uy = kiln_sym_dim(u, 0, 1), ux = kiln_sym_dim(u, 0, 0);
  ASSERT_EQ_STR(show_xyz(kiln_sym_mul(u, ux, uy)), "x[0]*x[1]");
  kiln_sym_t f1 = kiln_sym_add(t, kiln_sym_mul(t, x, c), kiln_sym_sub(t, y, x));
  kiln_sym_t f2 =
      kiln_sym_add(u, kiln_sym_sub(u, uy, ux), kiln_sym_mul(u, uc, ux));
  char text[256];
  snprintf(text, sizeof(text), "%s", show_xyz(f1));
  ASSERT_EQ_STR(show_xyz(f2), text);
  ASSERT_NO_TABLE_ERROR(t);
  ASSERT_NO_TABLE_ERROR(u);
  kiln_sym_table_destroy(u);
  kiln_sym_table_destroy(t);
}

TEST(sym_builder_errors) {
  NEW_TABLE(t);
  NEW_TABLE(other);
  kiln_sym_t x = kiln_sym_dim(t, 0, 0);
  kiln_sym_t foreign = kiln_sym_dim(other, 0, 0);
  // A NULL operand gives NULL and records one error.
  ASSERT_EQ_PTR(kiln_sym_add(t, NULL, x), NULL);
  ASSERT_STATUS(kiln_sym_table_take_error(t), KILN_STATUS_INVALID_ARGUMENT,
                "first operand of sum is NULL");
  ASSERT_EQ_PTR(kiln_sym_table_take_error(t), NULL);
  // NULL propagates through a chain and the first failure is kept.
  kiln_sym_t bad = kiln_sym_dim(t, 0, KILN_MAX_RANK);
  ASSERT_EQ_PTR(bad, NULL);
  kiln_sym_t chain = kiln_sym_mul(t, kiln_sym_add(t, x, bad), x);
  chain = kiln_sym_ceil_div(t, chain, kiln_sym_const(t, 4));
  ASSERT_EQ_PTR(chain, NULL);
  ASSERT_STATUS(kiln_sym_table_take_error(t), KILN_STATUS_INVALID_ARGUMENT,
                "dimension 8 of tensor 0 is out of range");
  // An operand of another table.
  ASSERT_EQ_PTR(kiln_sym_mul(t, x, foreign), NULL);
  ASSERT_STATUS(kiln_sym_table_take_error(t), KILN_STATUS_INVALID_ARGUMENT,
                "another table");
  ASSERT_EQ_PTR(kiln_sym_size_tensor(t, 0, foreign, x), NULL);
  ASSERT_STATUS(kiln_sym_table_take_error(t), KILN_STATUS_INVALID_ARGUMENT,
                "another table");
  // Tensor indices and dimensions out of range.
  ASSERT_TRUE(kiln_sym_dim(t, KILN_SYM_MAX_TENSORS - 1, KILN_MAX_RANK - 1));
  ASSERT_EQ_PTR(kiln_sym_dim(t, KILN_SYM_MAX_TENSORS, 0), NULL);
  ASSERT_STATUS(kiln_sym_table_take_error(t), KILN_STATUS_INVALID_ARGUMENT,
                "tensor index 4096 is out of range");
  ASSERT_EQ_PTR(kiln_sym_dim(t, UINT32_MAX, UINT32_MAX), NULL);
  ASSERT_STATUS(kiln_sym_table_take_error(t), KILN_STATUS_INVALID_ARGUMENT,
                "tensor index");
  // A size tensor may not use a size tensor in its opt or upper bound.
  kiln_sym_t c = kiln_sym_const(t, 8);
  kiln_sym_t s0 = kiln_sym_size_tensor(t, 0, c, c);
  ASSERT_EQ_PTR(kiln_sym_size_tensor(t, 1, kiln_sym_add(t, s0, c), c), NULL);
  ASSERT_STATUS(kiln_sym_table_take_error(t), KILN_STATUS_INVALID_ARGUMENT,
                "the opt value of size tensor s1 uses a size tensor");
  ASSERT_EQ_PTR(kiln_sym_size_tensor(t, 1, c, s0), NULL);
  ASSERT_STATUS(kiln_sym_table_take_error(t), KILN_STATUS_INVALID_ARGUMENT,
                "the upper bound of size tensor s1");
  ASSERT_EQ_PTR(kiln_sym_size_tensor(t, 1, NULL, c), NULL);
  ASSERT_STATUS(kiln_sym_table_take_error(t), KILN_STATUS_INVALID_ARGUMENT,
                "opt operand of size_tensor is NULL");
  // Ops that are not binary.
  ASSERT_EQ_PTR(kiln_sym_binary(t, KILN_SYM_OP_DIM, x, x), NULL);
  ASSERT_STATUS(kiln_sym_table_take_error(t), KILN_STATUS_INVALID_ARGUMENT,
                "dim (1) is not a binary operation");
  ASSERT_EQ_PTR(kiln_sym_binary(t, KILN_SYM_OP_COUNT, x, x), NULL);
  ASSERT_EQ_PTR(kiln_sym_binary(t, (kiln_sym_op_t)-7, x, x), NULL);
  ASSERT_STATUS(kiln_sym_table_take_error(t), KILN_STATUS_INVALID_ARGUMENT,
                "unknown (12) is not a binary operation");
  // A NULL table gives NULL and records nothing anywhere.
  ASSERT_EQ_PTR(kiln_sym_const(NULL, 1), NULL);
  ASSERT_EQ_PTR(kiln_sym_dim(NULL, 0, 0), NULL);
  ASSERT_EQ_PTR(kiln_sym_add(NULL, x, x), NULL);
  ASSERT_EQ_PTR(kiln_sym_size_tensor(NULL, 0, c, c), NULL);
  ASSERT_NO_TABLE_ERROR(t);
  ASSERT_NO_TABLE_ERROR(other);
  kiln_sym_table_destroy(other);
  kiln_sym_table_destroy(t);
}

TEST(sym_make_status) {
  NEW_TABLE(t);
  NEW_TABLE(other);
  kiln_sym_t x = kiln_sym_dim(t, 0, 0), y = kiln_sym_dim(t, 1, 0);
  kiln_sym_t out = x;
  ASSERT_OK(kiln_sym_make(t, KILN_SYM_OP_FLOOR_DIV, x, y, &out));
  ASSERT_EQ_PTR(out, kiln_sym_floor_div(t, x, y));
  ASSERT_STATUS(kiln_sym_make(t, KILN_SYM_OP_SUM, x, NULL, &out),
                KILN_STATUS_INVALID_ARGUMENT, "second operand of sum is NULL");
  ASSERT_EQ_PTR(out, NULL);
  ASSERT_STATUS(
      kiln_sym_make(t, KILN_SYM_OP_SUM, kiln_sym_const(other, 1), x, &out),
      KILN_STATUS_INVALID_ARGUMENT, "first operand of sum belongs to another");
  ASSERT_STATUS(kiln_sym_make(t, KILN_SYM_OP_CONST, x, x, &out),
                KILN_STATUS_INVALID_ARGUMENT, "not a binary operation");
  ASSERT_STATUS(kiln_sym_make(NULL, KILN_SYM_OP_SUM, x, x, &out),
                KILN_STATUS_INVALID_ARGUMENT, "table is NULL");
  ASSERT_STATUS(kiln_sym_make(t, KILN_SYM_OP_SUM, x, x, NULL),
                KILN_STATUS_INVALID_ARGUMENT, "out_expr");
  // kiln_sym_make reports directly and records nothing.
  ASSERT_NO_TABLE_ERROR(t);
  // The depth limit: a chain of KILN_SYM_MAX_DEPTH nodes is fine, one more
  // is OUT_OF_RANGE (as a status and through the NULL-returning builders).
  kiln_sym_t e = x;
  for (int i = 1; i < KILN_SYM_MAX_DEPTH; ++i) {
    ASSERT_OK(kiln_sym_make(t, KILN_SYM_OP_SUM, e, y, &e));
  }
  ASSERT_EQ_I64(kiln_sym_get_info(e).depth, KILN_SYM_MAX_DEPTH);
  ASSERT_STATUS(kiln_sym_make(t, KILN_SYM_OP_PROD, e, y, &out),
                KILN_STATUS_OUT_OF_RANGE,
                "prod expression would have depth 129, more than "
                "KILN_SYM_MAX_DEPTH (128)");
  ASSERT_EQ_PTR(kiln_sym_max(t, e, e), e);  // simplifies: no new node
  ASSERT_EQ_PTR(kiln_sym_sub(t, y, e), NULL);
  ASSERT_STATUS(kiln_sym_table_take_error(t), KILN_STATUS_OUT_OF_RANGE,
                "depth 129");
  ASSERT_EQ_PTR(kiln_sym_size_tensor(t, 0, e, y), NULL);
  ASSERT_STATUS(kiln_sym_table_take_error(t), KILN_STATUS_OUT_OF_RANGE,
                "size_tensor expression would have depth 129");
  kiln_sym_table_destroy(other);
  kiln_sym_table_destroy(t);
}

TEST(sym_table_full) {
  NEW_TABLE(t);
  for (int64_t i = 0; i < KILN_SYM_MAX_NODES; ++i) {
    if (!kiln_sym_const(t, i)) FAIL("node %" PRId64 " failed", i);
  }
  ASSERT_EQ_U64(kiln_sym_table_node_count(t), KILN_SYM_MAX_NODES);
  ASSERT_EQ_PTR(kiln_sym_const(t, -1), NULL);
  ASSERT_STATUS(kiln_sym_table_take_error(t), KILN_STATUS_OUT_OF_RANGE,
                "symbol table is full");
  kiln_sym_t out = NULL;
  ASSERT_STATUS(kiln_sym_make(t, KILN_SYM_OP_FLOOR_DIV, kiln_sym_const(t, 5),
                              kiln_sym_const(t, 0), &out),
                KILN_STATUS_OUT_OF_RANGE, "full");
  // Existing nodes are still found, and folding to one needs no new node.
  ASSERT_TRUE(kiln_sym_const(t, 12345) != NULL);
  ASSERT_EQ_PTR(kiln_sym_add(t, kiln_sym_const(t, 2), kiln_sym_const(t, 3)),
                kiln_sym_const(t, 5));
  ASSERT_NO_TABLE_ERROR(t);
  kiln_sym_table_destroy(t);
}

TEST(sym_get_info) {
  NEW_TABLE(t);
  kiln_sym_info_t info = kiln_sym_get_info(NULL);
  ASSERT_EQ_I64(info.op, KILN_SYM_OP_COUNT);
  ASSERT_EQ_PTR(info.a, NULL);
  ASSERT_EQ_I64(info.depth, 0);
  info = kiln_sym_get_info(kiln_sym_const(t, -77));
  ASSERT_EQ_I64(info.op, KILN_SYM_OP_CONST);
  ASSERT_EQ_I64(info.value, -77);
  ASSERT_EQ_I64(info.depth, 1);
  kiln_sym_t d = kiln_sym_dim(t, 3, 5);
  info = kiln_sym_get_info(d);
  ASSERT_EQ_I64(info.op, KILN_SYM_OP_DIM);
  ASSERT_EQ_I64(info.tensor, 3);
  ASSERT_EQ_I64(info.dim, 5);
  ASSERT_EQ_I64(info.value, 0);
  ASSERT_EQ_PTR(info.a, NULL);
  kiln_sym_t opt = kiln_sym_const(t, 16), upper = kiln_sym_mul(t, d, d);
  kiln_sym_t s = kiln_sym_size_tensor(t, 7, opt, upper);
  info = kiln_sym_get_info(s);
  ASSERT_EQ_I64(info.op, KILN_SYM_OP_SIZE_TENSOR);
  ASSERT_EQ_I64(info.index, 7);
  ASSERT_EQ_PTR(info.a, opt);
  ASSERT_EQ_PTR(info.b, upper);
  ASSERT_EQ_I64(info.depth, 3);
  kiln_sym_t l = kiln_sym_lt(t, d, s);
  info = kiln_sym_get_info(l);
  ASSERT_EQ_I64(info.op, KILN_SYM_OP_LESS);
  ASSERT_EQ_PTR(info.a, d);
  ASSERT_EQ_PTR(info.b, s);
  ASSERT_EQ_I64(info.depth, 4);
  int64_t v = 99;
  ASSERT_FALSE(kiln_sym_is_constant(l, &v));
  ASSERT_EQ_I64(v, 99);
  ASSERT_FALSE(kiln_sym_is_constant(NULL, &v));
  ASSERT_TRUE(kiln_sym_is_constant(opt, NULL));
  ASSERT_NO_TABLE_ERROR(t);
  kiln_sym_table_destroy(t);
}

//===----------------------------------------------------------------------===//
// Evaluation
//===----------------------------------------------------------------------===//

TEST(sym_eval_basic) {
  NEW_TABLE(t);
  env_holder_t h;
  env_init(&h, 1000, 3);
  kiln_sym_t x0 = kiln_sym_dim(t, 0, 0), x1 = kiln_sym_dim(t, 0, 1);
  kiln_sym_t x2 = kiln_sym_dim(t, 0, 2), y0 = kiln_sym_dim(t, 1, 0);
  kiln_sym_t c256 = kiln_sym_const(t, 256);
  kiln_sym_t s0 = kiln_sym_size_tensor(t, 0, c256, c256);
  kiln_sym_t s1 = kiln_sym_size_tensor(t, 1, c256, c256);
  int64_t v = 0;
  ASSERT_OK(kiln_sym_eval(
      t, kiln_sym_ceil_div(t, kiln_sym_mul(t, x0, x1), c256), &h.env, &v));
  ASSERT_EQ_I64(v, 12);
  ASSERT_OK(kiln_sym_eval(t, kiln_sym_sub(t, x2, y0), &h.env, &v));
  ASSERT_EQ_I64(v, 2);
  ASSERT_OK(kiln_sym_eval(t, kiln_sym_mul(t, s0, s1), &h.env, &v));
  ASSERT_EQ_I64(v, -44);
  ASSERT_OK(kiln_sym_eval(t, kiln_sym_max(t, s1, y0), &h.env, &v));
  ASSERT_EQ_I64(v, 5);
  ASSERT_OK(kiln_sym_eval(t, kiln_sym_min(t, s1, y0), &h.env, &v));
  ASSERT_EQ_I64(v, -4);
  ASSERT_OK(
      kiln_sym_eval(t, kiln_sym_eq(t, y0, kiln_sym_const(t, 5)), &h.env, &v));
  ASSERT_EQ_I64(v, 1);
  ASSERT_OK(kiln_sym_eval(t, kiln_sym_lt(t, x2, y0), &h.env, &v));
  ASSERT_EQ_I64(v, 0);
  // The memo is per call: a new environment gives new values.
  kiln_sym_t prod = kiln_sym_mul(t, x0, x1);
  for (int64_t i = 0; i < 50; ++i) {
    env_init(&h, i, i + 1);
    ASSERT_OK(kiln_sym_eval(t, prod, &h.env, &v));
    ASSERT_EQ_I64(v, i * (i + 1));
  }
  // Constants need no environment.
  ASSERT_OK(kiln_sym_eval(t, c256, NULL, &v));
  ASSERT_EQ_I64(v, 256);
  ASSERT_NO_TABLE_ERROR(t);
  kiln_sym_table_destroy(t);
}

TEST(sym_eval_boundaries) {
  NEW_TABLE(t);
  env_holder_t h;
  kiln_sym_t x = kiln_sym_dim(t, 0, 0), y = kiln_sym_dim(t, 0, 1);
  kiln_sym_t two = kiln_sym_const(t, 2), one = kiln_sym_const(t, 1);
  kiln_sym_t times2 = kiln_sym_mul(t, x, two), plus1 = kiln_sym_add(t, x, one);
  kiln_sym_t minus1 = kiln_sym_sub(t, x, one);
  int64_t v = 0;
  int32_t v32 = 0;
  // x*2 at 2^62 - 1 fits, at 2^62 overflows.
  env_init(&h, TWO_POW_62 - 1, 0);
  ASSERT_OK(kiln_sym_eval(t, times2, &h.env, &v));
  ASSERT_EQ_I64(v, INT64_MAX - 1);
  env_init(&h, TWO_POW_62, 0);
  ASSERT_STATUS(kiln_sym_eval(t, times2, &h.env, &v), KILN_STATUS_OUT_OF_RANGE,
                "integer overflow in in0[0]*2 (4611686018427387904 * 2)");
  ASSERT_EQ_I64(v, 0);
  env_init(&h, -TWO_POW_62, 0);
  ASSERT_OK(kiln_sym_eval(t, times2, &h.env, &v));
  ASSERT_EQ_I64(v, INT64_MIN);
  // x+1 at 2^63 - 2 fits, at 2^63 - 1 overflows.
  env_init(&h, INT64_MAX - 1, 0);
  ASSERT_OK(kiln_sym_eval(t, plus1, &h.env, &v));
  ASSERT_EQ_I64(v, INT64_MAX);
  env_init(&h, INT64_MAX, 0);
  ASSERT_STATUS(kiln_sym_eval(t, plus1, &h.env, &v), KILN_STATUS_OUT_OF_RANGE,
                "integer overflow in in0[0] + 1 (9223372036854775807 + 1)");
  // x-1 at INT64_MIN overflows; x*x at 2^31 is 2^62.
  env_init(&h, INT64_MIN, 0);
  ASSERT_STATUS(kiln_sym_eval(t, minus1, &h.env, &v), KILN_STATUS_OUT_OF_RANGE,
                "(-9223372036854775808 - 1)");
  env_init(&h, INT64_MIN + 1, 0);
  ASSERT_OK(kiln_sym_eval(t, minus1, &h.env, &v));
  ASSERT_EQ_I64(v, INT64_MIN);
  env_init(&h, TWO_POW_31, 0);
  ASSERT_OK(kiln_sym_eval(t, kiln_sym_mul(t, x, x), &h.env, &v));
  ASSERT_EQ_I64(v, TWO_POW_62);
  env_init(&h, INT64_MIN, -1);
  ASSERT_STATUS(kiln_sym_eval(t, kiln_sym_mul(t, x, y), &h.env, &v),
                KILN_STATUS_OUT_OF_RANGE, "(-9223372036854775808 * -1)");
  ASSERT_STATUS(kiln_sym_eval(t, kiln_sym_floor_div(t, x, y), &h.env, &v),
                KILN_STATUS_OUT_OF_RANGE,
                "integer overflow in in0[0] // in0[1] "
                "(-9223372036854775808 // -1)");
  ASSERT_STATUS(kiln_sym_eval(t, kiln_sym_ceil_div(t, x, y), &h.env, &v),
                KILN_STATUS_OUT_OF_RANGE,
                "integer overflow in cdiv(in0[0], in0[1]) "
                "(cdiv(-9223372036854775808, -1))");
  ASSERT_OK(kiln_sym_eval(t, kiln_sym_max(t, x, y), &h.env, &v));
  ASSERT_EQ_I64(v, -1);
  ASSERT_OK(kiln_sym_eval(t, kiln_sym_lt(t, x, y), &h.env, &v));
  ASSERT_EQ_I64(v, 1);
  // Narrowing to int32: 2^31 - 1 fits, 2^31 does not; likewise at -2^31.
  env_init(&h, TWO_POW_31 - 1, 0);
  ASSERT_OK(kiln_sym_eval_i32(t, x, &h.env, &v32));
  ASSERT_EQ_I64(v32, INT32_MAX);
  env_init(&h, TWO_POW_31, 0);
  v32 = 5;
  ASSERT_STATUS(kiln_sym_eval_i32(t, x, &h.env, &v32), KILN_STATUS_OUT_OF_RANGE,
                "in0[0] = 2147483648 is outside [-2147483648, 2147483647]");
  ASSERT_EQ_I64(v32, 0);
  env_init(&h, -TWO_POW_31, 0);
  ASSERT_OK(kiln_sym_eval_i32(t, x, &h.env, &v32));
  ASSERT_EQ_I64(v32, INT32_MIN);
  env_init(&h, -TWO_POW_31 - 1, 0);
  ASSERT_STATUS(kiln_sym_eval_i32(t, x, &h.env, &v32), KILN_STATUS_OUT_OF_RANGE,
                "-2147483649 is outside");
  env_init(&h, TWO_POW_62, 0);
  ASSERT_STATUS(kiln_sym_eval_i32(t, times2, &h.env, &v32),
                KILN_STATUS_OUT_OF_RANGE, "integer overflow");
  // An explicit range.
  env_init(&h, 100, 0);
  ASSERT_OK(kiln_sym_eval_range(t, x, &h.env, 0, 100, &v));
  ASSERT_EQ_I64(v, 100);
  ASSERT_STATUS(kiln_sym_eval_range(t, plus1, &h.env, 0, 100, &v),
                KILN_STATUS_OUT_OF_RANGE,
                "in0[0] + 1 = 101 is outside [0, 100]");
  ASSERT_OK(kiln_sym_eval_range(t, x, &h.env, INT64_MIN, INT64_MAX, &v));
  ASSERT_STATUS(kiln_sym_eval_range(t, x, &h.env, 1, 0, &v),
                KILN_STATUS_INVALID_ARGUMENT, "empty range [1, 0]");
  ASSERT_STATUS(kiln_sym_eval_range(t, x, &h.env, 0, 1, NULL),
                KILN_STATUS_INVALID_ARGUMENT, "out_value");
  ASSERT_STATUS(kiln_sym_eval_i32(t, x, &h.env, NULL),
                KILN_STATUS_INVALID_ARGUMENT, "out_value");
  ASSERT_NO_TABLE_ERROR(t);
  kiln_sym_table_destroy(t);
}

TEST(sym_eval_division) {
  NEW_TABLE(t);
  kiln_sym_t a = kiln_sym_dim(t, 0, 0), b = kiln_sym_dim(t, 0, 1);
  kiln_sym_t fd = kiln_sym_floor_div(t, a, b), cd = kiln_sym_ceil_div(t, a, b);
  static const struct {
    int64_t a, b, floor, ceil;
  } cases[] = {
      {7, 2, 3, 4},
      {-7, 2, -4, -3},
      {7, -2, -4, -3},
      {-7, -2, 3, 4},
      {6, 3, 2, 2},
      {-6, 3, -2, -2},
      {0, -5, 0, 0},
      {1, 3, 0, 1},
      {-1, 3, -1, 0},
      {INT64_MIN, 2, -TWO_POW_62, -TWO_POW_62},
      {INT64_MIN, -2, TWO_POW_62, TWO_POW_62},
      {INT64_MIN + 1, -1, INT64_MAX, INT64_MAX},
      {INT64_MAX, -1, -INT64_MAX, -INT64_MAX},
      {INT64_MAX, 2, TWO_POW_62 - 1, TWO_POW_62},
      {INT64_MIN + 1, 2, -TWO_POW_62, -TWO_POW_62 + 1},
      {1, INT64_MIN, -1, 0},
      {-1, INT64_MIN, 0, 1},
      {INT64_MIN, INT64_MIN, 1, 1},
      {INT64_MAX, INT64_MIN, -1, 0},
  };
  env_holder_t h;
  for (size_t i = 0; i < KILN_ARRAYSIZE(cases); ++i) {
    env_init(&h, cases[i].a, cases[i].b);
    int64_t v = 0;
    ASSERT_OK(kiln_sym_eval(t, fd, &h.env, &v));
    if (v != cases[i].floor) {
      FAIL("%" PRId64 " // %" PRId64 " gave %" PRId64 ", want %" PRId64,
           cases[i].a, cases[i].b, v, cases[i].floor);
    }
    ASSERT_OK(kiln_sym_eval(t, cd, &h.env, &v));
    if (v != cases[i].ceil) {
      FAIL("cdiv(%" PRId64 ", %" PRId64 ") gave %" PRId64 ", want %" PRId64,
           cases[i].a, cases[i].b, v, cases[i].ceil);
    }
  }
  // Division by zero, named with the expression it happened in.
  env_init(&h, 5, 0);
  int64_t v = 0;
  ASSERT_STATUS(kiln_sym_eval(t, fd, &h.env, &v), KILN_STATUS_OUT_OF_RANGE,
                "division by zero in in0[0] // in0[1] (5 // 0)");
  kiln_sym_t outer = kiln_sym_add(t, cd, kiln_sym_const(t, 1));
  ASSERT_STATUS(kiln_sym_eval(t, outer, &h.env, &v), KILN_STATUS_OUT_OF_RANGE,
                "division by zero in cdiv(in0[0], in0[1]) (cdiv(5, 0)) while "
                "evaluating cdiv(in0[0], in0[1]) + 1");
  ASSERT_NO_TABLE_ERROR(t);
  kiln_sym_table_destroy(t);
}

TEST(sym_eval_message_names_expression) {
  NEW_TABLE(t);
  kiln_sym_t x0 = kiln_sym_dim(t, 0, 0), x1 = kiln_sym_dim(t, 0, 1);
  kiln_sym_t e =
      kiln_sym_ceil_div(t, kiln_sym_mul(t, x0, x1), kiln_sym_const(t, 256));
  env_holder_t h;
  env_init(&h, INT64_MAX, 2);
  int64_t v = 0;
  ASSERT_STATUS(kiln_sym_eval(t, e, &h.env, &v), KILN_STATUS_OUT_OF_RANGE,
                "integer overflow in in0[0]*in0[1] (9223372036854775807 * 2) "
                "while evaluating cdiv(in0[0]*in0[1], 256)");
  ASSERT_NO_TABLE_ERROR(t);
  kiln_sym_table_destroy(t);
}

TEST(sym_eval_missing_values) {
  NEW_TABLE(t);
  NEW_TABLE(other);
  env_holder_t h;
  env_init(&h, 1, 2);
  int64_t v = 0;
  kiln_sym_t c = kiln_sym_const(t, 1);
  kiln_sym_t e = kiln_sym_add(t, kiln_sym_dim(t, 2, 1), c);
  ASSERT_STATUS(kiln_sym_eval(t, e, &h.env, &v), KILN_STATUS_INVALID_ARGUMENT,
                "no value for dimension 1 of input tensor 2 (the environment "
                "has 2 tensors) in in2[1] while evaluating in2[1] + 1");
  ASSERT_STATUS(kiln_sym_eval(t, kiln_sym_dim(t, 0, 3), &h.env, &v),
                KILN_STATUS_INVALID_ARGUMENT,
                "no value for dimension 3 of input tensor 0, which has rank 3");
  ASSERT_STATUS(
      kiln_sym_eval(t, kiln_sym_size_tensor(t, 2, c, c), &h.env, &v),
      KILN_STATUS_INVALID_ARGUMENT,
      "no value for size tensor s2 (the environment has 2 size tensor "
      "values)");
  ASSERT_STATUS(kiln_sym_eval(t, e, NULL, &v), KILN_STATUS_INVALID_ARGUMENT,
                "input tensor 2");
  h.dims[0].rank = KILN_MAX_RANK + 1;
  ASSERT_STATUS(kiln_sym_eval(t, kiln_sym_dim(t, 0, 0), &h.env, &v),
                KILN_STATUS_INVALID_ARGUMENT,
                "input tensor 0 has invalid rank 9");
  h.dims[0].rank = -1;
  ASSERT_STATUS(kiln_sym_eval(t, kiln_sym_dim(t, 0, 0), &h.env, &v),
                KILN_STATUS_INVALID_ARGUMENT, "invalid rank -1");
  h.env.tensors = NULL;
  ASSERT_STATUS(kiln_sym_eval(t, kiln_sym_dim(t, 1, 0), &h.env, &v),
                KILN_STATUS_INVALID_ARGUMENT, "tensor array is NULL");
  h.env.size_tensor_values = NULL;
  ASSERT_STATUS(kiln_sym_eval(t, kiln_sym_size_tensor(t, 0, c, c), &h.env, &v),
                KILN_STATUS_INVALID_ARGUMENT, "size tensor s0");
  // Bad calls.
  ASSERT_STATUS(kiln_sym_eval(t, NULL, &h.env, &v),
                KILN_STATUS_INVALID_ARGUMENT, "NULL expression");
  ASSERT_STATUS(kiln_sym_eval(NULL, c, &h.env, &v),
                KILN_STATUS_INVALID_ARGUMENT, "NULL table");
  ASSERT_STATUS(kiln_sym_eval(other, c, &h.env, &v),
                KILN_STATUS_INVALID_ARGUMENT, "another table");
  ASSERT_STATUS(kiln_sym_eval(t, c, &h.env, NULL), KILN_STATUS_INVALID_ARGUMENT,
                "out_value");
  ASSERT_NO_TABLE_ERROR(t);
  kiln_sym_table_destroy(other);
  kiln_sym_table_destroy(t);
}

// x[i+1] = x[i] + x[i]: 101 nodes whose unfolded tree has 2^101 leaves.
static kiln_sym_t doubling_chain(kiln_sym_table_t* t, int length) {
  kiln_sym_t e = kiln_sym_dim(t, 0, 0);
  for (int i = 0; i < length; ++i) e = kiln_sym_add(t, e, e);
  return e;
}

TEST(sym_eval_shared_dag_is_linear) {
  NEW_TABLE(t);
  kiln_sym_t e = doubling_chain(t, 100);
  ASSERT_TRUE(e != NULL);
  ASSERT_EQ_U64(kiln_sym_table_node_count(t), 101);
  ASSERT_EQ_I64(kiln_sym_get_info(e).depth, 101);
  env_holder_t h;
  int64_t v = 1;
  // Each call costs about 101 node visits; a tree walk would never finish.
  for (int i = 0; i < 1000; ++i) {
    env_init(&h, 0, 0);
    ASSERT_OK(kiln_sym_eval(t, e, &h.env, &v));
    ASSERT_EQ_I64(v, 0);
  }
  kiln_sym_t e62 = doubling_chain(t, 62);
  env_init(&h, 1, 0);
  ASSERT_OK(kiln_sym_eval(t, e62, &h.env, &v));
  ASSERT_EQ_I64(v, TWO_POW_62);
  env_init(&h, -1, 0);
  ASSERT_OK(kiln_sym_eval(t, kiln_sym_add(t, e62, e62), &h.env, &v));
  ASSERT_EQ_I64(v, INT64_MIN);
  // With x = 1 the 63rd doubling overflows; the message prints both the
  // failing node and the root, each cut short.
  env_init(&h, 1, 0);
  kiln_status_t status = kiln_sym_eval(t, e, &h.env, &v);
  ASSERT_EQ_I64(kiln_status_code(status), KILN_STATUS_OUT_OF_RANGE);
  ASSERT_CONTAINS(kiln_status_message(status),
                  "(4611686018427387904 + 4611686018427387904) while "
                  "evaluating in0[0] + in0[0] + (in0[0] + in0[0]) + ");
  ASSERT_CONTAINS(kiln_status_message(status), "...");
  ASSERT_TRUE(strlen(kiln_status_message(status)) < 700);
  kiln_status_free(status);
  ASSERT_NO_TABLE_ERROR(t);
  kiln_sym_table_destroy(t);
}

TEST(sym_eval_epoch_wraps) {
  NEW_TABLE(t);
  kiln_sym_t x = kiln_sym_dim(t, 0, 0);
  kiln_sym_t e = kiln_sym_mul(t, kiln_sym_add(t, x, x), x);
  env_holder_t h;
  int64_t v = 0;
  // Start just below the wrap so that the next calls cross it.
  t->epoch = UINT32_MAX - 2;
  for (int64_t i = 0; i < 6; ++i) {
    env_init(&h, i, 0);
    ASSERT_OK(kiln_sym_eval(t, e, &h.env, &v));
    ASSERT_EQ_I64(v, 2 * i * i);
  }
  ASSERT_TRUE(t->epoch < 10);
  kiln_sym_table_destroy(t);
}

//===----------------------------------------------------------------------===//
// Printing
//===----------------------------------------------------------------------===//

TEST(sym_print_precedence) {
  NEW_TABLE(t);
  kiln_sym_t a = kiln_sym_dim(t, 0, 0), b = kiln_sym_dim(t, 0, 1);
  kiln_sym_t c = kiln_sym_dim(t, 0, 2);
  kiln_sym_t one = kiln_sym_const(t, 1), m3 = kiln_sym_const(t, -3);
  ASSERT_EQ_STR(show_xyz(kiln_sym_ceil_div(t, kiln_sym_mul(t, a, b),
                                           kiln_sym_const(t, 256))),
                "cdiv(x[0]*x[1], 256)");
  ASSERT_EQ_STR(show_xyz(kiln_sym_add(t, kiln_sym_sub(t, a, b), c)),
                "x[0] - x[1] + x[2]");
  ASSERT_EQ_STR(show_xyz(kiln_sym_sub(t, a, kiln_sym_add(t, b, c))),
                "x[0] - (x[1] + x[2])");
  ASSERT_EQ_STR(show_xyz(kiln_sym_sub(t, a, kiln_sym_sub(t, b, c))),
                "x[0] - (x[1] - x[2])");
  ASSERT_EQ_STR(show_xyz(kiln_sym_sub(t, kiln_sym_mul(t, a, b), c)),
                "x[0]*x[1] - x[2]");
  ASSERT_EQ_STR(show_xyz(kiln_sym_mul(t, kiln_sym_add(t, a, b), c)),
                "(x[0] + x[1])*x[2]");
  ASSERT_EQ_STR(show_xyz(kiln_sym_floor_div(t, kiln_sym_mul(t, a, b), c)),
                "x[0]*x[1] // x[2]");
  ASSERT_EQ_STR(show_xyz(kiln_sym_floor_div(t, a, kiln_sym_mul(t, b, c))),
                "x[0] // (x[1]*x[2])");
  ASSERT_EQ_STR(show_xyz(kiln_sym_mul(t, a, kiln_sym_floor_div(t, b, c))),
                "(x[1] // x[2])*x[0]");
  ASSERT_EQ_STR(show_xyz(kiln_sym_mul(t, kiln_sym_mul(t, a, b), c)),
                "x[0]*x[1]*x[2]");
  ASSERT_EQ_STR(
      show_xyz(kiln_sym_mul(t, kiln_sym_mul(t, a, b), kiln_sym_mul(t, b, c))),
      "x[0]*x[1]*(x[1]*x[2])");
  ASSERT_EQ_STR(show_xyz(kiln_sym_floor_div(t, kiln_sym_floor_div(t, a, b), c)),
                "x[0] // x[1] // x[2]");
  ASSERT_EQ_STR(show_xyz(kiln_sym_floor_div(t, a, kiln_sym_add(t, b, one))),
                "x[0] // (x[1] + 1)");
  ASSERT_EQ_STR(show_xyz(kiln_sym_lt(t, kiln_sym_add(t, a, one), b)),
                "x[0] + 1 < x[1]");
  ASSERT_EQ_STR(show_xyz(kiln_sym_eq(t, kiln_sym_lt(t, a, b), c)),
                "(x[0] < x[1]) == x[2]");
  ASSERT_EQ_STR(show_xyz(kiln_sym_lt(t, kiln_sym_lt(t, a, b), c)),
                "(x[0] < x[1]) < x[2]");
  ASSERT_EQ_STR(show_xyz(kiln_sym_add(t, kiln_sym_eq(t, a, b), c)),
                "(x[0] == x[1]) + x[2]");
  ASSERT_EQ_STR(
      show_xyz(kiln_sym_max(t, kiln_sym_add(t, a, b), kiln_sym_min(t, b, c))),
      "max(x[0] + x[1], min(x[1], x[2]))");
  ASSERT_EQ_STR(show_xyz(kiln_sym_mul(t, kiln_sym_max(t, a, b), c)),
                "max(x[0], x[1])*x[2]");
  // Negative constants.
  ASSERT_EQ_STR(show_xyz(m3), "-3");
  ASSERT_EQ_STR(show_xyz(kiln_sym_sub(t, a, m3)), "x[0] - (-3)");
  ASSERT_EQ_STR(show_xyz(kiln_sym_add(t, a, m3)), "x[0] + (-3)");
  ASSERT_EQ_STR(show_xyz(kiln_sym_mul(t, a, m3)), "x[0]*(-3)");
  ASSERT_EQ_STR(show_xyz(kiln_sym_floor_div(t, m3, a)), "(-3) // x[0]");
  ASSERT_EQ_STR(show_xyz(kiln_sym_eq(t, a, m3)), "x[0] == (-3)");
  ASSERT_EQ_STR(show_xyz(kiln_sym_max(t, a, m3)), "max(x[0], -3)");
  ASSERT_EQ_STR(show_xyz(kiln_sym_const(t, INT64_MIN)), "-9223372036854775808");
  ASSERT_EQ_STR(show_xyz(kiln_sym_const(t, INT64_MAX)), "9223372036854775807");
  ASSERT_NO_TABLE_ERROR(t);
  kiln_sym_table_destroy(t);
}

TEST(sym_print_names) {
  NEW_TABLE(t);
  kiln_sym_t c = kiln_sym_const(t, 64);
  kiln_sym_t e = kiln_sym_add(t, kiln_sym_dim(t, 0, 1), kiln_sym_dim(t, 1, 0));
  e = kiln_sym_add(t, e, kiln_sym_dim(t, 5, 7));
  e = kiln_sym_add(t, e, kiln_sym_size_tensor(t, 3, c, c));
  static const char* const names[] = {"x", NULL, "unused"};
  ASSERT_EQ_STR(show(e, names, 3), "x[1] + in1[0] + in5[7] + s3");
  ASSERT_EQ_STR(show(e, names, 1), "x[1] + in1[0] + in5[7] + s3");
  ASSERT_EQ_STR(show(e, NULL, 3), "in0[1] + in1[0] + in5[7] + s3");
  ASSERT_EQ_STR(show(e, names, 0), "in0[1] + in1[0] + in5[7] + s3");
  static const char* const long_names[] = {"input_tensor", "mask"};
  ASSERT_EQ_STR(show(e, long_names, 2),
                "input_tensor[1] + mask[0] + in5[7] + s3");
  ASSERT_NO_TABLE_ERROR(t);
  kiln_sym_table_destroy(t);
}

TEST(sym_print_truncation) {
  NEW_TABLE(t);
  kiln_sym_t e = kiln_sym_ceil_div(
      t, kiln_sym_mul(t, kiln_sym_dim(t, 0, 0), kiln_sym_dim(t, 0, 1)),
      kiln_sym_const(t, 256));
  const char* full = "cdiv(x[0]*x[1], 256)";
  size_t n = strlen(full);
  char buffer[64];
  size_t length = 99;
  // Exactly enough room.
  ASSERT_OK(kiln_sym_print(e, xyz_names, 3, buffer, n + 1, &length));
  ASSERT_EQ_STR(buffer, full);
  ASSERT_EQ_U64(length, n);
  // One byte short: a NUL-terminated prefix and OUT_OF_RANGE.
  memset(buffer, 'Z', sizeof(buffer));
  ASSERT_STATUS(kiln_sym_print(e, xyz_names, 3, buffer, n, &length),
                KILN_STATUS_OUT_OF_RANGE, "does not fit in 20 bytes");
  ASSERT_EQ_U64(strlen(buffer), n - 1);
  ASSERT_TRUE(strncmp(buffer, full, n - 1) == 0);
  ASSERT_EQ_U64(length, 0);
  memset(buffer, 'Z', sizeof(buffer));
  ASSERT_STATUS(kiln_sym_print(e, xyz_names, 3, buffer, 5, NULL),
                KILN_STATUS_OUT_OF_RANGE, "");
  ASSERT_EQ_STR(buffer, "cdiv");
  ASSERT_EQ_I64(buffer[5], 'Z');
  ASSERT_STATUS(kiln_sym_print(e, xyz_names, 3, buffer, 1, NULL),
                KILN_STATUS_OUT_OF_RANGE, "");
  ASSERT_EQ_STR(buffer, "");
  // A long name is cut without reading all of it.
  static const char* const long_name[] = {
      "a_tensor_name_much_longer_than_the_buffer_it_is_printed_into"};
  ASSERT_STATUS(kiln_sym_print(e, long_name, 1, buffer, 12, NULL),
                KILN_STATUS_OUT_OF_RANGE, "");
  ASSERT_EQ_STR(buffer, "cdiv(a_tens");
  // Bad calls.
  ASSERT_STATUS(kiln_sym_print(e, NULL, 0, buffer, 0, NULL),
                KILN_STATUS_INVALID_ARGUMENT, "");
  ASSERT_STATUS(kiln_sym_print(e, NULL, 0, NULL, 10, NULL),
                KILN_STATUS_INVALID_ARGUMENT, "");
  ASSERT_STATUS(kiln_sym_print(NULL, NULL, 0, buffer, sizeof(buffer), &length),
                KILN_STATUS_INVALID_ARGUMENT, "NULL expression");
  ASSERT_EQ_STR(buffer, "");
  // The message form ends a cut text with "...".
  kiln__sym_describe(e, buffer, 10);
  ASSERT_EQ_STR(buffer, "cdiv(i...");
  kiln__sym_describe(e, buffer, sizeof(buffer));
  ASSERT_EQ_STR(buffer, "cdiv(in0[0]*in0[1], 256)");
  kiln__sym_describe(NULL, buffer, sizeof(buffer));
  ASSERT_EQ_STR(buffer, "(null)");
  ASSERT_NO_TABLE_ERROR(t);
  kiln_sym_table_destroy(t);
}

TEST(sym_print_huge_dag_stops_early) {
  NEW_TABLE(t);
  // The unfolded tree of this 129-node DAG has 2^128 leaves; printing it
  // into a small buffer must stop as soon as the buffer is full.
  kiln_sym_t e = doubling_chain(t, KILN_SYM_MAX_DEPTH - 1);
  ASSERT_TRUE(e != NULL);
  char buffer[64];
  for (int i = 0; i < 1000; ++i) {
    ASSERT_STATUS(kiln_sym_print(e, NULL, 0, buffer, sizeof(buffer), NULL),
                  KILN_STATUS_OUT_OF_RANGE, "does not fit");
  }
  ASSERT_EQ_U64(strlen(buffer), sizeof(buffer) - 1);
  ASSERT_EQ_STR(
      buffer,
      "in0[0] + in0[0] + (in0[0] + in0[0]) + (in0[0] + in0[0] + (in0[0");
  // Large but finite: 4 KiB of text is cheap too.
  char big[4096];
  ASSERT_STATUS(kiln_sym_print(e, NULL, 0, big, sizeof(big), NULL),
                KILN_STATUS_OUT_OF_RANGE, "");
  ASSERT_EQ_U64(strlen(big), sizeof(big) - 1);
  ASSERT_NO_TABLE_ERROR(t);
  kiln_sym_table_destroy(t);
}
