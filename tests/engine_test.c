// Tests of src/engine: the plan's lifetime, the engine writer, the
// verifying reader (round trips, every truncation and byte flip, versions,
// hand-corrupted semantics with recomputed checksums, allocation failures)
// and descriptions.

#include "engine/engine.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/blob.h"
#include "base/bytes.h"
#include "base/hash.h"
#include "engine/format.h"
#include "sym/sym.h"
#include "test.h"

//===----------------------------------------------------------------------===//
// A small valid engine, built by hand
//===----------------------------------------------------------------------===//

// Expression indices of the fixture.
enum { E_X0, E_256, E_1, E_0, E_NUMEL, E_GRID, E_COUNT };

// A plan, the blob its spans index, and the engine file written from it.
typedef struct fixture_t {
  kiln__plan_t* plan;
  kiln__writer_t blob;
  kiln__writer_t file;  // the engine bytes: file.data, file.size
} fixture_t;

static void fixture_free(fixture_t* f) {
  kiln__plan_destroy(f->plan);
  kiln__writer_deinit(&f->blob);
  kiln__writer_deinit(&f->file);
  memset(f, 0, sizeof(*f));
}

static kiln_status_t plan_array(kiln__plan_t* p, size_t count, size_t size,
                                void** out) {
  return kiln__arena_alloc(&p->arena, count * size, 8, out);
}

#define PLAN_ARRAY(p, field, n)                                                \
  do {                                                                         \
    void* memory_ = NULL;                                                      \
    KILN_RETURN_IF_ERROR(plan_array((p), (n), sizeof(*(p)->field), &memory_)); \
    (p)->field = memory_;                                                      \
  } while (0)

static kiln_status_t blob_text(kiln__writer_t* blob, const char* text,
                               size_t alignment, bool nul,
                               kiln__plan_span_t* out) {
  kiln_const_bytes_t bytes = {(const uint8_t*)text, strlen(text)};
  return kiln__plan_blob_append(blob, bytes, alignment, nul, out);
}

static const char kPtx[] =
    ".version 8.0\n.target sm_90\n.address_size 64\n"
    ".visible .entry add_kernel(.param .u64 x, .param .u32 n, .param .u64 y,"
    " .param .b8 z[8])\n{\n  ret;\n}\n";

// Builds the fixture: input x [x[0] dynamic, 256] float32; constant w
// [256] float32; layer 0 (AOT, test::add) x, w -> tensor 2 (in the arena);
// layer 1 (AOT, or host when |host|) tensor 2, w -> output y. One kernel
// with a PTX image and a fake cubin, params [in 0][arg 0][out 0][zero 8];
// one profile x[0] in 1..8..64.
static kiln_status_t fixture_build(fixture_t* f, kiln_allocator_t a,
                                   const char* x_name, bool host) {
  memset(f, 0, sizeof(*f));
  kiln__writer_init(&f->blob, a);
  kiln__writer_init(&f->file, a);
  KILN_RETURN_IF_ERROR(kiln__plan_create(a, &f->plan));
  kiln__plan_t* p = f->plan;
  kiln_sym_table_t* st = p->sym;

  kiln_sym_t x0 = kiln_sym_dim(st, 0, 0);
  kiln_sym_t c256 = kiln_sym_const(st, 256);
  kiln_sym_t numel = kiln_sym_mul(st, x0, c256);
  PLAN_ARRAY(p, exprs, E_COUNT);
  p->expr_count = E_COUNT;
  p->exprs[E_X0] = x0;
  p->exprs[E_256] = c256;
  p->exprs[E_1] = kiln_sym_const(st, 1);
  p->exprs[E_0] = kiln_sym_const(st, 0);
  p->exprs[E_NUMEL] = numel;
  p->exprs[E_GRID] = kiln_sym_ceil_div(st, numel, c256);
  KILN_RETURN_IF_ERROR(kiln_sym_table_take_error(st));

  kiln__plan_span_t name_x, name_w, name_y, plugin, first, second, kernel, ptx,
      cubin, data, attrs;
  KILN_RETURN_IF_ERROR(blob_text(&f->blob, x_name, 1, false, &name_x));
  KILN_RETURN_IF_ERROR(blob_text(&f->blob, "w", 1, false, &name_w));
  KILN_RETURN_IF_ERROR(blob_text(&f->blob, "y", 1, false, &name_y));
  KILN_RETURN_IF_ERROR(blob_text(&f->blob, "test::add", 1, false, &plugin));
  KILN_RETURN_IF_ERROR(blob_text(&f->blob, "first", 1, false, &first));
  KILN_RETURN_IF_ERROR(blob_text(&f->blob, "second", 1, false, &second));
  KILN_RETURN_IF_ERROR(blob_text(&f->blob, "add_kernel", 1, false, &kernel));
  KILN_RETURN_IF_ERROR(blob_text(&f->blob, kPtx, 64, true, &ptx));
  // A minimal cubin: an ELF64 header (CUDA ABI 7, sm_90) and one null
  // section header.
  uint8_t elf[128] = {0x7f, 'E', 'L', 'F', 2, 1, 1, 0x33, 7};
  elf[16] = 2;    // e_type ET_EXEC
  elf[18] = 190;  // e_machine EM_CUDA
  elf[20] = 1;    // e_version
  elf[40] = 64;   // e_shoff
  elf[48] = 90;   // e_flags: sm_90
  elf[52] = 64;   // e_ehsize
  elf[58] = 64;   // e_shentsize
  elf[60] = 1;    // e_shnum
  kiln_const_bytes_t elf_bytes = {elf, sizeof(elf)};
  KILN_RETURN_IF_ERROR(
      kiln__plan_blob_append(&f->blob, elf_bytes, 64, false, &cubin));
  float weights[256];
  for (int i = 0; i < 256; ++i) weights[i] = (float)i * 0.25f;
  kiln_const_bytes_t weight_bytes = {(const uint8_t*)weights, sizeof(weights)};
  KILN_RETURN_IF_ERROR(
      kiln__plan_blob_append(&f->blob, weight_bytes, 64, false, &data));
  KILN_RETURN_IF_ERROR(blob_text(&f->blob, "abc", 1, false, &attrs));

  p->tensor_count = 4;
  PLAN_ARRAY(p, tensors, 4);
  for (uint32_t t = 0; t < 4; ++t) {
    kiln__plan_tensor_t* tensor = &p->tensors[t];
    tensor->dtype = KILN_DTYPE_FLOAT32;
    tensor->format = KILN_FORMAT_LINEAR;
    tensor->rank = 2;
    tensor->dims[0] = E_X0;
    tensor->dims[1] = E_256;
    for (int j = 2; j < KILN_MAX_RANK; ++j) tensor->dims[j] = KILN__NONE;
    tensor->input_ordinal = KILN__NONE;
    tensor->producer = KILN__NONE;
    tensor->constant = KILN__NONE;
    tensor->alias_of = KILN__NONE;
    tensor->arena_offset = UINT64_MAX;
    tensor->max_bytes = 64 * 256 * 4;
  }
  p->tensors[0].name = name_x;
  p->tensors[0].kind = KILN__TENSOR_INPUT;
  p->tensors[0].input_ordinal = 0;
  p->tensors[1].name = name_w;
  p->tensors[1].kind = KILN__TENSOR_CONSTANT;
  p->tensors[1].rank = 1;
  p->tensors[1].dims[0] = E_256;
  p->tensors[1].dims[1] = KILN__NONE;
  p->tensors[1].constant = 0;
  p->tensors[1].max_bytes = 1024;
  p->tensors[2].kind = KILN__TENSOR_ACTIVATION;
  p->tensors[2].producer = 0;
  p->tensors[2].arena_offset = 0;
  p->tensors[3].name = name_y;
  p->tensors[3].kind = KILN__TENSOR_ACTIVATION;
  p->tensors[3].is_output = 1;
  p->tensors[3].producer = 1;
  p->input_count = 1;
  p->output_count = 1;
  p->activation_bytes = 64 * 256 * 4;

  p->constant_count = 1;
  PLAN_ARRAY(p, constants, 1);
  p->constants[0].data = data;

  p->image_count = 2;
  PLAN_ARRAY(p, images, 2);
  p->images[0].kind = KILN_KERNEL_IMAGE_PTX;
  p->images[0].data = ptx;
  p->images[1].kind = KILN_KERNEL_IMAGE_CUBIN;
  p->images[1].sm_arch = 90;
  p->images[1].data = cubin;

  p->param_count = 4;
  PLAN_ARRAY(p, params, 4);
  // Fields one by one: the arena zeroed the padding that plans_equal
  // compares, and a struct assignment might not keep it zero.
  static const uint8_t kinds[4] = {KILN__PARAM_INPUT, KILN__PARAM_ARG,
                                   KILN__PARAM_OUTPUT, KILN__PARAM_ZERO};
  static const uint8_t sizes[4] = {8, 4, 8, 8};
  for (int i = 0; i < 4; ++i) {
    p->params[i].kind = kinds[i];
    p->params[i].size = p->params[i].align = sizes[i];
  }

  p->kernel_count = 1;
  PLAN_ARRAY(p, kernels, 1);
  p->kernels[0].name = kernel;
  p->kernels[0].images = (kiln__plan_range_t){0, 2};
  p->kernels[0].params = (kiln__plan_range_t){0, 4};
  p->kernels[0].num_ctas = 1;

  p->arg_count = 2;
  PLAN_ARRAY(p, args, 2);
  p->args[0].type = KILN_ARG_TYPE_INT32;
  p->args[0].expr = E_NUMEL;
  p->args[1].type = KILN_ARG_TYPE_FLOAT32;
  p->args[1].expr = KILN__NONE;
  p->args[1].f32 = 0.5f;

  p->index_count = 6;
  PLAN_ARRAY(p, indices, 6);
  static const uint32_t indices[6] = {0, 1, 2, 2, 1, 3};
  memcpy(p->indices, indices, sizeof(indices));

  p->layer_count = 2;
  PLAN_ARRAY(p, layers, 2);
  for (uint32_t l = 0; l < 2; ++l) {
    kiln__plan_layer_t* layer = &p->layers[l];
    layer->plugin_id = plugin;
    layer->name = l ? second : first;
    layer->kind = KILN__LAYER_AOT;
    layer->tactic = l ? 3 : 0;
    layer->inputs = (kiln__plan_range_t){3 * l, 2};
    layer->outputs = (kiln__plan_range_t){3 * l + 2, 1};
    layer->kernel = 0;
    layer->grid[0] = E_GRID;
    layer->grid[1] = layer->grid[2] = E_1;
    layer->block[0] = E_256;
    layer->block[1] = layer->block[2] = E_1;
    layer->shared_mem = E_0;
    layer->args = (kiln__plan_range_t){l, 1};
  }
  if (host) {
    kiln__plan_layer_t* layer = &p->layers[1];
    layer->kind = KILN__LAYER_HOST;
    layer->kernel = KILN__NONE;
    for (int d = 0; d < 3; ++d) layer->grid[d] = layer->block[d] = KILN__NONE;
    layer->shared_mem = KILN__NONE;
    layer->args = (kiln__plan_range_t){0, 0};
    layer->host_attrs = attrs;
  }

  p->profile_count = 1;
  PLAN_ARRAY(p, ranges, KILN_MAX_RANK);
  p->ranges[0] = (kiln__plan_dim_range_t){1, 8, 64};
  p->ranges[1] = (kiln__plan_dim_range_t){256, 256, 256};

  p->info.kiln_version = KILN_VERSION_NUMBER;
  p->info.timed = 1;
  p->info.timed_sm_arch = 90;
  p->blob.data = f->blob.data;
  p->blob.size = f->blob.size;
  return kiln__engine_write(p, &f->file);
}

static kiln_status_t fixture_make(fixture_t* f, kiln_allocator_t a) {
  kiln_status_t s = fixture_build(f, a, "x", false);
  if (s) fixture_free(f);
  return s;
}

static kiln_status_t fixture_make_host(fixture_t* f, kiln_allocator_t a) {
  kiln_status_t s = fixture_build(f, a, "x", true);
  if (s) fixture_free(f);
  return s;
}

static kiln_status_t fixture_make_named(fixture_t* f, kiln_allocator_t a,
                                        const char* x_name) {
  kiln_status_t s = fixture_build(f, a, x_name, false);
  if (s) fixture_free(f);
  return s;
}

// The smallest engine: nothing in it.
static kiln_status_t fixture_make_empty(fixture_t* f, kiln_allocator_t a) {
  memset(f, 0, sizeof(*f));
  kiln__writer_init(&f->blob, a);
  kiln__writer_init(&f->file, a);
  kiln_status_t s = kiln__plan_create(a, &f->plan);
  if (!s) s = kiln__engine_write(f->plan, &f->file);
  if (s) fixture_free(f);
  return s;
}

//===----------------------------------------------------------------------===//
// Editing engine bytes
//===----------------------------------------------------------------------===//

// Recomputes every section checksum, the table checksum and the header
// checksum of the engine in |d| (whose header and table must be in bounds).
static void fix_checksums(uint8_t* d, size_t n) {
  uint32_t count = kiln__le_u32(d + KILN__HEADER_OFF_SECTION_COUNT);
  for (uint32_t i = 0; i < count; ++i) {
    uint8_t* e = d + KILN__HEADER_SIZE + i * KILN__SECTION_ENTRY_SIZE;
    uint64_t offset = kiln__le_u64(e + KILN__SECTION_OFF_OFFSET);
    uint64_t size = kiln__le_u64(e + KILN__SECTION_OFF_SIZE);
    if (offset <= n && size <= n - offset) {
      kiln__le_put_u32(e + KILN__SECTION_OFF_CRC,
                       kiln__crc32c(0, d + offset, (size_t)size));
    }
  }
  kiln__le_put_u32(
      d + KILN__HEADER_OFF_TABLE_CRC,
      kiln__crc32c(0, d + KILN__HEADER_SIZE, count * KILN__SECTION_ENTRY_SIZE));
  kiln__le_put_u32(d + KILN__HEADER_OFF_HEADER_CRC,
                   kiln__crc32c(0, d, KILN__HEADER_OFF_HEADER_CRC));
}

// Returns the file offset of section |id| (0 when absent).
static uint64_t section_offset(const uint8_t* d, size_t n, uint32_t id) {
  (void)n;
  uint32_t count = kiln__le_u32(d + KILN__HEADER_OFF_SECTION_COUNT);
  for (uint32_t i = 0; i < count; ++i) {
    const uint8_t* e = d + KILN__HEADER_SIZE + i * KILN__SECTION_ENTRY_SIZE;
    if (kiln__le_u32(e + KILN__SECTION_OFF_ID) == id) {
      return kiln__le_u64(e + KILN__SECTION_OFF_OFFSET);
    }
  }
  return 0;
}

// An engine taken apart into its sections, to be put together again.
typedef struct section_copy_t {
  uint32_t id;  // 0: left out when building
  uint32_t flags;
  uint32_t count;
  uint8_t* bytes;
  size_t size;
} section_copy_t;

typedef struct sections_t {
  section_copy_t entries[32];
  size_t count;
} sections_t;

static void sections_free(sections_t* s) {
  for (size_t i = 0; i < s->count; ++i) free(s->entries[i].bytes);
  s->count = 0;
}

static bool sections_add(sections_t* s, uint32_t id, uint32_t flags,
                         uint32_t count, const uint8_t* bytes, size_t size) {
  if (s->count == 32) return false;
  section_copy_t* e = &s->entries[s->count];
  e->bytes = malloc(size ? size : 1);
  if (!e->bytes) return false;
  if (size) memcpy(e->bytes, bytes, size);
  e->id = id;
  e->flags = flags;
  e->count = count;
  e->size = size;
  ++s->count;
  return true;
}

static bool sections_parse(const uint8_t* d, size_t n, sections_t* s) {
  memset(s, 0, sizeof(*s));
  uint32_t count = kiln__le_u32(d + KILN__HEADER_OFF_SECTION_COUNT);
  for (uint32_t i = 0; i < count; ++i) {
    const uint8_t* e = d + KILN__HEADER_SIZE + i * KILN__SECTION_ENTRY_SIZE;
    uint64_t offset = kiln__le_u64(e + KILN__SECTION_OFF_OFFSET);
    uint64_t size = kiln__le_u64(e + KILN__SECTION_OFF_SIZE);
    if (offset > n || size > n - offset ||
        !sections_add(s, kiln__le_u32(e + KILN__SECTION_OFF_ID),
                      kiln__le_u32(e + KILN__SECTION_OFF_FLAGS),
                      kiln__le_u32(e + KILN__SECTION_OFF_COUNT), d + offset,
                      (size_t)size)) {
      sections_free(s);
      return false;
    }
  }
  return true;
}

// Lays the sections out as the writer does (in list order) under a header
// of version |major|.|minor|, with correct checksums. The caller frees
// |*out_data|.
static bool sections_build(const sections_t* s, uint16_t major, uint16_t minor,
                           uint8_t** out_data, size_t* out_size) {
  uint32_t count = 0;
  for (size_t i = 0; i < s->count; ++i) count += s->entries[i].id != 0;
  size_t size = KILN__HEADER_SIZE + count * KILN__SECTION_ENTRY_SIZE;
  for (size_t i = 0; i < s->count; ++i) {
    if (!s->entries[i].id) continue;
    size = (size + 63) / 64 * 64 + s->entries[i].size;
  }
  size = (size + 63) / 64 * 64;
  uint8_t* d = calloc(size, 1);
  if (!d) return false;
  memcpy(d, KILN__ENGINE_MAGIC, KILN__ENGINE_MAGIC_SIZE);
  kiln__le_put_u16(d + KILN__HEADER_OFF_MAJOR, major);
  kiln__le_put_u16(d + KILN__HEADER_OFF_MINOR, minor);
  kiln__le_put_u32(d + KILN__HEADER_OFF_HEADER_SIZE, KILN__HEADER_SIZE);
  kiln__le_put_u64(d + KILN__HEADER_OFF_FILE_SIZE, size);
  kiln__le_put_u32(d + KILN__HEADER_OFF_SECTION_COUNT, count);
  kiln__le_put_u32(d + KILN__HEADER_OFF_TABLE_OFFSET, KILN__HEADER_SIZE);
  size_t at = KILN__HEADER_SIZE + count * KILN__SECTION_ENTRY_SIZE;
  uint32_t k = 0;
  for (size_t i = 0; i < s->count; ++i) {
    const section_copy_t* sc = &s->entries[i];
    if (!sc->id) continue;
    at = (at + 63) / 64 * 64;
    uint8_t* e = d + KILN__HEADER_SIZE + k++ * KILN__SECTION_ENTRY_SIZE;
    kiln__le_put_u32(e + KILN__SECTION_OFF_ID, sc->id);
    kiln__le_put_u32(e + KILN__SECTION_OFF_FLAGS, sc->flags);
    kiln__le_put_u64(e + KILN__SECTION_OFF_OFFSET, at);
    kiln__le_put_u64(e + KILN__SECTION_OFF_SIZE, sc->size);
    kiln__le_put_u32(e + KILN__SECTION_OFF_COUNT, sc->count);
    if (sc->size) memcpy(d + at, sc->bytes, sc->size);
    at += sc->size;
  }
  fix_checksums(d, size);
  *out_data = d;
  *out_size = size;
  return true;
}

// Walks the serialized expressions in |d| (see sym/sym.h). For the first
// binary node whose operands are one-byte varints, writes its number and
// the offset of its first operand; for the first DIM node, the offset of
// its tensor index.
static bool skip_varint(const uint8_t* d, size_t n, size_t* i) {
  while (*i < n && (d[*i] & 0x80)) ++*i;
  if (*i >= n) return false;
  ++*i;
  return true;
}

static bool find_node(const uint8_t* d, size_t n, bool binary,
                      uint64_t* out_node, uint64_t* out_offset) {
  size_t i = 0;
  if (n == 0 || (d[0] & 0x80)) return false;
  uint64_t count = d[i++];
  for (uint64_t node = 0; node < count && i < n; ++node) {
    uint8_t op = d[i++];
    size_t operands = op == KILN_SYM_OP_CONST         ? 1
                      : op == KILN_SYM_OP_SIZE_TENSOR ? 3
                                                      : 2;
    size_t first = i;
    if (binary && op > KILN_SYM_OP_SIZE_TENSOR && node + 1 < count &&
        node + 1 < 128 && i < n && !(d[i] & 0x80)) {
      *out_node = node;
      *out_offset = first;
      return true;
    }
    if (!binary && op == KILN_SYM_OP_DIM) {
      *out_node = node;
      *out_offset = first;
      return true;
    }
    for (size_t k = 0; k < operands; ++k) {
      if (!skip_varint(d, n, &i)) return false;
    }
  }
  return false;
}

static bool find_binary_node(const uint8_t* d, size_t n, uint64_t* out_node,
                             uint64_t* out_offset) {
  return find_node(d, n, true, out_node, out_offset);
}

static bool find_dim_node(const uint8_t* d, size_t n, uint64_t* out_offset) {
  uint64_t node;
  return find_node(d, n, false, &node, out_offset);
}

//===----------------------------------------------------------------------===//
// A JSON syntax checker (RFC 8259), enough to hold descriptions to it
//===----------------------------------------------------------------------===//

typedef struct json_t {
  const char* s;
  size_t n;
  size_t i;
  int depth;
} json_t;

static void json_ws(json_t* j) {
  while (j->i < j->n && (j->s[j->i] == ' ' || j->s[j->i] == '\t' ||
                         j->s[j->i] == '\n' || j->s[j->i] == '\r')) {
    ++j->i;
  }
}

static bool json_digits(json_t* j) {
  size_t start = j->i;
  while (j->i < j->n && j->s[j->i] >= '0' && j->s[j->i] <= '9') ++j->i;
  return j->i > start;
}

static bool json_value(json_t* j);

static bool json_string(json_t* j) {
  if (j->i >= j->n || j->s[j->i] != '"') return false;
  ++j->i;
  while (j->i < j->n) {
    unsigned char c = (unsigned char)j->s[j->i];
    if (c == '"') {
      ++j->i;
      return true;
    }
    if (c < 0x20) return false;
    if (c == '\\') {
      if (++j->i >= j->n) return false;
      char e = j->s[j->i];
      if (e == 'u') {
        for (int k = 0; k < 4; ++k) {
          if (++j->i >= j->n) return false;
          char h = j->s[j->i];
          bool hex = (h >= '0' && h <= '9') || (h >= 'a' && h <= 'f') ||
                     (h >= 'A' && h <= 'F');
          if (!hex) return false;
        }
      } else if (!strchr("\"\\/bfnrt", e)) {
        return false;
      }
    }
    ++j->i;
  }
  return false;
}

static bool json_number(json_t* j) {
  if (j->i < j->n && j->s[j->i] == '-') ++j->i;
  if (j->i < j->n && j->s[j->i] == '0') {
    ++j->i;
  } else if (!json_digits(j)) {
    return false;
  }
  if (j->i < j->n && j->s[j->i] == '.') {
    ++j->i;
    if (!json_digits(j)) return false;
  }
  if (j->i < j->n && (j->s[j->i] == 'e' || j->s[j->i] == 'E')) {
    ++j->i;
    if (j->i < j->n && (j->s[j->i] == '+' || j->s[j->i] == '-')) ++j->i;
    if (!json_digits(j)) return false;
  }
  return true;
}

static bool json_literal(json_t* j, const char* word) {
  size_t len = strlen(word);
  if (j->n - j->i < len || memcmp(j->s + j->i, word, len) != 0) return false;
  j->i += len;
  return true;
}

static bool json_container(json_t* j, char open, char close) {
  ++j->i;  // open
  (void)open;
  if (++j->depth > 64) return false;
  json_ws(j);
  if (j->i < j->n && j->s[j->i] == close) {
    ++j->i;
    --j->depth;
    return true;
  }
  for (;;) {
    json_ws(j);
    if (close == '}') {
      if (!json_string(j)) return false;
      json_ws(j);
      if (j->i >= j->n || j->s[j->i] != ':') return false;
      ++j->i;
      json_ws(j);
    }
    if (!json_value(j)) return false;
    json_ws(j);
    if (j->i >= j->n) return false;
    if (j->s[j->i] == ',') {
      ++j->i;
      continue;
    }
    if (j->s[j->i] != close) return false;
    ++j->i;
    --j->depth;
    return true;
  }
}

static bool json_value(json_t* j) {
  json_ws(j);
  if (j->i >= j->n) return false;
  switch (j->s[j->i]) {
    case '{':
      return json_container(j, '{', '}');
    case '[':
      return json_container(j, '[', ']');
    case '"':
      return json_string(j);
    case 't':
      return json_literal(j, "true");
    case 'f':
      return json_literal(j, "false");
    case 'n':
      return json_literal(j, "null");
    default:
      return json_number(j);
  }
}

static bool json_valid(const char* s, size_t n, size_t* error_at) {
  json_t j = {s, n, 0, 0};
  bool ok = json_value(&j);
  if (ok) {
    json_ws(&j);
    ok = j.i == n;
  }
  *error_at = j.i;
  return ok;
}

TEST(engine_test_json_checker) {
  size_t at;
  static const char* const good[] = {
      "{}",
      "[]",
      "0",
      "-1.5e+3",
      "\"a\\u00e9\\n\"",
      "{\"a\": [1, true, false, null, {\"b\": \"c\"}]}",
      " [ 1 , 2 ] "};
  static const char* const bad[] = {"",       "{",   "[1,]",     "{\"a\" 1}",
                                    "01",     "1.",  "\"\\x\"",  "[1] [2]",
                                    "{1: 2}", "tru", "\"a\nb\"", "-"};
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); ++i) {
    if (!json_valid(good[i], strlen(good[i]), &at)) FAIL("%s", good[i]);
  }
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
    if (json_valid(bad[i], strlen(bad[i]), &at)) FAIL("%s", bad[i]);
  }
}

//===----------------------------------------------------------------------===//
// Helpers over engine bytes
//===----------------------------------------------------------------------===//

// Reads |bytes| as an engine and frees the plan; returns the status.
static kiln_status_t try_read(const uint8_t* data, size_t size) {
  kiln_const_bytes_t bytes = {data, size};
  kiln__plan_t* plan = NULL;
  kiln_status_t status =
      kiln__engine_read(bytes, kiln_allocator_system(), &plan);
  kiln__plan_destroy(plan);
  return status;
}

// Returns true when |status| is DATA_LOSS or INCOMPATIBLE; frees it.
static bool is_rejection(kiln_status_t status, char* message, size_t size) {
  kiln_status_code_t code = kiln_status_code(status);
  snprintf(message, size, "%s: %s", kiln_status_code_name(code),
           kiln_status_message(status));
  kiln_status_free(status);
  return code == KILN_STATUS_DATA_LOSS || code == KILN_STATUS_INCOMPATIBLE;
}

//===----------------------------------------------------------------------===//
// Plan lifetime, blob helper, blobs
//===----------------------------------------------------------------------===//

TEST(engine_plan_create_oom_sweep) {
  for (size_t fail_at = 0;; ++fail_at) {
    kiln_test_allocator_t ta = kiln_test_allocator_failing_at(fail_at);
    kiln__plan_t* plan = NULL;
    kiln_status_t s = kiln__plan_create(kiln_test_allocator_get(&ta), &plan);
    if (!s) {
      ASSERT_TRUE(plan != NULL);
      ASSERT_TRUE(plan->sym != NULL);
      ASSERT_EQ_U64(plan->tensor_count, 0);
      kiln__plan_destroy(plan);
      ASSERT_EQ_U64(ta.live, 0);
      break;
    }
    ASSERT_EQ_I64(kiln_status_code(s), KILN_STATUS_RESOURCE_EXHAUSTED);
    kiln_status_free(s);
    ASSERT_EQ_PTR(plan, NULL);
    ASSERT_EQ_U64(ta.live, 0);
    ASSERT_TRUE(fail_at < 10);
  }
  kiln__plan_destroy(NULL);
}

TEST(engine_blob_append) {
  kiln__writer_t w;
  kiln__writer_init(&w, kiln_allocator_system());
  kiln__plan_span_t span;
  const uint8_t abc[3] = {'a', 'b', 'c'};
  kiln_const_bytes_t bytes = {abc, 3};
  ASSERT_OK(kiln__plan_blob_append(&w, bytes, 1, false, &span));
  ASSERT_EQ_U64(span.offset, 0);
  ASSERT_EQ_U64(span.size, 3);
  ASSERT_OK(kiln__plan_blob_append(&w, bytes, 64, true, &span));
  ASSERT_EQ_U64(span.offset, 64);
  ASSERT_EQ_U64(span.size, 3);
  ASSERT_EQ_U64(w.size, 68);
  ASSERT_EQ_I64(w.data[67], 0);
  for (size_t i = 3; i < 64; ++i) ASSERT_EQ_I64(w.data[i], 0);
  kiln_const_bytes_t empty = {NULL, 0};
  ASSERT_OK(kiln__plan_blob_append(&w, empty, 64, false, &span));
  ASSERT_EQ_U64(span.offset, 0);
  ASSERT_EQ_U64(span.size, 0);
  ASSERT_EQ_U64(w.size, 68);
  ASSERT_STATUS(kiln__plan_blob_append(&w, bytes, 3, false, &span),
                KILN_STATUS_INVALID_ARGUMENT, "power of two");
  kiln__writer_deinit(&w);
}

TEST(engine_blob_objects) {
  kiln_test_allocator_t ta = kiln_test_allocator_make();
  kiln_allocator_t a = kiln_test_allocator_get(&ta);
  const uint8_t text[5] = {'h', 'e', 'l', 'l', 'o'};
  kiln_const_bytes_t bytes = {text, 5};
  kiln_blob_t* blob = NULL;
  ASSERT_OK(kiln__blob_create_copy(a, bytes, true, &blob));
  kiln_const_bytes_t got = kiln_blob_bytes(blob);
  ASSERT_EQ_U64(got.size, 5);
  ASSERT_EQ_STR((const char*)got.data, "hello");
  kiln_blob_destroy(blob);
  kiln__writer_t w;
  kiln__writer_init(&w, a);
  ASSERT_OK(kiln__writer_append(&w, text, 5));
  ASSERT_OK(kiln__blob_create_from_writer(&w, false, &blob));
  ASSERT_EQ_U64(w.size, 0);
  ASSERT_EQ_PTR(w.data, NULL);
  got = kiln_blob_bytes(blob);
  ASSERT_EQ_U64(got.size, 5);
  ASSERT_TRUE(memcmp(got.data, text, 5) == 0);
  kiln_blob_destroy(blob);
  kiln_const_bytes_t empty = {NULL, 0};
  ASSERT_OK(kiln__blob_create_copy(a, empty, false, &blob));
  ASSERT_TRUE(kiln_blob_bytes(blob).data != NULL);
  ASSERT_EQ_U64(kiln_blob_bytes(blob).size, 0);
  kiln_blob_destroy(blob);
  kiln_blob_destroy(NULL);
  ASSERT_EQ_U64(kiln_blob_bytes(NULL).size, 0);
  ASSERT_EQ_U64(ta.live, 0);
  // A failed take-over leaves the writer's bytes with it.
  for (size_t fail_at = 0;; ++fail_at) {
    kiln_test_allocator_t tb = kiln_test_allocator_failing_at(fail_at);
    kiln__writer_t v;
    kiln__writer_init(&v, kiln_test_allocator_get(&tb));
    kiln_status_t s = kiln__writer_append(&v, text, 5);
    if (!s) s = kiln__blob_create_from_writer(&v, true, &blob);
    if (!s) {
      ASSERT_EQ_STR((const char*)kiln_blob_bytes(blob).data, "hello");
      kiln_blob_destroy(blob);
      kiln__writer_deinit(&v);
      ASSERT_EQ_U64(tb.live, 0);
      break;
    }
    ASSERT_EQ_I64(kiln_status_code(s), KILN_STATUS_RESOURCE_EXHAUSTED);
    kiln_status_free(s);
    ASSERT_TRUE(v.size == 0 || v.size == 5);
    kiln__writer_deinit(&v);
    ASSERT_EQ_U64(tb.live, 0);
    ASSERT_TRUE(fail_at < 10);
  }
}

//===----------------------------------------------------------------------===//
// Writing and round trips
//===----------------------------------------------------------------------===//

TEST(engine_write_layout) {
  fixture_t e;
  ASSERT_OK(fixture_make(&e, kiln_allocator_system()));
  const uint8_t* d = e.file.data;
  size_t n = e.file.size;
  ASSERT_TRUE(n % 64 == 0);
  ASSERT_TRUE(memcmp(d, KILN__ENGINE_MAGIC, 8) == 0);
  ASSERT_EQ_U64(kiln__le_u16(d + KILN__HEADER_OFF_MAJOR), 1);
  ASSERT_EQ_U64(kiln__le_u16(d + KILN__HEADER_OFF_MINOR), 1);
  ASSERT_EQ_U64(kiln__le_u64(d + KILN__HEADER_OFF_FILE_SIZE), n);
  uint32_t count = kiln__le_u32(d + KILN__HEADER_OFF_SECTION_COUNT);
  ASSERT_EQ_U64(count, KILN__SECTION_ID_END - 1);
  // Sections in id order, 64-aligned, every other byte zero.
  uint8_t* covered = calloc(n, 1);
  ASSERT_TRUE(covered != NULL);
  memset(covered, 1, KILN__HEADER_SIZE + count * KILN__SECTION_ENTRY_SIZE);
  for (uint32_t i = 0; i < count; ++i) {
    const uint8_t* entry = d + KILN__HEADER_SIZE + i * KILN__SECTION_ENTRY_SIZE;
    uint64_t offset = kiln__le_u64(entry + KILN__SECTION_OFF_OFFSET);
    uint64_t size = kiln__le_u64(entry + KILN__SECTION_OFF_SIZE);
    if (kiln__le_u32(entry + KILN__SECTION_OFF_ID) != i + 1 ||
        offset % 64 != 0 || offset + size > n) {
      free(covered);
      FAIL("section %" PRIu32 " is misplaced", i);
    }
    memset(covered + offset, 1, (size_t)size);
  }
  for (size_t i = 0; i < n; ++i) {
    if (!covered[i] && d[i] != 0) {
      free(covered);
      FAIL("padding byte %zu is 0x%02x", i, d[i]);
    }
  }
  free(covered);
  // The same plan gives the same bytes.
  kiln__writer_t again;
  kiln__writer_init(&again, kiln_allocator_system());
  ASSERT_OK(kiln__engine_write(e.plan, &again));
  ASSERT_EQ_U64(again.size, n);
  ASSERT_TRUE(memcmp(again.data, d, n) == 0);
  kiln__writer_deinit(&again);
  fixture_free(&e);
}

// Compares the arrays and fields of two plans.
static bool plans_equal(const kiln__plan_t* a, const kiln__plan_t* b, char* why,
                        size_t why_size) {
#define SAME_COUNT(f)                                                       \
  if (a->f != b->f) {                                                       \
    snprintf(why, why_size, #f ": %" PRIu64 " vs %" PRIu64, (uint64_t)a->f, \
             (uint64_t)b->f);                                               \
    return false;                                                           \
  }
#define SAME_ARRAY(f, n)                                          \
  if ((n) != 0 && memcmp(a->f, b->f, sizeof(*a->f) * (n)) != 0) { \
    snprintf(why, why_size, #f " differ");                        \
    return false;                                                 \
  }
  SAME_COUNT(expr_count);
  SAME_COUNT(tensor_count);
  SAME_COUNT(input_count);
  SAME_COUNT(output_count);
  SAME_COUNT(constant_count);
  SAME_COUNT(image_count);
  SAME_COUNT(param_count);
  SAME_COUNT(kernel_count);
  SAME_COUNT(arg_count);
  SAME_COUNT(layer_count);
  SAME_COUNT(index_count);
  SAME_COUNT(profile_count);
  SAME_COUNT(activation_bytes);
  SAME_COUNT(info.kiln_version);
  SAME_COUNT(info.timed);
  SAME_COUNT(info.timed_sm_arch);
  SAME_COUNT(blob.size);
  SAME_ARRAY(tensors, a->tensor_count);
  SAME_ARRAY(constants, a->constant_count);
  SAME_ARRAY(images, a->image_count);
  SAME_ARRAY(params, a->param_count);
  SAME_ARRAY(kernels, a->kernel_count);
  SAME_ARRAY(args, a->arg_count);
  SAME_ARRAY(layers, a->layer_count);
  SAME_ARRAY(indices, a->index_count);
  SAME_ARRAY(ranges, (size_t)a->profile_count * a->input_count * KILN_MAX_RANK);
  if (a->blob.size && memcmp(a->blob.data, b->blob.data, a->blob.size) != 0) {
    snprintf(why, why_size, "blobs differ");
    return false;
  }
  for (uint32_t i = 0; i < a->expr_count; ++i) {
    char ta[128], tb[128];
    kiln__sym_describe(a->exprs[i], ta, sizeof(ta));
    kiln__sym_describe(b->exprs[i], tb, sizeof(tb));
    if (strcmp(ta, tb) != 0) {
      snprintf(why, why_size, "expression %" PRIu32 ": %.100s vs %.100s", i, ta,
               tb);
      return false;
    }
  }
#undef SAME_COUNT
#undef SAME_ARRAY
  return true;
}

TEST(engine_round_trip) {
  fixture_t e;
  ASSERT_OK(fixture_make(&e, kiln_allocator_system()));
  kiln_const_bytes_t bytes = {e.file.data, e.file.size};
  kiln__plan_t* plan = NULL;
  ASSERT_OK(kiln__engine_read(bytes, kiln_allocator_system(), &plan));
  char why[512];
  bool same = plans_equal(e.plan, plan, why, sizeof(why));
  // Spans index the file's BLOB section.
  bool inside = plan->blob.data > e.file.data &&
                plan->blob.data + plan->blob.size <= e.file.data + e.file.size;
  kiln__writer_t again;
  kiln__writer_init(&again, kiln_allocator_system());
  kiln_status_t s = kiln__engine_write(plan, &again);
  bool identical = !s && again.size == e.file.size &&
                   memcmp(again.data, e.file.data, again.size) == 0;
  kiln__writer_deinit(&again);
  kiln__plan_destroy(plan);
  fixture_free(&e);
  ASSERT_OK(s);
  if (!same) FAIL("plans differ after reading: %s", why);
  ASSERT_TRUE(inside);
  ASSERT_TRUE(identical);
}

TEST(engine_empty_round_trip) {
  fixture_t e;
  ASSERT_OK(fixture_make_empty(&e, kiln_allocator_system()));
  kiln_const_bytes_t bytes = {e.file.data, e.file.size};
  kiln__plan_t* plan = NULL;
  kiln_status_t s = kiln__engine_read(bytes, kiln_allocator_system(), &plan);
  bool empty = !s && plan->tensor_count == 0 && plan->layer_count == 0 &&
               plan->expr_count == 0 && plan->blob.size == 0;
  kiln__plan_destroy(plan);
  kiln_blob_t* text = NULL;
  kiln_status_t s2 =
      kiln_engine_describe(bytes, true, kiln_allocator_system(), &text);
  size_t at = 0;
  bool valid = !s2 && json_valid((const char*)kiln_blob_bytes(text).data,
                                 kiln_blob_bytes(text).size, &at);
  kiln_blob_destroy(text);
  fixture_free(&e);
  ASSERT_OK(s);
  ASSERT_OK(s2);
  ASSERT_TRUE(empty);
  ASSERT_TRUE(valid);
}

TEST(engine_write_appends_and_restores) {
  fixture_t e;
  ASSERT_OK(fixture_make(&e, kiln_allocator_system()));
  // Appending after other bytes: offsets are relative to the file's start.
  kiln__writer_t w;
  kiln__writer_init(&w, kiln_allocator_system());
  ASSERT_OK(kiln__writer_append(&w, "xyz", 3));
  ASSERT_OK(kiln__engine_write(e.plan, &w));
  bool same = w.size == 3 + e.file.size &&
              memcmp(w.data + 3, e.file.data, e.file.size) == 0;
  kiln__writer_deinit(&w);
  ASSERT_TRUE(same);
  // A failed write leaves the writer as it was.
  for (size_t fail_at = 0;; ++fail_at) {
    kiln_test_allocator_t ta = kiln_test_allocator_failing_at(fail_at);
    kiln__writer_init(&w, kiln_test_allocator_get(&ta));
    kiln_status_t s = kiln__engine_write(e.plan, &w);
    size_t size = w.size;
    kiln__writer_deinit(&w);
    if (!s) {
      ASSERT_EQ_U64(size, e.file.size);
      ASSERT_EQ_U64(ta.live, 0);
      break;
    }
    ASSERT_EQ_I64(kiln_status_code(s), KILN_STATUS_RESOURCE_EXHAUSTED);
    kiln_status_free(s);
    ASSERT_EQ_U64(size, 0);
    ASSERT_EQ_U64(ta.live, 0);
    ASSERT_TRUE(fail_at < 1000);
  }
  fixture_free(&e);
}

TEST(engine_write_rejects_bad_plan) {
  fixture_t e;
  ASSERT_OK(fixture_make(&e, kiln_allocator_system()));
  kiln__writer_t w;
  kiln__writer_init(&w, kiln_allocator_system());
  e.plan->indices[1] = 99;
  kiln_status_t s = kiln__engine_write(e.plan, &w);
  e.plan->indices[1] = 1;
  e.plan->tensors[0].dtype = 42;
  kiln_status_t s2 = kiln__engine_write(e.plan, &w);
  e.plan->tensors[0].dtype = KILN_DTYPE_FLOAT32;
  kiln__plan_layer_t* layers = e.plan->layers;
  e.plan->layers = NULL;
  kiln_status_t s3 = kiln__engine_write(e.plan, &w);
  e.plan->layers = layers;
  size_t size = w.size;
  kiln__writer_deinit(&w);
  fixture_free(&e);
  ASSERT_STATUS(s, KILN_STATUS_INVALID_ARGUMENT,
                "engine plan: layer 0 input 1 refers to tensor 99, but there "
                "are 4 tensors");
  ASSERT_STATUS(s2, KILN_STATUS_INVALID_ARGUMENT, "tensor 0 has dtype 42");
  ASSERT_STATUS(s3, KILN_STATUS_INVALID_ARGUMENT,
                "engine plan: 2 layers but no array");
  ASSERT_EQ_U64(size, 0);
}

//===----------------------------------------------------------------------===//
// Untrusted bytes: truncations, flips, versions
//===----------------------------------------------------------------------===//

TEST(engine_every_truncation_rejected) {
  fixture_t e;
  ASSERT_OK(fixture_make(&e, kiln_allocator_system()));
  size_t n = e.file.size;
  uint8_t* copy = malloc(n);
  ASSERT_TRUE(copy != NULL);
  memcpy(copy, e.file.data, n);
  fixture_free(&e);
  for (size_t size = 0; size < n; ++size) {
    // A fresh allocation of exactly |size| bytes lets ASan catch any read
    // past the end.
    uint8_t* prefix = malloc(size ? size : 1);
    if (!prefix) {
      free(copy);
      FAIL("out of memory");
    }
    memcpy(prefix, copy, size);
    char message[600];
    bool ok = is_rejection(try_read(prefix, size), message, sizeof(message));
    free(prefix);
    if (!ok) {
      free(copy);
      FAIL("prefix of %zu bytes: %s", size, message);
    }
  }
  free(copy);
}

TEST(engine_every_byte_flip_rejected) {
  fixture_t e;
  ASSERT_OK(fixture_make(&e, kiln_allocator_system()));
  size_t n = e.file.size;
  uint8_t* copy = malloc(n);
  ASSERT_TRUE(copy != NULL);
  memcpy(copy, e.file.data, n);
  fixture_free(&e);
  static const uint8_t masks[] = {0x01, 0x80, 0xff};
  for (size_t i = 0; i < n; ++i) {
    for (size_t m = 0; m < sizeof(masks); ++m) {
      copy[i] ^= masks[m];
      char message[600];
      bool ok = is_rejection(try_read(copy, n), message, sizeof(message));
      copy[i] ^= masks[m];
      if (!ok) {
        free(copy);
        FAIL("byte %zu ^ 0x%02x: %s", i, masks[m], message);
      }
    }
  }
  free(copy);
}

TEST(engine_not_an_engine) {
  ASSERT_STATUS(try_read(NULL, 0), KILN_STATUS_DATA_LOSS,
                "engine byte 0: not a kiln engine");
  static const uint8_t elf[16] = {0x7f, 'E', 'L', 'F', 2, 1, 1};
  ASSERT_STATUS(try_read(elf, sizeof(elf)), KILN_STATUS_DATA_LOSS,
                "not a kiln engine");
  ASSERT_STATUS(try_read((const uint8_t*)"\x89KIL", 4), KILN_STATUS_DATA_LOSS,
                "ends inside its header");
  kiln_const_bytes_t bad = {NULL, 5};
  kiln__plan_t* plan = NULL;
  ASSERT_STATUS(kiln__engine_read(bad, kiln_allocator_system(), &plan),
                KILN_STATUS_INVALID_ARGUMENT, "NULL");
}

TEST(engine_newer_major_refused) {
  fixture_t e;
  ASSERT_OK(fixture_make(&e, kiln_allocator_system()));
  kiln__le_put_u16(e.file.data + KILN__HEADER_OFF_MAJOR, 2);
  fix_checksums(e.file.data, e.file.size);
  kiln_status_t s = try_read(e.file.data, e.file.size);
  // Even a damaged header of a newer major says "newer", not "corrupt".
  kiln__le_put_u16(e.file.data + KILN__HEADER_OFF_MAJOR, 3);
  kiln__le_put_u16(e.file.data + KILN__HEADER_OFF_MINOR, 7);
  e.file.data[KILN__HEADER_OFF_HEADER_CRC] ^= 1;
  kiln_status_t s2 = try_read(e.file.data, e.file.size);
  kiln__le_put_u16(e.file.data + KILN__HEADER_OFF_MAJOR, 0);
  kiln_status_t s3 = try_read(e.file.data, e.file.size);
  fixture_free(&e);
  ASSERT_STATUS(s, KILN_STATUS_INCOMPATIBLE,
                "engine format 2.1 is newer than this kiln reads (1.x)");
  ASSERT_STATUS(s2, KILN_STATUS_INCOMPATIBLE,
                "engine format 3.7 is newer than this kiln reads (1.x)");
  ASSERT_STATUS(s3, KILN_STATUS_INCOMPATIBLE,
                "engine format 0.7 is older than this kiln reads (1.x)");
}

TEST(engine_newer_minor_skips_unknown_sections) {
  fixture_t e;
  ASSERT_OK(fixture_make(&e, kiln_allocator_system()));
  sections_t sections;
  ASSERT_TRUE(sections_parse(e.file.data, e.file.size, &sections));
  static const uint8_t extra[100] = {1, 2, 3};
  ASSERT_TRUE(sections_add(&sections, 100, 0, 3, extra, sizeof(extra)));
  // Format 1.3 with an optional unknown section loads; the plan is the same.
  uint8_t* file = NULL;
  size_t size = 0;
  ASSERT_TRUE(sections_build(&sections, 1, 3, &file, &size));
  kiln_const_bytes_t bytes = {file, size};
  kiln__plan_t* plan = NULL;
  kiln_status_t s = kiln__engine_read(bytes, kiln_allocator_system(), &plan);
  char why[512] = "";
  bool same = !s && plans_equal(e.plan, plan, why, sizeof(why));
  kiln__plan_destroy(plan);
  free(file);
  // The same section in a 1.0 file (which has no SIZE_TENSORS section) is
  // corruption.
  size_t size_tensors = 0;
  while (sections.entries[size_tensors].id != KILN__SECTION_SIZE_TENSORS) {
    ++size_tensors;
  }
  sections.entries[size_tensors].id = 0;  // dropped by build
  ASSERT_TRUE(sections_build(&sections, 1, 0, &file, &size));
  kiln_status_t s10 = try_read(file, size);
  free(file);
  sections.entries[size_tensors].id = KILN__SECTION_SIZE_TENSORS;
  // A must-understand section of a newer minor is refused.
  sections.entries[sections.count - 1].flags =
      KILN__SECTION_FLAG_MUST_UNDERSTAND;
  ASSERT_TRUE(sections_build(&sections, 1, 3, &file, &size));
  kiln_status_t must = try_read(file, size);
  free(file);
  sections_free(&sections);
  fixture_free(&e);
  ASSERT_OK(s);
  if (!same) FAIL("plans differ: %s", why);
  ASSERT_STATUS(s10, KILN_STATUS_DATA_LOSS,
                "has id 100, which engine format 1.0 does not define");
  ASSERT_STATUS(must, KILN_STATUS_INCOMPATIBLE,
                "engine format 1.3 needs section id 100");
}

TEST(engine_section_table_rules) {
  fixture_t e;
  ASSERT_OK(fixture_make(&e, kiln_allocator_system()));
  sections_t sections;
  ASSERT_TRUE(sections_parse(e.file.data, e.file.size, &sections));
  uint8_t* file = NULL;
  size_t size = 0;
  // A missing section.
  section_copy_t removed = sections.entries[1];
  sections.entries[1].id = 0;  // dropped by build
  ASSERT_TRUE(
      sections_build(&sections, 1, KILN__ENGINE_FORMAT_MINOR, &file, &size));
  kiln_status_t missing = try_read(file, size);
  free(file);
  sections.entries[1] = removed;
  // A repeated section.
  sections.entries[2].id = KILN__SECTION_INFO;
  ASSERT_TRUE(
      sections_build(&sections, 1, KILN__ENGINE_FORMAT_MINOR, &file, &size));
  kiln_status_t repeated = try_read(file, size);
  free(file);
  sections.entries[2].id = KILN__SECTION_TENSORS;
  // A record count that does not match the size.
  sections.entries[2].count += 1;
  ASSERT_TRUE(
      sections_build(&sections, 1, KILN__ENGINE_FORMAT_MINOR, &file, &size));
  kiln_status_t count = try_read(file, size);
  free(file);
  sections.entries[2].count -= 1;
  sections_free(&sections);
  // Overlapping sections (checksums recomputed).
  uint8_t* d = e.file.data;
  uint8_t* second = d + KILN__HEADER_SIZE + KILN__SECTION_ENTRY_SIZE;
  kiln__le_put_u64(second + KILN__SECTION_OFF_OFFSET,
                   kiln__le_u64(second - KILN__SECTION_ENTRY_SIZE +
                                KILN__SECTION_OFF_OFFSET));
  fix_checksums(d, e.file.size);
  kiln_status_t overlap = try_read(d, e.file.size);
  fixture_free(&e);
  ASSERT_STATUS(missing, KILN_STATUS_DATA_LOSS,
                "the engine has no EXPRS section");
  ASSERT_STATUS(repeated, KILN_STATUS_DATA_LOSS, "repeats the INFO section");
  ASSERT_STATUS(count, KILN_STATUS_DATA_LOSS,
                "the TENSORS section has 352 bytes, but 5 records of 88");
  ASSERT_STATUS(overlap, KILN_STATUS_DATA_LOSS, "do not overlap");
}

//===----------------------------------------------------------------------===//
// Semantic corruption: checksums recomputed, so the checks of meaning must
// catch each case.
//===----------------------------------------------------------------------===//

// Patches |size| bytes (little-endian |value|) at field |field| of record
// |index| of section |id|, recomputes every checksum and reads the result.
static kiln_status_t corrupt_field(const fixture_t* e, uint32_t id,
                                   uint32_t index, uint32_t record_size,
                                   uint32_t field, uint64_t value,
                                   size_t size) {
  uint8_t* copy = malloc(e->file.size);
  if (!copy) return kiln_make_status(KILN_STATUS_RESOURCE_EXHAUSTED, "test");
  memcpy(copy, e->file.data, e->file.size);
  uint64_t at = section_offset(copy, e->file.size, id) +
                (uint64_t)index * record_size + field;
  for (size_t i = 0; i < size; ++i) {
    copy[at + i] = i < 8 ? (uint8_t)(value >> (8 * i)) : 0;
  }
  fix_checksums(copy, e->file.size);
  kiln_status_t s = try_read(copy, e->file.size);
  free(copy);
  return s;
}

#define LAYER(i, f, v, n)                                        \
  corrupt_field(&e, KILN__SECTION_LAYERS, (i), KILN__LAYER_SIZE, \
                KILN__LAYER_OFF_##f, (v), (n))
#define TENSOR(i, f, v, n)                                         \
  corrupt_field(&e, KILN__SECTION_TENSORS, (i), KILN__TENSOR_SIZE, \
                KILN__TENSOR_OFF_##f, (v), (n))
#define INDEX(i, v) \
  corrupt_field(&e, KILN__SECTION_INDICES, (i), KILN__INDEX_SIZE, 0, (v), 4)

TEST(engine_semantic_layer_input_past_tensors) {
  fixture_t e;
  ASSERT_OK(fixture_make(&e, kiln_allocator_system()));
  uint64_t at = section_offset(e.file.data, e.file.size,
                               KILN__SECTION_INDICES) +
                4 * 4;  // layer 1 input 1
  char expected[200];
  snprintf(expected, sizeof(expected),
           "engine byte %" PRIu64
           ": layer 1 input 1 refers to tensor 99, but there are 4 tensors",
           at);
  kiln_status_t s = INDEX(4, 99);
  fixture_free(&e);
  ASSERT_STATUS(s, KILN_STATUS_DATA_LOSS, expected);
}

TEST(engine_semantic_forward_tensor_use) {
  fixture_t e;
  ASSERT_OK(fixture_make(&e, kiln_allocator_system()));
  // Layer 0 reads tensor 3, which layer 1 produces later.
  kiln_status_t forward = INDEX(0, 3);
  // Layer 1 reads its own output: a cycle.
  kiln_status_t cycle = INDEX(3, 3);
  // Layer 1 lists tensor 2 (layer 0's) as its output.
  kiln_status_t stolen = INDEX(5, 2);
  // Tensor 2 claims layer 1 as its producer; layer 0 lists it.
  kiln_status_t producer = TENSOR(2, PRODUCER, 1, 4);
  fixture_free(&e);
  ASSERT_STATUS(forward, KILN_STATUS_DATA_LOSS,
                "layer 0 input 0 is tensor 3, which layer 1 produces");
  ASSERT_STATUS(cycle, KILN_STATUS_DATA_LOSS,
                "layer 1 input 0 is tensor 3, which layer 1 produces");
  ASSERT_STATUS(stolen, KILN_STATUS_DATA_LOSS,
                "layer 1 output 0 is tensor 2, which is not an activation "
                "produced by layer 1");
  ASSERT_STATUS(producer, KILN_STATUS_DATA_LOSS, "byte");
}

TEST(engine_semantic_spans) {
  fixture_t e;
  ASSERT_OK(fixture_make(&e, kiln_allocator_system()));
  kiln_status_t outside = TENSOR(0, NAME, 1u << 20, 8);
  kiln_status_t wraps = TENSOR(0, NAME + 8, UINT64_MAX, 8);
  kiln_status_t empty = TENSOR(1, NAME + 8, 0, 8);
  kiln_status_t unnamed_input = TENSOR(0, NAME + 8, 0, 8);
  kiln_status_t plugin =
      corrupt_field(&e, KILN__SECTION_LAYERS, 0, KILN__LAYER_SIZE,
                    KILN__LAYER_OFF_PLUGIN_ID + 8, 1, 8);
  fixture_free(&e);
  ASSERT_STATUS(outside, KILN_STATUS_DATA_LOSS,
                "tensor 0 name (offset 1048576, size 1) is outside the blob");
  ASSERT_STATUS(wraps, KILN_STATUS_DATA_LOSS, "is outside the blob");
  ASSERT_STATUS(empty, KILN_STATUS_DATA_LOSS,
                "tensor 1 name is empty but has offset 1; an empty span is "
                "(0, 0)");
  ASSERT_STATUS(unnamed_input, KILN_STATUS_DATA_LOSS, "tensor 0 name is empty");
  ASSERT_STATUS(plugin, KILN_STATUS_DATA_LOSS, "has no '::'");
}

TEST(engine_semantic_images) {
  fixture_t e;
  ASSERT_OK(fixture_make(&e, kiln_allocator_system()));
  const kiln__plan_image_t* ptx = &e.plan->images[0];
  const kiln__plan_image_t* cubin = &e.plan->images[1];
  uint64_t blob = section_offset(e.file.data, e.file.size, KILN__SECTION_BLOB);
  // PTX not followed by a NUL.
  kiln_status_t no_nul =
      corrupt_field(&e, KILN__SECTION_BLOB, 0, 0,
                    (uint32_t)(ptx->data.offset + ptx->data.size), 'x', 1);
  // PTX whose span swallows its NUL.
  kiln_status_t swallowed =
      corrupt_field(&e, KILN__SECTION_IMAGES, 0, KILN__IMAGE_SIZE,
                    KILN__IMAGE_OFF_DATA + 8, ptx->data.size + 1, 8);
  // A NUL inside the PTX.
  kiln_status_t inner_nul = corrupt_field(&e, KILN__SECTION_BLOB, 0, 0,
                                          (uint32_t)ptx->data.offset + 2, 0, 1);
  // A cubin for another machine.
  kiln_status_t machine = corrupt_field(
      &e, KILN__SECTION_BLOB, 0, 0, (uint32_t)cubin->data.offset + 18, 62, 2);
  kiln_status_t elf_class = corrupt_field(
      &e, KILN__SECTION_BLOB, 0, 0, (uint32_t)cubin->data.offset + 4, 1, 1);
  kiln_status_t arch = corrupt_field(&e, KILN__SECTION_BLOB, 0, 0,
                                     (uint32_t)cubin->data.offset + 48, 80, 1);
  kiln_status_t kind =
      corrupt_field(&e, KILN__SECTION_IMAGES, 1, KILN__IMAGE_SIZE,
                    KILN__IMAGE_OFF_KIND, 7, 1);
  kiln_status_t misaligned =
      corrupt_field(&e, KILN__SECTION_IMAGES, 1, KILN__IMAGE_SIZE,
                    KILN__IMAGE_OFF_DATA, cubin->data.offset + 8, 8);
  char where[160];
  snprintf(where, sizeof(where),
           "engine byte %" PRIu64 ": image 0 (PTX, %" PRIu64
           " bytes) is not followed by a NUL in the blob",
           blob + ptx->data.offset + ptx->data.size, ptx->data.size);
  char swallowed_message[80];
  snprintf(swallowed_message, sizeof(swallowed_message),
           "image 0 (PTX) has a NUL at its byte %" PRIu64, ptx->data.size);
  fixture_free(&e);
  ASSERT_STATUS(no_nul, KILN_STATUS_DATA_LOSS, where);
  ASSERT_STATUS(swallowed, KILN_STATUS_DATA_LOSS, swallowed_message);
  ASSERT_STATUS(inner_nul, KILN_STATUS_DATA_LOSS,
                "image 0 (PTX) has a NUL at its byte 2");
  ASSERT_STATUS(machine, KILN_STATUS_DATA_LOSS,
                "image 1 (cubin): malformed cubin at byte offset 18: "
                "e_machine is 62, not EM_CUDA (190)");
  ASSERT_STATUS(elf_class, KILN_STATUS_DATA_LOSS, "not a 64-bit ELF");
  ASSERT_STATUS(arch, KILN_STATUS_DATA_LOSS,
                "image 1 (cubin) is for sm_80 by its ELF header, but the "
                "engine says sm_90");
  ASSERT_STATUS(kind, KILN_STATUS_DATA_LOSS, "image 1 has kind 7");
  ASSERT_STATUS(misaligned, KILN_STATUS_DATA_LOSS, "is not a multiple of 64");
}

TEST(engine_semantic_enums_and_ranks) {
  fixture_t e;
  ASSERT_OK(fixture_make(&e, kiln_allocator_system()));
  kiln_status_t dtype = TENSOR(1, DTYPE, 10, 1);
  kiln_status_t format = TENSOR(1, FORMAT, 1, 1);
  kiln_status_t kind = TENSOR(1, KIND, 3, 1);
  kiln_status_t rank = TENSOR(1, RANK, 9, 4);
  kiln_status_t layer_kind = LAYER(0, KIND, 2, 1);
  kiln_status_t param_kind =
      corrupt_field(&e, KILN__SECTION_PARAMS, 0, KILN__PARAM_SIZE,
                    KILN__PARAM_OFF_KIND, 6, 1);
  kiln_status_t arg_type = corrupt_field(
      &e, KILN__SECTION_ARGS, 0, KILN__ARG_SIZE, KILN__ARG_OFF_TYPE, 3, 1);
  kiln_status_t host = LAYER(0, KIND, KILN__LAYER_HOST, 1);
  uint64_t dtype_at =
      section_offset(e.file.data, e.file.size, KILN__SECTION_TENSORS) +
      KILN__TENSOR_SIZE + KILN__TENSOR_OFF_DTYPE;
  char expected[100];
  snprintf(expected, sizeof(expected),
           "engine byte %" PRIu64 ": tensor 1 has dtype 10", dtype_at);
  fixture_free(&e);
  ASSERT_STATUS(dtype, KILN_STATUS_DATA_LOSS, expected);
  ASSERT_STATUS(format, KILN_STATUS_DATA_LOSS, "tensor 1 has format 1");
  ASSERT_STATUS(kind, KILN_STATUS_DATA_LOSS, "tensor 1 has kind 3");
  ASSERT_STATUS(rank, KILN_STATUS_DATA_LOSS, "tensor 1 has rank 9");
  ASSERT_STATUS(layer_kind, KILN_STATUS_DATA_LOSS, "layer 0 has kind 2");
  ASSERT_STATUS(param_kind, KILN_STATUS_DATA_LOSS, "param 0 has kind 6");
  ASSERT_STATUS(arg_type, KILN_STATUS_DATA_LOSS, "arg 0 has type 3");
  // A host layer keeps its launch fields at their fixed values.
  ASSERT_STATUS(
      host, KILN_STATUS_DATA_LOSS,
      "layer 0 grid is 0x5, but it must be 0xffffffff for a host layer");
}

TEST(engine_semantic_arena) {
  fixture_t e;
  ASSERT_OK(fixture_make(&e, kiln_allocator_system()));
  kiln_status_t past = TENSOR(2, ARENA_OFFSET, 64, 8);
  kiln_status_t wraps = TENSOR(2, ARENA_OFFSET, UINT64_MAX - 8, 8);
  kiln_status_t none = TENSOR(2, ARENA_OFFSET, UINT64_MAX, 8);
  kiln_status_t output = TENSOR(3, ARENA_OFFSET, 0, 8);
  kiln_status_t input = TENSOR(0, ARENA_OFFSET, 0, 8);
  fixture_free(&e);
  ASSERT_STATUS(past, KILN_STATUS_DATA_LOSS,
                "tensor 2 at arena offset 64 with 65536 bytes does not fit "
                "the activation arena of 65536 bytes");
  ASSERT_STATUS(wraps, KILN_STATUS_DATA_LOSS, "does not fit");
  ASSERT_STATUS(none, KILN_STATUS_DATA_LOSS, "does not fit");
  ASSERT_STATUS(output, KILN_STATUS_DATA_LOSS,
                "tensor 3 is an output but has an arena offset");
  ASSERT_STATUS(input, KILN_STATUS_DATA_LOSS,
                "tensor 0 (input) has an arena offset");
}

TEST(engine_semantic_profiles) {
  fixture_t e;
  ASSERT_OK(fixture_make(&e, kiln_allocator_system()));
  // Profile 0, input 0, dimension 0: min above max.
  kiln_status_t min_max =
      corrupt_field(&e, KILN__SECTION_PROFILES, 0, KILN__RANGE_SIZE,
                    KILN__RANGE_OFF_MIN, 100, 8);
  kiln_status_t negative =
      corrupt_field(&e, KILN__SECTION_PROFILES, 0, KILN__RANGE_SIZE,
                    KILN__RANGE_OFF_MIN, UINT64_MAX, 8);
  // Dimension 1 is static (256).
  kiln_status_t fixed =
      corrupt_field(&e, KILN__SECTION_PROFILES, 1, KILN__RANGE_SIZE,
                    KILN__RANGE_OFF_MAX, 512, 8);
  kiln_status_t past_rank =
      corrupt_field(&e, KILN__SECTION_PROFILES, 2, KILN__RANGE_SIZE,
                    KILN__RANGE_OFF_MAX, 1, 8);
  kiln_status_t count =
      corrupt_field(&e, KILN__SECTION_INFO, 0, KILN__INFO_SIZE,
                    KILN__INFO_OFF_PROFILE_COUNT, 2, 4);
  fixture_free(&e);
  ASSERT_STATUS(min_max, KILN_STATUS_DATA_LOSS,
                "profile 0 input 0 dimension 0 has min 100, opt 8, max 64");
  ASSERT_STATUS(negative, KILN_STATUS_DATA_LOSS, "has min -1");
  ASSERT_STATUS(fixed, KILN_STATUS_DATA_LOSS,
                "dimension 1 is static (256) but its range is 256..256..512");
  ASSERT_STATUS(past_rank, KILN_STATUS_DATA_LOSS, "is past its rank");
  ASSERT_STATUS(count, KILN_STATUS_DATA_LOSS, "the PROFILES section has 8");
}

TEST(engine_semantic_names_and_ordinals) {
  fixture_t e;
  ASSERT_OK(fixture_make(&e, kiln_allocator_system()));
  // Output "y" renamed to input "x"'s span.
  kiln_status_t duplicate = TENSOR(3, NAME, e.plan->tensors[0].name.offset, 8);
  kiln_status_t unnamed_output = TENSOR(3, NAME, 0, 16);
  kiln_status_t ordinal = TENSOR(0, INPUT_ORDINAL, 1, 4);
  kiln_status_t inputs =
      corrupt_field(&e, KILN__SECTION_INFO, 0, KILN__INFO_SIZE,
                    KILN__INFO_OFF_OUTPUT_COUNT, 2, 4);
  fixture_free(&e);
  ASSERT_STATUS(duplicate, KILN_STATUS_DATA_LOSS,
                "tensor 3 has the name \"x\" of tensor 0");
  ASSERT_STATUS(unnamed_output, KILN_STATUS_DATA_LOSS,
                "tensor 3 name is empty");
  ASSERT_STATUS(ordinal, KILN_STATUS_DATA_LOSS,
                "tensor 0 has input ordinal 1, but there are 1 inputs");
  ASSERT_STATUS(inputs, KILN_STATUS_DATA_LOSS,
                "the engine says 2 outputs, but 1 tensors are outputs");
}

TEST(engine_semantic_kernels_and_params) {
  fixture_t e;
  ASSERT_OK(fixture_make(&e, kiln_allocator_system()));
  kiln_status_t kernel = LAYER(1, KERNEL, 5, 4);
  kiln_status_t grid = LAYER(1, GRID + 4, 1000, 4);
  // Param 0 (input 0) moved to input 2; the layers have 2 inputs.
  kiln_status_t input =
      corrupt_field(&e, KILN__SECTION_PARAMS, 0, KILN__PARAM_SIZE,
                    KILN__PARAM_OFF_INDEX, 2, 4);
  kiln_status_t size =
      corrupt_field(&e, KILN__SECTION_PARAMS, 1, KILN__PARAM_SIZE,
                    KILN__PARAM_OFF_SIZE, 8, 1);
  kiln_status_t align =
      corrupt_field(&e, KILN__SECTION_PARAMS, 3, KILN__PARAM_SIZE,
                    KILN__PARAM_OFF_ALIGN, 3, 1);
  kiln_status_t images =
      corrupt_field(&e, KILN__SECTION_KERNELS, 0, KILN__KERNEL_SIZE,
                    KILN__KERNEL_OFF_IMAGES + 4, 3, 4);
  kiln_status_t ctas =
      corrupt_field(&e, KILN__SECTION_KERNELS, 0, KILN__KERNEL_SIZE,
                    KILN__KERNEL_OFF_NUM_CTAS, 0, 4);
  fixture_free(&e);
  ASSERT_STATUS(kernel, KILN_STATUS_DATA_LOSS,
                "layer 1 refers to kernel 5, but there are 1 kernels");
  ASSERT_STATUS(grid, KILN_STATUS_DATA_LOSS,
                "layer 1 grid refers to expression 1000");
  ASSERT_STATUS(input, KILN_STATUS_DATA_LOSS,
                "layer 0 has 2 input(s), but its kernel 0 has a parameter "
                "for input 2");
  ASSERT_STATUS(size, KILN_STATUS_DATA_LOSS, "param 1 (arg) has alignment 4");
  ASSERT_STATUS(align, KILN_STATUS_DATA_LOSS, "param 3 (zero) has alignment 3");
  ASSERT_STATUS(images, KILN_STATUS_DATA_LOSS, "runs past the 2 images");
  ASSERT_STATUS(ctas, KILN_STATUS_DATA_LOSS, "kernel 0 has 0 CTAs");
}

TEST(engine_semantic_constant_size) {
  fixture_t e;
  ASSERT_OK(fixture_make(&e, kiln_allocator_system()));
  kiln_status_t s =
      corrupt_field(&e, KILN__SECTION_CONSTANTS, 0, KILN__CONSTANT_SIZE,
                    KILN__CONSTANT_OFF_DATA + 8, 1000, 8);
  fixture_free(&e);
  ASSERT_STATUS(s, KILN_STATUS_DATA_LOSS,
                "constant 0 (tensor 1) holds 1000 bytes, but 256 elements of "
                "float32 take 1024");
}

TEST(engine_semantic_expression_forward_reference) {
  fixture_t e;
  ASSERT_OK(fixture_make(&e, kiln_allocator_system()));
  uint8_t* copy = malloc(e.file.size);
  ASSERT_TRUE(copy != NULL);
  memcpy(copy, e.file.data, e.file.size);
  uint64_t exprs = section_offset(copy, e.file.size, KILN__SECTION_EXPRS);
  uint64_t node = 0, operand = 0;
  bool found =
      find_binary_node(copy + exprs, e.file.size - exprs, &node, &operand);
  if (found) {
    copy[exprs + operand] = (uint8_t)(node + 1);  // a later node
    fix_checksums(copy, e.file.size);
  }
  kiln_status_t s = try_read(copy, e.file.size);
  // A dimension of an input that does not exist (tensor index 1).
  memcpy(copy, e.file.data, e.file.size);
  uint64_t dim = 0;
  bool found_dim = find_dim_node(copy + exprs, e.file.size - exprs, &dim);
  if (found_dim) {
    copy[exprs + dim] = 1;
    fix_checksums(copy, e.file.size);
  }
  kiln_status_t s2 = try_read(copy, e.file.size);
  free(copy);
  fixture_free(&e);
  ASSERT_TRUE(found);
  ASSERT_TRUE(found_dim);
  ASSERT_STATUS(s, KILN_STATUS_DATA_LOSS, "later node");
  ASSERT_STATUS(s2, KILN_STATUS_DATA_LOSS,
                "uses a dimension of input 1, but there are 1 inputs");
}

TEST(engine_semantic_alias) {
  fixture_t e;
  ASSERT_OK(fixture_make(&e, kiln_allocator_system()));
  // Tensor 3 (layer 1's output) may alias layer 1's input 0 (tensor 2, same
  // dtype and shape), but not the constant (another shape) nor tensor 0
  // (not an input of layer 1).
  kiln_status_t good = TENSOR(3, ALIAS_OF, 2, 4);
  kiln_status_t shape = TENSOR(3, ALIAS_OF, 1, 4);
  kiln_status_t other = TENSOR(3, ALIAS_OF, 0, 4);
  kiln_status_t past = TENSOR(3, ALIAS_OF, 4, 4);
  kiln_status_t fixed = TENSOR(0, ALIAS_OF, 2, 4);
  fixture_free(&e);
  ASSERT_OK(good);
  ASSERT_STATUS(shape, KILN_STATUS_DATA_LOSS,
                "tensor 3 aliases tensor 1, which is not an input of its "
                "producer (layer 1) with the same dtype and shape");
  ASSERT_STATUS(other, KILN_STATUS_DATA_LOSS, "aliases tensor 0");
  ASSERT_STATUS(past, KILN_STATUS_DATA_LOSS,
                "tensor 3 aliases tensor 4, but there are 4 tensors");
  ASSERT_STATUS(
      fixed, KILN_STATUS_DATA_LOSS,
      "tensor 0 alias is 0x2, but it must be 0xffffffff for an input");
}

TEST(engine_host_layer_round_trip) {
  fixture_t e;
  ASSERT_OK(fixture_make_host(&e, kiln_allocator_system()));
  kiln_const_bytes_t bytes = {e.file.data, e.file.size};
  kiln__plan_t* plan = NULL;
  kiln_status_t s = kiln__engine_read(bytes, kiln_allocator_system(), &plan);
  bool host = !s && plan->layers[1].kind == KILN__LAYER_HOST &&
              plan->layers[1].kernel == KILN__NONE &&
              plan->layers[1].host_attrs.size == 3;
  kiln__plan_destroy(plan);
  // A host layer that names a kernel is refused.
  kiln_status_t kernel = LAYER(1, KERNEL, 0, 4);
  fixture_free(&e);
  ASSERT_OK(s);
  ASSERT_TRUE(host);
  ASSERT_STATUS(kernel, KILN_STATUS_DATA_LOSS,
                "layer 1 runs on the host but refers to kernel 0");
}

//===----------------------------------------------------------------------===//
// Allocation failures
//===----------------------------------------------------------------------===//

TEST(engine_read_oom_sweep) {
  fixture_t e;
  ASSERT_OK(fixture_make(&e, kiln_allocator_system()));
  kiln_const_bytes_t bytes = {e.file.data, e.file.size};
  size_t fail_at = 0;
  for (;; ++fail_at) {
    kiln_test_allocator_t ta = kiln_test_allocator_failing_at(fail_at);
    kiln__plan_t* plan = NULL;
    kiln_status_t s =
        kiln__engine_read(bytes, kiln_test_allocator_get(&ta), &plan);
    if (!s) {
      kiln__plan_destroy(plan);
      ASSERT_EQ_U64(ta.live, 0);
      break;
    }
    kiln_status_code_t code = kiln_status_code(s);
    if (code != KILN_STATUS_RESOURCE_EXHAUSTED) {
      char message[600];
      snprintf(message, sizeof(message), "%s", kiln_status_message(s));
      kiln_status_free(s);
      fixture_free(&e);
      FAIL("allocation %zu failed: %s", fail_at, message);
    }
    kiln_status_free(s);
    ASSERT_EQ_PTR(plan, NULL);
    ASSERT_EQ_U64(ta.live, 0);
    ASSERT_TRUE(fail_at < 10000);
  }
  fixture_free(&e);
  ASSERT_TRUE(fail_at > 3);
}

TEST(engine_describe_oom_sweep) {
  fixture_t e;
  ASSERT_OK(fixture_make(&e, kiln_allocator_system()));
  kiln_const_bytes_t bytes = {e.file.data, e.file.size};
  for (int json = 0; json < 2; ++json) {
    for (size_t fail_at = 0;; ++fail_at) {
      kiln_test_allocator_t ta = kiln_test_allocator_failing_at(fail_at);
      kiln_blob_t* text = NULL;
      kiln_status_t s = kiln_engine_describe(
          bytes, json != 0, kiln_test_allocator_get(&ta), &text);
      if (!s) {
        kiln_blob_destroy(text);
        ASSERT_EQ_U64(ta.live, 0);
        break;
      }
      ASSERT_EQ_I64(kiln_status_code(s), KILN_STATUS_RESOURCE_EXHAUSTED);
      kiln_status_free(s);
      ASSERT_EQ_PTR(text, NULL);
      ASSERT_EQ_U64(ta.live, 0);
      ASSERT_TRUE(fail_at < 10000);
    }
  }
  fixture_free(&e);
}

//===----------------------------------------------------------------------===//
// Descriptions
//===----------------------------------------------------------------------===//

TEST(engine_describe_text) {
  fixture_t e;
  ASSERT_OK(fixture_make(&e, kiln_allocator_system()));
  kiln_const_bytes_t bytes = {e.file.data, e.file.size};
  kiln_blob_t* blob = NULL;
  kiln_status_t s =
      kiln_engine_describe(bytes, false, kiln_allocator_system(), &blob);
  fixture_free(&e);
  ASSERT_OK(s);
  const char* text = (const char*)kiln_blob_bytes(blob).data;
  static const char* const expected[] = {
      "kiln engine: format 1.1, ",
      "tactics timed on sm_90",
      "inputs (1):\n  \"x\": float32 LINEAR [x[0], 256] (tensor 0)",
      "outputs (1):\n  \"y\": float32 LINEAR [x[0], 256] (tensor 3)",
      "\"x\": [1..8..64, 256] (min..opt..max)",
      "constant 0: \"w\" (tensor 1), float32 [256], 1024 bytes",
      "layer 0 \"first\": test::add, AOT, tactic 0",
      "inputs: \"x\" (tensor 0), \"w\" (tensor 1)",
      "outputs: tensor 2",
      "kernels (1):\n  kernel 0 add_kernel: 1 CTA per program",
      "image 0: PTX (any arch), ",
      "image 1: cubin for sm_90, 128 bytes",
      "@0 input 0: 8 bytes, align 8",
      "@8 arg 0: 4 bytes, align 4",
      "@16 output 0: 8 bytes, align 8",
      "@24 zero: 8 bytes, align 8",
      "parameter bytes: 32",
      "    kernel 0 add_kernel\n",
      "grid = (cdiv(x[0]*256, 256), 1, 1)",
      "block = (256, 1, 1)",
      "shared_mem = 0",
      "arg 0: int32 = x[0]*256",
      "layer 1 \"second\": test::add, AOT, tactic 3",
      "arg 0: float32 = 0.5",
      ("tensor 2 \"\": activation of layer 0, float32 LINEAR [x[0], 256], "
       "at most 65536 bytes, arena offset 0"),
  };
  for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); ++i) {
    if (!strstr(text, expected[i])) {
      char head[200];
      snprintf(head, sizeof(head), "%s", expected[i]);
      kiln_blob_destroy(blob);
      FAIL("description lacks \"%s\"", head);
    }
  }
  if (getenv("KILN_TEST_VERBOSE")) printf("%s", text);
  kiln_blob_destroy(blob);
}

TEST(engine_describe_json_is_valid) {
  fixture_t e;
  ASSERT_OK(fixture_make(&e, kiln_allocator_system()));
  kiln_const_bytes_t bytes = {e.file.data, e.file.size};
  kiln_blob_t* blob = NULL;
  kiln_status_t s =
      kiln_engine_describe(bytes, true, kiln_allocator_system(), &blob);
  fixture_free(&e);
  ASSERT_OK(s);
  kiln_const_bytes_t json = kiln_blob_bytes(blob);
  size_t error_at = 0;
  bool valid = json_valid((const char*)json.data, json.size, &error_at);
  bool has_grid =
      strstr((const char*)json.data,
             "\"grid\": [\"cdiv(x[0]*256, 256)\", \"1\", \"1\"]") != NULL;
  bool has_name = strstr((const char*)json.data, "\"name\": \"x\"") != NULL;
  if (getenv("KILN_TEST_VERBOSE")) printf("%s", (const char*)json.data);
  char context[80] = "";
  if (!valid) {
    snprintf(context, sizeof(context), "%.60s",
             (const char*)json.data + error_at);
  }
  kiln_blob_destroy(blob);
  if (!valid) FAIL("invalid JSON at byte %zu: %s", error_at, context);
  ASSERT_TRUE(has_grid);
  ASSERT_TRUE(has_name);
}

// Every engine of the fuzz corpus that loads describes as valid JSON, and
// its text description is one NUL-free string.
TEST(engine_describe_corpus) {
  char dir_path[1024];
  snprintf(dir_path, sizeof(dir_path), "%s/fuzz/corpus/engine_load_fuzz",
           KILN_SOURCE_DIR);
  DIR* dir = opendir(dir_path);
  if (!dir) FAIL("no corpus folder %s", dir_path);
  int described = 0;
  struct dirent* entry;
  while ((entry = readdir(dir)) != NULL) {
    if (entry->d_name[0] == '.') continue;
    char path[2048];
    snprintf(path, sizeof(path), "%s/%s", dir_path, entry->d_name);
    uint8_t* data = NULL;
    size_t size = 0;
    if (!kiln_test_read_file(path, &data, &size)) continue;
    kiln_const_bytes_t bytes = {data, size};
    bool ok = true;
    size_t error_at = 0;
    for (int json = 0; json < 2 && ok; ++json) {
      kiln_blob_t* blob = NULL;
      kiln_status_t s = kiln_engine_describe(bytes, json != 0,
                                             kiln_allocator_system(), &blob);
      kiln_status_code_t code = kiln_status_code(s);
      kiln_status_free(s);
      if (code == KILN_STATUS_DATA_LOSS || code == KILN_STATUS_INCOMPATIBLE) {
        break;
      }
      kiln_const_bytes_t text = kiln_blob_bytes(blob);
      ok = code == KILN_STATUS_OK &&
           strlen((const char*)text.data) == text.size &&
           (!json || json_valid((const char*)text.data, text.size, &error_at));
      described += json;
      kiln_blob_destroy(blob);
    }
    free(data);
    if (!ok) {
      closedir(dir);
      FAIL("%s: bad description (JSON error at byte %zu)", entry->d_name,
           error_at);
    }
  }
  closedir(dir);
  ASSERT_TRUE(described >= 4);
}

TEST(engine_describe_escapes_names) {
  fixture_t e;
  ASSERT_OK(fixture_make_named(&e, kiln_allocator_system(),
                               "a\"b\\c\nd\x01\xc3\xa9"));
  kiln_const_bytes_t bytes = {e.file.data, e.file.size};
  kiln_blob_t* json = NULL;
  kiln_blob_t* text = NULL;
  kiln_status_t s =
      kiln_engine_describe(bytes, true, kiln_allocator_system(), &json);
  kiln_status_t s2 =
      kiln_engine_describe(bytes, false, kiln_allocator_system(), &text);
  fixture_free(&e);
  ASSERT_OK(s);
  ASSERT_OK(s2);
  size_t error_at = 0;
  bool valid = json_valid((const char*)kiln_blob_bytes(json).data,
                          kiln_blob_bytes(json).size, &error_at);
  bool escaped = strstr((const char*)kiln_blob_bytes(json).data,
                        "\"a\\\"b\\\\c\\nd\\u0001\xc3\xa9\"") != NULL;
  bool printed = strstr((const char*)kiln_blob_bytes(text).data,
                        "cdiv(a\"b\\c\nd\x01\xc3\xa9[0]*256, 256)") != NULL;
  kiln_blob_destroy(json);
  kiln_blob_destroy(text);
  ASSERT_TRUE(valid);
  ASSERT_TRUE(escaped);
  ASSERT_TRUE(printed);
}

TEST(engine_describe_rejects_corrupt) {
  uint8_t junk[100] = {0};
  kiln_const_bytes_t bytes = {junk, sizeof(junk)};
  kiln_blob_t* blob = (kiln_blob_t*)junk;
  ASSERT_STATUS(
      kiln_engine_describe(bytes, false, kiln_allocator_system(), &blob),
      KILN_STATUS_DATA_LOSS, "not a kiln engine");
  ASSERT_EQ_PTR(blob, NULL);
}

// Writes the seed corpus of the engine_load_fuzz target into the folder
// named by KILN_ENGINE_CORPUS_OUT (skipped without it).
// size_tensor_test.c: an engine with a size tensor, built by kiln_build.
kiln_status_t kiln_test_build_nonzero_engine(bool count_is_output,
                                             kiln_dtype_t count_dtype,
                                             kiln_blob_t** out_engine);

// Writes |engine| to |dir|/|name|.kiln; false when it cannot.
static bool write_seed(const char* dir, const char* name,
                       kiln_const_bytes_t engine) {
  char path[1024];
  snprintf(path, sizeof(path), "%s/%s.kiln", dir, name);
  FILE* f = fopen(path, "wb");
  bool ok = f && fwrite(engine.data, 1, engine.size, f) == engine.size;
  if (f) fclose(f);
  return ok;
}

TEST(engine_write_fuzz_seeds) {
  const char* dir = getenv("KILN_ENGINE_CORPUS_OUT");
  if (!dir) SKIP("set KILN_ENGINE_CORPUS_OUT to write the seed corpus");
  // Engines with size tensors (format 1.1): an int32 count that is an
  // output, and an internal int64 one.
  for (int internal = 0; internal < 2; ++internal) {
    kiln_blob_t* engine = NULL;
    ASSERT_OK(kiln_test_build_nonzero_engine(
        !internal, internal ? KILN_DTYPE_INT64 : KILN_DTYPE_INT32, &engine));
    bool written = write_seed(
        dir, internal ? "size_tensor_internal" : "size_tensor_output",
        kiln_blob_bytes(engine));
    kiln_blob_destroy(engine);
    ASSERT_TRUE(written);
  }
  fixture_t engines[4];
  ASSERT_OK(fixture_make(&engines[0], kiln_allocator_system()));
  ASSERT_OK(fixture_make_host(&engines[1], kiln_allocator_system()));
  ASSERT_OK(
      fixture_make_named(&engines[2], kiln_allocator_system(), "in\xc3\xa9"));
  ASSERT_OK(fixture_make_empty(&engines[3], kiln_allocator_system()));
  static const char* const names[4] = {"aot_two_layers", "host_layer",
                                       "utf8_names", "empty"};
  bool ok = true;
  for (int i = 0; i < 4; ++i) {
    kiln_const_bytes_t bytes = {engines[i].file.data, engines[i].file.size};
    ok &= write_seed(dir, names[i], bytes);
    fixture_free(&engines[i]);
  }
  ASSERT_TRUE(ok);
}

// Engines of format 1.0 (without the SIZE_TENSORS section) still load: the
// corpus keeps built ones.
TEST(engine_reads_format_1_0) {
  char path[1024];
  snprintf(path, sizeof(path),
           "%s/fuzz/corpus/engine_load_fuzz/built_add_plugin.engine",
           KILN_SOURCE_DIR);
  uint8_t* data = NULL;
  size_t size = 0;
  if (!kiln_test_read_file(path, &data, &size)) FAIL("cannot read %s", path);
  kiln_const_bytes_t bytes = {data, size};
  kiln__engine_file_info_t info;
  bool have_info = kiln__engine_file_info(bytes, &info);
  kiln__plan_t* plan = NULL;
  kiln_status_t s = kiln__engine_read(bytes, kiln_allocator_system(), &plan);
  uint32_t size_tensors = 0;
  for (uint32_t t = 0; !s && t < plan->tensor_count; ++t) {
    size_tensors += plan->tensors[t].is_size_tensor;
  }
  kiln__plan_destroy(plan);
  free(data);
  ASSERT_TRUE(have_info);
  ASSERT_EQ_U64(info.format_major, 1);
  ASSERT_EQ_U64(info.format_minor, 0);
  ASSERT_OK(s);
  ASSERT_EQ_U64(size_tensors, 0);
}
