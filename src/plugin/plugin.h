// Internal API of src/plugin: the registered plugin object, attribute value
// sets and their per-callback views, and the registry hooks that the library
// loader and the builder use. Private to the library; never installed.

#ifndef KILN_SRC_PLUGIN_PLUGIN_H_
#define KILN_SRC_PLUGIN_PLUGIN_H_

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kiln/kiln.h"
#include "kiln/kiln_plugin.h"

//===----------------------------------------------------------------------===//
// Reference counting
//===----------------------------------------------------------------------===//

// The header at offset 0 of every reference-counted plugin-module object: an
// atomic count and a vtable whose first slot destroys the object.
typedef struct kiln__ref_vtable_t {
  void (*destroy)(void* self);
} kiln__ref_vtable_t;

typedef struct kiln__ref_header_t {
  _Atomic uint32_t count;
  const kiln__ref_vtable_t* vtable;
} kiln__ref_header_t;

_Static_assert(offsetof(kiln__ref_vtable_t, destroy) == 0,
               "destroy must be the first vtable slot");

// Defines kiln_<type>_retain and kiln_<type>_release for a struct whose first
// member is a kiln__ref_header_t named |header|.
#define KILN__DEFINE_RETAIN_RELEASE(type)                        \
  void kiln_##type##_retain(kiln_##type##_t* object) {           \
    if (!object) return;                                         \
    atomic_fetch_add_explicit(&object->header.count, 1u,         \
                              memory_order_relaxed);             \
  }                                                              \
  void kiln_##type##_release(kiln_##type##_t* object) {          \
    if (!object) return;                                         \
    if (atomic_fetch_sub_explicit(&object->header.count, 1u,     \
                                  memory_order_acq_rel) == 1u) { \
      object->header.vtable->destroy(object);                    \
    }                                                            \
  }

//===----------------------------------------------------------------------===//
// Callbacks
//===----------------------------------------------------------------------===//

// The callbacks of a plugin that receive a narrowed attribute view.
typedef enum kiln__callback_e {
  KILN__CALLBACK_DESCRIBE = 0,
  KILN__CALLBACK_AUTOTUNE = 1,
  KILN__CALLBACK_AOT_IMPL = 2,
  KILN__CALLBACK_HOST_IMPL = 3,
  KILN__CALLBACK_COUNT = 4,
} kiln__callback_t;

// Returns "describe", "autotune", "aot_impl" or "host_impl"; "unknown"
// outside the enum. Static string.
const char* kiln__callback_name(kiln__callback_t callback);

//===----------------------------------------------------------------------===//
// Registered plugins
//===----------------------------------------------------------------------===//

// A registered plugin: one block from the registry's allocator holding this
// struct, the copied schema, subsets and strings.
struct kiln_plugin_s {
  // The registry's deep copy; every pointer in it points into this block.
  kiln_plugin_def_t def;
  // The owning registry (not retained: the plugin lives exactly as long).
  kiln_registry_t* registry;
  kiln_string_view_t id;
  kiln_string_view_t ns;
  kiln_string_view_t name;
  // Bit i is set when attribute i is visible to the callback.
  uint64_t callback_masks[KILN__CALLBACK_COUNT];
};

// Returns the mask of attributes with bits 0..|count|-1 set.
static inline uint64_t kiln__attr_mask_all(size_t count) {
  return count >= 64 ? UINT64_MAX : ((UINT64_C(1) << count) - 1);
}

// Returns the index of attribute |name| in |plugin|'s schema, or -1.
int32_t kiln__plugin_find_attr(const kiln_plugin_t* plugin, const char* name);

// Returns the allocator of the registry that owns |plugin|.
kiln_allocator_t kiln__plugin_allocator(const kiln_plugin_t* plugin);

// Validates |def| and builds the registry's copy of it with |allocator|,
// without registering it. The caller owns |*out_plugin| and frees it with
// kiln__plugin_free unless it hands it to kiln__registry_insert.
kiln_status_t kiln__plugin_build(const kiln_plugin_def_t* def,
                                 kiln_allocator_t allocator,
                                 kiln_plugin_t** out_plugin);

// Frees a plugin made by kiln__plugin_build without calling its
// user_data_release. NULL is a no-op.
void kiln__plugin_free(kiln_allocator_t allocator, kiln_plugin_t* plugin);

//===----------------------------------------------------------------------===//
// Registry
//===----------------------------------------------------------------------===//

// Returns the allocator and the logger of |registry|.
kiln_allocator_t kiln__registry_allocator(const kiln_registry_t* registry);
const kiln_logger_t* kiln__registry_logger(const kiln_registry_t* registry);

// Inserts |count| plugins built with the registry's allocator, all or none,
// under one write lock: ALREADY_EXISTS naming the id when one is registered
// already or appears twice in |plugins|. When |library_handle| is not NULL
// the registry keeps it and dlcloses it when freed. On success the registry
// owns the plugins and the handle; on failure the caller still owns both.
kiln_status_t kiln__registry_insert(kiln_registry_t* registry,
                                    kiln_plugin_t* const* plugins, size_t count,
                                    void* library_handle);

//===----------------------------------------------------------------------===//
// Attribute value sets and views
//===----------------------------------------------------------------------===//

// One attribute value. Scalars live inline; strings, bytes and arrays point
// to a block from the owning set's allocator (one byte longer than needed and
// NUL-terminated, so that it is never NULL).
typedef struct kiln__attr_value_t {
  bool is_set;
  int64_t i64;
  double f64;
  bool b;
  void* data;
  size_t size;   // bytes at |data| (without the NUL)
  size_t count;  // elements for an array; bytes for string and bytes
} kiln__attr_value_t;

// A value set (owner) or a view of one (a callback's declared subset). Views
// live in caller-owned storage, own nothing and need no destroy.
struct kiln_attrs_s {
  const kiln_plugin_t* plugin;
  kiln_allocator_t allocator;  // owner only
  // The values, indexed like the schema: the owner's own array, or for a
  // view the owner's array (NULL when the view has no backing set).
  kiln__attr_value_t* values;
  // Bit i is set when attribute i is visible. All of the schema for owners.
  uint64_t visible_mask;
  // For a view: the callback that sees it ("aot_impl"); NULL for an owner.
  const char* callback_name;
};

// Fills |out_view| with a view of |all| (a value set or a view of |plugin|;
// NULL gives a view where nothing is set) that shows only the attributes in
// |visible_mask|, reporting hidden ones as undeclared by |callback_name|.
// Allocates nothing. |out_view| must not outlive |all|.
void kiln__attrs_make_view(const kiln_plugin_t* plugin, const kiln_attrs_t* all,
                           uint64_t visible_mask, const char* callback_name,
                           kiln_attrs_t* out_view);

// Checks that |attrs| (NULL allowed) belongs to |plugin| and makes the view
// that |callback| declared into |out_view|. INVALID_ARGUMENT naming both
// plugins when |attrs| belongs to another plugin.
kiln_status_t kiln__plugin_attrs_view(const kiln_plugin_t* plugin,
                                      const kiln_attrs_t* attrs,
                                      kiln__callback_t callback,
                                      kiln_attrs_t* out_view);

// Returns true when |name| is an identifier: [A-Za-z_][A-Za-z0-9_]*.
bool kiln__is_identifier(const char* name);

//===----------------------------------------------------------------------===//
// Attribute serialization (attrs_serial.c)
//===----------------------------------------------------------------------===//
//
// How a host layer's attribute values are kept in an engine file (the
// layer's host_attrs span). Version 1; every integer is a LEB128 varint
// from base/bytes.h unless it says otherwise, and multi-byte values are
// little-endian:
//
//   attrs := version:u8 (= 1) count:varint entry{count}
//   entry := name_size:varint name:u8[name_size] type:u8 value
//   value := INT64    svarint
//          | FLOAT64  u64 (the IEEE-754 bits)
//          | BOOL     u8 (0 or 1)
//          | STRING   size:varint u8[size] (UTF-8)
//          | BYTES    size:varint u8[size]
//          | arrays   count:varint element{count} (kiln_attr_type_element_size
//                     bytes each, little-endian; bool elements are 0 or 1)
//
// Entries are the attributes that are set and visible in the serialized set,
// in schema order, each once. Attributes are named, not numbered, so that
// an engine stays readable by a plugin whose schema gained attributes or
// reordered them. An empty span means "no attribute is set".

// Appends the encoding of the values of |attrs| (an owner or a view: only
// visible, set attributes are written) to |writer|. On failure |writer| is
// left at its original size. INVALID_ARGUMENT for NULL |attrs| or |writer|;
// RESOURCE_EXHAUSTED; OUT_OF_RANGE.
struct kiln__writer_t;  // base/bytes.h
kiln_status_t kiln__attrs_serialize(const kiln_attrs_t* attrs,
                                    struct kiln__writer_t* writer);

// Reads the encoding in |bytes| into a new value set for |plugin| (owned by
// the caller; free with kiln_attrs_destroy), verifying everything first:
// DATA_LOSS naming the byte offset within |bytes| for truncation, an
// unknown version or type, a name that is not an identifier, a repeated
// attribute, a bool that is not 0 or 1, invalid UTF-8 or trailing bytes;
// INCOMPATIBLE naming the plugin, the attribute and the byte offset when
// the plugin's schema has no such attribute or declares another type (the
// engine was built against another version of the plugin);
// RESOURCE_EXHAUSTED. |*out_attrs| is written only on success.
kiln_status_t kiln__attrs_deserialize(const kiln_plugin_t* plugin,
                                      kiln_const_bytes_t bytes,
                                      kiln_allocator_t allocator,
                                      kiln_attrs_t** out_attrs);

#endif  // KILN_SRC_PLUGIN_PLUGIN_H_
