// The PTX inspector: a tokenizer over an untrusted byte span and a scanner
// that tracks brace depth, reads the module directives at depth 0 and parses
// every .entry's parameter list and performance directives.

#include "cuda/ptx.h"

#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "base/size.h"

//===----------------------------------------------------------------------===//
// Types and spaces
//===----------------------------------------------------------------------===//

typedef struct type_info_t {
  const char* name;
  uint32_t size;
} type_info_t;

static const type_info_t type_infos[] = {
    {".b8", 1},   {".b16", 2},    {".b32", 4}, {".b64", 8}, {".b128", 16},
    {".u8", 1},   {".u16", 2},    {".u32", 4}, {".u64", 8}, {".s8", 1},
    {".s16", 2},  {".s32", 4},    {".s64", 8}, {".f16", 2}, {".f16x2", 4},
    {".bf16", 2}, {".bf16x2", 4}, {".f32", 4}, {".f64", 8},
};
_Static_assert(KILN_ARRAYSIZE(type_infos) == KILN__PTX_TYPE_COUNT,
               "type_infos must describe every kiln__ptx_type_t");

static const char* const space_names[] = {"", ".global", ".const", ".local",
                                          ".shared"};
_Static_assert(KILN_ARRAYSIZE(space_names) == KILN__PTX_SPACE_COUNT,
               "space_names must name every kiln__ptx_space_t");

const char* kiln__ptx_type_name(kiln__ptx_type_t type) {
  if ((unsigned)type >= KILN__PTX_TYPE_COUNT) return "unknown";
  return type_infos[type].name;
}

uint32_t kiln__ptx_type_size(kiln__ptx_type_t type) {
  if ((unsigned)type >= KILN__PTX_TYPE_COUNT) return 0;
  return type_infos[type].size;
}

const char* kiln__ptx_space_name(kiln__ptx_space_t space) {
  if ((unsigned)space >= KILN__PTX_SPACE_COUNT) return "unknown";
  return space_names[space];
}

//===----------------------------------------------------------------------===//
// NUL termination
//===----------------------------------------------------------------------===//

size_t kiln__ptx_text_size(kiln_const_bytes_t ptx) {
  if (!ptx.data || ptx.size == 0) return 0;
  const void* nul = memchr(ptx.data, 0, ptx.size);
  return nul ? (size_t)((const uint8_t*)nul - ptx.data) : ptx.size;
}

kiln_status_t kiln__ptx_check_terminated(kiln_const_bytes_t ptx) {
  if (!ptx.data || ptx.size == 0 || !memchr(ptx.data, 0, ptx.size)) {
    return kiln_make_status(KILN_STATUS_DATA_LOSS,
                            "PTX of %zu bytes is not NUL-terminated within its "
                            "span; the driver reads PTX up to a NUL byte",
                            ptx.data ? ptx.size : (size_t)0);
  }
  return NULL;
}

kiln_status_t kiln__ptx_copy_terminated(kiln_const_bytes_t ptx,
                                        kiln_allocator_t allocator,
                                        char** out_text, size_t* out_length) {
  *out_text = NULL;
  if (out_length) *out_length = 0;
  size_t length = kiln__ptx_text_size(ptx);
  char* text = NULL;
  KILN_RETURN_IF_ERROR(kiln__string_dup(
      allocator, kiln_make_string_view((const char*)ptx.data, length), &text));
  *out_text = text;
  if (out_length) *out_length = length;
  return NULL;
}

//===----------------------------------------------------------------------===//
// Tokenizer
//===----------------------------------------------------------------------===//

typedef enum token_kind_e {
  TOKEN_EOF = 0,
  TOKEN_WORD,    // [A-Za-z0-9_$%.]+ : directives, names, numbers
  TOKEN_STRING,  // "..."
  TOKEN_PUNCT,   // any other single byte
} token_kind_t;

typedef struct token_t {
  token_kind_t kind;
  size_t offset;  // of the first byte
  size_t length;
} token_t;

typedef struct scanner_t {
  const char* text;
  size_t size;  // up to the first NUL
  size_t pos;
  bool has_peek;
  token_t peek;
} scanner_t;

static bool is_word_char(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '_' || c == '$' || c == '%' || c == '.';
}

static bool is_space(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
         c == '\f';
}

static kiln_status_t malformed(size_t offset, const char* what) {
  return kiln_make_status(KILN_STATUS_DATA_LOSS,
                          "malformed PTX at byte offset %zu: %s", offset, what);
}

static kiln_status_t lex(scanner_t* s, token_t* out) {
  const char* t = s->text;
  for (;;) {
    while (s->pos < s->size && is_space((unsigned char)t[s->pos])) ++s->pos;
    if (s->pos + 1 < s->size && t[s->pos] == '/' && t[s->pos + 1] == '/') {
      while (s->pos < s->size && t[s->pos] != '\n') ++s->pos;
      continue;
    }
    if (s->pos + 1 < s->size && t[s->pos] == '/' && t[s->pos + 1] == '*') {
      size_t start = s->pos;
      s->pos += 2;
      for (;;) {
        if (s->pos + 1 >= s->size) {
          s->pos = s->size;
          return malformed(start, "unterminated /* comment");
        }
        if (t[s->pos] == '*' && t[s->pos + 1] == '/') {
          s->pos += 2;
          break;
        }
        ++s->pos;
      }
      continue;
    }
    break;
  }
  out->offset = s->pos;
  out->length = 0;
  if (s->pos >= s->size) {
    out->kind = TOKEN_EOF;
    return NULL;
  }
  unsigned char c = (unsigned char)t[s->pos];
  if (c == '"') {
    size_t start = s->pos++;
    for (;;) {
      if (s->pos >= s->size) return malformed(start, "unterminated string");
      char d = t[s->pos++];
      if (d == '"') break;
      if (d == '\\' && s->pos < s->size) ++s->pos;
    }
    out->kind = TOKEN_STRING;
    out->length = s->pos - start;
    return NULL;
  }
  if (is_word_char(c)) {
    size_t start = s->pos;
    while (s->pos < s->size && is_word_char((unsigned char)t[s->pos])) {
      ++s->pos;
    }
    out->kind = TOKEN_WORD;
    out->length = s->pos - start;
    return NULL;
  }
  ++s->pos;
  out->kind = TOKEN_PUNCT;
  out->length = 1;
  return NULL;
}

static kiln_status_t next(scanner_t* s, token_t* out) {
  if (s->has_peek) {
    s->has_peek = false;
    *out = s->peek;
    return NULL;
  }
  return lex(s, out);
}

static kiln_status_t peek(scanner_t* s, token_t* out) {
  if (!s->has_peek) {
    KILN_RETURN_IF_ERROR(lex(s, &s->peek));
    s->has_peek = true;
  }
  *out = s->peek;
  return NULL;
}

static bool token_is(const scanner_t* s, const token_t* tok, const char* word) {
  size_t n = strlen(word);
  return tok->kind != TOKEN_EOF && tok->length == n &&
         memcmp(s->text + tok->offset, word, n) == 0;
}

static bool token_is_punct(const scanner_t* s, const token_t* tok, char c) {
  return tok->kind == TOKEN_PUNCT && s->text[tok->offset] == c;
}

static kiln_string_view_t token_view(const scanner_t* s, const token_t* tok) {
  return kiln_make_string_view(s->text + tok->offset, tok->length);
}

// Quotes a token for a message: at most 40 bytes of it.
#define TOKEN_ARG(s, tok) \
  (int)((tok)->length > 40 ? 40 : (tok)->length), (s)->text + (tok)->offset

static kiln_status_t unexpected(const scanner_t* s, const token_t* tok,
                                const char* expected) {
  if (tok->kind == TOKEN_EOF) {
    return kiln_make_status(KILN_STATUS_DATA_LOSS,
                            "malformed PTX at byte offset %zu: expected %s, "
                            "found the end of the text",
                            tok->offset, expected);
  }
  return kiln_make_status(KILN_STATUS_DATA_LOSS,
                          "malformed PTX at byte offset %zu: expected %s, "
                          "found '%.*s'",
                          tok->offset, expected, TOKEN_ARG(s, tok));
}

// Parses an unsigned decimal or 0x-hexadecimal integer token that fits in
// uint32_t.
static bool parse_u32(const scanner_t* s, const token_t* tok,
                      uint32_t* out_value) {
  *out_value = 0;
  if (tok->kind != TOKEN_WORD || tok->length == 0) return false;
  const char* p = s->text + tok->offset;
  size_t n = tok->length;
  uint64_t value = 0;
  size_t i = 0;
  unsigned base = 10;
  if (n > 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
    base = 16;
    i = 2;
  }
  if (i == n) return false;
  for (; i < n; ++i) {
    unsigned char c = (unsigned char)p[i];
    unsigned digit;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (base == 16 && c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else if (base == 16 && c >= 'A' && c <= 'F') {
      digit = c - 'A' + 10;
    } else if (base == 16 && i + 1 == n && (c == 'U' || c == 'u')) {
      break;  // PTX allows a U suffix on integer literals
    } else if (base == 10 && i + 1 == n && i > 0 && (c == 'U' || c == 'u')) {
      break;
    } else {
      return false;
    }
    value = value * base + digit;
    if (value > UINT32_MAX) return false;
  }
  *out_value = (uint32_t)value;
  return true;
}

static kiln_status_t expect_u32(scanner_t* s, const char* what,
                                uint32_t* out_value) {
  token_t tok;
  KILN_RETURN_IF_ERROR(next(s, &tok));
  if (!parse_u32(s, &tok, out_value)) return unexpected(s, &tok, what);
  return NULL;
}

static bool is_identifier(const scanner_t* s, const token_t* tok) {
  if (tok->kind != TOKEN_WORD || tok->length == 0) return false;
  unsigned char c = (unsigned char)s->text[tok->offset];
  if (c == '.' || (c >= '0' && c <= '9')) return false;
  // '.' is a word character for directives and numbers, never in a name.
  return memchr(s->text + tok->offset, '.', tok->length) == NULL;
}

//===----------------------------------------------------------------------===//
// Module directives
//===----------------------------------------------------------------------===//

static kiln_status_t parse_version(scanner_t* s, kiln__ptx_header_t* header) {
  token_t tok;
  KILN_RETURN_IF_ERROR(next(s, &tok));
  const char* p = s->text + tok.offset;
  const char* dot = tok.kind == TOKEN_WORD ? memchr(p, '.', tok.length) : NULL;
  if (!dot) return unexpected(s, &tok, "a version such as 8.7 after .version");
  token_t major = tok, minor = tok;
  major.length = (size_t)(dot - p);
  minor.offset = tok.offset + major.length + 1;
  minor.length = tok.length - major.length - 1;
  if (!parse_u32(s, &major, &header->version_major) ||
      !parse_u32(s, &minor, &header->version_minor) ||
      header->version_major > 1000 || header->version_minor > 1000) {
    return unexpected(s, &tok, "a version such as 8.7 after .version");
  }
  return NULL;
}

static kiln_status_t parse_target(scanner_t* s, kiln__ptx_header_t* header) {
  token_t tok;
  KILN_RETURN_IF_ERROR(next(s, &tok));
  const char* p = s->text + tok.offset;
  if (tok.kind != TOKEN_WORD || tok.length < 4 || memcmp(p, "sm_", 3) != 0) {
    return unexpected(s, &tok, "an architecture such as sm_90 after .target");
  }
  size_t end = tok.length;
  char suffix = '\0';
  if (p[end - 1] == 'a' || p[end - 1] == 'f') {
    suffix = p[end - 1];
    --end;
  }
  token_t number = tok;
  number.offset += 3;
  number.length = end - 3;
  uint32_t arch = 0;
  if (number.length == 0 || number.length > 4 ||
      !parse_u32(s, &number, &arch) || arch == 0 ||
      (number.length > 1 && p[3] == '0')) {
    return unexpected(s, &tok, "an architecture such as sm_90 after .target");
  }
  header->sm_arch = arch;
  header->arch_suffix = suffix;
  return NULL;
}

//===----------------------------------------------------------------------===//
// Entries
//===----------------------------------------------------------------------===//

// What the scan of one entry produced, before it is kept or dropped.
typedef struct entry_scan_t {
  bool store;  // record parameters (only for the entry asked for)
  kiln_allocator_t allocator;
  kiln__ptx_param_t* params;
  size_t param_count;
  size_t param_capacity;
  size_t param_bytes;
  bool has_reqntid, has_maxntid, has_reqnctapercluster;
  uint32_t reqntid[3], maxntid[3], reqnctapercluster[3];
  uint32_t maxnreg, minnctapersm;
} entry_scan_t;

static kiln_status_t push_param(entry_scan_t* scan,
                                const kiln__ptx_param_t* param) {
  if (scan->param_count == scan->param_capacity) {
    size_t capacity = scan->param_capacity ? scan->param_capacity * 2 : 8;
    size_t bytes;
    if (!kiln_size_checked_mul(capacity, sizeof(kiln__ptx_param_t), &bytes)) {
      return kiln_make_status(KILN_STATUS_OUT_OF_RANGE,
                              "too many PTX parameters (%zu)",
                              scan->param_count);
    }
    void* grown = scan->params;
    KILN_RETURN_IF_ERROR(
        kiln_allocator_realloc(scan->allocator, bytes, &grown));
    scan->params = (kiln__ptx_param_t*)grown;
    scan->param_capacity = capacity;
  }
  scan->params[scan->param_count++] = *param;
  return NULL;
}

static bool lookup_type(const scanner_t* s, const token_t* tok,
                        kiln__ptx_type_t* out_type) {
  for (size_t i = 0; i < KILN_ARRAYSIZE(type_infos); ++i) {
    if (token_is(s, tok, type_infos[i].name)) {
      *out_type = (kiln__ptx_type_t)i;
      return true;
    }
  }
  return false;
}

static bool lookup_space(const scanner_t* s, const token_t* tok,
                         kiln__ptx_space_t* out_space) {
  for (size_t i = 1; i < KILN_ARRAYSIZE(space_names); ++i) {
    if (token_is(s, tok, space_names[i])) {
      *out_space = (kiln__ptx_space_t)i;
      return true;
    }
  }
  return false;
}

static kiln_status_t parse_align(scanner_t* s, uint32_t* out_align) {
  token_t tok;
  KILN_RETURN_IF_ERROR(next(s, &tok));
  uint32_t align = 0;
  if (!parse_u32(s, &tok, &align) || align == 0 || (align & (align - 1))) {
    return unexpected(s, &tok, "a power-of-two alignment after .align");
  }
  *out_align = align;
  return NULL;
}

// Parses one parameter after its ".param" and appends it to |scan|.
static kiln_status_t parse_param(scanner_t* s, entry_scan_t* scan) {
  kiln__ptx_param_t param;
  memset(&param, 0, sizeof(param));
  bool has_type = false;
  uint32_t align = 0;
  token_t tok;
  for (;;) {
    KILN_RETURN_IF_ERROR(next(s, &tok));
    if (tok.kind != TOKEN_WORD || s->text[tok.offset] != '.') break;
    if (token_is(s, &tok, ".align")) {
      uint32_t value = 0;
      KILN_RETURN_IF_ERROR(parse_align(s, &value));
      if (param.is_ptr) {
        param.ptr_align = value;
      } else {
        align = value;
      }
    } else if (token_is(s, &tok, ".ptr")) {
      if (param.is_ptr) return malformed(tok.offset, "repeated .ptr");
      if (!has_type) return malformed(tok.offset, ".ptr before the type");
      param.is_ptr = true;
    } else if (lookup_space(s, &tok, &param.ptr_space)) {
      if (!param.is_ptr) {
        return malformed(tok.offset, "a state space without .ptr");
      }
    } else if (lookup_type(s, &tok, &param.type)) {
      if (has_type) return malformed(tok.offset, "a second parameter type");
      has_type = true;
    } else {
      return unexpected(s, &tok, "a parameter type or attribute");
    }
  }
  if (!has_type) return unexpected(s, &tok, "a parameter type");
  if (!is_identifier(s, &tok)) return unexpected(s, &tok, "a parameter name");
  param.name = token_view(s, &tok);
  param.element_size = kiln__ptx_type_size(param.type);
  uint64_t count = 1;
  bool is_array = false;
  for (;;) {
    KILN_RETURN_IF_ERROR(peek(s, &tok));
    if (!token_is_punct(s, &tok, '[')) break;
    KILN_RETURN_IF_ERROR(next(s, &tok));
    uint32_t n = 0;
    KILN_RETURN_IF_ERROR(expect_u32(s, "an array size", &n));
    if (n == 0) return malformed(tok.offset, "an array of size 0");
    KILN_RETURN_IF_ERROR(next(s, &tok));
    if (!token_is_punct(s, &tok, ']')) return unexpected(s, &tok, "']'");
    count *= n;
    if (count > UINT32_MAX) {
      return kiln_make_status(KILN_STATUS_OUT_OF_RANGE,
                              "PTX parameter '%.*s' at byte offset %zu has "
                              "more than 2^32 elements",
                              KILN_SV_ARG(param.name), tok.offset);
    }
    is_array = true;
  }
  param.array_count = is_array ? (uint32_t)count : 0;
  param.size = (size_t)param.element_size * (size_t)count;
  param.align = align ? align : param.element_size;
  size_t offset, end;
  if (!kiln_size_checked_align(scan->param_bytes, param.align, &offset) ||
      !kiln_size_checked_add(offset, param.size, &end)) {
    return kiln_make_status(KILN_STATUS_OUT_OF_RANGE,
                            "PTX parameter '%.*s' lies past 2^64 bytes",
                            KILN_SV_ARG(param.name));
  }
  param.offset = offset;
  scan->param_bytes = end;
  if (scan->store)
    KILN_RETURN_IF_ERROR(push_param(scan, &param));
  else
    ++scan->param_count;
  return NULL;
}

// Parses "x[, y[, z]]" after a directive such as .reqntid.
static kiln_status_t parse_dims(scanner_t* s, uint32_t dims[3]) {
  dims[0] = dims[1] = dims[2] = 1;
  for (int i = 0; i < 3; ++i) {
    KILN_RETURN_IF_ERROR(expect_u32(s, "a thread count", &dims[i]));
    token_t tok;
    KILN_RETURN_IF_ERROR(peek(s, &tok));
    if (!token_is_punct(s, &tok, ',')) break;
    KILN_RETURN_IF_ERROR(next(s, &tok));
  }
  return NULL;
}

// Parses the directives between an entry's parameters and its body. Sets
// |*out_defined| when a body ('{', left unread) follows, false for a
// declaration (';', consumed).
static kiln_status_t parse_entry_directives(scanner_t* s, entry_scan_t* scan,
                                            bool* out_defined) {
  *out_defined = false;
  for (;;) {
    token_t tok;
    KILN_RETURN_IF_ERROR(peek(s, &tok));
    if (token_is_punct(s, &tok, '{')) {
      *out_defined = true;
      return NULL;
    }
    KILN_RETURN_IF_ERROR(next(s, &tok));
    if (token_is_punct(s, &tok, ';')) return NULL;
    if (tok.kind != TOKEN_WORD || s->text[tok.offset] != '.') {
      return unexpected(s, &tok, "'{', ';' or a performance directive");
    }
    if (token_is(s, &tok, ".reqntid")) {
      KILN_RETURN_IF_ERROR(parse_dims(s, scan->reqntid));
      scan->has_reqntid = true;
    } else if (token_is(s, &tok, ".maxntid")) {
      KILN_RETURN_IF_ERROR(parse_dims(s, scan->maxntid));
      scan->has_maxntid = true;
    } else if (token_is(s, &tok, ".reqnctapercluster")) {
      KILN_RETURN_IF_ERROR(parse_dims(s, scan->reqnctapercluster));
      scan->has_reqnctapercluster = true;
    } else if (token_is(s, &tok, ".maxnreg")) {
      KILN_RETURN_IF_ERROR(expect_u32(s, "a register count", &scan->maxnreg));
    } else if (token_is(s, &tok, ".minnctapersm")) {
      KILN_RETURN_IF_ERROR(expect_u32(s, "a CTA count", &scan->minnctapersm));
    } else if (token_is(s, &tok, ".pragma")) {
      KILN_RETURN_IF_ERROR(next(s, &tok));
      if (tok.kind != TOKEN_STRING) return unexpected(s, &tok, "a string");
      KILN_RETURN_IF_ERROR(next(s, &tok));
      if (!token_is_punct(s, &tok, ';')) return unexpected(s, &tok, "';'");
    } else {
      // Another directive (.maxclusterrank N, .explicitcluster, .noreturn,
      // or one from a newer PTX): skip its numeric arguments.
      for (;;) {
        KILN_RETURN_IF_ERROR(peek(s, &tok));
        uint32_t ignored;
        if (!token_is_punct(s, &tok, ',') && !parse_u32(s, &tok, &ignored)) {
          break;
        }
        KILN_RETURN_IF_ERROR(next(s, &tok));
      }
    }
  }
}

//===----------------------------------------------------------------------===//
// The scan
//===----------------------------------------------------------------------===//

// The names of the entries defined, for a NOT_FOUND message.
typedef struct name_list_t {
  char text[512];
  size_t length;
  size_t count;
  size_t omitted;
} name_list_t;

static void name_list_add(name_list_t* list, kiln_string_view_t name) {
  ++list->count;
  size_t need = name.size + (list->length ? 2 : 0);
  if (name.size > 128 || list->length + need + 1 > sizeof(list->text)) {
    ++list->omitted;
    return;
  }
  if (list->length) {
    memcpy(list->text + list->length, ", ", 2);
    list->length += 2;
  }
  memcpy(list->text + list->length, name.data, name.size);
  list->length += name.size;
  list->text[list->length] = '\0';
}

typedef struct scan_result_t {
  kiln__ptx_header_t header;
  bool found;
  kiln_string_view_t name;
  entry_scan_t entry;
  name_list_t names;
} scan_result_t;

// Parses ".entry NAME (params) directives" after the ".entry" token.
static kiln_status_t parse_entry(scanner_t* s, kiln_string_view_t want,
                                 kiln_allocator_t allocator,
                                 scan_result_t* result) {
  token_t tok;
  KILN_RETURN_IF_ERROR(next(s, &tok));
  if (!is_identifier(s, &tok)) {
    return unexpected(s, &tok, "a kernel name after .entry");
  }
  kiln_string_view_t name = token_view(s, &tok);
  bool match = want.size > 0 && kiln_string_view_equal(name, want);
  entry_scan_t scan;
  memset(&scan, 0, sizeof(scan));
  scan.store = match && !result->found;
  scan.allocator = allocator;
  kiln_status_t status = peek(s, &tok);
  if (!status && token_is_punct(s, &tok, '(')) {
    status = next(s, &tok);
    if (!status) status = peek(s, &tok);
    if (!status && token_is_punct(s, &tok, ')')) {
      status = next(s, &tok);
    } else {
      while (!status) {
        status = next(s, &tok);
        if (status) break;
        if (!token_is(s, &tok, ".param")) {
          status = unexpected(s, &tok, "'.param'");
          break;
        }
        status = parse_param(s, &scan);
        if (!status) status = next(s, &tok);
        if (status) break;
        if (token_is_punct(s, &tok, ')')) break;
        if (!token_is_punct(s, &tok, ',')) {
          status = unexpected(s, &tok, "',' or ')' after a parameter");
        }
      }
    }
  }
  bool defined = false;
  if (!status) status = parse_entry_directives(s, &scan, &defined);
  if (!status && defined) {
    name_list_add(&result->names, name);
    if (match && result->found) {
      status = kiln_make_status(KILN_STATUS_DATA_LOSS,
                                "malformed PTX: entry '%.*s' is defined twice",
                                KILN_SV_ARG(name));
    } else if (match) {
      result->found = true;
      result->name = name;
      result->entry = scan;
      return NULL;
    }
  }
  kiln_allocator_free(allocator, scan.params);
  return status;
}

static kiln_status_t scan_ptx(kiln_const_bytes_t ptx, kiln_string_view_t want,
                              kiln_allocator_t allocator,
                              scan_result_t* result) {
  memset(result, 0, sizeof(*result));
  scanner_t s;
  memset(&s, 0, sizeof(s));
  s.text = (const char*)ptx.data;
  s.size = kiln__ptx_text_size(ptx);
  bool have_version = false, have_target = false;
  size_t depth = 0, block_start = 0;
  kiln_status_t status = NULL;
  while (!status) {
    token_t tok;
    status = next(&s, &tok);
    if (status || tok.kind == TOKEN_EOF) break;
    if (tok.kind == TOKEN_PUNCT) {
      if (token_is_punct(&s, &tok, '{')) {
        if (depth == 0) block_start = tok.offset;
        ++depth;
      } else if (token_is_punct(&s, &tok, '}')) {
        if (depth == 0)
          status = malformed(tok.offset, "unbalanced '}'");
        else
          --depth;
      }
      continue;
    }
    if (depth != 0 || tok.kind != TOKEN_WORD) continue;
    if (token_is(&s, &tok, ".version")) {
      if (!have_version) status = parse_version(&s, &result->header);
      have_version = true;
    } else if (token_is(&s, &tok, ".target")) {
      if (!have_target) status = parse_target(&s, &result->header);
      have_target = true;
    } else if (token_is(&s, &tok, ".address_size")) {
      uint32_t size = 0;
      status = expect_u32(&s, "32 or 64 after .address_size", &size);
      if (!status && size != 32 && size != 64) {
        status = malformed(tok.offset, ".address_size other than 32 or 64");
      }
      if (!status) result->header.address_size = size;
    } else if (token_is(&s, &tok, ".entry")) {
      status = parse_entry(&s, want, allocator, result);
    }
  }
  if (!status && depth != 0) {
    status = malformed(block_start, "'{' is never closed");
  }
  if (!status && !have_version) {
    status = kiln_make_status(KILN_STATUS_DATA_LOSS,
                              "malformed PTX: no .version directive in %zu "
                              "bytes of text",
                              s.size);
  }
  if (!status && !have_target) {
    status = kiln_make_status(KILN_STATUS_DATA_LOSS,
                              "malformed PTX: no .target directive in %zu "
                              "bytes of text",
                              s.size);
  }
  if (status) {
    kiln_allocator_free(allocator, result->entry.params);
    memset(&result->entry, 0, sizeof(result->entry));
    result->found = false;
  }
  return status;
}

kiln_status_t kiln__ptx_read_header(kiln_const_bytes_t ptx,
                                    kiln__ptx_header_t* out_header) {
  memset(out_header, 0, sizeof(*out_header));
  scan_result_t result;
  KILN_RETURN_IF_ERROR(scan_ptx(ptx, kiln_make_string_view(NULL, 0),
                                kiln_allocator_system(), &result));
  *out_header = result.header;
  return NULL;
}

kiln_status_t kiln__ptx_find_entry(kiln_const_bytes_t ptx,
                                   kiln_string_view_t entry_name,
                                   kiln_allocator_t allocator,
                                   kiln__ptx_entry_t* out_entry) {
  memset(out_entry, 0, sizeof(*out_entry));
  if (!entry_name.data || entry_name.size == 0) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "an empty kernel name was given to look up in PTX");
  }
  scan_result_t result;
  KILN_RETURN_IF_ERROR(scan_ptx(ptx, entry_name, allocator, &result));
  if (!result.found) {
    const name_list_t* names = &result.names;
    if (names->count == 0) {
      return kiln_make_status(KILN_STATUS_NOT_FOUND,
                              "PTX has no entry '%.*s': it defines no .entry "
                              "at all",
                              KILN_SV_ARG(entry_name));
    }
    char more[64] = "";
    if (names->omitted) {
      snprintf(more, sizeof(more), " and %zu more", names->omitted);
    }
    return kiln_make_status(KILN_STATUS_NOT_FOUND,
                            "PTX has no entry '%.*s'; the entries defined are: "
                            "%s%s",
                            KILN_SV_ARG(entry_name), names->text, more);
  }
  out_entry->allocator = allocator;
  out_entry->header = result.header;
  out_entry->name = result.name;
  out_entry->params = result.entry.params;
  out_entry->param_count = result.entry.param_count;
  out_entry->param_bytes = result.entry.param_bytes;
  out_entry->has_reqntid = result.entry.has_reqntid;
  memcpy(out_entry->reqntid, result.entry.reqntid, sizeof(out_entry->reqntid));
  out_entry->has_maxntid = result.entry.has_maxntid;
  memcpy(out_entry->maxntid, result.entry.maxntid, sizeof(out_entry->maxntid));
  out_entry->has_reqnctapercluster = result.entry.has_reqnctapercluster;
  memcpy(out_entry->reqnctapercluster, result.entry.reqnctapercluster,
         sizeof(out_entry->reqnctapercluster));
  out_entry->maxnreg = result.entry.maxnreg;
  out_entry->minnctapersm = result.entry.minnctapersm;
  return NULL;
}

void kiln__ptx_entry_deinit(kiln__ptx_entry_t* entry) {
  if (!entry) return;
  if (entry->params) kiln_allocator_free(entry->allocator, entry->params);
  memset(entry, 0, sizeof(*entry));
}
