// Tests of the plugin registry: ids, registration checks, deep copies,
// lookups with suggestions, plugin libraries, threads, reference counting and
// allocation failures.

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "test.h"

#define PLUGIN_PATH(name) KILN_TEST_PLUGIN_DIR "/lib" name ".so"

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

// A minimal valid definition with |id|.
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

static kiln_registry_t* make_registry(void) {
  kiln_registry_t* registry = NULL;
  kiln_status_t status =
      kiln_registry_create(kiln_allocator_system(), NULL, &registry);
  if (status) {
    kiln_status_free(status);
    return NULL;
  }
  return registry;
}

static kiln_status_t register_id(kiln_registry_t* registry, const char* id) {
  kiln_plugin_def_t def = simple_def(id);
  return kiln_registry_register(registry, &def, NULL);
}

static void count_release(void* user_data) {
  ++*(int*)user_data;
}

//===----------------------------------------------------------------------===//
// Plugin ids
//===----------------------------------------------------------------------===//

TEST(plugin_id_valid) {
  static const char* const valid[] = {
      "my::add_plugin", "a::b",    "ns_1::op-2",  "Trt::x",
      "trtx::y",        "std2::z", "x::tensorrt", "example::increment",
  };
  for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); ++i) {
    ASSERT_OK(kiln_plugin_id_validate(kiln_make_cstring_view(valid[i])));
  }
  kiln_registry_t* registry = make_registry();
  ASSERT_TRUE(registry != NULL);
  for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); ++i) {
    kiln_status_t status = register_id(registry, valid[i]);
    if (status) {
      kiln_registry_release(registry);
      ASSERT_OK(status);
    }
  }
  ASSERT_EQ_U64(kiln_registry_plugin_count(registry),
                sizeof(valid) / sizeof(valid[0]));
  kiln_registry_release(registry);
}

typedef struct bad_id_case_t {
  const char* id;
  const char* message;
} bad_id_case_t;

static const bad_id_case_t bad_ids[] = {
    {"", "plugin id '' is empty"},
    {"noseparator", "plugin id 'noseparator' has no '::'"},
    {"a:b", "plugin id 'a:b' has no '::'"},
    {"a::b::c", "plugin id 'a::b::c' must contain exactly one '::'"},
    {"::b", "plugin id '::b' has an empty namespace"},
    {"a::", "plugin id 'a::' has an empty name"},
    {"::", "plugin id '::' has an empty namespace"},
    {"a.b::c", "plugin id 'a.b::c' contains '.'"},
    {"a::b.c", "plugin id 'a::b.c' contains '.'"},
    {"a:b::c", "plugin id 'a:b::c' has a ':' outside its '::' separator"},
    {"a:::b", "plugin id 'a:::b' has a ':' outside"},
    {"a::b:", "plugin id 'a::b:' has a ':' outside"},
    {"trt::x", "plugin id 'trt::x' uses the reserved namespace 'trt'"},
    {"tensorrt::x",
     "plugin id 'tensorrt::x' uses the reserved namespace 'tensorrt'"},
    {"std::x", "plugin id 'std::x' uses the reserved namespace 'std'"},
};

TEST(plugin_id_invalid) {
  for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); ++i) {
    ASSERT_STATUS(
        kiln_plugin_id_validate(kiln_make_cstring_view(bad_ids[i].id)),
        KILN_STATUS_INVALID_ARGUMENT, bad_ids[i].message);
  }
  // An embedded NUL cannot be stored as a C string.
  ASSERT_STATUS(kiln_plugin_id_validate(kiln_make_string_view("a::b\0c", 6)),
                KILN_STATUS_INVALID_ARGUMENT, "NUL");
  kiln_registry_t* registry = make_registry();
  ASSERT_TRUE(registry != NULL);
  for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); ++i) {
    kiln_status_t status = register_id(registry, bad_ids[i].id);
    if (kiln_status_code(status) != KILN_STATUS_INVALID_ARGUMENT ||
        !strstr(kiln_status_message(status), bad_ids[i].message)) {
      kiln_test_fail(t_, __FILE__, __LINE__, "register '%s': %s: %s",
                     bad_ids[i].id,
                     kiln_status_code_name(kiln_status_code(status)),
                     kiln_status_message(status));
      kiln_status_free(status);
      kiln_registry_release(registry);
      return;
    }
    kiln_status_free(status);
  }
  ASSERT_EQ_U64(kiln_registry_plugin_count(registry), 0);
  kiln_registry_release(registry);
}

//===----------------------------------------------------------------------===//
// Registration checks
//===----------------------------------------------------------------------===//

TEST(registry_register_rejects_bad_definitions) {
  kiln_registry_t* registry = make_registry();
  ASSERT_TRUE(registry != NULL);
  kiln_plugin_def_t def = simple_def("a::b");
  def.abi_version = 2;
  kiln_status_t s = kiln_registry_register(registry, &def, NULL);
  kiln_registry_t* r = registry;
#define CHECK(expr, code, needle)                                  \
  do {                                                             \
    kiln_status_t st_ = (expr);                                    \
    if (kiln_status_code(st_) != (code) ||                         \
        !strstr(kiln_status_message(st_), (needle))) {             \
      kiln_test_fail(t_, __FILE__, __LINE__, "%s: %s: %s", #expr,  \
                     kiln_status_code_name(kiln_status_code(st_)), \
                     kiln_status_message(st_));                    \
      kiln_status_free(st_);                                       \
      kiln_registry_release(r);                                    \
      return;                                                      \
    }                                                              \
    kiln_status_free(st_);                                         \
  } while (0)
  CHECK(s, KILN_STATUS_INCOMPATIBLE,
        "plugin 'a::b' was built for plugin ABI 2, this kiln has ABI 1");
  CHECK(kiln_registry_register(registry, NULL, NULL),
        KILN_STATUS_INVALID_ARGUMENT, "NULL");

  def = simple_def(NULL);
  CHECK(kiln_registry_register(registry, &def, NULL),
        KILN_STATUS_INVALID_ARGUMENT, "no id");

  def = simple_def("a::b");
  def.describe = NULL;
  CHECK(kiln_registry_register(registry, &def, NULL),
        KILN_STATUS_INVALID_ARGUMENT, "plugin 'a::b' has no describe callback");

  def = simple_def("a::b");
  def.input_count = 0;
  CHECK(kiln_registry_register(registry, &def, NULL),
        KILN_STATUS_INVALID_ARGUMENT,
        "plugin 'a::b' must have at least one input");

  def = simple_def("a::b");
  def.output_count = 0;
  CHECK(kiln_registry_register(registry, &def, NULL),
        KILN_STATUS_INVALID_ARGUMENT,
        "plugin 'a::b' must have at least one output");

  def = simple_def("a::b");
  def.version = "";
  CHECK(kiln_registry_register(registry, &def, NULL),
        KILN_STATUS_INVALID_ARGUMENT, "version is empty");

  static const char* const bad_names[] = {"9lives", "block-size", "", "a b",
                                          "x.y"};
  for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); ++i) {
    kiln_attr_field_t field = {bad_names[i], KILN_ATTR_TYPE_INT64};
    def = simple_def("a::b");
    def.attrs = &field;
    def.attr_count = 1;
    CHECK(kiln_registry_register(registry, &def, NULL),
          KILN_STATUS_INVALID_ARGUMENT, "is not an identifier");
  }
  static const char* const reserved[] = {"outputs", "stream", "tactic"};
  for (size_t i = 0; i < 3; ++i) {
    kiln_attr_field_t field = {reserved[i], KILN_ATTR_TYPE_INT64};
    def = simple_def("a::b");
    def.attrs = &field;
    def.attr_count = 1;
    char needle[64];
    snprintf(needle, sizeof(needle), "attribute name '%s' is reserved",
             reserved[i]);
    CHECK(kiln_registry_register(registry, &def, NULL),
          KILN_STATUS_INVALID_ARGUMENT, needle);
  }
  kiln_attr_field_t fields[2] = {{"x", KILN_ATTR_TYPE_INT64},
                                 {"x", KILN_ATTR_TYPE_BOOL}};
  def = simple_def("a::b");
  def.attrs = fields;
  def.attr_count = 2;
  CHECK(kiln_registry_register(registry, &def, NULL),
        KILN_STATUS_INVALID_ARGUMENT, "attribute 'x' is declared twice");

  fields[1].name = "y";
  fields[1].type = KILN_ATTR_TYPE_COUNT;
  CHECK(kiln_registry_register(registry, &def, NULL),
        KILN_STATUS_INVALID_ARGUMENT, "attribute 'y' has type 13");

  fields[1].name = NULL;
  CHECK(kiln_registry_register(registry, &def, NULL),
        KILN_STATUS_INVALID_ARGUMENT, "attribute 1 has no name");

  def = simple_def("a::b");
  def.attr_count = 1;
  CHECK(kiln_registry_register(registry, &def, NULL),
        KILN_STATUS_INVALID_ARGUMENT, "attrs array is NULL");

  // More than KILN_MAX_ATTRS.
  static char names[KILN_MAX_ATTRS + 1][8];
  kiln_attr_field_t many[KILN_MAX_ATTRS + 1];
  for (int i = 0; i <= KILN_MAX_ATTRS; ++i) {
    snprintf(names[i], sizeof(names[i]), "a%d", i);
    many[i].name = names[i];
    many[i].type = KILN_ATTR_TYPE_INT64;
  }
  def = simple_def("a::b");
  def.attrs = many;
  def.attr_count = KILN_MAX_ATTRS + 1;
  CHECK(kiln_registry_register(registry, &def, NULL),
        KILN_STATUS_INVALID_ARGUMENT, "declares 65 attributes; at most 64");
  // Exactly KILN_MAX_ATTRS is fine, and every one of them reaches a callback.
  def.attr_count = KILN_MAX_ATTRS;
  def.id = "a::max_attrs";
  const kiln_plugin_t* plugin = NULL;
  s = kiln_registry_register(registry, &def, &plugin);
  if (s) CHECK(s, KILN_STATUS_OK, "");
  kiln_attrs_t* attrs = NULL;
  s = kiln_attrs_create(plugin, kiln_allocator_system(), &attrs);
  if (s) CHECK(s, KILN_STATUS_OK, "");
  s = kiln_attrs_set_int64(attrs, "a63", 63);
  if (s) {
    kiln_attrs_destroy(attrs);
    CHECK(s, KILN_STATUS_OK, "");
  }
  int64_t v = 0;
  s = kiln_attrs_get_int64(attrs, "a63", &v);
  kiln_attrs_destroy(attrs);
  if (s) CHECK(s, KILN_STATUS_OK, "");
  ASSERT_EQ_I64(v, 63);

  // Subsets.
  kiln_attr_field_t two[2] = {{"x", KILN_ATTR_TYPE_INT64},
                              {"y", KILN_ATTR_TYPE_STRING}};
  const char* unknown_subset[] = {"x", "z"};
  def = simple_def("a::b");
  def.attrs = two;
  def.attr_count = 2;
  def.aot_impl_attrs.names = unknown_subset;
  def.aot_impl_attrs.count = 2;
  CHECK(kiln_registry_register(registry, &def, NULL),
        KILN_STATUS_INVALID_ARGUMENT,
        "plugin 'a::b': aot_impl_attrs names attribute 'z', which is not "
        "declared");
  const char* twice[] = {"y", "y"};
  def.aot_impl_attrs.names = NULL;
  def.aot_impl_attrs.count = 0;
  def.describe_attrs.names = twice;
  def.describe_attrs.count = 2;
  CHECK(kiln_registry_register(registry, &def, NULL),
        KILN_STATUS_INVALID_ARGUMENT,
        "describe_attrs names attribute 'y' twice");
  def.describe_attrs.names = NULL;
  def.describe_attrs.count = 0;
  def.autotune_attrs.count = 1;
  CHECK(kiln_registry_register(registry, &def, NULL),
        KILN_STATUS_INVALID_ARGUMENT, "autotune_attrs has 1 names but");
  const char* null_name[] = {NULL};
  def.autotune_attrs.count = 0;
  def.host_impl_attrs.names = null_name;
  def.host_impl_attrs.count = 1;
  CHECK(kiln_registry_register(registry, &def, NULL),
        KILN_STATUS_INVALID_ARGUMENT, "host_impl_attrs name 0 is NULL");
#undef CHECK
  // Nothing malformed was registered.
  ASSERT_EQ_U64(kiln_registry_plugin_count(registry), 1);
  kiln_registry_release(registry);
}

TEST(registry_duplicate_is_already_exists) {
  kiln_registry_t* registry = make_registry();
  ASSERT_TRUE(registry != NULL);
  kiln_status_t status = register_id(registry, "my::add_plugin");
  if (status) kiln_registry_release(registry);
  ASSERT_OK(status);
  status = register_id(registry, "my::add_plugin");
  kiln_status_code_t code = kiln_status_code(status);
  bool named = strstr(kiln_status_message(status),
                      "plugin 'my::add_plugin' is already registered") != NULL;
  kiln_status_free(status);
  size_t count = kiln_registry_plugin_count(registry);
  kiln_registry_release(registry);
  ASSERT_EQ_I64(code, KILN_STATUS_ALREADY_EXISTS);
  ASSERT_TRUE(named);
  ASSERT_EQ_U64(count, 1);
}

TEST(registry_deep_copies_definition) {
  kiln_registry_t* registry = make_registry();
  ASSERT_TRUE(registry != NULL);
  char id[] = "copy::op";
  char version[] = "7";
  char name_a[] = "alpha";
  char name_b[] = "beta";
  kiln_attr_field_t fields[2] = {{name_a, KILN_ATTR_TYPE_FLOAT64},
                                 {name_b, KILN_ATTR_TYPE_ARRAY_INT32}};
  const char* subset[1] = {name_b};
  const char* const* empty = subset;
  int user = 0;
  kiln_plugin_def_t def = simple_def(id);
  def.version = version;
  def.attrs = fields;
  def.attr_count = 2;
  def.input_count = 2;
  def.output_count = 3;
  def.user_data = &user;
  def.aot_impl_attrs.names = subset;
  def.aot_impl_attrs.count = 1;
  def.host_impl_attrs.names = empty;
  def.host_impl_attrs.count = 0;
  const kiln_plugin_t* plugin = NULL;
  kiln_status_t status = kiln_registry_register(registry, &def, &plugin);
  if (status) kiln_registry_release(registry);
  ASSERT_OK(status);
  // Scribble over everything the caller owned.
  memset(id, 'X', sizeof(id) - 1);
  memset(version, 'X', sizeof(version) - 1);
  memset(name_a, 'X', sizeof(name_a) - 1);
  memset(name_b, 'X', sizeof(name_b) - 1);
  fields[0].type = KILN_ATTR_TYPE_BOOL;
  subset[0] = "gone";
  memset(&def, 0, sizeof(def));

  const kiln_plugin_def_t* copy = kiln_plugin_definition(plugin);
  kiln_string_view_t pid = kiln_plugin_id(plugin);
  kiln_string_view_t ns = kiln_plugin_namespace(plugin);
  kiln_string_view_t name = kiln_plugin_name(plugin);
  bool ok = copy && strcmp(copy->id, "copy::op") == 0 &&
            strcmp(copy->version, "7") == 0 && copy->attr_count == 2 &&
            strcmp(copy->attrs[0].name, "alpha") == 0 &&
            copy->attrs[0].type == KILN_ATTR_TYPE_FLOAT64 &&
            strcmp(copy->attrs[1].name, "beta") == 0 &&
            copy->input_count == 2 && copy->output_count == 3 &&
            copy->user_data == &user && copy->aot_impl_attrs.count == 1 &&
            strcmp(copy->aot_impl_attrs.names[0], "beta") == 0 &&
            copy->describe_attrs.names == NULL &&
            copy->host_impl_attrs.names != NULL &&
            copy->host_impl_attrs.count == 0 &&
            kiln_string_view_equal(pid, kiln_make_cstring_view("copy::op")) &&
            kiln_string_view_equal(ns, kiln_make_cstring_view("copy")) &&
            kiln_string_view_equal(name, kiln_make_cstring_view("op"));
  // The lookup finds the same object; the version defaults to "1".
  const kiln_plugin_t* found = NULL;
  kiln_status_t lookup = kiln_registry_lookup(
      registry, kiln_make_cstring_view("copy::op"), &found);
  kiln_plugin_def_t plain = simple_def("copy::plain");
  const kiln_plugin_t* plain_plugin = NULL;
  kiln_status_t second =
      kiln_registry_register(registry, &plain, &plain_plugin);
  bool default_version =
      !second &&
      strcmp(kiln_plugin_definition(plain_plugin)->version, "1") == 0;
  kiln_status_free(second);
  kiln_registry_release(registry);
  ASSERT_OK(lookup);
  ASSERT_TRUE(ok);
  ASSERT_EQ_PTR(found, plugin);
  ASSERT_TRUE(default_version);
  // NULL plugins give empty views.
  ASSERT_EQ_U64(kiln_plugin_id(NULL).size, 0);
  ASSERT_EQ_PTR(kiln_plugin_definition(NULL), NULL);
}

//===----------------------------------------------------------------------===//
// Lookups
//===----------------------------------------------------------------------===//

TEST(registry_lookup_not_found_names_closest) {
  kiln_registry_t* registry = make_registry();
  ASSERT_TRUE(registry != NULL);
  const kiln_plugin_t* plugin = NULL;
  kiln_status_t empty = kiln_registry_lookup(
      registry, kiln_make_cstring_view("my::ad_plugin"), &plugin);
  static const char* const ids[] = {"other::thing", "my::add_plugin",
                                    "my::mul_plugin", "my::sub_plugin",
                                    "zzz::qqqqqqqqqqqq"};
  kiln_status_t status = NULL;
  for (size_t i = 0; i < 5 && !status; ++i)
    status = register_id(registry, ids[i]);
  if (status) {
    kiln_status_free(empty);
    kiln_registry_release(registry);
    ASSERT_OK(status);
  }
  kiln_status_t missing = kiln_registry_lookup(
      registry, kiln_make_cstring_view("my::ad_plugin"), &plugin);
  kiln_status_t far = kiln_registry_lookup(
      registry, kiln_make_cstring_view("my::add_plugin2"), &plugin);
  size_t count = kiln_registry_plugin_count(registry);
  const kiln_plugin_t* first = kiln_registry_plugin_at(registry, 0);
  const kiln_plugin_t* last = kiln_registry_plugin_at(registry, 4);
  const kiln_plugin_t* beyond = kiln_registry_plugin_at(registry, 5);
  bool order =
      first && last &&
      kiln_string_view_equal(kiln_plugin_id(first),
                             kiln_make_cstring_view("other::thing")) &&
      kiln_string_view_equal(kiln_plugin_id(last),
                             kiln_make_cstring_view("zzz::qqqqqqqqqqqq"));
  kiln_registry_release(registry);
  ASSERT_STATUS(empty, KILN_STATUS_NOT_FOUND,
                "no plugin 'my::ad_plugin' is registered; the registry has no "
                "plugins");
  ASSERT_EQ_PTR(plugin, NULL);
  ASSERT_STATUS(missing, KILN_STATUS_NOT_FOUND,
                "no plugin 'my::ad_plugin' is registered; closest: "
                "'my::add_plugin', 'my::mul_plugin', 'my::sub_plugin'");
  ASSERT_STATUS(far, KILN_STATUS_NOT_FOUND,
                "no plugin 'my::add_plugin2' is registered; closest: "
                "'my::add_plugin'");
  ASSERT_EQ_U64(count, 5);
  ASSERT_TRUE(order);
  ASSERT_EQ_PTR(beyond, NULL);
  ASSERT_EQ_U64(kiln_registry_plugin_count(NULL), 0);
  ASSERT_EQ_PTR(kiln_registry_plugin_at(NULL, 0), NULL);
}

typedef struct log_capture_t {
  int lines;
  char last[512];
} log_capture_t;

static void capture_log(void* user_data, kiln_log_level_t level,
                        const char* message) {
  log_capture_t* capture = (log_capture_t*)user_data;
  if (level != KILN_LOG_LEVEL_INFO) return;
  ++capture->lines;
  snprintf(capture->last, sizeof(capture->last), "%s", message);
}

TEST(registry_logs_registrations) {
  log_capture_t capture;
  memset(&capture, 0, sizeof(capture));
  kiln_registry_options_t options;
  memset(&options, 0, sizeof(options));
  options.logger.fn = capture_log;
  options.logger.user_data = &capture;
  options.logger.max_level = KILN_LOG_LEVEL_INFO;
  kiln_registry_t* registry = NULL;
  ASSERT_OK(kiln_registry_create(kiln_allocator_system(), &options, &registry));
  kiln_status_t status = register_id(registry, "my::add_plugin");
  kiln_registry_release(registry);
  ASSERT_OK(status);
  ASSERT_EQ_I64(capture.lines, 1);
  ASSERT_CONTAINS(capture.last, "registered plugin 'my::add_plugin'");
}

TEST(registry_ref_counting) {
  kiln_registry_t* registry = make_registry();
  ASSERT_TRUE(registry != NULL);
  int released = 0;
  kiln_plugin_def_t def = simple_def("rc::op");
  def.user_data = &released;
  def.user_data_release = count_release;
  kiln_status_t status = kiln_registry_register(registry, &def, NULL);
  if (status) kiln_registry_release(registry);
  ASSERT_OK(status);
  kiln_registry_retain(registry);
  kiln_registry_retain(registry);
  kiln_registry_release(registry);
  kiln_registry_release(registry);
  ASSERT_EQ_I64(released, 0);
  // Still alive: one reference is left.
  ASSERT_EQ_U64(kiln_registry_plugin_count(registry), 1);
  kiln_registry_release(registry);
  ASSERT_EQ_I64(released, 1);
  kiln_registry_retain(NULL);
  kiln_registry_release(NULL);
}

//===----------------------------------------------------------------------===//
// Plugin libraries
//===----------------------------------------------------------------------===//

TEST(registry_load_library_good) {
  // Keep our own handle so the library outlives the registry and its release
  // counter can be read afterwards.
  void* handle = dlopen(PLUGIN_PATH("testplugin_good"), RTLD_NOW | RTLD_LOCAL);
  if (!handle) FAIL("dlopen: %s", dlerror());
  void* symbol = dlsym(handle, "testplugin_good_release_count");
  int (*release_count)(void) = NULL;
  memcpy(&release_count, &symbol, sizeof(release_count));
  if (!release_count) {
    dlclose(handle);
    FAIL("no release counter");
  }
  int before = release_count();
  log_capture_t capture;
  memset(&capture, 0, sizeof(capture));
  kiln_registry_options_t options;
  memset(&options, 0, sizeof(options));
  options.logger.fn = capture_log;
  options.logger.user_data = &capture;
  options.logger.max_level = KILN_LOG_LEVEL_INFO;
  kiln_registry_t* registry = NULL;
  kiln_status_t status =
      kiln_registry_create(kiln_allocator_system(), &options, &registry);
  if (!status) {
    status =
        kiln_registry_load_library(registry, PLUGIN_PATH("testplugin_good"));
  }
  const kiln_plugin_t* scale = NULL;
  const kiln_plugin_t* split = NULL;
  if (!status) {
    status = kiln_registry_lookup(
        registry, kiln_make_cstring_view("testlib::scale"), &scale);
  }
  if (!status) {
    status = kiln_registry_lookup(
        registry, kiln_make_cstring_view("testlib::split"), &split);
  }
  // Loading it again registers nothing new.
  kiln_status_t again = registry ? kiln_registry_load_library(
                                       registry, PLUGIN_PATH("testplugin_good"))
                                 : NULL;
  size_t count = kiln_registry_plugin_count(registry);
  bool shapes_ok = false;
  if (!status) {
    // Call into the library's describe through the registry's copy.
    kiln_sym_table_t* sym = NULL;
    status = kiln_sym_table_create(kiln_allocator_system(), &sym);
    if (!status) {
      kiln_sym_t dims[2] = {kiln_sym_dim(sym, 0, 0), kiln_sym_const(sym, 4)};
      kiln_tensor_desc_t in =
          kiln_tensor_desc_make(KILN_DTYPE_FLOAT16, 2, dims);
      kiln_tensor_desc_t outs[2];
      status = kiln_plugin_describe(split, &in, 1, NULL, sym, outs, 2);
      shapes_ok = !status && outs[1].dtype == KILN_DTYPE_FLOAT16 &&
                  outs[1].rank == 2 && outs[1].dims[0] == dims[0] &&
                  strcmp(kiln_plugin_definition(split)->version, "2") == 0 &&
                  kiln_plugin_definition(scale)->aot_impl_attrs.count == 1;
    }
    kiln_sym_table_destroy(sym);
  }
  kiln_registry_release(registry);
  int after = release_count();
  dlclose(handle);
  ASSERT_OK(status);
  ASSERT_STATUS(again, KILN_STATUS_ALREADY_EXISTS,
                "'testlib::scale' is already registered");
  ASSERT_EQ_U64(count, 2);
  ASSERT_TRUE(shapes_ok);
  ASSERT_EQ_I64(after - before, 2);
  ASSERT_CONTAINS(capture.last, "loaded plugin library");
}

// Loads |name| into a registry that already holds testplugin_good and returns
// the status; |*out_count| receives the plugin count afterwards.
static kiln_status_t load_after_good(const char* path, size_t* out_count,
                                     bool* out_first_absent) {
  *out_count = 0;
  *out_first_absent = false;
  kiln_registry_t* registry = make_registry();
  if (!registry) return kiln_make_status(KILN_STATUS_INTERNAL, "no registry");
  kiln_status_t status =
      kiln_registry_load_library(registry, PLUGIN_PATH("testplugin_good"));
  if (status) {
    kiln_registry_release(registry);
    return kiln_status_annotate(status, "loading the good library");
  }
  status = kiln_registry_load_library(registry, path);
  *out_count = kiln_registry_plugin_count(registry);
  const kiln_plugin_t* plugin = NULL;
  kiln_status_t lookup = kiln_registry_lookup(
      registry, kiln_make_cstring_view("dup::first"), &plugin);
  *out_first_absent = kiln_status_code(lookup) == KILN_STATUS_NOT_FOUND;
  kiln_status_free(lookup);
  kiln_registry_release(registry);
  return status;
}

TEST(registry_load_library_failures) {
  size_t count = 0;
  bool absent = false;
  ASSERT_STATUS(
      load_after_good(PLUGIN_PATH("testplugin_future_abi"), &count, &absent),
      KILN_STATUS_INCOMPATIBLE,
      "libtestplugin_future_abi.so' was built for plugin ABI 2, "
      "this kiln has ABI 1");
  ASSERT_EQ_U64(count, 2);
  ASSERT_STATUS(
      load_after_good(PLUGIN_PATH("testplugin_no_init"), &count, &absent),
      KILN_STATUS_NOT_FOUND,
      "libtestplugin_no_init.so' does not export 'kiln_plugin_init'");
  ASSERT_EQ_U64(count, 2);
  ASSERT_STATUS(
      load_after_good(PLUGIN_PATH("testplugin_init_error"), &count, &absent),
      KILN_STATUS_FAILED_PRECONDITION,
      "libtestplugin_init_error.so': kiln_plugin_init failed: refusing to "
      "initialize for host ABI 1");
  ASSERT_EQ_U64(count, 2);
  // The duplicate library's first plugin must not stay registered.
  ASSERT_STATUS(load_after_good(PLUGIN_PATH("testplugin_dup"), &count, &absent),
                KILN_STATUS_ALREADY_EXISTS,
                "libtestplugin_dup.so': plugin 'testlib::scale' is already "
                "registered");
  ASSERT_EQ_U64(count, 2);
  ASSERT_TRUE(absent);
  ASSERT_STATUS(
      load_after_good(PLUGIN_PATH("testplugin_bad_def"), &count, &absent),
      KILN_STATUS_INVALID_ARGUMENT,
      "libtestplugin_bad_def.so': definition 1: plugin 'bad::no_inputs' must "
      "have at least one input");
  ASSERT_EQ_U64(count, 2);
  ASSERT_STATUS(load_after_good(PLUGIN_PATH("testplugin_does_not_exist"),
                                &count, &absent),
                KILN_STATUS_UNAVAILABLE,
                "cannot load plugin library '" KILN_TEST_PLUGIN_DIR
                "/libtestplugin_does_not_exist.so'");
  ASSERT_EQ_U64(count, 2);
  kiln_registry_t* registry = make_registry();
  ASSERT_TRUE(registry != NULL);
  kiln_status_t null_path = kiln_registry_load_library(registry, NULL);
  kiln_registry_release(registry);
  ASSERT_STATUS(null_path, KILN_STATUS_INVALID_ARGUMENT, "path");
}

//===----------------------------------------------------------------------===//
// Threads
//===----------------------------------------------------------------------===//

#define WRITER_PLUGINS 200

typedef struct thread_state_t {
  kiln_registry_t* registry;
  atomic_bool done;
  atomic_int errors;
  atomic_long lookups;
} thread_state_t;

static void* reader_main(void* arg) {
  thread_state_t* state = (thread_state_t*)arg;
  unsigned seed = 12345u;
  size_t last_count = 0;
  while (!atomic_load(&state->done)) {
    const kiln_plugin_t* plugin = NULL;
    kiln_status_t status = kiln_registry_lookup(
        state->registry, kiln_make_cstring_view("base::fixed"), &plugin);
    if (status || !plugin) atomic_fetch_add(&state->errors, 1);
    kiln_status_free(status);
    seed = seed * 1103515245u + 12345u;
    char id[32];
    unsigned n = (seed >> 8) % WRITER_PLUGINS;
    snprintf(id, sizeof(id), "load::p%u", n);
    status = kiln_registry_lookup(state->registry, kiln_make_cstring_view(id),
                                  &plugin);
    if (status) {
      if (kiln_status_code(status) != KILN_STATUS_NOT_FOUND) {
        atomic_fetch_add(&state->errors, 1);
      }
      kiln_status_free(status);
    } else if (!kiln_string_view_equal(kiln_plugin_id(plugin),
                                       kiln_make_cstring_view(id))) {
      atomic_fetch_add(&state->errors, 1);
    }
    size_t count = kiln_registry_plugin_count(state->registry);
    if (count < last_count ||
        !kiln_registry_plugin_at(state->registry, count - 1)) {
      atomic_fetch_add(&state->errors, 1);
    }
    last_count = count;
    atomic_fetch_add(&state->lookups, 1);
  }
  return NULL;
}

static void* writer_main(void* arg) {
  thread_state_t* state = (thread_state_t*)arg;
  for (int i = 0; i < WRITER_PLUGINS; ++i) {
    char id[32];
    snprintf(id, sizeof(id), "load::p%d", i);
    kiln_status_t status = register_id(state->registry, id);
    if (status) atomic_fetch_add(&state->errors, 1);
    kiln_status_free(status);
  }
  atomic_store(&state->done, true);
  return NULL;
}

TEST(registry_concurrent_lookups_while_registering) {
  kiln_test_allocator_t ta = kiln_test_allocator_make();
  thread_state_t state;
  memset(&state, 0, sizeof(state));
  atomic_init(&state.done, false);
  atomic_init(&state.errors, 0);
  atomic_init(&state.lookups, 0);
  ASSERT_OK(kiln_registry_create(kiln_test_allocator_get(&ta), NULL,
                                 &state.registry));
  kiln_status_t status = register_id(state.registry, "base::fixed");
  if (status) kiln_registry_release(state.registry);
  ASSERT_OK(status);
  pthread_t readers[4];
  pthread_t writer;
  int started = 0;
  for (; started < 4; ++started) {
    if (pthread_create(&readers[started], NULL, reader_main, &state) != 0) {
      break;
    }
  }
  bool writer_started =
      started == 4 && pthread_create(&writer, NULL, writer_main, &state) == 0;
  if (!writer_started) atomic_store(&state.done, true);
  if (writer_started) pthread_join(writer, NULL);
  for (int i = 0; i < started; ++i) pthread_join(readers[i], NULL);
  size_t count = kiln_registry_plugin_count(state.registry);
  kiln_registry_release(state.registry);
  ASSERT_TRUE(writer_started);
  ASSERT_EQ_I64(atomic_load(&state.errors), 0);
  ASSERT_EQ_U64(count, WRITER_PLUGINS + 1);
  ASSERT_TRUE(atomic_load(&state.lookups) > 0);
  ASSERT_EQ_U64(ta.live, 0);
}

//===----------------------------------------------------------------------===//
// Allocation failures
//===----------------------------------------------------------------------===//

// Creates a registry, registers plugins with attributes and subsets, loads a
// library and fills an attribute set, all with |allocator|.
static kiln_status_t registry_scenario(kiln_allocator_t allocator,
                                       int* released) {
  kiln_registry_t* registry = NULL;
  kiln_attrs_t* attrs = NULL;
  kiln_status_t status = kiln_registry_create(allocator, NULL, &registry);
  static const kiln_attr_field_t fields[] = {
      {"block_size", KILN_ATTR_TYPE_INT64},  {"eps", KILN_ATTR_TYPE_FLOAT64},
      {"label", KILN_ATTR_TYPE_STRING},      {"blob", KILN_ATTR_TYPE_BYTES},
      {"shape", KILN_ATTR_TYPE_ARRAY_INT64},
  };
  static const char* const aot_subset[] = {"block_size", "shape"};
  static const char* const describe_subset[] = {"label"};
  const kiln_plugin_t* first = NULL;
  for (int i = 0; i < 12 && !status; ++i) {
    char id[32];
    snprintf(id, sizeof(id), "sweep::op%d", i);
    kiln_plugin_def_t def = simple_def(id);
    def.attrs = fields;
    def.attr_count = sizeof(fields) / sizeof(fields[0]);
    def.aot_impl_attrs.names = aot_subset;
    def.aot_impl_attrs.count = 2;
    def.describe_attrs.names = describe_subset;
    def.describe_attrs.count = 1;
    def.user_data = released;
    def.user_data_release = count_release;
    const kiln_plugin_t* plugin = NULL;
    status = kiln_registry_register(registry, &def, &plugin);
    if (i == 0) first = plugin;
  }
  if (!status) {
    status =
        kiln_registry_load_library(registry, PLUGIN_PATH("testplugin_good"));
  }
  if (!status) status = kiln_attrs_create(first, allocator, &attrs);
  if (!status) status = kiln_attrs_set_int64(attrs, "block_size", 256);
  if (!status) status = kiln_attrs_set_float64(attrs, "eps", 1e-5);
  if (!status) {
    status =
        kiln_attrs_set_string(attrs, "label", kiln_make_cstring_view("hello"));
  }
  if (!status) {
    static const uint8_t blob[3] = {1, 2, 3};
    kiln_const_bytes_t bytes = {blob, sizeof(blob)};
    status = kiln_attrs_set_bytes(attrs, "blob", bytes);
  }
  if (!status) {
    static const int64_t shape[4] = {1, 2, 3, 4};
    status = kiln_attrs_set_array(attrs, "shape", KILN_ATTR_TYPE_ARRAY_INT64,
                                  shape, 4);
  }
  if (!status) {
    // Replacing a value must not leak the old one.
    status = kiln_attrs_set_string(attrs, "label",
                                   kiln_make_cstring_view("a longer label"));
  }
  if (!status) status = kiln_attrs_check_complete(attrs);
  kiln_attrs_destroy(attrs);
  kiln_registry_release(registry);
  return status;
}

TEST(registry_allocation_failure_sweep) {
  size_t runs = 0;
  for (size_t fail_at = 0;; ++fail_at) {
    kiln_test_allocator_t ta = kiln_test_allocator_failing_at(fail_at);
    int released = 0;
    kiln_status_t status =
        registry_scenario(kiln_test_allocator_get(&ta), &released);
    ASSERT_EQ_U64(ta.live, 0);
    if (!status) {
      ASSERT_EQ_I64(released, 12);
      break;
    }
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
  // Every allocation of the scenario failed once.
  ASSERT_TRUE(runs >= 12);
}
