// The plugin registry: validated deep copies of plugin definitions keyed by
// "ns::name", readable from many threads while one thread registers.

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "base/log.h"
#include "base/size.h"
#include "plugin/plugin.h"

struct kiln_registry_s {
  kiln__ref_header_t header;  // at offset 0
  kiln_allocator_t allocator;
  kiln_logger_t logger;
  pthread_rwlock_t lock;
  bool lock_ready;
  // Guarded by |lock|. Plugins are never removed, so pointers stay valid.
  kiln_plugin_t** plugins;
  size_t plugin_count;
  size_t plugin_capacity;
  // dlopen handles of loaded plugin libraries, closed when the registry is
  // freed. Guarded by |lock|.
  void** libraries;
  size_t library_count;
  size_t library_capacity;
};

_Static_assert(offsetof(struct kiln_registry_s, header) == 0,
               "the reference header must sit at offset 0");

static const char* const callback_names[] = {"describe", "autotune", "aot_impl",
                                             "host_impl"};
_Static_assert(KILN_ARRAYSIZE(callback_names) == KILN__CALLBACK_COUNT,
               "callback_names must name every kiln__callback_t");

// The attribute names TensorRT reserves for its own callback parameters.
static const char* const reserved_attr_names[] = {"outputs", "stream",
                                                  "tactic"};

// Namespaces TensorRT refuses for custom plugins (besides the empty one).
static const char* const reserved_namespaces[] = {"trt", "tensorrt", "std"};

// A subset with no names (the callback sees no attributes), distinct from
// NULL (the callback sees all of them).
static const char* const empty_subset_names[1] = {NULL};

const char* kiln__callback_name(kiln__callback_t callback) {
  if ((unsigned)callback >= KILN__CALLBACK_COUNT) return "unknown";
  return callback_names[callback];
}

//===----------------------------------------------------------------------===//
// Plugin ids
//===----------------------------------------------------------------------===//

// Returns the position of the first "::" in |sv| at or after |from|, or
// SIZE_MAX.
static size_t find_separator(kiln_string_view_t sv, size_t from) {
  for (size_t i = from; i + 1 < sv.size; ++i) {
    if (sv.data[i] == ':' && sv.data[i + 1] == ':') return i;
  }
  return SIZE_MAX;
}

static bool contains_char(kiln_string_view_t sv, char c) {
  return sv.size > 0 && memchr(sv.data, c, sv.size) != NULL;
}

kiln_status_t kiln_plugin_id_validate(kiln_string_view_t id) {
  if (!id.data) id.size = 0;
  if (id.size == 0) {
    return kiln_make_status(
        KILN_STATUS_INVALID_ARGUMENT,
        "plugin id '' is empty; expected 'namespace::name'");
  }
  if (contains_char(id, '\0')) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "plugin id '%.*s' contains a NUL byte",
                            KILN_SV_ARG(id));
  }
  size_t sep = find_separator(id, 0);
  if (sep == SIZE_MAX) {
    return kiln_make_status(
        KILN_STATUS_INVALID_ARGUMENT,
        "plugin id '%.*s' has no '::'; expected 'namespace::name'",
        KILN_SV_ARG(id));
  }
  kiln_string_view_t ns = kiln_make_string_view(id.data, sep);
  kiln_string_view_t name =
      kiln_make_string_view(id.data + sep + 2, id.size - sep - 2);
  if (find_separator(name, 0) != SIZE_MAX) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "plugin id '%.*s' must contain exactly one '::'",
                            KILN_SV_ARG(id));
  }
  if (contains_char(ns, ':') || contains_char(name, ':')) {
    return kiln_make_status(
        KILN_STATUS_INVALID_ARGUMENT,
        "plugin id '%.*s' has a ':' outside its '::' separator; ':' is not "
        "allowed in a namespace or name",
        KILN_SV_ARG(id));
  }
  if (ns.size == 0) {
    return kiln_make_status(
        KILN_STATUS_INVALID_ARGUMENT,
        "plugin id '%.*s' has an empty namespace (the empty namespace is "
        "reserved)",
        KILN_SV_ARG(id));
  }
  if (name.size == 0) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "plugin id '%.*s' has an empty name",
                            KILN_SV_ARG(id));
  }
  if (contains_char(ns, '.') || contains_char(name, '.')) {
    return kiln_make_status(
        KILN_STATUS_INVALID_ARGUMENT,
        "plugin id '%.*s' contains '.', which is not allowed in a namespace "
        "or name",
        KILN_SV_ARG(id));
  }
  for (size_t i = 0; i < KILN_ARRAYSIZE(reserved_namespaces); ++i) {
    if (kiln_string_view_equal(
            ns, kiln_make_cstring_view(reserved_namespaces[i]))) {
      return kiln_make_status(
          KILN_STATUS_INVALID_ARGUMENT,
          "plugin id '%.*s' uses the reserved namespace '%s' (reserved: '', "
          "'trt', 'tensorrt', 'std')",
          KILN_SV_ARG(id), reserved_namespaces[i]);
    }
  }
  return NULL;
}

//===----------------------------------------------------------------------===//
// Building the registry's copy of a definition
//===----------------------------------------------------------------------===//

static const kiln_attr_subset_t* def_subset(const kiln_plugin_def_t* def,
                                            kiln__callback_t callback) {
  switch (callback) {
    case KILN__CALLBACK_DESCRIBE:
      return &def->describe_attrs;
    case KILN__CALLBACK_AUTOTUNE:
      return &def->autotune_attrs;
    case KILN__CALLBACK_AOT_IMPL:
      return &def->aot_impl_attrs;
    default:
      return &def->host_impl_attrs;
  }
}

static kiln_attr_subset_t* def_subset_mut(kiln_plugin_def_t* def,
                                          kiln__callback_t callback) {
  return (kiln_attr_subset_t*)def_subset(def, callback);
}

static int32_t find_field(const kiln_attr_field_t* fields, size_t count,
                          const char* name) {
  for (size_t i = 0; i < count; ++i) {
    if (strcmp(fields[i].name, name) == 0) return (int32_t)i;
  }
  return -1;
}

// Checks everything about |def| except its id, which the caller checked.
// Also computes the per-callback masks.
static kiln_status_t validate_def_body(const kiln_plugin_def_t* def,
                                       kiln_string_view_t id,
                                       uint64_t masks[KILN__CALLBACK_COUNT]) {
  if (def->version && def->version[0] == '\0') {
    return kiln_make_status(
        KILN_STATUS_INVALID_ARGUMENT,
        "plugin '%.*s': version is empty (leave it NULL for \"1\")",
        KILN_SV_ARG(id));
  }
  if (!def->describe) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "plugin '%.*s' has no describe callback, which "
                            "is required",
                            KILN_SV_ARG(id));
  }
  if (def->input_count < 1) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "plugin '%.*s' must have at least one input",
                            KILN_SV_ARG(id));
  }
  if (def->output_count < 1) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "plugin '%.*s' must have at least one output",
                            KILN_SV_ARG(id));
  }
  if (def->attr_count > KILN_MAX_ATTRS) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "plugin '%.*s' declares %zu attributes; at most "
                            "%d are allowed",
                            KILN_SV_ARG(id), def->attr_count, KILN_MAX_ATTRS);
  }
  if (def->attr_count > 0 && !def->attrs) {
    return kiln_make_status(
        KILN_STATUS_INVALID_ARGUMENT,
        "plugin '%.*s' declares %zu attributes but its attrs array is NULL",
        KILN_SV_ARG(id), def->attr_count);
  }
  for (size_t i = 0; i < def->attr_count; ++i) {
    const kiln_attr_field_t* field = &def->attrs[i];
    if (!field->name) {
      return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                              "plugin '%.*s': attribute %zu has no name",
                              KILN_SV_ARG(id), i);
    }
    if (!kiln__is_identifier(field->name)) {
      return kiln_make_status(
          KILN_STATUS_INVALID_ARGUMENT,
          "plugin '%.*s': attribute name '%s' is not an identifier "
          "([A-Za-z_][A-Za-z0-9_]*)",
          KILN_SV_ARG(id), field->name);
    }
    for (size_t r = 0; r < KILN_ARRAYSIZE(reserved_attr_names); ++r) {
      if (strcmp(field->name, reserved_attr_names[r]) == 0) {
        return kiln_make_status(
            KILN_STATUS_INVALID_ARGUMENT,
            "plugin '%.*s': attribute name '%s' is reserved ('outputs', "
            "'stream' and 'tactic' are callback parameters)",
            KILN_SV_ARG(id), field->name);
      }
    }
    if ((unsigned)field->type >= KILN_ATTR_TYPE_COUNT) {
      return kiln_make_status(
          KILN_STATUS_INVALID_ARGUMENT,
          "plugin '%.*s': attribute '%s' has type %d, which is not a "
          "kiln_attr_type_t",
          KILN_SV_ARG(id), field->name, (int)field->type);
    }
    if (find_field(def->attrs, i, field->name) >= 0) {
      return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                              "plugin '%.*s': attribute '%s' is declared twice",
                              KILN_SV_ARG(id), field->name);
    }
  }
  for (int c = 0; c < KILN__CALLBACK_COUNT; ++c) {
    const kiln_attr_subset_t* subset = def_subset(def, (kiln__callback_t)c);
    const char* callback = callback_names[c];
    if (!subset->names) {
      if (subset->count != 0) {
        return kiln_make_status(
            KILN_STATUS_INVALID_ARGUMENT,
            "plugin '%.*s': %s_attrs has %zu names but its names array is "
            "NULL",
            KILN_SV_ARG(id), callback, subset->count);
      }
      masks[c] = kiln__attr_mask_all(def->attr_count);
      continue;
    }
    uint64_t mask = 0;
    for (size_t k = 0; k < subset->count; ++k) {
      const char* name = subset->names[k];
      if (!name) {
        return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                                "plugin '%.*s': %s_attrs name %zu is NULL",
                                KILN_SV_ARG(id), callback, k);
      }
      int32_t index = find_field(def->attrs, def->attr_count, name);
      if (index < 0) {
        return kiln_make_status(
            KILN_STATUS_INVALID_ARGUMENT,
            "plugin '%.*s': %s_attrs names attribute '%s', which is not "
            "declared",
            KILN_SV_ARG(id), callback, name);
      }
      if (mask & (UINT64_C(1) << index)) {
        return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                                "plugin '%.*s': %s_attrs names attribute "
                                "'%s' twice",
                                KILN_SV_ARG(id), callback, name);
      }
      mask |= UINT64_C(1) << index;
    }
    masks[c] = mask;
  }
  return NULL;
}

// Adds |size| to |*total| (checked).
static kiln_status_t grow_total(size_t* total, size_t size) {
  return kiln__size_add(*total, size, "plugin definition copy", total);
}

// Adds the storage of a NUL-terminated copy of |s| to |*total|.
static kiln_status_t grow_string(size_t* total, const char* s) {
  size_t n = strlen(s);
  KILN_RETURN_IF_ERROR(grow_total(total, n));
  return grow_total(total, 1);
}

// Copies |s| into |*cursor| and advances it.
static char* place_string(char** cursor, const char* s) {
  size_t n = strlen(s) + 1;
  char* copy = *cursor;
  memcpy(copy, s, n);
  *cursor += n;
  return copy;
}

kiln_status_t kiln__plugin_build(const kiln_plugin_def_t* def,
                                 kiln_allocator_t allocator,
                                 kiln_plugin_t** out_plugin) {
  *out_plugin = NULL;
  if (!def) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "plugin definition is NULL");
  }
  if (def->abi_version != KILN_PLUGIN_ABI_VERSION) {
    return kiln_make_status(
        KILN_STATUS_INCOMPATIBLE,
        "plugin '%s' was built for plugin ABI %u, this kiln has ABI %u",
        def->id ? def->id : "(no id)", (unsigned)def->abi_version,
        (unsigned)KILN_PLUGIN_ABI_VERSION);
  }
  if (!def->id) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "plugin definition has no id");
  }
  kiln_string_view_t id = kiln_make_cstring_view(def->id);
  KILN_RETURN_IF_ERROR(kiln_plugin_id_validate(id));
  uint64_t masks[KILN__CALLBACK_COUNT] = {0};
  KILN_RETURN_IF_ERROR(validate_def_body(def, id, masks));

  // One block: the plugin, the schema, the subset name arrays, the strings.
  const char* version = def->version ? def->version : "1";
  size_t total = sizeof(kiln_plugin_t);
  size_t fields_size = 0;
  kiln_status_t status =
      kiln__size_mul(def->attr_count, sizeof(kiln_attr_field_t),
                     "attribute schema", &fields_size);
  if (!status) status = grow_total(&total, fields_size);
  for (int c = 0; c < KILN__CALLBACK_COUNT && !status; ++c) {
    const kiln_attr_subset_t* subset = def_subset(def, (kiln__callback_t)c);
    size_t names_size = 0;
    status = kiln__size_mul(subset->count, sizeof(const char*),
                            "attribute subset", &names_size);
    if (!status) status = grow_total(&total, names_size);
  }
  if (!status) status = grow_string(&total, def->id);
  if (!status) status = grow_string(&total, version);
  for (size_t i = 0; i < def->attr_count && !status; ++i) {
    status = grow_string(&total, def->attrs[i].name);
  }
  void* block = NULL;
  if (!status) status = kiln_allocator_malloc(allocator, total, &block);
  if (status) {
    return kiln_status_annotate(status, "plugin '%.*s'", KILN_SV_ARG(id));
  }

  // Pointer-sized parts first, then the characters, so that every part is
  // suitably aligned.
  kiln_plugin_t* plugin = (kiln_plugin_t*)block;
  kiln_attr_field_t* fields = (kiln_attr_field_t*)(plugin + 1);
  const char** names = (const char**)(fields + def->attr_count);
  const char** subset_names[KILN__CALLBACK_COUNT];
  for (int c = 0; c < KILN__CALLBACK_COUNT; ++c) {
    subset_names[c] = names;
    names += def_subset(def, (kiln__callback_t)c)->count;
  }
  char* cursor = (char*)names;
  plugin->def = *def;
  plugin->def.id = place_string(&cursor, def->id);
  plugin->def.version = place_string(&cursor, version);
  plugin->def.attrs = def->attr_count ? fields : NULL;
  for (size_t i = 0; i < def->attr_count; ++i) {
    fields[i].type = def->attrs[i].type;
    fields[i].name = place_string(&cursor, def->attrs[i].name);
  }
  for (int c = 0; c < KILN__CALLBACK_COUNT; ++c) {
    const kiln_attr_subset_t* from = def_subset(def, (kiln__callback_t)c);
    kiln_attr_subset_t* to = def_subset_mut(&plugin->def, (kiln__callback_t)c);
    if (!from->names) {
      to->names = NULL;
      to->count = 0;
      continue;
    }
    // Point at the registry's copies of the schema names.
    for (size_t k = 0; k < from->count; ++k) {
      int32_t index = find_field(def->attrs, def->attr_count, from->names[k]);
      subset_names[c][k] = fields[index].name;
    }
    to->names = from->count ? subset_names[c] : empty_subset_names;
    to->count = from->count;
  }
  plugin->registry = NULL;
  plugin->id = kiln_make_cstring_view(plugin->def.id);
  size_t sep = find_separator(plugin->id, 0);
  plugin->ns = kiln_make_string_view(plugin->def.id, sep);
  plugin->name = kiln_make_string_view(plugin->def.id + sep + 2,
                                       plugin->id.size - sep - 2);
  memcpy(plugin->callback_masks, masks, sizeof(masks));
  *out_plugin = plugin;
  return NULL;
}

void kiln__plugin_free(kiln_allocator_t allocator, kiln_plugin_t* plugin) {
  kiln_allocator_free(allocator, plugin);
}

//===----------------------------------------------------------------------===//
// Registry lifetime
//===----------------------------------------------------------------------===//

static void registry_destroy(void* self) {
  kiln_registry_t* registry = (kiln_registry_t*)self;
  if (!registry) return;
  // Release user data before closing the libraries that hold the release
  // functions, newest first.
  for (size_t i = registry->plugin_count; i-- > 0;) {
    kiln_plugin_t* plugin = registry->plugins[i];
    if (plugin->def.user_data_release) {
      plugin->def.user_data_release(plugin->def.user_data);
    }
    kiln__plugin_free(registry->allocator, plugin);
  }
  kiln_allocator_free(registry->allocator, registry->plugins);
  for (size_t i = registry->library_count; i-- > 0;) {
    dlclose(registry->libraries[i]);
  }
  kiln_allocator_free(registry->allocator, registry->libraries);
  if (registry->lock_ready) pthread_rwlock_destroy(&registry->lock);
  kiln_allocator_free(registry->allocator, registry);
}

static const kiln__ref_vtable_t registry_vtable = {registry_destroy};

// Initializes |lock| so that a waiting writer holds off new readers. glibc's
// default prefers readers, which lets a steady stream of lookups starve a
// registration forever. No code path takes the read lock recursively, so the
// non-recursive writer preference cannot deadlock.
static int init_lock(pthread_rwlock_t* lock) {
  pthread_rwlockattr_t attr;
  int rc = pthread_rwlockattr_init(&attr);
  if (rc != 0) return rc;
#if defined(__GLIBC__)
  rc = pthread_rwlockattr_setkind_np(
      &attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
#endif
  if (rc == 0) rc = pthread_rwlock_init(lock, &attr);
  pthread_rwlockattr_destroy(&attr);
  return rc;
}

KILN__DEFINE_RETAIN_RELEASE(registry)

kiln_status_t kiln_registry_create(kiln_allocator_t allocator,
                                   const kiln_registry_options_t* options,
                                   kiln_registry_t** out_registry) {
  if (!out_registry) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "kiln_registry_create: out_registry is NULL");
  }
  *out_registry = NULL;
  void* block = NULL;
  KILN_RETURN_IF_ERROR(
      kiln_allocator_malloc(allocator, sizeof(kiln_registry_t), &block));
  kiln_registry_t* registry = (kiln_registry_t*)block;
  atomic_init(&registry->header.count, 1u);
  registry->header.vtable = &registry_vtable;
  registry->allocator = allocator;
  if (options) registry->logger = options->logger;
  kiln_status_t status = NULL;
  int rc = init_lock(&registry->lock);
  if (rc != 0) {
    status = kiln_make_status(
        rc == ENOMEM || rc == EAGAIN ? KILN_STATUS_RESOURCE_EXHAUSTED
                                     : KILN_STATUS_INTERNAL,
        "cannot create the registry lock: %s", strerror(rc));
  } else {
    registry->lock_ready = true;
  }
  if (status) {
    registry_destroy(registry);
    return status;
  }
  *out_registry = registry;
  return NULL;
}

kiln_allocator_t kiln__registry_allocator(const kiln_registry_t* registry) {
  return registry->allocator;
}

const kiln_logger_t* kiln__registry_logger(const kiln_registry_t* registry) {
  return &registry->logger;
}

//===----------------------------------------------------------------------===//
// Locking helpers. The lock is mutable state inside a logically const object.
//===----------------------------------------------------------------------===//

static pthread_rwlock_t* registry_lock(const kiln_registry_t* registry) {
  return (pthread_rwlock_t*)&registry->lock;
}

static kiln_status_t lock_status(int rc, const char* what) {
  return kiln_make_status(KILN_STATUS_INTERNAL,
                          "cannot take the registry %s lock: %s", what,
                          strerror(rc));
}

// Grows |*array| (of pointers) to hold at least |needed| entries.
static kiln_status_t reserve_pointers(kiln_allocator_t allocator, void*** array,
                                      size_t* capacity, size_t needed) {
  if (needed <= *capacity) return NULL;
  size_t new_capacity = *capacity ? *capacity : 8;
  while (new_capacity < needed) {
    KILN_RETURN_IF_ERROR(
        kiln__size_mul(new_capacity, 2, "registry capacity", &new_capacity));
  }
  size_t bytes = 0;
  KILN_RETURN_IF_ERROR(
      kiln__size_mul(new_capacity, sizeof(void*), "registry capacity", &bytes));
  void* data = *array;
  KILN_RETURN_IF_ERROR(kiln_allocator_realloc(allocator, bytes, &data));
  *array = (void**)data;
  *capacity = new_capacity;
  return NULL;
}

// Returns the registered plugin with |id|, or NULL. Call with the lock held.
static kiln_plugin_t* find_locked(const kiln_registry_t* registry,
                                  kiln_string_view_t id) {
  for (size_t i = 0; i < registry->plugin_count; ++i) {
    if (kiln_string_view_equal(registry->plugins[i]->id, id)) {
      return registry->plugins[i];
    }
  }
  return NULL;
}

kiln_status_t kiln__registry_insert(kiln_registry_t* registry,
                                    kiln_plugin_t* const* plugins, size_t count,
                                    void* library_handle) {
  for (size_t i = 0; i < count; ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (kiln_string_view_equal(plugins[i]->id, plugins[j]->id)) {
        return kiln_make_status(KILN_STATUS_ALREADY_EXISTS,
                                "plugin '%.*s' is defined twice",
                                KILN_SV_ARG(plugins[i]->id));
      }
    }
  }
  int rc = pthread_rwlock_wrlock(&registry->lock);
  if (rc != 0) return lock_status(rc, "write");
  kiln_status_t status = NULL;
  size_t needed = 0;
  status =
      kiln__size_add(registry->plugin_count, count, "plugin count", &needed);
  if (!status) {
    void** array = (void**)registry->plugins;
    status = reserve_pointers(registry->allocator, &array,
                              &registry->plugin_capacity, needed);
    registry->plugins = (kiln_plugin_t**)array;
  }
  if (!status && library_handle) {
    status = reserve_pointers(registry->allocator, &registry->libraries,
                              &registry->library_capacity,
                              registry->library_count + 1);
  }
  for (size_t i = 0; i < count && !status; ++i) {
    if (find_locked(registry, plugins[i]->id)) {
      status = kiln_make_status(KILN_STATUS_ALREADY_EXISTS,
                                "plugin '%.*s' is already registered",
                                KILN_SV_ARG(plugins[i]->id));
    }
  }
  if (!status) {
    for (size_t i = 0; i < count; ++i) {
      plugins[i]->registry = registry;
      registry->plugins[registry->plugin_count++] = plugins[i];
    }
    if (library_handle) {
      registry->libraries[registry->library_count++] = library_handle;
    }
  }
  pthread_rwlock_unlock(&registry->lock);
  if (status) return status;
  for (size_t i = 0; i < count; ++i) {
    const kiln_plugin_def_t* def = &plugins[i]->def;
    kiln__log(&registry->logger, KILN_LOG_LEVEL_INFO,
              "registered plugin '%s' version %s (%u inputs, %u outputs, %zu "
              "attributes)",
              def->id, def->version, (unsigned)def->input_count,
              (unsigned)def->output_count, def->attr_count);
  }
  return NULL;
}

kiln_status_t kiln_registry_register(kiln_registry_t* registry,
                                     const kiln_plugin_def_t* def,
                                     const kiln_plugin_t** out_plugin) {
  if (out_plugin) *out_plugin = NULL;
  if (!registry) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "kiln_registry_register: registry is NULL");
  }
  kiln_plugin_t* plugin = NULL;
  KILN_RETURN_IF_ERROR(kiln__plugin_build(def, registry->allocator, &plugin));
  kiln_status_t status = kiln__registry_insert(registry, &plugin, 1, NULL);
  if (status) {
    kiln__plugin_free(registry->allocator, plugin);
    return status;
  }
  if (out_plugin) *out_plugin = plugin;
  return NULL;
}

//===----------------------------------------------------------------------===//
// Lookups
//===----------------------------------------------------------------------===//

#define CLOSEST_MAX 3

// Builds the NOT_FOUND status for |id|, naming the closest registered ids.
// Call with the lock held.
static kiln_status_t not_found_locked(const kiln_registry_t* registry,
                                      kiln_string_view_t id) {
  if (registry->plugin_count == 0) {
    return kiln_make_status(
        KILN_STATUS_NOT_FOUND,
        "no plugin '%.*s' is registered; the registry has no plugins",
        KILN_SV_ARG(id));
  }
  size_t best[CLOSEST_MAX];
  size_t best_distance[CLOSEST_MAX];
  size_t found = 0;
  for (size_t i = 0; i < registry->plugin_count; ++i) {
    size_t d = kiln__edit_distance(id, registry->plugins[i]->id, 1024);
    // Insert in order of distance; earlier registrations win ties.
    size_t at = found;
    while (at > 0 && best_distance[at - 1] > d) --at;
    if (at >= CLOSEST_MAX) continue;
    size_t last = found < CLOSEST_MAX ? found : CLOSEST_MAX - 1;
    for (size_t k = last; k > at; --k) {
      best[k] = best[k - 1];
      best_distance[k] = best_distance[k - 1];
    }
    best[at] = i;
    best_distance[at] = d;
    if (found < CLOSEST_MAX) ++found;
  }
  char list[768];
  size_t used = 0;
  list[0] = '\0';
  for (size_t k = 0; k < found; ++k) {
    kiln_string_view_t other = registry->plugins[best[k]]->id;
    int n = snprintf(list + used, sizeof(list) - used, "%s'%.*s'",
                     k ? ", " : "", KILN_SV_ARG(other));
    if (n < 0 || (size_t)n >= sizeof(list) - used) break;
    used += (size_t)n;
  }
  return kiln_make_status(KILN_STATUS_NOT_FOUND,
                          "no plugin '%.*s' is registered; closest: %s",
                          KILN_SV_ARG(id), list);
}

kiln_status_t kiln_registry_lookup(const kiln_registry_t* registry,
                                   kiln_string_view_t plugin_id,
                                   const kiln_plugin_t** out_plugin) {
  if (!out_plugin) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "kiln_registry_lookup: out_plugin is NULL");
  }
  *out_plugin = NULL;
  if (!registry) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "kiln_registry_lookup: registry is NULL");
  }
  if (!plugin_id.data) plugin_id.size = 0;
  int rc = pthread_rwlock_rdlock(registry_lock(registry));
  if (rc != 0) return lock_status(rc, "read");
  const kiln_plugin_t* plugin = find_locked(registry, plugin_id);
  kiln_status_t status = plugin ? NULL : not_found_locked(registry, plugin_id);
  pthread_rwlock_unlock(registry_lock(registry));
  if (!status) *out_plugin = plugin;
  return status;
}

size_t kiln_registry_plugin_count(const kiln_registry_t* registry) {
  if (!registry) return 0;
  if (pthread_rwlock_rdlock(registry_lock(registry)) != 0) return 0;
  size_t count = registry->plugin_count;
  pthread_rwlock_unlock(registry_lock(registry));
  return count;
}

const kiln_plugin_t* kiln_registry_plugin_at(const kiln_registry_t* registry,
                                             size_t index) {
  if (!registry) return NULL;
  if (pthread_rwlock_rdlock(registry_lock(registry)) != 0) return NULL;
  const kiln_plugin_t* plugin =
      index < registry->plugin_count ? registry->plugins[index] : NULL;
  pthread_rwlock_unlock(registry_lock(registry));
  return plugin;
}

//===----------------------------------------------------------------------===//
// Plugin accessors
//===----------------------------------------------------------------------===//

const kiln_plugin_def_t* kiln_plugin_definition(const kiln_plugin_t* plugin) {
  return plugin ? &plugin->def : NULL;
}

kiln_string_view_t kiln_plugin_id(const kiln_plugin_t* plugin) {
  return plugin ? plugin->id : kiln_make_string_view(NULL, 0);
}

kiln_string_view_t kiln_plugin_namespace(const kiln_plugin_t* plugin) {
  return plugin ? plugin->ns : kiln_make_string_view(NULL, 0);
}

kiln_string_view_t kiln_plugin_name(const kiln_plugin_t* plugin) {
  return plugin ? plugin->name : kiln_make_string_view(NULL, 0);
}

int32_t kiln__plugin_find_attr(const kiln_plugin_t* plugin, const char* name) {
  if (!plugin || !name) return -1;
  return find_field(plugin->def.attrs, plugin->def.attr_count, name);
}

kiln_allocator_t kiln__plugin_allocator(const kiln_plugin_t* plugin) {
  return plugin->registry ? plugin->registry->allocator
                          : kiln_allocator_system();
}
