// Attribute values in engine files: the encoding of a host layer's
// attributes (see "Attribute serialization" in plugin.h) and its verifying
// reader.

#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "base/bytes.h"
#include "base/size.h"
#include "plugin/plugin.h"

#define ATTRS_ENCODING_VERSION 1
// Longer names cannot be identifiers of any schema kiln registers in
// practice; the reader refuses them before copying.
#define MAX_NAME_SIZE 255

//===----------------------------------------------------------------------===//
// Writing
//===----------------------------------------------------------------------===//

static kiln_status_t write_value(kiln__writer_t* w, kiln_attr_type_t type,
                                 const kiln__attr_value_t* value) {
  switch (type) {
    case KILN_ATTR_TYPE_INT64:
      return kiln__writer_svarint(w, value->i64);
    case KILN_ATTR_TYPE_FLOAT64: {
      uint64_t bits = 0;
      memcpy(&bits, &value->f64, sizeof(bits));
      return kiln__writer_u64(w, bits);
    }
    case KILN_ATTR_TYPE_BOOL:
      return kiln__writer_u8(w, value->b ? 1 : 0);
    case KILN_ATTR_TYPE_STRING:
    case KILN_ATTR_TYPE_BYTES:
      KILN_RETURN_IF_ERROR(kiln__writer_varint(w, value->size));
      return kiln__writer_append(w, value->data, value->size);
    default: {
      size_t element_size = kiln_attr_type_element_size(type);
      KILN_RETURN_IF_ERROR(kiln__writer_varint(w, value->count));
      const uint8_t* data = (const uint8_t*)value->data;
      for (size_t i = 0; i < value->count; ++i) {
        // Elements are stored in host order; write them little-endian.
        uint64_t element = 0;
        switch (element_size) {
          case 1:
            element = data[i];
            break;
          case 2: {
            uint16_t v;
            memcpy(&v, data + 2 * i, 2);
            element = v;
            break;
          }
          case 4: {
            uint32_t v;
            memcpy(&v, data + 4 * i, 4);
            element = v;
            break;
          }
          default: {
            uint64_t v;
            memcpy(&v, data + 8 * i, 8);
            element = v;
            break;
          }
        }
        uint8_t bytes[8];
        for (size_t b = 0; b < element_size; ++b) {
          bytes[b] = (uint8_t)(element >> (8 * b));
        }
        KILN_RETURN_IF_ERROR(kiln__writer_append(w, bytes, element_size));
      }
      return NULL;
    }
  }
}

kiln_status_t kiln__attrs_serialize(const kiln_attrs_t* attrs,
                                    struct kiln__writer_t* writer) {
  if (!attrs || !attrs->plugin || !writer) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "kiln__attrs_serialize: NULL attributes or writer");
  }
  const kiln_plugin_t* plugin = attrs->plugin;
  size_t start = writer->size;
  size_t count = 0;
  for (size_t i = 0; i < plugin->def.attr_count; ++i) {
    if ((attrs->visible_mask & (UINT64_C(1) << i)) && attrs->values &&
        attrs->values[i].is_set) {
      ++count;
    }
  }
  kiln_status_t status = kiln__writer_u8(writer, ATTRS_ENCODING_VERSION);
  if (!status) status = kiln__writer_varint(writer, count);
  for (size_t i = 0; !status && i < plugin->def.attr_count; ++i) {
    if (!(attrs->visible_mask & (UINT64_C(1) << i)) || !attrs->values ||
        !attrs->values[i].is_set) {
      continue;
    }
    const kiln_attr_field_t* field = &plugin->def.attrs[i];
    size_t name_size = strlen(field->name);
    status = kiln__writer_varint(writer, name_size);
    if (!status) status = kiln__writer_append(writer, field->name, name_size);
    if (!status) status = kiln__writer_u8(writer, (uint8_t)field->type);
    if (!status) status = write_value(writer, field->type, &attrs->values[i]);
  }
  if (status) writer->size = start;
  return status;
}

//===----------------------------------------------------------------------===//
// Reading
//===----------------------------------------------------------------------===//

static bool host_is_little_endian(void) {
  const uint16_t probe = 1;
  uint8_t first;
  memcpy(&first, &probe, 1);
  return first == 1;
}

// Turns a failure of a public setter on values the reader has checked for
// type (invalid UTF-8, a bool element past 1) into DATA_LOSS at |offset|.
static kiln_status_t setter_failure(kiln_status_t status, size_t offset,
                                    const char* name) {
  if (!status) return NULL;
  if (kiln_status_code(status) == KILN_STATUS_RESOURCE_EXHAUSTED) {
    return status;
  }
  kiln_status_t result = kiln_make_status(
      KILN_STATUS_DATA_LOSS, "host attributes byte %zu: attribute '%s': %s",
      offset, name, kiln_status_message(status));
  kiln_status_free(status);
  return result;
}

// Reads the value of attribute |name| of |type| and sets it in |attrs|.
static kiln_status_t read_value(kiln__reader_t* r, kiln_attr_type_t type,
                                const char* name, kiln_allocator_t allocator,
                                kiln_attrs_t* attrs) {
  size_t at = r->offset;
  switch (type) {
    case KILN_ATTR_TYPE_INT64: {
      int64_t v;
      KILN_RETURN_IF_ERROR(kiln__reader_svarint(r, "an int64 value", &v));
      return setter_failure(kiln_attrs_set_int64(attrs, name, v), at, name);
    }
    case KILN_ATTR_TYPE_FLOAT64: {
      uint64_t bits;
      KILN_RETURN_IF_ERROR(kiln__reader_u64(r, "a float64 value", &bits));
      double v;
      memcpy(&v, &bits, sizeof(v));
      return setter_failure(kiln_attrs_set_float64(attrs, name, v), at, name);
    }
    case KILN_ATTR_TYPE_BOOL: {
      uint8_t v;
      KILN_RETURN_IF_ERROR(kiln__reader_u8(r, "a bool value", &v));
      if (v > 1) {
        return kiln_make_status(KILN_STATUS_DATA_LOSS,
                                "host attributes byte %zu: attribute '%s': "
                                "bool value is %u, not 0 or 1",
                                at, name, (unsigned)v);
      }
      return setter_failure(kiln_attrs_set_bool(attrs, name, v != 0), at, name);
    }
    case KILN_ATTR_TYPE_STRING:
    case KILN_ATTR_TYPE_BYTES: {
      uint64_t size;
      KILN_RETURN_IF_ERROR(kiln__reader_varint(r, "a value size", &size));
      if (size > kiln__reader_remaining(r)) {
        return kiln_make_status(
            KILN_STATUS_DATA_LOSS,
            "host attributes byte %zu: attribute '%s' says %llu bytes, but "
            "%zu remain",
            at, name, (unsigned long long)size, kiln__reader_remaining(r));
      }
      size_t data_at = r->offset;
      const uint8_t* data;
      KILN_RETURN_IF_ERROR(
          kiln__reader_bytes(r, (size_t)size, "a value", &data));
      if (type == KILN_ATTR_TYPE_STRING) {
        return setter_failure(
            kiln_attrs_set_string(
                attrs, name,
                kiln_make_string_view((const char*)data, (size_t)size)),
            data_at, name);
      }
      kiln_const_bytes_t value = {data, (size_t)size};
      return setter_failure(kiln_attrs_set_bytes(attrs, name, value), data_at,
                            name);
    }
    default: {
      size_t element_size = kiln_attr_type_element_size(type);
      uint64_t count;
      KILN_RETURN_IF_ERROR(
          kiln__reader_varint(r, "an array element count", &count));
      if (count > kiln__reader_remaining(r) / element_size) {
        return kiln_make_status(
            KILN_STATUS_DATA_LOSS,
            "host attributes byte %zu: attribute '%s' says %llu elements of "
            "%zu bytes, but %zu bytes remain",
            at, name, (unsigned long long)count, element_size,
            kiln__reader_remaining(r));
      }
      size_t data_at = r->offset;
      size_t size = (size_t)count * element_size;
      const uint8_t* data;
      KILN_RETURN_IF_ERROR(
          kiln__reader_bytes(r, size, "array elements", &data));
      if (element_size == 1 || host_is_little_endian()) {
        return setter_failure(
            kiln_attrs_set_array(attrs, name, type, data, (size_t)count),
            data_at, name);
      }
      // A big-endian host: decode into host order first.
      void* block = NULL;
      KILN_RETURN_IF_ERROR(kiln_allocator_malloc(allocator, size, &block));
      uint8_t* out = (uint8_t*)block;
      for (size_t i = 0; i < (size_t)count; ++i) {
        uint64_t v = 0;
        for (size_t b = 0; b < element_size; ++b) {
          v |= (uint64_t)data[i * element_size + b] << (8 * b);
        }
        if (element_size == 2) {
          uint16_t e = (uint16_t)v;
          memcpy(out + 2 * i, &e, 2);
        } else if (element_size == 4) {
          uint32_t e = (uint32_t)v;
          memcpy(out + 4 * i, &e, 4);
        } else {
          memcpy(out + 8 * i, &v, 8);
        }
      }
      kiln_status_t status = setter_failure(
          kiln_attrs_set_array(attrs, name, type, block, (size_t)count),
          data_at, name);
      kiln_allocator_free(allocator, block);
      return status;
    }
  }
}

static kiln_status_t read_entries(kiln__reader_t* r,
                                  const kiln_plugin_t* plugin,
                                  kiln_allocator_t allocator,
                                  kiln_attrs_t* attrs) {
  uint8_t version;
  KILN_RETURN_IF_ERROR(kiln__reader_u8(r, "the encoding version", &version));
  if (version != ATTRS_ENCODING_VERSION) {
    return kiln_make_status(KILN_STATUS_DATA_LOSS,
                            "host attributes byte 0: encoding version %u; "
                            "this kiln reads version %d",
                            (unsigned)version, ATTRS_ENCODING_VERSION);
  }
  size_t count_at = r->offset;
  uint64_t count;
  KILN_RETURN_IF_ERROR(kiln__reader_varint(r, "the attribute count", &count));
  if (count > KILN_MAX_ATTRS) {
    return kiln_make_status(KILN_STATUS_DATA_LOSS,
                            "host attributes byte %zu: %llu attributes, more "
                            "than the %d a plugin may declare",
                            count_at, (unsigned long long)count,
                            KILN_MAX_ATTRS);
  }
  uint64_t seen = 0;
  for (uint64_t e = 0; e < count; ++e) {
    size_t entry_at = r->offset;
    uint64_t name_size;
    KILN_RETURN_IF_ERROR(
        kiln__reader_varint(r, "an attribute name size", &name_size));
    if (name_size == 0 || name_size > MAX_NAME_SIZE) {
      return kiln_make_status(KILN_STATUS_DATA_LOSS,
                              "host attributes byte %zu: attribute %llu has a "
                              "name of %llu bytes (1..%d allowed)",
                              entry_at, (unsigned long long)e,
                              (unsigned long long)name_size, MAX_NAME_SIZE);
    }
    size_t name_at = r->offset;
    const uint8_t* name_bytes;
    KILN_RETURN_IF_ERROR(kiln__reader_bytes(r, (size_t)name_size,
                                            "an attribute name", &name_bytes));
    char name[MAX_NAME_SIZE + 1];
    memcpy(name, name_bytes, (size_t)name_size);
    name[name_size] = '\0';
    if (strlen(name) != name_size || !kiln__is_identifier(name)) {
      return kiln_make_status(KILN_STATUS_DATA_LOSS,
                              "host attributes byte %zu: attribute %llu name "
                              "is not an identifier",
                              name_at, (unsigned long long)e);
    }
    size_t type_at = r->offset;
    uint8_t type;
    KILN_RETURN_IF_ERROR(kiln__reader_u8(r, "an attribute type", &type));
    if (type >= KILN_ATTR_TYPE_COUNT) {
      return kiln_make_status(KILN_STATUS_DATA_LOSS,
                              "host attributes byte %zu: attribute '%s' has "
                              "type %u; known types are 0..%d",
                              type_at, name, (unsigned)type,
                              KILN_ATTR_TYPE_COUNT - 1);
    }
    int32_t index = kiln__plugin_find_attr(plugin, name);
    if (index < 0) {
      return kiln_make_status(
          KILN_STATUS_INCOMPATIBLE,
          "host attributes byte %zu: the engine sets attribute '%s', which "
          "plugin '%.*s' does not declare (was the engine built with another "
          "version of the plugin?)",
          name_at, name, KILN_SV_ARG(plugin->id));
    }
    kiln_attr_type_t declared = plugin->def.attrs[index].type;
    if (declared != (kiln_attr_type_t)type) {
      return kiln_make_status(
          KILN_STATUS_INCOMPATIBLE,
          "host attributes byte %zu: the engine holds attribute '%s' as %s, "
          "but plugin '%.*s' declares it %s (was the engine built with "
          "another version of the plugin?)",
          type_at, name, kiln_attr_type_name((kiln_attr_type_t)type),
          KILN_SV_ARG(plugin->id), kiln_attr_type_name(declared));
    }
    uint64_t bit = UINT64_C(1) << index;
    if (seen & bit) {
      return kiln_make_status(KILN_STATUS_DATA_LOSS,
                              "host attributes byte %zu: attribute '%s' "
                              "appears twice",
                              entry_at, name);
    }
    seen |= bit;
    KILN_RETURN_IF_ERROR(read_value(r, declared, name, allocator, attrs));
  }
  if (kiln__reader_remaining(r) != 0) {
    return kiln_make_status(KILN_STATUS_DATA_LOSS,
                            "host attributes byte %zu: %zu bytes follow the "
                            "last attribute",
                            r->offset, kiln__reader_remaining(r));
  }
  return NULL;
}

kiln_status_t kiln__attrs_deserialize(const kiln_plugin_t* plugin,
                                      kiln_const_bytes_t bytes,
                                      kiln_allocator_t allocator,
                                      kiln_attrs_t** out_attrs) {
  if (!out_attrs) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "kiln__attrs_deserialize: out_attrs is NULL");
  }
  *out_attrs = NULL;
  if (!plugin || (bytes.size > 0 && !bytes.data)) {
    return kiln_make_status(KILN_STATUS_INVALID_ARGUMENT,
                            "kiln__attrs_deserialize: NULL plugin or bytes");
  }
  kiln_attrs_t* attrs = NULL;
  KILN_RETURN_IF_ERROR(kiln_attrs_create(plugin, allocator, &attrs));
  kiln_status_t status = NULL;
  if (bytes.size > 0) {
    kiln__reader_t r;
    kiln__reader_init(&r, bytes, 0);
    status = read_entries(&r, plugin, allocator, attrs);
    if (status && kiln_status_code(status) == KILN_STATUS_DATA_LOSS &&
        !strstr(kiln_status_message(status), "host attributes")) {
      // A reader failure (truncation) names the offset but not the field.
      status = kiln_status_annotate(status, "host attributes");
    }
  }
  if (status) {
    kiln_attrs_destroy(attrs);
    return status;
  }
  *out_attrs = attrs;
  return NULL;
}
