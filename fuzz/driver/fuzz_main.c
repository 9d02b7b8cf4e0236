// libFuzzer entry: forwards to the target's entry function, which the test
// runner also calls to replay the corpus.

#include <stddef.h>
#include <stdint.h>

int KILN_FUZZ_ENTRY(const uint8_t* data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return KILN_FUZZ_ENTRY(data, size);
}
