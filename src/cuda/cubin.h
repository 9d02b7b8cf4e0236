// A cubin checker for untrusted bytes: the ELF64 header of an NVIDIA CUDA
// binary, its section header table, the SM architecture it was built for,
// and its function symbols.
//
// How the SM architecture is encoded in e_flags depends on the CUDA ELF ABI
// version (e_ident[EI_ABIVERSION]):
//
//   ABI 7 (CUDA 12 and older): the SM number is the low byte
//     (e_flags & 0xff), the virtual architecture is bits 16-23, and 0x400
//     marks 64-bit addressing.
//   ABI 8 (CUDA 13): the SM number is bits 8-15 ((e_flags >> 8) & 0xff).
//     Measured with nvcc 13.0 -cubin: sm_75 0x06004b04, sm_80 0x06005004,
//     sm_86 0x06005604, sm_89 0x06005904, sm_90 and sm_90a 0x06005a04,
//     sm_100/100a/100f 0x06006402, sm_103 0x06006702, sm_110 0x06006e02,
//     sm_120/120a 0x06007802, sm_121 0x06007902; nvJitLink 13.0 writes the
//     same values. e_flags does not tell sm_90 from sm_90a: the 'a' variant
//     differs only inside the undocumented .nv.compat section, so kiln keeps
//     the arch-specific flag in the engine, not from the cubin.
//
// The OS/ABI byte is 0x41 for CUDA 13 cubins (0x33 for older ones); it is
// reported, not checked. Every failure is DATA_LOSS naming the byte offset.
// Deciding whether an architecture fits a device (INCOMPATIBLE) is left to
// callers.

#ifndef KILN_SRC_CUDA_CUBIN_H_
#define KILN_SRC_CUDA_CUBIN_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kiln/kiln.h"

#define KILN__ELF_EM_CUDA 190
#define KILN__CUBIN_ABI_VERSION_V1 7  // CUDA 12 and older
#define KILN__CUBIN_ABI_VERSION_V2 8  // CUDA 13

// What the header says.
typedef struct kiln__cubin_info_t {
  uint32_t sm_arch;       // 90 for sm_90; 0 for an ABI version kiln does not
                          // know (callers refuse it as INCOMPATIBLE)
  uint32_t virtual_arch;  // ABI 7 only: the PTX architecture; else 0
  uint8_t abi_version;    // e_ident[EI_ABIVERSION]: 7 or 8 as above
  uint8_t os_abi;         // e_ident[EI_OSABI]
  uint16_t elf_type;      // e_type: 2 (executable) or 1 (relocatable)
  uint32_t e_flags;
  size_t section_count;
} kiln__cubin_info_t;

// A function symbol found by kiln__cubin_find_function.
typedef struct kiln__cubin_function_t {
  uint64_t size;     // st_size
  uint16_t section;  // st_shndx
  bool is_entry;     // st_other has STO_CUDA_ENTRY (0x10): a __global__
} kiln__cubin_function_t;

// Checks |cubin|: the ELF magic, ELFCLASS64, little-endian, EV_CURRENT,
// e_machine EM_CUDA (190), an executable or relocatable type, the header,
// program header and section header tables within the bytes, every
// section's contents within the bytes, and the section-name table index.
// Fills |*out_info| (zeroed on entry). DATA_LOSS otherwise. Allocates
// nothing. Thread-safe.
kiln_status_t kiln__cubin_inspect(kiln_const_bytes_t cubin,
                                  kiln__cubin_info_t* out_info);

// Checks |cubin| as kiln__cubin_inspect does, then looks for a defined
// STT_FUNC symbol named |name| in its symbol tables. |out_function| may be
// NULL. NOT_FOUND names |name| and lists the functions present; DATA_LOSS
// for a malformed symbol or string table; INVALID_ARGUMENT for an empty
// |name|. Thread-safe.
kiln_status_t kiln__cubin_find_function(kiln_const_bytes_t cubin,
                                        kiln_string_view_t name,
                                        kiln__cubin_function_t* out_function);

#endif  // KILN_SRC_CUDA_CUBIN_H_
