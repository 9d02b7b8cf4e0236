// Evaluation of symbolic expressions in exact int64 arithmetic. Each call
// stamps the table's memo with a fresh epoch, so a node shared by many users
// is computed once per call and a DAG evaluates in time linear in its nodes.
// Recursion follows operands, so its depth is bounded by KILN_SYM_MAX_DEPTH.

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

typedef struct eval_t {
  kiln__sym_memo_t* memo;
  uint32_t epoch;
  const kiln_sym_env_t* env;
  kiln_sym_t root;
} eval_t;

// Names |n| and, when it differs, the whole expression being evaluated. Kept
// out of line so that the recursion's frames stay small.
static NOINLINE kiln_status_t eval_error(const eval_t* e,
                                         kiln_status_code_t code, kiln_sym_t n,
                                         const char* what) {
  char node_text[TEXT_SIZE], root_text[TEXT_SIZE];
  kiln__sym_describe(n, node_text, sizeof(node_text));
  if (n == e->root) {
    return kiln_make_status(code, "%s in %s", what, node_text);
  }
  kiln__sym_describe(e->root, root_text, sizeof(root_text));
  return kiln_make_status(code, "%s in %s while evaluating %s", what, node_text,
                          root_text);
}

static NOINLINE kiln_status_t arithmetic_error(const eval_t* e, kiln_sym_t n,
                                               int64_t a, int64_t b) {
  bool divides =
      n->op == KILN_SYM_OP_FLOOR_DIV || n->op == KILN_SYM_OP_CEIL_DIV;
  const char* kind =
      divides && b == 0 ? "division by zero" : "integer overflow";
  char operands[96];
  if (n->op == KILN_SYM_OP_CEIL_DIV) {
    snprintf(operands, sizeof(operands), "(cdiv(%" PRId64 ", %" PRId64 "))", a,
             b);
  } else {
    const char* symbol = n->op == KILN_SYM_OP_SUM    ? "+"
                         : n->op == KILN_SYM_OP_SUB  ? "-"
                         : n->op == KILN_SYM_OP_PROD ? "*"
                                                     : "//";
    snprintf(operands, sizeof(operands), "(%" PRId64 " %s %" PRId64 ")", a,
             symbol, b);
  }
  char node_text[TEXT_SIZE];
  kiln__sym_describe(n, node_text, sizeof(node_text));
  if (n == e->root) {
    return kiln_make_status(KILN_STATUS_OUT_OF_RANGE, "%s in %s %s", kind,
                            node_text, operands);
  }
  char root_text[TEXT_SIZE];
  kiln__sym_describe(e->root, root_text, sizeof(root_text));
  return kiln_make_status(KILN_STATUS_OUT_OF_RANGE,
                          "%s in %s %s while evaluating %s", kind, node_text,
                          operands, root_text);
}

static NOINLINE kiln_status_t missing_dim(const eval_t* e, kiln_sym_t n) {
  const kiln_sym_env_t* env = e->env;
  char what[192];
  size_t tensor_count = env ? env->tensor_count : 0;
  if (n->p0 >= tensor_count) {
    snprintf(what, sizeof(what),
             "no value for dimension %" PRIu32 " of input tensor %" PRIu32
             " (the environment has %zu tensors)",
             n->p1, n->p0, tensor_count);
  } else if (!env->tensors) {
    snprintf(what, sizeof(what),
             "no value for dimension %" PRIu32 " of input tensor %" PRIu32
             " (the environment's tensor array is NULL)",
             n->p1, n->p0);
  } else {
    int32_t rank = env->tensors[n->p0].rank;
    if (rank < 0 || rank > KILN_MAX_RANK) {
      snprintf(what, sizeof(what),
               "input tensor %" PRIu32 " has invalid rank %" PRId32
               " (needed for its dimension %" PRIu32 ")",
               n->p0, rank, n->p1);
    } else {
      snprintf(what, sizeof(what),
               "no value for dimension %" PRIu32 " of input tensor %" PRIu32
               ", which has rank %" PRId32,
               n->p1, n->p0, rank);
    }
  }
  return eval_error(e, KILN_STATUS_INVALID_ARGUMENT, n, what);
}

static NOINLINE kiln_status_t missing_size(const eval_t* e, kiln_sym_t n) {
  char what[128];
  size_t count = e->env ? e->env->size_tensor_count : 0;
  snprintf(what, sizeof(what),
           "no value for size tensor s%" PRIu32
           " (the environment has %zu size tensor values)",
           n->p0, count);
  return eval_error(e, KILN_STATUS_INVALID_ARGUMENT, n, what);
}

static kiln_status_t eval_node(eval_t* e, kiln_sym_t n, int64_t* out) {
  kiln__sym_memo_t* memo = &e->memo[n->id];
  if (memo->epoch == e->epoch) {
    *out = memo->value;
    return NULL;
  }
  const kiln_sym_env_t* env = e->env;
  int64_t value = 0;
  switch (n->op) {
    case KILN_SYM_OP_CONST:
      value = n->value;
      break;
    case KILN_SYM_OP_DIM: {
      if (!env || n->p0 >= env->tensor_count || !env->tensors) {
        return missing_dim(e, n);
      }
      const kiln_dims_t* dims = &env->tensors[n->p0];
      if (dims->rank < 0 || dims->rank > KILN_MAX_RANK ||
          n->p1 >= (uint32_t)dims->rank) {
        return missing_dim(e, n);
      }
      value = dims->d[n->p1];
      break;
    }
    case KILN_SYM_OP_SIZE_TENSOR:
      if (!env || n->p0 >= env->size_tensor_count || !env->size_tensor_values) {
        return missing_size(e, n);
      }
      value = env->size_tensor_values[n->p0];
      break;
    default: {
      int64_t a, b;
      KILN_RETURN_IF_ERROR(eval_node(e, n->a, &a));
      KILN_RETURN_IF_ERROR(eval_node(e, n->b, &b));
      if (!kiln__sym_fold((kiln_sym_op_t)n->op, a, b, &value)) {
        return arithmetic_error(e, n, a, b);
      }
      break;
    }
  }
  memo->epoch = e->epoch;
  memo->value = value;
  *out = value;
  return NULL;
}

kiln_status_t kiln_sym_eval(kiln_sym_table_t* table, kiln_sym_t expr,
                            const kiln_sym_env_t* env, int64_t* out_value) {
  if (!out_value) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "out_value must not be NULL");
  }
  *out_value = 0;
  if (!table || !expr) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "cannot evaluate a NULL %s",
                            table ? "expression" : "table");
  }
  if (expr->table != table) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "expression belongs to another table");
  }
  eval_t e = {table->memo, kiln__sym_next_epoch(table), env, expr};
  int64_t value;
  KILN_RETURN_IF_ERROR(eval_node(&e, expr, &value));
  *out_value = value;
  return NULL;
}

kiln_status_t kiln_sym_eval_range(kiln_sym_table_t* table, kiln_sym_t expr,
                                  const kiln_sym_env_t* env, int64_t min_value,
                                  int64_t max_value, int64_t* out_value) {
  if (!out_value) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "out_value must not be NULL");
  }
  *out_value = 0;
  if (min_value > max_value) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "empty range [%" PRId64 ", %" PRId64 "]", min_value,
                            max_value);
  }
  int64_t value;
  KILN_RETURN_IF_ERROR(kiln_sym_eval(table, expr, env, &value));
  if (value < min_value || value > max_value) {
    char text[TEXT_SIZE];
    kiln__sym_describe(expr, text, sizeof(text));
    return kiln_make_status(KILN_STATUS_OUT_OF_RANGE,
                            "%s = %" PRId64 " is outside [%" PRId64 ", %" PRId64
                            "]",
                            text, value, min_value, max_value);
  }
  *out_value = value;
  return NULL;
}

kiln_status_t kiln_sym_eval_i32(kiln_sym_table_t* table, kiln_sym_t expr,
                                const kiln_sym_env_t* env, int32_t* out_value) {
  if (!out_value) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "out_value must not be NULL");
  }
  *out_value = 0;
  int64_t value;
  KILN_RETURN_IF_ERROR(
      kiln_sym_eval_range(table, expr, env, INT32_MIN, INT32_MAX, &value));
  *out_value = (int32_t)value;
  return NULL;
}
