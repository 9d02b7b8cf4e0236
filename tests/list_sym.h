// Tests of src/sym, in tests/sym_test.c, tests/sym_oracle_test.c and
// tests/sym_serialize_test.c.

#ifndef KILN_TESTS_LIST_SYM_H_
#define KILN_TESTS_LIST_SYM_H_

#define KILN_TEST_LIST_SYM(X)              \
  X(sym_op_names)                          \
  X(sym_table_lifecycle)                   \
  X(sym_interning)                         \
  X(sym_simplify_identities)               \
  X(sym_constant_folding)                  \
  X(sym_canonical_order)                   \
  X(sym_builder_errors)                    \
  X(sym_make_status)                       \
  X(sym_table_full)                        \
  X(sym_get_info)                          \
  X(sym_eval_basic)                        \
  X(sym_eval_boundaries)                   \
  X(sym_eval_division)                     \
  X(sym_eval_message_names_expression)     \
  X(sym_eval_missing_values)               \
  X(sym_eval_shared_dag_is_linear)         \
  X(sym_eval_epoch_wraps)                  \
  X(sym_eval_differential_oracle)          \
  X(sym_print_precedence)                  \
  X(sym_print_names)                       \
  X(sym_print_truncation)                  \
  X(sym_print_huge_dag_stops_early)        \
  X(sym_serialize_format)                  \
  X(sym_serialize_roundtrip)               \
  X(sym_deserialize_truncations_and_flips) \
  X(sym_deserialize_rejects_corruption)    \
  X(sym_deserialize_depth_limit)           \
  X(sym_oom_sweep)                         \
  X(sym_bounds_interval_arithmetic)        \
  X(sym_bounds_errors)                     \
  X(sym_bounds_are_sound)                  \
  X(sym_bounds_shared_dag_is_linear)       \
  X(sym_size_tensor_rewrite_and_visit)     \
  X(sym_size_tensor_rewrite_oom_sweep)

#endif  // KILN_TESTS_LIST_SYM_H_
