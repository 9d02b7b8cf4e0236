// Replays every file of every fuzz corpus through its fuzz entry: crashers
// found once stay fixed.

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_list.h"
#include "test.h"

#define DECLARE_ENTRY(name) int name##_entry(const uint8_t* data, size_t size);
KILN_FUZZ_LIST(DECLARE_ENTRY)

static int replay(kiln_test_t* t_, const char* name,
                  int (*entry)(const uint8_t*, size_t)) {
  char dir_path[1024];
  snprintf(dir_path, sizeof(dir_path), "%s/fuzz/corpus/%s", KILN_SOURCE_DIR,
           name);
  DIR* dir = opendir(dir_path);
  if (!dir) {
    kiln_test_fail(t_, __FILE__, __LINE__, "no corpus folder %s", dir_path);
    return -1;
  }
  int count = 0;
  struct dirent* e;
  while ((e = readdir(dir)) != NULL) {
    if (e->d_name[0] == '.') continue;
    char path[2048];
    snprintf(path, sizeof(path), "%s/%s", dir_path, e->d_name);
    uint8_t* data = NULL;
    size_t size = 0;
    if (!kiln_test_read_file(path, &data, &size)) continue;
    entry(data, size);
    free(data);
    ++count;
  }
  closedir(dir);
  if (count == 0) {
    kiln_test_fail(t_, __FILE__, __LINE__, "corpus %s is empty", dir_path);
    return -1;
  }
  return count;
}

TEST(fuzz_corpus_replay) {
#define REPLAY(name) \
  if (replay(t_, #name, name##_entry) < 0) return;
  KILN_FUZZ_LIST(REPLAY)
}
