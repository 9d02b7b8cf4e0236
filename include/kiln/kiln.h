// kiln: ahead-of-time GPU plugins and the lean runtime that runs them.
//
// This is the application API. Plugin authors also include kiln_plugin.h.
//
// A short tour. Build an engine from a registered plugin (no GPU needed):
//
//   kiln_allocator_t a = kiln_allocator_system();
//   kiln_registry_t* registry;  kiln_registry_create(a, NULL, &registry);
//   kiln_registry_register(registry, &my_add_plugin_def, NULL);  // plugin.h
//   kiln_network_t* net;        kiln_network_create(registry, a, &net);
//   uint32_t x, layer, y;
//   kiln_network_add_input(net, "x", KILN_DTYPE_FLOAT32, 1,
//                          (int64_t[]){-1}, &x);       // -1: dynamic
//   kiln_network_add_plugin(net, "add", "my::add_plugin", &x, 1, attrs,
//                           KILN_LAYER_MODE_AOT, &layer);
//   kiln_network_layer_output(net, layer, 0, &y);
//   kiln_network_mark_output(net, y, "y");
//   kiln_build_config_t* cfg;   kiln_build_config_create(a, &cfg);
//   uint32_t p;                 kiln_build_config_add_profile(cfg, &p);
//   kiln_build_config_set_shape(cfg, p, "x", 1, min, opt, max);
//   kiln_blob_t* engine;        kiln_build(net, cfg, a, &engine);
//
// Run it in any process, with no plugin code:
//
//   kiln_device_t* gpu;         kiln_device_create(0, a, &gpu);
//   kiln_engine_t* e;   kiln_engine_load(gpu, kiln_blob_bytes(engine), NULL,
//                                        a, &e);
//   kiln_context_t* ctx;        kiln_context_create(e, a, &ctx);
//   kiln_context_set_input_shape(ctx, "x", 1, (int64_t[]){1000});
//   kiln_context_set_tensor_address(ctx, "x", x_device_address);
//   kiln_context_set_tensor_address(ctx, "y", y_device_address);
//   kiln_context_enqueue(ctx, stream);
//
// Every call above returns a kiln_status_t to check (NULL is OK); a failure
// carries a code and a message naming the culprit:
//
//   if (status) {
//     fprintf(stderr, "%s: %s\n",
//             kiln_status_code_name(kiln_status_code(status)),
//             kiln_status_message(status));
//     kiln_status_free(status);
//   }
//
// examples/c/add_plugin_demo.c is the same flow as a complete program.
//
// Conventions (they hold for every declaration below unless it says otherwise):
//
// - Errors are values. A fallible function returns kiln_status_t; NULL means
//   OK. A non-NULL status is owned by the caller, who must pass it to
//   kiln_status_free (or return it further up, annotated). Nothing is kept in
//   globals or per object, with one exception: an expression table records
//   the first failure of its NULL-returning builders, so that a chain of
//   expression calls needs one check (kiln_sym_table_take_error).
// - Outputs come last and are named out_*. They are set to NULL/0 on entry and
//   written only on success.
// - Ownership: functions named *_create, *_load and *_copy give the caller a
//   new object, released with the matching *_destroy or *_release. Accessors
//   return borrowed pointers that live as long as the object they came from.
//   A callee that keeps an argument copies or retains it; it never keeps a
//   borrowed pointer past the call unless the comment says so.
//   *_destroy(NULL) and *_release(NULL) do nothing.
// - Allocators are injected per object (kiln_allocator_t), kept by the object,
//   and used for everything the object allocates. Status objects are the one
//   exception: they use the C library so that an error can always be made.
// - Strings travel as kiln_string_view_t (pointer plus length) and are never
//   assumed to be NUL-terminated, except where a parameter is a `const char*`.
// - Thread safety is stated per object. Unless stated, an object may be used
//   by one thread at a time.

#ifndef KILN_KILN_H_
#define KILN_KILN_H_

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

//===----------------------------------------------------------------------===//
// Version, export and attribute macros
//===----------------------------------------------------------------------===//

#define KILN_VERSION_MAJOR 0
#define KILN_VERSION_MINOR 1
#define KILN_VERSION_PATCH 0
// The version as one number: major * 10000 + minor * 100 + patch.
#define KILN_VERSION_NUMBER \
  (KILN_VERSION_MAJOR * 10000 + KILN_VERSION_MINOR * 100 + KILN_VERSION_PATCH)

#if defined(_WIN32)
#define KILN_API_EXPORT __declspec(dllexport)
#define KILN_API_IMPORT __declspec(dllimport)
#else
#define KILN_API_EXPORT __attribute__((visibility("default")))
#define KILN_API_IMPORT __attribute__((visibility("default")))
#endif

#if defined(KILN_STATIC)
#define KILN_API
#elif defined(KILN_BUILDING_LIBRARY)
#define KILN_API KILN_API_EXPORT
#else
#define KILN_API KILN_API_IMPORT
#endif

#if defined(__GNUC__) || defined(__clang__)
#define KILN_MUST_USE_RESULT __attribute__((warn_unused_result))
#define KILN_PRINTF(fmt_index, args_index) \
  __attribute__((format(printf, fmt_index, args_index)))
#else
#define KILN_MUST_USE_RESULT
#define KILN_PRINTF(fmt_index, args_index)
#endif

// Returns KILN_VERSION_NUMBER of the library that is linked, so callers can
// check that header and library match. Thread-safe. Never fails.
KILN_API int32_t kiln_version(void);

// Returns the version as a string such as "0.1.0". The string is static.
// Thread-safe. Never fails.
KILN_API const char* kiln_version_string(void);

//===----------------------------------------------------------------------===//
// Strings and byte spans
//===----------------------------------------------------------------------===//

// A borrowed run of characters. |data| need not be NUL-terminated.
typedef struct kiln_string_view_t {
  const char* data;
  size_t size;
} kiln_string_view_t;

// A borrowed run of bytes.
typedef struct kiln_const_bytes_t {
  const uint8_t* data;
  size_t size;
} kiln_const_bytes_t;

// Returns a view of the NUL-terminated |cstring| (NULL gives an empty view).
// The view borrows |cstring|. Thread-safe. Never fails.
KILN_API kiln_string_view_t kiln_make_cstring_view(const char* cstring);

// Returns a view of |size| characters at |data|. Never fails.
KILN_API kiln_string_view_t kiln_make_string_view(const char* data,
                                                  size_t size);

// Returns true when |a| and |b| hold the same characters. Never fails.
KILN_API bool kiln_string_view_equal(kiln_string_view_t a,
                                     kiln_string_view_t b);

//===----------------------------------------------------------------------===//
// Status
//===----------------------------------------------------------------------===//

// The fixed set of status codes. Values are stable and part of the ABI.
typedef enum kiln_status_code_e {
  KILN_STATUS_OK = 0,
  // The caller passed something malformed: a bad id, a mistyped attribute.
  KILN_STATUS_INVALID_ARGUMENT = 1,
  // A named thing (plugin, attribute, tensor) does not exist.
  KILN_STATUS_NOT_FOUND = 2,
  // A named thing exists already (a duplicate plugin id).
  KILN_STATUS_ALREADY_EXISTS = 3,
  // A value does not fit: integer overflow, division by zero, a shape outside
  // its profile, a size that does not fit in memory arithmetic.
  KILN_STATUS_OUT_OF_RANGE = 4,
  // Host or device memory ran out.
  KILN_STATUS_RESOURCE_EXHAUSTED = 5,
  // The object is not in a state where the call makes sense.
  KILN_STATUS_FAILED_PRECONDITION = 6,
  // The feature is not implemented.
  KILN_STATUS_UNIMPLEMENTED = 7,
  // A needed system component (libcuda, a GPU, a plugin library) is missing.
  KILN_STATUS_UNAVAILABLE = 8,
  // Bytes read from outside (an engine file, a serialized expression) are
  // malformed or corrupt.
  KILN_STATUS_DATA_LOSS = 9,
  // Versions or architectures do not match (plugin ABI, file format, SM).
  KILN_STATUS_INCOMPATIBLE = 10,
  // The device failed in a way that leaves it unusable (a sticky CUDA error).
  KILN_STATUS_DEVICE_LOST = 11,
  // A bug in kiln.
  KILN_STATUS_INTERNAL = 12,
  KILN_STATUS_CODE_COUNT = 13,
} kiln_status_code_t;

// A status: NULL is OK, anything else is an error owned by whoever holds it.
typedef struct kiln_status_s* kiln_status_t;

// The OK status.
#define kiln_ok_status() ((kiln_status_t)NULL)

// Makes a status with |code| and a printf-style message. |file| and |line|
// record where it was made; use the kiln_make_status() macro. A |code| of
// KILN_STATUS_OK returns NULL. Never fails: if memory for the status cannot be
// had, a static RESOURCE_EXHAUSTED status is returned, whose free is a no-op.
// Thread-safe.
KILN_API KILN_MUST_USE_RESULT kiln_status_t
kiln_status_make(kiln_status_code_t code, const char* file, int line,
                 const char* format, ...) KILN_PRINTF(4, 5);

// As kiln_status_make, with a va_list.
KILN_API KILN_MUST_USE_RESULT kiln_status_t
kiln_status_make_va(kiln_status_code_t code, const char* file, int line,
                    const char* format, va_list args);

#define kiln_make_status(code, ...) \
  kiln_status_make((code), __FILE__, __LINE__, __VA_ARGS__)

// Prefixes the message of |status| with a printf-style context, separated by
// ": ", and returns the (possibly new) status. Consumes |status|. NULL stays
// NULL. Never fails: if memory runs out the original status is returned
// unchanged. Thread-safe.
KILN_API KILN_MUST_USE_RESULT kiln_status_t kiln_status_annotate(
    kiln_status_t status, const char* format, ...) KILN_PRINTF(2, 3);

// Returns the code of |status|; KILN_STATUS_OK for NULL. Never fails.
KILN_API kiln_status_code_t kiln_status_code(kiln_status_t status);

// Returns the message of |status|, borrowed for the life of |status|; "" for
// NULL. Never fails.
KILN_API const char* kiln_status_message(kiln_status_t status);

// Returns the source location where |status| was made ("file:line"), borrowed;
// "" for NULL. Never fails.
KILN_API const char* kiln_status_location(kiln_status_t status);

// Frees |status|. NULL and the static out-of-memory status are no-ops.
KILN_API void kiln_status_free(kiln_status_t status);

// Keeps the first error of |a| and |b| and frees the other; for cleanup paths
// that can fail after an earlier failure. Never fails.
KILN_API KILN_MUST_USE_RESULT kiln_status_t kiln_status_join(kiln_status_t a,
                                                             kiln_status_t b);

// Returns the name of |code|, such as "INVALID_ARGUMENT"; "UNKNOWN" for a
// value outside the enum. The string is static. Never fails.
KILN_API const char* kiln_status_code_name(kiln_status_code_t code);

#define KILN_RETURN_IF_ERROR(expr)  \
  do {                              \
    kiln_status_t kiln_s_ = (expr); \
    if (kiln_s_) return kiln_s_;    \
  } while (0)

//===----------------------------------------------------------------------===//
// Allocator
//===----------------------------------------------------------------------===//

// An allocation function with realloc semantics: |ptr| NULL and |size| > 0
// allocates; |ptr| non-NULL and |size| > 0 resizes; |size| 0 frees |ptr| and
// returns NULL. Returns NULL when memory cannot be had (the block at |ptr|
// then stays valid). |self| is the allocator's state.
typedef void* (*kiln_allocator_fn_t)(void* self, void* ptr, size_t size);

// An allocator, passed by value to every *_create and kept by the object.
typedef struct kiln_allocator_t {
  void* self;
  kiln_allocator_fn_t fn;
} kiln_allocator_t;

// Returns the allocator backed by the C library. Thread-safe.
KILN_API kiln_allocator_t kiln_allocator_system(void);

// Allocates |size| bytes (zeroed) into |*out_ptr|. A |size| of 0 allocates one
// byte so that the result is a unique pointer. Returns RESOURCE_EXHAUSTED
// naming the size when |allocator| fails. Thread-safe if the allocator is.
KILN_API KILN_MUST_USE_RESULT kiln_status_t
kiln_allocator_malloc(kiln_allocator_t allocator, size_t size, void** out_ptr);

// Resizes the block at |*inout_ptr| (NULL allocates) to |size| bytes. On
// failure the block is left as it was and RESOURCE_EXHAUSTED is returned.
KILN_API KILN_MUST_USE_RESULT kiln_status_t kiln_allocator_realloc(
    kiln_allocator_t allocator, size_t size, void** inout_ptr);

// Frees |ptr| (NULL is a no-op).
KILN_API void kiln_allocator_free(kiln_allocator_t allocator, void* ptr);

//===----------------------------------------------------------------------===//
// Logging
//===----------------------------------------------------------------------===//

typedef enum kiln_log_level_e {
  KILN_LOG_LEVEL_ERROR = 0,
  KILN_LOG_LEVEL_WARNING = 1,
  KILN_LOG_LEVEL_INFO = 2,
  KILN_LOG_LEVEL_VERBOSE = 3,
} kiln_log_level_t;

// Receives one log line (no trailing newline), borrowed for the call. May be
// called from any thread that uses the object holding the logger; it must be
// thread-safe if that object is used from several threads.
typedef void (*kiln_log_fn_t)(void* user_data, kiln_log_level_t level,
                              const char* message);

// A logger: messages at or below |max_level| go to |fn|. A NULL |fn| drops
// everything.
typedef struct kiln_logger_t {
  kiln_log_fn_t fn;
  void* user_data;
  kiln_log_level_t max_level;
} kiln_logger_t;

// Returns a logger that writes WARNING and ERROR lines to stderr.
KILN_API kiln_logger_t kiln_logger_stderr(void);

// Returns the name of |level| ("ERROR", "WARNING", ...). Static string.
KILN_API const char* kiln_log_level_name(kiln_log_level_t level);

//===----------------------------------------------------------------------===//
// Forward declarations
//===----------------------------------------------------------------------===//

// A plugin registry (see "Registry" below).
typedef struct kiln_registry_s kiln_registry_t;

// A registered plugin, owned by its registry; its definition is in
// kiln_plugin.h.
typedef struct kiln_plugin_s kiln_plugin_t;

// The largest tensor rank.
#define KILN_MAX_RANK 8

//===----------------------------------------------------------------------===//
// Data types and formats
//===----------------------------------------------------------------------===//

typedef enum kiln_dtype_e {
  KILN_DTYPE_FLOAT32 = 0,
  KILN_DTYPE_FLOAT16 = 1,
  KILN_DTYPE_BFLOAT16 = 2,
  KILN_DTYPE_FP8_E4M3 = 3,
  KILN_DTYPE_FP8_E5M2 = 4,
  KILN_DTYPE_INT8 = 5,
  KILN_DTYPE_INT32 = 6,
  KILN_DTYPE_INT64 = 7,
  KILN_DTYPE_UINT8 = 8,
  KILN_DTYPE_BOOL = 9,
  KILN_DTYPE_COUNT = 10,
} kiln_dtype_t;

// Returns the name of |dtype| ("float32", "float16", "bfloat16", "fp8e4m3",
// "fp8e5m2", "int8", "int32", "int64", "uint8", "bool"); "unknown" outside the
// enum. Static string. Never fails.
KILN_API const char* kiln_dtype_name(kiln_dtype_t dtype);

// Returns the size of one element of |dtype| in bytes; 0 outside the enum.
KILN_API size_t kiln_dtype_size(kiln_dtype_t dtype);

// Parses a dtype name. Accepts kiln's names above and TensorRT's spellings,
// case-insensitively: FP32/FLOAT, FP16/HALF, BF16, FP8 (e4m3), INT8, INT32,
// INT64, UINT8, BOOL. Returns INVALID_ARGUMENT naming |name| otherwise.
KILN_API KILN_MUST_USE_RESULT kiln_status_t
kiln_dtype_parse(kiln_string_view_t name, kiln_dtype_t* out_dtype);

// Tensor memory layouts. Only dense row-major (LINEAR) exists today; the enum
// leaves room for vectorized formats.
typedef enum kiln_format_e {
  KILN_FORMAT_LINEAR = 0,
  KILN_FORMAT_COUNT = 1,
} kiln_format_t;

// Returns "LINEAR", or "unknown" outside the enum. Static string.
KILN_API const char* kiln_format_name(kiln_format_t format);

// Parses a format name ("LINEAR", case-insensitive). INVALID_ARGUMENT names
// |name| otherwise.
KILN_API KILN_MUST_USE_RESULT kiln_status_t
kiln_format_parse(kiln_string_view_t name, kiln_format_t* out_format);

//===----------------------------------------------------------------------===//
// Attributes
//===----------------------------------------------------------------------===//

typedef enum kiln_attr_type_e {
  KILN_ATTR_TYPE_INT64 = 0,
  KILN_ATTR_TYPE_FLOAT64 = 1,
  KILN_ATTR_TYPE_BOOL = 2,
  KILN_ATTR_TYPE_STRING = 3,  // UTF-8 text
  KILN_ATTR_TYPE_BYTES = 4,   // raw bytes
  KILN_ATTR_TYPE_ARRAY_INT8 = 5,
  KILN_ATTR_TYPE_ARRAY_INT16 = 6,
  KILN_ATTR_TYPE_ARRAY_INT32 = 7,
  KILN_ATTR_TYPE_ARRAY_INT64 = 8,
  KILN_ATTR_TYPE_ARRAY_FLOAT16 = 9,  // IEEE half, stored as uint16_t bits
  KILN_ATTR_TYPE_ARRAY_FLOAT32 = 10,
  KILN_ATTR_TYPE_ARRAY_FLOAT64 = 11,
  KILN_ATTR_TYPE_ARRAY_BOOL = 12,  // one byte per element, 0 or 1
  KILN_ATTR_TYPE_COUNT = 13,
} kiln_attr_type_t;

// Returns the name of |type|: "int64", "float64", "bool", "string", "bytes",
// "int8[]", "int16[]", "int32[]", "int64[]", "float16[]", "float32[]",
// "float64[]", "bool[]"; "unknown" outside the enum. Static string.
KILN_API const char* kiln_attr_type_name(kiln_attr_type_t type);

// Returns the element size of an array type in bytes; 0 for scalar types.
KILN_API size_t kiln_attr_type_element_size(kiln_attr_type_t type);

// One entry of an attribute schema.
typedef struct kiln_attr_field_t {
  const char* name;  // an identifier: [A-Za-z_][A-Za-z0-9_]*
  kiln_attr_type_t type;
} kiln_attr_field_t;

// The most attributes one plugin may declare.
#define KILN_MAX_ATTRS 64

// A set of attribute values checked against a plugin's schema. Values are
// copied in; getters return borrowed pointers valid until the value is set
// again or the object is destroyed. One thread at a time.
typedef struct kiln_attrs_s kiln_attrs_t;

// Creates an empty value set for |plugin|'s schema (see kiln_registry_lookup).
// The caller owns
// |*out_attrs|; |plugin| must outlive it. RESOURCE_EXHAUSTED on memory.
KILN_API KILN_MUST_USE_RESULT kiln_status_t
kiln_attrs_create(const kiln_plugin_t* plugin, kiln_allocator_t allocator,
                  kiln_attrs_t** out_attrs);

// Frees |attrs|. NULL is a no-op.
KILN_API void kiln_attrs_destroy(kiln_attrs_t* attrs);

// Setters copy the value in. Each returns INVALID_ARGUMENT naming the plugin
// and the attribute when |name| is not in the schema (with the declared names
// listed), or when the schema's type differs from the one set (naming the
// expected and the given type). RESOURCE_EXHAUSTED on memory.
KILN_API KILN_MUST_USE_RESULT kiln_status_t
kiln_attrs_set_int64(kiln_attrs_t* attrs, const char* name, int64_t value);
KILN_API KILN_MUST_USE_RESULT kiln_status_t
kiln_attrs_set_float64(kiln_attrs_t* attrs, const char* name, double value);
KILN_API KILN_MUST_USE_RESULT kiln_status_t
kiln_attrs_set_bool(kiln_attrs_t* attrs, const char* name, bool value);
KILN_API KILN_MUST_USE_RESULT kiln_status_t kiln_attrs_set_string(
    kiln_attrs_t* attrs, const char* name, kiln_string_view_t value);
KILN_API KILN_MUST_USE_RESULT kiln_status_t kiln_attrs_set_bytes(
    kiln_attrs_t* attrs, const char* name, kiln_const_bytes_t value);
// |count| elements of the array type |type| at |data| (|data| may be NULL
// when |count| is 0).
KILN_API KILN_MUST_USE_RESULT kiln_status_t
kiln_attrs_set_array(kiln_attrs_t* attrs, const char* name,
                     kiln_attr_type_t type, const void* data, size_t count);

// Getters return INVALID_ARGUMENT for an unknown or mistyped name (as the
// setters), NOT_FOUND naming the attribute when it was declared but not set,
// and, inside a plugin callback, NOT_FOUND naming the callback when the
// attribute is not among the ones the callback declared.
KILN_API KILN_MUST_USE_RESULT kiln_status_t kiln_attrs_get_int64(
    const kiln_attrs_t* attrs, const char* name, int64_t* out_value);
KILN_API KILN_MUST_USE_RESULT kiln_status_t kiln_attrs_get_float64(
    const kiln_attrs_t* attrs, const char* name, double* out_value);
KILN_API KILN_MUST_USE_RESULT kiln_status_t kiln_attrs_get_bool(
    const kiln_attrs_t* attrs, const char* name, bool* out_value);
KILN_API KILN_MUST_USE_RESULT kiln_status_t kiln_attrs_get_string(
    const kiln_attrs_t* attrs, const char* name, kiln_string_view_t* out_value);
KILN_API KILN_MUST_USE_RESULT kiln_status_t kiln_attrs_get_bytes(
    const kiln_attrs_t* attrs, const char* name, kiln_const_bytes_t* out_value);
KILN_API KILN_MUST_USE_RESULT kiln_status_t kiln_attrs_get_array(
    const kiln_attrs_t* attrs, const char* name, kiln_attr_type_t type,
    const void** out_data, size_t* out_count);

// Returns INVALID_ARGUMENT naming the plugin and the first declared attribute
// that has no value (with its type), or NULL when all are set.
KILN_API KILN_MUST_USE_RESULT kiln_status_t
kiln_attrs_check_complete(const kiln_attrs_t* attrs);

// Returns true when attribute |name| has a value (and is visible).
KILN_API bool kiln_attrs_has(const kiln_attrs_t* attrs, const char* name);

//===----------------------------------------------------------------------===//
// Owned byte buffers
//===----------------------------------------------------------------------===//

// An owned run of bytes: a serialized engine, a rendered description.
typedef struct kiln_blob_s kiln_blob_t;

// Returns the bytes of |blob| (borrowed for the life of |blob|). A text blob
// is followed by a NUL that |size| does not count. Never fails.
KILN_API kiln_const_bytes_t kiln_blob_bytes(const kiln_blob_t* blob);

// Frees |blob|. NULL is a no-op.
KILN_API void kiln_blob_destroy(kiln_blob_t* blob);

//===----------------------------------------------------------------------===//
// Registry
//===----------------------------------------------------------------------===//

// A set of plugin definitions keyed by id ("ns::name"). An instance, not a
// global: an application may hold several. Reference-counted.
//
// Thread safety: lookups (kiln_registry_lookup, kiln_registry_plugin_count,
// kiln_registry_plugin_at) are safe from many threads at once, also while
// another thread registers. Plugins are never removed, so a kiln_plugin_t*
// stays valid while the registry lives.

// Options for kiln_registry_create. Zero-initialize for the defaults.
typedef struct kiln_registry_options_t {
  // Where the registry logs (library loading, registrations). A zero logger
  // logs nothing.
  kiln_logger_t logger;
} kiln_registry_options_t;

// Creates an empty registry that allocates with |allocator|. |options| may be
// NULL. The caller owns |*out_registry| (one reference). Thread-safe. Returns
// RESOURCE_EXHAUSTED when memory runs out.
KILN_API KILN_MUST_USE_RESULT kiln_status_t kiln_registry_create(
    kiln_allocator_t allocator, const kiln_registry_options_t* options,
    kiln_registry_t** out_registry);

// Adds a reference to |registry| (NULL is a no-op). Thread-safe.
KILN_API void kiln_registry_retain(kiln_registry_t* registry);

// Drops a reference; the last one frees the registry, its plugins, and closes
// the plugin libraries it loaded. NULL is a no-op. Thread-safe, but no other
// thread may use the registry once its last reference is dropped.
KILN_API void kiln_registry_release(kiln_registry_t* registry);

// Looks up the plugin with |plugin_id| ("ns::name"). |*out_plugin| is borrowed
// from |registry|. Returns NOT_FOUND naming the id and the registered ids
// closest to it. Thread-safe.
KILN_API KILN_MUST_USE_RESULT kiln_status_t kiln_registry_lookup(
    const kiln_registry_t* registry, kiln_string_view_t plugin_id,
    const kiln_plugin_t** out_plugin);

// Returns how many plugins |registry| holds. Thread-safe.
KILN_API size_t kiln_registry_plugin_count(const kiln_registry_t* registry);

// Returns the |index|-th plugin in registration order (borrowed), or NULL when
// |index| is out of range. Thread-safe.
KILN_API const kiln_plugin_t* kiln_registry_plugin_at(
    const kiln_registry_t* registry, size_t index);

// Loads the plugin library at |path| (a shared object) and registers the
// plugins it defines. The library must export `kiln_plugin_init` (see
// kiln_plugin.h); it stays loaded until the registry is freed. Returns
// UNAVAILABLE naming the path and the loader's message when the file cannot be
// loaded, NOT_FOUND when it has no kiln_plugin_init, INCOMPATIBLE naming both
// ABI versions when it was built for another plugin ABI, and whatever
// registration returns (ALREADY_EXISTS, INVALID_ARGUMENT) annotated with the
// path. On failure no plugin of the library stays registered. Thread-safe
// (registrations are serialized).
KILN_API KILN_MUST_USE_RESULT kiln_status_t
kiln_registry_load_library(kiln_registry_t* registry, const char* path);

//===----------------------------------------------------------------------===//
// Networks
//===----------------------------------------------------------------------===//

// A network definition: inputs, constants, plugin layers and marked outputs.
// Tensors and layers are named by dense indices (uint32_t) in creation order.
// One thread at a time. Keeps a reference to its registry.
typedef struct kiln_network_s kiln_network_t;

// How a plugin layer is built (TensorRT's QuickPluginCreationRequest).
typedef enum kiln_layer_mode_e {
  // AOT when the plugin has an aot_impl, else its host_impl.
  KILN_LAYER_MODE_AUTO = 0,
  // AOT only: INVALID_ARGUMENT naming the plugin when it has no aot_impl.
  KILN_LAYER_MODE_AOT = 1,
  // host_impl only: INVALID_ARGUMENT naming the plugin when it has none.
  KILN_LAYER_MODE_HOST = 2,
  KILN_LAYER_MODE_COUNT = 3,
} kiln_layer_mode_t;

// Creates an empty network whose plugin layers come from |registry| (which
// it retains). The caller owns |*out_network|.
KILN_API KILN_MUST_USE_RESULT kiln_status_t
kiln_network_create(kiln_registry_t* registry, kiln_allocator_t allocator,
                    kiln_network_t** out_network);

// Frees |network|. NULL is a no-op.
KILN_API void kiln_network_destroy(kiln_network_t* network);

// Adds an input tensor named |name| (unique among inputs and outputs) with
// |rank| dimensions; a dimension of -1 is dynamic and must then be given a
// range by every optimization profile. INVALID_ARGUMENT names the input and
// the fault (duplicate name, bad dtype, rank, dimension < -1).
KILN_API KILN_MUST_USE_RESULT kiln_status_t kiln_network_add_input(
    kiln_network_t* network, const char* name, kiln_dtype_t dtype, int32_t rank,
    const int64_t* dims, uint32_t* out_tensor);

// Adds a constant tensor with static |dims| whose |data| (copied) is baked
// into the engine. |data.size| must equal the element count times the dtype
// size (INVALID_ARGUMENT naming both sizes otherwise).
KILN_API KILN_MUST_USE_RESULT kiln_status_t kiln_network_add_constant(
    kiln_network_t* network, const char* name, kiln_dtype_t dtype, int32_t rank,
    const int64_t* dims, kiln_const_bytes_t data, uint32_t* out_tensor);

// Adds a layer running plugin |plugin_id| on |inputs| (tensor indices) with
// the attribute values |attrs| (copied; NULL when the plugin declares none).
// Checks at once: the plugin exists (NOT_FOUND with the closest ids), the
// input count, every input tensor exists, the attributes are complete and
// belong to this plugin, and |mode| is possible. Shapes and dtypes are
// checked when building. |name| may be NULL.
KILN_API KILN_MUST_USE_RESULT kiln_status_t kiln_network_add_plugin(
    kiln_network_t* network, const char* name, const char* plugin_id,
    const uint32_t* inputs, size_t input_count, const kiln_attrs_t* attrs,
    kiln_layer_mode_t mode, uint32_t* out_layer);

// Returns the tensor index of output |index| of |layer|.
KILN_API KILN_MUST_USE_RESULT kiln_status_t
kiln_network_layer_output(const kiln_network_t* network, uint32_t layer,
                          uint32_t index, uint32_t* out_tensor);

// Marks |tensor| as a network output named |name| (unique).
KILN_API KILN_MUST_USE_RESULT kiln_status_t kiln_network_mark_output(
    kiln_network_t* network, uint32_t tensor, const char* name);

//===----------------------------------------------------------------------===//
// Building engines
//===----------------------------------------------------------------------===//

typedef struct kiln_build_config_s kiln_build_config_t;

// Creates a configuration with no profiles, no explicit targets (meaning:
// the GPU's architecture when a GPU is present, otherwise PTX only) and
// timing on when a GPU is present.
KILN_API KILN_MUST_USE_RESULT kiln_status_t kiln_build_config_create(
    kiln_allocator_t allocator, kiln_build_config_t** out_config);
KILN_API void kiln_build_config_destroy(kiln_build_config_t* config);

// Adds an optimization profile and returns its index.
KILN_API KILN_MUST_USE_RESULT kiln_status_t kiln_build_config_add_profile(
    kiln_build_config_t* config, uint32_t* out_profile);

// Sets the min/opt/max shape of input |input_name| in |profile|.
KILN_API KILN_MUST_USE_RESULT kiln_status_t kiln_build_config_set_shape(
    kiln_build_config_t* config, uint32_t profile, const char* input_name,
    int32_t rank, const int64_t* min_dims, const int64_t* opt_dims,
    const int64_t* max_dims);

// Sets the SM architectures to embed cubins for (e.g. {90}); PTX is always
// kept as a fallback.
KILN_API KILN_MUST_USE_RESULT kiln_status_t kiln_build_config_set_targets(
    kiln_build_config_t* config, const uint32_t* sm_archs, size_t count);

// Turns tactic timing off (the first combination and tactic are kept). With
// timing off and explicit targets the build does not touch the GPU or its
// driver at all, which saves the driver's initialization (~0.1 s) per build.
KILN_API void kiln_build_config_set_timing(kiln_build_config_t* config,
                                           bool enabled);

// Sets the directory of the on-disk compile cache, which keeps the cubins
// nvJitLink makes from PTX (content-addressed: PTX text, architecture and
// nvJitLink version), so that rebuilding unchanged kernels costs a file read.
// NULL restores the default: $KILN_CACHE_DIR, else $XDG_CACHE_HOME/kiln,
// else $HOME/.cache/kiln (KILN_CACHE_DIR set to "" or "off" turns it off).
// An empty |dir| turns the cache off. The directory is made when first
// written. Concurrent builders may share it; a corrupt entry is detected
// (CRC-32C, full key compared) and rebuilt. kiln_nvrtc_compile uses the
// default directory the same way. RESOURCE_EXHAUSTED.
KILN_API KILN_MUST_USE_RESULT kiln_status_t
kiln_build_config_set_cache_dir(kiln_build_config_t* config, const char* dir);

// Sets where the builder logs.
KILN_API void kiln_build_config_set_logger(kiln_build_config_t* config,
                                           kiln_logger_t logger);

// Builds |network| into a serialized engine. Errors name the layer, the
// plugin and the callback at fault.
KILN_API KILN_MUST_USE_RESULT kiln_status_t
kiln_build(const kiln_network_t* network, const kiln_build_config_t* config,
           kiln_allocator_t allocator, kiln_blob_t** out_engine);

//===----------------------------------------------------------------------===//
// Engines: inspection without a GPU
//===----------------------------------------------------------------------===//

// Verifies the engine in |data| (every bound, count, cross-reference,
// expression and image header, no driver needed) and writes a readable
// description (|json| false) or a JSON document (|json| true) into
// |*out_text| (owned by the caller). DATA_LOSS names the byte offset and the
// field at fault; INCOMPATIBLE names both format versions.
KILN_API KILN_MUST_USE_RESULT kiln_status_t
kiln_engine_describe(kiln_const_bytes_t data, bool json,
                     kiln_allocator_t allocator, kiln_blob_t** out_text);

//===----------------------------------------------------------------------===//
// Runtime: device, engine, execution context
//===----------------------------------------------------------------------===//
//
// Running an engine:
//
//   kiln_device_t* device = NULL;
//   kiln_engine_t* engine = NULL;
//   kiln_context_t* context = NULL;
//   kiln_status_t status = kiln_device_create(0, kiln_allocator_system(),
//                                             &device);
//   if (!status) status = kiln_engine_load(device, engine_bytes, NULL,
//                                          kiln_allocator_system(), &engine);
//   if (!status) status = kiln_context_create(engine, kiln_allocator_system(),
//                                             &context);
//   int64_t dims[1] = {n};
//   if (!status) status = kiln_context_set_input_shape(context, "x", 1, dims);
//   if (!status) status = kiln_context_set_tensor_address(context, "x", x);
//   if (!status) status = kiln_context_set_tensor_address(context, "y", y);
//   if (!status) status = kiln_context_enqueue(context, stream);
//   kiln_context_destroy(context);
//   kiln_engine_release(engine);
//   kiln_device_release(device);
//
// Device memory is named by its address as a uint64_t (a CUdeviceptr);
// streams are CUstream handles passed as void* (NULL is the legacy default
// stream). kiln makes the device's primary context current on the calling
// thread in every call that needs it, so any thread may use a device.
//
// A device is lost once the GPU reports an error that leaves the CUDA
// context unusable (CUDA_ERROR_ILLEGAL_ADDRESS, LAUNCH_FAILED, ASSERT and
// the other "sticky" errors; ECC and NVLink failures). From then on every
// call on the device, its engines and its contexts returns
// KILN_STATUS_DEVICE_LOST naming the first such error: the process must
// restart to use the GPU again.

// A GPU with its primary context, loaded through libcuda.so.1 at run time.
// Reference-counted; thread-safe.
typedef struct kiln_device_s kiln_device_t;

// Opens GPU |ordinal| (0-based, as CUDA numbers the visible devices) and
// retains its primary context. The caller owns |*out_device| (one
// reference). Thread-safe. Returns UNAVAILABLE saying what is missing when
// libcuda.so.1 cannot be loaded (install the NVIDIA driver) or there is no
// CUDA GPU, INVALID_ARGUMENT naming the number of GPUs for an |ordinal| out
// of range, and the driver's error otherwise.
KILN_API KILN_MUST_USE_RESULT kiln_status_t kiln_device_create(
    int32_t ordinal, kiln_allocator_t allocator, kiln_device_t** out_device);

// Adds a reference to |device|. NULL is a no-op. Thread-safe.
KILN_API void kiln_device_retain(kiln_device_t* device);

// Drops a reference; the last one releases the primary context. Engines
// hold a reference to their device. NULL is a no-op. Thread-safe.
KILN_API void kiln_device_release(kiln_device_t* device);

// Returns the device's SM architecture as major*10+minor (90 for an H100);
// 0 for NULL. Thread-safe. Never fails.
KILN_API uint32_t kiln_device_sm_arch(const kiln_device_t* device);

// Returns the device's name ("NVIDIA H100 80GB HBM3"), borrowed for the life
// of |device|; "" for NULL. Thread-safe. Never fails.
KILN_API const char* kiln_device_name(const kiln_device_t* device);

// Allocates |size| bytes of device memory and writes its address to
// |*out_address|; the caller frees it with kiln_device_free. A |size| of 0
// gives the address 0. Thread-safe. RESOURCE_EXHAUSTED naming the size when
// the device is out of memory (not a lost device); DEVICE_LOST.
KILN_API KILN_MUST_USE_RESULT kiln_status_t
kiln_device_malloc(kiln_device_t* device, size_t size, uint64_t* out_address);

// Frees device memory from kiln_device_malloc. The address 0 is a no-op.
// The memory must not be in use by work still running. Thread-safe.
// DEVICE_LOST; INVALID_ARGUMENT for an address the driver does not know.
KILN_API KILN_MUST_USE_RESULT kiln_status_t
kiln_device_free(kiln_device_t* device, uint64_t address);

// Copies |size| bytes from host memory |src| to device address |dst|,
// returning when the copy is done. A |size| of 0 is a no-op. Thread-safe.
// INVALID_ARGUMENT for a NULL |src| or a bad address; DEVICE_LOST.
KILN_API KILN_MUST_USE_RESULT kiln_status_t kiln_device_copy_to_device(
    kiln_device_t* device, uint64_t dst, const void* src, size_t size);

// Copies |size| bytes from device address |src| to host memory |dst|,
// returning when the copy is done. Like a copy on CUDA's legacy default
// stream, it first waits for work on the default stream and on streams made
// by kiln_stream_create. A |size| of 0 is a no-op. Thread-safe.
// INVALID_ARGUMENT for a NULL |dst| or a bad address; DEVICE_LOST.
KILN_API KILN_MUST_USE_RESULT kiln_status_t kiln_device_copy_to_host(
    kiln_device_t* device, void* dst, uint64_t src, size_t size);

// Sets |size| bytes at device address |dst| to |value|. A |size| of 0 is a
// no-op. Thread-safe. INVALID_ARGUMENT for a bad address; DEVICE_LOST.
KILN_API KILN_MUST_USE_RESULT kiln_status_t kiln_device_memset(
    kiln_device_t* device, uint64_t dst, uint8_t value, size_t size);

// Waits until all work on the device's primary context is done; reports an
// error of earlier asynchronous work (a kernel fault becomes DEVICE_LOST).
// Thread-safe.
KILN_API KILN_MUST_USE_RESULT kiln_status_t
kiln_device_synchronize(kiln_device_t* device);

// Creates a stream on |device| and writes it (a CUstream) to |*out_stream|;
// the caller destroys it with kiln_stream_destroy. The stream is a blocking
// one: it synchronizes with the legacy default stream. Thread-safe.
// RESOURCE_EXHAUSTED; DEVICE_LOST.
KILN_API KILN_MUST_USE_RESULT kiln_status_t
kiln_stream_create(kiln_device_t* device, void** out_stream);

// Destroys |stream| (work already on it still runs to completion). NULL is
// a no-op. Thread-safe. DEVICE_LOST; INVALID_ARGUMENT for a bad handle.
KILN_API KILN_MUST_USE_RESULT kiln_status_t
kiln_stream_destroy(kiln_device_t* device, void* stream);

// Waits until the work on |stream| (NULL: the legacy default stream) is
// done and reports an error of that work (a kernel fault becomes
// DEVICE_LOST). Thread-safe.
KILN_API KILN_MUST_USE_RESULT kiln_status_t
kiln_stream_synchronize(kiln_device_t* device, void* stream);

// A loaded engine: immutable, shared by threads, reference-counted.
typedef struct kiln_engine_s kiln_engine_t;

// Options for kiln_engine_load. Zero-initialize for the defaults.
typedef struct kiln_engine_load_options_t {
  // Where host-impl layers find their plugins (NULL: an engine with host
  // layers fails with NOT_FOUND naming the plugin). Retained by the engine
  // when it has host layers.
  kiln_registry_t* registry;
  // Ignore cubins and JIT-compile the PTX (for testing and measurement).
  bool force_ptx;
  // Where loading logs which image each kernel uses. A zero logger logs
  // nothing.
  kiln_logger_t logger;
} kiln_engine_load_options_t;

// Verifies |data| as kiln_engine_describe does, then loads its kernels on
// |device|: for each kernel the cubin built for exactly the device's
// architecture, else (or with |options->force_ptx|) the PTX, which the
// driver JIT-compiles. |data| is copied; |options| may be NULL. The caller
// owns |*out_engine| (one reference); the engine retains |device|.
// Thread-safe.
//
// Returns DATA_LOSS naming the byte offset for a malformed file;
// INCOMPATIBLE naming both versions for another format version, and naming
// the kernel, the images the engine has ("sm_80 cubin, sm_90 cubin, no
// PTX") and the device ("sm_86, NVIDIA ...") when no image fits (a PTX whose
// .target is newer than the device, or an arch-specific one such as sm_90a
// for another architecture, is refused before the driver sees it), or with
// the driver's JIT log when the PTX does not compile; NOT_FOUND naming the
// kernel when an image lacks it, and naming the plugin of a host layer that
// |options->registry| does not hold (or that has no host_impl);
// RESOURCE_EXHAUSTED; DEVICE_LOST.
KILN_API KILN_MUST_USE_RESULT kiln_status_t
kiln_engine_load(kiln_device_t* device, kiln_const_bytes_t data,
                 const kiln_engine_load_options_t* options,
                 kiln_allocator_t allocator, kiln_engine_t** out_engine);

// Adds a reference to |engine|. NULL is a no-op. Thread-safe.
KILN_API void kiln_engine_retain(kiln_engine_t* engine);

// Drops a reference; the last one unloads the kernels and frees the engine.
// Contexts hold a reference to their engine. NULL is a no-op. Thread-safe.
KILN_API void kiln_engine_release(kiln_engine_t* engine);

// Returns the number of the engine's bindings: its inputs, then its
// outputs. 0 for NULL. Thread-safe. Never fails.
KILN_API uint32_t kiln_engine_io_count(const kiln_engine_t* engine);

// Describes one binding.
typedef struct kiln_io_info_t {
  const char* name;  // borrowed from the engine
  bool is_input;
  kiln_dtype_t dtype;
  int32_t rank;
  // -1 where the dimension depends on the input shapes or on data.
  int64_t dims[KILN_MAX_RANK];
  // Bit j is set when dimension j of an output is data-dependent: it
  // depends on a value a layer computes (a size tensor, such as the number
  // of non-zero elements), so it is known only after the engine ran (see
  // kiln_context_read_output_shape).
  uint32_t data_dependent_dims;
  // True for a size tensor: a rank-0 int32 or int64 output whose value a
  // layer computes and other outputs' data-dependent dimensions use.
  bool is_size_tensor;
} kiln_io_info_t;

// Describes binding |index| (inputs first, in the network's order, then
// outputs). Thread-safe. OUT_OF_RANGE naming the count for a bad |index|;
// INVALID_ARGUMENT for NULL arguments.
KILN_API KILN_MUST_USE_RESULT kiln_status_t kiln_engine_io_info(
    const kiln_engine_t* engine, uint32_t index, kiln_io_info_t* out_info);

// An execution context: input shapes, tensor addresses, activation and
// scratch memory, and the prepared launches. One per thread or stream, used
// by one thread at a time; several contexts may run one engine at once.
typedef struct kiln_context_s kiln_context_t;

// Creates a context for |engine| (which it retains) using optimization
// profile 0, and allocates its activation memory on the device. Inputs
// whose dimensions are all static have their shapes set already. The caller
// owns |*out_context|. Thread-safe. RESOURCE_EXHAUSTED (host or device);
// DEVICE_LOST.
KILN_API KILN_MUST_USE_RESULT kiln_status_t
kiln_context_create(kiln_engine_t* engine, kiln_allocator_t allocator,
                    kiln_context_t** out_context);

// Frees |context| and its device memory. Work it enqueued must be done (or
// at least must not be running on its memory). NULL is a no-op.
KILN_API void kiln_context_destroy(kiln_context_t* context);

// Selects optimization profile |profile|; input shapes set so far are
// forgotten (static ones are set again) and must be set anew.
// OUT_OF_RANGE naming the number of profiles for a bad |profile|;
// DEVICE_LOST.
KILN_API KILN_MUST_USE_RESULT kiln_status_t
kiln_context_set_profile(kiln_context_t* context, uint32_t profile);

// Sets the shape of input |name| to |rank| dimensions |dims|. Returns
// NOT_FOUND listing the inputs for an unknown |name|; INVALID_ARGUMENT
// naming both ranks when |rank| differs from the input's; OUT_OF_RANGE
// naming the tensor, the dimension, the value and the allowed range [min,
// max] of the current profile when a dynamic dimension lies outside it, or
// the one allowed value for a static dimension; DEVICE_LOST. Cheap; the
// expressions are evaluated at the next enqueue.
KILN_API KILN_MUST_USE_RESULT kiln_status_t
kiln_context_set_input_shape(kiln_context_t* context, const char* name,
                             int32_t rank, const int64_t* dims);

// Writes the shape of binding |name| for the current input shapes:
// |*out_rank| and |out_dims[0..rank-1]| (|out_dims| must hold KILN_MAX_RANK
// values). For an output this evaluates the shape expressions when input
// shapes changed. A data-dependent dimension of an output (one that depends
// on a size tensor's value, see kiln_io_info_t) is reported as -1, as
// TensorRT does: bind kiln_context_get_max_output_size bytes for such an
// output and ask kiln_context_read_output_shape after the enqueue. Does not
// synchronize. NOT_FOUND listing the bindings; FAILED_PRECONDITION naming
// an input whose shape is not set; OUT_OF_RANGE when an expression
// overflows; DEVICE_LOST.
KILN_API KILN_MUST_USE_RESULT kiln_status_t
kiln_context_get_shape(kiln_context_t* context, const char* name,
                       int32_t* out_rank, int64_t* out_dims);

// Writes to |*out_bytes| how many bytes output |name| may take for the
// current input shapes: the memory to bind to it (TensorRT's
// getMaxOutputSize). For an output whose shape is known before the run,
// its exact size; for a data-dependent one, its size at the upper bounds of
// its dimensions (interval arithmetic with each size tensor between 0 and
// the upper bound its plugin declared, evaluated for the current input
// shapes), which is never more than the engine planned for the profile.
// Does not synchronize. Not thread-safe on one |context|. INVALID_ARGUMENT
// for NULL arguments or an input's |name|; NOT_FOUND listing the bindings;
// FAILED_PRECONDITION naming an input whose shape is not set; OUT_OF_RANGE
// when an expression overflows; DEVICE_LOST.
KILN_API KILN_MUST_USE_RESULT kiln_status_t kiln_context_get_max_output_size(
    kiln_context_t* context, const char* name, uint64_t* out_bytes);

// Writes the actual shape of output |name| as the last enqueue of |context|
// computed it: |*out_rank| and |out_dims[0..rank-1]| (|out_dims| must hold
// KILN_MAX_RANK values). For an output without data-dependent dimensions
// this is kiln_context_get_shape and nothing is synchronized. For a
// data-dependent output it SYNCHRONIZES: it copies the values of the size
// tensors the shape uses from the device on |stream| (a CUstream; NULL is
// the legacy default stream; pass the stream of the enqueue), waits until
// |stream| is done (cuStreamSynchronize), checks each value against 0 and
// the upper bound its plugin declared for the current input shapes, and
// evaluates the shape. Works the same after a graph-mode enqueue. The
// values are those of the last enqueue: call it before enqueuing again.
// Not thread-safe on one |context|.
//
// Returns INVALID_ARGUMENT for NULL arguments or an input's |name|;
// NOT_FOUND listing the bindings; FAILED_PRECONDITION for a data-dependent
// output when no enqueue succeeded since the input shapes or tensor
// addresses last changed; OUT_OF_RANGE naming the layer, the size tensor,
// its value and its bound when a kernel wrote a count below 0 or above the
// upper bound (the output holds no more than the bound: nothing was read
// past it), or when a dimension evaluates below 0; the driver's error
// (DEVICE_LOST for a fault of the enqueued work).
//
// Example (an engine whose output "indices" has the shape [count]):
//
//   uint64_t bytes = 0;
//   kiln_status_t status =
//       kiln_context_get_max_output_size(context, "indices", &bytes);
//   ... allocate |bytes|, bind it with kiln_context_set_tensor_address ...
//   if (!status) status = kiln_context_enqueue(context, stream);
//   int32_t rank = 0;
//   int64_t dims[KILN_MAX_RANK];
//   if (!status) {
//     status = kiln_context_read_output_shape(context, "indices", stream,
//                                             &rank, dims);
//   }
//   // dims[0] elements of "indices" hold the result.
KILN_API KILN_MUST_USE_RESULT kiln_status_t kiln_context_read_output_shape(
    kiln_context_t* context, const char* name, void* stream, int32_t* out_rank,
    int64_t* out_dims);

// Binds input or output |name| to device memory at |address| (0 is allowed
// for tensors with no elements). The memory must hold the tensor at its
// current shape when enqueued (a data-dependent output:
// kiln_context_get_max_output_size bytes). An output that aliases an input
// needs no address; one that is set must equal the input's. NOT_FOUND
// listing the bindings; DEVICE_LOST.
KILN_API KILN_MUST_USE_RESULT kiln_status_t kiln_context_set_tensor_address(
    kiln_context_t* context, const char* name, uint64_t address);

// Binds bindings 0 to |count| - 1 (numbered as kiln_engine_io_info numbers
// them: inputs, then outputs) to |addresses[0..count-1]| in one call, as
// |count| calls of kiln_context_set_tensor_address would, for callers that
// bind every tensor before each enqueue (the Python binding). Bindings from
// |count| on keep their addresses. Nothing is bound when it fails. Not
// thread-safe on one |context|. Returns INVALID_ARGUMENT for a NULL
// |context|, or NULL |addresses| with a nonzero |count|; OUT_OF_RANGE naming
// both numbers when |count| exceeds the engine's bindings; DEVICE_LOST.
//
// Example (an engine with input "x" and output "y"):
//
//   const uint64_t addresses[2] = {x_address, y_address};
//   kiln_status_t status =
//       kiln_context_set_tensor_addresses(context, 2, addresses);
//   if (!status) status = kiln_context_enqueue(context, stream);
KILN_API KILN_MUST_USE_RESULT kiln_status_t kiln_context_set_tensor_addresses(
    kiln_context_t* context, uint32_t count, const uint64_t* addresses);

// Launches the engine on |stream| (a CUstream; NULL is the legacy default
// stream) and returns without waiting. The first enqueue after a shape
// change evaluates every shape, launch dimension and argument and checks
// each launch against the device's and the kernel's limits before anything
// is launched; later enqueues only launch (in graph mode, the default where
// it applies, by replaying a CUDA graph: see kiln_context_set_graphs). Returns
// FAILED_PRECONDITION naming an input without a shape or a binding without an
// address; OUT_OF_RANGE naming the layer and the value at fault (a grid, block
// or shared-memory size over the limit, an int32 argument that does not fit, an
// overflowing expression); the driver's error naming the layer for a failed
// launch (DEVICE_LOST for a sticky one); the host implementation's error naming
// the layer and the plugin.
KILN_API KILN_MUST_USE_RESULT kiln_status_t
kiln_context_enqueue(kiln_context_t* context, void* stream);

// Turns graph mode of |context| on or off (it is on when a context is
// created). In graph mode the enqueue that follows a warm-up with a set of
// input shapes (by default, the second enqueue with those shapes: see
// kiln_context_set_graph_warmup) captures the engine's kernel launches into
// a CUDA graph, and later enqueues with the same shapes launch that graph
// with one cuGraphLaunch,
// which costs the GPU less time between kernels. A context keeps the graphs
// of its 8 most recently used sets of shapes (per profile); when only
// tensor addresses change, the graph's kernel nodes are updated in place
// instead of capturing again. The capture records on a private stream of
// the context and the graph is launched on the stream given to
// kiln_context_enqueue, so ordering with that stream is as in stream mode,
// the legacy default stream (NULL) included. Outputs are bitwise the same
// in both modes.
//
// Graph mode needs no setup, and is skipped (stream mode is used, as with
// |enabled| false) when the engine has a layer that runs a host
// implementation (`kiln inspect` says so), when the driver lacks the
// CUDA-graph functions, when the stream passed to kiln_context_enqueue is
// itself being captured (its capture then records the kernel launches), and
// after a capture fails for a reason other than a lost device, which is
// logged as a warning through the engine's logger; calling this function
// again with |enabled| true lets the context try again.
//
// Consecutive graph launches of one context are serialized by the driver
// even on different streams. Turning graph mode off destroys the context's
// graphs (launches already enqueued still complete). Not thread-safe: use
// |context| from one thread at a time. Returns INVALID_ARGUMENT for a NULL
// |context| and DEVICE_LOST.
//
// Example (measure stream mode):
//
//   kiln_status_t status = kiln_context_set_graphs(context, false);
//   if (!status) status = kiln_context_enqueue(context, stream);
KILN_API KILN_MUST_USE_RESULT kiln_status_t
kiln_context_set_graphs(kiln_context_t* context, bool enabled);

// Sets how many times |context| runs a new set of input shapes in stream
// mode before graph mode captures it: 1 when a context is created (shapes
// used once never pay for a capture, which costs far more than one stream
// enqueue; the second enqueue with them captures and launches the graph),
// 0 to capture on the first enqueue. The context remembers the 16 most
// recent sets of shapes still warming up. Forgets the counts so far; graphs
// already captured stay. Not thread-safe, as kiln_context_enqueue. Returns
// INVALID_ARGUMENT for a NULL |context|.
KILN_API KILN_MUST_USE_RESULT kiln_status_t
kiln_context_set_graph_warmup(kiln_context_t* context, uint32_t enqueues);

// Enqueues |context| on |stream| |warmup| times, then |iterations| times
// with a pair of CUDA events around each enqueue, waits for the events, and
// writes the median and the smallest time of one enqueue in microseconds.
// For `kiln run`, tactic timing and benchmarks. Shapes and addresses must
// be set as for kiln_context_enqueue, whose errors it returns;
// INVALID_ARGUMENT when |iterations| is 0 or above 1000000.
KILN_API KILN_MUST_USE_RESULT kiln_status_t kiln_device_time_enqueue(
    kiln_context_t* context, void* stream, uint32_t warmup, uint32_t iterations,
    double* out_median_us, double* out_min_us);

#ifdef __cplusplus
}  // extern "C"
#endif

#endif  // KILN_KILN_H_
