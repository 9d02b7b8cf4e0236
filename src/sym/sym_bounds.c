// Size tensors in expressions: sound interval bounds (for planning memory
// for data-dependent shapes), rewriting placeholders (to engine-wide
// references, or to their opt values), and visiting them.
//
// Every pass stamps the table's memo with a fresh epoch, so a node shared by
// many users is handled once per pass and a DAG costs time linear in its
// nodes. Recursion follows operands, so its depth is bounded by
// KILN_SYM_MAX_DEPTH.

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "sym/sym.h"
#include "sym/sym_impl.h"

#if defined(__GNUC__) || defined(__clang__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE
#endif

// Room for an expression in an error message.
#define TEXT_SIZE 256

static kiln_status_t check_root(const kiln_sym_table_t* table, kiln_sym_t expr,
                                const char* what) {
  if (!table || !expr) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT, "%s: NULL %s", what,
                            table ? "expression" : "table");
  }
  if (expr->table != table) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "%s: the expression belongs to another table",
                            what);
  }
  return NULL;
}

//===----------------------------------------------------------------------===//
// Bounds
//===----------------------------------------------------------------------===//

typedef struct bounds_t {
  kiln__sym_memo_t* memo;
  uint32_t epoch;
  const kiln__sym_bounds_env_t* env;
  kiln_sym_t root;
} bounds_t;

// Names |n| and, when it differs, the whole expression.
static NOINLINE kiln_status_t bounds_error(const bounds_t* b,
                                           kiln_status_code_t code,
                                           kiln_sym_t n, const char* what) {
  char node_text[TEXT_SIZE], root_text[TEXT_SIZE];
  kiln__sym_describe(n, node_text, sizeof(node_text));
  if (n == b->root) {
    return kiln_make_status(code, "cannot bound %s: %s", node_text, what);
  }
  kiln__sym_describe(b->root, root_text, sizeof(root_text));
  return kiln_make_status(code, "cannot bound %s: in %s, %s", root_text,
                          node_text, what);
}

static NOINLINE kiln_status_t overflow_error(const bounds_t* b, kiln_sym_t n,
                                             kiln__sym_interval_t x,
                                             kiln__sym_interval_t y) {
  char what[192];
  snprintf(what, sizeof(what),
           "%s of operands in [%" PRId64 ", %" PRId64 "] and [%" PRId64
           ", %" PRId64 "] overflows int64",
           kiln_sym_op_name((kiln_sym_op_t)n->op), x.lo, x.hi, y.lo, y.hi);
  return bounds_error(b, KILN_STATUS_OUT_OF_RANGE, n, what);
}

static NOINLINE kiln_status_t zero_divisor_error(const bounds_t* b,
                                                 kiln_sym_t n,
                                                 kiln__sym_interval_t divisor) {
  char divisor_text[TEXT_SIZE], what[TEXT_SIZE + 128];
  kiln__sym_describe(n->b, divisor_text, sizeof(divisor_text));
  snprintf(what, sizeof(what),
           "the divisor %s ranges over [%" PRId64 ", %" PRId64
           "], which contains 0",
           divisor_text, divisor.lo, divisor.hi);
  return bounds_error(b, KILN_STATUS_OUT_OF_RANGE, n, what);
}

static NOINLINE kiln_status_t missing_range(const bounds_t* b, kiln_sym_t n) {
  char what[160];
  snprintf(what, sizeof(what),
           "no range for dimension %" PRIu32 " of input tensor %" PRIu32
           " (the environment has %zu tensors)",
           n->p1, n->p0, b->env ? b->env->tensor_count : (size_t)0);
  return bounds_error(b, KILN_STATUS_INVALID_ARGUMENT, n, what);
}

// The extremes of |op| over the four corners of |x| and |y|; false when a
// corner overflows or divides by zero.
static bool corners(kiln_sym_op_t op, kiln__sym_interval_t x,
                    kiln__sym_interval_t y, kiln__sym_interval_t* out) {
  const int64_t xs[2] = {x.lo, x.hi}, ys[2] = {y.lo, y.hi};
  bool first = true;
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 2; ++j) {
      int64_t v;
      if (!kiln__sym_fold(op, xs[i], ys[j], &v)) return false;
      if (first || v < out->lo) out->lo = v;
      if (first || v > out->hi) out->hi = v;
      first = false;
    }
  }
  return true;
}

static kiln_status_t bound_node(bounds_t* b, kiln_sym_t n,
                                kiln__sym_interval_t* out) {
  kiln__sym_memo_t* memo = &b->memo[n->id];
  if (memo->epoch == b->epoch) {
    out->lo = memo->value;
    out->hi = memo->value2;
    return NULL;
  }
  kiln__sym_interval_t r = {0, 0};
  switch (n->op) {
    case KILN_SYM_OP_CONST:
      r.lo = r.hi = n->value;
      break;
    case KILN_SYM_OP_DIM: {
      const kiln__sym_bounds_env_t* env = b->env;
      if (!env || n->p0 >= env->tensor_count || !env->min || !env->max) {
        return missing_range(b, n);
      }
      const kiln_dims_t* lo = &env->min[n->p0];
      const kiln_dims_t* hi = &env->max[n->p0];
      if (lo->rank < 0 || lo->rank > KILN_MAX_RANK || lo->rank != hi->rank ||
          n->p1 >= (uint32_t)lo->rank) {
        return missing_range(b, n);
      }
      r.lo = lo->d[n->p1];
      r.hi = hi->d[n->p1];
      if (r.lo > r.hi) {
        r.lo = hi->d[n->p1];
        r.hi = lo->d[n->p1];
      }
      break;
    }
    case KILN_SYM_OP_SIZE_TENSOR: {
      kiln__sym_interval_t upper;
      KILN_RETURN_IF_ERROR(bound_node(b, n->b, &upper));
      r.lo = 0;
      r.hi = upper.hi > 0 ? upper.hi : 0;
      break;
    }
    default: {
      kiln__sym_interval_t x, y;
      KILN_RETURN_IF_ERROR(bound_node(b, n->a, &x));
      KILN_RETURN_IF_ERROR(bound_node(b, n->b, &y));
      switch (n->op) {
        case KILN_SYM_OP_SUM:
          if (__builtin_add_overflow(x.lo, y.lo, &r.lo) ||
              __builtin_add_overflow(x.hi, y.hi, &r.hi)) {
            return overflow_error(b, n, x, y);
          }
          break;
        case KILN_SYM_OP_SUB:
          if (__builtin_sub_overflow(x.lo, y.hi, &r.lo) ||
              __builtin_sub_overflow(x.hi, y.lo, &r.hi)) {
            return overflow_error(b, n, x, y);
          }
          break;
        case KILN_SYM_OP_PROD:
          if (!corners(KILN_SYM_OP_PROD, x, y, &r)) {
            return overflow_error(b, n, x, y);
          }
          break;
        case KILN_SYM_OP_FLOOR_DIV:
        case KILN_SYM_OP_CEIL_DIV:
          // Over a divisor range of one sign, floor(a / b) and ceil(a / b)
          // are monotone in a and in b, so the corners hold the extremes.
          if (y.lo <= 0 && y.hi >= 0) return zero_divisor_error(b, n, y);
          if (!corners((kiln_sym_op_t)n->op, x, y, &r)) {
            return overflow_error(b, n, x, y);
          }
          break;
        case KILN_SYM_OP_MAX:
          r.lo = x.lo > y.lo ? x.lo : y.lo;
          r.hi = x.hi > y.hi ? x.hi : y.hi;
          break;
        case KILN_SYM_OP_MIN:
          r.lo = x.lo < y.lo ? x.lo : y.lo;
          r.hi = x.hi < y.hi ? x.hi : y.hi;
          break;
        case KILN_SYM_OP_EQUAL:
          if (x.lo == x.hi && y.lo == y.hi && x.lo == y.lo) {
            r.lo = r.hi = 1;
          } else if (x.hi < y.lo || y.hi < x.lo) {
            r.lo = r.hi = 0;
          } else {
            r.lo = 0;
            r.hi = 1;
          }
          break;
        case KILN_SYM_OP_LESS:
          if (x.hi < y.lo) {
            r.lo = r.hi = 1;
          } else if (x.lo >= y.hi) {
            r.lo = r.hi = 0;
          } else {
            r.lo = 0;
            r.hi = 1;
          }
          break;
        default:
          return bounds_error(b, KILN_STATUS_INTERNAL, n, "unknown operation");
      }
      break;
    }
  }
  memo->epoch = b->epoch;
  memo->value = r.lo;
  memo->value2 = r.hi;
  *out = r;
  return NULL;
}

kiln_status_t kiln__sym_bounds(kiln_sym_table_t* table, kiln_sym_t expr,
                               const kiln__sym_bounds_env_t* env,
                               kiln__sym_interval_t* out_interval) {
  if (!out_interval) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "out_interval must not be NULL");
  }
  out_interval->lo = out_interval->hi = 0;
  KILN_RETURN_IF_ERROR(check_root(table, expr, "kiln__sym_bounds"));
  bounds_t b = {table->memo, kiln__sym_next_epoch(table), env, expr};
  kiln__sym_interval_t r;
  KILN_RETURN_IF_ERROR(bound_node(&b, expr, &r));
  *out_interval = r;
  return NULL;
}

//===----------------------------------------------------------------------===//
// Rewriting
//===----------------------------------------------------------------------===//

typedef struct rewrite_t {
  kiln_sym_table_t* table;
  uint32_t epoch;
  const uint32_t* map;  // NULL: replace placeholders by their opt values
  size_t map_count;
} rewrite_t;

static kiln_status_t rewrite_node(rewrite_t* w, kiln_sym_t n, kiln_sym_t* out) {
  *out = NULL;
  kiln__sym_memo_t* memo = &w->table->memo[n->id];
  if (memo->epoch == w->epoch) {
    *out = (kiln_sym_t)(uintptr_t)memo->value;
    return NULL;
  }
  kiln_sym_t result = n;
  if (n->flags & KILN__SYM_FLAG_SIZE_TENSOR) {
    if (n->op == KILN_SYM_OP_SIZE_TENSOR) {
      if (!w->map) {
        result = n->a;
      } else if (n->p0 >= w->map_count) {
        return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                                "size tensor s%" PRIu32
                                " has no new index (only %zu are mapped)",
                                n->p0, w->map_count);
      } else {
        KILN_RETURN_IF_ERROR(kiln__sym_make_size_tensor(w->table, w->map[n->p0],
                                                        n->a, n->b, &result));
      }
    } else {
      kiln_sym_t a, b;
      KILN_RETURN_IF_ERROR(rewrite_node(w, n->a, &a));
      KILN_RETURN_IF_ERROR(rewrite_node(w, n->b, &b));
      KILN_RETURN_IF_ERROR(
          kiln_sym_make(w->table, (kiln_sym_op_t)n->op, a, b, &result));
    }
  }
  // The nodes made above may have grown the memo: take its address again.
  memo = &w->table->memo[n->id];
  memo->epoch = w->epoch;
  memo->value = (int64_t)(uintptr_t)result;
  *out = result;
  return NULL;
}

static kiln_status_t rewrite(kiln_sym_table_t* table, kiln_sym_t expr,
                             const uint32_t* map, size_t map_count,
                             kiln_sym_t* out_expr) {
  if (!out_expr) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "out_expr must not be NULL");
  }
  *out_expr = NULL;
  KILN_RETURN_IF_ERROR(check_root(table, expr, "rewriting size tensors"));
  if (!(expr->flags & KILN__SYM_FLAG_SIZE_TENSOR)) {
    *out_expr = expr;
    return NULL;
  }
  rewrite_t w = {table, kiln__sym_next_epoch(table), map, map_count};
  kiln_sym_t result;
  KILN_RETURN_IF_ERROR(rewrite_node(&w, expr, &result));
  *out_expr = result;
  return NULL;
}

kiln_status_t kiln__sym_remap_size_tensors(kiln_sym_table_t* table,
                                           kiln_sym_t expr, const uint32_t* map,
                                           size_t map_count,
                                           kiln_sym_t* out_expr) {
  if (!map && map_count) {
    if (out_expr) *out_expr = NULL;
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "size tensor map is NULL");
  }
  static const uint32_t kNone = 0;
  return rewrite(table, expr, map ? map : &kNone, map_count, out_expr);
}

kiln_status_t kiln__sym_size_tensors_at_opt(kiln_sym_table_t* table,
                                            kiln_sym_t expr,
                                            kiln_sym_t* out_expr) {
  return rewrite(table, expr, NULL, 0, out_expr);
}

//===----------------------------------------------------------------------===//
// Visiting
//===----------------------------------------------------------------------===//

typedef struct visit_t {
  kiln__sym_memo_t* memo;
  uint32_t epoch;
  kiln__sym_visit_fn_t fn;
  void* user_data;
} visit_t;

static kiln_status_t visit_node(visit_t* v, kiln_sym_t n) {
  if (!(n->flags & KILN__SYM_FLAG_SIZE_TENSOR)) return NULL;
  kiln__sym_memo_t* memo = &v->memo[n->id];
  if (memo->epoch == v->epoch) return NULL;
  memo->epoch = v->epoch;
  if (n->op == KILN_SYM_OP_SIZE_TENSOR) return v->fn(v->user_data, n);
  KILN_RETURN_IF_ERROR(visit_node(v, n->a));
  return visit_node(v, n->b);
}

kiln_status_t kiln__sym_visit_size_tensors(kiln_sym_table_t* table,
                                           const kiln_sym_t* roots,
                                           size_t count,
                                           kiln__sym_visit_fn_t fn,
                                           void* user_data) {
  if (!table || !fn || (count && !roots)) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "visiting size tensors: NULL argument");
  }
  for (size_t i = 0; i < count; ++i) {
    KILN_RETURN_IF_ERROR(check_root(table, roots[i], "visiting size tensors"));
  }
  visit_t v = {table->memo, kiln__sym_next_epoch(table), fn, user_data};
  for (size_t i = 0; i < count; ++i) {
    KILN_RETURN_IF_ERROR(visit_node(&v, roots[i]));
  }
  return NULL;
}
