// Tests of src/runtime: the device, engine loading, execution contexts and
// host-layer attributes with a fake driver (runtime_test.c), and on a GPU
// when there is one (runtime_gpu_test.c).

#ifndef KILN_TESTS_LIST_RUNTIME_H_
#define KILN_TESTS_LIST_RUNTIME_H_

#define KILN_TEST_LIST_RUNTIME(X)                             \
  X(runtime_device_without_libcuda_is_unavailable)            \
  X(runtime_device_with_stub_libcuda_is_unavailable)          \
  X(runtime_device_fake_create_and_errors)                    \
  X(runtime_device_memory_and_streams)                        \
  X(runtime_device_allocation_failure_sweep)                  \
  X(runtime_load_incompatible_names_both_archs)               \
  X(runtime_load_prefers_exact_cubin)                         \
  X(runtime_load_force_ptx_uses_ptx)                          \
  X(runtime_load_ptx_fallback_for_other_arch)                 \
  X(runtime_load_refuses_arch_specific_ptx_before_the_driver) \
  X(runtime_load_missing_function_is_not_found)               \
  X(runtime_load_raises_dynamic_shared_limit)                 \
  X(runtime_engine_io_info)                                   \
  X(runtime_set_input_shape_out_of_profile)                   \
  X(runtime_static_input_shapes)                              \
  X(runtime_get_shape_and_profiles)                           \
  X(runtime_enqueue_names_what_is_missing)                    \
  X(runtime_set_tensor_addresses_binds_in_one_call)           \
  X(runtime_enqueue_launches_evaluated_recipe)                \
  X(runtime_param_buffer_layout)                              \
  X(runtime_triton_scratch_both_regions)                      \
  X(runtime_launch_limits_checked_before_launch)              \
  X(runtime_empty_grid_skips_the_launch)                      \
  X(runtime_evaluates_once_per_shape_change)                  \
  X(runtime_sticky_error_loses_the_device)                    \
  X(runtime_non_sticky_launch_error_keeps_the_device)         \
  X(runtime_activation_arena_constants_and_alias)             \
  X(runtime_time_enqueue_with_events)                         \
  X(runtime_threads_share_an_engine)                          \
  X(runtime_attrs_serialize_round_trip)                       \
  X(runtime_attrs_deserialize_rejects_corruption)             \
  X(runtime_host_layer_calls_host_impl)                       \
  X(runtime_graph_capture_then_replay)                        \
  X(runtime_graph_warmup_captures_on_second_use)              \
  X(runtime_graph_shape_change_recaptures)                    \
  X(runtime_graph_address_change_updates_nodes)               \
  X(runtime_graph_address_change_without_nodes_recaptures)    \
  X(runtime_graph_nodes_in_another_order)                     \
  X(runtime_graph_cache_is_bounded)                           \
  X(runtime_graph_off_uses_stream_mode)                       \
  X(runtime_graph_driver_without_graphs_uses_stream_mode)     \
  X(runtime_graph_capturing_caller_stream_uses_stream_mode)   \
  X(runtime_graph_capture_failure_falls_back_to_stream_mode)  \
  X(runtime_graph_update_failure_recaptures)                  \
  X(runtime_graph_host_layer_uses_stream_mode)                \
  X(runtime_graph_describe_says_yes_for_kernels)              \
  X(runtime_graph_context_allocation_failure_sweep)           \
  X(runtime_engine_load_allocation_failure_sweep)             \
  X(runtime_context_create_allocation_failure_sweep)          \
  X(runtime_gpu_add_matches_cpu)                              \
  X(runtime_gpu_force_ptx_matches_cpu)                        \
  X(runtime_gpu_two_threads_share_an_engine)                  \
  X(runtime_gpu_time_enqueue)                                 \
  X(runtime_gpu_enqueue_host_overhead)                        \
  X(runtime_gpu_graph_matches_stream_bitwise)                 \
  X(runtime_gpu_graph_on_legacy_stream)                       \
  X(runtime_gpu_sticky_child)                                 \
  X(runtime_gpu_sticky_error_loses_the_device)

#endif  // KILN_TESTS_LIST_RUNTIME_H_
