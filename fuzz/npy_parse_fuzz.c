// Fuzz target for the .npy reader of the kiln command.

#include <stddef.h>
#include <stdint.h>

#include "kiln/kiln.h"
#include "npy.h"

int npy_parse_fuzz_entry(const uint8_t* data, size_t size);

int npy_parse_fuzz_entry(const uint8_t* data, size_t size) {
  kiln_const_bytes_t bytes = {data, size};
  kiln_npy_t npy;
  kiln_status_t status = kiln_npy_parse(bytes, &npy);
  if (!status) {
    // The data span lies inside the input and matches the shape.
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < npy.size; ++i) sink ^= npy.data[i];
    (void)sink;
  }
  kiln_status_free(status);
  return 0;
}
