// Tests of the serialized form of symbolic expressions: the exact bytes,
// round trips into the same and a fresh table, a verifying reader that
// rejects every truncation and hand-made corruption with DATA_LOSS and
// survives every single-byte change, and allocation-failure sweeps.

#include <stdio.h>
#include <stdlib.h>

#include "base/base.h"
#include "base/bytes.h"
#include "sym/sym.h"
#include "test.h"

#define SAMPLE_ROOTS 8
#define MAX_ROOTS 16

// Builds a set of expressions covering every op, negative and extreme
// constants, a size tensor, shared subexpressions and a repeated root.
// Returns how many roots it wrote (NULLs on failure, recorded in |t|).
static size_t build_sample(kiln_sym_table_t* t, kiln_sym_t* roots) {
  kiln_sym_t x0 = kiln_sym_dim(t, 0, 0), x1 = kiln_sym_dim(t, 0, 1);
  kiln_sym_t y2 = kiln_sym_dim(t, 1, 2);
  kiln_sym_t c256 = kiln_sym_const(t, 256), one = kiln_sym_const(t, 1);
  kiln_sym_t big = kiln_sym_const(t, INT64_MAX);
  kiln_sym_t prod = kiln_sym_mul(t, x0, x1);
  roots[0] = kiln_sym_ceil_div(t, prod, c256);
  roots[1] = kiln_sym_add(t, kiln_sym_floor_div(t, prod, c256), one);
  roots[2] = kiln_sym_sub(
      t, kiln_sym_size_tensor(t, 0, kiln_sym_const(t, 128), prod), one);
  roots[3] = kiln_sym_max(t, kiln_sym_sub(t, x0, kiln_sym_const(t, -3)),
                          kiln_sym_min(t, y2, kiln_sym_const(t, INT64_MIN)));
  roots[4] = kiln_sym_add(t, kiln_sym_eq(t, x0, y2), kiln_sym_lt(t, x1, big));
  roots[5] = kiln_sym_add(t, big, one);  // stays unfolded
  roots[6] = roots[0];
  roots[7] = x0;
  return SAMPLE_ROOTS;
}

// Serializes |roots| into a malloc'd blob (NULL on failure).
static uint8_t* serialize(const kiln_sym_t* roots, size_t count,
                          size_t* out_size) {
  kiln__writer_t w;
  kiln__writer_init(&w, kiln_allocator_system());
  kiln_status_t status = kiln__sym_serialize(roots, count, &w);
  *out_size = w.size;
  uint8_t* copy = status ? NULL : (uint8_t*)malloc(w.size ? w.size : 1);
  if (copy && w.size) memcpy(copy, w.data, w.size);
  kiln__writer_deinit(&w);
  kiln_status_free(status);
  return copy;
}

// True when |x| and |y| (possibly of different tables) are the same
// expression, compared through the public accessors.
static bool same_structure(kiln_sym_t x, kiln_sym_t y) {
  if (!x || !y) return x == y;
  kiln_sym_info_t a = kiln_sym_get_info(x), b = kiln_sym_get_info(y);
  return a.op == b.op && a.value == b.value && a.tensor == b.tensor &&
         a.dim == b.dim && a.index == b.index && a.depth == b.depth &&
         same_structure(a.a, b.a) && same_structure(a.b, b.b);
}

static kiln_status_t deserialize(kiln_sym_table_t* t, const uint8_t* data,
                                 size_t size, size_t base, kiln_sym_t* roots,
                                 size_t max_roots, size_t* count) {
  kiln_const_bytes_t bytes = {data, size};
  return kiln__sym_deserialize(t, bytes, base, roots, max_roots, count, NULL);
}

TEST(sym_serialize_format) {
  kiln_sym_table_t* t = NULL;
  ASSERT_OK(kiln_sym_table_create(kiln_allocator_system(), &t));
  kiln_sym_t e = kiln_sym_add(t, kiln_sym_const(t, -3), kiln_sym_dim(t, 0, 1));
  size_t size = 0;
  uint8_t* blob = serialize(&e, 1, &size);
  ASSERT_TRUE(blob != NULL);
  // 3 nodes: dim(0, 1), const -3 (zigzag 5), sum(0, 1); 1 root: node 2.
  static const uint8_t want[] = {3, 1, 0, 1, 0, 5, 3, 0, 1, 1, 2};
  ASSERT_EQ_U64(size, sizeof(want));
  ASSERT_TRUE(memcmp(blob, want, size) == 0);
  free(blob);
  // No roots: two zero counts.
  blob = serialize(NULL, 0, &size);
  ASSERT_TRUE(blob != NULL);
  ASSERT_EQ_U64(size, 2);
  ASSERT_EQ_I64(blob[0], 0);
  ASSERT_EQ_I64(blob[1], 0);
  size_t count = 99;
  ASSERT_OK(deserialize(t, blob, size, 0, NULL, 0, &count));
  ASSERT_EQ_U64(count, 0);
  free(blob);
  // Bad roots leave the writer as it was.
  kiln_sym_table_t* other = NULL;
  ASSERT_OK(kiln_sym_table_create(kiln_allocator_system(), &other));
  kiln__writer_t w;
  kiln__writer_init(&w, kiln_allocator_system());
  ASSERT_OK(kiln__writer_u8(&w, 0xaa));
  kiln_sym_t bad[2] = {e, NULL};
  ASSERT_STATUS(kiln__sym_serialize(bad, 2, &w), KILN_STATUS_INVALID_ARGUMENT,
                "root 1 is NULL");
  bad[1] = kiln_sym_const(other, 1);
  ASSERT_STATUS(kiln__sym_serialize(bad, 2, &w), KILN_STATUS_INVALID_ARGUMENT,
                "root 1 belongs to another table");
  ASSERT_STATUS(kiln__sym_serialize(NULL, 1, &w), KILN_STATUS_INVALID_ARGUMENT,
                "");
  ASSERT_STATUS(kiln__sym_serialize(&e, 1, NULL), KILN_STATUS_INVALID_ARGUMENT,
                "");
  ASSERT_EQ_U64(w.size, 1);
  kiln__writer_deinit(&w);
  kiln_sym_table_destroy(other);
  kiln_sym_table_destroy(t);
}

TEST(sym_serialize_roundtrip) {
  kiln_sym_table_t* t = NULL;
  ASSERT_OK(kiln_sym_table_create(kiln_allocator_system(), &t));
  kiln_sym_t roots[SAMPLE_ROOTS];
  size_t n = build_sample(t, roots);
  ASSERT_OK(kiln_sym_table_take_error(t));
  size_t size = 0;
  uint8_t* blob = serialize(roots, n, &size);
  ASSERT_TRUE(blob != NULL);
  // Each node is written once: the node count is at most the table's.
  ASSERT_TRUE(blob[0] <= kiln_sym_table_node_count(t));
  // Into the same table: the very same pointers, and no new node.
  size_t nodes_before = kiln_sym_table_node_count(t);
  kiln_sym_t back[MAX_ROOTS];
  size_t count = 0, consumed = 0;
  kiln_const_bytes_t bytes = {blob, size};
  ASSERT_OK(
      kiln__sym_deserialize(t, bytes, 0, back, MAX_ROOTS, &count, &consumed));
  ASSERT_EQ_U64(count, n);
  ASSERT_EQ_U64(consumed, size);
  for (size_t i = 0; i < n; ++i) ASSERT_EQ_PTR(back[i], roots[i]);
  ASSERT_EQ_U64(kiln_sym_table_node_count(t), nodes_before);
  // Bytes after the blob are not read.
  uint8_t* padded = (uint8_t*)malloc(size + 5);
  ASSERT_TRUE(padded != NULL);
  memcpy(padded, blob, size);
  memset(padded + size, 0xee, 5);
  kiln_const_bytes_t padded_bytes = {padded, size + 5};
  ASSERT_OK(
      kiln__sym_deserialize(t, padded_bytes, 0, back, n, &count, &consumed));
  ASSERT_EQ_U64(consumed, size);
  free(padded);
  // Into a fresh table: structurally equal, printed equal, evaluated equal,
  // and serialized to the same bytes.
  kiln_sym_table_t* u = NULL;
  ASSERT_OK(kiln_sym_table_create(kiln_allocator_system(), &u));
  ASSERT_OK(deserialize(u, blob, size, 0, back, MAX_ROOTS, &count));
  ASSERT_EQ_U64(count, n);
  ASSERT_EQ_U64(kiln_sym_table_node_count(u), blob[0]);
  kiln_dims_t dims[2] = {{3, {1000, 3, 0}}, {3, {4, 5, 6}}};
  int64_t sizes[1] = {77};
  kiln_sym_env_t env = {dims, 2, sizes, 1};
  for (size_t i = 0; i < n; ++i) {
    ASSERT_TRUE(same_structure(back[i], roots[i]));
    char a[256], b[256];
    ASSERT_OK(kiln_sym_print(roots[i], NULL, 0, a, sizeof(a), NULL));
    ASSERT_OK(kiln_sym_print(back[i], NULL, 0, b, sizeof(b), NULL));
    ASSERT_EQ_STR(b, a);
    int64_t va = 0, vb = 0;
    kiln_status_t sa = kiln_sym_eval(t, roots[i], &env, &va);
    kiln_status_t sb = kiln_sym_eval(u, back[i], &env, &vb);
    ASSERT_EQ_I64(kiln_status_code(sa), kiln_status_code(sb));
    ASSERT_EQ_I64(va, vb);
    kiln_status_free(sa);
    kiln_status_free(sb);
  }
  ASSERT_EQ_PTR(back[6], back[0]);
  size_t size2 = 0;
  uint8_t* blob2 = serialize(back, n, &size2);
  ASSERT_TRUE(blob2 != NULL);
  ASSERT_EQ_U64(size2, size);
  ASSERT_TRUE(memcmp(blob, blob2, size) == 0);
  free(blob2);
  free(blob);
  kiln_sym_table_destroy(u);
  kiln_sym_table_destroy(t);
}

// Deserializes |data| and checks that the result is either DATA_LOSS or a
// usable set of roots, which it then prints, evaluates and round-trips.
// Returns 0 for DATA_LOSS, 1 for a valid blob, -1 after failing the test.
static int check_any_input(kiln_test_t* t_, kiln_sym_table_t* t,
                           const uint8_t* data, size_t size) {
  kiln_sym_t roots[MAX_ROOTS];
  size_t count = 0;
  kiln_status_t status =
      deserialize(t, data, size, 0, roots, MAX_ROOTS, &count);
  if (status) {
    bool data_loss = kiln_status_code(status) == KILN_STATUS_DATA_LOSS;
    if (!data_loss) {
      kiln_test_fail(t_, __FILE__, __LINE__, "expected DATA_LOSS, got %s: %s",
                     kiln_status_code_name(kiln_status_code(status)),
                     kiln_status_message(status));
    }
    kiln_status_free(status);
    return data_loss ? 0 : -1;
  }
  kiln_dims_t dims[1] = {{2, {3, 4}}};
  kiln_sym_env_t env = {dims, 1, NULL, 0};
  for (size_t i = 0; i < count; ++i) {
    if (!roots[i]) {
      kiln_test_fail(t_, __FILE__, __LINE__, "root %zu is NULL", i);
      return -1;
    }
    char text[128];
    kiln_status_free(
        kiln_sym_print(roots[i], NULL, 0, text, sizeof(text), NULL));
    int64_t value;
    kiln_status_free(kiln_sym_eval(t, roots[i], &env, &value));
  }
  size_t size2 = 0;
  uint8_t* again = serialize(roots, count, &size2);
  kiln_sym_t back[MAX_ROOTS];
  size_t count2 = 0;
  status = again ? deserialize(t, again, size2, 0, back, MAX_ROOTS, &count2)
                 : kiln_make_status(KILN_STATUS_INTERNAL, "serialize failed");
  free(again);
  bool same = !status && count2 == count;
  for (size_t i = 0; same && i < count; ++i) same = back[i] == roots[i];
  if (!same) {
    kiln_test_fail(t_, __FILE__, __LINE__, "round trip differs: %s",
                   kiln_status_message(status));
  }
  kiln_status_free(status);
  return same ? 1 : -1;
}

TEST(sym_deserialize_truncations_and_flips) {
  kiln_sym_table_t* t = NULL;
  ASSERT_OK(kiln_sym_table_create(kiln_allocator_system(), &t));
  kiln_sym_t roots[SAMPLE_ROOTS];
  size_t n = build_sample(t, roots);
  size_t size = 0;
  uint8_t* blob = serialize(roots, n, &size);
  ASSERT_TRUE(blob != NULL);
  kiln_sym_table_destroy(t);
  uint8_t* copy = (uint8_t*)malloc(size);
  ASSERT_TRUE(copy != NULL);
  // Every strict prefix is truncated (copied to a buffer of exactly that
  // size, so ASan sees any over-read).
  for (size_t len = 0; len < size; ++len) {
    ASSERT_OK(kiln_sym_table_create(kiln_allocator_system(), &t));
    uint8_t* prefix = (uint8_t*)malloc(len ? len : 1);
    ASSERT_TRUE(prefix != NULL);
    memcpy(prefix, blob, len);
    kiln_sym_t out[MAX_ROOTS];
    size_t count = 7;
    kiln_status_t status =
        deserialize(t, prefix, len, 0, out, MAX_ROOTS, &count);
    free(prefix);
    kiln_sym_table_destroy(t);
    if (kiln_status_code(status) != KILN_STATUS_DATA_LOSS) {
      kiln_status_free(status);
      free(copy);
      free(blob);
      FAIL("prefix of %zu bytes was not DATA_LOSS", len);
    }
    kiln_status_free(status);
    ASSERT_EQ_U64(count, 0);
  }
  // Every other value of every byte: DATA_LOSS or a valid result.
  size_t valid = 0, rejected = 0;
  ASSERT_OK(kiln_sym_table_create(kiln_allocator_system(), &t));
  for (size_t pos = 0; pos < size && !t_->failed; ++pos) {
    for (int v = 0; v < 256; ++v) {
      if (v == blob[pos]) continue;
      memcpy(copy, blob, size);
      copy[pos] = (uint8_t)v;
      int result = check_any_input(t_, t, copy, size);
      if (result < 0) {
        printf("#   byte %zu set to %#x\n", pos, (unsigned)v);
        break;
      }
      if (result) {
        ++valid;
      } else {
        ++rejected;
      }
    }
  }
  kiln_sym_table_destroy(t);
  free(copy);
  free(blob);
  if (t_->failed) return;
  ASSERT_TRUE(valid > 0);
  ASSERT_TRUE(rejected > 0);
}

// One hand-made blob and the message it must be rejected with.
typedef struct bad_blob_t {
  const char* what;
  uint8_t bytes[24];
  size_t size;
  const char* needle;
} bad_blob_t;

TEST(sym_deserialize_rejects_corruption) {
  static const bad_blob_t cases[] = {
      {"empty", {0}, 0, "truncated at byte offset 1000: node count"},
      {"forward reference",
       {3, 1, 0, 0, 3, 0, 2, 0, 2, 1, 1},
       11,
       "byte offset 1006: second operand of node 1 refers to the later node "
       "2 (a forward reference or a cycle)"},
      {"self reference",
       {2, 1, 0, 0, 3, 1, 0, 1, 1},
       9,
       "byte offset 1005: first operand of node 1 refers to itself"},
      {"reference past the end",
       {2, 1, 0, 0, 5, 0, 9, 1, 1},
       9,
       "second operand of node 1 refers to node 9, past the last node 1"},
      {"unknown op",
       {1, 12, 0, 1, 0},
       5,
       "byte offset 1001: unknown op code 12"},
      {"op 255", {1, 255, 0, 1, 0}, 5, "unknown op code 255 in node 0"},
      {"huge node count",
       {0x80, 0x80, 0x80, 0x80, 0x80, 0x20, 0, 0},
       8,
       "node count 1099511627776 exceeds KILN_SYM_MAX_NODES (1048576)"},
      {"node count over the bytes left",
       {10, 0, 0, 0},
       4,
       "node count 10 needs more than the 3 bytes left"},
      {"node count at the limit",
       {0x80, 0x80, 0x40, 0, 0},
       5,
       "node count 1048576 needs more than the 2 bytes left"},
      {"dimension out of range",
       {1, 1, 0, 8, 1, 0},
       6,
       "byte offset 1003: dimension 8 of tensor 0 is not below 8"},
      {"tensor out of range",
       {1, 1, 0x80, 0x20, 0, 1, 0},
       7,
       "byte offset 1002: tensor index 4096 is not below 4096"},
      {"size tensor in a size tensor's opt",
       {3, 0, 8, 2, 0, 0, 0, 2, 1, 1, 0, 1, 2},
       13,
       "byte offset 1007: the opt value of size tensor s1 uses a size tensor"},
      {"size tensor below a size tensor's upper bound",
       {4, 0, 8, 2, 0, 0, 0, 3, 1, 0, 2, 1, 0, 2, 1, 3},
       16,
       "the upper bound of size tensor s1 uses a size tensor"},
      {"size tensor index too wide",
       {2, 0, 8, 2, 0x80, 0x80, 0x80, 0x80, 0x10, 0, 0, 1, 1},
       13,
       "size tensor index 4294967296 does not fit in 32 bits"},
      {"too many roots",
       {1, 0, 2, 17, 0},
       5,
       "17 roots, more than the 16 expected"},
      {"root out of range",
       {1, 0, 2, 1, 1},
       5,
       "byte offset 1004: root 0 refers to node 1 of only 1"},
      {"overlong constant",
       {1, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01,
        1, 0},
       15,
       "constant is longer than 10 bytes"},
      {"truncated operand", {2, 1, 0, 0, 3, 0}, 6, "second operand needs 1"},
      {"missing roots", {1, 0, 2}, 3, "needs more than the 2 bytes left"},
      {"truncated root list",
       {1, 0, 2, 2, 0},
       5,
       "truncated at byte offset 1005: root"},
  };
  kiln_sym_table_t* t = NULL;
  ASSERT_OK(kiln_sym_table_create(kiln_allocator_system(), &t));
  for (size_t i = 0; i < KILN_ARRAYSIZE(cases); ++i) {
    kiln_sym_t out[MAX_ROOTS];
    for (size_t j = 0; j < MAX_ROOTS; ++j) out[j] = (kiln_sym_t)&out[j];
    size_t count = 5, consumed = 5;
    kiln_const_bytes_t bytes = {cases[i].bytes, cases[i].size};
    kiln_status_t status = kiln__sym_deserialize(t, bytes, 1000, out, MAX_ROOTS,
                                                 &count, &consumed);
    bool ok = kiln_status_code(status) == KILN_STATUS_DATA_LOSS &&
              strstr(kiln_status_message(status), cases[i].needle);
    if (!ok) {
      kiln_test_fail(t_, __FILE__, __LINE__,
                     "%s: want DATA_LOSS with \"%s\", got %s: %s",
                     cases[i].what, cases[i].needle,
                     kiln_status_code_name(kiln_status_code(status)),
                     kiln_status_message(status));
      kiln_status_free(status);
      kiln_sym_table_destroy(t);
      return;
    }
    kiln_status_free(status);
    ASSERT_EQ_U64(count, 0);
    ASSERT_EQ_U64(consumed, 0);
    for (size_t j = 0; j < MAX_ROOTS; ++j) ASSERT_EQ_PTR(out[j], NULL);
  }
  // Bad calls.
  size_t count = 0;
  static const uint8_t fine[] = {1, 0, 2, 1, 0};
  kiln_const_bytes_t bytes = {fine, sizeof(fine)};
  kiln_sym_t out[1];
  ASSERT_OK(kiln__sym_deserialize(t, bytes, 0, out, 1, &count, NULL));
  ASSERT_EQ_PTR(out[0], kiln_sym_const(t, 1));
  ASSERT_STATUS(kiln__sym_deserialize(NULL, bytes, 0, out, 1, &count, NULL),
                KILN_STATUS_INVALID_ARGUMENT, "");
  ASSERT_STATUS(kiln__sym_deserialize(t, bytes, 0, NULL, 1, &count, NULL),
                KILN_STATUS_INVALID_ARGUMENT, "");
  ASSERT_STATUS(kiln__sym_deserialize(t, bytes, 0, out, 1, NULL, NULL),
                KILN_STATUS_INVALID_ARGUMENT, "");
  kiln_const_bytes_t none = {NULL, 10};
  ASSERT_STATUS(kiln__sym_deserialize(t, none, 0, out, 1, &count, NULL),
                KILN_STATUS_DATA_LOSS, "truncated");
  kiln_sym_table_destroy(t);
}

// Writes a chain: node 0 is a dimension, node i is op(i - 1, i - 1) for op
// SUB (which simplifies to 0 at once) or SUM(i - 1, 0).
static size_t chain_blob(uint8_t* out, size_t nodes, kiln_sym_op_t op) {
  kiln__writer_t w;
  kiln__writer_init(&w, kiln_allocator_system());
  kiln_status_t status = kiln__writer_varint(&w, nodes);
  status = kiln_status_join(status, kiln__writer_u8(&w, KILN_SYM_OP_DIM));
  status = kiln_status_join(status, kiln__writer_varint(&w, 0));
  status = kiln_status_join(status, kiln__writer_varint(&w, 1));
  for (size_t i = 1; i < nodes; ++i) {
    status = kiln_status_join(status, kiln__writer_u8(&w, (uint8_t)op));
    status = kiln_status_join(status, kiln__writer_varint(&w, i - 1));
    status = kiln_status_join(
        status, kiln__writer_varint(&w, op == KILN_SYM_OP_SUB ? i - 1 : 0));
  }
  status = kiln_status_join(status, kiln__writer_varint(&w, 1));
  status = kiln_status_join(status, kiln__writer_varint(&w, nodes - 1));
  size_t size = status ? 0 : w.size;
  if (size) memcpy(out, w.data, size);
  kiln_status_free(status);
  kiln__writer_deinit(&w);
  return size;
}

TEST(sym_deserialize_depth_limit) {
  uint8_t blob[2048];
  kiln_sym_table_t* t = NULL;
  ASSERT_OK(kiln_sym_table_create(kiln_allocator_system(), &t));
  kiln_sym_t root = NULL;
  size_t count = 0;
  // A chain of exactly KILN_SYM_MAX_DEPTH nodes is accepted.
  size_t size = chain_blob(blob, KILN_SYM_MAX_DEPTH, KILN_SYM_OP_SUM);
  ASSERT_TRUE(size > 0);
  ASSERT_OK(deserialize(t, blob, size, 0, &root, 1, &count));
  ASSERT_EQ_I64(kiln_sym_get_info(root).depth, KILN_SYM_MAX_DEPTH);
  // One more is DATA_LOSS.
  size = chain_blob(blob, KILN_SYM_MAX_DEPTH + 1, KILN_SYM_OP_SUM);
  ASSERT_STATUS(deserialize(t, blob, size, 0, &root, 1, &count),
                KILN_STATUS_DATA_LOSS,
                "node 128 has depth 129, more than KILN_SYM_MAX_DEPTH (128)");
  // The limit applies to the chain as written, even where it simplifies.
  size = chain_blob(blob, KILN_SYM_MAX_DEPTH, KILN_SYM_OP_SUB);
  ASSERT_OK(deserialize(t, blob, size, 0, &root, 1, &count));
  ASSERT_EQ_PTR(root, kiln_sym_const(t, 0));
  size = chain_blob(blob, KILN_SYM_MAX_DEPTH + 1, KILN_SYM_OP_SUB);
  ASSERT_STATUS(deserialize(t, blob, size, 0, &root, 1, &count),
                KILN_STATUS_DATA_LOSS, "node 128 has depth 129");
  kiln_sym_table_destroy(t);
}

TEST(sym_oom_sweep) {
  // The blob to read back, made with a reliable allocator.
  kiln_sym_table_t* t = NULL;
  ASSERT_OK(kiln_sym_table_create(kiln_allocator_system(), &t));
  kiln_sym_t roots[SAMPLE_ROOTS];
  size_t n = build_sample(t, roots);
  size_t size = 0;
  uint8_t* blob = serialize(roots, n, &size);
  kiln_sym_table_destroy(t);
  ASSERT_TRUE(blob != NULL);
  size_t fail_at = 0;
  for (;; ++fail_at) {
    kiln_test_allocator_t ta = kiln_test_allocator_failing_at(fail_at);
    kiln_allocator_t allocator = kiln_test_allocator_get(&ta);
    kiln_sym_table_t* a = NULL;
    kiln_sym_table_t* b = NULL;
    kiln_status_t status = kiln_sym_table_create(allocator, &a);
    if (!status) {
      // A batch big enough to grow the arena, intern set and memo.
      build_sample(a, roots);
      kiln_sym_t x = kiln_sym_dim(a, 2, 3);
      for (int64_t i = 0; i < 300; ++i) {
        kiln_sym_max(a, kiln_sym_mul(a, x, kiln_sym_const(a, i)), x);
      }
      status = kiln_sym_table_take_error(a);
    }
    if (!status) status = kiln_sym_table_create(allocator, &b);
    kiln_sym_t back[MAX_ROOTS];
    size_t count = 0;
    if (!status)
      status = deserialize(b, blob, size, 0, back, MAX_ROOTS, &count);
    if (!status) {
      kiln__writer_t w;
      kiln__writer_init(&w, allocator);
      status = kiln__sym_serialize(back, count, &w);
      if (!status && (w.size != size || memcmp(w.data, blob, size) != 0)) {
        status = kiln_make_status(KILN_STATUS_INTERNAL, "bytes differ");
      }
      kiln__writer_deinit(&w);
    }
    kiln_sym_table_destroy(b);
    kiln_sym_table_destroy(a);
    if (ta.live != 0) {
      kiln_status_free(status);
      free(blob);
      FAIL("fail_at %zu: %zu blocks leaked", fail_at, ta.live);
    }
    if (!status) break;
    if (kiln_status_code(status) != KILN_STATUS_RESOURCE_EXHAUSTED) {
      kiln_test_fail(t_, __FILE__, __LINE__, "fail_at %zu: %s: %s", fail_at,
                     kiln_status_code_name(kiln_status_code(status)),
                     kiln_status_message(status));
      kiln_status_free(status);
      free(blob);
      return;
    }
    kiln_status_free(status);
    if (fail_at > 10000) {
      free(blob);
      FAIL("no run succeeded");
    }
  }
  free(blob);
  // Every allocation point was reached: there were several.
  ASSERT_TRUE(fail_at > 10);
}
