// Tests of src/plugin apart from the registry: dtypes and formats, tensor
// descriptors, attribute values and callback views, describe validation and
// autotune results with TensorRT's AutoTuneCombination grammar.

#include "plugin/plugin.h"

#include <stdio.h>
#include <stdlib.h>

#include "test.h"

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

static kiln_status_t copy_input_describe(void* user_data,
                                         const kiln_describe_args_t* args,
                                         kiln_tensor_desc_t* outputs) {
  (void)user_data;
  for (size_t i = 0; i < args->output_count; ++i) {
    outputs[i] = kiln_tensor_desc_like(&args->inputs[0]);
  }
  return NULL;
}

static kiln_plugin_def_t simple_def(const char* id) {
  kiln_plugin_def_t def;
  memset(&def, 0, sizeof(def));
  def.abi_version = KILN_PLUGIN_ABI_VERSION;
  def.id = id;
  def.input_count = 1;
  def.output_count = 1;
  def.describe = copy_input_describe;
  return def;
}

// A registry and a sym table that a test tears down with fixture_deinit.
typedef struct fixture_t {
  kiln_registry_t* registry;
  kiln_sym_table_t* sym;
} fixture_t;

static kiln_status_t fixture_init(fixture_t* f) {
  memset(f, 0, sizeof(*f));
  KILN_RETURN_IF_ERROR(
      kiln_registry_create(kiln_allocator_system(), NULL, &f->registry));
  return kiln_sym_table_create(kiln_allocator_system(), &f->sym);
}

static void fixture_deinit(fixture_t* f) {
  kiln_sym_table_destroy(f->sym);
  kiln_registry_release(f->registry);
}

#define FIXTURE(f)                        \
  fixture_t f;                            \
  do {                                    \
    kiln_status_t fs_ = fixture_init(&f); \
    if (fs_) {                            \
      fixture_deinit(&f);                 \
      ASSERT_OK(fs_);                     \
    }                                     \
  } while (0)

//===----------------------------------------------------------------------===//
// dtypes and formats
//===----------------------------------------------------------------------===//

TEST(dtype_names_and_sizes) {
  ASSERT_EQ_STR(kiln_dtype_name(KILN_DTYPE_FLOAT32), "float32");
  ASSERT_EQ_STR(kiln_dtype_name(KILN_DTYPE_BFLOAT16), "bfloat16");
  ASSERT_EQ_STR(kiln_dtype_name(KILN_DTYPE_FP8_E4M3), "fp8e4m3");
  ASSERT_EQ_STR(kiln_dtype_name(KILN_DTYPE_FP8_E5M2), "fp8e5m2");
  ASSERT_EQ_STR(kiln_dtype_name(KILN_DTYPE_BOOL), "bool");
  ASSERT_EQ_STR(kiln_dtype_name(KILN_DTYPE_COUNT), "unknown");
  ASSERT_EQ_STR(kiln_dtype_name((kiln_dtype_t)-1), "unknown");
  ASSERT_EQ_U64(kiln_dtype_size(KILN_DTYPE_FLOAT32), 4);
  ASSERT_EQ_U64(kiln_dtype_size(KILN_DTYPE_FLOAT16), 2);
  ASSERT_EQ_U64(kiln_dtype_size(KILN_DTYPE_BFLOAT16), 2);
  ASSERT_EQ_U64(kiln_dtype_size(KILN_DTYPE_FP8_E4M3), 1);
  ASSERT_EQ_U64(kiln_dtype_size(KILN_DTYPE_INT64), 8);
  ASSERT_EQ_U64(kiln_dtype_size(KILN_DTYPE_INT32), 4);
  ASSERT_EQ_U64(kiln_dtype_size(KILN_DTYPE_BOOL), 1);
  ASSERT_EQ_U64(kiln_dtype_size(KILN_DTYPE_COUNT), 0);
  ASSERT_EQ_STR(kiln_format_name(KILN_FORMAT_LINEAR), "LINEAR");
  ASSERT_EQ_STR(kiln_format_name(KILN_FORMAT_COUNT), "unknown");
}

TEST(dtype_parse_names) {
  static const struct {
    const char* name;
    kiln_dtype_t dtype;
  } cases[] = {
      {"float32", KILN_DTYPE_FLOAT32},  {"FP32", KILN_DTYPE_FLOAT32},
      {"fp32", KILN_DTYPE_FLOAT32},     {"FLOAT", KILN_DTYPE_FLOAT32},
      {"Float", KILN_DTYPE_FLOAT32},    {"FP16", KILN_DTYPE_FLOAT16},
      {"HALF", KILN_DTYPE_FLOAT16},     {"float16", KILN_DTYPE_FLOAT16},
      {"BF16", KILN_DTYPE_BFLOAT16},    {"bfloat16", KILN_DTYPE_BFLOAT16},
      {"FP8", KILN_DTYPE_FP8_E4M3},     {"fp8e4m3", KILN_DTYPE_FP8_E4M3},
      {"FP8E5M2", KILN_DTYPE_FP8_E5M2}, {"INT8", KILN_DTYPE_INT8},
      {"INT32", KILN_DTYPE_INT32},      {"int64", KILN_DTYPE_INT64},
      {"UINT8", KILN_DTYPE_UINT8},      {"BOOL", KILN_DTYPE_BOOL},
      {"Bool", KILN_DTYPE_BOOL},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
    kiln_dtype_t dtype = KILN_DTYPE_COUNT;
    ASSERT_OK(kiln_dtype_parse(kiln_make_cstring_view(cases[i].name), &dtype));
    ASSERT_EQ_I64(dtype, cases[i].dtype);
  }
  kiln_dtype_t dtype;
  ASSERT_STATUS(kiln_dtype_parse(kiln_make_cstring_view("FP33"), &dtype),
                KILN_STATUS_INVALID_ARGUMENT, "unknown dtype 'FP33'");
  ASSERT_STATUS(kiln_dtype_parse(kiln_make_cstring_view(""), &dtype),
                KILN_STATUS_INVALID_ARGUMENT, "unknown dtype ''");
  ASSERT_STATUS(kiln_dtype_parse(kiln_make_cstring_view("FP32 "), &dtype),
                KILN_STATUS_INVALID_ARGUMENT, "unknown dtype 'FP32 '");
  // A prefix is not a match.
  ASSERT_STATUS(kiln_dtype_parse(kiln_make_string_view("FP32", 3), &dtype),
                KILN_STATUS_INVALID_ARGUMENT, "unknown dtype 'FP3'");
  kiln_format_t format = KILN_FORMAT_COUNT;
  ASSERT_OK(kiln_format_parse(kiln_make_cstring_view("linear"), &format));
  ASSERT_EQ_I64(format, KILN_FORMAT_LINEAR);
  ASSERT_STATUS(kiln_format_parse(kiln_make_cstring_view("HWC"), &format),
                KILN_STATUS_INVALID_ARGUMENT, "unknown format 'HWC'");
}

//===----------------------------------------------------------------------===//
// Tensor descriptors
//===----------------------------------------------------------------------===//

TEST(tensor_desc_like_aliased_make_numel) {
  FIXTURE(f);
  kiln_sym_t dims[3] = {kiln_sym_dim(f.sym, 0, 0), kiln_sym_const(f.sym, 4),
                        kiln_sym_dim(f.sym, 0, 2)};
  kiln_tensor_desc_t d = kiln_tensor_desc_make(KILN_DTYPE_FLOAT16, 3, dims);
  bool made = d.dtype == KILN_DTYPE_FLOAT16 && d.format == KILN_FORMAT_LINEAR &&
              d.rank == 3 && d.dims[1] == dims[1] && d.aliased_input == -1 &&
              !d.is_size_tensor;
  d.is_size_tensor = true;
  kiln_tensor_desc_t a = kiln_tensor_desc_aliased(&d, 2);
  kiln_tensor_desc_t l = kiln_tensor_desc_like(&a);
  bool copies = a.aliased_input == 2 && !a.is_size_tensor &&
                a.dims[2] == dims[2] && l.aliased_input == -1 && l.rank == 3 &&
                l.dims[0] == dims[0];
  kiln_sym_t numel = kiln_tensor_desc_numel(f.sym, &d);
  kiln_sym_t expected =
      kiln_sym_mul(f.sym, kiln_sym_mul(f.sym, dims[0], dims[1]), dims[2]);
  kiln_tensor_desc_t scalar = kiln_tensor_desc_make(KILN_DTYPE_INT32, 0, NULL);
  int64_t one = 0;
  bool scalar_one =
      kiln_sym_is_constant(kiln_tensor_desc_numel(f.sym, &scalar), &one) &&
      one == 1;
  kiln_tensor_desc_t bad = kiln_tensor_desc_make(KILN_DTYPE_INT32, 9, NULL);
  kiln_sym_t bad_numel = kiln_tensor_desc_numel(f.sym, &bad);
  kiln_status_t recorded = kiln_sym_table_take_error(f.sym);
  kiln_tensor_desc_t none = kiln_tensor_desc_like(NULL);
  fixture_deinit(&f);
  ASSERT_TRUE(made);
  ASSERT_TRUE(copies);
  ASSERT_TRUE(numel != NULL);
  ASSERT_EQ_PTR(numel, expected);
  ASSERT_TRUE(scalar_one);
  ASSERT_EQ_PTR(bad_numel, NULL);
  ASSERT_TRUE(recorded != NULL);
  kiln_status_free(recorded);
  ASSERT_EQ_I64(bad.rank, 9);
  ASSERT_EQ_I64(none.aliased_input, -1);
  ASSERT_STATUS(kiln_tensor_desc_validate(&none, "output 0"),
                KILN_STATUS_INVALID_ARGUMENT, "output 0: dtype 10");
}

TEST(tensor_desc_validate) {
  FIXTURE(f);
  kiln_sym_t dims[2] = {kiln_sym_dim(f.sym, 0, 0), kiln_sym_const(f.sym, 4)};
  kiln_tensor_desc_t ok = kiln_tensor_desc_make(KILN_DTYPE_FLOAT32, 2, dims);
  kiln_tensor_desc_t bad_dtype = ok;
  bad_dtype.dtype = (kiln_dtype_t)42;
  kiln_tensor_desc_t bad_format = ok;
  bad_format.format = (kiln_format_t)3;
  kiln_tensor_desc_t bad_rank = ok;
  bad_rank.rank = KILN_MAX_RANK + 1;
  kiln_tensor_desc_t negative_rank = ok;
  negative_rank.rank = -1;
  kiln_tensor_desc_t null_dim = ok;
  null_dim.dims[1] = NULL;
  kiln_tensor_desc_t size_rank = ok;
  size_rank.dtype = KILN_DTYPE_INT64;
  size_rank.is_size_tensor = true;
  kiln_tensor_desc_t size_dtype =
      kiln_tensor_desc_make(KILN_DTYPE_FLOAT32, 0, NULL);
  size_dtype.is_size_tensor = true;
  kiln_tensor_desc_t size_ok = kiln_tensor_desc_make(KILN_DTYPE_INT32, 0, NULL);
  size_ok.is_size_tensor = true;
  fixture_deinit(&f);
  ASSERT_OK(kiln_tensor_desc_validate(&ok, "input 0"));
  ASSERT_OK(kiln_tensor_desc_validate(&size_ok, "output 1"));
  ASSERT_STATUS(kiln_tensor_desc_validate(&bad_dtype, "output 1"),
                KILN_STATUS_INVALID_ARGUMENT,
                "output 1: dtype 42 is not a kiln_dtype_t");
  ASSERT_STATUS(kiln_tensor_desc_validate(&bad_format, "output 1"),
                KILN_STATUS_INVALID_ARGUMENT,
                "output 1: format 3 is not a kiln_format_t");
  ASSERT_STATUS(kiln_tensor_desc_validate(&bad_rank, "output 2"),
                KILN_STATUS_INVALID_ARGUMENT,
                "output 2: rank 9 is outside 0..8");
  ASSERT_STATUS(kiln_tensor_desc_validate(&negative_rank, "x"),
                KILN_STATUS_INVALID_ARGUMENT, "x: rank -1 is outside");
  ASSERT_STATUS(kiln_tensor_desc_validate(&null_dim, "output 0"),
                KILN_STATUS_INVALID_ARGUMENT, "output 0: dimension 1 is NULL");
  ASSERT_STATUS(kiln_tensor_desc_validate(&size_rank, "output 0"),
                KILN_STATUS_INVALID_ARGUMENT,
                "output 0: a size tensor must have rank 0, has rank 2");
  ASSERT_STATUS(kiln_tensor_desc_validate(&size_dtype, "output 0"),
                KILN_STATUS_INVALID_ARGUMENT,
                "output 0: a size tensor must be int32 or int64, is float32");
  ASSERT_STATUS(kiln_tensor_desc_validate(NULL, NULL),
                KILN_STATUS_INVALID_ARGUMENT, "tensor: descriptor is NULL");
}

//===----------------------------------------------------------------------===//
// Attributes
//===----------------------------------------------------------------------===//

static const kiln_attr_field_t all_types[] = {
    {"i", KILN_ATTR_TYPE_INT64},
    {"f", KILN_ATTR_TYPE_FLOAT64},
    {"b", KILN_ATTR_TYPE_BOOL},
    {"s", KILN_ATTR_TYPE_STRING},
    {"raw", KILN_ATTR_TYPE_BYTES},
    {"a_i8", KILN_ATTR_TYPE_ARRAY_INT8},
    {"a_i16", KILN_ATTR_TYPE_ARRAY_INT16},
    {"a_i32", KILN_ATTR_TYPE_ARRAY_INT32},
    {"a_i64", KILN_ATTR_TYPE_ARRAY_INT64},
    {"a_f16", KILN_ATTR_TYPE_ARRAY_FLOAT16},
    {"a_f32", KILN_ATTR_TYPE_ARRAY_FLOAT32},
    {"a_f64", KILN_ATTR_TYPE_ARRAY_FLOAT64},
    {"a_bool", KILN_ATTR_TYPE_ARRAY_BOOL},
};

TEST(attr_type_names) {
  static const char* const names[] = {
      "int64",     "float64",   "bool",    "string",  "bytes",
      "int8[]",    "int16[]",   "int32[]", "int64[]", "float16[]",
      "float32[]", "float64[]", "bool[]",
  };
  static const size_t sizes[] = {0, 0, 0, 0, 0, 1, 2, 4, 8, 2, 4, 8, 1};
  for (int i = 0; i < KILN_ATTR_TYPE_COUNT; ++i) {
    ASSERT_EQ_STR(kiln_attr_type_name((kiln_attr_type_t)i), names[i]);
    ASSERT_EQ_U64(kiln_attr_type_element_size((kiln_attr_type_t)i), sizes[i]);
  }
  ASSERT_EQ_STR(kiln_attr_type_name(KILN_ATTR_TYPE_COUNT), "unknown");
  ASSERT_EQ_U64(kiln_attr_type_element_size(KILN_ATTR_TYPE_COUNT), 0);
}

// Sets and reads back every attribute of |all_types|; returns a message on
// the first mismatch or NULL.
static kiln_status_t round_trip_all(kiln_attrs_t* attrs) {
  static const int8_t i8[] = {-1, 2, 127};
  static const int16_t i16[] = {-300, 301};
  static const int32_t i32[] = {1, -2, 3, 70000};
  static const int64_t i64[] = {INT64_MIN, 0, INT64_MAX};
  static const uint16_t f16[] = {0x3c00, 0xc000};
  static const float f32[] = {1.5f, -2.25f};
  static const double f64[] = {3.125, -1e300};
  static const uint8_t bools[] = {1, 0, 1};
  static const uint8_t raw[] = {0, 255, 0, 7};
  static const struct {
    const char* name;
    kiln_attr_type_t type;
    const void* data;
    size_t count;
    size_t bytes;
  } arrays[] = {
      {"a_i8", KILN_ATTR_TYPE_ARRAY_INT8, i8, 3, sizeof(i8)},
      {"a_i16", KILN_ATTR_TYPE_ARRAY_INT16, i16, 2, sizeof(i16)},
      {"a_i32", KILN_ATTR_TYPE_ARRAY_INT32, i32, 4, sizeof(i32)},
      {"a_i64", KILN_ATTR_TYPE_ARRAY_INT64, i64, 3, sizeof(i64)},
      {"a_f16", KILN_ATTR_TYPE_ARRAY_FLOAT16, f16, 2, sizeof(f16)},
      {"a_f32", KILN_ATTR_TYPE_ARRAY_FLOAT32, f32, 2, sizeof(f32)},
      {"a_f64", KILN_ATTR_TYPE_ARRAY_FLOAT64, f64, 2, sizeof(f64)},
      {"a_bool", KILN_ATTR_TYPE_ARRAY_BOOL, bools, 3, sizeof(bools)},
  };
  KILN_RETURN_IF_ERROR(kiln_attrs_set_int64(attrs, "i", -42));
  KILN_RETURN_IF_ERROR(kiln_attrs_set_float64(attrs, "f", 0.5));
  KILN_RETURN_IF_ERROR(kiln_attrs_set_bool(attrs, "b", true));
  KILN_RETURN_IF_ERROR(kiln_attrs_set_string(
      attrs, "s", kiln_make_string_view("h\xc3\xa9llo\0x", 8)));
  kiln_const_bytes_t raw_in = {raw, sizeof(raw)};
  KILN_RETURN_IF_ERROR(kiln_attrs_set_bytes(attrs, "raw", raw_in));
  for (size_t k = 0; k < sizeof(arrays) / sizeof(arrays[0]); ++k) {
    KILN_RETURN_IF_ERROR(kiln_attrs_set_array(attrs, arrays[k].name,
                                              arrays[k].type, arrays[k].data,
                                              arrays[k].count));
  }
  int64_t i = 0;
  double d = 0;
  bool b = false;
  kiln_string_view_t s;
  kiln_const_bytes_t r;
  KILN_RETURN_IF_ERROR(kiln_attrs_get_int64(attrs, "i", &i));
  KILN_RETURN_IF_ERROR(kiln_attrs_get_float64(attrs, "f", &d));
  KILN_RETURN_IF_ERROR(kiln_attrs_get_bool(attrs, "b", &b));
  KILN_RETURN_IF_ERROR(kiln_attrs_get_string(attrs, "s", &s));
  KILN_RETURN_IF_ERROR(kiln_attrs_get_bytes(attrs, "raw", &r));
  if (i != -42 || d != 0.5 || !b || s.size != 8 ||
      memcmp(s.data, "h\xc3\xa9llo\0x", 8) != 0 || r.size != 4 ||
      memcmp(r.data, raw, 4) != 0) {
    return kiln_make_status(KILN_STATUS_INTERNAL, "scalar round trip differs");
  }
  for (size_t k = 0; k < sizeof(arrays) / sizeof(arrays[0]); ++k) {
    const void* data = NULL;
    size_t count = 0;
    KILN_RETURN_IF_ERROR(kiln_attrs_get_array(attrs, arrays[k].name,
                                              arrays[k].type, &data, &count));
    if (count != arrays[k].count ||
        memcmp(data, arrays[k].data, arrays[k].bytes) != 0) {
      return kiln_make_status(KILN_STATUS_INTERNAL, "array %s differs",
                              arrays[k].name);
    }
  }
  // An empty array and an empty string are values too.
  KILN_RETURN_IF_ERROR(kiln_attrs_set_array(
      attrs, "a_i32", KILN_ATTR_TYPE_ARRAY_INT32, NULL, 0));
  const void* data = NULL;
  size_t count = 7;
  KILN_RETURN_IF_ERROR(kiln_attrs_get_array(
      attrs, "a_i32", KILN_ATTR_TYPE_ARRAY_INT32, &data, &count));
  KILN_RETURN_IF_ERROR(
      kiln_attrs_set_string(attrs, "s", kiln_make_string_view(NULL, 0)));
  KILN_RETURN_IF_ERROR(kiln_attrs_get_string(attrs, "s", &s));
  if (count != 0 || !data || s.size != 0 || !s.data) {
    return kiln_make_status(KILN_STATUS_INTERNAL, "empty values differ");
  }
  return kiln_attrs_check_complete(attrs);
}

TEST(attrs_round_trip_every_type) {
  FIXTURE(f);
  kiln_test_allocator_t ta = kiln_test_allocator_make();
  kiln_plugin_def_t def = simple_def("my::all_types");
  def.attrs = all_types;
  def.attr_count = sizeof(all_types) / sizeof(all_types[0]);
  const kiln_plugin_t* plugin = NULL;
  kiln_attrs_t* attrs = NULL;
  kiln_status_t status = kiln_registry_register(f.registry, &def, &plugin);
  if (!status) {
    status = kiln_attrs_create(plugin, kiln_test_allocator_get(&ta), &attrs);
  }
  if (!status) status = round_trip_all(attrs);
  bool has = attrs && kiln_attrs_has(attrs, "a_bool") &&
             !kiln_attrs_has(attrs, "nope") && !kiln_attrs_has(NULL, "i");
  kiln_attrs_destroy(attrs);
  fixture_deinit(&f);
  ASSERT_OK(status);
  ASSERT_TRUE(has);
  ASSERT_EQ_U64(ta.live, 0);
}

TEST(attrs_type_and_name_errors) {
  FIXTURE(f);
  kiln_attr_field_t fields[] = {{"block_size", KILN_ATTR_TYPE_INT64},
                                {"flags", KILN_ATTR_TYPE_ARRAY_BOOL},
                                {"name", KILN_ATTR_TYPE_STRING}};
  kiln_plugin_def_t def = simple_def("my::add_plugin");
  def.attrs = fields;
  def.attr_count = 3;
  const kiln_plugin_t* plugin = NULL;
  kiln_attrs_t* attrs = NULL;
  kiln_status_t status = kiln_registry_register(f.registry, &def, &plugin);
  if (!status) {
    status = kiln_attrs_create(plugin, kiln_allocator_system(), &attrs);
  }
  if (status) fixture_deinit(&f);
  ASSERT_OK(status);
  kiln_attrs_t* a = attrs;
  // Keep going past failures so that everything is freed at the end.
#define EXPECT(expr, code, needle)                                 \
  do {                                                             \
    kiln_status_t st_ = (expr);                                    \
    if (kiln_status_code(st_) != (code) ||                         \
        !strstr(kiln_status_message(st_), (needle))) {             \
      kiln_test_fail(t_, __FILE__, __LINE__, "%s: %s: %s", #expr,  \
                     kiln_status_code_name(kiln_status_code(st_)), \
                     kiln_status_message(st_));                    \
    }                                                              \
    kiln_status_free(st_);                                         \
  } while (0)
  double d = 0;
  int64_t i = 0;
  EXPECT(kiln_attrs_set_float64(a, "block_size", 1.0),
         KILN_STATUS_INVALID_ARGUMENT,
         "plugin 'my::add_plugin': attribute 'block_size' is int64, given "
         "float64");
  EXPECT(kiln_attrs_set_bool(a, "block_size", true),
         KILN_STATUS_INVALID_ARGUMENT, "is int64, given bool");
  EXPECT(kiln_attrs_set_string(a, "block_size", kiln_make_cstring_view("1")),
         KILN_STATUS_INVALID_ARGUMENT, "is int64, given string");
  EXPECT(
      kiln_attrs_set_array(a, "block_size", KILN_ATTR_TYPE_ARRAY_INT64, &i, 1),
      KILN_STATUS_INVALID_ARGUMENT, "is int64, given int64[]");
  EXPECT(kiln_attrs_set_array(a, "flags", KILN_ATTR_TYPE_INT64, &i, 1),
         KILN_STATUS_INVALID_ARGUMENT, "int64, which is not an array type");
  EXPECT(kiln_attrs_get_float64(a, "block_size", &d),
         KILN_STATUS_INVALID_ARGUMENT,
         "plugin 'my::add_plugin': attribute 'block_size' is int64, asked for "
         "float64");
  EXPECT(kiln_attrs_set_int64(a, "blocksize", 1), KILN_STATUS_INVALID_ARGUMENT,
         "plugin 'my::add_plugin' has no attribute 'blocksize' (declared: "
         "block_size, flags, name)");
  EXPECT(kiln_attrs_get_int64(a, "blocksize", &i), KILN_STATUS_INVALID_ARGUMENT,
         "has no attribute 'blocksize'");
  EXPECT(kiln_attrs_get_int64(a, NULL, &i), KILN_STATUS_INVALID_ARGUMENT,
         "attribute name is NULL");
  // Declared but not set.
  EXPECT(kiln_attrs_get_int64(a, "block_size", &i), KILN_STATUS_NOT_FOUND,
         "plugin 'my::add_plugin': attribute 'block_size' (int64) is not set");
  EXPECT(
      kiln_attrs_check_complete(a), KILN_STATUS_INVALID_ARGUMENT,
      "plugin 'my::add_plugin': attribute 'block_size' (int64) has no value");
  EXPECT(kiln_attrs_set_int64(a, "block_size", 256), KILN_STATUS_OK, "");
  EXPECT(kiln_attrs_check_complete(a), KILN_STATUS_INVALID_ARGUMENT,
         "attribute 'flags' (bool[]) has no value");
  static const uint8_t not_bool[] = {1, 2};
  EXPECT(
      kiln_attrs_set_array(a, "flags", KILN_ATTR_TYPE_ARRAY_BOOL, not_bool, 2),
      KILN_STATUS_INVALID_ARGUMENT, "bool element 1 is 2, not 0 or 1");
  EXPECT(kiln_attrs_set_array(a, "flags", KILN_ATTR_TYPE_ARRAY_BOOL, NULL, 2),
         KILN_STATUS_INVALID_ARGUMENT, "2 elements have no data");
  EXPECT(kiln_attrs_set_string(a, "name", kiln_make_cstring_view("\xff\xfe")),
         KILN_STATUS_INVALID_ARGUMENT, "not valid UTF-8 at byte 0");
  EXPECT(kiln_attrs_set_string(a, "name", kiln_make_cstring_view("ok\xc3")),
         KILN_STATUS_INVALID_ARGUMENT, "not valid UTF-8 at byte 2");
  EXPECT(kiln_attrs_get_int64(NULL, "block_size", &i),
         KILN_STATUS_INVALID_ARGUMENT, "NULL");
  // A failed set keeps the old value.
  EXPECT(kiln_attrs_set_string(a, "name", kiln_make_cstring_view("first")),
         KILN_STATUS_OK, "");
  EXPECT(kiln_attrs_set_string(a, "name", kiln_make_cstring_view("\xc0\x80")),
         KILN_STATUS_INVALID_ARGUMENT, "UTF-8");
  kiln_string_view_t s = kiln_make_cstring_view("");
  EXPECT(kiln_attrs_get_string(a, "name", &s), KILN_STATUS_OK, "");
  bool kept = kiln_string_view_equal(s, kiln_make_cstring_view("first"));
  int64_t value = 0;
  EXPECT(kiln_attrs_get_int64(a, "block_size", &value), KILN_STATUS_OK, "");
#undef EXPECT
  kiln_attrs_destroy(attrs);
  fixture_deinit(&f);
  ASSERT_TRUE(kept);
  ASSERT_EQ_I64(value, 256);
}

TEST(attrs_plugin_without_attributes) {
  FIXTURE(f);
  kiln_plugin_def_t def = simple_def("my::bare");
  const kiln_plugin_t* plugin = NULL;
  kiln_attrs_t* attrs = NULL;
  kiln_status_t status = kiln_registry_register(f.registry, &def, &plugin);
  if (!status) {
    status = kiln_attrs_create(plugin, kiln_allocator_system(), &attrs);
  }
  kiln_status_t unknown = attrs ? kiln_attrs_set_int64(attrs, "x", 1) : NULL;
  kiln_status_t complete = attrs ? kiln_attrs_check_complete(attrs) : NULL;
  kiln_attrs_destroy(attrs);
  fixture_deinit(&f);
  ASSERT_OK(status);
  ASSERT_STATUS(unknown, KILN_STATUS_INVALID_ARGUMENT,
                "plugin 'my::bare' has no attribute 'x' (declared: none)");
  ASSERT_OK(complete);
}

//===----------------------------------------------------------------------===//
// Callback views
//===----------------------------------------------------------------------===//

// What the describe callback saw through its view.
typedef struct view_probe_t {
  kiln_status_code_t declared_code;
  int64_t declared_value;
  kiln_status_code_t undeclared_code;
  char undeclared_message[256];
  bool has_undeclared;
  kiln_status_code_t set_code;
  kiln_status_code_t complete_code;
} view_probe_t;

static kiln_status_t probing_describe(void* user_data,
                                      const kiln_describe_args_t* args,
                                      kiln_tensor_desc_t* outputs) {
  view_probe_t* probe = (view_probe_t*)user_data;
  kiln_status_t s =
      kiln_attrs_get_int64(args->attrs, "block_size", &probe->declared_value);
  probe->declared_code = kiln_status_code(s);
  kiln_status_free(s);
  kiln_string_view_t mode;
  s = kiln_attrs_get_string(args->attrs, "mode", &mode);
  probe->undeclared_code = kiln_status_code(s);
  snprintf(probe->undeclared_message, sizeof(probe->undeclared_message), "%s",
           kiln_status_message(s));
  kiln_status_free(s);
  probe->has_undeclared = kiln_attrs_has(args->attrs, "mode");
  // A view is read-only even when a callback casts const away.
  s = kiln_attrs_set_int64((kiln_attrs_t*)args->attrs, "block_size", 1);
  probe->set_code = kiln_status_code(s);
  kiln_status_free(s);
  s = kiln_attrs_check_complete(args->attrs);
  probe->complete_code = kiln_status_code(s);
  kiln_status_free(s);
  outputs[0] = kiln_tensor_desc_like(&args->inputs[0]);
  return NULL;
}

TEST(attrs_callback_view) {
  FIXTURE(f);
  static const kiln_attr_field_t fields[] = {
      {"block_size", KILN_ATTR_TYPE_INT64}, {"mode", KILN_ATTR_TYPE_STRING}};
  static const char* const describe_subset[] = {"block_size"};
  static const char* const aot_subset[] = {"mode"};
  view_probe_t probe;
  memset(&probe, 0, sizeof(probe));
  kiln_plugin_def_t def = simple_def("x::y");
  def.attrs = fields;
  def.attr_count = 2;
  def.user_data = &probe;
  def.describe = probing_describe;
  def.describe_attrs.names = describe_subset;
  def.describe_attrs.count = 1;
  def.aot_impl_attrs.names = aot_subset;
  def.aot_impl_attrs.count = 1;
  const kiln_plugin_t* plugin = NULL;
  kiln_attrs_t* attrs = NULL;
  kiln_status_t status = kiln_registry_register(f.registry, &def, &plugin);
  if (!status) {
    status = kiln_attrs_create(plugin, kiln_allocator_system(), &attrs);
  }
  if (!status) status = kiln_attrs_set_int64(attrs, "block_size", 128);
  if (!status) {
    status = kiln_attrs_set_string(attrs, "mode", kiln_make_cstring_view("z"));
  }
  kiln_sym_t dims[1] = {kiln_sym_dim(f.sym, 0, 0)};
  kiln_tensor_desc_t in = kiln_tensor_desc_make(KILN_DTYPE_FLOAT32, 1, dims);
  kiln_tensor_desc_t out;
  if (!status) {
    status = kiln_plugin_describe(plugin, &in, 1, attrs, f.sym, &out, 1);
  }
  // The aot_impl view: the builder makes it through the same helper.
  kiln_attrs_t view;
  kiln_status_t view_status = NULL;
  kiln_status_t aot_declared = NULL;
  kiln_status_t aot_undeclared = NULL;
  if (!status) {
    view_status =
        kiln__plugin_attrs_view(plugin, attrs, KILN__CALLBACK_AOT_IMPL, &view);
    kiln_string_view_t mode;
    int64_t block = 0;
    aot_declared = kiln_attrs_get_string(&view, "mode", &mode);
    aot_undeclared = kiln_attrs_get_int64(&view, "block_size", &block);
  }
  // A view made by hand, as kiln__attrs_make_view documents.
  kiln_status_t manual_status = NULL;
  if (plugin) {
    kiln_attrs_t manual;
    kiln__attrs_make_view(plugin, attrs, 0, "host_impl", &manual);
    int64_t block = 0;
    manual_status = kiln_attrs_get_int64(&manual, "block_size", &block);
  }
  kiln_attrs_destroy(attrs);
  fixture_deinit(&f);
  ASSERT_OK(status);
  ASSERT_OK(view_status);
  ASSERT_EQ_I64(probe.declared_code, KILN_STATUS_OK);
  ASSERT_EQ_I64(probe.declared_value, 128);
  ASSERT_EQ_I64(probe.undeclared_code, KILN_STATUS_NOT_FOUND);
  ASSERT_CONTAINS(probe.undeclared_message,
                  "describe of plugin 'x::y' did not declare attribute 'mode'");
  ASSERT_FALSE(probe.has_undeclared);
  ASSERT_EQ_I64(probe.set_code, KILN_STATUS_FAILED_PRECONDITION);
  ASSERT_EQ_I64(probe.complete_code, KILN_STATUS_OK);
  ASSERT_OK(aot_declared);
  ASSERT_STATUS(aot_undeclared, KILN_STATUS_NOT_FOUND,
                "aot_impl of plugin 'x::y' did not declare attribute "
                "'block_size'");
  ASSERT_STATUS(manual_status, KILN_STATUS_NOT_FOUND,
                "host_impl of plugin 'x::y' did not declare attribute "
                "'block_size'");
}

TEST(attrs_view_of_foreign_plugin_is_refused) {
  FIXTURE(f);
  kiln_plugin_def_t a_def = simple_def("a::one");
  kiln_plugin_def_t b_def = simple_def("b::two");
  const kiln_plugin_t* a = NULL;
  const kiln_plugin_t* b = NULL;
  kiln_attrs_t* attrs = NULL;
  kiln_status_t status = kiln_registry_register(f.registry, &a_def, &a);
  if (!status) status = kiln_registry_register(f.registry, &b_def, &b);
  if (!status) status = kiln_attrs_create(a, kiln_allocator_system(), &attrs);
  kiln_sym_t dims[1] = {kiln_sym_const(f.sym, 3)};
  kiln_tensor_desc_t in = kiln_tensor_desc_make(KILN_DTYPE_FLOAT32, 1, dims);
  kiln_tensor_desc_t out;
  kiln_status_t foreign =
      status ? NULL : kiln_plugin_describe(b, &in, 1, attrs, f.sym, &out, 1);
  kiln_attrs_destroy(attrs);
  fixture_deinit(&f);
  ASSERT_OK(status);
  ASSERT_STATUS(foreign, KILN_STATUS_INVALID_ARGUMENT,
                "attributes made for plugin 'a::one' were passed to plugin "
                "'b::two'");
}

//===----------------------------------------------------------------------===//
// describe
//===----------------------------------------------------------------------===//

typedef enum describe_mode_e {
  MODE_OK_ALIASED,
  MODE_SIZE_TENSOR_OK,
  MODE_CALLBACK_ERROR,
  MODE_LEAVE_UNSET,
  MODE_BAD_RANK,
  MODE_ALIAS_OUT_OF_RANGE,
  MODE_ALIAS_NEGATIVE,
  MODE_ALIAS_DTYPE,
  MODE_ALIAS_RANK,
  MODE_ALIAS_DIMS,
  MODE_ALIAS_TWICE,
  MODE_SIZE_TENSOR_UNMARKED,
  MODE_SIZE_TENSOR_OUT_OF_RANGE,
  MODE_SIZE_TENSOR_BAD_DTYPE,
  MODE_FAILED_BUILDER,
  MODE_NULL_DIM,
  MODE_SHARED_DAG,
} describe_mode_t;

// Two inputs x (float32, rank 2) and y (float16, rank 1); two outputs.
static kiln_status_t mode_describe(void* user_data,
                                   const kiln_describe_args_t* args,
                                   kiln_tensor_desc_t* outputs) {
  describe_mode_t mode = *(const describe_mode_t*)user_data;
  kiln_sym_table_t* sym = args->sym;
  const kiln_tensor_desc_t* x = &args->inputs[0];
  outputs[0] = kiln_tensor_desc_aliased(x, 0);
  outputs[1] = kiln_tensor_desc_like(&args->inputs[1]);
  switch (mode) {
    case MODE_OK_ALIASED:
      break;
    case MODE_SIZE_TENSOR_OK:
    case MODE_SIZE_TENSOR_UNMARKED:
    case MODE_SIZE_TENSOR_OUT_OF_RANGE:
    case MODE_SIZE_TENSOR_BAD_DTYPE: {
      kiln_sym_t upper = kiln_tensor_desc_numel(sym, x);
      kiln_sym_t opt = kiln_sym_floor_div(sym, upper, kiln_sym_const(sym, 2));
      uint32_t index = mode == MODE_SIZE_TENSOR_OUT_OF_RANGE ? 5 : 1;
      kiln_sym_t count = kiln_sym_size_tensor(sym, index, opt, upper);
      kiln_sym_t dims[2] = {count, kiln_sym_const(sym, 2)};
      outputs[0] = kiln_tensor_desc_make(KILN_DTYPE_INT32, 2, dims);
      outputs[1] = kiln_tensor_desc_make(mode == MODE_SIZE_TENSOR_BAD_DTYPE
                                             ? KILN_DTYPE_FLOAT32
                                             : KILN_DTYPE_INT64,
                                         0, NULL);
      outputs[1].is_size_tensor = mode != MODE_SIZE_TENSOR_UNMARKED;
      break;
    }
    case MODE_CALLBACK_ERROR:
      return kiln_make_status(KILN_STATUS_UNIMPLEMENTED, "no shapes today");
    case MODE_LEAVE_UNSET:
      memset(&outputs[1], 0, sizeof(outputs[1]));
      outputs[1] = kiln_tensor_desc_like(NULL);
      break;
    case MODE_BAD_RANK:
      outputs[1].rank = 9;
      break;
    case MODE_ALIAS_OUT_OF_RANGE:
      outputs[1] = kiln_tensor_desc_aliased(&args->inputs[1], 2);
      break;
    case MODE_ALIAS_NEGATIVE:
      outputs[1] = kiln_tensor_desc_aliased(&args->inputs[1], -3);
      break;
    case MODE_ALIAS_DTYPE:
      outputs[0].dtype = KILN_DTYPE_FLOAT16;
      break;
    case MODE_ALIAS_RANK:
      outputs[0].rank = 1;
      break;
    case MODE_ALIAS_DIMS:
      outputs[0].dims[1] =
          kiln_sym_add(sym, x->dims[1], kiln_sym_const(sym, 1));
      break;
    case MODE_ALIAS_TWICE:
      outputs[1] = kiln_tensor_desc_aliased(x, 0);
      break;
    case MODE_FAILED_BUILDER:
      // A tensor index beyond KILN_SYM_MAX_TENSORS makes the builder fail.
      outputs[1].dims[0] =
          kiln_sym_add(sym, kiln_sym_dim(sym, KILN_SYM_MAX_TENSORS + 7, 0),
                       kiln_sym_const(sym, 1));
      break;
    case MODE_NULL_DIM:
      outputs[1].dims[0] = NULL;
      break;
    case MODE_SHARED_DAG: {
      // A deep chain of doubled shared nodes: walking it without remembering
      // visited nodes would take 2^50 steps.
      kiln_sym_t e = x->dims[0];
      for (int i = 0; i < 50; ++i) {
        e = kiln_sym_max(sym, e, kiln_sym_add(sym, e, e));
      }
      outputs[1].dims[0] = e;
      break;
    }
  }
  return NULL;
}

static kiln_status_t run_describe(describe_mode_t mode,
                                  kiln_tensor_desc_t outputs[2],
                                  bool* out_untouched) {
  fixture_t f;
  kiln_status_t status = fixture_init(&f);
  describe_mode_t mode_copy = mode;
  kiln_plugin_def_t def = simple_def("my::modes");
  def.input_count = 2;
  def.output_count = 2;
  def.describe = mode_describe;
  def.user_data = &mode_copy;
  const kiln_plugin_t* plugin = NULL;
  if (!status) status = kiln_registry_register(f.registry, &def, &plugin);
  if (!status) {
    kiln_sym_t xd[2] = {kiln_sym_dim(f.sym, 0, 0), kiln_sym_dim(f.sym, 0, 1)};
    kiln_sym_t yd[1] = {kiln_sym_dim(f.sym, 1, 0)};
    kiln_tensor_desc_t inputs[2] = {
        kiln_tensor_desc_make(KILN_DTYPE_FLOAT32, 2, xd),
        kiln_tensor_desc_make(KILN_DTYPE_FLOAT16, 1, yd)};
    memset(outputs, 0x5a, 2 * sizeof(kiln_tensor_desc_t));
    status = kiln_plugin_describe(plugin, inputs, 2, NULL, f.sym, outputs, 2);
    unsigned char probe[sizeof(kiln_tensor_desc_t)];
    memset(probe, 0x5a, sizeof(probe));
    *out_untouched = memcmp(probe, &outputs[0], sizeof(probe)) == 0;
  }
  fixture_deinit(&f);
  return status;
}

TEST(describe_valid_outputs) {
  kiln_tensor_desc_t out[2];
  bool untouched = true;
  ASSERT_OK(run_describe(MODE_OK_ALIASED, out, &untouched));
  ASSERT_FALSE(untouched);
  ASSERT_EQ_I64(out[0].aliased_input, 0);
  ASSERT_EQ_I64(out[1].aliased_input, -1);
  ASSERT_EQ_I64(out[1].dtype, KILN_DTYPE_FLOAT16);
  ASSERT_OK(run_describe(MODE_SIZE_TENSOR_OK, out, &untouched));
  ASSERT_TRUE(out[1].is_size_tensor);
  ASSERT_OK(run_describe(MODE_SHARED_DAG, out, &untouched));
}

TEST(describe_validation_failures) {
  static const struct {
    describe_mode_t mode;
    kiln_status_code_t code;
    const char* message;
  } cases[] = {
      {MODE_CALLBACK_ERROR, KILN_STATUS_UNIMPLEMENTED,
       "describe of plugin 'my::modes': no shapes today"},
      {MODE_LEAVE_UNSET, KILN_STATUS_INVALID_ARGUMENT,
       "describe of plugin 'my::modes': output 1: dtype 10 is not a "
       "kiln_dtype_t"},
      {MODE_BAD_RANK, KILN_STATUS_INVALID_ARGUMENT,
       "describe of plugin 'my::modes': output 1: rank 9 is outside 0..8"},
      {MODE_ALIAS_OUT_OF_RANGE, KILN_STATUS_INVALID_ARGUMENT,
       "describe of plugin 'my::modes': output 1 aliases input 2, but the "
       "plugin has 2 inputs"},
      {MODE_ALIAS_NEGATIVE, KILN_STATUS_INVALID_ARGUMENT,
       "output 1 aliases input -3"},
      {MODE_ALIAS_DTYPE, KILN_STATUS_INVALID_ARGUMENT,
       "describe of plugin 'my::modes': output 0 aliases input 0 of dtype "
       "float32 but has dtype float16"},
      {MODE_ALIAS_RANK, KILN_STATUS_INVALID_ARGUMENT,
       "output 0 aliases input 0 of rank 2 but has rank 1"},
      {MODE_ALIAS_DIMS, KILN_STATUS_INVALID_ARGUMENT,
       "output 0 aliases input 0 but its dimension 1 is a different "
       "expression"},
      {MODE_ALIAS_TWICE, KILN_STATUS_INVALID_ARGUMENT,
       "outputs 0 and 1 both alias input 0"},
      {MODE_SIZE_TENSOR_UNMARKED, KILN_STATUS_INVALID_ARGUMENT,
       "describe of plugin 'my::modes': output 0 dimension 0 uses size "
       "tensor 1, but output 1 is not marked is_size_tensor"},
      {MODE_SIZE_TENSOR_OUT_OF_RANGE, KILN_STATUS_INVALID_ARGUMENT,
       "output 0 dimension 0 uses size tensor 5, but the plugin has 2 "
       "outputs"},
      {MODE_SIZE_TENSOR_BAD_DTYPE, KILN_STATUS_INVALID_ARGUMENT,
       "output 1: a size tensor must be int32 or int64, is float32"},
      {MODE_NULL_DIM, KILN_STATUS_INVALID_ARGUMENT,
       "describe of plugin 'my::modes': output 1: dimension 0 is NULL"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
    kiln_tensor_desc_t out[2];
    bool untouched = false;
    kiln_status_t status = run_describe(cases[i].mode, out, &untouched);
    if (kiln_status_code(status) != cases[i].code ||
        !strstr(kiln_status_message(status), cases[i].message) || !untouched) {
      kiln_test_fail(t_, __FILE__, __LINE__,
                     "case %zu: %s: \"%s\" (outputs untouched: %d)", i,
                     kiln_status_code_name(kiln_status_code(status)),
                     kiln_status_message(status), (int)untouched);
      kiln_status_free(status);
      return;
    }
    kiln_status_free(status);
  }
  // A failed builder call reports the table's first error, not just NULL.
  kiln_tensor_desc_t out[2];
  bool untouched = false;
  kiln_status_t status = run_describe(MODE_FAILED_BUILDER, out, &untouched);
  ASSERT_TRUE(untouched);
  ASSERT_TRUE(status != NULL);
  bool located = strstr(kiln_status_message(status),
                        "describe of plugin 'my::modes': output 1 dimension "
                        "0: ") != NULL;
  bool not_plain_null = strstr(kiln_status_message(status), "is NULL") == NULL;
  char message[512];
  snprintf(message, sizeof(message), "%s", kiln_status_message(status));
  kiln_status_free(status);
  if (!located || !not_plain_null) FAIL("unexpected message: %s", message);
}

TEST(describe_argument_checks) {
  FIXTURE(f);
  kiln_plugin_def_t def = simple_def("my::one");
  const kiln_plugin_t* plugin = NULL;
  kiln_status_t status = kiln_registry_register(f.registry, &def, &plugin);
  kiln_sym_t dims[1] = {kiln_sym_dim(f.sym, 0, 0)};
  kiln_tensor_desc_t in[2] = {
      kiln_tensor_desc_make(KILN_DTYPE_FLOAT32, 1, dims),
      kiln_tensor_desc_make(KILN_DTYPE_FLOAT32, 1, dims)};
  kiln_tensor_desc_t bad_in = in[0];
  bad_in.rank = -2;
  kiln_tensor_desc_t out[2];
  kiln_status_t inputs = NULL, outputs = NULL, no_sym = NULL, bad = NULL;
  if (!status) {
    inputs = kiln_plugin_describe(plugin, in, 2, NULL, f.sym, out, 1);
    outputs = kiln_plugin_describe(plugin, in, 1, NULL, f.sym, out, 2);
    no_sym = kiln_plugin_describe(plugin, in, 1, NULL, NULL, out, 1);
    bad = kiln_plugin_describe(plugin, &bad_in, 1, NULL, f.sym, out, 1);
  }
  fixture_deinit(&f);
  ASSERT_OK(status);
  ASSERT_STATUS(inputs, KILN_STATUS_INVALID_ARGUMENT,
                "describe of plugin 'my::one': the plugin takes 1 inputs, "
                "given 2");
  ASSERT_STATUS(outputs, KILN_STATUS_INVALID_ARGUMENT,
                "the plugin has 1 outputs, given room for 2");
  ASSERT_STATUS(no_sym, KILN_STATUS_INVALID_ARGUMENT, "sym table is NULL");
  ASSERT_STATUS(bad, KILN_STATUS_INVALID_ARGUMENT,
                "describe of plugin 'my::one': input 0: rank -2");
  ASSERT_STATUS(kiln_plugin_describe(NULL, in, 1, NULL, NULL, out, 1),
                KILN_STATUS_INVALID_ARGUMENT, "plugin is NULL");
}

//===----------------------------------------------------------------------===//
// Autotune results
//===----------------------------------------------------------------------===//

static const kiln_dtype_t F32 = KILN_DTYPE_FLOAT32;
static const kiln_dtype_t F16 = KILN_DTYPE_FLOAT16;

// Checks that combination |index| of |result| has |types| (all LINEAR) and
// |tactics|; returns a description of the difference or NULL.
static kiln_status_t expect_combination(const kiln_autotune_result_t* result,
                                        size_t index, size_t io,
                                        const kiln_dtype_t* types,
                                        const int32_t* tactics,
                                        size_t tactic_count) {
  kiln_autotune_combination_t c = kiln_autotune_result_at(result, index);
  if (!c.io_types) {
    return kiln_make_status(KILN_STATUS_NOT_FOUND, "no combination %zu", index);
  }
  for (size_t p = 0; p < io; ++p) {
    if (c.io_types[p] != types[p] || c.io_formats[p] != KILN_FORMAT_LINEAR) {
      return kiln_make_status(
          KILN_STATUS_INTERNAL,
          "combination %zu position %zu is %s/%s, expected %s/LINEAR", index, p,
          kiln_dtype_name(c.io_types[p]), kiln_format_name(c.io_formats[p]),
          kiln_dtype_name(types[p]));
    }
  }
  if (c.tactic_count != tactic_count) {
    return kiln_make_status(KILN_STATUS_INTERNAL,
                            "combination %zu has %zu tactics, expected %zu",
                            index, c.tactic_count, tactic_count);
  }
  for (size_t t = 0; t < tactic_count; ++t) {
    if (c.tactics[t] != tactics[t]) {
      return kiln_make_status(KILN_STATUS_INTERNAL,
                              "combination %zu tactic %zu is %d, expected %d",
                              index, t, (int)c.tactics[t], (int)tactics[t]);
    }
  }
  return NULL;
}

// Creates a result for |io| positions and adds |io_types| / |layouts|.
static kiln_status_t spec_result(size_t io, const char* io_types,
                                 const char* layouts, const int32_t* tactics,
                                 size_t tactic_count,
                                 kiln_autotune_result_t** out_result) {
  KILN_RETURN_IF_ERROR(
      kiln_autotune_result_create(io, kiln_allocator_system(), out_result));
  return kiln_autotune_result_add_spec(*out_result, io_types, layouts, tactics,
                                       tactic_count);
}

TEST(autotune_spec_reference_examples) {
  static const int32_t tactics[] = {1, 2};
  kiln_autotune_result_t* r = NULL;
  // The reference's worked example: positions 0 and 1 dependent, 2 crossed.
  kiln_status_t status = spec_result(3, "FP32|FP16, FP32|FP16, FP32*FP16",
                                     "LINEAR", tactics, 2, &r);
  static const kiln_dtype_t want[4][3] = {
      {KILN_DTYPE_FLOAT32, KILN_DTYPE_FLOAT32, KILN_DTYPE_FLOAT32},
      {KILN_DTYPE_FLOAT16, KILN_DTYPE_FLOAT16, KILN_DTYPE_FLOAT32},
      {KILN_DTYPE_FLOAT32, KILN_DTYPE_FLOAT32, KILN_DTYPE_FLOAT16},
      {KILN_DTYPE_FLOAT16, KILN_DTYPE_FLOAT16, KILN_DTYPE_FLOAT16}};
  size_t count = kiln_autotune_result_count(r);
  for (size_t i = 0; i < 4 && !status; ++i) {
    status = expect_combination(r, i, 3, want[i], tactics, 2);
  }
  kiln_autotune_result_destroy(r);
  ASSERT_OK(status);
  ASSERT_EQ_U64(count, 4);

  // The docstring's example with three dependent entries gives two
  // combinations (its comment lists four, but the code pairs them).
  r = NULL;
  status =
      spec_result(3, "FP32|FP16, FP32|FP16, FP32|FP16", NULL, tactics, 2, &r);
  count = kiln_autotune_result_count(r);
  kiln_dtype_t all32[3] = {F32, F32, F32};
  kiln_dtype_t all16[3] = {F16, F16, F16};
  if (!status) status = expect_combination(r, 0, 3, all32, tactics, 2);
  if (!status) status = expect_combination(r, 1, 3, all16, tactics, 2);
  kiln_autotune_result_destroy(r);
  ASSERT_OK(status);
  ASSERT_EQ_U64(count, 2);

  // "FP32*FP16, FP32" with explicit layouts: two combinations.
  r = NULL;
  status = spec_result(2, "FP32*FP16, FP32", "LINEAR, LINEAR", NULL, 0, &r);
  count = kiln_autotune_result_count(r);
  kiln_dtype_t a[2] = {F32, F32};
  kiln_dtype_t b[2] = {F16, F32};
  if (!status) status = expect_combination(r, 0, 2, a, NULL, 0);
  if (!status) status = expect_combination(r, 1, 2, b, NULL, 0);
  kiln_autotune_result_destroy(r);
  ASSERT_OK(status);
  ASSERT_EQ_U64(count, 2);

  // Layout choices cross with the types; identical results merge. Only
  // LINEAR exists, so "LINEAR*linear" yields duplicates that dedupe.
  r = NULL;
  status =
      spec_result(2, "FP32*FP16, FP32", "LINEAR*linear, LINEAR", NULL, 0, &r);
  count = kiln_autotune_result_count(r);
  kiln_autotune_result_destroy(r);
  ASSERT_OK(status);
  ASSERT_EQ_U64(count, 2);
}

TEST(autotune_spec_order_whitespace_and_broadcast) {
  kiln_autotune_result_t* r = NULL;
  // Two independent entries: the first varies fastest.
  kiln_status_t status = spec_result(3, "  FP32*FP16 ,\tINT32*INT64\n, bool ",
                                     "  linear  ", NULL, 0, &r);
  static const kiln_dtype_t want[4][3] = {
      {KILN_DTYPE_FLOAT32, KILN_DTYPE_INT32, KILN_DTYPE_BOOL},
      {KILN_DTYPE_FLOAT16, KILN_DTYPE_INT32, KILN_DTYPE_BOOL},
      {KILN_DTYPE_FLOAT32, KILN_DTYPE_INT64, KILN_DTYPE_BOOL},
      {KILN_DTYPE_FLOAT16, KILN_DTYPE_INT64, KILN_DTYPE_BOOL}};
  size_t count = kiln_autotune_result_count(r);
  for (size_t i = 0; i < 4 && !status; ++i) {
    status = expect_combination(r, i, 3, want[i], NULL, 0);
  }
  kiln_autotune_result_destroy(r);
  ASSERT_OK(status);
  ASSERT_EQ_U64(count, 4);
  // A dependent single layout entry is broadcast as a dependent entry; an
  // empty layouts string means LINEAR; choices may be padded with blanks.
  static const char* const layouts[] = {"LINEAR|linear", "", "   ", NULL,
                                        "LINEAR,LINEAR"};
  for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); ++i) {
    r = NULL;
    status = spec_result(2, "fp32 | half, FLOAT|HALF", layouts[i], NULL, 0, &r);
    count = kiln_autotune_result_count(r);
    kiln_dtype_t a[2] = {F32, F32};
    kiln_dtype_t b[2] = {F16, F16};
    if (!status) status = expect_combination(r, 0, 2, a, NULL, 0);
    if (!status) status = expect_combination(r, 1, 2, b, NULL, 0);
    kiln_autotune_result_destroy(r);
    ASSERT_OK(status);
    ASSERT_EQ_U64(count, 2);
  }
}

TEST(autotune_spec_errors) {
  static const struct {
    size_t io;
    const char* types;
    const char* layouts;
    kiln_status_code_t code;
    const char* message;
  } cases[] = {
      {2, "FP32|FP16*INT8, FP32", NULL, KILN_STATUS_INVALID_ARGUMENT,
       "io_types entry 0 at offset 9 mixes '|' and '*'"},
      {2, "FP32|FP16, FP32|FP16|INT8", NULL, KILN_STATUS_INVALID_ARGUMENT,
       "io_types entry 1 at offset 11 has 3 dependent ('|') choices but "
       "entry 0 has 2"},
      {3, "FP32,,FP16", NULL, KILN_STATUS_INVALID_ARGUMENT,
       "io_types entry 1 at offset 5 is empty"},
      {2, "FP32, ", NULL, KILN_STATUS_INVALID_ARGUMENT,
       "io_types entry 1 at offset 6 is empty"},
      {1, "", NULL, KILN_STATUS_INVALID_ARGUMENT,
       "io_types entry 0 at offset 0 is empty"},
      {2, "FP32|, FP32", NULL, KILN_STATUS_INVALID_ARGUMENT,
       "io_types entry 0 at offset 5 has an empty choice"},
      {2, "FP32, *FP16", NULL, KILN_STATUS_INVALID_ARGUMENT,
       "io_types entry 1 at offset 6 has an empty choice"},
      {2, "FP32, FP33", NULL, KILN_STATUS_INVALID_ARGUMENT,
       "io_types entry 1 at offset 6: unknown dtype 'FP33'"},
      {3, "FP32, FP32", NULL, KILN_STATUS_INVALID_ARGUMENT,
       "io_types has 2 entries; expected 3"},
      {3, "FP32, FP32, FP32", "LINEAR, LINEAR", KILN_STATUS_INVALID_ARGUMENT,
       "layouts has 2 entries; expected 1 (used for every position) or 3"},
      {2, "FP32, FP32", "LINEAR, LINEAR*HWC", KILN_STATUS_INVALID_ARGUMENT,
       "layouts entry 1 at offset 15: unknown format 'HWC'"},
      {2, "FP32, FP32", "LINEAR|HWC*CHW4", KILN_STATUS_INVALID_ARGUMENT,
       "layouts entry 0 at offset 10 mixes '|' and '*'"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
    kiln_autotune_result_t* r = NULL;
    kiln_status_t status =
        spec_result(cases[i].io, cases[i].types, cases[i].layouts, NULL, 0, &r);
    size_t count = kiln_autotune_result_count(r);
    kiln_autotune_result_destroy(r);
    if (kiln_status_code(status) != cases[i].code ||
        !strstr(kiln_status_message(status), cases[i].message) || count) {
      kiln_test_fail(t_, __FILE__, __LINE__, "case %zu: %s: \"%s\"", i,
                     kiln_status_code_name(kiln_status_code(status)),
                     kiln_status_message(status));
      kiln_status_free(status);
      return;
    }
    kiln_status_free(status);
  }
  // Too many combinations.
  char big[512] = "";
  for (int i = 0; i < 17; ++i) strcat(big, i ? ", FP32*FP16" : "FP32*FP16");
  kiln_autotune_result_t* r = NULL;
  ASSERT_STATUS(spec_result(17, big, NULL, NULL, 0, &r),
                KILN_STATUS_OUT_OF_RANGE, "more than 65536 combinations");
  kiln_autotune_result_destroy(r);
  // Tactics.
  static const int32_t zero[] = {3, 0};
  static const int32_t repeat[] = {3, 4, 3};
  r = NULL;
  ASSERT_STATUS(spec_result(1, "FP32", NULL, zero, 2, &r),
                KILN_STATUS_INVALID_ARGUMENT,
                "tactic at index 1 is 0, which is reserved for the default");
  kiln_autotune_result_destroy(r);
  r = NULL;
  ASSERT_STATUS(spec_result(1, "FP32", NULL, repeat, 3, &r),
                KILN_STATUS_INVALID_ARGUMENT,
                "tactic 3 at index 2 repeats the one at index 0");
  kiln_autotune_result_destroy(r);
  r = NULL;
  ASSERT_STATUS(spec_result(1, NULL, NULL, NULL, 0, &r),
                KILN_STATUS_INVALID_ARGUMENT, "io_types is NULL");
  kiln_autotune_result_destroy(r);
  ASSERT_STATUS(kiln_autotune_result_create(0, kiln_allocator_system(), &r),
                KILN_STATUS_INVALID_ARGUMENT, "at least one position");
}

TEST(autotune_result_add_dedupes_and_unions_tactics) {
  kiln_autotune_result_t* r = NULL;
  ASSERT_OK(kiln_autotune_result_create(2, kiln_allocator_system(), &r));
  static const int32_t t12[] = {1, 2};
  static const int32_t t23[] = {2, 3};
  kiln_status_t status =
      kiln_autotune_result_add_spec(r, "FP32, FP32", NULL, t12, 2);
  if (!status) {
    status = kiln_autotune_result_add_spec(r, "FP32*FP16, FP32", NULL, t23, 2);
  }
  kiln_dtype_t a[2] = {F32, F32};
  kiln_dtype_t b[2] = {F16, F32};
  static const int32_t t123[] = {1, 2, 3};
  if (!status) status = expect_combination(r, 0, 2, a, t123, 3);
  if (!status) status = expect_combination(r, 1, 2, b, t23, 2);
  size_t count = kiln_autotune_result_count(r);
  // The struct form: a new combination, then the same again with more
  // tactics.
  kiln_dtype_t types[2] = {KILN_DTYPE_INT8, KILN_DTYPE_INT32};
  kiln_format_t formats[2] = {KILN_FORMAT_LINEAR, KILN_FORMAT_LINEAR};
  kiln_autotune_combination_t c = {types, formats, NULL, 0};
  if (!status) status = kiln_autotune_result_add(r, &c);
  static const int32_t t7[] = {7};
  c.tactics = t7;
  c.tactic_count = 1;
  if (!status) status = kiln_autotune_result_add(r, &c);
  if (!status) status = expect_combination(r, 2, 2, types, t7, 1);
  size_t count_after = kiln_autotune_result_count(r);
  // Bad values name the position.
  types[1] = (kiln_dtype_t)99;
  kiln_status_t bad_dtype = kiln_autotune_result_add(r, &c);
  types[1] = KILN_DTYPE_INT32;
  formats[0] = (kiln_format_t)5;
  kiln_status_t bad_format = kiln_autotune_result_add(r, &c);
  formats[0] = KILN_FORMAT_LINEAR;
  static const int32_t with_zero[] = {0};
  c.tactics = with_zero;
  kiln_status_t zero = kiln_autotune_result_add(r, &c);
  c.tactics = NULL;
  kiln_status_t null_tactics = kiln_autotune_result_add(r, &c);
  kiln_autotune_combination_t empty = kiln_autotune_result_at(r, 99);
  size_t final_count = kiln_autotune_result_count(r);
  kiln_autotune_result_destroy(r);
  ASSERT_OK(status);
  ASSERT_EQ_U64(count, 2);
  ASSERT_EQ_U64(count_after, 3);
  ASSERT_EQ_U64(final_count, 3);
  ASSERT_STATUS(bad_dtype, KILN_STATUS_INVALID_ARGUMENT,
                "position 1 has dtype 99");
  ASSERT_STATUS(bad_format, KILN_STATUS_INVALID_ARGUMENT,
                "position 0 has format 5");
  ASSERT_STATUS(zero, KILN_STATUS_INVALID_ARGUMENT, "tactic at index 0 is 0");
  ASSERT_STATUS(null_tactics, KILN_STATUS_INVALID_ARGUMENT,
                "lists 1 tactics but its tactics array is NULL");
  ASSERT_EQ_PTR(empty.io_types, NULL);
  ASSERT_EQ_U64(kiln_autotune_result_count(NULL), 0);
  kiln_autotune_result_destroy(NULL);
}

//===----------------------------------------------------------------------===//
// kiln_plugin_autotune
//===----------------------------------------------------------------------===//

typedef struct autotune_probe_t {
  int mode;  // 0: add a spec, 1: add nothing, 2: fail
  kiln_status_code_t attr_code;
} autotune_probe_t;

static kiln_status_t probing_autotune(void* user_data,
                                      const kiln_autotune_args_t* args,
                                      kiln_autotune_result_t* result) {
  autotune_probe_t* probe = (autotune_probe_t*)user_data;
  int64_t v = 0;
  kiln_status_t s = kiln_attrs_get_int64(args->attrs, "hidden", &v);
  probe->attr_code = kiln_status_code(s);
  kiln_status_free(s);
  if (probe->mode == 2) {
    return kiln_make_status(KILN_STATUS_INTERNAL, "autotune exploded");
  }
  if (probe->mode == 1) return NULL;
  static const int32_t tactics[] = {5};
  return kiln_autotune_result_add_spec(result, "FP16|FP32, FP16|FP32", NULL,
                                       tactics, 1);
}

TEST(plugin_autotune_default_and_callback) {
  FIXTURE(f);
  static const kiln_attr_field_t fields[] = {{"hidden", KILN_ATTR_TYPE_INT64}};
  static const char* const none[1] = {NULL};
  autotune_probe_t probe = {0, KILN_STATUS_OK};
  kiln_plugin_def_t plain = simple_def("tune::plain");
  kiln_plugin_def_t tuned = simple_def("tune::tuned");
  tuned.attrs = fields;
  tuned.attr_count = 1;
  tuned.autotune = probing_autotune;
  tuned.autotune_attrs.names = none;
  tuned.autotune_attrs.count = 0;
  tuned.user_data = &probe;
  const kiln_plugin_t* p = NULL;
  const kiln_plugin_t* t = NULL;
  kiln_status_t status = kiln_registry_register(f.registry, &plain, &p);
  if (!status) status = kiln_registry_register(f.registry, &tuned, &t);
  kiln_sym_t dims[1] = {kiln_sym_dim(f.sym, 0, 0)};
  kiln_tensor_desc_t in = kiln_tensor_desc_make(KILN_DTYPE_FLOAT16, 1, dims);
  kiln_tensor_desc_t out = kiln_tensor_desc_make(KILN_DTYPE_FLOAT32, 1, dims);
  kiln_autotune_result_t* r = NULL;
  kiln_dtype_t want_default[2] = {F16, F32};
  if (!status) {
    status = kiln_plugin_autotune(p, &in, 1, &out, 1, NULL,
                                  kiln_allocator_system(), &r);
  }
  size_t default_count = kiln_autotune_result_count(r);
  if (!status) status = expect_combination(r, 0, 2, want_default, NULL, 0);
  kiln_autotune_result_destroy(r);
  r = NULL;
  if (!status) {
    status = kiln_plugin_autotune(t, &in, 1, &out, 1, NULL,
                                  kiln_allocator_system(), &r);
  }
  size_t tuned_count = kiln_autotune_result_count(r);
  kiln_autotune_result_destroy(r);
  r = NULL;
  probe.mode = 1;
  kiln_status_t empty = status
                            ? NULL
                            : kiln_plugin_autotune(t, &in, 1, &out, 1, NULL,
                                                   kiln_allocator_system(), &r);
  probe.mode = 2;
  kiln_status_t failed =
      status ? NULL
             : kiln_plugin_autotune(t, &in, 1, &out, 1, NULL,
                                    kiln_allocator_system(), &r);
  kiln_status_t counts =
      status ? NULL
             : kiln_plugin_autotune(t, &in, 1, &out, 0, NULL,
                                    kiln_allocator_system(), &r);
  fixture_deinit(&f);
  ASSERT_OK(status);
  ASSERT_EQ_U64(default_count, 1);
  ASSERT_EQ_U64(tuned_count, 2);
  ASSERT_EQ_I64(probe.attr_code, KILN_STATUS_NOT_FOUND);
  ASSERT_EQ_PTR(r, NULL);
  ASSERT_STATUS(empty, KILN_STATUS_INVALID_ARGUMENT,
                "autotune of plugin 'tune::tuned': listed no type/format "
                "combinations");
  ASSERT_STATUS(failed, KILN_STATUS_INTERNAL,
                "autotune of plugin 'tune::tuned': autotune exploded");
  ASSERT_STATUS(counts, KILN_STATUS_INVALID_ARGUMENT,
                "the plugin has 1 outputs, given room for 0");
}

//===----------------------------------------------------------------------===//
// Allocation failures
//===----------------------------------------------------------------------===//

static kiln_status_t autotune_scenario(kiln_allocator_t allocator) {
  kiln_autotune_result_t* r = NULL;
  static const int32_t t12[] = {1, 2};
  static const int32_t t3[] = {3};
  kiln_status_t status = kiln_autotune_result_create(3, allocator, &r);
  if (!status) {
    status = kiln_autotune_result_add_spec(r, "FP32|FP16, FP32|FP16, FP32*FP16",
                                           "LINEAR", t12, 2);
  }
  if (!status) {
    // Overlaps the first spec: unions tactics into existing entries and adds
    // new ones.
    status = kiln_autotune_result_add_spec(r, "FP32*BF16, FP32, FP32*INT8",
                                           "LINEAR|LINEAR", t3, 1);
  }
  if (!status) {
    kiln_dtype_t types[3] = {KILN_DTYPE_INT8, KILN_DTYPE_INT8,
                             KILN_DTYPE_INT32};
    kiln_format_t formats[3] = {KILN_FORMAT_LINEAR, KILN_FORMAT_LINEAR,
                                KILN_FORMAT_LINEAR};
    kiln_autotune_combination_t c = {types, formats, t3, 1};
    status = kiln_autotune_result_add(r, &c);
  }
  if (!status && kiln_autotune_result_count(r) != 8) {
    status = kiln_make_status(KILN_STATUS_INTERNAL, "expected 8, got %zu",
                              kiln_autotune_result_count(r));
  }
  kiln_autotune_result_destroy(r);
  return status;
}

TEST(autotune_allocation_failure_sweep) {
  size_t runs = 0;
  for (size_t fail_at = 0;; ++fail_at) {
    kiln_test_allocator_t ta = kiln_test_allocator_failing_at(fail_at);
    kiln_status_t status = autotune_scenario(kiln_test_allocator_get(&ta));
    ASSERT_EQ_U64(ta.live, 0);
    if (!status) break;
    if (kiln_status_code(status) != KILN_STATUS_RESOURCE_EXHAUSTED) {
      kiln_test_fail(t_, __FILE__, __LINE__, "fail_at %zu: %s: %s", fail_at,
                     kiln_status_code_name(kiln_status_code(status)),
                     kiln_status_message(status));
      kiln_status_free(status);
      return;
    }
    kiln_status_free(status);
    ++runs;
    ASSERT_TRUE(fail_at < 1000);
  }
  ASSERT_TRUE(runs >= 10);
}

// A failed add_spec leaves the result as it was, even when memory runs out
// half-way.
TEST(autotune_add_spec_is_all_or_nothing) {
  for (size_t fail_at = 0; fail_at < 200; ++fail_at) {
    kiln_test_allocator_t ta = kiln_test_allocator_make();
    kiln_autotune_result_t* r = NULL;
    static const int32_t t1[] = {1};
    static const int32_t t2[] = {2};
    kiln_status_t status =
        kiln_autotune_result_create(2, kiln_test_allocator_get(&ta), &r);
    if (!status)
      status = kiln_autotune_result_add_spec(r, "FP32, FP32", NULL, t1, 1);
    if (status) {
      kiln_autotune_result_destroy(r);
      ASSERT_OK(status);
    }
    ta.fail_at = ta.allocations + fail_at;
    status = kiln_autotune_result_add_spec(r, "FP32*FP16*BF16, FP32*INT8", NULL,
                                           t2, 1);
    size_t count = kiln_autotune_result_count(r);
    kiln_autotune_combination_t first = kiln_autotune_result_at(r, 0);
    size_t first_tactics = first.tactic_count;
    kiln_autotune_result_destroy(r);
    ASSERT_EQ_U64(ta.live, 0);
    if (!status) {
      ASSERT_EQ_U64(count, 6);
      ASSERT_EQ_U64(first_tactics, 2);
      return;
    }
    ASSERT_EQ_I64(kiln_status_code(status), KILN_STATUS_RESOURCE_EXHAUSTED);
    kiln_status_free(status);
    ASSERT_EQ_U64(count, 1);
    ASSERT_EQ_U64(first_tactics, 1);
  }
  FAIL("add_spec never succeeded");
}
