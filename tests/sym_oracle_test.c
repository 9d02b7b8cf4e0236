// Differential test of the symbolic evaluator and simplifier against an
// __int128 oracle, over a million random expression DAGs with random
// bindings. Two checks per expression:
//  (a) an oracle that walks kiln's own (simplified) DAG through
//      kiln_sym_get_info, computing each operation in __int128 and flagging
//      int64 overflow and division by zero, agrees exactly with kiln_sym_eval
//      (the same value, or both OUT_OF_RANGE);
//  (b) the same expression kept as a raw, unsimplified tree: wherever it
//      evaluates without error, kiln's value equals it (simplification is
//      sound).

#include <stdio.h>

#include "base/base.h"
#include "test.h"

#define ORACLE_EXPRESSIONS 1000000
#define ORACLE_SEED UINT64_C(0x6b696c6e73796d31)
#define TABLE_RESET_EVERY 4096
#define MAX_RAW 200
#define MAX_GEN_DEPTH 6

// __extension__ keeps -Wpedantic quiet about the non-ISO type.
__extension__ typedef __int128 i128;

static uint64_t splitmix64(uint64_t* state) {
  uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
  z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
  return z ^ (z >> 31);
}

static const int64_t interesting[] = {
    0,
    1,
    -1,
    2,
    -2,
    3,
    7,
    255,
    256,
    -256,
    INT32_MAX,
    (int64_t)INT32_MAX + 1,
    INT32_MIN,
    (int64_t)INT32_MIN - 1,
    INT64_C(1) << 32,
    INT64_C(1) << 62,
    -(INT64_C(1) << 62),
    (INT64_C(1) << 62) + 1,
    INT64_MAX,
    INT64_MAX - 1,
    INT64_MIN,
    INT64_MIN + 1,
};

static int64_t random_value(uint64_t* rng) {
  uint64_t r = splitmix64(rng);
  switch (r % 8) {
    case 0:
    case 1:
    case 2:
    case 3:
      return interesting[(r >> 8) % KILN_ARRAYSIZE(interesting)];
    case 4:
      return (int64_t)splitmix64(rng);
    case 5:
      return (int64_t)((r >> 8) % 21) - 10;
    case 6:
      return (int64_t)(splitmix64(rng) >> 33);
    default: {
      // Near an interesting value, wrapping as unsigned arithmetic does.
      uint64_t base =
          (uint64_t)interesting[(r >> 8) % KILN_ARRAYSIZE(interesting)];
      return (int64_t)(base + ((r >> 40) % 5) - 2);
    }
  }
}

// One node of the raw expression: what was asked for, before simplification.
typedef struct raw_t {
  kiln_sym_op_t op;
  int64_t value;  // CONST
  uint32_t p0;    // tensor or size-tensor index
  uint32_t p1;    // dim
  int a, b;       // operand indices into the pool
} raw_t;

typedef struct gen_t {
  uint64_t rng;
  kiln_sym_table_t* table;
  raw_t raw[MAX_RAW];
  kiln_sym_t sym[MAX_RAW];  // kiln's node for each raw node
  int count;
} gen_t;

// Adds a random expression of depth at most |depth| to the pool and returns
// its index. Operands are sometimes earlier nodes, making a DAG.
static int generate(gen_t* g, int depth) {
  uint64_t r = splitmix64(&g->rng);
  if (g->count > 0 && (r % 6 == 0 || g->count >= MAX_RAW - 2)) {
    return (int)((r >> 8) % (uint64_t)g->count);
  }
  raw_t node;
  memset(&node, 0, sizeof(node));
  kiln_sym_t sym = NULL;
  if (depth <= 1 || (r >> 8) % 4 == 0) {
    uint64_t kind = (r >> 16) % 10;
    if (kind < 4) {
      node.op = KILN_SYM_OP_CONST;
      node.value = random_value(&g->rng);
      sym = kiln_sym_const(g->table, node.value);
    } else if (kind < 9) {
      node.op = KILN_SYM_OP_DIM;
      node.p0 = (uint32_t)((r >> 24) % 2);
      node.p1 = (uint32_t)((r >> 32) % 3);
      sym = kiln_sym_dim(g->table, node.p0, node.p1);
    } else {
      node.op = KILN_SYM_OP_SIZE_TENSOR;
      node.p0 = (uint32_t)((r >> 24) % 2);
      kiln_sym_t bound = kiln_sym_const(g->table, 64);
      sym = kiln_sym_size_tensor(g->table, node.p0, bound, bound);
    }
  } else {
    node.op = (kiln_sym_op_t)(KILN_SYM_OP_SUM + (r >> 16) % 9);
    node.a = generate(g, depth - 1);
    node.b = generate(g, depth - 1);
    sym = kiln_sym_binary(g->table, node.op, g->sym[node.a], g->sym[node.b]);
  }
  g->raw[g->count] = node;
  g->sym[g->count] = sym;
  return g->count++;
}

// The reference semantics in __int128: false for a division by zero or a
// result outside int64.
static bool oracle_apply(kiln_sym_op_t op, i128 a, i128 b, i128* out) {
  i128 r = 0;
  switch (op) {
    case KILN_SYM_OP_SUM:
      r = a + b;
      break;
    case KILN_SYM_OP_SUB:
      r = a - b;
      break;
    case KILN_SYM_OP_PROD:
      r = a * b;
      break;
    case KILN_SYM_OP_FLOOR_DIV:
    case KILN_SYM_OP_CEIL_DIV: {
      if (b == 0) return false;
      i128 q = a / b, m = a % b;
      if (m != 0 && op == KILN_SYM_OP_FLOOR_DIV && ((m < 0) != (b < 0))) --q;
      if (m != 0 && op == KILN_SYM_OP_CEIL_DIV && ((m < 0) == (b < 0))) ++q;
      r = q;
      break;
    }
    case KILN_SYM_OP_MAX:
      r = a > b ? a : b;
      break;
    case KILN_SYM_OP_MIN:
      r = a < b ? a : b;
      break;
    case KILN_SYM_OP_EQUAL:
      r = a == b;
      break;
    case KILN_SYM_OP_LESS:
      r = a < b;
      break;
    default:
      return false;
  }
  if (r < INT64_MIN || r > INT64_MAX) return false;
  *out = r;
  return true;
}

typedef struct bindings_t {
  kiln_dims_t dims[2];
  int64_t sizes[2];
  kiln_sym_env_t env;
} bindings_t;

static bool leaf_value(kiln_sym_op_t op, int64_t value, uint32_t p0,
                       uint32_t p1, const bindings_t* b, i128* out) {
  switch (op) {
    case KILN_SYM_OP_CONST:
      *out = value;
      return true;
    case KILN_SYM_OP_DIM:
      *out = b->dims[p0].d[p1];
      return true;
    case KILN_SYM_OP_SIZE_TENSOR:
      *out = b->sizes[p0];
      return true;
    default:
      return false;
  }
}

// (a): walks kiln's DAG. Depth is at most MAX_GEN_DEPTH, so a tree walk is
// cheap enough.
static bool oracle_sym(kiln_sym_t e, const bindings_t* b, i128* out) {
  kiln_sym_info_t info = kiln_sym_get_info(e);
  if (info.op <= KILN_SYM_OP_SIZE_TENSOR) {
    uint32_t p0 = info.op == KILN_SYM_OP_DIM ? info.tensor : info.index;
    return leaf_value(info.op, info.value, p0, info.dim, b, out);
  }
  i128 x, y;
  if (!oracle_sym(info.a, b, &x) || !oracle_sym(info.b, b, &y)) return false;
  return oracle_apply(info.op, x, y, out);
}

// (b): walks the raw tree.
static bool oracle_raw(const gen_t* g, int index, const bindings_t* b,
                       i128* out) {
  const raw_t* n = &g->raw[index];
  if (n->op <= KILN_SYM_OP_SIZE_TENSOR) {
    return leaf_value(n->op, n->value, n->p0, n->p1, b, out);
  }
  i128 x, y;
  if (!oracle_raw(g, n->a, b, &x) || !oracle_raw(g, n->b, b, &y)) return false;
  return oracle_apply(n->op, x, y, out);
}

static void bind_randomly(bindings_t* b, uint64_t* rng) {
  memset(b, 0, sizeof(*b));
  for (int t = 0; t < 2; ++t) {
    b->dims[t].rank = 3;
    for (int d = 0; d < 3; ++d) b->dims[t].d[d] = random_value(rng);
    b->sizes[t] = random_value(rng);
  }
  b->env.tensors = b->dims;
  b->env.tensor_count = 2;
  b->env.size_tensor_values = b->sizes;
  b->env.size_tensor_count = 2;
}

TEST(sym_eval_differential_oracle) {
  gen_t g;
  memset(&g, 0, sizeof(g));
  g.rng = ORACLE_SEED;
  size_t ok_count = 0, overflow_count = 0, raw_ok_count = 0;
  for (long i = 0; i < ORACLE_EXPRESSIONS; ++i) {
    if (i % TABLE_RESET_EVERY == 0) {
      kiln_sym_table_destroy(g.table);
      g.table = NULL;
      ASSERT_OK(kiln_sym_table_create(kiln_allocator_system(), &g.table));
    }
    uint64_t expression_seed = g.rng;
    g.count = 0;
    int depth = 1 + (int)(splitmix64(&g.rng) % MAX_GEN_DEPTH);
    int root = generate(&g, depth);
    kiln_sym_t expr = g.sym[root];
    if (!expr) {
      kiln_status_t error = kiln_sym_table_take_error(g.table);
      FAIL("seed %#" PRIx64 " expression %ld: building failed: %s",
           expression_seed, i, kiln_status_message(error));
    }
    bindings_t b;
    bind_randomly(&b, &g.rng);
    int64_t value = 0;
    kiln_status_t status = kiln_sym_eval(g.table, expr, &b.env, &value);
    i128 want = 0, raw = 0;
    bool want_ok = oracle_sym(expr, &b, &want);
    bool raw_ok = oracle_raw(&g, root, &b, &raw);
    bool agree = want_ok ? (!status && value == (int64_t)want)
                         : kiln_status_code(status) == KILN_STATUS_OUT_OF_RANGE;
    bool sound = !raw_ok || (!status && value == (int64_t)raw);
    if (!agree || !sound) {
      char text[512];
      kiln_status_t print_status =
          kiln_sym_print(expr, NULL, 0, text, sizeof(text), NULL);
      kiln_status_free(print_status);
      kiln_test_fail(t_, __FILE__, __LINE__,
                     "seed %#" PRIx64
                     " expression %ld: %s: kiln says %s (%" PRId64
                     ") %s; oracle %s %" PRId64 "; raw tree %s %" PRId64,
                     expression_seed, i, text,
                     kiln_status_code_name(kiln_status_code(status)), value,
                     kiln_status_message(status), want_ok ? "ok" : "fails",
                     (int64_t)want, raw_ok ? "ok" : "fails", (int64_t)raw);
      kiln_status_free(status);
      kiln_sym_table_destroy(g.table);
      return;
    }
    if (status) {
      ++overflow_count;
      kiln_status_free(status);
    } else {
      ++ok_count;
    }
    if (raw_ok) ++raw_ok_count;
  }
  ASSERT_OK(kiln_sym_table_take_error(g.table));
  kiln_sym_table_destroy(g.table);
  // Both outcomes must be common, or the test checks little.
  ASSERT_TRUE(ok_count > ORACLE_EXPRESSIONS / 5);
  ASSERT_TRUE(overflow_count > ORACLE_EXPRESSIONS / 20);
  ASSERT_TRUE(raw_ok_count > ORACLE_EXPRESSIONS / 5);
}
