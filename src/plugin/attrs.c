// Attribute value sets: typed values checked exactly against a plugin's
// schema, and the narrowed views that plugin callbacks receive.

#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "base/size.h"
#include "plugin/plugin.h"

static const char* const attr_type_names[] = {
    "int64",     "float64",   "bool",    "string",  "bytes",
    "int8[]",    "int16[]",   "int32[]", "int64[]", "float16[]",
    "float32[]", "float64[]", "bool[]",
};
_Static_assert(KILN_ARRAYSIZE(attr_type_names) == KILN_ATTR_TYPE_COUNT,
               "attr_type_names must name every kiln_attr_type_t");

static const uint8_t attr_element_sizes[] = {0, 0, 0, 0, 0, 1, 2,
                                             4, 8, 2, 4, 8, 1};
_Static_assert(KILN_ARRAYSIZE(attr_element_sizes) == KILN_ATTR_TYPE_COUNT,
               "attr_element_sizes must size every kiln_attr_type_t");

const char* kiln_attr_type_name(kiln_attr_type_t type) {
  if ((unsigned)type >= KILN_ATTR_TYPE_COUNT) return "unknown";
  return attr_type_names[type];
}

size_t kiln_attr_type_element_size(kiln_attr_type_t type) {
  if ((unsigned)type >= KILN_ATTR_TYPE_COUNT) return 0;
  return attr_element_sizes[type];
}

bool kiln__is_identifier(const char* name) {
  if (!name || !*name) return false;
  for (const char* p = name; *p; ++p) {
    char c = *p;
    bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
    bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && p != name)) return false;
  }
  return true;
}

//===----------------------------------------------------------------------===//
// Lookup and messages
//===----------------------------------------------------------------------===//

// Writes the schema's names, comma-separated, into |buffer| (truncated with
// "..." when they do not fit).
static void format_declared_names(const kiln_plugin_t* plugin, char* buffer,
                                  size_t capacity) {
  size_t used = 0;
  buffer[0] = '\0';
  if (plugin->def.attr_count == 0) {
    snprintf(buffer, capacity, "none");
    return;
  }
  for (size_t i = 0; i < plugin->def.attr_count; ++i) {
    const char* name = plugin->def.attrs[i].name;
    size_t need = strlen(name) + (i ? 2 : 0);
    if (used + need + 4 >= capacity) {
      snprintf(buffer + used, capacity - used, "%s...", i ? ", " : "");
      return;
    }
    used += (size_t)snprintf(buffer + used, capacity - used, "%s%s",
                             i ? ", " : "", name);
  }
}

static kiln_status_t unknown_attr_status(const kiln_plugin_t* plugin,
                                         const char* name) {
  char declared[512];
  format_declared_names(plugin, declared, sizeof(declared));
  return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                          "plugin '%.*s' has no attribute '%s' (declared: %s)",
                          KILN_SV_ARG(plugin->id), name, declared);
}

// Finds |name| in the schema of |attrs| and checks that it is visible. Does
// not check the type.
static kiln_status_t find_visible(const kiln_attrs_t* attrs, const char* name,
                                  size_t* out_index) {
  *out_index = 0;
  if (!attrs || !attrs->plugin) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "attribute set is NULL");
  }
  const kiln_plugin_t* plugin = attrs->plugin;
  if (!name) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "plugin '%.*s': attribute name is NULL",
                            KILN_SV_ARG(plugin->id));
  }
  int32_t index = kiln__plugin_find_attr(plugin, name);
  if (index < 0) return unknown_attr_status(plugin, name);
  if (!(attrs->visible_mask & (UINT64_C(1) << index))) {
    return kiln_make_status(
        KILN_STATUS_NOT_FOUND,
        "%s of plugin '%.*s' did not declare attribute '%s'",
        attrs->callback_name ? attrs->callback_name : "this view",
        KILN_SV_ARG(plugin->id), name);
  }
  *out_index = (size_t)index;
  return NULL;
}

static kiln_status_t type_mismatch_status(const kiln_plugin_t* plugin,
                                          size_t index, kiln_attr_type_t given,
                                          bool is_get) {
  return kiln_make_status(
      KILN_STATUS_INVALID_ARGUMENT,
      "plugin '%.*s': attribute '%s' is %s, %s %s", KILN_SV_ARG(plugin->id),
      plugin->def.attrs[index].name,
      kiln_attr_type_name(plugin->def.attrs[index].type),
      is_get ? "asked for" : "given", kiln_attr_type_name(given));
}

// Resolves |name| for a setter of |type| and returns the slot to write.
static kiln_status_t resolve_set(kiln_attrs_t* attrs, const char* name,
                                 kiln_attr_type_t type,
                                 kiln__attr_value_t** out_value) {
  *out_value = NULL;
  size_t index = 0;
  KILN_RETURN_IF_ERROR(find_visible(attrs, name, &index));
  if (attrs->callback_name || !attrs->values) {
    return kiln_make_status(
        KILN_STATUS_FAILED_PRECONDITION,
        "plugin '%.*s': attribute '%s' cannot be set through the read-only "
        "view given to %s",
        KILN_SV_ARG(attrs->plugin->id), name,
        attrs->callback_name ? attrs->callback_name : "a callback");
  }
  if (attrs->plugin->def.attrs[index].type != type) {
    return type_mismatch_status(attrs->plugin, index, type, false);
  }
  *out_value = &attrs->values[index];
  return NULL;
}

// Resolves |name| for a getter of |type| and returns the value, which is set.
static kiln_status_t resolve_get(const kiln_attrs_t* attrs, const char* name,
                                 kiln_attr_type_t type,
                                 const kiln__attr_value_t** out_value) {
  *out_value = NULL;
  size_t index = 0;
  KILN_RETURN_IF_ERROR(find_visible(attrs, name, &index));
  const kiln_plugin_t* plugin = attrs->plugin;
  if (plugin->def.attrs[index].type != type) {
    return type_mismatch_status(plugin, index, type, true);
  }
  if (!attrs->values || !attrs->values[index].is_set) {
    return kiln_make_status(
        KILN_STATUS_NOT_FOUND, "plugin '%.*s': attribute '%s' (%s) is not set",
        KILN_SV_ARG(plugin->id), name, kiln_attr_type_name(type));
  }
  *out_value = &attrs->values[index];
  return NULL;
}

//===----------------------------------------------------------------------===//
// Creation
//===----------------------------------------------------------------------===//

kiln_status_t kiln_attrs_create(const kiln_plugin_t* plugin,
                                kiln_allocator_t allocator,
                                kiln_attrs_t** out_attrs) {
  if (!out_attrs) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "kiln_attrs_create: out_attrs is NULL");
  }
  *out_attrs = NULL;
  if (!plugin) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "kiln_attrs_create: plugin is NULL");
  }
  size_t values_size = 0;
  size_t total = 0;
  kiln_status_t status =
      kiln__size_mul(plugin->def.attr_count, sizeof(kiln__attr_value_t),
                     "attribute values", &values_size);
  if (!status) {
    status = kiln__size_add(sizeof(kiln_attrs_t), values_size, "attribute set",
                            &total);
  }
  void* block = NULL;
  if (!status) status = kiln_allocator_malloc(allocator, total, &block);
  if (status) return status;
  kiln_attrs_t* attrs = (kiln_attrs_t*)block;
  attrs->plugin = plugin;
  attrs->allocator = allocator;
  attrs->values = (kiln__attr_value_t*)(attrs + 1);
  attrs->visible_mask = kiln__attr_mask_all(plugin->def.attr_count);
  attrs->callback_name = NULL;
  *out_attrs = attrs;
  return NULL;
}

void kiln_attrs_destroy(kiln_attrs_t* attrs) {
  if (!attrs) return;
  // Views live in caller storage and own nothing.
  if (attrs->callback_name) return;
  if (attrs->values && attrs->plugin) {
    for (size_t i = 0; i < attrs->plugin->def.attr_count; ++i) {
      kiln_allocator_free(attrs->allocator, attrs->values[i].data);
    }
  }
  kiln_allocator_free(attrs->allocator, attrs);
}

//===----------------------------------------------------------------------===//
// Setters
//===----------------------------------------------------------------------===//

kiln_status_t kiln_attrs_set_int64(kiln_attrs_t* attrs, const char* name,
                                   int64_t value) {
  kiln__attr_value_t* slot = NULL;
  KILN_RETURN_IF_ERROR(resolve_set(attrs, name, KILN_ATTR_TYPE_INT64, &slot));
  slot->i64 = value;
  slot->is_set = true;
  return NULL;
}

kiln_status_t kiln_attrs_set_float64(kiln_attrs_t* attrs, const char* name,
                                     double value) {
  kiln__attr_value_t* slot = NULL;
  KILN_RETURN_IF_ERROR(resolve_set(attrs, name, KILN_ATTR_TYPE_FLOAT64, &slot));
  slot->f64 = value;
  slot->is_set = true;
  return NULL;
}

kiln_status_t kiln_attrs_set_bool(kiln_attrs_t* attrs, const char* name,
                                  bool value) {
  kiln__attr_value_t* slot = NULL;
  KILN_RETURN_IF_ERROR(resolve_set(attrs, name, KILN_ATTR_TYPE_BOOL, &slot));
  slot->b = value;
  slot->is_set = true;
  return NULL;
}

// Copies |size| bytes at |data| into a new NUL-terminated block and replaces
// the slot's value with it. The old value stays on failure.
static kiln_status_t store_block(kiln_allocator_t allocator,
                                 kiln__attr_value_t* slot, const void* data,
                                 size_t size, size_t count) {
  size_t total = 0;
  KILN_RETURN_IF_ERROR(kiln__size_add(size, 1, "attribute value", &total));
  void* block = NULL;
  KILN_RETURN_IF_ERROR(kiln_allocator_malloc(allocator, total, &block));
  if (size) memcpy(block, data, size);
  kiln_allocator_free(allocator, slot->data);
  slot->data = block;
  slot->size = size;
  slot->count = count;
  slot->is_set = true;
  return NULL;
}

// Returns the offset of the first byte of |data| that is not valid UTF-8, or
// |size| when all of it is.
static size_t utf8_invalid_offset(const uint8_t* data, size_t size) {
  size_t i = 0;
  while (i < size) {
    uint8_t c = data[i];
    size_t extra;
    uint32_t min;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      extra = 1, min = 0x80, cp = c & 0x1fu;
    } else if ((c & 0xf0) == 0xe0) {
      extra = 2, min = 0x800, cp = c & 0x0fu;
    } else if ((c & 0xf8) == 0xf0) {
      extra = 3, min = 0x10000, cp = c & 0x07u;
    } else {
      return i;
    }
    if (size - i <= extra) return i;
    for (size_t k = 1; k <= extra; ++k) {
      if ((data[i + k] & 0xc0) != 0x80) return i;
      cp = (cp << 6) | (data[i + k] & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += extra + 1;
  }
  return size;
}

kiln_status_t kiln_attrs_set_string(kiln_attrs_t* attrs, const char* name,
                                    kiln_string_view_t value) {
  kiln__attr_value_t* slot = NULL;
  KILN_RETURN_IF_ERROR(resolve_set(attrs, name, KILN_ATTR_TYPE_STRING, &slot));
  if (!value.data && value.size) {
    return kiln_make_status(
        KILN_STATUS_INVALID_ARGUMENT,
        "plugin '%.*s': attribute '%s': string of %zu bytes has no data",
        KILN_SV_ARG(attrs->plugin->id), name, value.size);
  }
  size_t bad = utf8_invalid_offset((const uint8_t*)value.data, value.size);
  if (bad != value.size) {
    return kiln_make_status(
        KILN_STATUS_INVALID_ARGUMENT,
        "plugin '%.*s': attribute '%s': string is not valid UTF-8 at byte %zu",
        KILN_SV_ARG(attrs->plugin->id), name, bad);
  }
  return store_block(attrs->allocator, slot, value.data, value.size,
                     value.size);
}

kiln_status_t kiln_attrs_set_bytes(kiln_attrs_t* attrs, const char* name,
                                   kiln_const_bytes_t value) {
  kiln__attr_value_t* slot = NULL;
  KILN_RETURN_IF_ERROR(resolve_set(attrs, name, KILN_ATTR_TYPE_BYTES, &slot));
  if (!value.data && value.size) {
    return kiln_make_status(
        KILN_STATUS_INVALID_ARGUMENT,
        "plugin '%.*s': attribute '%s': %zu bytes have no data",
        KILN_SV_ARG(attrs->plugin->id), name, value.size);
  }
  return store_block(attrs->allocator, slot, value.data, value.size,
                     value.size);
}

kiln_status_t kiln_attrs_set_array(kiln_attrs_t* attrs, const char* name,
                                   kiln_attr_type_t type, const void* data,
                                   size_t count) {
  size_t index = 0;
  KILN_RETURN_IF_ERROR(find_visible(attrs, name, &index));
  const kiln_plugin_t* plugin = attrs->plugin;
  size_t element_size = kiln_attr_type_element_size(type);
  if (element_size == 0) {
    return kiln_make_status(
        KILN_STATUS_INVALID_ARGUMENT,
        "plugin '%.*s': attribute '%s': kiln_attrs_set_array was given %s, "
        "which is not an array type",
        KILN_SV_ARG(plugin->id), name, kiln_attr_type_name(type));
  }
  kiln__attr_value_t* slot = NULL;
  KILN_RETURN_IF_ERROR(resolve_set(attrs, name, type, &slot));
  if (!data && count) {
    return kiln_make_status(
        KILN_STATUS_INVALID_ARGUMENT,
        "plugin '%.*s': attribute '%s': %zu elements have no data",
        KILN_SV_ARG(plugin->id), name, count);
  }
  size_t size = 0;
  kiln_status_t status =
      kiln__size_mul(count, element_size, "attribute array", &size);
  if (status) {
    return kiln_status_annotate(status, "plugin '%.*s': attribute '%s'",
                                KILN_SV_ARG(plugin->id), name);
  }
  if (type == KILN_ATTR_TYPE_ARRAY_BOOL) {
    const uint8_t* bytes = (const uint8_t*)data;
    for (size_t i = 0; i < count; ++i) {
      if (bytes[i] > 1) {
        return kiln_make_status(
            KILN_STATUS_INVALID_ARGUMENT,
            "plugin '%.*s': attribute '%s': bool element %zu is %u, not 0 "
            "or 1",
            KILN_SV_ARG(plugin->id), name, i, (unsigned)bytes[i]);
      }
    }
  }
  return store_block(attrs->allocator, slot, data, size, count);
}

//===----------------------------------------------------------------------===//
// Getters
//===----------------------------------------------------------------------===//

kiln_status_t kiln_attrs_get_int64(const kiln_attrs_t* attrs, const char* name,
                                   int64_t* out_value) {
  if (out_value) *out_value = 0;
  const kiln__attr_value_t* value = NULL;
  KILN_RETURN_IF_ERROR(resolve_get(attrs, name, KILN_ATTR_TYPE_INT64, &value));
  if (out_value) *out_value = value->i64;
  return NULL;
}

kiln_status_t kiln_attrs_get_float64(const kiln_attrs_t* attrs,
                                     const char* name, double* out_value) {
  if (out_value) *out_value = 0.0;
  const kiln__attr_value_t* value = NULL;
  KILN_RETURN_IF_ERROR(
      resolve_get(attrs, name, KILN_ATTR_TYPE_FLOAT64, &value));
  if (out_value) *out_value = value->f64;
  return NULL;
}

kiln_status_t kiln_attrs_get_bool(const kiln_attrs_t* attrs, const char* name,
                                  bool* out_value) {
  if (out_value) *out_value = false;
  const kiln__attr_value_t* value = NULL;
  KILN_RETURN_IF_ERROR(resolve_get(attrs, name, KILN_ATTR_TYPE_BOOL, &value));
  if (out_value) *out_value = value->b;
  return NULL;
}

kiln_status_t kiln_attrs_get_string(const kiln_attrs_t* attrs, const char* name,
                                    kiln_string_view_t* out_value) {
  if (out_value) *out_value = kiln_make_string_view(NULL, 0);
  const kiln__attr_value_t* value = NULL;
  KILN_RETURN_IF_ERROR(resolve_get(attrs, name, KILN_ATTR_TYPE_STRING, &value));
  if (out_value) {
    *out_value = kiln_make_string_view((const char*)value->data, value->size);
  }
  return NULL;
}

kiln_status_t kiln_attrs_get_bytes(const kiln_attrs_t* attrs, const char* name,
                                   kiln_const_bytes_t* out_value) {
  if (out_value) {
    out_value->data = NULL;
    out_value->size = 0;
  }
  const kiln__attr_value_t* value = NULL;
  KILN_RETURN_IF_ERROR(resolve_get(attrs, name, KILN_ATTR_TYPE_BYTES, &value));
  if (out_value) {
    out_value->data = (const uint8_t*)value->data;
    out_value->size = value->size;
  }
  return NULL;
}

kiln_status_t kiln_attrs_get_array(const kiln_attrs_t* attrs, const char* name,
                                   kiln_attr_type_t type, const void** out_data,
                                   size_t* out_count) {
  if (out_data) *out_data = NULL;
  if (out_count) *out_count = 0;
  if (kiln_attr_type_element_size(type) == 0) {
    size_t index = 0;
    KILN_RETURN_IF_ERROR(find_visible(attrs, name, &index));
    return kiln_make_status(
        KILN_STATUS_INVALID_ARGUMENT,
        "plugin '%.*s': attribute '%s': kiln_attrs_get_array was asked for "
        "%s, which is not an array type",
        KILN_SV_ARG(attrs->plugin->id), name, kiln_attr_type_name(type));
  }
  const kiln__attr_value_t* value = NULL;
  KILN_RETURN_IF_ERROR(resolve_get(attrs, name, type, &value));
  if (out_data) *out_data = value->data;
  if (out_count) *out_count = value->count;
  return NULL;
}

//===----------------------------------------------------------------------===//
// Whole-set queries and views
//===----------------------------------------------------------------------===//

kiln_status_t kiln_attrs_check_complete(const kiln_attrs_t* attrs) {
  if (!attrs || !attrs->plugin) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "attribute set is NULL");
  }
  const kiln_plugin_t* plugin = attrs->plugin;
  for (size_t i = 0; i < plugin->def.attr_count; ++i) {
    if (!(attrs->visible_mask & (UINT64_C(1) << i))) continue;
    if (attrs->values && attrs->values[i].is_set) continue;
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "plugin '%.*s': attribute '%s' (%s) has no value",
                            KILN_SV_ARG(plugin->id), plugin->def.attrs[i].name,
                            kiln_attr_type_name(plugin->def.attrs[i].type));
  }
  return NULL;
}

bool kiln_attrs_has(const kiln_attrs_t* attrs, const char* name) {
  if (!attrs || !attrs->plugin || !name || !attrs->values) return false;
  int32_t index = kiln__plugin_find_attr(attrs->plugin, name);
  if (index < 0) return false;
  if (!(attrs->visible_mask & (UINT64_C(1) << index))) return false;
  return attrs->values[index].is_set;
}

void kiln__attrs_make_view(const kiln_plugin_t* plugin, const kiln_attrs_t* all,
                           uint64_t visible_mask, const char* callback_name,
                           kiln_attrs_t* out_view) {
  memset(out_view, 0, sizeof(*out_view));
  out_view->plugin = plugin;
  out_view->values = all ? all->values : NULL;
  out_view->visible_mask =
      visible_mask &
      (all ? all->visible_mask : kiln__attr_mask_all(plugin->def.attr_count));
  out_view->callback_name = callback_name ? callback_name : "callback";
}

kiln_status_t kiln__plugin_attrs_view(const kiln_plugin_t* plugin,
                                      const kiln_attrs_t* attrs,
                                      kiln__callback_t callback,
                                      kiln_attrs_t* out_view) {
  memset(out_view, 0, sizeof(*out_view));
  if (attrs && attrs->plugin != plugin) {
    kiln_string_view_t other =
        attrs->plugin ? attrs->plugin->id : kiln_make_cstring_view("(none)");
    return kiln_make_status(
        KILN_STATUS_INVALID_ARGUMENT,
        "attributes made for plugin '%.*s' were passed to plugin '%.*s'",
        KILN_SV_ARG(other), KILN_SV_ARG(plugin->id));
  }
  if ((unsigned)callback >= KILN__CALLBACK_COUNT) {
    return kiln_make_status(KILN_STATUS_INTERNAL, "unknown callback %d",
                            (int)callback);
  }
  kiln__attrs_make_view(plugin, attrs, plugin->callback_masks[callback],
                        kiln__callback_name(callback), out_view);
  return NULL;
}
