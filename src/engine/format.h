// The kiln engine file format, version 1.1. The full specification, with the
// checks the reader makes, is docs/engine-format.md; this is its summary and
// the constants the writer and the reader share.
//
// All integers are little-endian and unaligned reads are never assumed (the
// reader assembles them byte by byte). Offsets are from the start of the
// file unless a field says otherwise.
//
//   file     := header table padding section (padding section)* padding
//   header   := 64 bytes (below)
//   table    := section_count entries of 32 bytes, right after the header
//   section  := starts at a multiple of 64; its bytes are listed by one entry
//   padding  := zero bytes (the reader checks they are zero, so no byte of
//               the file is outside the reach of a check)
//
// Header (64 bytes):
//    0 u8[8]  magic            89 'K' 'I' 'L' 'N' 0D 0A 1A
//    8 u16    format_major     1 (a larger major is refused: INCOMPATIBLE)
//   10 u16    format_minor     1 (a larger minor loads; see "sections"; 1.0
//                              files, which have no SIZE_TENSORS, load too)
//   12 u32    header_size      64
//   16 u64    file_size        the whole file, exactly
//   24 u32    section_count    1..256
//   28 u32    table_offset     64
//   32 u32    table_crc        CRC-32C of the section table
//   36 u32    flags            0
//   40 u8[20] reserved         0
//   60 u32    header_crc       CRC-32C of header bytes 0..59
//
// Section table entry (32 bytes), in increasing order of offset:
//    0 u32 id       KILN__SECTION_* below; unique
//    4 u32 flags    bit 0 MUST_UNDERSTAND (set exactly on a non-empty
//                   SIZE_TENSORS section); other bits 0
//    8 u64 offset   a multiple of 64, past the table
//   16 u64 size     bytes; offset + size <= file_size; no overlap
//   24 u32 count    records (BLOB: 0; INFO: 1; EXPRS: expressions)
//   28 u32 crc      CRC-32C of the section's bytes
//
// A reader skips a section whose id it does not know when the file's minor
// version is newer than its own and the section is not MUST_UNDERSTAND
// (otherwise: INCOMPATIBLE for a newer minor, DATA_LOSS for an older one).
// Every section below is required, once, even when it holds no records;
// SIZE_TENSORS only from format 1.1 on (a 1.0 file has none).
// Record sections hold |count| fixed-size records back to back (size ==
// count * record size). Strings and byte runs are (offset, size) spans into
// the BLOB section; an empty span is (0, 0). A field that does not apply to
// its record's kind holds a fixed value (KILN__NONE, 0), so the bytes of an
// engine are a function of its meaning.
//
//   id  section    record  contents
//    1  INFO          32   build facts and counts (one record)
//    2  EXPRS          -   kiln__sym_serialize of the plan's expressions;
//                          root i is expression i (see sym/sym.h)
//    3  TENSORS       88   kiln__plan_tensor_t
//    4  CONSTANTS     16   kiln__plan_constant_t
//    5  IMAGES        24   kiln__plan_image_t
//    6  PARAMS         8   kiln__plan_param_t
//    7  KERNELS       64   kiln__plan_kernel_t
//    8  ARGS          12   kiln__plan_arg_t
//    9  LAYERS       112   kiln__plan_layer_t
//   10  INDICES        4   u32 tensor indices (layer inputs and outputs)
//   11  PROFILES      24   i64 min, opt, max; profile p, input ordinal i,
//                          dimension j at (p * inputs + i) * 8 + j
//   12  BLOB           -   names, PTX (each followed by a NUL), cubins and
//                          constant data; images and constants 64-aligned
//   13  SIZE_TENSORS   4   u32 tensor indices of the size tensors, ascending
//                          (format 1.1; MUST_UNDERSTAND when not empty)
//
// The field offsets of every record are the KILN__*_OFF_* constants below;
// docs/engine-format.md lists them with their checks.

#ifndef KILN_SRC_ENGINE_FORMAT_H_
#define KILN_SRC_ENGINE_FORMAT_H_

#include <stddef.h>
#include <stdint.h>

#define KILN__ENGINE_MAGIC "\x89KILN\r\n\x1a"
#define KILN__ENGINE_MAGIC_SIZE 8
#define KILN__ENGINE_FORMAT_MAJOR 1
#define KILN__ENGINE_FORMAT_MINOR 1
// The first minor version with the SIZE_TENSORS section.
#define KILN__ENGINE_FORMAT_MINOR_SIZE_TENSORS 1

#define KILN__ENGINE_ALIGNMENT 64  // sections, images and constants
#define KILN__ENGINE_MAX_SECTIONS 256
#define KILN__ENGINE_MAX_PROFILES 1024
// The most bytes of kernel parameters a launch may take (CUDA 12.1+).
#define KILN__ENGINE_MAX_PARAM_BYTES 32764

// Header.
#define KILN__HEADER_SIZE 64
#define KILN__HEADER_OFF_MAGIC 0
#define KILN__HEADER_OFF_MAJOR 8
#define KILN__HEADER_OFF_MINOR 10
#define KILN__HEADER_OFF_HEADER_SIZE 12
#define KILN__HEADER_OFF_FILE_SIZE 16
#define KILN__HEADER_OFF_SECTION_COUNT 24
#define KILN__HEADER_OFF_TABLE_OFFSET 28
#define KILN__HEADER_OFF_TABLE_CRC 32
#define KILN__HEADER_OFF_FLAGS 36
#define KILN__HEADER_OFF_RESERVED 40
#define KILN__HEADER_RESERVED_SIZE 20
#define KILN__HEADER_OFF_HEADER_CRC 60

// Section table entries.
#define KILN__SECTION_ENTRY_SIZE 32
#define KILN__SECTION_OFF_ID 0
#define KILN__SECTION_OFF_FLAGS 4
#define KILN__SECTION_OFF_OFFSET 8
#define KILN__SECTION_OFF_SIZE 16
#define KILN__SECTION_OFF_COUNT 24
#define KILN__SECTION_OFF_CRC 28
#define KILN__SECTION_FLAG_MUST_UNDERSTAND 1u

typedef enum kiln__section_id_e {
  KILN__SECTION_INFO = 1,
  KILN__SECTION_EXPRS = 2,
  KILN__SECTION_TENSORS = 3,
  KILN__SECTION_CONSTANTS = 4,
  KILN__SECTION_IMAGES = 5,
  KILN__SECTION_PARAMS = 6,
  KILN__SECTION_KERNELS = 7,
  KILN__SECTION_ARGS = 8,
  KILN__SECTION_LAYERS = 9,
  KILN__SECTION_INDICES = 10,
  KILN__SECTION_PROFILES = 11,
  KILN__SECTION_BLOB = 12,
  KILN__SECTION_SIZE_TENSORS = 13,  // format 1.1
  KILN__SECTION_ID_END = 14,        // one past the last id of format 1.1
} kiln__section_id_t;

// INFO (one record).
#define KILN__INFO_SIZE 32
#define KILN__INFO_OFF_KILN_VERSION 0      // u32
#define KILN__INFO_OFF_TIMED_SM_ARCH 4     // u32
#define KILN__INFO_OFF_ACTIVATION_BYTES 8  // u64
#define KILN__INFO_OFF_INPUT_COUNT 16      // u32
#define KILN__INFO_OFF_OUTPUT_COUNT 20     // u32
#define KILN__INFO_OFF_PROFILE_COUNT 24    // u32
#define KILN__INFO_OFF_TIMED 28            // u8: 0 or 1
#define KILN__INFO_OFF_RESERVED 29         // u8[3]: 0

// A span is two u64: offset, size.
#define KILN__SPAN_SIZE 16

// TENSORS.
#define KILN__TENSOR_SIZE 88
#define KILN__TENSOR_OFF_NAME 0            // span
#define KILN__TENSOR_OFF_KIND 16           // u8
#define KILN__TENSOR_OFF_IS_OUTPUT 17      // u8
#define KILN__TENSOR_OFF_DTYPE 18          // u8
#define KILN__TENSOR_OFF_FORMAT 19         // u8
#define KILN__TENSOR_OFF_RANK 20           // u32
#define KILN__TENSOR_OFF_DIMS 24           // u32[8]
#define KILN__TENSOR_OFF_INPUT_ORDINAL 56  // u32
#define KILN__TENSOR_OFF_PRODUCER 60       // u32
#define KILN__TENSOR_OFF_CONSTANT 64       // u32
#define KILN__TENSOR_OFF_ALIAS_OF 68       // u32
#define KILN__TENSOR_OFF_ARENA_OFFSET 72   // u64
#define KILN__TENSOR_OFF_MAX_BYTES 80      // u64

// CONSTANTS.
#define KILN__CONSTANT_SIZE 16
#define KILN__CONSTANT_OFF_DATA 0  // span

// IMAGES.
#define KILN__IMAGE_SIZE 24
#define KILN__IMAGE_OFF_KIND 0      // u8
#define KILN__IMAGE_OFF_RESERVED 1  // u8[3]: 0
#define KILN__IMAGE_OFF_SM_ARCH 4   // u32
#define KILN__IMAGE_OFF_DATA 8      // span

// PARAMS.
#define KILN__PARAM_SIZE 8
#define KILN__PARAM_OFF_KIND 0      // u8
#define KILN__PARAM_OFF_SIZE 1      // u8
#define KILN__PARAM_OFF_ALIGN 2     // u8
#define KILN__PARAM_OFF_RESERVED 3  // u8: 0
#define KILN__PARAM_OFF_INDEX 4     // u32

// KERNELS.
#define KILN__KERNEL_SIZE 64
#define KILN__KERNEL_OFF_NAME 0                    // span
#define KILN__KERNEL_OFF_IMAGES 16                 // range
#define KILN__KERNEL_OFF_PARAMS 24                 // range
#define KILN__KERNEL_OFF_GLOBAL_SCRATCH_SIZE 32    // u64
#define KILN__KERNEL_OFF_PROFILE_SCRATCH_SIZE 40   // u64
#define KILN__KERNEL_OFF_GLOBAL_SCRATCH_ALIGN 48   // u32
#define KILN__KERNEL_OFF_PROFILE_SCRATCH_ALIGN 52  // u32
#define KILN__KERNEL_OFF_NUM_CTAS 56               // u32
#define KILN__KERNEL_OFF_RESERVED 60               // u32: 0

// ARGS.
#define KILN__ARG_SIZE 12
#define KILN__ARG_OFF_TYPE 0      // u8
#define KILN__ARG_OFF_RESERVED 1  // u8[3]: 0
#define KILN__ARG_OFF_EXPR 4      // u32
#define KILN__ARG_OFF_F32 8       // u32: IEEE-754 binary32 bits

// LAYERS. A range is two u32: first, count.
#define KILN__LAYER_SIZE 112
#define KILN__LAYER_OFF_PLUGIN_ID 0     // span
#define KILN__LAYER_OFF_NAME 16         // span
#define KILN__LAYER_OFF_HOST_ATTRS 32   // span
#define KILN__LAYER_OFF_KIND 48         // u8
#define KILN__LAYER_OFF_RESERVED 49     // u8[3]: 0
#define KILN__LAYER_OFF_TACTIC 52       // i32
#define KILN__LAYER_OFF_INPUTS 56       // range
#define KILN__LAYER_OFF_OUTPUTS 64      // range
#define KILN__LAYER_OFF_KERNEL 72       // u32
#define KILN__LAYER_OFF_GRID 76         // u32[3]
#define KILN__LAYER_OFF_BLOCK 88        // u32[3]
#define KILN__LAYER_OFF_SHARED_MEM 100  // u32
#define KILN__LAYER_OFF_ARGS 104        // range

// INDICES.
#define KILN__INDEX_SIZE 4

// SIZE_TENSORS: u32 tensor indices.
#define KILN__SIZE_TENSOR_SIZE 4

// PROFILES.
#define KILN__RANGE_SIZE 24
#define KILN__RANGE_OFF_MIN 0   // i64
#define KILN__RANGE_OFF_OPT 8   // i64
#define KILN__RANGE_OFF_MAX 16  // i64

// Little-endian access to bytes the caller has bounds-checked.
static inline uint16_t kiln__le_u16(const uint8_t* p) {
  return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t kiln__le_u32(const uint8_t* p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
         ((uint32_t)p[3] << 24);
}
static inline uint64_t kiln__le_u64(const uint8_t* p) {
  return (uint64_t)kiln__le_u32(p) | ((uint64_t)kiln__le_u32(p + 4) << 32);
}
static inline void kiln__le_put_u16(uint8_t* p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}
static inline void kiln__le_put_u32(uint8_t* p, uint32_t v) {
  for (size_t i = 0; i < 4; ++i) p[i] = (uint8_t)(v >> (8 * i));
}
static inline void kiln__le_put_u64(uint8_t* p, uint64_t v) {
  for (size_t i = 0; i < 8; ++i) p[i] = (uint8_t)(v >> (8 * i));
}

#endif  // KILN_SRC_ENGINE_FORMAT_H_
