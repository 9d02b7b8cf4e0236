// Printing of symbolic expressions with the fewest parentheses that keep the
// structure unambiguous. Printing expands the DAG into a tree, which can be
// exponentially larger, so the printer stops as soon as the buffer is full:
// its work is bounded by the capacity (plus the depth), not by the tree.

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "sym/sym.h"
#include "sym/sym_impl.h"

// Binding strength, loosest first. A negative constant is parenthesized as
// the operand of any infix operator ("x[0] - (-3)", "(-3)*x[0]") but not
// alone or as a function argument ("max(-3, x[0])").
enum {
  PREC_NONE = 0,     // top level and function arguments
  PREC_COMPARE = 1,  // == <
  PREC_ADD = 2,      // + -
  PREC_DIV = 3,      // //
  PREC_MUL = 4,      // *
  PREC_ATOM = 5,     // leaves, calls
};

typedef struct printer_t {
  char* buffer;
  size_t capacity;  // including the NUL
  size_t length;
  bool full;
  const char* const* names;
  size_t name_count;
} printer_t;

static void put(printer_t* p, const char* text, size_t size) {
  if (p->full) return;
  size_t room = p->capacity - 1 - p->length;
  if (size > room) {
    size = room;
    p->full = true;
  }
  memcpy(p->buffer + p->length, text, size);
  p->length += size;
  p->buffer[p->length] = '\0';
}

static void put_cstring(printer_t* p, const char* text) {
  if (p->full) return;
  // Reads no further into |text| than could be written.
  put(p, text, strnlen(text, p->capacity - p->length));
}

static void put_i64(printer_t* p, int64_t value) {
  char text[24];
  int n = snprintf(text, sizeof(text), "%" PRId64, value);
  put(p, text, n > 0 ? (size_t)n : 0);
}

static void put_u32(printer_t* p, uint32_t value) {
  char text[16];
  int n = snprintf(text, sizeof(text), "%" PRIu32, value);
  put(p, text, n > 0 ? (size_t)n : 0);
}

// How each binary operation prints: infix with the strength of its operator
// and the strength each operand needs, or as a call. Comparisons do not
// chain, so both sides must bind tighter. The arithmetic operators associate
// to the left, so a right operand of the same strength keeps its parentheses
// ("a - (b + c)", "a // (b*c)"). "*" binds tighter than "//" here, which
// only adds parentheses where Python would not need them ("(a // b)*c"), so
// that a reader need not remember that they are equally strong.
typedef struct op_syntax_t {
  const char* infix;  // NULL for a call
  const char* call;   // "name(" for a call
  int prec;
  int left_prec;
  int right_prec;
} op_syntax_t;

static const op_syntax_t op_syntax[KILN_SYM_OP_COUNT] = {
    [KILN_SYM_OP_SUM] = {" + ", NULL, PREC_ADD, PREC_ADD, PREC_DIV},
    [KILN_SYM_OP_SUB] = {" - ", NULL, PREC_ADD, PREC_ADD, PREC_DIV},
    [KILN_SYM_OP_PROD] = {"*", NULL, PREC_MUL, PREC_MUL, PREC_ATOM},
    [KILN_SYM_OP_FLOOR_DIV] = {" // ", NULL, PREC_DIV, PREC_DIV, PREC_ATOM},
    [KILN_SYM_OP_CEIL_DIV] = {NULL, "cdiv(", PREC_ATOM, PREC_NONE, PREC_NONE},
    [KILN_SYM_OP_MAX] = {NULL, "max(", PREC_ATOM, PREC_NONE, PREC_NONE},
    [KILN_SYM_OP_MIN] = {NULL, "min(", PREC_ATOM, PREC_NONE, PREC_NONE},
    [KILN_SYM_OP_EQUAL] = {" == ", NULL, PREC_COMPARE, PREC_ADD, PREC_ADD},
    [KILN_SYM_OP_LESS] = {" < ", NULL, PREC_COMPARE, PREC_ADD, PREC_ADD},
};

static void print_leaf(printer_t* p, kiln_sym_t n) {
  switch (n->op) {
    case KILN_SYM_OP_CONST:
      put_i64(p, n->value);
      break;
    case KILN_SYM_OP_DIM:
      if (p->names && n->p0 < p->name_count && p->names[n->p0]) {
        put_cstring(p, p->names[n->p0]);
      } else {
        put(p, "in", 2);
        put_u32(p, n->p0);
      }
      put(p, "[", 1);
      put_u32(p, n->p1);
      put(p, "]", 1);
      break;
    case KILN_SYM_OP_SIZE_TENSOR:
      put(p, "s", 1);
      put_u32(p, n->p0);
      break;
    default:
      put_cstring(p, "<bad>");
      break;
  }
}

// Prints |n|, parenthesized when it binds more loosely than |min_prec|.
static void print_node(printer_t* p, kiln_sym_t n, int min_prec) {
  if (p->full) return;
  if (n->op <= KILN_SYM_OP_SIZE_TENSOR || n->op >= KILN_SYM_OP_COUNT) {
    bool negative = n->op == KILN_SYM_OP_CONST && n->value < 0;
    bool parens = negative && min_prec > PREC_NONE;
    if (parens) put(p, "(", 1);
    print_leaf(p, n);
    if (parens) put(p, ")", 1);
    return;
  }
  const op_syntax_t* syntax = &op_syntax[n->op];
  bool parens = syntax->prec < min_prec;
  if (parens) put(p, "(", 1);
  if (syntax->infix) {
    print_node(p, n->a, syntax->left_prec);
    put_cstring(p, syntax->infix);
    print_node(p, n->b, syntax->right_prec);
  } else {
    put_cstring(p, syntax->call);
    print_node(p, n->a, PREC_NONE);
    put(p, ", ", 2);
    print_node(p, n->b, PREC_NONE);
    put(p, ")", 1);
  }
  if (parens) put(p, ")", 1);
}

kiln_status_t kiln_sym_print(kiln_sym_t expr, const char* const* tensor_names,
                             size_t name_count, char* buffer, size_t capacity,
                             size_t* out_length) {
  if (out_length) *out_length = 0;
  if (!buffer || capacity == 0) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "print buffer is NULL or has no room");
  }
  buffer[0] = '\0';
  if (!expr) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "cannot print a NULL expression");
  }
  printer_t p = {buffer, capacity, 0, false, tensor_names, name_count};
  print_node(&p, expr, PREC_NONE);
  if (p.full) {
    return kiln_make_status(KILN_STATUS_OUT_OF_RANGE,
                            "printed expression does not fit in %zu bytes",
                            capacity);
  }
  if (out_length) *out_length = p.length;
  return NULL;
}

void kiln__sym_describe(kiln_sym_t expr, char* buffer, size_t capacity) {
  if (!buffer || capacity == 0) return;
  buffer[0] = '\0';
  if (!expr) {
    snprintf(buffer, capacity, "(null)");
    return;
  }
  printer_t p = {buffer, capacity, 0, false, NULL, 0};
  print_node(&p, expr, PREC_NONE);
  if (p.full && capacity >= 4) memcpy(buffer + capacity - 4, "...", 4);
}
