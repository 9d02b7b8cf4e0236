// Tests of the PTX inspector (src/cuda/ptx.c) on real PTX kept in
// fuzz/corpus/ptx_parse_fuzz/ (this file's test data as well as fuzz seeds)
// and on malformed and truncated text.

#include "cuda/ptx.h"

#include <stdio.h>
#include <stdlib.h>

#include "test.h"

// nvcc 13.0 -ptx -arch=sm_90 of a file with kernels add_one, mixed,
// no_params and a C++ kernel `mangled`, a __noinline__ device function, a
// __constant__ array and printf (an .extern .func declaration).
#define NVCC_PTX "nvcc_sm90.ptx"
// Triton 3.6.0's PTX for the seed's add_kernel (signature *fp32, i32, *fp32;
// BLOCK 1024; target cuda 90), source paths replaced by "t.py" / "kiln".
#define TRITON_PTX "triton_add_sm90a.ptx"
// Triton 3.6.0's PTX for scale_kernel(x: *fp16, y: *fp16, s: fp32,
// n: constexpr, k: i64).
#define TRITON_SCALE_PTX "triton_scale_sm90a.ptx"
// A hand-written Triton-like add_kernel with braces inside comments.
#define TRITON_LIKE_PTX "triton_like_sm90a.ptx"

static bool read_corpus(const char* name, uint8_t** out_data,
                        size_t* out_size) {
  char path[1024];
  snprintf(path, sizeof(path), "%s/fuzz/corpus/ptx_parse_fuzz/%s",
           KILN_SOURCE_DIR, name);
  return kiln_test_read_file(path, out_data, out_size);
}

static kiln_const_bytes_t cstring_bytes(const char* text) {
  kiln_const_bytes_t bytes = {(const uint8_t*)text, strlen(text)};
  return bytes;
}

static kiln_status_t find(kiln_const_bytes_t ptx, const char* name,
                          kiln__ptx_entry_t* out_entry) {
  return kiln__ptx_find_entry(ptx, kiln_make_cstring_view(name),
                              kiln_allocator_system(), out_entry);
}

static bool view_is(kiln_string_view_t view, const char* text) {
  return kiln_string_view_equal(view, kiln_make_cstring_view(text));
}

// The exact header the brief quotes for Triton 3.6 on Hopper.
static const char kTritonHeader[] =
    ".version 8.7\n.target sm_90a\n.address_size 64\n"
    ".visible .entry add_kernel(\n"
    "\t.param .u64 .ptr .global .align 1 add_kernel_param_0,\n"
    "\t.param .u32 add_kernel_param_1,\n"
    "\t.param .u64 .ptr .global .align 1 add_kernel_param_2,\n"
    "\t.param .u64 .ptr .global .align 1 add_kernel_param_3,\n"
    "\t.param .u64 .ptr .global .align 1 add_kernel_param_4\n"
    ")\n.reqntid 128, 1, 1\n{ ret; }";

TEST(ptx_type_tables) {
  ASSERT_EQ_STR(kiln__ptx_type_name(KILN__PTX_TYPE_U64), ".u64");
  ASSERT_EQ_STR(kiln__ptx_type_name(KILN__PTX_TYPE_BF16X2), ".bf16x2");
  ASSERT_EQ_STR(kiln__ptx_type_name(KILN__PTX_TYPE_COUNT), "unknown");
  ASSERT_EQ_U64(kiln__ptx_type_size(KILN__PTX_TYPE_B8), 1);
  ASSERT_EQ_U64(kiln__ptx_type_size(KILN__PTX_TYPE_F16), 2);
  ASSERT_EQ_U64(kiln__ptx_type_size(KILN__PTX_TYPE_S32), 4);
  ASSERT_EQ_U64(kiln__ptx_type_size(KILN__PTX_TYPE_F64), 8);
  ASSERT_EQ_U64(kiln__ptx_type_size(KILN__PTX_TYPE_B128), 16);
  ASSERT_EQ_U64(kiln__ptx_type_size(KILN__PTX_TYPE_COUNT), 0);
  ASSERT_EQ_STR(kiln__ptx_space_name(KILN__PTX_SPACE_GLOBAL), ".global");
  ASSERT_EQ_STR(kiln__ptx_space_name(KILN__PTX_SPACE_GENERIC), "");
}

TEST(ptx_header_nvcc) {
  uint8_t* data = NULL;
  size_t size = 0;
  if (!read_corpus(NVCC_PTX, &data, &size)) FAIL("cannot read " NVCC_PTX);
  kiln_const_bytes_t ptx = {data, size};
  kiln__ptx_header_t header;
  kiln_status_t status = kiln__ptx_read_header(ptx, &header);
  free(data);
  ASSERT_OK(status);
  ASSERT_EQ_U64(header.version_major, 9);
  ASSERT_EQ_U64(header.version_minor, 0);
  ASSERT_EQ_U64(header.sm_arch, 90);
  ASSERT_EQ_I64(header.arch_suffix, 0);
  ASSERT_EQ_U64(header.address_size, 64);
}

TEST(ptx_entry_nvcc_add_one) {
  uint8_t* data = NULL;
  size_t size = 0;
  if (!read_corpus(NVCC_PTX, &data, &size)) FAIL("cannot read " NVCC_PTX);
  kiln_const_bytes_t ptx = {data, size};
  kiln__ptx_entry_t e;
  kiln_status_t status = find(ptx, "add_one", &e);
  if (status) free(data);
  ASSERT_OK(status);
  bool ok = view_is(e.name, "add_one") && e.param_count == 3 &&
            e.params[0].type == KILN__PTX_TYPE_U64 &&
            e.params[1].type == KILN__PTX_TYPE_U32 &&
            e.params[2].type == KILN__PTX_TYPE_U64 &&
            view_is(e.params[1].name, "add_one_param_1") &&
            e.params[0].offset == 0 && e.params[1].offset == 8 &&
            e.params[2].offset == 16 && e.param_bytes == 24 &&
            !e.params[0].is_ptr && !e.has_reqntid && !e.has_maxntid &&
            e.header.sm_arch == 90;
  kiln__ptx_entry_deinit(&e);
  free(data);
  ASSERT_TRUE(ok);
}

TEST(ptx_entry_nvcc_mixed) {
  uint8_t* data = NULL;
  size_t size = 0;
  if (!read_corpus(NVCC_PTX, &data, &size)) FAIL("cannot read " NVCC_PTX);
  kiln_const_bytes_t ptx = {data, size};
  kiln__ptx_entry_t e;
  kiln_status_t status = find(ptx, "mixed", &e);
  if (status) free(data);
  ASSERT_OK(status);
  // (double d, long long q, unsigned short h, unsigned char c, Big big
  // (char[24]), Vec v (alignas 16, 16 bytes), float* out),
  // __launch_bounds__(256, 2).
  static const kiln__ptx_type_t types[] = {
      KILN__PTX_TYPE_F64, KILN__PTX_TYPE_U64, KILN__PTX_TYPE_U16,
      KILN__PTX_TYPE_U8,  KILN__PTX_TYPE_B8,  KILN__PTX_TYPE_B8,
      KILN__PTX_TYPE_U64};
  static const size_t offsets[] = {0, 8, 16, 18, 19, 48, 64};
  static const size_t sizes[] = {8, 8, 2, 1, 24, 16, 8};
  static const size_t aligns[] = {8, 8, 2, 1, 1, 16, 8};
  static const uint32_t arrays[] = {0, 0, 0, 0, 24, 16, 0};
  char failure[256] = "";
  if (e.param_count != 7) {
    snprintf(failure, sizeof(failure), "param_count %zu", e.param_count);
  }
  for (size_t i = 0; !failure[0] && i < 7; ++i) {
    const kiln__ptx_param_t* p = &e.params[i];
    if (p->type != types[i] || p->offset != offsets[i] || p->size != sizes[i] ||
        p->align != aligns[i] || p->array_count != arrays[i]) {
      snprintf(failure, sizeof(failure),
               "param %zu: type %s offset %zu size %zu align %zu array %u", i,
               kiln__ptx_type_name(p->type), p->offset, p->size, p->align,
               p->array_count);
    }
  }
  if (!failure[0] &&
      !(e.param_bytes == 72 && e.has_maxntid && e.maxntid[0] == 256 &&
        e.maxntid[1] == 1 && e.maxntid[2] == 1 && !e.has_reqntid &&
        e.minnctapersm == 2)) {
    snprintf(failure, sizeof(failure),
             "param_bytes %zu maxntid %d %u minnctapersm %u", e.param_bytes,
             e.has_maxntid, e.maxntid[0], e.minnctapersm);
  }
  kiln__ptx_entry_deinit(&e);
  free(data);
  if (failure[0]) FAIL("%s", failure);
}

TEST(ptx_entry_nvcc_no_params_and_mangled) {
  uint8_t* data = NULL;
  size_t size = 0;
  if (!read_corpus(NVCC_PTX, &data, &size)) FAIL("cannot read " NVCC_PTX);
  kiln_const_bytes_t ptx = {data, size};
  kiln__ptx_entry_t e;
  kiln_status_t status = find(ptx, "no_params", &e);
  bool ok = !status && e.param_count == 0 && e.param_bytes == 0;
  kiln__ptx_entry_deinit(&e);
  if (!status) status = find(ptx, "_Z7mangledPi", &e);
  ok = ok && !status && e.param_count == 1 &&
       e.params[0].type == KILN__PTX_TYPE_U64;
  kiln__ptx_entry_deinit(&e);
  free(data);
  ASSERT_OK(status);
  ASSERT_TRUE(ok);
}

TEST(ptx_entry_not_found_lists_entries) {
  uint8_t* data = NULL;
  size_t size = 0;
  if (!read_corpus(NVCC_PTX, &data, &size)) FAIL("cannot read " NVCC_PTX);
  kiln_const_bytes_t ptx = {data, size};
  kiln__ptx_entry_t e;
  kiln_status_t status = find(ptx, "add_kernel", &e);
  kiln_status_t helper = find(ptx, "_Z6helperfi", &e);   // a .func
  kiln_status_t printf_decl = find(ptx, "vprintf", &e);  // .extern .func
  kiln_status_t prefix = find(ptx, "add_on", &e);
  free(data);
  kiln_status_code_t helper_code = kiln_status_code(helper);
  kiln_status_code_t printf_code = kiln_status_code(printf_decl);
  kiln_status_code_t prefix_code = kiln_status_code(prefix);
  kiln_status_free(helper);
  kiln_status_free(printf_decl);
  kiln_status_free(prefix);
  ASSERT_EQ_I64(helper_code, KILN_STATUS_NOT_FOUND);
  ASSERT_EQ_I64(printf_code, KILN_STATUS_NOT_FOUND);
  ASSERT_EQ_I64(prefix_code, KILN_STATUS_NOT_FOUND);
  ASSERT_STATUS(status, KILN_STATUS_NOT_FOUND,
                "PTX has no entry 'add_kernel'; the entries defined are: "
                "add_one, mixed, no_params, _Z7mangledPi");
  ASSERT_STATUS(find(cstring_bytes(".version 8.0\n.target sm_80\n"), "k", &e),
                KILN_STATUS_NOT_FOUND, "defines no .entry");
  ASSERT_STATUS(find(cstring_bytes(".version 8.0\n.target sm_80\n"), "", &e),
                KILN_STATUS_INVALID_ARGUMENT, "empty kernel name");
}

TEST(ptx_entry_triton) {
  uint8_t* data = NULL;
  size_t size = 0;
  if (!read_corpus(TRITON_PTX, &data, &size)) FAIL("cannot read " TRITON_PTX);
  kiln_const_bytes_t files[2] = {{data, size}, cstring_bytes(kTritonHeader)};
  for (int f = 0; f < 2; ++f) {
    kiln__ptx_entry_t e;
    kiln_status_t status = find(files[f], "add_kernel", &e);
    if (status) free(data);
    ASSERT_OK(status);
    bool ok = e.header.version_major == 8 && e.header.version_minor == 7 &&
              e.header.sm_arch == 90 && e.header.arch_suffix == 'a' &&
              e.param_count == 5 && e.param_bytes == 40 && e.has_reqntid &&
              e.reqntid[0] == 128 && e.reqntid[1] == 1 && e.reqntid[2] == 1;
    for (size_t i = 0; ok && i < 5; ++i) {
      const kiln__ptx_param_t* p = &e.params[i];
      if (i == 1) {
        ok = p->type == KILN__PTX_TYPE_U32 && !p->is_ptr && p->offset == 8;
      } else {
        ok = p->type == KILN__PTX_TYPE_U64 && p->is_ptr &&
             p->ptr_space == KILN__PTX_SPACE_GLOBAL && p->ptr_align == 1 &&
             p->align == 8 && p->offset == (i == 0 ? 0 : 8 * i);
      }
    }
    ok = ok && view_is(e.params[4].name, "add_kernel_param_4");
    kiln__ptx_entry_deinit(&e);
    if (!ok) {
      free(data);
      FAIL("file %d: unexpected add_kernel description", f);
    }
  }
  free(data);
}

TEST(ptx_entry_triton_scale) {
  uint8_t* data = NULL;
  size_t size = 0;
  if (!read_corpus(TRITON_SCALE_PTX, &data, &size)) {
    FAIL("cannot read " TRITON_SCALE_PTX);
  }
  kiln_const_bytes_t ptx = {data, size};
  kiln__ptx_entry_t e;
  kiln_status_t status = find(ptx, "scale_kernel", &e);
  if (status) free(data);
  ASSERT_OK(status);
  // x, y, s (fp32), k (i64; the constexpr n is gone), then Triton's global
  // and profile scratch pointers.
  static const kiln__ptx_type_t types[] = {
      KILN__PTX_TYPE_U64, KILN__PTX_TYPE_U64, KILN__PTX_TYPE_F32,
      KILN__PTX_TYPE_U64, KILN__PTX_TYPE_U64, KILN__PTX_TYPE_U64};
  static const bool ptrs[] = {true, true, false, false, true, true};
  static const size_t offsets[] = {0, 8, 16, 24, 32, 40};
  bool ok = e.param_count == 6 && e.param_bytes == 48 && e.has_reqntid &&
            e.reqntid[0] == 128 && e.reqntid[1] == 1 && e.reqntid[2] == 1;
  for (size_t i = 0; ok && i < 6; ++i) {
    ok = e.params[i].type == types[i] && e.params[i].is_ptr == ptrs[i] &&
         e.params[i].offset == offsets[i];
  }
  kiln__ptx_entry_deinit(&e);
  free(data);
  ASSERT_TRUE(ok);
}

TEST(ptx_directive_forms) {
  // One-value .reqntid (what recent LLVM prints), .maxnreg, a cluster
  // directive, a .pragma, an unknown directive with arguments, .b8 arrays
  // with explicit alignment, a two-dimensional array and hex numbers.
  static const char text[] =
      ".version 8.4 .target sm_100f, debug .address_size 64\n"
      ".entry k(.param .align 0x10 .b8 s[4][3], .param .f16x2 h,\n"
      "         .param .u64 .ptr .align 16 p, .param .b128 w)\n"
      ".reqntid 64 .maxnreg 128 .reqnctapercluster 2, 1 .explicitcluster\n"
      ".pragma \"nounroll\"; .futuredirective 1, 2, 3\n"
      "{ ret; }\n";
  kiln__ptx_entry_t e;
  ASSERT_OK(find(cstring_bytes(text), "k", &e));
  bool ok = e.header.sm_arch == 100 && e.header.arch_suffix == 'f' &&
            e.param_count == 4 && e.params[0].array_count == 12 &&
            e.params[0].size == 12 && e.params[0].align == 16 &&
            e.params[1].offset == 12 && e.params[1].size == 4 &&
            e.params[2].offset == 16 && e.params[2].is_ptr &&
            e.params[2].ptr_space == KILN__PTX_SPACE_GENERIC &&
            e.params[2].ptr_align == 16 && e.params[2].align == 8 &&
            e.params[3].offset == 32 && e.params[3].size == 16 &&
            e.param_bytes == 48 && e.has_reqntid && e.reqntid[0] == 64 &&
            e.reqntid[1] == 1 && e.reqntid[2] == 1 && e.maxnreg == 128 &&
            e.has_reqnctapercluster && e.reqnctapercluster[0] == 2 &&
            e.reqnctapercluster[1] == 1 && e.reqnctapercluster[2] == 1;
  kiln__ptx_entry_deinit(&e);
  ASSERT_TRUE(ok);
}

TEST(ptx_comments_strings_and_declarations) {
  static const char text[] =
      "// .entry in_line_comment(\n"
      "/* .entry in_block_comment( { */\n"
      ".version 7.8 // trailing comment\n"
      ".target sm_80 /* inline */ .address_size 64\n"
      ".file 1 \"{odd}/\\\"path\\\".py\"\n"
      ".extern .entry declared_only(.param .u32 x);\n"
      ".global .align 4 .b8 table[4] = {1, 2, 3, 4};\n"
      ".func helper() { { { } } }\n"
      ".visible .entry real(\n"
      "  .param .u32 real_param_0 // the count\n"
      ") {\n"
      "  // } a brace in a comment\n"
      "  /* } another */\n"
      "  { .reg .b32 %r<2>; }\n"
      "  ret;\n"
      "}\n";
  kiln__ptx_entry_t e;
  ASSERT_OK(find(cstring_bytes(text), "real", &e));
  bool ok = e.param_count == 1 && e.header.sm_arch == 80;
  kiln__ptx_entry_deinit(&e);
  ASSERT_TRUE(ok);
  ASSERT_STATUS(find(cstring_bytes(text), "in_line_comment", &e),
                KILN_STATUS_NOT_FOUND, "the entries defined are: real");
  ASSERT_STATUS(find(cstring_bytes(text), "in_block_comment", &e),
                KILN_STATUS_NOT_FOUND, "");
  ASSERT_STATUS(find(cstring_bytes(text), "declared_only", &e),
                KILN_STATUS_NOT_FOUND, "");
}

TEST(ptx_nul_ends_the_text) {
  // What follows a NUL is what the driver never sees.
  static const char text[] =
      ".version 8.0\n.target sm_90\n.entry k() { ret; }\n\0}}} garbage {";
  kiln_const_bytes_t bytes = {(const uint8_t*)text, sizeof(text)};
  kiln__ptx_entry_t e;
  ASSERT_OK(find(bytes, "k", &e));
  kiln__ptx_entry_deinit(&e);
  ASSERT_EQ_U64(kiln__ptx_text_size(bytes), strlen(text));
  ASSERT_OK(kiln__ptx_check_terminated(bytes));
  kiln_const_bytes_t unterminated = {(const uint8_t*)text, strlen(text)};
  ASSERT_EQ_U64(kiln__ptx_text_size(unterminated), strlen(text));
  ASSERT_STATUS(kiln__ptx_check_terminated(unterminated), KILN_STATUS_DATA_LOSS,
                "not NUL-terminated");
  kiln_const_bytes_t empty = {NULL, 0};
  ASSERT_STATUS(kiln__ptx_check_terminated(empty), KILN_STATUS_DATA_LOSS,
                "0 bytes");
  kiln_test_allocator_t ta = kiln_test_allocator_make();
  char* copy = NULL;
  size_t length = 0;
  ASSERT_OK(kiln__ptx_copy_terminated(
      unterminated, kiln_test_allocator_get(&ta), &copy, &length));
  bool same = length == strlen(text) && strcmp(copy, text) == 0;
  kiln_allocator_free(kiln_test_allocator_get(&ta), copy);
  ASSERT_TRUE(same);
  ASSERT_EQ_U64(ta.live, 0);
  ta = kiln_test_allocator_failing_at(0);
  ASSERT_STATUS(kiln__ptx_copy_terminated(
                    unterminated, kiln_test_allocator_get(&ta), &copy, &length),
                KILN_STATUS_RESOURCE_EXHAUSTED, "");
  ASSERT_EQ_PTR(copy, NULL);
}

typedef struct malformed_case_t {
  const char* text;
  const char* message;  // a part of the expected message
} malformed_case_t;

TEST(ptx_malformed_text) {
  static const malformed_case_t cases[] = {
      {".target sm_90\n.entry k() {}", "no .version directive"},
      {".version 8.0\n.entry k() {}", "no .target directive"},
      {".version 8.0 .target sm_90 /* never closed",
       "byte offset 27: unterminated /* comment"},
      {".version 8.0 .target sm_90 .file 1 \"open",
       "byte offset 35: "
       "unterminated string"},
      {".version 8.0 .target sm_90 }", "byte offset 27: unbalanced '}'"},
      {".version 8.0 .target sm_90 .entry k() { {",
       "byte offset 38: '{' is "
       "never closed"},
      {".version x .target sm_90", "byte offset 9: expected a version"},
      {".version 8 .target sm_90", "expected a version"},
      {".version 8.0.1 .target sm_90", "expected a version"},
      {".version 8.0 .target compute_90",
       "byte offset 21: expected an "
       "architecture"},
      {".version 8.0 .target sm_", "expected an architecture"},
      {".version 8.0 .target sm_09", "expected an architecture"},
      {".version 8.0 .target sm_90 .address_size 48", ".address_size other"},
      {".version 8.0 .target sm_90 .entry 9k() {}",
       "byte offset 34: expected "
       "a kernel name"},
      {".version 8.0 .target sm_90 .entry k(.param .q32 x) {}",
       "byte offset 43: expected a parameter type or attribute, found '.q32'"},
      {".version 8.0 .target sm_90 .entry k(.param .ptr .u64 x) {}",
       ".ptr before the type"},
      {".version 8.0 .target sm_90 .entry k(.param .u64 .global x) {}",
       "a state space without .ptr"},
      {".version 8.0 .target sm_90 .entry k(.param .u64 .u32 x) {}",
       "a second parameter type"},
      {".version 8.0 .target sm_90 .entry k(.param .u64) {}",
       "expected a parameter name, found ')'"},
      {".version 8.0 .target sm_90 .entry k(.param .u64 x y) {}",
       "expected ',' or ')' after a parameter, found 'y'"},
      {".version 8.0 .target sm_90 .entry k(.reg .u64 x) {}",
       "expected '.param'"},
      {".version 8.0 .target sm_90 .entry k(.param .b8 x[0]) {}",
       "an array of size 0"},
      {".version 8.0 .target sm_90 .entry k(.param .b8 x[4) {}",
       "expected ']'"},
      {".version 8.0 .target sm_90 .entry k(.param .align 3 .b8 x[4]) {}",
       "expected a power-of-two alignment"},
      {".version 8.0 .target sm_90 .entry k(.param .u32 x",
       "found the end "
       "of the text"},
      {".version 8.0 .target sm_90 .entry k() .reqntid {}",
       "expected a thread count"},
      {".version 8.0 .target sm_90 .entry k() ret; }",
       "expected '{', ';' or a performance directive, found 'ret'"},
      {".version 8.0 .target sm_90 .entry k() {} .entry k() {}",
       "entry 'k' is defined twice"},
      {".version 8.0 .target sm_90 .entry k(.param .u32 x[99999999999]) {}",
       "expected an array size"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
    kiln__ptx_entry_t e;
    kiln_status_t status = find(cstring_bytes(cases[i].text), "k", &e);
    kiln__ptx_entry_deinit(&e);
    if (kiln_status_code(status) != KILN_STATUS_DATA_LOSS ||
        !strstr(kiln_status_message(status), cases[i].message)) {
      char message[512];
      snprintf(message, sizeof(message), "%s: %s",
               kiln_status_code_name(kiln_status_code(status)),
               kiln_status_message(status));
      kiln_status_free(status);
      FAIL("case %zu (%s): got %s, expected DATA_LOSS with \"%s\"", i,
           cases[i].text, message, cases[i].message);
    }
    kiln_status_free(status);
    kiln__ptx_header_t header;
    status = kiln__ptx_read_header(cstring_bytes(cases[i].text), &header);
    kiln_status_code_t code = kiln_status_code(status);
    kiln_status_free(status);
    // The header scan fails the same way, except on a duplicate entry,
    // which only the entry lookup checks.
    if (!strstr(cases[i].message, "defined twice")) {
      ASSERT_EQ_I64(code, KILN_STATUS_DATA_LOSS);
    }
  }
}

TEST(ptx_param_size_overflow) {
  static const char text[] =
      ".version 8.0 .target sm_90 .entry k(.param .b64 x[4294967295][2]) {}";
  kiln__ptx_entry_t e;
  ASSERT_STATUS(find(cstring_bytes(text), "k", &e), KILN_STATUS_OUT_OF_RANGE,
                "more than 2^32 elements");
}

// Every prefix of |text|, copied into a buffer of exactly that size (no NUL
// after it, so that AddressSanitizer catches a read past the span), must
// parse or fail cleanly.
static bool check_truncations(kiln_test_t* t_, const uint8_t* text, size_t size,
                              const char* entry) {
  for (size_t n = 0; n <= size; ++n) {
    uint8_t* copy = (uint8_t*)malloc(n ? n : 1);
    if (!copy) return false;
    memcpy(copy, text, n);
    kiln_const_bytes_t bytes = {copy, n};
    kiln__ptx_entry_t e;
    kiln_status_t status = find(bytes, entry, &e);
    kiln_status_code_t code = kiln_status_code(status);
    kiln__ptx_entry_deinit(&e);
    kiln_status_free(status);
    free(copy);
    if (code != KILN_STATUS_OK && code != KILN_STATUS_DATA_LOSS &&
        code != KILN_STATUS_NOT_FOUND) {
      kiln_test_fail(t_, __FILE__, __LINE__, "prefix of %zu bytes: %s", n,
                     kiln_status_code_name(code));
      return false;
    }
    // A prefix that ends inside the entry's body never parses: its brace
    // is open.
  }
  return true;
}

TEST(ptx_every_truncation_is_safe) {
  static const char* const files[] = {NVCC_PTX, TRITON_PTX, TRITON_SCALE_PTX,
                                      TRITON_LIKE_PTX};
  static const char* const entries[] = {"mixed", "add_kernel", "scale_kernel",
                                        "add_kernel"};
  for (int f = 0; f < 4; ++f) {
    uint8_t* data = NULL;
    size_t size = 0;
    if (!read_corpus(files[f], &data, &size)) FAIL("cannot read %s", files[f]);
    bool ok = check_truncations(t_, data, size, entries[f]);
    free(data);
    if (!ok) return;
  }
  if (!check_truncations(t_, (const uint8_t*)kTritonHeader,
                         sizeof(kTritonHeader) - 1, "add_kernel")) {
    return;
  }
  // The whole header without its closing brace is refused; with it, found.
  kiln__ptx_entry_t e;
  kiln_const_bytes_t open = {(const uint8_t*)kTritonHeader,
                             sizeof(kTritonHeader) - 2};
  ASSERT_STATUS(find(open, "add_kernel", &e), KILN_STATUS_DATA_LOSS,
                "never closed");
}

TEST(ptx_byte_flips_are_safe) {
  uint8_t* data = NULL;
  size_t size = 0;
  if (!read_corpus(TRITON_PTX, &data, &size)) FAIL("cannot read " TRITON_PTX);
  static const uint8_t patterns[] = {0x00, 0xff, '{', '}', '"', '/',
                                     '*',  '.',  '(', ')', ','};
  for (size_t i = 0; i < size; ++i) {
    uint8_t saved = data[i];
    for (size_t k = 0; k < sizeof(patterns); ++k) {
      data[i] = patterns[k];
      kiln_const_bytes_t bytes = {data, size};
      kiln__ptx_entry_t e;
      kiln_status_t status = find(bytes, "add_kernel", &e);
      kiln_status_code_t code = kiln_status_code(status);
      kiln__ptx_entry_deinit(&e);
      kiln_status_free(status);
      if (code != KILN_STATUS_OK && code != KILN_STATUS_DATA_LOSS &&
          code != KILN_STATUS_NOT_FOUND) {
        free(data);
        FAIL("byte %zu set to 0x%02x: %s", i, patterns[k],
             kiln_status_code_name(code));
      }
    }
    data[i] = saved;
  }
  free(data);
}

TEST(ptx_oom_sweep) {
  uint8_t* data = NULL;
  size_t size = 0;
  if (!read_corpus(NVCC_PTX, &data, &size)) FAIL("cannot read " NVCC_PTX);
  kiln_const_bytes_t ptx = {data, size};
  for (size_t fail_at = 0;; ++fail_at) {
    kiln_test_allocator_t ta = kiln_test_allocator_failing_at(fail_at);
    kiln__ptx_entry_t e;
    kiln_status_t status = kiln__ptx_find_entry(
        ptx, kiln_make_cstring_view("mixed"), kiln_test_allocator_get(&ta), &e);
    if (!status) {
      bool ok = e.param_count == 7;
      kiln__ptx_entry_deinit(&e);
      free(data);
      ASSERT_TRUE(ok);
      ASSERT_EQ_U64(ta.live, 0);
      ASSERT_TRUE(fail_at > 0);
      return;
    }
    kiln_status_code_t code = kiln_status_code(status);
    kiln_status_free(status);
    if (code != KILN_STATUS_RESOURCE_EXHAUSTED || ta.live != 0) {
      free(data);
      FAIL("fail_at %zu: %s, %zu blocks live", fail_at,
           kiln_status_code_name(code), ta.live);
    }
  }
}
