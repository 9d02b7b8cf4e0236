// Tests of the cubin checker (src/cuda/cubin.c) on real cubins kept in
// fuzz/corpus/ptx_parse_fuzz/ (this file's test data as well as fuzz seeds):
// nvcc 13.0 -cubin for sm_90 and sm_100 of the kernels in nvcc_sm90.ptx,
// and nvJitLink 13.0's sm_90a cubin of the Triton-style add_kernel.

#include <stdio.h>
#include <stdlib.h>

#include "cuda/cubin.h"
#include "test.h"

#define NVCC_SM90 "nvcc_sm90.cubin"
#define NVCC_SM100 "nvcc_sm100.cubin"
#define NVJITLINK_SM90A "nvjitlink_triton_sm90a.cubin"

static bool read_corpus(const char* name, uint8_t** out_data,
                        size_t* out_size) {
  char path[1024];
  snprintf(path, sizeof(path), "%s/fuzz/corpus/ptx_parse_fuzz/%s",
           KILN_SOURCE_DIR, name);
  return kiln_test_read_file(path, out_data, out_size);
}

static kiln_status_t find(const uint8_t* data, size_t size, const char* name,
                          kiln__cubin_function_t* out_function) {
  kiln_const_bytes_t bytes = {data, size};
  return kiln__cubin_find_function(bytes, kiln_make_cstring_view(name),
                                   out_function);
}

static void put16(uint8_t* p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= (uint64_t)p[i] << (8 * i);
  return v;
}

static uint16_t get16(const uint8_t* p) {
  return (uint16_t)(p[0] | (p[1] << 8));
}

TEST(cubin_inspect_nvcc_sm90) {
  uint8_t* data = NULL;
  size_t size = 0;
  if (!read_corpus(NVCC_SM90, &data, &size)) FAIL("cannot read " NVCC_SM90);
  kiln_const_bytes_t bytes = {data, size};
  kiln__cubin_info_t info;
  kiln_status_t status = kiln__cubin_inspect(bytes, &info);
  kiln__cubin_function_t add_one, helper;
  if (!status) status = find(data, size, "add_one", &add_one);
  // A __noinline__ device function is a local STT_FUNC, not an entry.
  if (!status) status = find(data, size, "$add_one$_Z6helperfi", &helper);
  free(data);
  ASSERT_OK(status);
  ASSERT_EQ_U64(info.sm_arch, 90);
  ASSERT_EQ_U64(info.abi_version, KILN__CUBIN_ABI_VERSION_V2);
  ASSERT_EQ_U64(info.os_abi, 0x41);
  ASSERT_EQ_U64(info.elf_type, 2);
  ASSERT_EQ_U64(info.e_flags, 0x06005a04);
  ASSERT_EQ_U64(info.virtual_arch, 0);
  ASSERT_TRUE(info.section_count > 5);
  ASSERT_TRUE(add_one.is_entry);
  ASSERT_TRUE(add_one.size > 0);
  ASSERT_FALSE(helper.is_entry);
}

TEST(cubin_inspect_other_archs) {
  static const char* const files[] = {NVCC_SM100, NVJITLINK_SM90A};
  static const uint32_t archs[] = {100, 90};
  static const char* const kernels[] = {"mixed", "add_kernel"};
  for (int f = 0; f < 2; ++f) {
    uint8_t* data = NULL;
    size_t size = 0;
    if (!read_corpus(files[f], &data, &size)) FAIL("cannot read %s", files[f]);
    kiln_const_bytes_t bytes = {data, size};
    kiln__cubin_info_t info;
    kiln__cubin_function_t function;
    kiln_status_t status = kiln__cubin_inspect(bytes, &info);
    if (!status) status = find(data, size, kernels[f], &function);
    free(data);
    ASSERT_OK(status);
    ASSERT_EQ_U64(info.sm_arch, archs[f]);
    ASSERT_TRUE(function.is_entry);
  }
}

TEST(cubin_function_not_found_lists_functions) {
  uint8_t* data = NULL;
  size_t size = 0;
  if (!read_corpus(NVCC_SM90, &data, &size)) FAIL("cannot read " NVCC_SM90);
  kiln_status_t status = find(data, size, "add_kernel", NULL);
  // vprintf is an undefined STT_FUNC: not listed, not found.
  kiln_status_t undefined = find(data, size, "vprintf", NULL);
  kiln_status_t empty = find(data, size, "", NULL);
  free(data);
  kiln_status_code_t undefined_code = kiln_status_code(undefined);
  kiln_status_free(undefined);
  ASSERT_EQ_I64(undefined_code, KILN_STATUS_NOT_FOUND);
  ASSERT_STATUS(empty, KILN_STATUS_INVALID_ARGUMENT, "empty kernel name");
  ASSERT_STATUS(status, KILN_STATUS_NOT_FOUND,
                "cubin has no function 'add_kernel'; the functions defined "
                "are: $add_one$_Z6helperfi, _Z7mangledPi, no_params, mixed, "
                "add_one");
}

TEST(cubin_abi_versions) {
  uint8_t* data = NULL;
  size_t size = 0;
  if (!read_corpus(NVCC_SM90, &data, &size)) FAIL("cannot read " NVCC_SM90);
  kiln_const_bytes_t bytes = {data, size};
  // CUDA 12's layout: ABI 7, the SM in the low byte, the virtual
  // architecture in bits 16-23, 0x500 for 64-bit addressing + texmode.
  data[8] = KILN__CUBIN_ABI_VERSION_V1;
  put32(data + 48, 0x005a055a);
  kiln__cubin_info_t v1;
  kiln_status_t status = kiln__cubin_inspect(bytes, &v1);
  // An ABI version kiln does not know: the checks pass, the arch is 0.
  data[8] = 9;
  kiln__cubin_info_t v9;
  if (!status) status = kiln__cubin_inspect(bytes, &v9);
  // An older OS/ABI byte is reported, not refused.
  data[7] = 0x33;
  kiln__cubin_info_t old_osabi;
  if (!status) status = kiln__cubin_inspect(bytes, &old_osabi);
  free(data);
  ASSERT_OK(status);
  ASSERT_EQ_U64(v1.sm_arch, 90);
  ASSERT_EQ_U64(v1.virtual_arch, 90);
  ASSERT_EQ_U64(v9.sm_arch, 0);
  ASSERT_EQ_U64(v9.abi_version, 9);
  ASSERT_EQ_U64(old_osabi.os_abi, 0x33);
}

typedef void (*corrupt_fn_t)(uint8_t* data, size_t size);

static void bad_magic(uint8_t* d, size_t n) {
  (void)n;
  d[1] = 'X';
}
static void elf32(uint8_t* d, size_t n) {
  (void)n;
  d[4] = 1;
}
static void big_endian(uint8_t* d, size_t n) {
  (void)n;
  d[5] = 2;
}
static void bad_ident_version(uint8_t* d, size_t n) {
  (void)n;
  d[6] = 0;
}
static void shared_object(uint8_t* d, size_t n) {
  (void)n;
  put16(d + 16, 3);
}
static void x86_64(uint8_t* d, size_t n) {
  (void)n;
  put16(d + 18, 62);
}
static void bad_version(uint8_t* d, size_t n) {
  (void)n;
  put32(d + 20, 2);
}
static void bad_ehsize(uint8_t* d, size_t n) {
  (void)n;
  put16(d + 52, 52);
}
static void bad_phentsize(uint8_t* d, size_t n) {
  (void)n;
  put16(d + 54, 32);
}
static void phdrs_past_end(uint8_t* d, size_t n) {
  put64(d + 32, n - 8);
}
static void segment_past_end(uint8_t* d, size_t n) {
  uint64_t phoff = get64(d + 32);
  put64(d + phoff + 32, n);  // p_filesz of segment 0
}
static void no_shdrs(uint8_t* d, size_t n) {
  (void)n;
  put64(d + 40, 0);
}
static void shdrs_past_end(uint8_t* d, size_t n) {
  put64(d + 40, n - 32);
}
static void shdrs_far_past_end(uint8_t* d, size_t n) {
  (void)n;
  put64(d + 40, UINT64_MAX - 8);
}
static void bad_shentsize(uint8_t* d, size_t n) {
  (void)n;
  put16(d + 58, 40);
}
static void huge_shnum(uint8_t* d, size_t n) {
  (void)n;
  put16(d + 60, 0xfeff);
}
static void extended_shnum_huge(uint8_t* d, size_t n) {
  (void)n;
  put16(d + 60, 0);
  put64(d + get64(d + 40) + 32, UINT64_MAX);  // section 0's sh_size
}
static void bad_shstrndx(uint8_t* d, size_t n) {
  (void)n;
  put16(d + 62, 0xfe00);
}
static void shstrndx_not_strtab(uint8_t* d, size_t n) {
  (void)n;
  put16(d + 62, 3);  // section 3 is .symtab
}
static void section_past_end(uint8_t* d, size_t n) {
  uint64_t shoff = get64(d + 40);
  put64(d + shoff + 2 * 64 + 32, n);  // section 2's sh_size
}
static void section_offset_overflow(uint8_t* d, size_t n) {
  (void)n;
  uint64_t shoff = get64(d + 40);
  put64(d + shoff + 2 * 64 + 24, UINT64_MAX - 4);  // section 2's sh_offset
}

typedef struct corrupt_case_t {
  const char* name;
  corrupt_fn_t corrupt;
  const char* message;
} corrupt_case_t;

TEST(cubin_header_corruptions) {
  static const corrupt_case_t cases[] = {
      {"bad magic", bad_magic, "byte offset 0: no ELF magic"},
      {"ELF32", elf32, "byte offset 4: not a 64-bit ELF"},
      {"big-endian", big_endian, "byte offset 5: not little-endian"},
      {"EI_VERSION", bad_ident_version, "byte offset 6"},
      {"ET_DYN", shared_object, "byte offset 16: e_type"},
      {"x86-64", x86_64, "byte offset 18: e_machine is 62, not EM_CUDA"},
      {"e_ehsize", bad_ehsize, "byte offset 52"},
      {"e_phentsize", bad_phentsize, "byte offset 54"},
      {"program headers", phdrs_past_end,
       "byte offset 32: the program "
       "header table"},
      {"segment", segment_past_end, "segment 0 lies past the end"},
      {"no sections", no_shdrs, "byte offset 40: no section header table"},
      {"section headers", shdrs_past_end,
       "byte offset 40: the section "
       "header table"},
      {"section headers far", shdrs_far_past_end, "byte offset 40"},
      {"e_shentsize", bad_shentsize, "byte offset 58"},
      {"e_shnum", huge_shnum, "byte offset 40: the section header table"},
      {"extended e_shnum", extended_shnum_huge, "the section header table"},
      {"e_shstrndx", bad_shstrndx,
       "byte offset 62: e_shstrndx names no "
       "section"},
      {"e_shstrndx type", shstrndx_not_strtab, "not a string table"},
      {"section size", section_past_end, "section 2 (offset"},
      {"section offset", section_offset_overflow, "section 2 (offset"},
  };
  uint8_t* data = NULL;
  size_t size = 0;
  if (!read_corpus(NVCC_SM90, &data, &size)) FAIL("cannot read " NVCC_SM90);
  uint8_t* copy = (uint8_t*)malloc(size);
  if (!copy) {
    free(data);
    FAIL("out of memory");
  }
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
    memcpy(copy, data, size);
    cases[i].corrupt(copy, size);
    kiln_const_bytes_t bytes = {copy, size};
    kiln__cubin_info_t info;
    kiln_status_t status = kiln__cubin_inspect(bytes, &info);
    kiln_status_t lookup = find(copy, size, "add_one", NULL);
    kiln_status_code_t lookup_code = kiln_status_code(lookup);
    kiln_status_free(lookup);
    if (kiln_status_code(status) != KILN_STATUS_DATA_LOSS ||
        !strstr(kiln_status_message(status), cases[i].message) ||
        lookup_code != KILN_STATUS_DATA_LOSS) {
      char message[512];
      snprintf(message, sizeof(message), "%s: %s",
               kiln_status_code_name(kiln_status_code(status)),
               kiln_status_message(status));
      kiln_status_free(status);
      free(copy);
      free(data);
      FAIL("%s: got %s (lookup %s), expected DATA_LOSS with \"%s\"",
           cases[i].name, message, kiln_status_code_name(lookup_code),
           cases[i].message);
    }
    kiln_status_free(status);
  }
  // Some ptxas versions (Triton 3.6's) write an e_version other than 1: such
  // cubins are accepted.
  memcpy(copy, data, size);
  bad_version(copy, size);
  kiln_const_bytes_t accepted = {copy, size};
  kiln__cubin_info_t accepted_info;
  kiln_status_t accepted_status = kiln__cubin_inspect(accepted, &accepted_info);
  bool accepted_ok = accepted_status == NULL && accepted_info.sm_arch == 90;
  kiln_status_free(accepted_status);
  if (!accepted_ok) {
    free(copy);
    free(data);
    FAIL("a cubin with e_version 2 should be accepted as sm_90");
  }
  free(copy);
  free(data);
  kiln_const_bytes_t short_bytes = {(const uint8_t*)"\x7f" "ELF", 4};
  kiln__cubin_info_t info;
  ASSERT_STATUS(kiln__cubin_inspect(short_bytes, &info), KILN_STATUS_DATA_LOSS,
                "4 bytes is shorter than the 64-byte");
  kiln_const_bytes_t none = {NULL, 0};
  ASSERT_STATUS(kiln__cubin_inspect(none, &info), KILN_STATUS_DATA_LOSS,
                "0 bytes");
}

// Finds the first SHT_SYMTAB section header of |d|.
static uint8_t* symtab_header(uint8_t* d) {
  uint64_t shoff = get64(d + 40);
  uint16_t shnum = get16(d + 60);
  for (uint16_t i = 0; i < shnum; ++i) {
    uint8_t* h = d + shoff + (size_t)i * 64;
    if (h[4] == 2) return h;
  }
  return NULL;
}

TEST(cubin_symbol_table_corruptions) {
  uint8_t* data = NULL;
  size_t size = 0;
  if (!read_corpus(NVCC_SM90, &data, &size)) FAIL("cannot read " NVCC_SM90);
  uint8_t* h = symtab_header(data);
  if (!h) {
    free(data);
    FAIL("no symbol table");
  }
  uint64_t saved_entsize = get64(h + 56);
  uint64_t saved_size = get64(h + 32);
  uint32_t saved_link = (uint32_t)get64(h + 40);
  uint64_t symbols = get64(h + 24);
  char failures[512] = "";
  kiln_status_t status;

  put64(h + 56, 16);
  status = find(data, size, "add_one", NULL);
  if (!strstr(kiln_status_message(status), "entries of 16 bytes")) {
    strcat(failures, " entsize");
  }
  kiln_status_free(status);
  put64(h + 56, saved_entsize);

  put64(h + 32, saved_size - 1);
  status = find(data, size, "add_one", NULL);
  if (!strstr(kiln_status_message(status), "not a multiple of 24")) {
    strcat(failures, " size");
  }
  kiln_status_free(status);
  put64(h + 32, saved_size);

  put32(h + 40, 999);
  status = find(data, size, "add_one", NULL);
  if (!strstr(kiln_status_message(status), "links to section 999")) {
    strcat(failures, " link");
  }
  kiln_status_free(status);
  put32(h + 40, 3);  // itself: not a string table
  status = find(data, size, "add_one", NULL);
  if (!strstr(kiln_status_message(status), "not a string table")) {
    strcat(failures, " link-type");
  }
  kiln_status_free(status);
  put32(h + 40, saved_link);

  // Point every function symbol's name past its string table.
  for (uint64_t off = symbols; off + 24 <= symbols + saved_size; off += 24) {
    if ((data[off + 4] & 0xf) == 2) put32(data + off, 0x7fffffff);
  }
  status = find(data, size, "add_one", NULL);
  if (!strstr(kiln_status_message(status), "name lies outside")) {
    strcat(failures, " name");
  }
  kiln_status_free(status);
  free(data);
  if (failures[0]) FAIL("wrong messages for:%s", failures);
}

// Every prefix, in a buffer of exactly that size, gives DATA_LOSS or OK.
TEST(cubin_every_truncation_is_safe) {
  uint8_t* data = NULL;
  size_t size = 0;
  if (!read_corpus(NVCC_SM90, &data, &size)) FAIL("cannot read " NVCC_SM90);
  for (size_t n = 0; n <= size; ++n) {
    uint8_t* copy = (uint8_t*)malloc(n ? n : 1);
    if (!copy) {
      free(data);
      FAIL("out of memory");
    }
    memcpy(copy, data, n);
    kiln_const_bytes_t bytes = {copy, n};
    kiln__cubin_info_t info;
    kiln_status_t status = kiln__cubin_inspect(bytes, &info);
    kiln_status_code_t code = kiln_status_code(status);
    kiln_status_free(status);
    status = find(copy, n, "add_one", NULL);
    kiln_status_code_t find_code = kiln_status_code(status);
    kiln_status_free(status);
    free(copy);
    bool whole = n == size;
    if ((whole && (code != KILN_STATUS_OK || find_code != KILN_STATUS_OK)) ||
        (!whole && code != KILN_STATUS_DATA_LOSS && code != KILN_STATUS_OK) ||
        (code == KILN_STATUS_DATA_LOSS && find_code != KILN_STATUS_DATA_LOSS)) {
      free(data);
      FAIL("prefix of %zu bytes: inspect %s, find %s", n,
           kiln_status_code_name(code), kiln_status_code_name(find_code));
    }
  }
  free(data);
}

TEST(cubin_byte_flips_are_safe) {
  uint8_t* data = NULL;
  size_t size = 0;
  if (!read_corpus(NVCC_SM90, &data, &size)) FAIL("cannot read " NVCC_SM90);
  static const uint8_t masks[] = {0xff, 0x80, 0x01};
  size_t refused = 0;
  for (size_t i = 0; i < size; ++i) {
    for (size_t k = 0; k < sizeof(masks); ++k) {
      data[i] ^= masks[k];
      kiln_const_bytes_t bytes = {data, size};
      kiln__cubin_info_t info;
      kiln_status_t status = kiln__cubin_inspect(bytes, &info);
      kiln_status_code_t code = kiln_status_code(status);
      kiln_status_free(status);
      status = find(data, size, "add_one", NULL);
      kiln_status_code_t find_code = kiln_status_code(status);
      kiln_status_free(status);
      data[i] ^= masks[k];
      if (code == KILN_STATUS_DATA_LOSS) ++refused;
      if ((code != KILN_STATUS_OK && code != KILN_STATUS_DATA_LOSS) ||
          (find_code != KILN_STATUS_OK && find_code != KILN_STATUS_DATA_LOSS &&
           find_code != KILN_STATUS_NOT_FOUND)) {
        free(data);
        FAIL("byte %zu ^ 0x%02x: inspect %s, find %s", i, masks[k],
             kiln_status_code_name(code), kiln_status_code_name(find_code));
      }
    }
  }
  free(data);
  // Flips in the header and the section table are caught.
  ASSERT_TRUE(refused > 50);
}
