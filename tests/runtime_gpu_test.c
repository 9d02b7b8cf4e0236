// Tests of src/runtime on a real GPU. Each SKIPs with the reason when there
// is no GPU (kiln_device_create returns UNAVAILABLE) or no NVRTC to compile
// the kernel with.
//
// The engine is the hand-made one of runtime_test.c (input x, output y,
// grid cdiv(n, 256), block 256, params [x][n][y]) with add_one compiled here
// by NVRTC for the GPU's architecture: a cubin for it and PTX.

#include <math.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "base/bytes.h"
#include "cuda/cuda_driver.h"
#include "runtime/runtime.h"
#include "test.h"

// Defined in runtime_test.c.
kiln_status_t kiln_test_build_add_engine(const kiln_kernel_image_t* images,
                                         size_t image_count,
                                         kiln__writer_t* out);
kiln_status_t kiln_test_build_add_engine_layers(
    const kiln_kernel_image_t* images, size_t image_count, bool two_layers,
    kiln__writer_t* out);

static const char kAddOne[] =
    "extern \"C\" __global__ void add_one(const float* x, int n, float* y) {\n"
    "  int i = blockIdx.x * blockDim.x + threadIdx.x;\n"
    "  if (i < n) y[i] = 2.0f * x[i] + 1.0f;\n"
    "}\n";

static float input_value(int64_t i) {
  return (float)(i % 1013) * 0.5f - 100.0f;
}

// The GPU, add_one's engine bytes and a loaded engine, or a reason to skip.
typedef struct gpu_t {
  kiln_device_t* device;
  kiln_compiled_kernel_t* kernel;
  kiln__writer_t file;
  kiln_engine_t* engine;
  char skip[512];
} gpu_t;

static void gpu_close(gpu_t* gpu) {
  kiln_engine_release(gpu->engine);
  kiln__writer_deinit(&gpu->file);
  kiln_compiled_kernel_destroy(gpu->kernel);
  kiln_device_release(gpu->device);
}

// Opens the GPU and loads add_one's engine (|force_ptx| ignores the cubin;
// |two_layers| chains add_one twice, x -> t -> y, y = 2(2x + 1) + 1).
// Returns an error to fail on; sets |gpu->skip| when the test must skip.
static kiln_status_t gpu_open(gpu_t* gpu, bool force_ptx, bool two_layers) {
  memset(gpu, 0, sizeof(*gpu));
  kiln__writer_init(&gpu->file, kiln_allocator_system());
  kiln_status_t status =
      kiln_device_create(0, kiln_allocator_system(), &gpu->device);
  if (kiln_status_code(status) == KILN_STATUS_UNAVAILABLE) {
    snprintf(gpu->skip, sizeof(gpu->skip), "no GPU: %s",
             kiln_status_message(status));
    kiln_status_free(status);
    return NULL;
  }
  KILN_RETURN_IF_ERROR(status);
  uint32_t arch = kiln_device_sm_arch(gpu->device);
  kiln_nvrtc_options_t options;
  memset(&options, 0, sizeof(options));
  options.sm_archs = &arch;
  options.sm_arch_count = 1;
  options.emit_ptx = true;
  options.emit_cubin = true;
  status = kiln_nvrtc_compile(
      kiln_make_string_view(kAddOne, sizeof(kAddOne) - 1), "add_one.cu",
      &options, kiln_allocator_system(), &gpu->kernel);
  if (kiln_status_code(status) == KILN_STATUS_UNAVAILABLE) {
    snprintf(gpu->skip, sizeof(gpu->skip), "no NVRTC: %s",
             kiln_status_message(status));
    kiln_status_free(status);
    return NULL;
  }
  KILN_RETURN_IF_ERROR(status);
  KILN_RETURN_IF_ERROR(kiln_test_build_add_engine_layers(
      kiln_compiled_kernel_images(gpu->kernel),
      kiln_compiled_kernel_image_count(gpu->kernel), two_layers, &gpu->file));
  kiln_engine_load_options_t load_options;
  memset(&load_options, 0, sizeof(load_options));
  load_options.force_ptx = force_ptx;
  kiln_const_bytes_t bytes = {gpu->file.data, gpu->file.size};
  return kiln_engine_load(gpu->device, bytes, &load_options,
                          kiln_allocator_system(), &gpu->engine);
}

#define GPU_OPEN_LAYERS(gpu, force_ptx, two_layers)                    \
  do {                                                                 \
    kiln_status_t open_ = gpu_open(&(gpu), (force_ptx), (two_layers)); \
    if (open_ || (gpu).skip[0]) gpu_close(&(gpu));                     \
    ASSERT_OK(open_);                                                  \
    if ((gpu).skip[0]) SKIP("%s", (gpu).skip);                         \
  } while (0)

#define GPU_OPEN(gpu, force_ptx) GPU_OPEN_LAYERS(gpu, force_ptx, false)

// Runs |context| for n elements on |stream| and compares y with the CPU.
// Writes a description of the first mismatch into |error|.
static kiln_status_t run_and_check(kiln_device_t* device,
                                   kiln_context_t* context, void* stream,
                                   int64_t n, char* error, size_t capacity) {
  error[0] = '\0';
  size_t bytes = (size_t)n * sizeof(float);
  float* host = (float*)malloc(bytes);
  float* out = (float*)malloc(bytes);
  if (!host || !out) {
    free(host);
    free(out);
    return kiln_make_status(KILN_STATUS_RESOURCE_EXHAUSTED, "host buffers");
  }
  for (int64_t i = 0; i < n; ++i) host[i] = input_value(i);
  uint64_t x = 0, y = 0;
  kiln_status_t status = kiln_device_malloc(device, bytes, &x);
  if (!status) status = kiln_device_malloc(device, bytes, &y);
  if (!status) status = kiln_device_copy_to_device(device, x, host, bytes);
  if (!status) status = kiln_device_memset(device, y, 0xff, bytes);
  if (!status) status = kiln_context_set_input_shape(context, "x", 1, &n);
  if (!status) status = kiln_context_set_tensor_address(context, "x", x);
  if (!status) status = kiln_context_set_tensor_address(context, "y", y);
  if (!status) status = kiln_context_enqueue(context, stream);
  if (!status) status = kiln_stream_synchronize(device, stream);
  if (!status) status = kiln_device_copy_to_host(device, out, y, bytes);
  for (int64_t i = 0; !status && i < n; ++i) {
    float want = 2.0f * host[i] + 1.0f;
    if (out[i] != want) {
      snprintf(error, capacity, "n = %lld: y[%lld] is %g, expected %g",
               (long long)n, (long long)i, (double)out[i], (double)want);
      break;
    }
  }
  status = kiln_status_join(status, kiln_device_free(device, x));
  status = kiln_status_join(status, kiln_device_free(device, y));
  free(host);
  free(out);
  return status;
}

static void check_sizes(kiln_test_t* t_, gpu_t* gpu) {
  kiln_context_t* context = NULL;
  void* stream = NULL;
  kiln_status_t status =
      kiln_context_create(gpu->engine, kiln_allocator_system(), &context);
  if (!status) status = kiln_stream_create(gpu->device, &stream);
  static const int64_t sizes[] = {1, 1000, (INT64_C(1) << 20) + 3, 1000};
  char error[256] = "";
  for (size_t i = 0; !status && !error[0] && i < 4; ++i) {
    status = run_and_check(gpu->device, context, stream, sizes[i], error,
                           sizeof(error));
  }
  uint64_t evaluations = kiln__context_evaluation_count(context);
  if (stream) {
    status = kiln_status_join(status, kiln_stream_destroy(gpu->device, stream));
  }
  kiln_context_destroy(context);
  gpu_close(gpu);
  ASSERT_OK(status);
  if (error[0]) FAIL("%s", error);
  ASSERT_EQ_U64(evaluations, 4);
}

TEST(runtime_gpu_add_matches_cpu) {
  gpu_t gpu;
  GPU_OPEN(gpu, false);
  // The exact-arch cubin was chosen.
  const kiln__plan_image_t* image =
      &gpu.engine->plan->images[gpu.engine->kernels[0].image];
  if (image->kind != KILN_KERNEL_IMAGE_CUBIN) {
    gpu_close(&gpu);
    FAIL("the engine loaded its PTX though it has a cubin for the GPU");
  }
  check_sizes(t_, &gpu);
}

TEST(runtime_gpu_force_ptx_matches_cpu) {
  gpu_t gpu;
  GPU_OPEN(gpu, true);
  const kiln__plan_image_t* image =
      &gpu.engine->plan->images[gpu.engine->kernels[0].image];
  if (image->kind != KILN_KERNEL_IMAGE_PTX) {
    gpu_close(&gpu);
    FAIL("force_ptx loaded a cubin");
  }
  check_sizes(t_, &gpu);
}

typedef struct thread_job_t {
  kiln_engine_t* engine;
  kiln_device_t* device;
  int64_t n;
  int rounds;
  float* result;  // n floats
  kiln_status_t status;
} thread_job_t;

static void* thread_main(void* arg) {
  thread_job_t* job = (thread_job_t*)arg;
  size_t bytes = (size_t)job->n * sizeof(float);
  float* host = (float*)malloc(bytes);
  kiln_context_t* context = NULL;
  void* stream = NULL;
  uint64_t x = 0, y = 0;
  kiln_status_t status =
      host ? NULL
           : kiln_make_status(KILN_STATUS_RESOURCE_EXHAUSTED, "host buffer");
  for (int64_t i = 0; host && i < job->n; ++i) host[i] = input_value(i);
  if (!status) {
    status =
        kiln_context_create(job->engine, kiln_allocator_system(), &context);
  }
  if (!status) status = kiln_stream_create(job->device, &stream);
  if (!status) status = kiln_device_malloc(job->device, bytes, &x);
  if (!status) status = kiln_device_malloc(job->device, bytes, &y);
  if (!status) status = kiln_device_copy_to_device(job->device, x, host, bytes);
  // Shapes change every round, so both threads evaluate concurrently.
  for (int r = 0; !status && r < job->rounds; ++r) {
    int64_t n = r % 2 ? job->n : job->n - 1 - r;
    status = kiln_context_set_input_shape(context, "x", 1, &n);
    if (!status) status = kiln_context_set_tensor_address(context, "x", x);
    if (!status) status = kiln_context_set_tensor_address(context, "y", y);
    if (!status) status = kiln_context_enqueue(context, stream);
  }
  if (!status) status = kiln_stream_synchronize(job->device, stream);
  if (!status) {
    status = kiln_device_copy_to_host(job->device, job->result, y, bytes);
  }
  if (x) status = kiln_status_join(status, kiln_device_free(job->device, x));
  if (y) status = kiln_status_join(status, kiln_device_free(job->device, y));
  if (stream) {
    status = kiln_status_join(status, kiln_stream_destroy(job->device, stream));
  }
  kiln_context_destroy(context);
  free(host);
  job->status = status;
  return NULL;
}

TEST(runtime_gpu_two_threads_share_an_engine) {
  gpu_t gpu;
  GPU_OPEN(gpu, false);
  const int64_t n = 100003;
  thread_job_t jobs[2];
  pthread_t threads[2];
  bool started[2] = {false, false};
  for (int i = 0; i < 2; ++i) {
    memset(&jobs[i], 0, sizeof(jobs[i]));
    jobs[i].engine = gpu.engine;
    jobs[i].device = gpu.device;
    jobs[i].n = n;
    jobs[i].rounds = 50;
    jobs[i].result = (float*)calloc((size_t)n, sizeof(float));
  }
  for (int i = 0; i < 2; ++i) {
    if (jobs[i].result &&
        pthread_create(&threads[i], NULL, thread_main, &jobs[i]) == 0) {
      started[i] = true;
    }
  }
  for (int i = 0; i < 2; ++i) {
    if (started[i]) pthread_join(threads[i], NULL);
  }
  kiln_status_t status = NULL;
  for (int i = 0; i < 2; ++i) {
    if (!started[i]) {
      status = kiln_status_join(
          status, kiln_make_status(KILN_STATUS_INTERNAL, "thread %d", i));
    }
    status = kiln_status_join(status, jobs[i].status);
  }
  int64_t mismatch = -1;
  for (int64_t i = 0; !status && i < n; ++i) {
    float want = 2.0f * input_value(i) + 1.0f;
    if (jobs[0].result[i] != jobs[1].result[i] || jobs[0].result[i] != want) {
      mismatch = i;
      break;
    }
  }
  float a = mismatch >= 0 ? jobs[0].result[mismatch] : 0;
  float b = mismatch >= 0 ? jobs[1].result[mismatch] : 0;
  free(jobs[0].result);
  free(jobs[1].result);
  gpu_close(&gpu);
  ASSERT_OK(status);
  if (mismatch >= 0) {
    FAIL("y[%lld]: thread 0 %g, thread 1 %g", (long long)mismatch, (double)a,
         (double)b);
  }
}

TEST(runtime_gpu_time_enqueue) {
  gpu_t gpu;
  GPU_OPEN(gpu, false);
  const int64_t n = INT64_C(1) << 20;
  kiln_context_t* context = NULL;
  uint64_t x = 0, y = 0;
  double median = 0, min = 0;
  kiln_status_t status =
      kiln_context_create(gpu.engine, kiln_allocator_system(), &context);
  if (!status) status = kiln_device_malloc(gpu.device, (size_t)n * 4, &x);
  if (!status) status = kiln_device_malloc(gpu.device, (size_t)n * 4, &y);
  if (!status) status = kiln_device_memset(gpu.device, x, 0, (size_t)n * 4);
  if (!status) status = kiln_context_set_input_shape(context, "x", 1, &n);
  if (!status) status = kiln_context_set_tensor_address(context, "x", x);
  if (!status) status = kiln_context_set_tensor_address(context, "y", y);
  if (!status) {
    status = kiln_device_time_enqueue(context, NULL, 5, 51, &median, &min);
  }
  if (x) status = kiln_status_join(status, kiln_device_free(gpu.device, x));
  if (y) status = kiln_status_join(status, kiln_device_free(gpu.device, y));
  kiln_context_destroy(context);
  gpu_close(&gpu);
  ASSERT_OK(status);
  fprintf(stderr,
          "# runtime_gpu_time_enqueue: 4 MiB add_one median %.2f us, "
          "min %.2f us\n",
          median, min);
  ASSERT_TRUE(min > 0);
  ASSERT_TRUE(median >= min);
  ASSERT_TRUE(median < 100000);
}

// Graph mode against stream mode on the two-layer engine: bitwise the same
// outputs (and right against the CPU) over a sequence of shapes and output
// addresses; a new shape captures, a shape seen before replays its graph,
// and an address change updates nodes without a capture.
TEST(runtime_gpu_graph_matches_stream_bitwise) {
  gpu_t gpu;
  GPU_OPEN_LAYERS(gpu, false, true);
  const int64_t max_n = (INT64_C(1) << 20) + 3;
  size_t max_bytes = (size_t)max_n * sizeof(float);
  kiln_context_t* graphs = NULL;
  kiln_context_t* streams = NULL;
  void* stream = NULL;
  uint64_t x = 0, y_graph[2] = {0, 0}, y_stream = 0;
  float* host = (float*)malloc(max_bytes);
  float* out_graph = (float*)malloc(max_bytes);
  float* out_stream = (float*)malloc(max_bytes);
  kiln_status_t status =
      host && out_graph && out_stream
          ? NULL
          : kiln_make_status(KILN_STATUS_RESOURCE_EXHAUSTED, "host buffers");
  for (int64_t i = 0; host && i < max_n; ++i) {
    host[i] = input_value(i) * 1.37f + (float)(i % 7) * 1e-3f;
  }
  if (!status) {
    status = kiln_context_create(gpu.engine, kiln_allocator_system(), &graphs);
  }
  if (!status) {
    status = kiln_context_create(gpu.engine, kiln_allocator_system(), &streams);
  }
  if (!status) status = kiln_context_set_graphs(streams, false);
  // Counts captures from the first enqueue (warm-up is tested with a fake).
  if (!status) status = kiln_context_set_graph_warmup(graphs, 0);
  bool active = graphs && kiln__context_graphs_active(graphs);
  if (!status) status = kiln_stream_create(gpu.device, &stream);
  if (!status) status = kiln_device_malloc(gpu.device, max_bytes, &x);
  if (!status) status = kiln_device_malloc(gpu.device, max_bytes, &y_graph[0]);
  if (!status) status = kiln_device_malloc(gpu.device, max_bytes, &y_graph[1]);
  if (!status) status = kiln_device_malloc(gpu.device, max_bytes, &y_stream);
  if (!status) {
    status = kiln_device_copy_to_device(gpu.device, x, host, max_bytes);
  }
  if (!status) status = kiln_context_set_tensor_address(graphs, "x", x);
  if (!status) status = kiln_context_set_tensor_address(streams, "x", x);
  if (!status) status = kiln_context_set_tensor_address(streams, "y", y_stream);
  // Steps: (n, which y). Expected after each: captures, node updates.
  static const struct {
    int64_t n;
    int y;
    uint64_t captures, updates;
  } steps[] = {
      {1000, 0, 1, 0},                    // capture
      {1000, 0, 1, 0},                    // replay
      {(INT64_C(1) << 20) + 3, 0, 2, 0},  // new shape: capture
      {1000, 1, 2, 1},                    // cached shape, new y: update
      {1000, 1, 2, 1},                    // replay
      {(INT64_C(1) << 20) + 3, 1, 2, 2},  // cached, new y: update
  };
  char error[256] = "";
  size_t steps_count = sizeof(steps) / sizeof(steps[0]);
  for (size_t s = 0; active && !status && !error[0] && s < steps_count; ++s) {
    int64_t n = steps[s].n;
    size_t bytes = (size_t)n * sizeof(float);
    status = kiln_context_set_input_shape(graphs, "x", 1, &n);
    if (!status) status = kiln_context_set_input_shape(streams, "x", 1, &n);
    if (!status) {
      status =
          kiln_context_set_tensor_address(graphs, "y", y_graph[steps[s].y]);
    }
    if (!status) {
      status = kiln_device_memset(gpu.device, y_graph[steps[s].y], 0xff, bytes);
    }
    if (!status) status = kiln_device_memset(gpu.device, y_stream, 0xff, bytes);
    if (!status) status = kiln_context_enqueue(graphs, stream);
    if (!status) status = kiln_context_enqueue(streams, stream);
    if (!status) status = kiln_stream_synchronize(gpu.device, stream);
    if (!status) {
      status = kiln_device_copy_to_host(gpu.device, out_graph,
                                        y_graph[steps[s].y], bytes);
    }
    if (!status) {
      status =
          kiln_device_copy_to_host(gpu.device, out_stream, y_stream, bytes);
    }
    if (status) break;
    if (memcmp(out_graph, out_stream, bytes) != 0) {
      for (int64_t i = 0; i < n; ++i) {
        if (memcmp(&out_graph[i], &out_stream[i], sizeof(float)) != 0) {
          snprintf(error, sizeof(error),
                   "step %zu (n = %lld): y[%lld] is %a in graph mode, %a in "
                   "stream mode",
                   s, (long long)n, (long long)i, (double)out_graph[i],
                   (double)out_stream[i]);
          break;
        }
      }
      break;
    }
    for (int64_t i = 0; i < n; ++i) {
      float want = 2.0f * (2.0f * host[i] + 1.0f) + 1.0f;
      if (out_graph[i] != want) {
        snprintf(error, sizeof(error), "step %zu: y[%lld] is %g, expected %g",
                 s, (long long)i, (double)out_graph[i], (double)want);
        break;
      }
    }
    kiln__context_graph_stats_t stats = kiln__context_graph_stats(graphs);
    if (!error[0] &&
        (stats.captures != steps[s].captures ||
         stats.node_updates != steps[s].updates || stats.launches != s + 1)) {
      snprintf(error, sizeof(error),
               "step %zu: %llu captures, %llu node updates, %llu graph "
               "launches; expected %llu, %llu, %zu",
               s, (unsigned long long)stats.captures,
               (unsigned long long)stats.node_updates,
               (unsigned long long)stats.launches,
               (unsigned long long)steps[s].captures,
               (unsigned long long)steps[s].updates, s + 1);
    }
  }
  kiln__context_graph_stats_t stream_stats = kiln__context_graph_stats(streams);
  kiln_context_destroy(graphs);
  kiln_context_destroy(streams);
  uint64_t buffers[4] = {x, y_graph[0], y_graph[1], y_stream};
  for (int i = 0; i < 4; ++i) {
    if (buffers[i]) {
      status =
          kiln_status_join(status, kiln_device_free(gpu.device, buffers[i]));
    }
  }
  if (stream) {
    status = kiln_status_join(status, kiln_stream_destroy(gpu.device, stream));
  }
  free(host);
  free(out_graph);
  free(out_stream);
  gpu_close(&gpu);
  ASSERT_OK(status);
  if (!active) SKIP("the driver lacks the CUDA-graph functions");
  if (error[0]) FAIL("%s", error);
  ASSERT_EQ_U64(stream_stats.captures, 0);
  ASSERT_EQ_U64(stream_stats.launches, 0);
}

// Graph mode on the legacy default stream (NULL), after stream-mode work
// on it: ordering is kept (the graph reads what the copy wrote).
TEST(runtime_gpu_graph_on_legacy_stream) {
  gpu_t gpu;
  GPU_OPEN_LAYERS(gpu, false, true);
  const int64_t n = 4099;
  size_t bytes = (size_t)n * sizeof(float);
  kiln_context_t* context = NULL;
  uint64_t x = 0, y = 0;
  float* host = (float*)malloc(bytes);
  float* out = (float*)malloc(bytes);
  kiln_status_t status =
      host && out ? NULL
                  : kiln_make_status(KILN_STATUS_RESOURCE_EXHAUSTED, "host");
  if (!status) {
    status = kiln_context_create(gpu.engine, kiln_allocator_system(), &context);
  }
  if (!status) status = kiln_context_set_graph_warmup(context, 0);
  if (!status) status = kiln_device_malloc(gpu.device, bytes, &x);
  if (!status) status = kiln_device_malloc(gpu.device, bytes, &y);
  if (!status) status = kiln_context_set_input_shape(context, "x", 1, &n);
  if (!status) status = kiln_context_set_tensor_address(context, "x", x);
  if (!status) status = kiln_context_set_tensor_address(context, "y", y);
  char error[256] = "";
  for (int round = 0; !status && !error[0] && round < 3; ++round) {
    for (int64_t i = 0; i < n; ++i) host[i] = (float)(i + round);
    status = kiln_device_copy_to_device(gpu.device, x, host, bytes);
    if (!status) status = kiln_context_enqueue(context, NULL);
    if (!status) status = kiln_device_copy_to_host(gpu.device, out, y, bytes);
    for (int64_t i = 0; !status && i < n; ++i) {
      float want = 2.0f * (2.0f * host[i] + 1.0f) + 1.0f;
      if (out[i] != want) {
        snprintf(error, sizeof(error), "round %d: y[%lld] is %g, expected %g",
                 round, (long long)i, (double)out[i], (double)want);
        break;
      }
    }
  }
  kiln__context_graph_stats_t stats = kiln__context_graph_stats(context);
  bool active = context && kiln__context_graphs_active(context);
  kiln_context_destroy(context);
  if (x) status = kiln_status_join(status, kiln_device_free(gpu.device, x));
  if (y) status = kiln_status_join(status, kiln_device_free(gpu.device, y));
  free(host);
  free(out);
  gpu_close(&gpu);
  ASSERT_OK(status);
  if (!active) SKIP("the driver lacks the CUDA-graph functions");
  if (error[0]) FAIL("%s", error);
  ASSERT_EQ_U64(stats.captures, 1);
  ASSERT_EQ_U64(stats.launches, 3);
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

// Host cost of kiln_context_enqueue against a raw cuLaunchKernel loop with
// the same function and arguments, measured side by side. Reports the
// ratio; fails only when it is far off the 1.05x budget (timing is noisy
// on shared machines).
TEST(runtime_gpu_enqueue_host_overhead) {
  gpu_t gpu;
  GPU_OPEN(gpu, false);
  const kiln__cuda_driver_t* driver = gpu.device->driver;
  const int64_t n = 1024;
  kiln_context_t* context = NULL;
  uint64_t x = 0, y = 0;
  void* stream = NULL;
  kiln_status_t status =
      kiln_context_create(gpu.engine, kiln_allocator_system(), &context);
  // Stream mode: one cuLaunchKernel per layer, like the raw loop.
  if (!status) status = kiln_context_set_graphs(context, false);
  if (!status) status = kiln_stream_create(gpu.device, &stream);
  if (!status) status = kiln_device_malloc(gpu.device, (size_t)n * 4, &x);
  if (!status) status = kiln_device_malloc(gpu.device, (size_t)n * 4, &y);
  if (!status) status = kiln_context_set_input_shape(context, "x", 1, &n);
  if (!status) status = kiln_context_set_tensor_address(context, "x", x);
  if (!status) status = kiln_context_set_tensor_address(context, "y", y);
  if (!status) status = kiln_context_enqueue(context, stream);
  if (!status) status = kiln_stream_synchronize(gpu.device, stream);
  const int kBurst = 64, kRounds = 200;
  double best_kiln = 1e9, best_raw = 1e9;
  int n32 = (int)n;
  void* params[3] = {&x, &n32, &y};
  kiln__cu_function_t function = gpu.engine->kernels[0].function;
  for (int round = 0; !status && round < kRounds; ++round) {
    double t0 = now_seconds();
    for (int i = 0; !status && i < kBurst; ++i) {
      status = kiln_context_enqueue(context, stream);
    }
    double t1 = now_seconds();
    if (!status) status = kiln_stream_synchronize(gpu.device, stream);
    double t2 = now_seconds();
    for (int i = 0; !status && i < kBurst; ++i) {
      status = kiln__cuda_result_to_status(
          driver,
          driver->cuLaunchKernel(function, 4, 1, 1, 256, 1, 1, 0,
                                 (kiln__cu_stream_t)stream, params, NULL),
          "cuLaunchKernel", __FILE__, __LINE__);
    }
    double t3 = now_seconds();
    if (!status) status = kiln_stream_synchronize(gpu.device, stream);
    double kiln_us = (t1 - t0) * 1e6 / kBurst;
    double raw_us = (t3 - t2) * 1e6 / kBurst;
    if (kiln_us < best_kiln) best_kiln = kiln_us;
    if (raw_us < best_raw) best_raw = raw_us;
  }
  if (stream) {
    status = kiln_status_join(status, kiln_stream_destroy(gpu.device, stream));
  }
  if (x) status = kiln_status_join(status, kiln_device_free(gpu.device, x));
  if (y) status = kiln_status_join(status, kiln_device_free(gpu.device, y));
  kiln_context_destroy(context);
  gpu_close(&gpu);
  ASSERT_OK(status);
  double ratio = best_kiln / best_raw;
  fprintf(stderr,
          "# runtime_gpu_enqueue_host_overhead: kiln_context_enqueue %.3f us, "
          "raw cuLaunchKernel %.3f us, ratio %.3f (budget 1.05)\n",
          best_kiln, best_raw, ratio);
  ASSERT_TRUE(ratio < 1.5);
}

// A sticky error kills the CUDA context for the rest of the process, so it
// is provoked in a child process: this test re-runs the test binary with
// only runtime_gpu_sticky_child, which SKIPs unless KILN_TEST_STICKY_CHILD
// is set in its environment.
#define STICKY_CHILD_ENV "KILN_TEST_STICKY_CHILD"

TEST(runtime_gpu_sticky_child) {
  if (!getenv(STICKY_CHILD_ENV)) {
    SKIP(
        "runs only in the child process of "
        "runtime_gpu_sticky_error_loses_the_device");
  }
  gpu_t gpu;
  GPU_OPEN(gpu, false);
  kiln_context_t* context = NULL;
  uint64_t x = 0;
  const int64_t n = 1 << 16;
  kiln_status_t status =
      kiln_context_create(gpu.engine, kiln_allocator_system(), &context);
  if (!status) status = kiln_device_malloc(gpu.device, (size_t)n * 4, &x);
  if (!status) status = kiln_context_set_input_shape(context, "x", 1, &n);
  if (!status) status = kiln_context_set_tensor_address(context, "x", x);
  // y at address 0x10: every store faults.
  if (!status) status = kiln_context_set_tensor_address(context, "y", 0x10);
  if (!status) status = kiln_context_enqueue(context, NULL);
  kiln_status_t sync = status ? NULL : kiln_device_synchronize(gpu.device);
  kiln_status_t again = status ? NULL : kiln_context_enqueue(context, NULL);
  uint64_t address = 0;
  kiln_status_t s_malloc =
      status ? NULL : kiln_device_malloc(gpu.device, 16, &address);
  kiln_context_destroy(context);
  gpu_close(&gpu);
  ASSERT_OK(status);
  ASSERT_STATUS(sync, KILN_STATUS_DEVICE_LOST, "CUDA_ERROR_ILLEGAL_ADDRESS");
  ASSERT_STATUS(again, KILN_STATUS_DEVICE_LOST,
                "the GPU reported CUDA_ERROR_ILLEGAL_ADDRESS earlier; the "
                "process must restart to use it again");
  ASSERT_STATUS(s_malloc, KILN_STATUS_DEVICE_LOST, "earlier");
}

extern char** environ;

TEST(runtime_gpu_sticky_error_loses_the_device) {
  kiln_device_t* device = NULL;
  kiln_status_t status =
      kiln_device_create(0, kiln_allocator_system(), &device);
  if (kiln_status_code(status) == KILN_STATUS_UNAVAILABLE) {
    char reason[512];
    snprintf(reason, sizeof(reason), "%s", kiln_status_message(status));
    kiln_status_free(status);
    SKIP("no GPU: %s", reason);
  }
  kiln_device_release(device);
  ASSERT_OK(status);
  if (getenv(STICKY_CHILD_ENV)) SKIP("already in the child");
  size_t env_count = 0;
  while (environ[env_count]) ++env_count;
  char** env = (char**)calloc(env_count + 2, sizeof(char*));
  if (!env) FAIL("out of memory");
  memcpy(env, environ, env_count * sizeof(char*));
  env[env_count] = (char*)STICKY_CHILD_ENV "=1";
  char exe[] = "/proc/self/exe";
  char name[] = "runtime_gpu_sticky_child";
  char* argv[] = {exe, name, NULL};
  // The child's report goes to stderr, so that this test's stays the only
  // one on stdout.
  posix_spawn_file_actions_t actions;
  if (posix_spawn_file_actions_init(&actions) != 0) {
    free(env);
    FAIL("posix_spawn_file_actions_init failed");
  }
  pid_t pid = 0;
  int spawned = posix_spawn_file_actions_adddup2(&actions, 2, 1);
  if (spawned == 0) spawned = posix_spawn(&pid, exe, &actions, NULL, argv, env);
  posix_spawn_file_actions_destroy(&actions);
  free(env);
  if (spawned != 0) FAIL("posix_spawn failed: %d", spawned);
  int wait_status = 0;
  if (waitpid(pid, &wait_status, 0) != pid) FAIL("waitpid failed");
  ASSERT_TRUE(WIFEXITED(wait_status));
  ASSERT_EQ_I64(WEXITSTATUS(wait_status), 0);
}
