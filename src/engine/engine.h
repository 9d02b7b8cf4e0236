// Internal API of the engine module (src/engine/): the plan's lifetime, the
// engine writer and its verifying reader, plan verification and the engine
// description behind `kiln inspect`. The plan itself is plan.h; the file
// layout is format.h and docs/engine-format.md.

#ifndef KILN_SRC_ENGINE_ENGINE_H_
#define KILN_SRC_ENGINE_ENGINE_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/bytes.h"
#include "engine/format.h"
#include "engine/plan.h"
#include "kiln/kiln.h"

//===----------------------------------------------------------------------===//
// Plan lifetime
//===----------------------------------------------------------------------===//

// Creates an empty plan: an arena for its arrays (allocated by whoever fills
// the plan, from plan->arena) and a fresh expression table in plan->sym.
// Every count is 0 and every array NULL. The caller owns |*out_plan| and
// frees it with kiln__plan_destroy. RESOURCE_EXHAUSTED.
kiln_status_t kiln__plan_create(kiln_allocator_t allocator,
                                kiln__plan_t** out_plan);

// Frees |plan|, its arrays and its expressions (not the bytes plan->blob
// points to). NULL is a no-op.
void kiln__plan_destroy(kiln__plan_t* plan);

// For the builder: appends |bytes| to |blob| (the writer that will become
// plan->blob) at the next multiple of |alignment| (a power of two; the
// padding is zero), followed by one NUL when |nul_terminate| (PTX), and
// writes where they went to |*out_span| (the NUL is not counted). An empty
// |bytes| without a NUL gives the span (0, 0) and appends nothing. On
// failure |blob| is left as it was. RESOURCE_EXHAUSTED or OUT_OF_RANGE.
kiln_status_t kiln__plan_blob_append(kiln__writer_t* blob,
                                     kiln_const_bytes_t bytes, size_t alignment,
                                     bool nul_terminate,
                                     kiln__plan_span_t* out_span);

// Returns the allowed range of dimension |dim| of input |input| (its
// ordinal) in |profile|. The arguments must be in range.
static inline kiln__plan_dim_range_t kiln__plan_dim_range(
    const kiln__plan_t* plan, uint32_t profile, uint32_t input, uint32_t dim) {
  return plan
      ->ranges[((size_t)profile * plan->input_count + input) * KILN_MAX_RANK +
               dim];
}

//===----------------------------------------------------------------------===//
// Verification
//===----------------------------------------------------------------------===//

// Where a plan's records lie in an engine file: the byte offset of each
// section by id (0 for ids that are absent).
typedef struct kiln__engine_origin_t {
  uint64_t section_offset[KILN__SECTION_ID_END];
} kiln__engine_origin_t;

// Checks every semantic rule of docs/engine-format.md on |plan|: enums,
// ranks, every index and range, every span inside plan->blob, names, input
// ordinals, layer order and producers, kernel parameter layouts, the arena,
// aliases, constants, images (PTX NUL, cubin ELF header), expressions
// (dimensions of existing inputs; size tensor placeholders that name size
// tensors, only in the shapes of activations their own layer produces, never
// in launches, arguments or layer inputs) and profiles. With |origin|
// (a plan read from a file) a failure is DATA_LOSS naming the file byte of
// the field at fault ("engine byte 1234: layer 3 input 1 refers to tensor
// 99, but there are 12 tensors"), and the file-only canonical rules are
// checked too; without it (a plan built in memory) a failure is
// INVALID_ARGUMENT ("engine plan: ..."). Scratch memory comes from
// |allocator| and is freed before returning (RESOURCE_EXHAUSTED).
kiln_status_t kiln__plan_verify(const kiln__plan_t* plan,
                                const kiln__engine_origin_t* origin,
                                kiln_allocator_t allocator);

//===----------------------------------------------------------------------===//
// Writer and reader
//===----------------------------------------------------------------------===//

// Verifies |plan| (kiln__plan_verify without origin) and appends its engine
// file to |out|: the same plan always gives the same bytes, all padding is
// zero, and fields that do not apply to a record's kind are written as
// their fixed values. Offsets inside the file are relative to where it
// starts in |out|. On failure |out| is left at its original size.
// INVALID_ARGUMENT for a malformed plan; RESOURCE_EXHAUSTED; OUT_OF_RANGE.
kiln_status_t kiln__engine_write(const kiln__plan_t* plan, kiln__writer_t* out);

// Reads and verifies the engine file |file| into a new plan. Everything is
// checked before anything is used, and every size that drives an
// allocation is first checked against the bytes that hold it. The plan's
// spans index its BLOB section: plan->blob points into |file|, which the
// caller must keep alive (and unchanged) as long as the plan. The caller
// owns |*out_plan|. DATA_LOSS naming the byte offset and the field at fault;
// INCOMPATIBLE naming both versions for another major format version (or a
// newer minor one with a section this reader must but cannot understand);
// RESOURCE_EXHAUSTED. Never reads outside |file|.
kiln_status_t kiln__engine_read(kiln_const_bytes_t file,
                                kiln_allocator_t allocator,
                                kiln__plan_t** out_plan);

// What the header of an engine file says, for descriptions.
typedef struct kiln__engine_file_info_t {
  uint16_t format_major;
  uint16_t format_minor;
  uint64_t file_size;
  uint32_t section_count;
} kiln__engine_file_info_t;

// Reads the header fields of |file|, which kiln__engine_read accepted.
// Returns false when |file| is too short to hold a header.
bool kiln__engine_file_info(kiln_const_bytes_t file,
                            kiln__engine_file_info_t* out_info);

//===----------------------------------------------------------------------===//
// Description
//===----------------------------------------------------------------------===//

// Appends a readable description of |plan| (|json| false) or a JSON
// document with the same facts (|json| true) to |out|. |file| (optional)
// adds the file's format version and size. |plan| must have passed
// kiln__plan_verify. RESOURCE_EXHAUSTED; OUT_OF_RANGE.
kiln_status_t kiln__plan_describe(const kiln__plan_t* plan,
                                  const kiln__engine_file_info_t* file,
                                  bool json, kiln__writer_t* out);

#endif  // KILN_SRC_ENGINE_ENGINE_H_
