// kiln_build_bench: build time of a 50-plugin network, cold (empty compile
// cache) and warm (the same build again), on the machine it runs on; no GPU
// needed. Each layer is its own plugin with its own CUDA C kernel (y = x +
// k), compiled by NVRTC to PTX and by nvJitLink to an sm_90 cubin
// (bench_network.c). Each run starts from a fresh, empty cache directory:
// one cold build, then two warm ones.
//
// Usage: kiln_build_bench [LAYERS] [--runs N] [--json FILE]
//   LAYERS   plugins in the network (default 50)
//   --runs   how many cold+warm+warm runs (default 2, to show the spread)
//   --json   also write the figures as JSON to FILE (for bench/run)

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_network.h"
#include "kiln/kiln.h"

enum { kMaxRuns = 16 };

static void check(kiln_status_t status, const char* what) {
  if (!status) return;
  fprintf(stderr, "kiln_build_bench: %s: %s: %s\n", what,
          kiln_status_code_name(kiln_status_code(status)),
          kiln_status_message(status));
  exit(1);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

// Seconds for one build of the network, cache as it stands.
static double build_once(int layers) {
  static const uint32_t kTargets[1] = {90};
  bench_network_options_t options;
  memset(&options, 0, sizeof(options));
  options.layers = layers;
  options.targets = kTargets;
  options.target_count = 1;
  options.timing = false;
  options.min_n = 1;
  options.opt_n = 4096;
  options.max_n = 1 << 20;
  kiln_blob_t* engine = NULL;
  double t0 = now_s();
  check(bench_network_build(&options, &engine), "build");
  double t1 = now_s();
  kiln_blob_destroy(engine);
  return t1 - t0;
}

static void usage(void) {
  fprintf(stderr,
          "usage: kiln_build_bench [LAYERS] [--runs N] [--json FILE]\n");
}

int main(int argc, char** argv) {
  int layers = 50;
  int runs = 2;
  const char* json = NULL;
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--json") == 0 && i + 1 < argc) {
      json = argv[++i];
    } else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
      runs = atoi(argv[++i]);
    } else if (argv[i][0] != '-') {
      layers = atoi(argv[i]);
    } else {
      usage();
      return 2;
    }
  }
  if (layers < 1 || layers > 1000) layers = 50;
  if (runs < 1 || runs > kMaxRuns) runs = 2;
  double cold[kMaxRuns], warm1[kMaxRuns], warm2[kMaxRuns];
  for (int r = 0; r < runs; ++r) {
    char dir[] = "/tmp/kiln-build-bench-XXXXXX";
    if (!mkdtemp(dir)) {
      perror("kiln_build_bench: mkdtemp");
      return 1;
    }
    setenv("KILN_CACHE_DIR", dir, 1);
    cold[r] = build_once(layers);
    warm1[r] = build_once(layers);
    warm2[r] = build_once(layers);
    char command[600];
    snprintf(command, sizeof(command), "rm -rf %s", dir);
    if (system(command) != 0) {
      fprintf(stderr, "kiln_build_bench: could not remove %s\n", dir);
    }
  }
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  printf(
      "build of a %d-plugin network (%d distinct NVRTC kernels, sm_90 "
      "cubins, no GPU needed; %ld CPUs):\n",
      layers, layers, cpus);
  for (int r = 0; r < runs; ++r) {
    printf("  run %d: cold %.3f s, warm %.3f s / %.3f s (%.1fx)\n", r + 1,
           cold[r], warm1[r], warm2[r], cold[r] / warm2[r]);
  }
  if (json) {
    FILE* f = fopen(json, "w");
    if (!f) {
      perror(json);
      return 1;
    }
    fprintf(f,
            "{\"bench\": \"kiln_build_bench\", \"status\": \"ok\", "
            "\"layers\": %d, \"cpus\": %ld, \"runs\": [",
            layers, cpus);
    for (int r = 0; r < runs; ++r) {
      fprintf(f, "%s{\"cold_s\": %.6f, \"warm_s\": [%.6f, %.6f]}",
              r ? ", " : "", cold[r], warm1[r], warm2[r]);
    }
    fprintf(f, "]}\n");
    if (fclose(f) != 0) {
      perror(json);
      return 1;
    }
  }
  return 0;
}
