// Fuzz targets whose corpus (fuzz/corpus/NAME/) the runner replays. Each
// fuzz/NAME.c defines `int NAME_entry(const uint8_t*, size_t)`.

#ifndef KILN_TESTS_FUZZ_LIST_H_
#define KILN_TESTS_FUZZ_LIST_H_

#define KILN_FUZZ_LIST(X) \
  X(sym_deserialize_fuzz) \
  X(ptx_parse_fuzz) X(engine_load_fuzz) X(npy_parse_fuzz)

#endif  // KILN_TESTS_FUZZ_LIST_H_
