// kiln_coldstart: how long a fresh process takes from its start to the first
// result of an engine, with cubins and with PTX only (the driver's JIT), for
// engines of 1, 10 and 50 distinct kernels (bench_network.c: layer k adds k).
//
// The parent builds the engines for the GPU's architecture (so they hold
// each kernel's PTX and its exact-arch cubin), writes them to a temporary
// directory, then for every sample spawns a fresh copy of itself in --child
// mode (posix_spawn) with CUDA_CACHE_DISABLE=1 in its environment: the
// driver's JIT cache would otherwise keep the compiled PTX from one child to
// the next and hide its cost. The parent reads CLOCK_MONOTONIC just before
// posix_spawn; the child reads it at main entry, after kiln_device_create
// (driver load, cuInit, device, primary context), after reading the file and
// kiln_engine_load, after kiln_context_create and its buffers (4096 floats,
// input 0.5, output poisoned, shape and addresses set), and once the first
// result is on the host (enqueue on the legacy stream in the context's
// default mode, synchronize, copy y back, check every element), and writes
// them to its stdout, a pipe to the parent. The parent keeps its own CUDA
// context open meanwhile, so that the GPU stays initialized between children
// as it would with persistence mode on.
//
// Phases (ms): spawn (posix_spawn to main: exec, dynamic linking), init
// (driver and context), load (engine file and kernels), context (context
// and buffers), first (enqueue to the first result on the host); total is
// the sum. Each sample alternates cubin and PTX; the repeats run twice (run
// 1 / run 2) to show the spread; a warm-up child of each kind runs first.
//
// Usage: kiln_coldstart [--quick] [--repeats N] [--kernels 1,10,50]
//                       [--max-seconds S] [--json FILE]
//        kiln_coldstart --dry-run [--arch SM] [--kernels 1,2]
//          (no GPU needed: builds the engines for SM, spawns one child per
//          engine and kind, and checks that each reports back, an error
//          included)
//        kiln_coldstart --simulate [--arch SM] [--json FILE] ...
//          (no GPU needed: the whole measurement with children that read the
//          engine file and report timestamps without touching the GPU; for
//          testing this program and bench/run)
//        kiln_coldstart --child ENGINE --kernels N [--force-ptx] [--simulate]

#include <errno.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_network.h"
#include "kiln/kiln.h"

extern char** environ;

// --simulate: children that do not touch the GPU (see the usage above).
static bool g_simulate;

enum {
  kMaxEngines = 8,
  kMaxRepeats = 32,
  kElements = 4096,
};

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + (int64_t)ts.tv_nsec;
}

static int compare_double(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

static double median(const double* values, int n) {
  double v[kMaxRepeats];
  if (n <= 0) return 0;
  memcpy(v, values, (size_t)n * sizeof(double));
  qsort(v, (size_t)n, sizeof(double), compare_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static kiln_status_t read_file(const char* path, uint8_t** out_data,
                               size_t* out_size) {
  *out_data = NULL;
  *out_size = 0;
  FILE* f = fopen(path, "rb");
  if (!f) {
    return kiln_make_status(KILN_STATUS_NOT_FOUND, "cannot open %s: %s", path,
                            strerror(errno));
  }
  kiln_status_t status = NULL;
  long size = -1;
  if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
  if (size < 0 || fseek(f, 0, SEEK_SET) != 0) {
    status = kiln_make_status(KILN_STATUS_DATA_LOSS, "cannot size %s", path);
  }
  uint8_t* data = NULL;
  if (!status) {
    data = (uint8_t*)malloc(size ? (size_t)size : 1);
    if (!data) {
      status =
          kiln_make_status(KILN_STATUS_RESOURCE_EXHAUSTED, "%ld bytes", size);
    }
  }
  if (!status && fread(data, 1, (size_t)size, f) != (size_t)size) {
    status = kiln_make_status(KILN_STATUS_DATA_LOSS, "short read of %s", path);
  }
  fclose(f);
  if (status) {
    free(data);
    return status;
  }
  *out_data = data;
  *out_size = (size_t)size;
  return NULL;
}

static kiln_status_t write_file(const char* path, kiln_const_bytes_t bytes) {
  FILE* f = fopen(path, "wb");
  if (!f) {
    return kiln_make_status(KILN_STATUS_NOT_FOUND, "cannot create %s: %s", path,
                            strerror(errno));
  }
  bool ok = fwrite(bytes.data, 1, bytes.size, f) == bytes.size;
  ok &= fclose(f) == 0;
  return ok ? NULL
            : kiln_make_status(KILN_STATUS_DATA_LOSS, "cannot write %s", path);
}

//===----------------------------------------------------------------------===//
// The child: one cold start, timed from main.
//===----------------------------------------------------------------------===//

// A simulated child: reads the engine file and reports, no GPU.
static int child_simulate(int64_t t_main, const char* path) {
  uint8_t* file = NULL;
  size_t size = 0;
  int64_t t_device = now_ns();
  kiln_status_t status = read_file(path, &file, &size);
  free(file);
  int64_t t_load = now_ns();
  if (status) {
    printf("coldstart-child error %s\n", kiln_status_message(status));
    kiln_status_free(status);
    return 2;
  }
  int64_t t_end = now_ns();
  printf("coldstart-child ok %lld %lld %lld %lld %lld\n", (long long)t_main,
         (long long)t_device, (long long)t_load, (long long)t_end,
         (long long)t_end);
  return 0;
}

static int child_main(int64_t t_main, const char* path, int layers,
                      bool force_ptx) {
  kiln_allocator_t a = kiln_allocator_system();
  kiln_device_t* device = NULL;
  kiln_engine_t* engine = NULL;
  kiln_context_t* context = NULL;
  uint64_t x = 0, y = 0;
  uint8_t* file = NULL;
  size_t file_size = 0;
  int64_t t_device = 0, t_load = 0, t_context = 0, t_first = 0;
  static float host[kElements];
  int wrong = -1;

  kiln_status_t status = kiln_device_create(0, a, &device);
  t_device = now_ns();
  if (!status) status = read_file(path, &file, &file_size);
  if (!status) {
    kiln_engine_load_options_t load;
    memset(&load, 0, sizeof(load));
    load.force_ptx = force_ptx;
    kiln_const_bytes_t bytes = {file, file_size};
    status = kiln_engine_load(device, bytes, &load, a, &engine);
  }
  t_load = now_ns();
  free(file);
  if (!status) status = kiln_context_create(engine, a, &context);
  const size_t bytes = sizeof(host);
  if (!status) status = kiln_device_malloc(device, bytes, &x);
  if (!status) status = kiln_device_malloc(device, bytes, &y);
  for (int i = 0; i < kElements; ++i) host[i] = 0.5f;
  if (!status) status = kiln_device_copy_to_device(device, x, host, bytes);
  // Poisoned (NaN), so that a stale result in reused memory cannot pass.
  if (!status) status = kiln_device_memset(device, y, 0xff, bytes);
  const int64_t n = kElements;
  if (!status) status = kiln_context_set_input_shape(context, "x", 1, &n);
  if (!status) status = kiln_context_set_tensor_address(context, "x", x);
  if (!status) status = kiln_context_set_tensor_address(context, "y", y);
  t_context = now_ns();
  if (!status) status = kiln_context_enqueue(context, NULL);
  if (!status) status = kiln_device_synchronize(device);
  if (!status) {
    memset(host, 0, sizeof(host));
    status = kiln_device_copy_to_host(device, host, y, bytes);
  }
  const float expected = bench_network_expected(layers, 0.5f);
  for (int i = 0; i < kElements && !status && wrong < 0; ++i) {
    if (host[i] != expected) wrong = i;
  }
  t_first = now_ns();

  int rc = 0;
  if (status) {
    printf("coldstart-child error %s: %s\n",
           kiln_status_code_name(kiln_status_code(status)),
           kiln_status_message(status));
    rc = 2;
  } else if (wrong >= 0) {
    printf("coldstart-child error wrong result: y[%d] = %g, expected %g\n",
           wrong, (double)host[wrong], (double)expected);
    rc = 3;
  } else {
    printf("coldstart-child ok %lld %lld %lld %lld %lld\n", (long long)t_main,
           (long long)t_device, (long long)t_load, (long long)t_context,
           (long long)t_first);
  }
  fflush(stdout);
  kiln_status_free(status);
  if (device) {
    kiln_status_free(kiln_device_free(device, x));
    kiln_status_free(kiln_device_free(device, y));
  }
  kiln_context_destroy(context);
  kiln_engine_release(engine);
  kiln_device_release(device);
  return rc;
}

//===----------------------------------------------------------------------===//
// The parent: builds, spawns, collects.
//===----------------------------------------------------------------------===//

typedef struct sample_t {
  double spawn_ms, init_ms, load_ms, context_ms, first_ms, total_ms;
} sample_t;

// The environment of every child: the parent's, with the driver's JIT cache
// off and kiln's compile cache off.
static char** child_environment(void) {
  size_t n = 0;
  while (environ && environ[n]) ++n;
  char** envp = (char**)calloc(n + 3, sizeof(char*));
  if (!envp) return NULL;
  size_t k = 0;
  for (size_t i = 0; i < n; ++i) {
    if (strncmp(environ[i], "CUDA_CACHE_DISABLE=", 19) == 0) continue;
    if (strncmp(environ[i], "KILN_CACHE_DIR=", 15) == 0) continue;
    envp[k++] = environ[i];
  }
  static char cache_off[] = "CUDA_CACHE_DISABLE=1";
  static char kiln_cache_off[] = "KILN_CACHE_DIR=off";
  envp[k++] = cache_off;
  envp[k++] = kiln_cache_off;
  envp[k] = NULL;
  return envp;
}

// How a child ended.
typedef enum child_result_e {
  CHILD_RESULT_OK = 0,      // measured: |*out| is filled
  CHILD_RESULT_ERROR = 1,   // it reported an error (in |error|)
  CHILD_RESULT_SILENT = 2,  // it could not be started or said nothing
} child_result_t;

// Runs one child. Fills |*out| for CHILD_RESULT_OK; otherwise writes what
// went wrong to |error|.
static child_result_t spawn_child(const char* self, const char* engine_path,
                                  int layers, bool force_ptx, char** envp,
                                  sample_t* out, char* error,
                                  size_t error_size) {
  memset(out, 0, sizeof(*out));
  error[0] = '\0';
  int fds[2];
  if (pipe(fds) != 0) {
    snprintf(error, error_size, "pipe: %s", strerror(errno));
    return CHILD_RESULT_SILENT;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  posix_spawn_file_actions_addclose(&actions, fds[1]);
  char arg_self[4096], arg_engine[4096], arg_layers[16];
  char arg_child[] = "--child", arg_kernels[] = "--kernels",
       arg_ptx[] = "--force-ptx", arg_simulate[] = "--simulate";
  snprintf(arg_self, sizeof(arg_self), "%s", self);
  snprintf(arg_engine, sizeof(arg_engine), "%s", engine_path);
  snprintf(arg_layers, sizeof(arg_layers), "%d", layers);
  char* argv[8] = {arg_self, arg_child, arg_engine, arg_kernels, arg_layers};
  int argc = 5;
  if (force_ptx) argv[argc++] = arg_ptx;
  if (g_simulate) argv[argc++] = arg_simulate;
  argv[argc] = NULL;
  pid_t pid = 0;
  int64_t t0 = now_ns();
  int rc = posix_spawn(&pid, self, &actions, NULL, argv, envp);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    snprintf(error, error_size, "posix_spawn %s: %s", self, strerror(rc));
    return CHILD_RESULT_SILENT;
  }
  char buffer[8192];
  size_t used = 0;
  for (;;) {
    ssize_t got = read(fds[0], buffer + used, sizeof(buffer) - 1 - used);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    used += (size_t)got;
    if (used == sizeof(buffer) - 1) used = 0;  // keep reading; keep the end
  }
  buffer[used] = '\0';
  close(fds[0]);
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  const char* line = strstr(buffer, "coldstart-child ");
  if (!line) {
    snprintf(error, error_size,
             "the child reported nothing (%s %d); its output: %.300s",
             WIFEXITED(wstatus) ? "exit status" : "signal",
             WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : WTERMSIG(wstatus),
             buffer);
    return CHILD_RESULT_SILENT;
  }
  long long t[5];
  if (sscanf(line, "coldstart-child ok %lld %lld %lld %lld %lld", &t[0], &t[1],
             &t[2], &t[3], &t[4]) != 5) {
    const char* text = line + strlen("coldstart-child ");
    const char* end = strchr(text, '\n');
    int len = end ? (int)(end - text) : (int)strlen(text);
    snprintf(error, error_size, "%.*s", len, text);
    return CHILD_RESULT_ERROR;
  }
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
    snprintf(error, error_size, "the child reported success but exited with %d",
             wstatus);
    return CHILD_RESULT_ERROR;
  }
  out->spawn_ms = (double)(t[0] - t0) / 1e6;
  out->init_ms = (double)(t[1] - t[0]) / 1e6;
  out->load_ms = (double)(t[2] - t[1]) / 1e6;
  out->context_ms = (double)(t[3] - t[2]) / 1e6;
  out->first_ms = (double)(t[4] - t[3]) / 1e6;
  out->total_ms = (double)(t[4] - t0) / 1e6;
  return CHILD_RESULT_OK;
}

typedef struct engine_t {
  int kernels;
  size_t bytes;
  char path[4200];
  // [run][kind: 0 cubin, 1 PTX][repeat]
  sample_t samples[2][2][kMaxRepeats];
} engine_t;

typedef struct options_t {
  bool quick, dry_run, simulate;
  int repeats;
  double max_seconds;
  uint32_t arch;
  const char* json;
  int kernels[kMaxEngines];
  int engine_count;
} options_t;

static bool parse_kernels(const char* text, options_t* opt) {
  opt->engine_count = 0;
  const char* p = text;
  while (*p) {
    char* end = NULL;
    long v = strtol(p, &end, 10);
    if (end == p || v < 1 || v > 1000 || opt->engine_count == kMaxEngines) {
      return false;
    }
    opt->kernels[opt->engine_count++] = (int)v;
    p = *end == ',' ? end + 1 : end;
    if (*end && *end != ',') return false;
  }
  return opt->engine_count > 0;
}

static void usage(void) {
  fprintf(stderr,
          "usage: kiln_coldstart [--quick] [--repeats N] [--kernels 1,10,50] "
          "[--max-seconds S] [--json FILE]\n"
          "       kiln_coldstart --dry-run [--arch SM] [--kernels LIST]\n"
          "       kiln_coldstart --simulate [--arch SM] [other options]\n"
          "       kiln_coldstart --child ENGINE --kernels N [--force-ptx]\n");
}

static void json_escape(FILE* f, const char* s) {
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

// Writes the JSON (status "ok", or "skipped"/"failed" with |reason|).
static void write_json(const options_t* opt, const char* status,
                       const char* reason, const char* device_name,
                       const engine_t* engines, const int* done) {
  if (!opt->json) return;
  FILE* f = fopen(opt->json, "w");
  if (!f) {
    perror(opt->json);
    return;
  }
  const char* loading = getenv("CUDA_MODULE_LOADING");
  fprintf(f, "{\"bench\": \"kiln_coldstart\", \"status\": ");
  json_escape(f, status);
  fprintf(f, ", \"reason\": ");
  json_escape(f, reason ? reason : "");
  fprintf(f, ", \"device\": ");
  json_escape(f, device_name ? device_name : "");
  fprintf(f, ", \"sm_arch\": %u, \"quick\": %s, \"repeats\": %d", opt->arch,
          opt->quick ? "true" : "false", opt->repeats);
  fprintf(f, ", \"repeats_done\": [%d, %d], \"module_loading\": ", done[0],
          done[1]);
  json_escape(f, loading ? loading : "unset (driver default)");
  fprintf(f, ", \"engines\": [");
  static const char* const kKinds[2] = {"cubin", "ptx"};
  for (int e = 0; engines && e < opt->engine_count; ++e) {
    const engine_t* en = &engines[e];
    fprintf(f, "%s\n  {\"kernels\": %d, \"bytes\": %zu, \"runs\": [",
            e ? "," : "", en->kernels, en->bytes);
    for (int r = 0; r < 2; ++r) {
      fprintf(f, "%s{", r ? ", " : "");
      for (int k = 0; k < 2; ++k) {
        fprintf(f, "%s\"%s\": [", k ? ", " : "", kKinds[k]);
        for (int i = 0; i < done[r]; ++i) {
          const sample_t* s = &en->samples[r][k][i];
          fprintf(f,
                  "%s{\"spawn_ms\": %.4f, \"init_ms\": %.4f, \"load_ms\": "
                  "%.4f, \"context_ms\": %.4f, \"first_ms\": %.4f, "
                  "\"total_ms\": %.4f}",
                  i ? ", " : "", s->spawn_ms, s->init_ms, s->load_ms,
                  s->context_ms, s->first_ms, s->total_ms);
        }
        fprintf(f, "]");
      }
      fprintf(f, "}");
    }
    fprintf(f, "]}");
  }
  fprintf(f, "\n]}\n");
  if (fclose(f) != 0) perror(opt->json);
}

static void print_phase_table(const options_t* opt, const engine_t* engines,
                              const int* done) {
  static const char* const kKinds[2] = {"cubin", "PTX"};
  printf(
      "\ncold start, a fresh process per sample, CUDA_CACHE_DISABLE=1; "
      "medians of %d / %d repeats (run 1 / run 2), ms:\n",
      done[0], done[1]);
  printf("%-8s %-6s %-19s %-15s %-15s %-19s %-15s %-15s\n", "kernels", "image",
         "total", "spawn", "driver init", "engine load", "context",
         "first result");
  for (int e = 0; e < opt->engine_count; ++e) {
    for (int k = 0; k < 2; ++k) {
      double m[2][6];
      for (int r = 0; r < 2; ++r) {
        double v[6][kMaxRepeats];
        for (int i = 0; i < done[r]; ++i) {
          const sample_t* s = &engines[e].samples[r][k][i];
          v[0][i] = s->total_ms;
          v[1][i] = s->spawn_ms;
          v[2][i] = s->init_ms;
          v[3][i] = s->load_ms;
          v[4][i] = s->context_ms;
          v[5][i] = s->first_ms;
        }
        for (int j = 0; j < 6; ++j) m[r][j] = median(v[j], done[r]);
      }
      printf(
          "%-8d %-6s %9.2f/%-9.2f %7.2f/%-7.2f %7.2f/%-7.2f %9.3f/%-9.3f "
          "%7.3f/%-7.3f %7.3f/%-7.3f\n",
          engines[e].kernels, kKinds[k], m[0][0], m[1][0], m[0][1], m[1][1],
          m[0][2], m[1][2], m[0][3], m[1][3], m[0][4], m[1][4], m[0][5],
          m[1][5]);
    }
  }
  printf("\nPTX-only / cubin (run 1 / run 2):\n");
  for (int e = 0; e < opt->engine_count; ++e) {
    double q[2][3];
    for (int r = 0; r < 2; ++r) {
      double tot[2], load[2], rest[2];
      for (int k = 0; k < 2; ++k) {
        double a[kMaxRepeats], b[kMaxRepeats], c[kMaxRepeats];
        for (int i = 0; i < done[r]; ++i) {
          const sample_t* s = &engines[e].samples[r][k][i];
          a[i] = s->total_ms;
          b[i] = s->load_ms;
          c[i] = s->load_ms + s->context_ms + s->first_ms;
        }
        tot[k] = median(a, done[r]);
        load[k] = median(b, done[r]);
        rest[k] = median(c, done[r]);
      }
      q[r][0] = tot[1] / tot[0];
      q[r][1] = load[1] / load[0];
      q[r][2] = rest[1] / rest[0];
    }
    printf(
        "  %2d kernels: total %.2f / %.2f, engine load %.1f / %.1f, "
        "load to first result %.1f / %.1f\n",
        engines[e].kernels, q[0][0], q[1][0], q[0][1], q[1][1], q[0][2],
        q[1][2]);
  }
}

static int parent_main(const options_t* opt_in, const char* self) {
  options_t options = *opt_in;
  options_t* opt = &options;
  int done[2] = {0, 0};
  kiln_allocator_t a = kiln_allocator_system();
  kiln_device_t* device = NULL;
  char device_name[256] = "";
  if (opt->simulate) {
    snprintf(device_name, sizeof(device_name), "simulated (no GPU used)");
  } else if (!opt->dry_run) {
    kiln_status_t status = kiln_device_create(0, a, &device);
    if (status) {
      char reason[1024];
      snprintf(reason, sizeof(reason), "no GPU: %s",
               kiln_status_message(status));
      kiln_status_free(status);
      printf("kiln_coldstart: %s; nothing measured\n", reason);
      write_json(opt, "skipped", reason, "", NULL, done);
      return 0;
    }
    opt->arch = kiln_device_sm_arch(device);
    snprintf(device_name, sizeof(device_name), "%s", kiln_device_name(device));
  }
  engine_t* engines = (engine_t*)calloc(kMaxEngines, sizeof(engine_t));
  char** envp = child_environment();
  char dir[] = "/tmp/kiln-coldstart-XXXXXX";
  if (!engines || !envp || !mkdtemp(dir)) {
    fprintf(stderr,
            "kiln_coldstart: out of memory or no temporary directory\n");
    return 1;
  }
  // Build with a private compile cache, so that the machine's is untouched.
  char cache[sizeof(dir) + 16];
  snprintf(cache, sizeof(cache), "%s/cache", dir);
  setenv("KILN_CACHE_DIR", cache, 1);
  char error[2048] = "";
  bool failed = false;
  for (int e = 0; e < opt->engine_count && !failed; ++e) {
    engine_t* en = &engines[e];
    en->kernels = opt->kernels[e];
    snprintf(en->path, sizeof(en->path), "%s/chain_%d.engine", dir,
             en->kernels);
    bench_network_options_t build;
    memset(&build, 0, sizeof(build));
    build.layers = en->kernels;
    build.targets = &opt->arch;
    build.target_count = 1;
    build.timing = false;
    build.min_n = 1;
    build.opt_n = kElements;
    build.max_n = 1 << 20;
    kiln_blob_t* blob = NULL;
    kiln_status_t status = bench_network_build(&build, &blob);
    if (!status) {
      en->bytes = kiln_blob_bytes(blob).size;
      status = write_file(en->path, kiln_blob_bytes(blob));
    }
    kiln_blob_destroy(blob);
    if (status) {
      snprintf(error, sizeof(error), "building the %d-kernel engine: %s: %s",
               en->kernels, kiln_status_code_name(kiln_status_code(status)),
               kiln_status_message(status));
      kiln_status_free(status);
      failed = true;
    } else {
      printf("built %s: %d kernels, sm_%u cubins and PTX, %zu bytes\n",
             en->path, en->kernels, opt->arch, en->bytes);
    }
  }
  fflush(stdout);

  if (!failed && opt->dry_run) {
    // One child per engine and kind; each must report back (no GPU: an
    // error line).
    int reported = 0, total = 0;
    for (int e = 0; e < opt->engine_count; ++e) {
      for (int k = 0; k < 2; ++k) {
        sample_t s;
        ++total;
        child_result_t result =
            spawn_child(self, engines[e].path, engines[e].kernels, k == 1, envp,
                        &s, error, sizeof(error));
        reported += result != CHILD_RESULT_SILENT;
        printf("dry run: %d kernels, %s: %s%s\n", engines[e].kernels,
               k ? "PTX" : "cubin",
               result == CHILD_RESULT_OK      ? "ok"
               : result == CHILD_RESULT_ERROR ? "the child reported: "
                                              : "NO REPORT: ",
               result == CHILD_RESULT_OK ? "" : error);
      }
    }
    printf("dry run: %d of %d children reported back\n", reported, total);
    failed = reported != total;
    snprintf(error, sizeof(error), "%s",
             failed ? "a child did not report back" : "");
  } else if (!failed) {
    // Warm-up: one child of each kind, unmeasured (page cache, JIT library).
    for (int k = 0; k < 2 && !failed; ++k) {
      sample_t s;
      if (spawn_child(self, engines[0].path, engines[0].kernels, k == 1, envp,
                      &s, error, sizeof(error)) != CHILD_RESULT_OK) {
        failed = true;
      }
    }
    const int64_t per_run_ns = (int64_t)(opt->max_seconds / 2 * 1e9);
    for (int r = 0; r < 2 && !failed; ++r) {
      int64_t start = now_ns();
      for (int i = 0; i < opt->repeats && !failed; ++i) {
        if (i > 0 && now_ns() - start > per_run_ns) {
          printf("run %d: stopped after %d repeats (--max-seconds %.0f)\n",
                 r + 1, i, opt->max_seconds);
          break;
        }
        for (int e = 0; e < opt->engine_count && !failed; ++e) {
          for (int j = 0; j < 2 && !failed; ++j) {
            int k = (i + j) % 2;  // alternate which kind goes first
            if (spawn_child(self, engines[e].path, engines[e].kernels, k == 1,
                            envp, &engines[e].samples[r][k][i], error,
                            sizeof(error)) != CHILD_RESULT_OK) {
              failed = true;
            }
          }
        }
        if (!failed) done[r] = i + 1;
      }
    }
    if (failed) {
      char prefix[sizeof(error)];
      snprintf(prefix, sizeof(prefix), "%s", error);
      snprintf(error, sizeof(error), "a child failed: %.2000s", prefix);
    } else {
      print_phase_table(opt, engines, done);
    }
  }
  if (failed) fprintf(stderr, "kiln_coldstart: %s\n", error);
  if (!opt->dry_run) {
    write_json(opt, failed ? "failed" : "ok", failed ? error : "", device_name,
               engines, done);
  }
  char command[sizeof(dir) + 16];
  snprintf(command, sizeof(command), "rm -rf %s", dir);
  if (system(command) != 0) {
    fprintf(stderr, "kiln_coldstart: could not remove %s\n", dir);
  }
  free(envp);
  free(engines);
  kiln_device_release(device);
  return failed ? 1 : 0;
}

int main(int argc, char** argv) {
  int64_t t_main = now_ns();
  if (argc >= 3 && strcmp(argv[1], "--child") == 0) {
    int layers = 0;
    bool force_ptx = false, simulate = false;
    for (int i = 3; i < argc; ++i) {
      if (strcmp(argv[i], "--kernels") == 0 && i + 1 < argc) {
        layers = atoi(argv[++i]);
      } else if (strcmp(argv[i], "--force-ptx") == 0) {
        force_ptx = true;
      } else if (strcmp(argv[i], "--simulate") == 0) {
        simulate = true;
      }
    }
    if (simulate) return child_simulate(t_main, argv[2]);
    if (layers < 1) {
      printf("coldstart-child error --kernels N missing\n");
      return 2;
    }
    return child_main(t_main, argv[2], layers, force_ptx);
  }
  options_t opt;
  memset(&opt, 0, sizeof(opt));
  opt.repeats = -1;
  opt.max_seconds = -1;
  opt.arch = 90;
  bool kernels_given = false;
  for (int i = 1; i < argc; ++i) {
    const char* arg = argv[i];
    bool has_value = i + 1 < argc;
    if (strcmp(arg, "--quick") == 0) {
      opt.quick = true;
    } else if (strcmp(arg, "--dry-run") == 0) {
      opt.dry_run = true;
    } else if (strcmp(arg, "--simulate") == 0) {
      opt.simulate = true;
    } else if (strcmp(arg, "--repeats") == 0 && has_value) {
      opt.repeats = atoi(argv[++i]);
    } else if (strcmp(arg, "--max-seconds") == 0 && has_value) {
      opt.max_seconds = atof(argv[++i]);
    } else if (strcmp(arg, "--arch") == 0 && has_value) {
      opt.arch = (uint32_t)atoi(argv[++i]);
    } else if (strcmp(arg, "--json") == 0 && has_value) {
      opt.json = argv[++i];
    } else if (strcmp(arg, "--kernels") == 0 && has_value) {
      if (!parse_kernels(argv[++i], &opt)) {
        fprintf(stderr,
                "kiln_coldstart: --kernels %s: expected a list such "
                "as 1,10,50 (1..1000, at most 8)\n",
                argv[i]);
        return 2;
      }
      kernels_given = true;
    } else {
      usage();
      return 2;
    }
  }
  if (!kernels_given) {
    static const int kDefault[3] = {1, 10, 50};
    opt.engine_count = 3;
    memcpy(opt.kernels, kDefault, sizeof(kDefault));
  }
  if (opt.repeats < 0) opt.repeats = opt.quick ? 3 : 5;
  if (opt.repeats < 1 || opt.repeats > kMaxRepeats) {
    fprintf(stderr, "kiln_coldstart: --repeats must be 1..%d\n", kMaxRepeats);
    return 2;
  }
  if (opt.max_seconds < 0) opt.max_seconds = opt.quick ? 80 : 150;
  g_simulate = opt.simulate;
  if (opt.arch < 10 || opt.arch > 999) {
    fprintf(stderr, "kiln_coldstart: --arch must be 10..999\n");
    return 2;
  }
  // The child is this same program, found through /proc/self/exe.
  char self[4096];
  ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (len <= 0) {
    snprintf(self, sizeof(self), "%s", argv[0]);
  } else {
    self[len] = '\0';
  }
  return parent_main(&opt, self);
}
