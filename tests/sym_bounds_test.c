// Tests of size tensors in the expression table (src/sym/sym_bounds.c):
// interval bounds, rewriting placeholders and visiting them.

#include <stdio.h>
#include <stdlib.h>

#include "sym/sym.h"
#include "test.h"

// Input 0 has dims [d0, d1] with d0 in [lo0, hi0] and d1 in [lo1, hi1].
typedef struct ranges_t {
  kiln_dims_t min[1];
  kiln_dims_t max[1];
  kiln__sym_bounds_env_t env;
} ranges_t;

static void ranges_init(ranges_t* r, int64_t lo0, int64_t hi0, int64_t lo1,
                        int64_t hi1) {
  memset(r, 0, sizeof(*r));
  r->min[0].rank = r->max[0].rank = 2;
  r->min[0].d[0] = lo0;
  r->max[0].d[0] = hi0;
  r->min[0].d[1] = lo1;
  r->max[0].d[1] = hi1;
  r->env.min = r->min;
  r->env.max = r->max;
  r->env.tensor_count = 1;
}

// Bounds |e| over |r| into |*lo|, |*hi|; returns the status.
static kiln_status_t bound(kiln_sym_table_t* t, kiln_sym_t e, const ranges_t* r,
                           int64_t* lo, int64_t* hi) {
  kiln__sym_interval_t range = {-1, -1};
  kiln_status_t s = kiln__sym_bounds(t, e, &r->env, &range);
  *lo = range.lo;
  *hi = range.hi;
  return s;
}

#define ASSERT_BOUNDS(e, want_lo, want_hi)    \
  do {                                        \
    int64_t lo_, hi_;                         \
    ASSERT_OK(bound(t, (e), &r, &lo_, &hi_)); \
    ASSERT_EQ_I64(lo_, (want_lo));            \
    ASSERT_EQ_I64(hi_, (want_hi));            \
  } while (0)

TEST(sym_bounds_interval_arithmetic) {
  kiln_sym_table_t* t = NULL;
  ASSERT_OK(kiln_sym_table_create(kiln_allocator_system(), &t));
  ranges_t r;
  ranges_init(&r, 2, 10, 3, 5);
  kiln_sym_t d0 = kiln_sym_dim(t, 0, 0), d1 = kiln_sym_dim(t, 0, 1);
  kiln_sym_t c4 = kiln_sym_const(t, 4), cm3 = kiln_sym_const(t, -3);
  // A size tensor with upper bound d0 ranges over [0, 10].
  kiln_sym_t s = kiln_sym_size_tensor(t, 0, kiln_sym_floor_div(t, d0, c4), d0);
  ASSERT_TRUE(s != NULL);
  ASSERT_BOUNDS(c4, 4, 4);
  ASSERT_BOUNDS(d0, 2, 10);
  ASSERT_BOUNDS(s, 0, 10);
  ASSERT_BOUNDS(kiln_sym_add(t, d0, d1), 5, 15);
  // Differences subtract the other end: hi - lo.
  ASSERT_BOUNDS(kiln_sym_sub(t, d0, d1), -3, 7);
  ASSERT_BOUNDS(kiln_sym_sub(t, d0, s), -8, 10);
  ASSERT_BOUNDS(kiln_sym_mul(t, d0, cm3), -30, -6);
  ASSERT_BOUNDS(kiln_sym_mul(t, s, d1), 0, 50);
  // Divisions take the corners: the low end of a positive divisor gives the
  // high end of the quotient.
  ASSERT_BOUNDS(kiln_sym_floor_div(t, d0, d1), 0, 3);
  ASSERT_BOUNDS(kiln_sym_ceil_div(t, d0, d1), 1, 4);
  ASSERT_BOUNDS(kiln_sym_floor_div(t, s, c4), 0, 2);
  ASSERT_BOUNDS(kiln_sym_ceil_div(t, s, c4), 0, 3);
  ASSERT_BOUNDS(kiln_sym_floor_div(t, d0, cm3), -4, -1);
  ASSERT_BOUNDS(kiln_sym_ceil_div(t, kiln_sym_sub(t, d1, d0), cm3), -1, 3);
  ASSERT_BOUNDS(kiln_sym_max(t, d0, d1), 3, 10);
  ASSERT_BOUNDS(kiln_sym_min(t, d0, d1), 2, 5);
  ASSERT_BOUNDS(kiln_sym_min(t, s, c4), 0, 4);
  // Comparisons are decided when the intervals decide them.
  ASSERT_BOUNDS(kiln_sym_lt(t, d0, d1), 0, 1);
  ASSERT_BOUNDS(kiln_sym_lt(t, d1, kiln_sym_const(t, 6)), 1, 1);
  ASSERT_BOUNDS(kiln_sym_lt(t, d1, kiln_sym_const(t, 3)), 0, 0);
  ASSERT_BOUNDS(kiln_sym_eq(t, d0, d1), 0, 1);
  ASSERT_BOUNDS(kiln_sym_eq(t, d1, kiln_sym_const(t, 9)), 0, 0);
  // An upper bound below 0 leaves the size tensor at 0.
  kiln_sym_t neg = kiln_sym_size_tensor(
      t, 1, kiln_sym_const(t, 0), kiln_sym_sub(t, d1, kiln_sym_const(t, 9)));
  ASSERT_BOUNDS(neg, 0, 0);
  // A point range (the runtime's case) gives the value at that point.
  ranges_t point;
  ranges_init(&point, 7, 7, 4, 4);
  kiln__sym_interval_t range;
  ASSERT_OK(
      kiln__sym_bounds(t, kiln_sym_ceil_div(t, d0, d1), &point.env, &range));
  ASSERT_EQ_I64(range.lo, 2);
  ASSERT_EQ_I64(range.hi, 2);
  kiln_sym_table_destroy(t);
}

TEST(sym_bounds_errors) {
  kiln_sym_table_t* t = NULL;
  ASSERT_OK(kiln_sym_table_create(kiln_allocator_system(), &t));
  ranges_t r;
  ranges_init(&r, 0, 10, 1, INT64_MAX / 2 + 1);
  kiln_sym_t d0 = kiln_sym_dim(t, 0, 0), d1 = kiln_sym_dim(t, 0, 1);
  int64_t lo, hi;
  // The divisor d0 - 5 ranges over [-5, 5].
  kiln_sym_t divisor = kiln_sym_sub(t, d0, kiln_sym_const(t, 5));
  ASSERT_STATUS(bound(t, kiln_sym_floor_div(t, d1, divisor), &r, &lo, &hi),
                KILN_STATUS_OUT_OF_RANGE,
                "the divisor in0[0] - 5 ranges over [-5, 5], which contains 0");
  ASSERT_STATUS(bound(t, kiln_sym_ceil_div(t, d1, d0), &r, &lo, &hi),
                KILN_STATUS_OUT_OF_RANGE,
                "ranges over [0, 10], which contains 0");
  // A size tensor as divisor may be 0.
  kiln_sym_t s = kiln_sym_size_tensor(t, 0, d0, d0);
  ASSERT_STATUS(bound(t, kiln_sym_floor_div(t, d1, s), &r, &lo, &hi),
                KILN_STATUS_OUT_OF_RANGE, "the divisor s0 ranges over [0, 10]");
  // Overflow of an end, named with the whole expression.
  kiln_sym_t big = kiln_sym_add(t, d1, d1);
  ASSERT_STATUS(
      bound(t, kiln_sym_add(t, big, kiln_sym_const(t, 1)), &r, &lo, &hi),
      KILN_STATUS_OUT_OF_RANGE,
      "cannot bound in0[1] + in0[1] + 1: in in0[1] + in0[1], sum of "
      "operands in [1, 4611686018427387904] and [1, "
      "4611686018427387904] overflows int64");
  ASSERT_STATUS(
      bound(t, kiln_sym_mul(t, d1, kiln_sym_const(t, -4)), &r, &lo, &hi),
      KILN_STATUS_OUT_OF_RANGE, "prod of operands");
  ASSERT_STATUS(
      bound(t, kiln_sym_sub(t, kiln_sym_const(t, -4), big), &r, &lo, &hi),
      KILN_STATUS_OUT_OF_RANGE, "overflows int64");
  // A dimension the environment does not cover.
  ASSERT_STATUS(bound(t, kiln_sym_dim(t, 1, 0), &r, &lo, &hi),
                KILN_STATUS_INVALID_ARGUMENT,
                "no range for dimension 0 of input tensor 1");
  ASSERT_STATUS(bound(t, kiln_sym_dim(t, 0, 3), &r, &lo, &hi),
                KILN_STATUS_INVALID_ARGUMENT,
                "no range for dimension 3 of input tensor 0");
  // NULL and foreign arguments.
  kiln_sym_table_t* other = NULL;
  ASSERT_OK(kiln_sym_table_create(kiln_allocator_system(), &other));
  kiln__sym_interval_t range;
  ASSERT_STATUS(kiln__sym_bounds(t, kiln_sym_const(other, 1), &r.env, &range),
                KILN_STATUS_INVALID_ARGUMENT, "another table");
  ASSERT_STATUS(kiln__sym_bounds(t, NULL, &r.env, &range),
                KILN_STATUS_INVALID_ARGUMENT, "NULL expression");
  ASSERT_STATUS(kiln__sym_bounds(t, d0, &r.env, NULL),
                KILN_STATUS_INVALID_ARGUMENT, "out_interval");
  kiln_sym_table_destroy(other);
  kiln_sym_table_destroy(t);
}

// Random expressions over two dimensions and two size tensors: every value
// at random points of the ranges lies in the bounds (soundness).
typedef struct rng_t {
  uint64_t state;
} rng_t;

static uint64_t rng_next(rng_t* r) {
  r->state = r->state * UINT64_C(6364136223846793005) + 1442695040888963407u;
  return r->state >> 33;
}

static int64_t rng_in(rng_t* r, int64_t lo, int64_t hi) {
  return lo + (int64_t)(rng_next(r) % (uint64_t)(hi - lo + 1));
}

TEST(sym_bounds_are_sound) {
  kiln_sym_table_t* t = NULL;
  ASSERT_OK(kiln_sym_table_create(kiln_allocator_system(), &t));
  rng_t rng = {12345};
  ranges_t r;
  ranges_init(&r, 1, 40, 3, 17);
  kiln_sym_t d0 = kiln_sym_dim(t, 0, 0), d1 = kiln_sym_dim(t, 0, 1);
  kiln_sym_t leaves[6] = {
      d0,
      d1,
      kiln_sym_size_tensor(t, 0, kiln_sym_const(t, 1), d0),
      kiln_sym_size_tensor(t, 1, kiln_sym_const(t, 1),
                           kiln_sym_mul(t, d1, kiln_sym_const(t, 2))),
      kiln_sym_const(t, 7),
      kiln_sym_const(t, -2),
  };
  static const kiln_sym_op_t ops[9] = {
      KILN_SYM_OP_SUM,       KILN_SYM_OP_SUB,      KILN_SYM_OP_PROD,
      KILN_SYM_OP_FLOOR_DIV, KILN_SYM_OP_CEIL_DIV, KILN_SYM_OP_MAX,
      KILN_SYM_OP_MIN,       KILN_SYM_OP_EQUAL,    KILN_SYM_OP_LESS};
  int checked = 0;
  for (int trial = 0; trial < 400; ++trial) {
    kiln_sym_t pool[16];
    int n = 6;
    memcpy(pool, leaves, sizeof(leaves));
    for (int k = 0; k < 6; ++k) {
      kiln_sym_op_t op = ops[rng_next(&rng) % 9];
      kiln_sym_t a = pool[rng_next(&rng) % (uint64_t)n];
      kiln_sym_t b = pool[rng_next(&rng) % (uint64_t)n];
      if (op == KILN_SYM_OP_FLOOR_DIV || op == KILN_SYM_OP_CEIL_DIV) {
        b = rng_next(&rng) % 2 ? d1 : leaves[5];  // never 0
      }
      pool[n++] = kiln_sym_binary(t, op, a, b);
      ASSERT_TRUE(pool[n - 1] != NULL);
    }
    kiln_sym_t e = pool[n - 1];
    int64_t lo, hi;
    kiln_status_t s = bound(t, e, &r, &lo, &hi);
    if (s) {  // overflow is allowed to refuse; nothing else
      ASSERT_EQ_I64(kiln_status_code(s), KILN_STATUS_OUT_OF_RANGE);
      kiln_status_free(s);
      continue;
    }
    for (int point = 0; point < 20; ++point) {
      kiln_dims_t dims[1];
      dims[0].rank = 2;
      dims[0].d[0] = rng_in(&rng, 1, 40);
      dims[0].d[1] = rng_in(&rng, 3, 17);
      int64_t sizes[2] = {rng_in(&rng, 0, dims[0].d[0]),
                          rng_in(&rng, 0, 2 * dims[0].d[1])};
      kiln_sym_env_t env = {dims, 1, sizes, 2};
      int64_t v = 0;
      kiln_status_t es = kiln_sym_eval(t, e, &env, &v);
      if (es) {
        kiln_status_free(es);
        continue;
      }
      if (v < lo || v > hi) {
        char text[256];
        kiln__sym_describe(e, text, sizeof(text));
        FAIL("%s = %" PRId64 " at d = (%" PRId64 ", %" PRId64 "), s = (%" PRId64
             ", %" PRId64 ") is outside [%" PRId64 ", %" PRId64 "]",
             text, v, dims[0].d[0], dims[0].d[1], sizes[0], sizes[1], lo, hi);
      }
      ++checked;
    }
  }
  ASSERT_TRUE(checked > 1000);
  kiln_sym_table_destroy(t);
}

// A chain where each node uses the previous one twice: bounding it takes
// linear time (each node once), not 2^depth.
TEST(sym_bounds_shared_dag_is_linear) {
  kiln_sym_table_t* t = NULL;
  ASSERT_OK(kiln_sym_table_create(kiln_allocator_system(), &t));
  ranges_t r;
  ranges_init(&r, 1, 2, 1, 1);
  kiln_sym_t e = kiln_sym_dim(t, 0, 0);
  for (int i = 0; i < 63; ++i) e = kiln_sym_max(t, e, kiln_sym_add(t, e, e));
  ASSERT_TRUE(e != NULL);
  int64_t lo, hi;
  ASSERT_STATUS(bound(t, e, &r, &lo, &hi), KILN_STATUS_OUT_OF_RANGE,
                "overflows int64");
  kiln_sym_t f = kiln_sym_dim(t, 0, 1);
  kiln_sym_t one = kiln_sym_const(t, 1);
  for (int i = 0; i < 63; ++i) f = kiln_sym_max(t, f, kiln_sym_sub(t, f, one));
  ASSERT_TRUE(f != NULL);
  ASSERT_OK(bound(t, f, &r, &lo, &hi));
  ASSERT_EQ_I64(hi, 1);
  kiln_sym_table_destroy(t);
}

static kiln_status_t count_visits(void* user_data, kiln_sym_t placeholder) {
  int* visits = (int*)user_data;
  if (kiln_sym_get_info(placeholder).op != KILN_SYM_OP_SIZE_TENSOR) {
    return kiln_make_status(KILN_STATUS_INTERNAL, "not a placeholder");
  }
  ++visits[kiln_sym_get_info(placeholder).index];
  return NULL;
}

static kiln_status_t stop_visit(void* user_data, kiln_sym_t placeholder) {
  (void)user_data;
  (void)placeholder;
  return kiln_make_status(KILN_STATUS_FAILED_PRECONDITION, "stop");
}

TEST(sym_size_tensor_rewrite_and_visit) {
  kiln_sym_table_t* t = NULL;
  ASSERT_OK(kiln_sym_table_create(kiln_allocator_system(), &t));
  kiln_sym_t n = kiln_sym_dim(t, 0, 0);
  kiln_sym_t half = kiln_sym_floor_div(t, n, kiln_sym_const(t, 2));
  kiln_sym_t s0 = kiln_sym_size_tensor(t, 0, half, n);
  kiln_sym_t s1 = kiln_sym_size_tensor(t, 1, kiln_sym_const(t, 3), n);
  kiln_sym_t e = kiln_sym_add(t, kiln_sym_mul(t, s0, s1), s0);
  kiln_sym_t plain = kiln_sym_add(t, n, kiln_sym_const(t, 1));
  ASSERT_TRUE(e && plain);
  // Remapping: s0 -> s7, s1 -> s9; same opt and upper bound.
  static const uint32_t map[2] = {7, 9};
  kiln_sym_t remapped = NULL;
  ASSERT_OK(kiln__sym_remap_size_tensors(t, e, map, 2, &remapped));
  kiln_sym_t s7 = kiln_sym_size_tensor(t, 7, half, n);
  kiln_sym_t s9 = kiln_sym_size_tensor(t, 9, kiln_sym_const(t, 3), n);
  ASSERT_EQ_PTR(remapped, kiln_sym_add(t, kiln_sym_mul(t, s7, s9), s7));
  // Expressions without placeholders come back as they are.
  kiln_sym_t same = NULL;
  ASSERT_OK(kiln__sym_remap_size_tensors(t, plain, NULL, 0, &same));
  ASSERT_EQ_PTR(same, plain);
  ASSERT_STATUS(kiln__sym_remap_size_tensors(t, e, map, 1, &same),
                KILN_STATUS_INVALID_ARGUMENT,
                "size tensor s1 has no new index (only 1 are mapped)");
  ASSERT_EQ_PTR(same, NULL);
  // At opt: s0 -> n // 2, s1 -> 3.
  kiln_sym_t at_opt = NULL;
  ASSERT_OK(kiln__sym_size_tensors_at_opt(t, e, &at_opt));
  ASSERT_EQ_PTR(
      at_opt,
      kiln_sym_add(t, kiln_sym_mul(t, half, kiln_sym_const(t, 3)), half));
  ASSERT_FALSE(kiln__sym_uses_size_tensor(at_opt));
  // Visiting: each distinct placeholder once, over several roots.
  int visits[10] = {0};
  kiln_sym_t roots[3] = {e, remapped, plain};
  ASSERT_OK(kiln__sym_visit_size_tensors(t, roots, 3, count_visits, visits));
  ASSERT_EQ_I64(visits[0], 1);
  ASSERT_EQ_I64(visits[1], 1);
  ASSERT_EQ_I64(visits[7], 1);
  ASSERT_EQ_I64(visits[9], 1);
  ASSERT_STATUS(kiln__sym_visit_size_tensors(t, roots, 1, stop_visit, NULL),
                KILN_STATUS_FAILED_PRECONDITION, "stop");
  roots[1] = NULL;
  ASSERT_STATUS(kiln__sym_visit_size_tensors(t, roots, 2, count_visits, visits),
                KILN_STATUS_INVALID_ARGUMENT, "NULL expression");
  kiln_sym_table_destroy(t);
}

// Rewriting under allocation failure: every failure is reported and
// nothing leaks.
TEST(sym_size_tensor_rewrite_oom_sweep) {
  for (size_t fail_at = 0;; ++fail_at) {
    kiln_test_allocator_t ta = kiln_test_allocator_make();
    kiln_sym_table_t* t = NULL;
    ASSERT_OK(kiln_sym_table_create(kiln_test_allocator_get(&ta), &t));
    kiln_sym_t n = kiln_sym_dim(t, 0, 0);
    kiln_sym_t s0 = kiln_sym_size_tensor(t, 0, n, n);
    kiln_sym_t e = kiln_sym_mul(t, kiln_sym_add(t, s0, n), s0);
    ASSERT_TRUE(e != NULL);
    // The rewrite's first new node makes the intern set grow.
    for (int64_t c = 0; kiln_sym_table_node_count(t) < 31; ++c) {
      ASSERT_TRUE(kiln_sym_const(t, 1000 + c) != NULL);
    }
    ta.fail_at = ta.allocations + fail_at;
    ta.fail_all_after = false;
    static const uint32_t map[1] = {5};
    kiln_sym_t out = NULL;
    kiln_status_t s = kiln__sym_remap_size_tensors(t, e, map, 1, &out);
    if (!s) {
      ASSERT_TRUE(kiln__sym_uses_size_tensor(out));
      kiln_sym_table_destroy(t);
      ASSERT_EQ_U64(ta.live, 0);
      break;
    }
    ASSERT_EQ_I64(kiln_status_code(s), KILN_STATUS_RESOURCE_EXHAUSTED);
    ASSERT_EQ_PTR(out, NULL);
    kiln_status_free(s);
    kiln_sym_table_destroy(t);
    ASSERT_EQ_U64(ta.live, 0);
    ASSERT_TRUE(fail_at < 100);
  }
}
