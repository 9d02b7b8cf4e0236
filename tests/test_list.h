// Every test, by module. Each module keeps its own list file.

#ifndef KILN_TESTS_TEST_LIST_H_
#define KILN_TESTS_TEST_LIST_H_

#include "list_base.h"
#include "list_build.h"
#include "list_cache.h"
#include "list_cuda.h"
#include "list_engine.h"
#include "list_plugin.h"
#include "list_runtime.h"
#include "list_size_tensor.h"
#include "list_sym.h"

#define KILN_TEST_LIST(X)       \
  KILN_TEST_LIST_BASE(X)        \
  KILN_TEST_LIST_SYM(X)         \
  KILN_TEST_LIST_CUDA(X)        \
  KILN_TEST_LIST_ENGINE(X)      \
  KILN_TEST_LIST_PLUGIN(X)      \
  KILN_TEST_LIST_RUNTIME(X)     \
  KILN_TEST_LIST_BUILD(X)       \
  KILN_TEST_LIST_SIZE_TENSOR(X) \
  KILN_TEST_LIST_CACHE(X)

#endif  // KILN_TESTS_TEST_LIST_H_
