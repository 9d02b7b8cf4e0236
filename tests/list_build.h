#define KILN_TEST_LIST_BUILD(X)             \
  X(build_engine_holds_no_attribute_values) \
  X(build_network_errors_name_the_culprit)  \
  X(build_errors_name_the_layer)            \
  X(build_oom_sweep)                        \
  X(build_example_plugins_for_sm90)         \
  X(npy_roundtrip_and_errors)               \
  X(cli_inspect_run_and_errors)             \
  X(build_engine_runs_after_plugin_library_deleted)
