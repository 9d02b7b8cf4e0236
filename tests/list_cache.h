#define KILN_TEST_LIST_CACHE(X)           \
  X(cache_put_get_and_corruption)         \
  X(cache_concurrent_writers_and_readers) \
  X(cache_nvrtc_compile_reuses_results)
