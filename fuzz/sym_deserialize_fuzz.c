// Fuzz target for the verifying reader of serialized symbolic expressions:
// any input must give a status or a valid DAG, never a crash. On success the
// roots are printed, evaluated with a fixed environment and written again,
// and reading that back must give the very same roots.

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/bytes.h"
#include "kiln/kiln_plugin.h"
#include "sym/sym.h"

#define FUZZ_MAX_ROOTS 16

int sym_deserialize_fuzz_entry(const uint8_t* data, size_t size);

// Stops the run on a broken invariant, which the fuzzer reports as a crash.
static void check(int condition, const char* what) {
  if (!condition) {
    fprintf(stderr, "sym_deserialize_fuzz: %s\n", what);
    abort();
  }
}

int sym_deserialize_fuzz_entry(const uint8_t* data, size_t size) {
  kiln_sym_table_t* table = NULL;
  kiln_status_t status = kiln_sym_table_create(kiln_allocator_system(), &table);
  if (status) {
    kiln_status_free(status);
    return 0;
  }
  kiln_sym_t roots[FUZZ_MAX_ROOTS];
  size_t count = 0, consumed = 0;
  kiln_const_bytes_t bytes = {data, size};
  status = kiln__sym_deserialize(table, bytes, 0, roots, FUZZ_MAX_ROOTS, &count,
                                 &consumed);
  if (status) {
    kiln_status_code_t code = kiln_status_code(status);
    check(
        code == KILN_STATUS_DATA_LOSS || code == KILN_STATUS_RESOURCE_EXHAUSTED,
        kiln_status_message(status));
    kiln_status_free(status);
    kiln_sym_table_destroy(table);
    return 0;
  }
  check(consumed <= size, "consumed more bytes than given");
  kiln_dims_t dims[2] = {{3, {2, 3, 1024}}, {2, {-1, INT64_MAX}}};
  int64_t sizes[2] = {17, 0};
  kiln_sym_env_t env = {dims, 2, sizes, 2};
  for (size_t i = 0; i < count; ++i) {
    check(roots[i] != NULL, "NULL root");
    char text[256];
    kiln_status_free(
        kiln_sym_print(roots[i], NULL, 0, text, sizeof(text), NULL));
    int64_t value = 0;
    kiln_status_free(kiln_sym_eval(table, roots[i], &env, &value));
    int32_t narrow = 0;
    kiln_status_free(kiln_sym_eval_i32(table, roots[i], &env, &narrow));
  }
  kiln__writer_t writer;
  kiln__writer_init(&writer, kiln_allocator_system());
  status = kiln__sym_serialize(roots, count, &writer);
  check(status == NULL, "serializing the roots read failed");
  size_t node_count = kiln_sym_table_node_count(table);
  kiln_sym_t again[FUZZ_MAX_ROOTS];
  size_t again_count = 0, again_consumed = 0;
  kiln_const_bytes_t written = {writer.data, writer.size};
  status = kiln__sym_deserialize(table, written, 0, again, FUZZ_MAX_ROOTS,
                                 &again_count, &again_consumed);
  check(status == NULL, "reading back what was written failed");
  check(again_count == count, "root count changed in the round trip");
  check(again_consumed == writer.size, "round trip left bytes unread");
  for (size_t i = 0; i < count; ++i) {
    check(again[i] == roots[i], "root changed in the round trip");
  }
  check(kiln_sym_table_node_count(table) == node_count,
        "the round trip made new nodes");
  kiln__writer_deinit(&writer);
  kiln_sym_table_destroy(table);
  return 0;
}
