#define KILN_TEST_LIST_BASE(X)       \
  X(version_matches_header)          \
  X(status_ok_is_null)               \
  X(status_make_and_annotate)        \
  X(status_code_names)               \
  X(status_join_keeps_first)         \
  X(allocator_system_roundtrip)      \
  X(allocator_failure_is_status)     \
  X(size_checked_math)               \
  X(arena_alloc_and_alignment)       \
  X(arena_oom_sweep)                 \
  X(bytes_varint_roundtrip)          \
  X(bytes_reader_rejects_truncation) \
  X(edit_distance)                   \
  X(crc32c_known_vector)             \
  X(logger_levels)                   \
  X(fuzz_corpus_replay)
