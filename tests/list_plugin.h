// Tests of src/plugin: dtypes, tensor descriptors, attributes, describe,
// autotune, the registry and plugin libraries.

#ifndef KILN_TESTS_LIST_PLUGIN_H_
#define KILN_TESTS_LIST_PLUGIN_H_

#define KILN_TEST_LIST_PLUGIN(X)                    \
  X(dtype_names_and_sizes)                          \
  X(dtype_parse_names)                              \
  X(tensor_desc_like_aliased_make_numel)            \
  X(tensor_desc_validate)                           \
  X(attr_type_names)                                \
  X(attrs_round_trip_every_type)                    \
  X(attrs_type_and_name_errors)                     \
  X(attrs_plugin_without_attributes)                \
  X(attrs_callback_view)                            \
  X(attrs_view_of_foreign_plugin_is_refused)        \
  X(describe_valid_outputs)                         \
  X(describe_validation_failures)                   \
  X(describe_argument_checks)                       \
  X(autotune_spec_reference_examples)               \
  X(autotune_spec_order_whitespace_and_broadcast)   \
  X(autotune_spec_errors)                           \
  X(autotune_result_add_dedupes_and_unions_tactics) \
  X(plugin_autotune_default_and_callback)           \
  X(autotune_allocation_failure_sweep)              \
  X(autotune_add_spec_is_all_or_nothing)            \
  X(plugin_id_valid)                                \
  X(plugin_id_invalid)                              \
  X(registry_register_rejects_bad_definitions)      \
  X(registry_duplicate_is_already_exists)           \
  X(registry_deep_copies_definition)                \
  X(registry_lookup_not_found_names_closest)        \
  X(registry_logs_registrations)                    \
  X(registry_ref_counting)                          \
  X(registry_load_library_good)                     \
  X(registry_load_library_failures)                 \
  X(registry_concurrent_lookups_while_registering)  \
  X(registry_allocation_failure_sweep)

#endif  // KILN_TESTS_LIST_PLUGIN_H_
