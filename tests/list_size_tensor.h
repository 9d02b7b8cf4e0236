// Tests of size tensors (data-dependent output shapes): the builder, the
// engine format and the description (size_tensor_test.c), the runtime with
// a fake driver (runtime_test.c) and the example nonzero plugin on a GPU.

#ifndef KILN_TESTS_LIST_SIZE_TENSOR_H_
#define KILN_TESTS_LIST_SIZE_TENSOR_H_

#define KILN_TEST_LIST_SIZE_TENSOR(X)                  \
  X(size_tensor_build_plans_upper_bound)               \
  X(size_tensor_build_bound_arithmetic)                \
  X(size_tensor_build_refusals_name_the_culprit)       \
  X(size_tensor_build_internal_size_tensor_stays_live) \
  X(size_tensor_build_and_read_oom_sweep)              \
  X(size_tensor_format_round_trip_and_rejections)      \
  X(runtime_size_tensor_io_info_and_bounds)            \
  X(runtime_size_tensor_read_output_shape)             \
  X(runtime_size_tensor_read_failure_names_the_tensor) \
  X(size_tensor_example_nonzero_builds)                \
  X(size_tensor_gpu_nonzero_matches_cpu)

#endif  // KILN_TESTS_LIST_SIZE_TENSOR_H_
