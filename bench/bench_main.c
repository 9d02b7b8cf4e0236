// kiln_bench: kiln against the floor, side by side in one process on the GPU.
//
// Rows (each a ratio measured in this run, alternating A and B):
//   bandwidth  the add plugin (y = x + 1) at 2^28 float32 elements through a
//              kiln context vs the same loaded cubin, the same arguments and
//              launch configuration through a plain cuLaunchKernel loop
//              (budget: >= 0.99x)
//   host cost  host time per enqueue of a one-element add vs the same
//              cuLaunchKernel (budget: <= 1.05x)
//   graph mode GPU time per layer of a 20-layer chain of adds on 4096
//              float32 elements, enqueued in graph mode (one cuGraphLaunch
//              of the context's captured graph) vs a CUDA graph made by hand
//              from the same launches (budget: <= 1.05x)
//   copy       the same add at 2^28 float32 elements vs cuMemcpyDtoDAsync of
//              the same bytes (1 GiB read + 1 GiB written), the practical
//              ceiling of a memory-bound kernel (informational; >= 0.9x
//              expected)
//
// The bandwidth and host-cost rows run their contexts in stream mode
// (kiln_context_set_graphs(false)), one cuLaunchKernel per layer, like the
// raw loop they are measured against.
//
// Method: CUDA events around the timed region (bandwidth) or the host clock
// around launches with the GPU kept busy enough not to throttle them (host
// cost); warm-up first; medians over repeats; the whole measurement twice to
// show its spread. Inputs hold a non-zero pattern and outputs are poisoned
// (0xff bytes, a NaN) before the first launch; the results are checked at
// probe positions after the runs.
//
// Usage: kiln_bench [--quick] [--markdown FILE] [--json FILE]
//   --json writes the medians per run as JSON (for bench/run), or
//   {"status": "skipped"} without a GPU.

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "example_plugins.h"
#include "kiln/kiln.h"
#include "runtime/runtime.h"

static void check(kiln_status_t status, const char* what) {
  if (!status) return;
  fprintf(stderr, "kiln_bench: %s: %s: %s\n", what,
          kiln_status_code_name(kiln_status_code(status)),
          kiln_status_message(status));
  exit(1);
}

#define CU(dev, call) check(KILN__DEVICE_CU(dev, call), #call)

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int compare_double(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

static double median(double* v, int n) {
  qsort(v, (size_t)n, sizeof(double), compare_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// An engine of |layers| add layers chained x -> ... -> y.
static kiln_blob_t* build_add_engine(uint32_t sm_arch, int64_t max_n,
                                     int layers) {
  kiln_allocator_t a = kiln_allocator_system();
  kiln_registry_t* registry = NULL;
  check(kiln_registry_create(a, NULL, &registry), "registry");
  check(kiln_example_plugins_register(registry), "plugins");
  kiln_network_t* net = NULL;
  check(kiln_network_create(registry, a, &net), "network");
  uint32_t x = 0, layer = 0, y = 0;
  int64_t dyn[1] = {-1};
  check(kiln_network_add_input(net, "x", KILN_DTYPE_FLOAT32, 1, dyn, &x), "x");
  const kiln_plugin_t* plugin = NULL;
  check(kiln_registry_lookup(registry, kiln_make_cstring_view("my::add_plugin"),
                             &plugin),
        "lookup");
  kiln_attrs_t* attrs = NULL;
  check(kiln_attrs_create(plugin, a, &attrs), "attrs");
  check(kiln_attrs_set_int64(attrs, "block_size", 1024), "block_size");
  uint32_t in = x;
  for (int i = 0; i < layers; ++i) {
    char name[32];
    snprintf(name, sizeof(name), "add%d", i);
    check(kiln_network_add_plugin(net, i ? name : "add", "my::add_plugin", &in,
                                  1, attrs, KILN_LAYER_MODE_AOT, &layer),
          "layer");
    check(kiln_network_layer_output(net, layer, 0, &y), "output");
    in = y;
  }
  kiln_attrs_destroy(attrs);
  check(kiln_network_mark_output(net, y, "y"), "mark");
  kiln_build_config_t* cfg = NULL;
  check(kiln_build_config_create(a, &cfg), "config");
  uint32_t p = 0;
  check(kiln_build_config_add_profile(cfg, &p), "profile");
  int64_t lo[1] = {1}, opt[1] = {max_n < (1 << 20) ? max_n : (1 << 20)},
          hi[1] = {max_n};
  check(kiln_build_config_set_shape(cfg, p, "x", 1, lo, opt, hi), "shape");
  check(kiln_build_config_set_targets(cfg, &sm_arch, 1), "targets");
  kiln_blob_t* engine = NULL;
  check(kiln_build(net, cfg, a, &engine), "build");
  kiln_build_config_destroy(cfg);
  kiln_network_destroy(net);
  kiln_registry_release(registry);
  return engine;
}

// The input pattern: multiples of 0.25 in [0, 256), so x + 1 and x + 20 are
// exact in float32.
static float input_value(int64_t i) {
  return (float)(i % 1024) * 0.25f;
}

// The float at element |index| of the device array at |address|.
static float probe(kiln_device_t* device, uint64_t address, int64_t index) {
  float value = 0;
  check(kiln_device_copy_to_host(device, &value, address + (uint64_t)index * 4,
                                 sizeof(value)),
        "probe");
  return value;
}

typedef struct setup_t {
  kiln_device_t* device;
  kiln_engine_t* engine;
  kiln_context_t* context;
  uint64_t x, y;
  int64_t n;
} setup_t;

// A context of |engine| for n elements, in graph mode when |graphs| (else
// stream mode: one cuLaunchKernel per layer).
static void setup_make(setup_t* s, kiln_device_t* device, kiln_engine_t* engine,
                       int64_t n, bool graphs) {
  memset(s, 0, sizeof(*s));
  s->device = device;
  s->engine = engine;
  s->n = n;
  check(kiln_context_create(engine, kiln_allocator_system(), &s->context),
        "context");
  check(kiln_context_set_graphs(s->context, graphs), "graphs");
  size_t bytes = (size_t)n * 4;
  check(kiln_device_malloc(device, bytes, &s->x), "malloc");
  check(kiln_device_malloc(device, bytes, &s->y), "malloc");
  float* host = (float*)malloc(bytes);
  if (!host) {
    fprintf(stderr, "kiln_bench: out of host memory (%zu bytes)\n", bytes);
    exit(1);
  }
  for (int64_t i = 0; i < n; ++i) host[i] = input_value(i);
  check(kiln_device_copy_to_device(device, s->x, host, bytes), "fill x");
  free(host);
  check(kiln_device_memset(device, s->y, 0xff, bytes), "poison y");
  check(kiln_context_set_input_shape(s->context, "x", 1, &n), "shape");
  check(kiln_context_set_tensor_address(s->context, "x", s->x), "x");
  check(kiln_context_set_tensor_address(s->context, "y", s->y), "y");
  // The first enqueue prepares the launch (expressions, parameters).
  check(kiln_context_enqueue(s->context, NULL), "enqueue");
  check(kiln_device_synchronize(device), "sync");
}

static void setup_free(setup_t* s) {
  check(kiln_device_free(s->device, s->x), "free");
  check(kiln_device_free(s->device, s->y), "free");
  kiln_context_destroy(s->context);
}

// The raw launch: the context's own prepared function, grid, block and
// parameter buffer, handed straight to cuLaunchKernel.
static void raw_launch(const setup_t* s) {
  const kiln__runtime_launch_t* l = &s->context->launches[0];
  CU(s->device, cuLaunchKernel(l->function, l->grid[0], l->grid[1], l->grid[2],
                               l->block[0], l->block[1], l->block[2],
                               l->shared_bytes, NULL, l->params, NULL));
}

// Milliseconds for |count| launches, by CUDA events.
static double time_launches(const setup_t* s, bool raw, int count) {
  kiln_device_t* d = s->device;
  kiln__cu_event_t start, stop;
  CU(d, cuEventCreate(&start, 0));
  CU(d, cuEventCreate(&stop, 0));
  CU(d, cuEventRecord(start, NULL));
  for (int i = 0; i < count; ++i) {
    if (raw) {
      raw_launch(s);
    } else {
      check(kiln_context_enqueue(s->context, NULL), "enqueue");
    }
  }
  CU(d, cuEventRecord(stop, NULL));
  CU(d, cuEventSynchronize(stop));
  float ms = 0;
  CU(d, cuEventElapsedTime(&ms, start, stop));
  CU(d, cuEventDestroy(start));
  CU(d, cuEventDestroy(stop));
  return ms;
}

// Milliseconds for |count| device-to-device copies of the input of |s| to
// |dst| on the legacy stream, by CUDA events.
static double time_copies(const setup_t* s, uint64_t dst, int count) {
  kiln_device_t* d = s->device;
  size_t bytes = (size_t)s->n * 4;
  kiln__cu_event_t start, stop;
  CU(d, cuEventCreate(&start, 0));
  CU(d, cuEventCreate(&stop, 0));
  CU(d, cuEventRecord(start, NULL));
  for (int i = 0; i < count; ++i) {
    CU(d, cuMemcpyDtoDAsync(dst, s->x, bytes, NULL));
  }
  CU(d, cuEventRecord(stop, NULL));
  CU(d, cuEventSynchronize(stop));
  float ms = 0;
  CU(d, cuEventElapsedTime(&ms, start, stop));
  CU(d, cuEventDestroy(start));
  CU(d, cuEventDestroy(stop));
  return ms;
}

// Host microseconds per launch over |count| launches.
static double host_cost(const setup_t* s, bool raw, int count) {
  check(kiln_device_synchronize(s->device), "sync");
  double t0 = now_us();
  for (int i = 0; i < count; ++i) {
    if (raw) {
      raw_launch(s);
    } else {
      check(kiln_context_enqueue(s->context, NULL), "enqueue");
    }
  }
  double t1 = now_us();
  check(kiln_device_synchronize(s->device), "sync");
  return (t1 - t0) / count;
}

// A graph of the context's prepared launches, made by hand: the same
// cuLaunchKernel calls captured on a stream of our own.
static kiln__cu_graph_exec_t hand_graph(const setup_t* s) {
  kiln_device_t* d = s->device;
  if (!kiln__cuda_driver_has_graphs(d->driver)) return NULL;
  kiln__cu_stream_t stream = NULL;
  kiln__cu_graph_t graph = NULL;
  kiln__cu_graph_exec_t exec = NULL;
  CU(d, cuStreamCreate(&stream, KILN_CU_STREAM_NON_BLOCKING));
  CU(d, cuStreamBeginCapture(stream, KILN_CU_STREAM_CAPTURE_MODE_THREAD_LOCAL));
  for (uint32_t i = 0; i < s->context->launch_count; ++i) {
    const kiln__runtime_launch_t* l = &s->context->launches[i];
    CU(d, cuLaunchKernel(l->function, l->grid[0], l->grid[1], l->grid[2],
                         l->block[0], l->block[1], l->block[2], l->shared_bytes,
                         stream, l->params, NULL));
  }
  CU(d, cuStreamEndCapture(stream, &graph));
  CU(d, cuGraphInstantiateWithFlags(&exec, graph, 0));
  CU(d, cuGraphDestroy(graph));
  CU(d, cuStreamDestroy(stream));
  return exec;
}

// Milliseconds for |count| runs of the engine, by CUDA events: kiln
// enqueues (graph mode) or launches of the hand-made graph |exec|.
static double time_graphs(const setup_t* s, kiln__cu_graph_exec_t exec,
                          int count) {
  kiln_device_t* d = s->device;
  kiln__cu_event_t start, stop;
  CU(d, cuEventCreate(&start, 0));
  CU(d, cuEventCreate(&stop, 0));
  CU(d, cuEventRecord(start, NULL));
  for (int i = 0; i < count; ++i) {
    if (exec) {
      CU(d, cuGraphLaunch(exec, NULL));
    } else {
      check(kiln_context_enqueue(s->context, NULL), "enqueue");
    }
  }
  CU(d, cuEventRecord(stop, NULL));
  CU(d, cuEventSynchronize(stop));
  float ms = 0;
  CU(d, cuEventElapsedTime(&ms, start, stop));
  CU(d, cuEventDestroy(start));
  CU(d, cuEventDestroy(stop));
  return ms;
}

typedef struct row_t {
  const char* id;  // the key in --json output
  const char* name;
  double kiln[2], raw[2];  // per run: medians
  const char* unit;
  double budget;
  bool higher_is_better;
  bool informational;  // |budget| is an expectation, not a requirement
} row_t;

static void json_string(FILE* f, const char* s) {
  fputc('"', f);
  for (; s && *s; ++s) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      fprintf(f, "\\%c", c);
    } else if (c < 0x20) {
      fprintf(f, "\\u%04x", c);
    } else {
      fputc(c, f);
    }
  }
  fputc('"', f);
}

// {"bench": "kiln_bench", "status": "skipped", "reason": ...} without a GPU.
static void write_json_skipped(const char* path, const char* reason) {
  FILE* f = path ? fopen(path, "w") : NULL;
  if (!f) return;
  fprintf(f,
          "{\"bench\": \"kiln_bench\", \"status\": \"skipped\", "
          "\"reason\": ");
  json_string(f, reason);
  fprintf(f, "}\n");
  fclose(f);
}

int main(int argc, char** argv) {
  bool quick = false;
  const char* markdown = NULL;
  const char* json = NULL;
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else if (strcmp(argv[i], "--markdown") == 0 && i + 1 < argc) {
      markdown = argv[++i];
    } else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc) {
      json = argv[++i];
    } else {
      fprintf(stderr,
              "usage: kiln_bench [--quick] [--markdown FILE] [--json FILE]\n");
      return 2;
    }
  }
  kiln_device_t* device = NULL;
  kiln_status_t status =
      kiln_device_create(0, kiln_allocator_system(), &device);
  if (status) {
    char reason[1024];
    snprintf(reason, sizeof(reason), "no GPU: %s", kiln_status_message(status));
    printf("kiln_bench: %s; nothing measured\n", reason);
    kiln_status_free(status);
    write_json_skipped(json, reason);
    return 0;
  }
  int driver_version = 0;
  CU(device, cuDriverGetVersion(&driver_version));
  const int64_t big = quick ? (INT64_C(1) << 24) : (INT64_C(1) << 28);
  kiln_blob_t* blob = build_add_engine(kiln_device_sm_arch(device), big, 1);
  kiln_engine_t* engine = NULL;
  check(kiln_engine_load(device, kiln_blob_bytes(blob), NULL,
                         kiln_allocator_system(), &engine),
        "load");
  const int chain_layers = 20;
  const int64_t chain_n = 4096;
  kiln_blob_t* chain_blob =
      build_add_engine(kiln_device_sm_arch(device), chain_n, chain_layers);
  kiln_engine_t* chain_engine = NULL;
  check(kiln_engine_load(device, kiln_blob_bytes(chain_blob), NULL,
                         kiln_allocator_system(), &chain_engine),
        "load chain");

  enum { kBandwidth, kHostCost, kGraph, kCopy, kRows };
  row_t rows[kRows] = {
      [kBandwidth] = {"bandwidth",
                      "add 2^28 fp32 bandwidth, kiln vs same cubin by "
                      "cuLaunchKernel",
                      {0},
                      {0},
                      "GB/s",
                      0.99,
                      true,
                      false},
      [kHostCost] = {"host_cost",
                     "host cost per enqueue (1 element), kiln vs "
                     "cuLaunchKernel",
                     {0},
                     {0},
                     "us",
                     1.05,
                     false,
                     false},
      [kGraph] = {"graph_layer",
                  "GPU time per layer, 20 adds of 4096 fp32, graph mode vs "
                  "hand graph",
                  {0},
                  {0},
                  "us",
                  1.05,
                  false,
                  false},
      [kCopy] = {"copy",
                 "add 2^28 fp32 bandwidth, kiln vs cuMemcpyDtoDAsync of the "
                 "same bytes",
                 {0},
                 {0},
                 "GB/s",
                 0.9,
                 true,
                 true},
  };
  setup_t large, small, chain;
  setup_make(&large, device, engine, big, false);
  setup_make(&small, device, engine, 1, false);
  setup_make(&chain, device, chain_engine, chain_n, true);
  uint64_t copy_dst = 0;
  check(kiln_device_malloc(device, (size_t)big * 4, &copy_dst), "malloc copy");
  check(kiln_device_memset(device, copy_dst, 0xff, (size_t)big * 4),
        "poison copy");
  bool graph_mode = kiln__context_graphs_active(chain.context);
  kiln__cu_graph_exec_t chain_graph = hand_graph(&chain);
  const int graph_runs = quick ? 200 : 1000;
  bool have_graph_row = graph_mode && chain_graph;
  const char* graph_skip = have_graph_row ? ""
                           : graph_mode
                               ? "the hand-made graph could not be built"
                               : "the driver lacks the CUDA-graph functions";
  const int reps = quick ? 5 : 11;
  const int launches = 10;
  const int host_launches = quick ? 2000 : 20000;
  double bytes = 2.0 * (double)big * 4.0;
  for (int run = 0; run < 2; ++run) {
    double k[64], r[64], hk[64], hr[64], ck[64], cc[64];
    time_launches(&large, true, 3);  // warm-up
    time_launches(&large, false, 3);
    time_copies(&large, copy_dst, 3);
    for (int i = 0; i < reps; ++i) {
      double tr = time_launches(&large, true, launches);
      double tk = time_launches(&large, false, launches);
      r[i] = bytes * launches / (tr * 1e-3) / 1e9;
      k[i] = bytes * launches / (tk * 1e-3) / 1e9;
    }
    // The copy row: alternating copies and kiln enqueues, as above.
    for (int i = 0; i < reps; ++i) {
      double tc = time_copies(&large, copy_dst, launches);
      double tk = time_launches(&large, false, launches);
      cc[i] = bytes * launches / (tc * 1e-3) / 1e9;
      ck[i] = bytes * launches / (tk * 1e-3) / 1e9;
    }
    host_cost(&small, true, 1000);
    host_cost(&small, false, 1000);
    for (int i = 0; i < reps; ++i) {
      hr[i] = host_cost(&small, true, host_launches);
      hk[i] = host_cost(&small, false, host_launches);
    }
    rows[kBandwidth].kiln[run] = median(k, reps);
    rows[kBandwidth].raw[run] = median(r, reps);
    rows[kCopy].kiln[run] = median(ck, reps);
    rows[kCopy].raw[run] = median(cc, reps);
    rows[kHostCost].kiln[run] = median(hk, reps);
    rows[kHostCost].raw[run] = median(hr, reps);
    if (have_graph_row) {
      double gk[64], gh[64];
      time_graphs(&chain, chain_graph, 20);  // warm-up
      time_graphs(&chain, NULL, 20);
      double per_layer = 1e3 / ((double)graph_runs * chain_layers);
      for (int i = 0; i < reps; ++i) {
        gh[i] = time_graphs(&chain, chain_graph, graph_runs) * per_layer;
        gk[i] = time_graphs(&chain, NULL, graph_runs) * per_layer;
      }
      rows[kGraph].kiln[run] = median(gk, reps);
      rows[kGraph].raw[run] = median(gh, reps);
    }
  }
  // The results are right: y = x + 1 (large, small), y = x + 20 (chain),
  // the copy equals x, at probe positions across each array.
  check(kiln_device_synchronize(device), "sync");
  bool correct = true;
  const int64_t positions[4] = {0, 1, big / 2 + 3, big - 1};
  for (int i = 0; i < 4; ++i) {
    int64_t at = positions[i];
    float want = input_value(at) + 1.0f;
    float got = probe(device, large.y, at);
    float copied = probe(device, copy_dst, at);
    if (got != want || copied != input_value(at)) {
      printf("WRONG: y[%lld] = %g (want %g), copy[%lld] = %g (want %g)\n",
             (long long)at, (double)got, (double)want, (long long)at,
             (double)copied, (double)input_value(at));
      correct = false;
    }
  }
  const int64_t chain_positions[3] = {0, chain_n / 2 + 1, chain_n - 1};
  for (int i = 0; i < 3; ++i) {
    int64_t at = chain_positions[i];
    float want = input_value(at) + (float)chain_layers;
    float got = probe(device, chain.y, at);
    if (got != want) {
      printf("WRONG: chain y[%lld] = %g (want %g)\n", (long long)at,
             (double)got, (double)want);
      correct = false;
    }
  }
  if (probe(device, small.y, 0) != input_value(0) + 1.0f) {
    printf("WRONG: one-element y[0] = %g\n", (double)probe(device, small.y, 0));
    correct = false;
  }
  if (!have_graph_row) printf("graph mode row skipped: %s\n", graph_skip);

  printf("\ndevice: %s (sm_%u, CUDA driver %d.%d); results %s\n",
         kiln_device_name(device), kiln_device_sm_arch(device),
         driver_version / 1000, driver_version % 1000 / 10,
         correct ? "correct" : "WRONG");
  printf("%-72s %12s %12s %14s %8s %s\n", "measurement", "kiln", "raw",
         "ratio (2 runs)", "budget", "met");
  FILE* md = markdown ? fopen(markdown, "w") : NULL;
  if (md) {
    fprintf(
        md,
        "| measurement | kiln | raw | ratio, run 1 / run 2 | budget | met |\n"
        "|---|---|---|---|---|---|\n");
  }
  bool all = correct;
  const int order[kRows] = {kBandwidth, kCopy, kHostCost, kGraph};
  for (int o = 0; o < kRows; ++o) {
    row_t* row = &rows[order[o]];
    if (order[o] == kGraph && !have_graph_row) continue;
    double q0 = row->kiln[0] / row->raw[0], q1 = row->kiln[1] / row->raw[1];
    bool met = row->higher_is_better ? (q0 >= row->budget && q1 >= row->budget)
                                     : (q0 <= row->budget && q1 <= row->budget);
    if (!row->informational) all &= met;
    const char* verdict = row->informational ? (met ? "as expected" : "below")
                          : met              ? "yes"
                                             : "NO";
    printf("%-72s %9.2f %-2s %9.2f %-2s %6.3f/%-6.3f %s%s%-5.2f %s\n",
           row->name, row->kiln[1], row->unit, row->raw[1], row->unit, q0, q1,
           row->informational ? "~" : "",
           row->higher_is_better ? ">=" : "<=", row->budget, verdict);
    if (md) {
      fprintf(md, "| %s | %.2f %s | %.2f %s | %.3f / %.3f | %s%s %.2f | %s |\n",
              row->name, row->kiln[1], row->unit, row->raw[1], row->unit, q0,
              q1, row->informational ? "informational, " : "",
              row->higher_is_better ? "≥" : "≤", row->budget,
              row->informational ? (met ? "as expected" : "below expectation")
              : met              ? "yes"
                                 : "no");
    }
  }
  if (md) fclose(md);
  FILE* js = json ? fopen(json, "w") : NULL;
  if (json && !js) perror(json);
  if (js) {
    fprintf(js, "{\"bench\": \"kiln_bench\", \"status\": \"ok\", \"device\": ");
    json_string(js, kiln_device_name(device));
    fprintf(js,
            ", \"sm_arch\": %u, \"cuda_driver_version\": %d, \"quick\": %s, "
            "\"correct\": %s, \"elements\": %lld, \"chain_layers\": %d, "
            "\"chain_elements\": %lld, \"rows\": {",
            kiln_device_sm_arch(device), driver_version,
            quick ? "true" : "false", correct ? "true" : "false",
            (long long)big, chain_layers, (long long)chain_n);
    for (int i = 0; i < kRows; ++i) {
      const row_t* row = &rows[i];
      fprintf(js, "%s\n  \"%s\": ", i ? "," : "", row->id);
      if (i == kGraph && !have_graph_row) {
        fprintf(js, "{\"skipped\": ");
        json_string(js, graph_skip);
        fprintf(js, "}");
        continue;
      }
      fprintf(js,
              "{\"unit\": \"%s\", \"kiln\": [%.6g, %.6g], "
              "\"baseline\": [%.6g, %.6g]}",
              row->unit, row->kiln[0], row->kiln[1], row->raw[0], row->raw[1]);
    }
    fprintf(js, "\n}}\n");
    if (fclose(js) != 0) perror(json);
  }
  if (chain_graph) CU(device, cuGraphExecDestroy(chain_graph));
  check(kiln_device_free(device, copy_dst), "free copy");
  setup_free(&large);
  setup_free(&small);
  setup_free(&chain);
  kiln_engine_release(engine);
  kiln_blob_destroy(blob);
  kiln_engine_release(chain_engine);
  kiln_blob_destroy(chain_blob);
  kiln_device_release(device);
  return all ? 0 : 1;
}
