// Tests of src/cuda: the library loaders, CUresult mapping through fake
// driver tables (fault injection without a GPU), module loading with the JIT
// log, device queries, nvJitLink's PTX -> cubin, the NVRTC helper, and a GPU
// smoke test that runs only where a driver and a device exist.

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "cuda/cubin.h"
#include "cuda/cuda_driver.h"
#include "cuda/cuda_nvjitlink.h"
#include "cuda/cuda_nvrtc.h"
#include "cuda/dylib.h"
#include "cuda/ptx.h"
#include "test.h"

static bool read_corpus(const char* name, uint8_t** out_data,
                        size_t* out_size) {
  char path[1024];
  snprintf(path, sizeof(path), "%s/fuzz/corpus/ptx_parse_fuzz/%s",
           KILN_SOURCE_DIR, name);
  return kiln_test_read_file(path, out_data, out_size);
}

//===----------------------------------------------------------------------===//
// Loaders
//===----------------------------------------------------------------------===//

TEST(cuda_driver_loader) {
  const kiln__cuda_driver_t* driver = NULL;
  kiln_status_t status = kiln__cuda_driver_get(&driver);
  if (!status) {
    // A machine with the NVIDIA driver: every required symbol resolved.
    ASSERT_TRUE(driver != NULL);
    ASSERT_TRUE(driver->cuInit != NULL);
    ASSERT_TRUE(driver->cuLaunchKernel != NULL);
    ASSERT_TRUE(driver->cuMemAlloc != NULL);
    return;
  }
  // Here (no driver): UNAVAILABLE naming the library and what to install.
  ASSERT_EQ_PTR(driver, NULL);
  kiln_status_code_t code = kiln_status_code(status);
  char message[1024];
  snprintf(message, sizeof(message), "%s", kiln_status_message(status));
  kiln_status_free(status);
  ASSERT_EQ_I64(code, KILN_STATUS_UNAVAILABLE);
  ASSERT_CONTAINS(message, "libcuda.so.1");
  ASSERT_CONTAINS(message, "install the NVIDIA driver");
  // The failure is remembered and reported again, identically.
  ASSERT_STATUS(kiln__cuda_driver_get(&driver), KILN_STATUS_UNAVAILABLE,
                message);
}

TEST(cuda_driver_load_missing_library) {
  kiln__cuda_driver_t table;
  ASSERT_STATUS(kiln__cuda_driver_load("libkiln-no-such-driver.so.1", &table),
                KILN_STATUS_UNAVAILABLE,
                "cannot load the CUDA driver: tried "
                "libkiln-no-such-driver.so.1 on the loader's path; the loader "
                "said: libkiln-no-such-driver.so.1: cannot open shared object "
                "file");
  ASSERT_STATUS(kiln__cuda_driver_load("libkiln-no-such-driver.so.1", &table),
                KILN_STATUS_UNAVAILABLE, "install the NVIDIA driver");
  ASSERT_TRUE(table.cuInit == NULL);
}

TEST(cuda_dylib_search_and_resolve) {
  static const char* const names[] = {"libkiln-missing.so.13",
                                      "libkiln-missing.so"};
  void* handle = (void*)&handle;
  kiln_status_t status = kiln__cuda_dylib_open(
      "kiln's missing library", names, 2, true, "install nothing", &handle);
  ASSERT_EQ_PTR(handle, NULL);
  ASSERT_EQ_I64(kiln_status_code(status), KILN_STATUS_UNAVAILABLE);
  char message[1024];
  snprintf(message, sizeof(message), "%s", kiln_status_message(status));
  kiln_status_free(status);
  ASSERT_CONTAINS(message,
                  "cannot load kiln's missing library: tried "
                  "libkiln-missing.so.13, libkiln-missing.so on the loader's "
                  "path");
  ASSERT_CONTAINS(message,
                  "lib64; the loader said: libkiln-missing.so.13: "
                  "cannot open shared object file");
  ASSERT_CONTAINS(message, "; install nothing");
  // A required symbol that is missing names itself; an optional one is NULL.
  static const char* const libc_names[] = {"libc.so.6"};
  ASSERT_OK(kiln__cuda_dylib_open("libc", libc_names, 1, false, "", &handle));
  struct {
    void (*present)(void);
    void (*absent)(void);
  } table;
  const kiln__cuda_symbol_t optional[] = {
      {"kiln_no_such_symbol", "malloc", false, 0},
      {"kiln_no_such_symbol", NULL, true, sizeof(void (*)(void))}};
  ASSERT_OK(kiln__cuda_dylib_resolve(handle, "libc", optional, 2, &table));
  ASSERT_TRUE(table.present != NULL);
  ASSERT_TRUE(table.absent == NULL);
  const kiln__cuda_symbol_t required[] = {
      {"kiln_no_such_symbol", NULL, false, 0}};
  ASSERT_STATUS(kiln__cuda_dylib_resolve(handle, "libc", required, 1, &table),
                KILN_STATUS_UNAVAILABLE,
                "libc has no symbol kiln_no_such_symbol: the library is older "
                "than kiln needs");
}

TEST(cuda_driver_stub_resolves_every_symbol) {
#if defined(KILN_TEST_CUDA_STUB_LIBCUDA)
  // The toolkit's stub libcuda.so exports every driver function (each
  // returns CUDA_ERROR_STUB_LIBRARY), so the whole symbol list, optional
  // entries included, must resolve against it.
  kiln__cuda_driver_t table;
  ASSERT_OK(kiln__cuda_driver_load(KILN_TEST_CUDA_STUB_LIBCUDA, &table));
#define CHECK_FIELD(ret, field, symbol, fallback, optional, params) \
  if (!table.field) FAIL("%s did not resolve", symbol);
  KILN_CUDA_DRIVER_SYMBOL_LIST(CHECK_FIELD)
#undef CHECK_FIELD
  ASSERT_TRUE(kiln__cuda_driver_has_graphs(&table));
  // The stub's cuGetErrorName fails too: kiln's own names are used.
  ASSERT_STATUS(KILN_CU_STATUS(&table, cuInit(0)), KILN_STATUS_UNAVAILABLE,
                "cuInit(0) failed: CUDA_ERROR_STUB_LIBRARY (34)");
#else
  SKIP("the toolkit's stub libcuda.so was not found at configure time");
#endif
}

TEST(cuda_nvrtc_and_nvjitlink_loaders) {
  const kiln__cuda_nvrtc_t* nvrtc = NULL;
  kiln_status_t status = kiln__cuda_nvrtc_get(&nvrtc);
  if (status) {
    ASSERT_EQ_I64(kiln_status_code(status), KILN_STATUS_UNAVAILABLE);
    ASSERT_CONTAINS(kiln_status_message(status), "libnvrtc.so.13");
    ASSERT_CONTAINS(kiln_status_message(status),
                    "install the CUDA toolkit's "
                    "NVRTC");
    kiln_status_free(status);
  } else {
    ASSERT_TRUE(nvrtc->nvrtcCompileProgram != NULL);
    ASSERT_TRUE(nvrtc->nvrtcGetCUBIN != NULL);
  }
  const kiln__cuda_nvjitlink_t* nvjitlink = NULL;
  status = kiln__cuda_nvjitlink_get(&nvjitlink);
  if (status) {
    ASSERT_EQ_I64(kiln_status_code(status), KILN_STATUS_UNAVAILABLE);
    ASSERT_CONTAINS(kiln_status_message(status), "libnvJitLink.so.13");
    ASSERT_CONTAINS(kiln_status_message(status), "nvJitLink");
    kiln_status_free(status);
  } else {
    ASSERT_TRUE(nvjitlink->nvJitLinkCreate != NULL);
    ASSERT_TRUE(nvjitlink->nvJitLinkGetLinkedCubin != NULL);
  }
}

typedef struct loader_result_t {
  const void* driver;
  const void* nvrtc;
  const void* nvjitlink;
  kiln_status_code_t codes[3];
} loader_result_t;

static void* load_all(void* arg) {
  loader_result_t* r = (loader_result_t*)arg;
  const kiln__cuda_driver_t* driver = NULL;
  const kiln__cuda_nvrtc_t* nvrtc = NULL;
  const kiln__cuda_nvjitlink_t* nvjitlink = NULL;
  kiln_status_t s = kiln__cuda_driver_get(&driver);
  r->codes[0] = kiln_status_code(s);
  kiln_status_free(s);
  s = kiln__cuda_nvrtc_get(&nvrtc);
  r->codes[1] = kiln_status_code(s);
  kiln_status_free(s);
  s = kiln__cuda_nvjitlink_get(&nvjitlink);
  r->codes[2] = kiln_status_code(s);
  kiln_status_free(s);
  r->driver = driver;
  r->nvrtc = nvrtc;
  r->nvjitlink = nvjitlink;
  return NULL;
}

TEST(cuda_loaders_are_thread_safe) {
  enum { kThreads = 8 };
  pthread_t threads[kThreads];
  loader_result_t results[kThreads];
  memset(results, 0, sizeof(results));
  for (int i = 0; i < kThreads; ++i) {
    if (pthread_create(&threads[i], NULL, load_all, &results[i]) != 0) {
      for (int k = 0; k < i; ++k) pthread_join(threads[k], NULL);
      FAIL("pthread_create failed");
    }
  }
  for (int i = 0; i < kThreads; ++i) pthread_join(threads[i], NULL);
  for (int i = 1; i < kThreads; ++i) {
    ASSERT_EQ_PTR(results[i].driver, results[0].driver);
    ASSERT_EQ_PTR(results[i].nvrtc, results[0].nvrtc);
    ASSERT_EQ_PTR(results[i].nvjitlink, results[0].nvjitlink);
    for (int k = 0; k < 3; ++k) {
      ASSERT_EQ_I64(results[i].codes[k], results[0].codes[k]);
    }
  }
}

//===----------------------------------------------------------------------===//
// Error mapping through fake driver tables
//===----------------------------------------------------------------------===//

TEST(cuda_result_codes) {
  static const struct {
    int result;
    kiln_status_code_t code;
  } cases[] = {
      {KILN_CUDA_SUCCESS, KILN_STATUS_OK},
      {KILN_CUDA_ERROR_OUT_OF_MEMORY, KILN_STATUS_RESOURCE_EXHAUSTED},
      {KILN_CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES, KILN_STATUS_RESOURCE_EXHAUSTED},
      {KILN_CUDA_ERROR_NO_DEVICE, KILN_STATUS_UNAVAILABLE},
      {KILN_CUDA_ERROR_NOT_INITIALIZED, KILN_STATUS_UNAVAILABLE},
      {KILN_CUDA_ERROR_STUB_LIBRARY, KILN_STATUS_UNAVAILABLE},
      {KILN_CUDA_ERROR_SYSTEM_DRIVER_MISMATCH, KILN_STATUS_UNAVAILABLE},
      {KILN_CUDA_ERROR_CALL_REQUIRES_NEWER_DRIVER, KILN_STATUS_UNAVAILABLE},
      {KILN_CUDA_ERROR_INVALID_PTX, KILN_STATUS_INCOMPATIBLE},
      {KILN_CUDA_ERROR_UNSUPPORTED_PTX_VERSION, KILN_STATUS_INCOMPATIBLE},
      {KILN_CUDA_ERROR_NO_BINARY_FOR_GPU, KILN_STATUS_INCOMPATIBLE},
      {KILN_CUDA_ERROR_INVALID_IMAGE, KILN_STATUS_INCOMPATIBLE},
      {KILN_CUDA_ERROR_JIT_COMPILER_NOT_FOUND, KILN_STATUS_INCOMPATIBLE},
      {KILN_CUDA_ERROR_ILLEGAL_ADDRESS, KILN_STATUS_DEVICE_LOST},
      {KILN_CUDA_ERROR_LAUNCH_TIMEOUT, KILN_STATUS_DEVICE_LOST},
      {KILN_CUDA_ERROR_LAUNCH_FAILED, KILN_STATUS_DEVICE_LOST},
      {KILN_CUDA_ERROR_MISALIGNED_ADDRESS, KILN_STATUS_DEVICE_LOST},
      {KILN_CUDA_ERROR_ECC_UNCORRECTABLE, KILN_STATUS_DEVICE_LOST},
      {KILN_CUDA_ERROR_INVALID_VALUE, KILN_STATUS_INVALID_ARGUMENT},
      {KILN_CUDA_ERROR_INVALID_HANDLE, KILN_STATUS_INVALID_ARGUMENT},
      {KILN_CUDA_ERROR_NOT_FOUND, KILN_STATUS_NOT_FOUND},
      {KILN_CUDA_ERROR_STREAM_CAPTURE_INVALIDATED,
       KILN_STATUS_FAILED_PRECONDITION},
      {KILN_CUDA_ERROR_NOT_SUPPORTED, KILN_STATUS_UNIMPLEMENTED},
      {KILN_CUDA_ERROR_UNKNOWN, KILN_STATUS_INTERNAL},
      {KILN_CUDA_ERROR_PROFILER_DISABLED, KILN_STATUS_INTERNAL},
      {4242, KILN_STATUS_INTERNAL},
      {-1, KILN_STATUS_INTERNAL},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
    if (kiln__cuda_result_code(cases[i].result) != cases[i].code) {
      FAIL("CUresult %d maps to %s, expected %s", cases[i].result,
           kiln_status_code_name(kiln__cuda_result_code(cases[i].result)),
           kiln_status_code_name(cases[i].code));
    }
  }
  // The sticky set is exactly what cuda.h documents as sticky.
  static const int sticky[] = {700, 702, 710, 714, 715, 716,
                               717, 718, 719, 721, 226, 911};
#define CHECK_STICKY(name, value)                                     \
  {                                                                   \
    bool expected = false;                                            \
    for (size_t k = 0; k < sizeof(sticky) / sizeof(sticky[0]); ++k) { \
      if (sticky[k] == value) expected = true;                        \
    }                                                                 \
    if (kiln__cuda_result_is_sticky(value) != expected) {             \
      FAIL("%s: sticky should be %d", #name, expected);               \
    }                                                                 \
    if (expected &&                                                   \
        kiln__cuda_result_code(value) != KILN_STATUS_DEVICE_LOST) {   \
      FAIL("%s is sticky but not DEVICE_LOST", #name);                \
    }                                                                 \
  }
  KILN_CU_RESULT_LIST(CHECK_STICKY)
#undef CHECK_STICKY
  ASSERT_FALSE(kiln__cuda_result_is_sticky(701));
  ASSERT_EQ_STR(kiln__cuda_result_name(2), "CUDA_ERROR_OUT_OF_MEMORY");
  ASSERT_EQ_STR(kiln__cuda_result_name(0), "CUDA_SUCCESS");
  ASSERT_EQ_PTR(kiln__cuda_result_name(4242), NULL);
}

// The fake driver: each test sets the results it wants injected.
static struct {
  kiln__cu_result_t mem_alloc_result;
  kiln__cu_result_t launch_result;
  kiln__cu_result_t load_result;
  const char* jit_log;  // written into CU_JIT_ERROR_LOG_BUFFER
  int load_calls;
  int attribute_fail;  // attribute whose query fails, or -1
  bool names_fail;     // cuGetErrorName / cuGetErrorString fail
} fake;

static void fake_reset(void) {
  memset(&fake, 0, sizeof(fake));
  fake.attribute_fail = -1;
}

static kiln__cu_result_t fake_get_error_name(kiln__cu_result_t error,
                                             const char** out) {
  if (fake.names_fail) return KILN_CUDA_ERROR_INVALID_VALUE;
  *out = error == KILN_CUDA_ERROR_OUT_OF_MEMORY ? "CUDA_ERROR_OUT_OF_MEMORY"
         : error == KILN_CUDA_ERROR_ILLEGAL_ADDRESS
             ? "CUDA_ERROR_ILLEGAL_ADDRESS"
             : "CUDA_ERROR_FAKE";
  return KILN_CUDA_SUCCESS;
}

static kiln__cu_result_t fake_get_error_string(kiln__cu_result_t error,
                                               const char** out) {
  if (fake.names_fail) return KILN_CUDA_ERROR_INVALID_VALUE;
  *out = error == KILN_CUDA_ERROR_OUT_OF_MEMORY ? "out of memory"
         : error == KILN_CUDA_ERROR_ILLEGAL_ADDRESS
             ? "an illegal memory access was encountered"
             : "a fake error";
  return KILN_CUDA_SUCCESS;
}

static kiln__cu_result_t fake_mem_alloc(kiln__cu_deviceptr_t* out,
                                        size_t bytes) {
  (void)bytes;
  *out = fake.mem_alloc_result ? 0 : 0x1000;
  return fake.mem_alloc_result;
}

static kiln__cu_result_t fake_launch(kiln__cu_function_t f, unsigned gx,
                                     unsigned gy, unsigned gz, unsigned bx,
                                     unsigned by, unsigned bz, unsigned shmem,
                                     kiln__cu_stream_t stream, void** params,
                                     void** extra) {
  (void)f, (void)gx, (void)gy, (void)gz, (void)bx, (void)by, (void)bz;
  (void)shmem, (void)stream, (void)params, (void)extra;
  return fake.launch_result;
}

static kiln__cuda_driver_t fake_driver(void) {
  kiln__cuda_driver_t d;
  memset(&d, 0, sizeof(d));
  d.cuGetErrorName = fake_get_error_name;
  d.cuGetErrorString = fake_get_error_string;
  d.cuMemAlloc = fake_mem_alloc;
  d.cuLaunchKernel = fake_launch;
  return d;
}

// What runtime code looks like: every driver call through the macros.
static kiln_status_t alloc_and_launch(const kiln__cuda_driver_t* driver) {
  kiln__cu_deviceptr_t ptr = 0;
  KILN_CU_RETURN_IF_ERROR(driver, cuMemAlloc(&ptr, 64));
  void* params[] = {&ptr};
  kiln_status_t status = KILN_CU_STATUS(
      driver, cuLaunchKernel(NULL, 1, 1, 1, 32, 1, 1, 0, NULL, params, NULL));
  return status;
}

TEST(cuda_fake_driver_out_of_memory) {
  fake_reset();
  kiln__cuda_driver_t driver = fake_driver();
  ASSERT_OK(alloc_and_launch(&driver));
  fake.mem_alloc_result = KILN_CUDA_ERROR_OUT_OF_MEMORY;
  kiln_status_t status = alloc_and_launch(&driver);
  ASSERT_EQ_I64(kiln_status_code(status), KILN_STATUS_RESOURCE_EXHAUSTED);
  char message[1024], location[128];
  snprintf(message, sizeof(message), "%s", kiln_status_message(status));
  snprintf(location, sizeof(location), "%s", kiln_status_location(status));
  kiln_status_free(status);
  ASSERT_CONTAINS(message,
                  "cuMemAlloc(&ptr, 64) failed: CUDA_ERROR_OUT_OF_MEMORY (2): "
                  "out of memory [cuda_test.c:");
  ASSERT_CONTAINS(location, "cuda_test.c:");
  ASSERT_FALSE(strstr(message, "sticky") != NULL);
}

TEST(cuda_fake_driver_sticky_error) {
  fake_reset();
  kiln__cuda_driver_t driver = fake_driver();
  fake.launch_result = KILN_CUDA_ERROR_ILLEGAL_ADDRESS;
  kiln_status_t status = alloc_and_launch(&driver);
  ASSERT_EQ_I64(kiln_status_code(status), KILN_STATUS_DEVICE_LOST);
  ASSERT_CONTAINS(kiln_status_message(status),
                  "cuLaunchKernel(NULL, 1, 1, 1, "
                  "32, 1, 1, 0, NULL, params, "
                  "NULL) failed");
  ASSERT_CONTAINS(kiln_status_message(status),
                  "CUDA_ERROR_ILLEGAL_ADDRESS (700): an illegal memory access "
                  "was encountered");
  ASSERT_CONTAINS(kiln_status_message(status), "this error is sticky");
  kiln_status_free(status);
  // Not sticky: out of resources is the launch configuration's fault.
  fake.launch_result = KILN_CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES;
  status = alloc_and_launch(&driver);
  ASSERT_EQ_I64(kiln_status_code(status), KILN_STATUS_RESOURCE_EXHAUSTED);
  ASSERT_FALSE(strstr(kiln_status_message(status), "sticky") != NULL);
  kiln_status_free(status);
}

TEST(cuda_fake_driver_without_error_names) {
  fake_reset();
  kiln__cuda_driver_t driver = fake_driver();
  fake.mem_alloc_result = KILN_CUDA_ERROR_OUT_OF_MEMORY;
  fake.names_fail = true;  // cuGetErrorName fails: kiln's table names it
  ASSERT_STATUS(alloc_and_launch(&driver), KILN_STATUS_RESOURCE_EXHAUSTED,
                "CUDA_ERROR_OUT_OF_MEMORY (2): no description from the "
                "driver");
  driver.cuGetErrorName = NULL;  // a table without them at all
  driver.cuGetErrorString = NULL;
  fake.mem_alloc_result = 4242;
  ASSERT_STATUS(alloc_and_launch(&driver), KILN_STATUS_INTERNAL,
                "failed: CUresult 4242 (4242)");
  ASSERT_STATUS(kiln__cuda_result_to_status(NULL, 218, NULL, NULL, 0),
                KILN_STATUS_INCOMPATIBLE,
                "a CUDA driver call failed: CUDA_ERROR_INVALID_PTX (218)");
  ASSERT_EQ_PTR(kiln__cuda_result_to_status(NULL, 0, "x", __FILE__, __LINE__),
                NULL);
}

//===----------------------------------------------------------------------===//
// Module loading and device queries through fakes
//===----------------------------------------------------------------------===//

static kiln__cu_result_t fake_module_load(kiln__cu_module_t* out,
                                          const void* image,
                                          unsigned int option_count,
                                          kiln__cu_jit_option_t* options,
                                          void** values) {
  (void)image;
  ++fake.load_calls;
  char* log = NULL;
  size_t log_size = 0;
  int size_index = -1;
  for (unsigned i = 0; i < option_count; ++i) {
    if (options[i] == KILN_CU_JIT_ERROR_LOG_BUFFER) log = (char*)values[i];
    if (options[i] == KILN_CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES) {
      log_size = (size_t)(uintptr_t)values[i];
      size_index = (int)i;
    }
  }
  if (fake.load_result != KILN_CUDA_SUCCESS) {
    if (log && log_size > 0 && size_index >= 0 && fake.jit_log) {
      snprintf(log, log_size, "%s", fake.jit_log);
      values[size_index] = (void*)(uintptr_t)(strlen(log) + 1);
    }
    return fake.load_result;
  }
  *out = (kiln__cu_module_t)(uintptr_t)0x1234;
  return KILN_CUDA_SUCCESS;
}

TEST(cuda_module_load_reports_the_jit_log) {
  fake_reset();
  kiln__cuda_driver_t driver = fake_driver();
  driver.cuModuleLoadDataEx = fake_module_load;
  static const char ptx[] = ".version 8.0\n.target sm_90\n";
  kiln_kernel_image_t image = {
      KILN_KERNEL_IMAGE_PTX, 90, {(const uint8_t*)ptx, sizeof(ptx)}};
  kiln_test_allocator_t ta = kiln_test_allocator_make();
  kiln_allocator_t allocator = kiln_test_allocator_get(&ta);
  kiln__cu_module_t module = NULL;
  ASSERT_OK(kiln__cuda_module_load(&driver, &image, allocator, &module));
  ASSERT_TRUE(module != NULL);
  fake.load_result = KILN_CUDA_ERROR_INVALID_PTX;
  fake.jit_log =
      "ptxas application ptx input, line 3; error   : Unknown "
      "symbol 'bogus'\n";
  ASSERT_STATUS(kiln__cuda_module_load(&driver, &image, allocator, &module),
                KILN_STATUS_INCOMPATIBLE,
                "loading a PTX image for sm_90 (28 bytes): "
                "cuModuleLoadDataEx(PTX) failed: CUDA_ERROR_FAKE (218): a "
                "fake error [cuda_driver.c:");
  fake.load_result = KILN_CUDA_ERROR_INVALID_PTX;
  ASSERT_STATUS(kiln__cuda_module_load(&driver, &image, allocator, &module),
                KILN_STATUS_INCOMPATIBLE,
                "]; JIT log: ptxas application ptx input, line 3; error   : "
                "Unknown symbol 'bogus'");
  ASSERT_EQ_PTR(module, NULL);
  ASSERT_EQ_U64(ta.live, 0);
  // PTX without a NUL inside its span never reaches the driver.
  int calls = fake.load_calls;
  image.bytes.size = sizeof(ptx) - 1;
  ASSERT_STATUS(kiln__cuda_module_load(&driver, &image, allocator, &module),
                KILN_STATUS_DATA_LOSS, "not NUL-terminated");
  // Nor does a cubin that fails the header check.
  image.kind = KILN_KERNEL_IMAGE_CUBIN;
  ASSERT_STATUS(kiln__cuda_module_load(&driver, &image, allocator, &module),
                KILN_STATUS_DATA_LOSS, "malformed cubin");
  image.kind = KILN_KERNEL_IMAGE_KIND_COUNT;
  ASSERT_STATUS(kiln__cuda_module_load(&driver, &image, allocator, &module),
                KILN_STATUS_INVALID_ARGUMENT, "unknown kernel image kind");
  ASSERT_EQ_I64(fake.load_calls, calls);
  // The log buffer comes from the allocator.
  image.kind = KILN_KERNEL_IMAGE_PTX;
  image.bytes.size = sizeof(ptx);
  ta = kiln_test_allocator_failing_at(0);
  ASSERT_STATUS(kiln__cuda_module_load(&driver, &image,
                                       kiln_test_allocator_get(&ta), &module),
                KILN_STATUS_RESOURCE_EXHAUSTED, "");
  ASSERT_EQ_U64(ta.live, 0);
  // A failure without a log still names the error.
  fake.jit_log = NULL;
  fake.load_result = KILN_CUDA_ERROR_NO_BINARY_FOR_GPU;
  image.kind = KILN_KERNEL_IMAGE_CUBIN;
  uint8_t* cubin = NULL;
  size_t cubin_size = 0;
  if (!read_corpus("nvcc_sm90.cubin", &cubin, &cubin_size)) {
    FAIL("cannot read nvcc_sm90.cubin");
  }
  image.bytes.data = cubin;
  image.bytes.size = cubin_size;
  kiln_status_t status =
      kiln__cuda_module_load(&driver, &image, allocator, &module);
  free(cubin);
  ASSERT_STATUS(status, KILN_STATUS_INCOMPATIBLE,
                "loading a cubin image for sm_90");
}

static kiln__cu_result_t fake_device_name(char* name, int length,
                                          kiln__cu_device_t device) {
  (void)device;
  snprintf(name, (size_t)length, "NVIDIA H100 80GB HBM3");
  return KILN_CUDA_SUCCESS;
}

static kiln__cu_result_t fake_device_attribute(
    int* out, kiln__cu_device_attribute_t attribute, kiln__cu_device_t device) {
  (void)device;
  if (attribute == fake.attribute_fail) return KILN_CUDA_ERROR_INVALID_DEVICE;
  switch (attribute) {
    case KILN_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR:
      *out = 9;
      break;
    case KILN_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR:
      *out = 0;
      break;
    case KILN_CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT:
      *out = 132;
      break;
    case KILN_CU_DEVICE_ATTRIBUTE_WARP_SIZE:
      *out = 32;
      break;
    case KILN_CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK:
    case KILN_CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X:
    case KILN_CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y:
      *out = 1024;
      break;
    case KILN_CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z:
      *out = 64;
      break;
    case KILN_CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X:
      *out = 2147483647;
      break;
    case KILN_CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y:
    case KILN_CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z:
      *out = 65535;
      break;
    case KILN_CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK:
      *out = 49152;
      break;
    case KILN_CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN:
      *out = 232448;
      break;
    default:
      *out = -7;
      break;
  }
  return KILN_CUDA_SUCCESS;
}

static kiln__cu_result_t fake_total_mem(size_t* out, kiln__cu_device_t device) {
  (void)device;
  *out = (size_t)85 << 30;
  return KILN_CUDA_SUCCESS;
}

TEST(cuda_device_query_with_fake_driver) {
  fake_reset();
  kiln__cuda_driver_t driver = fake_driver();
  driver.cuDeviceGetName = fake_device_name;
  driver.cuDeviceGetAttribute = fake_device_attribute;
  driver.cuDeviceTotalMem = fake_total_mem;
  kiln__cuda_device_info_t info;
  ASSERT_OK(kiln__cuda_device_query(&driver, 0, &info));
  ASSERT_EQ_STR(info.name, "NVIDIA H100 80GB HBM3");
  ASSERT_EQ_U64(info.sm_arch, 90);
  ASSERT_EQ_I64(info.multiprocessor_count, 132);
  ASSERT_EQ_I64(info.max_block_dim[2], 64);
  ASSERT_EQ_I64(info.max_grid_dim[0], 2147483647);
  ASSERT_EQ_I64(info.max_shared_memory_per_block_optin, 232448);
  ASSERT_EQ_U64(info.total_memory, (uint64_t)85 << 30);
  fake.attribute_fail = KILN_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR;
  ASSERT_STATUS(kiln__cuda_device_query(&driver, 0, &info),
                KILN_STATUS_INVALID_ARGUMENT,
                "cuDeviceGetAttribute(&value, q->attribute, device) failed: "
                "CUDA_ERROR_FAKE (101)");
  ASSERT_EQ_U64(info.sm_arch, 0);
}

//===----------------------------------------------------------------------===//
// nvJitLink: PTX -> cubin without a GPU
//===----------------------------------------------------------------------===//

static const kiln__cuda_nvjitlink_t* nvjitlink_or_null(kiln_test_t* t_) {
  const kiln__cuda_nvjitlink_t* nvjitlink = NULL;
  kiln_status_t status = kiln__cuda_nvjitlink_get(&nvjitlink);
  if (status) {
    kiln_test_skip(t_, "needs nvJitLink: %s", kiln_status_message(status));
    kiln_status_free(status);
  }
  return nvjitlink;
}

TEST(cuda_ptx_to_cubin_nvcc_ptx) {
  const kiln__cuda_nvjitlink_t* nvjitlink = nvjitlink_or_null(t_);
  if (!nvjitlink) return;
  uint8_t* ptx = NULL;
  size_t ptx_size = 0;
  if (!read_corpus("nvcc_sm90.ptx", &ptx, &ptx_size)) {
    FAIL("cannot read nvcc_sm90.ptx");
  }
  kiln_test_allocator_t ta = kiln_test_allocator_make();
  kiln_allocator_t allocator = kiln_test_allocator_get(&ta);
  kiln_const_bytes_t bytes = {ptx, ptx_size};
  uint8_t* cubin = NULL;
  size_t size = 0;
  kiln_status_t status = kiln__cuda_ptx_to_cubin(nvjitlink, bytes, 90, false,
                                                 allocator, &cubin, &size);
  free(ptx);
  ASSERT_OK(status);
  kiln_const_bytes_t cubin_bytes = {cubin, size};
  kiln__cubin_info_t info;
  kiln__cubin_function_t function;
  status = kiln__cubin_inspect(cubin_bytes, &info);
  if (!status) {
    status = kiln__cubin_find_function(
        cubin_bytes, kiln_make_cstring_view("add_one"), &function);
  }
  kiln_allocator_free(allocator, cubin);
  ASSERT_OK(status);
  ASSERT_EQ_U64(info.sm_arch, 90);
  ASSERT_TRUE(function.is_entry);
  ASSERT_EQ_U64(ta.live, 0);
}

TEST(cuda_ptx_to_cubin_newer_archs) {
  const kiln__cuda_nvjitlink_t* nvjitlink = nvjitlink_or_null(t_);
  if (!nvjitlink) return;
  uint8_t* ptx = NULL;
  size_t ptx_size = 0;
  if (!read_corpus("nvcc_sm90.ptx", &ptx, &ptx_size)) {
    FAIL("cannot read nvcc_sm90.ptx");
  }
  // sm_90 PTX compiles forward (sm_100, sm_120) but not back (sm_80).
  static const uint32_t archs[] = {100, 120};
  kiln_const_bytes_t bytes = {ptx, ptx_size};
  for (size_t i = 0; i < 2; ++i) {
    uint8_t* cubin = NULL;
    size_t size = 0;
    kiln_status_t status =
        kiln__cuda_ptx_to_cubin(nvjitlink, bytes, archs[i], false,
                                kiln_allocator_system(), &cubin, &size);
    kiln__cubin_info_t info;
    kiln_const_bytes_t cubin_bytes = {cubin, size};
    if (!status) status = kiln__cubin_inspect(cubin_bytes, &info);
    kiln_allocator_free(kiln_allocator_system(), cubin);
    if (status) free(ptx);
    ASSERT_OK(status);
    ASSERT_EQ_U64(info.sm_arch, archs[i]);
  }
  uint8_t* cubin = NULL;
  size_t size = 0;
  kiln_status_t status = kiln__cuda_ptx_to_cubin(
      nvjitlink, bytes, 80, false, kiln_allocator_system(), &cubin, &size);
  free(ptx);
  ASSERT_STATUS(status, KILN_STATUS_INCOMPATIBLE,
                "PTX with .target sm_90 cannot be compiled for the older "
                "sm_80");
  ASSERT_EQ_PTR(cubin, NULL);
}

TEST(cuda_ptx_to_cubin_triton_sm90a) {
  const kiln__cuda_nvjitlink_t* nvjitlink = nvjitlink_or_null(t_);
  if (!nvjitlink) return;
  uint8_t* ptx = NULL;
  size_t ptx_size = 0;
  if (!read_corpus("triton_add_sm90a.ptx", &ptx, &ptx_size)) {
    FAIL("cannot read triton_add_sm90a.ptx");
  }
  kiln_const_bytes_t bytes = {ptx, ptx_size};
  uint8_t* cubin = NULL;
  size_t size = 0;
  kiln_status_t status = kiln__cuda_ptx_to_cubin(
      nvjitlink, bytes, 90, true, kiln_allocator_system(), &cubin, &size);
  kiln_const_bytes_t cubin_bytes = {cubin, size};
  if (!status) {
    status = kiln__cubin_find_function(
        cubin_bytes, kiln_make_cstring_view("add_kernel"), NULL);
  }
  kiln_allocator_free(kiln_allocator_system(), cubin);
  if (status) free(ptx);
  ASSERT_OK(status);
  // Hopper-specific PTX is tied to sm_90a (as measured: nvJitLink refuses it
  // for sm_90 and sm_100a).
  kiln_status_t plain = kiln__cuda_ptx_to_cubin(
      nvjitlink, bytes, 90, false, kiln_allocator_system(), &cubin, &size);
  kiln_status_t blackwell = kiln__cuda_ptx_to_cubin(
      nvjitlink, bytes, 100, true, kiln_allocator_system(), &cubin, &size);
  free(ptx);
  ASSERT_STATUS(plain, KILN_STATUS_INCOMPATIBLE,
                "PTX with .target sm_90a is tied to that architecture and "
                "cannot be compiled for sm_90");
  ASSERT_STATUS(blackwell, KILN_STATUS_INCOMPATIBLE, "sm_100a");
}

TEST(cuda_ptx_to_cubin_errors_carry_the_log) {
  const kiln__cuda_nvjitlink_t* nvjitlink = nvjitlink_or_null(t_);
  if (!nvjitlink) return;
  uint8_t* cubin = NULL;
  size_t size = 0;
  // A PTX version newer than this nvJitLink knows: its own refusal, mapped
  // from the log to INCOMPATIBLE.
  static const char future[] =
      ".version 99.9\n.target sm_90\n.address_size 64\n"
      ".visible .entry k() { ret; }\n";
  kiln_const_bytes_t bytes = {(const uint8_t*)future, sizeof(future) - 1};
  ASSERT_STATUS(kiln__cuda_ptx_to_cubin(nvjitlink, bytes, 90, false,
                                        kiln_allocator_system(), &cubin, &size),
                KILN_STATUS_INCOMPATIBLE, "log: ptxas");
  // Wrong PTX: INVALID_ARGUMENT with ptxas's complaint.
  static const char wrong[] =
      ".version 8.0\n.target sm_90\n.address_size 64\n"
      ".visible .entry k() { bogus.instruction %r1; ret; }\n";
  bytes.data = (const uint8_t*)wrong;
  bytes.size = sizeof(wrong);  // with its NUL: also accepted
  kiln_status_t status = kiln__cuda_ptx_to_cubin(
      nvjitlink, bytes, 90, false, kiln_allocator_system(), &cubin, &size);
  ASSERT_EQ_I64(kiln_status_code(status), KILN_STATUS_INVALID_ARGUMENT);
  ASSERT_CONTAINS(kiln_status_message(status), "NVJITLINK_ERROR_PTX_COMPILE");
  ASSERT_CONTAINS(kiln_status_message(status), "log: ptxas");
  kiln_status_free(status);
  ASSERT_EQ_PTR(cubin, NULL);
  // Arguments checked before nvJitLink is called.
  kiln_const_bytes_t empty = {(const uint8_t*)"\0", 1};
  ASSERT_STATUS(kiln__cuda_ptx_to_cubin(nvjitlink, empty, 90, false,
                                        kiln_allocator_system(), &cubin, &size),
                KILN_STATUS_INVALID_ARGUMENT, "no PTX text");
  ASSERT_STATUS(kiln__cuda_ptx_to_cubin(nvjitlink, bytes, 9, false,
                                        kiln_allocator_system(), &cubin, &size),
                KILN_STATUS_INVALID_ARGUMENT, "outside 10..999");
  ASSERT_EQ_I64(kiln__nvjitlink_result_code(KILN_NVJITLINK_ERROR_ARCH_MISMATCH),
                KILN_STATUS_INCOMPATIBLE);
  ASSERT_EQ_I64(kiln__nvjitlink_result_code(KILN_NVJITLINK_ERROR_INTERNAL),
                KILN_STATUS_INTERNAL);
  ASSERT_EQ_STR(kiln__nvjitlink_result_name(4), "NVJITLINK_ERROR_PTX_COMPILE");
}

TEST(cuda_ptx_to_cubin_oom_sweep) {
  const kiln__cuda_nvjitlink_t* nvjitlink = nvjitlink_or_null(t_);
  if (!nvjitlink) return;
  static const char ptx[] =
      ".version 8.0\n.target sm_90\n.address_size 64\n"
      ".visible .entry k(.param .u32 n) { ret; }\n";
  kiln_const_bytes_t bytes = {(const uint8_t*)ptx, sizeof(ptx) - 1};
  for (size_t fail_at = 0;; ++fail_at) {
    kiln_test_allocator_t ta = kiln_test_allocator_failing_at(fail_at);
    uint8_t* cubin = NULL;
    size_t size = 0;
    kiln_status_t status =
        kiln__cuda_ptx_to_cubin(nvjitlink, bytes, 90, false,
                                kiln_test_allocator_get(&ta), &cubin, &size);
    if (!status) {
      kiln_allocator_free(kiln_test_allocator_get(&ta), cubin);
      ASSERT_EQ_U64(ta.live, 0);
      ASSERT_TRUE(fail_at > 0);
      return;
    }
    ASSERT_EQ_I64(kiln_status_code(status), KILN_STATUS_RESOURCE_EXHAUSTED);
    kiln_status_free(status);
    ASSERT_EQ_U64(ta.live, 0);
  }
}

//===----------------------------------------------------------------------===//
// NVRTC helper
//===----------------------------------------------------------------------===//

static const char kAddOne[] =
    "extern \"C\" __global__ void add_one(const float* x, int n, float* y) {\n"
    "  int i = blockIdx.x * blockDim.x + threadIdx.x;\n"
    "  if (i < n) y[i] = x[i] + 1.0f;\n"
    "}\n";

static bool nvrtc_missing(kiln_test_t* t_) {
  int32_t major = 0, minor = 0;
  kiln_status_t status = kiln_nvrtc_version(&major, &minor);
  if (!status) return false;
  kiln_test_skip(t_, "needs NVRTC: %s", kiln_status_message(status));
  kiln_status_free(status);
  return true;
}

static kiln_nvrtc_options_t options_for(const uint32_t* archs, size_t count,
                                        bool ptx, bool cubin) {
  kiln_nvrtc_options_t options;
  memset(&options, 0, sizeof(options));
  options.sm_archs = archs;
  options.sm_arch_count = count;
  options.emit_ptx = ptx;
  options.emit_cubin = cubin;
  return options;
}

TEST(nvrtc_compile_ptx_and_cubin) {
  if (nvrtc_missing(t_)) return;
  static const uint32_t archs[] = {90};
  kiln_nvrtc_options_t options = options_for(archs, 1, true, true);
  kiln_test_allocator_t ta = kiln_test_allocator_make();
  kiln_compiled_kernel_t* kernel = NULL;
  ASSERT_OK(kiln_nvrtc_compile(kiln_make_cstring_view(kAddOne), "add_one.cu",
                               &options, kiln_test_allocator_get(&ta),
                               &kernel));
  ASSERT_EQ_U64(kiln_compiled_kernel_image_count(kernel), 2);
  kiln_kernel_image_t ptx = kiln_compiled_kernel_image_at(kernel, 0);
  kiln_kernel_image_t cubin = kiln_compiled_kernel_image_at(kernel, 1);
  kiln_kernel_image_t beyond = kiln_compiled_kernel_image_at(kernel, 2);
  bool shapes_ok =
      ptx.kind == KILN_KERNEL_IMAGE_PTX && ptx.sm_arch == 90 &&
      cubin.kind == KILN_KERNEL_IMAGE_CUBIN && cubin.sm_arch == 90 &&
      beyond.bytes.data == NULL &&
      kiln_compiled_kernel_images(kernel)[1].bytes.data == cubin.bytes.data;
  kiln_status_t status = kiln__ptx_check_terminated(ptx.bytes);
  kiln__ptx_entry_t entry;
  memset(&entry, 0, sizeof(entry));
  if (!status) {
    status = kiln__ptx_find_entry(ptx.bytes, kiln_make_cstring_view("add_one"),
                                  kiln_allocator_system(), &entry);
  }
  bool entry_ok = !status && entry.param_count == 3 &&
                  entry.header.sm_arch == 90 &&
                  entry.params[1].type == KILN__PTX_TYPE_U32;
  kiln__ptx_entry_deinit(&entry);
  kiln__cubin_info_t info;
  memset(&info, 0, sizeof(info));
  kiln__cubin_function_t function;
  memset(&function, 0, sizeof(function));
  if (!status) status = kiln__cubin_inspect(cubin.bytes, &info);
  if (!status) {
    status = kiln__cubin_find_function(
        cubin.bytes, kiln_make_cstring_view("add_one"), &function);
  }
  kiln_compiled_kernel_destroy(kernel);
  ASSERT_OK(status);
  ASSERT_TRUE(shapes_ok);
  ASSERT_TRUE(entry_ok);
  ASSERT_EQ_U64(info.sm_arch, 90);
  ASSERT_TRUE(function.is_entry);
  ASSERT_EQ_U64(ta.live, 0);
}

TEST(nvrtc_compile_several_archs) {
  if (nvrtc_missing(t_)) return;
  static const uint32_t archs[] = {90, 80, 90, 100};  // duplicates dropped
  kiln_nvrtc_options_t options = options_for(archs, 4, true, true);
  kiln_compiled_kernel_t* kernel = NULL;
  ASSERT_OK(kiln_nvrtc_compile(kiln_make_cstring_view(kAddOne), NULL, &options,
                               kiln_allocator_system(), &kernel));
  static const kiln_kernel_image_kind_t kinds[] = {
      KILN_KERNEL_IMAGE_PTX, KILN_KERNEL_IMAGE_CUBIN, KILN_KERNEL_IMAGE_CUBIN,
      KILN_KERNEL_IMAGE_CUBIN};
  static const uint32_t image_archs[] = {80, 80, 90, 100};
  size_t count = kiln_compiled_kernel_image_count(kernel);
  char failure[256] = "";
  for (size_t i = 0; i < count && i < 4 && !failure[0]; ++i) {
    kiln_kernel_image_t image = kiln_compiled_kernel_image_at(kernel, i);
    kiln__cubin_info_t info;
    if (image.kind != kinds[i] || image.sm_arch != image_archs[i]) {
      snprintf(failure, sizeof(failure), "image %zu: kind %d arch %u", i,
               (int)image.kind, image.sm_arch);
    } else if (image.kind == KILN_KERNEL_IMAGE_CUBIN) {
      kiln_status_t status = kiln__cubin_inspect(image.bytes, &info);
      if (status || info.sm_arch != image_archs[i]) {
        snprintf(failure, sizeof(failure), "cubin %zu: %s arch %u", i,
                 kiln_status_message(status), info.sm_arch);
      }
      kiln_status_free(status);
    }
  }
  kiln_compiled_kernel_destroy(kernel);
  ASSERT_EQ_U64(count, 4);
  if (failure[0]) FAIL("%s", failure);
}

TEST(nvrtc_compile_arch_specific_ptx_only) {
  if (nvrtc_missing(t_)) return;
  static const uint32_t archs[] = {100, 90};
  kiln_nvrtc_options_t options = options_for(archs, 2, true, false);
  options.arch_specific = true;
  static const char* const flags[] = {"--use_fast_math", "-lineinfo"};
  options.options = flags;
  options.option_count = 2;
  kiln_compiled_kernel_t* kernel = NULL;
  ASSERT_OK(kiln_nvrtc_compile(kiln_make_cstring_view(kAddOne), "k.cu",
                               &options, kiln_allocator_system(), &kernel));
  size_t count = kiln_compiled_kernel_image_count(kernel);
  kiln_kernel_image_t ptx = kiln_compiled_kernel_image_at(kernel, 0);
  kiln__ptx_header_t header;
  kiln_status_t status = kiln__ptx_read_header(ptx.bytes, &header);
  kiln_compiled_kernel_destroy(kernel);
  ASSERT_OK(status);
  ASSERT_EQ_U64(count, 1);
  ASSERT_EQ_U64(header.sm_arch, 90);
  ASSERT_EQ_I64(header.arch_suffix, 'a');
}

TEST(nvrtc_compile_error_carries_the_log) {
  if (nvrtc_missing(t_)) return;
  static const char broken[] =
      "extern \"C\" __global__ void broken(float* y) {\n"
      "  y[0] = undefined_name;\n"
      "}\n";
  static const uint32_t archs[] = {90};
  kiln_nvrtc_options_t options = options_for(archs, 1, true, true);
  kiln_compiled_kernel_t* kernel = NULL;
  kiln_test_allocator_t ta = kiln_test_allocator_make();
  kiln_status_t status =
      kiln_nvrtc_compile(kiln_make_cstring_view(broken), "broken.cu", &options,
                         kiln_test_allocator_get(&ta), &kernel);
  ASSERT_EQ_I64(kiln_status_code(status), KILN_STATUS_INVALID_ARGUMENT);
  ASSERT_CONTAINS(kiln_status_message(status),
                  "NVRTC cannot compile 'broken.cu' for "
                  "--gpu-architecture=sm_90");
  ASSERT_CONTAINS(kiln_status_message(status), "NVRTC_ERROR_COMPILATION");
  ASSERT_CONTAINS(kiln_status_message(status),
                  "broken.cu(2): error: identifier \"undefined_name\" is "
                  "undefined");
  kiln_status_free(status);
  ASSERT_EQ_PTR(kernel, NULL);
  ASSERT_EQ_U64(ta.live, 0);
  // An option NVRTC rejects: its log says which.
  static const char* const flags[] = {"--no-such-option"};
  options.options = flags;
  options.option_count = 1;
  ASSERT_STATUS(kiln_nvrtc_compile(kiln_make_cstring_view(kAddOne), "a.cu",
                                   &options, kiln_allocator_system(), &kernel),
                KILN_STATUS_INVALID_ARGUMENT, "--no-such-option");
}

TEST(nvrtc_compile_headers_and_warnings_log) {
  if (nvrtc_missing(t_)) return;
  static const char source[] =
      "#include \"scale.h\"\n"
      "extern \"C\" __global__ void scale(float* y) {\n"
      "  int unused;\n"
      "  y[threadIdx.x] *= kScale;\n"
      "}\n";
  static const char* const header_sources[] = {
      "static constexpr float kScale = 2.0f;\n"};
  static const char* const header_names[] = {"scale.h"};
  static const uint32_t archs[] = {90};
  kiln_nvrtc_options_t options = options_for(archs, 1, false, true);
  options.header_sources = header_sources;
  options.header_names = header_names;
  options.header_count = 1;
  kiln_compiled_kernel_t* kernel = NULL;
  ASSERT_OK(kiln_nvrtc_compile(kiln_make_cstring_view(source), "scale.cu",
                               &options, kiln_allocator_system(), &kernel));
  kiln_string_view_t log = kiln_compiled_kernel_log(kernel);
  char text[1024];
  snprintf(text, sizeof(text), "%.*s", (int)log.size, log.data);
  size_t count = kiln_compiled_kernel_image_count(kernel);
  kiln_compiled_kernel_destroy(kernel);
  ASSERT_EQ_U64(count, 1);
  ASSERT_CONTAINS(text, "unused");
  ASSERT_EQ_U64(kiln_compiled_kernel_log(NULL).size, 0);
  ASSERT_EQ_U64(kiln_compiled_kernel_image_count(NULL), 0);
  ASSERT_EQ_PTR(kiln_compiled_kernel_images(NULL), NULL);
  kiln_compiled_kernel_destroy(NULL);
}

TEST(nvrtc_compile_rejects_bad_arguments) {
  // Checked before NVRTC is loaded: these run everywhere.
  static const uint32_t archs[] = {90};
  static const uint32_t bad_archs[] = {90, 5};
  kiln_compiled_kernel_t* kernel = NULL;
  kiln_string_view_t source = kiln_make_cstring_view(kAddOne);
  kiln_allocator_t a = kiln_allocator_system();
  ASSERT_STATUS(kiln_nvrtc_compile(source, NULL, NULL, a, &kernel),
                KILN_STATUS_INVALID_ARGUMENT, "needs options");
  kiln_nvrtc_options_t options = options_for(NULL, 0, true, true);
  ASSERT_STATUS(kiln_nvrtc_compile(source, NULL, &options, a, &kernel),
                KILN_STATUS_INVALID_ARGUMENT, "at least one SM architecture");
  options = options_for(bad_archs, 2, true, true);
  ASSERT_STATUS(kiln_nvrtc_compile(source, NULL, &options, a, &kernel),
                KILN_STATUS_INVALID_ARGUMENT,
                "SM architecture 5 (entry 1) is outside 10..999");
  options = options_for(archs, 1, false, false);
  ASSERT_STATUS(kiln_nvrtc_compile(source, NULL, &options, a, &kernel),
                KILN_STATUS_INVALID_ARGUMENT, "neither PTX nor cubin");
  options = options_for(archs, 1, true, false);
  options.option_count = 2;
  ASSERT_STATUS(kiln_nvrtc_compile(source, NULL, &options, a, &kernel),
                KILN_STATUS_INVALID_ARGUMENT,
                "2 NVRTC options but no option "
                "array");
  options = options_for(archs, 1, true, false);
  options.header_count = 1;
  ASSERT_STATUS(kiln_nvrtc_compile(source, NULL, &options, a, &kernel),
                KILN_STATUS_INVALID_ARGUMENT, "1 headers but no header");
  options = options_for(archs, 1, true, false);
  static const char with_nul[] = "__global__ void k() {}\0 junk";
  ASSERT_STATUS(
      kiln_nvrtc_compile(kiln_make_string_view(with_nul, sizeof(with_nul)),
                         NULL, &options, a, &kernel),
      KILN_STATUS_INVALID_ARGUMENT, "NUL byte at offset 22");
  ASSERT_STATUS(kiln_nvrtc_compile(kiln_make_string_view(NULL, 0), NULL,
                                   &options, a, &kernel),
                KILN_STATUS_INVALID_ARGUMENT, "empty source");
  ASSERT_EQ_PTR(kernel, NULL);
}

TEST(nvrtc_compile_unsupported_arch) {
  if (nvrtc_missing(t_)) return;
  static const uint32_t archs[] = {90, 35};
  kiln_nvrtc_options_t options = options_for(archs, 2, true, true);
  kiln_compiled_kernel_t* kernel = NULL;
  ASSERT_STATUS(kiln_nvrtc_compile(kiln_make_cstring_view(kAddOne), NULL,
                                   &options, kiln_allocator_system(), &kernel),
                KILN_STATUS_INCOMPATIBLE,
                "cannot compile for sm_35; it "
                "supports sm_");
}

TEST(nvrtc_images_serve_as_aot_result) {
  if (nvrtc_missing(t_)) return;
  static const uint32_t archs[] = {90};
  kiln_nvrtc_options_t options = options_for(archs, 1, true, true);
  kiln_test_allocator_t ta = kiln_test_allocator_make();
  kiln_compiled_kernel_t* kernel = NULL;
  ASSERT_OK(kiln_nvrtc_compile(kiln_make_cstring_view(kAddOne), "add_one.cu",
                               &options, kiln_test_allocator_get(&ta),
                               &kernel));
  kiln_aot_result_t result;
  memset(&result, 0, sizeof(result));
  result.kernel_name = kiln_make_cstring_view("add_one");
  result.images = kiln_compiled_kernel_images(kernel);
  result.image_count = kiln_compiled_kernel_image_count(kernel);
  result.release = kiln_compiled_kernel_aot_release;
  result.release_data = kernel;
  ASSERT_EQ_U64(result.image_count, 2);
  ASSERT_TRUE(ta.live > 0);
  result.release(result.release_data, &result);
  ASSERT_EQ_U64(ta.live, 0);
}

TEST(nvrtc_compile_oom_sweep) {
  if (nvrtc_missing(t_)) return;
  static const uint32_t archs[] = {80, 90};
  kiln_nvrtc_options_t options = options_for(archs, 2, true, true);
  for (size_t fail_at = 0;; ++fail_at) {
    kiln_test_allocator_t ta = kiln_test_allocator_failing_at(fail_at);
    kiln_compiled_kernel_t* kernel = NULL;
    kiln_status_t status =
        kiln_nvrtc_compile(kiln_make_cstring_view(kAddOne), NULL, &options,
                           kiln_test_allocator_get(&ta), &kernel);
    if (!status) {
      size_t count = kiln_compiled_kernel_image_count(kernel);
      kiln_compiled_kernel_destroy(kernel);
      ASSERT_EQ_U64(count, 3);
      ASSERT_EQ_U64(ta.live, 0);
      ASSERT_TRUE(fail_at > 0);
      return;
    }
    ASSERT_EQ_I64(kiln_status_code(status), KILN_STATUS_RESOURCE_EXHAUSTED);
    kiln_status_free(status);
    ASSERT_EQ_PTR(kernel, NULL);
    ASSERT_EQ_U64(ta.live, 0);
  }
}

TEST(nvrtc_result_mapping) {
  ASSERT_EQ_I64(kiln__nvrtc_result_code(KILN_NVRTC_SUCCESS), KILN_STATUS_OK);
  ASSERT_EQ_I64(kiln__nvrtc_result_code(KILN_NVRTC_ERROR_COMPILATION),
                KILN_STATUS_INVALID_ARGUMENT);
  ASSERT_EQ_I64(kiln__nvrtc_result_code(KILN_NVRTC_ERROR_OUT_OF_MEMORY),
                KILN_STATUS_RESOURCE_EXHAUSTED);
  ASSERT_EQ_I64(kiln__nvrtc_result_code(KILN_NVRTC_ERROR_INTERNAL_ERROR),
                KILN_STATUS_INTERNAL);
  ASSERT_EQ_STR(kiln__nvrtc_result_name(6), "NVRTC_ERROR_COMPILATION");
  ASSERT_EQ_PTR(kiln__nvrtc_result_name(99), NULL);
  ASSERT_STATUS(kiln__nvrtc_result_to_status(NULL, 5, "nvrtcCompileProgram",
                                             __FILE__, __LINE__),
                KILN_STATUS_INVALID_ARGUMENT,
                "nvrtcCompileProgram failed: NVRTC_ERROR_INVALID_OPTION (5) "
                "[cuda_test.c:");
}

//===----------------------------------------------------------------------===//
// On a GPU
//===----------------------------------------------------------------------===//

// Runs add_one from the nvcc PTX, the nvcc cubin and an NVRTC cubin on
// device 0, through the loaded driver table. Skips without a driver or GPU.
TEST(cuda_gpu_add_one_smoke) {
  const kiln__cuda_driver_t* d = NULL;
  kiln_status_t status = kiln__cuda_driver_get(&d);
  if (status) {
    kiln_test_skip(t_, "needs the CUDA driver: %s",
                   kiln_status_message(status));
    kiln_status_free(status);
    return;
  }
  status = KILN_CU_STATUS(d, cuInit(0));
  int device_count = 0;
  if (!status) status = KILN_CU_STATUS(d, cuDeviceGetCount(&device_count));
  if (status || device_count == 0) {
    kiln_test_skip(t_, "needs a GPU: %s",
                   status ? kiln_status_message(status) : "no device");
    kiln_status_free(status);
    return;
  }
  kiln__cu_device_t device = 0;
  kiln__cuda_device_info_t info;
  ASSERT_OK(KILN_CU_STATUS(d, cuDeviceGet(&device, 0)));
  ASSERT_OK(kiln__cuda_device_query(d, device, &info));
  if (info.sm_arch < 90) SKIP("needs sm_90 or newer, have sm_%u", info.sm_arch);
  kiln__cu_context_t context = NULL;
  ASSERT_OK(KILN_CU_STATUS(d, cuDevicePrimaryCtxRetain(&context, device)));
  status = KILN_CU_STATUS(d, cuCtxSetCurrent(context));

  // The images: nvcc PTX (NUL appended), nvcc sm_90 cubin (only on sm_90),
  // and an NVRTC cubin for this device.
  uint8_t* ptx_file = NULL;
  size_t ptx_size = 0;
  uint8_t* cubin_file = NULL;
  size_t cubin_size = 0;
  uint8_t* ptx = NULL;
  if (!status && (!read_corpus("nvcc_sm90.ptx", &ptx_file, &ptx_size) ||
                  !read_corpus("nvcc_sm90.cubin", &cubin_file, &cubin_size) ||
                  !(ptx = (uint8_t*)calloc(ptx_size + 1, 1)))) {
    status = kiln_make_status(KILN_STATUS_INTERNAL, "cannot read the corpus");
  }
  if (ptx) memcpy(ptx, ptx_file, ptx_size);
  kiln_compiled_kernel_t* compiled = NULL;
  uint32_t arch = info.sm_arch;
  kiln_nvrtc_options_t options = options_for(&arch, 1, false, true);
  int32_t major, minor;
  kiln_status_t nvrtc_status = kiln_nvrtc_version(&major, &minor);
  if (!status && !nvrtc_status) {
    status = kiln_nvrtc_compile(
        kiln_make_cstring_view("extern \"C\" __global__ void add_one("
                               "const float* x, int n, float* y) {"
                               " int i = blockIdx.x * blockDim.x + "
                               "threadIdx.x; if (i < n) y[i] = x[i] * "
                               "(float)(1 << (i & 3)) + 1.0f; }"),
        "smoke.cu", &options, kiln_allocator_system(), &compiled);
  }
  kiln_status_free(nvrtc_status);
  kiln_kernel_image_t images[3];
  size_t image_count = 0;
  if (!status) {
    images[image_count++] =
        (kiln_kernel_image_t){KILN_KERNEL_IMAGE_PTX, 90, {ptx, ptx_size + 1}};
    if (info.sm_arch == 90) {
      images[image_count++] = (kiln_kernel_image_t){
          KILN_KERNEL_IMAGE_CUBIN, 90, {cubin_file, cubin_size}};
    }
    if (compiled)
      images[image_count++] = kiln_compiled_kernel_image_at(compiled, 0);
  }

  enum { kCount = 1000 };
  float host_x[kCount], host_y[kCount];
  for (int i = 0; i < kCount; ++i) host_x[i] = (float)i * 0.5f;
  kiln__cu_deviceptr_t x = 0, y = 0;
  if (!status) status = KILN_CU_STATUS(d, cuMemAlloc(&x, sizeof(host_x)));
  if (!status) status = KILN_CU_STATUS(d, cuMemAlloc(&y, sizeof(host_y)));
  if (!status) {
    status = KILN_CU_STATUS(d, cuMemcpyHtoD(x, host_x, sizeof(host_x)));
  }
  for (size_t m = 0; !status && m < image_count; ++m) {
    kiln__cu_module_t module = NULL;
    kiln__cu_function_t function = NULL;
    status =
        kiln__cuda_module_load(d, &images[m], kiln_allocator_system(), &module);
    if (!status) {
      status =
          KILN_CU_STATUS(d, cuModuleGetFunction(&function, module, "add_one"));
    }
    int n = kCount;
    void* params[] = {&x, &n, &y};
    if (!status) status = KILN_CU_STATUS(d, cuMemsetD8(y, 0, sizeof(host_y)));
    if (!status) {
      status =
          KILN_CU_STATUS(d, cuLaunchKernel(function, (kCount + 127) / 128, 1, 1,
                                           128, 1, 1, 0, NULL, params, NULL));
    }
    if (!status) status = KILN_CU_STATUS(d, cuCtxSynchronize());
    if (!status) {
      status = KILN_CU_STATUS(d, cuMemcpyDtoH(host_y, y, sizeof(host_y)));
    }
    // Both kernels compute x * scale[i & 3] + 1 with scale = 1, 2, 3, 4
    // (nvcc) or 1, 2, 4, 8 (NVRTC).
    bool nvrtc_image = compiled && m == image_count - 1;
    for (int i = 0; !status && i < kCount; ++i) {
      float scale = nvrtc_image ? (float)(1 << (i & 3)) : (float)((i & 3) + 1);
      float want = host_x[i] * scale + 1.0f;
      if (host_y[i] != want) {
        status = kiln_make_status(KILN_STATUS_INTERNAL,
                                  "image %zu: y[%d] = %g, expected %g", m, i,
                                  (double)host_y[i], (double)want);
      }
    }
    if (module) kiln_status_free(KILN_CU_STATUS(d, cuModuleUnload(module)));
  }
  // The real driver's JIT log for wrong PTX.
  if (!status) {
    static const char wrong[] =
        ".version 8.0\n.target sm_90\n.address_size 64\n"
        ".visible .entry k() { bogus.instruction; ret; }\n";
    kiln_kernel_image_t image = {
        KILN_KERNEL_IMAGE_PTX, 90, {(const uint8_t*)wrong, sizeof(wrong)}};
    kiln__cu_module_t module = NULL;
    kiln_status_t load =
        kiln__cuda_module_load(d, &image, kiln_allocator_system(), &module);
    if (kiln_status_code(load) != KILN_STATUS_INCOMPATIBLE ||
        !strstr(kiln_status_message(load), "JIT log: ")) {
      status = kiln_make_status(KILN_STATUS_INTERNAL, "wrong PTX gave %s: %s",
                                kiln_status_code_name(kiln_status_code(load)),
                                kiln_status_message(load));
    }
    kiln_status_free(load);
  }
  if (x) kiln_status_free(KILN_CU_STATUS(d, cuMemFree(x)));
  if (y) kiln_status_free(KILN_CU_STATUS(d, cuMemFree(y)));
  kiln_status_free(KILN_CU_STATUS(d, cuDevicePrimaryCtxRelease(device)));
  kiln_compiled_kernel_destroy(compiled);
  free(ptx);
  free(ptx_file);
  free(cubin_file);
  ASSERT_OK(status);
  ASSERT_TRUE(image_count >= 2);
}

// Runs Triton 3.6's add_kernel on device 0 from its PTX (driver JIT) and
// from kiln's nvJitLink cubin of that PTX, passing null for the two scratch
// pointers Triton appends (their sizes are 0 for this kernel). Skips
// without a driver, a GPU, an sm_90 device or nvJitLink.
TEST(cuda_gpu_triton_add_smoke) {
  const kiln__cuda_driver_t* d = NULL;
  kiln_status_t status = kiln__cuda_driver_get(&d);
  if (status) {
    kiln_test_skip(t_, "needs the CUDA driver: %s",
                   kiln_status_message(status));
    kiln_status_free(status);
    return;
  }
  const kiln__cuda_nvjitlink_t* nvjitlink = nvjitlink_or_null(t_);
  if (!nvjitlink) return;
  status = KILN_CU_STATUS(d, cuInit(0));
  int device_count = 0;
  if (!status) status = KILN_CU_STATUS(d, cuDeviceGetCount(&device_count));
  if (status || device_count == 0) {
    kiln_test_skip(t_, "needs a GPU: %s",
                   status ? kiln_status_message(status) : "no device");
    kiln_status_free(status);
    return;
  }
  kiln__cu_device_t device = 0;
  kiln__cuda_device_info_t info;
  ASSERT_OK(KILN_CU_STATUS(d, cuDeviceGet(&device, 0)));
  ASSERT_OK(kiln__cuda_device_query(d, device, &info));
  if (info.sm_arch != 90)
    SKIP("needs sm_90 (Hopper), have sm_%u", info.sm_arch);
  uint8_t* file = NULL;
  size_t file_size = 0;
  if (!read_corpus("triton_add_sm90a.ptx", &file, &file_size)) {
    FAIL("cannot read triton_add_sm90a.ptx");
  }
  kiln_const_bytes_t file_bytes = {file, file_size};
  char* ptx = NULL;
  size_t ptx_length = 0;
  uint8_t* cubin = NULL;
  size_t cubin_size = 0;
  status = kiln__ptx_copy_terminated(file_bytes, kiln_allocator_system(), &ptx,
                                     &ptx_length);
  if (!status) {
    status =
        kiln__cuda_ptx_to_cubin(nvjitlink, file_bytes, 90, true,
                                kiln_allocator_system(), &cubin, &cubin_size);
  }
  free(file);
  kiln_kernel_image_t images[2] = {
      {KILN_KERNEL_IMAGE_PTX, 90, {(const uint8_t*)ptx, ptx_length + 1}},
      {KILN_KERNEL_IMAGE_CUBIN, 90, {cubin, cubin_size}}};
  kiln__cu_context_t context = NULL;
  if (!status) {
    status = KILN_CU_STATUS(d, cuDevicePrimaryCtxRetain(&context, device));
  }
  if (!status) status = KILN_CU_STATUS(d, cuCtxSetCurrent(context));
  enum { kCount = 5000 };
  static float host_x[kCount], host_y[kCount];
  for (int i = 0; i < kCount; ++i) host_x[i] = (float)i - 7.25f;
  kiln__cu_deviceptr_t x = 0, y = 0;
  if (!status) status = KILN_CU_STATUS(d, cuMemAlloc(&x, sizeof(host_x)));
  if (!status) status = KILN_CU_STATUS(d, cuMemAlloc(&y, sizeof(host_y)));
  if (!status) {
    status = KILN_CU_STATUS(d, cuMemcpyHtoD(x, host_x, sizeof(host_x)));
  }
  for (size_t m = 0; !status && m < 2; ++m) {
    kiln__cu_module_t module = NULL;
    kiln__cu_function_t function = NULL;
    status =
        kiln__cuda_module_load(d, &images[m], kiln_allocator_system(), &module);
    if (!status) {
      status = KILN_CU_STATUS(
          d, cuModuleGetFunction(&function, module, "add_kernel"));
    }
    int n = kCount;
    kiln__cu_deviceptr_t global_scratch = 0, profile_scratch = 0;
    void* params[] = {&x, &n, &y, &global_scratch, &profile_scratch};
    if (!status) status = KILN_CU_STATUS(d, cuMemsetD8(y, 0, sizeof(host_y)));
    if (!status) {
      status = KILN_CU_STATUS(
          d, cuLaunchKernel(function, (kCount + 1023) / 1024, 1, 1, 128, 1, 1,
                            0, NULL, params, NULL));
    }
    if (!status) status = KILN_CU_STATUS(d, cuCtxSynchronize());
    if (!status) {
      status = KILN_CU_STATUS(d, cuMemcpyDtoH(host_y, y, sizeof(host_y)));
    }
    for (int i = 0; !status && i < kCount; ++i) {
      if (host_y[i] != host_x[i] + 1.0f) {
        status = kiln_make_status(KILN_STATUS_INTERNAL,
                                  "image %zu: y[%d] = %g, expected %g", m, i,
                                  (double)host_y[i], (double)host_x[i] + 1.0);
      }
    }
    if (module) kiln_status_free(KILN_CU_STATUS(d, cuModuleUnload(module)));
  }
  if (x) kiln_status_free(KILN_CU_STATUS(d, cuMemFree(x)));
  if (y) kiln_status_free(KILN_CU_STATUS(d, cuMemFree(y)));
  if (context) {
    kiln_status_free(KILN_CU_STATUS(d, cuDevicePrimaryCtxRelease(device)));
  }
  kiln_allocator_free(kiln_allocator_system(), ptx);
  kiln_allocator_free(kiln_allocator_system(), cubin);
  ASSERT_OK(status);
}
