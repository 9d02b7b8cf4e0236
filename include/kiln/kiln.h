// kiln: ahead-of-time GPU plugins and the lean runtime that runs them.
//
// This is the application API. Plugin authors also include kiln_plugin.h.
//
// A short tour:
//
//   kiln_registry_t* registry = NULL;
//   kiln_status_t status = kiln_registry_create(kiln_allocator_system(),
//                                               NULL, &registry);
//   if (!status) status = kiln_registry_register(registry, &my_plugin_def);
//   const kiln_plugin_t* plugin = NULL;
//   if (!status) status = kiln_registry_lookup(
//       registry, kiln_make_cstring_view("my::add_plugin"), &plugin);
//   if (status) {
//     fprintf(stderr, "%s: %s\n",
//             kiln_status_code_name(kiln_status_code(status)),
//             kiln_status_message(status));
//     kiln_status_free(status);
//   }
//   kiln_registry_release(registry);
//
// Conventions (they hold for every declaration below unless it says otherwise):
//
// - Errors are values. A fallible function returns kiln_status_t; NULL means
//   OK. A non-NULL status is owned by the caller, who must pass it to
//   kiln_status_free (or return it further up, annotated). Nothing is kept in
//   globals or per object.
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
KILN_API KILN_MUST_USE_RESULT kiln_status_t
kiln_status_annotate(kiln_status_t status, const char* format, ...)
    KILN_PRINTF(2, 3);

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

#define KILN_RETURN_IF_ERROR(expr)    \
  do {                                \
    kiln_status_t kiln_s_ = (expr);   \
    if (kiln_s_) return kiln_s_;      \
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
// Registry
//===----------------------------------------------------------------------===//

// A set of plugin definitions keyed by id ("ns::name"). An instance, not a
// global: an application may hold several. Reference-counted.
//
// Thread safety: lookups (kiln_registry_lookup, kiln_registry_plugin_count,
// kiln_registry_plugin_at) are safe from many threads at once, also while
// another thread registers. Plugins are never removed, so a kiln_plugin_t*
// stays valid while the registry lives.
typedef struct kiln_registry_s kiln_registry_t;

// A registered plugin, owned by its registry. Declared in kiln_plugin.h.
typedef struct kiln_plugin_s kiln_plugin_t;

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
KILN_API KILN_MUST_USE_RESULT kiln_status_t
kiln_registry_lookup(const kiln_registry_t* registry,
                     kiln_string_view_t plugin_id,
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

#ifdef __cplusplus
}  // extern "C"
#endif

#endif  // KILN_KILN_H_
