// Tests of src/cuda: declarations, loaders, error mapping, PTX, cubin,
// nvJitLink and NVRTC.

#ifndef KILN_TESTS_LIST_CUDA_H_
#define KILN_TESTS_LIST_CUDA_H_

#define KILN_TEST_LIST_CUDA(X)                \
  X(cuda_types_match_headers)                 \
  X(cuda_driver_loader)                       \
  X(cuda_driver_load_missing_library)         \
  X(cuda_dylib_search_and_resolve)            \
  X(cuda_driver_stub_resolves_every_symbol)   \
  X(cuda_nvrtc_and_nvjitlink_loaders)         \
  X(cuda_loaders_are_thread_safe)             \
  X(cuda_result_codes)                        \
  X(cuda_fake_driver_out_of_memory)           \
  X(cuda_fake_driver_sticky_error)            \
  X(cuda_fake_driver_without_error_names)     \
  X(cuda_module_load_reports_the_jit_log)     \
  X(cuda_device_query_with_fake_driver)       \
  X(cuda_ptx_to_cubin_nvcc_ptx)               \
  X(cuda_ptx_to_cubin_newer_archs)            \
  X(cuda_ptx_to_cubin_triton_sm90a)           \
  X(cuda_ptx_to_cubin_errors_carry_the_log)   \
  X(cuda_ptx_to_cubin_oom_sweep)              \
  X(cuda_gpu_add_one_smoke)                   \
  X(cuda_gpu_triton_add_smoke)                \
  X(ptx_type_tables)                          \
  X(ptx_header_nvcc)                          \
  X(ptx_entry_nvcc_add_one)                   \
  X(ptx_entry_nvcc_mixed)                     \
  X(ptx_entry_nvcc_no_params_and_mangled)     \
  X(ptx_entry_not_found_lists_entries)        \
  X(ptx_entry_triton)                         \
  X(ptx_entry_triton_scale)                   \
  X(ptx_directive_forms)                      \
  X(ptx_comments_strings_and_declarations)    \
  X(ptx_nul_ends_the_text)                    \
  X(ptx_malformed_text)                       \
  X(ptx_param_size_overflow)                  \
  X(ptx_every_truncation_is_safe)             \
  X(ptx_byte_flips_are_safe)                  \
  X(ptx_oom_sweep)                            \
  X(cubin_inspect_nvcc_sm90)                  \
  X(cubin_inspect_other_archs)                \
  X(cubin_function_not_found_lists_functions) \
  X(cubin_abi_versions)                       \
  X(cubin_header_corruptions)                 \
  X(cubin_symbol_table_corruptions)           \
  X(cubin_every_truncation_is_safe)           \
  X(cubin_byte_flips_are_safe)                \
  X(nvrtc_compile_ptx_and_cubin)              \
  X(nvrtc_compile_several_archs)              \
  X(nvrtc_compile_arch_specific_ptx_only)     \
  X(nvrtc_compile_error_carries_the_log)      \
  X(nvrtc_compile_headers_and_warnings_log)   \
  X(nvrtc_compile_rejects_bad_arguments)      \
  X(nvrtc_compile_unsupported_arch)           \
  X(nvrtc_images_serve_as_aot_result)         \
  X(nvrtc_compile_oom_sweep)                  \
  X(nvrtc_result_mapping)

#endif  // KILN_TESTS_LIST_CUDA_H_
