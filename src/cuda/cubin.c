// The cubin checker: bounds-checked reads of an ELF64 little-endian image.

#include "cuda/cubin.h"

#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "base/size.h"

// ELF constants (kiln does not rely on the system's <elf.h>).
#define EHDR_SIZE 64
#define SHDR_SIZE 64
#define PHDR_SIZE 56
#define SYM_SIZE 24
#define ELFCLASS64 2
#define ELFDATA2LSB 1
#define EV_CURRENT 1
#define ET_REL 1
#define ET_EXEC 2
#define SHT_SYMTAB 2
#define SHT_STRTAB 3
#define SHT_NOBITS 8
#define SHN_UNDEF 0
#define SHN_LORESERVE 0xff00
#define SHN_XINDEX 0xffff
#define STT_FUNC 2
#define STO_CUDA_ENTRY 0x10

static uint16_t rd16(const uint8_t* p) {
  return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t rd32(const uint8_t* p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
         ((uint32_t)p[3] << 24);
}

static uint64_t rd64(const uint8_t* p) {
  return (uint64_t)rd32(p) | ((uint64_t)rd32(p + 4) << 32);
}

static kiln_status_t bad(size_t offset, const char* what) {
  return kiln_make_status(KILN_STATUS_DATA_LOSS,
                          "malformed cubin at byte offset %zu: %s", offset,
                          what);
}

// True when [offset, offset + size) lies within |total| bytes.
static bool in_bounds(uint64_t offset, uint64_t size, size_t total) {
  return offset <= total && size <= total - offset;
}

// One section header, read.
typedef struct section_t {
  uint32_t name;
  uint32_t type;
  uint64_t offset;
  uint64_t size;
  uint32_t link;
  uint64_t entsize;
} section_t;

// The parsed layout shared by both entry points.
typedef struct layout_t {
  const uint8_t* data;
  size_t size;
  uint64_t shoff;
  size_t shnum;
  kiln__cubin_info_t info;
} layout_t;

static section_t read_section(const layout_t* layout, size_t index) {
  const uint8_t* p = layout->data + layout->shoff + index * SHDR_SIZE;
  section_t s;
  s.name = rd32(p + 0);
  s.type = rd32(p + 4);
  s.offset = rd64(p + 24);
  s.size = rd64(p + 32);
  s.link = rd32(p + 40);
  s.entsize = rd64(p + 56);
  return s;
}

static kiln_status_t parse_layout(kiln_const_bytes_t cubin, layout_t* out) {
  memset(out, 0, sizeof(*out));
  const uint8_t* d = cubin.data;
  size_t n = cubin.data ? cubin.size : 0;
  if (n < EHDR_SIZE) {
    return kiln_make_status(KILN_STATUS_DATA_LOSS,
                            "malformed cubin: %zu bytes is shorter than the "
                            "64-byte ELF64 header",
                            n);
  }
  if (d[0] != 0x7f || d[1] != 'E' || d[2] != 'L' || d[3] != 'F') {
    return bad(0, "no ELF magic (\\x7fELF)");
  }
  if (d[4] != ELFCLASS64) return bad(4, "not a 64-bit ELF (EI_CLASS)");
  if (d[5] != ELFDATA2LSB) return bad(5, "not little-endian (EI_DATA)");
  if (d[6] != EV_CURRENT) return bad(6, "unknown ELF version (EI_VERSION)");
  out->data = d;
  out->size = n;
  out->info.os_abi = d[7];
  out->info.abi_version = d[8];
  uint16_t type = rd16(d + 16);
  if (type != ET_EXEC && type != ET_REL) {
    return bad(16, "e_type is neither executable nor relocatable");
  }
  uint16_t machine = rd16(d + 18);
  if (machine != KILN__ELF_EM_CUDA) {
    return kiln_make_status(KILN_STATUS_DATA_LOSS,
                            "malformed cubin at byte offset 18: e_machine is "
                            "%u, not EM_CUDA (190)",
                            (unsigned)machine);
  }
  // e_version (offset 20) is not checked: some ptxas versions (the one
  // Triton 3.6 ships) write values other than EV_CURRENT there.
  uint64_t phoff = rd64(d + 32);
  uint64_t shoff = rd64(d + 40);
  uint32_t flags = rd32(d + 48);
  uint16_t ehsize = rd16(d + 52);
  uint16_t phentsize = rd16(d + 54);
  uint16_t phnum = rd16(d + 56);
  uint16_t shentsize = rd16(d + 58);
  uint16_t shnum16 = rd16(d + 60);
  uint16_t shstrndx16 = rd16(d + 62);
  if (ehsize != EHDR_SIZE) return bad(52, "e_ehsize is not 64");
  out->info.elf_type = type;
  out->info.e_flags = flags;
  if (out->info.abi_version == KILN__CUBIN_ABI_VERSION_V1) {
    out->info.sm_arch = flags & 0xffu;
    out->info.virtual_arch = (flags >> 16) & 0xffu;
  } else if (out->info.abi_version == KILN__CUBIN_ABI_VERSION_V2) {
    out->info.sm_arch = (flags >> 8) & 0xffu;
  }

  if (phnum > 0) {
    if (phentsize != PHDR_SIZE) return bad(54, "e_phentsize is not 56");
    if (!in_bounds(phoff, (uint64_t)phnum * PHDR_SIZE, n)) {
      return bad(32, "the program header table lies past the end");
    }
    for (size_t i = 0; i < phnum; ++i) {
      const uint8_t* p = d + phoff + i * PHDR_SIZE;
      if (!in_bounds(rd64(p + 8), rd64(p + 32), n)) {
        return kiln_make_status(KILN_STATUS_DATA_LOSS,
                                "malformed cubin at byte offset %zu: segment "
                                "%zu lies past the end",
                                (size_t)(phoff + i * PHDR_SIZE + 8), i);
      }
    }
  }

  if (shoff == 0) return bad(40, "no section header table (e_shoff is 0)");
  if (shentsize != SHDR_SIZE) return bad(58, "e_shentsize is not 64");
  if (!in_bounds(shoff, SHDR_SIZE, n)) {
    return bad(40, "the section header table lies past the end");
  }
  // Extended numbering: a count of 0 or an index of SHN_XINDEX means the
  // real value is in section 0's sh_size or sh_link.
  uint64_t shnum = shnum16;
  if (shnum == 0) shnum = rd64(d + shoff + 32);
  if (shnum == 0) return bad(60, "the cubin has no sections");
  if (shnum > n / SHDR_SIZE || !in_bounds(shoff, shnum * SHDR_SIZE, n)) {
    return bad(40, "the section header table lies past the end");
  }
  out->shoff = shoff;
  out->shnum = (size_t)shnum;
  out->info.section_count = (size_t)shnum;
  uint64_t shstrndx = shstrndx16;
  if (shstrndx == SHN_XINDEX) shstrndx = rd32(d + shoff + 40);
  if (shstrndx != SHN_UNDEF && shstrndx >= shnum) {
    return bad(62, "e_shstrndx names no section");
  }
  for (size_t i = 0; i < out->shnum; ++i) {
    section_t s = read_section(out, i);
    if (s.type != SHT_NOBITS && !in_bounds(s.offset, s.size, n)) {
      return kiln_make_status(KILN_STATUS_DATA_LOSS,
                              "malformed cubin at byte offset %zu: section "
                              "%zu (offset %llu, %llu bytes) lies past the end "
                              "of %zu bytes",
                              (size_t)(shoff + i * SHDR_SIZE), i,
                              (unsigned long long)s.offset,
                              (unsigned long long)s.size, n);
    }
  }
  if (shstrndx != SHN_UNDEF) {
    section_t s = read_section(out, (size_t)shstrndx);
    if (s.type != SHT_STRTAB) {
      return bad(62, "e_shstrndx names a section that is not a string table");
    }
  }
  return NULL;
}

kiln_status_t kiln__cubin_inspect(kiln_const_bytes_t cubin,
                                  kiln__cubin_info_t* out_info) {
  memset(out_info, 0, sizeof(*out_info));
  layout_t layout;
  KILN_RETURN_IF_ERROR(parse_layout(cubin, &layout));
  *out_info = layout.info;
  return NULL;
}

// The names of the functions present, for a NOT_FOUND message.
typedef struct name_list_t {
  char text[512];
  size_t length;
  size_t omitted;
} name_list_t;

static void name_list_add(name_list_t* list, const char* name, size_t size) {
  size_t need = size + (list->length ? 2 : 0);
  if (size > 128 || list->length + need + 1 > sizeof(list->text)) {
    ++list->omitted;
    return;
  }
  if (list->length) {
    memcpy(list->text + list->length, ", ", 2);
    list->length += 2;
  }
  memcpy(list->text + list->length, name, size);
  list->length += size;
  list->text[list->length] = '\0';
}

kiln_status_t kiln__cubin_find_function(kiln_const_bytes_t cubin,
                                        kiln_string_view_t name,
                                        kiln__cubin_function_t* out_function) {
  if (out_function) memset(out_function, 0, sizeof(*out_function));
  if (!name.data || name.size == 0) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "an empty kernel name was given to look up in a "
                            "cubin");
  }
  layout_t layout;
  KILN_RETURN_IF_ERROR(parse_layout(cubin, &layout));
  name_list_t names;
  memset(&names, 0, sizeof(names));
  size_t function_count = 0;
  for (size_t i = 0; i < layout.shnum; ++i) {
    section_t symtab = read_section(&layout, i);
    if (symtab.type != SHT_SYMTAB) continue;
    size_t header_at = (size_t)(layout.shoff + i * SHDR_SIZE);
    if (symtab.entsize != SYM_SIZE) {
      return kiln_make_status(KILN_STATUS_DATA_LOSS,
                              "malformed cubin at byte offset %zu: symbol "
                              "table %zu has entries of %llu bytes, not 24",
                              header_at + 56, i,
                              (unsigned long long)symtab.entsize);
    }
    if (symtab.size % SYM_SIZE != 0) {
      return kiln_make_status(KILN_STATUS_DATA_LOSS,
                              "malformed cubin at byte offset %zu: symbol "
                              "table %zu is %llu bytes, not a multiple of 24",
                              header_at + 32, i,
                              (unsigned long long)symtab.size);
    }
    if (symtab.link >= layout.shnum) {
      return kiln_make_status(KILN_STATUS_DATA_LOSS,
                              "malformed cubin at byte offset %zu: symbol "
                              "table %zu links to section %u of %zu",
                              header_at + 40, i, (unsigned)symtab.link,
                              layout.shnum);
    }
    section_t strtab = read_section(&layout, symtab.link);
    if (strtab.type != SHT_STRTAB) {
      return kiln_make_status(KILN_STATUS_DATA_LOSS,
                              "malformed cubin at byte offset %zu: symbol "
                              "table %zu links to section %u, which is not a "
                              "string table",
                              header_at + 40, i, (unsigned)symtab.link);
    }
    const char* strings = (const char*)layout.data + strtab.offset;
    size_t strings_size = (size_t)strtab.size;
    size_t count = (size_t)(symtab.size / SYM_SIZE);
    for (size_t k = 0; k < count; ++k) {
      size_t at = (size_t)symtab.offset + k * SYM_SIZE;
      const uint8_t* sym = layout.data + at;
      if ((sym[4] & 0xf) != STT_FUNC) continue;
      uint16_t shndx = rd16(sym + 6);
      if (shndx == SHN_UNDEF) continue;
      uint32_t name_at = rd32(sym);
      if (name_at >= strings_size) {
        return kiln_make_status(KILN_STATUS_DATA_LOSS,
                                "malformed cubin at byte offset %zu: symbol "
                                "%zu's name lies outside its string table",
                                at, k);
      }
      const char* sym_name = strings + name_at;
      const char* nul = memchr(sym_name, 0, strings_size - name_at);
      if (!nul) {
        return kiln_make_status(KILN_STATUS_DATA_LOSS,
                                "malformed cubin at byte offset %zu: symbol "
                                "%zu's name is not NUL-terminated",
                                at, k);
      }
      size_t sym_size = (size_t)(nul - sym_name);
      ++function_count;
      if (sym_size == name.size &&
          memcmp(sym_name, name.data, name.size) == 0) {
        if (out_function) {
          out_function->size = rd64(sym + 16);
          out_function->section = shndx;
          out_function->is_entry = (sym[5] & STO_CUDA_ENTRY) != 0;
        }
        return NULL;
      }
      name_list_add(&names, sym_name, sym_size);
    }
  }
  if (function_count == 0) {
    return kiln_make_status(KILN_STATUS_NOT_FOUND,
                            "cubin has no function '%.*s': it defines no "
                            "functions at all",
                            KILN_SV_ARG(name));
  }
  char more[64] = "";
  if (names.omitted) {
    snprintf(more, sizeof(more), " and %zu more", names.omitted);
  }
  return kiln_make_status(KILN_STATUS_NOT_FOUND,
                          "cubin has no function '%.*s'; the functions "
                          "defined are: %s%s",
                          KILN_SV_ARG(name), names.text, more);
}
